"""End-to-end speed: training throughput and generation speed.

(1) fit: Embedding(20000, 128) -> LSTM(128) -> Dense(1, sigmoid), batch 64,
    sequence 200, Adam, binary cross-entropy; samples/s over 20 steps after a
    warm-up step (the same workload as shared/reference/e2e_timings.py).
(2) generation: Embedding(65, 64) -> 2x LSTM(256) -> Dense(65), batch 1,
    500 sampled tokens; tokens/s.

Usage: python benches/e2e.py [--threads N] [--steps 20] [--tokens 500] [--repeat 3] [--json]
Each figure is the best of --repeat runs (other processes on a shared machine only ever slow a run down).
Reference on 2 cores: PyTorch 166 samples/s and 288 tokens/s; Keras 3 (TF) 248 samples/s.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

import rustrnn
from rustrnn import layers

V, E, H, B, T = 20000, 128, 128, 64, 200


def train_samples_per_s(steps: int) -> float:
    rng = np.random.default_rng(0)
    x = rng.integers(1, V, size=(B * (steps + 1), T))
    y = rng.integers(0, 2, size=(B * (steps + 1), 1)).astype(np.float32)
    rustrnn.manual_seed(0)
    model = rustrnn.Sequential([layers.Embedding(V, E), layers.LSTM(H), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(x[:B], y[:B], batch_size=B, epochs=1, verbose=0)  # warm-up (build, first allocations)
    t = time.perf_counter()
    model.fit(x[B:], y[B:], batch_size=B, epochs=1, verbose=0, shuffle=False)
    return B * steps / (time.perf_counter() - t)


def gen_tokens_per_s(tokens: int) -> float:
    rustrnn.manual_seed(0)
    model = rustrnn.Sequential([layers.Embedding(65, 64), layers.LSTM(256, num_layers=2, return_sequences=True), layers.Dense(65)])
    model.build()
    model.generate([1], 10, seed=0)  # warm-up (prepares the step model)
    t = time.perf_counter()
    out = model.generate([1], tokens, seed=0)
    took = time.perf_counter() - t
    assert out.shape == (tokens,)
    return tokens / took


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--tokens", type=int, default=500)
    p.add_argument("--repeat", type=int, default=3, help="report the best of this many runs")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    rustrnn.set_num_threads(args.threads)
    res = {
        "framework": "rustrnn",
        "version": rustrnn.__version__,
        "threads": rustrnn.get_num_threads(),
        "train_samples_per_s": round(max(train_samples_per_s(args.steps) for _ in range(args.repeat)), 1),
        "gen_tokens_per_s": round(max(gen_tokens_per_s(args.tokens) for _ in range(args.repeat)), 1),
    }
    if args.json:
        print(json.dumps(res))
    else:
        print(f"fit   Embedding(20000,128)->LSTM(128)->Dense(1), batch 64, T=200, Adam: {res['train_samples_per_s']:.1f} samples/s "
              f"({res['threads']} threads; Keras/TF 248, PyTorch 166)")
        print(f"gen   Embedding(65,64)->2xLSTM(256)->Dense(65), batch 1: {res['gen_tokens_per_s']:.1f} tokens/s (PyTorch 288)")


if __name__ == "__main__":
    main()
