"""Paired comparison of `rustrnn train classify` with and without `--refit`, from ONE run per seed.

Each seed runs the CLI (its defaults plus any extra options) on TRAIN.csv; every model of the ensemble
is recorded twice, as early stopping left it and after the refit on every row, so the two recipes
share their early-stopped half. Scored on EVAL.csv (the same columns) as ensembles of their logits:
"early" (= --no-refit), "refit" (= the defaults, checked against the saved file's own predictions)
and "both" (the two sets together). The files come from scripts/classify_tuning_split.py: choose
on trainsub.csv -> val.csv, and check once on train.csv -> test.csv.

    python scripts/classify_refit_trial.py TRAIN.csv EVAL.csv [--seeds 0 1 2] [-- extra train options]
"""

import argparse
import csv
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from rustrnn.cli import main as cli_main, task as task_module, train


def logits(model, x: np.ndarray) -> np.ndarray:
    p = model.predict(x, batch_size=256)[:, 0].astype(np.float64)
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return np.log(p / (1 - p))


def run(train_csv: str, eval_csv: str, seeds: list, extra: list) -> list:
    recorded = []
    member = train.train_member

    def spy(*a, **kw):
        r = member(*a, **kw)
        recorded.append(r[:2])
        return r

    train.train_member = spy
    with open(eval_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    texts = [r["text"] for r in rows]
    results = []
    for seed in seeds:
        recorded.clear()
        with tempfile.TemporaryDirectory() as tmp:
            out = str(Path(tmp) / "m.rnn")
            cpu, wall = time.process_time(), time.perf_counter()
            code = cli_main(["train", "classify", train_csv, "-o", out, "--quiet", "--seed", str(seed), *extra])
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            assert code == 0, code
            saved, spec = task_module.load(out)
        tok = task_module.tokenizer(spec)
        x = task_module.encode(spec, tok, texts)
        truth = np.array([r["label"] == spec["labels"][1] for r in rows])
        models = int(extra[extra.index("--models") + 1]) if "--models" in extra else train.MODELS
        first = [logits(e, x) for e, _ in recorded[:models]]  # with --distill: the first round (the teacher)
        recorded[:] = recorded[-models:]
        early = [logits(e, x) for e, _ in recorded]
        final = [logits(f, x) for _, f in recorded]
        acc = lambda z: float(np.mean((np.mean(z, axis=0) > 0) == truth))  # noqa: E731
        file_acc = float(np.mean((logits(saved, x) > 0) == truth))
        r = {"seed": seed, "extra": extra, "early": acc(early), "refit": acc(final), "both": acc(early + final), "first_round": acc(first), "first_3": acc(final[:3]),
             "saved_file": file_acc, "early_members": [acc([z]) for z in early], "refit_members": [acc([z]) for z in final],
             "cpu_s": round(cpu, 1), "wall_s": round(wall, 1)}
        print(json.dumps(r), flush=True)
        results.append(r)
    for key in ("early", "refit", "both", "first_round", "first_3"):
        print(f"{key}: mean {np.mean([r[key] for r in results]):.2%} over seeds {seeds}: "
              f"{' / '.join(f'{r[key]:.1%}' for r in results)}", flush=True)
    return results


if __name__ == "__main__":
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("train_csv")
    p.add_argument("eval_csv")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    a = p.parse_args(argv)
    run(a.train_csv, a.eval_csv, a.seeds, extra)
