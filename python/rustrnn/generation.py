"""Text generation (one-to-many) from a trained ``Embedding → RNN → Dense`` model."""

from __future__ import annotations

import operator
from typing import Any, Optional

import numpy as np

from . import _native
from .errors import ArgumentError, DTypeError, ShapeError

__all__ = ["generate"]


def generate(model: Any, seed_ids: Any, length: int, temperature: float = 1.0, top_k: Optional[int] = None,
             seed: Optional[int] = None) -> np.ndarray:
    """Samples ``length`` token ids after ``seed_ids``, feeding each sample back in.

    The recurrent state is carried step by step in Rust (single-token
    matrix-vector products, no Python per step). ``seed_ids`` is 1-D (one
    prompt; returns ``(length,)``) or 2-D ``(B, S)`` (returns ``(B, length)``).
    ``temperature`` divides the logits (0 = greedy argmax); ``top_k`` keeps
    only the k most likely tokens; ``seed`` fixes the draws (default: the
    ``manual_seed`` sequence).
    """
    if not callable(getattr(model, "_generate_ids", None)):
        raise DTypeError(f"model: expected a rustrnn.Sequential, got {type(model).__name__}")
    ids = np.asarray(seed_ids)
    if ids.dtype.kind not in "iu":
        raise DTypeError(f"seed_ids: expected integer token ids, got dtype {ids.dtype}")
    if ids.ndim not in (1, 2) or ids.size == 0:
        raise ShapeError(f"seed_ids: expected a non-empty 1-D prompt or a 2-D batch (B, S) of prompts, got shape {ids.shape}")
    length = operator.index(length)
    if length < 0:
        raise ArgumentError(f"length: expected a non-negative number of tokens, got {length}")
    if top_k is not None:
        top_k = operator.index(top_k)
        if top_k <= 0:
            raise ArgumentError(f"top_k: expected a positive integer or None, got {top_k}")
    temperature = float(temperature)
    if not temperature >= 0.0:
        raise ArgumentError(f"temperature: expected a value >= 0 (0 = greedy), got {temperature}")
    batch = np.ascontiguousarray(np.atleast_2d(ids), dtype=np.int64)
    seed = _native.next_seed() if seed is None else operator.index(seed) & 0xFFFF_FFFF_FFFF_FFFF
    out = model._generate_ids(batch, length, temperature, top_k, seed)
    return out[0] if ids.ndim == 1 else out
