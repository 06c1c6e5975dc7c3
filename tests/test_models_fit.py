"""fit(): history, validation, callbacks, progress output, Ctrl-C, sample
weights and bit-for-bit reproducibility."""

import csv

import numpy as np
import pytest

import rustrnn
from rustrnn import callbacks, layers


def data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 9, size=(n, 6))
    x[::4, 4:] = 0
    y = (x[:, 0] > 4).astype(np.float32)  # learnable from the first token
    return x, y


def model(seed=0, dropout=0.2):
    rustrnn.manual_seed(seed)
    m = rustrnn.Sequential([layers.Embedding(9, 8, mask_zero=True), layers.LSTM(8, go_backwards=True), layers.Dropout(dropout),
                            layers.Dense(1, activation="sigmoid")])
    m.compile(optimizer=rustrnn.optimizers.Adam(0.02), loss="binary_crossentropy", metrics=["accuracy"])
    return m


def test_history_validation_split_and_validation_data():
    x, y = data()
    m = model()
    h = m.fit(x, y, batch_size=16, epochs=3, validation_split=0.25, verbose=0)
    assert set(h.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert len(h.history["loss"]) == 3 and h.epoch == [0, 1, 2]
    assert h.history["loss"][-1] < h.history["loss"][0]
    # The last quarter (before shuffling) is held out, as in Keras.
    np.testing.assert_allclose(h.history["val_loss"][-1], m.evaluate(x[72:], y[72:], return_dict=True)["loss"], rtol=1e-6)
    h2 = m.fit(x[:72], y[:72], epochs=1, validation_data=(x[72:], y[72:]), verbose=0)
    assert "val_accuracy" in h2.history
    assert isinstance(m.evaluate(x, y, return_dict=False), list)


def test_reproducible_bit_for_bit_with_manual_seed_and_fit_seed():
    x, y = data()
    runs = []
    for _ in range(2):
        m = model(seed=42)
        h = m.fit(x, y, batch_size=16, epochs=2, verbose=0)  # shuffle + dropout from the seed sequence
        runs.append((h.history, m.get_weights(), m.predict(x)))
    assert runs[0][0] == runs[1][0]
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(runs[0][2], runs[1][2])
    m1, m2 = model(seed=1), model(seed=1)
    h1 = m1.fit(x, y, epochs=1, verbose=0, seed=5)
    rustrnn.manual_seed(123)  # fit(seed=) does not depend on the global sequence
    h2 = m2.fit(x, y, epochs=1, verbose=0, seed=5)
    assert h1.history == h2.history
    h3 = model(seed=1).fit(x, y, epochs=1, verbose=0, seed=6)
    assert h3.history != h1.history


def test_early_stopping_restores_best_weights_and_checkpoint_and_csv(tmp_path):
    x, y = data()
    m = model()
    snapshots = []
    val_losses = iter([0.5, 0.4, 0.45, 0.46, 0.47, 0.1])

    class FakeVal(callbacks.Callback):  # controls the monitored value
        def on_epoch_end(self, epoch, logs=None):
            logs["val_metric"] = next(val_losses)
            snapshots.append(self.model.get_weights())

    es = callbacks.EarlyStopping(monitor="val_metric", patience=2, restore_best_weights=True)
    ckpt = callbacks.ModelCheckpoint(str(tmp_path / "best-{epoch:02d}.rnn"), monitor="val_metric", save_best_only=True)
    log = callbacks.CSVLogger(str(tmp_path / "log.csv"))
    seen = []
    h = m.fit(x, y, epochs=6, verbose=0, callbacks=[FakeVal(), es, ckpt, log, lambda epoch, logs: seen.append(epoch)])
    assert h.epoch == [0, 1, 2, 3] and seen == [0, 1, 2, 3]  # stopped after 2 epochs without improvement
    for a, b in zip(m.get_weights(), snapshots[1]):
        np.testing.assert_array_equal(a, b)
    assert sorted(p.name for p in tmp_path.glob("best-*.rnn")) == ["best-01.rnn", "best-02.rnn"]
    np.testing.assert_array_equal(rustrnn.load_model(tmp_path / "best-02.rnn").get_weights()[0], snapshots[1][0])
    rows = list(csv.DictReader(open(tmp_path / "log.csv")))
    assert [r["epoch"] for r in rows] == ["0", "1", "2", "3"] and "accuracy" in rows[0]


def test_learning_rate_scheduler_and_reduce_on_plateau():
    x, y = data()
    m = model()
    sched = callbacks.LearningRateScheduler(lambda epoch, lr: 0.1 / (epoch + 1))
    h = m.fit(x, y, epochs=3, verbose=0, callbacks=[sched])
    assert h.history["learning_rate"] == pytest.approx([0.1, 0.05, 0.1 / 3])
    assert m._handle.learning_rate == pytest.approx(0.1 / 3)
    plateau = callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_delta=10.0)
    m.fit(x, y, epochs=3, verbose=0, callbacks=[plateau])
    assert m.optimizer.learning_rate == pytest.approx(0.1 / 3 * 0.25)


def test_ctrl_c_stops_after_the_current_batch_and_leaves_the_model_usable(capsys):
    x, y = data()
    m = model()

    class Interrupt(callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 2:
                raise KeyboardInterrupt

    h = m.fit(x, y, batch_size=16, epochs=5, verbose=0, callbacks=[Interrupt()])
    assert h.interrupted and m.stop_training
    assert m.optimizer.iterations == 3  # the three finished batches were applied
    assert "interrupted" in capsys.readouterr().err
    assert m.predict(x).shape == (96, 1)
    h = m.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert not h.interrupted and m.optimizer.iterations == 9


def test_progress_output_per_verbosity(capsys):
    x, y = data()
    m = model()
    m.fit(x, y, batch_size=32, epochs=2, verbose=2)
    out = capsys.readouterr().out
    assert out.count("Epoch ") == 2 and "loss: " in out and "accuracy: " in out
    m.fit(x, y, batch_size=32, epochs=1, verbose=1)
    err = capsys.readouterr().err
    assert "Epoch 1/1" in err and "3/3" in err and "loss=" in err  # tqdm bar with postfix
    m.fit(x, y, epochs=1, verbose=0)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_sample_weights_and_masked_sequence_loss_match_numpy():
    rustrnn.manual_seed(7)
    m = rustrnn.Sequential([layers.Embedding(5, 3, mask_zero=True), layers.SimpleRNN(4, return_sequences=True), layers.Dense(2)], dtype="float64")
    m.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    x = np.array([[1, 2, 3, 0], [0, 4, 4, 1]])
    y = np.random.default_rng(0).standard_normal((2, 4, 2))
    w = np.array([2.0, 0.5])
    pred = m.predict(x)
    valid = x > 0
    per_step = ((pred - y) ** 2).mean(-1)
    res = m.evaluate(x, y, sample_weight=w, return_dict=True)
    expect = (per_step * w[:, None])[valid].sum() / valid.sum()  # weighted sum over the valid steps
    assert res["loss"] == pytest.approx(expect, rel=1e-12)
    mae = np.abs(pred - y).mean(-1)[valid].mean()  # metrics: masked, not weighted (Keras 3's compile(metrics=...))
    assert res["mae"] == pytest.approx(mae, rel=1e-12)


def test_class_weight_scales_each_sample_by_its_class():
    x, y = data()
    a, b = model(seed=3, dropout=0.0), model(seed=3, dropout=0.0)
    ha = a.fit(x, y, epochs=1, verbose=0, seed=1, class_weight={0: 1.0, 1: 3.0})
    hb = b.fit(x, y, epochs=1, verbose=0, seed=1, sample_weight=np.where(y == 1, 3.0, 1.0))
    assert ha.history == hb.history
    with pytest.raises(ValueError, match=r"class_weight: no weight for class\(es\) \[1\]"):
        a.fit(x, y, epochs=1, verbose=0, class_weight={0: 1.0})


def test_history_plot_draws_curves():
    plt = pytest.importorskip("matplotlib.pyplot")
    import matplotlib

    matplotlib.use("Agg")
    x, y = data()
    h = model().fit(x, y, epochs=2, validation_split=0.25, verbose=0)
    axes = h.plot()
    assert [a.get_title() for a in axes] == ["accuracy", "loss"]  # the History's keys, sorted as Keras 3's
    assert len(axes[0].lines) == 2
    plt.close("all")


def test_training_steps_release_the_gil():
    import threading
    import time

    rustrnn.manual_seed(0)
    m = rustrnn.Sequential([layers.Embedding(50, 32), layers.LSTM(64), layers.Dense(1, activation="sigmoid")])
    m.compile(optimizer="adam", loss="binary_crossentropy")
    x = np.random.default_rng(0).integers(1, 50, size=(256, 100))
    y = np.ones(256, np.float32)
    m.train_on_batch(x, y)
    stamps, stop = [], threading.Event()

    def spin():
        while not stop.is_set():
            stamps.append(time.perf_counter())

    t = threading.Thread(target=spin)
    t.start()
    time.sleep(0.01)
    t0 = time.perf_counter()
    m._handle.train_batch(x, y)  # one long native call
    t1 = time.perf_counter()
    stop.set()
    t.join()
    inside = [s for s in stamps if t0 <= s <= t1]
    # Holding the GIL would freeze the other thread for the whole call.
    assert len(inside) > 100, (len(inside), t1 - t0)
    assert max(np.diff([t0, *inside, t1])) < 0.5 * (t1 - t0)
