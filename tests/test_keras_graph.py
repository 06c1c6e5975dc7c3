"""Flatten, Reshape, slicing of symbolic tensors (``x[:, -1]``) and the element-wise merge
layers: Keras 3's own outputs as the oracle (tests/fixtures/keras/graph, made by
make_graph_fixtures.py with Keras 3.15.1), gradients against finite differences, the number
of steps Flatten needs, and errors naming what is not supported."""

import os

import numpy as np
import pytest

import rustrnn
from rustrnn import keras
from rustrnn.errors import ArgumentError, ShapeError, UnsupportedError
from rustrnn.interop.keras_in import keras_to_torch_gates

from test_models_gradcheck import fd_check

L = keras.layers
HERE = os.path.join(os.path.dirname(__file__), "fixtures", "keras", "graph")


def load(case):
    return dict(np.load(os.path.join(HERE, f"{case}.npz")))


def kw(f, layer):
    return [f[f"w:{layer}:{k}"] for k in range(3) if f"w:{layer}:{k}" in f]


def recurrent(cls, units, kernel, recurrent_kernel, bias):
    gates = lambda w: keras_to_torch_gates(w, cls, units)  # noqa: E731
    biases = [bias[0], bias[1]] if bias.ndim == 2 else [bias]  # GRU reset_after: two; else Keras's one bias
    return [gates(kernel.T), gates(recurrent_kernel.T)] + [gates(b) for b in biases]


def slice_merge_model(dtype="float32"):
    x = keras.Input(shape=(5, 3), name="x")
    h = L.LSTM(4, return_sequences=True, name="lstm")(x)
    last = h[:, -1, :]
    mid = L.Dense(4, activation="tanh", name="mid")(L.Flatten(name="flat")(h[:, 1:3]))
    a = L.Add(name="add")([last, mid])
    s = L.Subtract(name="sub")([a, last])
    m = L.Multiply(name="mul")([s, mid, last])
    v = L.Average(name="avg")([m, a])
    mx = L.Maximum(name="max")([v, last, mid])
    mn = L.Minimum(name="min")([mx, a])
    r = L.Reshape((2, 2), name="reshape")(mn)
    y = L.Dense(3, activation="softmax", name="out")(L.Flatten(name="flat2")(r))
    return keras.Model(x, [y, last, mx], dtype=dtype)


def test_slices_flatten_reshape_and_merges_match_keras():
    f = load("slice_merge")
    model = slice_merge_model()
    model.get_layer("lstm").set_weights(recurrent("LSTM", 4, *kw(f, "lstm")))
    for name in ("mid", "out"):
        model.get_layer(name).set_weights(kw(f, name))
    got = model.predict(f["x0"])
    for g, k in zip(got, ("y0", "y1", "y2")):
        np.testing.assert_allclose(g, f[k], rtol=1e-5, atol=1e-6)
    # Slices are operations, not layers (as in Keras): model.layers indices stay Keras's.
    assert [l.name for l in model.layers] == ["x", "lstm", "flat", "mid", "add", "sub", "mul", "avg", "max", "min",
                                              "reshape", "flat2", "out"]


def token_flatten_model():
    tok = keras.Input(shape=(4,), dtype="int32", name="tok")
    e = L.Embedding(7, 3, name="emb")(tok)
    flat = L.Flatten(name="flat")(e)
    seq = L.Reshape((-1, 2), name="pairs")(flat)
    g = L.GRU(4, name="gru")(seq)
    both = L.Concatenate(name="cat")([g[:, 1:3], flat[:, -2:]])
    return keras.Model(tok, L.Dense(1, activation="sigmoid", name="out")(both))


def test_token_flatten_reshape_and_feature_slices_match_keras():
    f = load("token_flatten")
    model = token_flatten_model()
    model.get_layer("emb").set_weights(kw(f, "emb"))
    model.get_layer("gru").set_weights(recurrent("GRU", 4, *kw(f, "gru")))
    model.get_layer("out").set_weights(kw(f, "out"))
    np.testing.assert_allclose(model.predict(f["x0"]), f["y0"], rtol=1e-5, atol=1e-6)


def test_sequential_conv_gru_flatten_takes_t_from_the_declared_input_and_matches_keras():
    f = load("conv_flatten")
    model = keras.Sequential([keras.Input(shape=(6, 2)), L.Conv1D(3, 2, name="conv"),
                              L.GRU(3, return_sequences=True, name="gru"), L.Flatten(name="flat"), L.Dense(2, name="out")])
    model.build()
    model.get_layer("conv").set_weights(kw(f, "conv"))
    model.get_layer("gru").set_weights(recurrent("GRU", 3, *kw(f, "gru")))
    model.get_layer("out").set_weights(kw(f, "out"))
    np.testing.assert_allclose(model.predict(f["x0"]), f["y0"], rtol=1e-5, atol=1e-6)
    with pytest.raises(ShapeError, match="built for sequences of 5 steps"):
        model.predict(np.zeros((2, 7, 2), np.float32))


def test_sequential_without_input_takes_t_from_the_data_it_is_built_on():
    model = rustrnn.Sequential([L.LSTM(3, return_sequences=True), L.Flatten(), L.Dense(1)])
    assert model.predict(np.zeros((2, 7, 2), np.float32)).shape == (2, 1)
    assert model.layers[1].name == "flatten"
    emb = rustrnn.Sequential([L.Embedding(9, 2), L.Flatten(), L.Dense(1, activation="sigmoid")])
    emb.compile(loss="binary_crossentropy", optimizer="adam")
    emb.fit(np.ones((4, 5), np.int64), np.ones(4), epochs=1, verbose=0)
    assert emb.get_layer("dense").get_weights()[0].shape == (10, 1)


def test_gradients_of_slices_reshapes_and_merges_match_finite_differences():
    rustrnn.manual_seed(1)
    model = slice_merge_model("float64")
    single = keras.Model(model.input, model.output[0], dtype="float64")
    single.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(2).normal(size=(4, 5, 3))
    fd_check(single, x, np.array([0, 2, 1, 1]))


def test_functional_merge_forms_and_shapes():
    a = keras.Input(shape=(None, 3))
    b = keras.Input(shape=(None, 3))
    for fn, cls in ((L.add, "Add"), (L.subtract, "Subtract"), (L.multiply, "Multiply"), (L.average, "Average"),
                    (L.maximum, "Maximum"), (L.minimum, "Minimum")):
        t = fn([a, b])
        assert t.shape == (None, None, 3) and t.node.layer._class == cls
    assert L.concatenate([a, b]).shape == (None, None, 6)
    x = np.random.default_rng(0).normal(size=(2, 4, 3)).astype(np.float32)
    z = np.random.default_rng(1).normal(size=(2, 4, 3)).astype(np.float32)
    model = keras.Model([a, b], [L.subtract([a, b]), L.maximum([a, b]), a[:, 1:-1, 1:], a[..., :2], b[:, 0]])
    got = model.predict([x, z])
    for g, want in zip(got, (x - z, np.maximum(x, z), x[:, 1:-1, 1:], x[..., :2], z[:, 0])):
        np.testing.assert_allclose(g, want, rtol=1e-6)


@pytest.mark.parametrize("make, error, message", [
    (lambda x: x[0], UnsupportedError, "batch axis"),
    (lambda x: x[:, ::2], UnsupportedError, "step"),
    (lambda x: x[:, -1, 0], UnsupportedError, "one feature"),
    (lambda x: x[:, None], UnsupportedError, "NoneType"),
    (lambda x: x[:, :, :, 0], ArgumentError, "too many indices"),
    (lambda x: x[:, 9], ShapeError, "out of range"),
    (lambda x: x[:, 3:1], ShapeError, "empty"),
    (lambda x: L.Subtract()([x, x, x]), ArgumentError, "exactly two"),
    (lambda x: L.Add()([x, x[:, 1:]]), ShapeError, "same shape"),
    (lambda x: L.Reshape((5, 5))(x), ShapeError, "cannot reshape 15"),
    (lambda x: L.Reshape((1, 3, 5)), UnsupportedError, "one or two entries"),
    (lambda x: L.Flatten()(keras.Input(shape=(None, 3))), ShapeError, "unknown"),
    (lambda x: L.Reshape((15,))(keras.Input(shape=(None, 3))), ShapeError, "unknown"),
])
def test_unsupported_and_bad_indexing_and_shapes_are_named(make, error, message):
    x = keras.Input(shape=(5, 3))
    with pytest.raises(error, match=message):
        make(x)


def test_flatten_with_unknown_t_in_a_sequential_built_without_data_is_an_error():
    model = rustrnn.Sequential([L.Embedding(9, 2), L.Flatten(), L.Dense(1)])
    with pytest.raises(Exception, match="Flatten needs the number of time steps"):
        model.build()


# ----- Keras 3 archives of functional models ---------------------------------------------------

@pytest.mark.parametrize("case, n_out", [("slice_merge", 3), ("token_flatten", 1), ("conv_flatten", 1)])
def test_load_model_reads_keras_3_archives_and_predicts_as_keras(case, n_out):
    pytest.importorskip("h5py")
    f = load(case)
    model = keras.models.load_model(os.path.join(HERE, f"{case}.keras"))
    got = model.predict(f["x0"])
    got = got if isinstance(got, list) else [got]
    assert len(got) == n_out
    for i, g in enumerate(got):
        np.testing.assert_allclose(g, f[f"y{i}"], rtol=1e-5, atol=1e-6)


def test_functional_save_keras_load_model_and_json_round_trip(tmp_path):
    pytest.importorskip("h5py")
    model = keras.models.load_model(os.path.join(HERE, "slice_merge.keras"))
    x = load("slice_merge")["x0"]
    model.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")
    assert type(again).__name__ == "Functional"
    assert [l.name for l in again.layers] == [l.name for l in model.layers]
    for a, b in zip(again.predict(x), model.predict(x)):
        np.testing.assert_array_equal(a, b)
    fresh = keras.models.model_from_json(model.to_json())
    assert [type(l) for l in fresh.layers] == [type(l) for l in model.layers]
    assert [o.shape for o in fresh.outputs] == [(None, 3), (None, 4), (None, 4)]
    fresh.set_weights(model.get_weights())
    for a, b in zip(fresh.predict(x), model.predict(x)):
        np.testing.assert_array_equal(a, b)


def test_encoder_decoder_with_states_round_trips_through_a_keras_archive(tmp_path):
    pytest.importorskip("h5py")
    enc_in = keras.Input(shape=(None, 3))
    _, h, c = L.LSTM(4, return_state=True)(enc_in)
    dec_in = keras.Input(shape=(None, 2))
    seq, _, _ = L.LSTM(4, return_sequences=True, return_state=True)(dec_in, initial_state=[h, c])
    y = L.Dense(2, activation="softmax")(seq)
    model = keras.Model([enc_in, dec_in], y)
    xs = [np.random.default_rng(0).normal(size=(2, 5, 3)).astype(np.float32),
          np.random.default_rng(1).normal(size=(2, 4, 2)).astype(np.float32)]
    model.save(tmp_path / "s2s.keras")
    again = keras.models.load_model(tmp_path / "s2s.keras")
    np.testing.assert_array_equal(again.predict(xs), model.predict(xs))
    # The inference models are cut from the loaded one, as keras.io's lstm_seq2seq does.
    assert len(again.layers[2].output) == 3 and again.layers[3].name.startswith("lstm")


def test_functional_archive_errors_name_what_is_unsupported(tmp_path):
    pytest.importorskip("h5py")
    q = keras.Input(shape=(None, 4))
    model = keras.Model(q, L.Attention()([q, q]))
    with pytest.raises(UnsupportedError, match="Attention"):
        model.save(tmp_path / "a.keras")
    x = keras.Input(shape=(None, 2))
    deep = keras.Model(x, L.LSTM(3, num_layers=2)(x))
    with pytest.raises(UnsupportedError, match="num_layers=2"):
        deep.to_json()


# ----- models as layers ------------------------------------------------------------------------

def test_a_model_called_on_symbolic_tensors_is_a_layer_sharing_its_weights():
    rustrnn.manual_seed(5)
    inner_in = keras.Input(shape=(None, 3))
    encoder = keras.Model(inner_in, L.LSTM(4)(inner_in))
    head = keras.Sequential([keras.Input(shape=(4,)), L.Dense(5, activation="tanh", name="head_dense"),
                             L.Dense(1, name="head_out")])
    outer_in = keras.Input(shape=(None, 3))
    features = encoder(outer_in)
    outer = keras.Model(outer_in, head(L.add([features, features])))
    x = np.random.default_rng(0).normal(size=(3, 6, 3)).astype(np.float32)
    f = encoder.predict(x)
    got = outer.predict(x)  # (builds it: the unbuilt Sequential's layers get their weights here)
    want = np.tanh((2 * f) @ head.get_layer("head_dense").get_weights()[0]
                   + head.get_layer("head_dense").get_weights()[1])
    want = want @ head.get_layer("head_out").get_weights()[0] + head.get_layer("head_out").get_weights()[1]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    # Training the outer model trains the nested models' layers: the encoder sees it.
    before = encoder.predict(x)
    outer.compile(optimizer="adam", loss="mse")
    outer.fit(x, np.ones((3, 1)), epochs=2, verbose=0)
    assert not np.allclose(encoder.predict(x), before)
    with pytest.raises(ShapeError, match="expected shape"):
        encoder(keras.Input(shape=(None, 5)))


def test_rustrnn_files_and_pickles_keep_slices_flatten_and_the_steps(tmp_path):
    import pickle

    model = slice_merge_model()
    x = load("slice_merge")["x0"]
    want = model.predict(x)
    model.save(tmp_path / "m.rnn")
    for again in (rustrnn.load_model(tmp_path / "m.rnn"), pickle.loads(pickle.dumps(model))):
        for a, b in zip(again.predict(x), want):
            np.testing.assert_array_equal(a, b)
    seq = rustrnn.Sequential([L.LSTM(3, return_sequences=True), L.Flatten(), L.Dense(2)])
    xs = np.random.default_rng(0).normal(size=(2, 4, 3)).astype(np.float32)
    seq.compile(optimizer="sgd", loss="mse")
    seq.fit(xs, np.zeros((2, 2)), epochs=1, verbose=0)
    seq.save(tmp_path / "s.rnn")
    back = rustrnn.load_model(tmp_path / "s.rnn")
    np.testing.assert_array_equal(back.predict(xs), seq.predict(xs))
    lines = []
    back.summary(print_fn=lines.append)
    assert "(None, 4, 3)" in "\n".join(lines) and "(None, 12)" in "\n".join(lines)


# ----- per-output compile arguments ------------------------------------------------------------

def test_per_output_compile_arguments_of_one_output_and_of_two():
    x = keras.Input(shape=(3,))
    y = L.Dense(2, activation="softmax", name="probs")(x)
    model = keras.Model(x, y)
    model.compile(optimizer="sgd", loss={"probs": "sparse_categorical_crossentropy"}, metrics={"probs": ["accuracy"]},
                  loss_weights={"probs": 1.0})
    assert model.loss.name == "sparse_categorical_crossentropy" and model.metrics_names == ["accuracy"]
    model.compile(optimizer="sgd", loss=["mse"], metrics=[["mae"]], loss_weights=[1])
    assert model.loss.name == "mse" and model.metrics_names == ["mae"]
    seq = rustrnn.Sequential([L.Dense(1, name="out")])
    seq.compile(loss={"out": "mse"})
    assert seq.loss.name == "mse"
    data = np.ones((4, 3), np.float32), np.zeros((4, 2), np.float32)
    full = model.evaluate(*data)[0]
    model.compile(loss="mse", loss_weights=[0.5])  # Keras scales the loss by it
    assert model.evaluate(*data) == pytest.approx(0.5 * full, rel=1e-6)
    with pytest.raises(ArgumentError, match="'nope' is not an output of the model; the outputs are 'probs'"):
        model.compile(loss={"nope": "mse"})
    with pytest.raises(ArgumentError, match="one entry per output \\(1\\), got 2"):
        model.compile(loss=["mse", "mae"])
    two = keras.Model(x, [y, L.Dense(1, name="value")(x)])
    two.compile(optimizer="sgd", loss=["sparse_categorical_crossentropy", "mse"], loss_weights=[1.0, 0.5])
    assert [l.name for l in two.loss] == ["sparse_categorical_crossentropy", "mse"]
    two.compile(optimizer="sgd", loss={"probs": "mse", "value": "mse"}, metrics={"value": "mae"})
    assert two.metrics_names == ["value_mae"]


def test_slices_of_a_loaded_models_tensors_get_new_names(tmp_path):
    pytest.importorskip("h5py")
    loaded = keras.models.load_model(os.path.join(HERE, "slice_merge.keras"))  # has get_item and get_item_1
    h = loaded.get_layer("lstm").output
    cut = keras.Model(loaded.input, [h[:, -1], h[:, 0], loaded.output[0]])
    x = load("slice_merge")["x0"]
    last, first, y = cut.predict(x)
    np.testing.assert_allclose(last, load("slice_merge")["y1"], rtol=1e-5, atol=1e-6)
    assert first.shape == (4, 4)
