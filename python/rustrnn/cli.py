"""The ``rustrnn`` command (also ``python -m rustrnn``)."""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def _demo_layers(args: argparse.Namespace) -> int:
    """Builds an LSTM, runs forward and backward on random data, prints shapes and timing."""
    import rustrnn

    B, T, I, H = args.batch, args.seq_len, args.input_size, args.hidden_size
    if args.threads:
        rustrnn.set_num_threads(args.threads)
    rustrnn.manual_seed(0)
    lstm = rustrnn.nn.LSTM(I, H, num_layers=args.layers, bidirectional=args.bidirectional)
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
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rustrnn", description="Fast, exact RNN/LSTM/GRU on the CPU.")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run a demonstration")
    demo_sub = demo.add_subparsers(dest="demo", required=True)
    lay = demo_sub.add_parser("layers", help="LSTM forward/backward on random data, with timing")
    lay.add_argument("--batch", type=int, default=32)
    lay.add_argument("--seq-len", type=int, default=50)
    lay.add_argument("--input-size", type=int, default=128)
    lay.add_argument("--hidden-size", type=int, default=256)
    lay.add_argument("--layers", type=int, default=1)
    lay.add_argument("--bidirectional", action="store_true")
    lay.add_argument("--repeat", type=int, default=10)
    lay.add_argument("--threads", type=int, default=0)
    lay.set_defaults(run=_demo_layers)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (ValueError, TypeError, OSError) as e:
        print(f"rustrnn: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
