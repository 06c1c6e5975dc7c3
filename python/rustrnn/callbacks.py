"""Callbacks for :meth:`rustrnn.Sequential.fit`, with Keras' names and hooks.

Hooks: ``on_train_begin/end(logs)``, ``on_epoch_begin/end(epoch, logs)``,
``on_train_batch_begin/end(batch, logs)``. Setting ``model.stop_training =
True`` in any hook ends training after the current batch. A plain callable
passed in ``callbacks`` is called as ``f(epoch, logs)`` after each epoch.
"""

from __future__ import annotations

import csv
import math
import os
import sys
import time
import warnings
from typing import Any, Callable, Optional

import numpy as np

from ._checks import as_bool
from .errors import ArgumentError, DTypeError

__all__ = ["Callback", "History", "ProgbarLogger", "EarlyStopping", "ModelCheckpoint", "LearningRateScheduler",
           "ReduceLROnPlateau", "CSVLogger", "LambdaCallback", "TerminateOnNaN"]


class Callback:
    def __init__(self) -> None:
        self.model: Any = None
        self.params: dict = {}

    def set_model(self, model: Any) -> None:
        self.model = model

    def set_params(self, params: dict) -> None:
        self.params = params

    def on_train_begin(self, logs: Optional[dict] = None) -> None: ...
    def on_train_end(self, logs: Optional[dict] = None) -> None: ...
    def on_epoch_begin(self, epoch: int, logs: Optional[dict] = None) -> None: ...
    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None: ...
    def on_train_batch_begin(self, batch: int, logs: Optional[dict] = None) -> None: ...
    def on_train_batch_end(self, batch: int, logs: Optional[dict] = None) -> None: ...


class LambdaCallback(Callback):
    """Wraps plain functions as hooks."""

    def __init__(self, on_epoch_begin: Optional[Callable] = None, on_epoch_end: Optional[Callable] = None,
                 on_train_batch_begin: Optional[Callable] = None, on_train_batch_end: Optional[Callable] = None,
                 on_train_begin: Optional[Callable] = None, on_train_end: Optional[Callable] = None) -> None:
        super().__init__()
        for name, fn in list(locals().items()):
            if name.startswith("on_") and fn is not None:
                setattr(self, name, fn)


class History(Callback):
    """Per-epoch values of the loss and metrics: ``history.history["val_loss"]``."""

    def __init__(self) -> None:
        super().__init__()
        self.history: dict = {}
        self.epoch: list = []
        self.interrupted = False
        #: ``(epoch, batch)`` where a :class:`TerminateOnNaN` stopped training on a NaN
        #: or infinite loss (the weights are then unusable), else ``None``.
        self.diverged: Optional[tuple] = None

    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)

    def plot(self, keys: Optional[list] = None, ax: Any = None) -> Any:
        """Draws each metric per epoch (training and validation on one axis); needs matplotlib."""
        try:
            import matplotlib.pyplot as plt
        except ImportError:
            raise ImportError("History.plot needs matplotlib: pip install matplotlib") from None
        bases = [k for k in self.history if not k.startswith("val_") and k != "learning_rate"]
        keys = keys or bases
        if ax is None:
            _, axes = plt.subplots(1, len(keys), figsize=(5 * len(keys), 3.5), squeeze=False)
            axes = list(axes[0])
        else:
            axes = list(np.atleast_1d(ax))
        epochs = [e + 1 for e in self.epoch]
        for a, k in zip(axes, keys):
            a.plot(epochs, self.history[k], marker="o", label=k)
            if "val_" + k in self.history:
                a.plot(epochs, self.history["val_" + k], marker="o", label="val_" + k)
            a.set_xlabel("epoch")
            a.set_title(k)
            a.legend()
        return axes


def _fmt(logs: dict) -> str:
    return " - ".join(f"{k}: {v:.4g}" for k, v in logs.items())


class ProgbarLogger(Callback):
    """``verbose=1``: a tqdm bar per epoch with loss, metrics and ETA per batch;
    ``verbose=2``: one line per epoch."""

    def __init__(self, verbose: int = 1, file: Any = None) -> None:
        super().__init__()
        self.verbose = verbose
        self.file = file
        self._bar = None
        self._t0 = 0.0

    def on_epoch_begin(self, epoch: int, logs: Optional[dict] = None) -> None:
        self._t0 = time.perf_counter()
        if self.verbose == 1:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=self.params.get("steps"), desc=f"Epoch {epoch + 1}/{self.params.get('epochs')}",
                             unit="batch", file=self.file or sys.stderr, dynamic_ncols=True, leave=True)

    def on_train_batch_end(self, batch: int, logs: Optional[dict] = None) -> None:
        if self._bar is not None:
            self._bar.update(1)
            self._bar.set_postfix({k: f"{v:.4f}" for k, v in (logs or {}).items()}, refresh=False)

    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
        if self._bar is not None:
            self._bar.set_postfix({k: f"{v:.4f}" for k, v in (logs or {}).items()}, refresh=True)
            self._bar.close()
            self._bar = None
        elif self.verbose == 2:
            took = time.perf_counter() - self._t0
            print(f"Epoch {epoch + 1}/{self.params.get('epochs')} - {took:.1f}s - {_fmt(logs or {})}", file=self.file or sys.stdout, flush=True)

    def on_train_end(self, logs: Optional[dict] = None) -> None:
        if self._bar is not None:  # interrupted mid-epoch
            self._bar.close()
            self._bar = None


def _monitor_op(monitor: str, mode: str) -> Callable[[float, float], bool]:
    if mode not in ("auto", "min", "max"):
        raise ArgumentError(f"mode: expected 'auto', 'min' or 'max', got {mode!r}")
    if mode == "auto":
        mode = "max" if "acc" in monitor else "min"
    return (lambda a, b: a > b) if mode == "max" else (lambda a, b: a < b)


def _sign(monitor: str, mode: str) -> float:
    return 1.0 if (mode == "max" or (mode == "auto" and "acc" in monitor)) else -1.0


class EarlyStopping(Callback):
    """Stops when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs;
    ``restore_best_weights`` puts back the weights of the best epoch."""

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0.0, patience: int = 0, verbose: int = 0,
                 mode: str = "auto", baseline: Optional[float] = None, restore_best_weights: bool = False,
                 start_from_epoch: int = 0) -> None:
        super().__init__()
        self.monitor = monitor
        self.min_delta = abs(float(min_delta))
        self.patience = int(patience)
        self.verbose = verbose
        self.baseline = baseline
        self.restore_best_weights = as_bool("restore_best_weights", restore_best_weights)
        self.start_from_epoch = int(start_from_epoch)
        self._better = _monitor_op(monitor, mode)
        self._sign = _sign(monitor, mode)
        self.stopped_epoch = 0

    def on_train_begin(self, logs: Optional[dict] = None) -> None:
        self.wait = 0
        self.stopped_epoch = 0
        self.best = self.baseline if self.baseline is not None else -self._sign * math.inf
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
        current = (logs or {}).get(self.monitor)
        if current is None:
            warnings.warn(f"EarlyStopping: '{self.monitor}' is not among the logged values {sorted(logs or {})}", stacklevel=2)
            return
        if epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
        self.wait += 1
        if self._better(current - self._sign * self.min_delta, self.best):
            self.best = current
            self.best_epoch = epoch
            self.wait = 0
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs: Optional[dict] = None) -> None:
        if self.restore_best_weights and self.best_weights is not None and self.stopped_epoch > 0:
            if self.verbose:
                print(f"EarlyStopping: restoring the weights of epoch {self.best_epoch + 1}")
            self.model.set_weights(self.best_weights)
        if self.stopped_epoch > 0 and self.verbose:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")


class ModelCheckpoint(Callback):
    """Saves the model after each epoch (or only when ``monitor`` improves, with
    ``save_best_only``). ``filepath`` may hold ``{epoch}`` and log keys, e.g.
    ``"ckpt-{epoch:02d}-{val_loss:.3f}.rnn"``. Writes are atomic.

    The format follows the name, as in Keras 3: ``*.keras`` a Keras 3 archive;
    with ``save_weights_only=True``, ``*.weights.h5`` Keras's weights file
    (:meth:`~rustrnn.Model.save_weights`); any other name rustrnn's own file
    (without the optimizer state when ``save_weights_only``)."""

    def __init__(self, filepath: str, monitor: str = "val_loss", verbose: int = 0, save_best_only: bool = False,
                 mode: str = "auto", save_weights_only: bool = False) -> None:
        super().__init__()
        self.filepath = os.fspath(filepath)
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = as_bool("save_best_only", save_best_only)
        self.save_weights_only = as_bool("save_weights_only", save_weights_only)
        if self.save_weights_only and self.filepath.endswith(".keras"):
            raise ArgumentError(f"filepath: with save_weights_only=True the name must end in .weights.h5 (as in Keras 3), got {self.filepath!r}")
        if not self.save_weights_only and self.filepath.endswith((".h5", ".hdf5")):
            raise ArgumentError(f"filepath: {self.filepath!r} is an HDF5 name; whole models are saved as .keras (or rustrnn's own "
                                "file, e.g. .rnn); for .weights.h5 pass save_weights_only=True")
        self._better = _monitor_op(monitor, mode)
        self.best = -_sign(monitor, mode) * math.inf

    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
        logs = logs or {}
        path = self.filepath.format(epoch=epoch + 1, **logs)
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None:
                warnings.warn(f"ModelCheckpoint: '{self.monitor}' is not among the logged values {sorted(logs)}", stacklevel=2)
                return
            if not self._better(current, self.best):
                return
            self.best = current
        if self.verbose:
            print(f"Epoch {epoch + 1}: saving model to {path}")
        if self.save_weights_only and path.endswith(".weights.h5"):
            self.model.save_weights(path)
        else:
            self.model.save(path, include_optimizer=not self.save_weights_only)


class LearningRateScheduler(Callback):
    """Sets the learning rate at the start of each epoch to ``schedule(epoch, lr)``
    (or ``schedule(epoch)``)."""

    def __init__(self, schedule: Callable, verbose: int = 0) -> None:
        super().__init__()
        if not callable(schedule):
            raise DTypeError(f"schedule: expected a callable (epoch, lr) -> lr, got {type(schedule).__name__}")
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch: int, logs: Optional[dict] = None) -> None:
        opt = self.model.optimizer
        try:
            lr = self.schedule(epoch, opt.learning_rate)
        except TypeError:
            lr = self.schedule(epoch)
        opt.learning_rate = float(lr)
        if self.verbose:
            print(f"Epoch {epoch + 1}: learning rate {float(lr):.6g}")

    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)


class ReduceLROnPlateau(Callback):
    """Multiplies the learning rate by ``factor`` when ``monitor`` stalls for ``patience`` epochs."""

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10, verbose: int = 0,
                 mode: str = "auto", min_delta: float = 1e-4, cooldown: int = 0, min_lr: float = 0.0) -> None:
        super().__init__()
        if not 0.0 < factor < 1.0:
            raise ArgumentError(f"factor: expected a value in (0, 1), got {factor}")
        self.monitor, self.factor, self.patience, self.verbose = monitor, float(factor), int(patience), verbose
        self.min_delta, self.cooldown, self.min_lr = float(min_delta), int(cooldown), float(min_lr)
        self._better = _monitor_op(monitor, mode)
        self._sign = _sign(monitor, mode)

    def on_train_begin(self, logs: Optional[dict] = None) -> None:
        self.best = -self._sign * math.inf
        self.wait = 0
        self.cooldown_counter = 0

    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
        current = (logs or {}).get(self.monitor)
        if current is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._better(current - self._sign * self.min_delta, self.best):
            self.best = current
            self.wait = 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                opt = self.model.optimizer
                new = max(opt.learning_rate * self.factor, self.min_lr)
                if new < opt.learning_rate:
                    opt.learning_rate = new
                    if self.verbose:
                        print(f"Epoch {epoch + 1}: reducing the learning rate to {new:.6g}")
                self.cooldown_counter = self.cooldown
                self.wait = 0


class TerminateOnNaN(Callback):
    """Stops training when the loss becomes NaN or infinite (training diverged).

    ``fit`` adds one by default (``terminate_on_nan=True``); where it stops,
    ``stopped`` and the returned history's ``diverged`` are ``(epoch, batch)``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.stopped: Optional[tuple] = None
        self._epoch = 0

    def on_train_begin(self, logs: Optional[dict] = None) -> None:
        self.stopped = None

    def on_epoch_begin(self, epoch: int, logs: Optional[dict] = None) -> None:
        self._epoch = epoch

    def on_train_batch_end(self, batch: int, logs: Optional[dict] = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            print(f"Epoch {self._epoch + 1}, batch {batch}: invalid loss ({loss}), terminating training: "
                  "it diverged (try a smaller learning rate)", file=sys.stderr)
            self.stopped = (self._epoch, batch)
            self.model.stop_training = True


class CSVLogger(Callback):
    """Appends one CSV row per epoch: ``epoch`` and every logged value."""

    def __init__(self, filename: str, separator: str = ",", append: bool = False) -> None:
        super().__init__()
        self.filename = os.fspath(filename)
        self.sep = separator
        self.append = as_bool("append", append)
        self._file = None
        self._writer = None

    def on_train_begin(self, logs: Optional[dict] = None) -> None:
        has_rows = self.append and os.path.exists(self.filename) and os.path.getsize(self.filename) > 0
        self._file = open(self.filename, "a" if self.append else "w", newline="")
        self._has_header = has_rows
        self._writer = None

    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
        logs = logs or {}
        if self._writer is None:
            self._keys = sorted(logs)
            self._writer = csv.DictWriter(self._file, fieldnames=["epoch", *self._keys], delimiter=self.sep)
            if not self._has_header:
                self._writer.writeheader()
        self._writer.writerow({"epoch": epoch, **{k: logs.get(k, "NA") for k in self._keys}})
        self._file.flush()

    def on_train_end(self, logs: Optional[dict] = None) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class CallbackList:
    """Calls every callback's hook in order."""

    def __init__(self, callbacks: list, model: Any, params: dict) -> None:
        self.callbacks = []
        for cb in callbacks:
            if isinstance(cb, Callback):
                self.callbacks.append(cb)
            elif callable(cb):
                self.callbacks.append(LambdaCallback(on_epoch_end=cb))
            else:
                raise DTypeError(f"callbacks: expected Callback instances or callables (epoch, logs), got {type(cb).__name__}")
        for cb in self.callbacks:
            cb.set_model(model)
            cb.set_params(params)

    def __getattr__(self, hook: str) -> Callable:
        if not hook.startswith("on_"):
            raise AttributeError(hook)

        def call(*args: Any) -> None:
            for cb in self.callbacks:
                getattr(cb, hook)(*args)

        return call
