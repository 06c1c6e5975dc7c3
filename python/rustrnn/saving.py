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

import builtins
import json
import os
import re
import warnings
from typing import Any

from . import _native, losses, optimizers
from ._bounded import loads, read_bytes, read_stream
from ._files import atomic_write
from ._registry import model_class, model_class_names
from .errors import ArgumentError, ModelFileError, RustRnnError
from .errors import MemoryError as AllocationError

__all__ = ["save_model", "load_model", "model_to_bytes"]

FORMAT = "rustrnn.model"
FORMAT_VERSION = "3"
# Version 1 wrote a recurrent layer's PyTorch between-layer dropout as "dropout",
# which now means Keras's input dropout: such files are read with their old meaning.
# Versions 1 and 2 hold a bias_hh for every Keras-style recurrent layer; since 3
# the layers with Keras's one bias have none, and an older file's is added to
# bias_ih when read (the same outputs).
READABLE_VERSIONS = ("1", "2", "3")
_FOLDED_BIAS = re.compile(r"(.*/)bias_hh(_l\d+(?:_reverse)?)$")


def _upgrade(config: Any, version: Any) -> Any:
    """The architecture of a version-1 file in today's terms (``dropout`` -> ``layer_dropout``)."""
    if version != "1" or not isinstance(config, dict) or not isinstance(config.get("layers"), list):
        return config
    for spec in config["layers"]:
        if isinstance(spec, dict) and spec.get("class") in ("SimpleRNN", "LSTM", "GRU") and isinstance(spec.get("config"), dict):
            rate = spec["config"].pop("dropout", 0.0)
            if rate:
                spec["config"]["layer_dropout"] = rate
    return config


def save_model(model: Any, filepath: Any, include_optimizer: bool = True) -> None:
    """See :meth:`rustrnn.Model.save`."""
    path = os.fspath(filepath)
    atomic_write(path, model_to_bytes(model, include_optimizer=include_optimizer))


def _saved_metrics(model: Any) -> list:
    """The compiled metrics a file can name: native names and a default ``"auc"``;
    a callable (code, which files never hold) or a configured AUC is left out with a warning."""
    from ._pymetrics import AUC

    py = {m.name: m for m in getattr(model, "_py_metrics", [])}
    names = []
    for name in getattr(model, "_metric_order", model.metrics_names):
        m = py.get(name)
        if m is None:
            names.append(name)
        elif isinstance(m, AUC) and m.num_thresholds == 200 and not m.from_logits and m.name == "auc":
            names.append("auc")
        else:
            warnings.warn(f"save: metric {name!r} is not saved (a callable or a configured AUC); pass it to compile again "
                          "after loading", stacklevel=4)
    return names


def _training_spec(model: Any) -> Any:
    if model.optimizer is None:
        return None
    heads = getattr(model, "_heads", None)
    if heads:  # several outputs: a loss, weight and metrics per output, in output order
        return {"loss": [h.loss.spec() for h in heads], "loss_weights": [h.weight for h in heads],
                "metrics": [list(h.metrics) for h in heads], "optimizer": model.optimizer.spec()}
    spec = {"loss": model.loss.spec(), "metrics": _saved_metrics(model), "optimizer": model.optimizer.spec()}
    if getattr(model, "_loss_weight", 1.0) != 1.0:
        spec["loss_weights"] = model._loss_weight
    return spec


def _compile_saved(model: Any, training: dict) -> None:
    """Compiles ``model`` as the saved ``training`` spec says."""
    loss = training["loss"]
    loss = [losses.get(l) for l in loss] if isinstance(loss, list) else losses.get(loss)
    weights = {"loss_weights": training["loss_weights"]} if "loss_weights" in training else {}
    model.compile(optimizer=optimizers.from_spec(training["optimizer"]), loss=loss, metrics=training["metrics"], **weights)


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
        name = str(getattr(source, "name", "<file object>"))
        return read_stream(source, "filepath", name, error=ModelFileError), name
    try:
        path = os.fspath(source)
    except TypeError:
        raise ArgumentError(f"filepath: expected a path, bytes or a binary file object, got {type(source).__name__}") from None
    return read_bytes(path, "model file", error=ModelFileError), path


def _model_from_config(config: Any) -> Any:
    if not isinstance(config, dict):
        raise ModelFileError("architecture: expected a JSON object")
    cls = model_class(config.get("class"))
    if cls is None:
        raise ModelFileError(f"architecture: unknown model class {config.get('class')!r}; expected {' or '.join(model_class_names())}")
    return cls.from_config(config)


def _check_declared_sizes(spec: Any, tensors: list) -> None:
    """Refuses a native architecture ``spec`` that declares more parameter values
    than the file's weight tensors hold: checked before a single layer is built,
    so the JSON alone cannot make the loader allocate what the file does not contain."""
    present = sum(int(arr.size) for name, arr in tensors if name.startswith("weights/"))
    try:
        declared = _native.declared_parameters(json.dumps(spec))
    except AllocationError as e:  # sizes whose product overflows: no file holds them
        raise ModelFileError(f"the architecture declares impossible sizes ({e})") from None
    if declared > present:
        raise ModelFileError(
            f"the weight shapes do not match the architecture: it declares {declared} parameter values "
            f"but the file's weight tensors hold {present}")


def load_model(filepath: Any, compile: bool = True) -> Any:
    """Loads a model written by :meth:`rustrnn.Model.save` (a path) or
    :meth:`rustrnn.Model.to_bytes` (bytes, or a binary file object), with its
    optimizer state (so that training continues exactly where it stopped).

    The file is validated completely (bounded read, JSON nesting and sizes, every
    declared shape against the tensors present) before anything is built; every
    failure is a :class:`rustrnn.ModelFileError` (or ``MemoryError``) naming the file.

    A path ending in ``.keras`` is read as a Keras 3 archive (:func:`rustrnn.interop.from_keras`,
    needs h5py): architecture and weights, returned uncompiled."""
    if isinstance(filepath, (str, os.PathLike)) and os.fspath(filepath).endswith(".keras"):
        from .interop.keras_in import from_keras

        return from_keras(filepath)
    data, path = _read_source(filepath)
    return _from_bytes(data, path, compile)


def _from_bytes(data: bytes, path: str, compile: bool = True) -> Any:
    try:
        return _load(path, data, compile)
    except (ModelFileError, AllocationError):
        raise
    except RustRnnError as e:
        raise ModelFileError(f"{path}: invalid model: {e}") from None
    except builtins.MemoryError as e:
        raise AllocationError(f"{path}: {e}") from None
    except Exception as e:  # noqa: BLE001 - whatever interpreting a hostile file provokes is the file's fault
        raise ModelFileError(f"{path}: invalid model: {type(e).__name__}: {e}") from None


def _load(path: str, data: bytes, compile: bool) -> Any:
    try:
        meta, tensors = _native.deserialize_model(data)
    except AllocationError:
        raise
    except RustRnnError as e:
        raise ModelFileError(f"{path}: {e}") from None
    if meta.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not a rustrnn model file (format {meta.get('format')!r})")
    if meta.get("format_version") not in READABLE_VERSIONS:
        raise ModelFileError(f"{path}: unsupported format version {meta.get('format_version')!r}; expected one of {', '.join(READABLE_VERSIONS)}")
    if "architecture" not in meta:
        raise ModelFileError(f"{path}: the architecture is missing")
    config = _upgrade(loads(meta["architecture"], f"{path}: architecture", ModelFileError), meta["format_version"])
    training = loads(meta.get("training", "null"), f"{path}: training", ModelFileError)
    user = loads(meta.get("user_metadata", "{}"), f"{path}: user_metadata", ModelFileError)
    if not isinstance(user, dict):
        raise ModelFileError(f"{path}: user_metadata: expected a JSON object, got {type(user).__name__}")
    if training is not None and not isinstance(training, dict):
        raise ModelFileError(f"{path}: training: expected a JSON object or null, got {type(training).__name__}")
    try:
        if isinstance(config, dict) and config.get("class") == "Seq2Seq":  # its constructor builds
            _check_declared_sizes({"type": "seq2seq", "config": {k: v for k, v in config.items() if k not in ("class", "name", "dtype")}},
                                  tensors)
        model = _model_from_config(config)
        if config.get("class") == "Sequential" and getattr(model, "_input", None) is not None:
            _check_declared_sizes(model._spec(), tensors)  # before _build_saved allocates the layers
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
        # An older file's recurrent bias where the layer has Keras's one bias: added to bias_ih when set.
        folded = [n for n in weights if n not in names and (m := _FOLDED_BIAS.match(n)) and f"{m[1]}bias_ih{m[2]}" in names]
        extra = [n for n in weights if n not in names and n not in folded]
        if missing or extra:
            raise ModelFileError(f"{path}: weights do not match the architecture (missing: {', '.join(missing) or '-'}; unexpected: {', '.join(extra) or '-'})")
        for n, arr in weights.items():
            if arr.dtype != model.dtype:
                raise ModelFileError(f"{path}: weight {n} is {arr.dtype}, but the model is {model.dtype}")
        model._set_named_weights(weights)
        if compile and training is not None:
            _compile_saved(model, training)
            if slots or training.get("iterations"):
                model._set_optimizer_state(int(training.get("iterations", 0)), slots)
        model.metadata = user
    except AllocationError:
        raise
    except ModelFileError as e:
        if str(e).startswith(path):
            raise
        raise ModelFileError(f"{path}: {e}") from None
    except (RustRnnError, KeyError, TypeError, ValueError, IndexError, AttributeError, OverflowError, RecursionError) as e:
        raise ModelFileError(f"{path}: invalid model: {e}") from None
    except Exception as e:  # noqa: BLE001 - e.g. SyntaxError from NumPy parsing a damaged dtype string
        raise ModelFileError(f"{path}: invalid model: {type(e).__name__}: {e}") from None
    return model


def _unbuilt_bytes(model: Any) -> bytes:
    """An unbuilt model as JSON: its architecture, compile settings and metadata."""
    return json.dumps({"format": FORMAT + ".unbuilt", "format_version": FORMAT_VERSION, "architecture": model.get_config(), "training": _training_spec(model),
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
        model = _model_from_config(_upgrade(v["architecture"], v.get("format_version", "1")))
        training = v["training"]
        if training is not None:
            _compile_saved(model, training)
        model.metadata = dict(v["user_metadata"])
    except ModelFileError:
        raise
    except (RustRnnError, KeyError, TypeError, ValueError, AttributeError) as e:
        raise ModelFileError(f"pickle: invalid model: {e}") from None
    return model
