"""Shared layers (a layer object called on several tensors: one set of weights)
against Keras 3 (tests/fixtures/keras/make_multi_output_fixtures.py, ``shared``):
masks per call, the calls' gradients summed, SGD steps; saving and loading."""

import json
import os

import numpy as np
import pytest

import rustrnn
from rustrnn import keras
from rustrnn.interop.keras_in import keras_to_torch_gates

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "keras", "shared_layers.npz")


@pytest.fixture(scope="module")
def f():
    return dict(np.load(FIXTURE))


def build():
    xa = keras.Input(shape=(5,), dtype="int32", name="xa")
    xb = keras.Input(shape=(5,), dtype="int32", name="xb")
    emb = keras.layers.Embedding(7, 3, mask_zero=True, name="emb")
    enc = keras.layers.LSTM(4, name="enc")
    proj = keras.layers.Dense(4, activation="tanh", name="proj")
    ha, hb = proj(enc(emb(xa))), proj(enc(emb(xb)))
    y = keras.layers.Dense(1, activation="sigmoid", name="out")(keras.layers.Concatenate(name="cat")([ha, hb]))
    return keras.Model([xa, xb], y)


def weights(f, tag):
    k = lambda layer: [f[f"{tag}:{layer}:{i}"] for i in range(3) if f"{tag}:{layer}:{i}" in f]  # noqa: E731
    gates = lambda w: keras_to_torch_gates(w, "LSTM", 4)  # noqa: E731
    kernel, recurrent, bias = k("enc")
    return {"emb": k("emb"), "enc": [gates(kernel.T), gates(recurrent.T), gates(bias)], "proj": k("proj"), "out": k("out")}


def test_a_siamese_encoder_shares_weights_and_trains_as_keras(f):
    model = build()
    assert [l.name for l in model.layers] == ["xa", "xb", "emb", "enc", "proj", "cat", "out"]
    model.build()
    for name, ws in weights(f, "w0").items():
        model.get_layer(name).set_weights(ws)
    assert len(model.get_weights()) == 1 + 3 + 2 + 2  # one set per layer, however often called
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="binary_crossentropy")
    x = [f["xa"], f["xb"]]
    for step in range(3):
        assert model.train_on_batch(x, f["y"]) == pytest.approx(float(f["tob"][step]), rel=1e-5)
    for name, ws in weights(f, "w1").items():
        for got, want in zip(model.get_layer(name).get_weights(), ws):
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6, err_msg=name)
    np.testing.assert_allclose(model.predict(x), f["pred"], rtol=1e-5, atol=1e-6)


def test_shared_layers_save_and_load_in_every_format(f, tmp_path):
    model = build()
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    x = [f["xa"], f["xb"]]
    model.fit(x, f["y"], epochs=1, verbose=0)
    path = str(tmp_path / "siamese.rnn")
    model.save(path)
    loaded = rustrnn.load_model(path)
    assert [l.name for l in loaded.layers] == [l.name for l in model.layers]
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.get_config()["graph"] == model.get_config()["graph"]  # the later calls as {"name", "inbound"}
    # Keras's format: one entry per layer with an inbound node per call, tensors as [layer, call, output].
    model.save(str(tmp_path / "siamese.keras"))
    from_keras = rustrnn.load_model(str(tmp_path / "siamese.keras"))
    np.testing.assert_allclose(from_keras.predict(x), model.predict(x), rtol=1e-6)
    config = json.loads(model.to_json())["config"]
    proj = next(l for l in config["layers"] if l["name"] == "proj")
    assert len(proj["inbound_nodes"]) == 2
    assert proj["inbound_nodes"][1]["args"][0]["config"]["keras_history"] == ["enc", 1, 0]
    again = keras.models.model_from_json(model.to_json())
    assert [l.name for l in again.layers] == [l.name for l in model.layers]


def test_shared_stateful_layers_are_refused():
    x1, x2 = keras.Input(batch_shape=(2, 3, 1)), keras.Input(batch_shape=(2, 3, 1))
    lstm = keras.layers.LSTM(2, stateful=True)
    out = keras.layers.Concatenate()([lstm(x1), lstm(x2)])
    with pytest.raises(rustrnn.UnsupportedError, match="stateful"):
        keras.Model([x1, x2], out)
