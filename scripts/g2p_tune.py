"""Chooses the g2p demo's recipe on a validation split carved from its TRAINING words (never the 5,000 test words).

The demo's split (rustrnn.demos.g2p) with the first --val training words held out for validation; the model is
trained on the rest. After each epoch: the greedy PER/WER on the first 1,000 validation words and the CPU time.
At the end, beam --beam on all validation words for the last epoch's weights and for the average of the last
k epochs' weights (checkpoint averaging), k in --average. Run it under nice, one at a time:
    nice -n 10 python scripts/g2p_tune.py --epochs 10 --dropout 0.2 --tag d2
"""
import argparse
import resource

import numpy as np
import rustrnn
from rustrnn.demos import g2p

p = argparse.ArgumentParser()
p.add_argument("--tag", required=True)
p.add_argument("--epochs", type=int, default=10)
p.add_argument("--dropout", type=float, default=0.0)
p.add_argument("--units", type=int, default=256, help="the decoder's units (the encoder has units/2 per direction)")
p.add_argument("--emb", type=int, default=64)
p.add_argument("--lr", type=float, default=5e-3)
p.add_argument("--alpha", type=float, default=0.05)
p.add_argument("--batch", type=int, default=128)
p.add_argument("--attention", default="luong")
p.add_argument("--val", type=int, default=3000)
p.add_argument("--subset", type=int, default=0, help="train on this many words only (a faster proxy)")
p.add_argument("--beam", type=int, default=4)
p.add_argument("--average", default="1,2,3,4")
p.add_argument("--length-penalty", default="0")
p.add_argument("--seed", type=int, default=0)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--layers", type=int, default=1)
p.add_argument("--all-prons", action="store_true", help="one training pair per dictionary pronunciation, not the main one only")
p.add_argument("--weight-decay", type=float, default=0.0, help="AdamW's decoupled weight decay (0: Adam)")
p.add_argument("--recurrent-dropout", type=float, default=0.0)
p.add_argument("--label-smoothing", type=float, default=0.0)
p.add_argument("--reverse", action="store_true", help="train on the pronunciations written backwards (a right-to-left model)")
p.add_argument("--save", default="", help="save the last epochs' weights (npz) under this prefix")
a = p.parse_args()

rustrnn.set_num_threads(a.threads)
rustrnn.manual_seed(a.seed)
data = g2p.load(validation=a.val)  # the demo's split; its test words are not touched
pron, phonemes, val, train, tgt_len = data.pron, data.phonemes, data.val, data.train, data.tgt_len
if a.subset:
    train = train[:a.subset]
letters = g2p.spellings
def which(prons):  # the pronunciations trained on: every one, or the main one; backwards with --reverse
    chosen = prons if a.all_prons else prons[:1]
    return [pr[::-1] for pr in chosen] if a.reverse else chosen


pairs = [(w, pr) for w in train for pr in which(pron[w])]
x = letters([w for w, _ in pairs])
y = g2p.pronunciations(data, train, which)
model = rustrnn.Seq2Seq(src_vocab=27, tgt_vocab=len(phonemes) + 3, embedding_dim=a.emb, units=a.units // 2, cell="lstm",
                        bidirectional_encoder=True, attention=a.attention, bos_id=g2p.BOS, eos_id=g2p.EOS, dropout=a.dropout, num_layers=a.layers,
                        **({"recurrent_dropout": a.recurrent_dropout} if a.recurrent_dropout else {}))
buckets = rustrnn.utils.LengthBuckets(x, y, batch_size=a.batch, seed=a.seed)
schedule = rustrnn.optimizers.CosineDecay(a.lr, a.epochs * len(buckets), alpha=a.alpha)
optimizer = (rustrnn.optimizers.AdamW(schedule, weight_decay=a.weight_decay, clipnorm=5.0) if a.weight_decay
             else rustrnn.optimizers.Adam(schedule, clipnorm=5.0))
model.compile(optimizer=optimizer, loss=rustrnn.losses.SparseCategoricalCrossentropy(label_smoothing=a.label_smoothing))
print(f"{a}\ntrain {len(train)} ({len(pairs)} pairs) val {len(val)} params {model.count_params()}", flush=True)


def score(ws, beam, penalty=0.0):
    out = model.predict(letters(ws), max_length=tgt_len, beam_width=beam, length_penalty=penalty)
    lists = g2p.phoneme_lists(data, out)
    return g2p.error_rates([ph[::-1] for ph in lists] if a.reverse else lists, [pron[w] for w in ws])


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


train_cpu = 0.0
history = []
for e in range(a.epochs):
    c0 = cpu()
    model.fit(buckets, epochs=1, seed=a.seed * 1000 + e, verbose=0)
    train_cpu += cpu() - c0
    history.append(model.get_weights())
    if a.save and e >= a.epochs - 4:
        np.savez(f"{a.save}-e{e + 1}.npz", *history[-1])
    per, wer = score(val[:1000], 1)
    print(f"{a.tag} epoch {e + 1}: greedy val-1000 PER {per:.4f} WER {wer:.4f}  train cpu {train_cpu:.0f}s", flush=True)
for k in (int(v) for v in a.average.split(",")):
    if k > len(history):
        continue
    model.set_weights([np.mean(ws, axis=0) for ws in zip(*history[-k:])])
    for penalty in (float(v) for v in a.length_penalty.split(",")):
        c0 = cpu()
        per, wer = score(val, a.beam, penalty)
        print(f"{a.tag} FINAL average of last {k}, beam {a.beam}, length penalty {penalty}: val PER {per:.4f} WER {wer:.4f} "
              f"(eval cpu {cpu() - c0:.0f}s)", flush=True)
