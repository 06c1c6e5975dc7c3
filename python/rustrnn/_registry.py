"""Model classes by the class name their saved architecture carries.

Each model class registers itself where it is defined, so that loading a
model file imports none of them (and no import circle ties saving to the
models)."""

from __future__ import annotations

from typing import Any, Optional

_MODELS: dict = {}


def register_model(cls: Any) -> Any:
    """Class decorator: ``cls.from_config`` rebuilds saved models of class ``cls.__name__``."""
    _MODELS[cls.__name__] = cls
    return cls


def model_class(name: Any) -> Optional[Any]:
    return _MODELS.get(name) if isinstance(name, str) else None


def model_class_names() -> list:
    return sorted(_MODELS)
