"""``rustrnn.torch.LSTMCell``, ``GRUCell``, ``RNNCell``: torch.nn's cells, computed by rustrnn.

Subclasses of the torch.nn cells (same constructor, parameters, state_dict);
one step is a one-step sequence through rustrnn's layer.

Shapes as in torch.nn::

    input (B, I) or (I,) unbatched;  hx, cx (B, H) or (H,)
    LSTMCell -> (h', c');  GRUCell, RNNCell -> h'
"""

from __future__ import annotations

from typing import Any, List

import torch

from ..errors import DTypeError, ShapeError
from ._dispatch import check_dtypes, fallback_reason, split_state, warn_fallback
from ._native_layer import LayerFunction, NativeLayer

_NAMES = ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]


def _mode(cell: torch.nn.Module) -> str:
    if isinstance(cell, torch.nn.LSTMCell):
        return "LSTM"
    if isinstance(cell, torch.nn.GRUCell):
        return "GRU"
    return "RNN_RELU" if cell.nonlinearity == "relu" else "RNN_TANH"


class _RustCell:
    """The forward the three cells share (mixed in before the torch.nn class)."""

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        state.pop("_rustrnn_layers", None)
        return state

    def _names(self) -> List[str]:
        return _NAMES if self.bias else _NAMES[:2]

    def forward(self, input: Any, hx: Any = None) -> Any:  # noqa: A002 (torch's name)
        is_lstm = isinstance(self, torch.nn.LSTMCell)
        weights = [getattr(self, n) for n in self._names()]
        states = (hx if isinstance(hx, (tuple, list)) else (hx,)) if hx is not None else ()
        reason = fallback_reason(self, [input, *weights, *states])
        if reason is not None:
            warn_fallback(self, reason)
            return super().forward(input, hx)
        if not isinstance(input, torch.Tensor):
            raise DTypeError(f"input: expected a tensor, got {type(input).__name__}")
        check_dtypes(self, input, weights)
        if input.dim() not in (1, 2):
            raise ShapeError(f"input: expected a 2-D (batch, input_size) or 1-D (unbatched) tensor, "
                             f"got shape {tuple(input.shape)}")
        batched = input.dim() == 2
        x = input.unsqueeze(0) if batched else input.view(1, 1, -1)  # a one-step sequence (1, B, I)
        batch = x.shape[1]
        h0 = c0 = None
        if hx is not None:
            h0, c0 = split_state(self, hx, is_lstm, "(h, c)")
            want = (batch, self.hidden_size) if batched else (self.hidden_size,)
            for name, h in (("hx[0]" if is_lstm else "hx", h0), ("hx[1]", c0)):
                if h is None:
                    continue
                if not isinstance(h, torch.Tensor):
                    raise DTypeError(f"{name}: expected a tensor, got {type(h).__name__}")
                if tuple(h.shape) != want:
                    raise ShapeError(f"{name}: expected shape {want}, got {tuple(h.shape)}")
            h0 = h0.reshape(1, batch, self.hidden_size)
            c0 = None if c0 is None else c0.reshape(1, batch, self.hidden_size)

        cache = self.__dict__.setdefault("_rustrnn_layers", {})
        layer = cache.get(x.dtype)
        if layer is None:
            layer = cache[x.dtype] = NativeLayer(_mode(self), self.input_size, self.hidden_size, False, self.bias,
                                                 False, x.dtype, self._names())
        if torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in (x, h0, c0, *weights)):
            _, hn, *cn = LayerFunction.apply(layer, None, x, h0, c0, *weights)
            cn = cn[0] if cn else None
        else:
            _, hn, cn, _ = layer.run(weights, x, h0, c0, None, keep_tape=False)
        shape = (batch, self.hidden_size) if batched else (self.hidden_size,)
        hn = hn.view(shape)
        return (hn, cn.view(shape)) if is_lstm else hn


class LSTMCell(_RustCell, torch.nn.LSTMCell):
    """``torch.nn.LSTMCell`` computed by rustrnn: ``h', c' = cell(input, (h, c))``."""


class GRUCell(_RustCell, torch.nn.GRUCell):
    """``torch.nn.GRUCell`` computed by rustrnn: ``h' = cell(input, h)``."""


class RNNCell(_RustCell, torch.nn.RNNCell):
    """``torch.nn.RNNCell`` (tanh or relu) computed by rustrnn: ``h' = cell(input, h)``."""
