"""Writes the CSVs used to tune `rustrnn train classify` (README, "Train and predict on your own data").

test.csv / train.csv: the sentiment demo's split (rng(0) permutation of the movie reviews, first 20% = test),
as the slow test builds it. val.csv / trainsub.csv: 20% of train.csv's rows (rng(1) permutation) held out for
choosing a recipe, the other 80% to train on, so that the test sentences are only used for the final check.

    python scripts/classify_tuning_split.py OUT_DIR
    rustrnn train classify OUT_DIR/trainsub.csv -o m.rnn --quiet [options]
    rustrnn predict m.rnn --input OUT_DIR/val.csv -o out.csv   # accuracy: column prediction == column label
"""

import csv
import sys
from pathlib import Path

import numpy as np

import rustrnn


def write(path: Path, texts: list, labels: np.ndarray, idx: np.ndarray) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        w.writerows([texts[i], "pos" if labels[i] else "neg"] for i in idx)


def main(out: Path) -> None:
    texts, labels = rustrnn.datasets.movie_reviews()
    order = np.random.default_rng(0).permutation(len(texts))
    test, train = order[:len(texts) // 5], order[len(texts) // 5:]
    sub = np.random.default_rng(1).permutation(len(train))
    n_val = len(train) // 5
    out.mkdir(parents=True, exist_ok=True)
    for name, idx in (("test", test), ("train", train), ("val", train[sub[:n_val]]), ("trainsub", train[sub[n_val:]])):
        write(out / f"{name}.csv", texts, labels, idx)
        print(f"{out / name}.csv: {len(idx):,} sentences")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "classify_tuning"))
