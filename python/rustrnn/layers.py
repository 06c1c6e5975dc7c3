"""Keras-style layers for :class:`rustrnn.Sequential`.

Layers are configurations: the model builds them in Rust on first use,
inferring every input size from the data. After that ``layer.get_weights()``
and ``layer.set_weights()`` reach the built parameters.

Shapes (``B`` batch, ``T`` time steps)::

    Embedding        (B, T) int            -> (B, T, output_dim)
    Masking          (B, T, I)             -> (B, T, I)
    SimpleRNN/LSTM/GRU (B, T, I)           -> (B, units·D) or (B, T, units·D) with return_sequences
    Dense            (B, I) or (B, T, I)   -> (B, units) or (B, T, units)
    Dropout          any                   -> same

``D`` is 2 for ``bidirectional=True`` with ``merge_mode="concat"``, else 1.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from . import initializers
from ._checks import as_bool, one_of, positive_int
from .errors import ArgumentError, DTypeError, ShapeError, UnsupportedError

__all__ = ["Layer", "Embedding", "Masking", "SimpleRNN", "LSTM", "GRU", "Dense", "Dropout"]

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
        self._model = None
        self.trainable = trainable

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


# Keras RNN arguments rustrnn does not implement: an error naming them, never a silent no-op.
_UNSUPPORTED_RNN_ARGS = ("kernel_regularizer", "recurrent_regularizer", "bias_regularizer", "activity_regularizer",
                         "kernel_constraint", "recurrent_constraint", "bias_constraint", "time_major", "zero_output_for_mask",
                         "use_cudnn", "seed")


def _initializer(name: str, value: Any) -> Any:
    """A name stays a name (checked); an object is stored as Keras serializes it."""
    init = initializers.get(value, name)
    return value if isinstance(value, str) else initializers.serialize(init)


class _Recurrent(Layer):
    """What SimpleRNN, LSTM and GRU share, with Keras 3's arguments and defaults.

    ``dropout`` is Keras's: a fraction of the layer's inputs dropped in
    training, one mask per sequence reused at every step. ``kernel_initializer``
    (default ``"glorot_uniform"``), ``recurrent_initializer`` (``"orthogonal"``),
    ``bias_initializer`` (``"zeros"``) and, for LSTM, ``unit_forget_bias``
    (``True``) are Keras's (see :mod:`rustrnn.initializers`). ``use_bias=False``
    drops both biases.

    Without ``return_sequences`` the output is each sequence's last valid
    step (for a bidirectional layer: the forward direction's last valid step
    and the backward direction's state after the first one, merged).
    rustrnn's own ``num_layers`` stacks layers, with ``layer_dropout``
    between them (PyTorch's ``dropout``); ``go_backwards`` reads each
    sequence in reverse and returns the output sequence in that order, as
    Keras does. ``return_state`` (last layer of a Sequential only) makes
    ``predict`` return ``[output, h, (c), ...]`` per direction.

    Not implemented (an :class:`rustrnn.UnsupportedError` naming them):
    ``recurrent_dropout`` > 0, ``stateful=True``, regularizers and constraints.
    """

    def __init__(self, units: int, use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros", dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, unroll: bool = False,
                 bidirectional: bool = False, merge_mode: str = "concat", num_layers: int = 1,
                 layer_dropout: float = 0.0, trainable: bool = True, name: Optional[str] = None, **kwargs: Any) -> None:
        cls = type(self).__name__
        for key in kwargs:
            if key in _UNSUPPORTED_RNN_ARGS:
                raise UnsupportedError(f"{cls}({key}=...): a Keras argument that rustrnn does not implement")
            raise ArgumentError(f"{cls}: unexpected argument {key!r}")
        super().__init__(name, trainable)
        self.units = positive_int("units", units)
        self.use_bias = as_bool("use_bias", use_bias)
        self.kernel_initializer = _initializer("kernel_initializer", kernel_initializer)
        self.recurrent_initializer = _initializer("recurrent_initializer", recurrent_initializer)
        self.bias_initializer = _initializer("bias_initializer", bias_initializer)
        self.dropout = check_rate("dropout", dropout)
        if check_rate("recurrent_dropout", recurrent_dropout) > 0:
            raise UnsupportedError(f"{cls}(recurrent_dropout={recurrent_dropout}): recurrent dropout is not implemented by rustrnn yet")
        if as_bool("stateful", stateful):
            raise UnsupportedError(f"{cls}(stateful=True): stateful recurrent layers are not implemented by rustrnn yet")
        as_bool("unroll", unroll)  # Keras's speed hint; the result is the same either way
        self.return_sequences = as_bool("return_sequences", return_sequences)
        self.return_state = as_bool("return_state", return_state)
        self.bidirectional = as_bool("bidirectional", bidirectional)
        self.merge_mode = check_choice("merge_mode", merge_mode, MERGE_MODES)
        self.num_layers = positive_int("num_layers", num_layers)
        self.layer_dropout = check_rate("layer_dropout", layer_dropout)
        self.go_backwards = as_bool("go_backwards", go_backwards)

    def get_config(self) -> dict:
        config = {
            "units": self.units, "return_sequences": self.return_sequences, "return_state": self.return_state,
            "bidirectional": self.bidirectional, "merge_mode": self.merge_mode, "num_layers": self.num_layers,
            "dropout": self.dropout, "go_backwards": self.go_backwards, "trainable": self.trainable,
            "kernel_initializer": self.kernel_initializer, "recurrent_initializer": self.recurrent_initializer,
            "bias_initializer": self.bias_initializer,
        }
        # Written only when set, so that files stay readable where these are unknown.
        if self.layer_dropout:
            config["layer_dropout"] = self.layer_dropout
        if not self.use_bias:
            config["use_bias"] = False
        return config


def _keras_gate_activations(cls: str, activation: Any, recurrent_activation: Any) -> None:
    """LSTM and GRU run Keras's default activations (tanh, sigmoid) in the fused kernel."""
    for key, value, default in (("activation", activation, "tanh"), ("recurrent_activation", recurrent_activation, "sigmoid")):
        if not (isinstance(value, str) and value.lower() == default):
            raise UnsupportedError(f"{cls}({key}={value!r}): rustrnn's {cls} supports only Keras's default {key}={default!r}")


class SimpleRNN(_Recurrent):
    """Elman RNN, ``h' = act(x W + h U + b)``; ``activation`` tanh or relu."""

    _class = "SimpleRNN"
    _prefix = "simple_rnn"

    def __init__(self, units: int, activation: str = "tanh", **kwargs: Any) -> None:
        super().__init__(units, **kwargs)
        self.activation = check_choice("activation", activation, NONLINEARITIES)

    def get_config(self) -> dict:
        return {**super().get_config(), "activation": self.activation}


class LSTM(_Recurrent):
    """LSTM with PyTorch's gate order (i, f, g, o, also Keras's), Keras's arguments and initialization."""

    _class = "LSTM"
    _prefix = "lstm"

    def __init__(self, units: int, activation: str = "tanh", recurrent_activation: str = "sigmoid",
                 unit_forget_bias: bool = True, **kwargs: Any) -> None:
        _keras_gate_activations("LSTM", activation, recurrent_activation)
        super().__init__(units, **kwargs)
        self.unit_forget_bias = as_bool("unit_forget_bias", unit_forget_bias)

    def get_config(self) -> dict:
        config = super().get_config()
        if not self.unit_forget_bias:
            config["unit_forget_bias"] = False
        return config


class GRU(_Recurrent):
    """GRU with PyTorch's gate order (r, z, n), Keras's arguments and initialization.

    ``reset_after=True`` (PyTorch's GRU, Keras 3's default) applies the reset
    gate after the recurrent product, ``n = tanh(W_in x + b_in + r*(W_hn h + b_hn))``;
    ``reset_after=False`` (Keras 2's and ONNX's default) before it,
    ``n = tanh(W_in x + b_in + W_hn (r*h) + b_hn)``.
    """

    _class = "GRU"
    _prefix = "gru"

    def __init__(self, units: int, activation: str = "tanh", recurrent_activation: str = "sigmoid",
                 reset_after: bool = True, **kwargs: Any) -> None:
        _keras_gate_activations("GRU", activation, recurrent_activation)
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


class Dropout(Layer):
    """Zeroes a fraction ``rate`` of its inputs in training (scaling the rest); identity otherwise."""

    _class = "Dropout"
    _prefix = "dropout"

    def __init__(self, rate: float, name: Optional[str] = None) -> None:
        super().__init__(name, True)
        self.rate = check_rate("rate", rate)

    def get_config(self) -> dict:
        return {"rate": self.rate}


LAYER_CLASSES = {c._class: c for c in (Embedding, Masking, SimpleRNN, LSTM, GRU, Dense, Dropout)}


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
