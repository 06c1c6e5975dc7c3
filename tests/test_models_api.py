"""rustrnn.Sequential: building, shapes, masks, return_state, summary, and
bad inputs raising ValueError/TypeError that name the argument."""

import numpy as np
import pytest

import rustrnn
from rustrnn import layers


def small_model(**lstm):
    rustrnn.manual_seed(1)
    m = rustrnn.Sequential([layers.Embedding(10, 4, mask_zero=True), layers.LSTM(5, **lstm), layers.Dense(1, activation="sigmoid")])
    m.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return m


def test_left_and_right_padding_give_the_same_last_valid_step():
    m = small_model()
    right = np.array([[3, 4, 5, 0, 0], [1, 2, 0, 0, 0]])
    left = np.array([[0, 0, 3, 4, 5], [0, 0, 0, 1, 2]])
    np.testing.assert_allclose(m.predict(right), m.predict(left), rtol=0, atol=1e-6)
    # Padding changes nothing: the unpadded sequence alone gives the same output.
    np.testing.assert_allclose(m.predict(right[:1]), m.predict(np.array([[3, 4, 5]])), atol=1e-6)


def test_masking_float_sequences_left_or_right_padded():
    rustrnn.manual_seed(4)
    m = rustrnn.Sequential([layers.Masking(), layers.GRU(5), layers.Dense(2)])
    rng = np.random.default_rng(0)
    seq = rng.standard_normal((3, 2)).astype(np.float32)
    right = np.zeros((1, 6, 2), np.float32)
    right[0, :3] = seq
    left = np.zeros((1, 6, 2), np.float32)
    left[0, 3:] = seq
    np.testing.assert_allclose(m.predict(right), m.predict(left), atol=1e-6)
    np.testing.assert_allclose(m.predict(right), m.predict(seq[None]), atol=1e-6)
    hole = right.copy()
    hole[0, 1] = 0
    with pytest.raises(ValueError, match="Masking.*sequence 0 has one at step 1"):
        m.predict(hole)


def test_bidirectional_last_output_is_each_directions_final_state():
    rustrnn.manual_seed(2)
    m = rustrnn.Sequential([layers.Embedding(10, 3, mask_zero=True), layers.GRU(4, bidirectional=True, return_state=True)])
    x = np.array([[1, 2, 3, 0], [0, 4, 5, 6]])
    out, h_fw, h_bw = m.predict(x)
    assert out.shape == (2, 8)
    np.testing.assert_allclose(out, np.concatenate([h_fw, h_bw], axis=1))
    seq = rustrnn.Sequential([layers.Embedding(10, 3, mask_zero=True), layers.GRU(4, bidirectional=True, return_sequences=True)])
    seq.build()
    seq.set_weights(m.get_weights())
    full = seq.predict(x)
    # Forward half at the last valid step, backward half at the first valid step.
    np.testing.assert_allclose(out[0, :4], full[0, 2, :4], atol=1e-6)
    np.testing.assert_allclose(out[0, 4:], full[0, 0, 4:], atol=1e-6)
    np.testing.assert_allclose(out[1, 4:], full[1, 1, 4:], atol=1e-6)
    assert np.all(full[0, 3] == 0) and np.all(full[1, 0] == 0)


def test_merge_modes_and_sequence_shapes():
    x = np.random.default_rng(0).standard_normal((3, 6, 2)).astype(np.float32)
    for mode, width in (("concat", 8), ("sum", 4), ("mul", 4), ("ave", 4)):
        m = rustrnn.Sequential([layers.SimpleRNN(4, bidirectional=True, merge_mode=mode, return_sequences=True), layers.Dense(3, activation="softmax")])
        y = m.predict(x)
        assert y.shape == (3, 6, 3)
        np.testing.assert_allclose(y.sum(-1), 1.0, rtol=1e-5)
        info = m.layers[0].get_weights()
        assert len(info) == 6  # 3 tensors per direction (Keras's one bias)
    m = rustrnn.Sequential([layers.LSTM(4, num_layers=3, layer_dropout=0.5), layers.Dense(2)])
    assert m.predict(x).shape == (3, 2)
    assert len(m.layers[0].get_weights()) == 9


def test_summary_lists_shapes_and_parameter_counts(capsys):
    m = small_model(bidirectional=True)
    m.build()
    m.summary()
    out = capsys.readouterr().out
    assert "embedding (Embedding)" in out and "(None, None, 4)" in out
    assert "(None, 10)" in out  # bidirectional LSTM, concat
    total = 10 * 4 + 2 * 4 * 5 * (4 + 5 + 1) + 10 + 1  # Keras's: one bias per gate
    assert f"Total params: {total:,}" in out
    assert m.count_params() == total


def test_pretrained_frozen_embedding_stays_fixed_while_the_rest_trains():
    emb = np.arange(40, dtype=np.float32).reshape(10, 4) / 40
    rustrnn.manual_seed(3)
    m = rustrnn.Sequential([layers.Embedding(10, 4, weights=emb, trainable=False), layers.GRU(3), layers.Dense(1)])
    m.compile(optimizer="sgd", loss="mse")
    x = np.array([[1, 2, 3], [4, 5, 6]])
    before = m.get_weights()
    m.fit(x, np.array([1.0, -1.0]), epochs=2, verbose=0)
    after = m.get_weights()
    np.testing.assert_array_equal(after[0], emb)
    assert not np.array_equal(before[1], after[1])
    assert m.count_params() == 40 + 3 * 3 * (4 + 3) + 2 * 9 + 4
    assert m._handle.num_params()[1] == m.count_params() - 40
    m.layers[0].trainable = True  # unfreeze for fine-tuning
    m.fit(x, np.array([1.0, -1.0]), epochs=1, verbose=0)
    assert not np.array_equal(m.get_weights()[0], emb)
    assert m._handle.num_params()[1] == m.count_params()


@pytest.mark.parametrize(
    "build, exc, words",
    [
        (lambda: layers.LSTM(0), ValueError, "units"),
        (lambda: layers.LSTM(3.5), TypeError, "units"),
        (lambda: layers.GRU(3, merge_mode="max"), ValueError, "merge_mode"),
        (lambda: layers.Dense(2, activation="gelu"), ValueError, "activation"),
        (lambda: layers.Dropout(1.0), ValueError, "rate"),
        (lambda: layers.LSTM(2, dropout=-0.1), ValueError, "dropout"),
        (lambda: layers.Embedding(5, 2, weights=np.zeros((4, 2))), ValueError, "weights"),
        (lambda: rustrnn.Sequential([layers.Dense(2), layers.Embedding(3, 2)]), ValueError, "Embedding"),
        (lambda: rustrnn.optimizers.Adam(beta_1=1.0), ValueError, "beta_1"),
        (lambda: rustrnn.optimizers.SGD(clipnorm=1.0, clipvalue=1.0), ValueError, "clipvalue"),
        (lambda: small_model().compile(optimizer="adamax", loss="mse"), ValueError, "optimizer"),
        (lambda: small_model().compile(optimizer="adam", loss="hinge"), ValueError, "loss"),
        (lambda: small_model().compile(optimizer="adam", loss="mse", metrics=["f1_scorez"]), ValueError, "metrics"),
    ],
)
def test_bad_configuration_is_rejected_naming_the_argument(build, exc, words):
    with pytest.raises(exc, match=words):
        build()


def test_bad_data_is_rejected_naming_the_argument():
    m = small_model()
    x = np.array([[1, 2, 3], [4, 5, 0]])
    with pytest.raises(TypeError, match="x: .*integer indices"):
        m.fit(x.astype(np.float32), np.ones(2), verbose=0)
    with pytest.raises(ValueError, match="x: index 10 .* out of range"):
        m.fit(np.array([[1, 10, 3]]), np.ones(1), verbose=0)
    with pytest.raises(ValueError, match="padding .* sequence 0 has a 0 at step 1"):
        m.predict(np.array([[1, 0, 3]]))
    with pytest.raises(ValueError, match="y: expected 2 rows"):
        m.fit(x, np.ones(3), verbose=0)
    with pytest.raises(ValueError, match=r"y: expected shape \(2, 1\) or \(2,\)"):
        m.fit(x, np.ones((2, 2)), verbose=0)
    with pytest.raises(ValueError, match="batch_size"):
        m.fit(x, np.ones(2), batch_size=0, verbose=0)
    with pytest.raises(ValueError, match="validation_split"):
        m.fit(x, np.ones(2), validation_split=1.5, verbose=0)
    with pytest.raises(ValueError, match="sample_weight"):
        m.fit(x, np.ones(2), sample_weight=np.ones(3), verbose=0)
    with pytest.raises(rustrnn.StateError, match="not compiled"):
        rustrnn.Sequential([layers.Dense(1)]).fit(np.ones((2, 3)), np.ones(2), verbose=0)
    seq = rustrnn.Sequential([layers.Dense(2), layers.LSTM(2)])
    with pytest.raises(ValueError, match="return_sequences"):
        seq.predict(np.ones((2, 3)))
    sparse = rustrnn.Sequential([layers.Dense(3, activation="softmax")])
    sparse.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="y: class index 3"):
        sparse.fit(np.ones((2, 4)), np.array([0, 3]), verbose=0)


def test_padded_int32_batches_and_to_categorical():
    from rustrnn.text import pad_sequences
    from rustrnn.utils import to_categorical

    seqs = [[1, 2, 3], [4], []]
    np.testing.assert_array_equal(to_categorical([0, 2], 3), [[1, 0, 0], [0, 0, 1]])
    # An all-padding sequence is allowed and gives the initial (zero) state.
    m = small_model()
    assert m.predict(pad_sequences(seqs)).shape == (3, 1)
