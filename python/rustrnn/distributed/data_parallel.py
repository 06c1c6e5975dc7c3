"""Data-parallel training on MPI: every process (rank) holds a replica of the
model; each global batch is split across the ranks, each rank runs forward and
backpropagation through time natively on its share, and one allreduce of one
flat buffer sums what the ranks computed:

    [ Σ gradient of the summed loss | Σ loss | Σ count | Σ metric, Σ weight ... | ranks with data ]

Rust writes the gradients straight into that NumPy buffer and the optimizer
reads them from it in place; the step divides by the global count, so the
average is weighted by samples and every rank takes the same optimizer step
as one process would on the whole batch.
"""

from __future__ import annotations

import time
from typing import Any, Optional

import numpy as np

from .. import _native
from ..errors import ArgumentError, StateError

__all__ = ["DataParallel"]


def _mpi() -> Any:
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise StateError("DataParallel: needs mpi4py and an MPI library; install them with pip install 'rustrnn[mpi]' "
                         f"(mpi4py and the mpich wheel) and run under mpiexec -n N ({e})") from None
    return MPI


class DataParallel:
    """Pass as ``model.fit(..., distribution=DataParallel())`` on every rank of
    ``mpiexec -n N python train.py``.

    With the same data, ``batch_size`` and ``seed`` on every rank, the ranks
    end with identical weights, equal to one process's (up to rounding of the
    sums). Arrays: each rank holds the data and takes a contiguous share of
    every global batch of ``batch_size``. Generators and datasets: batch ``i``
    goes to rank ``i % N`` and a global step joins one batch per rank. Only
    rank 0 prints progress and runs ``ModelCheckpoint``/``CSVLogger``; every
    callback and ``History`` sees the global loss and metrics.

    ``comm`` defaults to ``MPI.COMM_WORLD``. ``allreduce_seconds`` and
    ``steps`` accumulate the time spent in the gradient allreduce.
    """

    def __init__(self, comm: Any = None) -> None:
        mpi = _mpi()
        self._mpi = mpi
        self.comm = mpi.COMM_WORLD if comm is None else comm
        if not hasattr(self.comm, "Allreduce"):
            raise ArgumentError(f"comm: expected an mpi4py communicator, got {type(comm).__name__}")
        self.rank = int(self.comm.Get_rank())
        self.size = int(self.comm.Get_size())
        self.allreduce_seconds = 0.0
        self.steps = 0
        self._buf: Optional[np.ndarray] = None

    @property
    def is_chief(self) -> bool:
        """Whether this is rank 0 (which prints and writes files)."""
        return self.rank == 0

    # ----- start of training ----------------------------------------------------------------------
    def agree_seed(self, seed: Optional[int]) -> int:
        """Rank 0's seed (drawn there if None), for the same shuffling everywhere."""
        if seed is None and self.rank == 0:
            seed = _native.next_seed()
        return self.comm.bcast(seed, root=0)

    def broadcast_weights(self, model: Any) -> None:
        """Checks that every rank has the same model and gives all rank 0's weights."""
        sizes = self.comm.allgather((model._handle.flat_size(), model.dtype.name, model.optimizer.iterations))
        if len(set(sizes)) != 1:
            raise StateError(f"DataParallel: the ranks' models differ (parameters, dtype, optimizer steps per rank: {sizes}); "
                             "build and compile the same model on every rank")
        weights = model.get_weights()
        for w in weights:
            self.comm.Bcast(w, root=0)
        model.set_weights(weights)

    # ----- steps ----------------------------------------------------------------------------------
    def train_step(self, model: Any, batch: Optional[tuple]) -> Optional[tuple]:
        """One global optimizer step from this rank's share ``(x, y, sample_weight)``
        (None: no data here this step). Returns the global ``(Σ loss, count,
        [(Σ metric, Σ weight)])``, or None when no rank had data."""
        p = model._handle.flat_size()
        m = len(model.metrics_names)
        n = p + 2 + 2 * m + 1
        if self._buf is None or self._buf.shape != (n,) or self._buf.dtype != model.dtype:
            self._buf = np.empty(n, dtype=model.dtype)
        buf = self._buf
        if batch is not None:
            x, y, sw = batch
            loss_sum, count, metrics, _ = model._handle.gradients_into(x, y, buf[:p], sw, True)
            buf[p:p + 2] = (loss_sum, count)
            buf[p + 2:n - 1] = np.asarray(metrics, dtype=np.float64).reshape(-1) if m else []
            buf[n - 1] = 1
        else:
            buf[:] = 0
        t0 = time.perf_counter()
        self.comm.Allreduce(self._mpi.IN_PLACE, buf, op=self._mpi.SUM)
        self.allreduce_seconds += time.perf_counter() - t0
        self.steps += 1
        if buf[n - 1] == 0:
            return None
        count = float(buf[p + 1])
        # As one process: the gradient of the mean over the valid rows (zero if none).
        model._handle.apply_flat(buf[:p], 1.0 / count if count > 0 else 0.0)
        pairs = buf[p + 2:n - 1].astype(np.float64).reshape(m, 2)
        return float(buf[p]), count, [(float(a), float(b)) for a, b in pairs]

    def reduce_totals(self, totals: list, num_metrics: int) -> list:
        """Sums evaluation totals ``[Σ loss, count, [[Σ metric, Σ weight]]]`` over the ranks."""
        pairs = totals[2] or [[0.0, 0.0]] * num_metrics
        flat = np.array([totals[0], totals[1]] + [v for pair in pairs for v in pair], dtype=np.float64)
        self.comm.Allreduce(self._mpi.IN_PLACE, flat, op=self._mpi.SUM)
        return [float(flat[0]), float(flat[1]), [[float(a), float(b)] for a, b in flat[2:].reshape(-1, 2)]]
