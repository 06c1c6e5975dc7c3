"""Keras-style models: :class:`Model` (compile, fit, evaluate, predict, save)
and :class:`Sequential`.

Every batch — forward, loss, backpropagation through time, clipping and the
optimizer update — runs in Rust with the GIL released; Python only slices
batches and calls callbacks. Ctrl-C during ``fit`` stops after the current
batch and leaves the model usable.
"""

from __future__ import annotations

import json
import math
import operator
import sys
import threading
import warnings
from typing import Any, Iterable, Optional, Union

import numpy as np

from . import _formats, _native, _outputs, _streams
from . import callbacks as callbacks_module
from . import losses as losses_module
from . import metrics as metrics_module
from . import optimizers as optimizers_module
from ._checks import as_bool, as_int, positive_int
from ._convert import from_torch, resolve_dtype
from ._registry import model_class, register_model
from ._symbolic import KerasTensor, is_symbolic
from .errors import ArgumentError, DTypeError, ShapeError, StateError, UnsupportedError
from .generation import generate as _generate
from .layers import Embedding, Layer, _Recurrent, layer_from_spec

__all__ = ["Model", "Sequential"]


def _batch_size(value: Any) -> int:
    return positive_int("batch_size", value)


def _num_samples(x: Any) -> int:
    if isinstance(x, tuple):
        return len(x[0])
    return len(x)


def _check_distribution(distribution: Any) -> Any:
    if distribution is None:
        return None
    # What fit uses of a rustrnn.distributed.DataParallel (not imported here: it imports the models).
    if not all(hasattr(distribution, a) for a in ("rank", "size", "is_chief", "train_step", "reduce_totals", "agree_seed")):
        raise DTypeError(f"distribution: expected a rustrnn.distributed.DataParallel, got {type(distribution).__name__}")
    return distribution


# Callbacks that write files or print: only the first process runs them.
_CHIEF_ONLY = (callbacks_module.ModelCheckpoint, callbacks_module.CSVLogger, callbacks_module.ProgbarLogger)


class _ArraySource:
    """Batches of in-memory arrays; under data parallelism each rank takes a
    contiguous share of every global batch (all ranks draw the same order)."""

    kind = None

    def __init__(self, x: Any, y: np.ndarray, sw: Optional[np.ndarray], batch_size: int, shuffle: bool, rank: int, size: int) -> None:
        self.x, self.y, self.sw, self.batch_size, self.shuffle, self.rank, self.size = x, y, sw, batch_size, shuffle, rank, size
        self.n = _num_samples(x)
        self.steps = -(-self.n // batch_size)

    def peek_x(self) -> Any:
        return _take(self.x, slice(0, 1))

    def epoch(self, rng: np.random.Generator) -> Any:
        order = rng.permutation(self.n) if self.shuffle else np.arange(self.n)
        for b in range(self.steps):
            idx = order[b * self.batch_size:(b + 1) * self.batch_size]
            if self.size > 1:
                idx = np.array_split(idx, self.size)[self.rank]
            yield _take(self.x, idx), _take(self.y, idx), _take(self.sw, idx)

    def end_epoch(self) -> None:
        pass

    def close(self) -> None:
        pass


def _masks(model: Any) -> bool:
    """Whether the model masks padded steps (an Embedding with mask_zero, or Masking)."""
    from .layers import Masking

    return any(isinstance(l, Masking) or getattr(l, "mask_zero", False) for l in getattr(model, "layers", []))


def _keras_result(logs: dict, return_dict: bool, order: Optional[list] = None) -> Union[float, list, dict]:
    """Keras 3's return value: the dict, else the loss alone, or ``[loss, metric, ...]`` (in ``order``, default the logs')."""
    if return_dict:
        return logs
    values = [logs[k] for k in order] if order else list(logs.values())
    return values[0] if len(values) == 1 else values


def _take(x: Any, idx: Any) -> Any:
    """Rows ``idx`` of an array, or of each array of a tuple (one per input or output; None stays None)."""
    if x is None:
        return None
    if isinstance(x, tuple):
        return tuple(None if a is None else np.ascontiguousarray(a[idx]) for a in x)
    return np.ascontiguousarray(x[idx])


class Model:
    """What every model shares: compile, fit, evaluate, predict, summary, save.

    ``Model(inputs, outputs)`` (symbolic tensors from ``keras.Input`` and layer
    calls) builds a functional model, :class:`rustrnn.functional.Functional`, as in Keras.
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        if cls is Model and (args and is_symbolic(args[0]) or "inputs" in kwargs or "outputs" in kwargs):
            functional = model_class("Functional")  # registered by rustrnn.functional, which imports this module
            return super().__new__(functional)
        return super().__new__(cls)

    def __init__(self, dtype: Any = np.float32, name: Optional[str] = None) -> None:
        self.dtype = resolve_dtype(dtype)
        self.name = name or type(self).__name__.lower()
        self._handle: Any = None
        self.optimizer: Optional[optimizers_module.Optimizer] = None
        self.loss: Optional[losses_module.Loss] = None
        self.metrics_names: list = []  # the native metrics (computed in Rust)
        self._py_metrics: list = []  # metrics computed in Python from the predictions (rustrnn._pymetrics)
        self._metric_order: list = []  # every metric's name in compile order (the order evaluate returns them)
        self._heads: Optional[list] = None  # with several outputs: an _outputs.OutputLoss per output
        self._loss_weight = 1.0  # with one output: Keras' loss_weights
        self.stop_training = False
        self.history: Optional[callbacks_module.History] = None
        # What an application needs next to the weights (JSON values); saved with the model.
        self.metadata: dict = {}
        # Drawn now, so that weights built later still follow manual_seed.
        self._seed = _native.next_seed()
        # Threads sharing the model build its weights once.
        self._build_lock = threading.Lock()

    # ----- to implement ------------------------------------------------------------------------
    def _native_spec(self, x: Any) -> dict:
        raise NotImplementedError

    def _prepare_x(self, x: Any) -> Any:
        raise NotImplementedError

    def _prepare_xy(self, x: Any, y: Any) -> tuple:
        return self._prepare_x(x), self._prepare_y(y)

    def get_config(self) -> dict:
        raise NotImplementedError

    # ----- building ----------------------------------------------------------------------------
    @property
    def built(self) -> bool:
        return self._handle is not None

    def _build_native(self, spec: dict) -> None:
        self._handle = _native.ModelHandle(json.dumps(spec), self.dtype.name, self._seed)
        for layer in getattr(self, "layers", None) or []:
            holders = getattr(layer, "_holders", None)
            if holders is not None:
                holders.add(self)  # where layer.reset_states() reaches this model's states
        batch = self._declared_batch_size()
        if batch is not None and self._stateful_layers():
            self._handle.fix_batch_size(batch)  # as Keras, which builds stateful layers for that batch size
        self._after_build()
        if self.optimizer is not None:
            self._compile_native()

    def _after_build(self) -> None:
        pass

    def _ensure_built(self, x: Any) -> None:
        if self._handle is None:
            with self._build_lock:
                if self._handle is None:
                    self._build_native(self._native_spec(x))

    def _require_built(self, what: str) -> None:
        if self._handle is None:
            raise StateError(f"{what}: the model has no weights yet; call fit, predict or build first")

    # ----- compile -----------------------------------------------------------------------------
    def compile(self, optimizer: Any = "rmsprop", loss: Any = None, metrics: Optional[Iterable] = None,
                loss_weights: Any = None) -> None:
        """Chooses the optimizer (name or object), the loss (name or object) and metric names.
        As in Keras, ``loss``, ``metrics`` and ``loss_weights`` may also be given per output (a
        list in the order of the outputs or a dict by output name): a model with several outputs
        trains them together on ``Σ loss_weight · output loss`` (see :mod:`rustrnn._outputs`)."""
        names = self._output_names()
        if len(names) > 1:
            self._heads = _outputs.resolve(names, loss, metrics, loss_weights)
            self.optimizer = optimizers_module.get(optimizer)
            self.loss = [h.loss for h in self._heads]
            self.metrics_names = [f"{h.name}_{m}" for h in self._heads for m in h.metrics]
            self._py_metrics = []
            self._metric_order = list(self.metrics_names)
            self._loss_weight = 1.0
            if self._handle is not None:
                self._compile_native()
            return
        self._heads = None
        loss = self._per_output("loss", loss)
        if isinstance(metrics, dict) or (isinstance(metrics, (list, tuple)) and any(isinstance(m, (list, tuple, dict))
                                                                                      for m in metrics)):
            metrics = self._per_output("metrics", metrics)
        weight = 1.0
        if loss_weights is not None:
            w = self._per_output("loss_weights", loss_weights)
            if isinstance(w, bool) or not isinstance(w, (int, float, np.integer, np.floating)) or not math.isfinite(w):
                raise DTypeError(f"loss_weights: expected a finite number per output, got {w!r}")
            weight = float(w)  # Keras scales the loss (and so its gradient) by it
        if loss is None:
            raise ArgumentError("loss: a loss is required, e.g. loss='binary_crossentropy'")
        self.optimizer = optimizers_module.get(optimizer)
        self.loss = losses_module.get(loss)
        self._loss_weight = weight
        if metrics is not None and isinstance(metrics, str):
            metrics = [metrics]
        resolved = [metrics_module.get(m) for m in (metrics or [])]
        self.metrics_names = [m for m in resolved if isinstance(m, str)]
        self._py_metrics = [m for m in resolved if not isinstance(m, str)]
        self._metric_order = [m if isinstance(m, str) else m.name for m in resolved]
        if len(set(self._metric_order)) != len(self._metric_order):
            raise ArgumentError(f"metrics: names must differ, got {self._metric_order}")
        if self._handle is not None:
            self._compile_native()

    def _output_names(self) -> list:
        """The names Keras keys per-output compile arguments by: the layers that make the outputs."""
        layers = getattr(self, "layers", None)
        return [layers[-1].name if layers else None]

    def _per_output(self, what: str, value: Any) -> Any:
        """The one output's entry of a per-output ``value`` (a list or a dict by output name); other values as they are."""
        names = self._output_names()
        if isinstance(value, dict):
            unknown = [k for k in value if k not in names]
            if unknown:
                raise ArgumentError(f"{what}: {', '.join(map(repr, unknown))} is not an output of the model; the outputs are "
                                    f"{', '.join(map(repr, names))}")
            return value.get(names[0])
        if isinstance(value, (list, tuple)) and (what != "metrics" or any(isinstance(v, (list, tuple, dict)) for v in value)):
            if len(value) != len(names):
                raise ArgumentError(f"{what}: expected one entry per output ({len(names)}), got {len(value)}")
            return value[0]
        return value

    def _compile_native(self) -> None:
        heads = [h.native() for h in self._heads] if self._heads else [
            (self.loss.name, self.loss.from_logits, self.loss.label_smoothing, self._loss_weight, self.metrics_names)]
        self._handle.compile_outputs(heads, json.dumps(self.optimizer.native_config()))
        self.optimizer._bind(self)

    def _require_compiled(self, what: str) -> None:
        if self.optimizer is None:
            raise StateError(f"{what}: the model is not compiled; call compile(optimizer=..., loss=...) first")

    # ----- data --------------------------------------------------------------------------------
    def _prepare_y(self, y: Any) -> np.ndarray:
        _streams.reject_stream("y", y, "this call")
        arr = np.asarray(from_torch(y))
        if arr.dtype.kind not in "fiub":
            raise DTypeError(f"y: expected numbers, got dtype {arr.dtype}")
        return np.ascontiguousarray(arr, dtype=self.dtype)

    def _prepare_weights(self, sample_weight: Any, n: int) -> Optional[np.ndarray]:
        if sample_weight is None:
            return None
        w = np.ascontiguousarray(np.asarray(from_torch(sample_weight), dtype=self.dtype))
        if w.ndim == 0 or w.shape[0] != n:
            raise ShapeError(f"sample_weight: expected one weight per sample ({n},) (or (N, T) per step), got shape {w.shape}")
        return w

    def _class_weights(self, y: np.ndarray, class_weight: Any) -> np.ndarray:
        """Per-sample weights from ``{class: weight}``; one class per sample."""
        if self._heads:
            raise ArgumentError("class_weight: only for a model with one output, as in Keras; pass sample_weight per output instead")
        if not isinstance(class_weight, dict):
            raise DTypeError(f"class_weight: expected a dict {{class index: weight}}, got {type(class_weight).__name__}")
        if y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1):
            labels = np.rint(y.reshape(-1)).astype(np.int64)
        elif y.ndim == 2 and self.loss.name == "categorical_crossentropy":
            labels = y.argmax(1)
        else:
            raise ArgumentError(f"class_weight: needs one class per sample (targets (N,), (N, 1) or one-hot (N, C)), got targets of "
                                f"shape {y.shape}; for sequences pass sample_weight of shape (N, T)")
        missing = sorted(set(labels.tolist()) - set(class_weight))
        if missing:
            raise ArgumentError(f"class_weight: no weight for class(es) {missing}; give one for every class in y")
        table = np.zeros(max(max(class_weight), int(labels.max())) + 1)
        for k, v in class_weight.items():
            table[as_int("class_weight key", k, minimum=0)] = float(v)
        return np.ascontiguousarray(table[labels], dtype=self.dtype)

    def _check_lengths(self, x: Any, y: Any, what: str = "y") -> None:
        n = _num_samples(x)
        for k, arr in enumerate(y if isinstance(y, tuple) else (y,)):
            if len(arr) != n:
                at = f"[{k}]" if isinstance(y, tuple) else ""
                raise ShapeError(f"{what}{at}: expected {n} rows (one per sample of x), got {len(arr)}")

    def _prepare_batch(self, x: Any, y: Any, sample_weight: Any = None, what: str = "y") -> tuple:
        """``(x, y, sample_weight)`` converted and checked against each other: what
        every training and evaluation entry point hands to the native model."""
        x, y = self._prepare_xy(x, y)
        self._check_lengths(x, y, what)
        return x, y, self._prepare_weights(sample_weight, _num_samples(x))

    # ----- training ----------------------------------------------------------------------------
    def _logs(self, totals: list) -> dict:
        if self._heads:
            return _outputs.logs(self._heads, totals)
        loss_sum, count, metrics = totals[:3]
        values = {}
        for name, (s, w) in zip(self.metrics_names, metrics):
            values[name] = s / w if w else float("nan")
        for m in totals[3] if len(totals) > 3 else ():  # (totals reduced over processes have no Python metrics)
            values[m.name] = m.result()
        logs = {"loss": loss_sum / count if count else float("nan")}
        logs.update((name, values[name]) for name in self._metric_order if name in values)
        return dict(sorted(logs.items()))  # Keras 3 sorts its logs (evaluate's list keeps compile order)

    def _new_totals(self) -> list:
        """Running sums of loss and metrics: ``[loss, count, native metrics, Python metrics, output losses]``."""
        return [0.0, 0.0, [], [m.fresh() for m in self._py_metrics], []]

    def _result(self, logs: dict, return_dict: bool) -> Union[float, list, dict]:
        """``evaluate``'s (and ``train_on_batch``'s) return value, in Keras's order."""
        order = _outputs.log_order(self._heads) if self._heads else ["loss"] + [m for m in self._metric_order if m in logs]
        return _keras_result(logs, return_dict, order)

    def _py_predictions(self, x: Any) -> Any:
        """The model output a Python metric needs (None when there is none)."""
        if not self._py_metrics:
            return None
        if isinstance(x, tuple):
            raise UnsupportedError(f"metrics: Python metrics (auc, callables) need a model with one input; {type(self).__name__} "
                                   "takes several: use native metric names")
        y_pred = self._handle.predict_batch(x)[0]
        if y_pred.ndim == 3 and _masks(self):
            raise UnsupportedError("metrics: a Python metric (auc or a callable) on a masked sequence output is not "
                                   "implemented (Keras weights it by the mask); use a native metric name")
        return y_pred

    def _train_batch(self, x: Any, y: Any, sw: Any) -> tuple:
        y_pred = self._py_predictions(x)  # before the update, as Keras computes training metrics
        stats = self._handle.train_batch(x, y, sw)
        return stats if y_pred is None else (*stats, (y, y_pred, None))  # Keras' metrics ignore sample weights

    def _test_batch(self, x: Any, y: Any, sw: Any) -> tuple:
        stats = self._handle.test_batch(x, y, sw)
        y_pred = self._py_predictions(x)
        return stats if y_pred is None else (*stats, (y, y_pred, None))

    @staticmethod
    def _accumulate(totals: list, stats: tuple) -> None:
        """Adds a batch's ``(Σ loss, count, metric sums[, output loss sums[, Python metric args]])``."""
        if len(stats) > 4:
            for m in totals[3]:
                m.update_state(*stats[4])
        totals[0] += stats[0]
        totals[1] += stats[1]
        for at, pairs in ((2, stats[2]), (4, stats[3] if len(stats) > 3 else [])):
            if not totals[at]:
                totals[at] = [[0.0, 0.0] for _ in pairs]
            for acc, (s, w) in zip(totals[at], pairs):
                acc[0] += s
                acc[1] += w

    def fit(self, x: Any = None, y: Any = None, batch_size: Optional[int] = None, epochs: int = 1,
            verbose: Union[int, str] = "auto", callbacks: Optional[list] = None, validation_split: float = 0.0,
            validation_data: Any = None, shuffle: bool = True, sample_weight: Any = None, class_weight: Optional[dict] = None,
            initial_epoch: int = 0, seed: Optional[int] = None, steps_per_epoch: Optional[int] = None,
            validation_steps: Optional[int] = None, distribution: Any = None,
            terminate_on_nan: bool = True) -> callbacks_module.History:
        """Trains for ``epochs`` epochs; returns a :class:`~rustrnn.callbacks.History`.

        ``x`` is arrays (with ``y``), a :class:`rustrnn.utils.PyDataset`-style
        sequence of batches, or a generator/iterable of ``(x, y[, sample_weight])``
        batches (then ``steps_per_epoch`` batches make an epoch; default: all of
        them). Batches are prefetched in the background; their length T may differ.

        ``terminate_on_nan`` (default on) stops training at the first batch whose
        loss is NaN or infinite, with a message on stderr; ``history.diverged`` then
        says where. Pass ``False`` to train on regardless.

        ``validation_split`` holds out the last fraction of the samples (before
        shuffling, as Keras does); ``validation_data=(x_val, y_val)`` (or a batch
        source, with ``validation_steps``) is the alternative. ``class_weight``
        ({class: weight}) multiplies each sample's weight by its class's. ``seed``
        makes shuffling and dropout reproducible. ``distribution`` (a
        :class:`rustrnn.distributed.DataParallel`) trains on every MPI process at once.
        """
        self._require_compiled("fit")
        terminate_on_nan = as_bool("terminate_on_nan", terminate_on_nan)
        if as_bool("shuffle", shuffle) and self._stateful_layers():
            # Keras shuffles as told too; its documentation asks for shuffle=False with stateful layers.
            warnings.warn(f"fit(shuffle=True) with stateful layers ({', '.join(self._stateful_layers())}): the batches are "
                          "shuffled, so the states carried from one batch to the next join unrelated samples; pass "
                          "shuffle=False for temporally ordered batches", UserWarning, stacklevel=2)
        epochs = as_int("epochs", epochs, minimum=0)
        initial_epoch = as_int("initial_epoch", initial_epoch, minimum=0)
        verbose = 1 if verbose == "auto" else int(verbose)
        if verbose not in (0, 1, 2):
            raise ArgumentError(f"verbose: expected 0, 1, 2 or 'auto', got {verbose}")
        if not 0.0 <= float(validation_split) < 1.0:
            raise ArgumentError(f"validation_split: expected a fraction in [0, 1), got {validation_split}")
        if validation_split and validation_data is not None:
            raise ArgumentError("validation_split, validation_data: give one or the other")
        dist = _check_distribution(distribution)
        if dist is not None and self._py_metrics:
            raise UnsupportedError(f"metrics: Python metrics ({', '.join(m.name for m in self._py_metrics)}) are not "
                                   "reduced across processes; use native metric names with distribution=")
        if dist is not None and self._heads:
            raise UnsupportedError("distribution: data-parallel training of a model with several outputs is not implemented")
        rank, size = (dist.rank, dist.size) if dist is not None else (0, 1)
        kind = _streams.stream_kind(x)
        if kind is not None:
            for name, value in (("y", y), ("sample_weight", sample_weight), ("batch_size", batch_size)):
                if value is not None:
                    raise ArgumentError(f"{name}: not used when x is a {kind} of batches; each batch carries its own (x, y[, sample_weight])")
            if validation_split:
                raise ArgumentError(f"validation_split: cannot split a {kind} of batches; pass validation_data")
            source: Any = _streams.BatchSource(x, kind, steps_per_epoch, shuffle, rank, size)
            n, bs = None, None
        else:
            if steps_per_epoch is not None:
                raise ArgumentError("steps_per_epoch: only for a generator or dataset of batches; with arrays an epoch is one pass "
                                    "over them in batches of batch_size")
            bs = _batch_size(32 if batch_size is None else batch_size)
            x, y, sw = self._prepare_batch(x, y, sample_weight)
            n = _num_samples(x)
            if class_weight is not None:
                cw = self._class_weights(y, class_weight)
                sw = cw if sw is None else sw * (cw if sw.ndim == 1 else cw[:, None])
            if validation_split:
                split = int(math.floor(n * (1.0 - validation_split)))
                if split == 0 or split == n:
                    raise ArgumentError(f"validation_split: {validation_split} of {n} samples leaves an empty training or validation set")
                idx_tr, idx_val = np.arange(split), np.arange(split, n)
                validation_data = (_take(x, idx_val), _take(y, idx_val), _take(sw, idx_val))
                x, y, sw = _take(x, idx_tr), _take(y, idx_tr), _take(sw, idx_tr)
                n = split
            if n == 0:
                raise ShapeError("x: expected at least one sample, got 0")
            source = _ArraySource(x, y, sw, bs, shuffle, rank, size)
        val = None
        if validation_data is not None:
            val = self._eval_source(validation_data, None if bs is None else bs, validation_steps, rank, size, "validation_data")
        if self._handle is None:
            # The input size: from the data (a dataset's first batch); a generator
            # is not consumed for it, so its model needs build() (or an Embedding).
            first = source.peek_x() if kind is None else None
            if kind == _streams.SEQUENCE:
                first = self._prepare_x(_streams.unpack(x[0], "x", need_y=True)[0])
            self._ensure_built(first)
        if dist is not None:
            seed = dist.agree_seed(seed)
            dist.broadcast_weights(self)
        seed = _native.next_seed() if seed is None else operator.index(seed) & 0xFFFF_FFFF_FFFF_FFFF
        rng = np.random.default_rng(seed)
        self._handle.set_seed((int(rng.integers(0, 2**63)) + rank) & 0xFFFF_FFFF_FFFF_FFFF)

        steps = source.steps
        history = callbacks_module.History()
        user = list(callbacks or [])
        nan_checks = [c for c in user if isinstance(c, callbacks_module.TerminateOnNaN)]
        if terminate_on_nan and not nan_checks:
            nan_checks = [callbacks_module.TerminateOnNaN()]
            user.append(nan_checks[0])
        if dist is not None and not dist.is_chief:
            verbose = 0
            user = [c for c in user if not isinstance(c, _CHIEF_ONLY)]
        # As in Keras: the progress bar first, History last (it sees what other callbacks logged).
        cbs = ([callbacks_module.ProgbarLogger(verbose)] if verbose else []) + user + [history]
        cb = callbacks_module.CallbackList(cbs, self, {"epochs": epochs, "steps": steps, "verbose": verbose, "batch_size": bs, "samples": n})
        self.history = history
        self.stop_training = False
        logs: dict = {}
        cb.on_train_begin()
        try:
            for epoch in range(initial_epoch, epochs):
                cb.on_epoch_begin(epoch)
                totals: list = self._new_totals()
                batches = iter(source.epoch(rng))
                b = 0
                while steps is None or b < steps:
                    batch = next(batches, None)
                    if batch is None and dist is None:
                        break
                    cb.on_train_batch_begin(b)
                    stats = self._train_step(batch, kind, class_weight, dist)
                    if stats is None:  # every rank ran out of data
                        break
                    self._accumulate(totals, stats)
                    logs = self._logs(totals)
                    cb.on_train_batch_end(b, dict(logs))
                    b += 1
                    if self.stop_training:
                        break
                source.end_epoch()
                if b == 0:
                    raise ArgumentError(f"x: the {kind} gave no batches in epoch {epoch + 1}; a generator is used up after one "
                                        "pass: give one that loops (while True: ...) with steps_per_epoch, or a PyDataset")
                if steps is not None and b < steps and not self.stop_training:
                    warnings.warn(f"fit: the {kind} ran out of batches after {b} of {steps} steps in epoch {epoch + 1}; "
                                  "training stops", RuntimeWarning, stacklevel=2)
                    self.stop_training = True
                if val is not None:
                    vlogs = self._logs(self._eval_totals(val, dist))
                    logs.update({"val_" + k: v for k, v in vlogs.items()})
                cb.on_epoch_end(epoch, logs)
                if self.stop_training:
                    break
        except KeyboardInterrupt:
            # The interrupted batch either finished in Rust or never started:
            # the weights and optimizer state are consistent.
            history.interrupted = True
            self.stop_training = True
            print("\nTraining interrupted; the model keeps the weights of the last completed batch.", file=sys.stderr)
        finally:
            source.close()
            if val is not None:
                val.close()
            cb.on_train_end(logs)
            history.diverged = next((c.stopped for c in nan_checks if c.stopped is not None), None)
        return history

    def _train_step(self, batch: Any, kind: Optional[str], class_weight: Any, dist: Any) -> Optional[tuple]:
        """One optimizer step; under data parallelism, on every rank's share of the global batch."""
        if batch is not None:
            if kind is not None:
                bx, by, bw = _streams.unpack(batch, "x", need_y=True)
                bx, by, bw = self._prepare_batch(bx, by, bw)
                if class_weight is not None:
                    cw = self._class_weights(by, class_weight)
                    bw = cw if bw is None else bw * (cw if bw.ndim == 1 else cw[:, None])
                batch = (bx, by, bw)
            if _num_samples(batch[0]) == 0:
                batch = None
        if dist is None:
            return self._train_batch(*batch)
        return dist.train_step(self, batch)

    def _eval_source(self, data: Any, batch_size: Optional[int], steps: Optional[int], rank: int, size: int, arg: str) -> Any:
        kind = _streams.stream_kind(data)
        if kind is not None:
            if batch_size is not None and arg == "x":
                raise ArgumentError(f"batch_size: not used when x is a {kind} of batches")
            return _streams.BatchSource(data, kind, steps, False, rank, size, arg)
        if steps is not None:
            raise ArgumentError(f"{'validation_steps' if arg != 'x' else 'steps'}: only for a generator or dataset of batches")
        if arg == "x":
            raise ArgumentError("x: expected a generator or dataset of batches")  # arrays go through evaluate's own path
        if not isinstance(data, (tuple, list)) or len(data) not in (2, 3):
            raise DTypeError("validation_data: expected a tuple (x_val, y_val) or (x_val, y_val, sample_weight), or a generator or dataset of batches")
        vx, vy, vw = self._prepare_batch(data[0], data[1], data[2] if len(data) == 3 else None, "validation_data[1]")
        return _ArraySource(vx, vy, vw, _batch_size(32 if batch_size is None else batch_size), False, rank, size)

    def _eval_totals(self, source: Any, dist: Any) -> list:
        """Loss and metric sums over a source (this rank's share, summed over ranks)."""
        totals: list = self._new_totals()
        kind = getattr(source, "kind", None)
        rng = np.random.default_rng(0)
        try:
            for batch in source.epoch(rng):
                bx, by, bw = _streams.unpack(batch, "x", need_y=True) if kind is not None else batch
                if kind is not None:
                    bx, by, bw = self._prepare_batch(bx, by, bw)
                if _num_samples(bx):
                    self._accumulate(totals, self._test_batch(bx, by, bw))
        finally:
            if kind is not None and source.kind != _streams.ITERATOR:
                source.close()
        if dist is not None:
            totals = dist.reduce_totals(totals, len(self.metrics_names))
        return totals

    def evaluate(self, x: Any = None, y: Any = None, batch_size: Optional[int] = None, verbose: int = 0, sample_weight: Any = None,
                 return_dict: bool = False, steps: Optional[int] = None) -> Union[float, list, dict]:
        """Loss and metrics over the whole data set (arrays in batches, or a
        generator/dataset of batches: ``steps`` of them, default all).

        As Keras 3: the loss as a float when there are no metrics, else the list
        ``[loss, metric, ...]`` (in ``metrics_names`` order); ``return_dict=True``
        gives ``{"loss": ..., name: ...}``."""
        self._require_compiled("evaluate")
        return_dict = as_bool("return_dict", return_dict)
        if _streams.stream_kind(x) is not None:
            for name, value in (("y", y), ("sample_weight", sample_weight)):
                if value is not None:
                    raise ArgumentError(f"{name}: not used when x is a {_streams.stream_kind(x)} of batches")
            source = self._eval_source(x, batch_size, steps, 0, 1, "x")
            if self._handle is None:
                raise StateError("evaluate: the model has no weights yet; call build(input_shape) or fit first")
            totals = self._eval_totals(source, None)
            source.close()
            if totals[1] == 0 and not totals[2]:
                raise ShapeError("x: the generator or dataset gave no batches")
        else:
            if steps is not None:
                raise ArgumentError("steps: only for a generator or dataset of batches")
            batch_size = _batch_size(32 if batch_size is None else batch_size)
            x, y, sw = self._prepare_batch(x, y, sample_weight)
            n = _num_samples(x)
            if n == 0:
                raise ShapeError("x: expected at least one sample, got 0")
            self._ensure_built(x)
            totals = self._new_totals()
            for start in range(0, n, batch_size):
                sl = slice(start, start + batch_size)
                self._accumulate(totals, self._test_batch(_take(x, sl), _take(y, sl), _take(sw, sl)))
        logs = self._logs(totals)
        if verbose:
            print(" - ".join(f"{k}: {v:.4f}" for k, v in logs.items()))
        return self._result(logs, return_dict)

    # ----- gradients for custom loops ----------------------------------------------------------
    def compute_gradients(self, x: Any, y: Any, sample_weight: Any = None, out: Optional[np.ndarray] = None) -> np.ndarray:
        """The gradient of one batch's mean loss (dropout on, as in training) as
        one flat array of every parameter in :attr:`weight_names` order; nothing
        is updated. ``out`` (1-D, the model's dtype) is filled in place instead
        of a new array. See :meth:`apply_gradients`."""
        self._require_compiled("compute_gradients")
        x, y, sw = self._prepare_batch(x, y, sample_weight)
        self._ensure_built(x)
        if out is None:
            out = np.empty(self._handle.flat_size(), dtype=self.dtype)
        self._handle.gradients_into(x, y, out, sw)
        return out

    def apply_gradients(self, grads: Any) -> None:
        """One optimizer step (with its clipping, schedule and state) from a flat
        gradient as :meth:`compute_gradients` returns it, read in place."""
        self._require_compiled("apply_gradients")
        self._require_built("apply_gradients")
        g = np.asarray(grads)
        if g.dtype != self.dtype or g.ndim != 1 or not g.flags.c_contiguous:
            g = np.ascontiguousarray(g.reshape(-1) if g.dtype.kind == "f" else g, dtype=self.dtype)
        self._handle.apply_flat(g, 1.0)

    def train_on_batch(self, x: Any, y: Any, sample_weight: Any = None, class_weight: Optional[dict] = None,
                       return_dict: bool = False) -> Union[float, list, dict]:
        """One optimizer step on one batch; returns its loss and metrics as
        :meth:`evaluate` does (a float, a list, or a dict with ``return_dict=True``)."""
        self._require_compiled("train_on_batch")
        return_dict = as_bool("return_dict", return_dict)
        x, y, sw = self._prepare_batch(x, y, sample_weight)
        if class_weight is not None:
            if sw is not None:
                raise ArgumentError("sample_weight, class_weight: give one or the other (as Keras)")
            sw = self._class_weights(y, class_weight)
        self._ensure_built(x)
        totals: list = self._new_totals()
        self._accumulate(totals, self._train_batch(x, y, sw))
        return self._result(self._logs(totals), return_dict)

    def test_on_batch(self, x: Any, y: Any, sample_weight: Any = None, return_dict: bool = False) -> Union[float, list, dict]:
        """Loss and metrics of one batch, as :meth:`evaluate` returns them."""
        return self.evaluate(x, y, batch_size=max(1, _num_samples(self._prepare_x(x))), sample_weight=sample_weight,
                             return_dict=return_dict)

    def loss_and_gradients(self, x: Any, y: Any, sample_weight: Any = None) -> tuple:
        """``(loss, {name: gradient})`` of one batch with dropout off; nothing is updated."""
        self._require_compiled("loss_and_gradients")
        x, y, sw = self._prepare_batch(x, y, sample_weight)
        self._ensure_built(x)
        loss, grads = self._handle.gradients(x, y, sw)
        return float(loss), dict(grads)

    # ----- weights -----------------------------------------------------------------------------
    def get_weights(self) -> list:
        """Every parameter (copies), in :attr:`weight_names` order."""
        self._require_built("get_weights")
        return [a for _, a in self._handle.weights()]

    def set_weights(self, weights: list) -> None:
        self._require_built("set_weights")
        names = self._handle.weight_names()
        if len(weights) != len(names):
            raise ArgumentError(f"weights: expected {len(names)} arrays ({', '.join(names)}), got {len(weights)}")
        self._set_named_weights(dict(zip(names, weights)))

    @property
    def weight_names(self) -> list:
        self._require_built("weight_names")
        return list(self._handle.weight_names())

    def get_weight_dict(self) -> dict:
        self._require_built("get_weight_dict")
        return dict(self._handle.weights())

    def _set_named_weights(self, weights: dict) -> None:
        items = []
        for name, value in weights.items():
            arr = np.asarray(from_torch(value))
            if arr.dtype.kind not in "fiu":
                raise DTypeError(f"{name}: expected a numeric array, got dtype {arr.dtype}")
            items.append((name, np.ascontiguousarray(arr, dtype=self.dtype)))
        self._handle.set_weights(items)

    def count_params(self) -> int:
        self._require_built("count_params")
        return int(self._handle.num_params()[0])

    # ----- internal protocol -------------------------------------------------------------------
    # What saving, generation, layers and optimizers use of a model (never its handle).
    def _named_weights(self) -> list:
        """``[(layer/param, array)]`` in model order (copies)."""
        return list(self._handle.weights())

    def _weight_names(self) -> list:
        return list(self._handle.weight_names())

    def _optimizer_state(self) -> tuple:
        """``(iterations, [(param/slot, array)])``."""
        return self._handle.optimizer_state()

    def _set_optimizer_state(self, iterations: int, slots: list) -> None:
        self._handle.set_optimizer_state(iterations, slots)

    def _build_saved(self) -> Optional[str]:
        """Builds the native model of a model rebuilt by ``from_config``; returns why it cannot."""
        return None

    def _declared_batch_size(self) -> Optional[int]:
        """The batch size the model's inputs declare (``Input(batch_size=...)``, ``batch_shape``), if any."""
        inputs = getattr(self, "inputs", None) or [getattr(self, "_declared_input", None)]
        sizes = [t.shape[0] for t in inputs if t is not None and getattr(t, "shape", None) and t.shape[0] is not None]
        return int(sizes[0]) if sizes else getattr(self, "_keras_batch_size", None)

    def _stateful_layers(self) -> list:
        return [l.name for l in getattr(self, "layers", None) or [] if getattr(l, "stateful", False)]

    def reset_states(self) -> None:
        """Resets every ``stateful`` layer of this model (``tf.keras``'s ``Model.reset_states``;
        Keras 3 calls ``layer.reset_state()`` on each): the next batch starts from zero states."""
        if self._handle is not None:
            self._handle.reset_states(None)

    def _set_layer_trainable(self, layer: str, trainable: bool) -> None:
        if self._handle is not None:
            self._handle.set_trainable(layer, trainable)

    def _iterations(self) -> int:
        return int(self._handle.iterations) if self._handle is not None else 0

    def _learning_rate(self) -> Optional[float]:
        """The rate of the next optimizer step, as the native optimizer (its one owner) computes it."""
        return self._handle.learning_rate if self._handle is not None else None

    def _set_learning_rate(self, spec: Any) -> None:
        """A number, or a schedule's ``spec()`` dict."""
        if self._handle is not None and self.optimizer is not None:
            self._handle.set_learning_rate(json.dumps(spec))

    # ----- saving ------------------------------------------------------------------------------
    def save(self, filepath: Any, include_optimizer: bool = True) -> None:
        """Writes the model, in the format its name asks for (as Keras 3):
        ``*.keras`` a Keras 3 archive (architecture and weights, see
        :meth:`export_keras`); ``*.h5`` is refused (Keras's legacy format); any
        other name (e.g. ``model.rnn``) rustrnn's own file: architecture,
        weights, compile settings, optimizer state and :attr:`metadata`
        (safetensors + JSON). Writes are atomic: a crash never leaves a partial file."""
        _formats.save(self, filepath, include_optimizer=include_optimizer)

    def save_weights(self, filepath: Any) -> None:
        """Writes the weights as a Keras 3 ``*.weights.h5`` file (the name must end
        so, as in Keras; needs h5py), which Keras's ``load_weights`` reads;
        see :mod:`rustrnn.interop.keras_weights`."""
        _formats.save_weights(self, filepath)

    def load_weights(self, filepath: Any) -> None:
        """Sets the weights from a Keras 3 ``*.weights.h5`` file (rustrnn's or
        Keras's) or a ``.keras`` archive; matched by the model's structure, every
        shape checked first. The model must be built (fit, predict or build)."""
        self._require_built("load_weights")
        _formats.load_weights(self, filepath)

    def to_json(self, **kwargs: Any) -> str:
        """The architecture as Keras 3's JSON (``keras.models.model_from_json`` reads it,
        as does :func:`rustrnn.keras.models.model_from_json`); keyword arguments go to ``json.dumps``."""
        from .interop.keras_out import keras_layout

        return json.dumps(keras_layout(self, "to_json")[0], **kwargs)

    def export_onnx(self, filepath: Any) -> None:
        """Writes the model as a standard ONNX graph (needs ``pip install 'rustrnn[interop]'``);
        see :mod:`rustrnn.interop.onnx_out` for what maps to what."""
        from .interop.onnx_out import export_model_onnx

        export_model_onnx(self, filepath)

    def export_keras(self, filepath: Any) -> None:
        """Writes the model as a Keras 3 ``.keras`` archive (needs h5py);
        see :mod:`rustrnn.interop.keras_out`."""
        from .interop.keras_out import export_keras

        export_keras(self, filepath)

    def to_bytes(self, include_optimizer: bool = True) -> bytes:
        """The model file of :meth:`save` as bytes; :func:`rustrnn.load_model` reads them back."""
        from .saving import model_to_bytes

        return model_to_bytes(self, include_optimizer=include_optimizer)

    def __reduce__(self) -> tuple:
        # pickle and copy.deepcopy: the model file's bytes (safetensors + JSON),
        # rebuilt by a rustrnn function that parses only those.
        from .saving import _unbuilt_bytes, _unpickle

        if self._handle is None:
            return (_unpickle, ("unbuilt", _unbuilt_bytes(self)))
        return (_unpickle, ("model", self.to_bytes()))

    def summary(self, print_fn: Any = print) -> None:
        raise NotImplementedError


def _auto_names(layers: list) -> None:
    taken = {l.name for l in layers if l.name}
    counts: dict = {}
    for l in layers:
        if l.name:
            continue
        k = counts.get(l._prefix, 0)
        while True:
            name = l._prefix if k == 0 else f"{l._prefix}_{k}"
            k += 1
            if name not in taken:
                break
        counts[l._prefix] = k
        l.name = name
        taken.add(name)


class _LayerLookup:
    """``get_layer`` for the models that hold a ``layers`` list (Sequential and functional)."""

    layers: list

    def get_layer(self, name: Optional[str] = None, index: Optional[int] = None) -> Any:
        """A layer (or input layer) by name or index, as Keras' ``get_layer``."""
        if index is not None:
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ArgumentError(f"get_layer: no layer named {name!r}; the layers are {', '.join(l.name for l in self.layers)}")


@register_model
class Sequential(_LayerLookup, Model):
    """A linear stack of layers.

    >>> model = Sequential([layers.Embedding(1000, 32, mask_zero=True), layers.LSTM(32), layers.Dense(1, "sigmoid")])
    >>> model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])

    Input sizes are inferred from the first batch the model sees (or from
    :meth:`build`). ``dtype`` is float32 (default) or float64.
    """

    def __init__(self, layers: Optional[list] = None, dtype: Any = np.float32, name: Optional[str] = None) -> None:
        super().__init__(dtype, name or "sequential")
        self.layers: list = []
        self._input: Optional[dict] = None
        self._declared_input: Any = None  # a keras.Input given first
        for layer in layers or []:
            self.add(layer)

    def add(self, layer: Layer) -> None:
        from . import _symbolic

        if isinstance(layer, _symbolic.KerasTensor) and isinstance(layer.node.layer, _symbolic.InputLayer):
            # Keras's `Sequential([Input(shape), ...])`: the input shape, known before any data.
            if self.layers or self._declared_input is not None:
                raise ArgumentError("layer: keras.Input can only come first in a Sequential model")
            self._declared_input = layer
            return
        if not isinstance(layer, Layer):
            raise DTypeError(f"layer: expected a rustrnn.layers.Layer, got {type(layer).__name__}")
        if self._handle is not None:
            raise StateError("add: the model is already built; layers cannot be added afterwards")
        if layer._model is not None and layer._model is not self:
            raise ArgumentError(f"layer: {layer.name or layer._class} already belongs to another model")
        if isinstance(layer, Embedding) and self.layers:
            raise ArgumentError("layer: an Embedding can only be the first layer")
        self.layers.append(layer)
        layer._model = self
        _auto_names(self.layers)
        names = [l.name for l in self.layers]
        if len(set(names)) != len(names):
            raise ArgumentError(f"layer: the name {layer.name!r} is already used in this model")

    def _input_spec(self, x: Optional[np.ndarray] = None, input_shape: Optional[tuple] = None) -> dict:
        # T (the steps) is the declared input's, else the data's that builds the model, as Keras builds
        # a Sequential; only Flatten and Reshape depend on it.
        shape = input_shape if input_shape is not None else (x.shape[1:] if x is not None else None)
        if shape is None and self._declared_input is not None:
            shape = self._declared_input.shape[1:]
        if self.layers and isinstance(self.layers[0], Embedding):
            steps = shape[0] if shape is not None and len(shape) >= 1 else None
            return {"kind": "indices", "steps": None if steps is None else int(steps)}
        if shape is None:
            raise StateError("build: the input size is not known yet; call build(input_shape) or pass data to fit/predict")
        if len(shape) not in (1, 2) or shape[-1] is None:
            raise ShapeError(f"input_shape: expected (features,) or (time, features) without the batch, got {tuple(shape)}")
        steps = shape[0] if len(shape) == 2 and shape[0] is not None else None
        return {"kind": "features", "features": int(shape[-1]), "sequence": len(shape) == 2,
                "steps": None if steps is None else int(steps)}

    def build(self, input_shape: Optional[tuple] = None) -> None:
        """Builds the weights for inputs of ``input_shape`` (without the batch axis);
        not needed for a model starting with an Embedding."""
        if self._handle is None:
            if input_shape is not None and len(input_shape) in (2, 3) and input_shape[0] is None:
                input_shape = tuple(input_shape[1:])
            self._input = self._input_spec(input_shape=input_shape)
            self._build_native(self._spec())

    def _require_built(self, what: str) -> None:
        # A model reading indices needs no data to know its input: build it now.
        if self._handle is None and self.layers and isinstance(self.layers[0], Embedding):
            self.build()
        super()._require_built(what)

    def _spec(self) -> dict:
        if not self.layers:
            raise StateError("the model has no layers; add some first")
        return {"type": "sequential", "input": self._input, "layers": [l.spec() for l in self.layers]}

    def _native_spec(self, x: Any) -> dict:
        self._input = self._input_spec(x)
        return self._spec()

    def _after_build(self) -> None:
        for layer in self.layers:
            if isinstance(layer, Embedding) and layer.initial_weights is not None:
                layer.set_weights([layer.initial_weights])

    def _prepare_x(self, x: Any) -> np.ndarray:
        if x is None:
            raise ArgumentError("x: input data is required")
        _streams.reject_stream("x", x, "this call")
        arr = np.asarray(from_torch(x))
        if self.layers and isinstance(self.layers[0], Embedding):
            if arr.dtype.kind not in "iu":
                raise DTypeError(f"x: the model starts with an Embedding and expects integer indices (int32/int64), got dtype {arr.dtype}")
            if arr.ndim != 2:
                raise ShapeError(f"x: expected indices of shape (batch, time), got shape {arr.shape}")
            return np.ascontiguousarray(arr, dtype=np.int64)
        # Booleans (one-hot inputs, as keras.io's char-LSTM builds them) and integers are
        # cast to the model's dtype as Keras does; float input of that dtype is not copied.
        if arr.dtype.kind not in "fiub":
            raise DTypeError(f"x: expected numeric or boolean features, got dtype {arr.dtype}")
        if arr.ndim not in (2, 3):
            raise ShapeError(f"x: expected features of shape (batch, time, features) or (batch, features), got shape {arr.shape}")
        return np.ascontiguousarray(arr, dtype=self.dtype)

    def _returns_state(self) -> bool:
        return bool(self.layers) and isinstance(self.layers[-1], _Recurrent) and self.layers[-1].return_state

    def predict(self, x: Any, batch_size: Optional[int] = None, verbose: int = 0, steps: Optional[int] = None) -> Any:
        """The model's output for every sample, computed in batches. With
        ``return_state`` on the last layer: ``[output, h, (c), ...]`` per direction.

        ``x`` may also be a generator or dataset of batches (``x``, ``(x,)`` or
        ``(x, y[, sample_weight])``; ``steps`` of them, default all); outputs
        are concatenated, so sequence outputs need the same T in every batch."""
        outs, states = [], []
        kind = _streams.stream_kind(x)
        if kind is not None:
            if batch_size is not None:
                raise ArgumentError(f"batch_size: not used when x is a {kind} of batches")
            source = _streams.BatchSource(x, kind, steps, False)
            try:
                for item in source.epoch(np.random.default_rng(0)):
                    bx = self._prepare_x(_streams.unpack(item, "x", need_y=False)[0])
                    self._ensure_built(bx)
                    y, st = self._handle.predict_batch(bx)
                    outs.append(y)
                    states.append(st)
            finally:
                source.close()
            if not outs:
                raise ShapeError("x: the generator or dataset gave no batches")
            shapes = {o.shape[1:] for o in outs}
            if len(shapes) > 1:
                raise ShapeError(f"x: the batches' outputs have different shapes {sorted(shapes)} and cannot be joined; "
                                 "call predict on each batch instead")
        else:
            if steps is not None:
                raise ArgumentError("steps: only for a generator or dataset of batches")
            batch_size = _batch_size(32 if batch_size is None else batch_size)
            x = self._prepare_x(x)
            if len(x) == 0:
                raise ShapeError("x: expected at least one sample, got 0")
            self._ensure_built(x)
            for start in range(0, len(x), batch_size):
                y, st = self._handle.predict_batch(np.ascontiguousarray(x[start:start + batch_size]))
                outs.append(y)
                states.append(st)
        y = np.concatenate(outs)
        if self._returns_state():
            return [y] + [np.concatenate([s[i] for s in states]) for i in range(len(states[0]))]
        return y

    def predict_on_batch(self, x: Any) -> Any:
        x = self._prepare_x(x)
        return self.predict(x, batch_size=max(1, len(x)))

    def __call__(self, x: Any) -> Any:
        """On arrays, the outputs for them. On a symbolic tensor, the model as a layer of a functional
        model: its layers are called on it in turn (the same layer objects, so the weights are shared,
        as in Keras). Unlike Keras, the outer model lists these layers, not this model, in ``layers``."""
        if isinstance(x, KerasTensor):
            if self._declared_input is not None:
                want = self._declared_input.shape
                if len(x.shape) != len(want) or any(a is not None and b is not None and a != b
                                                    for a, b in zip(x.shape[1:], want[1:])):
                    raise ShapeError(f"{self.name}: expected an input of shape {want}, got {x.shape}")
            for layer in self.layers:
                x = layer(x)
            return x
        return self.predict_on_batch(x)

    def generate(self, seed_ids: Any, length: int, temperature: float = 1.0, top_k: Optional[int] = None,
                 seed: Optional[int] = None) -> np.ndarray:
        """See :func:`rustrnn.generate`."""
        return _generate(self, seed_ids, length, temperature=temperature, top_k=top_k, seed=seed)

    def _generate_ids(self, batch: np.ndarray, length: int, temperature: float, top_k: Optional[int], seed: int) -> np.ndarray:
        self._ensure_built(batch)
        return self._handle.generate(batch, length, temperature, top_k, seed)

    def _build_saved(self) -> Optional[str]:
        if self._input is None:
            return "the saved model has no input description"
        self._build_native(self._spec())
        return None

    def get_config(self) -> dict:
        return {"class": "Sequential", "name": self.name, "dtype": self.dtype.name, "input": self._input,
                "layers": [l.spec() for l in self.layers]}

    @classmethod
    def from_config(cls, config: dict) -> "Sequential":
        model = cls([layer_from_spec(s) for s in config["layers"]], dtype=config.get("dtype", "float32"), name=config.get("name"))
        model._input = config.get("input")
        return model

    def summary(self, print_fn: Any = print) -> None:
        """Prints each layer's output shape and parameter count, and the totals."""
        if self._handle is None and self.layers and (isinstance(self.layers[0], Embedding) or self._declared_input is not None):
            self.build()
        info = json.loads(self._handle.layer_info()) if self._handle is not None else None
        rows = []
        for i, layer in enumerate(self.layers):
            if info is not None:
                shape = "(" + ", ".join("None" if d is None else str(d) for d in info[i]["output_shape"]) + ")"
                params = f"{info[i]['params']:,}"
            else:
                shape, params = "?", "0 (unbuilt)"
            rows.append((f"{layer.name} ({layer._class})", shape, params))
        w = [max(len(h), *(len(r[k]) for r in rows)) for k, h in enumerate(("Layer (type)", "Output Shape", "Param #"))]
        line = "─" * (sum(w) + 6)
        out = [f'Model: "{self.name}"', line, f"{'Layer (type)':<{w[0]}}   {'Output Shape':<{w[1]}}   {'Param #':>{w[2]}}", line]
        out += [f"{a:<{w[0]}}   {b:<{w[1]}}   {c:>{w[2]}}" for a, b, c in rows]
        out.append(line)
        if self._handle is not None:
            total, trainable = self._handle.num_params()
            out += [f"Total params: {total:,}", f"Trainable params: {trainable:,}", f"Non-trainable params: {total - trainable:,}"]
        else:
            out.append("Total params: 0 (unbuilt; input sizes are inferred on first use)")
        print_fn("\n".join(out))
