"""Turning user series into float arrays, with errors that name the argument."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from ..errors import ArgumentError, DTypeError, ShapeError


def as_series(name: str, value: Any, ndims: tuple = (1, 2), dtype: Optional[Any] = None,
              finite: bool = True) -> np.ndarray:
    """``value`` as a float array (floating dtypes kept, integers and bools as float64)."""
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as e:
        raise DTypeError(f"{name}: expected an array of numbers, got {type(value).__name__} ({e})") from None
    if dtype is not None:
        arr = arr.astype(dtype, copy=False)
    elif arr.dtype.kind in "biu":
        arr = arr.astype(np.float64)
    if arr.dtype.kind != "f":
        raise DTypeError(f"{name}: expected numbers, got dtype {arr.dtype}")
    if arr.ndim not in ndims:
        dims = " or ".join(f"{d}-D" for d in ndims)
        raise ShapeError(f"{name}: expected a {dims} array, got shape {arr.shape}")
    if finite:
        check_finite(name, arr)
    return arr


def check_finite(name: str, arr: np.ndarray) -> None:
    bad = ~np.isfinite(arr)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        where_s = where[0] if len(where) == 1 else where
        raise ArgumentError(f"{name}: expected finite values, got {arr[where]} at index {where_s} "
                            f"({int(bad.sum())} non-finite in all; drop or interpolate them first)")
