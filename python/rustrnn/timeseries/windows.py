"""Supervised samples from a series: sliding windows, and a split that keeps time order."""

from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np

from .._checks import as_int
from ..errors import ArgumentError, DTypeError, ShapeError
from ._arrays import as_series

__all__ = ["sliding_windows", "train_test_split_by_time"]


def sliding_windows(
    series: Any,
    lookback: int,
    horizon: int = 1,
    stride: int = 1,
    target: Optional[int] = None,
    dtype: Optional[Any] = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Cuts a series into (input window, following values) pairs.

    ``series`` is ``(T,)`` or ``(T, F)``. Sample ``i`` starts at ``t = i * stride``:
    ``X[i] = series[t : t + lookback]`` and ``y[i] = series[t + lookback : t + lookback + horizon]``.

    Returns ``X`` of shape ``(N, lookback, F)`` (``F = 1`` for a 1-D series: the
    layout recurrent layers read) and ``y`` of shape ``(N, horizon)`` for a 1-D
    series or a ``target`` column, else ``(N, horizon, F)``;
    ``N = (T - lookback - horizon) // stride + 1``. Floating dtypes are kept
    (integers become float64) unless ``dtype`` is given. The arrays are copies.
    """
    arr = as_series("series", series, dtype=dtype)
    lookback = as_int("lookback", lookback, minimum=1)
    horizon = as_int("horizon", horizon, minimum=1)
    stride = as_int("stride", stride, minimum=1)
    data = arr[:, None] if arr.ndim == 1 else arr
    steps, features = data.shape
    if target is not None:
        target = as_int("target", target)
        if not -features <= target < features:
            raise ArgumentError(f"target: expected a column index in [{-features}, {features}), got {target}")
    if lookback + horizon > steps:
        raise ArgumentError(f"lookback + horizon: expected at most the series length {steps}, "
                            f"got {lookback} + {horizon} = {lookback + horizon}")
    n = (steps - lookback - horizon) // stride + 1
    starts = np.arange(n) * stride
    x = data[starts[:, None] + np.arange(lookback)]
    y = data[starts[:, None] + lookback + np.arange(horizon)]
    if arr.ndim == 1:
        y = y[..., 0]
    elif target is not None:
        y = y[..., target]
    return x, y


def train_test_split_by_time(*arrays: Any, test_size: Any = 0.2) -> list[np.ndarray]:
    """Splits arrays along their first axis into the earlier part and the last
    ``test_size`` items (no shuffling: the test set is the future).

    ``test_size`` is a count (int) or a fraction in (0, 1) (rounded up). Returns
    ``[a_train, a_test, b_train, b_test, ...]`` as scikit-learn does, e.g.
    ``train, test = train_test_split_by_time(series)`` or
    ``X_tr, X_te, y_tr, y_te = train_test_split_by_time(X, y, test_size=24)``.
    """
    if not arrays:
        raise ArgumentError("arrays: expected at least one array to split")
    arrs = [np.asarray(a) for a in arrays]
    for k, a in enumerate(arrs):
        if a.ndim == 0:
            raise ShapeError(f"arrays[{k}]: expected an array with a time axis, got a scalar")
    n = len(arrs[0])
    for k, a in enumerate(arrs[1:], start=1):
        if len(a) != n:
            raise ShapeError(f"arrays[{k}]: expected {n} items like arrays[0], got {len(a)}")
    if isinstance(test_size, (float, np.floating)):
        if not 0.0 < test_size < 1.0:
            raise ArgumentError(f"test_size: expected a fraction in (0, 1) or a count, got {test_size}")
        n_test = math.ceil(test_size * n)
    elif isinstance(test_size, bool):
        raise DTypeError(f"test_size: expected a count or a fraction, got {test_size!r}")
    else:
        n_test = as_int("test_size", test_size, minimum=1)
    if not 0 < n_test < n:
        raise ArgumentError(f"test_size: expected to leave both parts non-empty, got {n_test} test items of {n}")
    out = []
    for a in arrs:
        out += [a[: n - n_test], a[n - n_test:]]
    return out
