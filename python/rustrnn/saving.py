"""One-file model saving: weights and optimizer slots as safetensors tensors,
architecture and compile settings as JSON in the file's metadata.

``model.metadata`` (a dict of JSON values: the tokenizer, label names, ... that
an application needs next to the weights) is stored as JSON under the
``user_metadata`` key and given back by :func:`load_model`.

Writes are atomic (a temporary file in the same directory, flushed to disk,
then renamed over the target), so a crash leaves either the old file or the
new one. Loading parses only JSON and raw tensors — it never executes code —
and checks every name, shape and dtype before building anything.
"""

from __future__ import annotations

import json
import os
from typing import Any

from . import _native, losses, optimizers
from ._files import atomic_write
from ._registry import model_class, model_class_names
from .errors import ArgumentError, ModelFileError, RustRnnError

__all__ = ["save_model", "load_model"]

FORMAT = "rustrnn.model"
FORMAT_VERSION = "1"


def save_model(model: Any, filepath: Any, include_optimizer: bool = True) -> None:
    """See :meth:`rustrnn.Model.save`."""
    path = os.fspath(filepath)
    model._require_built("save")
    tensors = [("weights/" + name, arr) for name, arr in model._named_weights()]
    training = None
    if model.optimizer is not None:
        training = {"loss": model.loss.spec(), "metrics": list(model.metrics_names), "optimizer": model.optimizer.spec()}
        if include_optimizer:
            iterations, state = model._optimizer_state()
            training["iterations"] = int(iterations)
            tensors += [("optimizer/" + name, arr) for name, arr in state]
    try:
        user = json.dumps(dict(model.metadata), allow_nan=False)
    except (TypeError, ValueError) as e:
        raise ArgumentError(f"metadata: expected a dict of JSON values (str, numbers, lists, dicts), got one that is not ({e})") from None
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "rustrnn_version": _native.__version__,
        "architecture": json.dumps(model.get_config()),
        "training": json.dumps(training),
    }
    if model.metadata:
        metadata["user_metadata"] = user
    atomic_write(path, bytes(_native.serialize_model(tensors, metadata)))


def _model_from_config(config: Any) -> Any:
    if not isinstance(config, dict):
        raise ModelFileError("architecture: expected a JSON object")
    cls = model_class(config.get("class"))
    if cls is None:
        raise ModelFileError(f"architecture: unknown model class {config.get('class')!r}; expected {' or '.join(model_class_names())}")
    return cls.from_config(config)


def load_model(filepath: Any, compile: bool = True) -> Any:
    """Loads a model written by :meth:`rustrnn.Model.save`, with its optimizer state
    (so that training continues exactly where it stopped)."""
    path = os.fspath(filepath)
    with open(path, "rb") as f:
        data = f.read()
    try:
        meta, tensors = _native.deserialize_model(data)
    except RustRnnError as e:
        raise ModelFileError(f"{path}: {e}") from None
    if meta.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not a rustrnn model file (format {meta.get('format')!r})")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(f"{path}: unsupported format version {meta.get('format_version')!r}; expected {FORMAT_VERSION}")
    try:
        config = json.loads(meta["architecture"])
        training = json.loads(meta.get("training", "null"))
        user = json.loads(meta.get("user_metadata", "{}"))
    except (KeyError, ValueError) as e:
        raise ModelFileError(f"{path}: the architecture, training or user metadata is missing or not JSON ({e})") from None
    if not isinstance(user, dict):
        raise ModelFileError(f"{path}: user_metadata: expected a JSON object, got {type(user).__name__}")
    try:
        model = _model_from_config(config)
        missing_input = model._build_saved()
        if missing_input:
            raise ModelFileError(f"{path}: {missing_input}")
        weights = {k[len("weights/"):]: v for k, v in tensors if k.startswith("weights/")}
        slots = [(k[len("optimizer/"):], v) for k, v in tensors if k.startswith("optimizer/")]
        unknown = [k for k, _ in tensors if not k.startswith(("weights/", "optimizer/"))]
        if unknown:
            raise ModelFileError(f"{path}: unexpected tensors {', '.join(unknown)}")
        names = model._weight_names()
        missing = [n for n in names if n not in weights]
        extra = [n for n in weights if n not in names]
        if missing or extra:
            raise ModelFileError(f"{path}: weights do not match the architecture (missing: {', '.join(missing) or '-'}; unexpected: {', '.join(extra) or '-'})")
        for n, arr in weights.items():
            if arr.dtype != model.dtype:
                raise ModelFileError(f"{path}: weight {n} is {arr.dtype}, but the model is {model.dtype}")
        model._set_named_weights(weights)
        if compile and training is not None:
            model.compile(optimizer=optimizers.from_spec(training["optimizer"]), loss=losses.get(training["loss"]), metrics=training["metrics"])
            if slots or training.get("iterations"):
                model._set_optimizer_state(int(training.get("iterations", 0)), slots)
        model.metadata = user
    except ModelFileError:
        raise
    except (RustRnnError, KeyError, TypeError, ValueError) as e:
        raise ModelFileError(f"{path}: invalid model: {e}") from None
    return model
