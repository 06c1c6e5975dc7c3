"""PyTorch's step loop for the generation benchmark of benches/e2e.py (the reference for issue 9's 30x).

Embedding(65, 64) -> 2x LSTM(256) -> Linear(65), batch 1, one token per step fed back,
sampled from the softmax (torch.multinomial), under torch.no_grad(), flush-to-zero on;
tokens/s, best of --repeat runs of --tokens tokens, at each thread count.

Usage: python benches/torch_generate.py [--threads 1 2] [--tokens 500] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time

import torch

V, E, H = 65, 64, 256


class CharModel(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = torch.nn.Embedding(V, E)
        self.rnn = torch.nn.LSTM(E, H, num_layers=2, batch_first=True)
        self.head = torch.nn.Linear(H, V)

    @torch.no_grad()
    def generate(self, first: int, tokens: int, g: torch.Generator) -> list[int]:
        x = torch.tensor([[first]])
        state = None
        out = []
        for _ in range(tokens):
            y, state = self.rnn(self.emb(x), state)
            probs = torch.softmax(self.head(y[:, -1]), dim=-1)
            x = torch.multinomial(probs, 1, generator=g)
            out.append(int(x))
        return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--tokens", type=int, default=500)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    torch.set_flush_denormal(True)
    torch.manual_seed(0)
    model = CharModel().eval()
    for threads in args.threads:
        torch.set_num_threads(threads)
        model.generate(1, 10, torch.Generator().manual_seed(0))  # warm-up
        best = 0.0
        for _ in range(args.repeat):
            t = time.perf_counter()
            model.generate(1, args.tokens, torch.Generator().manual_seed(0))
            best = max(best, args.tokens / (time.perf_counter() - t))
        print(f"torch {torch.__version__} generation, {threads} thread(s): {best:.1f} tokens/s", flush=True)


if __name__ == "__main__":
    main()
