"""Keras 3 ``.keras`` archives in: :func:`from_keras` reads ``config.json`` and
``model.weights.h5`` (with h5py; neither TensorFlow nor Keras is needed) into an
equivalent :class:`rustrnn.Sequential`, or a functional :class:`rustrnn.Model` for a Keras
Functional model (its layer calls replayed, ``x[...]`` slices as Keras's GetItem operation).

Layers: InputLayer, Embedding (``mask_zero``), Masking, SimpleRNN, LSTM, GRU
(``reset_after`` True or False; activations of ``layers.CELL_ACTIVATIONS``), Bidirectional (concat/sum/mul/ave)
around those, Dense (linear/relu/tanh/sigmoid/softmax), TimeDistributed(Dense or
LayerNormalization), Dropout, RepeatVector, Conv1D (valid/same/causal), GlobalAverage/
MaxPooling1D, LayerNormalization (last axis), Flatten, Reshape, Concatenate, Dot, Add, Subtract, Multiply,
Average, Maximum, Minimum. Weights are converted, not reinterpreted: kernels are transposed to
PyTorch's (out, in) layout and GRU gates reordered from Keras' z,r,h to r,z,n
(LSTM's i,f,c,o is already PyTorch's i,f,g,o). A layer called several times (shared:
several inbound nodes) is one layer called again. Anything else — another layer,
an activation rustrnn lacks, ``go_backwards`` with
``return_sequences`` after a mask (Keras then moves the outputs of padded
sequences; rustrnn keeps each sequence's steps in place) — raises
:class:`rustrnn.UnsupportedError` naming the layer and the option. Options that
act only in training and that rustrnn lacks (regularizers, constraints) are left
out with a warning that says so; a recurrent layer's ``dropout`` (on its inputs),
``recurrent_dropout``, ``use_bias`` and ``stateful`` are carried.
"""

from __future__ import annotations

import io
import json
import os
import warnings
import zipfile
from typing import Any

import numpy as np

from .._registry import model_class
from ..errors import ArgumentError, ModelFileError, UnsupportedError

_RECURRENT = ("SimpleRNN", "LSTM", "GRU")
_ACTIVATIONS = ("linear", "relu", "tanh", "sigmoid", "softmax")
_MERGE_MODES = ("concat", "sum", "mul", "ave")
_TRAINING_ONLY = ("kernel_regularizer", "recurrent_regularizer", "bias_regularizer", "activity_regularizer",
                  "kernel_constraint", "recurrent_constraint", "bias_constraint", "embeddings_regularizer",
                  "embeddings_constraint")


def _h5py():
    try:
        import h5py
    except ImportError:
        raise ImportError("from_keras needs h5py: pip install 'rustrnn[interop]' (or pip install h5py)") from None
    return h5py


def keras_recurrent_to_torch(cls: str, units: int, vs: list, reset_after: bool, suffix: str) -> dict:
    """PyTorch-named arrays (``weight_ih{suffix}``, ...) of a Keras recurrent cell's ``[kernel,
    recurrent_kernel(, bias)]``. Keras's one bias becomes ``bias_ih`` with ``bias_hh`` = 0 (the same
    outputs; rustrnn's Keras-style layers add a given ``bias_hh`` to their one bias); a GRU with
    ``reset_after`` has Keras's two biases."""
    kernel, recurrent = vs[:2]
    w = {f"weight_ih{suffix}": keras_to_torch_gates(kernel.T, cls, units),
         f"weight_hh{suffix}": keras_to_torch_gates(recurrent.T, cls, units)}
    if len(vs) == 2:  # use_bias=False
        return w
    bias = vs[2]
    if cls == "GRU" and reset_after:
        b_ih, b_hh = bias[0], bias[1]
    else:
        b_ih, b_hh = bias.reshape(-1), np.zeros(bias.size, bias.dtype)
    w[f"bias_ih{suffix}"] = keras_to_torch_gates(b_ih, cls, units)
    w[f"bias_hh{suffix}"] = keras_to_torch_gates(b_hh, cls, units)
    return w


def keras_to_torch_gates(w: np.ndarray, cell: str, units: int) -> np.ndarray:
    """Rows of a (G·H, ...) array from Keras' gate order to PyTorch's (GRU: z,r,h -> r,z,n)."""
    if cell != "GRU":
        return w
    z, r, h = (w[k * units:(k + 1) * units] for k in range(3))
    return np.concatenate([r, z, h])


def _activation(value: Any) -> str:
    if value is None:
        return "linear"
    if isinstance(value, dict):  # a serialized function object
        value = value.get("config", value.get("class_name"))
    return value if isinstance(value, str) else repr(value)


class _Reader:
    """The archive's weights, by layer name."""

    def __init__(self, h5: Any) -> None:
        self.groups: dict = {}
        if "layers" in h5:
            for key in h5["layers"]:
                g = h5["layers"][key]
                if "vars" in g and "name" in g["vars"].attrs:
                    self.groups[str(g["vars"].attrs["name"])] = g

    def vars(self, layer: str, *path: str) -> list:
        g = self.groups.get(layer)
        if g is None:
            raise ModelFileError(f"model.weights.h5: no weights for layer {layer!r}")
        for p in path:
            if p not in g:
                raise ModelFileError(f"model.weights.h5: layer {layer!r} has no {p!r} group")
            g = g[p]
        v = g["vars"]
        return [np.asarray(v[str(i)]) for i in range(len(v))]


class _Builder:
    def __init__(self) -> None:
        from .. import layers

        self.L = layers
        self.layers: list = []
        self.weights: dict = {}
        self.masked = False

    def unsupported(self, name: str, cls: str, what: str) -> UnsupportedError:
        return UnsupportedError(f"from_keras: layer {name!r} ({cls}): {what} is not supported by rustrnn")

    def check_recurrent(self, name: str, cls: str, c: dict) -> dict:
        """The rustrnn keyword arguments of a Keras recurrent layer's config."""
        act = _activation(c.get("activation", "tanh"))
        kw: dict = {"use_bias": bool(c.get("use_bias", True)), "dropout": float(c.get("dropout") or 0.0)}
        if c.get("stateful"):
            kw["stateful"] = True
        if c.get("recurrent_dropout"):
            kw["recurrent_dropout"] = float(c["recurrent_dropout"])
        acts = {"activation": act}
        if cls != "SimpleRNN":
            acts["recurrent_activation"] = _activation(c.get("recurrent_activation", "sigmoid"))
        for key, value in acts.items():
            if value not in self.L.CELL_ACTIVATIONS:
                raise self.unsupported(name, cls, f"{key}={value!r} ({', '.join(self.L.CELL_ACTIVATIONS)} are)")
        kw.update(acts)
        if cls == "GRU":
            kw["reset_after"] = bool(c.get("reset_after", True))
        if c.get("go_backwards") and c.get("return_sequences") and self.masked:
            raise self.unsupported(name, cls, "go_backwards with return_sequences on masked input (Keras moves padded "
                                              "sequences' outputs to other steps)")
        dropped = [k for k in _TRAINING_ONLY if c.get(k)]
        if dropped:
            warnings.warn(f"from_keras: layer {name!r} ({cls}): {', '.join(dropped)} act only in training and are "
                          "not imported; predictions are unaffected", stacklevel=4)
        return kw

    def recurrent_weights(self, cls: str, units: int, vs: list, suffix: str, reset_after: bool) -> dict:
        if len(vs) not in (2, 3):
            raise ModelFileError(f"model.weights.h5: a {cls} layer should have kernel, recurrent_kernel and bias, got {len(vs)} arrays")
        return keras_recurrent_to_torch(cls, units, vs, reset_after, f"_l0{suffix}")

    def per_step(self, name: str, cls: str, c: dict, reader: Any, *path: str, **kw: Any) -> tuple:
        """A Dense or LayerNormalization (alone or inside TimeDistributed: ``path``) and its weights
        (none when ``reader`` is None)."""
        L = self.L
        if c.get("quantization_config") or c.get("lora_rank"):
            raise self.unsupported(name, cls, "quantization or LoRA")
        vs = reader.vars(name, *path) if reader is not None else []
        if "layer_name" in kw:
            kw["name"] = kw.pop("layer_name")
        if cls == "Dense":
            act = _activation(c.get("activation"))
            if act not in _ACTIVATIONS:
                raise self.unsupported(name, cls, f"activation={act!r}")
            layer = L.Dense(c["units"], activation=act, use_bias=bool(c.get("use_bias", True)), **kw)
            return layer, dict(zip(["kernel", "bias"][:len(vs)], vs))
        if c.get("axis", -1) not in (-1, [-1]):
            raise self.unsupported(name, cls, f"axis={c.get('axis')!r} (only the last axis is)")
        if c.get("rms_scaling"):
            raise self.unsupported(name, cls, "rms_scaling=True")
        center, scale = bool(c.get("center", True)), bool(c.get("scale", True))
        layer = L.LayerNormalization(epsilon=c.get("epsilon", 1e-3), center=center, scale=scale, **kw)
        return layer, dict(zip([n for n, on in (("gamma", scale), ("beta", center)) if on], vs))

    def add(self, entry: dict, reader: Any) -> None:
        """Adds the layer of a Keras config entry; its weights from ``reader`` (None: no weights)."""
        L = self.L
        cls, c = entry.get("class_name"), entry.get("config", {})
        name = c.get("name", cls)
        if c.get("quantization_config") or c.get("lora_rank"):
            raise self.unsupported(name, cls, "quantization or LoRA")
        if cls == "Embedding":
            self.masked |= bool(c.get("mask_zero"))
            layer = L.Embedding(c["input_dim"], c["output_dim"], mask_zero=bool(c.get("mask_zero")),
                                trainable=c.get("trainable", True), name=name)
            if reader is not None:
                (table,) = reader.vars(name)
                self.weights[f"{name}/embeddings"] = table
        elif cls == "Masking":
            self.masked = True
            layer = L.Masking(c.get("mask_value", 0.0), name=name)
        elif cls == "Dropout":
            if c.get("noise_shape") is not None:
                raise self.unsupported(name, cls, "noise_shape")
            layer = L.Dropout(c["rate"], name=name)
        elif cls in ("Dense", "LayerNormalization"):
            layer, w = self.per_step(name, cls, c, reader, layer_name=name, trainable=c.get("trainable", True))
            self.weights.update({f"{name}/{k}": v for k, v in w.items()})
        elif cls == "TimeDistributed":
            inner = c.get("layer", {})
            icls, ic = inner.get("class_name"), inner.get("config", {})
            if icls not in ("Dense", "LayerNormalization"):
                raise self.unsupported(name, cls, f"wrapping {icls} (Dense and LayerNormalization are)")
            wrapped, w = self.per_step(name, icls, ic, reader, "layer", trainable=c.get("trainable", True))
            layer = L.TimeDistributed(wrapped, name=name)
            self.weights.update({f"{name}/{k}": v for k, v in w.items()})
        elif cls == "RepeatVector":
            layer = L.RepeatVector(c["n"], name=name)
        elif cls in ("GlobalAveragePooling1D", "GlobalMaxPooling1D"):
            if c.get("data_format", "channels_last") != "channels_last" or c.get("keepdims"):
                raise self.unsupported(name, cls, "data_format='channels_first' or keepdims=True")
            layer = getattr(L, cls)(name=name)
            self.masked = False  # the mask stops here
        elif cls == "Conv1D":
            act = _activation(c.get("activation"))
            if act not in _ACTIVATIONS:
                raise self.unsupported(name, cls, f"activation={act!r}")
            if c.get("data_format", "channels_last") != "channels_last" or c.get("groups", 1) != 1:
                raise self.unsupported(name, cls, "data_format='channels_first' or groups > 1")
            if c.get("padding") not in ("valid", "same", "causal"):
                raise self.unsupported(name, cls, f"padding={c.get('padding')!r}")
            layer = L.Conv1D(c["filters"], c["kernel_size"], strides=c.get("strides", 1), padding=c["padding"],
                             dilation_rate=c.get("dilation_rate", 1), activation=act, use_bias=bool(c.get("use_bias", True)),
                             trainable=c.get("trainable", True), name=name)
            if reader is not None:
                vs = reader.vars(name)
                self.weights[f"{name}/kernel"] = vs[0]
                if layer.use_bias:
                    self.weights[f"{name}/bias"] = vs[1]
            self.masked = False  # Keras 3's Conv1D does not support masking: the mask stops here
        elif cls in _RECURRENT:
            kw = self.check_recurrent(name, cls, c)
            layer = getattr(L, cls)(c["units"], return_sequences=bool(c.get("return_sequences")),
                                    return_state=bool(c.get("return_state")), go_backwards=bool(c.get("go_backwards")),
                                    trainable=c.get("trainable", True), name=name, **kw)
            if reader is not None:
                self.weights.update({f"{name}/{k}": v for k, v in self.recurrent_weights(
                    cls, c["units"], reader.vars(name, "cell"), "", kw.get("reset_after", True)).items()})
        elif cls == "Bidirectional":
            merge = c.get("merge_mode", "concat")
            if merge not in _MERGE_MODES:
                raise self.unsupported(name, cls, f"merge_mode={merge!r} (concat, sum, mul and ave are)")
            fw, bw = c.get("layer", {}), c.get("backward_layer") or {}
            fcls, fc = fw.get("class_name"), fw.get("config", {})
            if fcls not in _RECURRENT:
                raise self.unsupported(name, cls, f"wrapping {fcls}")
            bc = bw.get("config", {})
            same = ("units", "activation", "recurrent_activation", "use_bias", "reset_after", "return_sequences", "stateful")
            if bw and (bw.get("class_name") != fcls or not bc.get("go_backwards")
                       or any(bc.get(k) != fc.get(k) for k in same)):
                raise self.unsupported(name, cls, "a backward_layer that differs from the forward layer")
            if fc.get("go_backwards"):
                raise self.unsupported(name, cls, "a wrapped layer with go_backwards=True")
            if fc.get("return_state"):
                raise self.unsupported(name, cls, "return_state")
            kw = self.check_recurrent(name, fcls, fc)
            layer = getattr(L, fcls)(fc["units"], return_sequences=bool(fc.get("return_sequences")), bidirectional=True,
                                     merge_mode=merge, trainable=c.get("trainable", True), name=name, **kw)
            for sub, sfx in (("forward_layer", ""), ("backward_layer", "_reverse")) if reader is not None else ():
                w = self.recurrent_weights(fcls, fc["units"], reader.vars(name, sub, "cell"), sfx, kw.get("reset_after", True))
                self.weights.update({f"{name}/{k}": v for k, v in w.items()})
        elif cls == "Flatten":
            if c.get("data_format", "channels_last") != "channels_last":
                raise self.unsupported(name, cls, "data_format='channels_first'")
            layer = L.Flatten(name=name)
            self.masked = False
        elif cls == "Reshape":
            layer = L.Reshape(tuple(c["target_shape"]), name=name)
            self.masked = False
        elif cls in ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"):
            layer = getattr(L, cls)(name=name)
        elif cls == "Dot":
            layer = L.Dot(axes=c["axes"], normalize=c.get("normalize", False), name=name)
            self.masked = False  # Dot's output has no mask, as in Keras
        elif cls == "Concatenate":
            if c.get("axis", -1) != -1:
                raise self.unsupported(name, cls, f"axis={c.get('axis')!r} (only -1, the features, is)")
            layer = L.Concatenate(name=name)
        else:
            raise UnsupportedError(f"from_keras: layer {name!r} is a {cls}, which rustrnn does not implement "
                                   f"(supported: Embedding, Masking, SimpleRNN, LSTM, GRU, Bidirectional, Dense, "
                                   f"TimeDistributed(Dense or LayerNormalization), Dropout, RepeatVector, Conv1D, "
                                   f"GlobalAveragePooling1D, GlobalMaxPooling1D, LayerNormalization, Flatten, Reshape, Concatenate, "
                                   f"Add, Subtract, Multiply, Average, Maximum, Minimum, Dot)")
        self.layers.append(layer)


def from_keras(path: Any, dtype: Any = np.float32) -> Any:
    """A :class:`rustrnn.Sequential` or functional :class:`rustrnn.Model` equivalent to the
    Keras 3 model in the ``.keras`` archive at ``path``, with its weights (not compiled)."""
    h5py = _h5py()
    path = os.fspath(path)
    try:
        with zipfile.ZipFile(path) as z:
            config = json.loads(z.read("config.json"))
            weights_bytes = z.read("model.weights.h5")
    except (zipfile.BadZipFile, KeyError, ValueError) as e:
        raise ModelFileError(f"{path}: not a Keras 3 .keras archive (config.json + model.weights.h5): {e}") from None
    with h5py.File(io.BytesIO(weights_bytes), "r") as h5:
        model, builder = model_from_config(config, _Reader(h5), dtype, path)
    have = set(model.weight_names)
    missing = have - set(builder.weights)
    if missing:
        raise ModelFileError(f"{path}: no weights found for {', '.join(sorted(missing))}")
    model._set_named_weights({k: np.asarray(v, dtype=model.dtype) for k, v in builder.weights.items()})
    return model


def sequential_from_config(config: Any, reader: Any, dtype: Any, where: str) -> tuple:
    """``(model, builder)``: the :class:`rustrnn.Sequential` of a Keras 3 model config
    (config.json, ``to_json``), built when its input shape is known; the builder holds
    the weights read through ``reader`` (None: the model keeps its fresh weights)."""
    Sequential = model_class("Sequential")  # by name: no import circle through models.py's exports
    if not isinstance(config, dict):
        raise ModelFileError(f"{where}: expected a Keras model config (a JSON object), got {type(config).__name__}")
    if config.get("class_name") != "Sequential":
        raise UnsupportedError(f"from_keras: the model is a {config.get('class_name')}; Sequential and Functional models "
                               "are supported")
    entries = config.get("config", {}).get("layers", [])
    input_shape = config.get("config", {}).get("build_input_shape") or (config.get("build_config") or {}).get("input_shape")
    builder = _Builder()
    for i, entry in enumerate(entries):
        if entry.get("class_name") == "InputLayer":
            if i != 0:
                raise UnsupportedError("from_keras: an InputLayer is supported only as the first layer")
            input_shape = entry["config"].get("batch_shape") or input_shape
            continue
        builder.add(entry, reader)
    if not builder.layers:
        raise ModelFileError(f"{where}: the model has no layers")
    model = Sequential(builder.layers, dtype=dtype, name=config.get("config", {}).get("name"))
    if input_shape and input_shape[0] is not None:
        model._keras_batch_size = int(input_shape[0])  # the fixed batch size of Keras's stateful layers
    if isinstance(builder.layers[0], builder.L.Embedding) and not input_shape:
        model.build()
    elif input_shape:
        model.build((None, *tuple(input_shape)[1:]))  # Keras records the batch axis (a fixed size for stateful layers)
    elif reader is not None:
        raise ModelFileError(f"{where}: the model's input shape is not recorded (build the Keras model before saving)")
    return model, builder


def model_from_json(json_string: Any, dtype: Any = np.float32) -> Any:
    """Keras 3's ``keras.models.model_from_json``: the :class:`rustrnn.Sequential`
    a Keras model JSON (``model.to_json()``, Keras's or rustrnn's) describes, with
    fresh weights (built when the JSON records the input shape). Layers as :func:`from_keras`."""
    if not isinstance(json_string, (str, bytes, bytearray)):
        raise ArgumentError(f"json_string: expected a JSON string, got {type(json_string).__name__}")
    try:
        config = json.loads(json_string)
    except ValueError as e:
        raise ArgumentError(f"json_string: not valid JSON: {e}") from None
    return model_from_config(config, None, dtype, "model_from_json")[0]


def model_from_config(config: Any, reader: Any, dtype: Any, where: str) -> tuple:
    """``(model, builder)`` of a Keras 3 Sequential or Functional config."""
    if isinstance(config, dict) and config.get("class_name") in ("Functional", "Model"):
        return functional_from_config(config, reader, dtype, where)
    return sequential_from_config(config, reader, dtype, where)


def _index_item(item: Any, where: str) -> Any:
    """One item of a serialized GetItem key: an int or ``{"class_name": "__slice__", ...}``."""
    if isinstance(item, int) and not isinstance(item, bool):
        return item
    if isinstance(item, dict) and item.get("class_name") == "__slice__":
        c = item.get("config", {})
        return slice(c.get("start"), c.get("stop"), c.get("step"))
    if isinstance(item, dict) and item.get("class_name") == "__ellipsis__":
        return Ellipsis
    raise UnsupportedError(f"from_keras: {where}: the index item {item!r} is not supported (integers and slices are)")


def functional_from_config(config: dict, reader: Any, dtype: Any, where: str) -> tuple:
    """``(model, builder)``: the functional :class:`rustrnn.Model` of a Keras 3 Functional config,
    its layers called on the tensors the config records (``x[...]`` as Keras's GetItem)."""
    from .._symbolic import Input, _getitem_key
    from ..layers import GetItem

    c = config.get("config", {})
    entries = c.get("layers")
    if not isinstance(entries, list) or not entries:
        raise ModelFileError(f"{where}: the Functional model has no layers")
    builder = _Builder()
    tensors: dict = {}

    def tensor(v: Any, layer: str) -> Any:
        if not (isinstance(v, dict) and v.get("class_name") == "__keras_tensor__"):
            raise UnsupportedError(f"from_keras: layer {layer!r}: an argument {v!r} that is not a tensor is not supported")
        name, node, index = v["config"]["keras_history"]
        outs = tensors.get((name, node))
        if outs is None:
            raise KeyError(name)
        return outs[index]

    # One item per call (node): a shared layer (several inbound nodes) is built at its first
    # call and called again, one set of weights, its calls in node order.
    pending = []
    for entry in entries:
        if entry.get("class_name") != "InputLayer" and "inbound_nodes" not in entry:
            name = entry.get("name") or entry.get("config", {}).get("name")
            raise ModelFileError(f"{where}: layer {name!r} has no inbound_nodes: not a Functional model's config")
        pending.extend((entry, k) for k in range(max(1, len(entry.get("inbound_nodes", [])))))
    made: dict = {}
    while pending:
        progressed = False
        for item in list(pending):
            entry, k = item
            cls, name = entry.get("class_name"), entry.get("name") or entry.get("config", {}).get("name")
            nodes = entry.get("inbound_nodes", [])
            if cls == "InputLayer":
                ic = entry.get("config", {})
                shape = ic.get("batch_shape") or ic.get("batch_input_shape")
                tensors[(name, 0)] = [Input(batch_shape=tuple(shape), dtype=ic.get("dtype") or "float32", name=name)]
                pending.remove(item)
                progressed = True
                continue
            if k > 0 and (name, k - 1) not in tensors:
                continue  # a shared layer's calls in order
            args, kwargs = nodes[k].get("args", []), dict(nodes[k].get("kwargs", {}))
            try:
                if cls == "GetItem":
                    if len(nodes) != 1:
                        raise UnsupportedError(f"from_keras: operation {name!r} has {len(nodes)} inbound nodes")
                    x = tensor(args[0], name)
                    key = args[1] if len(args) > 1 else kwargs.get("key")
                    key = tuple(_index_item(i, name) for i in key) if isinstance(key, list) else _index_item(key, name)
                    tensors[(name, 0)] = [GetItem(**_getitem_key(x, key), name=name)(x)]
                    pending.remove(item)
                    progressed = True
                    continue
                first = args[0] if args else None
                xs = [tensor(v, name) for v in first] if isinstance(first, list) else [tensor(first, name)]
                states = [tensor(v, name) for v in kwargs.pop("initial_state", None) or []]
            except KeyError:
                continue  # an input comes later in the list
            kwargs.pop("training", None)
            if kwargs.pop("mask", None) is not None or any(v is not None for v in kwargs.values()) or len(args) > 1:
                raise UnsupportedError(f"from_keras: layer {name!r} ({cls}): call arguments {sorted(kwargs) or args[1:]} "
                                       "are not supported")
            if entry.get("module") not in (None, "keras.layers") or entry.get("registered_name") not in (None, cls):
                raise UnsupportedError(f"from_keras: layer {name!r}: {entry.get('module')}.{cls} is not supported")
            if k == 0:
                builder.add(entry, reader)
                made[name] = builder.layers[-1]
            layer = made[name]
            out = layer(xs[0] if len(xs) == 1 else xs, initial_state=states or None)
            tensors[(name, k)] = out if isinstance(out, list) else [out]
            pending.remove(item)
            progressed = True
        if not progressed:
            raise ModelFileError(f"{where}: layers {[e.get('name') for e, _ in pending]} read tensors no layer makes")

    def refs(v: Any) -> tuple:
        single = bool(v) and isinstance(v[0], str)
        items = [v] if single else list(v)
        return [tensors[(n, k)][i] for n, k, i in items], single

    inputs, single_in = refs(c.get("input_layers", []))
    outputs, single_out = refs(c.get("output_layers", []))
    Functional = model_class("Functional")
    model = Functional(inputs[0] if single_in else inputs, outputs[0] if single_out else outputs,
                       name=c.get("name"), dtype=dtype)
    model.build()
    return model, builder
