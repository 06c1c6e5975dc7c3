"""Variable-length integer sequences stored flat: one array of values and one of
offsets, so that millions of short sequences cost two NumPy arrays instead of
millions of Python lists."""

from __future__ import annotations

from typing import Iterator

import numpy as np

from ..errors import ArgumentError, ShapeError

__all__ = ["RaggedSequences"]


class RaggedSequences:
    """Sequence ``i`` is ``values[offsets[i]:offsets[i + 1]]``.

    Behaves as a read-only list of 1-D arrays (``len``, indexing, iteration);
    :meth:`tolist` gives the lists of ints that ``texts_to_sequences`` returns.
    """

    __slots__ = ("values", "offsets")

    def __init__(self, values: np.ndarray, offsets: np.ndarray) -> None:
        values, offsets = np.asarray(values), np.asarray(offsets, dtype=np.int64)
        if values.ndim != 1 or offsets.ndim != 1 or len(offsets) == 0:
            raise ShapeError(f"values, offsets: expected 1-D arrays with at least one offset, "
                             f"got shapes {values.shape} and {offsets.shape}")
        if offsets[0] != 0 or offsets[-1] != len(values) or np.any(np.diff(offsets) < 0):
            raise ArgumentError("offsets: expected a non-decreasing run from 0 to len(values)")
        self.values, self.offsets = values, offsets

    def lengths(self) -> np.ndarray:
        """The length of each sequence (int64)."""
        return np.diff(self.offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> np.ndarray:
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"sequence index {i} out of range for {n} sequences")
        i %= n
        return self.values[self.offsets[i]:self.offsets[i + 1]]

    def __iter__(self) -> Iterator[np.ndarray]:
        for i in range(len(self)):
            yield self.values[self.offsets[i]:self.offsets[i + 1]]

    def tolist(self) -> list[list[int]]:
        values = self.values.tolist()
        offs = self.offsets.tolist()
        return [values[a:b] for a, b in zip(offs, offs[1:])]

    def __repr__(self) -> str:
        return f"RaggedSequences({len(self)} sequences, {len(self.values)} values)"
