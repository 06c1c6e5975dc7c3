"""Data-parallel training under ``mpiexec -n 2`` (mpi4py on the MPICH wheel)
against one process, and Dask / process-pool inference."""

import os
import pathlib
import shutil
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

import rustrnn
from rustrnn import layers

HERE = pathlib.Path(__file__).resolve().parent


def _mpiexec():
    """The mpiexec next to this Python's scripts (where the mpich wheel puts it), else on PATH."""
    import sysconfig

    dirs = [pathlib.Path(sys.executable).parent, sysconfig.get_path("scripts")]
    try:
        dirs.append(sysconfig.get_path("scripts", f"{os.name}_user"))
    except KeyError:
        pass
    for d in dirs:
        if d and (pathlib.Path(d) / "mpiexec").exists():
            return str(pathlib.Path(d) / "mpiexec")
    return shutil.which("mpiexec")


@pytest.fixture(scope="module")
def mpi_run(tmp_path_factory):
    pytest.importorskip("mpi4py")
    mpiexec = _mpiexec()
    if mpiexec is None:
        pytest.fail("mpi4py is installed but no mpiexec was found; pip install mpich (or 'rustrnn[mpi]')")
    out = tmp_path_factory.mktemp("mpi") / "out.npz"
    env = dict(os.environ, RUSTRNN_NUM_THREADS="1")
    run = subprocess.run([mpiexec, "-n", "2", sys.executable, str(HERE / "mpi_train.py"), str(out)], capture_output=True, text=True,
                         timeout=600, env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    return out, run


@pytest.mark.parametrize("what", ["fit", "stream", "custom"])
def test_two_ranks_end_with_the_weights_of_one_process(mpi_run, what):
    d = np.load(mpi_run[0])
    assert int(d["ranks"]) == 2
    assert np.array_equal(d[f"rank0_{what}"], d[f"rank1_{what}"])  # the same on every rank
    np.testing.assert_allclose(d[f"rank0_{what}"], d[f"single_{what}"], rtol=0, atol=1e-9)
    assert not np.allclose(d[f"rank0_{what}"], 0)


def test_history_has_the_global_metrics_and_only_rank_0_writes(mpi_run):
    out, run = mpi_run
    d = np.load(out)
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        for r in (0, 1):
            np.testing.assert_allclose(d[f"rank{r}_fit_history_{key}"], d[f"single_fit_history_{key}"], rtol=1e-12)
    assert pathlib.Path(f"{out}.rank0.csv").exists() and not pathlib.Path(f"{out}.rank1.csv").exists()
    assert run.stdout.count("Epoch 3/3") == 1  # progress from rank 0 only
    assert float(d["rank0_allreduce_seconds"]) > 0


def test_distribution_must_be_data_parallel():
    m = rustrnn.Sequential([layers.Dense(1)])
    m.compile(optimizer="sgd", loss="mse")
    with pytest.raises(rustrnn.DTypeError, match="distribution"):
        m.fit(np.zeros((4, 2)), np.zeros((4, 1)), distribution="mpi", verbose=0)


def test_compute_and_apply_gradients_equal_a_training_step():
    rustrnn.manual_seed(3)
    a = rustrnn.Sequential([layers.GRU(4), layers.Dense(2)], dtype=np.float64)
    a.compile(optimizer="adam", loss="mse")
    b = rustrnn.Sequential([layers.GRU(4), layers.Dense(2)], dtype=np.float64)
    b.compile(optimizer="adam", loss="mse")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(6, 5, 3)), rng.normal(size=(6, 2))
    a.build((5, 3))
    b.build((5, 3))
    b.set_weights(a.get_weights())
    g = a.compute_gradients(x, y)
    named = a.loss_and_gradients(x, y)[1]
    assert g.shape == (a.count_params(),) and g.dtype == np.float64
    np.testing.assert_array_equal(g, np.concatenate([named[n].ravel() for n in a.weight_names]))
    a.apply_gradients(g)
    b.train_on_batch(x, y)
    for p, q in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(p, q)
    out = np.zeros_like(g)
    assert a.compute_gradients(x, y, out=out) is out and np.any(out != 0)
    with pytest.raises(rustrnn.ShapeError, match=f"expected a flat array of {g.size} values, got 3"):
        a.apply_gradients(np.zeros(3))


def _predict_in_worker(args):
    model, x = args
    return model.predict(x)


def test_process_pool_executor_predicts_with_a_pickled_model():
    rustrnn.manual_seed(4)
    m = rustrnn.Sequential([layers.Embedding(50, 8), layers.LSTM(6), layers.Dense(2)])
    x = np.random.default_rng(1).integers(0, 50, size=(30, 7))
    want = [m.predict(x[i:i + 10]) for i in range(0, 30, 10)]
    import multiprocessing as mp

    with ProcessPoolExecutor(2, mp_context=mp.get_context("spawn")) as ex:
        got = list(ex.map(_predict_in_worker, [(m, x[i:i + 10]) for i in range(0, 30, 10)], timeout=300))
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def test_predict_dask_on_a_local_cluster_of_two_worker_processes():
    pytest.importorskip("dask")
    distributed = pytest.importorskip("distributed")
    import dask.array as da
    import dask.bag as db

    rustrnn.manual_seed(5)
    m = rustrnn.Sequential([layers.Embedding(60, 8), layers.GRU(6), layers.Dense(3, activation="softmax")])
    x = np.random.default_rng(2).integers(0, 60, size=(90, 11))
    want = np.concatenate([m.predict(x[i:i + 30]) for i in range(0, 90, 30)])
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        got = rustrnn.distributed.predict_dask(m, da.from_array(x, chunks=(30, 11))).compute()
        np.testing.assert_array_equal(got, want)
        assert len(client.scheduler_info()["workers"]) == 2
        bag = db.from_sequence(list(x), npartitions=3)
        rows = rustrnn.distributed.predict_dask(m, bag).compute()
        np.testing.assert_allclose(np.stack(rows), want, rtol=1e-5, atol=1e-6)
    with pytest.raises(rustrnn.ArgumentError, match="chunk along the first axis only"):
        rustrnn.distributed.predict_dask(m, da.from_array(x, chunks=(30, 5)))
    with pytest.raises(rustrnn.DTypeError, match="dask.array.Array or dask.bag.Bag"):
        rustrnn.distributed.predict_dask(m, x)


def test_a_cli_trained_model_scores_text_partitions_on_dask(tmp_path, capsys):
    pytest.importorskip("dask")
    distributed = pytest.importorskip("distributed")
    import dask.bag as db

    from rustrnn.cli import main

    good = ["a fine warm film", "great acting and a moving story", "lovely and bright", "a wonderful joy"]
    bad = ["a dull cold mess", "awful boring plot", "a bad tired film", "weak and dreary"]
    rows = [(t, "pos") for t in good] * 6 + [(t, "neg") for t in bad] * 6
    (tmp_path / "train.csv").write_text("text,label\n" + "\n".join(f"{t},{l}" for t, l in rows) + "\n")
    model_path = tmp_path / "model.rnn"
    assert main(["train", "classify", str(tmp_path / "train.csv"), "-o", str(model_path), "--epochs", "2", "--units", "8",
                 "--embedding-dim", "8", "--quiet"]) == 0
    capsys.readouterr()
    predict = rustrnn.distributed.TextPredictor(model_path)
    texts = good + bad + ["never seen words here"]
    want_labels, want_scores = predict(texts)
    assert set(want_labels) <= {"pos", "neg"} and all(0.5 <= s <= 1.0 for s in want_scores)

    # The README's recipe: one call per partition (a DataFrame's text column there, a list here).
    def score(part):
        labels, scores = predict(part)
        return list(zip(labels, scores))

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        got = db.from_sequence(texts, npartitions=3).map_partitions(score).compute()
    assert [g[0] for g in got] == want_labels
    np.testing.assert_allclose([g[1] for g in got], want_scores, rtol=1e-6)
    with pytest.raises(rustrnn.RustRnnError):
        rustrnn.distributed.TextPredictor(b"not a model")


def test_distributed_is_under_the_error_guard():
    # A bad argument that slips past the checks (here: texts that are not iterable, in __call__) is a RustRnnError.
    import rustrnn.distributed as dist

    assert dist.TextPredictor.__call__._rustrnn_guarded and dist.predict_dask._rustrnn_guarded
    predictor = dist.TextPredictor.__new__(dist.TextPredictor)  # no model: __call__ fails on its first line
    predictor.__dict__["_loaded"] = (None, {"task": "classify"}, None)
    with pytest.raises(rustrnn.RustRnnError):
        predictor(5)
    for bad in ("abc", 0, 2.5):
        with pytest.raises(rustrnn.RustRnnError, match="batch_size"):
            dist.TextPredictor(b"not read that far", batch_size=bad)
