"""Data-parallel scaling of the benches/e2e.py fit workload, and a cost model
for more machines.

Embedding(20000, 128) -> LSTM(128) -> Dense(1, sigmoid), global batch 64,
T = 200, Adam, float32: samples/s of 1 process x 1 thread against
``mpiexec -n N`` x 1 thread (rustrnn.distributed.DataParallel), the time per
step spent in the gradient allreduce, and the ring-allreduce prediction for 8
and 64 machines on 10 and 25 Gbit/s.

Usage: python benches/scaling.py [--ranks 2] [--steps 20] [--repeat 2] [--json]
(it starts ``mpiexec`` itself; needs pip install 'rustrnn[mpi]').
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import time

import numpy as np

V, E, H, B, T = 20000, 128, 128, 64, 200
LATENCY_S = 30e-6  # one message on a cluster network (TCP, 10-25 GbE), per ring step


def _model():
    import rustrnn
    from rustrnn import layers

    rustrnn.manual_seed(0)
    m = rustrnn.Sequential([layers.Embedding(V, E), layers.LSTM(H), layers.Dense(1, activation="sigmoid")])
    m.compile(optimizer="adam", loss="binary_crossentropy")
    return m


def _data(steps):
    rng = np.random.default_rng(0)
    x = rng.integers(1, V, size=(B * (steps + 1), T))
    y = rng.integers(0, 2, size=(B * (steps + 1), 1)).astype(np.float32)
    return x, y


def run(steps: int, distribution=None) -> dict:
    """Samples/s (global) of `steps` steps after a warm-up step, and the allreduce share."""
    x, y = _data(steps)
    m = _model()
    m.fit(x[:B], y[:B], batch_size=B, epochs=1, verbose=0, distribution=distribution)  # warm-up
    if distribution is not None:
        distribution.comm.Barrier()
        distribution.allreduce_seconds, distribution.steps = 0.0, 0
    t = time.perf_counter()
    m.fit(x[B:], y[B:], batch_size=B, epochs=1, verbose=0, shuffle=False, distribution=distribution)
    took = time.perf_counter() - t
    out = {"samples_per_s": B * steps / took, "step_s": took / steps, "params": m.count_params()}
    if distribution is not None:
        out["allreduce_s_per_step"] = distribution.allreduce_seconds / max(1, distribution.steps)
    return out


def worker(steps: int, repeat: int) -> None:
    import rustrnn
    from rustrnn.distributed import DataParallel

    rustrnn.set_num_threads(1)
    dp = DataParallel()
    best = max((run(steps, dp) for _ in range(repeat)), key=lambda r: r["samples_per_s"])
    # The slowest rank's allreduce wait includes waiting for the others; report the mean.
    best["allreduce_s_per_step"] = dp.comm.allreduce(best["allreduce_s_per_step"]) / dp.size
    # The allreduce alone (after a barrier, so no waiting for a slower rank), same buffer size.
    from mpi4py import MPI

    buf = np.ones(best["params"] + 3, dtype=np.float32)
    times = []
    for _ in range(10):
        dp.comm.Barrier()
        t = time.perf_counter()
        dp.comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
        times.append(time.perf_counter() - t)
    best["pure_allreduce_s"] = dp.comm.allreduce(min(times)) / dp.size
    if dp.rank == 0:
        print(json.dumps(best))


def cost_model(compute_per_sample_s: float, grad_bytes: float) -> list:
    """Ring allreduce: 2 (N-1)/N x bytes / bandwidth + 2 (N-1) x latency, against the
    compute of a step, with per-machine batch b (one core per machine, as measured)."""
    rows = []
    for gbit in (10, 25):
        bw = gbit * 1e9 / 8
        for n in (8, 64):
            t_ar = 2 * (n - 1) / n * grad_bytes / bw + 2 * (n - 1) * LATENCY_S
            b_local = B / n
            t_c = b_local * compute_per_sample_s
            # Communication under 10% of a step: t_ar <= 0.1 (t_c + t_ar), i.e. t_c >= 9 t_ar.
            b_min = 9 * t_ar / compute_per_sample_s
            rows.append({"gbit": gbit, "machines": n, "allreduce_ms": 1e3 * t_ar, "compute_ms_at_global_64": 1e3 * t_c,
                         "speedup_at_global_64": n * t_c / (t_c + t_ar) if t_c else 0.0,
                         "batch_per_machine_for_10pct": b_min, "global_batch_for_10pct": b_min * n})
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ranks", type=int, default=2)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--json", action="store_true")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args.steps, args.repeat)
        return
    import rustrnn

    rustrnn.set_num_threads(1)
    one = max((run(args.steps) for _ in range(args.repeat)), key=lambda r: r["samples_per_s"])
    mpiexec = pathlib.Path(sys.executable).parent / "mpiexec"
    env = dict(os.environ, RUSTRNN_NUM_THREADS="1")
    out = subprocess.run([str(mpiexec if mpiexec.exists() else "mpiexec"), "-n", str(args.ranks), sys.executable, __file__, "--worker",
                          "--steps", str(args.steps), "--repeat", str(args.repeat)], capture_output=True, text=True, env=env, check=True)
    many = json.loads(out.stdout.strip().splitlines()[-1])
    grad_bytes = 4.0 * one["params"]
    per_sample = one["step_s"] / B
    res = {"uptime": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(), "one": one, "ranks": args.ranks,
           "many": many, "speedup": many["samples_per_s"] / one["samples_per_s"], "gradient_bytes": grad_bytes,
           "measured_allreduce_share": many["allreduce_s_per_step"] / many["step_s"], "model": cost_model(per_sample, grad_bytes)}
    if args.json:
        print(json.dumps(res, indent=1))
        return
    print(f"load: {res['uptime']}")
    print(f"1 process x 1 thread : {one['samples_per_s']:.1f} samples/s ({1e3 * one['step_s']:.0f} ms/step)")
    print(f"{args.ranks} ranks x 1 thread    : {many['samples_per_s']:.1f} samples/s ({1e3 * many['step_s']:.0f} ms/step), "
          f"x{res['speedup']:.2f}; allreduce {1e3 * many['allreduce_s_per_step']:.2f} ms/step "
          f"({100 * res['measured_allreduce_share']:.1f}% of a step, waiting for the slower rank included; the allreduce alone: "
          f"{1e3 * many['pure_allreduce_s']:.2f} ms) for {grad_bytes / 1e6:.1f} MB of gradients")
    for r in res["model"]:
        print(f"{r['machines']:3d} machines, {r['gbit']:2d} Gbit/s: allreduce {r['allreduce_ms']:.1f} ms vs compute "
              f"{r['compute_ms_at_global_64']:.1f} ms at global batch 64 (x{r['speedup_at_global_64']:.1f}); "
              f"comm < 10% from {r['batch_per_machine_for_10pct']:.0f} samples/machine (global {r['global_batch_for_10pct']:.0f})")


if __name__ == "__main__":
    main()
