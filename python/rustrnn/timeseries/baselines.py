"""Baselines a forecasting model has to beat, and the errors to compare them by."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._checks import as_int
from ..errors import ArgumentError, ShapeError
from ._arrays import as_series

__all__ = ["seasonal_naive_forecast", "seasonal_naive_windows", "rmse", "mae"]


def seasonal_naive_forecast(series: Any, season: int, horizon: int) -> np.ndarray:
    """The next ``horizon`` values of ``series`` ((T,) or (T, F)), each predicted
    as the value one ``season`` earlier: ``forecast[k] = series[T - season + k % season]``.

    ``season=1`` is the plain naive forecast (repeat the last value).
    """
    arr = as_series("series", series)
    season = as_int("season", season, minimum=1)
    horizon = as_int("horizon", horizon, minimum=1)
    if season > len(arr):
        raise ArgumentError(f"season: expected at most the series length {len(arr)}, got {season}")
    steps = len(arr) - season + np.arange(horizon) % season
    return arr[steps].copy()


def seasonal_naive_windows(x: Any, season: int, horizon: int) -> np.ndarray:
    """The seasonal naive forecast of every window of :func:`sliding_windows`.

    ``x`` is ``(N, lookback, F)``; returns ``(N, horizon)`` when ``F == 1`` (the
    shape of ``y`` for a 1-D series), else ``(N, horizon, F)``.
    """
    arr = as_series("x", x, ndims=(3,))
    season = as_int("season", season, minimum=1)
    horizon = as_int("horizon", horizon, minimum=1)
    lookback = arr.shape[1]
    if season > lookback:
        raise ArgumentError(f"season: expected at most the window length (lookback) {lookback}, got {season}")
    out = arr[:, lookback - season + np.arange(horizon) % season]
    return out[..., 0] if arr.shape[2] == 1 else out


def _pair(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    t = as_series("y_true", y_true, ndims=(0, 1, 2, 3, 4), dtype=np.float64, finite=False)
    p = as_series("y_pred", y_pred, ndims=(0, 1, 2, 3, 4), dtype=np.float64, finite=False)
    if t.shape != p.shape:
        raise ShapeError(f"y_pred: expected the shape of y_true {t.shape}, got {p.shape}")
    if t.size == 0:
        raise ShapeError("y_true: expected at least one value, got an empty array")
    return t, p


def rmse(y_true: Any, y_pred: Any) -> float:
    """Root mean squared error over all values."""
    t, p = _pair(y_true, y_pred)
    return float(np.sqrt(np.mean((t - p) ** 2)))


def mae(y_true: Any, y_pred: Any) -> float:
    """Mean absolute error over all values."""
    t, p = _pair(y_true, y_pred)
    return float(np.mean(np.abs(t - p)))
