"""Sentence-level sentiment: texts with binary labels (1 positive, 0 negative).

Sentences rated by humans for the VADER sentiment lexicon (vaderSentiment
3.3.2, MIT licence); the label is the sign of the mean human score, and
sentences with a mean of exactly zero were left out.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .._checks import as_bool
from ._files import read_text

__all__ = ["movie_reviews", "tweets", "amazon_reviews"]


@lru_cache(maxsize=None)
def _load(name: str) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    lines = read_text(name).split("\n")
    if lines[0] != "label\tscore\ttext":
        raise RuntimeError(f"{name}: unexpected header {lines[0]!r}")  # a broken package, not user error
    texts, labels, scores = [], [], []
    for line in lines[1:]:
        if line:
            label, score, text = line.split("\t", 2)
            labels.append(int(label))
            scores.append(float(score))
            texts.append(text)
    arr = np.array(labels, dtype=np.int64)
    sc = np.array(scores, dtype=np.float64)
    arr.setflags(write=False)
    sc.setflags(write=False)
    return tuple(texts), arr, sc


def _copy(name: str, scores: bool) -> tuple:
    texts, labels, sc = _load(name)
    if as_bool("scores", scores):
        return list(texts), labels.copy(), sc.copy()
    return list(texts), labels.copy()


def movie_reviews(scores: bool = False) -> tuple:
    """8,454 movie-review snippets (Pang & Lee) and labels (4,173 positive).

    Returns ``(texts, labels)``: a new list of str and an int64 array each call;
    with ``scores=True``, ``(texts, labels, scores)``, where ``scores`` (float64)
    is the mean human rating on VADER's -4..4 scale (``labels == (scores > 0)``).
    """
    return _copy("movie_reviews.tsv.xz", scores)


def tweets(scores: bool = False) -> tuple:
    """4,196 tweets and labels (2,897 positive); ``scores`` as in :func:`movie_reviews`."""
    return _copy("tweets.tsv.xz", scores)


def amazon_reviews(scores: bool = False) -> tuple:
    """3,610 Amazon product-review sentences and labels (2,128 positive); ``scores`` as in :func:`movie_reviews`."""
    return _copy("amazon_reviews.tsv.xz", scores)
