"""What a model trained by ``rustrnn train`` carries for ``rustrnn predict``.

It is stored in the model file (``model.metadata["rustrnn_cli"]``, JSON that
is parsed, never executed)::

    version       1
    task          "classify" | "regress" | "generate"
    text_column   the CSV column the texts came from (classify, regress)
    label_column  the CSV column of the labels or values (classify, regress)
    labels        classify: the class names as in the data; output i is labels[i]
    target        regress: {"mean", "std"}; value = output * std + mean
    tokenizer     classify, regress: the Keras Tokenizer JSON
    maxlen, padding, truncating   how texts become (N, maxlen) word ids
    split_clitics (optional) true: "it's" is read as "it 's" first, as GloVe's words are
    chars         generate: token i is the character chars[i]
    summary       what training reported (``rustrnn info`` shows it)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .errors import UserError

KEY = "rustrnn_cli"
VERSION = 1
TASKS = ("classify", "regress", "generate")
#: Longest text (in words) a stored ``maxlen`` may ask for.
MAX_LEN = 100_000


def attach(model: Any, task: dict) -> None:
    model.metadata[KEY] = {"version": VERSION, **task}


def load(path: str) -> tuple:
    """``(model, task)`` of a model file written by ``rustrnn train``."""
    import rustrnn

    model = rustrnn.load_model(path, compile=False)
    task = model.metadata.get(KEY)
    if task is None:
        raise UserError(f"{path}: this model was not trained by `rustrnn train`, so it does not say how to turn text into "
                        f"its input; use it from Python (rustrnn.load_model)")
    check(path, task)
    return model, task


def check(path: str, task: Any) -> None:
    """Validates the stored description, so that a damaged one is a clear error."""
    def bad(what: str) -> UserError:
        return UserError(f"{path}: the task description in the model file is invalid ({what})")

    if not isinstance(task, dict):
        raise bad(f"expected an object, got {type(task).__name__}")
    if task.get("version") != VERSION:
        raise bad(f"version {task.get('version')!r}; this rustrnn reads version {VERSION}")
    kind = task.get("task")
    if kind not in TASKS:
        raise bad(f"task {kind!r}; expected one of {', '.join(TASKS)}")
    if kind == "generate":
        if not isinstance(task.get("chars"), str) or not task["chars"]:
            raise bad("chars: expected a non-empty string")
        return
    for k in ("text_column", "label_column", "tokenizer"):
        if not isinstance(task.get(k), str):
            raise bad(f"{k}: expected a string")
    if type(task.get("maxlen")) is not int or not 1 <= task["maxlen"] <= MAX_LEN:
        raise bad(f"maxlen: expected an integer in 1..{MAX_LEN}, got {task.get('maxlen')!r}")
    if not isinstance(task.get("split_clitics", False), bool):
        raise bad(f"split_clitics: expected true or false, got {task.get('split_clitics')!r}")
    if task.get("padding") not in ("pre", "post") or task.get("truncating") not in ("pre", "post"):
        raise bad("padding, truncating: expected 'pre' or 'post'")
    if kind == "classify":
        labels = task.get("labels")
        if not isinstance(labels, list) or len(labels) < 2 or not all(isinstance(l, str) for l in labels):
            raise bad("labels: expected at least two class names")
    else:
        t = task.get("target")
        if not (isinstance(t, dict) and all(isinstance(t.get(k), (int, float)) and math.isfinite(t[k]) for k in ("mean", "std"))):
            raise bad("target: expected {'mean': number, 'std': number}")


def tokenizer(task: dict, path: str = "model file") -> Any:
    from ..text import tokenizer_from_json

    try:
        return tokenizer_from_json(task["tokenizer"])
    except Exception as e:  # noqa: BLE001 - any damage to the stored JSON is the file's fault
        raise UserError(f"{path}: the tokenizer stored in the model file is invalid ({type(e).__name__}: {e})") from None


def encode(task: dict, tok: Any, texts: list) -> np.ndarray:
    """Texts to the ``(N, maxlen)`` word ids the model reads."""
    from ..demos.recipes import split_clitics
    from ..text import pad_sequences

    if task.get("split_clitics"):
        texts = [split_clitics(t) for t in texts]
    return pad_sequences(tok.texts_to_ragged(texts), maxlen=task["maxlen"], padding=task["padding"],
                         truncating=task["truncating"], dtype="int64")


def decode(task: dict, outputs: np.ndarray) -> tuple:
    """Model outputs to ``(predictions, scores)``: the class name and its
    probability, or the value (twice) for regression."""
    if task["task"] == "classify":
        labels = task["labels"]
        if outputs.shape[-1] == 1:  # binary: P(labels[1])
            p1 = outputs[:, 0].astype(np.float64)
            idx = (p1 >= 0.5).astype(np.int64)
            score = np.where(idx == 1, p1, 1.0 - p1)
        else:
            idx = outputs.argmax(-1)
            score = outputs[np.arange(len(outputs)), idx].astype(np.float64)
        if len(idx) and int(np.max(idx)) >= len(labels):
            raise UserError(f"the model has more outputs ({max(outputs.shape[-1], 2)}) than the {len(labels)} labels "
                            "stored in the model file: its task description is damaged")
        return [labels[i] for i in idx], score
    t = task["target"]
    values = outputs[:, 0].astype(np.float64) * t["std"] + t["mean"]
    return [format_number(v) for v in values], values


def format_number(v: float) -> str:
    return f"{v:.6g}"
