"""Writing files so that a crash never leaves a half-written one behind."""

from __future__ import annotations

import os
import re
import tempfile
from typing import Union

_TMP_SUFFIX = ".tmp"


def atomic_write(path: Union[str, os.PathLike], data: Union[bytes, str]) -> None:
    """Writes ``data`` to ``path`` through a temporary file in the same folder,
    flushed to disk, then renamed over ``path``: readers see the old file or
    the new one, never a mix. Text is written as UTF-8.

    The file keeps the mode of the file it replaces; a new file gets the
    default mode under the umask (0644 with umask 022), as ``open`` would give.
    Temporaries left by saves that were killed (their process is gone) are
    removed."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    base = os.path.basename(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    _remove_stale_temporaries(directory, base)
    try:
        mode = os.stat(path).st_mode & 0o7777
    except OSError:
        mode = 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(prefix=f".{base}.{os.getpid()}.", suffix=_TMP_SUFFIX, dir=directory)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def _umask() -> int:
    """The process umask, read without changing it where /proc allows."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _remove_stale_temporaries(directory: str, base: str) -> None:
    """Deletes ``.<base>.<pid>.*.tmp`` files of processes that no longer run
    (a save killed between writing and renaming)."""
    pattern = re.compile(r"^\." + re.escape(base) + r"\.(\d+)\..+" + re.escape(_TMP_SUFFIX) + "$")
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        m = pattern.match(name)
        if m is None or _alive(int(m.group(1))):
            continue
        try:
            os.unlink(os.path.join(directory, name))
        except OSError:
            pass


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True  # another thread's save may be writing it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True
    return True
