"""The sequence-shaping layers — RepeatVector, TimeDistributed, GlobalAverage/
MaxPooling1D, Conv1D, LayerNormalization — and the Bidirectional wrapper:
Keras 3's own outputs as the oracle (tests/fixtures/keras/layers, made by
make_keras_layer_fixtures.py with Keras 3.15.1), masks as Keras propagates them,
gradients against finite differences, save/load and Keras export round trips,
and errors that name what rustrnn does not implement."""

import glob
import os

import numpy as np
import pytest

import rustrnn
from rustrnn import layers as L

from test_models_gradcheck import fd_check

HERE = os.path.join(os.path.dirname(__file__), "fixtures", "keras", "layers")
FIXTURES = sorted(os.path.basename(p)[:-6] for p in glob.glob(os.path.join(HERE, "*.keras")))


def valid(x):
    return x != 0 if x.ndim == 2 else np.ones(x.shape[:2], bool)


def test_every_fixture_case_is_there():
    assert len(FIXTURES) == 8 and {"avg_pool_masked", "conv_same_strided", "repeat_vector_seq2seq"} <= set(FIXTURES)


@pytest.mark.parametrize("name", FIXTURES)
def test_keras_predictions_with_the_same_weights(name):
    pytest.importorskip("h5py")
    import rustrnn.interop

    model = rustrnn.interop.from_keras(os.path.join(HERE, f"{name}.keras"))
    ref = np.load(os.path.join(HERE, f"{name}.npz"))
    for side in ("post", "pre"):
        x, want = ref[f"x_{side}"], ref[f"y_{side}"]
        got = model.predict(x)
        assert got.shape == want.shape, (got.shape, want.shape)
        # Sequence outputs are compared at the valid steps (Keras leaves padded steps' values to the layer).
        keep = valid(x) if got.ndim == 3 and got.shape[1] == x.shape[1] else np.ones(len(x), bool)
        np.testing.assert_allclose(got[keep], want[keep], atol=1e-5, rtol=0, err_msg=f"{name} {side}-padded")
        assert np.abs(want[keep]).max() > 0.05


@pytest.mark.parametrize("name", FIXTURES)
def test_export_keras_reads_back_the_same_model(name, tmp_path):
    pytest.importorskip("h5py")
    import rustrnn.interop

    model = rustrnn.interop.from_keras(os.path.join(HERE, f"{name}.keras"))
    model.export_keras(tmp_path / "m.keras")
    again = rustrnn.interop.from_keras(tmp_path / "m.keras")
    assert [type(a) for a in again.layers] == [type(a) for a in model.layers]
    x = np.load(os.path.join(HERE, f"{name}.npz"))["x_post"]
    np.testing.assert_array_equal(again.predict(x), model.predict(x))


def test_pooling_and_masks_as_keras():
    """Average over the valid steps; max over all steps; the mask stops at both."""
    m = rustrnn.Sequential([L.Embedding(5, 2, mask_zero=True), L.GlobalAveragePooling1D()])
    table = np.arange(10, dtype=np.float32).reshape(5, 2)
    m.build()
    m.layers[0].set_weights([table])
    x = np.array([[1, 2, 0, 0], [0, 3, 4, 4], [0, 0, 0, 0]])
    np.testing.assert_allclose(m.predict(x), [table[[1, 2]].mean(0), table[[3, 4, 4]].mean(0), [0, 0]], rtol=1e-6)
    mx = rustrnn.Sequential([L.Embedding(5, 2, mask_zero=True), L.GlobalMaxPooling1D()])
    mx.build()
    mx.layers[0].set_weights([-table])
    # Padding (index 0 -> row 0 = (0, -1)) takes part in the maximum.
    np.testing.assert_allclose(mx.predict(np.array([[1, 2, 0]])), [[0, -1]])


def test_repeat_vector_and_time_distributed_shapes_and_weights():
    m = rustrnn.Sequential([L.RepeatVector(3), L.TimeDistributed(L.Dense(2, use_bias=False))])
    x = np.array([[1.0, 2.0], [3.0, -1.0]], np.float32)
    y = m.predict(x)
    assert y.shape == (2, 3, 2)
    (kernel,) = m.layers[1].get_weights()
    assert m.weight_names == ["time_distributed/kernel"]
    np.testing.assert_allclose(y, np.repeat((x @ kernel)[:, None], 3, axis=1), rtol=1e-6)


def test_layer_normalization_formula():
    x = np.random.default_rng(0).normal(size=(3, 4, 5))
    m = rustrnn.Sequential([L.LayerNormalization(epsilon=0.1)], dtype="float64")
    m.build((None, 4, 5))
    gamma, beta = np.linspace(0.5, 1.5, 5), np.linspace(-1, 1, 5)
    m.layers[0].set_weights([gamma, beta])
    want = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 0.1) * gamma + beta
    np.testing.assert_allclose(m.predict(x), want, atol=1e-12)


def test_conv1d_matches_a_direct_convolution():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 9, 3))
    for padding, strides, dilation in [("valid", 1, 1), ("valid", 2, 1), ("same", 2, 1), ("same", 1, 3), ("causal", 1, 2)]:
        m = rustrnn.Sequential([L.Conv1D(4, 3, strides=strides, padding=padding, dilation_rate=dilation)], dtype="float64")
        m.build((None, 9, 3))
        kernel, bias = rng.normal(size=(3, 3, 4)), rng.normal(size=4)
        m.layers[0].set_weights([kernel, bias])
        span = dilation * 2 + 1
        if padding == "valid":
            out, left = (9 - span) // strides + 1, 0
        elif padding == "causal":
            out, left = 9, span - 1
        else:
            out = -(-9 // strides)
            left = max((out - 1) * strides + span - 9, 0) // 2
        xp = np.zeros((2, 9 + 2 * span, 3))
        xp[:, left:left + 9] = x
        want = np.stack([sum(xp[:, t * strides + k * dilation] @ kernel[k] for k in range(3)) + bias for t in range(out)], 1)
        np.testing.assert_allclose(m.predict(x), want, atol=1e-12, err_msg=f"{padding} {strides} {dilation}")


@pytest.mark.parametrize("stack, loss, x, y", [
    ([L.Embedding(7, 3, mask_zero=True), L.LSTM(4, return_sequences=True), L.LayerNormalization(),
      L.GlobalAveragePooling1D(), L.Dense(3, activation="softmax")], "sparse_categorical_crossentropy",
     np.array([[1, 2, 3, 0, 0], [0, 0, 4, 5, 6], [6, 5, 4, 3, 2]]), np.array([0, 2, 1])),
    ([L.Conv1D(3, 3, strides=2, padding="same", activation="tanh"), L.Conv1D(4, 2, padding="causal", dilation_rate=2),
      L.GlobalMaxPooling1D(), L.RepeatVector(3), L.GRU(3, return_sequences=True),
      L.TimeDistributed(L.Dense(4, activation="softmax"))], "sparse_categorical_crossentropy",
     np.random.default_rng(3).uniform(-1, 1, size=(2, 7, 2)), np.array([[0, 1, 2], [3, 2, 1]])),
    ([L.Embedding(6, 3, mask_zero=True), L.Bidirectional(L.GRU(3, return_sequences=True), merge_mode="sum"),
      L.TimeDistributed(L.LayerNormalization(center=False)), L.TimeDistributed(L.Dense(2, activation="tanh"))], "mse",
     np.array([[1, 2, 3, 4], [5, 1, 0, 0], [0, 2, 2, 3]]), np.random.default_rng(4).uniform(-0.5, 0.5, size=(3, 4, 2))),
])
def test_gradients_match_finite_differences(stack, loss, x, y):
    rustrnn.manual_seed(5)
    m = rustrnn.Sequential(stack, dtype="float64")
    m.compile(optimizer="sgd", loss=loss)
    m.predict(x)
    # gamma/beta start at ones/zeros; move them so their gradients are generic.
    for layer in m.layers:
        inner = getattr(layer, "layer", layer)
        if isinstance(inner, L.LayerNormalization):
            layer.set_weights([np.linspace(0.6, 1.4, w.size).reshape(w.shape) for w in layer.get_weights()])
    fd_check(m, x, y)


def test_bidirectional_is_the_bidirectional_recurrent_layer():
    x = np.array([[1, 2, 3, 0], [0, 4, 5, 6]])
    a = rustrnn.Sequential([L.Embedding(7, 3, mask_zero=True), L.Bidirectional(L.LSTM(4, return_sequences=True), merge_mode="ave")])
    b = rustrnn.Sequential([L.Embedding(7, 3, mask_zero=True), L.LSTM(4, return_sequences=True, bidirectional=True, merge_mode="ave")])
    a.build(), b.build()
    assert a.layers[1].name == "bidirectional" and a.layers[1].merge_mode == "ave"
    b._set_named_weights({k.replace("bidirectional/", "lstm/"): v for k, v in a.get_weight_dict().items()})
    np.testing.assert_array_equal(a.predict(x), b.predict(x))
    # return_state: [output, forward h, c, backward h, c], as Keras.
    s = rustrnn.Sequential([L.Embedding(7, 3), L.Bidirectional(L.GRU(2, return_state=True))])
    out = s.predict(x)
    assert len(out) == 3 and out[0].shape == (2, 4) and out[1].shape == out[2].shape == (2, 2)
    np.testing.assert_allclose(out[0], np.concatenate([out[1], out[2]], axis=1))


def test_save_and_load_round_trip(tmp_path):
    rustrnn.manual_seed(1)
    m = rustrnn.Sequential([L.Conv1D(4, 3, padding="causal", activation="relu"), L.LayerNormalization(scale=False),
                            L.TimeDistributed(L.Dense(3)), L.GlobalAveragePooling1D(), L.RepeatVector(2),
                            L.Bidirectional(L.SimpleRNN(2, return_sequences=True)), L.GlobalMaxPooling1D()])
    x = np.random.default_rng(0).normal(size=(3, 6, 2)).astype(np.float32)
    m.compile(optimizer="adam", loss="mse")
    m.fit(x, np.zeros((3, 4), np.float32), epochs=1, verbose=0)
    m.save(tmp_path / "m.rnn")
    again = rustrnn.load_model(tmp_path / "m.rnn")
    np.testing.assert_array_equal(again.predict(x), m.predict(x))
    assert [l._class for l in again.layers] == ["Conv1D", "LayerNormalization", "TimeDistributed", "GlobalAveragePooling1D",
                                                "RepeatVector", "SimpleRNN", "GlobalMaxPooling1D"]


@pytest.mark.parametrize("make, message", [
    (lambda: L.Bidirectional(L.LSTM(3), merge_mode=None), "merge_mode=None"),
    (lambda: L.Bidirectional(L.LSTM(3), backward_layer=L.GRU(3, go_backwards=True)), "backward_layer"),
    (lambda: L.Bidirectional(L.LSTM(3, go_backwards=True)), "go_backwards"),
    (lambda: L.Conv1D(2, 3, kernel_initializer="he_normal"), "kernel_initializer='he_normal'"),
    (lambda: L.Conv1D(2, 3, groups=2), "groups=2"),
    (lambda: L.Conv1D(2, 3, data_format="channels_first"), "data_format"),
    (lambda: L.LayerNormalization(axis=1), "axis=1"),
    (lambda: L.LayerNormalization(rms_scaling=True), "rms_scaling=True"),
    (lambda: L.GlobalAveragePooling1D(keepdims=True), "keepdims=True"),
])
def test_unsupported_keras_arguments_are_named(make, message):
    with pytest.raises(rustrnn.UnsupportedError, match=message):
        make()


@pytest.mark.parametrize("make, error, message", [
    (lambda: L.Bidirectional(L.Dense(3)), rustrnn.DTypeError, "SimpleRNN, LSTM or GRU"),
    (lambda: L.TimeDistributed(L.LSTM(3)), rustrnn.ArgumentError, "got LSTM"),
    (lambda: L.Conv1D(2, 3, padding="full"), rustrnn.ArgumentError, "padding"),
    (lambda: L.Conv1D(2, 3, strides=2, dilation_rate=2), rustrnn.ArgumentError, "dilation_rate"),
    (lambda: L.RepeatVector(0), rustrnn.ArgumentError, "n"),
])
def test_bad_arguments_are_errors(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_bad_placements_are_errors_naming_the_layer():
    x = np.zeros((2, 3, 4), np.float32)
    for stack, message in [([L.RepeatVector(2)], "RepeatVector expects a vector"),
                           ([L.LSTM(2), L.GlobalMaxPooling1D()], "expects a sequence"),
                           ([L.Conv1D(2, 5)], "fewer than the kernel's span of 5 steps")]:
        with pytest.raises(rustrnn.RustRnnError, match=message):
            rustrnn.Sequential(stack).predict(x)


def test_onnx_export_of_bidirectional_and_time_distributed_dense(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    rustrnn.manual_seed(0)
    m = rustrnn.Sequential([L.Embedding(9, 4, mask_zero=True), L.Bidirectional(L.GRU(3, return_sequences=True), merge_mode="sum"),
                            L.TimeDistributed(L.Dense(2, activation="softmax"))])
    x = np.array([[1, 2, 3, 0], [0, 4, 5, 6]])
    want = m.predict(x)
    m.export_onnx(tmp_path / "m.onnx")
    got = ort.InferenceSession(str(tmp_path / "m.onnx")).run(None, {"x": x.astype("int64")})[0]
    np.testing.assert_allclose(got[x != 0], want[x != 0], atol=1e-5)
    for layer in (L.Conv1D(2, 2), L.LayerNormalization(), L.GlobalAveragePooling1D()):
        c = rustrnn.Sequential([layer])
        c.build((None, 5, 3))
        with pytest.raises(rustrnn.UnsupportedError, match=rf"\({layer._class}\) cannot be exported"):
            c.export_onnx(tmp_path / "c.onnx")


def test_frozen_layers_stay_frozen_through_save_and_load(tmp_path):
    m = rustrnn.Sequential([L.TimeDistributed(L.Dense(2, trainable=False)), L.LayerNormalization(trainable=False),
                            L.Conv1D(2, 1, trainable=False)])
    m.build((None, 3, 4))
    assert not m.layers[0].trainable
    m.save(tmp_path / "m.rnn")
    again = rustrnn.load_model(tmp_path / "m.rnn")
    assert [l.trainable for l in again.layers] == [False, False, False]
    again.layers[0].trainable = True
    assert again.layers[0].layer.trainable and again.layers[0].get_config()["layer"]["config"]["trainable"]


def test_keras_weights_file_round_trip(tmp_path):
    pytest.importorskip("h5py")

    def make():
        return rustrnn.Sequential([L.Conv1D(4, 3, padding="same"), L.LayerNormalization(center=False),
                                   L.TimeDistributed(L.Dense(3)), L.Bidirectional(L.GRU(2, return_sequences=True)),
                                   L.TimeDistributed(L.LayerNormalization()), L.GlobalAveragePooling1D(), L.RepeatVector(2),
                                   L.GlobalMaxPooling1D(), L.Dense(1)])

    x = np.random.default_rng(0).normal(size=(2, 5, 3)).astype(np.float32)
    rustrnn.manual_seed(1)
    a = make()
    a.build((None, 5, 3))
    a.set_weights([np.random.default_rng(i).uniform(-0.5, 0.5, w.shape).astype(np.float32) for i, w in enumerate(a.get_weights())])
    a.save_weights(tmp_path / "w.weights.h5")
    rustrnn.manual_seed(2)
    b = make()
    b.build((None, 5, 3))
    b.load_weights(tmp_path / "w.weights.h5")
    np.testing.assert_allclose(b.predict(x), a.predict(x), atol=1e-6)
