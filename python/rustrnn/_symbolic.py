"""Symbolic tensors of the functional API: ``Input(shape)`` makes one, calling
a layer on them records a call node and gives the layer's outputs as new
symbolic tensors. Nothing is computed here; :class:`rustrnn.functional.Functional`
turns the recorded calls between its inputs and outputs into a native graph.

Layers get their Keras-style names (``lstm``, ``lstm_1``) when first called,
from one counter per prefix, so that every model built from the same layer
objects names (and shares) the same weights.
"""

from __future__ import annotations

import itertools
from typing import Any, Optional

import numpy as np

from .errors import ArgumentError, DTypeError, UnsupportedError

_names: dict = {}
_order = itertools.count()
# Operations on symbolic tensors by Keras name (``GetItem``), registered by rustrnn.layers (which imports this module).
OPERATIONS: dict = {}


# Names given explicitly to called layers (a loaded model's): automatic names skip them.
_given: set = set()


def unique_name(prefix: str) -> str:
    while True:
        k = _names.get(prefix, 0)
        _names[prefix] = k + 1
        name = prefix if k == 0 else f"{prefix}_{k}"
        if name not in _given:
            return name


def _dim(d: Any) -> Optional[int]:
    if d is None:
        return None
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or int(d) <= 0:
        raise ArgumentError(f"shape: expected positive integers or None, got {d!r}")
    return int(d)


class KerasTensor:
    """A symbolic tensor: the ``shape`` (batch first, ``None`` where unknown), the
    ``dtype`` and the call that makes it (``index``-th output of ``node``)."""

    def __init__(self, shape: tuple, dtype: str, node: "Node", index: int, name: str) -> None:
        self.shape, self.dtype, self.node, self.index, self.name = shape, dtype, node, index, name

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"

    def __getitem__(self, key: Any) -> Any:
        """``x[:, -1]`` (the last step), ``x[:, i:j]``, ``x[..., a:b]``: a ``GetItem`` operation in
        the graph, as Keras 3 records ``__getitem__``. The batch axis is kept whole; slices
        have no step; one feature cannot be indexed (the features axis stays)."""
        return OPERATIONS["GetItem"](**_getitem_key(self, key))(self)

    def __iter__(self) -> Any:
        raise DTypeError(f"{self.name}: a symbolic tensor is one tensor, not a list; a layer with several outputs "
                         "(return_state=True) returns a list")

    def __bool__(self) -> bool:
        raise DTypeError(f"{self.name}: a symbolic tensor has no truth value")


def _getitem_key(x: KerasTensor, key: Any) -> dict:
    """``GetItem``'s ``time`` and ``features`` for ``x[key]``, or an UnsupportedError naming what is not supported."""
    items = list(key) if isinstance(key, tuple) else [key]
    what = f"{x.name}[...]"
    if sum(k is Ellipsis for k in items) > 1:
        raise ArgumentError(f"{what}: an index can only have a single ellipsis ('...')")
    if Ellipsis in items:
        at = items.index(Ellipsis)
        items[at:at + 1] = [slice(None)] * (x.ndim - len(items) + 1)
    if len(items) > x.ndim:
        raise ArgumentError(f"{what}: too many indices for a tensor of shape {x.shape}")
    items += [slice(None)] * (x.ndim - len(items))
    out = []
    for axis, k in enumerate(items):
        if isinstance(k, slice):
            if k.step not in (None, 1):
                raise UnsupportedError(f"{what}: slices with a step ({k}) are not supported; only start:stop")
            for v in (k.start, k.stop):
                if v is not None and (isinstance(v, bool) or not isinstance(v, (int, np.integer))):
                    raise ArgumentError(f"{what}: slice bounds must be integers or None, got {v!r}")
            out.append(None if k.start is None and k.stop is None else
                       [None if k.start is None else int(k.start), None if k.stop is None else int(k.stop)])
        elif isinstance(k, (int, np.integer)) and not isinstance(k, bool):
            out.append(int(k))
        else:
            raise UnsupportedError(f"{what}: indexing with {type(k).__name__} is not supported; use integers and "
                                   "start:stop slices (x[:, -1], x[:, i:j], x[..., a:b])")
    if out[0] is not None:
        raise UnsupportedError(f"{what}: indexing the batch axis is not supported; keep it whole (x[:, ...])")
    if x.ndim == 3:
        time, features = out[1], out[2]
    elif x.ndim == 2:
        time, features = None, out[1]
    else:
        raise UnsupportedError(f"{what}: indexing a tensor of shape {x.shape} is not supported")
    if isinstance(features, int):
        raise UnsupportedError(f"{what}: indexing one feature drops the features axis, which rustrnn's activations keep; "
                               "take a slice x[..., i:i+1] instead")
    return {"time": time, "features": features}


class Node:
    """One call: ``layer`` (an :class:`InputLayer` for a model input) on ``inputs``."""

    def __init__(self, layer: Any, inputs: list, n_inputs: int) -> None:
        self.layer, self.inputs, self.n_inputs = layer, inputs, n_inputs
        self.order = next(_order)
        self.outputs: list = []


class InputLayer:
    """What ``model.layers`` lists for each model input (no weights)."""

    _class = "InputLayer"
    trainable = False

    def __init__(self, shape: tuple, dtype: str, name: str) -> None:
        self.name, self.dtype, self.batch_shape = name, dtype, shape
        self._nodes = [Node(self, [], 0)]
        self._nodes[0].outputs = [KerasTensor(shape, dtype, self._nodes[0], 0, name)]

    @property
    def output(self) -> KerasTensor:
        return self._nodes[0].outputs[0]

    def get_weights(self) -> list:
        return []

    def spec(self) -> dict:
        """The native graph's input description."""
        if self.dtype.startswith(("int", "uint")):
            if len(self.batch_shape) != 2:
                raise ArgumentError(f"{self.name}: integer inputs are token indices of shape (batch, time), got shape {self.batch_shape}")
            return {"name": self.name, "kind": "indices", "steps": self.batch_shape[1]}
        if len(self.batch_shape) not in (2, 3) or self.batch_shape[-1] is None:
            raise ArgumentError(f"{self.name}: expected shape (features,) or (time, features) with known features, "
                                f"got {self.batch_shape[1:]}")
        sequence = len(self.batch_shape) == 3
        return {"name": self.name, "kind": "features", "features": self.batch_shape[-1], "sequence": sequence,
                "steps": self.batch_shape[1] if sequence else None}

    def __repr__(self) -> str:
        return f"InputLayer(shape={self.batch_shape[1:]}, dtype={self.dtype!r}, name={self.name!r})"


_FLOATS = ("float32", "float64", "float16", "bool")  # one-hot bool inputs are fed as floats
_INTS = ("int32", "int64", "uint8", "int8", "int16", "uint16", "uint32")


def Input(shape: Any = None, batch_size: Optional[int] = None, dtype: Any = None, name: Optional[str] = None,
          batch_shape: Any = None, sparse: Any = None, tensor: Any = None) -> KerasTensor:
    """A symbolic model input of ``shape`` (without the batch axis), as ``keras.Input``:
    ``(time, features)`` or ``(features,)`` for floats, ``(time,)`` with an integer ``dtype``
    for token indices. ``time`` may be ``None`` (any length)."""
    for arg, value in (("sparse", sparse), ("tensor", tensor)):
        if value:
            raise UnsupportedError(f"Input({arg}=...): not supported by rustrnn")
    if batch_shape is not None:
        if shape is not None:
            raise ArgumentError("Input: give shape or batch_shape, not both")
        full = tuple(batch_shape)
    else:
        if shape is None:
            raise ArgumentError("Input: shape is required, e.g. Input(shape=(None, 8))")
        if isinstance(shape, (int, np.integer)):
            shape = (shape,)
        full = (batch_size, *tuple(shape))
    full = tuple(_dim(d) for d in full)
    dt = "float32" if dtype is None else np.dtype(dtype).name
    if dt not in _FLOATS + _INTS:
        raise DTypeError(f"Input(dtype=...): expected a float, bool or integer dtype, got {dt}")
    if name is not None and (not isinstance(name, str) or not name or "/" in name):
        raise ArgumentError(f"Input(name=...): expected a non-empty string without '/', got {name!r}")
    layer = InputLayer(full, dt, name or unique_name("input_layer"))
    return layer.output


def flatten(x: Any, what: str) -> list:
    """A tensor or a (nested) list/tuple of tensors as a flat list."""
    if isinstance(x, KerasTensor):
        return [x]
    if isinstance(x, (list, tuple)):
        return [t for item in x for t in flatten(item, what)]
    raise DTypeError(f"{what}: expected symbolic tensors (from keras.Input or a layer call), got {type(x).__name__}")


def is_symbolic(x: Any) -> bool:
    if isinstance(x, KerasTensor):
        return True
    return isinstance(x, (list, tuple)) and bool(x) and all(is_symbolic(t) for t in x)


def call(layer: Any, inputs: Any, initial_state: Any = None) -> Any:
    """Records ``layer(inputs, initial_state=...)`` and returns its symbolic output(s)."""
    xs = flatten(inputs, f"{layer._class}: inputs")
    n_inputs = len(xs)
    if initial_state is not None:
        states = flatten(initial_state, f"{layer._class}: initial_state")
        if not hasattr(layer, "_state_count"):
            raise ArgumentError(f"{layer._class}: initial_state is only for recurrent layers")
        if len(xs) != 1:
            raise ArgumentError(f"{layer._class}: with initial_state, the input is one tensor, got {len(xs)}")
        if len(states) != layer._state_count:
            raise ArgumentError(f"{layer._class}: initial_state: expected {layer._state_count} states ([h, c] per direction for "
                                f"an LSTM, [h] per direction otherwise), got {len(states)}")
        xs = xs + states
    if layer.name is None:
        layer.name = unique_name(layer._prefix)
    else:
        _given.add(layer.name)
    node = Node(layer, xs, n_inputs)
    shapes = layer._symbolic_outputs([t.shape for t in xs[:n_inputs]])
    node.outputs = [KerasTensor(s, "float32", node, i, f"{layer.name}/output_{i}" if len(shapes) > 1 else layer.name)
                    for i, s in enumerate(shapes)]
    layer._nodes.append(node)
    return node.outputs[0] if len(node.outputs) == 1 else list(node.outputs)


def node_output(layer: Any, attr: str) -> Any:
    """``layer.output`` / ``layer.input``: of its one call, as Keras gives them."""
    nodes = layer._nodes
    if not nodes:
        raise ArgumentError(f"{layer.name or layer._class}.{attr}: the layer has not been called on a symbolic input (keras.Input)")
    if len(nodes) > 1:
        raise ArgumentError(f"{layer.name}.{attr}: the layer has been called {len(nodes)} times; its {attr} is ambiguous. "
                            f"Use the tensors each call returned")
    ts = nodes[0].outputs if attr == "output" else nodes[0].inputs
    return ts[0] if len(ts) == 1 else list(ts)
