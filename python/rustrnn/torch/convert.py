"""``rustrnn.torch.convert(model)``: every torch.nn recurrent module inside a model, computed by rustrnn."""

from __future__ import annotations

import torch

from .cells import GRUCell, LSTMCell, RNNCell
from .recurrent import GRU, LSTM, RNN

_SWAPS = {
    torch.nn.LSTM: LSTM,
    torch.nn.GRU: GRU,
    torch.nn.RNN: RNN,
    torch.nn.LSTMCell: LSTMCell,
    torch.nn.GRUCell: GRUCell,
    torch.nn.RNNCell: RNNCell,
}


def convert(model: torch.nn.Module) -> torch.nn.Module:
    """Makes every ``torch.nn.LSTM/GRU/RNN`` and ``LSTMCell/GRUCell/RNNCell`` in ``model``
    (``model`` itself included) compute with rustrnn, in place, and returns ``model``.

    Only the modules' class changes: they keep their parameters (the very
    ``nn.Parameter`` objects, so an optimizer made before still updates them),
    buffers, hooks and ``state_dict`` keys. Subclasses of those torch.nn classes
    (which may override ``forward``) are left as they are.
    """
    if not isinstance(model, torch.nn.Module):
        from ..errors import DTypeError

        raise DTypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    for module in model.modules():
        swap = _SWAPS.get(type(module))
        if swap is not None:
            module.__class__ = swap
    return model
