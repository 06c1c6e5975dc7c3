"""Runs fuzz cases in a child process (see tests/test_fuzz.py): reads a JSON list
of cases on stdin and prints one JSON line per case with its outcome.

An outcome is "ok", "rustrnn:<class>" (a clean RustRnnError), or
"bad:<class>: <message>" (any other exception: a broken promise). A crash
(signal), a hang (timeout) or a memory blow-up (the parent's RLIMIT_AS) ends
the process, which the parent reports with the case that caused it.
"""

import contextlib
import io
import json
import sys

import numpy as np

import rustrnn
from rustrnn import layers


def value(v):
    """JSON to argument: {"dtype": name} is a NumPy dtype, {"tuple": [...]} a tuple."""
    if isinstance(v, dict) and "dtype" in v:
        return np.dtype(v["dtype"])
    if isinstance(v, dict) and "tuple" in v:
        return tuple(value(x) for x in v["tuple"])
    return v


def array(spec):
    """An input array from {"shape", "dtype", "fill", "broadcast"}: broadcast arrays
    have any logical size for no memory (a zero stride), so huge shapes are cheap."""
    shape = tuple(spec["shape"])
    dtype = np.dtype(spec["dtype"])
    fill = np.array(spec.get("fill", 0)).astype(dtype) if dtype.kind != "O" else spec.get("fill", 0)
    if spec.get("broadcast") or int(np.prod(shape, dtype=object)) > 2_000_000:
        return np.broadcast_to(np.asarray(fill, dtype=dtype), shape)
    a = np.empty(shape, dtype=dtype)
    a[...] = fill
    return a


def run_nn(c):
    cls = {"rnn": rustrnn.nn.RNN, "lstm": rustrnn.nn.LSTM, "gru": rustrnn.nn.GRU}[c["cell"]]
    m = cls(*[value(a) for a in c["args"]], **{k: value(v) for k, v in c["kwargs"].items()})
    m.state_dict()
    if c.get("x") is not None:
        m(array(c["x"]), lengths=c.get("lengths"))


def run_keras(c):
    model = rustrnn.Sequential([getattr(layers, name)(*[value(a) for a in args], **{k: value(v) for k, v in kw.items()})
                                for name, args, kw in c["layers"]])
    if c.get("x") is not None:
        model.predict(array(c["x"]), batch_size=value(c.get("batch_size", 32)))


def run_call(c):
    f = {"set_num_threads": rustrnn.set_num_threads, "manual_seed": rustrnn.manual_seed,
         "pad_sequences": rustrnn.utils.pad_sequences, "to_categorical": rustrnn.utils.to_categorical}[c["f"]]
    f(*[value(a) for a in c["args"]], **{k: value(v) for k, v in c.get("kwargs", {}).items()})


def run_cli(c):
    """The command in-process: exit status 0, or 2 with exactly one line `rustrnn: error: ...`."""
    from rustrnn.cli import main

    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            rc = main(c["argv"])
        except SystemExit as e:  # argparse's usage errors
            rc = e.code
    lines = [l for l in err.getvalue().splitlines() if l.strip()]
    if rc == 0:
        return
    if rc != 2 or not lines or not lines[-1].startswith(("rustrnn: error: ", "rustrnn")) or "Traceback" in err.getvalue():
        raise AssertionError(f"exit {rc}, stderr {err.getvalue()[-500:]!r}")
    if ": error: " not in lines[-1]:
        raise AssertionError(f"exit {rc} without a one-line error: {err.getvalue()[-500:]!r}")


def run_file(c):
    m = rustrnn.load_model(c["path"])
    if c.get("predict"):
        m.predict(np.array(c["predict"], dtype=np.int64))


RUNNERS = {"nn": run_nn, "keras": run_keras, "call": run_call, "cli": run_cli, "file": run_file}


def main():
    cases = json.loads(sys.stdin.read())
    for i, c in enumerate(cases):
        try:
            RUNNERS[c["kind"]](c)
            outcome = "ok"
        except rustrnn.RustRnnError as e:
            outcome = f"rustrnn:{type(e).__name__}"
        except BaseException as e:  # noqa: BLE001 - reporting is the point
            outcome = f"bad:{type(e).__module__}.{type(e).__name__}: {str(e)[:300]}"
        print(json.dumps({"i": i, "outcome": outcome}), flush=True)


if __name__ == "__main__":
    main()
