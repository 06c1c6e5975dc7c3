"""Optimizers (Keras' update rules and defaults) and learning-rate schedules.

The update itself runs in Rust inside each training step; these objects
hold the configuration. ``learning_rate`` is a number or a
:class:`LearningRateSchedule`; the native optimizer owns the rate and
evaluates a schedule at every step (the schedule classes here describe one,
and evaluate through the same native code when called).
"""

from __future__ import annotations

import json
import math
from typing import Any, Optional, Union

from . import _native
from ._checks import as_bool
from .errors import ArgumentError, DTypeError

__all__ = [
    "Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "get",
    "LearningRateSchedule", "ExponentialDecay", "InverseTimeDecay", "PiecewiseConstantDecay", "CosineDecay",
]


def _number(name: str, value: Any, low: float = 0.0, high: float = math.inf, inclusive_high: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(value, "__float__"):
        raise DTypeError(f"{name}: expected a number, got {type(value).__name__}")
    v = float(value)
    if not (low <= v and (v <= high if inclusive_high else v < high)) or math.isnan(v):
        bound = f"[{low}, {high}{']' if inclusive_high else ')'}"
        raise ArgumentError(f"{name}: expected a value in {bound}, got {v}")
    return v


# ----- schedules -------------------------------------------------------------------------------
class LearningRateSchedule:
    """Maps the optimizer step (0-based) to a learning rate."""

    def __call__(self, step: int) -> float:
        return float(_native.schedule_rate(json.dumps(self.spec()), max(0, int(step))))

    def get_config(self) -> dict:
        raise NotImplementedError

    def spec(self) -> dict:
        return {"class": type(self).__name__, "config": self.get_config()}


class _RateDecay(LearningRateSchedule):
    """What the two decay schedules share: their arguments and the progress
    ``step / decay_steps`` (floored with ``staircase``)."""

    def __init__(self, initial_learning_rate: float, decay_steps: int, decay_rate: float, staircase: bool = False) -> None:
        self.initial_learning_rate = _number("initial_learning_rate", initial_learning_rate)
        self.decay_steps = _number("decay_steps", decay_steps, 1e-12)
        self.decay_rate = _number("decay_rate", decay_rate)
        self.staircase = as_bool("staircase", staircase)

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase}


class ExponentialDecay(_RateDecay):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)`` (floored with ``staircase``)."""


class InverseTimeDecay(_RateDecay):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)``."""


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[i]`` while ``boundaries[i-1] < step <= boundaries[i]``."""

    def __init__(self, boundaries: list, values: list) -> None:
        if len(values) != len(boundaries) + 1:
            raise ArgumentError(f"values: expected len(boundaries) + 1 = {len(boundaries) + 1} values, got {len(values)}")
        self.boundaries = [int(b) for b in boundaries]
        self.values = [float(v) for v in values]

    def get_config(self) -> dict:
        return {"boundaries": self.boundaries, "values": self.values}


class CosineDecay(LearningRateSchedule):
    """Cosine decay from ``initial_learning_rate`` to ``alpha`` times it over ``decay_steps``,
    after an optional linear warm-up to ``warmup_target``."""

    def __init__(self, initial_learning_rate: float, decay_steps: int, alpha: float = 0.0,
                 warmup_target: Optional[float] = None, warmup_steps: int = 0) -> None:
        self.initial_learning_rate = _number("initial_learning_rate", initial_learning_rate)
        self.decay_steps = _number("decay_steps", decay_steps, 1e-12)
        self.alpha = _number("alpha", alpha, 0.0, 1.0)
        self.warmup_target = None if warmup_target is None else _number("warmup_target", warmup_target)
        self.warmup_steps = int(warmup_steps)

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps, "alpha": self.alpha,
                "warmup_target": self.warmup_target, "warmup_steps": self.warmup_steps}


SCHEDULES = {c.__name__: c for c in (ExponentialDecay, InverseTimeDecay, PiecewiseConstantDecay, CosineDecay)}


# ----- optimizers ------------------------------------------------------------------------------
class Optimizer:
    """Base class. ``learning_rate`` is a number or a schedule; setting it on a
    compiled model's optimizer takes effect at the next step."""

    _name = ""
    _defaults: dict = {}

    def __init__(self, learning_rate: Union[float, LearningRateSchedule], weight_decay: Optional[float] = None,
                 clipnorm: Optional[float] = None, clipvalue: Optional[float] = None,
                 global_clipnorm: Optional[float] = None, **options: Any) -> None:
        self._model: Any = None
        self.learning_rate = learning_rate
        self.weight_decay = None if weight_decay is None else _number("weight_decay", weight_decay)
        clips = {"clipnorm": clipnorm, "clipvalue": clipvalue, "global_clipnorm": global_clipnorm}
        if sum(v is not None for v in clips.values()) > 1:
            raise ArgumentError("clipnorm, clipvalue, global_clipnorm: set at most one of them")
        for k, v in clips.items():
            setattr(self, k, None if v is None else _number(k, v, 1e-300))
        self._options = options

    # The rate the next step uses; a schedule is evaluated at the step count.
    @property
    def learning_rate(self) -> float:
        if self._model is not None:
            return float(self._model._learning_rate())
        if isinstance(self._lr, LearningRateSchedule):
            return float(self._lr(0))
        return self._lr

    @learning_rate.setter
    def learning_rate(self, value: Union[float, LearningRateSchedule]) -> None:
        if isinstance(value, LearningRateSchedule):
            self._lr = value
        else:
            self._lr = _number("learning_rate", value)
        if self._model is not None:
            self._model._set_learning_rate(self._lr_spec())

    def _lr_spec(self) -> Any:
        return self._lr.spec() if isinstance(self._lr, LearningRateSchedule) else self._lr

    @property
    def schedule(self) -> Optional[LearningRateSchedule]:
        return self._lr if isinstance(self._lr, LearningRateSchedule) else None

    @property
    def iterations(self) -> int:
        """Steps taken by the model this optimizer is compiled into."""
        return self._model._iterations() if self._model is not None else 0

    def _bind(self, model: Any) -> None:
        """Called by the model this optimizer is compiled into (with its config already native)."""
        self._model = model

    def native_config(self) -> dict:
        cfg = {"name": self._name, "learning_rate": self._lr_spec(), **self._options}
        for k in ("weight_decay", "clipnorm", "clipvalue", "global_clipnorm"):
            if getattr(self, k) is not None:
                cfg[k] = getattr(self, k)
        return cfg

    def get_config(self) -> dict:
        cfg = {"learning_rate": self._lr_spec(), **self._options}
        for k in ("weight_decay", "clipnorm", "clipvalue", "global_clipnorm"):
            if getattr(self, k) is not None:
                cfg[k] = getattr(self, k)
        return cfg

    @classmethod
    def from_config(cls, config: dict) -> "Optimizer":
        config = dict(config)
        lr = config.get("learning_rate")
        if isinstance(lr, dict):
            sched = SCHEDULES.get(lr.get("class"))
            if sched is None:
                raise ArgumentError(f"learning_rate: unknown schedule {lr.get('class')!r}")
            config["learning_rate"] = sched(**lr["config"])
        return cls(**config)

    def spec(self) -> dict:
        return {"class": type(self).__name__, "config": self.get_config()}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_config().items())})"


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum."""

    _name = "sgd"

    def __init__(self, learning_rate: Union[float, LearningRateSchedule] = 0.01, momentum: float = 0.0,
                 nesterov: bool = False, **kwargs: Any) -> None:
        super().__init__(learning_rate, momentum=_number("momentum", momentum, 0.0, 1.0, False), nesterov=as_bool("nesterov", nesterov), **kwargs)


class Adam(Optimizer):
    """Adam (Kingma & Ba), optionally AMSGrad."""

    _name = "adam"

    def __init__(self, learning_rate: Union[float, LearningRateSchedule] = 0.001, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-7, amsgrad: bool = False, **kwargs: Any) -> None:
        super().__init__(learning_rate, beta_1=_number("beta_1", beta_1, 0.0, 1.0, False),
                         beta_2=_number("beta_2", beta_2, 0.0, 1.0, False), epsilon=_number("epsilon", epsilon, 1e-300),
                         amsgrad=as_bool("amsgrad", amsgrad), **kwargs)


class AdamW(Adam):
    """Adam with decoupled weight decay (default 0.004, as in Keras)."""

    _name = "adamw"

    def __init__(self, learning_rate: Union[float, LearningRateSchedule] = 0.001, weight_decay: float = 0.004,
                 **kwargs: Any) -> None:
        super().__init__(learning_rate, weight_decay=weight_decay, **kwargs)


class RMSprop(Optimizer):
    """RMSprop, optionally centered and with momentum."""

    _name = "rmsprop"

    def __init__(self, learning_rate: Union[float, LearningRateSchedule] = 0.001, rho: float = 0.9,
                 momentum: float = 0.0, epsilon: float = 1e-7, centered: bool = False, **kwargs: Any) -> None:
        super().__init__(learning_rate, rho=_number("rho", rho, 0.0, 1.0, False), momentum=_number("momentum", momentum, 0.0, 1.0, False),
                         epsilon=_number("epsilon", epsilon, 1e-300), centered=as_bool("centered", centered), **kwargs)


class Adagrad(Optimizer):
    """Adagrad: per-coordinate rates from the accumulated squared gradients."""

    _name = "adagrad"

    def __init__(self, learning_rate: Union[float, LearningRateSchedule] = 0.001, initial_accumulator_value: float = 0.1,
                 epsilon: float = 1e-7, **kwargs: Any) -> None:
        super().__init__(learning_rate, initial_accumulator_value=_number("initial_accumulator_value", initial_accumulator_value),
                         epsilon=_number("epsilon", epsilon, 1e-300), **kwargs)


OPTIMIZERS = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop, "adagrad": Adagrad}


def get(identifier: Any) -> Optimizer:
    """An optimizer from a name (``"adam"``) or an instance (returned as is)."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        cls = OPTIMIZERS.get(identifier.lower())
        if cls is None:
            raise ArgumentError(f"optimizer: expected one of {', '.join(OPTIMIZERS)} or an Optimizer, got {identifier!r}")
        return cls()
    raise DTypeError(f"optimizer: expected a name or a rustrnn.optimizers.Optimizer, got {type(identifier).__name__}")


def from_spec(spec: dict) -> Optimizer:
    classes = {c.__name__: c for c in (SGD, Adam, AdamW, RMSprop, Adagrad)}
    cls = classes.get(spec.get("class")) if isinstance(spec, dict) else None
    if cls is None:
        raise ArgumentError(f"optimizer spec: unknown optimizer {spec!r}")
    return cls.from_config(spec.get("config", {}))
