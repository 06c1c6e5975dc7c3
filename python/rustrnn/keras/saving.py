"""``keras.saving``: ``load_model`` and ``save_model`` (the format follows the file name, as in Keras 3)."""

from __future__ import annotations

from typing import Any

from ..saving import load_model
from .._missing import missing

__all__ = ["load_model", "save_model"]


def save_model(model: Any, filepath: Any) -> None:
    """Keras 3's ``keras.saving.save_model``: :meth:`rustrnn.Model.save`."""
    model.save(filepath)


def __getattr__(name: str) -> Any:
    raise missing("keras.saving", name)
