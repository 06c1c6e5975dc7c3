"""rustrnn's thread scaling: the same layer call on 1 and on N threads, interleaved.

For each shape and mode the thread counts alternate run by run (1, 2, 1, 2, ...), so
load from other processes hits every count alike; the table gives the minimum and the
median of --repeat runs and the speed-up of each count over 1 thread (minima). Issue 9's
targets: >= 1.8x from 1 to 2 threads at B >= 32, never below 1.0x. rustrnn only (no
torch needed).

Usage: python benches/thread_scaling.py [--shapes main,manytoone] [--threads 1,2] [--repeat 7]
Shapes as in compare_torch.py (cell:T:B:I:H[:layers[:dirs]] or a group name).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rustrnn  # noqa: E402
from compare_torch import MANY_TO_ONE, inputs, make_rustrnn, parse_shapes, rustrnn_steps  # noqa: E402

DEFAULT_SHAPES = "main,manytoone,lstm:200:32:128:128,gru:50:32:128:256"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--shapes", default=DEFAULT_SHAPES)
    p.add_argument("--threads", default="1,2")
    p.add_argument("--modes", default=None, help="fwd,fwd+bwd (default; m2o for the many-to-one shapes)")
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--warmup", type=int, default=1)
    args = p.parse_args()
    counts = [int(t) for t in args.threads.split(",")]
    print(f"uptime: {os.popen('uptime').read().strip()}")
    print(f"rustrnn {rustrnn.__version__}, isa {rustrnn.get_isa()}, threads {counts}, min/median of {args.repeat}")
    cols = ["cell", "T", "B", "I", "H", "mode"] + [f"{n}t ms (min/med)" for n in counts] + [f"x{n}/1" for n in counts[1:]]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for shape in parse_shapes(args.shapes):
        modes = args.modes.split(",") if args.modes else (["m2o"] if shape in MANY_TO_ONE else ["fwd", "fwd+bwd"])
        x, dout = inputs(shape)
        model = make_rustrnn(shape)
        steps = rustrnn_steps(model, x, dout)
        for mode in modes:
            times: dict[int, list[float]] = {n: [] for n in counts}
            for i in range(args.warmup + args.repeat):
                for n in counts:
                    rustrnn.set_num_threads(n)
                    t = time.perf_counter()
                    steps[mode]()
                    if i >= args.warmup:
                        times[n].append((time.perf_counter() - t) * 1e3)
            mins = {n: min(v) for n, v in times.items()}
            cells = [f"{mins[n]:.2f} / {float(np.median(times[n])):.2f}" for n in counts]
            ups = [f"{mins[counts[0]] / mins[n]:.2f}" for n in counts[1:]]
            print(f"| {shape.cell} | {shape.T} | {shape.B} | {shape.I} | {shape.H} | {mode} | " + " | ".join(cells + ups) + " |",
                  flush=True)
    print(f"uptime: {os.popen('uptime').read().strip()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
