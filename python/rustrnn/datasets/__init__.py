"""Small real datasets, packaged with rustrnn and loaded offline.

================  =============================  ===============  ==========================================
loader            returns                        size             source (licence)
================  =============================  ===============  ==========================================
movie_reviews()   (texts, labels)                8,454 texts      Pang & Lee snippets, VADER ratings (MIT)
tweets()          (texts, labels)                4,196 texts      VADER tweet ratings (MIT)
amazon_reviews()  (texts, labels)                3,610 texts      VADER Amazon-review ratings (MIT)
shakespeare()     str                            1,036,483 chars  Project Gutenberg, 8 plays (public domain)
cmudict()         {word: [[phoneme, ...], ...]}  126,052 words    CMU Pronouncing Dictionary (BSD-style)
glove_50d()       WordVectors                    20,000 x 50      Stanford GloVe 6B (PDDL)
air_passengers()  (dates, values)                144 months       Box & Jenkins (public domain)
sunspots()        (years, values)                309 years        statsmodels datasets (public domain)
co2()             (dates, values)                2,284 weeks      statsmodels datasets (public domain)
================  =============================  ===============  ==========================================

Labels are int64 arrays, 1 positive and 0 negative. Dates are ``datetime64``
arrays, values float64. Each file is parsed once per process (cached); every
call returns fresh copies, so changing them does not affect the next call.
``describe()`` returns this table; ``data/README.md`` has sources and sizes.
"""

from .corpora import cmudict, shakespeare
from .embeddings import glove_50d
from .sentiment import amazon_reviews, movie_reviews, tweets
from .series import air_passengers, co2, sunspots

__all__ = [
    "movie_reviews",
    "tweets",
    "amazon_reviews",
    "shakespeare",
    "cmudict",
    "glove_50d",
    "air_passengers",
    "sunspots",
    "co2",
    "describe",
]


def describe() -> str:
    """The table of datasets: loader, return value, size, source and licence."""
    doc = __doc__ or ""
    start = doc.index("=====")
    end = doc.index("\n\n", start)
    return doc[start:end]
