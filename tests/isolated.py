"""Running cases in a child process under a memory limit, so that a crash,
an abort, a hang or a memory blow-up fails the test instead of killing pytest.
The child is tests/fuzz/child.py; see its docstring for the case format."""

import json
import os
import pathlib
import resource
import signal
import subprocess
import sys

CHILD = pathlib.Path(__file__).resolve().parent / "fuzz" / "child.py"
#: Address space of the child: enough for NumPy, the thread pool and small models,
#: far below what an unchecked huge size would ask for.
MEMORY_LIMIT = 3 << 30


def _limit():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def run_cases(cases, timeout=120):
    """Runs ``cases`` in one child; returns the outcomes, one per case. Fails the
    calling test, naming the case, on a crash, a hang or a broken promise."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", RUSTRNN_NUM_THREADS="2", MALLOC_ARENA_MAX="2")
    try:
        proc = subprocess.run([sys.executable, str(CHILD)], input=json.dumps(cases), capture_output=True, text=True,
                              timeout=timeout, preexec_fn=_limit, env=env)
    except subprocess.TimeoutExpired as e:
        done = (e.stdout or b"").count(b"\n") if isinstance(e.stdout, bytes) else (e.stdout or "").count("\n")
        raise AssertionError(f"hang: no answer in {timeout}s, at case {done}: {json.dumps(cases[done])[:2000] if done < len(cases) else '?'}")
    outcomes = [json.loads(line)["outcome"] for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0:
        at = len(outcomes)
        how = f"signal {signal.Signals(-proc.returncode).name}" if proc.returncode < 0 else f"exit status {proc.returncode}"
        case = json.dumps(cases[at])[:2000] if at < len(cases) else "?"
        raise AssertionError(f"the process died ({how}) at case {at}: {case}\nstderr: {proc.stderr[-3000:]}")
    assert len(outcomes) == len(cases), proc.stderr[-3000:]
    bad = [(c, o) for c, o in zip(cases, outcomes) if o.startswith("bad:")]
    assert not bad, "errors that are not RustRnnError:\n" + "\n".join(f"{o}\n  case: {json.dumps(c)[:1000]}" for c, o in bad[:10])
    return outcomes
