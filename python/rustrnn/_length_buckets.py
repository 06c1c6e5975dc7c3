"""``LengthBuckets``: batches of padded token sequences grouped by length, their
trailing padding cut off, so that training does not spend time on padding.

A batch of random sequences is as long as its longest one; for CMUdict's words
(3-10 letters, 1-15 phonemes) more than half of a random batch's decoder steps
are padding. Sorting each pool of ``pool`` batches by length before cutting it
into batches makes the sequences of a batch about equally long; the columns
that are padding in every row are then dropped. With masking (``mask_zero``
embeddings, masked losses) that changes no output, loss or gradient: only the
batches' composition differs from a plain shuffle. The batch order and the
pools are drawn afresh on every pass (epoch); ``seed`` makes them reproducible.
"""

from __future__ import annotations

from typing import Any, Iterator, Optional

import numpy as np

from ._checks import positive_int
from .errors import DTypeError, ShapeError

__all__ = ["LengthBuckets"]


def _lengths(name: str, a: np.ndarray) -> np.ndarray:
    """Per row: the index after its last non-zero token (0 is padding)."""
    if a.dtype.kind not in "iu":
        raise DTypeError(f"{name}: expected integer token ids (0 = padding), got dtype {a.dtype}")
    nonzero = a != 0
    return np.where(nonzero.any(axis=1), a.shape[1] - np.argmax(nonzero[:, ::-1], axis=1), 0)


class LengthBuckets:
    """Batches ``(x, y)`` for ``fit`` from padded token ids ``x`` (N, T) and
    targets ``y`` ((N, T') token ids, trimmed like ``x``, or (N, ...) per-sample
    targets, kept whole), ``batch_size`` sequences of similar length each.

    >>> model.fit(LengthBuckets(src, tgt, batch_size=128, seed=0), epochs=10)

    Sequences are sorted by length (``y``'s first, then ``x``'s) within pools of
    ``pool`` batches of a fresh permutation; the batches are then shuffled.
    ``len()`` is the number of batches per pass.
    """

    def __init__(self, x: Any, y: Any, batch_size: int = 32, pool: int = 32, seed: Optional[int] = None) -> None:
        self.x = np.asarray(x)
        self.y = np.asarray(y)
        if self.x.ndim != 2:
            raise ShapeError(f"x: expected padded token ids of shape (samples, time), got shape {self.x.shape}")
        if self.y.ndim == 0 or len(self.y) != len(self.x):
            raise ShapeError(f"y: expected {len(self.x)} targets (one per row of x), got shape {self.y.shape}")
        if len(self.x) == 0:
            raise ShapeError("x: expected at least one sequence, got 0")
        self.batch_size = positive_int("batch_size", batch_size)
        self.pool = positive_int("pool", pool)
        self._x_len = _lengths("x", self.x)
        self._trim_y = self.y.ndim == 2 and self.y.dtype.kind in "iu"
        y_len = _lengths("y", self.y) if self._trim_y else np.zeros(len(self.y), np.int64)
        self._key = y_len * (self.x.shape[1] + 1) + self._x_len
        self._y_len = y_len
        self._rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        full, rest = divmod(len(self.x), self.batch_size * self.pool)
        return full * self.pool + -(-rest // self.batch_size)

    def __iter__(self) -> Iterator[tuple]:
        perm = self._rng.permutation(len(self.x))
        chunk = self.batch_size * self.pool
        batches = []
        for start in range(0, len(perm), chunk):
            part = perm[start:start + chunk]
            part = part[np.argsort(self._key[part], kind="stable")]
            batches += [part[i:i + self.batch_size] for i in range(0, len(part), self.batch_size)]
        for k in self._rng.permutation(len(batches)):
            rows = np.sort(batches[k])
            bx = self.x[rows, :max(1, int(self._x_len[rows].max()))]
            by = self.y[rows, :max(1, int(self._y_len[rows].max()))] if self._trim_y else self.y[rows]
            yield bx, by
