"""The exceptions rustrnn raises.

Every error derives from :class:`RustRnnError` and from the built-in exception
a Python user would expect, so ``except ValueError`` works as well as
``except rustrnn.RustRnnError``.
"""

from __future__ import annotations

import builtins

__all__ = ["RustRnnError", "ShapeError", "ArgumentError", "DTypeError", "StateError", "InternalError", "ModelFileError"]  # MemoryError left out: a star-import must not shadow the built-in


class RustRnnError(Exception):
    """Base class of all rustrnn errors."""


class ShapeError(RustRnnError, ValueError):
    """An array argument has the wrong rank or extent."""


class ArgumentError(RustRnnError, ValueError):
    """An argument has an invalid value (out of range, unknown option, unknown key)."""


class DTypeError(RustRnnError, TypeError):
    """An argument has the wrong type or dtype."""


class StateError(RustRnnError, ValueError):
    """A call came in the wrong order, e.g. ``backward`` without a training-mode ``forward``."""


class InternalError(RustRnnError, RuntimeError):
    """A bug in rustrnn: the native code failed an internal check. Please report it."""


class ModelFileError(RustRnnError, ValueError):
    """A model file is truncated, corrupted or does not describe a valid model."""


class MemoryError(RustRnnError, builtins.MemoryError):  # noqa: A001 - the built-in's name on purpose
    """A size that cannot be allocated: raised before allocating, naming the argument and the bytes.

    Also a built-in ``MemoryError``, so ``except MemoryError`` catches it.
    """
