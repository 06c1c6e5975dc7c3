"""A plain PyTorch training loop before and after ``rustrnn.torch.convert(model)``.

The workload of benches/e2e.py written in PyTorch: Embedding(20000, 128) ->
LSTM(128) (or GRU(128)) -> Linear(128, 1), batch 64, sequence 200, Adam,
binary cross-entropy on the logits; samples/s over --steps steps after a
warm-up step. Both variants run with ``torch.set_flush_denormal(True)``, the
same thread count for torch and rustrnn, the same initial weights and batches;
runs alternate (torch.nn, rustrnn, torch.nn, ...) and each figure is the best
of --repeat runs, so load from other processes on a shared machine hits both.

Usage: python benches/torch_convert.py [--threads 1 2] [--cells LSTM GRU] [--steps 10] [--repeat 3] [--cpu-time]
"""

from __future__ import annotations

import argparse
import copy
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


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--cells", nargs="+", default=["LSTM", "GRU"])
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--cpu-time", action="store_true",
                   help="samples per CPU second of this process (time.process_time) instead of per wall second: "
                        "for A/B runs on a shared machine, with 1 thread")
    args = p.parse_args()
    clock = time.process_time if args.cpu_time else time.perf_counter
    torch.set_flush_denormal(True)
    g = torch.Generator().manual_seed(0)
    batches = [(torch.randint(1, V, (B, T), generator=g), torch.randint(0, 2, (B,), generator=g).float())
               for _ in range(args.steps + 1)]
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
