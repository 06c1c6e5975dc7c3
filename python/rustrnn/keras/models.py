"""``keras.models``: the model classes and loading."""

from __future__ import annotations

from typing import Any

from ..models import Model, Sequential
from ..interop.keras_in import model_from_json
from ..saving import load_model
from .._missing import missing

__all__ = ["Model", "Sequential", "load_model", "model_from_json"]


def __getattr__(name: str) -> Any:
    raise missing("keras.models", name)
