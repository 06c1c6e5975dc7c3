"""rustrnn inside PyTorch: drop-in ``torch.nn`` recurrent modules computed by rustrnn.

>>> import torch, rustrnn.torch
>>> lstm = rustrnn.torch.LSTM(8, 16, num_layers=2)       # exactly torch.nn.LSTM's arguments
>>> out, (hn, cn) = lstm(torch.zeros(5, 3, 8))          # (seq, batch, feature), as in torch
>>> model = rustrnn.torch.convert(model)                # every nn.LSTM/GRU/RNN inside, in place

Forward and backward run in rustrnn (float32/float64 on the CPU, GIL released,
the tensors' memory read in place); anything else falls back to torch.nn with a
one-time ``RuntimeWarning``. Importing this module imports torch; torch is not
a dependency of rustrnn.
"""

from __future__ import annotations

try:
    import torch as _torch  # noqa: F401
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError("rustrnn.torch needs PyTorch (pip install torch); the rest of rustrnn does not") from e

from .cells import GRUCell, LSTMCell, RNNCell
from .convert import convert
from .recurrent import GRU, LSTM, RNN

__all__ = ["LSTM", "GRU", "RNN", "LSTMCell", "GRUCell", "RNNCell", "convert"]
