"""Functional models against Keras 3 (fixtures from tests/fixtures/keras/make_functional_fixtures.py):
the same graph, Keras' weights converted, the same outputs."""

import os

import numpy as np
import pytest

from rustrnn import keras
from rustrnn.interop.keras_in import keras_to_torch_gates

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "keras")


def load(case):
    return dict(np.load(os.path.join(FIXTURES, f"functional_{case}.npz")))


def recurrent(cls, units, kernel, recurrent_kernel, bias):
    gates = lambda w: keras_to_torch_gates(w, cls, units)  # noqa: E731
    if bias.ndim == 2:  # GRU reset_after: input and recurrent biases
        return [gates(kernel.T), gates(recurrent_kernel.T), gates(bias[0]), gates(bias[1])]
    return [gates(kernel.T), gates(recurrent_kernel.T), gates(bias)]  # Keras's one bias


def keras_weights(f, layer):
    return [f[f"w:{layer}:{k}"] for k in range(3) if f"w:{layer}:{k}" in f]


def test_encoder_decoder_with_masked_source_and_several_outputs_matches_keras():
    f = load("enc_dec")
    src = keras.Input(shape=(None,), dtype="int32", name="src")
    dec_in = keras.Input(shape=(None, 3), name="dec_in")
    emb = keras.layers.Embedding(9, 4, mask_zero=True, name="emb")(src)
    _, h, c = keras.layers.LSTM(5, return_state=True, name="enc")(emb)
    dec = keras.layers.LSTM(5, return_sequences=True, name="dec")(dec_in, initial_state=[h, c])
    cat = keras.layers.Concatenate(name="cat")([dec, dec_in])
    y = keras.layers.Dense(6, activation="softmax", name="out")(cat)
    model = keras.Model([src, dec_in], [y, h, c])
    model.get_layer("emb").set_weights(keras_weights(f, "emb"))
    model.get_layer("enc").set_weights(recurrent("LSTM", 5, *keras_weights(f, "enc")))
    model.get_layer("dec").set_weights(recurrent("LSTM", 5, *keras_weights(f, "dec")))
    model.get_layer("out").set_weights(keras_weights(f, "out"))
    got = model.predict([f["x0"], f["x1"]])
    assert len(got) == 3
    for g, k in zip(got, ("y0", "y1", "y2")):
        np.testing.assert_allclose(g, f[k], rtol=1e-5, atol=1e-6)


def test_concatenated_inputs_gru_state_and_concatenate_match_keras():
    f = load("gru_concat")
    a = keras.Input(shape=(5, 2), name="a")
    b = keras.Input(shape=(5, 3), name="b")
    ab = keras.layers.Concatenate(name="ab")([a, b])
    seq, h = keras.layers.GRU(4, return_state=True, name="gru")(ab)
    y = keras.layers.Dense(1, activation="sigmoid", name="out")(keras.layers.Concatenate(name="cat")([seq, h]))
    model = keras.Model([a, b], y)
    model.get_layer("gru").set_weights(recurrent("GRU", 4, *keras_weights(f, "gru")))
    model.get_layer("out").set_weights(keras_weights(f, "out"))
    np.testing.assert_allclose(model.predict([f["x0"], f["x1"]]), f["y0"], rtol=1e-5, atol=1e-6)


if __name__ == "__main__":
    pytest.main([__file__])


def test_attention_and_additive_attention_with_masks_match_keras():
    f = load("attention")
    q_ids = keras.Input(shape=(None,), dtype="int32", name="q_ids")
    v_ids = keras.Input(shape=(None,), dtype="int32", name="v_ids")
    q = keras.layers.Embedding(8, 4, mask_zero=True, name="eq")(q_ids)
    v = keras.layers.Embedding(8, 4, mask_zero=True, name="ev")(v_ids)
    k = keras.layers.Dense(4, activation="tanh", name="key")(v)
    dot = keras.layers.Attention(use_scale=True, name="dot")([q, v])
    add = keras.layers.AdditiveAttention(name="add")([q, v, k])
    y = keras.layers.Dense(3, activation="softmax", name="out")(keras.layers.Concatenate(name="cat")([dot, add, q]))
    model = keras.Model([q_ids, v_ids], [y, dot, add])
    for name in ("eq", "ev", "key", "dot", "add", "out"):
        model.get_layer(name).set_weights(keras_weights(f, name))
    got = model.predict([f["x0"], f["x1"]])
    for g, k in zip(got, ("y0", "y1", "y2")):
        np.testing.assert_allclose(g, f[k], rtol=1e-5, atol=1e-6)
