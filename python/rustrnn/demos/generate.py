"""Shakespeare, character by character: an LSTM language model and samples from it.

The text of eight plays (:func:`rustrnn.datasets.shakespeare`, 1.04 M
characters) is cut into 100-character sequences; the model learns the next
character at every position. The last 10% of the text (the end of the last
play) is held out: the model is scored there by its cross-entropy in nats per
character, against the cross-entropy of the character frequencies alone (the
unigram model, which ignores context). Samples come from
:func:`rustrnn.generate` (temperature and top-k sampling, in Rust).
"""

from __future__ import annotations

import argparse
from typing import Callable

import numpy as np

from . import _common, recipes

HELP = "a character-level LSTM on Shakespeare; held-out nats/char against the unigram baseline, and samples"
EPOCHS = 6
PROMPTS = ("Romeo.\n", "MACBETH.\n")


def add_arguments(p: argparse.ArgumentParser) -> None:
    _common.add_common(p, EPOCHS)
    p.add_argument("--units", type=int, default=256, help="LSTM units (default: 256)")
    p.add_argument("--temperature", type=float, default=0.7, help="sampling temperature (default: 0.7)")
    p.add_argument("--top-k", type=int, default=None, help="sample among the k likeliest characters only")
    p.add_argument("--length", type=int, default=300, help="characters per sample (default: 300)")


def main(args: argparse.Namespace) -> dict:
    return run(epochs=args.epochs, seed=args.seed, quick=args.quick, units=args.units, temperature=args.temperature,
               top_k=args.top_k, length=args.length, threads=args.threads)


def run(epochs: int = None, seed: int = 0, quick: bool = False, units: int = 256, temperature: float = 0.7, top_k: int = None,
        length: int = 300, threads: int = 0, say: Callable = _common.say) -> dict:
    import rustrnn

    from ..cli.errors import UserError

    clock = _common.Clock()
    epochs = _common.positive("epochs", epochs, 1 if quick else EPOCHS)
    units = _common.positive("units", units, 256)
    if not temperature >= 0:
        raise UserError(f"--temperature: expected a number >= 0, got {temperature}")
    if top_k is not None and top_k < 1:
        raise UserError(f"--top-k: expected a positive integer, got {top_k}")
    if length < 0:
        raise UserError(f"--length: expected 0 or more characters, got {length}")
    _common.setup(threads, seed)
    text = rustrnn.datasets.shakespeare()
    chars = "".join(sorted(set(text)))
    lookup = np.zeros(128, np.int64)
    lookup[[ord(c) for c in chars]] = np.arange(len(chars))
    ids = lookup[np.frombuffer(text.encode("ascii"), dtype=np.uint8)]
    n_test = len(ids) // 10
    train, test = ids[:-n_test], ids[-n_test:]
    if quick:
        train, test, units = train[:20_000], test[:5_000], 32
    x, y = recipes.char_windows(train, 100)
    xt, yt = recipes.char_windows(test, 100)
    say(f"Generation: Shakespeare, {len(text):,} characters ({len(chars)} distinct); training on the first {len(train):,}, "
        f"scoring on the last {len(test):,}, never used in training")
    model = recipes.char_model(len(chars), units=units)
    model.compile(optimizer=rustrnn.optimizers.Adam(3e-3, clipnorm=5.0), loss="sparse_categorical_crossentropy")
    say(f"model: Embedding({len(chars)} x 32) -> LSTM({units}) -> Dense({len(chars)}, softmax), {model.count_params():,} parameters; "
        f"{len(x):,} sequences of 100 characters per epoch")
    model.fit(x, y, batch_size=32, epochs=epochs, seed=seed)

    nats = float(model.evaluate(xt, yt, batch_size=64, return_dict=True)["loss"])
    unigram = recipes.unigram_entropy(train, test, len(chars))
    say(f"held-out cross-entropy: {nats:.3f} nats/char ({nats / np.log(2):.2f} bits/char); "
        f"character frequencies alone: {unigram:.3f} nats/char")
    samples = []
    for k, prompt in enumerate(PROMPTS):
        out = rustrnn.generate(model, lookup[[ord(c) for c in prompt]], length, temperature=temperature, top_k=top_k, seed=seed + k)
        sample = prompt + "".join(chars[i] for i in out)
        samples.append(sample)
        say(f"--- sample {k + 1} (temperature {temperature:g}{f', top-k {top_k}' if top_k else ''}) ---")
        say(sample)
    say("---")
    seconds = clock.seconds()
    say(f"time: {seconds:.0f} s ({rustrnn.get_num_threads()} threads)")
    return {"nats_per_char": nats, "unigram_nats_per_char": unigram, "epochs": epochs, "samples": samples, "seconds": seconds,
            "train_chars": int(len(train)), "test_chars": int(len(test))}
