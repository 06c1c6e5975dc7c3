"""The public API's promise that every error is a :class:`RustRnnError`.

Argument checks raise rustrnn's own exceptions; this is the safety net for
what slips past them (a NumPy ``TypeError`` deep in a conversion, an
``OverflowError`` from an int too large for the native side, a native panic).
:func:`install` wraps the public functions and methods of the package so that
such an error is re-raised as a class that derives from both the matching
rustrnn error and the original class: ``except ValueError`` and ``except
rustrnn.RustRnnError`` both still work. Only built-in and NumPy exceptions are
converted: a user's own exception (from a callback) passes through as it is. A native panic (pyo3's
``PanicException``, a ``BaseException``) becomes :class:`InternalError`.
Environment errors (``OSError``: a missing file, a full disk) and control flow
(``KeyboardInterrupt``, ``StopIteration``) pass through unchanged.
"""

from __future__ import annotations

import builtins
import functools
import inspect
from types import ModuleType
from typing import Any, Callable

from .errors import ArgumentError, DTypeError, InternalError, RustRnnError
from .errors import MemoryError as AllocationError

# Everything else an argument can provoke (SyntaxError from NumPy's dtype parser, RuntimeError, ...)
# is converted too; OSError and iteration control pass through (see _convert).
_CONVERTED = (Exception, builtins.MemoryError)
_combined: dict = {}


def _rust_class(exc: BaseException) -> type:
    """A class deriving from the right rustrnn error and from ``type(exc)``."""
    original = type(exc)
    if original not in _combined:
        base = (AllocationError if isinstance(exc, builtins.MemoryError) else
                DTypeError if isinstance(exc, TypeError) else ArgumentError)
        try:
            cls = type(original.__name__, (base, original), {"__module__": "rustrnn.errors"})
            cls(str(exc))  # some built-ins (UnicodeDecodeError) need other arguments
        except Exception:  # noqa: BLE001 - a layout conflict or a constructor of its own
            cls = base
        _combined[original] = cls
    return _combined[original]


def _convert(exc: BaseException) -> BaseException | None:
    if isinstance(exc, (RustRnnError, OSError, StopIteration, StopAsyncIteration)):
        return None
    if type(exc).__name__ == "PanicException":
        return InternalError(f"internal error in rustrnn (please report it): {exc}")
    if isinstance(exc, _CONVERTED) and _from_python_or_numpy(exc):
        return _rust_class(exc)(str(exc))
    return None


def _from_python_or_numpy(exc: BaseException) -> bool:
    """Built-in and NumPy exceptions are converted; a user's own (raised by a callback
    or a custom loss inside ``fit``) passes through unchanged."""
    module = type(exc).__module__ or ""
    return module == "builtins" or module.split(".")[0] == "numpy"


def guard(f: Callable) -> Callable:
    """``f`` with every escaping error converted (see the module's docstring)."""
    if getattr(f, "_rustrnn_guarded", False):
        return f

    @functools.wraps(f)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return f(*args, **kwargs)
        except BaseException as exc:
            new = _convert(exc)
            if new is None:
                raise
            raise new.with_traceback(exc.__traceback__) from None

    guarded._rustrnn_guarded = True  # type: ignore[attr-defined]
    return guarded


def _guard_class(cls: type) -> None:
    for name, attr in list(vars(cls).items()):
        if name.startswith("_") and name not in ("__init__", "__call__"):
            continue
        if isinstance(attr, staticmethod):
            setattr(cls, name, staticmethod(guard(attr.__func__)))
        elif isinstance(attr, classmethod):
            setattr(cls, name, classmethod(guard(attr.__func__)))
        elif isinstance(attr, property):
            setattr(cls, name, property(attr.fget and guard(attr.fget), attr.fset and guard(attr.fset), attr.fdel, attr.__doc__))
        elif inspect.isfunction(attr):
            setattr(cls, name, guard(attr))


def install(*modules: ModuleType) -> None:
    """Guards the public functions and classes (``__all__``, defined in the
    package) of each module, once."""
    done: set = set()
    for module in modules:
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name, None)
            if not (getattr(obj, "__module__", "") or "").startswith("rustrnn"):
                continue
            if inspect.isclass(obj) and not issubclass(obj, BaseException):
                for cls in obj.__mro__:  # with the package's base classes, where most methods live
                    if cls not in done and (cls.__module__ or "").startswith("rustrnn"):
                        done.add(cls)
                        _guard_class(cls)
            elif inspect.isfunction(obj):
                setattr(module, name, guard(obj))
