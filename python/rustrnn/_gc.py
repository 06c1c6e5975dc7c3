"""Pausing the cyclic garbage collector while building many small containers
(a million lists of ids, a dict of 126k pronunciations): they hold no cycles,
and the collector's repeated passes over them would cost more than building them."""

from __future__ import annotations

import contextlib
import gc
from typing import Iterator


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
