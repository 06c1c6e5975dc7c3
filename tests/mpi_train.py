"""Run under ``mpiexec -n N python tests/mpi_train.py OUT``: data-parallel
training against one process, written to OUT (an .npz) by rank 0.
(Used by tests/test_distributed.py; not collected by pytest itself.)"""

import sys

import numpy as np

import rustrnn
from rustrnn import layers
from rustrnn.distributed import DataParallel


def model(seed=0):
    rustrnn.manual_seed(seed)
    m = rustrnn.Sequential([layers.Embedding(40, 6, mask_zero=True), layers.LSTM(8, return_sequences=True), layers.GRU(5),
                            layers.Dense(3, activation="softmax")], dtype=np.float64)
    m.compile(optimizer=rustrnn.optimizers.Adam(learning_rate=0.01, global_clipnorm=1.0), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
    return m


def data():
    rng = np.random.default_rng(7)
    x = rng.integers(1, 40, size=(75, 9))
    for i, n in enumerate(rng.integers(2, 10, size=75)):
        x[i, n:] = 0  # padding, masked
    y = rng.integers(0, 3, size=75)
    w = rng.uniform(0.0, 2.0, size=75)
    w[::7] = 0.0  # rows that do not count
    return x, y, w


class Batches(rustrnn.utils.PyDataset):
    def __init__(self, x, y):
        super().__init__()
        self.x, self.y = x, y

    def __len__(self):
        return 8

    def __getitem__(self, i):
        return self.x[i * 9:(i + 1) * 9], self.y[i * 9:(i + 1) * 9]


def main(out):
    dp = DataParallel()
    comm = dp.comm
    x, y, w = data()
    results = {}
    # Arrays: the global batch of 16 split across ranks; sample weights with zeros.
    m = model()
    log = rustrnn.callbacks.CSVLogger(f"{out}.rank{dp.rank}.csv")  # only rank 0 writes
    h = m.fit(x, y, batch_size=16, epochs=3, sample_weight=w, validation_data=(x[:30], y[:30]), seed=5, verbose=2,
              distribution=dp, callbacks=[log])
    results["fit"] = np.concatenate([a.ravel() for a in m.get_weights()])
    for k, v in h.history.items():
        results["fit_history_" + k] = np.array(v)
    # A dataset: batch i on rank i % N.
    s = model()
    hs = s.fit(Batches(x, y), epochs=2, seed=5, shuffle=False, verbose=0, distribution=dp)
    results["stream"] = np.concatenate([a.ravel() for a in s.get_weights()])
    results["stream_loss"] = np.array(hs.history["loss"])
    # The low-level API in a custom loop: compute_gradients, one Allreduce, apply_gradients.
    from mpi4py import MPI

    c = model()
    c.build()
    dp.broadcast_weights(c)
    for step in range(4):
        sl = slice(step * 16, (step + 1) * 16)
        mine = np.array_split(np.arange(75)[sl], dp.size)[dp.rank]
        g = c.compute_gradients(x[mine], y[mine])
        g *= len(mine)  # no padding in the targets: one count per row
        comm.Allreduce(MPI.IN_PLACE, g, op=MPI.SUM)
        g /= len(np.arange(75)[sl])
        c.apply_gradients(g)
    results["custom"] = np.concatenate([a.ravel() for a in c.get_weights()])
    results["allreduce_seconds"] = np.array(dp.allreduce_seconds)
    gathered = comm.gather(results, root=0)
    if dp.rank != 0:
        return
    # One process, same data, batch size and seed.
    one = model()
    h1 = one.fit(x, y, batch_size=16, epochs=3, sample_weight=w, validation_data=(x[:30], y[:30]), seed=5, verbose=0)
    single = {"fit": np.concatenate([a.ravel() for a in one.get_weights()])}
    for k, v in h1.history.items():
        single["fit_history_" + k] = np.array(v)
    # The dataset's global steps join batches (r, r + N, ...): one process on those joined batches.
    n = dp.size
    joined = [(np.concatenate([x[j * 9:(j + 1) * 9] for j in range(i, min(i + n, 8))]),
               np.concatenate([y[j * 9:(j + 1) * 9] for j in range(i, min(i + n, 8))])) for i in range(0, 8, n)]
    two = model()
    two.fit(iter(joined * 2), steps_per_epoch=len(joined), epochs=2, seed=5, verbose=0)
    single["stream"] = np.concatenate([a.ravel() for a in two.get_weights()])
    three = model()
    for step in range(4):
        sl = slice(step * 16, (step + 1) * 16)
        three.train_on_batch(x[sl], y[sl])
    single["custom"] = np.concatenate([a.ravel() for a in three.get_weights()])
    save = {"ranks": np.array(n)}
    for r, res in enumerate(gathered):
        for k, v in res.items():
            save[f"rank{r}_{k}"] = v
    for k, v in single.items():
        save["single_" + k] = v
    np.savez(out, **save)


if __name__ == "__main__":
    main(sys.argv[1])
