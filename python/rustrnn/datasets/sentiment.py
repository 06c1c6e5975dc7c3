"""Sentence-level sentiment: texts with binary labels (1 positive, 0 negative).

Sentences rated by humans for the VADER sentiment lexicon (vaderSentiment
3.3.2, MIT licence); the label is the sign of the mean human score, and
sentences with a mean of exactly zero were left out.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ._files import read_text

__all__ = ["movie_reviews", "tweets", "amazon_reviews"]


@lru_cache(maxsize=None)
def _load(name: str) -> tuple[tuple[str, ...], np.ndarray]:
    lines = read_text(name).split("\n")
    if lines[0] != "label\tscore\ttext":
        raise RuntimeError(f"{name}: unexpected header {lines[0]!r}")  # a broken package, not user error
    texts, labels = [], []
    for line in lines[1:]:
        if line:
            label, _score, text = line.split("\t", 2)
            labels.append(int(label))
            texts.append(text)
    arr = np.array(labels, dtype=np.int64)
    arr.setflags(write=False)
    return tuple(texts), arr


def _copy(name: str) -> tuple[list[str], np.ndarray]:
    texts, labels = _load(name)
    return list(texts), labels.copy()


def movie_reviews() -> tuple[list[str], np.ndarray]:
    """8,454 movie-review snippets (Pang & Lee) and labels (4,173 positive).

    Returns ``(texts, labels)``: a new list of str and an int64 array each call.
    """
    return _copy("movie_reviews.tsv.xz")


def tweets() -> tuple[list[str], np.ndarray]:
    """4,196 tweets and labels (2,897 positive)."""
    return _copy("tweets.tsv.xz")


def amazon_reviews() -> tuple[list[str], np.ndarray]:
    """3,610 Amazon product-review sentences and labels (2,128 positive)."""
    return _copy("amazon_reviews.tsv.xz")
