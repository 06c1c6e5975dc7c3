"""Keras 3's model-level API: evaluate's return value, save/save_weights/load_weights
by file name, to_json/model_from_json, ModelCheckpoint's Keras names, Huber, AUC,
callable metrics and timeseries_dataset_from_array. Keras 3.15.1 values are the oracle
(tests/fixtures/keras/make_keras_api_fixtures.py; no Keras needed here)."""

import json
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import rustrnn
from rustrnn import keras, layers

FIX = Path(__file__).parent / "fixtures" / "keras"
REF = np.load(FIX / "keras_api.npz")


def lstm_model(dtype=np.float32, metrics=("accuracy",)):
    rustrnn.manual_seed(0)
    m = rustrnn.Sequential([layers.LSTM(4), layers.Dense(1, activation="sigmoid")], dtype=dtype)
    m.compile("adam", "binary_crossentropy", metrics=list(metrics))
    return m


def data(n=24):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 5, 3)).astype(np.float32)
    return x, (x.sum((1, 2)) > 0).astype(np.float32)


# ----- evaluate / train_on_batch / test_on_batch return what Keras 3 returns -----------------------

def test_evaluate_returns_a_float_a_list_or_a_dict_as_keras_3():
    x, y = data()
    m = lstm_model()
    m.fit(x, y, epochs=1, verbose=0)
    logs = m.evaluate(x, y, return_dict=True)
    assert list(logs) == ["accuracy", "loss"]  # Keras 3 sorts its logs (keras 3.15.1: ['accuracy', 'loss', 'mae'])
    loss, acc = m.evaluate(x, y)  # the Keras idiom: floats, not the dict's keys; [loss, metrics in compile order]
    assert isinstance(loss, float) and (loss, acc) == (logs["loss"], logs["accuracy"])
    only_loss = lstm_model(metrics=())
    only_loss.build((5, 3))
    value = only_loss.evaluate(x, y)
    assert isinstance(value, float) and value == only_loss.evaluate(x, y, return_dict=True)["loss"]
    with pytest.raises(rustrnn.DTypeError, match="return_dict"):
        m.evaluate(x, y, return_dict="yes")


def test_train_and_test_on_batch_return_as_keras_3():
    x, y = data()
    m = lstm_model()
    m.build((5, 3))
    before = m.test_on_batch(x, y)
    assert isinstance(before, list) and len(before) == 2
    assert m.train_on_batch(x, y) == before  # the loss of the weights before the step
    after = m.test_on_batch(x, y, return_dict=True)
    assert set(after) == {"loss", "accuracy"} and after["loss"] < before[0]
    assert isinstance(m.train_on_batch(x, y, class_weight={0: 1.0, 1: 2.0}), list)
    with pytest.raises(rustrnn.ArgumentError, match="class_weight"):
        m.train_on_batch(x, y, sample_weight=np.ones(len(x)), class_weight={0: 1.0, 1: 2.0})


# ----- files by name: .keras, .weights.h5, .h5, native ---------------------------------------------

h5py = pytest.importorskip("h5py")


def test_save_chooses_the_format_by_the_name(tmp_path):
    x, y = data()
    m = lstm_model()
    m.fit(x, y, epochs=1, verbose=0)
    keras.saving.save_model(m, tmp_path / "m.keras")  # = m.save
    with zipfile.ZipFile(tmp_path / "m.keras") as z:
        assert {"config.json", "metadata.json", "model.weights.h5"} <= set(z.namelist())
        assert json.loads(z.read("config.json"))["class_name"] == "Sequential"
    for load in (rustrnn.load_model, keras.models.load_model, keras.saving.load_model):
        back = load(tmp_path / "m.keras")
        np.testing.assert_allclose(back.predict(x), m.predict(x), atol=1e-6)
        assert back.optimizer is None  # a .keras archive from rustrnn holds no compile settings
    m.save(tmp_path / "m.rnn")  # any other name: rustrnn's own file, optimizer state included
    native = rustrnn.load_model(tmp_path / "m.rnn")
    assert native.optimizer is not None and native._iterations() == m._iterations()
    for name in ("m.h5", "m.hdf5", "m.weights.h5"):
        with pytest.raises(rustrnn.UnsupportedError, match="legacy HDF5"):
            m.save(tmp_path / name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_save_weights_load_weights_round_trip(tmp_path, dtype):
    rustrnn.manual_seed(1)
    def build():
        m = rustrnn.Sequential([layers.Embedding(9, 4, mask_zero=True), layers.GRU(3, bidirectional=True, return_sequences=True),
                                layers.LSTM(5, num_layers=2, layer_dropout=0.1), layers.Dropout(0.2), layers.Dense(2)], dtype=dtype)
        m.build()
        return m
    a, b = build(), build()
    x = np.array([[1, 2, 3, 0], [4, 5, 0, 0]])
    assert not np.allclose(a.predict(x), b.predict(x))
    path = tmp_path / "w.weights.h5"
    a.save_weights(path)
    with h5py.File(path, "r") as f:  # Keras 3's layout: layers/<class>[_i]/.../vars/<i>
        assert sorted(f["layers"]) == ["bidirectional", "dense", "dropout", "dropout_1", "embedding", "lstm", "lstm_1"]
        assert f["layers/lstm/cell/vars/0"].shape == (6, 20) and f["layers/lstm/cell/vars/0"].dtype == dtype
    b.load_weights(path)
    np.testing.assert_allclose(b.predict(x), a.predict(x), rtol=1e-6 if dtype == np.float32 else 1e-12, atol=1e-7)
    # A .keras archive's weights load too.
    a.save(tmp_path / "a.keras")
    c = build()
    c.load_weights(tmp_path / "a.keras")
    np.testing.assert_allclose(c.predict(x), a.predict(x), atol=1e-6)


def test_load_weights_checks_before_setting(tmp_path):
    x, y = data()
    m = lstm_model()
    m.build((5, 3))
    m.save_weights(tmp_path / "w.weights.h5")
    other = rustrnn.Sequential([layers.LSTM(6), layers.Dense(1, activation="sigmoid")])
    other.build((5, 3))
    before = other.get_weights()
    with pytest.raises(rustrnn.ShapeError, match="has shape"):
        other.load_weights(tmp_path / "w.weights.h5")
    assert all(np.array_equal(p, q) for p, q in zip(before, other.get_weights()))
    gru = rustrnn.Sequential([layers.GRU(4), layers.Dense(1)])
    gru.build((5, 3))
    with pytest.raises(rustrnn.ModelFileError, match="lstm"):
        gru.load_weights(tmp_path / "w.weights.h5")
    with pytest.raises(rustrnn.ArgumentError, match=r"\.weights\.h5"):
        m.save_weights(tmp_path / "w.h5")
    with pytest.raises(rustrnn.ArgumentError, match=r"\.weights\.h5"):
        m.load_weights(tmp_path / "w.rnn")
    with pytest.raises(FileNotFoundError):
        m.load_weights(tmp_path / "none.weights.h5")
    unbuilt = rustrnn.Sequential([layers.LSTM(4), layers.Dense(1)])
    with pytest.raises(rustrnn.StateError, match="load_weights"):
        unbuilt.load_weights(tmp_path / "w.weights.h5")


def test_without_h5py_a_clear_error(tmp_path, monkeypatch):
    m = lstm_model()
    m.build((5, 3))
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match="h5py"):
        m.save_weights(tmp_path / "w.weights.h5")
    assert not (tmp_path / "w.weights.h5").exists()


def test_keras_written_weights_and_json_load():
    """Keras 3.15.1's model.to_json() and save_weights() of LSTM -> GRU -> Dropout -> Dense."""
    m = keras.models.model_from_json((FIX / "keras_weights.json").read_text())
    assert m.built and [type(l).__name__ for l in m.layers] == ["LSTM", "GRU", "Dropout", "Dense"]
    m.load_weights(FIX / "keras_weights.weights.h5")
    np.testing.assert_allclose(m.predict(REF["w_x"]), REF["w_y"], atol=2e-6)
    # The same model written by hand in rustrnn loads it too (matched by structure, as Keras).
    hand = rustrnn.Sequential([layers.LSTM(5, return_sequences=True), layers.GRU(4), layers.Dropout(0.1), layers.Dense(2)])
    hand.build((None, None, 3))
    hand.load_weights(FIX / "keras_weights.weights.h5")
    np.testing.assert_allclose(hand.predict(REF["w_x"]), REF["w_y"], atol=2e-6)


def test_to_json_model_from_json_round_trip():
    m = lstm_model()
    m.build((5, 3))
    j = json.loads(m.to_json())
    assert j["class_name"] == "Sequential"
    assert [l["class_name"] for l in j["config"]["layers"]] == ["InputLayer", "LSTM", "Dense"]
    back = keras.models.model_from_json(m.to_json())
    assert back.built and back.get_config()["layers"] == m.get_config()["layers"]
    with pytest.raises(rustrnn.ArgumentError, match="json_string"):
        keras.models.model_from_json("{not json")
    with pytest.raises(rustrnn.ModelFileError, match="the Functional model has no layers"):
        keras.models.model_from_json(json.dumps({"class_name": "Functional", "config": {}}))
    with pytest.raises(rustrnn.UnsupportedError, match="Sequential and Functional"):
        keras.models.model_from_json(json.dumps({"class_name": "MyModel", "config": {}}))


def test_model_checkpoint_writes_what_the_keras_name_says(tmp_path):
    x, y = data()
    m = lstm_model()
    ck_w = keras.callbacks.ModelCheckpoint(str(tmp_path / "best.weights.h5"), monitor="loss", save_weights_only=True,
                                           save_best_only=True)
    ck_k = keras.callbacks.ModelCheckpoint(str(tmp_path / "e{epoch}.keras"), monitor="loss")
    m.fit(x, y, epochs=2, verbose=0, callbacks=[ck_w, ck_k])
    with h5py.File(tmp_path / "best.weights.h5", "r") as f:
        assert "layers" in f
    assert zipfile.is_zipfile(tmp_path / "e2.keras")
    fresh = lstm_model()
    fresh.build((5, 3))
    fresh.load_weights(tmp_path / "best.weights.h5")
    np.testing.assert_allclose(fresh.predict(x), m.predict(x), atol=1e-6)
    with pytest.raises(rustrnn.ArgumentError, match="weights.h5"):
        keras.callbacks.ModelCheckpoint(str(tmp_path / "x.keras"), save_weights_only=True)
    with pytest.raises(rustrnn.ArgumentError, match="HDF5"):
        keras.callbacks.ModelCheckpoint(str(tmp_path / "x.weights.h5"))


# ----- losses and metrics -------------------------------------------------------------------------

def identity_model(n, loss, metrics=()):
    """A linear Dense(n) with identity weights: its outputs are its inputs."""
    m = rustrnn.Sequential([layers.Dense(n)], dtype=np.float64)
    m.compile("sgd", loss, metrics=list(metrics))
    m.build((n,))
    m.set_weights([np.eye(n), np.zeros(n)])
    return m


def test_huber_matches_keras_value_and_gradient():
    yt, yp = REF["huber_y_true"], REF["huber_y_pred"]
    assert (np.abs(yp - yt) > 1).any() and (np.abs(yp - yt) < 1).any()
    m = identity_model(3, "huber")
    # Keras (torch backend) computes the loss in float32: its values agree to float32 precision...
    assert m.evaluate(yp, yt) == pytest.approx(float(REF["huber_loss"]), rel=1e-6)
    loss, grads = m.loss_and_gradients(yp, yt)
    np.testing.assert_allclose(grads["dense/kernel"], yp.T @ REF["huber_grad"], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(grads["dense/bias"], REF["huber_grad"].sum(0), rtol=1e-6, atol=1e-7)
    # ... and Keras' formula in float64 to 1e-12: mean of 0.5 d² (|d| <= 1) or |d| - 0.5, gradient clip(d, ±1) / N.
    d = yp - yt
    assert loss == pytest.approx(np.mean(np.where(np.abs(d) <= 1, 0.5 * d * d, np.abs(d) - 0.5)), rel=1e-12)
    g = np.clip(d, -1, 1) / d.size
    np.testing.assert_allclose(grads["dense/kernel"], yp.T @ g, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(grads["dense/bias"], g.sum(0), rtol=1e-12, atol=1e-15)
    assert isinstance(keras.losses.Huber(), rustrnn.losses.Huber)
    identity_model(3, keras.losses.Huber(delta=1.0))
    with pytest.raises(rustrnn.UnsupportedError, match="delta"):
        keras.losses.Huber(delta=2.0)


def test_callable_loss_is_refused_naming_the_difference():
    m = rustrnn.Sequential([layers.Dense(1)])
    with pytest.raises(rustrnn.UnsupportedError, match="cannot be differentiated"):
        m.compile("adam", loss=lambda yt, yp: ((yt - yp) ** 2).mean())


def test_auc_matches_keras():
    for weighted, key in ((False, "auc"), (True, "auc_weighted")):
        auc = keras.metrics.AUC()
        auc.update_state(REF["auc_y1"], REF["auc_p1"], REF["auc_w1"] if weighted else None)
        auc.update_state(REF["auc_y2"], REF["auc_p2"], REF["auc_w2"] if weighted else None)
        assert auc.result() == pytest.approx(float(REF[key]), abs=1e-6)
    # Through evaluate, batch by batch (the two fixture batches), as compile(metrics=["auc"]).
    m = identity_model(1, "mse", metrics=["auc"])
    p = np.concatenate([REF["auc_p1"], REF["auc_p2"]]).astype(np.float64)
    y = np.concatenate([REF["auc_y1"], REF["auc_y2"]])
    w = np.concatenate([REF["auc_w1"], REF["auc_w2"]])
    assert m.evaluate(p, y, batch_size=40, return_dict=True)["auc"] == pytest.approx(float(REF["auc"]), abs=1e-6)
    # As Keras 3's compile(metrics=...) (not weighted_metrics): the sample weights weight the loss only.
    assert m.evaluate(p, y, batch_size=40, sample_weight=w)[1] == pytest.approx(float(REF["auc"]), abs=1e-6)
    with pytest.raises(rustrnn.UnsupportedError, match="curve"):
        keras.metrics.AUC(curve="PR")


def test_callable_metrics_average_as_keras_mean_metric_wrapper():
    rng = np.random.default_rng(5)
    p, y = rng.normal(size=(10, 2)), rng.normal(size=(10, 2))

    def abs_err(y_true, y_pred):  # per sample
        return np.abs(y_true - y_pred).mean(-1)

    def batch_max(y_true, y_pred):  # one value per batch
        return np.abs(y_true - y_pred).max()

    m = identity_model(2, "mse", metrics=[abs_err, "mae", batch_max])
    res = m.evaluate(p, y, batch_size=4, return_dict=True)
    assert list(res) == ["abs_err", "batch_max", "loss", "mae"]  # sorted, as Keras 3's logs
    assert m.evaluate(p, y, batch_size=4) == [res[k] for k in ("loss", "abs_err", "mae", "batch_max")]  # compile order
    assert res["abs_err"] == pytest.approx(np.abs(p - y).mean(), rel=1e-12) == pytest.approx(res["mae"], rel=1e-12)
    per_batch = [np.abs(p[i:i + 4] - y[i:i + 4]).max() for i in (0, 4, 8)]
    assert res["batch_max"] == pytest.approx(np.mean(per_batch), rel=1e-12)
    w = rng.random(10)
    res = m.evaluate(p, y, batch_size=4, sample_weight=w, return_dict=True)
    # Keras's compile(metrics=...) ignore the sample weights (its weighted_metrics would use them).
    assert res["abs_err"] == pytest.approx(np.abs(p - y).mean(), rel=1e-12)
    h = m.fit(p, y, epochs=1, batch_size=10, verbose=0, shuffle=False)
    assert h.history["abs_err"][0] == pytest.approx(np.abs(p - y).mean(), rel=1e-12)  # before the update, as Keras


def test_python_metric_on_a_masked_sequence_output_is_refused():
    m = rustrnn.Sequential([layers.Embedding(5, 3, mask_zero=True), layers.LSTM(2, return_sequences=True)])
    m.compile("adam", "mse", metrics=["auc"])
    with pytest.raises(rustrnn.UnsupportedError, match="masked"):
        m.evaluate(np.array([[1, 2, 0]]), np.zeros((1, 3, 2)))


# ----- timeseries_dataset_from_array ----------------------------------------------------------------

CASES = {
    "basic": (20, 0, True, dict(sequence_length=4)),
    "stride_rate_batch": (20, 0, True, dict(sequence_length=4, sequence_stride=2, sampling_rate=2, batch_size=3)),
    "start_end": (30, 2, True, dict(sequence_length=5, sampling_rate=3, start_index=3, end_index=25, batch_size=4)),
    "no_targets": (17, 3, False, dict(sequence_length=6, sequence_stride=3, batch_size=2)),
    "short_targets": (25, 2, True, dict(sequence_length=3, batch_size=5, targets_len=9)),
    "weather_like": (200, 7, True, dict(sequence_length=12, sampling_rate=6, batch_size=32)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_timeseries_windows_are_keras_windows(case):
    n, features, with_targets, kw = CASES[case]
    kw = dict(kw)
    targets_len = kw.pop("targets_len", None)
    data = np.arange(n * max(features, 1), dtype=np.float64).reshape((n, features) if features else (n,))
    targets = (np.arange(targets_len or n, dtype=np.float64) * 10 + 0.5)[:, None] if with_targets else None
    ds = keras.utils.timeseries_dataset_from_array(data, targets, **kw)
    batches = list(ds)
    assert len(ds) == len(batches) and [len(b[0] if with_targets else b) for b in batches] == REF[f"ts_{case}_sizes"].tolist()
    xs = np.concatenate([b[0] if with_targets else b for b in batches])
    np.testing.assert_array_equal(xs, REF[f"ts_{case}_x"])
    if with_targets:
        np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), REF[f"ts_{case}_y"])
    first = ds.take(1)
    assert len(first) == 1 and np.array_equal(list(first)[0][0] if with_targets else list(first)[0], xs[:len(xs[:REF[f"ts_{case}_sizes"][0]])])


def test_timeseries_dataset_feeds_fit_evaluate_predict():
    t = np.arange(400, dtype=np.float32)
    series = np.stack([np.sin(t / 8), np.cos(t / 8)], -1)
    ds = keras.utils.timeseries_dataset_from_array(series[:-5], series[5:, :1], sequence_length=10, batch_size=32)
    assert ds._starts.tolist() == sorted(ds._starts.tolist())
    rustrnn.manual_seed(0)
    m = rustrnn.Sequential([layers.LSTM(8), layers.Dense(1)])
    m.compile("adam", "mse")
    h = m.fit(ds, epochs=3, verbose=0, validation_data=ds.take(2))
    assert len(h.history["val_loss"]) == 3
    assert isinstance(m.evaluate(ds), float)
    assert m.predict(ds).shape == (386, 1)
    x, y = next(iter(ds))
    assert x.numpy().shape == (32, 10, 2) and type(x.numpy()) is np.ndarray and y[0].numpy().shape == (1,)
    shuffled = keras.utils.timeseries_dataset_from_array(series, None, sequence_length=10, shuffle=True, seed=3)
    assert sorted(shuffled._starts.tolist()) == list(range(391)) and shuffled._starts.tolist() != list(range(391))
    for kw, match in ((dict(sequence_length=0), "sequence_length"), (dict(sequence_length=3, sampling_rate=0), "sampling_rate"),
                      (dict(sequence_length=3, start_index=10, end_index=5), "end_index"),
                      (dict(sequence_length=3, batch_size=0), "batch_size"), (dict(sequence_length=2.5), "sequence_length")):
        with pytest.raises(rustrnn.ArgumentError, match=match):
            keras.utils.timeseries_dataset_from_array(series, None, **kw)


def test_load_weights_of_a_keras_archive_into_a_model_written_by_hand():
    """Keras 3's bidirectional_concat fixture (Bidirectional LSTM and GRU) by structure, not by names."""
    rustrnn.manual_seed(2)
    m = rustrnn.Sequential([layers.Embedding(10, 4, mask_zero=True),
                            layers.LSTM(4, bidirectional=True, return_sequences=True, name="first"),
                            layers.GRU(3, reset_after=False, bidirectional=True, name="second"),
                            layers.Dropout(0.2), layers.Dense(2, activation="softmax", name="out")])
    m.build()
    m.load_weights(FIX / "bidirectional_concat.keras")
    ref = np.load(FIX / "bidirectional_concat.npz")
    for side in ("post", "pre"):
        np.testing.assert_allclose(m.predict(ref[f"x_{side}"]), ref[f"y_{side}"], atol=1e-5)
