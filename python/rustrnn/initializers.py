"""Keras 3's weight initializers (``keras.initializers``) for the recurrent layers'
``kernel_initializer``, ``recurrent_initializer`` and ``bias_initializer``.

An initializer is a name (``"glorot_uniform"``) or one of these objects
(``GlorotUniform(seed=1)``); the layer stores it as Keras serializes it and the
Rust core draws the weights when the model is built (same formulas and
distributions as Keras; rustrnn's random stream, reproducible under
:func:`rustrnn.manual_seed`, or under the initializer's own ``seed``).
Called as Keras's are, ``GlorotUniform()((3, 4))``, an initializer returns a NumPy
array drawn with the same formulas.
"""

from __future__ import annotations

import operator
from typing import Any, Optional

import numpy as np

from .errors import ArgumentError, DTypeError, UnsupportedError

__all__ = [
    "Initializer", "Zeros", "Ones", "Constant", "RandomUniform", "RandomNormal", "TruncatedNormal", "VarianceScaling",
    "GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal", "LecunUniform", "LecunNormal", "Orthogonal", "Identity",
    "get", "serialize",
]


class Initializer:
    """Base class: a Keras class name and its config."""

    def __init__(self, **config: Any) -> None:
        self._config = config

    def get_config(self) -> dict:
        return dict(self._config)

    @classmethod
    def from_config(cls, config: dict) -> "Initializer":
        return cls(**config)

    def __call__(self, shape: Any, dtype: Any = None) -> np.ndarray:
        """A NumPy array of ``shape`` drawn as Keras draws it (fans from the last two axes,
        receptive field from the others); ``dtype`` defaults to float32. Reproducible under
        :func:`rustrnn.manual_seed`, or under ``seed``."""
        shape = _shape(shape)
        seed = self._config.get("seed")
        if seed is None:
            from . import _native

            seed = _native.next_seed()
        out = self._draw(shape, np.random.default_rng(seed))
        return np.asarray(out, dtype=np.float32 if dtype is None else np.dtype(dtype))

    def _draw(self, shape: tuple, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def __eq__(self, other: Any) -> bool:
        return type(self) is type(other) and self._config == other._config

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self._config.items())})"


def _seed(seed: Any) -> Optional[int]:
    if seed is None:
        return None
    if isinstance(seed, (bool, np.bool_)):
        raise DTypeError(f"seed: expected a non-negative integer or None, got {seed!r}")
    try:
        s = operator.index(seed)
    except TypeError:
        raise DTypeError(f"seed: expected a non-negative integer or None, got {type(seed).__name__}") from None
    if s < 0:
        raise ArgumentError(f"seed: expected a non-negative integer or None, got {s}")
    return s


def _shape(shape: Any) -> tuple:
    try:
        dims = tuple(operator.index(d) for d in shape)
    except TypeError:
        raise DTypeError(f"shape: expected a tuple of non-negative integers, got {shape!r}") from None
    if any(d < 0 for d in dims):
        raise ArgumentError(f"shape: expected non-negative sizes, got {dims}")
    return dims


def _fans(shape: tuple) -> tuple:
    """Keras's ``compute_fans``."""
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    return shape[-2] * receptive, shape[-1] * receptive


def _truncated(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    """A unit normal redrawn outside ±2."""
    out = rng.standard_normal(shape)
    bad = np.abs(out) > 2
    while bad.any():
        out[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(out) > 2
    return out


def _number(name: str, value: Any) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise DTypeError(f"{name}: expected a number, got {type(value).__name__}")
    if not np.isfinite(value):
        raise ArgumentError(f"{name}: expected a finite number, got {value}")
    return float(value)


class Zeros(Initializer):
    def __init__(self) -> None:
        super().__init__()

    def _draw(self, shape: tuple, rng: np.random.Generator) -> np.ndarray:
        return np.zeros(shape)


class Ones(Initializer):
    def __init__(self) -> None:
        super().__init__()

    def _draw(self, shape: tuple, rng: np.random.Generator) -> np.ndarray:
        return np.ones(shape)


class Constant(Initializer):
    def __init__(self, value: float = 0.0) -> None:
        super().__init__(value=_number("value", value))

    def _draw(self, shape: tuple, rng: np.random.Generator) -> np.ndarray:
        return np.full(shape, self._config["value"])


class RandomUniform(Initializer):
    def __init__(self, minval: float = -0.05, maxval: float = 0.05, seed: Optional[int] = None) -> None:
        lo, hi = _number("minval", minval), _number("maxval", maxval)
        if lo > hi:
            raise ArgumentError(f"minval: expected at most maxval ({hi}), got {lo}")
        super().__init__(minval=lo, maxval=hi, seed=_seed(seed))

    def _draw(self, shape: tuple, rng: np.random.Generator) -> np.ndarray:
        return rng.uniform(self._config["minval"], self._config["maxval"], shape)


class RandomNormal(Initializer):
    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: Optional[int] = None) -> None:
        super().__init__(mean=_number("mean", mean), stddev=_number("stddev", stddev), seed=_seed(seed))

    def _draw(self, shape: tuple, rng: np.random.Generator) -> np.ndarray:
        return self._config["mean"] + self._config["stddev"] * rng.standard_normal(shape)


class TruncatedNormal(RandomNormal):
    """A normal redrawn beyond two standard deviations."""

    def _draw(self, shape: tuple, rng: np.random.Generator) -> np.ndarray:
        return self._config["mean"] + self._config["stddev"] * _truncated(rng, shape)


class VarianceScaling(Initializer):
    def __init__(self, scale: float = 1.0, mode: str = "fan_in", distribution: str = "truncated_normal",
                 seed: Optional[int] = None) -> None:
        scale = _number("scale", scale)
        if scale <= 0:
            raise ArgumentError(f"scale: expected a positive number, got {scale}")
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ArgumentError(f"mode: expected 'fan_in', 'fan_out' or 'fan_avg', got {mode!r}")
        if distribution == "normal":  # Keras's alias
            distribution = "truncated_normal"
        if distribution not in ("truncated_normal", "untruncated_normal", "uniform"):
            raise ArgumentError(f"distribution: expected 'truncated_normal', 'untruncated_normal' or 'uniform', got {distribution!r}")
        super().__init__(scale=scale, mode=mode, distribution=distribution, seed=_seed(seed))

    def _draw(self, shape: tuple, rng: np.random.Generator) -> np.ndarray:
        return _variance_scaling(shape, rng, self._config["scale"], self._config["mode"], self._config["distribution"])


def _variance_scaling(shape: tuple, rng: np.random.Generator, scale: float, mode: str, distribution: str) -> np.ndarray:
    fan_in, fan_out = _fans(shape)
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
    scale = scale / max(1.0, n)
    if distribution == "uniform":
        limit = np.sqrt(3 * scale)
        return rng.uniform(-limit, limit, shape)
    if distribution == "untruncated_normal":
        return np.sqrt(scale) * rng.standard_normal(shape)
    return np.sqrt(scale) / 0.87962566103423978 * _truncated(rng, shape)


class _Seeded(Initializer):
    # (scale, mode, distribution) of the variance scaling each subclass is.
    _scaling: tuple = ()

    def __init__(self, seed: Optional[int] = None) -> None:
        super().__init__(seed=_seed(seed))

    def _draw(self, shape: tuple, rng: np.random.Generator) -> np.ndarray:
        return _variance_scaling(shape, rng, *self._scaling)


class GlorotUniform(_Seeded):
    """U(-l, l), ``l = sqrt(6 / (fan_in + fan_out))`` (Keras's default kernel initializer)."""

    _scaling = (1.0, "fan_avg", "uniform")


class GlorotNormal(_Seeded):
    _scaling = (1.0, "fan_avg", "truncated_normal")


class HeUniform(_Seeded):
    _scaling = (2.0, "fan_in", "uniform")


class HeNormal(_Seeded):
    _scaling = (2.0, "fan_in", "truncated_normal")


class LecunUniform(_Seeded):
    _scaling = (1.0, "fan_in", "uniform")


class LecunNormal(_Seeded):
    _scaling = (1.0, "fan_in", "truncated_normal")


class Orthogonal(Initializer):
    """Orthonormal rows or columns (Keras's default recurrent initializer), times ``gain``."""

    def __init__(self, gain: float = 1.0, seed: Optional[int] = None) -> None:
        super().__init__(gain=_number("gain", gain), seed=_seed(seed))

    def _draw(self, shape: tuple, rng: np.random.Generator) -> np.ndarray:
        if len(shape) < 2:
            raise ArgumentError(f"shape: Orthogonal needs at least 2 dimensions, got {shape}")
        rows, cols = int(np.prod(shape[:-1])), shape[-1]
        q, r = np.linalg.qr(rng.standard_normal((max(rows, cols), min(rows, cols))))
        q = q * np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return self._config["gain"] * q.reshape(shape)


class Identity(Initializer):
    def __init__(self, gain: float = 1.0) -> None:
        super().__init__(gain=_number("gain", gain))

    def _draw(self, shape: tuple, rng: np.random.Generator) -> np.ndarray:
        if len(shape) != 2:
            raise ArgumentError(f"shape: Identity needs 2 dimensions, got {shape}")
        return self._config["gain"] * np.eye(*shape)


_CLASSES = {c.__name__: c for c in (Zeros, Ones, Constant, RandomUniform, RandomNormal, TruncatedNormal, VarianceScaling,
                                    GlorotUniform, GlorotNormal, HeUniform, HeNormal, LecunUniform, LecunNormal,
                                    Orthogonal, Identity)}
# Keras's snake_case names (and its aliases) of each class.
_NAMES = {
    "zeros": "Zeros", "zero": "Zeros", "ones": "Ones", "one": "Ones", "constant": "Constant",
    "random_uniform": "RandomUniform", "uniform": "RandomUniform", "random_normal": "RandomNormal", "normal": "RandomNormal",
    "truncated_normal": "TruncatedNormal", "variance_scaling": "VarianceScaling",
    "glorot_uniform": "GlorotUniform", "glorot_normal": "GlorotNormal", "he_uniform": "HeUniform", "he_normal": "HeNormal",
    "lecun_uniform": "LecunUniform", "lecun_normal": "LecunNormal", "orthogonal": "Orthogonal", "identity": "Identity",
}


def get(identifier: Any, name: str = "initializer") -> Initializer:
    """An :class:`Initializer` from a name, a Keras serialized dict or an initializer."""
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str):
        cls = _CLASSES.get(_NAMES.get(identifier, identifier))
        if cls is None:
            raise ArgumentError(f"{name}: unknown initializer {identifier!r}; expected one of {', '.join(_NAMES)}")
        return cls()
    if isinstance(identifier, dict) and "class_name" in identifier:
        cls = _CLASSES.get(identifier["class_name"])
        if cls is None:
            raise ArgumentError(f"{name}: unknown initializer class {identifier['class_name']!r}; expected one of {', '.join(_CLASSES)}")
        config = identifier.get("config") or {}
        try:
            return cls(**config)
        except TypeError as e:
            raise ArgumentError(f"{name}: {e}") from None
    if callable(identifier):
        raise UnsupportedError(f"{name}: a custom initializer function is not supported by rustrnn; use a name or a "
                               f"rustrnn.initializers object (got {identifier!r})")
    raise DTypeError(f"{name}: expected an initializer name or object, got {type(identifier).__name__}")


def serialize(initializer: Initializer) -> dict:
    """Keras's serialized form, ``{"class_name": ..., "config": {...}}``."""
    return {"class_name": type(initializer).__name__, "config": initializer.get_config()}


# Keras 3 also exports the snake_case names as aliases of the classes.
zeros, ones, constant = Zeros, Ones, Constant
random_uniform, random_normal, truncated_normal, variance_scaling = RandomUniform, RandomNormal, TruncatedNormal, VarianceScaling
glorot_uniform, glorot_normal, he_uniform, he_normal = GlorotUniform, GlorotNormal, HeUniform, HeNormal
lecun_uniform, lecun_normal, orthogonal, identity = LecunUniform, LecunNormal, Orthogonal, Identity


def __getattr__(attr: str) -> Any:
    from ._missing import missing

    raise missing("keras.initializers", attr)
