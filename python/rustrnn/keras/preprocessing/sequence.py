"""``keras.preprocessing.sequence``: ``pad_sequences``."""

from __future__ import annotations

from typing import Any

from ...utils import pad_sequences
from ..._missing import missing

__all__ = ["pad_sequences"]


def __getattr__(name: str) -> Any:
    raise missing("keras.preprocessing.sequence", name)
