"""Encoder-decoder model: :class:`Seq2Seq`.

The encoder RNN reads the source; its final state initialises the decoder
RNN, trained with teacher forcing and decoded greedily or with beam search,
step by step in Rust. Token 0 is padding on both sides; targets end with
``eos_id`` and the decoder starts from ``bos_id``.

>>> model = Seq2Seq(src_vocab=12, tgt_vocab=13, units=64)
>>> model.compile(optimizer="adam", metrics=["accuracy"])
>>> model.fit(src, tgt, epochs=20)            # tgt: (N, T) = tokens..., eos_id, 0...
>>> model.predict(src, max_length=10, beam_width=4)
"""

from __future__ import annotations

import operator
from typing import Any, Iterable, Optional

import numpy as np

from . import _native
from ._checks import as_bool
from ._registry import register_model
from .errors import ArgumentError, DTypeError, ShapeError
from .layers import check_choice, check_rate, positive_int
from .models import Model, _batch_size

# The name tables of the core, checked against it by tests/test_stubs.py.
CELLS = ("lstm", "gru", "simple_rnn")
ATTENTIONS = ("luong", "bahdanau")

__all__ = ["Seq2Seq", "Seq2SeqEnsemble", "Seq2SeqReranker", "reverse_targets"]


def _indices(name: str, value: Any) -> np.ndarray:
    from ._streams import reject_stream

    reject_stream(name, value, "Seq2Seq here")
    arr = np.asarray(value)
    if arr.dtype.kind not in "iu":
        raise DTypeError(f"{name}: expected integer token ids, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ShapeError(f"{name}: expected token ids of shape (batch, time), got shape {arr.shape}")
    return np.ascontiguousarray(arr, dtype=np.int64)


def _source_chunks(x: Any, max_length: Optional[int], batch_size: int) -> tuple:
    """The source ids, ``max_length`` (default: twice the source's steps plus 2) and the batches' slices."""
    src = _indices("x", x)
    max_length = 2 * src.shape[1] + 2 if max_length is None else operator.index(max_length)
    if max_length <= 0:
        raise ArgumentError(f"max_length: expected a positive integer, got {max_length}")
    batch_size = _batch_size(batch_size)
    chunks = [np.ascontiguousarray(src[i:i + batch_size]) for i in range(0, len(src), batch_size)]
    return src, max_length, chunks


def _decode(decode: Any, x: Any, max_length: Optional[int], beam_width: int, length_penalty: float, batch_size: int) -> np.ndarray:
    """``decode(src, max_length, beam_width, length_penalty)`` over ``x`` in batches of ``batch_size``."""
    _, max_length, chunks = _source_chunks(x, max_length, batch_size)
    beam_width = positive_int("beam_width", beam_width)
    parts = [decode(c, max_length, beam_width, float(length_penalty)) for c in chunks]
    return np.concatenate(parts) if parts else np.zeros((0, max_length), np.int64)


def _n_best(decode: Any, x: Any, n: int, max_length: Optional[int], beam_width: Optional[int], length_penalty: float,
            batch_size: int) -> tuple:
    """``decode(src, max_length, beam_width, length_penalty, n)`` over ``x`` in batches of ``batch_size``."""
    _, max_length, chunks = _source_chunks(x, max_length, batch_size)
    n = positive_int("n", n)
    beam_width = n if beam_width is None else positive_int("beam_width", beam_width)
    if n > beam_width:
        raise ArgumentError(f"n: expected at most beam_width={beam_width} hypotheses per source, got {n}")
    parts = [decode(c, max_length, beam_width, float(length_penalty), n) for c in chunks]
    if not parts:
        return np.zeros((0, n, max_length), np.int64), np.zeros((0, n))
    return np.concatenate([t for t, _ in parts]), np.concatenate([sc for _, sc in parts])


@register_model
class Seq2Seq(Model):
    """Sequence-to-sequence model with an RNN encoder and decoder.

    ``cell`` is ``"lstm"``, ``"gru"`` or ``"simple_rnn"``; ``num_layers`` applies
    to both; a bidirectional encoder hands its concatenated directions to a
    decoder of ``2 * units``.

    ``attention="luong"`` (Luong's general score ``h_t·W_a·e_s``) or
    ``"bahdanau"`` (the additive score ``v·tanh(W_q h_t + W_k e_s)``) lets
    each decoder step attend over every encoder output; the output layer then
    reads Luong's attentional state ``tanh(W_c [context; h_t] + b_c)``. The
    query is the decoder's output at that step (no input feeding).

    ``dropout`` (training only) drops that fraction of both embeddings'
    outputs and of the features the output layer reads, and with
    ``num_layers > 1`` of the values between stacked recurrent layers.
    ``recurrent_dropout`` (training only, as Keras's) drops that fraction of
    the state entering each step of the encoder and the decoder, one mask per
    gate and sequence.
    """

    def __init__(self, src_vocab: int, tgt_vocab: int, embedding_dim: int = 64, units: int = 128, cell: str = "lstm",
                 num_layers: int = 1, bidirectional_encoder: bool = False, dropout: float = 0.0, bos_id: int = 1,
                 eos_id: int = 2, attention: Optional[str] = None, recurrent_dropout: float = 0.0, dtype: Any = np.float32, name: Optional[str] = None) -> None:
        super().__init__(dtype, name or "seq2seq")
        self.config = {
            "src_vocab": positive_int("src_vocab", src_vocab),
            "tgt_vocab": positive_int("tgt_vocab", tgt_vocab),
            "embedding_dim": positive_int("embedding_dim", embedding_dim),
            "units": positive_int("units", units),
            "cell": check_choice("cell", cell, CELLS),
            "num_layers": positive_int("num_layers", num_layers),
            "bidirectional_encoder": as_bool("bidirectional_encoder", bidirectional_encoder),
            "dropout": check_rate("dropout", dropout),
            "recurrent_dropout": check_rate("recurrent_dropout", recurrent_dropout),
            "bos_id": positive_int("bos_id", bos_id),
            "eos_id": positive_int("eos_id", eos_id),
            "attention": None if attention is None else check_choice("attention", attention, ATTENTIONS),
        }
        for k in ("bos_id", "eos_id"):
            if self.config[k] >= self.config["tgt_vocab"]:
                raise ArgumentError(f"{k}: expected a token id below tgt_vocab={self.config['tgt_vocab']}, got {self.config[k]}")
        self._build_native({"type": "seq2seq", "config": self.config})

    def compile(self, optimizer: Any = "adam", loss: Any = "sparse_categorical_crossentropy", metrics: Optional[Iterable] = None) -> None:
        """Like :meth:`Model.compile`; the loss defaults to (and should be) sparse categorical cross-entropy."""
        super().compile(optimizer, loss, metrics)

    def _prepare_x(self, x: Any) -> np.ndarray:
        return _indices("x", x)

    def _prepare_xy(self, x: Any, y: Any) -> tuple:
        if isinstance(x, tuple) and len(x) == 2:  # already (source, decoder input)
            return x, self._prepare_y(y)
        src = _indices("x", x)
        tgt = _indices("y", y)
        if len(tgt) != len(src):
            raise ShapeError(f"y: expected {len(src)} target sequences (one per source), got {len(tgt)}")
        if tgt.size and (tgt.min() < 0 or tgt.max() >= self.config["tgt_vocab"]):
            raise ArgumentError(f"y: token ids must be in 0..{self.config['tgt_vocab'] - 1}")
        return (src, self.decoder_inputs(tgt)), np.ascontiguousarray(tgt, dtype=self.dtype)

    def decoder_inputs(self, targets: Any) -> np.ndarray:
        """Teacher forcing: BOS followed by the targets shifted right; padding stays 0."""
        return _native.seq2seq_decoder_inputs(_indices("targets", targets), self.config["bos_id"])

    def _native_spec(self, x: Any) -> dict:
        return {"type": "seq2seq", "config": self.config}

    def predict(self, x: Any, max_length: Optional[int] = None, beam_width: int = 1, length_penalty: float = 0.0,
                batch_size: int = 64, verbose: int = 0) -> np.ndarray:
        """Decoded token ids ``(N, max_length)``: each row ends with ``eos_id``
        (when produced) and is 0 after it. ``beam_width > 1`` uses beam search."""
        return _decode(lambda src, *a: self._handle.decode(src, *a), x, max_length, beam_width, length_penalty, batch_size)

    def predict_n_best(self, x: Any, n: int, max_length: Optional[int] = None, beam_width: Optional[int] = None,
                       length_penalty: float = 0.0, batch_size: int = 64) -> tuple:
        """The ``n`` best hypotheses of a beam search of ``beam_width``
        (default ``n``) per source, best first: token ids ``(N, n, max_length)``
        as :meth:`predict` writes them, and their scores ``(N, n)`` (float64;
        with ``length_penalty=0``, each hypothesis' log-probability, as
        :meth:`log_likelihood` gives it). A source with fewer than ``n``
        hypotheses fills the rest with zeros scored ``-inf``; the first
        hypothesis is what :meth:`predict` returns."""
        return _n_best(lambda src, *a: self._handle.decode_n_best([], src, *a), x, n, max_length, beam_width,
                       length_penalty, batch_size)

    def log_likelihood(self, x: Any, y: Any, batch_size: int = 64) -> np.ndarray:
        """``log p(y | x)`` per sequence ``(N,)``, float64: the sum of the
        teacher-forced decoder's log-probabilities of each target's tokens,
        up to its first 0 (padding). Targets end with ``eos_id``, as in
        training and as :meth:`predict` writes them."""
        self._require_built("log_likelihood")
        src, tgt = _indices("x", x), _indices("y", y)
        if len(tgt) != len(src):
            raise ShapeError(f"y: expected {len(src)} target sequences (one per source), got {len(tgt)}")
        batch_size = _batch_size(batch_size)
        parts = [self._handle.log_likelihood(np.ascontiguousarray(src[i:i + batch_size]), np.ascontiguousarray(tgt[i:i + batch_size]))
                 for i in range(0, len(src), batch_size)]
        return np.concatenate(parts) if parts else np.zeros(0)

    def get_config(self) -> dict:
        return {"class": "Seq2Seq", "name": self.name, "dtype": self.dtype.name, **self.config}

    @classmethod
    def from_config(cls, config: dict) -> "Seq2Seq":
        config = dict(config)
        config.pop("class", None)
        return cls(**config)

    def summary(self, print_fn: Any = print) -> None:
        import json

        info = json.loads(self._handle.layer_info())
        kind = self.config["cell"] + (f", {self.config['attention']} attention" if self.config["attention"] else "")
        lines = [f'Model: "{self.name}" (Seq2Seq, {kind})']
        lines += [f"{i['name']:<20} {i['class']:<10} {i['params']:>12,}" for i in info]
        total, trainable = self._handle.num_params()
        lines += [f"Total params: {total:,}", f"Trainable params: {trainable:,}"]
        print_fn("\n".join(lines))


class Seq2SeqEnsemble:
    """Several trained :class:`Seq2Seq` models that decode together.

    At every step the next token is chosen from the mean of the models'
    next-token probabilities, and every model is then fed that token (as
    fairseq's and OpenNMT's ensembles decode). Models trained from different
    seeds make different mistakes, so their mean makes fewer. The members
    must share ``tgt_vocab``, ``bos_id``, ``eos_id`` and dtype; their sizes,
    cells and attention may differ. The members are used as they are when
    :meth:`predict` runs (train them first; later training shows).

    >>> ensemble = Seq2SeqEnsemble([model_a, model_b, model_c])
    >>> ensemble.predict(src, max_length=10, beam_width=4)
    """

    def __init__(self, models: Iterable) -> None:
        from ._streams import reject_stream

        reject_stream("models", models, "Seq2SeqEnsemble")
        self.models = list(models)
        if not self.models:
            raise ArgumentError("models: expected at least one Seq2Seq model, got none")
        first = self.models[0]
        for i, m in enumerate(self.models):
            if not isinstance(m, Seq2Seq):
                raise ArgumentError(f"models[{i}]: expected a rustrnn.Seq2Seq, got {type(m).__name__}")
            for key in ("tgt_vocab", "bos_id", "eos_id"):
                if m.config[key] != first.config[key]:
                    raise ArgumentError(f"models[{i}]: the members must share {key}: expected {first.config[key]} "
                                        f"(models[0]'s), got {m.config[key]}")
            if m.dtype != first.dtype:
                raise DTypeError(f"models[{i}]: the members must share one dtype: expected {first.dtype} (models[0]'s), "
                                 f"got {m.dtype}")

    def __len__(self) -> int:
        return len(self.models)

    def __repr__(self) -> str:
        return f"Seq2SeqEnsemble({len(self.models)} models)"

    def predict(self, x: Any, max_length: Optional[int] = None, beam_width: int = 1, length_penalty: float = 0.0,
                batch_size: int = 64) -> np.ndarray:
        """Decoded token ids ``(N, max_length)`` as :meth:`Seq2Seq.predict`
        returns them, from the members' mean probabilities."""
        first, *others = [m._handle for m in self.models]
        others = list(others)
        return _decode(lambda src, *a: first.decode_ensemble(others, src, *a), x, max_length, beam_width, length_penalty,
                       batch_size)

    def predict_n_best(self, x: Any, n: int, max_length: Optional[int] = None, beam_width: Optional[int] = None,
                       length_penalty: float = 0.0, batch_size: int = 64) -> tuple:
        """The ``n`` best hypotheses of the members' beam search and their
        scores, as :meth:`Seq2Seq.predict_n_best` returns them (a score sums
        the log of the members' mean probability of each token)."""
        first, *others = [m._handle for m in self.models]
        others = list(others)
        return _n_best(lambda src, *a: first.decode_n_best(others, src, *a), x, n, max_length, beam_width, length_penalty,
                       batch_size)


def reverse_targets(y: Any, eos_id: int = 2) -> np.ndarray:
    """The target sequences written backwards, for training a right-to-left
    model: each row's tokens before its first ``eos_id`` (or before its
    padding, when it has none) in reverse order, then ``eos_id`` and the
    padding where they were. Reversing twice gives ``y`` back."""
    tgt = _indices("y", y).copy()
    eos_id = positive_int("eos_id", eos_id)
    for row in tgt:
        end = np.flatnonzero((row == eos_id) | (row == 0))
        n = end[0] if len(end) else len(row)
        row[:n] = row[:n][::-1].copy()
    return tgt


def _ensemble(name: str, models: Any) -> "Seq2SeqEnsemble":
    """One Seq2Seq, or several as a list, as an ensemble; errors name the argument."""
    members = [models] if isinstance(models, Seq2Seq) else models
    try:
        return Seq2SeqEnsemble(members)
    except (ArgumentError, DTypeError) as e:
        raise type(e)(f"{name}: {e}") from None


class Seq2SeqReranker:
    """Left-to-right and right-to-left :class:`Seq2Seq` models that decode
    together (target-bidirectional reranking, as in Liu et al. 2016 and
    Sennrich et al.'s WMT 2016 systems).

    A right-to-left model is trained on the targets written backwards
    (:func:`reverse_targets`): it writes the last token first, so it sees
    each choice with the other side's context and errs differently. To
    decode, each side's beam search (its models as an ensemble) proposes its
    ``n_best`` hypotheses, the right-to-left ones turned around; every
    distinct candidate is scored
    ``(1 - weight) * mean log p_left(y | x) + weight * mean log p_right(reversed y | x)``
    (:meth:`Seq2Seq.log_likelihood`, the mean over each side's models) and
    the best one is returned. ``weight=0`` trusts the left-to-right models
    alone (and may still pick a right-to-left candidate they score higher
    than their own beam's best).

    >>> left = [l2r_a, l2r_b]                 # fit on (src, tgt)
    >>> right = [r2l_a, r2l_b]                # fit on (src, reverse_targets(tgt))
    >>> Seq2SeqReranker(left, right).predict(src, max_length=10, beam_width=4)
    """

    def __init__(self, left_to_right: Any, right_to_left: Any, weight: float = 0.5) -> None:
        self.left_to_right = _ensemble("left_to_right", left_to_right)
        self.right_to_left = _ensemble("right_to_left", right_to_left)
        first, other = self.left_to_right.models[0], self.right_to_left.models[0]
        for key in ("tgt_vocab", "bos_id", "eos_id"):
            if other.config[key] != first.config[key]:
                raise ArgumentError(f"right_to_left: the models must share {key} with left_to_right: expected "
                                    f"{first.config[key]}, got {other.config[key]}")
        if other.dtype != first.dtype:
            raise DTypeError(f"right_to_left: expected the dtype of left_to_right ({first.dtype}), got {other.dtype}")
        if isinstance(weight, bool) or not isinstance(weight, (int, float, np.floating, np.integer)):
            raise DTypeError(f"weight: expected a number in [0, 1], got {type(weight).__name__}")
        if not 0.0 <= float(weight) <= 1.0:
            raise ArgumentError(f"weight: expected a number in [0, 1], got {float(weight)}")
        self.weight = float(weight)

    def __repr__(self) -> str:
        return (f"Seq2SeqReranker({len(self.left_to_right)} left-to-right, {len(self.right_to_left)} right-to-left, "
                f"weight={self.weight})")

    def predict(self, x: Any, max_length: Optional[int] = None, beam_width: int = 4, n_best: Optional[int] = None,
                batch_size: int = 64) -> np.ndarray:
        """Decoded token ids ``(N, max_length)`` as :meth:`Seq2Seq.predict`
        returns them: for each source the best of both sides' ``n_best``
        (default ``beam_width``) hypotheses."""
        src, max_length, _ = _source_chunks(x, max_length, batch_size)
        beam_width = positive_int("beam_width", beam_width)
        n = beam_width if n_best is None else positive_int("n_best", n_best)
        if n > beam_width:
            raise ArgumentError(f"n_best: expected at most beam_width={beam_width} hypotheses per source, got {n}")
        eos = self.left_to_right.models[0].config["eos_id"]
        left, _ = self.left_to_right.predict_n_best(src, n, max_length, beam_width, batch_size=batch_size)
        right, _ = self.right_to_left.predict_n_best(src, n, max_length, beam_width, batch_size=batch_size)
        right = reverse_targets(right.reshape(-1, max_length), eos).reshape(right.shape)
        # The distinct candidates of each source, in rows of (N·n', max_length); `owner` names their source.
        rows, owner = [], []
        for i in range(len(src)):
            seen = set()
            for row in (*left[i], *right[i]):
                key = row.tobytes()
                if row.any() and key not in seen:
                    seen.add(key)
                    rows.append(row)
                    owner.append(i)
        out = np.zeros((len(src), max_length), np.int64)
        if not rows:
            return out
        cand, owner = np.stack(rows), np.asarray(owner)
        cand_src, cand_back = src[owner], reverse_targets(cand, eos)

        def mean_log_likelihood(models: list, y: np.ndarray) -> np.ndarray:
            return np.mean([m.log_likelihood(cand_src, y, batch_size) for m in models], axis=0)

        score = ((1.0 - self.weight) * mean_log_likelihood(self.left_to_right.models, cand)
                 + self.weight * mean_log_likelihood(self.right_to_left.models, cand_back))
        best = np.full(len(src), -np.inf)
        for j, i in enumerate(owner):  # the first of equal scores wins: the left side's ranking breaks ties
            if score[j] > best[i]:
                best[i], out[i] = score[j], cand[j]
        return out
