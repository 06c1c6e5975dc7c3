"""Keras's one bias: the Keras-style LSTM, SimpleRNN and GRU(reset_after=False)
have one bias per gate as in Keras (PyTorch's ``bias_ih``; ``bias_hh`` is a
constant zero, neither trained nor counted), a GRU with ``reset_after`` has
Keras's input and recurrent biases; ``rustrnn.nn`` keeps PyTorch's two. Keras
3's training is the oracle (tests/fixtures/keras/recurrent/train_*, made by
make_keras_recurrent_fixtures.py with Keras 3.15.1): the same weights after
SGD and Adam steps, the same count_params."""

import glob
import os

import numpy as np
import pytest

import rustrnn
from rustrnn import keras
from rustrnn import layers as L

HERE = os.path.join(os.path.dirname(__file__), "fixtures", "keras", "recurrent")
TRAIN = sorted(os.path.basename(p)[:-4] for p in glob.glob(os.path.join(HERE, "train_*.npz")))


def test_every_fixture_case_is_there():
    assert TRAIN == ["train_bidirectional_lstm", "train_gru", "train_gru_reset_before", "train_lstm", "train_simple_rnn"]


def keras_weights_by_name(model, arrays):
    """Keras's ``get_weights()`` list of ``model``'s layers as rustrnn's named weights."""
    from rustrnn.interop.keras_in import keras_recurrent_to_torch

    want, i = {}, 0
    for layer in model.layers:
        if layer._class == "Dense":
            want.update({f"{layer.name}/kernel": arrays[i], f"{layer.name}/bias": arrays[i + 1]})
            i += 2
            continue
        reset_after = getattr(layer, "reset_after", True)
        for sfx in ["", "_reverse"] if layer.bidirectional else [""]:
            w = keras_recurrent_to_torch(layer._class, layer.units, arrays[i:i + 3], reset_after, f"_l0{sfx}")
            if not (layer._class == "GRU" and reset_after):
                del w[f"bias_hh_l0{sfx}"]  # Keras's one bias
            want.update({f"{layer.name}/{k}": v for k, v in w.items()})
            i += 3
    assert i == len(arrays)
    return want


@pytest.mark.parametrize("opt", ["sgd", "adam"])
@pytest.mark.parametrize("name", TRAIN)
def test_training_moves_the_biases_as_keras(name, opt):
    pytest.importorskip("h5py")
    import rustrnn.interop

    ref = np.load(os.path.join(HERE, f"{name}.npz"))
    model = rustrnn.interop.from_keras(os.path.join(HERE, f"{name}.keras"))
    assert model.count_params() == int(ref["count_params"])
    start = model.get_weight_dict()
    optimizer = keras.optimizers.SGD(learning_rate=0.3) if opt == "sgd" else keras.optimizers.Adam(learning_rate=0.05)
    model.compile(optimizer=optimizer, loss="mse")
    model.fit(ref["x"], ref["y"], batch_size=len(ref["x"]) // 3, epochs=1, shuffle=False, verbose=0)
    want = keras_weights_by_name(model, [ref[k] for k in sorted((k for k in ref.files if k.startswith(opt + "_")),
                                                                 key=lambda k: int(k.split("_")[1]))])
    got = model.get_weight_dict()
    assert sorted(got) == sorted(want)
    for k, v in want.items():
        np.testing.assert_allclose(got[k], v, atol=5e-5, rtol=0, err_msg=k)
        if "bias" in k:
            assert np.abs(start[k] - v).max() > 1e-3  # training moved the bias: the check can fail


def built(layer, features=3):
    model = rustrnn.Sequential([keras.Input((None, features)), layer, L.Dense(1)], dtype="float64")
    model.build()
    return model


@pytest.mark.parametrize("make, params", [
    (lambda: L.LSTM(4), 4 * 4 * (3 + 4 + 1)),
    (lambda: L.SimpleRNN(4), 4 * (3 + 4 + 1)),
    (lambda: L.GRU(4, reset_after=False), 3 * 4 * (3 + 4 + 1)),
    (lambda: L.GRU(4), 3 * 4 * (3 + 4 + 2)),
    (lambda: L.LSTM(4, use_bias=False), 4 * 4 * (3 + 4)),
])
def test_parameters_and_counts_are_keras(make, params):
    model = built(make())
    rnn = model.layers[0]
    assert model.count_params() == params + 5  # Dense(1): 4 + 1
    names = [k.split("/", 1)[1] for k in model.weight_names if k.startswith(rnn.name + "/")]
    assert ("bias_hh_l0" in names) == (rnn._class == "GRU" and rnn.reset_after and rnn.use_bias)
    assert ("bias_ih_l0" in names) == rnn.use_bias
    assert len(rnn.get_weights()) == len(names)


def test_pytorch_layers_keep_both_biases():
    lstm = rustrnn.nn.LSTM(3, 4)
    assert [n for n, _ in lstm.named_parameters()] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]


def test_an_older_files_recurrent_bias_is_added_to_the_one_bias():
    """A file rustrnn wrote when bias_hh was a parameter (make_two_bias_file.py, trained with Adam: nonzero
    bias_hh and Adam slots for it) loads: bias_hh is added to bias_ih, the outputs stay the same, its optimizer
    slots are dropped and training goes on."""
    ref = np.load(os.path.join(HERE, "two_bias_0.2.npz"))
    old = {k.replace(":", "/"): ref[k] for k in ref.files if ":" in k}
    model = rustrnn.load_model(os.path.join(HERE, "two_bias_0.2.rnn"))
    got = model.get_weight_dict()
    want = {k: v for k, v in old.items() if "bias_hh" not in k}
    for k in want:
        if "bias_ih" in k:
            want[k] = old[k] + old[k.replace("bias_ih", "bias_hh")]
    assert sorted(got) == sorted(want)
    for k, v in want.items():
        np.testing.assert_allclose(got[k], v, atol=1e-6, rtol=0, err_msg=k)
    np.testing.assert_allclose(model.predict(ref["x"]), ref["predict"], atol=1e-5, rtol=0)
    _, slots = model._optimizer_state()
    assert slots and not any("bias_hh" in name for name, _ in slots)
    model.fit(ref["x"], ref["y"], batch_size=3, epochs=1, shuffle=False, verbose=0)
    assert np.abs(model.get_weight_dict()["lstm/bias_ih_l0"] - want["lstm/bias_ih_l0"]).max() > 1e-4
    # Through set_weights by name too; a name no layer folds is still refused.
    twin = rustrnn.load_model(os.path.join(HERE, "two_bias_0.2.rnn"))
    twin._set_named_weights({"gru/bias_hh_l0": np.ones(9)})
    np.testing.assert_allclose(twin.get_weight_dict()["gru/bias_ih_l0"], want["gru/bias_ih_l0"] + 1, atol=1e-6)
    with pytest.raises(rustrnn.RustRnnError, match="dense/bias_hh_l0"):
        twin._set_named_weights({"dense/bias_hh_l0": np.ones(1)})
