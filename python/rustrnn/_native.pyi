# Type stubs for the compiled module rustrnn._native (crates/rustrnn-py).
# tests/test_stubs.py checks that these names match the compiled module.
from typing import Optional, Sequence, Union

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

# ----- text (crates/rustrnn-py/src/text.rs) -----
_Texts = Sequence[Union[str, Sequence[str]]]

def text_tokenize(texts: _Texts, filters: str, lower: bool, split: str, char_level: bool) -> list[list[str]]: ...
def text_count(
    texts: _Texts, filters: str, lower: bool, split: str, char_level: bool
) -> tuple[list[str], list[int], list[int], int]: ...

class TextEncoder:
    def __init__(self, word_index: dict[str, int]) -> None: ...
    def encode(
        self,
        texts: _Texts,
        filters: str,
        lower: bool,
        split: str,
        char_level: bool,
        num_words: Optional[int] = None,
        oov_index: Optional[int] = None,
    ) -> list[list[int]]: ...
    def encode_flat(
        self,
        texts: _Texts,
        filters: str,
        lower: bool,
        split: str,
        char_level: bool,
        num_words: Optional[int] = None,
        oov_index: Optional[int] = None,
    ) -> tuple[np.ndarray, np.ndarray]: ...

def vectors_parse_text(
    block: bytes, dim: int, max_rows: Optional[int] = None, first_line: int = 1, at_eof: bool = True
) -> tuple[list[str], np.ndarray, int, int]: ...
def vectors_parse_binary(
    block: bytes, dim: int, max_rows: Optional[int] = None, first_row: int = 1, at_eof: bool = True
) -> tuple[list[str], np.ndarray, int, int]: ...
