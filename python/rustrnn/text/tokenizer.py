"""A Keras-compatible ``Tokenizer`` whose per-character and per-token work runs in Rust.

The semantics are those of ``keras.preprocessing.text.Tokenizer`` (Keras 2):

- a document is lowercased (``str.lower``, if ``lower``), every character of
  ``filters`` is replaced by ``split``, and the result is split on ``split``
  with empty pieces dropped; with ``char_level`` each character is a token and
  ``filters`` is *not* applied; a document given as a list of strings is taken
  as its tokens (only lowercased);
- ``word_index`` ranks words by descending count, ties by first occurrence,
  from 1 (0 is left for padding); ``oov_token``, when set, always gets 1;
- ``num_words`` does not change ``word_index``: conversions keep only ids
  ``< num_words`` and replace the others by the ``oov_token`` id (or drop them).

The JSON of :meth:`Tokenizer.to_json` is the Keras format, so tokenizers move
between Keras and rustrnn both ways.
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict, defaultdict
from typing import Any, Iterable, Optional, Sequence, Union

import numpy as np

from .. import _native
from .._checks import as_bool, as_int, as_str
from .._files import atomic_write
from .._gc import gc_paused
from ..errors import ArgumentError, DTypeError, StateError
from .ragged import RaggedSequences

__all__ = ["Tokenizer", "tokenizer_from_json", "text_to_word_sequence", "KERAS_FILTERS"]

KERAS_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'

Text = Union[str, Sequence[str]]


def _as_texts(texts: Any) -> list:
    """A list of the documents (generators are read once, as Keras allows)."""
    if isinstance(texts, (str, bytes)):
        raise DTypeError(f"texts: expected a list of str, got a single {type(texts).__name__}")
    if isinstance(texts, list):
        return texts
    try:
        return list(texts)
    except TypeError:
        raise DTypeError(f"texts: expected a list of str, got {type(texts).__name__}") from None


def text_to_word_sequence(text: str, filters: str = KERAS_FILTERS, lower: bool = True, split: str = " ") -> list[str]:
    """The tokens of one text, as Keras' function of the same name gives them."""
    text = as_str("text", text)
    return _native.text_tokenize([text], as_str("filters", filters), as_bool("lower", lower), _split(split), False)[0]


def _split(split: Any) -> str:
    split = as_str("split", split)
    if not split:
        raise ArgumentError("split: expected a non-empty separator, got ''")
    return split


def _num_words(value: Any) -> Optional[int]:
    return None if value is None else as_int("num_words", value, minimum=1)


class _WordIndex(dict):
    """``word_index``: a plain dict that drops its native word map (built on
    first use) whenever it changes in place, so edits by hand stay in effect."""

    __slots__ = ("_native",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._native = None

    def encoder(self) -> "_native.TextEncoder":
        if self._native is None:
            self._native = _native.TextEncoder(self)
        return self._native

    def __reduce__(self):  # pickles and copies without the native map
        return (type(self), (dict(self),))


def _invalidating(name: str):
    base = getattr(dict, name)

    def method(self, *args, **kwargs):
        self._native = None
        return base(self, *args, **kwargs)

    method.__name__ = name
    return method


for _name in ("__setitem__", "__delitem__", "__ior__", "clear", "pop", "popitem", "setdefault", "update"):
    setattr(_WordIndex, _name, _invalidating(_name))


class Tokenizer:
    """Turns texts into sequences of word ids (Keras ``Tokenizer`` semantics).

    >>> tok = Tokenizer(oov_token="<unk>")
    >>> tok.fit_on_texts(["The cat sat.", "The dog sat down!"])
    >>> tok.word_index
    {'<unk>': 1, 'the': 2, 'sat': 3, 'cat': 4, 'dog': 5, 'down': 6}
    >>> tok.texts_to_sequences(["the bird sat"])
    [[2, 1, 3]]
    """

    def __init__(
        self,
        num_words: Optional[int] = None,
        filters: str = KERAS_FILTERS,
        lower: bool = True,
        split: str = " ",
        char_level: bool = False,
        oov_token: Optional[str] = None,
        document_count: int = 0,
    ) -> None:
        self.num_words = _num_words(num_words)
        self.filters = as_str("filters", filters)
        self.lower = as_bool("lower", lower)
        self.split = _split(split)
        self.char_level = as_bool("char_level", char_level)
        self.oov_token = None if oov_token is None else as_str("oov_token", oov_token)
        self.document_count = as_int("document_count", document_count, minimum=0)
        self.word_counts: "OrderedDict[str, int]" = OrderedDict()
        self.word_docs: "defaultdict[str, int]" = defaultdict(int)
        self.index_docs: "defaultdict[int, int]" = defaultdict(int)
        self.word_index = {}
        self.index_word: dict[int, str] = {}

    # ``word_index`` is kept as a _WordIndex whatever is assigned to it.
    @property
    def word_index(self) -> dict[str, int]:
        return self._word_index

    @word_index.setter
    def word_index(self, value: dict) -> None:
        if not isinstance(value, dict):
            raise DTypeError(f"word_index: expected a dict of str -> int, got {type(value).__name__}")
        self._word_index = value if isinstance(value, _WordIndex) else _WordIndex(value)

    def _options(self) -> tuple:
        # Read at each call: Keras code often sets e.g. ``tok.num_words`` after fitting.
        return (as_str("filters", self.filters), as_bool("lower", self.lower), _split(self.split),
                as_bool("char_level", self.char_level))

    # ----- fitting ----------------------------------------------------------------------------
    def fit_on_texts(self, texts: Iterable[Text]) -> None:
        """Counts the words of ``texts`` (str, or lists of tokens) and re-ranks ``word_index``.

        Calls accumulate, as in Keras.
        """
        words, counts, docs, n = _native.text_count(_as_texts(texts), *self._options())
        self.document_count += n
        wc, wd = self.word_counts, self.word_docs
        for w, c, d in zip(words, counts, docs):
            wc[w] = wc.get(w, 0) + c
            wd[w] += d
        # Python's sort is stable, so equal counts keep first-occurrence order.
        ranked = sorted(wc.items(), key=lambda kv: kv[1], reverse=True)
        vocab = [] if self.oov_token is None else [self.oov_token]
        vocab.extend(w for w, _ in ranked)
        self.word_index = _WordIndex(zip(vocab, range(1, len(vocab) + 1)))
        self.index_word = {i: w for w, i in self.word_index.items()}
        self.index_docs = defaultdict(int, ((self.word_index[w], c) for w, c in wd.items()))

    # ----- conversions ------------------------------------------------------------------------
    def _encode_args(self) -> tuple:
        num_words = _num_words(self.num_words)
        oov_index = None
        if self.oov_token is not None:
            oov_index = self.word_index.get(self.oov_token)
            if oov_index is None:
                raise StateError(f"oov_token {self.oov_token!r} is not in word_index: call fit_on_texts first")
        return num_words, oov_index

    def texts_to_sequences(self, texts: Iterable[Text]) -> list[list[int]]:
        """The word ids of each text (a list of lists of ints)."""
        num_words, oov_index = self._encode_args()
        encoder, texts = self.word_index.encoder(), _as_texts(texts)
        with gc_paused():
            return encoder.encode(texts, *self._options(), num_words, oov_index)

    def texts_to_sequences_generator(self, texts: Iterable[Text]):
        """Yields the word ids of each text in turn."""
        for text in texts:
            yield self.texts_to_sequences([text])[0]

    def texts_to_ragged(self, texts: Iterable[Text]) -> RaggedSequences:
        """The ids of :meth:`texts_to_sequences` stored flat in NumPy (no Python int
        per id): several times faster for large corpora, and
        :func:`~rustrnn.text.pad_sequences` pads it without a Python loop."""
        num_words, oov_index = self._encode_args()
        ids, offsets = self.word_index.encoder().encode_flat(_as_texts(texts), *self._options(), num_words, oov_index)
        return RaggedSequences(ids, offsets)

    def sequences_to_texts(self, sequences: Iterable[Sequence[int]]) -> list[str]:
        """Joins the words of each sequence with spaces.

        As in Keras, an id that is not in ``index_word`` (padding 0 included) or
        is ``>= num_words`` becomes the ``oov_token`` if there is one, and is
        dropped otherwise; strip padding first if it should not show.
        """
        return list(self.sequences_to_texts_generator(sequences))

    def sequences_to_texts_generator(self, sequences: Iterable[Sequence[int]]):
        num_words = _num_words(self.num_words)
        iw = self.index_word
        oov_index = self.word_index.get(self.oov_token) if self.oov_token is not None else None
        oov_word = iw.get(oov_index) if oov_index is not None else None
        for seq in sequences:
            if isinstance(seq, np.ndarray):
                seq = seq.tolist()
            out = []
            for num in seq:
                word = iw.get(num)
                if word is not None and not (num_words and num >= num_words):
                    out.append(word)
                elif oov_word is not None:
                    out.append(oov_word)
            yield " ".join(out)

    # ----- persistence ------------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """The Keras config: options, counts and indices (the dicts as JSON strings)."""
        return {
            "num_words": self.num_words,
            "filters": self.filters,
            "lower": self.lower,
            "split": self.split,
            "char_level": self.char_level,
            "oov_token": self.oov_token,
            "document_count": self.document_count,
            "word_counts": json.dumps(self.word_counts),
            "word_docs": json.dumps(self.word_docs),
            "index_docs": json.dumps(self.index_docs),
            "index_word": json.dumps(self.index_word),
            "word_index": json.dumps(dict(self.word_index)),
        }

    def to_json(self, **kwargs: Any) -> str:
        """The tokenizer as Keras' JSON (``json.dumps`` keyword arguments pass through)."""
        return json.dumps({"class_name": "Tokenizer", "config": self.get_config()}, **kwargs)

    def save(self, path: Union[str, os.PathLike]) -> None:
        """Writes :meth:`to_json` to ``path`` atomically (a temporary file, then a rename)."""
        atomic_write(path, self.to_json(ensure_ascii=False))

    @classmethod
    def load(cls, path: Union[str, os.PathLike]) -> "Tokenizer":
        """Reads a tokenizer written by :meth:`save` (or Keras' ``to_json``)."""
        from .._bounded import read_bytes

        raw = read_bytes(path, "tokenizer file", limit=1 << 30)
        try:
            data = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ArgumentError(f"{os.fspath(path)}: not a tokenizer JSON file (not UTF-8: {e})") from None
        try:
            return tokenizer_from_json(data)
        except (ValueError, KeyError, TypeError) as e:
            raise ArgumentError(f"{os.fspath(path)}: not a tokenizer JSON file ({e})") from None

    def __repr__(self) -> str:
        return (f"Tokenizer(num_words={self.num_words}, words={len(self.word_counts)}, "
                f"documents={self.document_count}, oov_token={self.oov_token!r})")


def tokenizer_from_json(json_string: str) -> Tokenizer:
    """The tokenizer of a :meth:`Tokenizer.to_json` string (Keras' format)."""
    config = dict(json.loads(as_str("json_string", json_string))["config"])
    word_counts = json.loads(config.pop("word_counts"))
    word_docs = json.loads(config.pop("word_docs"))
    index_docs = {int(k): v for k, v in json.loads(config.pop("index_docs")).items()}
    index_word = {int(k): v for k, v in json.loads(config.pop("index_word")).items()}
    word_index = json.loads(config.pop("word_index"))
    # Newer tf.keras configs carry an ``analyzer`` (None unless a callable was used).
    if config.pop("analyzer", None) is not None:
        raise ArgumentError("json_string: tokenizers with a custom analyzer cannot be restored")
    tok = Tokenizer(**config)
    tok.word_counts = OrderedDict(word_counts)
    tok.word_docs = defaultdict(int, word_docs)
    tok.index_docs = defaultdict(int, index_docs)
    tok.word_index = word_index
    tok.index_word = index_word
    return tok
