"""Times the Tokenizer on a synthetic corpus of short texts (default: 1 million
texts of 10 words from a 50,000-word Zipf vocabulary, with capitals and punctuation).

    python scripts/bench_tokenizer.py [n_texts] [threads]
"""

from __future__ import annotations

import sys
import time

import numpy as np

import rustrnn
from rustrnn.text import Tokenizer, pad_sequences


def corpus(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    vocab = np.array([f"word{i}" for i in range(50_000)])
    ranks = np.minimum(rng.zipf(1.2, size=(n, 10)) - 1, len(vocab) - 1)
    words = vocab[ranks]
    return [f"The {' '.join(row[1:])}, {row[0]}!" for row in words.tolist()]


def timed(label: str, f):
    t = time.perf_counter()
    out = f()
    print(f"{label:44} {time.perf_counter() - t:7.2f} s")
    return out


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    if len(sys.argv) > 2:
        rustrnn.set_num_threads(int(sys.argv[2]))
    texts = timed(f"make {n:,} texts (Python, not timed below)", lambda: corpus(n))
    print(f"threads: {rustrnn.get_num_threads()}, words per text: 11")
    tok = Tokenizer(num_words=20_000, oov_token="<unk>")
    t0 = time.perf_counter()
    timed("fit_on_texts", lambda: tok.fit_on_texts(texts))
    seqs = timed("texts_to_sequences (lists of ints)", lambda: tok.texts_to_sequences(texts))
    timed("pad_sequences(lists, maxlen=12)", lambda: pad_sequences(seqs, maxlen=12))
    total_lists = time.perf_counter() - t0
    ragged = timed("texts_to_ragged (flat NumPy)", lambda: tok.texts_to_ragged(texts))
    timed("pad_sequences(ragged, maxlen=12)", lambda: pad_sequences(ragged, maxlen=12))
    print(f"vocabulary: {len(tok.word_index):,} words; fit + lists + pad: {total_lists:.2f} s "
          f"({n / total_lists / 1e6:.2f} M texts/s)")


if __name__ == "__main__":
    main()
