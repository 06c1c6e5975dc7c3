"""``keras.preprocessing``: ``timeseries_dataset_from_array`` and ``sequence.pad_sequences``."""

from __future__ import annotations

from typing import Any

from ...utils import timeseries_dataset_from_array
from ..._missing import missing
from . import sequence

__all__ = ["timeseries_dataset_from_array", "sequence"]


def __getattr__(name: str) -> Any:
    raise missing("keras.preprocessing", name)
