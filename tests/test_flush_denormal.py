"""Flush-to-zero: rustrnn computes with subnormal floats flushed to zero (FTZ+DAZ
on x86_64, FZ on aarch64) in its calling thread and its pool's workers, restores
the caller's floating-point state on return, and computes strict IEEE when
opted out."""

import platform
import threading

import numpy as np
import pytest

import rustrnn
from rustrnn import _native

FLUSHING_CPU = platform.machine().lower() in ("x86_64", "amd64", "aarch64", "arm64")
needs_flush = pytest.mark.skipif(not FLUSHING_CPU, reason="flush-to-zero is x86_64/aarch64 only")

# Normal numbers whose product is an exact subnormal.
TINY = {np.float32: 2.0**-70, np.float64: 2.0**-540}
PRODUCT = {np.float32: 2.0**-140, np.float64: 2.0**-1080}


@pytest.fixture
def restore():
    before = (rustrnn.get_flush_denormal(), rustrnn.get_num_threads())
    yield
    rustrnn.set_flush_denormal(before[0])
    rustrnn.set_num_threads(before[1])


def tiny_rnn(dtype, batch=1, hidden=1):
    """A relu RNN whose output is x · w_ih: subnormal for x = w_ih = TINY."""
    m = rustrnn.nn.RNN(1, hidden, nonlinearity="relu", dtype=dtype, seed=0)
    m.load_state_dict({
        "weight_ih_l0": np.full((hidden, 1), TINY[dtype], dtype),
        "weight_hh_l0": np.zeros((hidden, hidden), dtype),
        "bias_ih_l0": np.zeros(hidden, dtype),
        "bias_hh_l0": np.zeros(hidden, dtype),
    })
    return m, np.full((batch, 1, 1), TINY[dtype], dtype)


@needs_flush
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_subnormal_results_are_flushed_by_default_and_kept_when_opted_out(dtype, restore):
    assert rustrnn.get_flush_denormal() is True  # the default
    m, x = tiny_rnn(dtype)
    assert np.asarray(TINY[dtype], dtype) ** 2 == PRODUCT[dtype]  # NumPy: exact subnormal
    out, _ = m(x)
    assert out[0, 0, 0] == 0.0
    rustrnn.set_flush_denormal(False)
    assert rustrnn.get_flush_denormal() is False
    out, _ = m(x)
    assert out[0, 0, 0] == PRODUCT[dtype]


@needs_flush
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_backward_flushes_too(dtype, restore):
    # x = 0: h = tanh(0) = 0, dx = dout · w_ih = TINY · TINY.
    m = rustrnn.nn.RNN(1, 1, dtype=dtype, seed=0)
    m.load_state_dict({"weight_ih_l0": np.full((1, 1), TINY[dtype], dtype), "weight_hh_l0": np.zeros((1, 1), dtype),
                       "bias_ih_l0": np.zeros(1, dtype), "bias_hh_l0": np.zeros(1, dtype)})
    x = np.zeros((1, 1, 1), dtype)
    dout = np.full((1, 1, 1), TINY[dtype], dtype)
    for flush, want in [(True, 0.0), (False, PRODUCT[dtype])]:
        rustrnn.set_flush_denormal(flush)
        m(x)
        dx, _ = m.backward(dout)
        assert dx[0, 0, 0] == want


@needs_flush
def test_models_flush_in_predict(restore):
    model = rustrnn.Sequential([rustrnn.layers.Dense(1, use_bias=False)])
    model.build((None, 1))
    model.set_weights([np.full((1, 1), TINY[np.float32], np.float32)])
    x = np.full((3, 1), TINY[np.float32], np.float32)
    assert np.all(model.predict(x) == 0.0)
    rustrnn.set_flush_denormal(False)
    assert np.all(model.predict(x) == PRODUCT[np.float32])


@needs_flush
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_every_pool_worker_follows_the_setting(threads, restore):
    rustrnn.set_num_threads(threads)
    assert _native._workers_flush() == [True] * threads
    rustrnn.set_flush_denormal(False)
    assert _native._workers_flush() == [False] * threads
    rustrnn.set_flush_denormal(True)
    assert _native._workers_flush() == [True] * threads


@needs_flush
def test_parallel_layer_flushes_every_element(restore):
    rustrnn.set_num_threads(2)
    m, x = tiny_rnn(np.float32, batch=256, hidden=256)
    out, _ = m(np.repeat(x, 8, axis=1))
    assert out.shape == (256, 8, 256) and not out.any()
    rustrnn.set_flush_denormal(False)
    out, _ = m(np.repeat(x, 8, axis=1))
    assert np.all(out == PRODUCT[np.float32])


def _numpy_keeps_subnormals():
    a = np.float32(TINY[np.float32])
    return (a * a) == np.float32(PRODUCT[np.float32]) and np.nextafter(np.float32(0), np.float32(1)) > 0


@needs_flush
@pytest.mark.parametrize("flush", [True, False])
def test_the_callers_floating_point_state_is_unchanged(flush, restore):
    rustrnn.set_flush_denormal(flush)
    word = _native._fp_control_word()
    assert word is not None
    rustrnn.set_num_threads(2)
    m, x = tiny_rnn(np.float32, batch=4, hidden=8)
    m(x)
    m.backward(np.ones((4, 1, 8), np.float32))
    assert _native._fp_control_word() == word
    model = rustrnn.Sequential([rustrnn.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.ones((8, 3), np.float32), np.zeros((8, 2), np.float32), epochs=1, verbose=0)
    model.predict(np.ones((2, 3), np.float32))
    assert _native._fp_control_word() == word
    tok = rustrnn.text.Tokenizer()
    tok.fit_on_texts(["a b c", "b c d"])
    tok.texts_to_sequences(["a d"])
    assert _native._fp_control_word() == word
    assert _numpy_keeps_subnormals()


@needs_flush
def test_other_python_threads_keep_their_state(restore):
    seen = []

    def work():
        w = _native._fp_control_word()
        m, x = tiny_rnn(np.float32)
        out, _ = m(x)
        seen.append((w == _native._fp_control_word(), out[0, 0, 0] == 0.0, _numpy_keeps_subnormals()))

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == [(True, True, True)] * 3


def test_set_flush_denormal_checks_its_argument(restore):
    with pytest.raises(rustrnn.DTypeError, match="on"):
        rustrnn.set_flush_denormal(1)
    rustrnn.set_flush_denormal(np.bool_(False))
    assert rustrnn.get_flush_denormal() is False
