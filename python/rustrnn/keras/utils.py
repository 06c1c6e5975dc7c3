"""``keras.utils``: data helpers."""

from __future__ import annotations

from typing import Any

from ..utils import PyDataset, pad_sequences, timeseries_dataset_from_array, to_categorical
from .._missing import missing

__all__ = ["PyDataset", "pad_sequences", "to_categorical", "timeseries_dataset_from_array"]


def __getattr__(name: str) -> Any:
    raise missing("keras.utils", name)
