"""fit / evaluate / predict on a PyDataset-style sequence, a generator or an
iterable of batches: the same results as arrays, prefetching, varying T, clear
errors where something is not supported, and memory flat in the data size."""

import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import rustrnn
from rustrnn import layers

RNG = np.random.default_rng(0)
X = RNG.normal(size=(40, 5, 3))
Y = RNG.normal(size=(40, 1))
W = RNG.uniform(0.5, 2.0, size=40)


def _model(seed=0):
    rustrnn.manual_seed(seed)
    m = rustrnn.Sequential([layers.LSTM(4), layers.Dense(1)], dtype=np.float64)
    m.compile(optimizer="adam", loss="mse", metrics=["mae"])
    m.build((5, 3))
    return m


def _same_weights(a, b):
    return all(np.array_equal(p, q) for p, q in zip(a.get_weights(), b.get_weights()))


class Batches(rustrnn.utils.PyDataset):
    def __init__(self, with_weights=False, **kw):
        super().__init__(**kw)
        self.with_weights = with_weights
        self.epochs_ended = 0
        self.fetched_on = set()

    def __len__(self):
        return 5

    def __getitem__(self, i):
        if not 0 <= i < 5:
            raise IndexError(i)
        self.fetched_on.add(threading.current_thread().name)
        sl = slice(i * 8, (i + 1) * 8)
        return (X[sl], Y[sl], W[sl]) if self.with_weights else (X[sl], Y[sl])

    def on_epoch_end(self):
        self.epochs_ended += 1


def _looping():
    while True:
        for i in range(5):
            yield X[i * 8:(i + 1) * 8], Y[i * 8:(i + 1) * 8]


def test_a_dataset_trains_exactly_as_arrays_with_prefetching_threads():
    ref = _model()
    h_ref = ref.fit(X, Y, batch_size=8, epochs=3, shuffle=False, verbose=0, sample_weight=W)
    m = _model()
    ds = Batches(with_weights=True, workers=2, max_queue_size=3)
    h = m.fit(ds, epochs=3, shuffle=False, verbose=0)
    assert _same_weights(ref, m) and h.history == h_ref.history
    assert ds.epochs_ended == 3
    assert ds.fetched_on and all(name.startswith("rustrnn-prefetch") for name in ds.fetched_on)


def test_a_dataset_is_shuffled_by_batch_with_the_fit_seed():
    a, b = _model(), _model()
    a.fit(Batches(), epochs=2, seed=4, verbose=0)
    b.fit(Batches(), epochs=2, seed=4, verbose=0)
    c = _model()
    c.fit(Batches(), epochs=2, shuffle=False, verbose=0)
    assert _same_weights(a, b) and not _same_weights(a, c)


def test_generators_and_iterables_train_exactly_as_arrays():
    ref = _model()
    ref.fit(X, Y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    g = _model()
    g.fit(_looping(), steps_per_epoch=5, epochs=2, verbose=0)
    batches = [(X[i * 8:(i + 1) * 8], Y[i * 8:(i + 1) * 8]) for i in range(5)]

    class Iterable:  # a fresh pass per epoch, as a DataLoader
        def __iter__(self):
            return iter(batches)

    it = _model()
    it.fit(Iterable(), epochs=2, verbose=0, validation_data=Iterable())
    assert _same_weights(ref, g) and _same_weights(ref, it)
    assert it.evaluate(Iterable()) == ref.evaluate(X, Y, batch_size=8)
    assert np.array_equal(g.predict(_looping(), steps=5), ref.predict(X, batch_size=8))
    assert np.array_equal(g.predict(iter([X[:8], (X[8:16],)])), ref.predict(X[:16], batch_size=8))


def test_validation_on_a_stream_and_steps():
    m = _model()
    h = m.fit(_looping(), steps_per_epoch=3, epochs=2, verbose=0, validation_data=_looping(), validation_steps=2)
    ref = _model()
    assert set(h.history) == {"loss", "mae", "val_loss", "val_mae"} and len(h.history["val_loss"]) == 2
    assert m.optimizer.iterations == 6 and ref.optimizer.iterations == 0


def test_batches_may_differ_in_length():
    rustrnn.manual_seed(1)
    m = rustrnn.Sequential([layers.Embedding(30, 4, mask_zero=True), layers.GRU(5), layers.Dense(1, activation="sigmoid")])
    m.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(2)
    batches = [(rng.integers(1, 30, size=(6, t)), rng.integers(0, 2, size=6)) for t in (3, 9, 5, 12)]
    h = m.fit(iter(batches), epochs=1, verbose=0)
    assert m.optimizer.iterations == 4 and np.isfinite(h.history["loss"][0])
    assert m.predict(iter(b[0] for b in batches)).shape == (24, 1)


def test_a_used_up_generator_and_unsupported_uses_raise_clear_errors():
    m = _model()
    once = ((X[i * 8:(i + 1) * 8], Y[i * 8:(i + 1) * 8]) for i in range(5))
    with pytest.raises(rustrnn.ArgumentError, match="no batches in epoch 2"):
        m.fit(once, epochs=2, verbose=0)
    with pytest.warns(RuntimeWarning, match="ran out of batches after 5 of 7"):
        m.fit(iter([(X[:8], Y[:8])] * 5), steps_per_epoch=7, epochs=3, verbose=0)
    with pytest.raises(rustrnn.ArgumentError, match="y: not used"):
        m.fit(Batches(), Y, verbose=0)
    with pytest.raises(rustrnn.ArgumentError, match="batch_size: not used"):
        m.fit(Batches(), batch_size=8, verbose=0)
    with pytest.raises(rustrnn.ArgumentError, match="validation_split"):
        m.fit(Batches(), validation_split=0.2, verbose=0)
    with pytest.raises(rustrnn.ArgumentError, match="steps_per_epoch: only for"):
        m.fit(X, Y, steps_per_epoch=3, verbose=0)
    with pytest.raises(rustrnn.ArgumentError, match="use_multiprocessing"):
        m.fit(Batches(use_multiprocessing=True), verbose=0)
    with pytest.raises(rustrnn.ArgumentError, match="steps_per_epoch: 9 is more than the 5"):
        m.fit(Batches(), steps_per_epoch=9, verbose=0)
    with pytest.raises(rustrnn.DTypeError, match="expected each batch as"):
        m.fit(iter([X[:8]]), verbose=0)
    # Where only arrays are accepted, a dataset is refused at once (it used to hang).
    for call in (lambda: m.train_on_batch(Batches(), Y[:8]), lambda: m.predict_on_batch(Batches()),
                 lambda: m.loss_and_gradients(Batches(), Y)):
        with pytest.raises(rustrnn.ArgumentError, match="sequence of batches"):
            call()
    s2s = rustrnn.Seq2Seq(10, 10, embedding_dim=4, units=4)
    with pytest.raises(rustrnn.ArgumentError, match="sequence of batches"):
        s2s.predict(Batches())


def test_a_generator_error_reaches_the_caller():
    def broken():
        yield X[:8], Y[:8]
        raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"):
        _model().fit(broken(), epochs=1, verbose=0)


_RSS_SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np, rustrnn
    from rustrnn import layers
    path, n, t, f, batch, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]

    def peak_kib():
        # This process's own peak RSS (ru_maxrss would include the parent's at fork).
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))

    def batch_at(i):
        mm = np.memmap(path, dtype=np.float32, mode="r", shape=(n, t, f))
        x = np.array(mm[i * batch:(i + 1) * batch])
        del mm  # unmapped: its pages leave this process
        return x, x[:, -1, :1]

    class Data(rustrnn.utils.PyDataset):
        def __len__(self):
            return n // batch
        def __getitem__(self, i):
            return batch_at(i)

    def gen():
        for i in range(n // batch):
            yield batch_at(i)

    rustrnn.manual_seed(0)
    m = rustrnn.Sequential([layers.SimpleRNN(2), layers.Dense(1)])
    m.compile(optimizer="sgd", loss="mse")
    m.fit(Data(), epochs=1, verbose=0, steps_per_epoch=2)  # warm up: every allocation path once
    base = peak_kib()
    h = m.fit(Data() if mode == "dataset" else gen(), epochs=1, verbose=0)
    peak = peak_kib()
    print(base, peak, m.optimizer.iterations)
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
@pytest.mark.parametrize("mode", ["dataset", "generator"])
def test_memory_stays_flat_in_the_data_size(tmp_path, mode):
    n, t, f, batch = 131072, 32, 8, 1024  # 128 MiB of float32 on disk, 128 batches of 1 MiB
    path = tmp_path / "x.f32"
    mm = np.memmap(path, dtype=np.float32, mode="w+", shape=(n, t, f))
    for i in range(0, n, 16384):
        mm[i:i + 16384] = np.random.default_rng(i).normal(size=(16384, t, f)).astype(np.float32)
    mm.flush()
    del mm
    out = subprocess.run([sys.executable, "-c", _RSS_SCRIPT, str(path), str(n), str(t), str(f), str(batch), mode],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    base_kib, peak_kib, iterations = map(int, out.stdout.split())
    assert iterations == 2 + n // batch
    data_kib = n * t * f * 4 // 1024
    # Streaming all 128 MiB grows the peak by a few batches in flight, not by the data.
    assert peak_kib - base_kib < data_kib // 4, (base_kib, peak_kib)
