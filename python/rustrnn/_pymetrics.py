"""Metrics computed in Python from each batch's predictions, as Keras computes
them: a callable ``fn(y_true, y_pred)`` (Keras's ``MeanMetricWrapper``: the
weighted mean over all samples of its per-sample values) and ``AUC`` (Keras's
``keras.metrics.AUC``: ROC curve, evenly spaced thresholds, interpolation).

These need the model's output, so a model with any of them runs one inference
forward pass per batch besides the native step; in ``fit`` it runs before the
optimizer update, on the same weights as the training step (as Keras), but
without dropout (Keras uses the training output, dropout included).
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np

from ._checks import as_bool
from .errors import ArgumentError, DTypeError, UnsupportedError


class PyMetric:
    """A stateful metric: ``reset_state``, ``update_state(y_true, y_pred, sample_weight)``, ``result``."""

    name = ""

    def fresh(self) -> "PyMetric":
        """An empty copy with the same settings (one per epoch or evaluation)."""
        raise NotImplementedError

    def reset_state(self) -> None:
        raise NotImplementedError

    def update_state(self, y_true: np.ndarray, y_pred: np.ndarray, sample_weight: Optional[np.ndarray] = None) -> None:
        raise NotImplementedError

    def result(self) -> float:
        raise NotImplementedError


def _match_rank(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    # Keras squeezes or expands a trailing 1 so that y_true has y_pred's rank.
    if y_true.ndim == y_pred.ndim - 1 and y_pred.shape[-1] == 1:
        return y_true[..., None]
    if y_true.ndim == y_pred.ndim + 1 and y_true.shape[-1] == 1:
        return y_true[..., 0]
    return y_true


class FunctionMetric(PyMetric):
    """``fn(y_true, y_pred)`` (NumPy arrays in, values out) averaged as Keras's
    ``MeanMetricWrapper``: per-sample means, weighted by ``sample_weight``."""

    def __init__(self, fn: Callable, name: Optional[str] = None) -> None:
        if not callable(fn):
            raise DTypeError(f"metrics: expected a callable fn(y_true, y_pred), got {type(fn).__name__}")
        self.fn = fn
        self.name = name or getattr(fn, "__name__", type(fn).__name__)
        self.reset_state()

    def fresh(self) -> "FunctionMetric":
        return FunctionMetric(self.fn, self.name)

    def reset_state(self) -> None:
        self.total, self.count = 0.0, 0.0

    def update_state(self, y_true: np.ndarray, y_pred: np.ndarray, sample_weight: Optional[np.ndarray] = None) -> None:
        values = np.asarray(self.fn(_match_rank(y_true, y_pred), y_pred), dtype=np.float64)
        if sample_weight is not None:
            w = np.asarray(sample_weight, dtype=np.float64)
            if values.ndim > w.ndim:
                values = values.mean(axis=tuple(range(w.ndim, values.ndim)))
            w = np.broadcast_to(w, values.shape) if values.ndim >= w.ndim else w
            values = np.broadcast_to(values, w.shape) * w
            if w.ndim > 1:
                w = w.mean(axis=tuple(range(1, w.ndim)))
        if values.ndim > 1:
            values = values.mean(axis=tuple(range(1, values.ndim)))
        self.total += float(values.sum())
        if sample_weight is not None:
            self.count += float(w.sum())
        else:
            self.count += values.shape[0] if values.ndim >= 1 else 1

    def result(self) -> float:
        return self.total / self.count if self.count else 0.0


class AUC(PyMetric):
    """Keras 3's ``keras.metrics.AUC`` with its defaults: area under the ROC curve
    from ``num_thresholds`` (200) evenly spaced thresholds, trapezoids between them
    (``summation_method="interpolation"``), labels and predictions flattened.
    ``from_logits=True`` applies a sigmoid first. The PR curve, other summation
    methods, explicit ``thresholds`` and ``multi_label`` are not implemented (they raise)."""

    def __init__(self, num_thresholds: int = 200, curve: str = "ROC", summation_method: str = "interpolation",
                 name: Optional[str] = None, dtype: Any = None, thresholds: Any = None, multi_label: bool = False,
                 num_labels: Optional[int] = None, label_weights: Any = None, from_logits: bool = False) -> None:
        if isinstance(num_thresholds, bool) or not isinstance(num_thresholds, (int, np.integer)) or num_thresholds <= 1:
            raise ArgumentError(f"num_thresholds: expected an integer > 1, got {num_thresholds!r}")
        for arg, value, default in (("curve", curve, "ROC"), ("summation_method", summation_method, "interpolation")):
            if str(value).upper() != default.upper():
                raise UnsupportedError(f"{arg}: rustrnn's AUC implements {arg}={default!r} only, got {value!r}")
        for arg, value in (("thresholds", thresholds), ("num_labels", num_labels), ("label_weights", label_weights)):
            if value is not None:
                raise UnsupportedError(f"{arg}: not implemented by rustrnn's AUC (evenly spaced thresholds, one label set)")
        if as_bool("multi_label", multi_label):
            raise UnsupportedError("multi_label: rustrnn's AUC flattens labels (multi_label=False) only")
        self.num_thresholds = int(num_thresholds)
        self.from_logits = as_bool("from_logits", from_logits)
        self.name = name or "auc"
        self.reset_state()

    def fresh(self) -> "AUC":
        return AUC(self.num_thresholds, name=self.name, from_logits=self.from_logits)

    def reset_state(self) -> None:
        # Per threshold: true and false positives; and the label totals.
        self.tp = np.zeros(self.num_thresholds)
        self.fp = np.zeros(self.num_thresholds)
        self.pos = 0.0
        self.neg = 0.0

    def update_state(self, y_true: np.ndarray, y_pred: np.ndarray, sample_weight: Optional[np.ndarray] = None) -> None:
        y_true = _match_rank(np.asarray(y_true), np.asarray(y_pred))
        p = np.asarray(y_pred, dtype=np.float64)
        if self.from_logits:
            p = 1.0 / (1.0 + np.exp(-p))
        if y_true.shape != p.shape:
            raise ArgumentError(f"auc: y_true of shape {y_true.shape} does not match the predictions' {p.shape}")
        w = np.ones(p.shape) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        if w.ndim < p.ndim:
            w = w.reshape(w.shape + (1,) * (p.ndim - w.ndim))
        w = np.broadcast_to(w, p.shape).reshape(-1)
        t = (y_true.reshape(-1) != 0).astype(np.float64)
        p = np.clip(p.reshape(-1), 0.0, 1.0)
        # Keras's bucketing: a prediction counts as positive at the thresholds up to
        # bucket ceil(p·(n-1)) - 1 (the first and last thresholds are 0-ε and 1+ε).
        bucket = np.maximum(np.ceil(p * (self.num_thresholds - 1)) - 1, 0).astype(np.int64)
        tp_bucket = np.bincount(bucket, weights=t * w, minlength=self.num_thresholds)
        fp_bucket = np.bincount(bucket, weights=(1.0 - t) * w, minlength=self.num_thresholds)
        self.tp += np.cumsum(tp_bucket[::-1])[::-1]
        self.fp += np.cumsum(fp_bucket[::-1])[::-1]
        self.pos += float((t * w).sum())
        self.neg += float(((1.0 - t) * w).sum())

    def result(self) -> float:
        fn = self.pos - self.tp
        tn = self.neg - self.fp
        with np.errstate(divide="ignore", invalid="ignore"):
            recall = np.where(self.tp + fn > 0, self.tp / (self.tp + fn), 0.0)
            fp_rate = np.where(self.fp + tn > 0, self.fp / (self.fp + tn), 0.0)
        heights = (recall[:-1] + recall[1:]) / 2.0
        return float(np.sum((fp_rate[:-1] - fp_rate[1:]) * heights))
