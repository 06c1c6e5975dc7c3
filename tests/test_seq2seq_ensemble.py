"""Seq2SeqEnsemble: several Seq2Seq models decoding from their mean
next-token probabilities (the step-by-step oracle is in the core's
infer::decode tests); here the Python surface, batching and errors."""

import numpy as np
import pytest
import rustrnn
from conftest import reversal_task

SRC = np.array([[3, 4, 5, 6, 0], [6, 2, 5, 3, 1], [6, 6, 1, 0, 0]])


def model(seed, **kw):
    rustrnn.manual_seed(seed)
    config = dict(src_vocab=7, tgt_vocab=6, embedding_dim=4, units=5, bidirectional_encoder=True, attention="luong")
    config.update(kw)
    return rustrnn.Seq2Seq(**config)


@pytest.mark.parametrize("beam", [1, 3])
def test_one_member_or_copies_of_one_model_decode_as_the_model(beam):
    m = model(1)
    copy = model(1)
    expected = m.predict(SRC, max_length=6, beam_width=beam)
    np.testing.assert_array_equal(rustrnn.Seq2SeqEnsemble([m]).predict(SRC, max_length=6, beam_width=beam), expected)
    np.testing.assert_array_equal(rustrnn.Seq2SeqEnsemble([m, copy, m]).predict(SRC, max_length=6, beam_width=beam),
                                  expected)


def test_members_of_different_sizes_and_attention_and_batches_of_any_size():
    members = [model(1), model(2, units=3, attention="bahdanau"), model(3, cell="gru", attention=None)]
    ensemble = rustrnn.Seq2SeqEnsemble(members)
    assert len(ensemble) == 3 and "3 models" in repr(ensemble)
    whole = ensemble.predict(SRC, max_length=6, beam_width=2)
    np.testing.assert_array_equal(ensemble.predict(SRC, max_length=6, beam_width=2, batch_size=1), whole)
    assert whole.shape == (3, 6) and whole.dtype == np.int64
    alone = [m.predict(SRC, max_length=6) for m in members]
    assert any(not np.array_equal(a, alone[0]) for a in alone[1:]), "members that agree would test nothing"
    # The default max_length follows the source, as Seq2Seq.predict's.
    assert ensemble.predict(SRC).shape == members[0].predict(SRC).shape


def test_an_ensemble_of_trained_models_is_at_least_as_good_on_a_learned_task():
    src, tgt = reversal_task()
    t = src.shape[1]
    members = []
    for seed in range(3):
        m = model(seed, src_vocab=11, tgt_vocab=11, units=16, embedding_dim=8)
        m.compile(optimizer=rustrnn.optimizers.Adam(0.01))
        m.fit(src[:1200], tgt[:1200], batch_size=64, epochs=3, verbose=0, seed=seed)
        members.append(m)

    def exact(out):
        return np.mean([np.array_equal(a, b) for a, b in zip(out, tgt[1200:])])

    alone = [exact(m.predict(src[1200:], max_length=t + 1)) for m in members]
    together = exact(rustrnn.Seq2SeqEnsemble(members).predict(src[1200:], max_length=t + 1))
    assert together >= np.mean(alone), (together, alone)


def test_members_that_disagree_on_tokens_or_dtype_or_are_not_seq2seq_are_named():
    with pytest.raises(rustrnn.ArgumentError, match="at least one"):
        rustrnn.Seq2SeqEnsemble([])
    with pytest.raises(rustrnn.ArgumentError, match=r"models\[1\].*tgt_vocab.*6.*9"):
        rustrnn.Seq2SeqEnsemble([model(1), model(1, tgt_vocab=9)])
    with pytest.raises(rustrnn.ArgumentError, match=r"models\[1\].*eos_id"):
        rustrnn.Seq2SeqEnsemble([model(1), model(1, eos_id=3)])
    with pytest.raises(rustrnn.DTypeError, match=r"models\[1\].*float32.*float64"):
        rustrnn.Seq2SeqEnsemble([model(1), model(1, dtype="float64")])
    seq = rustrnn.Sequential([rustrnn.layers.Dense(2)])
    with pytest.raises(rustrnn.ArgumentError, match=r"models\[0\].*Sequential"):
        rustrnn.Seq2SeqEnsemble([seq])
    with pytest.raises(rustrnn.DTypeError, match="x"):
        rustrnn.Seq2SeqEnsemble([model(1)]).predict(SRC.astype(float))
    with pytest.raises(rustrnn.ArgumentError, match="beam_width"):
        rustrnn.Seq2SeqEnsemble([model(1)]).predict(SRC, beam_width=0)
