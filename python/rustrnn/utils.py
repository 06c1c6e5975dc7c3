"""Data helpers (Keras' ``keras.utils`` names): ``pad_sequences`` (from
:mod:`rustrnn.text`) and ``to_categorical``."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from .errors import ArgumentError
from .text import pad_sequences

__all__ = ["pad_sequences", "to_categorical"]


def to_categorical(y: Any, num_classes: Optional[int] = None, dtype: Any = "float32") -> np.ndarray:
    """Class indices to one-hot rows (a trailing axis of ``num_classes``)."""
    y = np.asarray(y, dtype=np.int64)
    if y.size and y.min() < 0:
        raise ArgumentError("y: class indices must be non-negative")
    n = int(y.max()) + 1 if num_classes is None else int(num_classes)
    if y.size and y.max() >= n:
        raise ArgumentError(f"num_classes: {n} is too small for class index {int(y.max())}")
    return np.eye(n, dtype=dtype)[y]
