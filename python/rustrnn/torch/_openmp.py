"""Puts torch's idle OpenMP workers away before rustrnn's threads compute.

After every parallel operation, torch's OpenMP workers busy-wait for a while
before they sleep (libgomp's default: ~300,000 spin rounds, milliseconds), in
case another parallel region follows at once. When rustrnn's layer runs right
after such an operation (the embedding lookup before the forward, the head's
backward before BPTT), a spinning worker holds a core that rustrnn's threads
need (on two AMD Zen 4 cores a converted training step took 6-8% more time
for the LSTM, 13-15% for the GRU). ``OMP_WAIT_POLICY=passive`` would stop the
spinning too, but slows torch's own operations by 30-40%.

OpenMP 5.0's ``omp_pause_resource_all(omp_pause_soft)`` releases the calling
thread's idle workers at once (libgomp ends them; LLVM's and Intel's runtimes
put them to sleep); torch's next parallel operation starts them again, tens of
microseconds per worker. rustrnn calls it before a layer call large enough to
share its steps among several threads, so that its threads find the cores free.

Linux only (the runtime is found among the process's mapped libraries); elsewhere,
or if the runtime lacks the function, nothing is done.
"""

from __future__ import annotations

import ctypes
import os
import re
from typing import Callable, Optional

OMP_PAUSE_SOFT = 1  # omp_pause_resource_t: omp_pause_soft = 1, omp_pause_hard = 2

# The OpenMP runtimes torch builds ship: libgomp (PyPI wheels, as libgomp-<hash>.so.1), LLVM's libomp,
# Intel's libiomp5.
_RUNTIME = re.compile(r"^lib(gomp|omp|iomp5)([-.].*)?\.so")

_pause: Optional[Callable[[int], int]] = None
_looked = False


def _find_pause() -> Optional[Callable[[int], int]]:
    """``omp_pause_resource_all`` of the OpenMP runtime loaded in this process, if any."""
    try:
        with open("/proc/self/maps") as f:
            paths = sorted({line.split()[-1] for line in f if "/" in line})
    except OSError:
        return None
    for path in paths:
        if not path.startswith("/") or not _RUNTIME.match(os.path.basename(path)):
            continue
        try:
            lib = ctypes.CDLL(path, mode=os.RTLD_NOLOAD | os.RTLD_LAZY)  # already loaded: no second copy
            fn = lib.omp_pause_resource_all
        except (OSError, AttributeError):
            continue
        fn.argtypes = [ctypes.c_int]
        fn.restype = ctypes.c_int
        return fn
    return None


def release_workers() -> bool:
    """Releases the calling thread's idle OpenMP workers; ``True`` if the runtime did."""
    global _pause, _looked
    if not _looked:
        _pause, _looked = _find_pause(), True
    return _pause is not None and _pause(OMP_PAUSE_SOFT) == 0
