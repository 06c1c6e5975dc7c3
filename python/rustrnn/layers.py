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
    Bidirectional(rnn) as the recurrent layer with bidirectional=True
    RepeatVector(n)  (B, F)                -> (B, n, F)
    TimeDistributed(layer) (B, T, F)       -> (B, T, G), layer per step
    GlobalAverage/MaxPooling1D (B, T, F)   -> (B, F)
    Conv1D           (B, T, C)             -> (B, T', filters)
    LayerNormalization any                 -> same
    Flatten          (B, T, F)             -> (B, T·F)   (T must be known: keras.Input(shape=(T, F)))
    Reshape(target)  (B, ...)              -> (B, *target), target (F',) or (T', F'), one entry may be -1
    Add, Subtract, Multiply, Average, Maximum, Minimum  [x1, x2, ...] same shapes -> same shape
    x[:, -1], x[:, i:j], x[..., a:b]       a symbolic tensor's step or slice (functional models)

``D`` is 2 for ``bidirectional=True`` with ``merge_mode="concat"``, else 1.
"""

from __future__ import annotations

import weakref
from typing import Any, Optional

import numpy as np

from . import _symbolic
from . import initializers
from ._checks import as_bool, one_of, positive_int
from .errors import ArgumentError, DTypeError, ShapeError, UnsupportedError

__all__ = ["Layer", "Embedding", "Masking", "SimpleRNN", "LSTM", "GRU", "Dense", "Dropout", "Bidirectional", "RepeatVector",
           "TimeDistributed", "GlobalAveragePooling1D", "GlobalMaxPooling1D", "Conv1D", "LayerNormalization", "Concatenate",
           "Attention", "AdditiveAttention", "Flatten", "Reshape", "Add", "Subtract", "Multiply", "Average", "Maximum",
           "Minimum", "Dot", "add", "subtract", "multiply", "average", "maximum", "minimum", "concatenate", "dot", "Input"]

Input = _symbolic.Input

# The name tables of the core, checked against it by tests/test_stubs.py.
ACTIVATIONS = ("linear", "relu", "tanh", "sigmoid", "softmax")
MERGE_MODES = ("concat", "sum", "mul", "ave")
NONLINEARITIES = ("tanh", "relu")
# Keras's activations a recurrent cell computes (Keras 3's definitions; tanh/sigmoid are the fused defaults).
CELL_ACTIVATIONS = ("tanh", "sigmoid", "relu", "hard_sigmoid", "linear", "elu", "selu", "softsign")


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
        # Every model built with this layer (a stateful layer's states live in each).
        self._holders: Any = weakref.WeakSet()
        self._weights_version = 0
        # Calls on symbolic tensors (the functional API).
        self._nodes: list = []
        self.trainable = trainable

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_holders"}  # models (weak references) stay behind

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._holders = weakref.WeakSet()

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
    training, one mask per sequence reused at every step. ``recurrent_dropout``
    is Keras's too: a fraction of the state entering each step dropped in
    training, one mask per sequence (and direction) reused at every step; as
    Keras (its ``implementation=1``) each gate has its own mask on the state
    and, with ``dropout``, on the inputs. ``kernel_initializer``
    (default ``"glorot_uniform"``), ``recurrent_initializer`` (``"orthogonal"``),
    ``bias_initializer`` (``"zeros"``) and, for LSTM, ``unit_forget_bias``
    (``True``) are Keras's (see :mod:`rustrnn.initializers`). The bias is
    Keras's one per gate, ``bias_ih_l0`` (a GRU with ``reset_after`` also has
    Keras's recurrent bias, ``bias_hh_l0``); ``use_bias=False`` drops them.

    Without ``return_sequences`` the output is each sequence's last valid
    step (for a bidirectional layer: the forward direction's last valid step
    and the backward direction's state after the first one, merged).
    rustrnn's own ``num_layers`` stacks layers, with ``layer_dropout``
    between them (PyTorch's ``dropout``); ``go_backwards`` reads each
    sequence in reverse and returns the output sequence in that order, as
    Keras does. ``return_state`` (last layer of a Sequential only) makes
    ``predict`` return ``[output, h, (c), ...]`` per direction.

    Not implemented (an :class:`rustrnn.UnsupportedError` naming them):
    regularizers and constraints.

    ``stateful=True`` (Keras's): the final states of each sequence of a batch
    are the initial states of the same row of the next batch (in ``predict``,
    ``fit`` and ``evaluate`` alike, without a gradient into the previous
    batch), until :meth:`reset_states`. The batch size must stay the same:
    the one ``Input(batch_size=...)`` declares (as Keras), else the first batch's.
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
        self.recurrent_dropout = check_rate("recurrent_dropout", recurrent_dropout)
        self.stateful = as_bool("stateful", stateful)
        as_bool("unroll", unroll)  # Keras's speed hint; the result is the same either way
        self.return_sequences = as_bool("return_sequences", return_sequences)
        self.return_state = as_bool("return_state", return_state)
        self.bidirectional = as_bool("bidirectional", bidirectional)
        self.merge_mode = check_choice("merge_mode", merge_mode, MERGE_MODES)
        self.num_layers = positive_int("num_layers", num_layers)
        self.layer_dropout = check_rate("layer_dropout", layer_dropout)
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
        if self.stateful:
            config["stateful"] = True
        if self.recurrent_dropout:
            config["recurrent_dropout"] = self.recurrent_dropout
        return config

    def reset_states(self) -> None:
        """Keras's ``reset_states``: the next batch of a ``stateful`` layer starts from zero
        states, in every model built with this layer (a layer that is not stateful has none)."""
        if not self.stateful:
            return
        for model in list(self._holders):
            if getattr(model, "_handle", None) is not None:
                model._handle.reset_states(self.name)

    def reset_state(self) -> None:
        """Keras 3's name for :meth:`reset_states`."""
        self.reset_states()


def _cell_activation(cls: str, key: str, value: Any) -> str:
    """A Keras activation name a recurrent cell computes (``None`` is Keras's ``"linear"``); any other
    name or a function is an :class:`rustrnn.UnsupportedError` naming it."""
    name = "linear" if value is None else value.lower() if isinstance(value, str) else None
    if name not in CELL_ACTIVATIONS:
        raise UnsupportedError(f"{cls}({key}={value!r}): rustrnn's recurrent cells compute {', '.join(CELL_ACTIVATIONS)} "
                               "(by name; Keras 3's definitions)")
    return name


def _gate_activations(layer: Any, config: dict) -> dict:
    """LSTM/GRU configs name their activations only when not tanh/sigmoid (files stay readable by older versions)."""
    if (layer.activation, layer.recurrent_activation) != ("tanh", "sigmoid"):
        config.update(activation=layer.activation, recurrent_activation=layer.recurrent_activation)
    return config


class SimpleRNN(_Recurrent):
    """Elman RNN, ``h' = act(x W + h U + b)``; ``activation`` any of ``CELL_ACTIVATIONS``
    (tanh and relu in the fused kernel)."""

    _class = "SimpleRNN"
    _prefix = "simple_rnn"

    def __init__(self, units: int, activation: Optional[str] = "tanh", **kwargs: Any) -> None:
        super().__init__(units, **kwargs)
        self.activation = _cell_activation("SimpleRNN", "activation", activation)

    def get_config(self) -> dict:
        return {**super().get_config(), "activation": self.activation}


class LSTM(_Recurrent):
    """LSTM with PyTorch's gate order (i, f, g, o, also Keras's), Keras's arguments and initialization.
    ``activation`` (the candidate and the output, default tanh) and ``recurrent_activation`` (the
    gates, default sigmoid) are any of ``CELL_ACTIVATIONS``."""

    _class = "LSTM"
    _prefix = "lstm"

    def __init__(self, units: int, activation: Optional[str] = "tanh", recurrent_activation: Optional[str] = "sigmoid",
                 unit_forget_bias: bool = True, **kwargs: Any) -> None:
        self.activation = _cell_activation("LSTM", "activation", activation)
        self.recurrent_activation = _cell_activation("LSTM", "recurrent_activation", recurrent_activation)
        super().__init__(units, **kwargs)
        self.unit_forget_bias = as_bool("unit_forget_bias", unit_forget_bias)

    def get_config(self) -> dict:
        config = _gate_activations(self, super().get_config())
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

    def __init__(self, units: int, activation: Optional[str] = "tanh", recurrent_activation: Optional[str] = "sigmoid",
                 reset_after: bool = True, **kwargs: Any) -> None:
        self.activation = _cell_activation("GRU", "activation", activation)
        self.recurrent_activation = _cell_activation("GRU", "recurrent_activation", recurrent_activation)
        super().__init__(units, **kwargs)
        if not isinstance(reset_after, (bool, np.bool_)):
            raise DTypeError(f"reset_after: expected a bool, got {type(reset_after).__name__}")
        self.reset_after = bool(reset_after)

    def get_config(self) -> dict:
        config = _gate_activations(self, super().get_config())
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


def _refuse_unsupported(layer: str, **given: tuple) -> None:
    """Raises naming the first Keras argument given a value rustrnn does not implement
    (``given``: ``name=(value, default)``)."""
    from .errors import UnsupportedError

    for arg, (value, default) in given.items():
        if value is not default and value != default:
            raise UnsupportedError(f"{layer}({arg}={value!r}): rustrnn implements only {arg}={default!r}")


def _one_int(name: str, value: Any) -> int:
    """A positive int, or a tuple/list of one (Keras accepts both for 1-D layers)."""
    if isinstance(value, (tuple, list)):
        if len(value) != 1:
            raise ArgumentError(f"{name}: expected an integer or a tuple of one, got {value!r}")
        value = value[0]
    return positive_int(name, value)


class RepeatVector(Layer):
    """``(B, F) -> (B, n, F)``: each sample's vector repeated ``n`` times as a sequence."""

    _class = "RepeatVector"
    _prefix = "repeat_vector"

    def __init__(self, n: int, name: Optional[str] = None) -> None:
        super().__init__(name, True)
        self.n = positive_int("n", n)

    def get_config(self) -> dict:
        return {"n": self.n}

    def _output_shape(self, shape: tuple) -> tuple:
        return (shape[0], self.n, shape[-1])


class TimeDistributed(Layer):
    """Applies ``layer`` (one mapping ``(B, F)`` to ``(B, G)``: ``Dense``,
    ``LayerNormalization``, ``Dropout``) to every step of a sequence with the same
    weights, ``(B, T, F) -> (B, T, G)``; the mask passes through. The wrapped
    layer's weights are this layer's (``time_distributed/kernel``)."""

    _class = "TimeDistributed"
    _prefix = "time_distributed"

    def __init__(self, layer: Any, trainable: Optional[bool] = None, name: Optional[str] = None) -> None:
        if isinstance(layer, dict):  # from a spec: {"class", "config"}
            layer = layer_from_spec({"class": layer.get("class"), "name": "inner", "config": layer.get("config", {})})
        if not isinstance(layer, Layer):
            raise DTypeError(f"layer: expected a rustrnn.layers.Layer, got {type(layer).__name__}")
        if isinstance(layer, (Embedding, _Recurrent, TimeDistributed, RepeatVector, _GlobalPooling1D, Conv1D)):
            raise ArgumentError(f"layer: TimeDistributed wraps a layer that maps one step (batch, features) to one step "
                                f"(Dense, LayerNormalization, Dropout), got {layer._class}")
        self.layer = layer
        super().__init__(name, layer.trainable if trainable is None else trainable)  # a frozen inner layer stays frozen

    @property
    def trainable(self) -> bool:
        return self.layer.trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        Layer.trainable.fset(self, value)
        self.layer._trainable = self._trainable

    def get_config(self) -> dict:
        return {"layer": {"class": self.layer._class, "config": self.layer.get_config()}}

    def _output_shape(self, shape: tuple) -> tuple:
        return (*shape[:-1], *self.layer._output_shape((shape[0], shape[-1]))[1:])


class _GlobalPooling1D(Layer):
    def __init__(self, data_format: Optional[str] = None, keepdims: bool = False, name: Optional[str] = None) -> None:
        super().__init__(name, True)
        _refuse_unsupported(self._class, data_format=(data_format or "channels_last", "channels_last"),
                            keepdims=(as_bool("keepdims", keepdims), False))

    def get_config(self) -> dict:
        return {}

    def _output_shape(self, shape: tuple) -> tuple:
        return (shape[0], shape[-1])


class GlobalAveragePooling1D(_GlobalPooling1D):
    """``(B, T, F) -> (B, F)``, the mean over the steps; with a mask, over the valid
    steps (as Keras; a sequence that is all padding gives 0 where Keras gives NaN)."""

    _class = "GlobalAveragePooling1D"
    _prefix = "global_average_pooling1d"


class GlobalMaxPooling1D(_GlobalPooling1D):
    """``(B, T, F) -> (B, F)``, the maximum over the steps. As in Keras 3 the mask is
    not used (padded steps take part) and stops here."""

    _class = "GlobalMaxPooling1D"
    _prefix = "global_max_pooling1d"


CONV_PADDINGS = ("valid", "same", "causal")


class Conv1D(Layer):
    """1-D convolution over the steps, ``(B, T, C) -> (B, T', filters)``, kernel
    ``(kernel_size, C, filters)`` as in Keras. ``padding``: "valid", "same"
    (``T' = ceil(T / strides)``) or "causal". As in Keras 3 it does not support
    masking: a mask stops here."""

    _class = "Conv1D"
    _prefix = "conv1d"

    def __init__(self, filters: int, kernel_size: Any, strides: Any = 1, padding: str = "valid",
                 data_format: Optional[str] = None, dilation_rate: Any = 1, groups: int = 1,
                 activation: Optional[str] = None, use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 bias_initializer: Any = "zeros", kernel_regularizer: Any = None, bias_regularizer: Any = None,
                 activity_regularizer: Any = None, kernel_constraint: Any = None, bias_constraint: Any = None,
                 trainable: bool = True, name: Optional[str] = None) -> None:
        super().__init__(name, trainable)
        self.filters = positive_int("filters", filters)
        self.kernel_size = _one_int("kernel_size", kernel_size)
        self.strides = _one_int("strides", strides)
        self.padding = check_choice("padding", padding, CONV_PADDINGS)
        self.dilation_rate = _one_int("dilation_rate", dilation_rate)
        if self.strides > 1 and self.dilation_rate > 1:
            raise ArgumentError(f"strides={self.strides} with dilation_rate={self.dilation_rate}: "
                                "one of them must be 1 (as in Keras)")
        self.activation = check_choice("activation", activation, ACTIVATIONS)
        self.use_bias = as_bool("use_bias", use_bias)
        _refuse_unsupported("Conv1D", data_format=(data_format or "channels_last", "channels_last"), groups=(groups, 1),
                            kernel_initializer=(kernel_initializer, "glorot_uniform"), bias_initializer=(bias_initializer, "zeros"),
                            kernel_regularizer=(kernel_regularizer, None), bias_regularizer=(bias_regularizer, None),
                            activity_regularizer=(activity_regularizer, None), kernel_constraint=(kernel_constraint, None),
                            bias_constraint=(bias_constraint, None))

    def get_config(self) -> dict:
        return {"filters": self.filters, "kernel_size": self.kernel_size, "strides": self.strides, "padding": self.padding,
                "dilation_rate": self.dilation_rate, "activation": self.activation, "use_bias": self.use_bias,
                "trainable": self.trainable}

    def _output_shape(self, shape: tuple) -> tuple:
        steps = shape[1] if len(shape) == 3 else None
        if steps is not None:  # Keras's output length; None (any length) stays None
            span = self.dilation_rate * (self.kernel_size - 1) + 1
            steps = -(-steps // self.strides) if self.padding != "valid" else (steps - span) // self.strides + 1
        return (shape[0], steps, self.filters)


class LayerNormalization(Layer):
    """Normalizes each step's (or sample's) features: ``(x - mean) / sqrt(var + epsilon)
    * gamma + beta`` (population variance, Keras's ``axis=-1``); the mask passes through."""

    _class = "LayerNormalization"
    _prefix = "layer_normalization"

    def __init__(self, axis: Any = -1, epsilon: float = 1e-3, center: bool = True, scale: bool = True,
                 rms_scaling: bool = False, beta_initializer: Any = "zeros", gamma_initializer: Any = "ones",
                 beta_regularizer: Any = None, gamma_regularizer: Any = None, beta_constraint: Any = None,
                 gamma_constraint: Any = None, trainable: bool = True, name: Optional[str] = None) -> None:
        super().__init__(name, trainable)
        if axis not in (-1, [-1], (-1,)):
            from .errors import UnsupportedError

            raise UnsupportedError(f"LayerNormalization(axis={axis!r}): rustrnn normalizes the last axis only (axis=-1)")
        if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float, np.integer, np.floating)) or not epsilon > 0:
            raise ArgumentError(f"epsilon: expected a positive number, got {epsilon!r}")
        self.epsilon = float(epsilon)
        self.center = as_bool("center", center)
        self.scale = as_bool("scale", scale)
        _refuse_unsupported("LayerNormalization", rms_scaling=(as_bool("rms_scaling", rms_scaling), False),
                            beta_initializer=(beta_initializer, "zeros"), gamma_initializer=(gamma_initializer, "ones"),
                            beta_regularizer=(beta_regularizer, None), gamma_regularizer=(gamma_regularizer, None),
                            beta_constraint=(beta_constraint, None), gamma_constraint=(gamma_constraint, None))

    def get_config(self) -> dict:
        return {"epsilon": self.epsilon, "center": self.center, "scale": self.scale, "trainable": self.trainable}


class Bidirectional(_Recurrent):
    """Keras's wrapper: runs ``layer`` (SimpleRNN, LSTM or GRU) forwards and a copy
    backwards over each sequence and merges the two outputs (``merge_mode``
    "concat", "sum", "mul" or "ave"). It is the recurrent layer with
    ``bidirectional=True``: the backward direction's weights are the ``*_reverse``
    ones (Keras's ``backward_layer``), its output sequence is aligned with the
    input's steps, masks are respected, and ``return_state`` gives
    ``[output, forward h, (c), backward h, (c)]`` as Keras. A saved model reloads
    it as the wrapped class with ``bidirectional=True`` (the same layer)."""

    _prefix = "bidirectional"

    def __init__(self, layer: Any, merge_mode: Optional[str] = "concat", weights: Any = None,
                 backward_layer: Any = None, name: Optional[str] = None, **kwargs: Any) -> None:
        from .errors import UnsupportedError

        if not isinstance(layer, _Recurrent) or isinstance(layer, Bidirectional):
            raise DTypeError(f"layer: Bidirectional wraps a SimpleRNN, LSTM or GRU, got {type(layer).__name__}")
        if layer.bidirectional:
            raise ArgumentError("layer: the wrapped layer is already bidirectional (bidirectional=True)")
        if layer.go_backwards:
            raise UnsupportedError("Bidirectional: a wrapped layer with go_backwards=True (its forward direction "
                                   "would read backwards) is not supported")
        if merge_mode is None:
            raise UnsupportedError("Bidirectional(merge_mode=None) returns the two directions as two outputs, which a "
                                   "rustrnn layer cannot; use 'concat' and split the last axis in two")
        if weights is not None:
            raise UnsupportedError("Bidirectional(weights=...): set the weights after building with set_weights")
        if backward_layer is not None:
            same = {k: v for k, v in layer.get_config().items() if k not in ("go_backwards", "trainable")}
            back = backward_layer.get_config() if isinstance(backward_layer, _Recurrent) else None
            if (type(backward_layer) is not type(layer) or not backward_layer.go_backwards
                    or {k: v for k, v in back.items() if k not in ("go_backwards", "trainable")} != same):
                raise UnsupportedError("Bidirectional(backward_layer=...): only a backward layer equal to the forward "
                                       "one with go_backwards=True is supported")
        if kwargs:
            raise ArgumentError(f"Bidirectional: unexpected arguments {', '.join(sorted(kwargs))}")
        # Become the wrapped layer, bidirectional: every recurrent option (and the native config) is its.
        state = {k: v for k, v in vars(layer).items() if k not in ("name", "_model", "_holders")}
        Layer.__init__(self, name, layer.trainable)
        self.__dict__.update(state)
        self._class = layer._class
        self.forward_layer = layer
        self.layer = layer
        self.bidirectional = True
        self.merge_mode = check_choice("merge_mode", merge_mode, MERGE_MODES)

    def get_config(self) -> dict:
        return {**self.layer.get_config(), "bidirectional": True, "merge_mode": self.merge_mode, "trainable": self.trainable}


class Flatten(Layer):
    """``(B, T, F) -> (B, T·F)``, each sample's steps one after another (Keras's order);
    ``(B, F)`` passes as is. T must be known, as the next layer's size depends on it:
    declare it in the input (``keras.Input(shape=(T, F))``; a ``Sequential`` built on data
    takes the data's T). No mask leaves it."""

    _class = "Flatten"
    _prefix = "flatten"

    def __init__(self, data_format: Optional[str] = None, name: Optional[str] = None, **kwargs: Any) -> None:
        kwargs.pop("trainable", None)
        if kwargs:
            raise ArgumentError(f"Flatten: unknown arguments {', '.join(sorted(kwargs))}")
        super().__init__(name, True)
        _refuse_unsupported("Flatten", data_format=(data_format or "channels_last", "channels_last"))

    def get_config(self) -> dict:
        return {}

    def _output_shape(self, shape: tuple) -> tuple:
        if len(shape) == 2:
            return shape
        if shape[1] is None:
            raise ShapeError(f"Flatten: the number of time steps of its input {shape} is unknown (None); declare it in the "
                             "input, keras.Input(shape=(T, features)), as the next layer's size depends on it")
        return (shape[0], shape[1] * shape[2])


class Reshape(Layer):
    """Each sample's values, in order, to ``target_shape`` (without the batch), as Keras;
    one entry may be -1. rustrnn's activations are ``(B, F)`` or ``(B, T, F)``, so the
    target is ``(F',)`` or ``(T', F')``; other ranks raise UnsupportedError. No mask leaves it."""

    _class = "Reshape"
    _prefix = "reshape"

    def __init__(self, target_shape: Any, name: Optional[str] = None, **kwargs: Any) -> None:
        kwargs.pop("trainable", None)
        if kwargs:
            raise ArgumentError(f"Reshape: unknown arguments {', '.join(sorted(kwargs))}")
        super().__init__(name, True)
        if isinstance(target_shape, (int, np.integer)) and not isinstance(target_shape, bool):
            target_shape = (target_shape,)
        if not isinstance(target_shape, (list, tuple)) or not all(
                isinstance(d, (int, np.integer)) and not isinstance(d, bool) and (d > 0 or d == -1) for d in target_shape) \
                or list(target_shape).count(-1) > 1 or not target_shape:
            raise ArgumentError(f"target_shape: expected a tuple of positive integers (one may be -1), got {target_shape!r}")
        if len(target_shape) > 2:
            raise UnsupportedError(f"Reshape(target_shape={tuple(target_shape)}): rustrnn's activations are (batch, features) or "
                                   "(batch, time, features), so the target has one or two entries")
        self.target_shape = tuple(int(d) for d in target_shape)

    def get_config(self) -> dict:
        return {"target_shape": list(self.target_shape)}

    def _output_shape(self, shape: tuple) -> tuple:
        known = all(d is not None for d in shape[1:])
        total = int(np.prod(shape[1:])) if known else None
        target = list(self.target_shape)
        if -1 in target:
            rest = int(np.prod([d for d in target if d != -1]))
            if total is None:
                if len(target) == 1 or target[1] == -1:
                    raise ShapeError(f"Reshape{tuple(target)}: the input's size is unknown ({shape}); declare the number of "
                                     "steps in the input, keras.Input(shape=(T, features))")
                target[0] = None
            elif total % rest:
                raise ShapeError(f"Reshape: cannot reshape {total} values per sample ({shape}) to {tuple(self.target_shape)}")
            else:
                target[target.index(-1)] = total // rest
        elif total is not None and total != int(np.prod(target)):
            raise ShapeError(f"Reshape: cannot reshape {total} values per sample ({shape}) to {tuple(self.target_shape)}")
        elif total is None and len(target) == 1:
            raise ShapeError(f"Reshape{tuple(target)}: the input's size is unknown ({shape}); declare the number of steps "
                             "in the input, keras.Input(shape=(T, features))")
        return (shape[0], *target)


class _Merge(Layer):
    """An element-wise merge of a list of inputs of one shape (the output's); the output mask
    keeps a step only where every input's mask keeps it, as Keras."""

    _min_inputs, _max_inputs = 2, None

    def __init__(self, name: Optional[str] = None, **kwargs: Any) -> None:
        kwargs.pop("trainable", None)
        if kwargs:
            raise ArgumentError(f"{self._class}: unknown arguments {', '.join(sorted(kwargs))}")
        super().__init__(name, True)

    def get_config(self) -> dict:
        return {}

    def _symbolic_outputs(self, shapes: list) -> list:
        if len(shapes) < self._min_inputs or (self._max_inputs and len(shapes) > self._max_inputs):
            want = "exactly two" if self._max_inputs == 2 else "a list of at least two"
            raise ArgumentError(f"{self._class}: takes {want} inputs, got {len(shapes)}")
        for i, s in enumerate(shapes[1:], 1):
            if len(s) != len(shapes[0]) or any(a is not None and b is not None and a != b for a, b in zip(s[1:], shapes[0][1:])):
                raise ShapeError(f"{self._class}: inputs[{i}] has shape {s} but inputs[0] has {shapes[0]}; the inputs of an "
                                 "element-wise merge must have the same shape")
        return [tuple(next((s[k] for s in shapes if s[k] is not None), None) for k in range(len(shapes[0])))]


class Add(_Merge):
    """``x1 + x2 + ...``"""

    _class, _prefix = "Add", "add"


class Subtract(_Merge):
    """``x1 - x2`` (exactly two inputs)."""

    _class, _prefix = "Subtract", "subtract"
    _max_inputs = 2


class Multiply(_Merge):
    """``x1 * x2 * ...`` element-wise."""

    _class, _prefix = "Multiply", "multiply"


class Average(_Merge):
    """The element-wise mean of the inputs."""

    _class, _prefix = "Average", "average"


class Maximum(_Merge):
    """The element-wise maximum (its gradient goes to the first input holding it)."""

    _class, _prefix = "Maximum", "maximum"


class Minimum(_Merge):
    """The element-wise minimum (its gradient goes to the first input holding it)."""

    _class, _prefix = "Minimum", "minimum"


class Dot(Layer):
    """Keras's ``Dot(axes, normalize=False)``: the per-sample dot product of two inputs along
    ``axes`` (one for both, or one per input; 1 is a sequence's time axis, -1 the features):
    ``(B, F)·(B, F) -> (B, 1)``, ``(B, T, F)·(B, S, F) -> (B, T, S)`` (``axes=-1``),
    ``(B, T, F)·(B, F) -> (B, T)`` (``axes=(2, 1)``). ``normalize`` L2-normalizes both along
    their axes first (cosine similarity). The output has no mask, as in Keras."""

    _class = "Dot"
    _prefix = "dot"

    def __init__(self, axes: Any, normalize: bool = False, name: Optional[str] = None, **kwargs: Any) -> None:
        kwargs.pop("trainable", None)
        kwargs.pop("dtype", None)
        if kwargs:
            raise ArgumentError(f"Dot: unknown arguments {', '.join(sorted(kwargs))}")
        super().__init__(name, True)
        ok = lambda a: isinstance(a, (int, np.integer)) and not isinstance(a, bool)  # noqa: E731
        if isinstance(axes, (list, tuple)):
            if len(axes) != 2 or not all(ok(a) for a in axes):
                raise ArgumentError(f"Dot(axes=...): expected an integer or a list of two integers, got {axes!r}")
            self.axes: Any = [int(a) for a in axes]
        elif ok(axes):
            self.axes = int(axes)
        else:
            raise ArgumentError(f"Dot(axes=...): expected an integer or a list of two integers, got {axes!r}")
        self.normalize = as_bool("normalize", normalize)

    def _symbolic_outputs(self, shapes: list) -> list:
        if len(shapes) != 2:
            raise ArgumentError(f"Dot: takes exactly two inputs, got {len(shapes)}")
        given = self.axes if isinstance(self.axes, list) else [self.axes, self.axes]
        axes = []
        for k, (shape, a) in enumerate(zip(shapes, given)):
            a = a + len(shape) if a < 0 else a
            if not 0 < a < len(shape):
                raise ArgumentError(f"Dot(axes={self.axes!r}): {given[k]} is not an axis of inputs[{k}] {shape} other than the batch axis")
            axes.append(a)
        d1, d2 = shapes[0][axes[0]], shapes[1][axes[1]]
        if d1 is not None and d2 is not None and d1 != d2:
            raise ShapeError(f"Dot: incompatible input shapes: axis values {d1} (at axis {axes[0]}) != {d2} (at axis {axes[1]}); "
                             f"inputs {shapes[0]} and {shapes[1]}")
        out = [d for i, d in enumerate(shapes[0]) if i != axes[0]] + [d for i, d in enumerate(shapes[1][1:], 1) if i != axes[1]]
        return [tuple(out) if len(out) > 1 else (out[0], 1)]

    def get_config(self) -> dict:
        return {"axes": self.axes, "normalize": self.normalize}


def dot(inputs: list, axes: Any = -1, **kwargs: Any) -> Any:
    """``Dot(axes, **kwargs)(inputs)``, Keras's functional form."""
    return Dot(axes=axes, **kwargs)(inputs)


def add(inputs: list, **kwargs: Any) -> Any:
    """``Add(**kwargs)(inputs)``, Keras's functional form."""
    return Add(**kwargs)(inputs)


def subtract(inputs: list, **kwargs: Any) -> Any:
    """``Subtract(**kwargs)(inputs)``."""
    return Subtract(**kwargs)(inputs)


def multiply(inputs: list, **kwargs: Any) -> Any:
    """``Multiply(**kwargs)(inputs)``."""
    return Multiply(**kwargs)(inputs)


def average(inputs: list, **kwargs: Any) -> Any:
    """``Average(**kwargs)(inputs)``."""
    return Average(**kwargs)(inputs)


def maximum(inputs: list, **kwargs: Any) -> Any:
    """``Maximum(**kwargs)(inputs)``."""
    return Maximum(**kwargs)(inputs)


def minimum(inputs: list, **kwargs: Any) -> Any:
    """``Minimum(**kwargs)(inputs)``."""
    return Minimum(**kwargs)(inputs)


def concatenate(inputs: list, axis: int = -1, **kwargs: Any) -> Any:
    """``Concatenate(axis, **kwargs)(inputs)``."""
    return Concatenate(axis=axis, **kwargs)(inputs)


class GetItem(Layer):
    """``x[key]`` on a symbolic tensor, as Keras 3 records ``__getitem__`` (an operation, not
    one of ``model.layers``): on ``(B, T, F)`` the time axis takes an index (``x[:, -1]``, the
    last step, gives ``(B, F)``) or a slice ``i:j``, the features a slice; on ``(B, F)`` the
    features a slice. Built by :meth:`KerasTensor.__getitem__`."""

    _class = "GetItem"
    _prefix = "get_item"
    _operation = True  # not listed in model.layers, as Keras

    def __init__(self, time: Any = None, features: Any = None, name: Optional[str] = None, **kwargs: Any) -> None:
        kwargs.pop("trainable", None)
        if kwargs:
            raise ArgumentError(f"GetItem: unknown arguments {', '.join(sorted(kwargs))}")
        super().__init__(name, True)
        self.time, self.features = _selection("time", time), _selection("features", features)
        if isinstance(self.features, int):
            raise UnsupportedError("GetItem: indexing one feature (x[..., i]) drops the features axis, which rustrnn's "
                                   "activations keep; take a slice x[..., i:i+1]")

    def get_config(self) -> dict:
        return {"time": self.time, "features": self.features}

    def _output_shape(self, shape: tuple) -> tuple:
        f = _slice_length(self.features, shape[-1])
        if len(shape) == 2:
            if self.time is not None:
                raise ShapeError(f"GetItem: a tensor of shape {shape} has no time axis to index")
            return (shape[0], f)
        if isinstance(self.time, int):
            if shape[1] is not None and not -shape[1] <= self.time < shape[1]:
                raise ShapeError(f"GetItem: index {self.time} is out of range for {shape[1]} steps")
            return (shape[0], f)
        return (shape[0], _slice_length(self.time, shape[1]), f)


def _selection(name: str, value: Any) -> Any:
    """None (all), an int (one position) or [start, stop] (ints or None)."""
    if value is None or (isinstance(value, (int, np.integer)) and not isinstance(value, bool)):
        return None if value is None else int(value)
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(
            v is None or (isinstance(v, (int, np.integer)) and not isinstance(v, bool)) for v in value):
        return [None if v is None else int(v) for v in value]
    raise ArgumentError(f"GetItem: {name}: expected None, an integer or [start, stop], got {value!r}")


def _slice_length(sel: Any, n: Optional[int]) -> Optional[int]:
    if sel is None:
        return n
    if n is None:
        return None
    length = len(range(n)[slice(*sel)])
    if length == 0:
        raise ShapeError(f"GetItem: the slice {sel[0] if sel[0] is not None else ''}:{sel[1] if sel[1] is not None else ''} "
                         f"of an axis of length {n} is empty")
    return length


_symbolic.OPERATIONS["GetItem"] = GetItem

LAYER_CLASSES = {c._class: c for c in (Embedding, Masking, SimpleRNN, LSTM, GRU, Dense, Dropout, RepeatVector, TimeDistributed,
                                        GlobalAveragePooling1D, GlobalMaxPooling1D, Conv1D, LayerNormalization,
                                        Concatenate, Attention, AdditiveAttention, Flatten, Reshape, Add, Subtract,
                                        Multiply, Average, Maximum, Minimum, GetItem, Dot)}


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
