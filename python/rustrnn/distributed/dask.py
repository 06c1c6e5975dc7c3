"""Batch inference on a Dask cluster: the model travels to the workers pickled
(its weights as safetensors bytes) and predicts each partition there."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ArgumentError, DTypeError, StateError

__all__ = ["predict_dask"]


def _predict_block(block: np.ndarray, model: Any, batch_size: int, tail: tuple) -> np.ndarray:
    if len(block) == 0:
        return np.zeros((0,) + tail, dtype=model.dtype)
    return model.predict(block, batch_size=batch_size)


def _predict_partition(items: list, model: Any, batch_size: int) -> list:
    items = list(items)
    if not items:
        return []
    return list(model.predict(np.stack([np.asarray(i) for i in items]), batch_size=batch_size))


def predict_dask(model: Any, data: Any, batch_size: int = 256) -> Any:
    """Lazily predicts every row of a Dask array (chunked along the first axis
    only) or every item of a Dask bag (each item one sample of equal shape).
    Returns a Dask array (or bag) of outputs; call ``.compute()`` on it.

    The model is sent to each worker once (as a pickled rustrnn model).
    """
    try:
        import dask
        import dask.array as da
        import dask.bag as db
    except ImportError:
        raise StateError("predict_dask: needs dask; pip install 'dask[distributed]'") from None
    from ..models import Sequential

    if not isinstance(model, Sequential):
        raise DTypeError(f"model: expected a rustrnn.Sequential, got {type(model).__name__}")
    model._require_built("predict_dask")
    delayed_model = dask.delayed(model, traverse=False)
    if isinstance(data, da.Array):
        if any(len(c) > 1 for c in data.chunks[1:]):
            raise ArgumentError(f"data: chunk along the first axis only (got chunks {data.chunks}); use data.rechunk({{1: -1, 2: -1}})")
        x0 = np.zeros((1,) + data.shape[1:], dtype=data.dtype)
        tail = tuple(model.predict(x0).shape[1:])
        blocks = data.to_delayed().reshape(-1)
        parts = [da.from_delayed(dask.delayed(_predict_block)(b, delayed_model, batch_size, tail), shape=(n,) + tail, dtype=model.dtype)
                 for b, n in zip(blocks, data.chunks[0])]
        return da.concatenate(parts)
    if isinstance(data, db.Bag):
        return data.map_partitions(_predict_partition, delayed_model, batch_size)
    raise DTypeError(f"data: expected a dask.array.Array or dask.bag.Bag, got {type(data).__name__}")
