"""Movie-review sentiment: Embedding (GloVe) + LSTM, accuracy on a held-out 20%.

8,454 movie-review sentences (:func:`rustrnn.datasets.movie_reviews`) are
split 80/20 by a fixed permutation; the 20% are never seen in training. Of
the 80%, a tenth decides when to stop (early stopping on its loss).

Two choices matter on so few sentences:

- the targets are the human ratings squashed to (0, 1), ``sigmoid(score)``,
  rather than only their sign: "a masterpiece" and "rather nice" are both
  positive, but not equally, and the model learns from the difference
  (the held-out accuracy is still measured against the 0/1 labels);
- the vocabulary is the training words seen at least twice plus, with
  GloVe, every word of the built-in GloVe vectors, so that a test word never
  seen in training still arrives with a meaningful vector.

Three models trained from different seeds vote (their probabilities are
averaged): one model's accuracy varies by about a point from seed to seed,
the average of three much less.
"""

from __future__ import annotations

import argparse
from typing import Any, Callable

import numpy as np

from . import _common, recipes

HELP = "movie-review sentiment with an LSTM (GloVe vectors by default); held-out accuracy"
EPOCHS = 40
MODELS = 3
SAMPLES = [
    "A gorgeous, witty and deeply moving film.",
    "The plot is a mess and the jokes fall flat.",
    "It's not the best film of the year, but it's fun.",
    "I wanted to like it, but it's a dull, lifeless bore.",
    "An uneven film that is nonetheless worth seeing for its performances.",
]
split_clitics = recipes.split_clitics


def add_arguments(p: argparse.ArgumentParser) -> None:
    _common.add_common(p, EPOCHS)
    p.add_argument("--glove", action=argparse.BooleanOptionalAction, default=True,
                   help="start from the built-in GloVe 50-d vectors (default; --no-glove learns the vectors from scratch)")
    p.add_argument("--models", type=int, default=MODELS, help=f"models trained from different seeds whose probabilities are averaged (default: {MODELS})")


def main(args: argparse.Namespace) -> dict:
    return run(epochs=args.epochs, seed=args.seed, quick=args.quick, glove=args.glove, models=args.models, threads=args.threads)


def run(epochs: int = None, seed: int = 0, quick: bool = False, glove: bool = True, models: int = MODELS, threads: int = 0,
        say: Callable = _common.say) -> dict:
    import rustrnn
    from rustrnn import callbacks
    from rustrnn.text import Tokenizer, embedding_matrix, pad_sequences

    clock = _common.Clock()
    epochs = _common.positive("epochs", epochs, 1 if quick else EPOCHS)
    models = 1 if quick else _common.positive("models", models, MODELS)
    _common.setup(threads, seed)
    texts, labels, scores = rustrnn.datasets.movie_reviews(scores=True)
    texts = [split_clitics(t) for t in texts]
    order = np.random.default_rng(0).permutation(len(texts))  # the same held-out 20% for every --seed
    n_test = len(texts) // 5
    test, train = order[:n_test], order[n_test:]
    if quick:
        test, train = test[:200], train[:600]
    n_val = len(train) // 10
    val, fit = train[:n_val], train[n_val:]
    say(f"Sentiment: {len(texts):,} movie-review sentences; training on {len(fit):,}, early stopping on {len(val):,}, "
        f"testing on {len(test):,} never used in training")

    tok = Tokenizer(oov_token="<unk>")
    tok.fit_on_texts([texts[i] for i in train])
    vectors = rustrnn.datasets.glove_50d() if glove else None
    recipes.glove_vocabulary(tok, vectors.words if glove else [])
    x = pad_sequences(tok.texts_to_ragged(texts), maxlen=60, dtype="int64")
    y = labels.astype(np.float32)
    soft = (1.0 / (1.0 + np.exp(-scores))).astype(np.float32)

    samples = pad_sequences(tok.texts_to_ragged([split_clitics(s) for s in SAMPLES]), maxlen=60, dtype="int64")
    p_test, p_samples, epochs_run = 0.0, 0.0, []
    for k in range(models):
        model_seed = seed * 1000 + k
        _common.setup(0, model_seed)
        weights = embedding_matrix(tok, vectors, seed=model_seed) if glove else None
        model = recipes.text_model(tok.num_words, 1, "sigmoid", embedding_dim=50, units=64, embedding_weights=weights)
        model.compile(optimizer=rustrnn.optimizers.Adam(2e-3), loss="binary_crossentropy", metrics=["accuracy"])
        if k == 0:
            say(f"model: Embedding({tok.num_words:,} words x 50{', GloVe' if glove else ''}) -> LSTM(64) -> Dense(1, sigmoid), "
                f"{model.count_params():,} parameters; {models} of them, from different seeds")
        stop = callbacks.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
        history = model.fit(x[fit], soft[fit], batch_size=64, epochs=epochs, validation_data=(x[val], y[val]),
                            callbacks=[stop], seed=model_seed)
        if stop.best_weights is not None and stop.stopped_epoch == 0:
            model.set_weights(stop.best_weights)
        p = model.predict(x[test], batch_size=256)[:, 0]
        p_test = p_test + p / models
        p_samples = p_samples + model.predict(samples)[:, 0] / models
        epochs_run.append(len(history.epoch))
        _common.progress(f"model {k + 1}/{models}: {len(history.epoch)} epochs (kept epoch {stop.best_epoch + 1}), "
                         f"held-out accuracy alone {np.mean((p >= 0.5) == (y[test] == 1)):.1%}")

    accuracy = float(np.mean((p_test >= 0.5) == (y[test] == 1)))
    majority = float(max(y[test].mean(), 1 - y[test].mean()))
    say(f"held-out accuracy: {accuracy:.1%} on {len(test):,} sentences (always answering the more common label: {majority:.1%})")
    examples = []
    for text, p in zip(SAMPLES, p_samples):
        label = "positive" if p >= 0.5 else "negative"
        examples.append({"text": text, "label": label, "probability_positive": float(p)})
        say(f"  {label:<8} {p:5.2f}  {text}")
    seconds = clock.seconds()
    say(f"time: {seconds:.0f} s ({rustrnn.get_num_threads()} threads)")
    return {"accuracy": accuracy, "majority_baseline": majority, "test_size": int(len(test)), "train_size": int(len(fit)),
            "epochs": epochs_run, "models": models, "glove": glove, "examples": examples, "seconds": seconds}
