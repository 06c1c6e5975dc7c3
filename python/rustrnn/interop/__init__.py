"""Models and weights in and out of rustrnn.

- :func:`from_keras` / :func:`export_keras`: Keras 3 ``.keras`` archives in and out;
- :func:`export_onnx`: ONNX out (checked in ONNX Runtime);
- :func:`load_torch_weights`: a PyTorch model's state_dict (or .safetensors file) into a Keras-style model.

The optional dependencies (h5py, onnx) are imported only when these are called:
``pip install 'rustrnn[interop]'``."""

from .keras_in import from_keras
from .keras_out import export_keras
from .onnx_out import export_onnx
from .torch_weights import load_torch_weights, read_safetensors

__all__ = ["from_keras", "export_keras", "export_onnx", "load_torch_weights", "read_safetensors"]
