"""Keras 3 weights files (``*.weights.h5``) out and in: :func:`save_weights_h5`
writes the layout of Keras 3's ``model.save_weights`` (the ``model.weights.h5``
of a ``.keras`` archive, written by :mod:`rustrnn.interop.keras_out`), and
:func:`load_weights_h5` reads such a file — rustrnn's or Keras's, for the layers
:mod:`rustrnn.interop.keras_in` supports — into a built model.

As in Keras, weights are matched by the model's structure, not by layer names:
the i-th Keras layer of a class is the group ``layers/<class>_<i>``. Every
group's array count and shapes are checked before anything is set. What is not
in the file: the optimizer state (Keras writes and reads it too; rustrnn's
:meth:`~rustrnn.Model.save` keeps it).
"""

from __future__ import annotations

import io
import os
from typing import Any

import numpy as np

from .._files import atomic_write
from ..errors import ModelFileError, ShapeError
from .keras_in import keras_recurrent_to_torch
from .keras_out import _h5py, keras_layout, weight_keys, write_weights_h5


def save_weights_h5(model: Any, path: Any) -> None:
    """See :meth:`rustrnn.Model.save_weights`."""
    h5py = _h5py()
    _, out = keras_layout(model, "save_weights")
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        write_weights_h5(f, model.name, out, dtype=model.dtype)
    atomic_write(os.fspath(path), buf.getvalue())


def _read_group(f: Any, path: str, key: str, sub: str, expected: list) -> list:
    where = f"layers/{key}/{sub}"
    if where not in f and not expected:
        return []  # a layer without weights (Dropout, ...)
    if where not in f:
        raise ModelFileError(f"{path}: no group {where!r}; the file's layers are {sorted(f['layers'])} "
                             "(weights are matched by the model's structure, as in Keras)")
    g = f[where]
    if len(g) != len(expected):
        raise ModelFileError(f"{path}: {where} holds {len(g)} arrays, the model's layer has {len(expected)}")
    arrays = []
    for i, want in enumerate(expected):
        a = np.asarray(g[str(i)])
        if a.shape != np.shape(want):
            raise ShapeError(f"{path}: {where}/{i} has shape {a.shape}, the model expects {np.shape(want)}")
        arrays.append(a)
    return arrays


def _recurrent(name: str, cls: str, units: int, k: int, reset_after: bool, vs: list, sfx: str) -> dict:
    w = keras_recurrent_to_torch(cls, units, vs, reset_after, f"_l{k}{sfx}")
    return {f"{name}/{key}": v for key, v in w.items()}


def _has_arrays(group: Any) -> bool:
    found: list = []
    group.visititems(lambda _name, obj: found.append(obj) if hasattr(obj, "shape") else None)
    return bool(found)


def read_weights_h5(model: Any, f: Any, path: str) -> dict:
    """rustrnn's named weights of ``model`` from the open Keras weights file ``f``."""
    _, out = keras_layout(model, "load_weights")
    if "layers" not in f:
        raise ModelFileError(f"{path}: not a Keras 3 weights file (no 'layers' group)")
    keys = weight_keys(out)
    # Keras writes an empty group for each InputLayer of a functional model.
    extra = sorted(k for k in set(f["layers"]) - set(keys) if not (k.startswith("input_layer") and not _has_arrays(f["layers"][k])))
    if extra:
        raise ModelFileError(f"{path}: the file has weights for layers {extra} that the model does not have "
                             f"(the model's: {keys})")
    weights: dict = {}
    for key, (_, _, groups), source in zip(keys, out.weights, out.sources):
        got = {sub: _read_group(f, path, key, sub, arrays) for sub, arrays in groups.items()}
        if not source:
            continue
        kind, name = source[0], source[1]
        if kind == "embedding":
            weights[f"{name}/embeddings"] = got["vars"][0]
        elif kind == "named":  # the same arrays in both: {group: [rustrnn names]}
            for sub, keys in source[2].items():
                weights.update(zip(keys, got[sub]))
        elif kind == "dense":
            weights[f"{name}/kernel"] = got["vars"][0]
            if source[2]:
                weights[f"{name}/bias"] = got["vars"][1]
        else:
            _, name, cls, units, k, reset_after = source
            if "cell/vars" in got:
                weights.update(_recurrent(name, cls, units, k, reset_after, got["cell/vars"], ""))
            else:
                weights.update(_recurrent(name, cls, units, k, reset_after, got["forward_layer/cell/vars"], ""))
                weights.update(_recurrent(name, cls, units, k, reset_after, got["backward_layer/cell/vars"], "_reverse"))
    return weights


def load_weights_h5(model: Any, path: Any) -> None:
    """See :meth:`rustrnn.Model.load_weights`."""
    h5py = _h5py()
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"load_weights: no file {path!r}")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ModelFileError(f"{path}: not an HDF5 weights file: {e}") from None
    with f:
        weights = read_weights_h5(model, f, path)
    model._set_named_weights(weights)


def load_weights_keras_archive(model: Any, path: Any) -> None:
    """The weights of a ``.keras`` archive (its ``model.weights.h5``) into ``model``."""
    import zipfile

    h5py = _h5py()
    path = os.fspath(path)
    try:
        with zipfile.ZipFile(path) as z:
            data = z.read("model.weights.h5")
    except (zipfile.BadZipFile, KeyError) as e:
        raise ModelFileError(f"{path}: not a Keras 3 .keras archive: {e}") from None
    with h5py.File(io.BytesIO(data), "r") as f:
        weights = read_weights_h5(model, f, path)
    model._set_named_weights(weights)
