"""rustrnn.utils.LengthBuckets: length-bucketed, trimmed batches of padded sequences, and why trimming is exact."""

import numpy as np
import pytest

import rustrnn
from rustrnn.utils import LengthBuckets


def padded(rng, n, width, low, high, vocab):
    """Token ids in 1..vocab-1, each row a random length in [low, high], 0-padded to `width`."""
    out = np.zeros((n, width), np.int64)
    for i, k in enumerate(rng.integers(low, high + 1, n)):
        out[i, :k] = rng.integers(1, vocab, k)
    return out


def last_token(a):
    return np.array([np.flatnonzero(r)[-1] + 1 if r.any() else 0 for r in a])


def collect(batches, batch_size, x, y):
    """The row index of every sample of one pass, found by its content."""
    key = {(tuple(a), tuple(b)): i for i, (a, b) in enumerate(zip(x.tolist(), y.tolist()))}
    seen = []
    for bx, by in batches:
        assert len(bx) == len(by) <= batch_size
        for a, b in zip(bx, by):
            full_a = np.pad(a, (0, x.shape[1] - len(a)))
            full_b = np.pad(b, (0, y.shape[1] - len(b)))
            seen.append(key[(tuple(full_a.tolist()), tuple(full_b.tolist()))])
    return seen


def test_every_sample_once_per_pass_trimmed_to_the_batch_longest_and_shorter_than_random_batches():
    rng = np.random.default_rng(1)
    x = padded(rng, 1000, 12, 1, 12, 30)
    y = padded(rng, 1000, 20, 1, 20, 40)
    b = LengthBuckets(x, y, batch_size=16, pool=8, seed=0)
    assert len(b) == 63  # 7 pools of 128 rows (8 batches each) and 104 rows left: 7 batches
    passes = []
    for _ in range(2):
        batches = list(b)
        assert len(batches) == len(b)
        for bx, by in batches:
            # Only all-padding columns are cut: the longest row of the batch keeps its last token.
            assert bx.shape[1] == last_token(bx).max() and by.shape[1] == last_token(by).max()
        passes.append(batches)
        assert sorted(collect(batches, 16, x, y)) == list(range(1000))
    # A fresh order every pass.
    assert any(p.shape != q.shape or not np.array_equal(p, q) for (p, _), (q, _) in zip(*passes))
    # Bucketing cuts the padding: far fewer target cells than batches of random rows.
    bucketed = sum(by.size for _, by in passes[0])
    randomly = sum(len(r) * last_token(y[r]).max() for r in np.array_split(rng.permutation(1000), 63))
    assert bucketed < 0.7 * randomly, (bucketed, randomly)


def test_the_same_seed_gives_the_same_batches_and_per_sample_targets_are_kept_whole():
    rng = np.random.default_rng(2)
    x = padded(rng, 300, 9, 0, 9, 20)  # rows of length 0 too
    y = rng.integers(0, 3, 300)
    first = [tuple(map(np.copy, t)) for t in LengthBuckets(x, y, batch_size=32, seed=5)]
    second = list(LengthBuckets(x, y, batch_size=32, seed=5))
    assert all(np.array_equal(a, c) and np.array_equal(b, d) for (a, b), (c, d) in zip(first, second))
    assert sum(len(b) for _, b in first) == 300 and all(b.ndim == 1 for _, b in first)
    assert all(a.shape[1] >= 1 for a, _ in first)


def test_bad_arguments_are_clear_errors():
    x = np.ones((4, 3), np.int64)
    with pytest.raises(rustrnn.ShapeError, match="x: expected padded token ids"):
        LengthBuckets(np.ones(4, np.int64), np.ones(4))
    with pytest.raises(rustrnn.ShapeError, match="y: expected 4 targets"):
        LengthBuckets(x, np.ones(3))
    with pytest.raises(rustrnn.DTypeError, match="x: expected integer token ids"):
        LengthBuckets(x.astype(np.float32), np.ones(4))
    with pytest.raises(rustrnn.ArgumentError, match="batch_size"):
        LengthBuckets(x, np.ones(4), batch_size=0)
    with pytest.raises(rustrnn.ArgumentError, match="pool"):
        LengthBuckets(x, np.ones(4), pool=-1)


def test_trimming_a_seq2seq_batch_changes_neither_its_loss_nor_its_training_step():
    # What makes bucketing exact: masked embeddings, recurrent layers, attention and loss ignore trailing padding.
    rng = np.random.default_rng(3)
    src = padded(rng, 24, 10, 2, 6, 15)
    tgt = padded(rng, 24, 12, 2, 7, 11)
    tgt[np.arange(24), last_token(tgt)] = 2  # EOS after the tokens
    cut_src, cut_tgt = src[:, :6], tgt[:, :8]
    results = []
    for s, t in ((src, tgt), (cut_src, cut_tgt)):
        rustrnn.manual_seed(0)
        m = rustrnn.Seq2Seq(src_vocab=15, tgt_vocab=11, embedding_dim=8, units=6, bidirectional_encoder=True,
                            attention="luong", dtype=np.float64)
        m.compile(optimizer=rustrnn.optimizers.Adam(0.01))
        loss = m.evaluate(s, t, verbose=0)
        m.train_on_batch(s, t)
        results.append((loss, m.get_weights()))
    assert results[0][0] == pytest.approx(results[1][0], rel=1e-12)
    for a, b in zip(results[0][1], results[1][1]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_fit_trains_a_seq2seq_on_length_buckets():
    rng = np.random.default_rng(4)
    src = padded(rng, 256, 8, 1, 8, 9)
    tgt = np.zeros((256, 9), np.int64)
    for i, k in enumerate(last_token(src)):  # copy the source, then EOS
        tgt[i, :k] = src[i, :k] + 2
        tgt[i, k] = 2
    rustrnn.manual_seed(0)
    m = rustrnn.Seq2Seq(src_vocab=9, tgt_vocab=11, embedding_dim=8, units=16, attention="luong")
    m.compile(optimizer=rustrnn.optimizers.Adam(0.02))
    batches = LengthBuckets(src, tgt, batch_size=32, seed=0)
    history = m.fit(batches, epochs=3, verbose=0)
    assert len(history.history["loss"]) == 3
    assert history.history["loss"][-1] < history.history["loss"][0]
