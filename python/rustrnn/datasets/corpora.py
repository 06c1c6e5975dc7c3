"""Text corpora: Shakespeare for character-level models, CMUdict for grapheme-to-phoneme."""

from __future__ import annotations

from functools import lru_cache
from types import MappingProxyType
from typing import Mapping

from .._checks import as_bool
from .._gc import gc_paused
from ._files import read_text

__all__ = ["shakespeare", "cmudict"]


@lru_cache(maxsize=None)
def shakespeare() -> str:
    """Eight plays in plain text (Project Gutenberg, public domain), 1,036,483
    ASCII characters: Hamlet, Macbeth, Othello, King Lear, Romeo and Juliet,
    Julius Caesar, The Tempest, A Midsummer Night's Dream."""
    return read_text("shakespeare.txt.xz")


# word -> its pronunciations, each kept as the file's space-separated phoneme string
Pronunciations = Mapping[str, tuple[str, ...]]


@lru_cache(maxsize=None)
def _cmudict() -> Pronunciations:
    with gc_paused():
        return _parse_cmudict()


def _parse_cmudict() -> Pronunciations:
    table: dict[str, list[tuple[int, str]]] = {}
    for line in read_text("cmudict.dict.xz").split("\n"):
        if "#" in line:  # comments, e.g. "dail(2) D OY1 L # org, irish"
            line = line[: line.index("#")]
        word, _, phones = line.strip().partition(" ")
        if not word or word.startswith(";;;"):
            continue
        number = 1
        if word[-1] == ")" and "(" in word:  # "word(2)": the second pronunciation
            base, _, n = word[:-1].rpartition("(")
            if n.isdigit() and base:
                word, number = base, int(n)
        table.setdefault(word, []).append((number, " ".join(phones.split())))
    return MappingProxyType({w: tuple(p for _, p in sorted(v, key=lambda e: e[0])) for w, v in table.items()})


_NO_DIGITS = str.maketrans("", "", "0123456789")


@lru_cache(maxsize=None)
def _without_stress() -> Pronunciations:
    return MappingProxyType({w: tuple(dict.fromkeys(p.translate(_NO_DIGITS) for p in prons))
                             for w, prons in _cmudict().items()})


def cmudict(stress: bool = True) -> dict[str, list[list[str]]]:
    """The CMU Pronouncing Dictionary (BSD-style licence): 126,052 lowercase
    words -> their pronunciations (135,166 in all), each a list of ARPAbet
    phonemes, the main one first: ``cmudict()["read"] == [["R", "EH1", "D"],
    ["R", "IY1", "D"]]``.

    ``stress=False`` drops the stress digits from vowels (``IY1`` -> ``IY``)
    and then merges pronunciations that became equal. Returns a new dict each
    call (the parsed file is cached).
    """
    table = _cmudict() if as_bool("stress", stress) else _without_stress()
    with gc_paused():
        return {w: [p.split(" ") for p in prons] for w, prons in table.items()}
