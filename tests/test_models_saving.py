"""Model files: round trips (predictions and optimizer state, so training
continues identically), validation of corrupted, truncated and hostile
files, and atomic writes."""

import json
import os

import numpy as np
import pytest

import rustrnn
from rustrnn import _native, layers


def trained_model(tmp_path):
    rustrnn.manual_seed(5)
    m = rustrnn.Sequential([layers.Embedding(12, 4, mask_zero=True), layers.GRU(6, bidirectional=True, merge_mode="sum", num_layers=2, layer_dropout=0.2),
                            layers.Dense(3, activation="softmax")])
    m.compile(optimizer=rustrnn.optimizers.Adam(learning_rate=rustrnn.optimizers.ExponentialDecay(0.01, 10, 0.9), clipnorm=1.0),
              loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    x = rng.integers(1, 12, size=(40, 7))
    x[::3, 5:] = 0
    y = rng.integers(0, 3, size=40)
    m.fit(x, y, batch_size=8, epochs=2, verbose=0, seed=1)
    return m, x, y


def test_round_trip_keeps_predictions_and_continues_training_identically(tmp_path):
    m, x, y = trained_model(tmp_path)
    path = tmp_path / "model.rnn"
    m.save(path)
    loaded = rustrnn.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x), m.predict(x))
    assert [l.name for l in loaded.layers] == [l.name for l in m.layers]
    assert loaded.optimizer.iterations == m.optimizer.iterations == 10
    assert loaded.optimizer.learning_rate == m.optimizer.learning_rate
    assert loaded.metrics_names == ["accuracy"]
    # Same state, same data, same seed: the next epoch is bit-identical.
    h1 = m.fit(x, y, batch_size=8, epochs=1, verbose=0, seed=9)
    h2 = loaded.fit(x, y, batch_size=8, epochs=1, verbose=0, seed=9)
    assert h1.history == h2.history
    for a, b in zip(m.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("attention", [None, "luong", "bahdanau"])
def test_seq2seq_and_float64_round_trip(tmp_path, attention):
    rustrnn.manual_seed(6)
    s = rustrnn.Seq2Seq(src_vocab=7, tgt_vocab=6, embedding_dim=4, units=5, cell="gru", attention=attention, dtype="float64")
    path = tmp_path / "s2s.rnn"
    s.save(path)  # uncompiled: architecture and weights only
    loaded = rustrnn.load_model(path)
    src = np.array([[3, 4, 5], [6, 3, 0]])
    np.testing.assert_array_equal(loaded.predict(src, max_length=5), s.predict(src, max_length=5))
    np.testing.assert_array_equal(loaded.predict(src, max_length=5, beam_width=3), s.predict(src, max_length=5, beam_width=3))
    assert loaded.dtype == np.float64 and loaded.optimizer is None and loaded.config["attention"] == attention


@pytest.mark.parametrize("kind", ["dropout", "recurrent_dropout"])
def test_seq2seq_dropout_round_trips_and_acts_in_training_only(tmp_path, kind):
    # With one layer, dropout acts on the embeddings and the output layer's input (it used to be a no-op here);
    # recurrent_dropout on the state entering each step of the encoder and the decoder.
    rng = np.random.default_rng(0)
    src = rng.integers(1, 7, size=(16, 5))
    tgt = np.concatenate([rng.integers(3, 6, size=(16, 4)), np.full((16, 1), 2)], axis=1)

    def build(rate):
        rustrnn.manual_seed(6)
        s = rustrnn.Seq2Seq(src_vocab=7, tgt_vocab=6, embedding_dim=4, units=5, attention="luong",
                            bidirectional_encoder=True, **{kind: rate})
        s.compile(optimizer="adam")
        return s

    s, plain = build(0.4), build(0.0)
    np.testing.assert_array_equal(s.predict(src, max_length=5), plain.predict(src, max_length=5))
    assert s.evaluate(src, tgt, verbose=0) == plain.evaluate(src, tgt, verbose=0)
    loss = s.fit(src, tgt, epochs=1, verbose=0, seed=3).history["loss"]
    assert loss != plain.fit(src, tgt, epochs=1, verbose=0, seed=3).history["loss"]
    path = tmp_path / "s2s.rnn"
    s.save(path)
    loaded = rustrnn.load_model(path)
    assert loaded.config[kind] == 0.4
    np.testing.assert_array_equal(loaded.predict(src, max_length=5, beam_width=2), s.predict(src, max_length=5, beam_width=2))
    assert loaded.fit(src, tgt, epochs=1, verbose=0, seed=4).history == s.fit(src, tgt, epochs=1, verbose=0, seed=4).history
    with pytest.raises(rustrnn.ArgumentError, match=kind):
        rustrnn.Seq2Seq(src_vocab=7, tgt_vocab=6, **{kind: 1.0})


def test_truncated_corrupted_and_foreign_files_are_clear_errors(tmp_path):
    m, x, _ = trained_model(tmp_path)
    path = tmp_path / "model.rnn"
    m.save(path)
    data = path.read_bytes()
    bad = tmp_path / "bad.rnn"
    for broken in (data[: len(data) // 2], data[:5], b"", b"\x00" * 64, data[:8] + b"{not json" + data[17:]):
        bad.write_bytes(broken)
        with pytest.raises(rustrnn.ModelFileError, match="bad.rnn"):
            rustrnn.load_model(bad)
    with pytest.raises(FileNotFoundError):
        rustrnn.load_model(tmp_path / "missing.rnn")


def _rewrite(path, out, edit_meta=None, edit_tensors=None):
    meta, tensors = _native.deserialize_model(path.read_bytes())
    if edit_meta:
        edit_meta(meta)
    if edit_tensors:
        tensors = edit_tensors(tensors)
    out.write_bytes(bytes(_native.serialize_model(tensors, meta)))


def test_loading_validates_architecture_and_weights_and_runs_no_code(tmp_path):
    m, _, _ = trained_model(tmp_path)
    path = tmp_path / "model.rnn"
    m.save(path)
    out = tmp_path / "edited.rnn"

    def arch(edit):
        def f(meta):
            a = json.loads(meta["architecture"])
            edit(a)
            meta["architecture"] = json.dumps(a)
        return f

    cases = [
        (arch(lambda a: a.update({"class": "os.system"})), None, "unknown model class"),
        (arch(lambda a: a["layers"][1].update({"class": "Lambda"})), None, "unknown layer class"),
        (arch(lambda a: a["layers"][1]["config"].update({"units": 7})), None, "shape"),
        (arch(lambda a: a["layers"][1]["config"].update({"eval": "1"})), None, "eval"),
        (lambda meta: meta.update({"format": "pickle"}), None, "not a rustrnn model"),
        (None, lambda t: t[1:], "missing"),
        (None, lambda t: t + [("weights/extra/kernel", np.zeros(2, np.float32))], "unexpected"),
        (None, lambda t: [(n, a.astype(np.float64)) for n, a in t], "float64"),
        (None, lambda t: t + [("optimizer/dense/kernel/q", np.zeros((12, 3), np.float32))], "optimizer"),
    ]
    for edit_meta, edit_tensors, words in cases:
        _rewrite(path, out, edit_meta, edit_tensors)
        with pytest.raises(rustrnn.ModelFileError, match=words):
            rustrnn.load_model(out)


def test_a_failed_write_leaves_the_old_file_intact(tmp_path, monkeypatch):
    m, x, _ = trained_model(tmp_path)
    path = tmp_path / "model.rnn"
    m.save(path)
    before = path.read_bytes()
    m.fit(x, np.zeros(len(x)), epochs=1, verbose=0)

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        m.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["model.rnn"]  # no temporary file left behind
    rustrnn.load_model(path)


def test_user_metadata_round_trips_as_json_and_is_validated(tmp_path):
    m, x, _ = trained_model(tmp_path)
    path = tmp_path / "model.rnn"
    m.save(path)
    assert rustrnn.load_model(path).metadata == {}  # none by default
    m.metadata = {"task": "classify", "labels": ["neg", "pos"], "maxlen": 7, "scaler": {"mean": 1.5}}
    m.save(path)
    assert rustrnn.load_model(path).metadata == m.metadata
    m.metadata = {"bad": object()}
    with pytest.raises(rustrnn.ArgumentError, match="metadata: expected a dict of JSON values"):
        m.save(path)
    m.metadata = {"nan": float("nan")}
    with pytest.raises(rustrnn.ArgumentError, match="metadata"):
        m.save(path)
    out = tmp_path / "edited.rnn"
    _rewrite(path, out, lambda meta: meta.update({"user_metadata": "[1, 2]"}))
    with pytest.raises(rustrnn.ModelFileError, match="user_metadata: expected a JSON object"):
        rustrnn.load_model(out)
    _rewrite(path, out, lambda meta: meta.update({"user_metadata": "{oops"}))
    with pytest.raises(rustrnn.ModelFileError, match="not JSON"):
        rustrnn.load_model(out)


BIASES = rustrnn.initializers.RandomUniform(-1.0, 1.0)


def test_gru_reset_after_false_survives_a_round_trip(tmp_path):
    rustrnn.manual_seed(6)
    # Biases away from Keras's zeros, so that where the reset gate applies matters.
    m = rustrnn.Sequential([layers.Embedding(9, 4, mask_zero=True), layers.GRU(5, reset_after=False, bias_initializer=BIASES),
                            layers.Dense(2)])
    x = np.array([[1, 2, 3, 0], [0, 4, 5, 6]])
    want = m.predict(x)
    m.save(tmp_path / "g.rnn")
    back = rustrnn.load_model(tmp_path / "g.rnn")
    assert back.layers[1].reset_after is False and back.get_config()["layers"][1]["config"]["reset_after"] is False
    np.testing.assert_array_equal(back.predict(x), want)
    # The same weights in the other variant compute something else: the flag is not ignored.
    other = rustrnn.Sequential([layers.Embedding(9, 4, mask_zero=True), layers.GRU(5), layers.Dense(2)])
    other.build()
    w = m.get_weights()  # reset_after=False has Keras's one bias; reset_after=True also a recurrent one
    other.set_weights(w[:4] + [np.zeros_like(w[3])] + w[4:])
    assert np.abs(other.predict(x) - want).max() > 1e-3
    with pytest.raises(rustrnn.DTypeError, match="reset_after"):
        layers.GRU(5, reset_after="no")


def test_gru_reset_after_false_survives_pickle_and_threaded_replicas():
    """Pickles and per-call replicas are rebuilt from the spec: the variant must come along."""
    import pickle
    from concurrent.futures import ThreadPoolExecutor

    rustrnn.manual_seed(7)
    m = rustrnn.Sequential([layers.Embedding(9, 4, mask_zero=True),
                            layers.GRU(5, reset_after=False, return_sequences=True, bias_initializer=BIASES),
                            layers.Dense(2)], dtype=np.float64)
    x = np.array([[1, 2, 3, 0], [0, 4, 5, 6], [7, 8, 0, 0]])
    want = m.predict(x)
    back = pickle.loads(pickle.dumps(m))
    assert back.layers[1].reset_after is False
    np.testing.assert_array_equal(back.predict(x), want)
    with ThreadPoolExecutor(4) as pool:
        for got in pool.map(lambda _: m.predict(x), range(8)):
            np.testing.assert_array_equal(got, want)
    # The replicas ran the reset-before cell: the other variant with the same weights differs.
    other = rustrnn.Sequential([layers.Embedding(9, 4, mask_zero=True), layers.GRU(5, return_sequences=True), layers.Dense(2)],
                               dtype=np.float64)
    other.build()
    w = m.get_weights()  # reset_after=False has Keras's one bias; reset_after=True also a recurrent one
    other.set_weights(w[:4] + [np.zeros_like(w[3])] + w[4:])
    assert np.abs(other.predict(x) - want).max() > 1e-3
