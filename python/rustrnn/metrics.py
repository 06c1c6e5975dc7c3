"""Metric names accepted by ``compile(metrics=[...])``.

``"accuracy"`` picks binary, categorical or sparse categorical accuracy from
the loss and the number of outputs, as Keras does. All metrics are computed
in Rust, weighted by ``sample_weight`` and masked on padded steps.
"""

from __future__ import annotations

from typing import Any

from .errors import ArgumentError, DTypeError

__all__ = ["NAMES", "get"]

NAMES = ("accuracy", "acc", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
         "mae", "mean_absolute_error", "mse", "mean_squared_error")


def get(identifier: Any) -> str:
    if not isinstance(identifier, str):
        raise DTypeError(f"metrics: expected metric names (str), got {type(identifier).__name__}")
    if identifier not in NAMES:
        raise ArgumentError(f"metrics: unknown metric {identifier!r}; expected one of {', '.join(NAMES)}")
    return identifier
