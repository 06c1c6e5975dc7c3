"""rustrnn: fast, exact RNN, LSTM and GRU for Python on the CPU, with a Rust core.

>>> import numpy as np, rustrnn
>>> lstm = rustrnn.nn.LSTM(8, 16)   # (seq, batch, feature) as in torch.nn; batch_first=True for (batch, seq, ...)
>>> out, (hn, cn) = lstm(np.zeros((10, 4, 8), np.float32))
>>> out.shape, hn.shape
((10, 4, 16), (1, 4, 16))
"""

from __future__ import annotations

from . import callbacks, datasets, distributed, layers, losses, metrics, nn, optimizers, text, timeseries, utils
from ._native import __version__
from ._native import get_num_threads as _get_num_threads
from ._native import manual_seed as _manual_seed
from ._native import set_num_threads as _set_num_threads
from .errors import ArgumentError, DTypeError, InternalError, MemoryError, ModelFileError, RustRnnError, ShapeError, StateError  # noqa: A004
from .generation import generate
from .models import Model, Sequential
from .saving import load_model, save_model
from .seq2seq import Seq2Seq

__all__ = [
    "nn",
    "datasets",
    "text",
    "timeseries",
    "layers",
    "losses",
    "metrics",
    "optimizers",
    "callbacks",
    "utils",
    "distributed",
    "Model",
    "Sequential",
    "Seq2Seq",
    "generate",
    "load_model",
    "save_model",
    "ModelFileError",
    "manual_seed",
    "set_num_threads",
    "get_num_threads",
    "RustRnnError",
    "ShapeError",
    "ArgumentError",
    "DTypeError",
    "StateError",
    "InternalError",
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


def _install_guard() -> None:
    import sys

    from . import _guard, generation, models, saving, seq2seq

    _guard.install(sys.modules[__name__], nn, layers, losses, metrics, optimizers, callbacks, text, timeseries,
                   datasets, utils, models, seq2seq, saving, generation)


_install_guard()
