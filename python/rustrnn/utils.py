"""Data helpers (Keras' ``keras.utils`` names): ``pad_sequences`` (from
:mod:`rustrnn.text`), ``to_categorical`` and ``timeseries_dataset_from_array``; ``LengthBuckets`` batches
padded sequences by length for ``fit``."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from .errors import ArgumentError
from ._length_buckets import LengthBuckets
from ._timeseries_dataset import timeseries_dataset_from_array
from .text import pad_sequences

__all__ = ["pad_sequences", "to_categorical", "PyDataset", "timeseries_dataset_from_array", "LengthBuckets"]


class PyDataset:
    """Keras' ``PyDataset``: a sequence of batches for ``fit``, ``evaluate`` and
    ``predict``. Subclasses define ``__len__`` (batches per epoch) and
    ``__getitem__(i)`` returning batch ``i`` as ``(x, y)`` or ``(x, y,
    sample_weight)``; ``on_epoch_end`` runs after each epoch (e.g. to reshuffle).

    ``workers`` threads fetch up to ``max_queue_size`` batches ahead while Rust
    trains on the current one (with the GIL released). Batches may differ in
    length T. ``use_multiprocessing=True`` is refused with an error: threads
    suffice because the compute does not hold the GIL.
    """

    def __init__(self, workers: int = 1, use_multiprocessing: bool = False, max_queue_size: int = 10) -> None:
        self.workers = workers
        self.use_multiprocessing = use_multiprocessing
        self.max_queue_size = max_queue_size

    def __len__(self) -> int:
        raise NotImplementedError("PyDataset subclasses define __len__ (the number of batches)")

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError("PyDataset subclasses define __getitem__ (batch number index)")

    def on_epoch_end(self) -> None:
        pass


def to_categorical(y: Any, num_classes: Optional[int] = None, dtype: Any = "float32") -> np.ndarray:
    """Class indices to one-hot rows (a trailing axis of ``num_classes``)."""
    y = np.asarray(y, dtype=np.int64)
    if y.size and y.min() < 0:
        raise ArgumentError("y: class indices must be non-negative")
    n = int(y.max()) + 1 if num_classes is None else int(num_classes)
    if y.size and y.max() >= n:
        raise ArgumentError(f"num_classes: {n} is too small for class index {int(y.max())}")
    return np.eye(n, dtype=dtype)[y]
