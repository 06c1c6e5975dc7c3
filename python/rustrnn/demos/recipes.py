"""Model recipes the demos and ``rustrnn train`` share: a text classifier or
regressor over word ids, and a character-level language model."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np


def text_model(vocab: int, outputs: int, activation: str, embedding_dim: int = 64, units: int = 64, cell: str = "lstm",
               bidirectional: bool = False, dropout: float = 0.5, embedding_weights: Optional[np.ndarray] = None) -> Any:
    """``Embedding(mask_zero) → Dropout → LSTM/GRU → Dropout → Dense``.

    Dropout on both sides of the recurrent layer matters on a few thousand
    sentences: without it the model memorizes the training set within a few epochs.
    """
    import rustrnn
    from rustrnn import layers

    rnn = {"lstm": layers.LSTM, "gru": layers.GRU, "simple_rnn": layers.SimpleRNN}[cell]
    if embedding_weights is not None:
        embedding_dim = embedding_weights.shape[1]
    return rustrnn.Sequential([
        layers.Embedding(vocab, embedding_dim, mask_zero=True, weights=embedding_weights),
        layers.Dropout(dropout),
        rnn(units, bidirectional=bidirectional),
        layers.Dropout(dropout),
        layers.Dense(outputs, activation=activation),
    ])


def char_model(vocab: int, units: int = 256, num_layers: int = 1, embedding_dim: int = 32, dropout: float = 0.0) -> Any:
    """``Embedding → LSTM (return_sequences) → Dense(vocab)``: the next character at every step."""
    import rustrnn
    from rustrnn import layers

    return rustrnn.Sequential([
        layers.Embedding(vocab, embedding_dim),
        layers.LSTM(units, num_layers=num_layers, layer_dropout=dropout, return_sequences=True),
        layers.Dense(vocab, activation="softmax"),
    ])


def char_windows(ids: np.ndarray, seq_len: int, stride: Optional[int] = None) -> tuple:
    """Inputs ``ids[t:t+L]`` and next-character targets ``ids[t+1:t+L+1]``."""
    stride = stride or seq_len
    n = (len(ids) - 1 - seq_len) // stride + 1
    if n <= 0:
        return np.zeros((0, seq_len), np.int64), np.zeros((0, seq_len), np.int64)
    starts = np.arange(n) * stride
    idx = starts[:, None] + np.arange(seq_len)
    return ids[idx], ids[idx + 1]


def unigram_entropy(train_ids: np.ndarray, test_ids: np.ndarray, vocab: int) -> float:
    """Cross-entropy (nats/char) of ``test_ids`` under the training character
    frequencies (add-one smoothed): what a model that ignores context achieves."""
    counts = np.bincount(train_ids, minlength=vocab).astype(np.float64) + 1.0
    p = counts / counts.sum()
    return float(-np.mean(np.log(p[test_ids])))
