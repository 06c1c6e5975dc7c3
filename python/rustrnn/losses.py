"""Loss functions, by name or as objects (for ``from_logits``).

Cross-entropies are fused with a final sigmoid/softmax ``Dense`` layer (they
read its pre-activation), so they are exact and never overflow. Losses
average over valid rows: samples, or the unpadded steps of a sequence output.
"""

from __future__ import annotations

from typing import Any

from ._checks import as_bool
from .errors import ArgumentError, DTypeError, UnsupportedError

__all__ = ["Loss", "BinaryCrossentropy", "CategoricalCrossentropy", "SparseCategoricalCrossentropy",
           "MeanSquaredError", "MeanAbsoluteError", "Huber", "get"]

ALIASES = {
    "binary_crossentropy": "binary_crossentropy", "bce": "binary_crossentropy",
    "categorical_crossentropy": "categorical_crossentropy", "cce": "categorical_crossentropy",
    "sparse_categorical_crossentropy": "sparse_categorical_crossentropy",
    "mse": "mse", "mean_squared_error": "mse", "mae": "mae", "mean_absolute_error": "mae",
    "huber": "huber",
}


class Loss:
    name = ""
    label_smoothing = 0.0

    def __init__(self, from_logits: bool = False) -> None:
        self.from_logits = as_bool("from_logits", from_logits)

    def spec(self) -> dict:
        spec = {"name": self.name, "from_logits": self.from_logits}
        if self.label_smoothing:
            spec["label_smoothing"] = self.label_smoothing
        return spec

    def __repr__(self) -> str:
        smoothing = f", label_smoothing={self.label_smoothing}" if self.label_smoothing else ""
        return f"{type(self).__name__}(from_logits={self.from_logits}{smoothing})"


class _Smoothed(Loss):
    """A cross-entropy whose targets may be smoothed toward the uniform distribution."""

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0) -> None:
        super().__init__(from_logits)
        if isinstance(label_smoothing, bool) or not isinstance(label_smoothing, (int, float)) or not 0 <= label_smoothing <= 1:
            raise ArgumentError(f"label_smoothing: expected a number in [0, 1], got {label_smoothing!r}")
        self.label_smoothing = float(label_smoothing)


class BinaryCrossentropy(_Smoothed):
    """Keras' ``BinaryCrossentropy``; ``label_smoothing=s`` trains on ``y·(1 - s) + s/2``."""

    name = "binary_crossentropy"


class CategoricalCrossentropy(_Smoothed):
    """Keras' ``CategoricalCrossentropy``; ``label_smoothing=s`` trains on ``y·(1 - s) + s/C`` for C classes."""

    name = "categorical_crossentropy"


class SparseCategoricalCrossentropy(_Smoothed):
    """Keras' ``SparseCategoricalCrossentropy`` (class indices). ``label_smoothing=s``, which Keras' sparse
    loss lacks, is PyTorch's ``CrossEntropyLoss(label_smoothing=s)``: the one-hot target becomes
    ``onehot·(1 - s) + s/C`` for C classes."""

    name = "sparse_categorical_crossentropy"


class MeanSquaredError(Loss):
    name = "mse"

    def __init__(self) -> None:
        super().__init__(False)


class MeanAbsoluteError(Loss):
    name = "mae"

    def __init__(self) -> None:
        super().__init__(False)


class Huber(Loss):
    """Keras' ``Huber``: per output ``0.5·d²`` where ``|d| <= delta``, else
    ``delta·(|d| - 0.5·delta)``, averaged over the outputs; native, with its gradient.
    Only Keras' default ``delta=1.0`` is implemented (another raises)."""

    name = "huber"

    def __init__(self, delta: float = 1.0) -> None:
        super().__init__(False)
        if float(delta) != 1.0:
            raise UnsupportedError(f"delta: rustrnn's Huber loss has Keras' default delta=1.0 only, got {delta}")
        self.delta = 1.0


_BY_NAME = {c.name: c for c in (BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy, MeanSquaredError,
                                MeanAbsoluteError, Huber)}


def get(identifier: Any) -> Loss:
    """A loss from a name (``"mse"``), a spec dict or an instance."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, dict):
        loss = get(identifier.get("name"))
        smoothing = identifier.get("label_smoothing", 0.0)
        if smoothing:
            if not isinstance(loss, _Smoothed):
                raise ArgumentError(f"label_smoothing: only cross-entropy losses smooth their labels, not {loss.name}")
            return type(loss)(from_logits=bool(identifier.get("from_logits")), label_smoothing=smoothing)
        if identifier.get("from_logits"):
            loss = type(loss)(from_logits=True)
        return loss
    if isinstance(identifier, str):
        name = ALIASES.get(identifier.lower())
        if name is None:
            raise ArgumentError(f"loss: expected one of {', '.join(sorted(set(ALIASES)))}, got {identifier!r}")
        return _BY_NAME[name]()
    if callable(identifier):
        # Keras differentiates a custom loss with its backend; rustrnn trains on native losses only.
        raise UnsupportedError(f"loss: a callable loss ({getattr(identifier, '__name__', type(identifier).__name__)}) cannot be "
                               f"differentiated by rustrnn's native training; use one of {', '.join(sorted(set(ALIASES)))} "
                               "(a callable is accepted as a metric: compile(metrics=[fn]))")
    raise DTypeError(f"loss: expected a name or a rustrnn.losses.Loss, got {type(identifier).__name__}")
