"""Keras's ``stateful=True`` on SimpleRNN/LSTM/GRU (and through Bidirectional):
the final states of each row of a batch are the initial states of the same row
of the next batch, in predict, fit and evaluate, until ``reset_states``. Keras
3's own outputs are the oracle (tests/fixtures/keras/recurrent, made by
make_keras_recurrent_fixtures.py with Keras 3.15.1); streaming one token at a
time must give the outputs of the whole sequence."""

import glob
import os
import pickle

import numpy as np
import pytest

import rustrnn
from rustrnn import keras
from rustrnn import layers as L

from test_models_gradcheck import fd_check

HERE = os.path.join(os.path.dirname(__file__), "fixtures", "keras", "recurrent")
STATEFUL = sorted(os.path.basename(p)[:-4] for p in glob.glob(os.path.join(HERE, "stateful_*.npz")))


def test_every_fixture_case_is_there():
    assert STATEFUL == ["stateful_bidirectional", "stateful_fit", "stateful_gru_stack", "stateful_lstm", "stateful_masked"]


def load(name):
    pytest.importorskip("h5py")
    import rustrnn.interop

    return rustrnn.interop.from_keras(os.path.join(HERE, f"{name}.keras")), np.load(os.path.join(HERE, f"{name}.npz"))


@pytest.mark.parametrize("name", STATEFUL)
def test_consecutive_batches_carry_the_states_as_keras(name):
    model, ref = load(name)
    assert any(getattr(l, "stateful", False) for l in model.layers)
    n = len([k for k in ref.files if k[0] == "x" and k[1:].isdigit()])
    outs = []
    for i in range(n):
        if i in ref["reset_before"]:
            model.reset_states()
        x = ref[f"x{i}"]
        outs.append(model.predict(x, batch_size=len(x)))
        np.testing.assert_allclose(outs[-1], ref[f"y{i}"], atol=2e-5, rtol=0, err_msg=f"{name} batch {i}")
    # The states matter: a later batch differs from what zero states give; after the reset the first batch repeats.
    assert np.abs(outs[1] - outs[0]).max() > 1e-3
    np.testing.assert_array_equal(outs[3], outs[0])


def test_stateful_training_matches_keras_and_keeps_the_states():
    model, ref = load("stateful_fit")
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.5), loss="mse")
    model.reset_states()
    with pytest.warns(UserWarning, match="shuffle=False"):
        model.fit(ref["fit_x"][:3], ref["fit_y"][:3], batch_size=3, epochs=0)  # shuffle=True is Keras's default: warned
    model.fit(ref["fit_x"], ref["fit_y"], batch_size=3, epochs=1, shuffle=False, verbose=0)
    from rustrnn.interop.keras_in import keras_recurrent_to_torch

    kw = [ref[f"fit_weights_{i}"] for i in range(4)]
    lstm, dense = (l.name for l in model.layers)
    want = {f"{lstm}/{k}": v for k, v in keras_recurrent_to_torch("LSTM", 4, kw[:2], True, "_l0").items()}
    want.update({f"{dense}/kernel": kw[2], f"{dense}/bias": kw[3]})
    got = model.get_weight_dict()
    assert sorted(got) == sorted(want)
    start, _ = load("stateful_fit")
    for k, v in want.items():
        np.testing.assert_allclose(got[k], v, atol=2e-5, rtol=0, err_msg=k)
        assert np.abs(start.get_weight_dict()[k] - v).max() > 1e-3  # training moved every weight
    # The next prediction starts from the states the training ended with.
    np.testing.assert_allclose(model.predict(ref["after_fit_x"], batch_size=3), ref["y_after_fit"], atol=2e-5, rtol=0)


def char_model(stateful, batch=2):
    rustrnn.manual_seed(3)
    return rustrnn.Sequential([keras.Input(batch_shape=(batch, None), dtype="int32"), L.Embedding(7, 4),
                               L.LSTM(6, return_sequences=True, stateful=stateful),
                               L.GRU(5, return_sequences=True, stateful=stateful),
                               L.Dense(7, activation="softmax")], dtype="float64")


def test_streaming_one_step_at_a_time_gives_the_whole_sequences_outputs():
    x = np.random.default_rng(0).integers(0, 7, size=(2, 9))
    whole = char_model(False)
    want = whole.predict(x)
    stream = char_model(True)
    stream.build((2, None))
    stream.set_weights(whole.get_weights())
    got = np.concatenate([stream.predict(x[:, t:t + 1], batch_size=2) for t in range(9)], axis=1)
    np.testing.assert_allclose(got, want, atol=1e-12, rtol=0)
    # Chunks of three steps, after a reset by layer: the same again.
    for layer in stream.layers:
        if getattr(layer, "stateful", False):
            layer.reset_states()
    got = np.concatenate([stream.predict(x[:, t:t + 3], batch_size=2) for t in range(0, 9, 3)], axis=1)
    np.testing.assert_allclose(got, want, atol=1e-12, rtol=0)


def test_a_changed_batch_size_is_an_error_naming_it():
    m = char_model(True)
    x = np.ones((2, 3), np.int64)
    m.predict(x, batch_size=2)
    with pytest.raises(rustrnn.ShapeError, match="stateful=True.*expected 2 rows.*got 1"):
        m.predict(x[:1])
    with pytest.raises(rustrnn.ShapeError, match="expected 2 rows"):  # 3 samples in batches of 2: the last has 1
        m.predict(np.ones((3, 3), np.int64), batch_size=2)
    m.reset_states()
    with pytest.raises(rustrnn.ShapeError, match="expected 2 rows"):  # as in Keras, a reset keeps the batch size
        m.predict(x[:1])
    # The batch size an Input declares holds from the first call (Keras builds the states for it).
    with pytest.raises(rustrnn.ShapeError, match="expected 2 rows"):
        char_model(True).predict(np.ones((4, 3), np.int64), batch_size=4)
    free = rustrnn.Sequential([L.Embedding(5, 2), L.LSTM(3, stateful=True)])
    free.predict(np.ones((4, 3), np.int64), batch_size=4)  # no declared size: the first batch fixes it
    with pytest.raises(rustrnn.ShapeError, match="expected 4 rows"):
        free.predict(np.ones((2, 3), np.int64))


def test_a_keras_file_keeps_its_batch_size():
    model, ref = load("stateful_lstm")
    with pytest.raises(rustrnn.ShapeError, match="expected 3 rows"):
        model.predict(ref["x0"][:2])


def test_a_sequence_of_padding_keeps_its_states():
    rustrnn.manual_seed(1)
    m = rustrnn.Sequential([L.Embedding(5, 3, mask_zero=True), L.SimpleRNN(4, stateful=True)], dtype="float64")
    a, nxt = np.array([[1, 2, 3], [4, 1, 2]]), np.array([[2, 1, 0], [2, 1, 0]])
    m.predict(a)
    direct = m.predict(nxt)
    m.reset_states()
    m.predict(a)
    pad = m.predict(np.array([[0, 0, 0], [3, 3, 0]]))
    assert not pad[0].any() and pad[1].any()  # Keras: a fully masked sequence outputs zeros...
    after = m.predict(nxt)
    np.testing.assert_array_equal(after[0], direct[0])  # ...and its states pass through to the next batch
    assert np.abs(after[1] - direct[1]).max() > 1e-3


def test_initial_state_gradients_pass_through_a_sequence_of_padding():
    # Row 1 of the decoder is all padding: its returned state is the encoder's, and so is the gradient path.
    rustrnn.manual_seed(2)
    enc_in, dec_in = keras.Input((None, 2)), keras.Input((None,), dtype="int32")
    _, h, c = L.LSTM(3, return_state=True)(enc_in)
    out, h2, _ = L.LSTM(3, return_state=True)(L.Embedding(6, 2, mask_zero=True)(dec_in), initial_state=[h, c])
    m = keras.Model([enc_in, dec_in], L.Dense(1)(L.Concatenate()([out, h2])), dtype="float64")
    m.compile(optimizer="sgd", loss="mse")
    rng = np.random.default_rng(0)
    x = [rng.normal(size=(3, 4, 2)), np.array([[1, 2, 3], [0, 0, 0], [4, 5, 0]])]
    fd_check(m, x, rng.normal(size=(3, 1)))
    states = keras.Model([enc_in, dec_in], [h, h2, out], dtype="float64")
    he, hd, o = states.predict(x)
    np.testing.assert_array_equal(hd[1], he[1])
    assert not o[1].any()


def test_stateful_round_trips_through_save_pickle_and_config(tmp_path):
    m = char_model(True)
    x = np.ones((2, 3), np.int64)
    first = m.predict(x)
    m.save(tmp_path / "m.rnn")
    again = rustrnn.load_model(tmp_path / "m.rnn")
    assert [getattr(l, "stateful", False) for l in again.layers] == [False, True, True, False]
    np.testing.assert_array_equal(again.predict(x), first)  # states are not saved (nor in Keras): zeros again
    assert pickle.loads(pickle.dumps(m)).layers[1].stateful
    assert L.GRU(3, stateful=True).get_config()["stateful"] is True
    assert "stateful" not in L.GRU(3).get_config()  # older readers still read files without it


def test_reset_states_names_layers_that_are_not_stateful():
    m = char_model(False)
    m.predict(np.ones((2, 3), np.int64))
    m.reset_states()  # no stateful layer: nothing to reset, as Keras
    with pytest.raises(rustrnn.ArgumentError, match="not stateful"):
        m._handle.reset_states(m.layers[1].name)
    with pytest.raises(rustrnn.ArgumentError, match="not a layer of this model"):
        m._handle.reset_states("nope")


def test_functional_models_carry_states_and_layers_reset_in_every_model_built_with_them():
    rustrnn.manual_seed(4)
    inp = keras.Input(batch_shape=(2, None, 3))
    rnn = L.GRU(4, stateful=True)
    model = keras.Model(inp, L.Dense(1)(rnn(inp)))
    x = np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32")
    first, second = model.predict(x), model.predict(x)
    assert np.abs(first - second).max() > 1e-4
    rnn.reset_states()
    np.testing.assert_array_equal(model.predict(x), first)
    rnn.reset_state()  # Keras 3's name
    np.testing.assert_array_equal(model.predict(x), first)
