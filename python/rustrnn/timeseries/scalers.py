"""Per-feature scaling fitted on training data and undone on predictions.

Features are the last axis of a 2-D or higher array, so one scaler fitted on a
``(T, F)`` series also scales ``(N, lookback, F)`` windows. A scaler fitted on a
1-D series (one feature) applies to arrays of any shape, such as ``(N, horizon)``
predictions. A constant feature gets scale 1, so it never divides by zero.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from ..errors import ArgumentError, ShapeError, StateError
from ._arrays import as_series

__all__ = ["MinMaxScaler", "StandardScaler"]

_ANY = (1, 2, 3, 4, 5)


class _Scaler:
    """``x_scaled = x * scale_ + offset_``, per feature."""

    n_features_: Optional[int] = None

    def _stats(self, data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def fit(self, x: Any) -> "_Scaler":
        arr = as_series("x", x, ndims=_ANY)
        data = arr.reshape(-1, 1) if arr.ndim == 1 else arr.reshape(-1, arr.shape[-1])
        if len(data) == 0:
            raise ShapeError(f"x: expected at least one sample to fit on, got shape {arr.shape}")
        self._scale, self._offset = self._stats(data.astype(np.float64))
        self.n_features_ = data.shape[1]
        return self

    def _check(self, name: str, x: Any) -> np.ndarray:
        if self.n_features_ is None:
            raise StateError(f"{type(self).__name__}: call fit before {name}")
        arr = as_series("x", x, ndims=_ANY, finite=False)
        if self.n_features_ > 1 and (arr.ndim < 2 or arr.shape[-1] != self.n_features_):
            raise ShapeError(f"x: expected {self.n_features_} features on the last axis, got shape {arr.shape}")
        return arr

    def _cast(self, arr: np.ndarray, values: np.ndarray) -> np.ndarray:
        return values.astype(arr.dtype, copy=False)

    def transform(self, x: Any) -> np.ndarray:
        arr = self._check("transform", x)
        return self._cast(arr, arr * self._scale + self._offset)

    def inverse_transform(self, x: Any) -> np.ndarray:
        arr = self._check("inverse_transform", x)
        return self._cast(arr, (arr - self._offset) / self._scale)

    def fit_transform(self, x: Any) -> np.ndarray:
        return self.fit(x).transform(x)


class MinMaxScaler(_Scaler):
    """Maps each feature's training range onto ``feature_range`` (default ``(0, 1)``)."""

    def __init__(self, feature_range: tuple = (0.0, 1.0)) -> None:
        try:
            lo, hi = (float(v) for v in feature_range)
        except (TypeError, ValueError):
            raise ArgumentError(f"feature_range: expected a pair (min, max), got {feature_range!r}") from None
        if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
            raise ArgumentError(f"feature_range: expected finite min < max, got {feature_range!r}")
        self.feature_range = (lo, hi)

    def _stats(self, data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.data_min_, self.data_max_ = data.min(axis=0), data.max(axis=0)
        span = self.data_max_ - self.data_min_
        lo, hi = self.feature_range
        scale = (hi - lo) / np.where(span == 0, hi - lo, span)
        return scale, lo - self.data_min_ * scale


class StandardScaler(_Scaler):
    """Centres each feature on its training mean and divides by its standard deviation."""

    def _stats(self, data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.mean_ = data.mean(axis=0)
        std = data.std(axis=0)
        self.scale_ = np.where(std == 0, 1.0, std)
        return 1.0 / self.scale_, -self.mean_ / self.scale_
