"""Golden comparisons against PyTorch (tests/fixtures/torch_rnn, made by the project's
shared/fixtures/make_torch_fixtures.py; see tests/fixtures/torch_rnn/README.md).

float64: forward and every gradient to 1e-9 absolute.
float32: forward to 1e-5 + 1e-4*|ref| elementwise, gradients to 1e-4 norm-relative.
"""

import numpy as np
import pytest

from conftest import (
    FIXTURE_DIR,
    FIXTURE_FILES,
    MIN_FIXTURES,
    assert_abs_close,
    assert_forward_close_f32,
    assert_norm_rel_close,
    backward,
    fixture_param_names,
    fixture_params,
    forward,
    load_case,
    make_module,
    require_fixture_dir,
)

ATOL64 = 1e-9

# fixtures re-run with batch_first=False (cover every cell, multi-layer, bidirectional, varlen)
TIME_MAJOR_CASES = ["rnn_2layer_bidir", "lstm_varlen_bidir", "gru_varlen", "lstm_2layer", "rnn_relu"]


def _inputs(arrays, cell, dtype):
    """x, h0, c0, lengths, dout, dhn, dcn of a fixture, cast to `dtype`."""
    get = lambda k: arrays[k].astype(dtype) if k in arrays else None  # noqa: E731
    lengths = arrays.get("lengths")
    return dict(
        x=get("x"), h0=get("h0"), c0=get("c0") if cell == "lstm" else None,
        lengths=lengths, dout=get("dout"), dhn=get("dhn"),
        dcn=get("dcn") if cell == "lstm" else None,
    )


def _loaded_module(meta, arrays, dtype, batch_first=None):
    module = make_module(meta, dtype=dtype, batch_first=batch_first)
    module.load_state_dict({k: arrays[k].astype(dtype) for k in fixture_param_names(arrays)})
    return module


def test_fixture_directory_has_cases():
    require_fixture_dir()
    assert len(FIXTURE_FILES) >= MIN_FIXTURES, (
        f"expected at least {MIN_FIXTURES} .npz fixtures in {FIXTURE_DIR}, found {len(FIXTURE_FILES)}")


@pytest.mark.parametrize("path", fixture_params())
def test_fixture_float64(path):
    meta, arrays = load_case(path)
    cell = meta["cell"]
    assert meta["batch_first"] is True
    assert ("lengths" in arrays) == bool(meta["variable_length"])
    module = _loaded_module(meta, arrays, np.float64)
    a = _inputs(arrays, cell, np.float64)

    out, hn, cn = forward(module, cell, a["x"], a["h0"], a["c0"], a["lengths"])
    assert out.dtype == np.float64 and hn.dtype == np.float64
    assert_abs_close(out, arrays["out"], ATOL64, "out")
    assert_abs_close(hn, arrays["hn"], ATOL64, "hn")
    if cell == "lstm":
        assert cn.dtype == np.float64
        assert_abs_close(cn, arrays["cn"], ATOL64, "cn")

    gx, gh0, gc0 = backward(module, cell, a["dout"], a["dhn"], a["dcn"])
    assert_abs_close(gx, arrays["grad_x"], ATOL64, "grad_x")
    assert_abs_close(gh0, arrays["grad_h0"], ATOL64, "grad_h0")
    if cell == "lstm":
        assert_abs_close(gc0, arrays["grad_c0"], ATOL64, "grad_c0")

    names = fixture_param_names(arrays)
    assert sorted(module.grads) == names, (
        f"module.grads keys {sorted(module.grads)} != fixture parameters {names}")
    for name in names:
        assert_abs_close(module.grads[name], arrays["grad_" + name], ATOL64, f"grad {name}")


@pytest.mark.parametrize("path", fixture_params())
def test_fixture_float32(path):
    meta, arrays = load_case(path)
    cell = meta["cell"]
    module = _loaded_module(meta, arrays, np.float32)
    a = _inputs(arrays, cell, np.float32)

    out, hn, cn = forward(module, cell, a["x"], a["h0"], a["c0"], a["lengths"])
    assert out.dtype == np.float32 and hn.dtype == np.float32
    assert_forward_close_f32(out, arrays["out"], "out")
    assert_forward_close_f32(hn, arrays["hn"], "hn")
    if cell == "lstm":
        assert cn.dtype == np.float32
        assert_forward_close_f32(cn, arrays["cn"], "cn")

    gx, gh0, gc0 = backward(module, cell, a["dout"], a["dhn"], a["dcn"])
    assert gx.dtype == np.float32 and gh0.dtype == np.float32
    assert_norm_rel_close(gx, arrays["grad_x"], "grad_x")
    assert_norm_rel_close(gh0, arrays["grad_h0"], "grad_h0")
    if cell == "lstm":
        assert_norm_rel_close(gc0, arrays["grad_c0"], "grad_c0")

    names = fixture_param_names(arrays)
    assert sorted(module.grads) == names
    for name in names:
        assert module.grads[name].dtype == np.float32, f"grad {name} dtype"
        assert_norm_rel_close(module.grads[name], arrays["grad_" + name], f"grad {name}")


@pytest.mark.parametrize("path", fixture_params(TIME_MAJOR_CASES))
def test_fixture_float64_time_major(path):
    """batch_first=False: x (T, B, I), out (T, B, D*H); states are unchanged."""
    meta, arrays = load_case(path)
    cell = meta["cell"]
    module = _loaded_module(meta, arrays, np.float64, batch_first=False)
    a = _inputs(arrays, cell, np.float64)
    x_tm = np.ascontiguousarray(a["x"].transpose(1, 0, 2))
    dout_tm = np.ascontiguousarray(a["dout"].transpose(1, 0, 2))

    out, hn, cn = forward(module, cell, x_tm, a["h0"], a["c0"], a["lengths"])
    T, B = meta["seq_len"], meta["batch"]
    assert out.shape[:2] == (T, B), f"time-major out shape {out.shape}"
    assert_abs_close(out.transpose(1, 0, 2), arrays["out"], ATOL64, "out (transposed)")
    assert_abs_close(hn, arrays["hn"], ATOL64, "hn")
    if cell == "lstm":
        assert_abs_close(cn, arrays["cn"], ATOL64, "cn")

    gx, gh0, gc0 = backward(module, cell, dout_tm, a["dhn"], a["dcn"])
    assert_abs_close(gx.transpose(1, 0, 2), arrays["grad_x"], ATOL64, "grad_x (transposed)")
    assert_abs_close(gh0, arrays["grad_h0"], ATOL64, "grad_h0")
    if cell == "lstm":
        assert_abs_close(gc0, arrays["grad_c0"], ATOL64, "grad_c0")
    for name in fixture_param_names(arrays):
        assert_abs_close(module.grads[name], arrays["grad_" + name], ATOL64, f"grad {name}")
