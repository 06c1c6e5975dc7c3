"""Bad arguments raise ValueError/TypeError naming the argument (never crash the interpreter)."""

import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import rustrnn
from conftest import CELLS, Case, REPO_ROOT, backward, forward, make_module, module_class

B, T, I, H = 3, 5, 4, 6


def _module(cell, **kw):
    meta = dict(cell=cell, input_size=I, hidden_size=H)
    meta.update({k: kw.pop(k) for k in list(kw) if k in ("num_layers", "bidirectional", "bias")})
    return make_module(meta, dtype=kw.pop("dtype", np.float32), seed=0, **kw)


def _x(shape=(B, T, I), dtype=np.float32):
    return np.random.default_rng(0).standard_normal(shape).astype(dtype)


def _h(shape=(1, B, H), dtype=np.float32):
    return np.zeros(shape, dtype)


def _call(module, cell, x, h0=None, c0=None, lengths=None):
    return forward(module, cell, x, h0, c0, lengths)


def _assert_mentions_shape(excinfo, shape):
    msg = str(excinfo.value)
    assert str(tuple(shape)) in msg, f"message does not contain the received shape {tuple(shape)}: {msg!r}"


# ----------------------------------------------------------------------------------
# exception classes
# ----------------------------------------------------------------------------------

def test_exception_hierarchy():
    assert issubclass(rustrnn.RustRnnError, Exception)
    assert issubclass(rustrnn.ShapeError, rustrnn.RustRnnError) and issubclass(rustrnn.ShapeError, ValueError)
    assert issubclass(rustrnn.DTypeError, rustrnn.RustRnnError) and issubclass(rustrnn.DTypeError, TypeError)
    assert issubclass(rustrnn.StateError, rustrnn.RustRnnError) and issubclass(rustrnn.StateError, ValueError)


def test_representative_errors_use_library_classes():
    module = _module("lstm")
    with pytest.raises(rustrnn.ShapeError):
        module(_x((B, T)))
    with pytest.raises(rustrnn.DTypeError):
        module(np.ones((B, T, I), np.int64))
    with pytest.raises(rustrnn.StateError):
        _module("gru").backward(_x((B, T, H)))


# ----------------------------------------------------------------------------------
# x
# ----------------------------------------------------------------------------------

BAD_DTYPE_X = {
    "int32": lambda: np.ones((B, T, I), np.int32),
    "int64": lambda: np.ones((B, T, I), np.int64),
    "bool": lambda: np.ones((B, T, I), bool),
    "complex": lambda: np.ones((B, T, I), np.complex128),
    "object": lambda: np.ones((B, T, I), object),
}


@pytest.mark.parametrize("kind", list(BAD_DTYPE_X))
@pytest.mark.parametrize("cell", CELLS)
def test_x_bad_dtype(cell, kind):
    with pytest.raises(TypeError, match=r"\bx\b"):
        _call(_module(cell), cell, BAD_DTYPE_X[kind]())


@pytest.mark.parametrize("shape", [(T, I), (B, T, I, 1), (I,)])
@pytest.mark.parametrize("cell", CELLS)
def test_x_bad_ndim(cell, shape):
    with pytest.raises(ValueError, match=r"\bx\b") as excinfo:
        _call(_module(cell), cell, _x(shape))
    _assert_mentions_shape(excinfo, shape)


@pytest.mark.parametrize("cell", CELLS)
def test_x_wrong_feature_size(cell):
    bad = (B, T, 7)
    with pytest.raises(ValueError, match=r"\bx\b") as excinfo:
        _call(_module(cell), cell, _x(bad))
    _assert_mentions_shape(excinfo, bad)
    rest = str(excinfo.value).replace(str(bad), "")
    assert re.search(rf"\b{I}\b", rest), f"message does not state input_size {I}: {excinfo.value}"


@pytest.mark.parametrize("cell", CELLS)
def test_x_time_major_wrong_feature_size(cell):
    module = _module(cell, batch_first=False)
    bad = (T, B, I + 1)
    with pytest.raises(ValueError, match=r"\bx\b") as excinfo:
        _call(module, cell, _x(bad))
    _assert_mentions_shape(excinfo, bad)


# ----------------------------------------------------------------------------------
# h0 / c0 / state structure
# ----------------------------------------------------------------------------------

H0_BAD_SHAPES = {
    "batch_mismatch": (1, B - 1, H),
    "too_many_layers": (2, B, H),
    "wrong_hidden": (1, B, H + 1),
    "ndim2": (B, H),
    "ndim4": (1, 1, B, H),
}


@pytest.mark.parametrize("kind", list(H0_BAD_SHAPES))
@pytest.mark.parametrize("cell", CELLS)
def test_h0_bad_shape(cell, kind):
    shape = H0_BAD_SHAPES[kind]
    c0 = _h() if cell == "lstm" else None
    with pytest.raises(ValueError, match=r"\bh0\b") as excinfo:
        _call(_module(cell), cell, _x(), _h(shape), c0)
    _assert_mentions_shape(excinfo, shape)


@pytest.mark.parametrize("cell", CELLS)
def test_h0_missing_direction_layers(cell):
    """A bidirectional 2-layer module needs 4 state rows; 2 is an error."""
    module = _module(cell, num_layers=2, bidirectional=True)
    shape = (2, B, H)
    c0 = _h((4, B, H)) if cell == "lstm" else None
    with pytest.raises(ValueError, match=r"\bh0\b") as excinfo:
        _call(module, cell, _x(), _h(shape), c0)
    _assert_mentions_shape(excinfo, shape)


@pytest.mark.parametrize("cell", CELLS)
def test_h0_bad_dtype(cell):
    c0 = _h() if cell == "lstm" else None
    with pytest.raises(TypeError, match=r"\bh0\b"):
        _call(_module(cell), cell, _x(), np.zeros((1, B, H), np.int32), c0)


@pytest.mark.parametrize("shape", [(1, B, H - 1), (1, B + 1, H), (2, B, H), (B, H)])
def test_c0_bad_shape(shape):
    with pytest.raises(ValueError, match=r"\bc0\b") as excinfo:
        _call(_module("lstm"), "lstm", _x(), _h(), _h(shape))
    _assert_mentions_shape(excinfo, shape)


def test_c0_bad_shape_with_h0_none():
    shape = (1, B, H + 2)
    with pytest.raises(ValueError, match=r"\bc0\b") as excinfo:
        _module("lstm")(_x(), (None, _h(shape)))
    _assert_mentions_shape(excinfo, shape)


def test_c0_bad_dtype():
    with pytest.raises(TypeError, match=r"\bc0\b"):
        _module("lstm")(_x(), (_h(), np.zeros((1, B, H), complex)))


def test_lstm_bare_array_state():
    with pytest.raises((TypeError, ValueError), match=r"state|hx|h0"):
        _module("lstm")(_x(), _h())


# ----------------------------------------------------------------------------------
# lengths
# ----------------------------------------------------------------------------------

BAD_LENGTHS_VALUE = {
    "too_few": [T, 2],
    "too_many": [T, 2, 3, 1],
    "zero": [T, 0, 3],
    "above_T": [T, T + 1, 3],
    "negative": [T, -1, 3],
    "2d": [[T, 2, 3]],
}


@pytest.mark.parametrize("kind", list(BAD_LENGTHS_VALUE))
@pytest.mark.parametrize("cell", CELLS)
def test_lengths_bad_value(cell, kind):
    lengths = np.array(BAD_LENGTHS_VALUE[kind], dtype=np.int64)
    with pytest.raises(ValueError, match=r"\blengths\b"):
        _call(_module(cell), cell, _x(), lengths=lengths)


@pytest.mark.parametrize("lengths", [np.array([5.0, 2.0, 3.0]), [5.0, 2.0, 3.0], np.array([5, 2, 3], np.float32)],
                         ids=["float64-array", "float-list", "float32-array"])
@pytest.mark.parametrize("cell", CELLS)
def test_lengths_bad_type(cell, lengths):
    with pytest.raises(TypeError, match=r"\blengths\b"):
        _call(_module(cell), cell, _x(), lengths=lengths)


def test_lengths_time_major_upper_bound():
    """With batch_first=False, T is x.shape[0]: a length T+1 is out of range."""
    module = _module("gru", batch_first=False)
    with pytest.raises(ValueError, match=r"\blengths\b"):
        module(_x((T, B, I)), None, lengths=[T, T + 1, 1])


# ----------------------------------------------------------------------------------
# backward arguments and ordering
# ----------------------------------------------------------------------------------

def _forwarded(cell, **kw):
    module = _module(cell, **kw)
    _call(module, cell, _x())
    return module


@pytest.mark.parametrize("shape", [(B, T, H + 1), (B, T - 1, H), (B + 1, T, H), (B, T)])
@pytest.mark.parametrize("cell", CELLS)
def test_dout_bad_shape(cell, shape):
    module = _forwarded(cell)
    with pytest.raises(ValueError, match=r"\bdout\b") as excinfo:
        backward(module, cell, _x(shape))
    _assert_mentions_shape(excinfo, shape)


@pytest.mark.parametrize("cell", CELLS)
def test_dout_bad_dtype(cell):
    module = _forwarded(cell)
    with pytest.raises(TypeError, match=r"\bdout\b"):
        backward(module, cell, np.ones((B, T, H), np.int32))


@pytest.mark.parametrize("shape", [(1, B, H + 1), (2, B, H), (1, B - 1, H), (B, H)])
@pytest.mark.parametrize("cell", CELLS)
def test_dhn_bad_shape(cell, shape):
    module = _forwarded(cell)
    dcn = _h() if cell == "lstm" else None
    with pytest.raises(ValueError, match=r"\bdhn\b") as excinfo:
        backward(module, cell, _x((B, T, H)), _h(shape), dcn)
    _assert_mentions_shape(excinfo, shape)


def test_dcn_bad_shape():
    module = _forwarded("lstm")
    shape = (1, B, H - 1)
    with pytest.raises(ValueError, match=r"\bdcn\b") as excinfo:
        module.backward(_x((B, T, H)), (None, _h(shape)))
    _assert_mentions_shape(excinfo, shape)


@pytest.mark.parametrize("cell", CELLS)
def test_backward_before_forward(cell):
    with pytest.raises(ValueError, match=r"(?i)forward"):
        backward(_module(cell), cell, _x((B, T, H)))


@pytest.mark.parametrize("cell", CELLS)
def test_backward_after_eval_forward(cell):
    module = _module(cell)
    module.eval()
    _call(module, cell, _x())
    with pytest.raises(ValueError, match=r"(?i)eval|train"):
        backward(module, cell, _x((B, T, H)))


@pytest.mark.parametrize("cell", CELLS)
def test_backward_after_train_forward_then_eval_forward(cell):
    """An eval-mode forward drops what an earlier training forward kept."""
    module = _forwarded(cell)
    module.eval()
    _call(module, cell, _x())
    with pytest.raises(ValueError, match=r"(?i)eval|train"):
        backward(module, cell, _x((B, T, H)))


@pytest.mark.parametrize("cell", CELLS)
def test_second_backward_needs_new_forward(cell):
    module = _forwarded(cell)
    backward(module, cell, _x((B, T, H)))
    with pytest.raises(ValueError, match=r"(?i)forward"):
        backward(module, cell, _x((B, T, H)))
    # a fresh forward makes backward possible again
    _call(module, cell, _x())
    backward(module, cell, _x((B, T, H)))


# ----------------------------------------------------------------------------------
# load_state_dict
# ----------------------------------------------------------------------------------

def _sd(cell, **kw):
    return _module(cell, **kw).state_dict()


@pytest.mark.parametrize("cell", CELLS)
def test_load_state_dict_unknown_key(cell):
    sd = _sd(cell)
    sd["weight_ih_l1"] = sd["weight_hh_l0"].copy()
    with pytest.raises(ValueError, match=r"weight_ih_l1"):
        _module(cell).load_state_dict(sd)


@pytest.mark.parametrize("cell", CELLS)
def test_load_state_dict_unknown_reverse_key(cell):
    sd = _sd(cell)
    sd["bias_hh_l0_reverse"] = sd["bias_hh_l0"].copy()
    with pytest.raises(ValueError, match=r"bias_hh_l0_reverse"):
        _module(cell).load_state_dict(sd)


@pytest.mark.parametrize("missing", ["weight_ih_l0", "bias_hh_l0", "weight_hh_l1_reverse"])
@pytest.mark.parametrize("cell", CELLS)
def test_load_state_dict_missing_key(cell, missing):
    sd = _sd(cell, num_layers=2, bidirectional=True)
    del sd[missing]
    with pytest.raises(ValueError, match=missing):
        _module(cell, num_layers=2, bidirectional=True).load_state_dict(sd)


@pytest.mark.parametrize("cell", CELLS)
def test_load_state_dict_bias_for_nobias_module(cell):
    module = _module(cell, bias=False)
    sd = _sd(cell)  # has biases
    with pytest.raises(ValueError, match=r"bias_ih_l0|bias_hh_l0"):
        module.load_state_dict(sd)


@pytest.mark.parametrize("key, delta", [("weight_hh_l0", (0, -1)), ("weight_ih_l0", (1, 0)),
                                        ("bias_ih_l0", (1,))])
@pytest.mark.parametrize("cell", CELLS)
def test_load_state_dict_wrong_shape(cell, key, delta):
    sd = _sd(cell)
    expected = sd[key].shape
    bad = tuple(s + d for s, d in zip(expected, delta))
    sd[key] = np.zeros(bad, np.float32)
    with pytest.raises(ValueError, match=key) as excinfo:
        _module(cell).load_state_dict(sd)
    msg = str(excinfo.value)
    assert str(expected) in msg, f"expected shape {expected} not in {msg!r}"
    assert str(bad) in msg, f"received shape {bad} not in {msg!r}"


@pytest.mark.parametrize("cell", CELLS)
def test_load_state_dict_wrong_ndim(cell):
    sd = _sd(cell)
    sd["bias_hh_l0"] = sd["bias_hh_l0"][None, :]
    with pytest.raises(ValueError, match="bias_hh_l0") as excinfo:
        _module(cell).load_state_dict(sd)
    assert str(sd["bias_hh_l0"].shape) in str(excinfo.value)


@pytest.mark.parametrize("value", ["not an array", None, object()], ids=["str", "None", "object"])
@pytest.mark.parametrize("cell", CELLS)
def test_load_state_dict_non_array_value(cell, value):
    sd = _sd(cell)
    sd["weight_hh_l0"] = value
    with pytest.raises((TypeError, ValueError), match="weight_hh_l0"):
        _module(cell).load_state_dict(sd)


@pytest.mark.parametrize("cell", CELLS)
def test_nan_weights_load_and_propagate(cell):
    """Documented: NaN parameters are accepted; the forward output then contains NaN."""
    case = Case(cell, T=3, B=2, I=3, H=4, seed=0)
    params = dict(case.params)
    params["weight_ih_l0"] = params["weight_ih_l0"].copy()
    params["weight_ih_l0"][0, 0] = np.nan
    module = make_module(case.meta, dtype=np.float64)
    module.load_state_dict(params)
    assert np.isnan(module.state_dict()["weight_ih_l0"][0, 0])
    out, hn, _ = forward(module, cell, case.x)
    assert np.isnan(out).any() and np.isnan(hn).any()


# ----------------------------------------------------------------------------------
# constructor
# ----------------------------------------------------------------------------------

BAD_CTOR = {
    "input_size_0": dict(input_size=0),
    "input_size_negative": dict(input_size=-3),
    "hidden_size_0": dict(hidden_size=0),
    "hidden_size_negative": dict(hidden_size=-1),
    "num_layers_0": dict(num_layers=0),
    "num_layers_negative": dict(num_layers=-2),
}


@pytest.mark.parametrize("kind", list(BAD_CTOR))
@pytest.mark.parametrize("cell", CELLS)
def test_constructor_bad_sizes(cell, kind):
    kw = dict(input_size=I, hidden_size=H)
    kw.update(BAD_CTOR[kind])
    arg = kind.rsplit("_", 1)[0]
    with pytest.raises((ValueError, TypeError), match=arg):
        module_class(cell)(kw.pop("input_size"), kw.pop("hidden_size"), **kw)


@pytest.mark.parametrize("value", ["sigmoid", "Tanh ", "", None])
def test_constructor_bad_nonlinearity(value):
    with pytest.raises((ValueError, TypeError), match="nonlinearity"):
        rustrnn.nn.RNN(I, H, nonlinearity=value)


@pytest.mark.parametrize("dtype", [np.int32, "float16", np.float16, "int64", np.complex64, "banana", object],
                         ids=["int32", "float16-str", "float16", "int64-str", "complex64", "banana", "object"])
@pytest.mark.parametrize("cell", CELLS)
def test_constructor_bad_dtype(cell, dtype):
    with pytest.raises((ValueError, TypeError), match="dtype"):
        module_class(cell)(I, H, dtype=dtype)


# ----------------------------------------------------------------------------------
# no crash: bad calls raise Python exceptions, the interpreter survives
# ----------------------------------------------------------------------------------

def test_bad_calls_do_not_crash_interpreter():
    script = textwrap.dedent("""
        import numpy as np, rustrnn, rustrnn.nn
        m = rustrnn.nn.LSTM(4, 6, seed=0)
        calls = {
            "int_x": lambda: m(np.ones((3, 5, 4), np.int64)),
            "ndim_x": lambda: m(np.ones((5, 4), np.float32)),
            "lengths": lambda: m(np.ones((3, 5, 4), np.float32), None, lengths=[9, 0, -1]),
            "backward_first": lambda: rustrnn.nn.GRU(4, 6).backward(np.ones((3, 5, 6))),
            "load": lambda: m.load_state_dict({"weight_ih_l0": np.zeros((2, 2))}),
            "ctor": lambda: rustrnn.nn.RNN(0, 6),
        }
        for name, call in calls.items():
            try:
                call()
            except Exception as e:
                print(name, type(e).__name__, flush=True)
            else:
                print(name, "NO-EXCEPTION", flush=True)
        print("SURVIVED")
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, cwd=str(REPO_ROOT))
    report = f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr[-2000:]}"
    assert proc.returncode == 0, report
    assert "SURVIVED" in proc.stdout, report
    assert "NO-EXCEPTION" not in proc.stdout, report
    assert re.search(r"^int_x (DTypeError|TypeError)$", proc.stdout, re.M), report
    assert re.search(r"^ndim_x (ShapeError|ValueError)$", proc.stdout, re.M), report
    assert re.search(r"^backward_first (StateError|ValueError)$", proc.stdout, re.M), report
