"""`layers.Dot` against Keras 3 (tests/fixtures/keras/make_multi_output_fixtures.py, ``dot``):
every axes form rustrnn takes, with and without ``normalize``, forward and two SGD steps
(so its backward), finite differences in float64, and every save format."""

import os

import numpy as np
import pytest

import rustrnn
from rustrnn import keras
from rustrnn.errors import ArgumentError, ShapeError

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "keras", "dot_layer.npz")
DENSES = ("ha", "hb", "hv", "hw")


@pytest.fixture(scope="module")
def f():
    return dict(np.load(FIXTURE))


def build(dtype="float32"):
    xa = keras.Input(shape=(4, 3), name="xa")
    xb = keras.Input(shape=(5, 3), name="xb")
    v = keras.Input(shape=(3,), name="v")
    ha = keras.layers.Dense(3, activation="tanh", name="ha")(xa)
    hb = keras.layers.Dense(3, activation="tanh", name="hb")(xb)
    hv = keras.layers.Dense(3, name="hv")(v)
    hw = keras.layers.Dense(3, name="hw")(v)
    outs = [keras.layers.Dot(axes=-1, name="d1")([ha, hb]), keras.layers.Dot(axes=(2, 1), name="d2")([ha, hv]),
            keras.layers.dot([hv, hw], axes=1, normalize=True, name="d3"), keras.layers.Dot(axes=1, name="d4")([ha, xa])]
    return keras.Model([xa, xb, v], outs, dtype=dtype)


def with_weights(f, tag="w0", dtype="float32"):
    model = build(dtype)
    model.build()
    for name in DENSES:
        model.get_layer(name).set_weights([f[f"{tag}:{name}:0"], f[f"{tag}:{name}:1"]])
    return model


def inputs(f, dtype=np.float32):
    return [f["xa"].astype(dtype), f["xb"].astype(dtype), f["v"].astype(dtype)]


def test_every_axes_form_matches_keras_forward_and_training(f):
    model = with_weights(f)
    assert [o.shape for o in model.outputs] == [(None, 4, 5), (None, 4), (None, 1), (None, 3, 3)]
    for got, i in zip(model.predict(inputs(f)), range(4)):
        np.testing.assert_allclose(got, f[f"p{i}"], rtol=1e-5, atol=1e-6, err_msg=f"output {i}")
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    ys = [f[f"y{i}"] for i in range(4)]
    for step in range(2):
        np.testing.assert_allclose(model.train_on_batch(inputs(f), ys), f["tob"][step], rtol=1e-5)
    for name in DENSES:
        for k, got in enumerate(model.get_layer(name).get_weights()):
            np.testing.assert_allclose(got, f[f"w1:{name}:{k}"], rtol=1e-4, atol=1e-6, err_msg=name)


def test_dot_gradients_match_finite_differences(f):
    model = with_weights(f, dtype="float64")
    model.compile(optimizer="sgd", loss="mse")
    x, ys = inputs(f, np.float64), [f[f"y{i}"].astype(np.float64) for i in range(4)]
    _, grads = model.loss_and_gradients(x, ys)
    weights = model.get_weight_dict()
    for name in ("ha/kernel", "hb/kernel", "hv/kernel", "hw/bias"):
        w = weights[name]
        for idx in np.ndindex(*w.shape):
            def at(d):
                moved = dict(weights)
                moved[name] = w.copy()
                moved[name][idx] += d
                model.set_weights([moved[n] for n in model.weight_names])
                return model.evaluate(x, ys, batch_size=6)[0]
            num = (at(1e-6) - at(-1e-6)) / 2e-6
            assert grads[name][idx] == pytest.approx(num, rel=1e-6, abs=1e-9), (name, idx)
        model.set_weights([weights[n] for n in model.weight_names])


def test_dot_in_every_save_format(f, tmp_path):
    model = with_weights(f)
    want = model.predict(inputs(f))
    for path in (tmp_path / "m.rnn", tmp_path / "m.keras"):
        model.save(str(path))
        for got, w in zip(rustrnn.load_model(str(path)).predict(inputs(f)), want):
            np.testing.assert_allclose(got, w, rtol=1e-6, err_msg=str(path))
    again = keras.models.model_from_json(model.to_json())
    assert [l.get_config() for l in again.layers if l._class == "Dot"] == [l.get_config() for l in model.layers if l._class == "Dot"]
    assert model.get_layer("d2").get_config() == {"axes": [2, 1], "normalize": False}


def test_bad_dot_calls_name_the_problem():
    a, b = keras.Input(shape=(4, 3)), keras.Input(shape=(5, 2))
    with pytest.raises(ShapeError, match="axis values 3"):
        keras.layers.Dot(axes=-1)([a, b])
    with pytest.raises(ArgumentError, match="batch axis"):
        keras.layers.Dot(axes=0)([a, a])
    with pytest.raises(ArgumentError, match="two integers"):
        keras.layers.Dot(axes=(1, 2, 3))
    with pytest.raises(ArgumentError, match="exactly two"):
        keras.layers.Dot(axes=-1)([a, a, a])
