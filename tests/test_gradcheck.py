"""Finite-difference gradient checks (float64) and behavioural checks of the layers' API.

Loss: L = sum(out*dout) + sum(hn*dhn) (+ sum(cn*dcn)) with fixed random dout/dhn/dcn.
"""

import zlib

import numpy as np
import pytest

import rustrnn
from conftest import (
    CELLS,
    Case,
    assert_abs_close,
    assert_shape,
    assert_state_dicts_equal,
    backward,
    forward,
    loss_and_grads,
    loss_value,
    make_module,
    meta_param_shapes,
)

EPS = 1e-6
RTOL = 1e-6
MAX_ENTRIES = 12  # entries perturbed per tensor (all of them for small tensors)


# ----------------------------------------------------------------------------------
# finite differences
# ----------------------------------------------------------------------------------

GRADCHECK_CONFIGS = {}
for _cell in CELLS:
    GRADCHECK_CONFIGS.update({
        f"{_cell}_basic": dict(cell=_cell, T=4, B=2, I=3, H=3),
        f"{_cell}_2layer_bidir": dict(cell=_cell, T=3, B=2, I=2, H=3, num_layers=2, bidirectional=True),
        f"{_cell}_varlen": dict(cell=_cell, T=5, B=3, I=3, H=3, lengths=[1, 5, 3]),
        f"{_cell}_varlen_2layer_bidir": dict(cell=_cell, T=4, B=3, I=2, H=3, num_layers=2,
                                             bidirectional=True, lengths=[4, 1, 2]),
        f"{_cell}_time_major_varlen_bidir": dict(cell=_cell, T=4, B=3, I=3, H=2, bidirectional=True,
                                                 batch_first=False, lengths=[2, 4, 1]),
        f"{_cell}_nobias": dict(cell=_cell, T=4, B=2, I=3, H=4, bias=False),
    })
GRADCHECK_CONFIGS.update({
    "rnn_relu_basic": dict(cell="rnn", T=5, B=3, I=3, H=4, nonlinearity="relu"),
    "rnn_relu_varlen_2layer_bidir": dict(cell="rnn", T=4, B=3, I=3, H=3, nonlinearity="relu",
                                         num_layers=2, bidirectional=True, lengths=[3, 1, 4]),
})


def _entries(shape, rng):
    """All indices of a small tensor, or a random subset of MAX_ENTRIES of a big one."""
    size = int(np.prod(shape))
    flat = np.arange(size) if size <= MAX_ENTRIES else rng.choice(size, MAX_ENTRIES, replace=False)
    return [np.unravel_index(i, shape) for i in flat]


class LossAt:
    """Evaluates L for perturbed inputs/parameters on a separate eval-mode module."""

    def __init__(self, case):
        self.case = case
        self.module = case.module(np.float64)
        self.module.eval()
        self.inputs = {"x": case.x.copy(), "h0": case.h0.copy()}
        if case.cell == "lstm":
            self.inputs["c0"] = case.c0.copy()
        self.params = {k: v.copy() for k, v in case.params.items()}

    def __call__(self, params_changed=False):
        c = self.case
        if params_changed:
            self.module.load_state_dict(self.params)
        out, hn, cn = forward(self.module, c.cell, self.inputs["x"], self.inputs["h0"],
                              self.inputs.get("c0"), c.lengths)
        return loss_value(out, hn, cn, c.dout, c.dhn, c.dcn)

    def scale(self):
        """Sum of |terms| of L: the float64 rounding error of L is ~1e-16 of this."""
        c = self.case
        out, hn, cn = forward(self.module, c.cell, self.inputs["x"], self.inputs["h0"],
                              self.inputs.get("c0"), c.lengths)
        s = np.abs(out * c.dout).sum() + np.abs(hn * c.dhn).sum()
        if cn is not None:
            s += np.abs(cn * c.dcn).sum()
        return float(s)

    def numeric(self, name, idx):
        """(central, forward one-sided, backward one-sided) difference quotients."""
        is_param = name not in self.inputs
        arr = self.params[name] if is_param else self.inputs[name]
        orig = arr[idx]
        f0 = self(params_changed=is_param)
        arr[idx] = orig + EPS
        fp = self(params_changed=is_param)
        arr[idx] = orig - EPS
        fm = self(params_changed=is_param)
        arr[idx] = orig
        if is_param:
            self.module.load_state_dict(self.params)
        return (fp - fm) / (2 * EPS), (fp - f0) / EPS, (f0 - fm) / EPS


@pytest.mark.parametrize("name", list(GRADCHECK_CONFIGS))
def test_gradcheck(name):
    case = Case(seed=zlib.crc32(name.encode()), **GRADCHECK_CONFIGS[name])
    rng = np.random.default_rng(1)
    _, grads = loss_and_grads(case.module(np.float64), case)

    expected_names = set(meta_param_shapes(case.meta)) | {"x", "h0"} | ({"c0"} if case.cell == "lstm" else set())
    assert set(grads) == expected_names, f"gradient names {sorted(grads)}"

    loss_at = LossAt(case)
    atol = 1e-8 + 2e-10 * loss_at.scale()
    relu = case.nonlinearity == "relu" and case.cell == "rnn"
    checked = skipped_kinks = 0
    failures = []
    for key in sorted(expected_names):
        ref_shape = loss_at.params[key].shape if key in loss_at.params else loss_at.inputs[key].shape
        assert_shape(grads[key], ref_shape, f"grad {key}")
        assert grads[key].dtype == np.float64, f"grad {key} dtype {grads[key].dtype}"
        for idx in _entries(ref_shape, rng):
            central, fwd, bwd = loss_at.numeric(key, idx)
            if relu and abs(fwd - bwd) > 1e-5 * max(1.0, abs(central)):
                skipped_kinks += 1  # a ReLU kink lies within EPS: difference quotient meaningless
                continue
            checked += 1
            analytic = float(grads[key][idx])
            if abs(analytic - central) > atol + RTOL * abs(central):
                failures.append(f"{key}{tuple(int(i) for i in idx)}: analytic {analytic:.10e} "
                                f"numeric {central:.10e} diff {abs(analytic - central):.2e}")
    assert not failures, f"{case}: {len(failures)} of {checked} entries off (atol {atol:.1e}):\n" + \
        "\n".join(failures[:20])
    assert skipped_kinks <= 0.1 * (checked + skipped_kinks), f"too many ReLU kinks skipped: {skipped_kinks}"


# ----------------------------------------------------------------------------------
# variable lengths
# ----------------------------------------------------------------------------------

@pytest.mark.parametrize("batch_first", [True, False], ids=["batch_first", "time_major"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bidir"])
@pytest.mark.parametrize("cell", CELLS)
def test_outputs_zero_past_lengths(cell, bidirectional, batch_first):
    lengths = [1, 5, 3, 2]
    case = Case(cell, T=5, B=4, I=3, H=4, num_layers=2, bidirectional=bidirectional,
                batch_first=batch_first, lengths=lengths, seed=3)
    out, _, _ = forward(case.module(), cell, case.x, case.h0, case.c0, case.lengths)
    out_bt = case.time_major(out)
    for b, n in enumerate(lengths):
        assert np.all(out_bt[b, n:] == 0.0), f"out[{b}, {n}:] is not exactly 0"
        assert np.all(np.any(out_bt[b, :n] != 0.0, axis=-1)), f"out[{b}, :{n}] has an all-zero step"


@pytest.mark.parametrize("cell", CELLS)
def test_varlen_matches_each_sequence_alone(cell):
    """hn/cn (both directions, both layers) and out equal running each sequence truncated."""
    lengths = [1, 5, 3]
    case = Case(cell, T=5, B=3, I=3, H=4, num_layers=2, bidirectional=True, lengths=lengths, seed=4)
    module = case.module()
    out, hn, cn = forward(module, cell, case.x, case.h0, case.c0, case.lengths)
    for b, n in enumerate(lengths):
        c0_b = None if case.c0 is None else case.c0[:, b:b + 1]
        out_b, hn_b, cn_b = forward(module, cell, case.x[b:b + 1, :n], case.h0[:, b:b + 1], c0_b)
        assert_abs_close(out[b:b + 1, :n], out_b, 1e-12, f"out of sequence {b} (length {n})")
        assert_abs_close(hn[:, b:b + 1], hn_b, 1e-12, f"hn of sequence {b} (length {n})")
        if cell == "lstm":
            assert_abs_close(cn[:, b:b + 1], cn_b, 1e-12, f"cn of sequence {b} (length {n})")


@pytest.mark.parametrize("cell", CELLS)
def test_full_lengths_equal_no_lengths(cell):
    case = Case(cell, T=4, B=3, I=3, H=4, bidirectional=True, seed=5)
    module = case.module()
    ref = forward(module, cell, case.x, case.h0, case.c0)
    got = forward(module, cell, case.x, case.h0, case.c0, lengths=[4, 4, 4])
    for what, g, r in zip(("out", "hn", "cn"), got, ref):
        if r is not None:
            assert_abs_close(g, r, 1e-12, what)


# ----------------------------------------------------------------------------------
# gradient bookkeeping, modes, seeds, state_dict
# ----------------------------------------------------------------------------------

@pytest.mark.parametrize("cell", CELLS)
def test_grads_accumulate_and_zero_grad(cell):
    case_a = Case(cell, T=4, B=2, I=3, H=4, bidirectional=True, lengths=[4, 2], seed=6)
    case_b = Case(cell, T=4, B=2, I=3, H=4, bidirectional=True, seed=7)
    case_b.params = case_a.params  # same weights, different inputs

    _, ga = loss_and_grads(case_a.module(), case_a)
    _, gb = loss_and_grads(case_b.module(), case_b)
    module = case_a.module()
    _, g1 = loss_and_grads(module, case_a)
    _, g2 = loss_and_grads(module, case_a)
    names = list(meta_param_shapes(case_a.meta))
    for k in names:
        np.testing.assert_allclose(g2[k], 2 * ga[k], rtol=1e-12, atol=1e-14, err_msg=f"2x {k}")
    for k in ("x", "h0") + (("c0",) if cell == "lstm" else ()):
        # input/state gradients are per call, never accumulated
        np.testing.assert_allclose(g2[k], ga[k], rtol=1e-12, atol=1e-14, err_msg=k)

    module.zero_grad()
    assert sorted(module.grads) == sorted(names)
    for k in names:
        assert module.grads[k].shape == ga[k].shape and np.all(module.grads[k] == 0), f"zero_grad {k}"

    loss_and_grads(module, case_a)
    _, gab = loss_and_grads(module, case_b)
    for k in names:
        np.testing.assert_allclose(gab[k], ga[k] + gb[k], rtol=1e-12, atol=1e-14, err_msg=f"a+b {k}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("cell", CELLS)
def test_eval_forward_equals_train_forward(cell, dtype):
    case = Case(cell, T=5, B=3, I=3, H=4, num_layers=2, bidirectional=True, lengths=[5, 1, 3], seed=8)
    module = case.module(dtype)
    args = [a if a is None else a.astype(dtype) for a in (case.x, case.h0, case.c0)]
    train = forward(module, cell, *args, lengths=case.lengths)
    module.eval()
    evald = forward(module, cell, *args, lengths=case.lengths)
    atol = 1e-12 if dtype == np.float64 else 1e-6
    for what, e, t in zip(("out", "hn", "cn"), evald, train):
        if t is not None:
            assert e.dtype == dtype
            assert_abs_close(e, t, atol, f"eval vs train {what}")
    module.train()
    forward(module, cell, *args, lengths=case.lengths)
    gx, _, _ = backward(module, cell, case.dout.astype(dtype), case.dhn.astype(dtype),
                        None if case.dcn is None else case.dcn.astype(dtype))
    assert gx.shape == case.x.shape


def _ctor(cell, **kw):
    meta = dict(cell=cell, input_size=3, hidden_size=5, num_layers=2, bidirectional=True)
    return make_module(meta, **kw)


@pytest.mark.parametrize("cell", CELLS)
def test_seed_reproducibility(cell):
    a = _ctor(cell, seed=123).state_dict()
    assert_state_dicts_equal(a, _ctor(cell, seed=123).state_dict(), "same constructor seed")
    b = _ctor(cell, seed=124).state_dict()
    for k in a:
        assert not np.array_equal(a[k], b[k]), f"seed 123 and 124 give the same {k}"

    rustrnn.manual_seed(7)
    m1 = _ctor(cell).state_dict()
    rustrnn.manual_seed(7)
    m2 = _ctor(cell).state_dict()
    assert_state_dicts_equal(m1, m2, "same manual_seed")
    rustrnn.manual_seed(8)
    m3 = _ctor(cell).state_dict()
    for k in m1:
        assert not np.array_equal(m1[k], m3[k]), f"manual_seed 7 and 8 give the same {k}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("cell", CELLS)
def test_default_init_within_bound(cell, dtype):
    H = 16
    bound = 1.0 / np.sqrt(H)
    meta = dict(cell=cell, input_size=5, hidden_size=H, num_layers=2, bidirectional=True)
    sd = make_module(meta, dtype=dtype, seed=0).state_dict()
    assert sorted(sd) == sorted(meta_param_shapes(meta))
    for k, v in sd.items():
        assert v.dtype == dtype, f"{k} dtype {v.dtype}"
        assert np.all(np.abs(v) <= bound * (1 + 1e-6)), f"{k} outside ±1/sqrt(H): max |w| = {np.abs(v).max()}"
        assert np.unique(v).size > v.size // 2, f"{k} is not random: {np.unique(v).size} distinct values"
    # U(-b, b) over all parameters pooled (> 1000 values): spans the range, std b/sqrt(3), mean 0
    pooled = np.concatenate([v.ravel() for v in sd.values()]).astype(np.float64)
    assert pooled.min() < -0.95 * bound and pooled.max() > 0.95 * bound, (pooled.min(), pooled.max())
    assert abs(pooled.std() / (bound / np.sqrt(3)) - 1) < 0.1, f"std {pooled.std()} is not uniform-like"
    assert abs(pooled.mean()) < 0.1 * bound, f"mean {pooled.mean()} is not centred"


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("cell", CELLS)
def test_state_dict_names_and_shapes(cell, bias):
    meta = dict(cell=cell, input_size=3, hidden_size=5, num_layers=2, bidirectional=True, bias=bias)
    sd = make_module(meta, seed=1).state_dict()
    expected = meta_param_shapes(meta)
    assert sorted(sd) == sorted(expected)
    for k, shape in expected.items():
        assert isinstance(sd[k], np.ndarray) and sd[k].shape == shape, f"{k}: {getattr(sd[k], 'shape', None)} != {shape}"


@pytest.mark.parametrize("cell", CELLS)
def test_state_dict_and_load_copy(cell):
    case = Case(cell, T=3, B=2, I=3, H=4, seed=9)
    module = case.module()
    sd = module.state_dict()
    assert_state_dicts_equal(sd, case.params, "state_dict after load_state_dict")
    ref_out = forward(module, cell, case.x, case.h0, case.c0)[0]

    for v in sd.values():
        v[...] = 99.0  # mutating the returned copies must not touch the module
    assert_state_dicts_equal(module.state_dict(), case.params, "state_dict after mutating a copy")

    source = {k: v.copy() for k, v in case.params.items()}
    module.load_state_dict(source)
    for v in source.values():
        v[...] = -5.0  # nor may mutating the loaded arrays afterwards
    assert_state_dicts_equal(module.state_dict(), case.params, "state_dict after mutating loaded source")
    assert_abs_close(forward(module, cell, case.x, case.h0, case.c0)[0], ref_out, 0.0, "out")


# ----------------------------------------------------------------------------------
# input conversion: layouts, dtypes, lists, optional states
# ----------------------------------------------------------------------------------

@pytest.mark.parametrize("cell", CELLS)
def test_noncontiguous_inputs_match_contiguous(cell):
    case = Case(cell, T=4, B=3, I=3, H=4, bidirectional=True, seed=10)
    module = case.module(np.float32)
    x = case.x.astype(np.float32)

    def run(x_in, h0=None, c0=None):
        return forward(module, cell, x_in, h0, c0)

    ref_out, ref_hn, ref_cn = run(x)
    wide = np.zeros((3, 8, 3), np.float32)
    wide[:, ::2] = x
    strided = wide[:, ::2]
    transposed = np.ascontiguousarray(x.transpose(1, 0, 2)).transpose(1, 0, 2)
    fortran = np.asfortranarray(x)
    reversed_copy = np.ascontiguousarray(x[::-1])[::-1]
    for what, xv in [("x[:, ::2]", strided), ("transposed view", transposed),
                     ("Fortran order", fortran), ("negative strides", reversed_copy)]:
        assert not xv.flags.c_contiguous
        out, hn, _ = run(xv)
        assert_abs_close(out, ref_out, 1e-6, f"out for {what}")
        assert_abs_close(hn, ref_hn, 1e-6, f"hn for {what}")

    # non-contiguous states and upstream gradients
    h0 = case.h0.astype(np.float32)
    c0 = None if case.c0 is None else case.c0.astype(np.float32)
    ref = run(x, h0, c0)
    ref_g = backward(module, cell, case.dout.astype(np.float32), case.dhn.astype(np.float32),
                     None if c0 is None else case.dcn.astype(np.float32))
    h0_nc = np.asfortranarray(h0)
    c0_nc = None if c0 is None else np.asfortranarray(c0)
    got = run(transposed, h0_nc, c0_nc)
    for what, g, r in zip(("out", "hn", "cn"), got, ref):
        if r is not None:
            assert_abs_close(g, r, 1e-6, f"{what} with non-contiguous h0/c0")
    dout_nc = np.asfortranarray(case.dout.astype(np.float32))
    dhn_nc = np.ascontiguousarray(case.dhn.astype(np.float32)[:, ::-1])[:, ::-1]
    dcn_nc = None if c0 is None else np.asfortranarray(case.dcn.astype(np.float32))
    got_g = backward(module, cell, dout_nc, dhn_nc, dcn_nc)
    for what, g, r in zip(("grad_x", "grad_h0", "grad_c0"), got_g, ref_g):
        if r is not None:
            assert_abs_close(g, r, 1e-6, f"{what} with non-contiguous dout/dhn/dcn")


@pytest.mark.parametrize("in_dtype", [np.float64, np.float16], ids=["f64", "f16"])
@pytest.mark.parametrize("cell", CELLS)
def test_other_float_dtype_into_float32_module(cell, in_dtype):
    case = Case(cell, T=4, B=2, I=3, H=4, seed=11)
    module = case.module(np.float32)
    x, h0 = case.x.astype(in_dtype), case.h0.astype(in_dtype)
    c0 = None if case.c0 is None else case.c0.astype(in_dtype)
    got = forward(module, cell, x, h0, c0)
    ref = forward(module, cell, x.astype(np.float32), h0.astype(np.float32),
                  None if c0 is None else c0.astype(np.float32))
    for what, g, r in zip(("out", "hn", "cn"), got, ref):
        if r is not None:
            assert g.dtype == np.float32, f"{what} dtype {g.dtype}"
            assert_abs_close(g, r, 0.0, what)
    gx, gh0, _ = backward(module, cell, case.dout, case.dhn, case.dcn)  # float64 upstream grads
    assert gx.dtype == np.float32 and gh0.dtype == np.float32


@pytest.mark.parametrize("cell", CELLS)
def test_float32_into_float64_module(cell):
    case = Case(cell, T=4, B=2, I=3, H=4, seed=12)
    module = case.module(np.float64)
    x32 = case.x.astype(np.float32)
    out, hn, _ = forward(module, cell, x32)
    ref_out, ref_hn, _ = forward(module, cell, x32.astype(np.float64))
    assert out.dtype == np.float64
    assert_abs_close(out, ref_out, 0.0, "out")
    assert_abs_close(hn, ref_hn, 0.0, "hn")


@pytest.mark.parametrize("cell", CELLS)
def test_list_inputs(cell):
    case = Case(cell, T=4, B=3, I=3, H=4, lengths=[4, 1, 2], seed=13)
    module = case.module()
    ref = forward(module, cell, case.x, case.h0, case.c0, case.lengths)
    got = forward(module, cell, case.x.tolist(), case.h0.tolist(),
                  None if case.c0 is None else case.c0.tolist(), lengths=[4, 1, 2])
    for what, g, r in zip(("out", "hn", "cn"), got, ref):
        if r is not None:
            assert isinstance(g, np.ndarray) and g.dtype == np.float64
            assert_abs_close(g, r, 0.0, what)
    ref_g = backward(module, cell, case.dout, case.dhn, case.dcn)
    forward(module, cell, case.x, case.h0, case.c0, case.lengths)
    got_g = backward(module, cell, case.dout.tolist(), case.dhn.tolist(),
                     None if case.dcn is None else case.dcn.tolist())
    for what, g, r in zip(("grad_x", "grad_h0", "grad_c0"), got_g, ref_g):
        if r is not None:
            assert_abs_close(g, r, 0.0, what)


@pytest.mark.parametrize("lengths_type", ["int32", "int64", "uint8", "list", "tuple"])
def test_lengths_integer_types(lengths_type):
    case = Case("gru", T=4, B=3, I=3, H=4, lengths=[4, 1, 2], seed=14)
    module = case.module()
    ref = forward(module, "gru", case.x, case.h0, lengths=case.lengths)
    lengths = {"list": [4, 1, 2], "tuple": (4, 1, 2)}.get(lengths_type)
    if lengths is None:
        lengths = np.array([4, 1, 2], dtype=lengths_type)
    got = forward(module, "gru", case.x, case.h0, lengths=lengths)
    assert_abs_close(got[0], ref[0], 0.0, "out")
    assert_abs_close(got[1], ref[1], 0.0, "hn")


@pytest.mark.parametrize("cell", CELLS)
def test_state_optional_means_zeros(cell):
    case = Case(cell, T=4, B=3, I=3, H=4, num_layers=2, bidirectional=True, seed=15)
    module = case.module()
    zeros = np.zeros_like(case.h0)
    z_state = (zeros, zeros) if cell == "lstm" else zeros

    ref = module(case.x, z_state)
    _assert_same_result(module(case.x), ref, "state omitted")
    _assert_same_result(module(case.x, None), ref, "state None")
    if cell == "lstm":
        _assert_same_result(module(case.x, (None, None)), ref, "(None, None)")
        ref_c = module(case.x, (zeros, case.c0))
        _assert_same_result(module(case.x, (None, case.c0)), ref_c, "(None, c0)")
        ref_h = module(case.x, (case.h0, zeros))
        _assert_same_result(module(case.x, (case.h0, None)), ref_h, "(h0, None)")

    # backward: omitted / None state gradient means zeros
    dz = np.zeros_like(case.dhn)
    dz_state = (dz, dz) if cell == "lstm" else dz
    module(case.x)
    ref_g = module.backward(case.dout, dz_state)
    variants = [("omitted", ()), ("None", (None,))]
    if cell == "lstm":
        variants.append(("(None, None)", ((None, None),)))
    for what, extra in variants:
        module(case.x)
        _assert_same_result(module.backward(case.dout, *extra), ref_g, f"backward dstate {what}")
    if cell == "lstm":
        module(case.x)
        ref_g = module.backward(case.dout, (dz, case.dcn))
        module(case.x)
        _assert_same_result(module.backward(case.dout, (None, case.dcn)), ref_g, "backward (None, dcn)")
        module(case.x)
        ref_g = module.backward(case.dout, (case.dhn, dz))
        module(case.x)
        _assert_same_result(module.backward(case.dout, (case.dhn, None)), ref_g, "backward (dhn, None)")


def _assert_same_result(got, ref, what):
    """Compares (a, b) or (a, (b, c)) results."""
    flat = lambda r: [r[0]] + (list(r[1]) if isinstance(r[1], tuple) else [r[1]])  # noqa: E731
    g, r = flat(got), flat(ref)
    assert len(g) == len(r), f"{what}: structure differs"
    for i, (gi, ri) in enumerate(zip(g, r)):
        assert_abs_close(gi, ri, 0.0, f"{what} [{i}]")


@pytest.mark.parametrize("dtype, expected", [
    (None, np.float32), (np.float32, np.float32), (np.float64, np.float64),
    ("float32", np.float32), ("float64", np.float64)])
@pytest.mark.parametrize("cell", CELLS)
def test_module_dtype(cell, dtype, expected):
    kwargs = {} if dtype is None else {"dtype": dtype}
    module = {"rnn": rustrnn.nn.RNN, "lstm": rustrnn.nn.LSTM, "gru": rustrnn.nn.GRU}[cell](3, 4, **kwargs)
    x = np.random.default_rng(0).standard_normal((2, 3, 3))  # float64 in any case
    out, hn, cn = forward(module, cell, x)
    assert out.dtype == expected and hn.dtype == expected
    if cell == "lstm":
        assert cn.dtype == expected
    for k, v in module.state_dict().items():
        assert v.dtype == expected, f"{k} dtype {v.dtype}"
    gx, gh0, _ = backward(module, cell, np.ones_like(out))
    assert gx.dtype == expected and gh0.dtype == expected
    for k, v in module.grads.items():
        assert v.dtype == expected, f"grad {k} dtype {v.dtype}"


@pytest.mark.parametrize("batch_first", [True, False], ids=["batch_first", "time_major"])
@pytest.mark.parametrize("num_layers, bidirectional", [(1, False), (2, False), (1, True), (3, True)])
@pytest.mark.parametrize("cell", CELLS)
def test_output_shapes(cell, num_layers, bidirectional, batch_first):
    B, T, I, H = 2, 5, 3, 4
    D = 2 if bidirectional else 1
    meta = dict(cell=cell, input_size=I, hidden_size=H, num_layers=num_layers, bidirectional=bidirectional)
    module = make_module(meta, dtype=np.float32, batch_first=batch_first, seed=0)
    x = np.ones((B, T, I) if batch_first else (T, B, I), np.float32)
    out, hn, cn = forward(module, cell, x)
    assert_shape(out, (B, T, D * H) if batch_first else (T, B, D * H), "out")
    assert_shape(hn, (num_layers * D, B, H), "hn")
    if cell == "lstm":
        assert_shape(cn, (num_layers * D, B, H), "cn")
    gx, gh0, gc0 = backward(module, cell, np.ones_like(out))
    assert_shape(gx, x.shape, "grad_x")
    assert_shape(gh0, (num_layers * D, B, H), "grad_h0")
    if cell == "lstm":
        assert_shape(gc0, (num_layers * D, B, H), "grad_c0")
