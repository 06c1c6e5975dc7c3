"""The functional API's model: ``Model(inputs, outputs)`` over the layer calls
recorded between symbolic inputs and outputs (see :mod:`rustrnn._symbolic`),
computed by the core's graph container (``{"type": "functional"}``).

Layers own their weights, as in Keras: models built from the same layer
objects share them. The native models hold the numbers, so each layer
remembers which model holds its freshest weights (``layer._model``, claimed
by a model that trains or sets them); before a model computes, it copies in
the weights of every layer that another model changed since (by name: a layer
keeps its name across models).
"""

from __future__ import annotations

import json
from typing import Any, Optional

import numpy as np

from . import _outputs, _streams
from ._convert import from_torch
from ._registry import register_model
from ._symbolic import Input, InputLayer, KerasTensor, flatten
from .errors import ArgumentError, DTypeError, ShapeError, UnsupportedError
from .layers import Layer, layer_from_spec
from .models import Model, _batch_size, _LayerLookup

__all__ = ["Functional", "Input"]

# Handle calls that change weights: the model then holds its layers' freshest weights.
_MUTATING = frozenset({"train_batch", "set_weights", "apply_flat"})


class _SyncedHandle:
    """The native handle of a functional model, pulling shared layers' weights before every call."""

    def __init__(self, model: "Functional", handle: Any) -> None:
        self._model, self._raw = model, handle

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._raw, name)
        if not callable(attr):
            return attr

        def synced(*args: Any, **kwargs: Any) -> Any:
            self._model._pull()
            # The arrays per input or output (tuples for batch slicing) as the core's lists.
            args = tuple(list(a) if isinstance(a, tuple) else a for a in args)
            result = attr(*args, **kwargs)
            if name in _MUTATING:
                self._model._claim()
            return result

        return synced


def _trace(inputs: list, outputs: list) -> list:
    """The calls between ``inputs`` and ``outputs`` in a topological order (creation order among ready ones)."""
    nodes: dict = {}
    stack = [t.node for t in outputs]
    while stack:
        n = stack.pop()
        if id(n) in nodes:
            continue
        nodes[id(n)] = n
        if isinstance(n.layer, InputLayer):
            if not any(t.node is n for t in inputs):
                raise ArgumentError(f"outputs: they depend on the input {n.layer.name!r}, which is not in the model's inputs")
            continue
        stack.extend(t.node for t in n.inputs)
    calls = sorted((n for n in nodes.values() if not isinstance(n.layer, InputLayer)), key=lambda n: n.order)
    # Inputs that reach no output are an error of the core's spec; name them here in Keras' terms.
    used = {id(n) for n in nodes.values()}
    for t in inputs:
        if id(t.node) not in used:
            raise ArgumentError(f"inputs: {t.name!r} is not connected to any output of the model")
    return calls


@register_model
class Functional(_LayerLookup, Model):
    """A model over a graph of layer calls: ``Model(inputs, outputs)``.

    >>> x = keras.Input(shape=(None, 8)); h = keras.layers.LSTM(16)(x)
    >>> model = keras.Model(x, keras.layers.Dense(1, activation="sigmoid")(h))

    ``inputs`` and ``outputs`` are symbolic tensors or lists of them; ``predict``
    and ``fit`` take (and ``predict`` returns) arrays in the same structure. With
    several outputs, ``compile`` takes a loss (weights, metrics) per output and
    ``fit``/``evaluate`` a ``y`` per output (a list or a dict by output name),
    as Keras: see :mod:`rustrnn._outputs`.
    """

    def __init__(self, inputs: Any = None, outputs: Any = None, name: Optional[str] = None, dtype: Any = np.float32,
                 trainable: bool = True) -> None:
        super().__init__(dtype, name or "functional")
        if inputs is None or outputs is None:
            raise ArgumentError("Model: a functional model needs inputs= and outputs= (symbolic tensors from keras.Input and layer calls)")
        self._single_input = isinstance(inputs, KerasTensor)
        self._single_output = isinstance(outputs, KerasTensor)
        if isinstance(inputs, dict) or isinstance(outputs, dict):
            raise UnsupportedError("Model: inputs and outputs as dicts are not supported; pass lists")
        self.inputs = flatten(inputs, "inputs")
        self.outputs = flatten(outputs, "outputs")
        bad = [t.name for t in self.inputs if not isinstance(t.node.layer, InputLayer)]
        if bad:
            raise ArgumentError(f"inputs: {', '.join(bad)} are not model inputs; inputs are made by keras.Input")
        if len({id(t) for t in self.inputs}) != len(self.inputs):
            raise ArgumentError("inputs: the same input is listed twice")
        self._calls = _trace(self.inputs, self.outputs)
        # Operations (x[:, -1]) are graph nodes but not layers, as in Keras; a shared layer
        # (called several times, one set of weights) is listed once.
        called: dict = {}
        for n in self._calls:
            if not getattr(n.layer, "_operation", False):
                called.setdefault(id(n.layer), n.layer)
        self.layers = [t.node.layer for t in self.inputs] + list(called.values())
        for layer in called.values():
            if getattr(layer, "stateful", False) and sum(n.layer is layer for n in self._calls) > 1:
                raise UnsupportedError(f"layer {layer.name!r}: a stateful layer called several times (shared) is not "
                                       "supported: its carried states belong to one call")
        names = [l.name for l in self.layers]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ArgumentError(f"layers: the name(s) {', '.join(dup)} are used by more than one layer or input of this model")
        self._seen: dict = {}
        self._trainable: dict = {}
        for layer in self.layers[len(self.inputs):]:
            if layer._model is None:
                layer._model = self  # it holds the layer's weights once built

    # ----- the native graph ---------------------------------------------------------------------
    def _graph(self) -> dict:
        """The core's spec: a later call of a shared layer is ``{"name", "inbound"}`` and its
        outputs ``[name, call, index]`` (see ``models/graph_spec.rs``)."""
        refs = {}
        for t in self.inputs:
            refs[id(t)] = [t.node.layer.name, 0]
        layers = []
        calls: dict = {}
        for n in self._calls:
            k = calls[id(n.layer)] = calls.get(id(n.layer), -1) + 1
            for i, t in enumerate(n.outputs):
                refs[id(t)] = [n.layer.name, i] if k == 0 else [n.layer.name, k, i]
            inbound = [refs[id(t)] for t in n.inputs]
            layers.append({**n.layer.spec(), "inbound": inbound} if k == 0 else {"name": n.layer.name, "inbound": inbound})
        return {"type": "functional", "inputs": [t.node.layer.spec() for t in self.inputs], "layers": layers,
                "outputs": [refs[id(t)] for t in self.outputs]}

    def _native_spec(self, x: Any) -> dict:
        return self._graph()

    def build(self, input_shape: Any = None) -> None:
        """Builds the weights (the inputs' shapes are known from ``keras.Input``)."""
        self._ensure_built(None)

    def _require_built(self, what: str) -> None:
        self._ensure_built(None)

    def _build_native(self, spec: dict) -> None:
        super()._build_native(spec)
        self._handle = _SyncedHandle(self, self._handle)
        for layer in self.layers[len(self.inputs):]:
            if layer._model is None or layer._model is self:
                self._claim_layer(layer)
        self._pull()

    def _build_saved(self) -> Optional[str]:
        self._ensure_built(None)
        return None

    # ----- shared weights -----------------------------------------------------------------------
    def _claim_layer(self, layer: Layer) -> None:
        layer._model = self
        layer._weights_version += 1
        self._seen[id(layer)] = layer._weights_version

    def _claim(self) -> None:
        for layer in self.layers[len(self.inputs):]:
            self._claim_layer(layer)

    def _pull(self) -> None:
        """Copies in the weights of layers that another model changed since this one last saw them."""
        raw = self._handle._raw
        held: dict = {}
        for layer in self.layers[len(self.inputs):]:
            # `layer.trainable = ...` reaches the holder at once; the other models sharing the layer here.
            if self._trainable.get(id(layer)) != layer.trainable:
                raw.set_trainable(layer.name, layer.trainable)
                self._trainable[id(layer)] = layer.trainable
            holder = layer._model
            if holder is not None and holder is not self and holder._handle is None:
                self._claim_layer(layer)  # its holder was never built: this model's weights are the layer's only ones
                continue
            if holder is None or holder is self or self._seen.get(id(layer)) == layer._weights_version:
                continue
            if id(holder) not in held:
                # The holder's own numbers, without syncing it: they are this layer's freshest by definition.
                held[id(holder)] = list(getattr(holder._handle, "_raw", holder._handle).weights())
            prefix = layer.name + "/"
            items = [(k, v) for k, v in held[id(holder)] if k.startswith(prefix)]
            if items:
                raw.set_weights([(k, np.ascontiguousarray(v, dtype=self.dtype)) for k, v in items])
            self._seen[id(layer)] = layer._weights_version

    # ----- data ---------------------------------------------------------------------------------
    def _prepare_x(self, x: Any) -> tuple:
        if x is None:
            raise ArgumentError("x: input data is required")
        _streams.reject_stream("x", x, "this call")
        if isinstance(x, dict):
            x = [x[t.node.layer.name] if t.node.layer.name in x else x[t.name] for t in self.inputs]
        items = [x] if not isinstance(x, (list, tuple)) else list(x)
        if len(items) != len(self.inputs):
            names = ", ".join(t.node.layer.name for t in self.inputs)
            raise ArgumentError(f"x: the model has {len(self.inputs)} input(s) ({names}); expected a list of {len(self.inputs)} "
                                f"arrays, got {len(items)}")
        out = []
        for i, (a, t) in enumerate(zip(items, self.inputs)):
            arr = np.asarray(from_torch(a))
            what = f"x[{i}] ({t.node.layer.name})" if len(items) > 1 else "x"
            want = t.shape
            if arr.ndim != len(want) or any(w is not None and w != g for w, g in zip(want[1:], arr.shape[1:])):
                raise ShapeError(f"{what}: expected shape {want}, got {arr.shape}")
            if t.dtype.startswith(("int", "uint")):
                if arr.dtype.kind not in "iu":
                    raise DTypeError(f"{what}: expected integer indices, got dtype {arr.dtype}")
                out.append(np.ascontiguousarray(arr, dtype=np.int64))
            else:
                if arr.dtype.kind not in "fiub":
                    raise DTypeError(f"{what}: expected numbers, got dtype {arr.dtype}")
                out.append(np.ascontiguousarray(arr, dtype=self.dtype))
        return tuple(out)

    def _prepare_y(self, y: Any) -> Any:
        """``y``: an array, or with several outputs a tuple of one per output (from a list or a dict by output name)."""
        names = self._output_names()
        if len(names) == 1:
            if isinstance(y, dict) and list(y) == names:
                y = y[names[0]]
            if isinstance(y, (list, tuple)) and len(y) == 1:
                y = y[0]
            return super()._prepare_y(y)
        _streams.reject_stream("y", y, "this call")
        return _outputs.targets("y", y, names, lambda what, a: self._floats(what, a))

    def _prepare_weights(self, sample_weight: Any, n: int) -> Any:
        names = self._output_names()
        if len(names) == 1:
            if isinstance(sample_weight, dict) and list(sample_weight) == names:
                sample_weight = sample_weight[names[0]]
            return super()._prepare_weights(sample_weight, n)

        def convert(what: str, w: Any) -> np.ndarray:
            arr = np.ascontiguousarray(np.asarray(from_torch(w), dtype=self.dtype))
            if arr.ndim == 0 or arr.shape[0] != n:
                raise ShapeError(f"{what}: expected one weight per sample ({n},) (or (N, T) per step), got shape {arr.shape}")
            return arr

        return _outputs.targets("sample_weight", sample_weight, names, convert, optional=True)

    def _floats(self, what: str, a: Any) -> np.ndarray:
        arr = np.asarray(from_torch(a))
        if arr.dtype.kind not in "fiub":
            raise DTypeError(f"{what}: expected numbers, got dtype {arr.dtype}")
        return np.ascontiguousarray(arr, dtype=self.dtype)

    # ----- prediction ---------------------------------------------------------------------------
    def predict(self, x: Any, batch_size: Optional[int] = None, verbose: Any = 0, steps: Optional[int] = None,
                callbacks: Any = None) -> Any:
        """The outputs for every sample, in the structure of ``outputs``. ``x`` may also be a
        generator or dataset of batches (``x``, ``(x,)`` or ``(x, y[, sample_weight])``; ``steps``
        of them, default all), whose outputs are concatenated."""
        kind = _streams.stream_kind(x)
        if kind is not None:
            if batch_size is not None:
                raise ArgumentError(f"batch_size: not used when x is a {kind} of batches")
            source = _streams.BatchSource(x, kind, steps, False)
            parts: list = []
            try:
                for item in source.epoch(np.random.default_rng(0)):
                    bx = _streams.unpack(item, "x", need_y=False)[0]
                    out = self.predict(bx, batch_size=max(1, len(self._prepare_x(bx)[0])))
                    parts.append(out if not self._single_output else [out])
            finally:
                source.close()
            if not parts:
                raise ShapeError("x: the generator or dataset gave no batches")
            shapes = {tuple(p[0].shape[1:]) for p in parts}
            if len(shapes) > 1:
                raise ShapeError(f"x: the batches' outputs have different shapes {sorted(shapes)} and cannot be joined; "
                                 "call predict on each batch instead")
            outs = [np.concatenate([p[i] for p in parts]) for i in range(len(parts[0]))]
            return outs[0] if self._single_output else outs
        if steps is not None:
            raise ArgumentError("steps: only for a generator or dataset of batches")
        xs = self._prepare_x(x)
        n = len(xs[0])
        if n == 0:
            raise ShapeError("x: expected at least one sample, got 0")
        self._ensure_built(None)
        bs = _batch_size(32 if batch_size is None else batch_size)
        parts: list = [[] for _ in self.outputs]
        for start in range(0, n, bs):
            y, rest = self._handle.predict_batch([np.ascontiguousarray(a[start:start + bs]) for a in xs])
            for acc, arr in zip(parts, [y, *rest]):
                acc.append(arr)
        outs = [np.concatenate(p) for p in parts]
        return outs[0] if self._single_output else outs

    def predict_on_batch(self, x: Any) -> Any:
        xs = self._prepare_x(x)
        return self.predict(xs if not self._single_input else xs[0], batch_size=max(1, len(xs[0])))

    def __call__(self, x: Any) -> Any:
        """On arrays, the outputs for them. On symbolic tensors, the model as a layer of another
        model: its layer calls are replayed on them (the same layer objects, so the weights are shared,
        as in Keras). Unlike Keras, the outer model lists these layers, not this model, in ``layers``."""
        if isinstance(x, KerasTensor) or (isinstance(x, (list, tuple)) and any(isinstance(t, KerasTensor) for t in x)):
            return self._call_symbolic(x)
        return self.predict_on_batch(x)

    def _call_symbolic(self, x: Any) -> Any:
        xs = flatten(x, f"{self.name}: inputs")
        if len(xs) != len(self.inputs):
            raise ArgumentError(f"{self.name}: the model takes {len(self.inputs)} input(s), got {len(xs)}")
        mapped: dict = {}
        for i, (given, want) in enumerate(zip(xs, self.inputs)):
            if len(given.shape) != len(want.shape) or any(
                    a is not None and b is not None and a != b for a, b in zip(given.shape[1:], want.shape[1:])):
                raise ShapeError(f"{self.name}: inputs[{i}]: expected shape {want.shape}, got {given.shape}")
            mapped[id(want)] = given
        for node in self._calls:
            args = [mapped[id(t)] for t in node.inputs]
            layer = node.layer
            if getattr(layer, "_operation", False):  # a slice: a new operation of the same key
                layer = type(layer)(**layer.get_config())
            main = args[0] if node.n_inputs == 1 else args[:node.n_inputs]
            out = layer(main, initial_state=args[node.n_inputs:] or None)
            for t, o in zip(node.outputs, out if isinstance(out, list) else [out]):
                mapped[id(t)] = o
        outs = [mapped[id(t)] for t in self.outputs]
        return outs[0] if self._single_output else outs

    def _output_names(self) -> list:
        return [t.node.layer.name for t in self.outputs]

    @property
    def input(self) -> Any:
        return self.inputs[0] if self._single_input else list(self.inputs)

    @property
    def output(self) -> Any:
        return self.outputs[0] if self._single_output else list(self.outputs)

    # ----- saving -------------------------------------------------------------------------------
    def get_config(self) -> dict:
        return {"class": "Functional", "name": self.name, "dtype": self.dtype.name, "graph": self._graph(),
                "input_shapes": [list(t.shape) for t in self.inputs], "input_dtypes": [t.dtype for t in self.inputs],
                "single_input": self._single_input, "single_output": self._single_output}

    @classmethod
    def from_config(cls, config: dict) -> "Functional":
        """Replays the saved graph: new inputs and layers, called as recorded."""
        graph = config["graph"]
        tensors: dict = {}
        inputs = []
        for spec, shape, dt in zip(graph["inputs"], config["input_shapes"], config["input_dtypes"]):
            t = Input(batch_shape=tuple(shape), dtype=dt, name=spec["name"])
            tensors[spec["name"]] = [t]
            inputs.append(t)
        made: dict = {}  # the layers by name (a shared layer's later calls reuse it)
        for entry in graph["layers"]:
            if "class" in entry:
                layer = made[entry["name"]] = layer_from_spec({k: entry[k] for k in ("class", "name", "config")})
                call = 0
            else:
                layer = made[entry["name"]]
                call = sum(1 for key in tensors if isinstance(key, tuple) and key[0] == entry["name"])
            args = [tensors[(ref[0], ref[1] if len(ref) == 3 else 0) if ref[0] in made else ref[0]][ref[-1]]
                    for ref in entry["inbound"]]
            n_in = len(args) if getattr(layer, "_state_count", None) is None else 1
            out = layer(args[0] if n_in == 1 else args[:n_in], initial_state=args[n_in:] or None)
            tensors[(entry["name"], call)] = out if isinstance(out, list) else [out]
        outputs = [tensors[(ref[0], ref[1] if len(ref) == 3 else 0) if ref[0] in made else ref[0]][ref[-1]] for ref in graph["outputs"]]
        return cls(inputs[0] if config["single_input"] else inputs, outputs[0] if config["single_output"] else outputs,
                   name=config.get("name"), dtype=config.get("dtype", "float32"))

    def summary(self, print_fn: Any = print) -> None:
        """Prints each layer with its output shape, parameter count and inputs."""
        self._ensure_built(None)
        info = {i["name"]: i for i in json.loads(self._handle.layer_info())}
        rows = []
        for layer in self.layers:
            if isinstance(layer, InputLayer):
                rows.append((f"{layer.name} (InputLayer)", str(layer.batch_shape), "0"))
                continue
            i = info[layer.name]
            shape = "(" + ", ".join("None" if d is None else str(d) for d in i["output_shape"]) + ")"
            rows.append((f"{layer.name} ({layer._class})", shape, f"{i['params']:,}"))
        w = [max(len(h), *(len(r[k]) for r in rows)) for k, h in enumerate(("Layer (type)", "Output Shape", "Param #"))]
        line = "─" * (sum(w) + 6)
        out = [f'Model: "{self.name}"', line, f"{'Layer (type)':<{w[0]}}   {'Output Shape':<{w[1]}}   {'Param #':>{w[2]}}", line]
        out += [f"{a:<{w[0]}}   {b:<{w[1]}}   {c:>{w[2]}}" for a, b, c in rows]
        total, trainable = self._handle.num_params()
        out += [line, f"Total params: {total:,}", f"Trainable params: {trainable:,}", f"Non-trainable params: {total - trainable:,}"]
        print_fn("\n".join(out))
