"""ONNX export run for real in ONNX Runtime: every recurrent cell (both GRU
variants), every merge mode, stacked layers, go_backwards, left/right/both-side
and all-padding masks, Masking on float sequences, Dense activations, and the
rustrnn.nn modules with lengths. Outputs must agree with rustrnn to 1e-5 at
every position (padded ones included)."""

import numpy as np
import pytest

import rustrnn
import rustrnn.interop
from rustrnn import layers

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

CELLS = {
    "simple_rnn_tanh": (layers.SimpleRNN, {}),
    "simple_rnn_relu": (layers.SimpleRNN, {"activation": "relu"}),
    "lstm": (layers.LSTM, {}),
    "gru": (layers.GRU, {}),
    "gru_reset_before": (layers.GRU, {"reset_after": False}),
}
# Right, left, both-side and all padding, and one full row.
TOKENS = np.array([[1, 2, 3, 0, 0, 0], [0, 0, 4, 5, 6, 7], [6, 5, 4, 3, 2, 1], [0, 0, 0, 0, 0, 0], [0, 7, 8, 0, 0, 0]])


def run_onnx(path, **inputs):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, inputs)


def check_model(model, x, tmp_path):
    want = model.predict(x)
    model.export_onnx(tmp_path / "m.onnx")
    (got,) = run_onnx(tmp_path / "m.onnx", x=x)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)
    return want


@pytest.mark.parametrize("merge", ["concat", "sum", "mul", "ave"])
@pytest.mark.parametrize("cell", sorted(CELLS))
@pytest.mark.parametrize("return_sequences", [False, True])
def test_bidirectional_stacks_with_masks(cell, merge, return_sequences, tmp_path):
    cls, kw = CELLS[cell]
    rustrnn.manual_seed(0)
    m = rustrnn.Sequential([
        layers.Embedding(9, 4, mask_zero=True),
        cls(5, bidirectional=True, merge_mode=merge, return_sequences=True, num_layers=2, **kw),
        layers.Dropout(0.2),
        cls(3, bidirectional=True, merge_mode=merge, return_sequences=return_sequences, **kw),
        layers.Dense(3, activation="softmax"),
    ])
    want = check_model(m, TOKENS, tmp_path)
    assert np.abs(want).max() > 0.1


@pytest.mark.parametrize("cell", sorted(CELLS))
@pytest.mark.parametrize("go_backwards", [False, True])
def test_unidirectional_without_mask_and_go_backwards(cell, go_backwards, tmp_path):
    cls, kw = CELLS[cell]
    rustrnn.manual_seed(1)
    m = rustrnn.Sequential([layers.Embedding(9, 4), cls(6, return_sequences=True, go_backwards=go_backwards, **kw),
                            cls(4, go_backwards=go_backwards, **kw), layers.Dense(2, activation="tanh")])
    check_model(m, np.array([[1, 2, 3, 4], [5, 6, 7, 8]]), tmp_path)


@pytest.mark.parametrize("go_backwards", [False, True])
def test_go_backwards_with_masked_sequences_out(go_backwards, tmp_path):
    rustrnn.manual_seed(2)
    m = rustrnn.Sequential([layers.Embedding(9, 4, mask_zero=True),
                            layers.LSTM(4, return_sequences=True, go_backwards=go_backwards, bidirectional=True),
                            layers.Dense(2, activation="sigmoid")])
    check_model(m, TOKENS, tmp_path)


@pytest.mark.parametrize("activation", ["linear", "relu", "tanh", "sigmoid", "softmax"])
def test_masking_on_float_sequences_and_dense_activations(activation, tmp_path):
    rustrnn.manual_seed(3)
    x = np.random.default_rng(0).normal(size=(4, 5, 3)).astype(np.float32)
    x[0, 3:] = -1.0  # right padding
    x[1, :2] = -1.0  # left padding
    x[3, :] = -1.0  # nothing valid
    m = rustrnn.Sequential([layers.Masking(mask_value=-1.0), layers.GRU(4, return_sequences=True, reset_after=False),
                            layers.Dense(3, activation=activation), layers.LSTM(3), layers.Dense(2, activation=activation)])
    check_model(m, x, tmp_path)


def test_dense_only_model_and_a_float64_model(tmp_path):
    rustrnn.manual_seed(4)
    m = rustrnn.Sequential([layers.Dense(4, activation="relu"), layers.Dense(2, use_bias=False)])
    check_model(m, np.random.default_rng(1).normal(size=(3, 5)).astype(np.float32), tmp_path)
    m = rustrnn.Sequential([layers.Embedding(9, 4, mask_zero=True), layers.GRU(3, bidirectional=True)], dtype="float64")
    want = m.predict(TOKENS)
    m.export_onnx(tmp_path / "m64.onnx")  # the graph is float32
    (got,) = run_onnx(tmp_path / "m64.onnx", x=TOKENS)
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)


def test_unsupported_configurations_are_named(tmp_path):
    m = rustrnn.Sequential([layers.Embedding(9, 4), layers.LSTM(3, return_state=True)])
    m.build()
    with pytest.raises(rustrnn.UnsupportedError, match="return_state"):
        m.export_onnx(tmp_path / "m.onnx")


@pytest.mark.parametrize("module, kw", [
    (rustrnn.nn.RNN, {"nonlinearity": "tanh"}),
    (rustrnn.nn.RNN, {"nonlinearity": "relu", "bias": False}),
    (rustrnn.nn.LSTM, {}),
    (rustrnn.nn.GRU, {}),
    (rustrnn.nn.LSTM, {"batch_first": False}),
])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_nn_modules_with_lengths(module, kw, bidirectional, tmp_path):
    net = module(3, 5, num_layers=2, bidirectional=bidirectional, seed=5, **kw)
    rng = np.random.default_rng(2)
    batch_first = kw.get("batch_first", False)  # torch.nn's default
    x = rng.normal(size=(4, 6, 3) if batch_first else (6, 4, 3)).astype(np.float32)
    lengths = np.array([6, 2, 4, 1])
    out, state = net(x, lengths=lengths)
    states = state if isinstance(state, tuple) else (state,)
    net.export_onnx(tmp_path / "n.onnx")
    got = run_onnx(tmp_path / "n.onnx", x=x, lengths=lengths.astype(np.int64))
    assert len(got) == 1 + len(states)
    for g, w in zip(got, (out, *states)):
        np.testing.assert_allclose(g, w, atol=1e-5, rtol=0)
    rustrnn.interop.export_onnx(net, tmp_path / "n2.onnx")
    assert (tmp_path / "n2.onnx").read_bytes() == (tmp_path / "n.onnx").read_bytes()


def test_keras_fixtures_through_onnx_agree_with_keras(tmp_path):
    # Keras -> rustrnn -> ONNX Runtime, against Keras' own predictions (valid steps, both paddings).
    pytest.importorskip("h5py")
    import glob
    import os
    import sys

    here = os.path.join(os.path.dirname(__file__), "fixtures", "keras")
    sys.path.insert(0, here)
    from make_keras_fixtures import valid_steps

    paths = sorted(glob.glob(os.path.join(here, "*.keras")))
    assert len(paths) == 11
    for path in paths:
        model = rustrnn.interop.from_keras(path)
        model.export_onnx(tmp_path / "k.onnx")
        ref = np.load(path[:-6] + ".npz")
        for side in ("post", "pre"):
            x, want = ref[f"x_{side}"], ref[f"y_{side}"]
            (got,) = run_onnx(tmp_path / "k.onnx", x=x.astype(np.int64) if x.dtype.kind == "i" else x)
            keep = valid_steps(x) if got.ndim == 3 else np.ones(len(x), bool)
            np.testing.assert_allclose(got[keep], want[keep], atol=1e-5, rtol=0, err_msg=f"{path} {side}")


def test_a_seq2seq_model_is_refused_by_name(tmp_path):
    m = rustrnn.Seq2Seq(src_vocab=6, tgt_vocab=5, units=3)
    with pytest.raises(rustrnn.UnsupportedError, match="expected a rustrnn.Sequential, got Seq2Seq"):
        m.export_onnx(tmp_path / "s.onnx")
    with pytest.raises(rustrnn.UnsupportedError, match="expected a rustrnn.Sequential or functional Model, got Seq2Seq"):
        m.export_keras(tmp_path / "s.keras")


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_recurrent_layers_without_biases(cell, tmp_path):
    cls, kw = CELLS[cell]
    rustrnn.manual_seed(5)
    m = rustrnn.Sequential([layers.Embedding(9, 4, mask_zero=True),
                            cls(3, use_bias=False, bidirectional=True, num_layers=2, return_sequences=True, **kw),
                            layers.Dense(2)])
    check_model(m, TOKENS, tmp_path)
