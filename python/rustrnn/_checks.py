"""Argument checks shared across the package.

Each names the argument and says what was expected and what was received.
"""

from __future__ import annotations

import operator
from typing import Any, Optional

import numpy as np

from .errors import ArgumentError, DTypeError


def as_int(name: str, value: Any, minimum: Optional[int] = None) -> int:
    """``value`` as a Python int (bools refused), at least ``minimum``."""
    if isinstance(value, (bool, np.bool_)):
        raise DTypeError(f"{name}: expected an integer, got {value!r}")
    try:
        v = operator.index(value)
    except TypeError:
        raise DTypeError(f"{name}: expected an integer, got {type(value).__name__}") from None
    if minimum is not None and v < minimum:
        raise ArgumentError(f"{name}: expected an integer >= {minimum}, got {v}")
    return v


def positive_int(name: str, value: Any) -> int:
    """``value`` as a Python int > 0 (bools refused)."""
    if isinstance(value, (bool, np.bool_)):
        raise DTypeError(f"{name}: expected a positive integer, got {value!r}")
    try:
        v = operator.index(value)
    except TypeError:
        raise DTypeError(f"{name}: expected a positive integer, got {type(value).__name__}") from None
    if v <= 0:
        raise ArgumentError(f"{name}: expected a positive integer, got {v}")
    return v


def as_bool(name: str, value: Any) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise DTypeError(f"{name}: expected True or False, got {value!r}")


def as_str(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise DTypeError(f"{name}: expected a str, got {type(value).__name__}")
    return value


def one_of(name: str, value: Any, choices: tuple) -> Any:
    if not isinstance(value, str) or value not in choices:
        expected = ", ".join(repr(c) for c in choices)
        raise ArgumentError(f"{name}: expected one of {expected}, got {value!r}")
    return value
