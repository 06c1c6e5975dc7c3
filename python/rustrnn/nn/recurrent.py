"""Recurrent layer stacks with PyTorch's parameters, numerics and gate order.

Each module is a thin wrapper over a native handle that owns the parameters,
their accumulated gradients and the cache of the last training-mode forward.

Shapes (``D`` = 2 if bidirectional else 1, ``L`` = num_layers)::

    x        (B, T, I)  if batch_first else (T, B, I)
    output   (B, T, D*H) if batch_first else (T, B, D*H), zero past each length
    h0, hn   (L*D, B, H), or (L*D, B, P) for an LSTM with proj_size P;  c0, cn (LSTM) (L*D, B, H)
    (with proj_size each direction's output has P features: output (..., D*P))
    lengths  (B,) ints in 1..=T: the valid prefix of each sequence (any order)
"""

from __future__ import annotations

import operator
import warnings
from typing import Any, Iterator, List, Mapping, NamedTuple, Optional, Tuple

import numpy as np

from .. import _native
from .._checks import as_bool, positive_int
from .._convert import as_float_array, as_lengths, resolve_dtype
from ..errors import ArgumentError, DTypeError, ShapeError
from ..layers import NONLINEARITIES

Array = np.ndarray
_FORMAT = "rustrnn.nn.recurrent"


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict`` did not match, as ``torch.nn.Module.load_state_dict`` returns it."""

    missing_keys: List[str]
    unexpected_keys: List[str]


class _Recurrent:
    """What RNN, LSTM and GRU share."""

    _cell = ""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        bidirectional: bool = False,
        dtype: Any = np.float32,
        seed: Optional[int] = None,
        nonlinearity: str = "tanh",
        dropout: float = 0.0,
        proj_size: int = 0,
    ) -> None:
        self.input_size = positive_int("input_size", input_size)
        self.hidden_size = positive_int("hidden_size", hidden_size)
        self.num_layers = positive_int("num_layers", num_layers)
        self.bias = as_bool("bias", bias)
        self.batch_first = as_bool("batch_first", batch_first)
        self.bidirectional = as_bool("bidirectional", bidirectional)
        self.dtype = resolve_dtype(dtype)
        if nonlinearity not in NONLINEARITIES:
            raise ArgumentError(f"nonlinearity: expected 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float, np.floating, np.integer)):
            raise DTypeError(f"dropout: expected a number in [0, 1], got {type(dropout).__name__}")
        if not 0.0 <= float(dropout) <= 1.0:
            raise ArgumentError(f"dropout: expected a probability in [0, 1], got {dropout}")
        self.dropout = float(dropout)
        if self.dropout > 0 and self.num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so non-zero dropout expects "
                          f"num_layers greater than 1, but got dropout={dropout} and num_layers=1", UserWarning, stacklevel=3)
        self.proj_size = operator.index(proj_size)
        if self.proj_size < 0:
            raise ArgumentError(f"proj_size: expected a non-negative integer, got {proj_size}")
        if self.proj_size >= self.hidden_size and self.proj_size > 0:
            raise ArgumentError(f"proj_size: expected less than hidden_size ({self.hidden_size}), got {proj_size}")
        if seed is not None:
            seed = operator.index(seed) & 0xFFFF_FFFF_FFFF_FFFF
        self._handle = _native.RecurrentHandle(
            self._cell, self.input_size, self.hidden_size, self.num_layers, self.bidirectional,
            self.bias, self.batch_first, nonlinearity, self.dtype.name, seed, self.proj_size,
        )
        self._handle.set_dropout(self.dropout)

    # ----- pickling ---------------------------------------------------------------------------
    def _config(self) -> dict:
        return {"cell": self._cell, "input_size": self.input_size, "hidden_size": self.hidden_size, "num_layers": self.num_layers,
                "bias": self.bias, "batch_first": self.batch_first, "bidirectional": self.bidirectional,
                "dtype": self.dtype.name, "nonlinearity": self.nonlinearity, "training": self.training}

    def __reduce__(self) -> tuple:
        # pickle and copy.deepcopy: safetensors bytes with the config as JSON
        # metadata, rebuilt by a rustrnn function that parses only those.
        import json

        data = _native.serialize_model(list(self.state_dict().items()), {"format": _FORMAT, "config": json.dumps(self._config())})
        return (_unpickle, (bytes(data),))

    # ----- parameters -------------------------------------------------------------------------
    def parameter_names(self) -> list[str]:
        """Parameter names in PyTorch's ``named_parameters()`` order."""
        return list(self._handle.param_names())

    def state_dict(self) -> dict[str, Array]:
        """A copy of every parameter, by PyTorch's name."""
        return {name: self._handle.get_param(name) for name in self._handle.param_names()}

    def named_parameters(self) -> Iterator[Tuple[str, Array]]:
        """``(name, copy of the parameter)`` pairs in PyTorch's ``named_parameters()`` order."""
        for name in self._handle.param_names():
            yield name, self._handle.get_param(name)

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True, prefix: str = "") -> IncompatibleKeys:
        """Copies parameters in, by PyTorch's names (after ``prefix``) and shapes, as torch does.

        Returns ``IncompatibleKeys(missing_keys, unexpected_keys)``, like
        ``torch.nn.Module.load_state_dict``; with ``strict=True`` any missing or
        unexpected key is an :class:`~rustrnn.errors.ArgumentError` instead. Keys
        not starting with ``prefix`` are unexpected. A wrong shape is a
        :class:`~rustrnn.errors.ShapeError` even with ``strict=False`` (as in
        torch). Everything is checked before anything is written, so a failed
        load leaves the module unchanged. Values may be arrays or torch tensors;
        NaN and infinite values are accepted and propagate, as in PyTorch.
        """
        if not hasattr(state_dict, "keys"):
            raise DTypeError(f"state_dict: expected a mapping of parameter names to arrays, got {type(state_dict).__name__}")
        if not isinstance(prefix, str):
            raise DTypeError(f"prefix: expected a str, got {type(prefix).__name__}")
        names = self._handle.param_names()
        wanted = {prefix + n: n for n in names}
        unexpected = [k for k in state_dict.keys() if k not in wanted]
        missing = [k for k in wanted if k not in state_dict]
        if strict and (missing or unexpected):
            parts = []
            if missing:
                parts.append(f"missing key(s) {', '.join(missing)}")
            if unexpected:
                parts.append(f"unexpected key(s) {', '.join(map(str, unexpected))}")
            raise ArgumentError(f"state_dict: {'; '.join(parts)}; expected {', '.join(wanted)}")
        staged = {}
        for key, name in wanted.items():
            if key not in state_dict:
                continue
            arr = as_float_array(key, state_dict[key], self.dtype)
            want = self._handle.get_param(name).shape
            if arr.shape != want:
                raise ShapeError(f"{key}: expected shape {want}, got {arr.shape}")
            staged[name] = arr
        for name, arr in staged.items():
            self._handle.set_param(name, arr)
        return IncompatibleKeys(missing, unexpected)

    @property
    def grads(self) -> dict[str, Array]:
        """A copy of each parameter's gradient, accumulated over backward calls."""
        return {name: self._handle.get_grad(name) for name in self._handle.param_names()}

    def zero_grad(self) -> None:
        """Resets the accumulated parameter gradients to zero."""
        self._handle.zero_grad()

    def num_parameters(self) -> int:
        return int(self._handle.num_parameters())

    # ----- modes ------------------------------------------------------------------------------
    @property
    def training(self) -> bool:
        return bool(self._handle.training)

    def train(self, mode: bool = True) -> "_Recurrent":
        """Training mode: forward keeps what backward needs and applies ``dropout`` between layers."""
        self._handle.training = as_bool("mode", mode)
        return self

    def eval(self) -> "_Recurrent":
        """Eval mode: forward keeps nothing, so it is leaner; backward is unavailable."""
        return self.train(False)

    # ----- compute ----------------------------------------------------------------------------
    def _run(self, x: Any, h0: Any, c0: Any, lengths: Any) -> tuple:
        dt = self.dtype
        return self._handle.forward(
            as_float_array("x", x, dt, ndim=3),
            None if h0 is None else as_float_array("h0", h0, dt, ndim=3),
            None if c0 is None else as_float_array("c0", c0, dt, ndim=3),
            as_lengths(lengths),
        )

    def _grad(self, dout: Any, dhn: Any, dcn: Any) -> tuple:
        dt = self.dtype
        return self._handle.backward(
            None if dout is None else as_float_array("dout", dout, dt, ndim=3),
            None if dhn is None else as_float_array("dhn", dhn, dt, ndim=3),
            None if dcn is None else as_float_array("dcn", dcn, dt, ndim=3),
        )

    def export_onnx(self, filepath: Any) -> None:
        """Writes this stack as an ONNX graph: inputs ``x`` and ``lengths`` (int64),
        outputs ``output``, ``hn`` (and ``cn``), as ``forward(x, lengths=lengths)``."""
        from ..interop.onnx_out import export_module_onnx

        export_module_onnx(self, filepath)

    def __repr__(self) -> str:
        extra = ""
        if self.num_layers != 1:
            extra += f", num_layers={self.num_layers}"
        if self._cell == "rnn" and self.nonlinearity != "tanh":
            extra += f", nonlinearity={self.nonlinearity!r}"
        if not self.bias:
            extra += ", bias=False"
        if self.batch_first:
            extra += ", batch_first=True"
        if self.dropout:
            extra += f", dropout={self.dropout}"
        if self.bidirectional:
            extra += ", bidirectional=True"
        if self.proj_size:
            extra += f", proj_size={self.proj_size}"
        return f"{type(self).__name__}({self.input_size}, {self.hidden_size}{extra}, dtype={self.dtype.name})"


class _SingleState(_Recurrent):
    """RNN and GRU: the state is ``h`` alone."""

    def forward(self, x: Any, h0: Any = None, lengths: Any = None) -> Tuple[Array, Array]:
        """``out, hn = module(x, h0=None, lengths=None)``."""
        if isinstance(h0, tuple):
            raise DTypeError(f"h0: a {type(self).__name__} has no cell state; expected one array (num_layers*num_directions, batch, hidden_size), got a tuple")
        out, hn, _ = self._run(x, h0, None, lengths)
        return out, hn

    __call__ = forward

    def backward(self, dout: Any = None, dhn: Any = None) -> Tuple[Array, Array]:
        """``dx, dh0 = module.backward(dout, dhn=None)`` for the last forward call."""
        if isinstance(dhn, tuple):
            raise DTypeError(f"dhn: a {type(self).__name__} has no cell state; expected one array, got a tuple")
        dx, dh0, _ = self._grad(dout, dhn, None)
        return dx, dh0


class RNN(_SingleState):
    """Elman RNN: ``h' = act(W_ih x + b_ih + W_hh h + b_hh)`` with act tanh or relu."""

    _cell = "rnn"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 dtype: Any = np.float32, seed: Optional[int] = None) -> None:
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, bidirectional, dtype, seed, nonlinearity,
                         dropout)


class GRU(_SingleState):
    """GRU, gates r, z, n: ``n = tanh(W_in x + b_in + r*(W_hn h + b_hn))``, ``h' = (1-z)*n + z*h``."""

    _cell = "gru"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 dtype: Any = np.float32, seed: Optional[int] = None) -> None:
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, bidirectional, dtype, seed,
                         dropout=dropout)


def _pair(name: str, value: Any) -> Tuple[Any, Any]:
    if value is None:
        return None, None
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise DTypeError(f"{name}: expected a pair (h, c) of arrays or None, got {type(value).__name__}")
    return value[0], value[1]


class LSTM(_Recurrent):
    """LSTM, gates i, f, g, o: ``c' = f*c + i*g``, ``h' = o*tanh(c')``; with ``proj_size`` P,
    ``h' = W_hr (o*tanh(c'))`` (P values; ``weight_hr_l{k}`` (P, H), ``weight_hh_l{k}`` (4H, P))."""

    _cell = "lstm"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, dtype: Any = np.float32, seed: Optional[int] = None) -> None:
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, bidirectional, dtype, seed,
                         dropout=dropout, proj_size=proj_size)

    def forward(self, x: Any, state: Any = None, lengths: Any = None) -> Tuple[Array, Tuple[Array, Array]]:
        """``out, (hn, cn) = lstm(x, (h0, c0)=None, lengths=None)``; either of h0, c0 may be None."""
        h0, c0 = _pair("state", state)
        out, hn, cn = self._run(x, h0, c0, lengths)
        return out, (hn, cn)

    __call__ = forward

    def backward(self, dout: Any = None, dstate: Any = None) -> Tuple[Array, Tuple[Array, Array]]:
        """``dx, (dh0, dc0) = lstm.backward(dout, (dhn, dcn)=None)`` for the last forward call."""
        dhn, dcn = _pair("dstate (dhn, dcn)", dstate)
        dx, dh0, dc0 = self._grad(dout, dhn, dcn)
        return dx, (dh0, dc0)


def _unpickle(data: bytes) -> "_Recurrent":
    """Rebuilds a module from ``_Recurrent.__reduce__``'s bytes."""
    import json

    from ..errors import ModelFileError

    meta, tensors = _native.deserialize_model(bytes(data))
    if meta.get("format") != _FORMAT:
        raise ModelFileError(f"pickle: not a rustrnn.nn module (format {meta.get('format')!r})")
    try:
        cfg = json.loads(meta["config"])
        cls = {"rnn": RNN, "lstm": LSTM, "gru": GRU}[cfg["cell"]]
        module = _Recurrent.__new__(cls)
        _Recurrent.__init__(module, cfg["input_size"], cfg["hidden_size"], cfg["num_layers"], cfg["bias"], cfg["batch_first"],
                            cfg["bidirectional"], cfg["dtype"], 0, cfg["nonlinearity"])
        module.load_state_dict(dict(tensors))
        module.train(bool(cfg["training"]))
    except (KeyError, TypeError, ValueError) as e:
        raise ModelFileError(f"pickle: invalid rustrnn.nn module: {e}") from None
    return module
