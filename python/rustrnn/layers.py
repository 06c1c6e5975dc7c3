"""Keras-style layers for :class:`rustrnn.Sequential` and functional models
(``layer(keras.Input(...))``, see :mod:`rustrnn.functional`).

Layers are configurations: the model builds them in Rust on first use,
inferring every input size from the data. After that ``layer.get_weights()``
and ``layer.set_weights()`` reach the built parameters.

Shapes (``B`` batch, ``T`` time steps)::

    Embedding        (B, T) int            -> (B, T, output_dim)
    Masking          (B, T, I)             -> (B, T, I)
    SimpleRNN/LSTM/GRU (B, T, I)           -> (B, units·D) or (B, T, units·D) with return_sequences
    Dense            (B, I) or (B, T, I)   -> (B, units) or (B, T, units)
    Dropout          any                   -> same
    Concatenate      [(B, T, F1), (B, T, F2)] -> (B, T, F1+F2)   (functional models; also without T)
    Attention, AdditiveAttention [query (B, Tq, D), value (B, Tv, Dv)(, key (B, Tv, D))] -> (B, Tq, Dv)

``D`` is 2 for ``bidirectional=True`` with ``merge_mode="concat"``, else 1.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from . import _symbolic
from ._checks import as_bool, one_of, positive_int
from .errors import ArgumentError, DTypeError, ShapeError

__all__ = ["Layer", "Embedding", "Masking", "SimpleRNN", "LSTM", "GRU", "Dense", "Dropout", "Concatenate", "Attention", "AdditiveAttention", "Input"]

Input = _symbolic.Input

# The name tables of the core, checked against it by tests/test_stubs.py.
ACTIVATIONS = ("linear", "relu", "tanh", "sigmoid", "softmax")
MERGE_MODES = ("concat", "sum", "mul", "ave")
NONLINEARITIES = ("tanh", "relu")


def check_rate(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise DTypeError(f"{name}: expected a number in [0, 1), got {type(value).__name__}")
    v = float(value)
    if not 0.0 <= v < 1.0:
        raise ArgumentError(f"{name}: expected a rate in [0, 1), got {v}")
    return v


def check_choice(name: str, value: Any, options: tuple) -> str:
    """One of ``options``, case-insensitive; ``None`` means ``"linear"`` where that is an option."""
    if value is None and "linear" in options:
        return "linear"
    return one_of(name, value.lower() if isinstance(value, str) else value, options)


class Layer:
    """Base class: a name, a config, and (once built) access to the weights."""

    _class = ""
    _prefix = ""

    def __init__(self, name: Optional[str] = None, trainable: bool = True) -> None:
        if name is not None and (not isinstance(name, str) or not name or "/" in name):
            raise ArgumentError(f"name: expected a non-empty string without '/', got {name!r}")
        self.name = name
        # The model holding this layer's freshest weights (several functional models may share the layer).
        self._model = None
        self._weights_version = 0
        # Calls on symbolic tensors (the functional API).
        self._nodes: list = []
        self.trainable = trainable

    def __call__(self, inputs: Any, initial_state: Any = None, **kwargs: Any) -> Any:
        """On symbolic tensors (``keras.Input`` or a layer's output): records the call
        for a functional :class:`rustrnn.Model` and returns the symbolic output(s)."""
        if kwargs:
            raise ArgumentError(f"{self._class}: unsupported call arguments {', '.join(sorted(kwargs))}")
        if not _symbolic.is_symbolic(inputs):
            raise DTypeError(f"{self._class}: a layer is called on symbolic tensors (keras.Input) to build a functional "
                             f"Model; to compute on arrays, put it in a model and use predict. Got {type(inputs).__name__}")
        return _symbolic.call(self, inputs, initial_state)

    def _symbolic_outputs(self, shapes: list) -> list:
        """The output shapes of a call on inputs of ``shapes``; the core checks them when the model is built."""
        if len(shapes) != 1:
            raise ArgumentError(f"{self._class}: takes one input, got a list of {len(shapes)}")
        return [self._output_shape(shapes[0])]

    def _output_shape(self, shape: tuple) -> tuple:
        return shape

    @property
    def output(self) -> Any:
        """The symbolic output(s) of the layer's call in a functional model."""
        return _symbolic.node_output(self, "output")

    @property
    def input(self) -> Any:
        """The symbolic input(s) of the layer's call in a functional model."""
        return _symbolic.node_output(self, "input")

    @property
    def trainable(self) -> bool:
        """Whether fit updates this layer's weights; can be changed at any time."""
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = as_bool("trainable", value)
        if self._model is not None and self.name is not None:
            self._model._set_layer_trainable(self.name, self._trainable)

    def get_config(self) -> dict:
        raise NotImplementedError

    def spec(self) -> dict:
        """The layer as the native model and the model file describe it."""
        return {"class": self._class, "name": self.name, "config": self.get_config()}

    @classmethod
    def from_config(cls, config: dict) -> "Layer":
        return cls(**config)

    def _built(self):
        if self._model is None:
            raise ArgumentError(f"{self.name or self._class}: the layer is not in a model yet")
        self._model._require_built(f"{self.name}.get_weights")
        return self._model

    def get_weights(self) -> list:
        """This layer's parameters, in order, as NumPy arrays (copies)."""
        model = self._built()
        return [v for k, v in model._named_weights() if k.split("/", 1)[0] == self.name]

    def set_weights(self, weights: list) -> None:
        """Sets this layer's parameters from arrays in :meth:`get_weights` order."""
        model = self._built()
        names = [k for k in model._weight_names() if k.split("/", 1)[0] == self.name]
        if len(weights) != len(names):
            raise ArgumentError(f"weights: {self.name} has {len(names)} weight arrays ({', '.join(names)}), got {len(weights)}")
        model._set_named_weights(dict(zip(names, weights)))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class Embedding(Layer):
    """Integer indices to dense vectors.

    ``mask_zero=True`` treats index 0 as padding: recurrent layers then skip
    the padded steps (padding before or after the tokens of each sequence)
    and sequence losses ignore them. ``weights`` is a pretrained
    ``(input_dim, output_dim)`` matrix; ``trainable=False`` freezes it.
    """

    _class = "Embedding"
    _prefix = "embedding"

    def __init__(self, input_dim: int, output_dim: int, mask_zero: bool = False, weights: Any = None,
                 trainable: bool = True, name: Optional[str] = None) -> None:
        super().__init__(name, trainable)
        self.input_dim = positive_int("input_dim", input_dim)
        self.output_dim = positive_int("output_dim", output_dim)
        self.mask_zero = as_bool("mask_zero", mask_zero)
        self.initial_weights = None
        if weights is not None:
            if isinstance(weights, (list, tuple)) and len(weights) == 1:
                weights = weights[0]  # Keras' weights=[matrix]
            w = np.asarray(weights)
            if w.dtype.kind not in "fiu":
                raise DTypeError(f"weights: expected a numeric matrix, got dtype {w.dtype}")
            if w.shape != (self.input_dim, self.output_dim):
                raise ShapeError(f"weights: expected shape ({self.input_dim}, {self.output_dim}) (input_dim, output_dim), got {w.shape}")
            self.initial_weights = w

    def get_config(self) -> dict:
        return {"input_dim": self.input_dim, "output_dim": self.output_dim, "mask_zero": self.mask_zero, "trainable": self.trainable}

    def _output_shape(self, shape: tuple) -> tuple:
        return (*shape, self.output_dim)


class Masking(Layer):
    """Marks the steps of a float sequence whose features all equal ``mask_value``
    as padding (before or after the real steps): recurrent layers skip them and
    sequence losses ignore them, as with ``Embedding(mask_zero=True)``."""

    _class = "Masking"
    _prefix = "masking"

    def __init__(self, mask_value: float = 0.0, name: Optional[str] = None) -> None:
        super().__init__(name, True)
        if isinstance(mask_value, bool) or not isinstance(mask_value, (int, float, np.integer, np.floating)):
            raise DTypeError(f"mask_value: expected a number, got {type(mask_value).__name__}")
        if not np.isfinite(mask_value):
            raise ArgumentError(f"mask_value: expected a finite number, got {mask_value}")
        self.mask_value = float(mask_value)

    def get_config(self) -> dict:
        return {"mask_value": self.mask_value}


class _Recurrent(Layer):
    """What SimpleRNN, LSTM and GRU share.

    Without ``return_sequences`` the output is each sequence's last valid
    step (for a bidirectional layer: the forward direction's last valid step
    and the backward direction's state after the first one, merged).
    ``num_layers`` stacks layers with ``dropout`` between them;
    ``go_backwards`` reads each sequence in reverse and returns the output
    sequence in that order, as Keras does. ``return_state`` (last layer of a
    Sequential only) makes ``predict`` return ``[output, h, (c), ...]`` per
    direction.
    """

    def __init__(self, units: int, return_sequences: bool = False, return_state: bool = False,
                 bidirectional: bool = False, merge_mode: str = "concat", num_layers: int = 1,
                 dropout: float = 0.0, go_backwards: bool = False, trainable: bool = True,
                 name: Optional[str] = None) -> None:
        super().__init__(name, trainable)
        self.units = positive_int("units", units)
        self.return_sequences = as_bool("return_sequences", return_sequences)
        self.return_state = as_bool("return_state", return_state)
        self.bidirectional = as_bool("bidirectional", bidirectional)
        self.merge_mode = check_choice("merge_mode", merge_mode, MERGE_MODES)
        self.num_layers = positive_int("num_layers", num_layers)
        self.dropout = check_rate("dropout", dropout)
        self.go_backwards = as_bool("go_backwards", go_backwards)

    @property
    def _state_count(self) -> int:
        """States per call in a functional model: h (and c for an LSTM) per direction."""
        return (2 if self._class == "LSTM" else 1) * (2 if self.bidirectional else 1)

    def _symbolic_outputs(self, shapes: list) -> list:
        if len(shapes) != 1:
            raise ArgumentError(f"{self._class}: takes one input sequence (and initial_state=...), got a list of {len(shapes)}")
        batch, features = shapes[0][0], self.units * (2 if self.bidirectional and self.merge_mode == "concat" else 1)
        y = (batch, shapes[0][1], features) if self.return_sequences and len(shapes[0]) == 3 else (batch, features)
        return [y] + [(batch, self.units)] * (self._state_count if self.return_state else 0)

    def get_config(self) -> dict:
        return {
            "units": self.units, "return_sequences": self.return_sequences, "return_state": self.return_state,
            "bidirectional": self.bidirectional, "merge_mode": self.merge_mode, "num_layers": self.num_layers,
            "dropout": self.dropout, "go_backwards": self.go_backwards, "trainable": self.trainable,
        }


class SimpleRNN(_Recurrent):
    """Elman RNN, ``h' = act(W_ih x + b_ih + W_hh h + b_hh)``; ``activation`` tanh or relu."""

    _class = "SimpleRNN"
    _prefix = "simple_rnn"

    def __init__(self, units: int, activation: str = "tanh", **kwargs: Any) -> None:
        super().__init__(units, **kwargs)
        self.activation = check_choice("activation", activation, NONLINEARITIES)

    def get_config(self) -> dict:
        return {**super().get_config(), "activation": self.activation}


class LSTM(_Recurrent):
    """LSTM with PyTorch's gates and initialization (i, f, g, o)."""

    _class = "LSTM"
    _prefix = "lstm"


class GRU(_Recurrent):
    """GRU with PyTorch's gates and initialization (r, z, n).

    ``reset_after=True`` (PyTorch's GRU, Keras 3's default) applies the reset
    gate after the recurrent product, ``n = tanh(W_in x + b_in + r*(W_hn h + b_hn))``;
    ``reset_after=False`` (Keras 2's and ONNX's default) before it,
    ``n = tanh(W_in x + b_in + W_hn (r*h) + b_hn)``.
    """

    _class = "GRU"
    _prefix = "gru"

    def __init__(self, units: int, reset_after: bool = True, **kwargs: Any) -> None:
        super().__init__(units, **kwargs)
        if not isinstance(reset_after, (bool, np.bool_)):
            raise DTypeError(f"reset_after: expected a bool, got {type(reset_after).__name__}")
        self.reset_after = bool(reset_after)

    def get_config(self) -> dict:
        config = super().get_config()
        if not self.reset_after:  # written only when set, so files stay readable by older versions
            config["reset_after"] = False
        return config


class Dense(Layer):
    """``y = activation(x @ kernel + bias)``, per time step on a sequence."""

    _class = "Dense"
    _prefix = "dense"

    def __init__(self, units: int, activation: Optional[str] = None, use_bias: bool = True,
                 trainable: bool = True, name: Optional[str] = None) -> None:
        super().__init__(name, trainable)
        self.units = positive_int("units", units)
        self.activation = check_choice("activation", activation, ACTIVATIONS)
        self.use_bias = as_bool("use_bias", use_bias)

    def get_config(self) -> dict:
        return {"units": self.units, "activation": self.activation, "use_bias": self.use_bias, "trainable": self.trainable}

    def _output_shape(self, shape: tuple) -> tuple:
        return (*shape[:-1], self.units)


class Concatenate(Layer):
    """Joins a list of inputs along the features (``axis=-1``, the only axis supported):
    ``[(B, T, F1), (B, T, F2)] -> (B, T, F1+F2)``. A step is masked where any input masks it."""

    _class = "Concatenate"
    _prefix = "concatenate"

    def __init__(self, axis: int = -1, name: Optional[str] = None, **kwargs: Any) -> None:
        kwargs.pop("trainable", None)
        if kwargs:
            raise ArgumentError(f"Concatenate: unknown arguments {', '.join(sorted(kwargs))}")
        super().__init__(name, True)
        if axis != -1:
            raise ArgumentError(f"axis: only axis=-1 (the features) is supported, got {axis!r}")
        self.axis = -1

    def _symbolic_outputs(self, shapes: list) -> list:
        if len(shapes) < 2:
            raise ArgumentError(f"Concatenate: takes a list of at least two inputs, got {len(shapes)}")
        last = [s[-1] for s in shapes]
        return [(*shapes[0][:-1], None if None in last else sum(last))]

    def get_config(self) -> dict:
        return {"axis": self.axis}


class Dropout(Layer):
    """Zeroes a fraction ``rate`` of its inputs in training (scaling the rest); identity otherwise."""

    _class = "Dropout"
    _prefix = "dropout"

    def __init__(self, rate: float, name: Optional[str] = None) -> None:
        super().__init__(name, True)
        self.rate = check_rate("rate", rate)

    def get_config(self) -> dict:
        return {"rate": self.rate}


class _ScoredAttention(Layer):
    """What Attention and AdditiveAttention share: ``[query, value]`` or ``[query, value, key]``
    (key defaults to value), (B, Tq, D), (B, Tv, Dv), (B, Tv, D) -> (B, Tq, Dv). Value steps the
    value's mask drops get no weight; query steps the query's mask drops give zeros (and stay masked)."""

    def __init__(self, use_scale: bool, dropout: float = 0.0, seed: Any = None, trainable: bool = True,
                 name: Optional[str] = None) -> None:
        super().__init__(name, trainable)
        self.use_scale = as_bool("use_scale", use_scale)
        if check_rate("dropout", dropout) != 0.0:
            raise ArgumentError(f"dropout: attention dropout is not supported by rustrnn, got {dropout}")

    def _symbolic_outputs(self, shapes: list) -> list:
        if len(shapes) not in (2, 3):
            raise ArgumentError(f"{self._class}: takes a list [query, value] or [query, value, key], got {len(shapes)} input(s)")
        return [(shapes[0][0], shapes[0][1], shapes[1][-1])]

    def get_config(self) -> dict:
        return {"use_scale": self.use_scale, "trainable": self.trainable}


class Attention(_ScoredAttention):
    """Keras 3's dot-product (Luong) attention: ``softmax(query · keyᵀ · scale) · value``;
    ``use_scale=True`` learns the scalar ``scale`` (from 1). Only ``score_mode="dot"``."""

    _class = "Attention"
    _prefix = "attention"

    def __init__(self, use_scale: bool = False, score_mode: str = "dot", dropout: float = 0.0, seed: Any = None,
                 trainable: bool = True, name: Optional[str] = None) -> None:
        super().__init__(use_scale, dropout, seed, trainable, name)
        if score_mode != "dot":
            raise ArgumentError(f"score_mode: only 'dot' is supported by rustrnn, got {score_mode!r}")
        self.score_mode = "dot"

    def get_config(self) -> dict:
        return {**super().get_config(), "score_mode": "dot"}


class AdditiveAttention(_ScoredAttention):
    """Keras 3's additive (Bahdanau) attention: ``scores = Σ_d scale_d · tanh(query_d + key_d)``,
    ``scale`` (D,) learned with ``use_scale=True`` (the default)."""

    _class = "AdditiveAttention"
    _prefix = "additive_attention"

    def __init__(self, use_scale: bool = True, dropout: float = 0.0, seed: Any = None, trainable: bool = True,
                 name: Optional[str] = None) -> None:
        super().__init__(use_scale, dropout, seed, trainable, name)


LAYER_CLASSES = {c._class: c for c in (Embedding, Masking, SimpleRNN, LSTM, GRU, Dense, Dropout, Concatenate, Attention,
                                       AdditiveAttention)}


def layer_from_spec(spec: Any) -> Layer:
    """Rebuilds a layer from :meth:`Layer.spec` output (only the known classes)."""
    if not isinstance(spec, dict) or set(spec) != {"class", "name", "config"}:
        raise ArgumentError(f"layer spec: expected an object with class, name and config, got {spec!r}")
    cls = LAYER_CLASSES.get(spec["class"])
    if cls is None:
        raise ArgumentError(f"layer spec: unknown layer class {spec['class']!r}; expected one of {', '.join(LAYER_CLASSES)}")
    config = spec["config"]
    if not isinstance(config, dict):
        raise ArgumentError(f"layer spec {spec['name']!r}: config must be an object")
    try:
        layer = cls(**config, name=spec["name"])
    except TypeError as e:
        raise ArgumentError(f"layer spec {spec['name']!r}: {e}") from None
    return layer


def __getattr__(name: str) -> Any:
    # keras.layers is this module: a Keras layer rustrnn lacks is an error naming it.
    from ._missing import missing

    raise missing("keras.layers", name)
