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

__all__ = ["save_model", "load_model", "model_to_bytes"]

FORMAT = "rustrnn.model"
FORMAT_VERSION = "1"


def save_model(model: Any, filepath: Any, include_optimizer: bool = True) -> None:
    """See :meth:`rustrnn.Model.save`."""
    path = os.fspath(filepath)
    atomic_write(path, model_to_bytes(model, include_optimizer=include_optimizer))


def _training_spec(model: Any) -> Any:
    if model.optimizer is None:
        return None
    return {"loss": model.loss.spec(), "metrics": list(model.metrics_names), "optimizer": model.optimizer.spec()}


def _user_metadata(model: Any) -> str:
    try:
        return json.dumps(dict(model.metadata), allow_nan=False)
    except (TypeError, ValueError) as e:
        raise ArgumentError(f"metadata: expected a dict of JSON values (str, numbers, lists, dicts), got one that is not ({e})") from None


def model_to_bytes(model: Any, include_optimizer: bool = True) -> bytes:
    """The bytes of a model file (see :meth:`rustrnn.Model.to_bytes`)."""
    model._require_built("save")
    tensors = [("weights/" + name, arr) for name, arr in model._named_weights()]
    training = _training_spec(model)
    if training is not None and include_optimizer:
        iterations, state = model._optimizer_state()
        training["iterations"] = int(iterations)
        tensors += [("optimizer/" + name, arr) for name, arr in state]
    user = _user_metadata(model)
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "rustrnn_version": _native.__version__,
        "architecture": json.dumps(model.get_config()),
        "training": json.dumps(training),
    }
    if model.metadata:
        metadata["user_metadata"] = user
    return bytes(_native.serialize_model(tensors, metadata))


def _read_source(source: Any) -> tuple:
    """``(bytes, name for messages)`` of a path, a bytes-like object or a binary file object."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), "<bytes>"
    if hasattr(source, "read"):
        data = source.read()
        if not isinstance(data, (bytes, bytearray)):
            raise ArgumentError(f"filepath: expected a file object opened in binary mode ('rb'), got one whose read() returns {type(data).__name__}")
        return bytes(data), getattr(source, "name", "<file object>")
    try:
        path = os.fspath(source)
    except TypeError:
        raise ArgumentError(f"filepath: expected a path, bytes or a binary file object, got {type(source).__name__}") from None
    with open(path, "rb") as f:
        return f.read(), path


def _model_from_config(config: Any) -> Any:
    if not isinstance(config, dict):
        raise ModelFileError("architecture: expected a JSON object")
    cls = model_class(config.get("class"))
    if cls is None:
        raise ModelFileError(f"architecture: unknown model class {config.get('class')!r}; expected {' or '.join(model_class_names())}")
    return cls.from_config(config)


def load_model(filepath: Any, compile: bool = True) -> Any:
    """Loads a model written by :meth:`rustrnn.Model.save` (a path) or
    :meth:`rustrnn.Model.to_bytes` (bytes, or a binary file object), with its
    optimizer state (so that training continues exactly where it stopped)."""
    data, path = _read_source(filepath)
    return _from_bytes(data, path, compile)


def _from_bytes(data: bytes, path: str, compile: bool = True) -> Any:
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


def _unbuilt_bytes(model: Any) -> bytes:
    """An unbuilt model as JSON: its architecture, compile settings and metadata."""
    return json.dumps({"format": FORMAT + ".unbuilt", "architecture": model.get_config(), "training": _training_spec(model),
                       "user_metadata": json.loads(_user_metadata(model))}).encode()


def _unpickle(kind: str, data: bytes) -> Any:
    """What ``pickle`` calls to rebuild a model (see ``Model.__reduce__``): it
    parses only JSON and raw tensors."""
    if kind == "model":
        return _from_bytes(bytes(data), "<pickle>")
    if kind != "unbuilt":
        raise ModelFileError(f"pickle: unknown model kind {kind!r}")
    try:
        v = json.loads(bytes(data))
        if v.get("format") != FORMAT + ".unbuilt":
            raise ModelFileError(f"pickle: not a rustrnn model (format {v.get('format')!r})")
        model = _model_from_config(v["architecture"])
        training = v["training"]
        if training is not None:
            model.compile(optimizer=optimizers.from_spec(training["optimizer"]), loss=losses.get(training["loss"]), metrics=training["metrics"])
        model.metadata = dict(v["user_metadata"])
    except ModelFileError:
        raise
    except (RustRnnError, KeyError, TypeError, ValueError, AttributeError) as e:
        raise ModelFileError(f"pickle: invalid model: {e}") from None
    return model
