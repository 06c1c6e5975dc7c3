"""The error for a Keras name rustrnn does not implement."""

from __future__ import annotations

from .errors import UnsupportedError


class MissingKerasName(UnsupportedError, AttributeError):
    """A Keras name that rustrnn does not implement (also an ``AttributeError``, so
    ``hasattr`` and ``getattr(..., default)`` keep working)."""


def missing(module: str, name: str) -> MissingKerasName:
    if name.startswith("__"):  # dunder lookups (pickle, inspect) are not Keras names
        return MissingKerasName(f"module {module!r} has no attribute {name!r}")
    return MissingKerasName(f"{module}.{name} is a Keras name that rustrnn does not implement")
