#!/usr/bin/env python3
"""rustrnn against PyTorch on the CPU: speed, peak memory and agreement.

Both frameworks run in one process with the same thread count, float32,
batch_first, the same weights and the same inputs. For each shape:

* agreement: one training step of each on the same weights; out, h_n, c_n,
  dx and every weight gradient must agree to ``--tol`` (scaled error
  max|a - b| / max(1, max|b|)), else the run stops: a benchmark of wrong
  numbers is worthless;
* forward (``fwd``): eval mode / ``torch.no_grad()``;
* forward+backward (``fwd+bwd``): a training step with a random ``dout``;
  for torch ``out.backward(dout)``, which is ``(out * dout).sum().backward()``
  without the extra element-wise pass, with ``x.requires_grad``;
* many-to-one (``m2o``): the same with ``dout`` zero except at the last step
  (a sentiment-style classifier): the gradient flowing back through T steps
  shrinks into subnormal floats, which stall Intel cores unless flushed.

PyTorch runs at its best: ``torch.set_flush_denormal(True)`` (rustrnn flushes
subnormals by default). ``--no-flush`` runs both without flushing.

Times are the median (and min) of ``--repeat`` runs after ``--warmup`` runs,
the two frameworks alternating run by run so background load hits both alike.
GFLOP/s count the matrix products only: forward = sum over layers of
2·G·H·B·T·D·(I_l + H) with G = 1/3/4 for RNN/GRU/LSTM, fwd+bwd = 3× forward.
``%peak`` divides them by this core's FP32 FMA peak, measured at the start
for the kernel path rustrnn uses (``rustrnn.get_isa()``), times the threads.
``ratio`` is torch ms / rustrnn ms: above 1, rustrnn is faster.

``--memory`` instead measures the peak resident memory of one training step
(module construction, forward, backward) per framework, each in a fresh
subprocess, above the resident memory after imports and input allocation.

PyTorch is optional: without it rustrnn is timed alone. It is never a
dependency of rustrnn, its tests or CI. See benches/README.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import resource
import shlex
import subprocess
import sys
import time
from typing import Callable, Optional

import numpy as np

import rustrnn

try:
    import torch
except ImportError:
    torch = None

GATES = {"lstm": 4, "gru": 3, "rnn_tanh": 1, "rnn_relu": 1}


@dataclasses.dataclass(frozen=True)
class Shape:
    cell: str  # lstm, gru, rnn_tanh or rnn_relu
    T: int
    B: int
    I: int
    H: int
    layers: int = 1
    dirs: int = 1

    @classmethod
    def parse(cls, text: str) -> "Shape":
        """``cell:T:B:I:H[:layers[:dirs]]``, e.g. ``lstm:50:32:128:256``."""
        cell, *dims = text.split(":")
        if cell not in GATES or not 4 <= len(dims) <= 6:
            raise ValueError(f"shape {text!r}: expected cell:T:B:I:H[:layers[:dirs]] with cell one of {', '.join(GATES)}")
        shape = cls(cell, *map(int, dims))
        if shape.dirs not in (1, 2) or min(dataclasses.astuple(shape)[1:]) < 1:
            raise ValueError(f"shape {text!r}: sizes must be positive and dirs 1 or 2")
        return shape

    def __str__(self) -> str:
        extra = f":{self.layers}:{self.dirs}" if (self.layers, self.dirs) != (1, 1) else ""
        return f"{self.cell}:{self.T}:{self.B}:{self.I}:{self.H}{extra}"

    def forward_flops(self) -> int:
        return sum(
            2 * GATES[self.cell] * self.H * self.B * self.T * self.dirs * ((self.I if l == 0 else self.dirs * self.H) + self.H)
            for l in range(self.layers)
        )


SHAPE_GROUPS = {
    # The speed issue's main shapes.
    "main": ["lstm:50:1:128:256", "lstm:50:32:128:256", "lstm:100:64:256:512", "gru:100:64:256:512", "rnn_tanh:100:64:256:512"],
    # DeepBench-style training shapes (I = H).
    "deepbench": [
        *(f"lstm:25:{b}:{h}:{h}" for h in (512, 1024) for b in (16, 32, 64)),
        "gru:25:32:512:512",
        "rnn_relu:50:16:1760:1760",
    ],
    # Batch 1, where per-step overheads dominate.
    "batch1": ["lstm:150:1:256:256", "gru:50:1:128:256", "rnn_tanh:50:1:128:256"],
    # Many-to-one training (timed in mode m2o only unless --modes says otherwise).
    "manytoone": ["lstm:200:64:128:128", "gru:200:64:128:128"],
}
SHAPE_GROUPS["all"] = [s for g in ("main", "deepbench", "batch1", "manytoone") for s in SHAPE_GROUPS[g]]
MANY_TO_ONE = {Shape.parse(s) for s in SHAPE_GROUPS["manytoone"]}


def parse_shapes(text: str) -> list[Shape]:
    shapes: list[Shape] = []
    for item in filter(None, (t.strip() for t in text.split(","))):
        for s in SHAPE_GROUPS.get(item, [item]):
            shape = Shape.parse(s)
            if shape not in shapes:
                shapes.append(shape)
    return shapes


# ----- models and steps ---------------------------------------------------------------------------


def inputs(shape: Shape) -> tuple[np.ndarray, np.ndarray]:
    """x (B, T, I) and dout (B, T, D·H), float32, fixed seed."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((shape.B, shape.T, shape.I), dtype=np.float32)
    dout = rng.standard_normal((shape.B, shape.T, shape.dirs * shape.H), dtype=np.float32)
    return x, dout


def make_rustrnn(shape: Shape):
    kw = dict(num_layers=shape.layers, batch_first=True, bidirectional=shape.dirs == 2, dtype=np.float32)
    if shape.cell.startswith("rnn"):
        return rustrnn.nn.RNN(shape.I, shape.H, nonlinearity=shape.cell[4:], **kw)
    return {"lstm": rustrnn.nn.LSTM, "gru": rustrnn.nn.GRU}[shape.cell](shape.I, shape.H, **kw)


def make_torch(shape: Shape):
    torch.manual_seed(0)
    kw = dict(num_layers=shape.layers, batch_first=True, bidirectional=shape.dirs == 2)
    if shape.cell.startswith("rnn"):
        return torch.nn.RNN(shape.I, shape.H, nonlinearity=shape.cell[4:], **kw)
    return {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[shape.cell](shape.I, shape.H, **kw)


def last_step_only(dout: np.ndarray) -> np.ndarray:
    """dL/dout of a many-to-one model: zero except at the last step."""
    last = np.zeros_like(dout)
    last[:, -1] = dout[:, -1]
    return last


def rustrnn_steps(model, x: np.ndarray, dout: np.ndarray) -> dict[str, Callable[[], object]]:
    dlast = last_step_only(dout)

    def fwd():
        model.eval()
        return model(x)

    def fwd_bwd(d=dout):
        model.train()
        model(x)
        return model.backward(d)

    return {"fwd": fwd, "fwd+bwd": fwd_bwd, "m2o": lambda: fwd_bwd(dlast)}


def torch_steps(model, x: np.ndarray, dout: np.ndarray) -> dict[str, Callable[[], object]]:
    xt, dt, dlast = torch.from_numpy(x), torch.from_numpy(dout), torch.from_numpy(last_step_only(dout))
    xg = xt.clone().requires_grad_(True)

    def fwd():
        model.eval()
        with torch.no_grad():
            return model(xt)

    def fwd_bwd(d=dt):
        model.train()
        xg.grad = None
        out, _ = model(xg)
        out.backward(d)
        return xg.grad

    return {"fwd": fwd, "fwd+bwd": fwd_bwd, "m2o": lambda: fwd_bwd(dlast)}


# ----- agreement ----------------------------------------------------------------------------------


def scaled_error(got, want) -> float:
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return float(np.max(np.abs(got - want)) / max(1.0, float(np.max(np.abs(want)))))


def check_agreement(shape: Shape, tol: float) -> dict[str, float]:
    """One training step of both frameworks on torch's weights; the scaled error of each result."""
    tm = make_torch(shape)
    rm = make_rustrnn(shape)
    rm.load_state_dict(tm.state_dict())
    x, dout = inputs(shape)

    rm.train()
    out_r, state_r = rm(x)
    dx_r, _ = rm.backward(dout)
    xt = torch.from_numpy(x).clone().requires_grad_(True)
    out_t, state_t = tm(xt)
    out_t.backward(torch.from_numpy(dout))

    if shape.cell == "lstm":
        states = {"h_n": (state_r[0], state_t[0]), "c_n": (state_r[1], state_t[1])}
    else:
        states = {"h_n": (state_r, state_t)}
    pairs = {"out": (out_r, out_t), **states, "dx": (dx_r, xt.grad)}
    grads_r = rm.grads
    errors = {k: scaled_error(a, b.detach().numpy()) for k, (a, b) in pairs.items()}
    errors["dW"] = max(scaled_error(grads_r[n], p.grad.numpy()) for n, p in tm.named_parameters())
    bad = {k: v for k, v in errors.items() if not v <= tol}  # NaN fails too
    if bad:
        raise SystemExit(f"{shape}: rustrnn and torch disagree beyond tol {tol:g}: {bad}")
    return errors


# ----- timing -------------------------------------------------------------------------------------

# Between runs of different frameworks: lets the other's worker threads stop
# spinning (OpenMP, rayon) so they do not steal cores from the next run.
SWITCH_PAUSE_S = 0.01
# Median / min above this marks a row noisy: its target verdict is not to be trusted.
NOISY_SPREAD = 1.25


@dataclasses.dataclass
class Row:
    shape: Shape
    threads: int
    mode: str
    rustrnn_ms: float
    rustrnn_min_ms: float
    torch_ms: Optional[float]
    torch_min_ms: Optional[float]
    scaling: Optional[float] = None  # rustrnn speed at `threads` / at 1 thread
    target: str = ""
    peak: Optional[float] = None  # FMA peak GFLOP/s of `threads` cores on rustrnn's path

    @property
    def flops(self) -> int:
        return self.shape.forward_flops() * (1 if self.mode == "fwd" else 3)

    @property
    def ratio(self) -> Optional[float]:
        return None if self.torch_ms is None else self.torch_ms / self.rustrnn_ms

    @property
    def noisy(self) -> bool:
        """A median well above the min: something else took the cores during some runs."""
        pairs = [(self.rustrnn_ms, self.rustrnn_min_ms), (self.torch_ms, self.torch_min_ms)]
        return any(med is not None and med > NOISY_SPREAD * low for med, low in pairs)

    def gflops(self, ms: Optional[float]) -> Optional[float]:
        return None if ms is None else self.flops / ms / 1e6

    def percent_of_peak(self, ms: Optional[float]) -> Optional[float]:
        g = self.gflops(ms)
        return None if g is None or not self.peak else 100.0 * g / self.peak


def time_pair(steps: dict[str, Callable[[], object]], warmup: int, repeat: int) -> dict[str, tuple[float, float]]:
    """(median ms, min ms) of each framework's step, the frameworks alternating."""
    times: dict[str, list[float]] = {name: [] for name in steps}
    for i in range(warmup + repeat):
        for name, step in steps.items():
            time.sleep(SWITCH_PAUSE_S)
            t0 = time.perf_counter()
            step()
            elapsed = time.perf_counter() - t0
            if i >= warmup:
                times[name].append(elapsed * 1e3)
    return {name: (float(np.median(t)), float(np.min(t))) for name, t in times.items()}


def set_threads(n: int) -> None:
    rustrnn.set_num_threads(n)
    if torch is not None:
        torch.set_num_threads(n)


def measure_peak() -> dict[str, float]:
    """This core's FP32 FMA peak in GFLOP/s on each vector path rustrnn has here."""
    from rustrnn import _native

    peaks = {}
    for isa in _native._supported_isas():
        g = _native._fma_peak_gflops(isa, "float32")
        if g is not None:
            peaks[isa] = g
    return peaks


def modes_for(shape: Shape, args) -> list[str]:
    if args.modes_given:
        return args.modes
    return ["m2o"] if shape in MANY_TO_ONE else ["fwd", "fwd+bwd"]


def run_timing(args, shapes: list[Shape]) -> list[Row]:
    rows: list[Row] = []
    for shape in shapes:
        if torch is not None:
            errors = check_agreement(shape, args.tol)
            print(f"# {shape}: agrees with torch (scaled max error " + ", ".join(f"{k} {v:.1e}" for k, v in errors.items()) + ")", flush=True)
        x, dout = inputs(shape)
        rm = make_rustrnn(shape)
        tm = None
        if torch is not None:
            tm = make_torch(shape)
            rm.load_state_dict(tm.state_dict())  # same weights: same numerics (relu, saturation) for both
        for n in args.threads:
            set_threads(n)
            r_steps = rustrnn_steps(rm, x, dout)
            t_steps = torch_steps(tm, x, dout) if tm is not None else {}
            for mode in modes_for(shape, args):
                steps = {"rustrnn": r_steps[mode]}
                if mode in t_steps:
                    steps["torch"] = t_steps[mode]
                res = time_pair(steps, args.warmup, args.repeat)
                t_med, t_min = res.get("torch", (None, None))
                row = Row(shape, n, mode, *res["rustrnn"], t_med, t_min, peak=args.peak_gflops * n if args.peak_gflops else None)
                rows.append(row)
                print(format_table([row], header=len(rows) == 1), flush=True)
    add_scaling_and_targets(rows)
    return rows


# ----- targets of the speed issue -----------------------------------------------------------------


def add_scaling_and_targets(rows: list[Row]) -> None:
    """Fills each row's scaling against 1 thread and whether it meets the speed issue's targets
    (issue 9): B >= 16, every cell, fwd and fwd+bwd: ratio >= 1.2 and the whole pass >= 75% of the
    measured FMA peak; batch 1: ratio >= 2; many-to-one: ratio >= 1.2 (torch with flush-to-zero);
    2 threads at B >= 32: >= 1.8x the 1-thread speed; any thread count: never slower than 1 thread."""
    one_thread = {(r.shape, r.mode): r.rustrnn_ms for r in rows if r.threads == 1}
    for r in rows:
        base = one_thread.get((r.shape, r.mode))
        if r.threads > 1 and base is not None:
            r.scaling = base / r.rustrnn_ms
        misses, judged = [], False
        want = 2.0 if r.shape.B == 1 else 1.2 if r.shape.B >= 16 else None
        if want is not None and r.ratio is not None:
            judged = True
            if r.ratio < want:
                misses.append(f"ratio<{want:g}")
        pct = r.percent_of_peak(r.rustrnn_ms)
        if r.shape.B >= 16 and r.mode != "m2o" and pct is not None:
            judged = True
            if pct < 75:
                misses.append("<75% peak")
        if r.scaling is not None:
            judged = True
            if r.scaling < 1.0:
                misses.append("slower than 1 thread")
            elif r.shape.B >= 32 and r.scaling < 0.9 * r.threads:
                misses.append(f"scaling<{0.9 * r.threads:g}")
        r.target = ("NOT met: " + ", ".join(misses)) if misses else "met" if judged else "n/a"
        if r.noisy:
            r.target += " (noisy)"


# ----- peak memory --------------------------------------------------------------------------------


def _status_kib(field: str) -> Optional[int]:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak_rss() -> bool:
    """Resets the kernel's peak-RSS mark (Linux), so a transient peak during
    the imports cannot hide the step's own."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def memory_child(framework: str, shape: Shape, threads: int) -> None:
    """In a fresh process: resident memory of one training step, printed as
    JSON in KiB: ``step`` above the memory after imports, input allocation and
    a warm-up step at a tiny shape (so the one-time initialisation of thread
    pools and libraries is left out), ``first`` above the memory before that
    warm-up (so it is counted)."""
    if framework == "torch":
        torch.set_num_threads(threads)
        make, steps = make_torch, torch_steps
    else:
        rustrnn.set_num_threads(threads)
        make, steps = make_rustrnn, rustrnn_steps

    def peak_step(s: Shape, x: np.ndarray, dout: np.ndarray) -> None:
        # The module is built inside the measurement: weights and gradient
        # buffers count for both (rustrnn allocates gradients up front, torch lazily).
        steps(make(s), x, dout)["fwd+bwd"]()

    x, dout = inputs(shape)
    exact = _reset_peak_rss()
    if not exact:
        print("# /proc/self/clear_refs unavailable: measuring with ru_maxrss, transient peaks may hide", file=sys.stderr)

    def resident() -> int:
        return _status_kib("VmRSS") if exact else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    before_init = resident()
    tiny = dataclasses.replace(shape, T=2, B=1, I=4, H=4)
    peak_step(tiny, *inputs(tiny))
    _reset_peak_rss()
    before = resident()
    peak_step(shape, x, dout)
    peak = (_status_kib("VmHWM") if exact else None) or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"step": peak - before, "first": peak - before_init}))


def run_memory(args, shapes: list[Shape]) -> list[dict]:
    frameworks = ["rustrnn"] + (["torch"] if torch is not None else [])
    results = []
    for shape in shapes:
        for n in args.threads:
            res = {"shape": shape, "threads": n}
            for fw in frameworks:
                cmd = [sys.executable, os.path.abspath(__file__), "--memory-child", fw, "--shapes", str(shape), "--threads", str(n)]
                out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
                kib = json.loads(out.strip().splitlines()[-1])
                res[fw] = {k: v / 1024 for k, v in kib.items()}
            results.append(res)
            print(format_memory([res], header=len(results) == 1), flush=True)
    return results


# ----- output -------------------------------------------------------------------------------------

SHAPE_COLS = ["cell", "T", "B", "I", "H", "layers", "dirs", "threads"]


def _fmt(v, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def _shape_cells(shape: Shape, threads: int) -> list[str]:
    return [shape.cell, str(shape.T), str(shape.B), str(shape.I), str(shape.H), str(shape.layers), str(shape.dirs), str(threads)]


def table_rows(rows: list[Row]) -> tuple[list[str], list[list[str]]]:
    cols = SHAPE_COLS + ["mode", "rustrnn ms", "(min)", "torch ms", "(min)", "rustrnn GF/s", "%peak", "torch GF/s", "%peak", "ratio",
                         "scaling", "target"]
    body = [
        _shape_cells(r.shape, r.threads)
        + [r.mode, _fmt(r.rustrnn_ms, ".2f"), _fmt(r.rustrnn_min_ms, ".2f"), _fmt(r.torch_ms, ".2f"), _fmt(r.torch_min_ms, ".2f"),
           _fmt(r.gflops(r.rustrnn_ms), ".1f"), _fmt(r.percent_of_peak(r.rustrnn_ms), ".0f"), _fmt(r.gflops(r.torch_ms), ".1f"),
           _fmt(r.percent_of_peak(r.torch_ms), ".0f"), _fmt(r.ratio, ".2f"), _fmt(r.scaling, ".2f"), r.target]
        for r in rows
    ]
    return cols, body


def memory_rows(results: list[dict]) -> tuple[list[str], list[list[str]]]:
    cols = SHAPE_COLS + ["rustrnn MiB", "torch MiB", "rustrnn 1st", "torch 1st", "torch/rustrnn", "target"]
    body = []
    for m in results:
        r, t = m["rustrnn"], m.get("torch")
        ratio = None if t is None else t["step"] / max(r["step"], 1e-9)
        target = "n/a" if t is None else "met" if r["step"] <= t["step"] else "NOT met"
        body.append(_shape_cells(m["shape"], m["threads"])
                    + [_fmt(r["step"], ".1f"), _fmt(t and t["step"], ".1f"), _fmt(r["first"], ".1f"), _fmt(t and t["first"], ".1f"),
                       _fmt(ratio, ".2f"), target])
    return cols, body


def _text(cols: list[str], body: list[list[str]], header: bool) -> str:
    widths = [max(len(c), 7) for c in cols]
    widths[-1] = 0  # the last column (target) is free text
    lines = [" ".join(c.rjust(w) for c, w in zip(cols, widths))] if header else []
    lines += [" ".join(v.rjust(w) for v, w in zip(row, widths)) for row in body]
    return "\n".join(lines)


def format_table(rows: list[Row], header: bool = True) -> str:
    return _text(*table_rows(rows), header)


def format_memory(results: list[dict], header: bool = True) -> str:
    return _text(*memory_rows(results), header)


def markdown_table(cols: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines)


def environment(args, load_before: tuple) -> list[str]:
    cpu = "unknown"
    family_model = ""
    try:
        info = dict(
            (k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in open("/proc/cpuinfo")) if k.strip() in ("model name", "cpu family", "model")
        )
        cpu = info.get("model name", cpu)
        family_model = f" (family {info.get('cpu family', '?')}, model {info.get('model', '?')})"
    except OSError:
        pass
    try:
        here = os.path.dirname(os.path.abspath(__file__))
        commit = subprocess.run(["git", "-C", here, "describe", "--always", "--dirty", "--abbrev=12"], capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = ""
    lines = [
        f"- CPU: {cpu}{family_model}, {os.cpu_count()} logical cores ({len(os.sched_getaffinity(0))} available)",
        f"- OS: {platform.platform()}",
        f"- Python {platform.python_version()}, NumPy {np.__version__}",
        f"- rustrnn {rustrnn.__version__}, git {commit or 'unknown'}",
    ]
    if torch is None:
        lines.append("- PyTorch: not installed, rustrnn timed alone")
    else:
        config = torch.__config__.show()
        libs = [l.strip(" -") for l in config.splitlines() if any(k in l for k in ("Math Kernel Library", "MKL-DNN", "oneDNN", "CPU capability"))]
        backend = [l.split(":", 1)[1].strip() for l in torch.__config__.parallel_info().splitlines() if l.startswith("ATen parallel backend")]
        flush = "on" if args.flush else "off"
        lines.append(f"- PyTorch {torch.__version__}: " + "; ".join(libs + [f"parallel backend {b}" for b in backend])
                     + f"; set_flush_denormal: {flush}")
    peaks = ", ".join(f"{k} {v:.1f}" for k, v in args.peaks.items()) or "no vector path"
    lines.append(f"- rustrnn kernel path: {rustrnn.get_isa()}; flush-to-zero: {'on' if rustrnn.get_flush_denormal() else 'off'}; "
                 f"measured 1-core FP32 FMA peak (GFLOP/s): {peaks}; %peak uses {args.peak_gflops or 0:.1f} per thread")
    lines += [
        f"- threads: {', '.join(map(str, args.threads))} (rustrnn.set_num_threads and torch.set_num_threads alike)",
    ]
    if not args.memory:
        lines += [
            f"- timing: median (and min) of {args.repeat} runs after {args.warmup} warm-up runs",
            f"- load average (1, 5, 15 min) at the start: {load_before[0]:.2f}, {load_before[1]:.2f}, {load_before[2]:.2f}; at the end: "
            + ", ".join(f"{v:.2f}" for v in os.getloadavg()) + " (above ~0.3, other processes were sharing the cores)",
        ]
    lines.append(f"- command: `{' '.join(shlex.quote(a) for a in [os.path.relpath(sys.argv[0])] + sys.argv[1:])}`")
    return lines


# ----- main ---------------------------------------------------------------------------------------


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog="Shape groups: " + "; ".join(f"{k}: {', '.join(v)}" for k, v in SHAPE_GROUPS.items() if k != "all"))
    p.add_argument("--shapes", help="comma-separated groups (main, deepbench, batch1, all) or shapes cell:T:B:I:H[:layers[:dirs]], "
                   "cell one of lstm, gru, rnn_tanh, rnn_relu (default: all; main with --quick)")
    p.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    p.add_argument("--modes", help="comma-separated: fwd, fwd+bwd, m2o (default fwd,fwd+bwd; m2o for the manytoone shapes)")
    p.add_argument("--repeat", type=int, help="timed runs per cell (default 10; 3 with --quick)")
    p.add_argument("--warmup", type=int, help="untimed runs first (default 2; 1 with --quick)")
    p.add_argument("--quick", action="store_true", help="a fast smoke run: main shapes, fewer runs")
    p.add_argument("--memory", action="store_true", help="measure the peak memory of a training step instead of timing")
    p.add_argument("--markdown", metavar="FILE", help="also write the results, with the machine and versions, as markdown")
    p.add_argument("--tol", type=float, default=1e-4, help="agreement tolerance, scaled max error (default 1e-4)")
    p.add_argument("--peak-gflops", type=float, help="single-core FP32 FMA peak for %%peak (default: measured on rustrnn's path)")
    p.add_argument("--no-flush", dest="flush", action="store_false", help="both frameworks without flush-to-zero (strict IEEE)")
    p.add_argument("--memory-child", choices=["rustrnn", "torch"], help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    args.threads = [int(t) for t in args.threads.split(",") if t.strip()]
    args.modes_given = args.modes is not None
    args.modes = [m.strip() for m in (args.modes or "fwd,fwd+bwd").split(",") if m.strip()]
    if any(m not in ("fwd", "fwd+bwd", "m2o") for m in args.modes) or not args.modes:
        p.error("--modes: expected fwd, fwd+bwd and/or m2o")
    if not args.threads or min(args.threads) < 1:
        p.error("--threads: expected positive integers")
    if (args.repeat is not None and args.repeat < 1) or (args.warmup is not None and args.warmup < 0):
        p.error("--repeat: expected at least 1; --warmup: at least 0")
    args.repeat = args.repeat or (3 if args.quick else 10)
    args.warmup = args.warmup if args.warmup is not None else (1 if args.quick else 2)
    try:
        shapes = parse_shapes(args.shapes or ("main,manytoone" if args.quick else "all"))
    except ValueError as e:
        p.error(str(e))

    if args.memory_child:
        memory_child(args.memory_child, shapes[0], args.threads[0])
        return 0
    if torch is None:
        print("# PyTorch is not importable: timing rustrnn alone (pip install torch to compare)", flush=True)
    # PyTorch at its best: subnormals flushed, as rustrnn does by default.
    rustrnn.set_flush_denormal(args.flush)
    if torch is not None:
        torch.set_flush_denormal(args.flush)
    args.peaks = {} if args.memory else measure_peak()
    if args.peak_gflops is None:
        args.peak_gflops = args.peaks.get(rustrnn.get_isa())
    if args.peaks:
        print(f"# kernel path {rustrnn.get_isa()}; measured 1-core FP32 FMA peak (GFLOP/s): "
              + ", ".join(f"{k} {v:.1f}" for k, v in args.peaks.items()), flush=True)

    load_before = os.getloadavg()
    if load_before[0] > 0.5 and not args.memory:
        print(f"# warning: load average {load_before[0]:.2f}: other processes compete for the cores, timings will be noisy", flush=True)
    start = time.perf_counter()
    if args.memory:
        results = run_memory(args, shapes)
        title, table = "Peak memory of one training step", markdown_table(*memory_rows(results))
    else:
        rows = run_timing(args, shapes)
        print("\n" + format_table(rows))
        title, table = "Speed", markdown_table(*table_rows(rows))
    elapsed = time.perf_counter() - start
    print(f"# {len(shapes)} shape(s) in {elapsed:.0f} s")
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(f"## {title}\n\n" + "\n".join(environment(args, load_before)) + f"\n- wall time: {elapsed:.0f} s\n\n{table}\n")
        print(f"# wrote {args.markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
