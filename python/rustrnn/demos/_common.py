"""What the demos share: their common flags, a clock, plain result lines."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any, Optional


def add_common(p: argparse.ArgumentParser, epochs: int) -> None:
    p.add_argument("--epochs", type=int, default=None, help=f"maximum training epochs (default {epochs}; early stopping may end sooner)")
    p.add_argument("--seed", type=int, default=0, help="seed of the initialization, shuffling and sampling; the held-out data stay the same (default 0)")
    p.add_argument("--quick", action="store_true", help="tiny data and one epoch: a smoke test that takes seconds")
    p.add_argument("--threads", type=int, default=0, help="compute threads (default: all cores)")


def setup(threads: int, seed: int) -> None:
    import rustrnn

    if threads:
        rustrnn.set_num_threads(threads)
    rustrnn.manual_seed(seed)


def positive(name: str, value: Optional[int], default: int) -> int:
    """``value`` (a flag) or the default; a flag below 1 is a user mistake."""
    from ..cli.errors import UserError

    if value is None:
        return default
    if value < 1:
        raise UserError(f"--{name}: expected a positive integer, got {value}")
    return value


class Clock:
    """Wall time since the demo started."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    def seconds(self) -> float:
        return time.perf_counter() - self.start


def say(*parts: Any) -> None:
    """A result line on stdout (progress bars go to stderr)."""
    print(*parts, flush=True)


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
