"""Metrics accepted by ``compile(metrics=[...])``.

Names: ``"accuracy"`` picks binary, categorical or sparse categorical accuracy
from the loss and the number of outputs, as Keras does; these are computed in
Rust and masked on padded steps. As Keras 3's ``metrics`` (not its
``weighted_metrics``), they ignore ``sample_weight``. ``"auc"`` (or
:class:`AUC`) and callables ``fn(y_true, y_pred)`` are computed in Python from
each batch's predictions (see :mod:`rustrnn._pymetrics`).
"""

from __future__ import annotations

from typing import Any

from ._pymetrics import AUC, FunctionMetric, PyMetric
from .errors import ArgumentError, DTypeError

__all__ = ["NAMES", "get", "AUC"]

NAMES = ("accuracy", "acc", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
         "mae", "mean_absolute_error", "mse", "mean_squared_error")


def get(identifier: Any) -> Any:
    """A native metric's name, or a :class:`~rustrnn._pymetrics.PyMetric` (``"auc"``, an AUC, a callable)."""
    if isinstance(identifier, PyMetric):
        return identifier.fresh()
    if isinstance(identifier, str):
        if identifier.lower() == "auc":
            return AUC()
        if identifier not in NAMES:
            raise ArgumentError(f"metrics: unknown metric {identifier!r}; expected one of {', '.join(NAMES)}, 'auc' or a "
                                "callable fn(y_true, y_pred)")
        return identifier
    if callable(identifier):
        return FunctionMetric(identifier)
    raise DTypeError(f"metrics: expected metric names (str), rustrnn.metrics.AUC or callables, got {type(identifier).__name__}")
