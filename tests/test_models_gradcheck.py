"""Gradients of whole models (through the Python API) against central finite
differences in float64: masks, bidirectional merge modes, go_backwards,
per-step softmax with a masked loss, stacked layers, Seq2Seq."""

import numpy as np
import pytest

import rustrnn
from rustrnn import layers


def fd_check(model, x, y, n_per_tensor=6, eps=1e-6, tol=1e-6):
    loss, grads = model.loss_and_gradients(x, y)
    weights = model.get_weight_dict()
    rng = np.random.default_rng(0)
    assert max(np.abs(g).max() for g in grads.values()) > 1e-4
    for name, w in weights.items():
        flat = w.ravel()
        for k in rng.choice(flat.size, size=min(n_per_tensor, flat.size), replace=False):
            vals = []
            for d in (eps, -eps):
                w2 = flat.copy()
                w2[k] += d
                model._set_named_weights({name: w2.reshape(w.shape)})
                vals.append(model.evaluate(x, y, batch_size=len(y), return_dict=True)["loss"])
            model._set_named_weights({name: w})
            num = (vals[0] - vals[1]) / (2 * eps)
            got = grads[name].ravel()[k]
            assert abs(num - got) <= tol * max(1.0, abs(num)), f"{name}[{k}]: analytic {got}, numeric {num}"
    return loss


def test_embedding_bilstm_dense_with_left_right_and_empty_padding():
    rustrnn.manual_seed(0)
    m = rustrnn.Sequential([layers.Embedding(8, 3, mask_zero=True), layers.LSTM(4, bidirectional=True),
                            layers.Dense(1, activation="sigmoid")], dtype="float64")
    m.compile(optimizer="sgd", loss="binary_crossentropy")
    x = np.array([[1, 2, 3, 0, 0], [0, 0, 4, 5, 6], [7, 6, 5, 4, 3], [0, 0, 0, 0, 0]])
    fd_check(m, x, np.array([1.0, 0.0, 1.0, 0.0]))


def test_gru_return_sequences_with_per_step_softmax_and_masked_loss():
    rustrnn.manual_seed(1)
    m = rustrnn.Sequential([layers.Embedding(7, 3, mask_zero=True), layers.GRU(4, return_sequences=True),
                            layers.Dense(5, activation="softmax")], dtype="float64")
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x = np.array([[1, 2, 3, 4], [5, 6, 0, 0], [0, 1, 1, 2]])
    y = np.array([[0, 1, 2, 3], [4, 0, 0, 0], [0, 2, 3, 4]])
    fd_check(m, x, y)


@pytest.mark.parametrize("cell, merge", [(layers.SimpleRNN, "sum"), (layers.LSTM, "mul"), (layers.GRU, "ave")])
def test_merge_modes_go_backwards_and_stacked_layers(cell, merge):
    rustrnn.manual_seed(2)
    m = rustrnn.Sequential([layers.Embedding(6, 3, mask_zero=True),
                            cell(3, bidirectional=True, merge_mode=merge, go_backwards=True, return_sequences=True, num_layers=2, layer_dropout=0.3, dropout=0.2),
                            layers.Dense(2, activation="tanh")], dtype="float64")
    m.compile(optimizer="sgd", loss="mse")
    x = np.array([[1, 2, 3, 4], [0, 5, 1, 2], [3, 4, 0, 0]])
    y = np.random.default_rng(1).uniform(-0.5, 0.5, size=(3, 4, 2))
    fd_check(m, x, y)


def test_huber_loss_on_a_masked_sequence_on_both_sides_of_delta():
    rustrnn.manual_seed(4)
    m = rustrnn.Sequential([layers.Embedding(6, 3, mask_zero=True), layers.LSTM(4, return_sequences=True),
                            layers.Dense(2)], dtype="float64")
    m.compile(optimizer="sgd", loss="huber")
    x = np.array([[1, 2, 3, 4], [0, 5, 1, 2], [3, 4, 0, 0]])
    y = np.random.default_rng(2).choice([-3.0, 0.1, 2.5], size=(3, 4, 2))  # errors beyond and within delta = 1
    fd_check(m, x, y)


@pytest.mark.parametrize("merge", ["concat", "sum"])
def test_gru_with_the_reset_gate_before_the_recurrent_product(merge):
    # Keras' GRU(reset_after=False): left and right padding, both directions, stacked.
    rustrnn.manual_seed(4)
    m = rustrnn.Sequential([layers.Embedding(7, 3, mask_zero=True),
                            layers.GRU(4, reset_after=False, bidirectional=True, merge_mode=merge, num_layers=2),
                            layers.Dense(2, activation="softmax")], dtype="float64")
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x = np.array([[1, 2, 3, 0, 0], [0, 0, 4, 5, 6], [6, 5, 4, 3, 2]])
    fd_check(m, x, np.array([1, 0, 1]))


def test_seq2seq_gradients():
    rustrnn.manual_seed(3)
    m = rustrnn.Seq2Seq(src_vocab=6, tgt_vocab=5, embedding_dim=3, units=3, cell="gru", bidirectional_encoder=True, dtype="float64")
    m.compile(optimizer="sgd")
    src = np.array([[3, 4, 5, 0], [5, 3, 0, 0]])
    tgt = np.array([[3, 4, 2, 0], [4, 2, 0, 0]])
    fd_check(m, src, tgt)


@pytest.mark.parametrize("attention,cell", [("luong", "lstm"), ("bahdanau", "gru")])
def test_seq2seq_with_attention_gradients(attention, cell):
    rustrnn.manual_seed(4)
    m = rustrnn.Seq2Seq(src_vocab=7, tgt_vocab=6, embedding_dim=3, units=4, cell=cell, bidirectional_encoder=True,
                        attention=attention, dtype="float64")
    m.compile(optimizer="sgd")
    assert [n.split("/")[0] for n in m.weight_names].count("attention") == (3 if attention == "luong" else 5)
    src = np.array([[3, 4, 5, 0, 0], [0, 6, 3, 1, 2], [0, 0, 0, 0, 0]])  # right, left and all padding
    tgt = np.array([[3, 4, 2, 0], [4, 5, 3, 2], [5, 2, 0, 0]])
    fd_check(m, src, tgt, n_per_tensor=8)
