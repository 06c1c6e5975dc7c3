"""Keras 3 ``.keras`` archives out: :func:`export_keras` writes a
:class:`rustrnn.Sequential` or a functional :class:`rustrnn.Model` (Keras's Functional config,
its layers in the order Keras lists them, which names the weight groups) as
``config.json`` + ``model.weights.h5`` (h5py) +
``metadata.json`` that ``keras.saving.load_model`` reads (any backend) and
predicts with as rustrnn does.

The inverse of :mod:`rustrnn.interop.keras_in`: kernels transposed back to
Keras' (in, out), GRU gates reordered r,z,n -> z,r,h, LSTM/SimpleRNN's two
biases summed into Keras' one (GRU ``reset_after=True`` keeps both, as Keras'
(2, 3H) bias). A recurrent layer with ``num_layers=k`` becomes k Keras layers
(named ``name``, ``name_l1``, ...; Bidirectional with concat between them, as
rustrnn stacks them) with a Dropout between them when ``layer_dropout`` is set;
Keras's ``dropout`` (on the inputs) goes to the first of them, ``recurrent_dropout`` to each.
``return_state`` in a Sequential, and ``go_backwards`` combined with a mask and a returned or
stacked sequence (Keras moves padded sequences' outputs elsewhere), raise
:class:`rustrnn.UnsupportedError`.
"""

from __future__ import annotations

import datetime
import io
import json
import os
import re
import zipfile
from typing import Any

import numpy as np

from .._registry import model_class
from ..errors import UnsupportedError
from .keras_in import keras_to_torch_gates

# The Keras release whose format this writes (the format is stable across Keras 3).
KERAS_VERSION = "3.6.0"


def _h5py():
    try:
        import h5py
    except ImportError:
        raise ImportError("export_keras needs h5py: pip install 'rustrnn[interop]' (or pip install h5py)") from None
    return h5py


def _snake(name: str) -> str:
    # Keras' naming.to_snake_case, which names the weight groups after the class.
    s = re.sub(r"\W+", "", name)
    s = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", s)
    return re.sub("([a-z])([A-Z])", r"\1_\2", s).lower()


def _dtype(name: str) -> dict:
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": name}, "registered_name": None}


def _layer(cls: str, config: dict) -> dict:
    return {"module": "keras.layers", "class_name": cls, "config": config, "registered_name": None}


class _Out:
    """Keras layer configs and, per layer, its weight groups (path -> arrays)."""

    def __init__(self) -> None:
        self.layers: list = []
        self.weights: list = []
        # Per layer, where its arrays come from in rustrnn (read by keras_weights to load them back).
        self.sources: list = []

    def add(self, cls: str, config: dict, groups: dict, source: tuple = ()) -> None:
        self.layers.append(_layer(cls, config))
        self.weights.append((cls, config["name"], groups))
        self.sources.append(source)


def _recurrent_vars(cls: str, units: int, w: dict, sfx: str, reset_after: bool) -> list:
    """Keras' kernel, recurrent_kernel and bias from PyTorch-named arrays."""
    kernel = keras_to_torch_gates(w[f"weight_ih{sfx}"], cls, units).T
    recurrent = keras_to_torch_gates(w[f"weight_hh{sfx}"], cls, units).T
    if f"bias_ih{sfx}" not in w:  # use_bias=False
        return [np.ascontiguousarray(a, dtype=np.float32) for a in (kernel, recurrent)]
    b_ih = keras_to_torch_gates(w[f"bias_ih{sfx}"], cls, units)
    # Keras's one bias: rustrnn's Keras-style layers have no bias_hh then (a constant zero).
    b_hh = keras_to_torch_gates(w.get(f"bias_hh{sfx}", np.zeros_like(b_ih)), cls, units)
    bias = np.stack([b_ih, b_hh]) if cls == "GRU" and reset_after else b_ih + b_hh
    return [np.ascontiguousarray(a) for a in (kernel, recurrent, bias)]


def _per_step(layer: Any, weights: dict, name: str, what: str = "export_keras") -> tuple:
    """Keras class, config (without name), weights and their rustrnn names of a Dense or
    LayerNormalization whose weights are ``name/...`` (the same arrays in both)."""
    if layer._class == "Dense":
        keys = [f"{name}/kernel"] + ([f"{name}/bias"] if layer.use_bias else [])
        config = {"units": layer.units, "activation": layer.activation, "use_bias": layer.use_bias}
    elif layer._class == "LayerNormalization":
        keys = [f"{name}/{k}" for k, on in (("gamma", layer.scale), ("beta", layer.center)) if on]
        config = {"axis": -1, "epsilon": layer.epsilon, "center": layer.center, "scale": layer.scale}
    else:
        raise UnsupportedError(f"{what}: layer {name!r}: TimeDistributed({layer._class}) has no Keras form here "
                               "(Dense and LayerNormalization have)")
    return layer._class, config, [weights[k] for k in keys], keys


def keras_layout(model: Any, what: str = "export_keras") -> tuple:
    """``(config, out)``: the Keras 3 model config (config.json, ``to_json``) of a
    built :class:`rustrnn.Sequential` and its :class:`_Out` (layers, weight groups)."""
    from ..layers import (Concatenate, Conv1D, Dense, Dot, Dropout, Embedding, Flatten, GlobalAveragePooling1D, GlobalMaxPooling1D,
                          LayerNormalization, Masking, RepeatVector, Reshape, TimeDistributed, _Merge, _Recurrent)

    # Found by class name (models.py imports interop, so interop imports no model module).
    # A functional model's layers (its InputLayers included) come in the order Keras gives
    # model.layers, which names the weights file's groups.
    weights_only = what in ("save_weights", "load_weights")
    sequential = isinstance(model, model_class("Sequential"))
    functional = isinstance(model, model_class("Functional"))
    if not sequential and not functional:
        raise UnsupportedError(f"{what}: expected a rustrnn.Sequential or functional Model, got {type(model).__name__}")
    model._require_built(what)
    weights = model.get_weight_dict()
    if functional:
        nodes = keras_node_order(model)
        # A shared layer (several calls) once, where its deepest call comes (first), as Keras lists model.layers.
        layers = list({id(n.layer): n.layer for n in nodes if not getattr(n.layer, "_operation", False)}.values())
    else:
        layers = [layer for layer in model.layers if getattr(layer, "_class", None) != "InputLayer"]
    batch_shape, in_dtype = [None, None], "int32"
    if sequential and not isinstance(layers[0], Embedding):
        spec = model._input
        steps = spec.get("steps")
        batch_shape = [None, steps, spec["features"]] if spec["sequence"] else [None, spec["features"]]
        in_dtype = "float32"
    elif sequential and model._input.get("steps") is not None:
        batch_shape = [None, model._input["steps"]]
    out = _Out()
    masked = False
    for layer in layers:
        name = layer.name
        base = {"name": name, "trainable": layer.trainable, "dtype": _dtype("float32")}
        if getattr(layer, "_class", None) == "InputLayer":
            out.add("InputLayer", {"batch_shape": list(layer.batch_shape), "dtype": layer.dtype, "sparse": False,
                                   "ragged": False, "name": name, "optional": False}, {"vars": []})
        elif isinstance(layer, Embedding):
            masked |= layer.mask_zero
            out.add("Embedding", {**base, "input_dim": layer.input_dim, "output_dim": layer.output_dim,
                                  "mask_zero": layer.mask_zero}, {"vars": [weights[f"{name}/embeddings"]]},
                    ("embedding", name))
        elif isinstance(layer, Masking):
            masked = True
            out.add("Masking", {**base, "mask_value": layer.mask_value}, {"vars": []})
        elif isinstance(layer, Dropout):
            out.add("Dropout", {**base, "rate": layer.rate}, {"vars": []})
        elif isinstance(layer, (Dense, LayerNormalization)):
            cls, config, vs, keys = _per_step(layer, weights, name, what)
            out.add(cls, {**base, **config}, {"vars": vs}, ("named", name, {"vars": keys}))
        elif isinstance(layer, TimeDistributed):
            cls, config, vs, keys = _per_step(layer.layer, weights, name, what)
            inner = {"name": f"{_snake(cls)}_in_{name}", "trainable": layer.trainable, "dtype": _dtype("float32"), **config}
            out.add("TimeDistributed", {**base, "layer": _layer(cls, inner)}, {"vars": [], "layer/vars": vs},
                    ("named", name, {"layer/vars": keys}))
        elif isinstance(layer, RepeatVector):
            out.add("RepeatVector", {**base, "n": layer.n}, {"vars": []})
        elif isinstance(layer, (GlobalAveragePooling1D, GlobalMaxPooling1D)):
            masked = False
            out.add(layer._class, {**base, "data_format": "channels_last", "keepdims": False}, {"vars": []})
        elif isinstance(layer, Conv1D):
            masked = False
            keys = [f"{name}/kernel"] + ([f"{name}/bias"] if layer.use_bias else [])
            out.add("Conv1D", {**base, "filters": layer.filters, "kernel_size": [layer.kernel_size], "strides": [layer.strides],
                               "padding": layer.padding, "data_format": "channels_last", "dilation_rate": [layer.dilation_rate],
                               "groups": 1, "activation": layer.activation, "use_bias": layer.use_bias},
                    {"vars": [weights[k] for k in keys]}, ("named", name, {"vars": keys}))
        elif isinstance(layer, Flatten):
            out.add("Flatten", {**base, "data_format": "channels_last"}, {"vars": []})
        elif isinstance(layer, Reshape):
            out.add("Reshape", {**base, "target_shape": list(layer.target_shape)}, {"vars": []})
        elif isinstance(layer, (_Merge, Concatenate)):
            out.add(layer._class, {**base, **({"axis": -1} if isinstance(layer, Concatenate) else {})}, {"vars": []})
        elif isinstance(layer, Dot):
            out.add("Dot", {**base, "axes": layer.axes, "normalize": layer.normalize}, {"vars": []})
        elif isinstance(layer, _Recurrent):
            cls = layer._class
            if layer.return_state and not (weights_only or functional):
                raise UnsupportedError(f"{what}: layer {name!r}: return_state is not supported in a Sequential")
            if functional and layer.num_layers > 1:
                raise UnsupportedError(f"{what}: layer {name!r}: num_layers={layer.num_layers} in a functional model has no "
                                       "one-layer Keras form; stack single layers instead")
            if getattr(layer, "stateful", False) and not weights_only:
                raise UnsupportedError(f"{what}: layer {name!r}: stateful=True is not exported (Keras needs the model's "
                                       "fixed batch size in its Input, which rustrnn does not record)")
            if layer.go_backwards and (layer.bidirectional or (masked and (layer.return_sequences or layer.num_layers > 1))):
                raise UnsupportedError(f"{what}: layer {name!r}: go_backwards with a bidirectional layer, or with a "
                                       "mask and a returned or stacked sequence, has no Keras equivalent")
            reset_after = getattr(layer, "reset_after", True)
            cell: dict = {"units": layer.units, "use_bias": layer.use_bias}
            cell["activation"] = layer.activation
            if cls != "SimpleRNN":
                cell["recurrent_activation"] = layer.recurrent_activation
            if cls == "GRU":
                cell["reset_after"] = reset_after
            prefix = name + "/"
            w = {k[len(prefix):]: v for k, v in weights.items() if k.startswith(prefix)}
            for k in range(layer.num_layers):
                last = k + 1 == layer.num_layers
                kname = name if k == 0 else f"{name}_l{k}"
                seqs = layer.return_sequences or not last
                inner = {"name": kname, "trainable": layer.trainable, "dtype": _dtype("float32"), **cell,
                         "return_sequences": seqs, "go_backwards": layer.go_backwards and k == 0,
                         "dropout": layer.dropout if k == 0 else 0.0, "recurrent_dropout": layer.recurrent_dropout}
                if layer.return_state:
                    inner["return_state"] = True
                fw = _recurrent_vars(cls, layer.units, w, f"_l{k}", reset_after)
                if layer.bidirectional:
                    bw = _recurrent_vars(cls, layer.units, w, f"_l{k}_reverse", reset_after)
                    config = {"name": kname, "trainable": layer.trainable, "dtype": _dtype("float32"),
                              "merge_mode": layer.merge_mode if last else "concat",
                              "layer": _layer(cls, {**inner, "name": f"forward_{kname}"})}
                    out.add("Bidirectional", config, {"vars": [], "forward_layer/vars": [], "forward_layer/cell/vars": fw,
                                                      "backward_layer/vars": [], "backward_layer/cell/vars": bw},
                            ("recurrent", name, cls, layer.units, k, reset_after))
                else:
                    out.add(cls, inner, {"vars": [], "cell/vars": fw}, ("recurrent", name, cls, layer.units, k, reset_after))
                if not last and layer.layer_dropout > 0:
                    out.add("Dropout", {"name": f"{kname}_dropout", "trainable": True, "dtype": _dtype("float32"),
                                        "rate": layer.layer_dropout}, {"vars": []})
        else:
            raise UnsupportedError(f"{what}: layer {name!r} ({type(layer).__name__}) has no Keras export")

    if functional:
        return _functional_config(model, nodes, out), out
    input_layer = _layer("InputLayer", {"batch_shape": batch_shape, "dtype": in_dtype, "sparse": False, "name": "input_layer"})
    config = {
        "module": "keras", "class_name": "Sequential", "registered_name": None,
        "config": {"name": model.name, "trainable": True, "dtype": _dtype("float32"), "layers": [input_layer] + out.layers},
        "build_config": {"input_shape": batch_shape},
    }
    return config, out


def keras_node_order(model: Any) -> list:
    """The calls of a functional model (InputLayers and operations included) in the order
    Keras 3 lists its operations (keras/src/ops/function.py ``map_graph``): by decreasing depth
    from the outputs, then by first visit of a depth-first walk from the outputs. Keras's
    ``model.layers`` (and so the weights file's group names) follow it."""
    finished: set = set()
    order: list = []
    first_visit: dict = {}

    def visit(node: Any) -> None:
        if id(node) in finished:
            return
        first_visit.setdefault(id(node), len(first_visit))
        for t in node.inputs:
            visit(t.node)
        finished.add(id(node))
        order.append(node)

    for t in model.outputs:
        visit(t.node)
    depth: dict = {}
    for node in reversed(order):
        d = depth.setdefault(id(node), 0)
        for t in node.inputs:
            depth[id(t.node)] = max(d + 1, depth.get(id(t.node), 0))
    return sorted(order, key=lambda n: (-depth[id(n)], first_visit[id(n)]))


def _keras_tensor(t: Any, calls: dict) -> dict:
    """``t`` as Keras serializes a tensor: ``keras_history`` names its layer, which of the layer's
    calls (its node index in ``calls``: a shared layer has several) and which output."""
    return {"class_name": "__keras_tensor__",
            "config": {"shape": list(t.shape), "dtype": t.dtype if t.node.layer._class == "InputLayer" else "float32",
                       "keras_history": [t.node.layer.name, calls.get(id(t.node), 0), t.index]}}


def _slice(sel: Any) -> Any:
    """A GetItem selection as Keras serializes one index item."""
    if isinstance(sel, int):
        return sel
    start, stop = sel if sel is not None else (None, None)
    return {"class_name": "__slice__", "config": {"start": start, "stop": stop, "step": None}}


def _functional_config(model: Any, nodes: list, out: _Out) -> dict:
    """Keras 3's Functional config: each layer's entry with the tensors it was called on."""
    configs = {entry["config"]["name"]: entry for entry in out.layers}
    # A shared layer's calls in the order they were made: their node indices.
    by_layer: dict = {}
    for node in sorted(nodes, key=lambda n: n.order):
        by_layer.setdefault(id(node.layer), []).append(node)
    calls = {id(n): k for group in by_layer.values() for k, n in enumerate(group)}
    layers = []
    written: set = set()
    for node in nodes:
        layer = node.layer
        if getattr(layer, "_operation", False):  # x[...]: Keras's GetItem operation
            x = node.inputs[0]
            key = [_slice(None)] + ([_slice(layer.time)] if x.ndim == 3 else []) + [_slice(layer.features)]
            layers.append({"module": "keras.src.ops.numpy", "class_name": "GetItem", "config": {"name": layer.name},
                           "registered_name": "GetItem", "name": layer.name,
                           "inbound_nodes": [{"args": [_keras_tensor(x, calls), key], "kwargs": {}}]})
            continue
        if id(layer) in written:
            continue
        written.add(id(layer))
        entry = dict(configs[layer.name])
        inbound: list = []
        if layer._class != "InputLayer":
            for call in by_layer[id(layer)]:
                xs = [_keras_tensor(t, calls) for t in call.inputs[:call.n_inputs]]
                states = [_keras_tensor(t, calls) for t in call.inputs[call.n_inputs:]]
                kwargs = {"initial_state": states} if states else {}
                inbound.append({"args": [xs[0] if call.n_inputs == 1 else xs], "kwargs": kwargs})
        entry.update({"name": layer.name, "inbound_nodes": inbound})
        layers.append(entry)

    def refs(ts: list, single: bool) -> list:
        r = [[t.node.layer.name, calls.get(id(t.node), 0), t.index] for t in ts]
        return r[0] if single else r

    return {"module": "keras.src.models.functional", "class_name": "Functional", "registered_name": "Functional",
            "config": {"name": model.name, "trainable": True, "layers": layers,
                       "input_layers": refs(model.inputs, model._single_input),
                       "output_layers": refs(model.outputs, model._single_output)},
            "build_config": {"input_shape": None}}


def weight_keys(out: _Out) -> list:
    """Each layer's group under ``layers/`` in a Keras weights file: the snake-cased
    class name, numbered from the second of a class on (``lstm``, ``lstm_1``), as Keras names them."""
    used: dict = {}
    keys = []
    for cls, _, _ in out.weights:
        key = _snake(cls)
        if key in used:
            used[key] += 1
            key = f"{key}_{used[key]}"
        else:
            used[key] = 0
        keys.append(key)
    return keys


def write_weights_h5(f: Any, model_name: str, out: _Out, dtype: Any = np.float32) -> None:
    """Keras 3's weights layout (``model.weights.h5``, ``*.weights.h5``) into the open h5py file ``f``."""
    f.create_group("vars").attrs["name"] = model_name
    root = f.create_group("layers")
    for key, (cls, lname, groups) in zip(weight_keys(out), out.weights):
        g = root.create_group(key)
        for sub, arrays in groups.items():
            v = g.create_group(sub)
            v.attrs["name"] = lname  # what from_keras finds the layer's weights by
            for i, a in enumerate(arrays):
                v.create_dataset(str(i), data=np.ascontiguousarray(a, dtype=dtype))


def export_keras(model: Any, path: Any) -> None:
    """See :meth:`rustrnn.Model.export_keras`."""
    h5py = _h5py()
    config, out = keras_layout(model)
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        write_weights_h5(f, model.name, out)
    metadata = {"keras_version": KERAS_VERSION, "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
                "producer": "rustrnn"}
    tmp = os.fspath(path) + ".tmp"
    with zipfile.ZipFile(tmp, "w") as z:
        z.writestr("metadata.json", json.dumps(metadata))
        z.writestr("config.json", json.dumps(config))
        z.writestr("model.weights.h5", buf.getvalue())
    os.replace(tmp, os.fspath(path))
