"""``pad_sequences`` with the semantics of Keras' function of the same name."""

from __future__ import annotations

import itertools
from typing import Any, Optional, Sequence

import numpy as np

from .._checks import as_int, one_of
from ..errors import DTypeError, ShapeError
from .ragged import RaggedSequences

__all__ = ["pad_sequences"]


def pad_sequences(
    sequences: Sequence[Sequence[Any]],
    maxlen: Optional[int] = None,
    dtype: Any = "int32",
    padding: str = "pre",
    truncating: str = "pre",
    value: Any = 0,
) -> np.ndarray:
    """Pads (or truncates) each sequence to ``maxlen`` and stacks them.

    Returns an array of shape ``(len(sequences), maxlen)`` (plus the shape of
    one element when elements are vectors). ``maxlen=None`` uses the longest
    sequence. ``padding`` puts ``value`` before (``"pre"``, the Keras default)
    or after (``"post"``) a short sequence; ``truncating`` drops the start
    (``"pre"``) or the end (``"post"``) of a long one. Elements are converted to
    ``dtype`` as ``np.asarray(seq, dtype)`` does. Also accepts
    :class:`RaggedSequences` (``Tokenizer.texts_to_ragged``), padded without a
    Python loop.
    """
    padding = one_of("padding", padding, ("pre", "post"))
    truncating = one_of("truncating", truncating, ("pre", "post"))
    if maxlen is not None:
        maxlen = as_int("maxlen", maxlen, minimum=0)
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise DTypeError(f"dtype: expected a NumPy dtype, got {dtype!r}") from None
    if isinstance(value, str) and dtype.kind not in "OUS":
        raise DTypeError(f"value: a str cannot pad an array of dtype {dtype}; use dtype=object or a str dtype")

    if isinstance(sequences, RaggedSequences):
        lengths = sequences.lengths()
        flat = sequences.values
    else:
        seqs = _as_sequence_list(sequences)
        lengths = np.fromiter(map(len, seqs), dtype=np.int64, count=len(seqs))
        flat = _flatten(seqs, int(lengths.sum()), dtype)
        if flat is None:
            return _pad_each(seqs, lengths, maxlen, dtype, padding, truncating, value)
    if maxlen is None:
        maxlen = int(lengths.max()) if len(lengths) else 0
    return _pad_flat(flat, lengths, maxlen, dtype, padding, truncating, value)


def _as_sequence_list(sequences: Any) -> list:
    if isinstance(sequences, (str, bytes)) or not hasattr(sequences, "__len__"):
        raise DTypeError(f"sequences: expected a list of sequences, got {type(sequences).__name__}")
    seqs = list(sequences)
    for i, s in enumerate(seqs):
        if isinstance(s, (str, bytes)) or not hasattr(s, "__len__"):
            raise DTypeError(f"sequences[{i}]: expected a sequence (list, tuple or array), got {type(s).__name__}")
    return seqs


def _flatten(seqs: list, total: int, dtype: np.dtype) -> Optional[np.ndarray]:
    """All elements in one array, or None when they are not plain numbers."""
    if dtype.kind not in "biuf":
        return None
    try:
        return np.fromiter(itertools.chain.from_iterable(seqs), dtype=dtype, count=total)
    except (TypeError, ValueError):
        return None


def _pad_flat(flat: np.ndarray, lengths: np.ndarray, maxlen: int, dtype: np.dtype,
              padding: str, truncating: str, value: Any) -> np.ndarray:
    n = len(lengths)
    out = np.full((n, maxlen) + flat.shape[1:], value, dtype=dtype)
    keep = np.minimum(lengths, maxlen)
    starts = np.cumsum(lengths) - lengths
    src = starts + (lengths - keep if truncating == "pre" else 0)
    dst = maxlen - keep if padding == "pre" else np.zeros(n, np.int64)
    # For every kept element: its row, and its place within the kept run.
    rows = np.repeat(np.arange(n), keep)
    within = np.arange(int(keep.sum())) - np.repeat(np.cumsum(keep) - keep, keep)
    out[rows, np.repeat(dst, keep) + within] = flat[np.repeat(src, keep) + within]
    return out


def _pad_each(seqs: list, lengths: np.ndarray, maxlen: Optional[int], dtype: np.dtype,
              padding: str, truncating: str, value: Any) -> np.ndarray:
    """Keras' own loop, for elements that are vectors or not numbers."""
    if maxlen is None:
        maxlen = int(lengths.max()) if len(lengths) else 0
    sample_shape: tuple = ()
    for s in seqs:
        if len(s):
            sample_shape = np.asarray(s).shape[1:]
            break
    out = np.full((len(seqs), maxlen) + sample_shape, value, dtype=dtype)
    if maxlen == 0:
        return out
    for i, s in enumerate(seqs):
        if not len(s):
            continue
        trunc = np.asarray(s[-maxlen:] if truncating == "pre" else s[:maxlen], dtype=dtype)
        if trunc.shape[1:] != sample_shape:
            raise ShapeError(f"sequences[{i}]: elements have shape {trunc.shape[1:]}, "
                             f"expected {sample_shape} like the first non-empty sequence")
        if padding == "post":
            out[i, :len(trunc)] = trunc
        else:
            out[i, -len(trunc):] = trunc
    return out
