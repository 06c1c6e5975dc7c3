"""ONNX export: a rustrnn model as a standard ONNX graph (opset 17) that ONNX
Runtime, Triton or onnxruntime-web can serve.

Layers map to standard operators: Embedding → Gather, SimpleRNN/LSTM/GRU →
RNN/LSTM/GRU (``direction="bidirectional"`` for bidirectional layers, GRU's
``linear_before_reset`` 1 for ``reset_after=True`` and 0 for
``reset_after=False``), Dense → MatMul + Add and its activation, Dropout → nothing.
Gates are reordered from PyTorch's (i,f,g,o / r,z,n) to ONNX's (i,o,f,c / z,r,h).

Masks (``Embedding(mask_zero=True)``, ``Masking``) become ``sequence_lens``.
ONNX reads the valid steps of each sequence from step 0, so the graph first
moves each sequence's valid span to the front (a GatherElements by each
sequence's first valid step: left padding, right padding or both work), runs
every layer on that, and moves sequence outputs back, zero at padded steps as
rustrnn gives them. The graph is float32 whatever the model's dtype.

Shapes (B batch, T steps; both dynamic in the graph)::

    Sequential:  x (B, T) int64 indices, or (B, T, F) / (B, F) float32  ->  y as model.predict
    nn modules:  x (B, T, I) (T, B, I if not batch_first), lengths (B,) int64
                 -> output, hn (and cn) as forward(x, lengths=lengths)
"""

from __future__ import annotations

import os
from typing import Any, Optional

import numpy as np

from .._registry import model_class
from ..errors import ArgumentError, UnsupportedError

OPSET = 17

# Blocks of PyTorch's gate order taken in ONNX's order.
_ONNX_GATES = {"lstm": [0, 3, 1, 2], "gru": [1, 0, 2], "rnn": [0]}


def _onnx():
    try:
        import onnx
        from onnx import helper
    except ImportError:
        raise ImportError("export_onnx needs the onnx package: pip install 'rustrnn[interop]' (or pip install onnx)") from None
    return onnx, helper


def _reorder(w: np.ndarray, cell: str, hidden: int) -> np.ndarray:
    return np.concatenate([w[k * hidden:(k + 1) * hidden] for k in _ONNX_GATES[cell]], axis=0)


class _Graph:
    """Nodes and initializers with unique names."""

    def __init__(self) -> None:
        self.onnx, self.helper = _onnx()
        self.nodes: list = []
        self.inits: list = []
        self.count = 0

    def name(self, base: str) -> str:
        self.count += 1
        return f"{base}_{self.count}"

    def const(self, value: Any, base: str = "const", dtype: Any = None) -> str:
        arr = np.asarray(value, dtype=dtype)
        if arr.dtype == np.float64:
            arr = arr.astype(np.float32)
        n = self.name(base)
        self.inits.append(self.onnx.numpy_helper.from_array(np.ascontiguousarray(arr), n))
        return n

    def op(self, op_type: str, inputs: list, n_out: int = 1, base: Optional[str] = None, **attrs: Any) -> Any:
        outs = [self.name(base or op_type.lower()) for _ in range(n_out)]
        self.nodes.append(self.helper.make_node(op_type, inputs, outs, **attrs))
        return outs[0] if n_out == 1 else outs

    def save(self, path: Any, inputs: list, outputs: list, graph_name: str) -> None:
        graph = self.helper.make_graph(self.nodes, graph_name, inputs, outputs, self.inits)
        model = self.helper.make_model(graph, opset_imports=[self.helper.make_opsetid("", OPSET)], producer_name="rustrnn")
        model.ir_version = min(model.ir_version, 8)  # readable by older runtimes too
        self.onnx.checker.check_model(model)
        self.onnx.save(model, os.fspath(path))


class _Stack:
    """One recurrent stack's parameters as PyTorch names them, for the emitter."""

    def __init__(self, cell: str, hidden: int, num_layers: int, bidirectional: bool, params: dict,
                 activation: str = "tanh", reset_after: bool = True) -> None:
        self.cell, self.hidden, self.num_layers = cell, hidden, num_layers
        self.dirs = 2 if bidirectional else 1
        self.params, self.activation, self.reset_after = params, activation, reset_after


def _emit_stack(g: _Graph, st: _Stack, x_tm: str, seq_lens: Optional[str], h0: Optional[str] = None,
                c0: Optional[str] = None) -> tuple:
    """Runs the stack on time-major ``x_tm`` (T, B, I). Returns the last
    layer's Y (T, D, B, H) and the final states (L·D, B, H) of every layer."""
    h, d, cell = st.hidden, st.dirs, st.cell
    suffixes = [""] + (["_reverse"] if d == 2 else [])
    hs, cs = [], []
    y = None
    for layer in range(st.num_layers):
        ws, rs, bs = [], [], []
        for sfx in suffixes:
            p = {k: st.params.get(f"{k}_l{layer}{sfx}") for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
            ws.append(_reorder(p["weight_ih"], cell, h))
            rs.append(_reorder(p["weight_hh"], cell, h))
            zero = np.zeros(p["weight_ih"].shape[0], dtype=np.float32)
            b_ih = zero if p["bias_ih"] is None else _reorder(p["bias_ih"], cell, h)
            b_hh = zero if p["bias_hh"] is None else _reorder(p["bias_hh"], cell, h)
            bs.append(np.concatenate([b_ih, b_hh]))
        inputs = [x_tm, g.const(np.stack(ws), "W"), g.const(np.stack(rs), "R"), g.const(np.stack(bs), "B"), seq_lens or ""]
        rows = list(range(layer * d, (layer + 1) * d))
        inputs.append(g.op("Gather", [h0, g.const(np.array(rows, np.int64))], axis=0) if h0 else "")
        if cell == "lstm":
            inputs.append(g.op("Gather", [c0, g.const(np.array(rows, np.int64))], axis=0) if c0 else "")
        attrs: dict = {"hidden_size": h, "direction": "bidirectional" if d == 2 else "forward"}
        if cell == "gru":
            attrs["linear_before_reset"] = int(st.reset_after)
        if cell == "rnn":
            attrs["activations"] = [st.activation.capitalize()] * d
        while inputs and inputs[-1] == "":
            inputs.pop()
        outs = g.op(cell.upper() if cell != "rnn" else "RNN", inputs, n_out=3 if cell == "lstm" else 2, base=cell, **attrs)
        y, yh = outs[0], outs[1]
        hs.append(yh)
        if cell == "lstm":
            cs.append(outs[2])
        if layer + 1 < st.num_layers:
            # (T, D, B, H) -> (T, B, D·H): the next layer reads both directions side by side.
            x_tm = g.op("Reshape", [g.op("Transpose", [y], perm=[0, 2, 1, 3]), g.const(np.array([0, 0, -1], np.int64))])
    return y, hs, cs


def _merge(g: _Graph, x: str, axis: int, merge_mode: str, dirs: int) -> str:
    """Combines the directions along ``axis`` (just before the hidden axis, the last)."""
    if dirs == 1 or merge_mode == "concat":
        shape = [0] * axis + [-1]
        return g.op("Reshape", [x, g.const(np.array(shape, np.int64))])
    reduce = {"sum": "ReduceSum", "mul": "ReduceProd", "ave": "ReduceMean"}[merge_mode]
    if reduce == "ReduceSum":
        return g.op(reduce, [x, g.const(np.array([axis], np.int64))], keepdims=0)
    return g.op(reduce, [x], axes=[axis], keepdims=0)


_ACTIVATIONS = {"relu": "Relu", "tanh": "Tanh", "sigmoid": "Sigmoid", "softmax": "Softmax"}


def export_model_onnx(model: Any, path: Any) -> None:
    """See :meth:`rustrnn.Model.export_onnx`."""
    from ..layers import Dense, Dropout, Embedding, Masking, TimeDistributed, _Recurrent

    # Found by class name (models.py imports interop, so interop imports no model module).
    if not isinstance(model, model_class("Sequential")):
        raise UnsupportedError(f"export_onnx: expected a rustrnn.Sequential, got {type(model).__name__}")
    model._require_built("export_onnx")
    g = _Graph()
    _, helper = _onnx()
    tp = g.onnx.TensorProto
    weights = model.get_weight_dict()
    first = model.layers[0]
    spec = model._input
    if isinstance(first, Embedding):
        x_info = helper.make_tensor_value_info("x", tp.INT64, ["batch", "steps"])
        seq = True
    elif spec["sequence"]:
        x_info = helper.make_tensor_value_info("x", tp.FLOAT, ["batch", "steps", spec["features"]])
        seq = True
    else:
        x_info = helper.make_tensor_value_info("x", tp.FLOAT, ["batch", spec["features"]])
        seq = False

    cur = "x"
    mask = None  # valid (B, T) bool, in the original positions
    masking = [l for l in model.layers if isinstance(l, Masking)]
    if isinstance(first, Embedding) and first.mask_zero:
        mask = g.op("Not", [g.op("Equal", ["x", g.const(np.array(0, np.int64))])], base="valid")
    elif masking:
        if model.layers[0] is not masking[0] or len(masking) > 1:
            raise UnsupportedError("export_onnx: a Masking layer is supported only as the first layer")
        mv = g.const(np.array(masking[0].mask_value, np.float32))
        differs = g.op("Cast", [g.op("Not", [g.op("Equal", ["x", mv])])], to=tp.FLOAT)
        mask = g.op("Cast", [g.op("ReduceMax", [differs], axes=[2], keepdims=0)], to=tp.BOOL, base="valid")

    seq_lens = lens64 = starts = steps = nonempty = None
    if mask is not None:
        # Lengths and first valid steps; then every sequence's valid span moved to the front.
        mask_i = g.op("Cast", [mask], to=tp.INT64)
        lens64 = g.op("ReduceSum", [mask_i, g.const(np.array([1], np.int64))], keepdims=0, base="lengths")
        starts = g.op("ArgMax", [mask_i], axis=1, keepdims=1, base="starts")  # (B, 1); 0 for an empty sequence
        steps = g.op("Gather", [g.op("Shape", ["x"]), g.const(np.array(1, np.int64))])
        t_range = g.op("Unsqueeze", [g.op("Range", [g.const(np.array(0, np.int64)), steps, g.const(np.array(1, np.int64))]),
                                     g.const(np.array([0], np.int64))])  # (1, T)
        take = g.op("Mod", [g.op("Add", [t_range, starts]), steps], base="take")  # (B, T)
        idx = take
        if not isinstance(first, Embedding):
            idx = g.op("Expand", [g.op("Unsqueeze", [take, g.const(np.array([2], np.int64))]), g.op("Shape", ["x"])])
        cur = g.op("GatherElements", ["x", idx], axis=1, base="x_front")
        # ONNX Runtime wants lengths >= 1: an empty sequence runs one step, and its results are zeroed.
        seq_lens = g.op("Cast", [g.op("Max", [lens64, g.const(np.array(1, np.int64))])], to=tp.INT32, base="seq_lens")
        nonempty = g.op("Cast", [g.op("Greater", [lens64, g.const(np.array(0, np.int64))])], to=tp.FLOAT)

    for layer in model.layers:
        name = layer.name
        if isinstance(layer, Embedding):
            cur = g.op("Gather", [g.const(weights[f"{name}/embeddings"], "embeddings"), cur], axis=0)
        elif isinstance(layer, (Masking, Dropout)):
            continue
        elif isinstance(layer, Dense) or (isinstance(layer, TimeDistributed) and isinstance(layer.layer, Dense)):
            layer = getattr(layer, "layer", layer)  # TimeDistributed(Dense) is Dense: MatMul is per step already
            w = weights[f"{name}/kernel"]
            cur = g.op("MatMul", [cur, g.const(w, "kernel")])
            if layer.use_bias:
                cur = g.op("Add", [cur, g.const(weights[f"{name}/bias"], "bias")])
            if layer.activation != "linear":
                act = _ACTIVATIONS[layer.activation]
                cur = g.op(act, [cur], **({"axis": -1} if act == "Softmax" else {}))
        elif isinstance(layer, _Recurrent):  # Bidirectional(...) included
            if not seq:
                raise ArgumentError(f"export_onnx: {name} needs a sequence input")
            if layer.return_state:
                raise UnsupportedError(f"export_onnx: {name}: return_state is not supported (export the model without it)")
            cell = {"SimpleRNN": "rnn", "LSTM": "lstm", "GRU": "gru"}[layer._class]
            acts = (layer.activation, getattr(layer, "recurrent_activation", "sigmoid"))
            if acts[0] not in ("tanh", "relu") or acts[1] != "sigmoid" or (cell != "rnn" and acts[0] != "tanh"):
                raise UnsupportedError(f"export_onnx: {name}: activation={acts[0]!r}, recurrent_activation={acts[1]!r} are not "
                                       "exported (LSTM/GRU: tanh and sigmoid; SimpleRNN: tanh or relu)")
            prefix = name + "/"
            params = {k[len(prefix):]: v for k, v in weights.items() if k.startswith(prefix)}
            st = _Stack(cell, layer.units, layer.num_layers, layer.bidirectional, params,
                        activation=getattr(layer, "activation", "tanh"), reset_after=getattr(layer, "reset_after", True))
            x_tm = g.op("Transpose", [cur], perm=[1, 0, 2])
            if layer.go_backwards:
                # Each sequence read from its last valid step (valid steps are at the front).
                lens_all = lens64 if lens64 is not None else g.op(
                    "Expand", [g.op("Gather", [g.op("Shape", [x_tm]), g.const(np.array(0, np.int64))]),
                               g.op("Gather", [g.op("Shape", [x_tm]), g.const(np.array([1], np.int64))])])
                x_tm = g.op("ReverseSequence", [x_tm, lens_all], time_axis=0, batch_axis=1)
            y, hs, _ = _emit_stack(g, st, x_tm, seq_lens)
            if layer.return_sequences:
                y = g.op("Transpose", [y], perm=[2, 0, 1, 3])  # (B, T, D, H), zero past each length
                if nonempty is not None:
                    y = g.op("Mul", [y, g.op("Unsqueeze", [nonempty, g.const(np.array([1, 2, 3], np.int64))])])
                cur = _merge(g, y, 2, layer.merge_mode, st.dirs)
            else:
                last = g.op("Transpose", [hs[-1]], perm=[1, 0, 2])  # (B, D, H)
                if nonempty is not None:
                    last = g.op("Mul", [last, g.op("Unsqueeze", [nonempty, g.const(np.array([1, 2], np.int64))])])
                cur = _merge(g, last, 1, layer.merge_mode, st.dirs)
                seq = False
        else:
            raise UnsupportedError(f"export_onnx: layer {name} ({type(layer).__name__}) cannot be exported")

    if seq and mask is not None:
        # Back to the original positions.
        back = g.op("Mod", [g.op("Sub", [g.op("Add", [t_range, steps]), starts]), steps])
        # Padded steps come from padded steps of the front-moved sequences, which hold what rustrnn has there.
        cur = g.op("GatherElements", [cur, g.op("Expand", [g.op("Unsqueeze", [back, g.const(np.array([2], np.int64))]),
                                                            g.op("Shape", [cur])])], axis=1)
    g.op("Identity", [cur], base="y")
    g.nodes[-1].output[0] = "y"
    out_shape = ["batch", "steps", None] if seq else ["batch", None]
    g.save(path, [x_info], [helper.make_tensor_value_info("y", tp.FLOAT, out_shape)], model.name)


def export_module_onnx(module: Any, path: Any) -> None:
    """See ``rustrnn.nn.LSTM.export_onnx`` (and RNN, GRU)."""
    g = _Graph()
    _, helper = _onnx()
    tp = g.onnx.TensorProto
    cell = module._cell
    st = _Stack(cell, module.hidden_size, module.num_layers, module.bidirectional, module.state_dict(),
                activation=getattr(module, "nonlinearity", "tanh"))
    layout = ["batch", "steps"] if module.batch_first else ["steps", "batch"]
    x_info = helper.make_tensor_value_info("x", tp.FLOAT, layout + [module.input_size])
    len_info = helper.make_tensor_value_info("lengths", tp.INT64, ["batch"])
    x_tm = g.op("Transpose", ["x"], perm=[1, 0, 2]) if module.batch_first else "x"
    seq_lens = g.op("Cast", ["lengths"], to=tp.INT32)
    y, hs, cs = _emit_stack(g, st, x_tm, seq_lens)
    y = g.op("Transpose", [y], perm=[2, 0, 1, 3] if module.batch_first else [0, 2, 1, 3])
    g.op("Reshape", [y, g.const(np.array([0, 0, -1], np.int64))], base="output")
    g.nodes[-1].output[0] = "output"
    g.op("Concat", hs, axis=0)
    g.nodes[-1].output[0] = "hn"
    names = ["output", "hn"]
    if cs:
        g.op("Concat", cs, axis=0)
        g.nodes[-1].output[0] = "cn"
        names.append("cn")
    d = 2 if module.bidirectional else 1
    shapes = {"output": layout + [d * module.hidden_size], "hn": [d * module.num_layers, "batch", module.hidden_size]}
    shapes["cn"] = shapes["hn"]
    outs = [helper.make_tensor_value_info(n, tp.FLOAT, shapes[n]) for n in names]
    g.save(path, [x_info, len_info], outs, type(module).__name__)


def export_onnx(obj: Any, path: Any) -> None:
    """Writes a :class:`rustrnn.Sequential` or a ``rustrnn.nn`` module as ONNX."""
    # Through the object's own method: the model and nn modules import this module, not the other way round.
    export = getattr(obj, "export_onnx", None)
    if not callable(export):
        raise UnsupportedError(f"export_onnx: expected a rustrnn.Sequential or a rustrnn.nn module, got {type(obj).__name__}")
    export(path)
