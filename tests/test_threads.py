"""Thread control: results are bit-identical for any thread count, and calls from
several Python threads at once share the pool without interfering."""

import threading

import numpy as np
import pytest

import rustrnn


@pytest.fixture
def restore_threads():
    before = rustrnn.get_num_threads()
    yield
    rustrnn.set_num_threads(before)


def _run(cell, threads, x, dout, lengths):
    rustrnn.set_num_threads(threads)
    m = cell(16, 96, num_layers=2, bidirectional=True, batch_first=True, seed=3)
    out, *_ = m(x, lengths=lengths)
    dx, *_ = m.backward(dout)
    return out, dx, m.grads


@pytest.mark.parametrize("cell", [rustrnn.nn.LSTM, rustrnn.nn.GRU, rustrnn.nn.RNN])
def test_results_are_bit_identical_for_any_thread_count(cell, restore_threads):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 6, 16), dtype=np.float32)
    dout = rng.standard_normal((64, 6, 192), dtype=np.float32)
    lengths = 1 + np.arange(64) % 6
    one = _run(cell, 1, x, dout, lengths)
    for threads in (2, 3):
        other = _run(cell, threads, x, dout, lengths)
        assert np.array_equal(one[0], other[0]) and np.array_equal(one[1], other[1])
        for name in one[2]:
            assert np.array_equal(one[2][name], other[2][name]), name


def test_set_num_threads_validates_and_reports(restore_threads):
    rustrnn.set_num_threads(3)
    assert rustrnn.get_num_threads() == 3
    with pytest.raises(ValueError, match="n"):
        rustrnn.set_num_threads(0)
    with pytest.raises(TypeError):
        rustrnn.set_num_threads(1.5)


def test_concurrent_calls_from_python_threads_give_the_serial_results():
    rng = np.random.default_rng(1)
    xs = [rng.standard_normal((8, 20, 12)).astype(np.float32) for _ in range(6)]
    modules = [rustrnn.nn.GRU(12, 40, batch_first=True, seed=i) for i in range(6)]
    expected = [m.eval()(x)[0] for m, x in zip(modules, xs)]
    results = [None] * 6

    def work(i):
        for _ in range(5):
            results[i] = modules[i](xs[i])[0]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got, want in zip(results, expected):
        assert np.array_equal(got, want)


def test_time_loops_of_concurrent_callers_share_the_pool(restore_threads):
    # Each call's steps are big enough to be split among the pool's threads (lockstep.rs):
    # several callers at once contend for the same two workers, so a call's helper often
    # never starts and its caller computes every chunk itself. Training and inference,
    # forward and BPTT, all give the 1-thread results bit for bit.
    rustrnn.set_num_threads(1)
    rng = np.random.default_rng(2)
    xs = [rng.standard_normal((48, 12, 16), dtype=np.float32) for _ in range(4)]
    dout = rng.standard_normal((48, 12, 128), dtype=np.float32)

    def run(i):
        m = rustrnn.nn.LSTM(16, 128, batch_first=True, seed=i)
        out, *_ = m(xs[i])
        dx, *_ = m.backward(dout)
        return out, dx, m.grads["weight_hh_l0"]

    expected = [run(i) for i in range(4)]
    rustrnn.set_num_threads(2)
    results = [None] * 4

    def work(i):
        for _ in range(3):
            results[i] = run(i)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got, want in zip(results, expected):
        assert all(np.array_equal(g, w) for g, w in zip(got, want))
