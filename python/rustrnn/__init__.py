"""rustrnn: fast, exact RNN, LSTM and GRU for Python on the CPU, with a Rust core.

>>> import numpy as np, rustrnn
>>> lstm = rustrnn.nn.LSTM(8, 16)   # (seq, batch, feature) as in torch.nn; batch_first=True for (batch, seq, ...)
>>> out, (hn, cn) = lstm(np.zeros((10, 4, 8), np.float32))
>>> out.shape, hn.shape
((10, 4, 16), (1, 4, 16))
"""

from __future__ import annotations

from . import callbacks, datasets, distributed, initializers, interop, layers, losses, metrics, nn, optimizers, text, timeseries, utils
from ._native import __version__
from ._native import _isa_notice
from ._native import get_flush_denormal as _get_flush_denormal
from ._native import get_isa as _get_isa
from ._native import get_num_threads as _get_num_threads
from ._native import manual_seed as _manual_seed
from ._native import set_flush_denormal as _set_flush_denormal
from ._native import set_num_threads as _set_num_threads
from .errors import ArgumentError, DTypeError, InternalError, MemoryError, ModelFileError, RustRnnError, ShapeError, StateError, UnsupportedError  # noqa: A004
from .generation import generate
from .models import Model, Sequential
from .functional import Functional, Input
from .saving import load_model, save_model
from .seq2seq import Seq2Seq, Seq2SeqEnsemble, Seq2SeqReranker

__all__ = [
    "nn",
    "datasets",
    "text",
    "timeseries",
    "layers",
    "initializers",
    "losses",
    "metrics",
    "optimizers",
    "callbacks",
    "utils",
    "distributed",
    "Model",
    "Sequential",
    "Functional",
    "Input",
    "Seq2Seq",
    "Seq2SeqEnsemble",
    "Seq2SeqReranker",
    "generate",
    "load_model",
    "save_model",
    "ModelFileError",
    "manual_seed",
    "set_num_threads",
    "get_num_threads",
    "set_flush_denormal",
    "get_flush_denormal",
    "get_isa",
    "RustRnnError",
    "ShapeError",
    "ArgumentError",
    "DTypeError",
    "StateError",
    "InternalError",
    "UnsupportedError",
    "interop",
    "__version__",
]


def manual_seed(seed: int) -> None:
    """Makes everything created or run afterwards reproducible bit for bit on the
    same machine: initialization, shuffling and dropout in ``fit``, sampling."""
    from ._checks import as_int

    _manual_seed(as_int("seed", seed) & 0xFFFF_FFFF_FFFF_FFFF)


def set_num_threads(n: int) -> None:
    """Sets the number of compute threads (default: ``RUSTRNN_NUM_THREADS`` or all cores)."""
    from ._checks import as_int

    n = as_int("n", n)
    if not 1 <= n <= 1024:
        raise ArgumentError(f"n: expected a number of threads in 1..1024, got {n}")
    _set_num_threads(n)


def get_num_threads() -> int:
    """The number of compute threads."""
    return int(_get_num_threads())


def set_flush_denormal(on: bool) -> None:
    """Whether rustrnn computes with subnormal floats flushed to zero (default ``True``).

    Gradients that flow back through many gates shrink into subnormals, which
    Intel CPUs process 10-100x slower; like ``torch.set_flush_denormal(True)``,
    rustrnn flushes them to zero while it computes (FTZ+DAZ on x86_64, FZ on
    aarch64), in its worker threads and in the calling thread, whose own
    floating-point state is restored before the call returns (NumPy is not
    affected). ``False`` gives strict IEEE gradual underflow, bit for bit, at
    the cost of those stalls on Intel.
    """
    import numpy as np

    if not isinstance(on, (bool, np.bool_)):
        raise DTypeError(f"on: expected True or False, got {type(on).__name__} {on!r}")
    _set_flush_denormal(bool(on))


def get_flush_denormal() -> bool:
    """Whether rustrnn flushes subnormal floats to zero while it computes."""
    return bool(_get_flush_denormal())


def get_isa() -> str:
    """The instruction set rustrnn's kernels use: ``"avx512"``, ``"avx2"`` (AVX2+FMA) or
    ``"portable"``. The best the CPU supports is chosen at import; the environment
    variable ``RUSTRNN_ISA=portable|avx2|avx512`` (set before import) forces a path."""
    return str(_get_isa())


def _warn_isa_notice() -> None:
    notice = _isa_notice()  # also makes the choice (and AVX-512's self-check) now
    if notice:
        import warnings

        warnings.warn(f"rustrnn: {notice}", RuntimeWarning, stacklevel=3)


_warn_isa_notice()


def _install_guard() -> None:
    import sys

    from . import _guard, generation, models, saving, seq2seq

    _guard.install(sys.modules[__name__], nn, layers, losses, metrics, optimizers, callbacks, text, timeseries,
                   datasets, utils, models, seq2seq, saving, generation, distributed)


_install_guard()
