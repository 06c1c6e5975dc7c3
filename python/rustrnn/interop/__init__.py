"""Weights and models from other frameworks.

- :func:`load_torch_weights`: a PyTorch model's state_dict (or .safetensors file) into a Keras-style model.
"""

from .torch_weights import load_torch_weights, read_safetensors

__all__ = ["load_torch_weights", "read_safetensors"]
