"""``rustrnn demo layers``: an LSTM forward and backward pass on random data, with timing."""

from __future__ import annotations

import argparse
import time

import numpy as np

HELP = "LSTM forward/backward on random data, with timing"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seq-len", type=int, default=50)
    p.add_argument("--input-size", type=int, default=128)
    p.add_argument("--hidden-size", type=int, default=256)
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--bidirectional", action="store_true")
    p.add_argument("--repeat", type=int, default=10)
    p.add_argument("--threads", type=int, default=0)


def main(args: argparse.Namespace) -> dict:
    import rustrnn

    B, T, I, H = args.batch, args.seq_len, args.input_size, args.hidden_size
    if args.threads:
        rustrnn.set_num_threads(args.threads)
    rustrnn.manual_seed(0)
    lstm = rustrnn.nn.LSTM(I, H, num_layers=args.layers, bidirectional=args.bidirectional, batch_first=True)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((B, T, I), dtype=np.float32)
    print(f"{lstm}  ({lstm.num_parameters():,} parameters, {rustrnn.get_num_threads()} threads)")

    def step() -> tuple:
        out, (hn, cn) = lstm(x)
        dx, (dh0, dc0) = lstm.backward(np.ones_like(out))
        return out, hn, dx

    out, hn, dx = step()  # warm-up
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    D = 2 if args.bidirectional else 1
    flops = 3 * sum(2 * 4 * H * B * T * D * ((I if l == 0 else D * H) + H) for l in range(args.layers))
    med = float(np.median(times))
    print(f"x {x.shape} -> output {out.shape}, h_n {hn.shape}; dL/dx {dx.shape}")
    print("grad norms: " + ", ".join(f"{k} {np.linalg.norm(v):.3g}" for k, v in list(lstm.grads.items())[:4]))
    print(f"forward+backward: median {med * 1e3:.2f} ms over {args.repeat} runs ({flops / med / 1e9:.1f} GFLOP/s)")
    return {"median_s": med, "gflops": flops / med / 1e9}
