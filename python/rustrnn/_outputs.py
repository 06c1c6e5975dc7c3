"""Models with several outputs trained together, as Keras 3 does it
(``keras/src/trainers/compile_utils.py``): ``compile``'s per-output losses,
loss weights and metrics; the targets and sample weights per output; and the
logs' names and order.

The total loss is ``Σ loss_weight · <output>_loss``; each output's loss is the
mean over its valid rows (Keras' ``sum_over_batch_size``). Every value is
tracked as Keras' ``Mean`` weighted by the batch size. Logs are keyed
``loss``, ``<output>_loss`` and ``<output>_<metric>`` in sorted order (Keras
sorts them); ``evaluate``'s list is ``[loss, <output>_loss..., metrics...]``
with the outputs and their metrics in the model's output order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from . import losses as losses_module
from . import metrics as metrics_module
from .errors import ArgumentError, DTypeError, UnsupportedError


@dataclass
class OutputLoss:
    """One output's part of ``compile``: its name, loss, weight in the total and metric names."""

    name: str
    loss: losses_module.Loss
    weight: float = 1.0
    metrics: list = field(default_factory=list)

    def native(self) -> tuple:
        return (self.loss.name, self.loss.from_logits, self.loss.label_smoothing, self.weight, list(self.metrics))

    def spec(self) -> dict:
        return {"loss": self.loss.spec(), "loss_weight": self.weight, "metrics": list(self.metrics)}


def _by_output(what: str, value: Any, names: list, keras_form: str) -> list:
    """A list or dict ``value`` as one entry per output (None where a dict leaves one out)."""
    if isinstance(value, dict):
        unknown = [k for k in value if k not in names]
        if unknown:
            raise ArgumentError(f"{what}: {', '.join(map(repr, unknown))} is not an output of the model; the outputs are "
                                f"{', '.join(map(repr, names))}")
        return [value.get(n) for n in names]
    if isinstance(value, (list, tuple)):
        if len(value) != len(names):
            raise ArgumentError(f"{what}: expected {keras_form} one entry per output ({len(names)}: "
                                f"{', '.join(map(repr, names))}), got {len(value)}")
        return list(value)
    raise DTypeError(f"{what}: expected {keras_form}, got {type(value).__name__}")


def _number(what: str, w: Any) -> float:
    if isinstance(w, bool) or not isinstance(w, (int, float, np.integer, np.floating)) or not np.isfinite(w):
        raise DTypeError(f"{what}: expected a finite number, got {w!r}")
    return float(w)


def resolve(names: list, loss: Any, metrics: Any, loss_weights: Any) -> list:
    """``compile``'s arguments for a model whose outputs are made by the layers ``names``."""
    if loss is None:
        raise ArgumentError("loss: a loss is required, e.g. loss='mse', a list with one per output or a dict by output name")
    if isinstance(loss, (list, tuple, dict)):
        if isinstance(loss, dict) and set(loss) != set(names):
            raise ArgumentError(f"loss: expected keys {names} in the loss dict (one per output, as Keras), got {list(loss)}")
        per_loss = _by_output("loss", loss, names, "a loss or a list or dict of losses,")
    else:
        per_loss = [loss] * len(names)  # one loss for every output, as Keras
    if any(l is None for l in per_loss):
        raise UnsupportedError("loss: an output without a loss (None) is not supported; give every output a loss")
    if loss_weights is None:
        weights = [1.0] * len(names)
    elif isinstance(loss_weights, dict) and set(loss_weights) != set(names):
        raise ArgumentError(f"loss_weights: expected keys {names} (one per output), got {list(loss_weights)}")
    else:
        if not isinstance(loss_weights, (list, tuple, dict)):
            raise ArgumentError(f"loss_weights: the model has {len(names)} outputs; expected a list or dict with one weight per "
                                f"output, got {loss_weights!r}")
        weights = [_number(f"loss_weights[{n!r}]", w) for n, w in zip(names, _by_output("loss_weights", loss_weights, names, "a list or dict"))]
    if metrics is None:
        per_metrics: list = [[] for _ in names]
    elif isinstance(metrics, dict) or (isinstance(metrics, (list, tuple)) and len(metrics) == len(names)):
        # A list with one entry per output (a metric or a list of them), as Keras reads it.
        per_metrics = [[] if m is None else [m] if isinstance(m, str) else list(m)
                       for m in _by_output("metrics", metrics, names, "a list of lists or a dict,")]
    else:
        raise ArgumentError(f"metrics: the model has {len(names)} outputs ({', '.join(map(repr, names))}); expected a list "
                            f"with a list of metrics per output or a dict by output name (as Keras), got {metrics!r}")
    heads = []
    for name, l, w, ms in zip(names, per_loss, weights, per_metrics):
        resolved = [metrics_module.get(m) for m in ms]
        py = [m for m in resolved if not isinstance(m, str)]
        if py:
            raise UnsupportedError(f"metrics[{name!r}]: Python metrics ({', '.join(m.name for m in py)}) on a model with "
                                   "several outputs are not implemented; use native metric names")
        if len(set(resolved)) != len(resolved):
            raise ArgumentError(f"metrics[{name!r}]: names must differ, got {resolved}")
        heads.append(OutputLoss(name, losses_module.get(l), w, resolved))
    keys = log_order(heads)
    if len(set(keys)) != len(keys):
        raise ArgumentError(f"outputs: their log names collide ({keys}); name the output layers differently")
    return heads


def log_order(heads: list) -> list:
    """The logs' keys in the order ``evaluate`` returns them (Keras' ``metrics_names`` flattened)."""
    return ["loss"] + [f"{h.name}_loss" for h in heads] + [f"{h.name}_{m}" for h in heads for m in h.metrics]


def logs(heads: list, totals: list) -> dict:
    """The logs from running sums ``[Σ loss, count, [[Σ metric, Σ weight]], _, [[Σ output loss, count]]]``, sorted as Keras."""
    loss_sum, count, metrics = totals[:3]
    out = {"loss": loss_sum / count if count else float("nan")}
    for h, (s, c) in zip(heads, totals[4] or [(0.0, 0.0)] * len(heads)):
        out[f"{h.name}_loss"] = s / c if c else float("nan")
    names = [f"{h.name}_{m}" for h in heads for m in h.metrics]
    for name, (s, w) in zip(names, metrics or [(0.0, 0.0)] * len(names)):
        out[name] = s / w if w else float("nan")
    return dict(sorted(out.items()))


def targets(what: str, value: Any, names: list, convert: Any, optional: bool = False) -> Optional[tuple]:
    """``y`` (or ``sample_weight`` when ``optional``) as a tuple with one entry per output:
    from a list or tuple in output order or a dict by output name; a sample weight that is one
    array applies to every output, as Keras."""
    if value is None:
        return None
    if isinstance(value, dict):
        missing = [n for n in names if n not in value]
        if missing and not optional:
            raise ArgumentError(f"{what}: no entry for output(s) {', '.join(map(repr, missing))}; expected a dict with one per "
                                f"output ({', '.join(map(repr, names))})")
        unknown = [k for k in value if k not in names]
        if unknown:
            raise ArgumentError(f"{what}: {', '.join(map(repr, unknown))} is not an output of the model; the outputs are "
                                f"{', '.join(map(repr, names))}")
        items = [value.get(n) for n in names]
    elif isinstance(value, (list, tuple)):
        if len(value) != len(names):
            raise ArgumentError(f"{what}: the model has {len(names)} outputs ({', '.join(map(repr, names))}); expected a list of "
                                f"{len(names)} arrays, got {len(value)}")
        items = list(value)
    elif optional:
        items = [value] * len(names)
    else:
        raise ArgumentError(f"{what}: the model has {len(names)} outputs ({', '.join(map(repr, names))}); expected a list or a "
                            f"dict by output name of {len(names)} arrays, got {type(value).__name__}")
    return tuple(None if a is None else convert(f"{what}[{n!r}]", a) for n, a in zip(names, items))
