"""``rustrnn.torch.LSTM``, ``GRU``, ``RNN``: torch.nn's modules, computed by rustrnn.

Each is a subclass of the torch.nn module of the same name: the same
constructor, defaults, parameters (ordinary ``nn.Parameter``s, same names and
shapes), ``state_dict``, ``repr`` and ``isinstance`` checks. Only ``forward``
differs: every layer runs through :class:`~._native_layer.LayerFunction`
(rustrnn's forward and BPTT, GIL released, tensors' memory read in place), with
torch's dropout between layers in training mode.

Shapes as in torch.nn (``D`` = 2 if bidirectional, ``L`` = num_layers)::

    input   (T, B, I), (B, T, I) if batch_first, (T, I) unbatched, or a PackedSequence
    h0, c0  (L*D, B, H), or (L*D, H) unbatched
    output  (T, B, D*H) / (B, T, D*H) / (T, D*H), or a PackedSequence like the input
"""

from __future__ import annotations

from typing import Any, List, Tuple

import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from ..errors import DTypeError, ShapeError
from ._dispatch import check_dtypes, fallback_reason, split_state, warn_fallback
from ._native_layer import LayerFunction, NativeLayer


def layer_names(module: torch.nn.Module, layer: int) -> List[str]:
    """The module's parameter names of one layer, both directions, in torch's order."""
    suffix = f"_l{layer}"
    return [n for n in module._flat_weights_names if n.endswith(suffix) or n.endswith(suffix + "_reverse")]


def native_layers(module: torch.nn.Module, dtype: torch.dtype) -> List[NativeLayer]:
    """The module's rustrnn layers for ``dtype``, made on first use."""
    cache = module.__dict__.setdefault("_rustrnn_layers", {})
    key = (dtype, module.batch_first)
    if key not in cache:
        d = 2 if module.bidirectional else 1
        proj = getattr(module, "proj_size", 0)
        state = proj or module.hidden_size
        cache[key] = [
            NativeLayer(module.mode, module.input_size if k == 0 else d * state, module.hidden_size,
                        module.bidirectional, module.bias, module.batch_first, dtype, layer_names(module, k), proj)
            for k in range(module.num_layers)
        ]
    return cache[key]


def _check_state(name: str, h: torch.Tensor, want: Tuple[int, ...], what: str = "hidden_size") -> None:
    if not isinstance(h, torch.Tensor):
        raise DTypeError(f"{name}: expected a tensor, got {type(h).__name__}")
    if tuple(h.shape) != want:
        raise ShapeError(f"{name}: expected shape {want} (num_layers*num_directions, batch, {what}), "
                         f"got {tuple(h.shape)}")


class _RustRecurrent:
    """The forward that LSTM, GRU and RNN share (mixed in before the torch.nn class)."""

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        state.pop("_rustrnn_layers", None)  # native handles are rebuilt on first use
        return state

    def forward(self, input: Any, hx: Any = None) -> Any:  # noqa: A002 (torch's name)
        is_lstm = self.mode == "LSTM"
        states = (hx if isinstance(hx, (tuple, list)) else (hx,)) if hx is not None else ()
        data = input.data if isinstance(input, PackedSequence) else input
        weights = [getattr(self, n) for n in self._flat_weights_names]
        reason = fallback_reason(self, [data, *weights, *states])
        if reason is not None:
            warn_fallback(self, reason)
            return super().forward(input, hx)
        check_dtypes(self, data, weights)
        return _forward(self, input, hx, is_lstm)


def _forward(m: Any, input: Any, hx: Any, is_lstm: bool) -> Any:
    d = 2 if m.bidirectional else 1
    packed = input if isinstance(input, PackedSequence) else None
    lengths = None
    if packed is not None:
        x, lengths_t = pad_packed_sequence(packed, batch_first=m.batch_first)  # the caller's batch order
        lengths = lengths_t.tolist()
        batched = True
    else:
        if not isinstance(input, torch.Tensor):
            raise DTypeError(f"input: expected a tensor or a PackedSequence, got {type(input).__name__}")
        if input.dim() not in (2, 3):
            raise ShapeError(f"input: expected a 3-D (batched) or 2-D (unbatched) tensor, got shape {tuple(input.shape)}")
        batched = input.dim() == 3
        x = input if batched else input.unsqueeze(0 if m.batch_first else 1)
    batch = x.shape[0 if m.batch_first else 1]

    h0 = c0 = None
    if hx is not None:
        h0, c0 = split_state(m, hx, is_lstm, "(h_0, c_0)")
        if not batched:
            h0 = h0.unsqueeze(1) if isinstance(h0, torch.Tensor) and h0.dim() == 2 else h0
            c0 = c0.unsqueeze(1) if isinstance(c0, torch.Tensor) and c0.dim() == 2 else c0
        proj = getattr(m, "proj_size", 0)
        want = (m.num_layers * d, batch, m.hidden_size)
        if proj:
            _check_state("hx[0]", h0, want[:2] + (proj,), "proj_size")
        else:
            _check_state("hx[0]" if is_lstm else "hx", h0, want)
        if is_lstm:
            _check_state("hx[1]", c0, want)

    layers = native_layers(m, x.dtype)
    grad_on = torch.is_grad_enabled()
    hns, cns = [], []
    for k, layer in enumerate(layers):
        weights = [getattr(m, n) for n in layer.names]
        h0k = None if h0 is None else h0[k * d:(k + 1) * d]
        c0k = None if c0 is None else c0[k * d:(k + 1) * d]
        tracked = grad_on and any(t is not None and t.requires_grad for t in (x, h0k, c0k, *weights))
        if tracked:
            out, hn, *cn = LayerFunction.apply(layer, lengths, x, h0k, c0k, *weights)
            cn = cn[0] if cn else None
        else:
            out, hn, cn, _ = layer.run(weights, x, h0k, c0k, lengths, keep_tape=False)
        hns.append(hn)
        cns.append(cn)
        if m.training and m.dropout > 0 and k + 1 < m.num_layers:
            out = F.dropout(out, m.dropout, training=True)
        x = out
    hn = hns[0] if len(hns) == 1 else torch.cat(hns, 0)
    cn = (cns[0] if len(cns) == 1 else torch.cat(cns, 0)) if is_lstm else None

    if packed is not None:
        output: Any = _repack(x, packed, lengths_t, m.batch_first)
    elif batched:
        output = x
    else:
        output = x.squeeze(0 if m.batch_first else 1)
        hn = hn.squeeze(1)
        cn = None if cn is None else cn.squeeze(1)
    return (output, (hn, cn)) if is_lstm else (output, hn)


def _repack(out: torch.Tensor, like: PackedSequence, lengths: torch.Tensor, batch_first: bool) -> PackedSequence:
    """``out`` (padded, the caller's batch order) packed with ``like``'s order and batch sizes."""
    if batch_first:
        out = out.transpose(0, 1)
    if like.sorted_indices is not None:
        out = out.index_select(1, like.sorted_indices)
        lengths = lengths.index_select(0, like.sorted_indices.cpu())
    data = pack_padded_sequence(out, lengths, enforce_sorted=True).data
    return PackedSequence(data, like.batch_sizes, like.sorted_indices, like.unsorted_indices)


class LSTM(_RustRecurrent, torch.nn.LSTM):
    """``torch.nn.LSTM`` computed by rustrnn: ``output, (h_n, c_n) = lstm(input, (h_0, c_0))``."""


class GRU(_RustRecurrent, torch.nn.GRU):
    """``torch.nn.GRU`` computed by rustrnn: ``output, h_n = gru(input, h_0)``."""


class RNN(_RustRecurrent, torch.nn.RNN):
    """``torch.nn.RNN`` (tanh or relu) computed by rustrnn: ``output, h_n = rnn(input, h_0)``."""

