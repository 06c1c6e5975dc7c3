"""rustrnn.nn behaves as torch.nn where the names are the same: batch_first=False by
default, load_state_dict's strict/prefix and its returned keys, named_parameters, dropout."""

import numpy as np
import pytest

import rustrnn


def test_batch_first_defaults_to_false_as_in_torch():
    m = rustrnn.nn.GRU(3, 4)
    assert m.batch_first is False
    out, hn = m(np.zeros((7, 2, 3), np.float32))  # (seq, batch, features)
    assert out.shape == (7, 2, 4) and hn.shape == (1, 2, 4)
    assert "batch_first" not in repr(m) and "batch_first=True" in repr(rustrnn.nn.GRU(3, 4, batch_first=True))


def test_load_state_dict_strict_and_prefix_return_torch_style_keys():
    src = rustrnn.nn.LSTM(3, 4, seed=0)
    dst = rustrnn.nn.LSTM(3, 4, seed=1)
    whole = {f"rnn.{k}": v for k, v in src.state_dict().items()}
    whole["head.weight"] = np.zeros((1, 4))
    with pytest.raises(rustrnn.ArgumentError, match="unexpected key"):
        dst.load_state_dict(whole)
    r = dst.load_state_dict(whole, strict=False)
    assert set(r.unexpected_keys) == set(whole) and set(r.missing_keys) == {f for f, _ in dst.named_parameters()}
    r = dst.load_state_dict(whole, strict=False, prefix="rnn.")
    assert r.missing_keys == [] and r.unexpected_keys == ["head.weight"]
    missing_keys, unexpected_keys = r  # a named tuple, as torch's
    for (n, a), (_, b) in zip(src.named_parameters(), dst.named_parameters()):
        assert np.array_equal(a, b), n
    partial = {"weight_ih_l0": np.ones((16, 3))}
    r = dst.load_state_dict(partial, strict=False)
    assert r.unexpected_keys == [] and "weight_hh_l0" in r.missing_keys
    assert np.array_equal(dst.state_dict()["weight_ih_l0"], np.ones((16, 3)))
    with pytest.raises(rustrnn.ShapeError, match="weight_ih_l0"):
        dst.load_state_dict({"weight_ih_l0": np.ones((3, 16))}, strict=False)


def test_dropout_between_layers():
    x = np.random.default_rng(0).standard_normal((6, 3, 2))
    plain = rustrnn.nn.LSTM(2, 5, num_layers=2, dtype=np.float64, seed=0)
    drop = rustrnn.nn.LSTM(2, 5, num_layers=2, dropout=0.5, dtype=np.float64, seed=0)
    assert drop.dropout == 0.5 and "dropout=0.5" in repr(drop)
    # eval: no dropout
    assert np.array_equal(drop.eval()(x)[0], plain.eval()(x)[0])
    drop.train()
    rustrnn.manual_seed(3)
    a = drop(x)[0]
    rustrnn.manual_seed(3)
    b = drop(x)[0]
    assert np.array_equal(a, b) and not np.allclose(a, plain(x)[0])
    # p = 1: the second layer sees zeros
    all_dropped = rustrnn.nn.LSTM(2, 5, num_layers=2, dropout=1.0, dtype=np.float64, seed=0)
    second = rustrnn.nn.LSTM(5, 5, dtype=np.float64)
    second.load_state_dict({k.replace("_l1", "_l0"): v for k, v in all_dropped.state_dict().items() if "_l1" in k})
    np.testing.assert_allclose(all_dropped(x)[0], second(np.zeros((6, 3, 5)))[0], rtol=1e-12)
    with pytest.raises(rustrnn.ArgumentError, match="dropout"):
        rustrnn.nn.GRU(2, 3, dropout=1.5)
    with pytest.warns(UserWarning, match="num_layers greater than 1"):  # as torch.nn warns
        rustrnn.nn.GRU(2, 3, dropout=0.2)


def test_dropout_gradients_match_finite_differences_with_the_same_mask():
    rng = np.random.default_rng(1)
    m = rustrnn.nn.GRU(2, 3, num_layers=3, dropout=0.4, dtype=np.float64, seed=2)
    x = rng.standard_normal((4, 2, 2))
    dout = rng.standard_normal((4, 2, 3))

    def loss(xv):
        rustrnn.manual_seed(9)  # the same masks every forward
        return float((m(xv)[0] * dout).sum())

    rustrnn.manual_seed(9)
    m(x)
    dx, _ = m.backward(dout)
    eps = 1e-6
    for idx in list(np.ndindex(x.shape))[::3]:
        xp, xm = x.copy(), x.copy()
        xp[idx] += eps
        xm[idx] -= eps
        assert abs((loss(xp) - loss(xm)) / (2 * eps) - dx[idx]) < 1e-7, idx
