"""Reranks g2p candidates offline with any set of saved models, on the validation and the test words.

The candidates of each word are the 4 best of a beam of 4 of the --left models' ensemble and of the --right
models' ensemble (right-to-left, turned around), as rustrnn.Seq2SeqReranker makes them. Every candidate is then
scored by every model of --left/--right plus --also-left/--also-right, and the reranked word error rate is
printed for the mean of each side's mean log-likelihood (Seq2SeqReranker's score), for the right-to-left weights
in --weights. The log-likelihoods are cached per model under --cache, so comparing sets of scorers is quick
after the first run. Models are saved by scripts/g2p_tune.py --save (--reverse for right-to-left ones).

Each model is TAG:EPOCHS[:bahdanau][:UNITS] (two layers, Luong attention and 256 units by default): the weights
of its last --average saved epochs (TAG-e{E}.npz in --dir) are averaged. Example:
    python scripts/g2p_rescore.py --left L2:12 L2s1:12 --right r2l:12 r2ls2:12 --also-right bR:12:bahdanau
"""
import argparse
import functools
import hashlib
import os

import numpy as np
import rustrnn
from g2p_saved import saved_model
from rustrnn.demos import g2p
from rustrnn.seq2seq import reverse_targets

p = argparse.ArgumentParser()
p.add_argument("--left", nargs="+", required=True, help="left-to-right models: they propose candidates and score them")
p.add_argument("--right", nargs="+", required=True, help="right-to-left models: they propose candidates and score them")
p.add_argument("--also-left", nargs="*", default=[], help="left-to-right models that only score")
p.add_argument("--also-right", nargs="*", default=[], help="right-to-left models that only score")
p.add_argument("--weights", type=float, nargs="+", default=[0.5], help="the right-to-left side's weight")
p.add_argument("--beam", type=int, default=4)
p.add_argument("--average", type=int, default=4)
p.add_argument("--dir", default="/tmp/g2p")
p.add_argument("--cache", default="/tmp/g2p/rescore-cache")
p.add_argument("--limit", type=int, default=0, help="only the first N words of each split (a quick check)")
p.add_argument("--threads", type=int, default=2)
a = p.parse_args()

rustrnn.set_num_threads(a.threads)
os.makedirs(a.cache, exist_ok=True)
data = g2p.load(validation=g2p.VALIDATION_WORDS)  # the tuning split


@functools.lru_cache(maxsize=None)  # the proposing models also score
def load(spec: str) -> rustrnn.Seq2Seq:
    tag, epochs, *rest = spec.split(":")
    attention = "bahdanau" if "bahdanau" in rest else "luong"
    units = next((int(r) for r in rest if r.isdigit()), 256)
    return saved_model(data, a.dir, tag, int(epochs), a.average, units, attention=attention)


def candidates(words: list) -> tuple:
    """Each word's distinct candidates of both sides, as rows (C, L), and the word each belongs to (C,)."""
    x = g2p.spellings(words)
    sides = []
    for specs, backwards in ((a.left, False), (a.right, True)):
        models = [load(s) for s in specs]
        ids, _ = rustrnn.Seq2SeqEnsemble(models).predict_n_best(x, a.beam, data.tgt_len, beam_width=a.beam)
        if backwards:
            ids = reverse_targets(ids.reshape(-1, data.tgt_len), g2p.EOS).reshape(ids.shape)
        sides.append(ids)
    rows, owner = [], []
    for i in range(len(words)):
        seen = set()
        for row in (*sides[0][i], *sides[1][i]):
            if row.any() and row.tobytes() not in seen:
                seen.add(row.tobytes())
                rows.append(row)
                owner.append(i)
    return np.stack(rows), np.asarray(owner)


for split in ("val", "test"):
    words = getattr(data, split)[:a.limit or None]
    key = hashlib.sha1(repr((split, len(words), a.left, a.right, a.beam, a.average)).encode()).hexdigest()[:12]
    cand_file = f"{a.cache}/{split}-{key}-candidates.npz"
    if os.path.exists(cand_file):
        f = np.load(cand_file)
        cand, owner = f["cand"], f["owner"]
    else:
        cand, owner = candidates(words)
        np.savez(cand_file, cand=cand, owner=owner)
    src = g2p.spellings(words)[owner]
    right = reverse_targets(cand, g2p.EOS)

    def log_likelihood(spec: str, backwards: bool) -> np.ndarray:
        path = f"{a.cache}/{split}-{key}-{spec.replace(':', '_')}-{a.average}.npy"
        if not os.path.exists(path):
            np.save(path, load(spec).log_likelihood(src, right if backwards else cand, 256))
        return np.load(path)

    left_ll = np.mean([log_likelihood(s, False) for s in a.left + a.also_left], axis=0)
    right_ll = np.mean([log_likelihood(s, True) for s in a.right + a.also_right], axis=0)
    correct = np.array([g2p.phoneme_lists(data, c[None])[0] in data.pron[words[i]] for c, i in zip(cand, owner)])
    oracle = np.bincount(owner, correct, len(words)).clip(0, 1).mean()
    for w in a.weights:
        score = (1 - w) * left_ll + w * right_ll
        order = np.lexsort((-score, owner))  # each word's candidates, best first
        first = order[np.r_[True, owner[order][1:] != owner[order][:-1]]]
        wer = 1 - correct[first].sum() / len(words)
        print(f"{split} ({len(words)} words, {len(cand)} candidates, oracle {oracle:.1%}), weight {w}: "
              f"WER {wer:.2%}", flush=True)
