"""Which file format a path means, as Keras 3 decides it by the name's ending.

- ``model.save("m.keras")`` writes a Keras 3 archive (:mod:`rustrnn.interop.keras_out`),
  ``"m.h5"``/``"m.hdf5"`` (Keras's legacy format) is refused, any other name is
  rustrnn's native file (safetensors + JSON, with the optimizer state);
- ``save_weights`` writes Keras 3's ``*.weights.h5`` (required, as in Keras);
  ``load_weights`` reads ``*.weights.h5`` and ``.keras`` archives;
- ``load_model`` (:mod:`rustrnn.saving`) reads ``.keras`` archives through
  :func:`rustrnn.interop.from_keras` and everything else as a native file.
"""

from __future__ import annotations

import os
from typing import Any

from .errors import ArgumentError, UnsupportedError

KERAS_ARCHIVE = ".keras"
KERAS_WEIGHTS = ".weights.h5"
_LEGACY_H5 = (".h5", ".hdf5")


def _name(filepath: Any) -> str:
    try:
        return os.fspath(filepath)
    except TypeError:
        raise ArgumentError(f"filepath: expected a path (str or os.PathLike), got {type(filepath).__name__}") from None


def save(model: Any, filepath: Any, include_optimizer: bool = True) -> None:
    """See :meth:`rustrnn.Model.save`."""
    path = _name(filepath)
    if path.endswith(KERAS_ARCHIVE):
        model.export_keras(path)
        return
    if path.endswith(_LEGACY_H5):
        hint = " (for weights only: save_weights)" if path.endswith(KERAS_WEIGHTS) else ""
        raise UnsupportedError(f"filepath: {path!r} asks for Keras's legacy HDF5 model format, which rustrnn does not write; "
                               f"use a .keras name for a Keras 3 archive{hint}, or another name (e.g. .rnn) for rustrnn's own file")
    from .saving import save_model

    save_model(model, path, include_optimizer=include_optimizer)


def save_weights(model: Any, filepath: Any) -> None:
    """See :meth:`rustrnn.Model.save_weights`."""
    path = _name(filepath)
    if not path.endswith(KERAS_WEIGHTS):
        raise ArgumentError(f"filepath: save_weights needs a name ending in .weights.h5, as in Keras 3, got {path!r} "
                            "(model.save writes the whole model)")
    from .interop.keras_weights import save_weights_h5

    save_weights_h5(model, path)


def load_weights(model: Any, filepath: Any) -> None:
    """See :meth:`rustrnn.Model.load_weights`."""
    path = _name(filepath)
    from .interop import keras_weights

    if path.endswith(KERAS_WEIGHTS):
        keras_weights.load_weights_h5(model, path)
    elif path.endswith(KERAS_ARCHIVE):
        keras_weights.load_weights_keras_archive(model, path)
    else:
        raise ArgumentError(f"filepath: load_weights reads .weights.h5 files and .keras archives, as in Keras 3, got {path!r} "
                            "(rustrnn's own model files: rustrnn.load_model)")

