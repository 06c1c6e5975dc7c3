"""Pretrained word vectors packaged with rustrnn."""

from __future__ import annotations

from functools import lru_cache

from ..text.vectors import WordVectors, load_word_vectors
from ._files import path_of

__all__ = ["glove_50d"]


@lru_cache(maxsize=None)
def _glove() -> WordVectors:
    with path_of("glove.6B.50d.top20k.txt.xz") as p:
        wv = load_word_vectors(p, format="glove")
    wv.vectors.setflags(write=False)
    return wv


def glove_50d() -> WordVectors:
    """GloVe 6B 50-d vectors (Wikipedia 2014 + Gigaword 5, Stanford NLP, PDDL):
    the 20,000 most frequent lowercase words, most frequent first.

    Returns a new :class:`~rustrnn.text.WordVectors` each call (the parsed file
    is cached), ready for :func:`rustrnn.text.embedding_matrix`.
    """
    wv = _glove()
    return WordVectors(list(wv.words), wv.vectors.copy())
