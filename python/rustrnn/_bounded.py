"""Reading untrusted input with limits: files that may be endless (``/dev/zero``,
a FIFO) or huge, and JSON that may be deeply nested, give a clear
``RustRnnError`` instead of reading forever, exhausting memory or raising
``RecursionError``."""

from __future__ import annotations

import builtins
import io
import json
import os
import stat
from typing import Any, Type

from .errors import ArgumentError
from .errors import MemoryError as AllocationError

#: Most bytes read from something that is not a regular file (its size is unknown).
STREAM_LIMIT = 256 << 20
#: Deepest JSON nesting accepted in files rustrnn reads (its own files nest < 10 deep).
JSON_MAX_DEPTH = 64

_CHUNK = 1 << 20


def read_bytes(path: Any, what: str, error: Type[Exception] = ArgumentError, limit: int | None = None) -> bytes:
    """The bytes of ``path``: a regular file up to ``limit`` bytes (default: any size
    that can be allocated), anything else (device, FIFO) up to ``STREAM_LIMIT``.
    ``OSError`` (missing file, permissions) propagates unchanged."""
    with open(os.fspath(path), "rb") as f:
        info = os.fstat(f.fileno())
        regular = stat.S_ISREG(info.st_mode)
        cap = (info.st_size if limit is None else min(limit, info.st_size)) if regular else min(limit or STREAM_LIMIT, STREAM_LIMIT)
        if regular and limit is not None and info.st_size > limit:
            raise error(f"{what}: {os.fspath(path)} has {info.st_size} bytes; at most {limit} are read")
        chunks, total = [], 0
        try:
            while total <= cap:
                chunk = f.read(min(_CHUNK, cap + 1 - total))
                if not chunk:
                    break
                chunks.append(chunk)
                total += len(chunk)
            data = b"".join(chunks)
        except builtins.MemoryError as e:
            raise AllocationError(f"{what}: cannot allocate {cap} bytes to read {os.fspath(path)} ({e})") from None
    if total > cap:
        kind = "file" if regular else "stream (not a regular file)"
        raise error(f"{what}: {os.fspath(path)} is a {kind} longer than {cap} bytes; it is not read further")
    return data


def read_stream(f: Any, what: str, name: str, error: Type[Exception] = ArgumentError) -> bytes:
    """All the bytes of the binary file object ``f`` (from its current position),
    bounded like :func:`read_bytes`: what remains of a regular file or of a
    seekable object, anything else (a socket, a pipe, an object that yields
    bytes forever) up to ``STREAM_LIMIT``."""
    if isinstance(f, io.TextIOBase):
        raise ArgumentError(f"{what}: expected a file object opened in binary mode ('rb'), got one in text mode")
    cap = _remaining(f)
    if cap is None:
        cap = STREAM_LIMIT
    chunks, total = [], 0
    try:
        while total <= cap:
            chunk = f.read(min(_CHUNK, cap + 1 - total))
            if not isinstance(chunk, (bytes, bytearray)):
                raise ArgumentError(f"{what}: expected a file object opened in binary mode ('rb'), "
                                    f"got one whose read() returns {type(chunk).__name__}")
            if not chunk:
                break
            chunks.append(bytes(chunk))
            total += len(chunk)
        data = b"".join(chunks) if total <= cap else b""
    except builtins.MemoryError as e:
        raise AllocationError(f"{what}: cannot allocate the bytes read from {name} ({e})") from None
    if total > cap:
        raise error(f"{what}: {name} holds more than {cap} bytes (its declared size or, for a stream, "
                    f"the limit for streams); it is not read further")
    return data


def _remaining(f: Any) -> int | None:
    """Bytes left in ``f`` when its size is known (a regular file, a seekable object), else None."""
    try:
        info = os.fstat(f.fileno())
        if stat.S_ISREG(info.st_mode):
            return max(0, info.st_size - f.tell())
        return None
    except (AttributeError, OSError, ValueError, TypeError):
        pass
    try:
        if not f.seekable():
            return None
        here = f.tell()
        end = f.seek(0, os.SEEK_END)
        f.seek(here)
        return max(0, int(end) - int(here))
    except (AttributeError, OSError, ValueError, TypeError):
        return None


def loads(text: str | bytes, what: str, error: Type[Exception] = ArgumentError, max_depth: int = JSON_MAX_DEPTH) -> Any:
    """``json.loads`` with nesting bounded by ``max_depth``; any failure is ``error``
    naming ``what``."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise error(f"{what}: JSON nested too deeply (more than {max_depth} levels)") from None
    except (ValueError, TypeError) as e:
        raise error(f"{what}: is not JSON ({e})") from None
    depth = _depth(value)
    if depth > max_depth:
        raise error(f"{what}: JSON nested too deeply ({depth} levels, at most {max_depth})")
    return value


def _depth(value: Any) -> int:
    """Nesting depth of a parsed JSON value, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, dict):
            deepest = max(deepest, d)
            stack.extend((x, d + 1) for x in v.values())
        elif isinstance(v, list):
            deepest = max(deepest, d)
            stack.extend((x, d + 1) for x in v)
    return deepest
