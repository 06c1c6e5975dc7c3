"""``rustrnn predict MODEL.rnn "text" | --input FILE.csv [-o OUT.csv]``.

For a CSV the output is CSV: the input's columns, then ``prediction`` (the
label as in the training data, or the value) and ``score`` (the label's
probability, or the value); generation models add ``prediction`` only (the
continuation of each prompt). Messages go to stderr, so stdout holds only
the results.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import sys
import time
from typing import Any

import numpy as np

from . import data, task as task_module
from .errors import UserError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="apply a model trained by `rustrnn train` to texts or a CSV file",
                       description="Apply a model trained by `rustrnn train` to texts given on the command line or to a CSV file.")
    p.add_argument("model", metavar="MODEL.rnn")
    p.add_argument("texts", nargs="*", metavar="TEXT", help="texts to predict for (or prompts, for a generation model)")
    p.add_argument("--input", "-i", metavar="FILE.csv", help="a CSV file (tab-separated if it ends in .tsv); - reads stdin")
    p.add_argument("--output", "-o", metavar="OUT.csv", help="write the CSV here instead of to stdout")
    p.add_argument("--text-column", help="the input column with the texts (default: the column the model was trained on)")
    p.add_argument("--batch-size", type=int, default=256, help="texts per batch (default: 256)")
    g = p.add_argument_group("generation models")
    g.add_argument("--length", type=int, default=300, help="characters to generate (default: 300)")
    g.add_argument("--temperature", type=float, default=0.8, help="0 = always the likeliest character; higher = more varied (default: 0.8)")
    g.add_argument("--top-k", type=int, default=None, help="sample among the k likeliest characters only")
    g.add_argument("--seed", type=int, default=None, help="seed of the sampling")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.input is None and not args.texts:
        raise UserError("nothing to predict: give texts after the model file, or --input FILE.csv")
    if args.input is not None and args.texts:
        raise UserError("give either texts or --input FILE.csv, not both")
    if args.output is not None and args.input is None:
        raise UserError("--output: only with --input (texts given on the command line are answered on stdout)")
    if args.batch_size < 1:
        raise UserError(f"--batch-size: expected a positive integer, got {args.batch_size}")
    if args.output is not None and not os.path.isdir(os.path.dirname(os.path.abspath(args.output))):
        raise UserError(f"{args.output}: the folder {os.path.dirname(os.path.abspath(args.output))} does not exist")
    model, spec = task_module.load(args.model)
    if args.input is None:
        return _texts(model, spec, args)
    return _table(model, spec, args)


def _predict(model: Any, spec: dict, texts: list, args: argparse.Namespace) -> tuple:
    """``(predictions, scores or None)`` for a list of texts (prompts for generation)."""
    if spec["task"] == "generate":
        return [_generate(model, spec, t, args) for t in texts], None
    tok = task_module.tokenizer(spec)
    x = task_module.encode(spec, tok, texts)
    return task_module.decode(spec, model.predict(x, batch_size=args.batch_size))


def _generate(model: Any, spec: dict, prompt: str, args: argparse.Namespace) -> str:
    import rustrnn

    if args.length < 0:
        raise UserError(f"--length: expected 0 or more characters, got {args.length}")
    if not args.temperature >= 0:
        raise UserError(f"--temperature: expected a number >= 0, got {args.temperature}")
    if args.top_k is not None and args.top_k < 1:
        raise UserError(f"--top-k: expected a positive integer, got {args.top_k}")
    chars = spec["chars"]
    index = {c: i for i, c in enumerate(chars)}
    ids = [index[c] for c in prompt if c in index]
    if not ids:  # nothing the model knows: start from a line break (or the first character)
        ids = [index.get("\n", 0)]
    out = rustrnn.generate(model, np.array(ids), args.length, temperature=args.temperature, top_k=args.top_k, seed=args.seed)
    if len(out) and int(np.max(out)) >= len(chars):
        raise UserError(f"the model's vocabulary is larger than the {len(chars)} characters stored in the model file: "
                        "its task description is damaged")
    return "".join(chars[i] for i in out)


def _texts(model: Any, spec: dict, args: argparse.Namespace) -> int:
    """One line per text: ``label<TAB>probability<TAB>text``, ``value<TAB>text``,
    or for generation the prompt followed by its continuation."""
    preds, scores = _predict(model, spec, args.texts, args)
    for i, (text, pred) in enumerate(zip(args.texts, preds)):
        if spec["task"] == "generate":
            print(text + pred)
        elif spec["task"] == "classify":
            print(f"{pred}\t{scores[i]:.4f}\t{text}")
        else:
            print(f"{pred}\t{text}")
    return 0


def _table(model: Any, spec: dict, args: argparse.Namespace) -> int:
    table = data.read_table(args.input)
    column = args.text_column or spec.get("text_column", "text")
    hint = ("" if args.text_column else
            f" (the model was trained on column {column!r}; choose another with --text-column)" if spec["task"] != "generate"
            else " (a generation model reads prompts from column 'text' unless --text-column says otherwise)")
    ti = table.index(column, "--text-column", hint)
    t0 = time.perf_counter()
    preds, scores = _predict(model, spec, table.values(ti), args)
    added = ["prediction"] if scores is None else ["prediction", "score"]
    # Existing prediction/score columns (a file predicted before) are replaced, not repeated.
    keep = [i for i, c in enumerate(table.columns) if c not in added]
    header = [table.columns[i] for i in keep] + added
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for k, row in enumerate(table.rows):
        extra = [preds[k]] if scores is None else [preds[k], task_module.format_number(scores[k])]
        w.writerow([row[i] for i in keep] + extra)
    if args.output:
        from .._files import atomic_write

        atomic_write(args.output, buf.getvalue())
        where = args.output
    else:
        sys.stdout.write(buf.getvalue())
        sys.stdout.flush()
        where = "stdout"
    print(f"predicted {len(table.rows):,} rows in {time.perf_counter() - t0:.1f} s -> {where}", file=sys.stderr)
    return 0
