"""Processes forked after rustrnn computed (multiprocessing's fork, prefork
servers) work; spawned ones receive models by pickling."""

import multiprocessing as mp

import numpy as np
import pytest

import rustrnn
from rustrnn import layers

_MODEL = None
_X = np.random.default_rng(0).normal(size=(40, 6, 3))


def _build():
    rustrnn.manual_seed(11)
    m = rustrnn.Sequential([layers.GRU(8), layers.Dense(2)], dtype=np.float64)
    m.compile(optimizer="sgd", loss="mse")
    m.fit(_X, np.ones((40, 2)), batch_size=8, epochs=1, verbose=0)
    return m


def _predict_inherited(i):
    # Runs in a forked child with the parent's model and thread pool.
    return _MODEL.predict(_X[i * 10:(i + 1) * 10])


def _predict_given(args):
    model, x = args
    return model.predict(x)


def _train_in_child(_):
    m = _build()
    return m.get_weights()[0]


@pytest.mark.skipif("fork" not in mp.get_all_start_methods(), reason="no fork on this platform")
def test_forked_children_predict_after_the_parent_computed():
    global _MODEL
    rustrnn.set_num_threads(2)  # a pool with worker threads, which a child does not inherit
    _MODEL = _build()
    want = [_MODEL.predict(_X[i * 10:(i + 1) * 10]) for i in range(4)]
    with mp.get_context("fork").Pool(2) as pool:
        parts = pool.map_async(_predict_inherited, range(4)).get(timeout=120)
        weights = pool.map_async(_train_in_child, range(2)).get(timeout=120)
    for got, w in zip(parts, want):
        assert np.array_equal(got, w)
    assert np.array_equal(weights[0], _build().get_weights()[0]) and np.array_equal(weights[1], weights[0])


@pytest.mark.skipif("fork" not in mp.get_all_start_methods(), reason="no fork on this platform")
def test_a_fork_of_a_fork_still_computes():
    rustrnn.set_num_threads(2)
    m = _build()
    ctx = mp.get_context("fork")

    def grandchild(q):
        q.put(m.predict(_X[:5]))

    def child(q):
        m.predict(_X[:5])
        inner = ctx.Queue()
        p = ctx.Process(target=grandchild, args=(inner,))
        p.start()
        q.put(inner.get(timeout=60))
        p.join(60)

    q = ctx.Queue()
    p = ctx.Process(target=child, args=(q,))
    p.start()
    got = q.get(timeout=120)
    p.join(60)
    assert np.array_equal(got, m.predict(_X[:5]))


def test_spawned_children_get_the_model_by_pickling():
    m = _build()
    want = np.concatenate([m.predict(_X[:20]), m.predict(_X[20:])])
    with mp.get_context("spawn").Pool(2) as pool:
        parts = pool.map_async(_predict_given, [(m, _X[:20]), (m, _X[20:])]).get(timeout=300)
    assert np.array_equal(np.concatenate(parts), want)
