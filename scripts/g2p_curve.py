"""g2p learning curve for the demo's model: a planned cosine schedule over E epochs of length-bucketed batches;
after each epoch the greedy PER/WER on the first 1,000 held-out words, wall and CPU time and the load; a checkpoint
per epoch (in --out); at the end beam 1 and 4 on all 5,000 held-out words.
It trains on all the training words and scores the test words: for measuring a chosen recipe, not choosing one
(scripts/g2p_tune.py chooses on validation words). The demo's model without its checkpoint averaging:
python scripts/g2p_curve.py --epochs 12 --dropout 0.25 --threads 2 --tag L (run it under nice)."""
import argparse, os, re, resource, time
import numpy as np
import rustrnn
from rustrnn.demos import g2p

p = argparse.ArgumentParser()
p.add_argument("--epochs", type=int, default=8); p.add_argument("--units", type=int, default=256)
p.add_argument("--threads", type=int, default=2); p.add_argument("--lr", type=float, default=5e-3)
p.add_argument("--alpha", type=float, default=0.05); p.add_argument("--batch", type=int, default=128)
p.add_argument("--attention", default="luong"); p.add_argument("--dropout", type=float, default=0.0)
p.add_argument("--emb", type=int, default=64); p.add_argument("--seed", type=int, default=0)
p.add_argument("--bucket", type=int, default=1); p.add_argument("--tag", required=True); p.add_argument("--out", default="."); p.add_argument("--final-every", type=int, default=0)
a = p.parse_args()
rustrnn.set_num_threads(a.threads); rustrnn.manual_seed(a.seed)
pron = rustrnn.datasets.cmudict(stress=False)
words = sorted(w for w in pron if re.fullmatch(r"[a-z]{3,10}", w))
phonemes = sorted({p for w in words for pr in pron[w] for p in pr})
bos, eos = 1, 2
ph_id = {p: i + 3 for i, p in enumerate(phonemes)}
order = np.random.default_rng(0).permutation(len(words))
test = [words[i] for i in order[:5000]]; train = [words[i] for i in order[5000:]]
tgt_len = 1 + max(len(pron[w][0]) for w in words)
def letters(ws):
    x = np.zeros((len(ws), 10), np.int64)
    for i, w in enumerate(ws): x[i, :len(w)] = [ord(c) - 96 for c in w]
    return x
y = np.zeros((len(train), tgt_len), np.int64)
for i, w in enumerate(train):
    ids = [ph_id[p] for p in pron[w][0]] + [eos]; y[i, :len(ids)] = ids
x = letters(train)

model = rustrnn.Seq2Seq(src_vocab=27, tgt_vocab=len(phonemes) + 3, embedding_dim=a.emb, units=a.units // 2, cell="lstm",
                        bidirectional_encoder=True, attention=a.attention, bos_id=bos, eos_id=eos, dropout=a.dropout)
buckets = rustrnn.utils.LengthBuckets(x, y, batch_size=a.batch, seed=a.seed)
steps = a.epochs * len(buckets)
model.compile(optimizer=rustrnn.optimizers.Adam(rustrnn.optimizers.CosineDecay(a.lr, steps, alpha=a.alpha), clipnorm=5.0))
print(f"{a}: train {len(train)} test {len(test)} tgt_len {tgt_len} params {model.count_params()}", flush=True)
sub = test[:1000]
def score(ws, beam):
    out = model.predict(letters(ws), max_length=tgt_len, beam_width=beam)
    pred = [[phonemes[i - 3] for i in row if i > eos] for row in out]
    return g2p.error_rates(pred, [pron[w] for w in ws])
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF); return r.ru_utime + r.ru_stime
t0, c0 = time.time(), cpu()
for e in range(a.epochs):
    model.fit(buckets, epochs=1, seed=a.seed * 1000 + e, verbose=0) if a.bucket else model.fit(x, y, batch_size=a.batch, epochs=1, seed=a.seed * 1000 + e, verbose=0)
    tt, ct = time.time() - t0, cpu() - c0
    per, wer = score(sub, 1)
    line = f"{a.tag} epoch {e+1}/{a.epochs}: greedy-1000 PER {per:.4f} WER {wer:.4f}  train wall {tt:.0f}s cpu {ct:.0f}s  load {os.getloadavg()[0]:.1f}"
    if a.final_every and (e + 1) % a.final_every == 0 and e + 1 < a.epochs:
        per4, wer4 = score(test, 4); line += f"  | beam4-5000 PER {per4:.4f} WER {wer4:.4f}"
    print(line, flush=True)
    model.save(os.path.join(a.out, f"{a.tag}.e{e+1}.rnn"))
    t0 += time.time() - t0 - tt  # exclude evaluation time from the training clock
    c0 += cpu() - c0 - ct
for beam in (1, 4):
    t1 = time.time(); per, wer = score(test, beam)
    print(f"{a.tag} FINAL beam {beam} 5000: PER {per:.4f} WER {wer:.4f} (eval {time.time()-t1:.0f}s)", flush=True)
