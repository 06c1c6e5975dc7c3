"""Model recipes the demos and ``rustrnn train`` share: a text classifier or
regressor over word ids, and a character-level language model."""

from __future__ import annotations

import re
from typing import Any, Optional

import numpy as np

# GloVe splits "it's" and "doesn't" into "it 's" and "does n't"; so does split_clitics, to find their vectors.
_CLITICS = re.compile(r"(\w)('s|'re|'ve|'ll|'d|'m|n't)\b", re.IGNORECASE)


def split_clitics(text: str) -> str:
    return _CLITICS.sub(r"\1 \2", text)


def known_share(tok: Any, vectors: Any) -> float:
    """The share of the fitted tokenizer's word occurrences that ``vectors`` knows
    (about 0.95 for English text and English GloVe, far less for other languages)."""
    index = vectors.index
    total = sum(tok.word_counts.values())
    known = sum(c for w, c in tok.word_counts.items() if w in index or w.lower() in index)
    return known / total if total else 0.0


def glove_vocabulary(tok: Any, glove_words: list, max_words: Optional[int] = None) -> None:
    """Makes ``tok``'s vocabulary the training words seen at least twice (the
    ``max_words`` most frequent) followed by every GloVe word not among them, so
    that a word never seen in training still arrives with a meaningful vector."""
    frequent = [w for w, i in sorted(tok.word_index.items(), key=lambda kv: kv[1])
                if w == tok.oov_token or tok.word_counts.get(w, 0) >= 2]
    if max_words is not None:
        frequent = frequent[:max_words - 1]
    known = set(frequent)
    words = frequent + [w for w in glove_words if w not in known]
    tok.word_index = {w: i + 1 for i, w in enumerate(words)}
    tok.index_word = {i: w for w, i in tok.word_index.items()}
    tok.num_words = len(words) + 1


def text_model(vocab: int, outputs: int, activation: str, embedding_dim: int = 64, units: int = 64, cell: str = "lstm",
               bidirectional: bool = False, dropout: float = 0.5, embedding_weights: Optional[np.ndarray] = None,
               pooling: Optional[str] = None) -> Any:
    """``Embedding(mask_zero) → Dropout → LSTM/GRU → Dropout → Dense``.

    Dropout on both sides of the recurrent layer matters on a few thousand
    sentences: without it the model memorizes the training set within a few epochs.
    ``pooling`` ``"average"`` (``"max"``) puts ``GlobalAveragePooling1D``
    (``GlobalMaxPooling1D``) over the recurrent layer's states after it, so the
    output reads every word's state rather than the last one only.
    """
    import rustrnn
    from rustrnn import layers

    rnn = {"lstm": layers.LSTM, "gru": layers.GRU, "simple_rnn": layers.SimpleRNN}[cell]
    if embedding_weights is not None:
        embedding_dim = embedding_weights.shape[1]
    pool = {None: [], "average": [layers.GlobalAveragePooling1D()], "max": [layers.GlobalMaxPooling1D()]}[pooling]
    return rustrnn.Sequential([
        layers.Embedding(vocab, embedding_dim, mask_zero=True, weights=embedding_weights),
        layers.Dropout(dropout),
        rnn(units, bidirectional=bidirectional, return_sequences=bool(pool)),
        *pool,
        layers.Dropout(dropout),
        layers.Dense(outputs, activation=activation),
    ])


def ensemble(members: list) -> Any:
    """Several :func:`text_model` models (same vocabulary, trained from different
    seeds) as ONE equivalent ``Sequential``, to be saved in one file.

    The merged layers are ``k`` times wider: the embeddings side by side, the
    recurrent weights block-diagonal gate by gate (so each member's units see
    only their own inputs and state: the members run independently), and the
    output layer reads every member's state (or its pooled states: pooling is per unit)
    with its weights divided by ``k``.
    Its pre-activation is the members' mean, so the ensemble's probability is
    ``sigmoid`` (``softmax``) of the members' averaged logits. At inference
    the recurrent product costs ``k`` times more than the members' together
    (the zero blocks are computed): for a few small models that is cheap.
    """
    import rustrnn
    from rustrnn import layers

    from ..errors import ArgumentError

    k = len(members)
    if k == 1:
        return members[0]
    structure = [[type(l) for l in m.layers] for m in members]
    pools = (layers.GlobalAveragePooling1D, layers.GlobalMaxPooling1D)
    if k == 0 or any(s[:2] != [layers.Embedding, layers.Dropout] or s[-2:] != [layers.Dropout, layers.Dense]
                     or not (len(s) == 5 or (len(s) == 6 and s[3] in pools)) for s in structure) or \
            len({tuple(s) for s in structure}) != 1 or not issubclass(structure[0][2], layers._Recurrent):
        raise ArgumentError("members: expected one or more text_model()s of the same architecture")
    configs = [[l.get_config() for l in m.layers] for m in members]
    if any(c != configs[0] for c in configs):
        raise ArgumentError("members: expected models with the same layer configurations")
    emb, drop1, rnn, drop2, dense = configs[0][:3] + configs[0][-2:]
    pool = [structure[0][3]()] if len(structure[0]) == 6 else []  # per unit over time: the members stay independent
    if rnn["num_layers"] != 1 or (rnn["bidirectional"] and rnn["merge_mode"] != "concat") or rnn["return_sequences"] != bool(pool):
        raise ArgumentError("members: the recurrent layer must be one layer deep (bidirectional: merge_mode 'concat')")
    cls = structure[0][2]
    merged = rustrnn.Sequential([
        layers.Embedding(emb["input_dim"], k * emb["output_dim"], mask_zero=emb["mask_zero"]),
        layers.Dropout(drop1["rate"]),
        cls.from_config({**rnn, "units": k * rnn["units"]}),
        *pool,
        layers.Dropout(drop2["rate"]),
        layers.Dense(dense["units"], activation=dense["activation"], use_bias=dense["use_bias"]),
    ], dtype=members[0].dtype)
    merged.build()
    weights = [dict(m._named_weights()) for m in members]
    out = {}
    h, e = rnn["units"], emb["output_dim"]
    for name, target in merged._named_weights():
        layer, param = name.split("/", 1)
        parts = [w[name] for w in weights]
        target = np.zeros_like(target)
        if param == "embeddings":
            for j, w in enumerate(parts):
                target[:, j * e:(j + 1) * e] = w
        elif param.startswith(("weight_ih", "weight_hh", "bias_ih", "bias_hh")):
            gates = parts[0].shape[0] // h
            for j, w in enumerate(parts):
                for g in range(gates):
                    rows = slice(g * k * h + j * h, g * k * h + (j + 1) * h)
                    if w.ndim == 1:
                        target[rows] = w[g * h:(g + 1) * h]
                    else:
                        cols = w.shape[1]
                        target[rows, j * cols:(j + 1) * cols] = w[g * h:(g + 1) * h]
        elif param == "kernel":  # (directions * units, outputs): direction d of member j
            for j, w in enumerate(parts):
                for d in range(w.shape[0] // h):
                    target[d * k * h + j * h:d * k * h + (j + 1) * h] = w[d * h:(d + 1) * h] / k
        elif param == "bias":
            target[...] = np.mean(parts, axis=0)
        else:
            raise ArgumentError(f"members: cannot merge the weight {name}")
        out[name] = target
    merged._set_named_weights(out)
    return merged


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
