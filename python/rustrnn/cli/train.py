"""``rustrnn train classify|regress|generate``: a model from the user's data,
with a validation split, early stopping and a summary at the end."""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from typing import Any

import numpy as np

from . import data, task as task_module
from .errors import UserError

#: Models of `train classify|regress` averaged by default (the sentiment demo: about a point over one model).
MODELS = 3
#: What the output layer reads of the recurrent layer (README: average and max pooling measured no better).
POOLING = "last"
#: Share of the training words' occurrences GloVe must know for the default to use it (English text).
GLOVE_AUTO = 0.8
#: Keras's label_smoothing of the classifier's targets: 1 -> 1 - s/2 and 0 -> s/2 for two labels (README: measured).
LABEL_SMOOTHING = 0.1
#: The classifier's default cell (README: GRU measured a little better than LSTM on the movie reviews).
CLASSIFY_CELL = "gru"
#: Weight of the first round's averaged probabilities in the second round's targets (0: one round; README: measured).
DISTILL = 0.5
#: Texts are cut at this percentile of the training texts' lengths (the 95th cut 5% of them, often their conclusion).
MAXLEN_PERCENTILE = 99
#: After early stopping has chosen each model's epoch, train it again from its start on every row
#: (training and validation) for that many epochs: 11% more data, twice the time, +0.1 point (README: measured).
REFIT = False


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a model on a CSV table or a text file",
                       description="Train a model on your data and save it to one file for `rustrnn predict`.")
    kinds = p.add_subparsers(dest="task", required=True, metavar="{classify,regress,generate}")
    for kind, what in (("classify", "predict a label (a class) from a text"), ("regress", "predict a number from a text")):
        q = kinds.add_parser(kind, help=what, description=f"Train a model to {what}.")
        q.add_argument("data", metavar="DATA.csv", help="a CSV file with a header row (tab-separated if it ends in .tsv); - reads stdin")
        q.add_argument("--text-column", default="text", help="the column with the texts (default: text)")
        q.add_argument("--label-column", default="label", help=f"the column with the {'labels' if kind == 'classify' else 'numbers'} (default: label)")
        _output(q)
        cell = CLASSIFY_CELL if kind == "classify" else "lstm"
        q.add_argument("--cell", choices=("lstm", "gru"), default=cell, help=f"recurrent cell (default: {cell})")
        q.add_argument("--units", type=int, default=64, help="recurrent units (default: 64)")
        q.add_argument("--embedding-dim", type=int, default=64, help="word vector size (default: 64; 50 when GloVe is used)")
        q.add_argument("--bidirectional", action="store_true", help="read each text in both directions")
        q.add_argument("--pooling", choices=("last", "average", "max"), default=POOLING,
                       help="what the output layer reads: the recurrent layer's last state, or the average or maximum of its "
                            f"states over the words (default: {POOLING})")
        q.add_argument("--glove", action=argparse.BooleanOptionalAction, default=None,
                       help="start from the built-in GloVe 50-d English word vectors (default: when GloVe knows at least "
                            f"{GLOVE_AUTO:.0%}% of the training words' occurrences, i.e. the text is English; --no-glove: never)")
        q.add_argument("--models", type=int, default=MODELS,
                       help=f"models trained from different seeds and saved as one, their logits averaged (default: {MODELS})")
        q.add_argument("--refit", action=argparse.BooleanOptionalAction, default=REFIT,
                       help="once early stopping has chosen each model's epoch, train it again from the same start on every row, "
                            f"the validation rows included, for that many epochs (default: {'on' if REFIT else 'off'})")
        q.add_argument("--max-words", type=int, default=20000, help="vocabulary size: the most frequent words (default: 20000)")
        q.add_argument("--maxlen", type=int, default=None, help=f"words per text, longer ones are cut (default: the {MAXLEN_PERCENTILE}th percentile of the training texts)")
        if kind == "classify":
            q.add_argument("--label-smoothing", type=float, default=LABEL_SMOOTHING,
                           help="as Keras's: the targets become 1 - s + s/labels and s/labels instead of 1 and 0, so that "
                                f"the model is not pushed to certainty (default: {LABEL_SMOOTHING:g})")
            q.add_argument("--distill", type=float, default=DISTILL,
                           help="train the models a second time, on targets that mix the labels with the first round's averaged "
                                "probabilities, this weight on the probabilities: graded targets, which tell a sure case from a "
                                f"borderline one (default: {DISTILL:g}; 0: one round)")
        _fit_options(q, epochs=20, batch=64, lr=2e-3)  # as the sentiment demo (README: measured)
        q.set_defaults(run=run_text)
    g = kinds.add_parser("generate", help="a character-level model of a text, to generate more like it",
                         description="Train a character-level language model on a text file (UTF-8).")
    g.add_argument("data", metavar="CORPUS.txt", help="a UTF-8 text file; - reads stdin")
    _output(g)
    g.add_argument("--units", type=int, default=256, help="LSTM units (default: 256)")
    g.add_argument("--seq-len", type=int, default=100, help="characters per training sequence (default: 100)")
    _fit_options(g, epochs=10, batch=32, lr=3e-3)
    g.set_defaults(run=run_generate)


def _output(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", default="model.rnn", metavar="MODEL.rnn", help="where to save the model (default: model.rnn)")


def _fit_options(p: argparse.ArgumentParser, epochs: int, batch: int, lr: float) -> None:
    p.add_argument("--epochs", type=int, default=epochs, help=f"maximum epochs; early stopping usually ends sooner (default: {epochs})")
    p.add_argument("--batch-size", type=int, default=batch, help=f"default: {batch}")
    p.add_argument("--learning-rate", type=float, default=lr, help=f"Adam's learning rate (default: {lr:g})")
    p.add_argument("--validation-split", type=float, default=0.1, help="fraction held out to choose the epoch and report on (default: 0.1)")
    p.add_argument("--patience", type=int, default=3, help="epochs without improvement before stopping (default: 3)")
    p.add_argument("--seed", type=int, default=0, help="seed of the split, the initialization and the shuffling (default: 0)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _check_options(args: argparse.Namespace) -> None:
    for name in ("epochs", "batch_size", "units", "embedding_dim", "max_words", "maxlen", "seq_len", "models"):
        v = getattr(args, name, None)
        if v is not None and v < 1:
            raise UserError(f"--{name.replace('_', '-')}: expected a positive integer, got {v}")
    if not 0.0 <= args.validation_split < 1.0:
        raise UserError(f"--validation-split: expected a fraction in [0, 1), got {args.validation_split}")
    smoothing = getattr(args, "label_smoothing", 0.0)
    if not 0.0 <= smoothing <= 1.0:  # NaN fails too
        raise UserError(f"--label-smoothing: expected a number in [0, 1], got {smoothing}")
    distill = getattr(args, "distill", 0.0)
    if not 0.0 <= distill <= 1.0:
        raise UserError(f"--distill: expected a weight in [0, 1], got {distill}")
    if args.patience < 0:
        raise UserError(f"--patience: expected 0 or more epochs, got {args.patience}")
    if not (args.learning_rate > 0 and math.isfinite(args.learning_rate)):
        raise UserError(f"--learning-rate: expected a positive number, got {args.learning_rate}")
    out_dir = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(out_dir):
        raise UserError(f"{args.output}: the folder {out_dir} does not exist")


def _split(n: int, fraction: float, rng: np.random.Generator) -> tuple:
    """Shuffled training and validation indices (files are often sorted by label)."""
    order = rng.permutation(n)
    n_val = int(round(n * fraction)) if fraction > 0 else 0
    if fraction > 0 and n_val == 0 and n >= 2:
        n_val = 1
    n_val = min(n_val, n - 1)
    return order[n_val:], order[:n_val]


def _sort_labels(labels: set) -> list:
    """Numbers in numeric order, other labels alphabetically."""
    try:
        return sorted(labels, key=float)
    except ValueError:
        return sorted(labels)


def _fit(model: Any, x: np.ndarray, y: np.ndarray, val: Any, args: argparse.Namespace, seed: int | None = None,
         epochs: int | None = None) -> tuple:
    """Trains with early stopping on the validation loss; keeps the best epoch's weights."""
    from rustrnn import callbacks

    cbs = []
    stopper = None
    if val is not None:
        stopper = callbacks.EarlyStopping(monitor="val_loss", patience=args.patience, restore_best_weights=True)
        cbs.append(stopper)
    t0 = time.perf_counter()
    history = model.fit(x, y, batch_size=args.batch_size, epochs=epochs or args.epochs, validation_data=val, callbacks=cbs,
                        verbose=0 if args.quiet else 1, seed=args.seed if seed is None else seed)
    if history.diverged is not None:
        epoch, batch = history.diverged
        raise UserError(f"training diverged: the loss became NaN or infinite at epoch {epoch + 1}, batch {batch}; "
                        f"nothing was saved (try a smaller --learning-rate than {args.learning_rate:g})")
    if stopper is not None and stopper.best_weights is not None and stopper.stopped_epoch == 0:
        model.set_weights(stopper.best_weights)  # ran every epoch: still keep the best one
    best = stopper.best_epoch + 1 if stopper is not None else len(history.epoch)
    return history, best, time.perf_counter() - t0


def run_text(args: argparse.Namespace) -> int:
    import rustrnn
    from rustrnn.text import Tokenizer, embedding_matrix

    from ..demos import recipes

    _check_options(args)
    kind = args.task
    table = data.read_table(args.data)
    ti = table.index(args.text_column, "--text-column")
    li = table.index(args.label_column, "--label-column")
    rows = [(r[ti], r[li].strip(), line) for r, line in zip(table.rows, table.lines) if r[li].strip()]
    skipped = len(table.rows) - len(rows)
    if not rows:
        raise UserError(f"{args.data}: no data rows with a value in column {args.label_column!r}" if table.rows
                        else f"{args.data}: no data rows (only a header)")
    texts = [t for t, _, _ in rows]
    if kind == "classify":
        labels = _sort_labels({l for _, l, _ in rows})
        if len(labels) < 2:
            raise UserError(f"{args.data}: column {args.label_column!r} has a single label ({labels[0]!r}); classification needs at least two")
        lookup = {l: i for i, l in enumerate(labels)}
        y = np.array([lookup[l] for _, l, _ in rows], dtype=np.float32)
    else:
        values = []
        for _, l, line in rows:
            try:
                v = float(l)
            except ValueError:
                raise UserError(f"{args.data}, line {line}: column {args.label_column!r} must hold numbers to regress on, got {l!r}") from None
            if not math.isfinite(v):
                raise UserError(f"{args.data}, line {line}: column {args.label_column!r} must hold finite numbers, got {l!r}")
            values.append(v)
        y = np.array(values, dtype=np.float64)

    rng = np.random.default_rng(args.seed)
    tr, va = _split(len(rows), args.validation_split, rng)
    vectors, glove_note = None, ""
    if args.glove is not False:  # GloVe splits "it's" into "it 's": so do the texts, to find their vectors
        vectors = rustrnn.datasets.glove_50d()
        split_texts = [recipes.split_clitics(t) for t in texts]
        tok = Tokenizer(num_words=args.max_words, oov_token="<unk>")
        tok.fit_on_texts([split_texts[i] for i in tr])
        known = recipes.known_share(tok, vectors)
        glove_note = f"; GloVe knows {known:.0%} of the training words' occurrences"
        if args.glove is None and known < GLOVE_AUTO:
            vectors = None
            glove_note += f" (under {GLOVE_AUTO:.0%}: not English, GloVe not used)"
        else:
            texts = split_texts
            recipes.glove_vocabulary(tok, vectors.words, args.max_words)
    if vectors is None:
        tok = Tokenizer(num_words=args.max_words, oov_token="<unk>")
        tok.fit_on_texts([texts[i] for i in tr])
    vocab = min(tok.num_words, len(tok.word_index) + 1)
    lengths = tok.texts_to_ragged([texts[i] for i in tr]).lengths()
    maxlen = args.maxlen or max(1, min(500, int(np.ceil(np.percentile(lengths, MAXLEN_PERCENTILE)))))
    spec = {"task": kind, "text_column": args.text_column, "label_column": args.label_column, "tokenizer": tok.to_json(),
            "maxlen": maxlen, "padding": "pre", "truncating": "post"}
    if vectors is not None:
        spec["split_clitics"] = True
    x = task_module.encode(spec, tok, texts)

    if kind == "classify":
        spec["labels"] = labels
        binary = len(labels) == 2
        outputs, activation = (1, "sigmoid") if binary else (len(labels), "softmax")
        loss, metric = ("binary_crossentropy" if binary else "sparse_categorical_crossentropy"), "accuracy"
        s = args.label_smoothing
        if not binary and (s > 0 or args.distill > 0):  # graded targets: one-hot rows
            y = np.eye(len(labels), dtype=np.float32)[y.astype(np.int64)]
            loss = "categorical_crossentropy"
        y = (y * (1 - s) + s / len(labels)).astype(np.float32)  # as Keras's label_smoothing
    else:
        mean, std = float(y[tr].mean()), float(y[tr].std()) or 1.0
        spec["target"] = {"mean": mean, "std": std}
        y = ((y - mean) / std).astype(np.float32)
        outputs, activation, loss, metric = 1, "linear", "mse", "mae"

    note = f" ({skipped} rows without a {args.label_column!r} value skipped)" if skipped else ""
    print(f"{args.data}: {len(rows):,} rows{note}; training on {len(tr):,}, validating on {len(va):,}; "
          f"vocabulary {vocab - 1:,} words{glove_note}, texts cut at {maxlen} words", file=sys.stderr)

    def build(member_seed: int) -> Any:
        rustrnn.manual_seed(member_seed)
        weights = None if vectors is None else embedding_matrix(tok, vectors, num_words=vocab, seed=member_seed)
        model = recipes.text_model(vocab, outputs, activation, embedding_dim=args.embedding_dim, units=args.units, cell=args.cell,
                                   bidirectional=args.bidirectional, embedding_weights=weights,
                                   pooling=None if args.pooling == "last" else args.pooling)
        model.compile(optimizer=rustrnn.optimizers.Adam(args.learning_rate), loss=loss, metrics=[metric])
        return model

    def train_round(targets: np.ndarray) -> tuple:
        stopped, members, histories, bests, seconds = [], [], [], [], 0.0
        for k in range(args.models):  # each from its own seed, with its own early stopping; averaged below
            if args.models > 1 and not args.quiet:
                print(f"model {k + 1} of {args.models}", file=sys.stderr)
            early, final, history, best, took = train_member(args, k, build, x, targets, tr, va)
            stopped.append(early)
            members.append(final)
            histories.append(history)
            bests.append(best)
            seconds += took
            if history.interrupted:
                break
        return stopped, members, histories, bests, seconds

    stopped, members, histories, bests, seconds = train_round(y)
    distill = getattr(args, "distill", 0.0)
    rounds = 1
    if distill > 0 and not histories[-1].interrupted:
        # Graded targets, as the demo's human ratings (worth ~2 points there): the first round's averaged
        # probabilities mixed into the training rows' labels (the validation rows keep theirs, for early
        # stopping); then the same models, from the same starts, trained again on them.
        if not args.quiet:
            print("second round: the targets mix the labels with the first round's probabilities", file=sys.stderr)
        p = recipes.ensemble(members).predict(x[tr], batch_size=256)  # (N, 1) or (N, labels)
        graded = y.copy()
        graded[tr] = (1 - distill) * y[tr] + distill * (p[:, 0] if binary else p)
        first_epochs = sum(len(h.epoch) for h in histories)
        stopped, members, histories, bests, more = train_round(graded.astype(np.float32))
        seconds += more
        rounds = 2
    model = recipes.ensemble(members)
    refitted = any(m is not e for m, e in zip(members, stopped))
    history, best = histories[-1], bests[-1]

    summary: dict = {"data": os.path.basename(args.data), "rows": len(rows), "train_rows": int(len(tr)), "validation_rows": int(len(va)),
                     "glove": vectors is not None, "models": len(members), "rounds": rounds,
                     "epochs": sum(len(h.epoch) for h in histories) + (first_epochs if rounds == 2 else 0),
                     "best_epoch": best if len(members) == 1 else bests, "refit": refitted, "seconds": round(seconds, 1)}
    lines = []
    if len(va):
        # The early-stopped models: the refitted ones have learned from these rows.
        out = recipes.ensemble(stopped).predict(x[va], batch_size=256)
        if kind == "classify":
            pred, _ = task_module.decode(spec, out)
            truth = [rows[i][1] for i in va]
            acc = float(np.mean([p == t for p, t in zip(pred, truth)]))
            majority = max(truth.count(l) for l in labels) / len(truth)
            summary.update(validation_accuracy=round(acc, 4), majority_baseline=round(majority, 4))
            lines.append(f"validation accuracy: {acc:.1%} on {len(va):,} rows{_before(refitted)} "
                         f"(always answering the most common label: {majority:.1%})")
        else:
            _, pred = task_module.decode(spec, out)
            truth = y[va].astype(np.float64) * spec["target"]["std"] + spec["target"]["mean"]
            rmse = float(np.sqrt(np.mean((pred - truth) ** 2)))
            mae = float(np.mean(np.abs(pred - truth)))
            base = float(np.sqrt(np.mean((truth - spec["target"]["mean"]) ** 2)))
            summary.update(validation_rmse=round(rmse, 6), validation_mae=round(mae, 6), mean_baseline_rmse=round(base, 6))
            lines.append(f"validation RMSE {rmse:.4g}, MAE {mae:.4g} on {len(va):,} rows{_before(refitted)} "
                         f"(always answering the training mean: RMSE {base:.4g})")
    spec["summary"] = summary
    task_module.attach(model, spec)
    model.save(args.output)
    _print_summary(model, args, history, best, seconds, lines, histories, bests, refitted, rounds)
    what = f"{len(labels)} labels: {', '.join(labels[:10])}{', ...' if len(labels) > 10 else ''}" if kind == "classify" else "a number"
    print(f"saved {args.output}: {kind} column {args.text_column!r} -> {args.label_column!r} ({what})")
    print(f"next: rustrnn predict {args.output} \"some text\"   or   rustrnn predict {args.output} --input {args.data}")
    return 0


def train_member(args: argparse.Namespace, k: int, build: Any, x: np.ndarray, y: np.ndarray, tr: np.ndarray, va: np.ndarray) -> tuple:
    """Model ``k`` of the ensemble, from its own seed: trained on the rows ``tr``
    with early stopping on ``va``; with ``--refit``, trained again from the same
    start on ``tr`` and ``va`` together for the epochs early stopping chose.
    Returns ``(early-stopped model, final model, history, best epoch, seconds)``."""
    seed = args.seed * 1000 + k
    early = build(seed)
    val = (x[va], y[va]) if len(va) else None
    history, best, took = _fit(early, x[tr], y[tr], val, args, seed=seed)
    if not (args.refit and val is not None) or history.interrupted:
        return early, early, history, best, took
    final = build(seed)  # the same initial weights
    every = np.concatenate([tr, va])
    again, _, took_again = _fit(final, x[every], y[every], None, args, seed=seed, epochs=best)
    if again.interrupted:
        return early, early, again, best, took + took_again
    return early, final, history, best, took + took_again


def _before(refitted: bool) -> str:
    return ", before the final training that added them" if refitted else ""


def _print_summary(model: Any, args: argparse.Namespace, history: Any, best: int, seconds: float, lines: list,
                   histories: list | None = None, bests: list | None = None, refitted: bool = False, rounds: int = 1) -> None:
    model.summary()
    stopped = (" (interrupted)" if history.interrupted else
               " (early stopping)" if len(history.epoch) < args.epochs else "")
    again = "; then trained each again from its start on every row, the validation rows included, for that many epochs" \
        if refitted else ""
    if rounds == 2:
        print("second round: the models were trained again from their starts on the labels mixed with the first round's "
              "probabilities (--distill); its figures follow")
    if histories is not None and len(histories) > 1:
        print(f"trained {len(histories)} models from different seeds ({', '.join(str(len(h.epoch)) for h in histories)} epochs) "
              f"in {seconds:.1f} s; kept each one's best epoch ({', '.join(map(str, bests))}){again}; saved as one model that "
              f"averages their outputs")
    else:
        print(f"trained {len(history.epoch)} epochs{stopped} in {seconds:.1f} s; kept the weights of epoch {best}{again}")
    for line in lines:
        print(line)


def run_generate(args: argparse.Namespace) -> int:
    import rustrnn

    from ..demos import recipes

    _check_options(args)
    text = data.read_text(args.data)
    if not text.strip():
        raise UserError(f"{args.data}: the file is empty; expected some text to learn from")
    chars = "".join(sorted(set(text)))
    ids = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    lookup = np.zeros(int(ids.max()) + 1, np.int64)
    lookup[[ord(c) for c in chars]] = np.arange(len(chars))
    ids = lookup[ids]
    seq_len = args.seq_len
    n_val = int(len(ids) * args.validation_split)
    if n_val <= seq_len:  # too little text to hold out a full sequence
        n_val = 0
    train_ids, val_ids = ids[:len(ids) - n_val], ids[len(ids) - n_val:]
    if len(train_ids) <= seq_len:
        seq_len = max(1, len(train_ids) - 1)
    if seq_len < 1 or len(train_ids) < 2:
        raise UserError(f"{args.data}: too short ({len(text)} characters); expected at least a few sentences")
    x, y = recipes.char_windows(train_ids, seq_len)
    val = recipes.char_windows(val_ids, seq_len) if n_val else None
    rustrnn.manual_seed(args.seed)
    model = recipes.char_model(len(chars), units=args.units)
    model.compile(optimizer=rustrnn.optimizers.Adam(args.learning_rate, clipnorm=5.0), loss="sparse_categorical_crossentropy")
    print(f"{args.data}: {len(text):,} characters, {len(chars)} distinct; training on {len(train_ids):,}, validating on {n_val:,}",
          file=sys.stderr)
    history, best, seconds = _fit(model, x, y, val, args)
    summary: dict = {"data": os.path.basename(args.data), "characters": len(text), "epochs": len(history.epoch),
                     "best_epoch": best, "seconds": round(seconds, 1)}
    lines = []
    if val is not None:
        nats = float(model.evaluate(val[0], val[1], batch_size=64, return_dict=True)["loss"])
        uni = recipes.unigram_entropy(train_ids, val_ids, len(chars))
        summary.update(validation_nats_per_char=round(nats, 4), unigram_nats_per_char=round(uni, 4))
        lines.append(f"validation cross-entropy: {nats:.3f} nats/char (character frequencies alone: {uni:.3f})")
    task_module.attach(model, {"task": "generate", "chars": chars, "summary": summary})
    model.save(args.output)
    _print_summary(model, args, history, best, seconds, lines)
    print(f"saved {args.output}: a character-level model of {args.data}")
    print(f"next: rustrnn predict {args.output} \"{text.strip()[:12]}\" --length 300")
    return 0
