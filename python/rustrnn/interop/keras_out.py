"""Keras 3 ``.keras`` archives out: :func:`export_keras` writes a
:class:`rustrnn.Sequential` as ``config.json`` + ``model.weights.h5`` (h5py) +
``metadata.json`` that ``keras.saving.load_model`` reads (any backend) and
predicts with as rustrnn does.

The inverse of :mod:`rustrnn.interop.keras_in`: kernels transposed back to
Keras' (in, out), GRU gates reordered r,z,n -> z,r,h, LSTM/SimpleRNN's two
biases summed into Keras' one (GRU ``reset_after=True`` keeps both, as Keras'
(2, 3H) bias). A recurrent layer with ``num_layers=k`` becomes k Keras layers
(named ``name``, ``name_l1``, ...; Bidirectional with concat between them, as
rustrnn stacks them) with a Dropout between them when ``layer_dropout`` is set;
Keras's ``dropout`` (on the inputs) goes to the first of them.
``return_state``, and ``go_backwards`` combined with a mask and a returned or
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
    b_hh = keras_to_torch_gates(w[f"bias_hh{sfx}"], cls, units)
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
    from ..layers import (Conv1D, Dense, Dropout, Embedding, GlobalAveragePooling1D, GlobalMaxPooling1D, LayerNormalization,
                          Masking, RepeatVector, TimeDistributed, _Recurrent)

    # Found by class name (models.py imports interop, so interop imports no model module).
    # A functional model's weights file has the same layout (its layers in call order); its
    # architecture (config.json, to_json) has no Keras form here.
    weights_only = what in ("save_weights", "load_weights")
    sequential = isinstance(model, model_class("Sequential"))
    if not sequential and not (weights_only and isinstance(model, model_class("Functional"))):
        kinds = "a rustrnn.Sequential or functional Model" if weights_only else "a rustrnn.Sequential"
        raise UnsupportedError(f"{what}: expected {kinds}, got {type(model).__name__}")
    model._require_built(what)
    weights = model.get_weight_dict()
    layers = [layer for layer in model.layers if getattr(layer, "_class", None) != "InputLayer"]
    batch_shape, in_dtype = [None, None], "int32"
    if sequential and not isinstance(layers[0], Embedding):
        spec = model._input
        batch_shape = [None, None, spec["features"]] if spec["sequence"] else [None, spec["features"]]
        in_dtype = "float32"
    out = _Out()
    masked = False
    for layer in layers:
        name = layer.name
        base = {"name": name, "trainable": layer.trainable, "dtype": _dtype("float32")}
        if isinstance(layer, Embedding):
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
        elif isinstance(layer, _Recurrent):
            cls = layer._class
            if layer.return_state and not weights_only:
                raise UnsupportedError(f"{what}: layer {name!r}: return_state is not supported")
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
                         "dropout": layer.dropout if k == 0 else 0.0}
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

    input_layer = _layer("InputLayer", {"batch_shape": batch_shape, "dtype": in_dtype, "sparse": False, "name": "input_layer"})
    config = {
        "module": "keras", "class_name": "Sequential", "registered_name": None,
        "config": {"name": model.name, "trainable": True, "dtype": _dtype("float32"), "layers": [input_layer] + out.layers},
        "build_config": {"input_shape": batch_shape},
    }
    return config, out


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
