"""Seq2Seq's n-best beam search and sequence log-likelihood, reverse_targets,
and Seq2SeqReranker (left-to-right candidates reranked with right-to-left
models). The core's infer::decode tests check the n best against the
teacher-forced pass in Rust; here the oracle is the training loss."""

import numpy as np
import pytest
import rustrnn
from conftest import reversal_task
from rustrnn.seq2seq import reverse_targets

SRC = np.array([[3, 4, 5, 6, 0], [6, 2, 5, 3, 1], [6, 6, 1, 0, 0]])


def model(seed, **kw):
    rustrnn.manual_seed(seed)
    config = dict(src_vocab=7, tgt_vocab=6, embedding_dim=4, units=5, bidirectional_encoder=True, attention="luong",
                  dtype="float64")
    config.update(kw)
    return rustrnn.Seq2Seq(**config)


def test_log_likelihood_is_minus_the_cross_entropy_of_the_targets_tokens():
    m = model(1)
    m.compile(optimizer="adam")
    tgt = np.array([[3, 4, 2, 0, 0], [5, 5, 5, 3, 2], [2, 0, 0, 0, 0]])
    ll = m.log_likelihood(SRC, tgt)
    assert ll.shape == (3,) and ll.dtype == np.float64 and (ll < 0).all()
    for i in range(3):  # the oracle: the training loss of the one sequence, a mean over its tokens
        loss = m.evaluate(SRC[i:i + 1], tgt[i:i + 1], batch_size=1)
        assert ll[i] == pytest.approx(-loss * np.count_nonzero(tgt[i]), rel=1e-10)
    np.testing.assert_allclose(m.log_likelihood(SRC, tgt, batch_size=1), ll, rtol=1e-12)
    with pytest.raises(rustrnn.errors.ShapeError, match="y: expected 3 target sequences"):
        m.log_likelihood(SRC, tgt[:2])
    with pytest.raises(rustrnn.errors.ArgumentError, match=r"y: expected token ids in 0\.\.5, got 6"):
        m.log_likelihood(SRC, tgt + 3)


def test_decoder_inputs_are_bos_then_the_targets_shifted_right_with_padding_kept():
    m = model(1, bos_id=1)
    tgt = np.array([[3, 4, 2, 0, 0], [5, 5, 5, 3, 2], [2, 0, 0, 0, 0]], dtype=np.int32)
    want = np.array([[1, 3, 4, 0, 0], [1, 5, 5, 5, 3], [1, 0, 0, 0, 0]])
    got = m.decoder_inputs(tgt)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, want)
    assert m.decoder_inputs(np.zeros((2, 0), np.int64)).shape == (2, 0)
    with pytest.raises(rustrnn.errors.DTypeError, match="targets: expected integer token ids"):
        m.decoder_inputs(tgt.astype(np.float32))


@pytest.mark.parametrize("ensemble", [False, True])
def test_n_best_come_best_first_with_their_log_likelihood_and_the_first_is_predicts(ensemble):
    decoder = rustrnn.Seq2SeqEnsemble([model(1), model(2, units=3)]) if ensemble else model(1)
    tokens, scores = decoder.predict_n_best(SRC, 3, max_length=6, beam_width=4)
    assert tokens.shape == (3, 3, 6) and scores.shape == (3, 3)
    np.testing.assert_array_equal(tokens[:, 0], decoder.predict(SRC, max_length=6, beam_width=4))
    assert (np.diff(scores, axis=1) <= 0).all() and np.isfinite(scores).all()
    assert all(len({row.tobytes() for row in hyps}) == 3 for hyps in tokens), "distinct hypotheses"
    if not ensemble:
        for j in range(3):
            np.testing.assert_allclose(decoder.log_likelihood(SRC, tokens[:, j]), scores[:, j], rtol=1e-10)
    again = decoder.predict_n_best(SRC, 3, max_length=6, beam_width=4, batch_size=1)
    np.testing.assert_array_equal(again[0], tokens)
    with pytest.raises(rustrnn.errors.ArgumentError, match="n: expected at most beam_width=2 hypotheses per source, got 3"):
        decoder.predict_n_best(SRC, 3, beam_width=2)
    assert decoder.predict_n_best(SRC, 2)[0].shape == (3, 2, 12)  # beam_width defaults to n, max_length to 2T + 2


def test_reverse_targets_turns_the_tokens_before_eos_around():
    y = np.array([[5, 6, 7, 2, 0], [3, 2, 0, 0, 0], [4, 5, 6, 7, 8], [2, 0, 0, 0, 0], [3, 4, 0, 0, 0]])
    expected = [[7, 6, 5, 2, 0], [3, 2, 0, 0, 0], [8, 7, 6, 5, 4], [2, 0, 0, 0, 0], [4, 3, 0, 0, 0]]
    np.testing.assert_array_equal(reverse_targets(y), expected)
    np.testing.assert_array_equal(reverse_targets(reverse_targets(y)), y)
    np.testing.assert_array_equal(reverse_targets([[5, 6, 3, 9]], eos_id=3), [[6, 5, 3, 9]])


def trained(seed, src, tgt):
    m = model(seed, src_vocab=11, tgt_vocab=11, units=16, embedding_dim=8, dtype="float32")
    m.compile(optimizer=rustrnn.optimizers.Adam(0.01))
    m.fit(src, tgt, batch_size=64, epochs=3, verbose=0, seed=seed)
    return m


def test_the_reranker_picks_the_best_scored_candidate_of_both_sides_and_helps_on_a_learned_task():
    src, tgt = reversal_task()
    left = [trained(s, src[:1200], tgt[:1200]) for s in (0, 1)]
    right = [trained(s, src[:1200], reverse_targets(tgt[:1200])) for s in (2, 3)]
    test, t = src[1200:], tgt.shape[1]
    reranker = rustrnn.Seq2SeqReranker(left, right, weight=0.4)
    assert "2 left-to-right, 2 right-to-left, weight=0.4" in repr(reranker)
    out = reranker.predict(test, max_length=t, beam_width=3)

    # The oracle, written out: both sides' 3 best, each candidate scored by both sides' mean log-likelihood.
    lt = rustrnn.Seq2SeqEnsemble(left).predict_n_best(test, 3, max_length=t)[0]
    rt = rustrnn.Seq2SeqEnsemble(right).predict_n_best(test, 3, max_length=t)[0]
    for i in range(0, len(test), 37):
        cands = {tuple(r) for r in lt[i]} | {tuple(r) for r in reverse_targets(rt[i])}
        cands = np.array(sorted(c for c in cands if any(c)))
        s = np.repeat(test[i:i + 1], len(cands), axis=0)
        score = (0.6 * np.mean([m.log_likelihood(s, cands) for m in left], axis=0)
                 + 0.4 * np.mean([m.log_likelihood(s, reverse_targets(cands)) for m in right], axis=0))
        np.testing.assert_array_equal(out[i], cands[np.argmax(score)], err_msg=f"source {i}")

    def exact(pred):
        return np.mean([np.array_equal(a, b) for a, b in zip(pred, tgt[1200:])])

    alone = exact(rustrnn.Seq2SeqEnsemble(left).predict(test, max_length=t, beam_width=3))
    assert exact(out) >= alone, (exact(out), alone)
    # weight=0 keeps the left side's choice among the candidates: never a lower left log-likelihood than its beam's best.
    left_only = rustrnn.Seq2SeqReranker(left[0], right, weight=0).predict(test, max_length=t, beam_width=3)
    beam = left[0].predict(test, max_length=t, beam_width=3)
    assert (left[0].log_likelihood(test, left_only) >= left[0].log_likelihood(test, beam) - 1e-5).all()


def test_reranker_arguments_are_checked():
    a, b = model(1), model(2)
    with pytest.raises(rustrnn.errors.ArgumentError, match="right_to_left: the models must share tgt_vocab"):
        rustrnn.Seq2SeqReranker(a, model(3, tgt_vocab=9))
    with pytest.raises(rustrnn.errors.DTypeError, match="right_to_left: expected the dtype of left_to_right"):
        rustrnn.Seq2SeqReranker(a, model(3, dtype="float32"))
    with pytest.raises(rustrnn.errors.ArgumentError, match="left_to_right: models: expected at least one"):
        rustrnn.Seq2SeqReranker([], b)
    with pytest.raises(rustrnn.errors.ArgumentError, match=r"weight: expected a number in \[0, 1\], got 1.5"):
        rustrnn.Seq2SeqReranker(a, b, weight=1.5)
    with pytest.raises(rustrnn.errors.ArgumentError, match="beam_width: expected a positive integer"):
        rustrnn.Seq2SeqReranker(a, b).predict(SRC, beam_width=0)
    with pytest.raises(rustrnn.errors.ArgumentError, match="n_best: expected at most beam_width=2 hypotheses per source, got 3"):
        rustrnn.Seq2SeqReranker(a, b).predict(SRC, beam_width=2, n_best=3)
    out = rustrnn.Seq2SeqReranker(a, b).predict(SRC, beam_width=2, n_best=1)
    assert out.shape == (3, 12) and out.dtype == np.int64
