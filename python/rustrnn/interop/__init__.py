"""Models in and out of rustrnn: Keras 3 ``.keras`` archives in
(:func:`from_keras`) and out (:func:`export_keras`), ONNX out
(:func:`export_onnx`). The optional dependencies (h5py, onnx) are imported
only when these are called: ``pip install 'rustrnn[interop]'``."""

from .keras_in import from_keras
from .keras_out import export_keras
from .onnx_out import export_onnx

__all__ = ["from_keras", "export_keras", "export_onnx"]
