"""Data helpers: padding ragged sequences for an ``Embedding(mask_zero=True)``."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from .errors import ArgumentError

__all__ = ["pad_sequences", "to_categorical"]


def pad_sequences(sequences: Any, maxlen: Optional[int] = None, dtype: Any = "int64", padding: str = "pre",
                  truncating: str = "pre", value: int = 0) -> np.ndarray:
    """Ragged lists of token ids to a ``(N, maxlen)`` array, as Keras' function:
    ``padding``/``truncating`` ``"pre"`` (left, the default) or ``"post"``."""
    for name, v in (("padding", padding), ("truncating", truncating)):
        if v not in ("pre", "post"):
            raise ArgumentError(f"{name}: expected 'pre' or 'post', got {v!r}")
    seqs = [list(s) for s in sequences]
    if maxlen is None:
        maxlen = max((len(s) for s in seqs), default=0)
    out = np.full((len(seqs), maxlen), value, dtype=dtype)
    for i, s in enumerate(seqs):
        if not s or maxlen == 0:
            continue
        s = s[-maxlen:] if truncating == "pre" else s[:maxlen]
        if padding == "post":
            out[i, :len(s)] = s
        else:
            out[i, -len(s):] = s
    return out


def to_categorical(y: Any, num_classes: Optional[int] = None, dtype: Any = "float32") -> np.ndarray:
    """Class indices to one-hot rows (a trailing axis of ``num_classes``)."""
    y = np.asarray(y, dtype=np.int64)
    if y.size and y.min() < 0:
        raise ArgumentError("y: class indices must be non-negative")
    n = int(y.max()) + 1 if num_classes is None else int(num_classes)
    if y.size and y.max() >= n:
        raise ArgumentError(f"num_classes: {n} is too small for class index {int(y.max())}")
    return np.eye(n, dtype=dtype)[y]
