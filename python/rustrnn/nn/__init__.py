"""PyTorch-style recurrent modules: :class:`RNN`, :class:`LSTM`, :class:`GRU`."""

from .recurrent import GRU, LSTM, RNN

__all__ = ["RNN", "LSTM", "GRU"]
