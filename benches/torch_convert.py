"""A plain PyTorch training loop before and after ``rustrnn.torch.convert(model)``.

The workload of benches/e2e.py written in PyTorch: Embedding(20000, 128) ->
LSTM(128) (or GRU(128)) -> Linear(128, 1), batch 64, sequence 200, Adam,
binary cross-entropy on the logits; samples/s over --steps steps after a
warm-up step. Both variants run with ``torch.set_flush_denormal(True)``, the
same thread count for torch and rustrnn, the same initial weights and batches;
runs alternate (torch.nn, rustrnn, torch.nn, ...) and each figure is the best
of --repeat runs, so load from other processes on a shared machine hits both.

--profile splits one converted step (and torch.nn's, for reference) into its parts: rustrnn's own
forward and backward, the rest of rustrnn.torch's layer call, torch's embedding, head, backward and
Adam; page faults per part; and the CPU time that the process's other threads (torch's OpenMP
workers, which spin after each parallel region) burn while rustrnn computes.

Usage: python benches/torch_convert.py [--threads 1 2] [--cells LSTM GRU] [--steps 10] [--repeat 3] [--cpu-time]
       [--profile]
"""

from __future__ import annotations

import argparse
import collections
import copy
import os
import resource
import threading
import time

import torch

import rustrnn.torch

V, E, H, B, T = 20000, 128, 128, 64, 200


class Classifier(torch.nn.Module):
    def __init__(self, cell: str) -> None:
        super().__init__()
        self.emb = torch.nn.Embedding(V, E)
        self.rnn = getattr(torch.nn, cell)(E, H, batch_first=True)
        self.head = torch.nn.Linear(H, 1)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        _, h = self.rnn(self.emb(tokens))
        h = h[0] if isinstance(h, tuple) else h
        return self.head(h[-1]).squeeze(-1)


def samples_per_s(model: torch.nn.Module, batches: list, clock=time.perf_counter) -> float:
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.BCEWithLogitsLoss()

    def step(x: torch.Tensor, y: torch.Tensor) -> None:
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()

    step(*batches[0])  # warm-up
    t = clock()
    for x, y in batches[1:]:
        step(x, y)
    return B * (len(batches) - 1) / (clock() - t)


def minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def foreign_threads_cpu_ms() -> float:
    """CPU time of the process's threads other than the calling one and rustrnn's workers
    (Linux /proc; 0 elsewhere), in 10 ms ticks."""
    me, total = str(threading.get_native_id()), 0
    try:
        tids = os.listdir("/proc/self/task")
    except OSError:
        return 0.0
    for tid in tids:
        if tid == me:
            continue
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                name, rest = f.read().split("(", 1)[1].rsplit(")", 1)
        except OSError:
            continue
        if not name.startswith("rustrnn-"):
            fields = rest.split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return 1000.0 * total / os.sysconf("SC_CLK_TCK")


class Parts:
    """Per-part totals of time, page faults and (optionally) the CPU time of torch's threads."""

    def __init__(self, clock) -> None:
        self.clock = clock
        self.ms: dict = collections.defaultdict(float)
        self.faults: dict = collections.defaultdict(int)
        self.others: dict = collections.defaultdict(float)

    def timed(self, name: str, f, others: bool = False):
        def wrapper(*a, **k):
            o = foreign_threads_cpu_ms() if others else 0.0
            n, t = minor_faults(), self.clock()
            r = f(*a, **k)
            self.ms[name] += 1000 * (self.clock() - t)
            self.faults[name] += minor_faults() - n
            if others:
                self.others[name] += foreign_threads_cpu_ms() - o
            return r

        return wrapper


class TimedHandle:
    """A rustrnn handle whose forward and backward calls are timed."""

    def __init__(self, handle, parts: Parts) -> None:
        object.__setattr__(self, "_handle", handle)
        object.__setattr__(self, "forward", parts.timed("rustrnn forward", handle.forward, others=True))
        object.__setattr__(self, "backward", parts.timed("rustrnn backward", handle.backward, others=True))

    def __getattr__(self, name: str):
        return getattr(self._handle, name)

    def __setattr__(self, name: str, value) -> None:
        setattr(self._handle, name, value)


def profile(cell: str, converted: bool, batches: list, clock) -> None:
    """Prints one line per part of a training step: ms per step, page faults per step, and for
    rustrnn's calls the CPU ms that torch's other threads (OpenMP workers) burned meanwhile."""
    torch.manual_seed(0)
    model = Classifier(cell)
    if converted:
        rustrnn.torch.convert(model)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    parts = Parts(clock)
    emb = parts.timed("embedding forward", model.emb.forward)
    rnn = parts.timed("recurrent layer forward (incl. rustrnn)", model.rnn.forward)
    backward = parts.timed("backward (incl. rustrnn)", torch.Tensor.backward)
    adam = parts.timed("Adam", opt.step)

    def step(x: torch.Tensor, y: torch.Tensor) -> None:
        opt.zero_grad()
        _, h = rnn(emb(x))
        h = h[0] if isinstance(h, tuple) else h
        backward(loss_fn(model.head(h[-1]).squeeze(-1), y))
        adam()

    step(*batches[0])  # warm-up: makes the native layers
    if converted:
        for layers in model.rnn.__dict__["_rustrnn_layers"].values():
            for layer in layers:
                layer.handle = TimedHandle(layer.handle, parts)
    parts.ms.clear(), parts.faults.clear(), parts.others.clear()
    t = clock()
    whole = parts.timed("step", step)
    for x, y in batches[1:]:
        whole(x, y)
    n = len(batches) - 1
    print(f"{'rustrnn.torch' if converted else 'torch.nn'} {cell}, {torch.get_num_threads()} thread(s): "
          f"{1000 * (clock() - t) / n:.1f} ms per step")
    for name in sorted(parts.ms, key=lambda k: -parts.ms[k]):
        extra = f", torch's other threads meanwhile {parts.others[name] / n:.1f} ms CPU" if name in parts.others else ""
        print(f"  {name:38s} {parts.ms[name] / n:7.1f} ms  {parts.faults[name] // n:6d} page faults{extra}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--cells", nargs="+", default=["LSTM", "GRU"])
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--cpu-time", action="store_true",
                   help="samples per CPU second of this process (time.process_time) instead of per wall second: "
                        "for A/B runs on a shared machine, with 1 thread")
    p.add_argument("--profile", action="store_true",
                   help="instead of the table: where the time of one training step goes, per part")
    args = p.parse_args()
    clock = time.process_time if args.cpu_time else time.perf_counter
    torch.set_flush_denormal(True)
    g = torch.Generator().manual_seed(0)
    batches = [(torch.randint(1, V, (B, T), generator=g), torch.randint(0, 2, (B,), generator=g).float())
               for _ in range(args.steps + 1)]
    if args.profile:
        for cell in args.cells:
            for threads in args.threads:
                torch.set_num_threads(threads)
                for converted in (False, True):
                    profile(cell, converted, batches, clock)
        return
    print(f"torch {torch.__version__}, rustrnn {rustrnn.__version__}; B={B} T={T} E={E} H={H}, {args.steps} steps, "
          f"best of {args.repeat}; {'CPU' if args.cpu_time else 'wall'} time")
    print("| cell | threads | torch.nn samples/s | after convert samples/s | speed-up |")
    print("|---|---|---|---|---|")
    for cell in args.cells:
        for threads in args.threads:
            torch.set_num_threads(threads)
            torch.manual_seed(0)
            base = Classifier(cell)
            best = {"torch": 0.0, "rustrnn": 0.0}
            for _ in range(args.repeat):
                for name in ("torch", "rustrnn"):
                    model = copy.deepcopy(base)
                    if name == "rustrnn":
                        rustrnn.torch.convert(model)
                    best[name] = max(best[name], samples_per_s(model, batches, clock))
            print(f"| {cell} | {threads} | {best['torch']:.1f} | {best['rustrnn']:.1f} | "
                  f"{best['rustrnn'] / best['torch']:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
