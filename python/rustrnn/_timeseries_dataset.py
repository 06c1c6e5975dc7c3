"""Keras 3's ``keras.utils.timeseries_dataset_from_array``: sliding windows over
an array as a dataset of batches that ``fit``, ``evaluate`` and ``predict`` take.

Window ``i`` starts at ``start_index + i·sequence_stride`` and holds
``sequence_length`` steps ``sampling_rate`` apart; its target is
``targets[start_index + i·sequence_stride]`` (the target of the window's first
step, as in Keras: shift the targets to forecast ahead). Windows are cut from the
data when a batch is read (nothing is copied up front).
"""

from __future__ import annotations

import math
from typing import Any, Iterator, Optional

import numpy as np

from ._convert import from_torch
from .errors import ArgumentError, ShapeError


def _count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ArgumentError(f"{name}: expected an integer, got {value!r}")
    return int(value)


class Batch(np.ndarray):
    """A NumPy array that also answers ``.numpy()``, as the tensors of Keras's
    datasets do (so that ``x.numpy()`` in a ported script works); zero-copy."""

    def numpy(self) -> np.ndarray:
        return self.view(np.ndarray)


class TimeseriesDataset:
    """Batches of windows: ``len()`` batches, ``ds[i]`` is batch ``i`` as ``(x, y)``
    (or ``x`` without targets), iteration gives them in order, ``take(n)`` the
    first ``n`` as a new dataset. A :class:`rustrnn.utils.PyDataset`-style
    sequence, so ``fit``/``evaluate``/``predict`` prefetch its batches; as a
    Keras dataset, ``fit(shuffle=True)`` does not reorder its batches."""

    # Read by rustrnn._streams: fit keeps the batches in order (Keras ignores shuffle for datasets).
    fixed_order = True

    def __init__(self, data: np.ndarray, targets: Optional[np.ndarray], starts: np.ndarray, offsets: np.ndarray,
                 batch_size: Optional[int]) -> None:
        self._data, self._targets, self._starts, self._offsets = data, targets, starts, offsets
        self._batch_size = batch_size
        self.workers, self.use_multiprocessing, self.max_queue_size = 1, False, 10

    def __len__(self) -> int:
        if self._batch_size is None:
            return len(self._starts)
        return math.ceil(len(self._starts) / self._batch_size)

    def __getitem__(self, index: int) -> Any:
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise ArgumentError(f"index: expected a batch number, got {index!r}")
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"index: batch {index} of a dataset of {n} batches")
        if self._batch_size is None:  # unbatched, as Keras with batch_size=None: single windows
            starts = self._starts[index:index + 1]
        else:
            starts = self._starts[index * self._batch_size:(index + 1) * self._batch_size]
        x = self._data[starts[:, None] + self._offsets[None, :]]
        y = None if self._targets is None else self._targets[starts]
        if self._batch_size is None:
            x = x[0]
            y = None if y is None else y[0]
        x = x.view(Batch)
        y = None if y is None else np.asarray(y).view(Batch)
        return x if y is None else (x, y)

    def __iter__(self) -> Iterator[Any]:
        for i in range(len(self)):
            yield self[i]

    def take(self, count: int) -> "TimeseriesDataset":
        """The first ``count`` batches (all of them when ``count`` is -1), as tf.data's ``take``."""
        count = _count("count", count)
        if count < -1:
            raise ArgumentError(f"count: expected a number of batches >= 0 (or -1 for all), got {count}")
        n = len(self) if count == -1 else min(count, len(self))
        per = 1 if self._batch_size is None else self._batch_size
        return TimeseriesDataset(self._data, self._targets, self._starts[:n * per], self._offsets, self._batch_size)

    def __repr__(self) -> str:
        return f"TimeseriesDataset({len(self._starts)} windows, {len(self)} batches)"


def timeseries_dataset_from_array(data: Any, targets: Any, sequence_length: int, sequence_stride: int = 1,
                                  sampling_rate: int = 1, batch_size: Optional[int] = 128, shuffle: bool = False,
                                  seed: Optional[int] = None, start_index: Optional[int] = None,
                                  end_index: Optional[int] = None) -> TimeseriesDataset:
    """Keras 3's function (same arguments, same windows and targets, same checks);
    returns a :class:`TimeseriesDataset`. ``shuffle=True`` permutes the windows
    as Keras's first step does (``np.random.RandomState(seed)``); Keras then
    shuffles again in its data backend (tf.data or Grain), so the order of
    shuffled windows differs from Keras's while the windows are the same."""
    data = np.asarray(from_torch(data))
    if data.ndim == 0:
        raise ShapeError(f"data: expected an array with a time axis first, got a scalar")
    if targets is not None:
        targets = np.asarray(from_torch(targets))
    sequence_length = _count("sequence_length", sequence_length)
    sequence_stride = _count("sequence_stride", sequence_stride)
    sampling_rate = _count("sampling_rate", sampling_rate)
    # Keras' checks, in its order and with its meaning of 0 as "not given" for the indices.
    if start_index:
        start_index = _count("start_index", start_index)
        if start_index < 0:
            raise ArgumentError(f"start_index: expected a positive integer, got {start_index}")
        if start_index >= len(data):
            raise ArgumentError(f"start_index: expected lower than the data length ({len(data)}), got {start_index}")
    if end_index:
        end_index = _count("end_index", end_index)
        if start_index and end_index <= start_index:
            raise ArgumentError(f"end_index: expected higher than start_index ({start_index}), got {end_index}")
        if end_index >= len(data):
            raise ArgumentError(f"end_index: expected lower than the data length ({len(data)}), got {end_index}")
        if end_index <= 0:
            raise ArgumentError(f"end_index: expected a positive integer, got {end_index}")
    if sampling_rate <= 0:
        raise ArgumentError(f"sampling_rate: expected a positive integer, got {sampling_rate}")
    if sampling_rate >= len(data):
        raise ArgumentError(f"sampling_rate: expected lower than the data length ({len(data)}), got {sampling_rate}")
    if sequence_stride <= 0:
        raise ArgumentError(f"sequence_stride: expected a positive integer, got {sequence_stride}")
    if sequence_stride >= len(data):
        raise ArgumentError(f"sequence_stride: expected lower than the data length ({len(data)}), got {sequence_stride}")
    if sequence_length <= 0:
        raise ArgumentError(f"sequence_length: expected a positive integer, got {sequence_length}")
    if batch_size is not None:
        batch_size = _count("batch_size", batch_size)
        if batch_size <= 0:
            raise ArgumentError(f"batch_size: expected a positive integer or None, got {batch_size}")
    start = start_index or 0
    end = end_index or len(data)
    num_seqs = end - start - (sequence_length - 1) * sampling_rate
    if targets is not None:
        num_seqs = min(num_seqs, len(targets))
    starts = np.arange(0, max(num_seqs, 0), sequence_stride, dtype=np.int64)
    if shuffle:
        if seed is None:
            seed = np.random.randint(1e6)
        np.random.RandomState(seed).shuffle(starts)
    # Windows index the data from start_index on (Keras slices data[start:end] and targets[start:]).
    starts = starts + start
    offsets = np.arange(sequence_length, dtype=np.int64) * sampling_rate
    return TimeseriesDataset(data, targets, starts, offsets, batch_size)
