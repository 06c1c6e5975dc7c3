"""``load_torch_weights``: a PyTorch model's weights into a Keras-style rustrnn model.

Each rustrnn layer with weights takes the parameters of one torch module:

    rustrnn layer                      torch module (state_dict entries under its prefix)
    Embedding  embeddings (V, E)       nn.Embedding  weight (V, E)
    LSTM/GRU/SimpleRNN weight_ih_l0..  nn.LSTM/GRU/RNN  the same names and shapes (gate order is PyTorch's
                                       in both); bias=False becomes zero biases; where the layer has
                                       Keras's one bias, bias_ih_l0 takes bias_ih + bias_hh
    Dense      kernel (I, U), bias     nn.Linear  weight (U, I) (transposed), bias (U,); no bias -> zeros

Which module goes to which layer is given by ``mapping`` ({layer name: torch
prefix}) or found from kinds and shapes; when a layer could take more than one
module (or none), nothing is loaded and the error says what to put in
``mapping``. torch is not needed: the source is a state_dict (tensors or
arrays) or a ``.safetensors`` file, read here.
"""

from __future__ import annotations

import json
import os
import struct
from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy as np

from .._convert import from_torch
from ..errors import ArgumentError, DTypeError, ModelFileError, ShapeError

__all__ = ["load_torch_weights", "read_safetensors"]

_ST_DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32,
              "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_}


def read_safetensors(path: Any) -> Dict[str, np.ndarray]:
    """The tensors of a ``.safetensors`` file (bfloat16 becomes float32)."""
    path = os.fspath(path)
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ModelFileError(f"{path}: not a safetensors file (too short)")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise ModelFileError(f"{path}: not a safetensors file (header length {n} beyond the file's {len(data)} bytes)")
    try:
        header = json.loads(data[8:8 + n])
    except ValueError as e:
        raise ModelFileError(f"{path}: the safetensors header is not JSON ({e})") from None
    body = memoryview(data)[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype, shape, (start, end) = info["dtype"], tuple(info["shape"]), info["data_offsets"]
        if not 0 <= start <= end <= len(body):
            raise ModelFileError(f"{path}: {name}: data offsets ({start}, {end}) outside the file")
        raw = body[start:end]
        if dtype == "BF16":
            arr = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        elif dtype in _ST_DTYPES:
            arr = np.frombuffer(raw, dtype=np.dtype(_ST_DTYPES[dtype]).newbyteorder("<"))
        else:
            raise ModelFileError(f"{path}: {name}: unsupported dtype {dtype}")
        if arr.size != int(np.prod(shape, dtype=np.int64)):
            raise ModelFileError(f"{path}: {name}: {arr.size} values for shape {shape}")
        out[name] = arr.reshape(shape)
    return out


def _as_arrays(source: Any) -> Dict[str, np.ndarray]:
    if isinstance(source, (str, os.PathLike)):
        return read_safetensors(source)
    if not hasattr(source, "items"):
        raise DTypeError(f"state_dict_or_safetensors_path: expected a state_dict (mapping of names to tensors) "
                         f"or a path to a .safetensors file, got {type(source).__name__}")
    return {str(k): np.asarray(from_torch(v)) for k, v in source.items()}


def _modules(arrays: Mapping[str, np.ndarray]) -> Dict[str, Dict[str, np.ndarray]]:
    """State-dict entries grouped by module prefix: {"rnn": {"weight_ih_l0": ...}}."""
    groups: Dict[str, Dict[str, np.ndarray]] = {}
    for key, arr in arrays.items():
        prefix, _, param = key.rpartition(".")
        groups.setdefault(prefix, {})[param] = arr
    return groups


def _layer_targets(model: Any) -> List[Tuple[Any, Dict[str, Tuple[int, ...]]]]:
    """(layer, {param: shape}) for each rustrnn layer with weights, in model order."""
    shapes = {name: arr.shape for name, arr in model._handle.weights()}
    out = []
    for layer in model.layers:
        own = {k.split("/", 1)[1]: s for k, s in shapes.items() if k.split("/", 1)[0] == layer.name}
        if own:
            out.append((layer, own))
    return out


def _translate(layer: Any, want: Dict[str, Tuple[int, ...]], params: Dict[str, np.ndarray],
               prefix: str) -> Tuple[Optional[Dict[str, np.ndarray]], str]:
    """The layer's weights from one torch module's parameters, or (None, why not)."""
    cls = layer._class
    where = f"torch module {prefix!r}" if prefix else "the torch model's top level"
    if cls == "Embedding":
        w = params.get("weight")
        if set(params) != {"weight"} or w is None or w.ndim != 2:
            return None, f"{where} is not an Embedding (parameters {sorted(params)})"
        if w.shape != want["embeddings"]:
            return None, f"{where}: weight shape {w.shape}, {layer.name} needs {want['embeddings']} (num_embeddings, embedding_dim)"
        return {"embeddings": w}, ""
    if cls == "Dense":
        w, b = params.get("weight"), params.get("bias")
        if not set(params) <= {"weight", "bias"} or w is None or w.ndim != 2 or (b is not None and b.ndim != 1):
            return None, f"{where} is not a Linear (parameters {sorted(params)})"
        units, inputs = want["kernel"][1], want["kernel"][0]
        if w.shape != (units, inputs):
            return None, f"{where}: weight shape {w.shape}, {layer.name} needs ({units}, {inputs}) (out_features, in_features)"
        out = {"kernel": w.T}
        if "bias" in want:
            out["bias"] = b if b is not None else np.zeros(units)
        elif b is not None:
            return None, f"{where} has a bias, {layer.name} has use_bias=False"
        if b is not None and b.shape != (units,):
            return None, f"{where}: bias shape {b.shape}, {layer.name} needs ({units},)"
        return out, ""
    # recurrent
    if any(k.startswith("weight_hr") for k in params):
        return None, f"{where} is an LSTM with proj_size, which rustrnn's layers do not have"
    if "weight_ih_l0" not in params:
        return None, f"{where} is not a recurrent module (parameters {sorted(params)})"
    # Keras's one bias (the Keras-style LSTM, SimpleRNN, GRU(reset_after=False)): torch's two are added.
    params = dict(params)
    for name in [k for k in params if k.startswith("bias_hh") and k not in want]:
        b_ih = "bias_ih" + name[len("bias_hh"):]
        if b_ih in want and b_ih in params and params[b_ih].shape == params[name].shape:
            params[b_ih] = params[b_ih] + params.pop(name)
    out = {}
    for name, shape in want.items():
        if name in params:
            if params[name].shape != shape:
                return None, f"{where}: {name} shape {params[name].shape}, {layer.name} needs {shape}"
            out[name] = params[name]
        elif name.startswith("bias_") and not any(k.startswith("bias_") for k in params):
            out[name] = np.zeros(shape)  # torch bias=False: zero biases compute the same
        else:
            return None, f"{where} has no {name} ({layer.name} needs it: check num_layers, bidirectional, the cell)"
    extra = sorted(set(params) - set(want))
    if extra:
        return None, f"{where} has parameters {layer.name} lacks: {', '.join(extra)} (check num_layers, bidirectional)"
    return out, ""


def load_torch_weights(model: Any, state_dict_or_safetensors_path: Any, mapping: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """Copies a PyTorch model's weights into ``model`` (a built Keras-style rustrnn model).

    ``state_dict_or_safetensors_path`` is ``torch_model.state_dict()`` (tensors
    or arrays) or the path of a ``.safetensors`` file. ``mapping`` pairs rustrnn
    layer names with torch module prefixes, e.g. ``{"lstm": "encoder.rnn",
    "dense": "head"}``; without it every layer with weights must match exactly
    one torch module by kind and shapes, and every torch module must be used.
    Nothing is written unless everything matches. Returns the pairing used.
    """
    model._require_built("load_torch_weights")
    groups = _modules(_as_arrays(state_dict_or_safetensors_path))
    targets = _layer_targets(model)
    by_name = {layer.name: (layer, want) for layer, want in targets}
    pairing: Dict[str, str] = {}
    new: Dict[str, np.ndarray] = {}
    if mapping is not None:
        if not hasattr(mapping, "items"):
            raise DTypeError(f"mapping: expected a dict of rustrnn layer names to torch module prefixes, got {type(mapping).__name__}")
        for lname, prefix in mapping.items():
            if lname not in by_name:
                raise ArgumentError(f"mapping: {lname!r} is not a layer with weights of this model; expected one of {', '.join(by_name)}")
            if prefix not in groups:
                raise ArgumentError(f"mapping: {prefix!r} is not a module of the torch state_dict; modules: {', '.join(map(repr, groups))}")
            layer, want = by_name[lname]
            got, why = _translate(layer, want, groups[prefix], prefix)
            if got is None:
                raise ShapeError(f"mapping {lname!r} -> {prefix!r}: {why}")
            pairing[lname] = prefix
            new.update({f"{lname}/{k}": v for k, v in got.items()})
        unmapped = [n for n in by_name if n not in mapping]
        if unmapped:
            raise ArgumentError(f"mapping: no torch module for layer(s) {', '.join(unmapped)}")
    else:
        for layer, want in targets:
            fits, reasons = [], []
            for prefix, params in groups.items():
                got, why = _translate(layer, want, params, prefix)
                if got is None:
                    reasons.append(why)
                else:
                    fits.append((prefix, got))
            if not fits:
                raise ShapeError(f"{layer.name}: no torch module fits: " + "; ".join(reasons)
                                 + ". Pass mapping={layer name: torch prefix}")
            if len(fits) > 1:
                raise ArgumentError(f"{layer.name}: ambiguous, torch modules {', '.join(repr(p) for p, _ in fits)} all fit; "
                                    f"pass mapping={{{layer.name!r}: <one of them>, ...}}")
            prefix, got = fits[0]
            pairing[layer.name] = prefix
            new.update({f"{layer.name}/{k}": v for k, v in got.items()})
        taken = list(pairing.values())
        twice = sorted({p for p in taken if taken.count(p) > 1})
        if twice:
            raise ArgumentError(f"torch module(s) {', '.join(map(repr, twice))} fit several layers; pass mapping=...")
        unused = [p for p in groups if p not in taken]
        if unused:
            raise ArgumentError(f"torch module(s) {', '.join(map(repr, unused))} match no layer of this model "
                                f"(layers: {', '.join(by_name)}); pass mapping=... to load the others anyway")
    model._set_named_weights(new)
    return pairing
