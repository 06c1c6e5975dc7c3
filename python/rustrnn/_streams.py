"""Batches from something other than in-memory arrays: a
:class:`rustrnn.utils.PyDataset`-style sequence (``__len__``, ``__getitem__``,
optional ``on_epoch_end``) or a generator/iterable of ``(x, y[, sample_weight])``
batches.

Batches are fetched ahead in background threads (a bounded queue, so memory
stays flat in the size of the data) while Rust trains on the current one.
Under data-parallel training each process takes its share of the batches:
batch ``i`` goes to rank ``i % size``.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterator, Optional

import numpy as np

from .errors import ArgumentError, DTypeError

# Kinds of data sources.
SEQUENCE = "sequence"  # __len__ + __getitem__ (a PyDataset or Keras Sequence)
ITERATOR = "iterator"  # a generator or other one-shot iterator
ITERABLE = "iterable"  # iter() gives a fresh pass each epoch (a DataLoader, ...)


def stream_kind(x: Any) -> Optional[str]:
    """The kind of batch source ``x`` is, or None for array data."""
    if x is None or isinstance(x, (np.ndarray, list, tuple, dict, str, bytes, bytearray, memoryview)):
        return None
    if hasattr(x, "__array__") or hasattr(x, "__array_interface__") or hasattr(x, "__array_struct__"):
        return None
    if hasattr(x, "__getitem__") and hasattr(x, "__len__"):
        return SEQUENCE
    if hasattr(x, "__next__"):
        return ITERATOR
    if hasattr(x, "__iter__"):
        return ITERABLE
    return None


def reject_stream(arg: str, x: Any, where: str) -> None:
    """Raises a clear error where a batch source is not accepted (instead of
    NumPy trying to turn it into an array, which never ends for a sequence)."""
    kind = stream_kind(x)
    if kind is not None:
        raise ArgumentError(f"{arg}: {where} takes arrays; got a {kind} of batches ({type(x).__name__}), which only "
                            f"fit, evaluate and Sequential.predict accept")


def unpack(item: Any, what: str, need_y: bool) -> tuple:
    """``(x, y, sample_weight)`` of one batch (y and sample_weight may be None)."""
    if isinstance(item, (tuple, list)) and 1 <= len(item) <= 3:
        parts = tuple(item) + (None,) * (3 - len(item))
        if need_y and parts[1] is None:
            raise DTypeError(f"{what}: expected each batch as a tuple (x, y) or (x, y, sample_weight), got a tuple of {len(item)}")
        return parts
    if not need_y and (isinstance(item, np.ndarray) or hasattr(item, "__array__")):
        return item, None, None
    expected = "(x, y) or (x, y, sample_weight)" if need_y else "x, (x,), (x, y) or (x, y, sample_weight)"
    raise DTypeError(f"{what}: expected each batch as {expected}, got {type(item).__name__}")


def _ordered_prefetch(fetch: Callable[[int], Any], indices: Iterator[int], workers: int, depth: int) -> Iterator[Any]:
    """``fetch(i)`` for each index, in order, ``depth`` ahead on ``workers`` threads."""
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rustrnn-prefetch") as pool:
        pending: deque = deque(pool.submit(fetch, i) for i in itertools.islice(indices, depth))
        try:
            while pending:
                item = pending.popleft().result()
                for i in itertools.islice(indices, 1):
                    pending.append(pool.submit(fetch, i))
                yield item
        finally:
            for f in pending:
                f.cancel()


class _IteratorPrefetch:
    """Pulls items of a one-shot iterator ahead on one background thread, for
    the whole of a ``fit`` (so that no item is lost between epochs)."""

    _END = object()

    def __init__(self, it: Iterator[Any], depth: int) -> None:
        self._it = it
        self._q: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rustrnn-prefetch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for item in self._it:
                while not self._stop.is_set():
                    try:
                        self._q.put(("item", item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if self._stop.is_set():
                    return
            self._put(("end", None))
        except BaseException as e:  # noqa: BLE001 - handed to the consumer
            self._put(("error", e))

    def _put(self, msg: tuple) -> None:
        while not self._stop.is_set():
            try:
                self._q.put(msg, timeout=0.1)
                return
            except queue.Full:
                continue

    def next(self) -> Any:
        """The next item, or ``_END`` once the iterator is exhausted."""
        kind, value = self._q.get()
        if kind == "item":
            return value
        self._q.put((kind, value))  # later calls see the end (or error) again
        if kind == "error":
            raise value
        return self._END

    def close(self) -> None:
        self._stop.set()


class BatchSource:
    """One pass (epoch) at a time over a batch source, with prefetching and,
    under data parallelism, this rank's share of the batches."""

    def __init__(self, x: Any, kind: str, steps: Optional[int], shuffle: bool, rank: int = 0, size: int = 1,
                 arg: str = "x") -> None:
        self.x, self.kind, self.rank, self.size, self.arg = x, kind, rank, size, arg
        # A dataset that says its batches have a fixed order (a Keras-style dataset) is not shuffled.
        self.shuffle = shuffle and kind == SEQUENCE and not getattr(x, "fixed_order", False)
        self._iter: Optional[_IteratorPrefetch] = None
        if kind == SEQUENCE:
            self.workers = int(getattr(x, "workers", 1) or 1)
            self.depth = int(getattr(x, "max_queue_size", 10) or 10)
            if getattr(x, "use_multiprocessing", False):
                raise ArgumentError(f"{arg}: use_multiprocessing=True is not supported; batches are prefetched by "
                                    f"{self.workers} thread(s) (set workers=...) while Rust computes with the GIL released")
            if self.workers < 1 or self.depth < 1:
                raise ArgumentError(f"{arg}: workers and max_queue_size must be positive, got {self.workers} and {self.depth}")
            n = len(x)
            if n == 0:
                raise ArgumentError(f"{arg}: the dataset has no batches (len() == 0)")
            self.length = n
        else:
            self.workers, self.depth, self.length = 1, 10, None
            if kind == ITERABLE and hasattr(x, "__len__"):
                self.length = len(x)
        if steps is not None:
            if not isinstance(steps, (int, np.integer)) or isinstance(steps, bool) or steps < 1:
                raise ArgumentError(f"steps: expected a positive integer, got {steps!r}")
            steps = int(steps)
        # Batches of the source per epoch (None: until the data ends), and the
        # global steps they make, each joining one batch per rank.
        self.items = steps if steps is not None else self.length
        self.steps = None if self.items is None else -(-self.items // size)

    def _indices(self, rng: np.random.Generator) -> np.ndarray:
        order = rng.permutation(self.length) if self.shuffle else np.arange(self.length)
        if self.items > self.length:
            raise ArgumentError(f"steps_per_epoch: {self.items} is more than the {self.length} batches of the dataset")
        return order[:self.items]

    def epoch(self, rng: np.random.Generator) -> Iterator[Any]:
        """This rank's raw batches of one epoch."""
        if self.kind == SEQUENCE:
            mine = self._indices(rng)[self.rank::self.size]
            return _ordered_prefetch(self.x.__getitem__, iter(mine.tolist()), self.workers, self.depth)
        if self.kind == ITERABLE:  # a fresh pass each epoch
            return self._from_iterator(_IteratorPrefetch(iter(self.x), self.depth), self.items, close=True)
        if self._iter is None:  # one iterator for the whole fit, `steps` batches an epoch
            self._iter = _IteratorPrefetch(self.x, self.depth)
        return self._from_iterator(self._iter, self.items, close=False)

    def _from_iterator(self, pf: _IteratorPrefetch, steps: Optional[int], close: bool) -> Iterator[Any]:
        try:
            taken = 0
            while steps is None or taken < steps:
                item = pf.next()
                if item is _IteratorPrefetch._END:
                    return
                if taken % self.size == self.rank:
                    yield item
                taken += 1
        finally:
            if close:
                pf.close()

    def end_epoch(self) -> None:
        if self.kind == SEQUENCE and hasattr(self.x, "on_epoch_end"):
            self.x.on_epoch_end()

    def close(self) -> None:
        if self._iter is not None:
            self._iter.close()
            self._iter = None
