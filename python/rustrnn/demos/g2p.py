"""Spelling to sound: a Seq2Seq LSTM with attention reads a word's letters and writes its phonemes.

The CMU Pronouncing Dictionary (:func:`rustrnn.datasets.cmudict`, without
stress marks: 39 ARPAbet phonemes) gives the pairs; words of 3 to 10 letters
a-z are used, 5,000 of them held out (never used in training). A
bidirectional encoder reads the letters; at each step the decoder attends
over them, so it can look at the letters it is spelling out. Without
attention (``--attention none``) the encoder reads the letters backwards, so
that the first letters, which the decoder needs first, are the last it read.
Training reads batches of words of about the same length
(:class:`rustrnn.utils.LengthBuckets`), cut to their longest, under a cosine
learning-rate decay over all epochs, with dropout on the embeddings and on the
output layer's input. The weights of the last 4 epochs (``--average``) are
averaged (checkpoint averaging: the average lies nearer the middle of the
valley the last epochs circle in). The recipe was chosen on 3,000
validation words carved from the training words (``scripts/g2p_tune.py``,
never the test words); the demo then trains on all of them. With
``--validation N``, N training words are held out instead, and the greedy
word error rate on them chooses how many epochs, 1 to ``--average``, to
average. The encoder and the decoder are two layers deep
by default (one layer: about 2 points more word errors).

Four models decode together, each trained as above from its own seed: two
left to right (``--members``) and two on the pronunciations written
backwards (``--reverse-members``), which say a word's last sound first and so
make other mistakes. On each side the first model uses Luong attention
(multiplicative) and the second Bahdanau attention (additive), whose
mistakes differ more than two seeds of one kind (``--attention
luong+bahdanau``, the default; ``luong`` or ``bahdanau`` for one kind).
Each side's beam search (its two models as an ensemble,
:class:`rustrnn.Seq2SeqEnsemble`: each step chooses from the mean of their
next-token probabilities) proposes its 4 best pronunciations, and
:class:`rustrnn.Seq2SeqReranker` picks the one with the best mean of the
two sides' log-likelihoods. One model alone (``--members 1
--reverse-members 0``) makes about 2.5 points more word errors in a quarter
of the time.

Scores on the held-out words: the phoneme error rate (edit distance to the
closest dictionary pronunciation, over its length) and the word error rate
(the share of words whose output is none of their dictionary pronunciations).
"""

from __future__ import annotations

import argparse
import re
from typing import Callable, NamedTuple

import numpy as np

from . import _common

HELP = "spelling to sound on CMUdict with a Seq2Seq LSTM and attention; held-out phoneme and word error rates"
EPOCHS = 12
DROPOUT = 0.25
UNITS = 256  # the decoder's; a bidirectional encoder has half as many per direction
LAYERS = 2  # recurrent layers in the encoder and in the decoder
EMBEDDING = 64
AVERAGE = 4  # the last epochs whose weights are averaged
MEMBERS = 2  # left-to-right models trained (seeds seed, seed+1, ...) that decode together as an ensemble
REVERSE_MEMBERS = 2  # right-to-left models (the next seeds) whose scores rerank the candidates of both sides
LABEL_SMOOTHING = 0.0
MIXED = "luong+bahdanau"
ATTENTIONS = ("luong", "bahdanau", MIXED, "none")
ATTENTION = MIXED  # two kinds of attention make more different mistakes than two seeds of one
TEST_WORDS = 5000
VALIDATION_WORDS = 3000  # of the training words, held out by load(): they chose the recipe (scripts/g2p_tune.py)
NEW_WORDS = ("rustacean", "quizzify", "snorklet")  # not in the dictionary


def add_arguments(p: argparse.ArgumentParser) -> None:
    _common.add_common(p, EPOCHS)
    p.add_argument("--beam", type=int, default=4, help="beam width of the decoding (1 = greedy; default: 4)")
    p.add_argument("--attention", choices=ATTENTIONS, default=ATTENTION,
                   help=f"how the decoder attends over the letters; {MIXED}: each side's models alternate the two, "
                        f"starting with Luong (default: {ATTENTION})")
    p.add_argument("--dropout", type=float, default=DROPOUT, help=f"dropout rate in training (default: {DROPOUT})")
    p.add_argument("--units", type=int, default=None,
                   help=f"the decoder's units; with attention the bidirectional encoder has half as many per direction "
                        f"(default: {UNITS})")
    p.add_argument("--embedding", type=int, default=None, help=f"letter and phoneme embedding size (default: {EMBEDDING})")
    p.add_argument("--layers", type=int, default=None,
                   help=f"recurrent layers in the encoder and in the decoder (default: {LAYERS})")
    p.add_argument("--members", type=int, default=MEMBERS,
                   help=f"train this many left-to-right models from consecutive seeds and decode with their ensemble "
                        f"(rustrnn.Seq2SeqEnsemble; default: {MEMBERS})")
    p.add_argument("--reverse-members", type=int, default=REVERSE_MEMBERS,
                   help=f"also train this many models on the pronunciations written backwards; both sides' best "
                        f"candidates are reranked by all the models (rustrnn.Seq2SeqReranker; 0: none; "
                        f"default: {REVERSE_MEMBERS})")
    p.add_argument("--label-smoothing", type=float, default=LABEL_SMOOTHING,
                   help=f"label smoothing of the training targets (default: {LABEL_SMOOTHING})")
    p.add_argument("--average", type=int, default=AVERAGE,
                   help=f"average the weights of this many last epochs; with --validation, of at most this many, as "
                        f"the validation words choose (1 = the last epoch's; default: {AVERAGE})")
    p.add_argument("--validation", type=int, default=0,
                   help="hold out this many training words to choose how many epochs to average and to report a "
                        "validation error rate (default: 0, train on all; the recipe was chosen on 3,000 such words)")


def main(args: argparse.Namespace) -> dict:
    return run(epochs=args.epochs, seed=args.seed, quick=args.quick, beam=args.beam, threads=args.threads,
               attention=args.attention, dropout=args.dropout, average=args.average, units=args.units,
               embedding=args.embedding, layers=args.layers, members=args.members, reverse_members=args.reverse_members,
               label_smoothing=args.label_smoothing, validation=args.validation)


def edit_distance(a: list, b: list) -> int:
    """Levenshtein distance between two phoneme lists."""
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def error_rates(predicted: list, references: list) -> tuple:
    """``(PER, WER)``: each prediction is scored against its closest reference."""
    errors = length = wrong = 0
    for hyp, refs in zip(predicted, references):
        dist, n = min(((edit_distance(hyp, r), len(r)) for r in refs), key=lambda t: t[0] / t[1])
        errors += dist
        length += n
        wrong += dist > 0
    return errors / length, wrong / len(predicted)


BOS, EOS = 1, 2  # phoneme ids; 0 is padding, phoneme i of `phonemes` is i + 3


class Data(NamedTuple):
    """The demo's words and their split (the same for every ``--seed``)."""

    pron: dict  # word -> its pronunciations (lists of phonemes), the main one first
    words: list  # the words of 3 to 10 letters a-z, sorted
    phonemes: list  # the 39 phonemes, sorted
    test: list  # the held-out words, never used in training
    train: list
    val: list  # carved from the training words: they choose the recipe and the epochs to average
    tgt_len: int  # the longest main pronunciation, plus its end token


def load(quick: bool = False, validation: int = VALIDATION_WORDS) -> Data:
    """CMUdict without stress marks, split into test, training and ``validation`` validation words
    (300, 3,000 and a proportional share with ``quick``)."""
    import rustrnn

    pron = rustrnn.datasets.cmudict(stress=False)
    words = sorted(w for w in pron if re.fullmatch(r"[a-z]{3,10}", w))
    phonemes = sorted({p for w in words for pr in pron[w] for p in pr})
    order = np.random.default_rng(0).permutation(len(words))  # the same held-out words for every --seed
    test = [words[i] for i in order[:TEST_WORDS]]
    train = [words[i] for i in order[TEST_WORDS:]]
    if quick:
        test, train = test[:300], train[:3000]
    n_val = len(train) * validation // (len(words) - TEST_WORDS)
    val, train = train[:n_val], train[n_val:]
    tgt_len = 1 + max(len(pron[w][0]) for w in words)
    return Data(pron, words, phonemes, test, train, val, tgt_len)


def spellings(words: list, backwards: bool = False) -> np.ndarray:
    """Letter ids (a=1 ... z=26, 0 pads), (len(words), 10); ``backwards`` reverses each word."""
    x = np.zeros((len(words), 10), np.int64)
    for i, w in enumerate(words):
        x[i, :len(w)] = [ord(c) - 96 for c in (reversed(w) if backwards else w)]
    return x


def pronunciations(data: Data, words: list, which: Callable = lambda prons: prons[:1]) -> np.ndarray:
    """Decoder targets: phoneme ids and the end token, padded to ``tgt_len`` (or the longest row): for
    each word the pronunciations ``which`` picks (by default the main one), one row each, in word order."""
    ids = {p: i + 3 for i, p in enumerate(data.phonemes)}
    rows = [[ids[p] for p in pr] + [EOS] for w in words for pr in which(data.pron[w])]
    y = np.zeros((len(rows), max([data.tgt_len] + [len(r) for r in rows])), np.int64)
    for i, r in enumerate(rows):
        y[i, :len(r)] = r
    return y


def phoneme_lists(data: Data, out: np.ndarray) -> list:
    """Decoded ids (n, steps) to phoneme lists, up to the end token."""
    return [[data.phonemes[i - 3] for i in row if i > EOS] for row in out]


def run(epochs: int = None, seed: int = 0, quick: bool = False, beam: int = 4, threads: int = 0,
        attention: str = ATTENTION, dropout: float = DROPOUT, average: int = AVERAGE, units: int = None,
        embedding: int = None, layers: int = None, members: int = MEMBERS, reverse_members: int = REVERSE_MEMBERS,
        label_smoothing: float = LABEL_SMOOTHING, validation: int = 0, say: Callable = _common.say) -> dict:
    import rustrnn

    clock = _common.Clock()
    epochs = _common.positive("epochs", epochs, 1 if quick else EPOCHS)
    beam = _common.positive("beam", beam, 4)
    average = min(_common.positive("average", average, AVERAGE), epochs)
    units = _common.positive("units", units, 64 if quick else UNITS)
    embedding = _common.positive("embedding", embedding, EMBEDDING)
    layers = _common.positive("layers", layers, LAYERS)
    members = _common.positive("members", members, MEMBERS)
    from ..cli.errors import UserError

    if reverse_members is None or reverse_members < 0:
        raise UserError(f"--reverse-members: expected 0 or more models, got {reverse_members}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise UserError(f"--label-smoothing: expected a number in [0, 1], got {label_smoothing}")
    if validation is None or not 0 <= validation <= 50000:
        raise UserError(f"--validation: expected 0 to 50,000 training words, got {validation}")
    if not 0.0 <= dropout < 1.0:
        raise UserError(f"--dropout: expected a rate in [0, 1), got {dropout}")
    if attention not in ATTENTIONS:
        raise UserError(f"--attention: expected one of {', '.join(ATTENTIONS)}, got {attention!r}")
    if attention != "none" and units % 2:
        raise UserError(f"--units: the bidirectional encoder halves it: expected an even number, got {units}")
    _common.setup(threads, seed)
    data = load(quick, validation)
    pron, phonemes, test, train, val, tgt_len = data.pron, data.phonemes, data.test, data.train, data.val, data.tgt_len
    attend = None if attention == "none" else attention
    kinds = ("luong", "bahdanau") if attention == MIXED else (attend,)  # member i of a side uses kinds[i % len]

    def letters(ws: list) -> np.ndarray:
        return spellings(ws, backwards=not attend)

    x = letters(train)
    say(f"Spelling to sound: CMUdict words of 3-10 letters ({len(data.words):,}); training on {len(train):,}"
        f"{f' (and {len(val):,} for validation)' if val else ''}, testing on {len(test):,} never used in training; {len(phonemes)} phonemes")
    shape = dict(src_vocab=27, tgt_vocab=len(phonemes) + 3, embedding_dim=embedding, cell="lstm", num_layers=layers,
                 bos_id=BOS, eos_id=EOS, dropout=dropout)
    stack = f"{layers} x " if layers > 1 else ""

    def encoder(kind: str) -> str:
        return (f"{stack}bidirectional LSTM({units // 2}) encoder, {kind} attention" if kind
                else f"{stack}LSTM({units}) encoder")

    def spell(m: object, ws: list, beam: int = beam) -> list:
        out = m.predict(letters(ws), max_length=tgt_len, beam_width=beam)
        return phoneme_lists(data, out)

    def train_member(number: int, backwards: bool, kind: str) -> tuple:
        """Model `number` (0-based; seed `seed + number`) with `kind` of attention, trained on the pronunciations
        written `backwards` or not."""
        member_seed = seed + number
        rustrnn.manual_seed(member_seed)
        if kind:  # a bidirectional encoder of units/2 per direction: the decoder keeps `units`
            model = rustrnn.Seq2Seq(units=units // 2, bidirectional_encoder=True, attention=kind, **shape)
        else:
            model = rustrnn.Seq2Seq(units=units, **shape)
        y = pronunciations(data, train)
        if backwards:
            y = rustrnn.seq2seq.reverse_targets(y, EOS)
        # Batches of words of about the same length, cut to their longest: half the decoder's steps in a random
        # batch would be padding. Masking makes the cut exact; the same batches for every run with this seed.
        batches = rustrnn.utils.LengthBuckets(x, y, batch_size=128, seed=member_seed)
        schedule = rustrnn.optimizers.CosineDecay(5e-3, epochs * len(batches), alpha=0.05)
        loss = rustrnn.losses.SparseCategoricalCrossentropy(label_smoothing=label_smoothing)
        model.compile(optimizer=rustrnn.optimizers.Adam(schedule, clipnorm=5.0), loss=loss, metrics=["accuracy"])
        total = members + reverse_members
        say(f"model{f' {number + 1} of {total}' if total > 1 else ''}{' (right to left)' if backwards else ''}: Seq2Seq, "
            f"embeddings {embedding}, {encoder(kind)}, {stack}LSTM({units}) decoder, dropout {dropout}"
            f"{f', label smoothing {label_smoothing}' if label_smoothing else ''}, {model.count_params():,} parameters")
        last = []  # the weights after each of the last `average` epochs

        def keep(epoch: int, logs: dict) -> None:
            if epoch >= epochs - average:
                last.append(model.get_weights())

        model.fit(batches, epochs=epochs, seed=member_seed,
                  callbacks=[rustrnn.callbacks.LambdaCallback(on_epoch_end=keep)])

        def averaged(k: int) -> list:
            return [np.mean(ws, axis=0) for ws in zip(*last[-k:])]

        def val_spelled() -> list:
            out = model.predict(letters(val), max_length=tgt_len)
            return phoneme_lists(data, rustrnn.seq2seq.reverse_targets(out, EOS) if backwards else out)

        if not val:
            model.set_weights(averaged(average))
            say(f"weights averaged over the last {average} epoch{'s' if average > 1 else ''}")
            return model, None, average
        val_wer = {}
        for k in range(1, average + 1):
            model.set_weights(averaged(k))
            val_wer[k] = error_rates(val_spelled(), [pron[w] for w in val])[1]
        chosen = min(val_wer, key=lambda k: (val_wer[k], -k))
        model.set_weights(averaged(chosen))
        say("validation word error rate (greedy) of the weights averaged over the last k epochs: "
            + ", ".join(f"k={k} {v:.1%}" for k, v in val_wer.items()) + f"; using k={chosen}")
        return model, val_wer, chosen

    trained = [train_member(i, False, kinds[i % len(kinds)]) for i in range(members)]
    reverse = [train_member(members + i, True, kinds[i % len(kinds)]) for i in range(reverse_members)]
    val_wer, chosen = trained[0][1], trained[0][2]
    forward = [m for m, _, _ in trained]
    model = forward[0] if members == 1 else rustrnn.Seq2SeqEnsemble(forward)
    if reverse:
        model = rustrnn.Seq2SeqReranker(forward, [m for m, _, _ in reverse])
    if members + reverse_members > 1 and val:
        val_wer = error_rates(spell(model, val, beam if reverse else 1), [pron[w] for w in val])[1]
        what = (f"of {members} left-to-right and {reverse_members} right-to-left models, reranked (beam {beam})" if reverse
                else f"(greedy) of the ensemble of {members}")
        say(f"validation word error rate {what}: {val_wer:.1%}")
    if members + reverse_members > 1:
        chosen = [c for _, _, c in trained + reverse]

    predicted = spell(model, test)
    per, wer = error_rates(predicted, [pron[w] for w in test])
    say(f"held-out phoneme error rate: {per:.1%}, word error rate: {wer:.1%} ({len(test):,} words, beam {beam})")
    examples = []
    shown = test[:6]
    for w, ph in zip(shown + list(NEW_WORDS), predicted[:6] + spell(model, list(NEW_WORDS))):
        ref = pron.get(w)
        mark = "" if ref is None else ("  ok" if ph in ref else f"  (dictionary: {' '.join(ref[0])})")
        say(f"  {w:<12} {' '.join(ph)}{mark if ref is not None else '  (not in the dictionary)'}")
        examples.append({"word": w, "phonemes": ph, "dictionary": ref})
    seconds = clock.seconds()
    say(f"time: {seconds:.0f} s ({rustrnn.get_num_threads()} threads)")
    return {"per": per, "wer": wer, "test_words": len(test), "train_words": len(train), "beam": beam, "epochs": epochs,
            "attention": attention, "dropout": dropout, "average": chosen, "units": units, "embedding": embedding,
            "layers": layers, "members": members, "reverse_members": reverse_members, "label_smoothing": label_smoothing,
            "validation_wer": val_wer, "examples": examples, "seconds": seconds}
