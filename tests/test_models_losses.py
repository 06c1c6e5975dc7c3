"""Every loss and metric against NumPy, through an identity Dense layer
(so the model output is the activation of the input)."""

import numpy as np
import pytest

import rustrnn
from rustrnn import layers, losses

RNG = np.random.default_rng(0)
Z = RNG.standard_normal((8, 3)) * 3
EPS = 1e-7


def identity_model(activation, loss, metrics=()):
    m = rustrnn.Sequential([layers.Dense(3, activation=activation, use_bias=False)], dtype="float64")
    m.compile(optimizer="sgd", loss=loss, metrics=list(metrics))
    m.build((3,))
    m.set_weights([np.eye(3)])
    return m


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


Y_BIN = (RNG.random((8, 3)) > 0.5).astype(float)
LABELS = RNG.integers(0, 3, size=8)
ONE_HOT = np.eye(3)[LABELS]


def bce(p, y):
    p = np.clip(p, EPS, 1 - EPS)
    return float(np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p))))


def cce(p, y):
    return float(np.mean(-(y * np.log(np.clip(p, EPS, 1 - EPS))).sum(-1)))


@pytest.mark.parametrize("activation, loss, y, expect", [
    ("sigmoid", "binary_crossentropy", Y_BIN, bce(sigmoid(Z), Y_BIN)),
    ("linear", losses.BinaryCrossentropy(from_logits=True), Y_BIN, bce(sigmoid(Z), Y_BIN)),
    ("softmax", "categorical_crossentropy", ONE_HOT, cce(softmax(Z), ONE_HOT)),
    ("linear", losses.CategoricalCrossentropy(from_logits=True), ONE_HOT, cce(softmax(Z), ONE_HOT)),
    ("softmax", "sparse_categorical_crossentropy", LABELS, cce(softmax(Z), ONE_HOT)),
    ("linear", losses.SparseCategoricalCrossentropy(from_logits=True), LABELS, cce(softmax(Z), ONE_HOT)),
    ("linear", "mse", Y_BIN, float(np.mean((Z - Y_BIN) ** 2))),
    ("linear", "mae", Y_BIN, float(np.mean(np.abs(Z - Y_BIN)))),
    ("tanh", "mse", Y_BIN, float(np.mean((np.tanh(Z) - Y_BIN) ** 2))),
])
def test_loss_matches_numpy(activation, loss, y, expect):
    m = identity_model(activation, loss)
    assert m.evaluate(Z, y, return_dict=True)["loss"] == pytest.approx(expect, rel=1e-10)


S = 0.2  # label smoothing
SMOOTH_HOT = ONE_HOT * (1 - S) + S / 3
SMOOTH_BIN = Y_BIN * (1 - S) + S / 2


@pytest.mark.parametrize("activation, loss, y, target", [
    ("softmax", losses.SparseCategoricalCrossentropy(label_smoothing=S), LABELS, SMOOTH_HOT),
    ("linear", losses.SparseCategoricalCrossentropy(from_logits=True, label_smoothing=S), LABELS, SMOOTH_HOT),
    ("softmax", losses.CategoricalCrossentropy(label_smoothing=S), ONE_HOT, SMOOTH_HOT),
    ("linear", losses.CategoricalCrossentropy(from_logits=True, label_smoothing=S), ONE_HOT, SMOOTH_HOT),
    ("sigmoid", losses.BinaryCrossentropy(label_smoothing=S), Y_BIN, SMOOTH_BIN),
    ("linear", losses.BinaryCrossentropy(from_logits=True, label_smoothing=S), Y_BIN, SMOOTH_BIN),
])
def test_label_smoothing_trains_on_the_smoothed_targets(activation, loss, y, target):
    # Keras' formula (and PyTorch's CrossEntropyLoss(label_smoothing) for class indices): the loss and its
    # gradient are those of the plain loss on the smoothed targets, against NumPy.
    m = identity_model(activation, loss)
    if "binary" in loss.name:
        p = sigmoid(Z)
        expect = bce(p, target)
        dz = (p - target) / (Z.size)  # d mean(bce) / dz: (p - y) / (rows * outputs)
    else:
        p = softmax(Z)
        expect = cce(p, target)
        dz = (p - target) / len(Z)
    assert m.evaluate(Z, y, return_dict=True)["loss"] == pytest.approx(expect, rel=1e-10)
    loss_value, grads = m.loss_and_gradients(Z, y)
    assert loss_value == pytest.approx(expect, rel=1e-10)
    (kernel,) = grads.values()  # the identity Dense: out = Z @ W, so dL/dW = Zᵀ·dL/dz
    np.testing.assert_allclose(kernel, Z.T @ dz, rtol=1e-9, atol=1e-12)


def test_label_smoothing_round_trips_and_is_checked(tmp_path):
    m = identity_model("softmax", losses.SparseCategoricalCrossentropy(label_smoothing=0.1))
    m.save(tmp_path / "m.rnn")
    loaded = rustrnn.load_model(tmp_path / "m.rnn")
    assert loaded.loss.label_smoothing == 0.1 and "label_smoothing=0.1" in repr(loaded.loss)
    assert loaded.evaluate(Z, LABELS) == m.evaluate(Z, LABELS)
    for bad in (-0.1, 1.5, "0.1", True):
        with pytest.raises(rustrnn.ArgumentError, match="label_smoothing"):
            losses.CategoricalCrossentropy(label_smoothing=bad)
    with pytest.raises(rustrnn.ArgumentError, match="label_smoothing.*mse"):
        losses.get({"name": "mse", "label_smoothing": 0.1})


def test_probability_losses_clip_like_keras_and_fused_ones_do_not_overflow():
    p = np.array([[0.0, 1.0, 0.5]])
    m = identity_model("relu", "binary_crossentropy")
    assert m.evaluate(p, np.array([[1.0, 0.0, 1.0]]), return_dict=True)["loss"] == pytest.approx(bce(p, np.array([[1.0, 0.0, 1.0]])), rel=1e-10)
    big = np.array([[800.0, -800.0, 0.0]])
    m = identity_model("sigmoid", "binary_crossentropy")
    assert m.evaluate(big, np.array([[0.0, 1.0, 1.0]]), return_dict=True)["loss"] == pytest.approx((800 + 800 + np.log(2)) / 3, rel=1e-10)
    m = identity_model("softmax", "sparse_categorical_crossentropy")
    assert m.evaluate(big, np.array([1]), return_dict=True)["loss"] == pytest.approx(1600.0, rel=1e-10)


def test_metrics_match_numpy():
    m = identity_model("sigmoid", "binary_crossentropy", ["accuracy", "mae", "mse"])
    p = sigmoid(Z)
    res = m.evaluate(Z, Y_BIN, return_dict=True)
    assert res["accuracy"] == pytest.approx(np.mean((p > 0.5) == (Y_BIN > 0.5)))
    assert res["mae"] == pytest.approx(np.mean(np.abs(p - Y_BIN)))
    assert res["mse"] == pytest.approx(np.mean((p - Y_BIN) ** 2))
    m = identity_model("linear", losses.BinaryCrossentropy(from_logits=True), ["accuracy"])
    assert m.evaluate(Z, Y_BIN, return_dict=True)["accuracy"] == pytest.approx(np.mean((Z > 0) == (Y_BIN > 0.5)))  # logits: threshold 0
    m = identity_model("softmax", "categorical_crossentropy", ["accuracy"])
    assert m.evaluate(Z, ONE_HOT, return_dict=True)["accuracy"] == pytest.approx(np.mean(Z.argmax(-1) == LABELS))
    m = identity_model("softmax", "sparse_categorical_crossentropy", ["accuracy", "sparse_categorical_accuracy"])
    res = m.evaluate(Z, LABELS, return_dict=True)
    assert res["accuracy"] == res["sparse_categorical_accuracy"] == pytest.approx(np.mean(Z.argmax(-1) == LABELS))
