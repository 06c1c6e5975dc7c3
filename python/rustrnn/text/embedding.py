"""Pretrained vectors as the initial weights of an embedding layer."""

from __future__ import annotations

import math
from typing import Any, Mapping, NamedTuple, Optional, Union

import numpy as np

from .._checks import as_bool, as_int, one_of
from ..errors import ArgumentError, DTypeError
from .tokenizer import Tokenizer
from .vectors import WordVectors

__all__ = ["embedding_matrix", "EmbeddingCoverage"]


class EmbeddingCoverage(NamedTuple):
    """How much of a vocabulary the pretrained vectors cover (the padding row
    and the ``oov_token`` row are not counted)."""

    hits: int
    """Words that got a pretrained vector."""
    misses: int
    """Words initialised by ``init`` instead."""
    rate: float
    """``hits / (hits + misses)`` (1.0 for an empty vocabulary)."""
    token_rate: Optional[float]
    """The share of counted occurrences (``tokenizer.word_counts``) whose word got
    a vector; None when only a word index was given."""
    missing: list
    """The words without a vector, by id (most frequent first for a Tokenizer)."""


def embedding_matrix(
    tokenizer: Union[Tokenizer, Mapping[str, int]],
    vectors: Union[WordVectors, tuple],
    num_words: Optional[int] = None,
    init: str = "normal",
    scale: Optional[float] = None,
    seed: Optional[int] = None,
    lowercase_fallback: bool = True,
    return_coverage: bool = False,
) -> Any:
    """A ``(rows, dim)`` float32 matrix whose row ``i`` is the vector of the word with id ``i``.

    ``tokenizer`` is a fitted :class:`Tokenizer` or a ``word -> id`` mapping;
    ``vectors`` is :class:`WordVectors` or a ``(words, matrix)`` pair.
    ``rows`` is ``num_words``, else the tokenizer's ``num_words``, else the
    largest id + 1 (``len(word_index) + 1`` for a Tokenizer): the ``input_dim``
    of the embedding layer. Row 0 (padding) is all zeros; a word without a
    vector (also after trying ``word.lower()`` when ``lowercase_fallback``) gets:

    - ``init="normal"``: N(mean, std) of all loaded vector entries, or N(0, scale);
    - ``init="uniform"``: uniform with that mean and std, or U(-scale, scale);
    - ``init="zeros"``: zeros.

    The draws come from ``numpy.random.default_rng(seed)``. With
    ``return_coverage=True`` returns ``(matrix, EmbeddingCoverage)``.
    """
    word_index, counts, oov_token = _vocabulary(tokenizer)
    wv = vectors if isinstance(vectors, WordVectors) else _as_word_vectors(vectors)
    init = one_of("init", init, ("normal", "uniform", "zeros"))
    if scale is not None:
        if isinstance(scale, bool) or not isinstance(scale, (int, float, np.floating, np.integer)):
            raise DTypeError(f"scale: expected a positive number or None, got {type(scale).__name__}")
        if not (math.isfinite(scale) and scale > 0):
            raise ArgumentError(f"scale: expected a positive finite number, got {scale}")
    lowercase_fallback = as_bool("lowercase_fallback", lowercase_fallback)
    if num_words is None and isinstance(tokenizer, Tokenizer):
        num_words = tokenizer.num_words
    if num_words is None:
        rows = max(word_index.values(), default=0) + 1
    else:
        rows = as_int("num_words", num_words, minimum=1)

    dim = wv.dim
    matrix = _initial(init, rows, dim, wv.vectors, scale, np.random.default_rng(seed))
    hits: list[str] = []
    missing: list[str] = []
    for word, i in sorted(word_index.items(), key=lambda kv: kv[1]):
        if not 0 < i < rows:
            continue
        j = wv.index.get(word)
        if j is None and lowercase_fallback:
            j = wv.index.get(word.lower())
        if j is not None:
            matrix[i] = wv.vectors[j]
        if word == oov_token:
            continue
        (hits if j is not None else missing).append(word)
    matrix[0] = 0.0
    if not return_coverage:
        return matrix
    total = len(hits) + len(missing)
    token_rate = None
    if counts is not None:
        covered = sum(counts.get(w, 0) for w in hits)
        seen = covered + sum(counts.get(w, 0) for w in missing)
        token_rate = covered / seen if seen else 1.0
    coverage = EmbeddingCoverage(len(hits), len(missing), len(hits) / total if total else 1.0, token_rate, missing)
    return matrix, coverage


def _vocabulary(tokenizer: Any) -> tuple[Mapping[str, int], Optional[Mapping[str, int]], Optional[str]]:
    if isinstance(tokenizer, Tokenizer):
        if not tokenizer.word_index:
            raise ArgumentError("tokenizer: the tokenizer has no words yet: call fit_on_texts first")
        return tokenizer.word_index, tokenizer.word_counts, tokenizer.oov_token
    if isinstance(tokenizer, Mapping):
        for w, i in tokenizer.items():
            if not isinstance(w, str) or isinstance(i, bool) or not isinstance(i, (int, np.integer)):
                raise DTypeError(f"tokenizer: expected a Tokenizer or a mapping of str -> int, got an entry {w!r}: {i!r}")
            if i < 0:
                raise ArgumentError(f"tokenizer: expected ids >= 0, got {w!r}: {i}")
        return tokenizer, None, None
    raise DTypeError(f"tokenizer: expected a Tokenizer or a mapping of str -> int, got {type(tokenizer).__name__}")


def _as_word_vectors(vectors: Any) -> WordVectors:
    if isinstance(vectors, tuple) and len(vectors) == 2:
        return WordVectors(list(vectors[0]), np.asarray(vectors[1], dtype=np.float32))
    raise DTypeError(f"vectors: expected WordVectors or a (words, matrix) pair, got {type(vectors).__name__}")


def _initial(init: str, rows: int, dim: int, known: np.ndarray, scale: Optional[float],
             rng: np.random.Generator) -> np.ndarray:
    if init == "zeros":
        return np.zeros((rows, dim), np.float32)
    if scale is None:
        mean = float(known.mean(dtype=np.float64)) if known.size else 0.0
        std = float(known.std(dtype=np.float64)) if known.size else 1.0
    else:
        mean, std = 0.0, None
    if init == "normal":
        out = rng.normal(mean, scale if std is None else std, size=(rows, dim))
    else:
        half = scale if std is None else math.sqrt(3.0) * std
        out = rng.uniform(mean - half, mean + half, size=(rows, dim))
    return out.astype(np.float32)
