"""Scores g2p models saved by scripts/g2p_tune.py --save on the validation words, alone and as an ensemble
(rustrnn.Seq2SeqEnsemble: each step chooses from the mean of the members' next-token probabilities), and with
--right-to-left (models saved by g2p_tune.py --reverse) as a rustrnn.Seq2SeqReranker of both directions.

Each member is TAG[:UNITS[:LAYERS]] (defaults 256 and 1): the weights of its last K saved epochs
(TAG-e{E}.npz in --dir, E = --epochs-K+1 .. --epochs) are averaged first. Example:
    python scripts/g2p_ensemble.py L2:256:2 L2s1:256:2 --beams 1 4
    python scripts/g2p_ensemble.py L2:256:2 L2s1:256:2 --right-to-left r2l:256:2 r2ls2:256:2 --beams 4
"""
import argparse
import time

import rustrnn
from g2p_saved import saved_model
from rustrnn.demos import g2p

p = argparse.ArgumentParser()
p.add_argument("members", nargs="+", help="TAG[:UNITS[:LAYERS]]")
p.add_argument("--right-to-left", nargs="*", default=[], help="TAG[:UNITS[:LAYERS]] of right-to-left models")
p.add_argument("--weight", type=float, default=0.5, help="the right-to-left models' weight in the reranking")
p.add_argument("--dir", default="/tmp/g2p")
p.add_argument("--epochs", type=int, default=12, help="the epochs the members were trained for")
p.add_argument("--average", type=int, default=4, help="average the last K saved epochs (at most 4 are saved)")
p.add_argument("--beams", type=int, nargs="+", default=[1])
p.add_argument("--threads", type=int, default=1)
p.add_argument("--val", type=int, default=3000)
a = p.parse_args()

rustrnn.set_num_threads(a.threads)
data = g2p.load(validation=a.val)
x = g2p.spellings(data.val)
refs = [data.pron[w] for w in data.val]


def load(member):
    tag, *size = member.split(":")
    units = int(size[0]) if size else 256
    layers = int(size[1]) if len(size) > 1 else 1
    return saved_model(data, a.dir, tag, a.epochs, a.average, units, layers)


models = [load(member) for member in a.members]
backwards = [load(member) for member in a.right_to_left]


def score(model, beam):
    return g2p.error_rates(g2p.phoneme_lists(data, model.predict(x, max_length=data.tgt_len, beam_width=beam)), refs)


for beam in a.beams:
    for member, m in zip(a.members, models):
        per, wer = score(m, beam)
        print(f"{member} beam {beam}: PER {per:.4f} WER {wer:.4f}", flush=True)
    if len(models) > 1:
        t = time.time()
        per, wer = score(rustrnn.Seq2SeqEnsemble(models), beam)
        print(f"ENSEMBLE {' '.join(a.members)}, last {a.average} epochs averaged, beam {beam}: PER {per:.4f} WER {wer:.4f} "
              f"({time.time() - t:.0f} s)", flush=True)
    if backwards:
        t = time.time()
        per, wer = score(rustrnn.Seq2SeqReranker(models, backwards, a.weight), beam)
        print(f"RERANKED {' '.join(a.members)} | right to left {' '.join(a.right_to_left)}, weight {a.weight}, beam {beam}: "
              f"PER {per:.4f} WER {wer:.4f} ({time.time() - t:.0f} s)", flush=True)
