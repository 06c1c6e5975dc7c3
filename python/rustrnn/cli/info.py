"""``rustrnn info MODEL.rnn``: what a saved model is, what it reads, how it was trained."""

from __future__ import annotations

import argparse
import json
import os

from . import task as task_module


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="describe a saved model", description="Describe a saved model file.")
    p.add_argument("model", metavar="MODEL.rnn")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import rustrnn

    model = rustrnn.load_model(args.model)
    size = os.path.getsize(args.model)
    print(f"{args.model}: {size / 1e6:.2f} MB, {type(model).__name__} model, {model.dtype.name}")
    model.summary()
    if model.optimizer is not None:
        print(f"compiled with {type(model.optimizer).__name__} (learning rate {model.optimizer.learning_rate:g}), "
              f"loss {', '.join(l.name for l in model.loss) if isinstance(model.loss, list) else model.loss.name}, "
              f"{model.optimizer.iterations:,} training steps so far")
    spec = model.metadata.get(task_module.KEY)
    if spec is None:
        if model.metadata:
            print(f"metadata: {', '.join(sorted(model.metadata))}")
        print("not trained by `rustrnn train`: use it from Python (rustrnn.load_model)")
        return 0
    task_module.check(args.model, spec)
    kind = spec["task"]
    if kind == "generate":
        shown = json.dumps(spec["chars"])[1:-1]
        print(f"task: generate text, character by character ({len(spec['chars'])} characters: {shown[:80]}{'...' if len(shown) > 80 else ''})")
    else:
        tok = task_module.tokenizer(spec)
        vocab = tok.num_words - 1 if tok.num_words else len(tok.word_index)
        print(f"task: {kind}, text column {spec['text_column']!r} -> column {spec['label_column']!r}")
        if kind == "classify":
            print(f"labels ({len(spec['labels'])}): {', '.join(spec['labels'])}")
        else:
            print(f"target: mean {spec['target']['mean']:.6g}, standard deviation {spec['target']['std']:.6g} (of the training values)")
        print(f"input: {min(vocab, len(tok.word_index)):,} words (others count as unknown), "
              f"{spec['maxlen']} words per text (longer texts lose their {'end' if spec['truncating'] == 'post' else 'start'})")
    summary = spec.get("summary") or {}
    if summary:
        print("training: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in summary.items()))
    return 0
