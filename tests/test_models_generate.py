"""Generation's single-token step path agrees with the full-sequence
forward pass, for every cell, stacked layers and intermediate Dense layers."""

import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import rustrnn
from rustrnn import layers


@pytest.mark.parametrize("stack", [
    lambda: [layers.LSTM(7, num_layers=2, return_sequences=True)],
    lambda: [layers.GRU(6, return_sequences=True), layers.Dropout(0.5), layers.SimpleRNN(5, activation="relu", return_sequences=True)],
    lambda: [layers.Dense(6, activation="tanh"), layers.GRU(5, return_sequences=True), layers.Dense(4, activation="relu")],
    lambda: [layers.GRU(6, reset_after=False, num_layers=2, return_sequences=True)],
])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_greedy_generation_matches_the_argmax_of_a_full_forward_pass(stack, dtype):
    rustrnn.manual_seed(8)
    vocab = 9
    m = rustrnn.Sequential([layers.Embedding(vocab, 5), *stack(), layers.Dense(vocab, activation="softmax")], dtype=dtype)
    prompt = np.array([[3, 1, 4], [1, 5, 8]])
    out = m.generate(prompt, 12, temperature=0)
    full = np.concatenate([prompt, out], axis=1)
    probs = m.predict(full[:, :-1])
    np.testing.assert_array_equal(probs.argmax(-1)[:, 2:], out)


def test_sampling_follows_the_distribution_and_top_k():
    rustrnn.manual_seed(9)
    m = rustrnn.Sequential([layers.Embedding(4, 3), layers.LSTM(4, return_sequences=True), layers.Dense(4)])
    first = m.generate(np.zeros((4000, 1), np.int64), 1, seed=1)[:, 0]
    p = m.predict(np.zeros((1, 1), np.int64))[0, 0]
    p = np.exp(p - p.max())
    p /= p.sum()
    freq = np.bincount(first, minlength=4) / len(first)
    np.testing.assert_allclose(freq, p, atol=0.03)
    top = m.generate(np.zeros((500, 1), np.int64), 1, top_k=1, seed=2)[:, 0]
    assert set(top) == {int(np.argmax(p))}
    with pytest.raises(ValueError, match="top_k"):
        m.generate([0], 3, top_k=0)
    with pytest.raises(ValueError, match="seed_ids: token 4"):
        m.generate([4], 3)
    with pytest.raises(ValueError, match="generate: .*backwards"):
        rustrnn.Sequential([layers.Embedding(4, 3), layers.GRU(4, bidirectional=True, return_sequences=True), layers.Dense(4)]).generate([1], 2)
    with pytest.raises(ValueError, match="generate: .*Dense"):
        rustrnn.Sequential([layers.Embedding(4, 3), layers.GRU(4, return_sequences=True)]).generate([1], 2)


def _native_stacks(pid: int) -> str:
    """Every thread's native stack of process `pid` (gdb's backtraces, the last 12,000 characters), or why not:
    a hang inside rustrnn's compiled code shows there and not in Python's faulthandler."""
    import shutil

    if shutil.which("gdb") is None:
        return "(gdb not installed)"
    try:
        r = subprocess.run(["gdb", "-p", str(pid), "-batch", "-ex", "thread apply all bt 30"],
                           capture_output=True, text=True, timeout=60)
    except (subprocess.TimeoutExpired, OSError) as e:
        return f"(gdb failed: {e})"
    return (r.stdout + r.stderr)[-12000:]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_real_sigint_during_fit_stops_cleanly():
    script = textwrap.dedent("""
        import faulthandler, signal, sys, numpy as np, rustrnn
        faulthandler.register(signal.SIGUSR1, all_threads=True)  # the parent asks for every stack if it hangs
        from rustrnn import layers
        rustrnn.manual_seed(0)
        m = rustrnn.Sequential([layers.Embedding(50, 32), layers.LSTM(64), layers.Dense(1, activation="sigmoid")])
        m.compile(optimizer="adam", loss="binary_crossentropy")
        x = np.random.default_rng(0).integers(1, 50, size=(20000, 30))
        y = (x[:, 0] > 25).astype(np.float32)
        print("start", flush=True)
        h = m.fit(x, y, batch_size=32, epochs=50, verbose=0)
        print("interrupted" if h.interrupted else "finished", m.optimizer.iterations > 0, m.predict(x[:2]).shape, flush=True)
    """)
    # The child starts with SIGINT's default action, as from a terminal: a shell runs background jobs with SIGINT
    # ignored, and Python then installs no KeyboardInterrupt handler (how a fresh-clone run in the background failed).
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert proc.stdout.readline().strip() == "start"
    import time

    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:  # say where the child is, not just that it did not stop
        proc.send_signal(signal.SIGUSR1)
        time.sleep(2)
        native = _native_stacks(proc.pid)
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"fit did not stop within 60 s of SIGINT; stdout {out!r}; the child's Python stacks:\n{err[-6000:]}"
                    f"\nits native stacks:\n{native}")
    assert proc.returncode == 0, err
    assert out.strip() == "interrupted True (2, 1)", (out, err)
