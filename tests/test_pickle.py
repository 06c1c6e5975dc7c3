"""pickle, copy.deepcopy, to_bytes and load_model from bytes or file objects,
for models in every state and for rustrnn.nn modules."""

import copy
import io
import pickle
import pickletools

import numpy as np
import pytest

import rustrnn
from rustrnn import layers


def _data(n=48):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 7, 4)), rng.normal(size=(n, 3))


def _model():
    rustrnn.manual_seed(2)
    return rustrnn.Sequential([layers.LSTM(10, return_sequences=True), layers.GRU(6), layers.Dense(3)], dtype=np.float64)


class _OnlyRustrnn(pickle.Unpickler):
    """Loads a pickle refusing every global outside rustrnn; records those asked for."""

    def __init__(self, blob):
        super().__init__(io.BytesIO(blob))
        self.asked = set()

    def find_class(self, module, name):
        self.asked.add((module, name))
        if not module.startswith("rustrnn"):
            raise pickle.UnpicklingError(f"refused {module}.{name}")
        return super().find_class(module, name)


def _strict_load(blob):
    u = _OnlyRustrnn(blob)
    return u.load(), u.asked


def test_a_trained_model_round_trips_and_continues_training_identically():
    x, y = _data()
    m = _model()
    m.compile(optimizer="adam", loss="mse", metrics=["mae"])
    m.fit(x, y, batch_size=16, epochs=2, verbose=0, seed=1)
    m.metadata["labels"] = ["a", "b", "c"]
    # The pickle names only rustrnn's loader and carries bytes.
    c, asked = _strict_load(pickle.dumps(m))
    assert asked == {("rustrnn.saving", "_unpickle")}
    assert c.metadata == {"labels": ["a", "b", "c"]}
    assert c.optimizer.iterations == m.optimizer.iterations == 6
    for a, b in zip(m.get_weights(), c.get_weights()):
        assert np.array_equal(a, b)
    assert np.array_equal(m.predict(x), c.predict(x))
    m.fit(x, y, batch_size=16, epochs=1, verbose=0, seed=5)
    c.fit(x, y, batch_size=16, epochs=1, verbose=0, seed=5)
    for a, b in zip(m.get_weights(), c.get_weights()):
        assert np.array_equal(a, b)


def test_deepcopy_is_independent():
    x, y = _data()
    m = _model()
    m.compile(optimizer="sgd", loss="mse")
    m.fit(x, y, epochs=1, verbose=0)
    c = copy.deepcopy(m)
    before = m.get_weights()
    c.fit(x, y, epochs=1, verbose=0)
    for a, b in zip(before, m.get_weights()):
        assert np.array_equal(a, b)
    assert not np.array_equal(c.get_weights()[0], before[0])


def test_unbuilt_and_uncompiled_models_pickle():
    m = _model()
    c = pickle.loads(pickle.dumps(m))
    assert not c.built and c.optimizer is None and [l.name for l in c.layers] == [l.name for l in m.layers]
    m.compile(optimizer="rmsprop", loss="mse")
    c = pickle.loads(pickle.dumps(m))
    assert not c.built and c.loss.name == "mse" and type(c.optimizer).__name__ == "RMSprop"
    m.build((7, 4))
    c = copy.deepcopy(m)
    x, _ = _data(5)
    assert np.array_equal(c.predict(x), m.predict(x))


def test_seq2seq_pickles():
    rustrnn.manual_seed(3)
    s = rustrnn.Seq2Seq(30, 25, embedding_dim=8, units=12)
    s.compile()
    src = np.random.default_rng(1).integers(3, 30, size=(4, 6))
    c = pickle.loads(pickle.dumps(s))
    assert np.array_equal(c.predict(src, max_length=8), s.predict(src, max_length=8))


def test_to_bytes_and_load_model_from_bytes_or_a_file_object(tmp_path):
    x, y = _data()
    m = _model()
    m.compile(optimizer="adam", loss="mse")
    m.fit(x, y, epochs=1, verbose=0)
    data = m.to_bytes()
    assert isinstance(data, bytes)
    m.save(tmp_path / "m.rnn")
    for source in (data, bytearray(data), memoryview(data), io.BytesIO(data), open(tmp_path / "m.rnn", "rb")):
        c = rustrnn.load_model(source)
        assert np.array_equal(c.predict(x), m.predict(x))
        assert c.optimizer.iterations == m.optimizer.iterations
    no_opt = rustrnn.load_model(m.to_bytes(include_optimizer=False))
    assert no_opt.optimizer.iterations == 0


def test_bad_bytes_and_text_files_raise_clear_errors(tmp_path):
    with pytest.raises(rustrnn.ModelFileError):
        rustrnn.load_model(b"not a model")
    from rustrnn.saving import _unpickle

    with pytest.raises(rustrnn.ModelFileError):
        _unpickle("model", b"\x00" * 20)
    with pytest.raises(rustrnn.ModelFileError, match="unknown model kind"):
        _unpickle("exec", b"{}")
    with pytest.raises(rustrnn.ModelFileError):
        _unpickle("unbuilt", b'{"format": "something else"}')
    (tmp_path / "t.txt").write_text("hello")
    with open(tmp_path / "t.txt") as f, pytest.raises(rustrnn.ArgumentError, match="binary mode"):
        rustrnn.load_model(f)
    with pytest.raises(rustrnn.ArgumentError, match="filepath"):
        rustrnn.load_model(3.5)


@pytest.mark.parametrize("cls", [rustrnn.nn.RNN, rustrnn.nn.LSTM, rustrnn.nn.GRU])
def test_nn_modules_pickle_and_deepcopy(cls):
    rustrnn.manual_seed(4)
    mod = cls(3, 5, num_layers=2, bidirectional=True, batch_first=False, dtype=np.float64).eval()
    x = np.random.default_rng(2).normal(size=(6, 2, 3))
    loaded, asked = _strict_load(pickle.dumps(mod))
    assert asked == {("rustrnn.nn.recurrent", "_unpickle")}
    for c in (loaded, copy.deepcopy(mod)):
        assert type(c) is cls and not c.training and c.batch_first is False and c.dtype == np.float64
        a, b = mod(x), c(x)
        assert np.array_equal(a[0], b[0])
    c = copy.deepcopy(mod)
    c.load_state_dict({k: v * 0 for k, v in c.state_dict().items()})
    assert not np.array_equal(mod(x)[0], c(x)[0])
