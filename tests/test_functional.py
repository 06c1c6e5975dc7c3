"""The functional API: keras.Input, calling layers on symbolic tensors,
Model(inputs, outputs) with several inputs and outputs, inference models cut
from a trained model that share its weights, gradients against finite
differences, saving and pickling, and the errors of bad graphs."""

import pickle

import numpy as np
import pytest

import rustrnn
from rustrnn import keras
from rustrnn.errors import ArgumentError, RustRnnError, UnsupportedError


def enc_dec(units=4, src_features=3, tgt_features=5, dtype="float32"):
    enc_in = keras.Input(shape=(None, src_features), name="enc_in")
    _, h, c = keras.layers.LSTM(units, return_state=True, name="enc")(enc_in)
    dec_in = keras.Input(shape=(None, tgt_features), name="dec_in")
    dec_lstm = keras.layers.LSTM(units, return_sequences=True, return_state=True, name="dec")
    dec_out, _, _ = dec_lstm(dec_in, initial_state=[h, c])
    dense = keras.layers.Dense(tgt_features, activation="softmax", name="out")
    model = keras.Model([enc_in, dec_in], dense(dec_out), dtype=dtype)
    return model, (enc_in, dec_in, h, c, dec_lstm, dense)


def data(n=6, s=4, t=3, fs=3, ft=5, seed=0):
    rng = np.random.default_rng(seed)
    y = np.eye(ft, dtype=np.float32)[rng.integers(0, ft, size=(n, t))]
    return rng.normal(size=(n, s, fs)).astype(np.float32), rng.normal(size=(n, t, ft)).astype(np.float32), y


def test_symbolic_tensors_model_structure_and_predict():
    x = rustrnn.Input(shape=(None, 3), name="x")
    assert x.shape == (None, None, 3) and x.dtype == "float32" and x.name == "x"
    out, h, c = keras.layers.LSTM(4, return_state=True)(x)
    assert out.shape == (None, 4) and h.shape == (None, 4)
    model = rustrnn.Model(inputs=x, outputs=[out, h, c])
    assert isinstance(model, rustrnn.Functional) and isinstance(model, rustrnn.Model)
    assert model.input is x and model.inputs == [x] and model.output == [out, h, c]
    assert [type(l).__name__ for l in model.layers] == ["InputLayer", "LSTM"]
    assert model.layers[1].output == [out, h, c] and model.layers[1].input is x
    assert model.get_layer(model.layers[1].name) is model.layers[1]
    xs = np.random.default_rng(0).normal(size=(5, 7, 3)).astype(np.float32)
    y, hh, cc = model.predict(xs, batch_size=2)
    assert y.shape == hh.shape == cc.shape == (5, 4)
    np.testing.assert_array_equal(y, hh)  # the last output is h
    assert keras.layers.Input(shape=(2,)).shape == rustrnn.layers.Input(shape=(2,)).shape == (None, 2)


def test_a_plain_model_keeps_working_and_is_still_subclassable():
    seq = rustrnn.Sequential([rustrnn.layers.Dense(2)])
    assert type(seq) is rustrnn.Sequential

    class Mine(rustrnn.Model):
        pass

    assert type(Mine()) is Mine


def test_inference_models_share_the_trained_weights_both_ways():
    model, (enc_in, dec_in, h, c, dec_lstm, dense) = enc_dec()
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    xs, xt, y = data()
    model.fit([xs, xt], y, epochs=2, batch_size=3, verbose=0)
    encoder = keras.Model(enc_in, [h, c])
    hs, cs = encoder.predict(xs)
    h_in, c_in = keras.Input(shape=(4,)), keras.Input(shape=(4,))
    d_out, dh, dc = dec_lstm(dec_in, initial_state=[h_in, c_in])
    decoder = keras.Model([dec_in, h_in, c_in], [dense(d_out), dh, dc])
    probs, _, _ = decoder.predict([xt, hs, cs])
    np.testing.assert_allclose(probs, model.predict([xs, xt]), rtol=1e-5, atol=1e-6)
    # Training the full model again is seen by the sub-models (they pull the new weights) ...
    model.fit([xs, xt], y, epochs=3, batch_size=3, verbose=0)
    hs2, cs2 = encoder.predict(xs)
    assert not np.allclose(hs, hs2)
    np.testing.assert_allclose(decoder.predict([xt, hs2, cs2])[0], model.predict([xs, xt]), rtol=1e-5, atol=1e-6)
    # ... and weights set through a sub-model's layer reach the full model.
    w = [np.zeros_like(a) for a in dense.get_weights()]
    decoder.get_layer("out").set_weights(w)
    np.testing.assert_allclose(model.predict([xs, xt]), 1.0 / 5, rtol=1e-6)
    np.testing.assert_array_equal(model.get_layer("out").get_weights()[0], 0.0)


def test_gradients_match_finite_differences_float64():
    enc_in = keras.Input(shape=(None, 2))
    ctx = keras.Input(shape=(3,))
    h0 = keras.layers.Dense(3, activation="tanh")(ctx)
    seq, h = keras.layers.GRU(3, return_sequences=True, return_state=True)(enc_in, initial_state=[h0])
    both = keras.layers.Concatenate()([seq, seq])
    out = keras.layers.Dense(2, activation="softmax")(both)
    model = keras.Model([enc_in, ctx], out, dtype="float64")
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    rng = np.random.default_rng(3)
    x = [rng.normal(size=(3, 4, 2)), rng.normal(size=(3, 3))]
    y = np.eye(2)[rng.integers(0, 2, size=(3, 4))]
    loss, grads = model.loss_and_gradients(x, y)
    eps = 1e-6
    checked = 0
    for name, g in grads.items():
        w0 = model.get_weight_dict()[name]
        for k in range(0, w0.size, max(1, w0.size // 6)):
            def loss_at(d):
                w = w0.copy()
                w.flat[k] += d
                model._set_named_weights({name: w})
                return model.evaluate(x, y, batch_size=3, return_dict=True)["loss"]
            num = (loss_at(eps) - loss_at(-eps)) / (2 * eps)
            model._set_named_weights({name: w0})
            assert abs(num - g.flat[k]) <= 1e-6 + 1e-5 * abs(num), (name, k, num, g.flat[k])
            checked += 1
    assert checked > 20 and abs(loss - model.evaluate(x, y, batch_size=3, return_dict=True)["loss"]) < 1e-12


def test_save_load_and_pickle_round_trips(tmp_path):
    model, _ = enc_dec()
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    xs, xt, y = data()
    model.fit([xs, xt], y, epochs=1, batch_size=3, verbose=0)
    want = model.predict([xs, xt])
    path = tmp_path / "m.rnn"
    model.save(path)
    for loaded in (rustrnn.load_model(path), pickle.loads(pickle.dumps(model)), rustrnn.load_model(model.to_bytes())):
        assert isinstance(loaded, rustrnn.Functional)
        np.testing.assert_array_equal(loaded.predict([xs, xt]), want)
        assert [l.name for l in loaded.layers] == ["enc_in", "dec_in", "enc", "dec", "out"]
        # The loaded graph has its symbolic tensors: inference models cut from it share its weights.
        _, h, c = loaded.layers[2].output
        hs = keras.Model(loaded.input[0], [h, c]).predict(xs)
        assert len(hs) == 2 and hs[0].shape == (6, 4)
        # Training continues (optimizer state restored).
        loaded.fit([xs, xt], y, epochs=1, batch_size=3, verbose=0)
    unbuilt, _ = enc_dec()
    assert isinstance(pickle.loads(pickle.dumps(unbuilt)), rustrnn.Functional)


def test_bad_graphs_and_calls_name_the_problem():
    x = keras.Input(shape=(None, 3), name="xa")
    other = keras.Input(shape=(None, 3), name="xb")
    dense = keras.layers.Dense(2)
    y = dense(x)
    with pytest.raises(RustRnnError, match="shared layer is called on"):  # a shared layer's calls fit its one set of weights
        keras.Model(x, dense(y)).build()
    with pytest.raises(ArgumentError, match="'xb' is not connected to any output"):
        keras.Model([x, other], y)
    with pytest.raises(ArgumentError, match="input 'xb', which is not in the model's inputs"):
        keras.Model(x, keras.layers.Dense(2)(other))
    flat = keras.Input(shape=(3,))
    bad = keras.Model([x, flat], keras.layers.Concatenate()([x, flat]))
    with pytest.raises(RustRnnError, match="inputs\\[1\\]: expected a sequence"):
        bad.predict([np.zeros((1, 2, 3)), np.zeros((1, 3))])
    with pytest.raises(ArgumentError, match="initial_state: expected 2 states"):
        keras.layers.LSTM(3)(x, initial_state=[keras.Input(shape=(3,))])
    h3 = keras.Input(shape=(3,))
    with pytest.raises(ArgumentError, match="initial_state\\[0\\]: expected shape \\(None, 2\\), got \\(None, 3\\)"):
        keras.Model([x, h3], keras.layers.GRU(2)(x, initial_state=[h3])).build()
    two = keras.Model(x, [y, keras.layers.Dense(1)(x)])
    two.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ArgumentError, match="the model has 2 outputs"):
        two.fit(np.zeros((2, 3, 3)), np.zeros((2, 3, 2)), verbose=0)
    model = keras.Model(x, y)
    with pytest.raises(ArgumentError, match="expected a list of 1 arrays, got 2"):
        model.predict([np.zeros((1, 2, 3)), np.zeros((1, 2, 3))])
    with pytest.raises(RustRnnError, match="expected shape"):
        model.predict(np.zeros((1, 2, 4)))
    with pytest.raises(UnsupportedError, match="slices with a step"):
        x[:, ::-1, :]
    with pytest.raises(rustrnn.DTypeError, match="symbolic tensors"):
        dense(np.zeros((1, 3)))


def test_the_graph_spec_uses_only_its_typed_keys():
    from rustrnn import spec

    keys = lambda td: set(td.__annotations__)  # noqa: E731
    model, _ = enc_dec()
    g = model._graph()
    assert set(g) == keys(spec.FunctionalSpec)
    assert all(set(i) <= keys(spec.GraphInputSpec) for i in g["inputs"])
    for entry in g["layers"]:
        assert set(entry) == keys(spec.GraphLayerSpec)
        assert set(entry["config"]) <= keys(spec.LAYER_CONFIGS[entry["class"]]), entry
    for layer in (keras.layers.Concatenate(), keras.layers.Attention(use_scale=True), keras.layers.AdditiveAttention()):
        assert set(layer.get_config()) <= keys(spec.LAYER_CONFIGS[layer._class])


def test_freezing_a_shared_layer_freezes_it_in_every_model():
    model, _ = enc_dec()
    twin = keras.Model(model.inputs, model.output)  # the same layers: built before the layer is frozen
    xs, xt, y = data()
    for m in (model, twin):
        m.compile(optimizer="adam", loss="categorical_crossentropy")
        m.predict([xs, xt])
    model.get_layer("enc").trainable = False
    before = model.get_layer("enc").get_weights()
    twin.fit([xs, xt], y, epochs=2, batch_size=3, verbose=0)
    model.fit([xs, xt], y, epochs=1, batch_size=3, verbose=0)
    for a, b in zip(before, twin.get_layer("enc").get_weights()):
        np.testing.assert_array_equal(a, b)
    assert twin.count_params() == model.count_params()


def test_a_keras_archive_of_a_functional_model_round_trips(tmp_path):
    pytest.importorskip("h5py")  # export_keras asks for h5py first (CI installs it)
    model, _ = enc_dec()
    model.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")
    xs, xt, _ = data()
    np.testing.assert_array_equal(again.predict([xs, xt]), model.predict([xs, xt]))
    assert [l.name for l in again.layers] == ["enc_in", "dec_in", "enc", "dec", "out"]
