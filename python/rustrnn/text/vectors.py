"""Pretrained word vectors: GloVe text, word2vec text and word2vec binary files.

Files are streamed in blocks of a few MiB through the Rust parser (all cores),
so a 400k x 300 GloVe file loads in seconds and never sits in memory twice.
Gzip, xz and bzip2 files are recognised by their first bytes and read
transparently.

Formats:

- ``"glove"``: ``word v1 ... vd`` per line, no header; ``d`` comes from the
  first line.
- ``"word2vec"``: a header line ``count d``, then lines as in GloVe.
- ``"word2vec-binary"``: the same header, then per word: its UTF-8 bytes, a
  space, ``d`` little-endian float32, and optionally a newline.

Words that are not valid UTF-8 are decoded with replacement characters; a word
seen twice keeps its first vector (as gensim does).
"""

from __future__ import annotations

import bz2
import gzip
import os
from typing import Any, BinaryIO, Iterator, Optional, Union

import numpy as np

from .. import _native
from .._checks import as_int, one_of
from ..errors import ArgumentError, DTypeError, ShapeError

__all__ = ["WordVectors", "load_word_vectors"]

FORMATS = ("glove", "word2vec", "word2vec-binary")
_BLOCK = 1 << 22


class WordVectors:
    """Words and their vectors: ``vectors[i]`` belongs to ``words[i]``.

    >>> wv = WordVectors(["a", "b"], np.eye(2, dtype=np.float32))
    >>> wv["b"], "c" in wv, wv.dim
    (array([0., 1.], dtype=float32), False, 2)
    """

    def __init__(self, words: list[str], vectors: np.ndarray) -> None:
        vectors = np.asarray(vectors)
        if vectors.ndim != 2 or vectors.shape[0] != len(words):
            raise ShapeError(f"vectors: expected shape ({len(words)}, dim) for {len(words)} words, got {vectors.shape}")
        self.words = list(words)
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.index = {w: i for i, w in enumerate(self.words)}
        if len(self.index) != len(self.words):
            raise ArgumentError("words: expected distinct words, got duplicates")

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self.index

    def __getitem__(self, word: str) -> np.ndarray:
        try:
            return self.vectors[self.index[word]]
        except KeyError:
            raise KeyError(f"word {word!r} is not among the {len(self)} vectors") from None

    def get(self, word: str, default: Any = None) -> Any:
        i = self.index.get(word)
        return default if i is None else self.vectors[i]

    def most_similar(self, word: str, topn: int = 10, among: Optional[list[str]] = None) -> list[tuple[str, float]]:
        """The ``topn`` words nearest to ``word`` by cosine similarity (``word``
        itself left out), searched among all words or only ``among``."""
        topn = as_int("topn", topn, minimum=1)
        query = self[word].astype(np.float64)
        cands = [w for w in (self.words if among is None else among) if w != word and w in self.index]
        if not cands:
            return []
        mat = self.vectors[[self.index[w] for w in cands]].astype(np.float64)
        norms = np.linalg.norm(mat, axis=1) * np.linalg.norm(query)
        sims = mat @ query / np.where(norms == 0, 1.0, norms)
        best = np.argsort(-sims, kind="stable")[:topn]
        return [(cands[i], float(sims[i])) for i in best]

    def __repr__(self) -> str:
        return f"WordVectors({len(self)} words, dim={self.dim})"


def _read_errors() -> tuple:
    errors: tuple = (EOFError, OSError, ValueError)  # truncated or corrupt compressed data, bad rows
    try:
        import lzma

        errors += (lzma.LZMAError,)
    except ImportError:  # Python built without liblzma: .xz files cannot be opened anyway
        pass
    return errors


_READ_ERRORS = _read_errors()


def _open(path: str) -> BinaryIO:
    """The file's bytes, decompressed if its first bytes say gzip, xz or bzip2."""
    raw = open(path, "rb")
    head = raw.read(6)
    raw.seek(0)
    if head[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    if head == b"\xfd7zXZ\x00":
        import lzma

        return lzma.LZMAFile(raw, "rb")  # type: ignore[return-value]
    if head[:3] == b"BZh":
        return bz2.BZ2File(raw, "rb")  # type: ignore[return-value]
    return raw


def _blocks(f: BinaryIO, first: bytes = b"") -> Iterator[tuple[bytes, bool]]:
    """Blocks of the stream as ``(bytes, at_eof)``."""
    pending = first
    while True:
        data = f.read(_BLOCK)
        if not data:
            yield pending, True
            return
        if pending:
            yield pending, False
        pending = data


#: Longest line (or binary row) read: a 300-d GloVe line is ~3 KB, so more means
#: the input is not a word-vector file (``/dev/zero``, a binary blob).
MAX_LINE = 16 << 20
#: Largest vector size accepted from a header or a first line.
MAX_DIM = 1_000_000


def _line(f: BinaryIO, path: str) -> bytes:
    line = f.readline(MAX_LINE + 1)
    if len(line) > MAX_LINE:
        raise ArgumentError(f"{path}: a line longer than {MAX_LINE} bytes; not a word-vector file")
    return line


def _header(f: BinaryIO, path: str, fmt: str) -> tuple[int, int]:
    line = _line(f, path)
    fields = line.split()
    try:
        count, dim = (int(x) for x in fields)
        if count < 0 or not 1 <= dim <= MAX_DIM:
            raise ValueError
    except ValueError:
        shown = line[:60].decode("utf-8", "replace").rstrip()
        raise ArgumentError(f"{path}:1: expected a header 'count dim' ({fmt} format), got {shown!r}"
                            + (" (a GloVe file has no header: use format='glove')" if len(fields) > 2 else "")) from None
    return count, dim


def _glove_dim(f: BinaryIO, path: str) -> tuple[int, bytes]:
    """The vector size from the first non-blank line, and the bytes read so far."""
    first = b""
    while True:
        line = _line(f, path)
        first += line
        if not line or line.strip():
            break
        if len(first) > MAX_LINE:
            raise ArgumentError(f"{path}: more than {MAX_LINE} bytes of blank lines; not a word-vector file")
    fields = line.split()
    if len(fields) < 2:
        raise ArgumentError(f"{path}: no vectors found (empty file?)")
    if len(fields) - 1 > MAX_DIM:
        raise ArgumentError(f"{path}:1: {len(fields) - 1} values on the first line; at most {MAX_DIM} are accepted")
    if len(fields) == 2 and all(x.isdigit() for x in fields):
        raise ArgumentError(f"{path}:1: looks like a word2vec header {line.strip().decode()!r}; use format='word2vec'")
    return len(fields) - 1, first


def load_word_vectors(
    path: Union[str, os.PathLike],
    format: str = "glove",
    limit: Optional[int] = None,
) -> WordVectors:
    """Reads a word-vector file into :class:`WordVectors` (float32).

    ``limit`` keeps only the first ``limit`` vectors (files are usually sorted by
    frequency) and stops reading there. Malformed input raises
    :class:`~rustrnn.errors.ArgumentError` naming the file and the line (text)
    or the vector (binary).
    """
    path = os.fspath(path)
    if not isinstance(path, str):
        raise DTypeError(f"path: expected a str or os.PathLike, got {type(path).__name__}")
    fmt = one_of("format", format, FORMATS)
    max_rows = None if limit is None else as_int("limit", limit, minimum=0)
    words: list[str] = []
    chunks: list[np.ndarray] = []
    with _open(path) as f:
        try:
            if fmt == "glove":
                count = None
                dim, first = _glove_dim(f, path)
                line = 1
            else:
                count, dim = _header(f, path, fmt)
                first, line = b"", 2
                max_rows = count if max_rows is None else min(max_rows, count)
            parse = _native.vectors_parse_binary if fmt == "word2vec-binary" else _native.vectors_parse_text
            row = 1
            carry = b""
            for block, at_eof in _blocks(f, first):
                if max_rows is not None and len(words) >= max_rows:
                    break
                buf = carry + block if carry else block
                left = None if max_rows is None else max_rows - len(words)
                where = row if fmt == "word2vec-binary" else line
                got, values, used, lines = parse(buf, dim, left, where, at_eof)
                words.extend(got)
                chunks.append(values)
                row += len(got)
                line += lines
                carry = buf[used:]
                if len(carry) > max(MAX_LINE, 8 * dim + 4096):
                    raise ArgumentError(f"{path}: a line (or row) longer than {len(carry)} bytes; not a word-vector file")
        except _READ_ERRORS as e:
            if isinstance(e, ArgumentError) and str(e).startswith(path):
                raise
            raise ArgumentError(f"{path}: {e}") from None
    if count is not None and len(words) < max_rows:
        raise ArgumentError(f"{path}: the header announces {count} vectors, the file has {len(words)}")
    vectors = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    vectors = vectors.reshape(len(words), dim)
    if len(set(words)) != len(words):
        seen: dict[str, int] = {}
        for i, w in enumerate(words):
            seen.setdefault(w, i)
        keep = sorted(seen.values())
        words, vectors = [words[i] for i in keep], vectors[keep]
    return WordVectors(words, vectors)
