"""rustrnn.nn.LSTM(proj_size=P) against PyTorch float64 fixtures (tests/fixtures/lstm_proj.npz,
written by scripts/make_proj_fixtures.py) and against finite differences; no torch needed."""

import json
from pathlib import Path

import numpy as np
import pytest

import rustrnn

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "lstm_proj.npz"


def _cases():
    with np.load(FIXTURE) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(str(arrays.pop("meta")))
    for case in meta["cases"]:
        p = case["name"] + "/"
        yield case, {k[len(p):]: v for k, v in arrays.items() if k.startswith(p)}


@pytest.mark.parametrize("case,arrays", list(_cases()), ids=lambda c: c["name"] if isinstance(c, dict) and "name" in c else "")
def test_forward_and_bptt_equal_torch(case, arrays):
    m = rustrnn.nn.LSTM(case["input_size"], case["hidden_size"], num_layers=case["num_layers"],
                        bidirectional=case["bidirectional"], proj_size=case["proj_size"],
                        bias=case.get("bias", True), dtype=np.float64)
    params = {k: v for k, v in arrays.items() if k.startswith(("weight_", "bias_"))}
    assert [n for n, _ in m.named_parameters()] == list(params)
    result = m.load_state_dict(params)
    assert result.missing_keys == [] and result.unexpected_keys == []
    out, (hn, cn) = m(arrays["x"], (arrays["h0"], arrays["c0"]), lengths=case["lengths"])
    tol = dict(rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(out, arrays["out"], **tol)
    np.testing.assert_allclose(hn, arrays["hn"], **tol)
    np.testing.assert_allclose(cn, arrays["cn"], **tol)
    dx, (dh0, dc0) = m.backward(arrays["dout"], (arrays["dhn"], arrays["dcn"]))
    np.testing.assert_allclose(dx, arrays["dx"], **tol)
    np.testing.assert_allclose(dh0, arrays["dh0"], **tol)
    np.testing.assert_allclose(dc0, arrays["dc0"], **tol)
    for name, g in m.grads.items():
        np.testing.assert_allclose(g, arrays["grad_" + name], err_msg=name, **tol)


def test_gradients_match_finite_differences():
    rng = np.random.default_rng(0)
    m = rustrnn.nn.LSTM(2, 4, num_layers=2, bidirectional=True, proj_size=2, dtype=np.float64, seed=1)
    x = rng.standard_normal((4, 3, 2))
    h0, c0 = rng.standard_normal((4, 3, 2)), rng.standard_normal((4, 3, 4))
    lengths = [4, 1, 3]
    dout = rng.standard_normal((4, 3, 4))

    def loss(sd=None):
        if sd is not None:
            m.load_state_dict(sd)
        out, (hn, cn) = m(x, (h0, c0), lengths=lengths)
        return float((out * dout).sum() + hn.sum() + (cn ** 2).sum())

    base = m.state_dict()
    m.zero_grad()
    out, (hn, cn) = m(x, (h0, c0), lengths=lengths)
    m.backward(dout, (np.ones_like(hn), 2 * cn))
    grads = m.grads
    eps = 1e-6
    for name in ("weight_hr_l0", "weight_hr_l1_reverse", "weight_hh_l1", "weight_ih_l0_reverse", "bias_hh_l0"):
        for idx in list(np.ndindex(base[name].shape))[:6]:
            sd = {k: v.copy() for k, v in base.items()}
            sd[name][idx] += eps
            up = loss(sd)
            sd[name][idx] -= 2 * eps
            down = loss(sd)
            assert abs((up - down) / (2 * eps) - grads[name][idx]) < 1e-6, (name, idx)
    m.load_state_dict(base)


def test_shapes_names_and_errors():
    m = rustrnn.nn.LSTM(3, 6, num_layers=2, proj_size=2)
    shapes = dict((n, p.shape) for n, p in m.named_parameters())
    assert shapes["weight_hh_l0"] == (24, 2) and shapes["weight_hr_l0"] == (2, 6) and shapes["weight_ih_l1"] == (24, 2)
    out, (hn, cn) = m(np.zeros((5, 4, 3), np.float32))
    assert out.shape == (5, 4, 2) and hn.shape == (2, 4, 2) and cn.shape == (2, 4, 6)
    with pytest.raises(rustrnn.ShapeError, match="proj_size"):
        m(np.zeros((5, 4, 3), np.float32), (np.zeros((2, 4, 6), np.float32), np.zeros((2, 4, 6), np.float32)))
    with pytest.raises(rustrnn.ArgumentError, match="less than hidden_size"):
        rustrnn.nn.LSTM(3, 4, proj_size=4)
    assert "proj_size=2" in repr(m)
