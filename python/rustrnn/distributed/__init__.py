"""More than one process or machine.

- :class:`DataParallel`: ``model.fit(..., distribution=DataParallel())`` under
  ``mpiexec -n N python train.py`` (MPI through mpi4py; ``pip install
  'rustrnn[mpi]'`` brings mpi4py and the MPICH wheel).
- :func:`predict_dask`: batch inference of a Dask array or bag on a Dask cluster.
"""

from .dask import predict_dask
from .data_parallel import DataParallel
from .text import TextPredictor

__all__ = ["DataParallel", "predict_dask", "TextPredictor"]
