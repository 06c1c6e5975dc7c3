"""A/B of the recurrent layers' training step (forward + BPTT) between two builds of rustrnn, by CPU time.

    python benches/cells_ab.py PATH_A PATH_B [--rounds 5]

PATH_A/PATH_B are folders holding a built ``rustrnn`` package (e.g. another checkout's ``python/``).
Each round runs every case once in a fresh interpreter per build, alternating A and B, on one thread;
reports the median CPU seconds per step (process time: meaningful on a loaded machine) and B/A.
Cases: LSTM, GRU, GRU(reset_after=False), SimpleRNN with Keras's default activations (the fused kernels)
and, where B supports them, LSTM/GRU with other activations (the generic path).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

CHILD = r"""
import json, sys, time
import numpy as np
import rustrnn
from rustrnn import layers as L
rustrnn.set_num_threads(1)
cases = {
    "lstm": lambda: L.LSTM(128, return_sequences=True),
    "gru": lambda: L.GRU(128, return_sequences=True),
    "gru_reset_before": lambda: L.GRU(128, reset_after=False, return_sequences=True),
    "simple_rnn": lambda: L.SimpleRNN(128, return_sequences=True),
    "lstm_hard_sigmoid": lambda: L.LSTM(128, recurrent_activation="hard_sigmoid", return_sequences=True),
    "gru_relu": lambda: L.GRU(128, activation="relu", return_sequences=True),
}
out = {}
x = np.random.default_rng(0).normal(size=(32, 50, 64)).astype("float32")
y = np.zeros((32, 50, 1), "float32")
for name, make in cases.items():
    try:
        layer = make()
    except Exception:
        continue
    rustrnn.manual_seed(0)
    m = rustrnn.Sequential([layer, L.Dense(1)])
    m.compile(optimizer="sgd", loss="mse")
    m.loss_and_gradients(x, y)
    times = []
    for _ in range(7):
        t = time.process_time()
        m.loss_and_gradients(x, y)
        times.append(time.process_time() - t)
    out[name] = sorted(times)[3]
print(json.dumps(out))
"""


def run(path):
    env = dict(os.environ, PYTHONPATH=path, RUSTRNN_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    res = {"a": {}, "b": {}}
    for _ in range(args.rounds):
        for side in ("a", "b"):
            for k, v in run(getattr(args, side)).items():
                res[side].setdefault(k, []).append(v)
    print(f"{'case':20s} {'A ms':>8s} {'B ms':>8s} {'B/A':>6s}")
    for k in res["b"]:
        b = statistics.median(res["b"][k]) * 1e3
        a = statistics.median(res["a"][k]) * 1e3 if k in res["a"] else float("nan")
        print(f"{k:20s} {a:8.2f} {b:8.2f} {b / a:6.3f}")


if __name__ == "__main__":
    main()
