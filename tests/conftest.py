"""Shared helpers for the rustrnn test suite (pure NumPy, no torch).

The PyTorch golden fixtures live in the repository (``tests/fixtures/torch_rnn``), so a
fresh clone passes with nothing beside it; a missing directory makes the fixture tests
FAIL (never skip). Nothing here reads outside the repository; ``scripts/check_against_shared.py``
compares the in-repo copies with the project's ``shared/`` sources by hand.
"""

import json
import pathlib

import numpy as np
import pytest

import rustrnn
import rustrnn.nn

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent


FIXTURE_DIR = REPO_ROOT / "tests" / "fixtures" / "torch_rnn"
FIXTURE_FILES = sorted(FIXTURE_DIR.glob("*.npz")) if FIXTURE_DIR.is_dir() else []
MIN_FIXTURES = 20

CELLS = ("rnn", "lstm", "gru")
GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def require_fixture_dir():
    """Fail (not skip) with a clear message when the golden fixtures are missing."""
    if not FIXTURE_DIR.is_dir():
        pytest.fail(
            f"PyTorch fixture directory not found: {FIXTURE_DIR}\n"
            "It is part of the repository (tests/fixtures/torch_rnn): restore it with git.",
            pytrace=False,
        )


def fixture_params(names=None):
    """pytest params over the fixture files (ids = file stem).

    With no directory this yields one sentinel param whose test then fails through
    `require_fixture_dir`, instead of pytest silently skipping an empty parameter set.
    With `names`, selects those stems; a requested stem that is missing is kept as a
    param too, so that the test fails loudly.
    """
    if names is None:
        if not FIXTURE_FILES:
            return [pytest.param(None, id="no-fixtures-found")]
        return [pytest.param(p, id=p.stem) for p in FIXTURE_FILES]
    return [pytest.param(FIXTURE_DIR / f"{n}.npz", id=n) for n in names]


def load_case(path):
    """Returns (meta, arrays) of one golden .npz, failing clearly if it is missing."""
    require_fixture_dir()
    if path is None or not path.is_file():
        pytest.fail(f"fixture file missing: {path}", pytrace=False)
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(str(arrays.pop("meta")))
    return meta, arrays


def fixture_param_names(arrays):
    """Parameter names stored in a fixture (PyTorch naming)."""
    return sorted(k for k in arrays if k.startswith(("weight_", "bias_")))


# ----------------------------------------------------------------------------------
# module construction
# ----------------------------------------------------------------------------------

def module_class(cell):
    return {"rnn": rustrnn.nn.RNN, "lstm": rustrnn.nn.LSTM, "gru": rustrnn.nn.GRU}[cell]


def make_module(meta, dtype=np.float64, batch_first=None, seed=None):
    """Builds the module described by a fixture-style `meta` dict."""
    kwargs = dict(
        num_layers=meta.get("num_layers", 1),
        bias=meta.get("bias", True),
        batch_first=meta.get("batch_first", True) if batch_first is None else batch_first,
        bidirectional=meta.get("bidirectional", False),
        dtype=dtype,
        seed=seed,
    )
    if meta["cell"] == "rnn":
        kwargs["nonlinearity"] = meta.get("nonlinearity", "tanh")
    return module_class(meta["cell"])(meta["input_size"], meta["hidden_size"], **kwargs)


def param_shapes(cell, input_size, hidden_size, num_layers=1, bidirectional=False, bias=True):
    """PyTorch parameter names -> shapes, in PyTorch's order."""
    D = 2 if bidirectional else 1
    G = GATES[cell] * hidden_size
    shapes = {}
    for layer in range(num_layers):
        in_l = input_size if layer == 0 else D * hidden_size
        for d in range(D):
            sfx = f"l{layer}" + ("_reverse" if d == 1 else "")
            shapes[f"weight_ih_{sfx}"] = (G, in_l)
            shapes[f"weight_hh_{sfx}"] = (G, hidden_size)
            if bias:
                shapes[f"bias_ih_{sfx}"] = (G,)
                shapes[f"bias_hh_{sfx}"] = (G,)
    return shapes


def meta_param_shapes(meta):
    return param_shapes(meta["cell"], meta["input_size"], meta["hidden_size"],
                        meta.get("num_layers", 1), meta.get("bidirectional", False),
                        meta.get("bias", True))


# ----------------------------------------------------------------------------------
# calling conventions: LSTM state is a pair, RNN/GRU a single array
# ----------------------------------------------------------------------------------

def pack_state(cell, h, c=None):
    return (h, c) if cell == "lstm" else h


def forward(module, cell, x, h0=None, c0=None, lengths=None):
    """Runs forward; returns (out, hn, cn) with cn None for RNN/GRU."""
    state = None if (h0 is None and c0 is None) else pack_state(cell, h0, c0)
    if cell == "lstm":
        out, (hn, cn) = module(x, state, lengths=lengths)
        return out, hn, cn
    out, hn = module(x, state, lengths=lengths)
    return out, hn, None


def backward(module, cell, dout, dhn=None, dcn=None):
    """Runs backward; returns (gx, gh0, gc0) with gc0 None for RNN/GRU."""
    dstate = None if (dhn is None and dcn is None) else pack_state(cell, dhn, dcn)
    if cell == "lstm":
        gx, (gh0, gc0) = module.backward(dout, dstate)
        return gx, gh0, gc0
    gx, gh0 = module.backward(dout, dstate)
    return gx, gh0, None


def loss_value(out, hn, cn, dout, dhn, dcn=None):
    """L = sum(out*dout) + sum(hn*dhn) (+ sum(cn*dcn)), accumulated in float64."""
    total = float(np.sum(np.asarray(out, np.float64) * dout))
    total += float(np.sum(np.asarray(hn, np.float64) * dhn))
    if cn is not None:
        total += float(np.sum(np.asarray(cn, np.float64) * dcn))
    return total


def loss_and_grads(module, case):
    """Forward + backward of a `Case`; returns (loss, {"x", "h0", "c0", param names...})."""
    out, hn, cn = forward(module, case.cell, case.x, case.h0, case.c0, case.lengths)
    loss = loss_value(out, hn, cn, case.dout, case.dhn, case.dcn)
    gx, gh0, gc0 = backward(module, case.cell, case.dout, case.dhn, case.dcn)
    grads = {"x": gx, "h0": gh0}
    if case.cell == "lstm":
        grads["c0"] = gc0
    grads.update({k: np.array(v) for k, v in module.grads.items()})
    return loss, grads


# ----------------------------------------------------------------------------------
# random problems
# ----------------------------------------------------------------------------------

class Case:
    """A random problem: module config + inputs + upstream gradients (float64)."""

    def __init__(self, cell, T=4, B=3, I=3, H=4, num_layers=1, bidirectional=False,
                 bias=True, nonlinearity="tanh", batch_first=True, lengths=None, seed=0,
                 weight_scale=None):
        rng = np.random.default_rng(seed)
        self.cell, self.T, self.B, self.I, self.H = cell, T, B, I, H
        self.num_layers, self.bidirectional, self.bias = num_layers, bidirectional, bias
        self.nonlinearity, self.batch_first = nonlinearity, batch_first
        D = 2 if bidirectional else 1
        self.D = D
        self.meta = dict(cell=cell, input_size=I, hidden_size=H, num_layers=num_layers,
                         bidirectional=bidirectional, bias=bias, nonlinearity=nonlinearity,
                         batch_first=batch_first)
        scale = weight_scale if weight_scale is not None else 0.9 / np.sqrt(H)
        self.params = {name: rng.standard_normal(shape) * scale
                       for name, shape in meta_param_shapes(self.meta).items()}
        xs = (B, T, I) if batch_first else (T, B, I)
        self.x = rng.standard_normal(xs)
        self.h0 = rng.standard_normal((num_layers * D, B, H)) * 0.5
        self.c0 = rng.standard_normal((num_layers * D, B, H)) * 0.5 if cell == "lstm" else None
        self.lengths = None if lengths is None else np.asarray(lengths, dtype=np.int64)
        os_ = (B, T, D * H) if batch_first else (T, B, D * H)
        # dout is non-zero past each length on purpose: the output is constant 0 there,
        # so a backward that leaks it into the gradients is caught.
        self.dout = rng.standard_normal(os_)
        self.dhn = rng.standard_normal((num_layers * D, B, H))
        self.dcn = rng.standard_normal((num_layers * D, B, H)) if cell == "lstm" else None

    def module(self, dtype=np.float64):
        m = make_module(self.meta, dtype=dtype)
        m.load_state_dict({k: v.astype(dtype) for k, v in self.params.items()})
        return m

    def time_major(self, a):
        """(B, T, ...) view of a batch_first/time-major array."""
        return a if self.batch_first else np.swapaxes(a, 0, 1)

    def __repr__(self):
        return (f"Case({self.cell}, T={self.T}, B={self.B}, I={self.I}, H={self.H}, "
                f"L={self.num_layers}, bidir={self.bidirectional}, bias={self.bias}, "
                f"nonlin={self.nonlinearity}, batch_first={self.batch_first}, "
                f"lengths={None if self.lengths is None else self.lengths.tolist()})")


# ----------------------------------------------------------------------------------
# comparisons
# ----------------------------------------------------------------------------------

def max_abs_diff(got, ref):
    got, ref = np.asarray(got, np.float64), np.asarray(ref, np.float64)
    return float(np.max(np.abs(got - ref))) if ref.size else 0.0


def assert_shape(got, ref_shape, what):
    assert isinstance(got, np.ndarray), f"{what}: expected np.ndarray, got {type(got).__name__}"
    assert got.shape == tuple(ref_shape), f"{what}: shape {got.shape} != expected {tuple(ref_shape)}"


def assert_abs_close(got, ref, atol, what):
    assert_shape(got, np.shape(ref), what)
    diff = max_abs_diff(got, ref)
    assert diff <= atol, f"{what}: max |got - ref| = {diff:.3e} > atol {atol:.1e}"


def assert_forward_close_f32(got, ref, what, atol=1e-5, rtol=1e-4):
    assert_shape(got, np.shape(ref), what)
    got64, ref = np.asarray(got, np.float64), np.asarray(ref, np.float64)
    err = np.abs(got64 - ref)
    bound = atol + rtol * np.abs(ref)
    worst = float(np.max(err - bound)) if ref.size else -1.0
    assert np.all(err <= bound), (
        f"{what}: |got - ref| exceeds {atol:.0e} + {rtol:.0e}*|ref| "
        f"(max |got - ref| = {float(np.max(err)):.3e}, worst excess {worst:.3e})")


def assert_norm_rel_close(got, ref, what, rtol=1e-4):
    assert_shape(got, np.shape(ref), what)
    got64, ref = np.asarray(got, np.float64), np.asarray(ref, np.float64)
    denom = max(float(np.linalg.norm(ref)), np.finfo(np.float64).tiny)
    rel = float(np.linalg.norm(got64 - ref)) / denom
    assert rel <= rtol, f"{what}: ||got - ref|| / ||ref|| = {rel:.3e} > {rtol:.0e}"


def assert_state_dicts_equal(a, b, what="state_dict"):
    assert sorted(a) == sorted(b), f"{what}: keys differ: {sorted(a)} vs {sorted(b)}"
    for k in a:
        assert np.array_equal(a[k], b[k]), f"{what}: {k} differs"


# ----------------------------------------------------------------------------------
# in-repo data files
# ----------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def glove_text_file(tmp_path_factory):
    """The packaged GloVe 50-d top-20k vectors as a plain GloVe text file (decompressed
    from the package's own data, so no file outside the repository is needed)."""
    import lzma
    from importlib import resources

    packed = resources.files("rustrnn.datasets").joinpath("data", "glove.6B.50d.top20k.txt.xz")
    path = tmp_path_factory.mktemp("glove") / "glove.6B.50d.top20k.txt"
    path.write_bytes(lzma.decompress(packed.read_bytes()))
    return path


def reversal_task(n=1500, t=5, seed=4):
    """A Seq2Seq task: sources of 2 to t tokens in 3..10, each target the source backwards, then EOS (2)."""
    rng = np.random.default_rng(seed)
    src = np.zeros((n, t), np.int64)
    tgt = np.zeros((n, t + 1), np.int64)
    for i in range(n):
        length = rng.integers(2, t + 1)
        s = rng.integers(3, 11, size=length)
        src[i, :length], tgt[i, :length], tgt[i, length] = s, s[::-1], 2
    return src, tgt
