"""Keras 3 itself loads the ``.keras`` archives rustrnn writes for functional models (slices,
merges, Flatten/Reshape, encoder-decoder states) and Sequential models with Flatten, and predicts
what rustrnn predicts. Needs keras 3 (torch backend): ``make test-torch``; skipped without it."""

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
real_keras = pytest.importorskip("keras")
pytest.importorskip("h5py")

import rustrnn  # noqa: E402
from rustrnn import keras  # noqa: E402

L = keras.layers
HERE = os.path.join(os.path.dirname(__file__), "fixtures", "keras", "graph")


def keras_predicts_the_same(model, xs, tmp_path):
    ours = model.predict(xs)
    model.save(tmp_path / "m.keras")
    theirs = real_keras.saving.load_model(tmp_path / "m.keras")
    got = theirs.predict(xs, verbose=0)
    ours, got = (ours, got) if isinstance(ours, list) else ([ours], [got])
    assert len(ours) == len(got)
    for a, b in zip(ours, got):
        np.testing.assert_allclose(np.asarray(b), a, rtol=1e-5, atol=1e-6)
    return theirs


def test_keras_loads_a_rustrnn_functional_archive_with_slices_and_merges(tmp_path):
    model = keras.models.load_model(os.path.join(HERE, "slice_merge.keras"))
    x = np.load(os.path.join(HERE, "slice_merge.npz"))["x0"]
    theirs = keras_predicts_the_same(model, x, tmp_path)
    assert [l.name for l in theirs.layers] == [l.name for l in model.layers]


def test_keras_loads_layers_whose_call_order_is_not_its_order(tmp_path):
    rustrnn.manual_seed(3)
    x = keras.Input(shape=(4,))
    a = L.Dense(4, activation="tanh")(x)  # called first, but Keras lists it second
    b = L.Dense(4)(x)
    model = keras.Model(x, L.Dense(2)(L.subtract([b, a])))
    keras_predicts_the_same(model, np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32), tmp_path)


def test_keras_loads_an_encoder_decoder_with_states_and_a_flatten_sequential(tmp_path):
    rustrnn.manual_seed(4)
    enc_in = keras.Input(shape=(None, 3))
    _, h, c = L.LSTM(4, return_state=True)(enc_in)
    dec_in = keras.Input(shape=(None, 2))
    seq, h2, _ = L.LSTM(4, return_sequences=True, return_state=True)(dec_in, initial_state=[h, c])
    model = keras.Model([enc_in, dec_in], [L.Dense(2, activation="softmax")(seq), h2, seq[:, -1]])
    rng = np.random.default_rng(1)
    keras_predicts_the_same(model, [rng.normal(size=(2, 5, 3)).astype(np.float32),
                                    rng.normal(size=(2, 4, 2)).astype(np.float32)], tmp_path)
    seq_model = keras.Sequential([keras.Input(shape=(6, 2)), L.Conv1D(3, 2), L.GRU(3, return_sequences=True),
                                  L.Flatten(), L.Reshape((3, 5)), L.LSTM(2), L.Dense(1)])
    keras_predicts_the_same(seq_model, rng.normal(size=(2, 6, 2)).astype(np.float32), tmp_path)
