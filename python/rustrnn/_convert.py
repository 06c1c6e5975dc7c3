"""Turning user inputs into the arrays the native code reads.

C-contiguous arrays of the module's dtype pass through untouched (the native
code reads them in place). Other memory layouts, other floating-point dtypes
(e.g. float64 into a float32 module, float16) and nested lists are converted
once, with a copy. Integer, boolean, complex, string and object arrays are
refused with a :class:`~rustrnn.errors.DTypeError`: silently treating indices or
flags as features hides bugs.

PyTorch tensors are accepted wherever arrays are: detached and read in place
through ``Tensor.numpy()`` when on the CPU (no copy), copied to the CPU
otherwise. torch is never imported here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import ArgumentError, DTypeError, ShapeError

_FLOAT_DTYPES = {"float32": np.dtype(np.float32), "float64": np.dtype(np.float64)}


def resolve_dtype(dtype: Any) -> np.dtype:
    """``np.float32``, ``np.float64`` or their names; anything else is a ``DTypeError``."""
    try:
        dt = np.dtype(dtype)
    except Exception:  # noqa: BLE001 - NumPy raises TypeError, ValueError, even SyntaxError for odd strings
        raise DTypeError(f"dtype: expected float32 or float64, got {dtype!r}") from None
    if dt.name not in _FLOAT_DTYPES:
        raise DTypeError(f"dtype: expected float32 or float64, got {dt.name}")
    return dt


def is_torch_tensor(value: Any) -> bool:
    """True for a ``torch.Tensor`` (or ``nn.Parameter``), without importing torch."""
    module = type(value).__module__
    return (module == "torch" or module.startswith("torch.")) and hasattr(value, "detach") and hasattr(value, "numpy")


def from_torch(value: Any) -> Any:
    """A torch tensor as a NumPy array over the same memory (detached; copied only off the CPU
    or for dtypes NumPy lacks, e.g. bfloat16, which becomes float32); anything else unchanged."""
    if not is_torch_tensor(value):
        return value
    t = value.detach()
    if t.device.type != "cpu":
        t = t.cpu()
    if str(t.dtype) == "torch.bfloat16":
        t = t.float()
    return t.resolve_conj().resolve_neg().numpy()


def as_float_array(name: str, value: Any, dtype: np.dtype, ndim: int | None = None) -> np.ndarray:
    """``value`` as a C-contiguous array of ``dtype``, copying only when needed."""
    value = from_torch(value)
    if isinstance(value, np.ndarray):
        arr = value
    else:
        try:
            arr = np.asarray(value)
        except (ValueError, TypeError) as e:
            raise DTypeError(f"{name}: expected an array of numbers, got {type(value).__name__} ({e})") from None
        if arr.dtype.kind in "iu" and not isinstance(value, np.generic):
            # Python lists of ints are numbers, not indices: convert them.
            arr = arr.astype(dtype)
    if arr.dtype.kind != "f":
        raise DTypeError(f"{name}: expected a floating-point array ({dtype.name}), got dtype {arr.dtype}")
    if ndim is not None and arr.ndim != ndim:
        raise ShapeError(f"{name}: expected a {ndim}-D array, got shape {arr.shape}")
    return np.ascontiguousarray(arr, dtype=dtype)


def as_lengths(value: Any) -> list[int] | None:
    """Sequence lengths as a list of ints; ``None`` stays ``None``."""
    if value is None:
        return None
    arr = np.asarray(from_torch(value))
    if arr.dtype.kind not in "iu":
        raise DTypeError(f"lengths: expected integers, got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ShapeError(f"lengths: expected a 1-D sequence of one length per batch element, got shape {arr.shape}")
    if arr.dtype.kind == "u" and arr.size and arr.max() > np.iinfo(np.int64).max:
        raise ArgumentError("lengths: value too large")
    return [int(v) for v in arr]
