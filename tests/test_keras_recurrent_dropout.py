"""Keras's ``recurrent_dropout`` on SimpleRNN, LSTM and GRU (and ``dropout`` alone on a Bidirectional one:
one input mask per direction).

Keras 3 is the oracle (tests/fixtures/keras/recurrent_dropout, made by its
make_recurrent_dropout_fixtures.py with Keras 3.15.1): with the same masks
(Keras's mask maker replaced there, rustrnn's test hook ``_set_gate_masks``
here) the training losses and the weights after three SGD steps are Keras's.
The finite-difference checks of the masked time loop (every parameter, the
input and the initial states, f64) are Rust tests
(``recurrent_dropout_with_fixed_masks_matches_finite_differences`` in
crates/rustrnn-core/src/nn/recurrent.rs); here, the real masks' statistics,
training, and the configuration through every file format.
"""

import glob
import json
import os

import numpy as np
import pytest

import rustrnn
from rustrnn import keras
from rustrnn import layers as L

HERE = os.path.join(os.path.dirname(__file__), "fixtures", "keras", "recurrent_dropout")
CASES = sorted(os.path.basename(p)[:-4] for p in glob.glob(os.path.join(HERE, "*.npz")))
T, F, H = 4, 3, 2


def test_every_fixture_case_is_there():
    assert CASES == ["bidirectional_lstm_dropout", "bidirectional_lstm_input_dropout", "gru", "gru_dropout", "gru_reset_before", "gru_reset_before_dropout",
                     "lstm", "lstm_dropout", "masked_gru_dropout", "simple_rnn", "simple_rnn_dropout"]


def build(name, ref, dtype="float32"):
    """The fixture's model in rustrnn, its Keras starting weights set."""
    from rustrnn.interop.keras_in import keras_recurrent_to_torch

    if "in_masks" in ref.files:  # `dropout` alone: one input mask per direction
        kw = {"dropout": 0.4}
    else:
        kw = {"recurrent_dropout": 0.3, "dropout": 0.4 if "in_mask" in ref.files else 0.0}
    if name.startswith("lstm") or "lstm" in name:
        cls, kind = L.LSTM, "LSTM"
    elif "gru" in name:
        cls, kind = L.GRU, "GRU"
        kw["reset_after"] = "reset_before" not in name
    else:
        cls, kind = L.SimpleRNN, "SimpleRNN"
    rnn = cls(H, name="rnn", **kw)
    stack = [keras.Input((T, F))]
    if name.startswith("masked"):
        stack.append(L.Masking(0.0))
    stack += [L.Bidirectional(rnn, name="rnn") if name.startswith("bidirectional") else rnn, L.Dense(1, name="head")]
    model = rustrnn.Sequential(stack, dtype=dtype)
    model.build()
    start = [ref[f"start_{i}"] for i in range(sum(k.startswith("start_") for k in ref.files))]
    return model, kind, kw.get("reset_after", True), start


def named(kind, reset_after, arrays, directions):
    """Keras's ``get_weights()`` list as rustrnn's named weights."""
    from rustrnn.interop.keras_in import keras_recurrent_to_torch

    want, i = {}, 0
    for sfx in ["", "_reverse"][:directions]:
        w = keras_recurrent_to_torch(kind, H, arrays[i:i + 3], reset_after, f"_l0{sfx}")
        if not (kind == "GRU" and reset_after):
            del w[f"bias_hh_l0{sfx}"]  # Keras's one bias
        want.update({f"rnn/{k}": v for k, v in w.items()})
        i += 3
    want.update({"head/kernel": arrays[i], "head/bias": arrays[i + 1]})
    return want


def set_named(model, weights):
    model.set_weights([weights[n] for n in model.weight_names])


def keras_masks(kind, ref, directions):
    """The fixture's masks, Keras's gate order (GRU z,r,h) turned into the weights' (r,z,n), per direction."""
    if "in_masks" in ref.files:  # `dropout` alone: (no recurrent mask, one input mask (1, B, F)) per direction
        return [(np.zeros((0,) + ref["in_masks"].shape[1:2] + (H,)), m[None]) for m in ref["in_masks"]]
    order = [1, 0, 2] if kind == "GRU" else slice(None)
    rec = np.ascontiguousarray(ref["rec_mask"][order])
    inp = np.ascontiguousarray(ref["in_mask"][order]) if "in_mask" in ref.files else None
    return [(rec, inp)] * directions


def training_outputs(model, x):
    """The training-mode outputs (masks on) of a model ending in Dense(1) with an mse loss, read from the
    head's bias gradient: with sample i alone weighted, it is 2c·(y_pred_i - target), so the gradients for
    targets 0 and 1 give y_pred_i = g0 / (g0 - g1) whatever the scale c."""
    names, sizes = model.weight_names, [v.size for v in model.get_weights()]
    at = int(np.sum(sizes[:names.index("head/bias")]))
    out = []
    for i in range(len(x)):
        w = np.eye(len(x), dtype=x.dtype)[i]
        g0, g1 = (model.compute_gradients(x, np.full((len(x), 1), t, x.dtype), sample_weight=w)[at] for t in (0.0, 1.0))
        out.append(g0 / (g0 - g1))
    return np.array(out)[:, None]


def train_as_keras(model, ref, masks):
    model._handle._set_gate_masks("rnn", masks)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.3), loss="mse")
    b = len(ref["x"]) // 3
    model.y_train = training_outputs(model, ref["x"][:b])
    return [model.train_on_batch(ref["x"][i * b:(i + 1) * b], ref["y"][i * b:(i + 1) * b]) for i in range(3)]


@pytest.mark.parametrize("name", CASES)
def test_training_with_fixed_masks_matches_keras(name):
    ref = np.load(os.path.join(HERE, f"{name}.npz"))
    model, kind, reset_after, start = build(name, ref)
    directions = 2 if name.startswith("bidirectional") else 1
    set_named(model, {k: v.astype(np.float32) for k, v in named(kind, reset_after, start, directions).items()})
    losses = train_as_keras(model, ref, [(r.astype(np.float32), None if i is None else i.astype(np.float32))
                                         for r, i in keras_masks(kind, ref, directions)])
    np.testing.assert_allclose(model.y_train, ref["y_train"], atol=1e-5, rtol=0)  # the forward, masks on
    np.testing.assert_allclose(losses, ref["losses"], rtol=2e-5)
    end = [ref[f"end_{i}"] for i in range(len(start))]
    got = model.get_weight_dict()
    for k, v in named(kind, reset_after, end, directions).items():
        np.testing.assert_allclose(got[k], v, atol=5e-5, rtol=0, err_msg=k)


def test_other_masks_train_differently():
    """The check above can fail: all-ones masks (no dropout) give other losses than Keras's masks."""
    ref = np.load(os.path.join(HERE, "lstm_dropout.npz"))
    model, kind, reset_after, start = build("lstm_dropout", ref)
    set_named(model, {k: v.astype(np.float32) for k, v in named(kind, reset_after, start, 1).items()})
    ones = [(np.ones((4, 3, H), np.float32), np.ones((4, 3, F), np.float32))]
    losses = train_as_keras(model, ref, ones)
    assert np.abs(np.array(losses) - ref["losses"]).max() > 1e-2
    assert np.abs(model.y_train - ref["y_train"]).max() > 1e-2


def test_bidirectional_input_dropout_needs_a_mask_per_direction():
    """Keras's Bidirectional copies the layer, masks and all: the forward mask in both directions (one shared
    input mask, as rustrnn did before) trains differently from Keras."""
    ref = np.load(os.path.join(HERE, "bidirectional_lstm_input_dropout.npz"))
    model, kind, reset_after, start = build("bidirectional_lstm_input_dropout", ref)
    set_named(model, {k: v.astype(np.float32) for k, v in named(kind, reset_after, start, 2).items()})
    fwd = keras_masks(kind, ref, 2)[0]
    losses = train_as_keras(model, ref, [(r.astype(np.float32), i.astype(np.float32)) for r, i in [fwd, fwd]])
    assert np.abs(np.array(losses) - ref["losses"]).max() > 1e-3
    assert np.abs(model.y_train - ref["y_train"]).max() > 1e-3


def test_input_dropout_mask_hook_names_the_difference():
    model = rustrnn.Sequential([keras.Input((T, F)), L.Bidirectional(L.GRU(H, dropout=0.2), name="rnn"),
                                L.Dense(1, name="head")])
    model.build()
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.zeros((4, T, F), np.float32), np.zeros((4, 1), np.float32)
    model._handle._set_gate_masks("rnn", [(np.ones((3, 4, H), np.float32), np.ones((3, 4, F), np.float32))] * 2)
    with pytest.raises(rustrnn.ShapeError, match=r"masks\[0\]: with dropout alone, expected no recurrent mask \(0 gates\) "
                                                 r"and an input mask of shape \(1, 4, 3\), got \(3, 4, 2\) and \(3, 4, 3\)"):
        model.train_on_batch(x, y)


def test_mask_hook_errors_name_the_argument():
    model = rustrnn.Sequential([keras.Input((T, F)), L.GRU(H, recurrent_dropout=0.2, name="rnn"), L.Dense(1, name="head")])
    model.build()
    with pytest.raises(rustrnn.ShapeError, match="masks: expected 1"):
        model._handle._set_gate_masks("rnn", [])
    with pytest.raises(rustrnn.ShapeError, match=r"masks\[0\]\[0\]: expected a 3-D array"):
        model._handle._set_gate_masks("rnn", [(np.ones((3, H), np.float32), None)])
    with pytest.raises(rustrnn.ArgumentError, match="not a recurrent layer"):
        model._handle._set_gate_masks("head", None)
    model._handle._set_gate_masks("rnn", [(np.ones((3, 5, H), np.float32), None)])  # for batches of 5
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.zeros((4, T, F), np.float32), np.zeros((4, 1), np.float32)
    with pytest.raises(rustrnn.ShapeError, match=r"masks\[0\].recurrent: expected shape \(3, 4, 2\)"):
        model.train_on_batch(x, y)


def test_rates_are_checked():
    with pytest.raises(rustrnn.ArgumentError, match=r"recurrent_dropout: expected a rate in \[0, 1\), got 1.0"):
        L.LSTM(2, recurrent_dropout=1.0)
    with pytest.raises(rustrnn.DTypeError, match="recurrent_dropout"):
        L.GRU(2, recurrent_dropout="0.1")


# ----- the real masks -----------------------------------------------------------------------------------------

def gradient_rows(rate, seed=0, batch=400, units=8, steps=3):
    """Per call (one sequence each), which units of the state the mask kept: a linear SimpleRNN with
    W_ih = I, W_hh = 0 on ones has h_t = 1, and dL/dW_hh = Σ_t dh_tᵀ (h_{t-1}*m) has a zero column j
    exactly where m_j = 0. Returns the column sums, (calls, units)."""
    model = rustrnn.Sequential([keras.Input((steps, units)),
                                L.SimpleRNN(units, activation="linear", recurrent_dropout=rate, name="rnn",
                                            return_sequences=True)], dtype="float64")
    model.build()
    model._handle.set_seed(seed)  # the model's dropout RNG
    w = model.get_weight_dict()
    w["rnn/weight_ih_l0"] = np.eye(units)
    w["rnn/weight_hh_l0"] = np.zeros((units, units))
    w["rnn/bias_ih_l0"] = np.zeros(units)
    set_named(model, w)
    model.compile(optimizer="sgd", loss="mse")
    names = model.weight_names
    sizes = [np.prod(v.shape) for v in model.get_weights()]
    offsets = np.cumsum([0] + sizes)
    hh = names.index("rnn/weight_hh_l0")
    rows = []
    for b in range(batch):
        # One sequence per batch: each batch draws its own mask, the gradient reads it.
        x = np.ones((1, steps, units))
        y = np.zeros((1, steps, units))
        g = model.compute_gradients(x, y)[offsets[hh]:offsets[hh + 1]].reshape(units, units)
        rows.append(np.abs(g).sum(axis=0))  # column j: unit j of h_{t-1} through the mask
    return np.array(rows)


def test_real_masks_drop_the_rate_and_change_per_batch():
    cols = gradient_rows(0.25)  # (batch, units): 0 where unit j of the state was dropped
    dropped = cols == 0
    assert abs(dropped.mean() - 0.25) < 0.03
    assert len({tuple(r) for r in dropped}) > 50  # a new mask every batch
    again = gradient_rows(0.25)
    np.testing.assert_array_equal(cols, again)  # the same seed: the same masks
    other = gradient_rows(0.25, seed=1)
    assert (other == 0).tolist() != dropped.tolist()


def test_real_masks_are_the_same_at_every_step_and_scaled():
    """A linear SimpleRNN with W_ih = W_hh = I on ones: h_t = 1 + a*h_{t-1}, a = m/(1-rate) the state's
    mask. With one mask for every step, a dropped unit stays 1, 1, 1, 1 and a kept one (a = 2) grows
    1, 3, 7, 15; so dL/dW_hh[j, j] is 0 for a dropped unit and one known value for every kept one
    (a mask redrawn per step would mix the two, another scale would change the value)."""
    rate, units, steps = 0.5, 64, 4
    model = rustrnn.Sequential([keras.Input((steps, units)),
                                L.SimpleRNN(units, activation="linear", recurrent_dropout=rate, name="rnn",
                                            return_sequences=True)], dtype="float64")
    model.build()
    set_named(model, {"rnn/weight_ih_l0": np.eye(units), "rnn/weight_hh_l0": np.eye(units),
                      "rnn/bias_ih_l0": np.zeros(units)})
    model.compile(optimizer="sgd", loss="mse")
    x = np.ones((1, steps, units))
    h = model.predict(x)  # inference: no mask, h_t = t + 1
    np.testing.assert_allclose(h[0, :, 0], np.arange(1, steps + 1))
    g = model.compute_gradients(x, np.zeros_like(x))
    names, sizes = model.weight_names, [v.size for v in model.get_weights()]
    off = np.cumsum([0] + sizes)
    g_hh = g[off[names.index("rnn/weight_hh_l0")]:off[names.index("rnn/weight_hh_l0") + 1]].reshape(units, units)
    # dL/dW_hh[j, j] = Σ_t dh_t[j]·a_j·h_{t-1}[j] (mse against zeros).
    diag = np.diag(g_hh)
    kept = diag != 0
    assert 0.3 < kept.mean() < 0.7
    np.testing.assert_allclose(diag[kept], diag[kept][0], rtol=1e-12)
    hs = np.array([1.0, 3.0, 7.0, 15.0])  # h_t of a kept unit, scale 2 = 1/(1-0.5)
    n = steps * units
    dh = 2 * hs / n
    # Backward through h_t = x_t + 2·h_{t-1}: dL/dh_t accumulates from later steps.
    acc = np.zeros(steps)
    for t in reversed(range(steps)):
        acc[t] = dh[t] + (2 * acc[t + 1] if t + 1 < steps else 0.0)
    want = sum(acc[t] * 2 * hs[t - 1] for t in range(1, steps))
    np.testing.assert_allclose(diag[kept][0], want, rtol=1e-12)


def test_no_masks_in_predict_and_evaluate():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(16, 5, 3)), rng.normal(size=(16, 1))
    for cls in (L.LSTM, L.GRU, L.SimpleRNN):
        model = rustrnn.Sequential([keras.Input((5, 3)), cls(4, recurrent_dropout=0.5, dropout=0.3, name="rnn"), L.Dense(1)],
                                   dtype="float64")
        plain = rustrnn.Sequential([keras.Input((5, 3)), cls(4, name="rnn"), L.Dense(1)], dtype="float64")
        model.build()
        plain.build()
        plain.set_weights(model.get_weights())
        model.compile(optimizer="sgd", loss="mse")
        plain.compile(optimizer="sgd", loss="mse")
        np.testing.assert_array_equal(model.predict(x), plain.predict(x))
        assert model.evaluate(x, y, verbose=0) == plain.evaluate(x, y, verbose=0)
        # Training does use them: the gradients differ.
        assert np.abs(model.compute_gradients(x, y) - plain.compute_gradients(x, y)).max() > 1e-6


# ----- training and saving ------------------------------------------------------------------------------------

def small_model():
    return rustrnn.Sequential([keras.Input((6, 2)), L.LSTM(8, recurrent_dropout=0.2, dropout=0.1, name="lstm"),
                               L.Dense(1, name="head")])


def test_a_model_with_recurrent_dropout_trains():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(128, 6, 2)).astype(np.float32)
    y = x[:, :, :1].sum(axis=1) * 0.5
    rustrnn.manual_seed(0)
    for model in (small_model(), rustrnn.Sequential([keras.Input((6, 2)),
                                                      L.Bidirectional(L.GRU(6, recurrent_dropout=0.3, reset_after=False)),
                                                      L.Dense(1)])):
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.02), loss="mse")
        before = model.evaluate(x, y, verbose=0)
        model.fit(x, y, epochs=10, batch_size=16, verbose=0)
        assert model.evaluate(x, y, verbose=0) < 0.5 * before


def test_config_round_trips_through_every_format(tmp_path):
    pytest.importorskip("h5py")
    import rustrnn.interop

    model = small_model()
    model.build()
    assert model.layers[0].get_config()["recurrent_dropout"] == 0.2
    assert "recurrent_dropout" not in L.LSTM(2).get_config()  # written only when set
    x = np.random.default_rng(1).normal(size=(4, 6, 2)).astype(np.float32)
    want = model.predict(x)
    native = tmp_path / "m.rnn"
    model.save(native)
    model.save(tmp_path / "m.keras")
    for loaded in (rustrnn.load_model(native), keras.models.model_from_json(model.to_json()),
                   rustrnn.interop.from_keras(tmp_path / "m.keras"), rustrnn.load_model(tmp_path / "m.keras")):
        lstm = loaded.layers[0]
        assert (lstm.recurrent_dropout, lstm.dropout) == (0.2, 0.1)
    np.testing.assert_allclose(rustrnn.load_model(native).predict(x), want, rtol=1e-6)
    with zipfile_config(tmp_path / "m.keras") as config:
        inner = [l for l in config["config"]["layers"] if l["class_name"] == "LSTM"][0]["config"]
        assert (inner["recurrent_dropout"], inner["dropout"]) == (0.2, 0.1)


class zipfile_config:
    def __init__(self, path):
        import zipfile

        self.zf = zipfile.ZipFile(path)

    def __enter__(self):
        return json.loads(self.zf.read("config.json"))

    def __exit__(self, *exc):
        self.zf.close()


def trained_weights(threads, seed=5):
    before = rustrnn.get_num_threads()
    rustrnn.set_num_threads(threads)
    try:
        rustrnn.manual_seed(seed)
        # The masks come from the model's dropout RNG, drawn on the calling thread.
        model = rustrnn.Sequential([keras.Input((5, 4)), L.Bidirectional(L.LSTM(48, recurrent_dropout=0.3, dropout=0.2,
                                                                                return_sequences=True)),
                                    L.GRU(8, recurrent_dropout=0.4), L.Dense(1)])
        model.compile(optimizer="sgd", loss="mse")
        x = np.random.default_rng(0).normal(size=(64, 5, 4)).astype(np.float32)
        model.fit(x, x[:, -1, :1], epochs=2, batch_size=32, verbose=0, seed=seed)
        return model.get_weights()
    finally:
        rustrnn.set_num_threads(before)


def test_masks_depend_on_the_seed_not_the_thread_count():
    one, two, again = trained_weights(1), trained_weights(2), trained_weights(2)
    for a, b, c in zip(one, two, again):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(b, c)
    other = trained_weights(2, seed=6)
    assert any(np.abs(a - b).max() > 1e-6 for a, b in zip(two, other))


def test_stateful_layer_with_recurrent_dropout_carries_its_states():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(8, 4, 3)).astype(np.float32), rng.normal(size=(8, 1)).astype(np.float32)
    model = rustrnn.Sequential([keras.Input(batch_shape=(4, 4, 3)), L.GRU(5, stateful=True, recurrent_dropout=0.3),
                                L.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)  # trains with the masks, states carried
    model.reset_states()
    first = model.predict(x[:4], batch_size=4)
    second = model.predict(x[:4], batch_size=4)  # starts from the states the first call left
    assert np.abs(first - second).max() > 1e-6
    model.reset_states()
    np.testing.assert_array_equal(model.predict(x[:4], batch_size=4), first)  # no masks in predict
