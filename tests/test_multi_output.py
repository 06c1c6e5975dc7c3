"""Functional models with several outputs trained together, against Keras 3
(tests/fixtures/keras/make_multi_output_fixtures.py) and finite differences:
per-output losses, loss weights, metrics, sample weights, logs' names and order,
evaluate's return, History, callbacks on per-output keys, saving."""

import json
import os

import numpy as np
import pytest

import rustrnn
from rustrnn import keras
from rustrnn.errors import ArgumentError, UnsupportedError
from rustrnn.interop.keras_in import keras_to_torch_gates

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "keras", "multi_output.npz")
LOSS = {"a": "binary_crossentropy", "b": "mse", "c": "sparse_categorical_crossentropy"}
WEIGHTS = {"a": 0.5, "b": 2.0, "c": 1.0}
METRICS = {"a": ["accuracy"], "b": ["mae", "mse"], "c": "accuracy"}


@pytest.fixture(scope="module")
def f():
    return dict(np.load(FIXTURE))


def build(dtype="float32"):
    x = keras.Input(shape=(4, 3), name="x")
    h = keras.layers.LSTM(5, name="trunk")(x)
    a = keras.layers.Dense(1, activation="sigmoid", name="a")(h)
    b = keras.layers.Dense(3, name="b")(h)
    c = keras.layers.Dense(4, activation="softmax", name="c")(h)
    return keras.Model(x, [a, b, c], dtype=dtype)


def rustrnn_weights(f, tag):
    """The fixture's Keras weights ``tag`` in rustrnn's layout, by layer."""
    k = lambda layer: [f[f"{tag}:{layer}:{i}"] for i in range(3) if f"{tag}:{layer}:{i}" in f]  # noqa: E731
    gates = lambda w: keras_to_torch_gates(w, "LSTM", 5)  # noqa: E731
    kernel, recurrent, bias = k("trunk")
    return {"trunk": [gates(kernel.T), gates(recurrent.T), gates(bias)], "a": k("a"), "b": k("b"), "c": k("c")}


def set_from(model, f, tag):
    for name, ws in rustrnn_weights(f, tag).items():
        model.get_layer(name).set_weights(ws)


def assert_weights(model, f, tag):
    for name, ws in rustrnn_weights(f, tag).items():
        for got, want in zip(model.get_layer(name).get_weights(), ws):
            np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-6, err_msg=f"{tag} {name}")


def ys(f, prefix="y"):
    return [f[f"{prefix}a"], f[f"{prefix}b"], f[f"{prefix}c"]]


def compiled(f, **kw):
    model = build()
    model.build()
    set_from(model, f, "w0")
    model.compile(optimizer=keras.optimizers.SGD(0.1), **({"loss": LOSS, "loss_weights": WEIGHTS, "metrics": METRICS} | kw))
    return model


def test_three_heads_train_evaluate_and_fit_as_keras(f):
    model = compiled(f)
    x, y = f["x"], ys(f)
    np.testing.assert_allclose(model.evaluate(x, y, batch_size=4), f["eval0"], rtol=1e-5)
    sw = [f["swa"], np.ones(len(x), np.float32), f["swc"]]
    for step in range(3):
        got = model.train_on_batch(x, {"a": y[0], "b": y[1], "c": y[2]}, sample_weight=sw)
        np.testing.assert_allclose(got, f["tob"][step], rtol=1e-5, err_msg=f"step {step}")
    assert_weights(model, f, "w1")
    np.testing.assert_allclose(model.evaluate(x, y, batch_size=4), f["eval1"], rtol=1e-5)
    logs = model.evaluate(x, y, batch_size=4, return_dict=True)
    assert list(logs) == json.loads(str(f["eval1_keys"]))  # Keras sorts the logs
    history = model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0,
                        validation_data=(f["vx"], ys(f, "vy"))).history
    assert list(history) == json.loads(str(f["hist_keys"]))
    for k, v in history.items():
        np.testing.assert_allclose(v, f[f"hist:{k}"], rtol=1e-4, err_msg=k)
    assert_weights(model, f, "w2")


def test_lists_and_dicts_are_the_same_compile(f):
    by_name = compiled(f)
    by_list = compiled(f, loss=["binary_crossentropy", "mse", "sparse_categorical_crossentropy"], loss_weights=[0.5, 2.0, 1.0],
                       metrics=[["accuracy"], ["mae", "mse"], ["accuracy"]])
    x, y = f["x"], ys(f)
    assert by_name.train_on_batch(x, y, return_dict=True) == by_list.train_on_batch(x, {"a": y[0], "b": y[1], "c": y[2]},
                                                                                      return_dict=True)
    # One loss for every output, as Keras: the total is their sum.
    one = compiled(f, loss="mse", loss_weights=None, metrics=None)
    logs = one.evaluate(x, [y[0], y[1], np.eye(4, dtype=np.float32)[y[2].astype(int)]], return_dict=True)
    assert list(logs) == ["a_loss", "b_loss", "c_loss", "loss"]
    assert logs["loss"] == pytest.approx(logs["a_loss"] + logs["b_loss"] + logs["c_loss"], rel=1e-6)


def test_every_output_gradient_reaches_the_shared_trunk_as_finite_differences(f):
    model = build("float64")
    model.build()
    set_from(model, f, "w0")
    model.compile(optimizer="sgd", loss=LOSS, loss_weights=WEIGHTS)
    x, y = f["x"][:6].astype(np.float64), [a[:6] for a in ys(f)]
    sw = [f["swa"][:6], None, f["swc"][:6]]
    loss, grads = model.loss_and_gradients(x, y, sample_weight=sw)

    def total():
        return model.evaluate(x, y, sample_weight=sw, batch_size=6)[0]

    assert loss == pytest.approx(total(), rel=1e-12)
    rng = np.random.default_rng(0)
    for name in ("trunk/weight_ih_l0", "trunk/weight_hh_l0", "a/kernel", "b/bias", "c/kernel"):
        weights = model.get_weight_dict()
        w = weights[name]
        for idx in [tuple(rng.integers(0, s) for s in w.shape) for _ in range(3)]:
            eps = 1e-6
            plus, minus = w.copy(), w.copy()
            plus[idx] += eps
            minus[idx] -= eps
            model.set_weights([plus if n == name else weights[n] for n in model.weight_names])
            up = total()
            model.set_weights([minus if n == name else weights[n] for n in model.weight_names])
            down = total()
            model.set_weights([weights[n] for n in model.weight_names])
            assert grads[name][idx] == pytest.approx((up - down) / (2 * eps), rel=1e-6, abs=1e-9), (name, idx)


def test_callbacks_monitor_per_output_keys_and_saving_keeps_the_compile_config(f, tmp_path):
    model = compiled(f)
    x, y, v = f["x"], ys(f), (f["vx"], ys(f, "vy"))
    path = str(tmp_path / "best.rnn")
    stop = keras.callbacks.EarlyStopping(monitor="val_b_loss", patience=0, mode="min")
    best = keras.callbacks.ModelCheckpoint(path, monitor="val_c_accuracy", mode="max", save_best_only=True)
    history = model.fit(x, y, epochs=4, batch_size=5, verbose=0, validation_data=v, callbacks=[stop, best])
    assert "val_b_loss" in history.history and os.path.exists(path)
    model.save(str(tmp_path / "m.rnn"))
    loaded = rustrnn.load_model(str(tmp_path / "m.rnn"))
    assert [l.name for l in loaded.loss] == ["binary_crossentropy", "mse", "sparse_categorical_crossentropy"]
    assert loaded.evaluate(x, y, return_dict=True) == model.evaluate(x, y, return_dict=True)
    assert loaded.metrics_names == ["a_accuracy", "b_mae", "b_mse", "c_accuracy"]


def test_bad_per_output_arguments_name_the_difference(f):
    model = build()
    with pytest.raises(ArgumentError, match="metrics"):
        model.compile(loss="mse", metrics=["mae"])  # a flat list that is not one per output, as Keras
    with pytest.raises(ArgumentError, match="expected keys"):
        model.compile(loss={"a": "mse"})
    with pytest.raises(UnsupportedError, match="None"):
        model.compile(loss=["mse", None, "mse"])
    with pytest.raises(ArgumentError, match="loss_weights"):
        model.compile(loss="mse", loss_weights=0.5)
    model = compiled(f)
    x, y = f["x"], ys(f)
    with pytest.raises(ArgumentError, match="3 outputs"):
        model.fit(x, y[:2], verbose=0)
    with pytest.raises(ArgumentError, match="'c'"):
        model.evaluate(x, {"a": y[0], "b": y[1]})
    with pytest.raises(ArgumentError, match="class_weight"):
        model.fit(x, y, class_weight={0: 1.0, 1: 2.0}, verbose=0)
    with pytest.raises(UnsupportedError, match="Python metrics"):
        model.compile(loss="mse", metrics={"a": ["auc"]})
