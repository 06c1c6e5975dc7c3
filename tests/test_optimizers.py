"""Each optimizer against a NumPy implementation of Keras' update rule, with
clipping, weight decay and learning-rate schedules."""

import numpy as np
import pytest

import rustrnn
from rustrnn import layers, optimizers

X = np.random.default_rng(0).standard_normal((6, 3))
Y = np.random.default_rng(1).standard_normal((6, 2))


def reference(name, cfg, w, g, s, t):
    lr = cfg.get("lr")
    if cfg.get("weight_decay"):
        w = w - w * cfg["weight_decay"] * lr
    if name == "sgd":
        mu, nest = cfg.get("momentum", 0.0), cfg.get("nesterov", False)
        if mu:
            s["m"] = mu * s.get("m", 0) - lr * g
            return w + (mu * s["m"] - lr * g if nest else s["m"])
        return w - lr * g
    if name in ("adam", "adamw"):
        b1, b2, eps = 0.9, 0.999, 1e-7
        s["m"] = s.get("m", 0) + (g - s.get("m", 0)) * (1 - b1)
        s["v"] = s.get("v", 0) + (g * g - s.get("v", 0)) * (1 - b2)
        v = s["v"]
        if cfg.get("amsgrad"):
            s["vh"] = np.maximum(s.get("vh", 0), s["v"])
            v = s["vh"]
        lr_t = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
        return w - lr_t * s["m"] / (np.sqrt(v) + eps)
    if name == "rmsprop":
        rho, mu, eps = 0.9, cfg.get("momentum", 0.0), 1e-7
        s["v"] = rho * s.get("v", 0) + (1 - rho) * g * g
        denom = s["v"]
        if cfg.get("centered"):
            s["a"] = rho * s.get("a", 0) + (1 - rho) * g
            denom = denom - s["a"] ** 2
        inc = lr * g / np.sqrt(denom + eps)
        if mu:
            s["m"] = mu * s.get("m", 0) + inc
            return w - s["m"]
        return w - inc
    if name == "adagrad":
        s["a"] = s.get("a", 0.1) + g * g
        return w - lr * g / np.sqrt(s["a"] + 1e-7)
    raise AssertionError(name)


CASES = [
    ("sgd", optimizers.SGD(0.1), {"lr": 0.1}),
    ("sgd", optimizers.SGD(0.05, momentum=0.9), {"lr": 0.05, "momentum": 0.9}),
    ("sgd", optimizers.SGD(0.05, momentum=0.8, nesterov=True), {"lr": 0.05, "momentum": 0.8, "nesterov": True}),
    ("adam", optimizers.Adam(0.01), {"lr": 0.01}),
    ("adam", optimizers.Adam(0.01, amsgrad=True), {"lr": 0.01, "amsgrad": True}),
    ("adamw", optimizers.AdamW(0.01, weight_decay=0.1), {"lr": 0.01, "weight_decay": 0.1}),
    ("rmsprop", optimizers.RMSprop(0.01), {"lr": 0.01}),
    ("rmsprop", optimizers.RMSprop(0.01, momentum=0.5, centered=True), {"lr": 0.01, "momentum": 0.5, "centered": True}),
    ("adagrad", optimizers.Adagrad(0.1), {"lr": 0.1}),
]


@pytest.mark.parametrize("name, opt, cfg", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_update_matches_numpy_reference(name, opt, cfg):
    rustrnn.manual_seed(0)
    m = rustrnn.Sequential([layers.Dense(2)], dtype="float64")
    m.compile(optimizer=opt, loss="mse")
    m.build((3,))
    state = {k: {} for k in m.weight_names}
    for t in range(1, 5):
        w0 = m.get_weight_dict()
        _, grads = m.loss_and_gradients(X, Y)
        expect = {k: reference(name, cfg, w0[k], grads[k], state[k], t) for k in w0}
        m.train_on_batch(X, Y)
        for k, v in m.get_weight_dict().items():
            np.testing.assert_allclose(v, expect[k], rtol=1e-12, atol=1e-14, err_msg=f"{name} step {t} {k}")
    assert m.optimizer.iterations == 4


@pytest.mark.parametrize("clip", ["clipnorm", "clipvalue", "global_clipnorm"])
def test_gradient_clipping(clip):
    rustrnn.manual_seed(0)
    m = rustrnn.Sequential([layers.Dense(2)], dtype="float64")
    m.compile(optimizer=optimizers.SGD(1.0, **{clip: 0.1}), loss="mse")
    m.build((3,))
    w0 = m.get_weight_dict()
    _, g = m.loss_and_gradients(X * 10, Y)
    if clip == "clipvalue":
        g = {k: np.clip(v, -0.1, 0.1) for k, v in g.items()}
    elif clip == "clipnorm":
        g = {k: v * min(1.0, 0.1 / np.linalg.norm(v)) for k, v in g.items()}
    else:
        total = np.sqrt(sum(np.sum(v * v) for v in g.values()))
        g = {k: v * min(1.0, 0.1 / total) for k, v in g.items()}
    m.train_on_batch(X * 10, Y)
    for k, v in m.get_weight_dict().items():
        np.testing.assert_allclose(v, w0[k] - g[k], rtol=1e-12)


def test_learning_rate_schedules_are_applied_per_step():
    sched = optimizers.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5)
    rustrnn.manual_seed(0)
    m = rustrnn.Sequential([layers.Dense(1)], dtype="float64")
    m.compile(optimizer=optimizers.SGD(sched), loss="mse")
    m.build((3,))
    for t in range(3):
        w0 = m.get_weight_dict()
        _, g = m.loss_and_gradients(X, Y[:, :1])
        m.train_on_batch(X, Y[:, :1])
        lr = 0.1 * 0.5**t
        for k, v in m.get_weight_dict().items():
            np.testing.assert_allclose(v, w0[k] - lr * g[k], rtol=1e-12)
    assert m.optimizer.learning_rate == pytest.approx(0.1 * 0.5**3)
    assert optimizers.PiecewiseConstantDecay([2, 5], [1.0, 0.5, 0.1])(3) == 0.5
    cos = optimizers.CosineDecay(1.0, 10, alpha=0.1)
    assert cos(0) == pytest.approx(1.0) and cos(10) == pytest.approx(0.1)
    assert optimizers.InverseTimeDecay(1.0, 1, 1.0)(3) == pytest.approx(0.25)
