# Type stubs for the compiled module rustrnn._native (crates/rustrnn-py).
# tests/test_stubs.py checks that these names match the compiled module.
from typing import Optional, Sequence

import numpy as np

__version__: str

def manual_seed(seed: int) -> None: ...
def set_num_threads(threads: int) -> None: ...
def get_num_threads() -> int: ...

class RecurrentHandle:
    training: bool
    def __init__(
        self,
        cell: str,
        input_size: int,
        hidden_size: int,
        num_layers: int,
        bidirectional: bool,
        bias: bool,
        batch_first: bool,
        nonlinearity: str,
        dtype: str,
        seed: Optional[int] = None,
    ) -> None: ...
    def forward(
        self,
        x: np.ndarray,
        h0: Optional[np.ndarray] = None,
        c0: Optional[np.ndarray] = None,
        lengths: Optional[Sequence[int]] = None,
    ) -> tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]: ...
    def backward(
        self,
        dout: Optional[np.ndarray] = None,
        dhn: Optional[np.ndarray] = None,
        dcn: Optional[np.ndarray] = None,
    ) -> tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]: ...
    def param_names(self) -> list[str]: ...
    def get_param(self, name: str) -> np.ndarray: ...
    def get_grad(self, name: str) -> np.ndarray: ...
    def set_param(self, name: str, value: np.ndarray) -> None: ...
    def zero_grad(self) -> None: ...
    def num_parameters(self) -> int: ...
