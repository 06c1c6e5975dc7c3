"""Keras 3 semantics of rustrnn.layers.SimpleRNN/LSTM/GRU: Keras's initializers
and defaults, ``dropout`` on the inputs (PyTorch's between-layer dropout is
``layer_dropout``), ``use_bias=False``, boolean and integer inputs, and the
Keras options that are not implemented raising errors that name them."""

import json

import numpy as np
import pytest

import rustrnn
from rustrnn import _native, initializers, keras, layers


def weights(layer_cls, units=32, features=24, dtype="float64", seed=0, **kw):
    rustrnn.manual_seed(seed)
    m = rustrnn.Sequential([layer_cls(units, **kw)], dtype=dtype)
    m.build((None, 5, features))
    return m.get_weight_dict()


def test_lstm_defaults_are_keras_glorot_orthogonal_zeros_and_unit_forget_bias():
    units, features = 64, 64
    w = weights(layers.LSTM, units, features)
    w_ih, w_hh = w["lstm/weight_ih_l0"], w["lstm/weight_hh_l0"]  # (4H, I), (4H, H): Keras's kernels transposed
    # Keras's recurrent kernel (H, 4H) has orthonormal rows: our columns.
    np.testing.assert_allclose(w_hh.T @ w_hh, np.eye(units), atol=1e-12)
    limit = np.sqrt(6 / (features + 4 * units))
    assert np.abs(w_ih).max() <= limit and np.abs(w_ih).max() > 0.99 * limit
    assert abs(w_ih.var() / (limit**2 / 3) - 1) < 0.05  # U(-l, l) has variance l²/3
    assert abs(w_ih.mean()) < 0.01
    bias = np.zeros(4 * units)
    bias[units:2 * units] = 1.0  # the forget gate (i, f, g, o)
    np.testing.assert_array_equal(w["lstm/bias_ih_l0"], bias)
    assert "lstm/bias_hh_l0" not in w  # Keras's one bias


@pytest.mark.parametrize("cls, gates", [(layers.GRU, 3), (layers.SimpleRNN, 1)])
def test_gru_and_simple_rnn_defaults(cls, gates):
    w = weights(cls, 16, 8)
    w_ih, w_hh, *biases = w.values()
    np.testing.assert_allclose(w_hh.T @ w_hh, np.eye(16), atol=1e-12)
    assert np.abs(w_ih).max() <= np.sqrt(6 / (8 + gates * 16))
    assert len(biases) == (2 if cls is layers.GRU else 1)  # GRU(reset_after=True): Keras's input and recurrent biases
    assert not any(b.any() for b in biases)


def test_initialization_follows_manual_seed():
    a, b, c = weights(layers.GRU, seed=5), weights(layers.GRU, seed=5), weights(layers.GRU, seed=6)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert not np.array_equal(a["gru/weight_ih_l0"], c["gru/weight_ih_l0"])


def test_initializer_objects_names_and_unit_forget_bias():
    w = weights(layers.LSTM, 8, 5, bias_initializer=keras.initializers.Constant(0.3))
    expected = np.full(32, 0.3)
    expected[8:16] = 1.0
    np.testing.assert_allclose(w["lstm/bias_ih_l0"], expected)
    w = weights(layers.LSTM, 8, 5, bias_initializer=keras.initializers.Constant(0.3), unit_forget_bias=False)
    np.testing.assert_allclose(w["lstm/bias_ih_l0"], 0.3)
    w = weights(layers.SimpleRNN, 6, 4, recurrent_initializer="identity", kernel_initializer="zeros", bias_initializer="ones")
    np.testing.assert_array_equal(w["simple_rnn/weight_hh_l0"], np.eye(6))
    assert not w["simple_rnn/weight_ih_l0"].any() and (w["simple_rnn/bias_ih_l0"] == 1).all()
    w = weights(layers.GRU, 6, 4, recurrent_initializer=keras.initializers.Orthogonal(gain=2.0))
    np.testing.assert_allclose(w["gru/weight_hh_l0"].T @ w["gru/weight_hh_l0"], 4 * np.eye(6), atol=1e-12)
    # A seeded initializer draws the same values whatever the global seed.
    seeded = dict(kernel_initializer=initializers.RandomNormal(stddev=1.0, seed=3))
    a, b = weights(layers.GRU, seed=1, **seeded), weights(layers.GRU, seed=2, **seeded)
    np.testing.assert_array_equal(a["gru/weight_ih_l0"], b["gru/weight_ih_l0"])
    assert abs(a["gru/weight_ih_l0"].std() - 1.0) < 0.05


@pytest.mark.parametrize("name, variance", [
    ("he_normal", lambda fi, fo: 2 / fi), ("he_uniform", lambda fi, fo: 2 / fi), ("lecun_normal", lambda fi, fo: 1 / fi),
    ("lecun_uniform", lambda fi, fo: 1 / fi), ("glorot_normal", lambda fi, fo: 2 / (fi + fo)),
    ("random_uniform", lambda fi, fo: 0.05**2 / 3), ("random_normal", lambda fi, fo: 0.05**2),
])
def test_variance_of_keras_initializers(name, variance):
    units, features = 64, 48
    k = weights(layers.LSTM, units, features, kernel_initializer=name)["lstm/weight_ih_l0"]
    assert abs(k.var() / variance(features, 4 * units) - 1) < 0.06, (name, k.var())


def test_initializers_round_trip_through_the_model_file(tmp_path):
    rustrnn.manual_seed(0)
    m = rustrnn.Sequential([layers.LSTM(3, kernel_initializer=keras.initializers.HeUniform(seed=2), unit_forget_bias=False),
                            layers.Dense(1)])
    m.build((None, 4, 2))
    m.save(tmp_path / "m.rnn")
    again = rustrnn.load_model(tmp_path / "m.rnn")
    lstm = again.layers[0]
    assert lstm.kernel_initializer == {"class_name": "HeUniform", "config": {"seed": 2}}
    assert lstm.unit_forget_bias is False and lstm.recurrent_initializer == "orthogonal"
    for a, b in zip(m.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_bad_initializers_are_named():
    with pytest.raises(rustrnn.ArgumentError, match="kernel_initializer: unknown initializer 'xavier'"):
        layers.LSTM(2, kernel_initializer="xavier")
    with pytest.raises(rustrnn.UnsupportedError, match="custom initializer function"):
        layers.GRU(2, recurrent_initializer=lambda shape, dtype=None: np.zeros(shape))
    with pytest.raises(rustrnn.ArgumentError, match="mode"):
        initializers.VarianceScaling(mode="fan_sum")
    with pytest.raises(rustrnn.UnsupportedError, match="keras.initializers.Foo"):
        keras.initializers.Foo  # noqa: B018


def test_dropout_is_keras_input_dropout_active_only_in_training():
    x = np.random.default_rng(0).normal(size=(4, 5, 3))
    y = np.random.default_rng(1).normal(size=(4, 2))
    rustrnn.manual_seed(3)
    m = rustrnn.Sequential([layers.LSTM(4, dropout=0.5), layers.Dense(2)], dtype="float64")
    m.compile(optimizer="sgd", loss="mse")
    m.build((None, 5, 3))
    plain = rustrnn.Sequential([layers.LSTM(4), layers.Dense(2)], dtype="float64")
    plain.build((None, 5, 3))
    plain.set_weights(m.get_weights())
    np.testing.assert_array_equal(m.predict(x), plain.predict(x))  # off in inference
    plain.compile(optimizer="sgd", loss="mse")
    # On one layer (where PyTorch's dropout does nothing) Keras's dropout changes training.
    _, g_eval = m.loss_and_gradients(x, y)
    g_train = m.compute_gradients(x, y)
    flat = np.concatenate([g.ravel() for _, g in sorted(g_eval.items())])
    assert not np.allclose(np.sort(np.abs(g_train)), np.sort(np.abs(flat)))


def test_layer_dropout_is_pytorchs_dropout_between_stacked_layers():
    m = rustrnn.Sequential([layers.GRU(4, num_layers=2, layer_dropout=0.3), layers.Dense(1)])
    m.build((None, 3, 2))
    assert m.layers[0].get_config()["layer_dropout"] == 0.3 and m.layers[0].dropout == 0.0
    with pytest.raises(rustrnn.ArgumentError, match="layer_dropout"):
        layers.GRU(4, layer_dropout=1.0)


def _with_format_version_1(data, edit):
    meta, tensors = _native.deserialize_model(data)
    meta["format_version"] = "1"
    arch = json.loads(meta["architecture"])
    edit(arch)
    meta["architecture"] = json.dumps(arch)
    return bytes(_native.serialize_model(tensors, meta))


def test_version_1_files_keep_the_old_meaning_of_dropout():
    rustrnn.manual_seed(0)
    m = rustrnn.Sequential([layers.Embedding(9, 4), layers.LSTM(5, num_layers=2, layer_dropout=0.25), layers.Dense(2)])
    m.build()

    def old_spelling(arch):  # what version 1 wrote: the between-layer rate under "dropout"
        c = arch["layers"][1]["config"]
        c["dropout"] = c.pop("layer_dropout")
        for k in ("kernel_initializer", "recurrent_initializer", "bias_initializer"):
            del c[k]

    old = rustrnn.load_model(_with_format_version_1(m.to_bytes(), old_spelling))
    lstm = old.layers[1]
    assert lstm.layer_dropout == 0.25 and lstm.dropout == 0.0
    x = np.array([[1, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(old.predict(x), m.predict(x))
    with pytest.raises(rustrnn.ModelFileError, match="format version '9'"):
        meta, tensors = _native.deserialize_model(m.to_bytes())
        rustrnn.load_model(bytes(_native.serialize_model(tensors, {**meta, "format_version": "9"})))


def test_use_bias_false_has_no_biases_and_trains():
    rustrnn.manual_seed(1)
    m = rustrnn.Sequential([layers.LSTM(4, use_bias=False, bidirectional=True), layers.Dense(1)])
    m.compile(optimizer="adam", loss="mse")
    x = np.random.default_rng(0).normal(size=(8, 5, 3)).astype(np.float32)
    m.fit(x, x[:, -1, :1], epochs=1, verbose=0)
    assert [n.split("/")[1] for n in m.weight_names[:4]] == [
        "weight_ih_l0", "weight_hh_l0", "weight_ih_l0_reverse", "weight_hh_l0_reverse"]
    assert m.count_params() == 2 * 4 * 4 * (3 + 4) + 9


@pytest.mark.parametrize("make, message", [
    (lambda: layers.LSTM(2, activation="gelu"), "activation='gelu'"),
    (lambda: layers.GRU(2, recurrent_activation="hard_tanh"), "recurrent_activation='hard_tanh'"),
    (lambda: layers.SimpleRNN(2, kernel_regularizer="l2"), "kernel_regularizer"),
])
def test_keras_options_not_implemented_are_named(make, message):
    with pytest.raises(rustrnn.UnsupportedError, match=message):
        make()


def test_boolean_and_integer_inputs_are_cast_as_keras_does():
    rng = np.random.default_rng(0)
    onehot = np.eye(5, dtype=bool)[rng.integers(0, 5, size=(6, 7))]  # (6, 7, 5) bool
    rustrnn.manual_seed(0)
    m = rustrnn.Sequential([layers.LSTM(3), layers.Dense(5, activation="softmax")])
    m.compile(optimizer="rmsprop", loss="categorical_crossentropy")
    y = np.eye(5, dtype=bool)[rng.integers(0, 5, size=6)]
    m.fit(onehot, y, epochs=1, verbose=0)
    np.testing.assert_array_equal(m.predict(onehot), m.predict(onehot.astype(np.float32)))
    np.testing.assert_array_equal(m.predict(onehot.astype(np.int8)), m.predict(onehot.astype(np.float32)))
    m.evaluate(onehot, y, verbose=0)  # bool x and y accepted
    with pytest.raises(rustrnn.DTypeError, match="x: expected numeric or boolean features"):
        m.predict(onehot.astype(str))


KERAS_INIT = np.load(__import__("os").path.join(__import__("os").path.dirname(__file__), "fixtures", "keras_init", "initializers.npz"))


@pytest.mark.parametrize("name", sorted({k.split("/")[0] for k in KERAS_INIT.files}))
def test_initializers_draw_what_keras_3_draws(name):
    # Keras 3's own draws (tests/fixtures/keras_init/make_keras_init_fixtures.py) on the same Keras-layout shapes:
    # the kernel (48 inputs, 4·64 gates) and the recurrent kernel (64, 4·64), ours transposed.
    w = weights(layers.LSTM, 64, 48, kernel_initializer=name, recurrent_initializer=name)
    for shape, ours in (("kernel", w["lstm/weight_ih_l0"].T), ("recurrent", w["lstm/weight_hh_l0"].T)):
        ref = {k: float(KERAS_INIT[f"{name}/{shape}/{k}"]) for k in ("var", "mean", "absmax", "gram")}
        if ref["var"] == 0:
            np.testing.assert_array_equal(ours, ref["mean"])
            continue
        assert abs(ours.var() / ref["var"] - 1) < 0.06, (shape, ours.var(), ref["var"])
        assert abs(ours.mean() - ref["mean"]) < 0.1 * np.sqrt(ref["var"]), (shape, ours.mean(), ref["mean"])
        if name not in ("random_normal", "orthogonal"):  # bounded distributions: the same bound
            assert 0.9 * ref["absmax"] < np.abs(ours).max() < 1.02 * ref["absmax"], (shape, np.abs(ours).max(), ref["absmax"])
        if ref["gram"] < 1e-10:  # Keras's orthogonal rows
            assert np.abs(ours @ ours.T - np.eye(ours.shape[0])).max() < 1e-10


@pytest.mark.parametrize("name", sorted({k.split("/")[0] for k in KERAS_INIT.files}))
def test_calling_an_initializer_draws_what_keras_3_draws(name):
    rustrnn.manual_seed(4)
    for shape_name, shape in (("kernel", (48, 256)), ("recurrent", (64, 256))):
        ours = keras.initializers.get(name)(shape, dtype="float64")
        assert ours.shape == shape and ours.dtype == np.float64
        ref = {k: float(KERAS_INIT[f"{name}/{shape_name}/{k}"]) for k in ("var", "mean", "gram")}
        if ref["var"] == 0:
            np.testing.assert_array_equal(ours, ref["mean"])
            continue
        assert abs(ours.var() / ref["var"] - 1) < 0.06 and abs(ours.mean() - ref["mean"]) < 0.1 * np.sqrt(ref["var"])
        if ref["gram"] < 1e-10:
            assert np.abs(ours @ ours.T - np.eye(shape[0])).max() < 1e-10
    rustrnn.manual_seed(4)
    again = keras.initializers.get(name)((48, 256), dtype="float64")
    rustrnn.manual_seed(4)
    np.testing.assert_array_equal(again, keras.initializers.get(name)((48, 256), dtype="float64"))
    assert keras.initializers.get(name)((3, 4)).dtype == np.float32


def test_a_seeded_initializer_repeats_and_bad_shapes_are_named():
    init = initializers.GlorotNormal(seed=9)
    np.testing.assert_array_equal(init((5, 6)), init((5, 6)))
    with pytest.raises(rustrnn.ArgumentError, match="Identity needs 2 dimensions"):
        initializers.Identity()((2, 3, 4))
    with pytest.raises(rustrnn.DTypeError, match="shape"):
        initializers.Zeros()("3x4")
