"""Keras's ``activation`` and ``recurrent_activation`` on SimpleRNN/LSTM/GRU
other than tanh/sigmoid (``layers.CELL_ACTIVATIONS``, Keras 3's definitions,
hard_sigmoid included): Keras 3's own outputs as the oracle
(tests/fixtures/keras/recurrent, made by make_keras_recurrent_fixtures.py with
Keras 3.15.1), gradients against finite differences, every kernel path, step
by step generation, saving, and the names rustrnn does not compute refused."""

import glob
import os
import subprocess
import sys

import numpy as np
import pytest

import rustrnn
from rustrnn import _native
from rustrnn import layers as L

from test_models_gradcheck import fd_check

HERE = os.path.join(os.path.dirname(__file__), "fixtures", "keras", "recurrent")
CASES = sorted(os.path.basename(p)[:-4] for p in glob.glob(os.path.join(HERE, "activations_*.npz")))


def test_every_fixture_case_is_there():
    assert CASES == ["activations_lstm_gru", "activations_masked_bidirectional", "activations_reset_before"]


@pytest.mark.parametrize("name", CASES)
def test_keras_predictions_with_the_same_weights(name):
    pytest.importorskip("h5py")
    import rustrnn.interop

    model = rustrnn.interop.from_keras(os.path.join(HERE, f"{name}.keras"))
    acts = {(l.activation, getattr(l, "recurrent_activation", None)) for l in model.layers if isinstance(l, L._Recurrent)}
    assert all(a != ("tanh", "sigmoid") for a in acts)
    ref = np.load(os.path.join(HERE, f"{name}.npz"))
    got = model.predict(ref["x0"])
    np.testing.assert_allclose(got, ref["y0"], atol=2e-5, rtol=0)
    assert np.abs(ref["y0"]).max() > 0.05


PAIRS = [("relu", "hard_sigmoid"), ("elu", "softsign"), ("selu", "linear"), ("softsign", "tanh"), ("linear", "relu"),
         ("sigmoid", "sigmoid"), ("tanh", "hard_sigmoid")]


@pytest.mark.parametrize("act, rec", PAIRS)
@pytest.mark.parametrize("cls, kw", [(L.LSTM, {}), (L.GRU, {}), (L.GRU, {"reset_after": False})])
def test_gradients_match_finite_differences(cls, kw, act, rec):
    rustrnn.manual_seed(4)
    m = rustrnn.Sequential([L.Embedding(7, 3, mask_zero=True),
                            cls(4, activation=act, recurrent_activation=rec, return_sequences=True, bidirectional=True, **kw),
                            cls(3, activation=act, recurrent_activation=rec, **kw), L.Dense(2)], dtype="float64")
    m.compile(optimizer="sgd", loss="mse")
    x = np.array([[1, 2, 3, 4, 5], [6, 5, 4, 0, 0], [0, 0, 1, 3, 2]])
    fd_check(m, x, np.random.default_rng(0).normal(size=(3, 2)))


@pytest.mark.parametrize("act", ["sigmoid", "hard_sigmoid", "linear", "elu", "selu", "softsign"])
def test_simple_rnn_gradients_match_finite_differences(act):
    rustrnn.manual_seed(5)
    m = rustrnn.Sequential([L.SimpleRNN(4, activation=act, return_sequences=True), L.SimpleRNN(3, activation=act),
                            L.Dense(1)], dtype="float64")
    m.compile(optimizer="sgd", loss="mse")
    rng = np.random.default_rng(1)
    fd_check(m, rng.normal(size=(3, 5, 2)), rng.normal(size=(3, 1)))


def test_the_default_pair_is_the_fused_kernels_and_none_is_linear():
    rustrnn.manual_seed(6)
    a = rustrnn.Sequential([L.LSTM(5, activation="TANH", recurrent_activation="sigmoid")], dtype="float64")
    assert "activation" not in a.layers[0].get_config()
    assert L.SimpleRNN(2, activation=None).activation == "linear"
    lin = L.GRU(2, activation=None, recurrent_activation="hard_sigmoid").get_config()
    assert (lin["activation"], lin["recurrent_activation"]) == ("linear", "hard_sigmoid")


@pytest.mark.parametrize("make, message", [
    (lambda: L.LSTM(2, activation="gelu"), "activation='gelu'"),
    (lambda: L.GRU(2, recurrent_activation="swish"), "recurrent_activation='swish'"),
    (lambda: L.SimpleRNN(2, activation=np.tanh), "activation=<ufunc 'tanh'>"),
    (lambda: L.LSTM(2, recurrent_activation=3), "recurrent_activation=3"),
])
def test_activations_rustrnn_does_not_compute_are_named(make, message):
    with pytest.raises(rustrnn.UnsupportedError, match=message):
        make()


def test_activations_round_trip_through_save_and_generate_step_by_step(tmp_path):
    rustrnn.manual_seed(7)
    m = rustrnn.Sequential([L.Embedding(9, 4), L.GRU(6, activation="softsign", recurrent_activation="hard_sigmoid",
                                                     return_sequences=True),
                            L.LSTM(5, activation="relu", recurrent_activation="linear", return_sequences=True),
                            L.SimpleRNN(4, activation="elu", return_sequences=True), L.Dense(9)], dtype="float64")
    x = np.random.default_rng(2).integers(0, 9, size=(2, 6))
    want = m.predict(x)
    m.save(tmp_path / "m.rnn")
    again = rustrnn.load_model(tmp_path / "m.rnn")
    assert again.layers[1].get_config()["recurrent_activation"] == "hard_sigmoid"
    np.testing.assert_array_equal(again.predict(x), want)
    # Greedy generation runs the cells step by step (its own code path): each token is the argmax of the
    # whole-sequence model's last output.
    out = rustrnn.generate(m, x[:, :3], 3, temperature=0.0)
    seq = x[:, :3]
    for _ in range(3):
        seq = np.concatenate([seq, m.predict(seq)[:, -1].argmax(-1)[:, None]], axis=1)
    np.testing.assert_array_equal(out, seq[:, 3:])


SCRIPT = r"""
import sys, numpy as np, rustrnn
from rustrnn import layers as L
out = {}
for dt in ("float32", "float64"):
    rustrnn.manual_seed(8)
    m = rustrnn.Sequential([L.LSTM(40, activation="elu", recurrent_activation="hard_sigmoid", return_sequences=True),
                            L.GRU(40, activation="softsign", recurrent_activation="linear", return_sequences=True),
                            L.GRU(40, reset_after=False, activation="relu", recurrent_activation="selu"), L.Dense(1)], dtype=dt)
    m.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(0).normal(size=(9, 6, 5)).astype(dt)
    loss, grads = m.loss_and_gradients(x, np.ones((9, 1), dt))
    out[dt + "-y"] = m.predict(x)
    out.update({f"{dt}-{k}": v for k, v in grads.items()})
np.savez(sys.argv[1], **out)
"""


def test_every_kernel_path_gives_the_portable_results(tmp_path):
    runs = {}
    for isa in _native._supported_isas():
        path = tmp_path / f"{isa}.npz"
        proc = subprocess.run([sys.executable, "-c", SCRIPT, str(path)], env=dict(os.environ, RUSTRNN_ISA=isa),
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr
        runs[isa] = dict(np.load(path))
    base = runs.pop("portable")
    for isa, got in runs.items():
        for k, v in base.items():
            tol = (1e-10 if k.startswith("float64") else 1e-4) * (1 + np.abs(v).max())  # FMA vs separate rounding
            np.testing.assert_allclose(got[k], v, atol=tol, rtol=0, err_msg=f"{isa} {k}")
