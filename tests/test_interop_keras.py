"""Keras 3 interop: fixtures made by Keras 3 itself (tests/fixtures/keras,
made by make_keras_fixtures.py) load with from_keras and predict what Keras
predicted, at the valid steps of right- and left-padded input; export_keras
writes archives laid out as Keras writes them, which from_keras reads back.
(That Keras itself loads the exported archives is checked by
`make_keras_fixtures.py check`, which needs Keras.)"""

import glob
import io
import json
import os
import sys
import warnings
import zipfile

import numpy as np
import pytest

import rustrnn
import rustrnn.interop
from rustrnn import layers

h5py = pytest.importorskip("h5py")

HERE = os.path.join(os.path.dirname(__file__), "fixtures", "keras")
sys.path.insert(0, HERE)
from make_keras_fixtures import rustrnn_cases, valid_steps  # noqa: E402

FIXTURES = sorted(os.path.basename(p)[:-6] for p in glob.glob(os.path.join(HERE, "*.keras")))


def test_every_fixture_case_is_there():
    assert len(FIXTURES) == 11 and "no_bias" in FIXTURES and {"gru_reset_before", "gru_reset_after", "bidirectional_mul", "masking_features"} <= set(FIXTURES)


@pytest.mark.parametrize("name", FIXTURES)
def test_from_keras_predicts_what_keras_predicted(name):
    model = rustrnn.interop.from_keras(os.path.join(HERE, f"{name}.keras"))
    ref = np.load(os.path.join(HERE, f"{name}.npz"))
    for side in ("post", "pre"):
        x, want = ref[f"x_{side}"], ref[f"y_{side}"]
        got = model.predict(x)
        assert got.shape == want.shape
        keep = valid_steps(x) if got.ndim == 3 else np.ones(len(x), bool)
        np.testing.assert_allclose(got[keep], want[keep], atol=1e-5, rtol=0, err_msg=f"{name} {side}-padded")
        assert np.abs(want[keep]).max() > 0.05


def h5_layout(path):
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
        config = json.loads(z.read("config.json"))
        with h5py.File(io.BytesIO(z.read("model.weights.h5")), "r") as f:
            shapes = {}
            f.visititems(lambda n, o: shapes.__setitem__(n, o.shape) if isinstance(o, h5py.Dataset) else None)
    return names, config, shapes


@pytest.mark.parametrize("name", FIXTURES)
def test_export_keras_writes_keras_layout_and_reads_back(name, tmp_path):
    src = os.path.join(HERE, f"{name}.keras")
    model = rustrnn.interop.from_keras(src)
    out = tmp_path / f"{name}.keras"
    model.export_keras(out)
    names, config, shapes = h5_layout(out)
    _, keras_config, keras_shapes = h5_layout(src)
    assert {"config.json", "metadata.json", "model.weights.h5"} <= names
    # The same groups, names and shapes as Keras' own archive (TimeDistributed(Dense) included).
    assert shapes == keras_shapes
    classes = [l["class_name"] for l in config["config"]["layers"]]
    assert classes == [l["class_name"] for l in keras_config["config"]["layers"]]
    back = rustrnn.interop.from_keras(out)
    ref = np.load(os.path.join(HERE, f"{name}.npz"))
    for side in ("post", "pre"):
        x = ref[f"x_{side}"]
        np.testing.assert_allclose(back.predict(x), model.predict(x), atol=1e-6, rtol=0)


@pytest.mark.parametrize("name", ["native_stacked_bidirectional_gru", "native_lstm_sequences"])
def test_export_keras_of_stacked_rustrnn_layers(name, tmp_path):
    model = rustrnn_cases()[name]
    model.build()
    model.export_keras(tmp_path / "m.keras")
    _, config, shapes = h5_layout(tmp_path / "m.keras")
    classes = [l["class_name"] for l in config["config"]["layers"]]
    if name == "native_stacked_bidirectional_gru":
        # GRU(num_layers=2, layer_dropout=0.1) becomes two Keras layers, concatenated, with a Dropout between them.
        assert classes == ["InputLayer", "Embedding", "Bidirectional", "Dropout", "Bidirectional", "Bidirectional", "Dense"]
        assert [l["config"]["merge_mode"] for l in config["config"]["layers"][2:6:2]] == ["concat", "ave"]
        assert shapes["layers/bidirectional_1/forward_layer/cell/vars/0"] == (8, 12)  # (2·4 inputs, z,r,h · 4)
        assert shapes["layers/bidirectional/forward_layer/cell/vars/2"] == (2, 12)  # reset_after=True: two biases
        assert shapes["layers/bidirectional_2/backward_layer/cell/vars/0"] == (4, 9)  # after ave: 4 inputs
        assert shapes["layers/bidirectional_2/backward_layer/cell/vars/2"] == (9,)  # reset_after=False: one bias
    x = np.array([[1, 2, 3, 0], [0, 4, 5, 6]])
    np.testing.assert_allclose(rustrnn.interop.from_keras(tmp_path / "m.keras").predict(x), model.predict(x), atol=1e-6, rtol=0)


def rewrite(src, dst, edit):
    with zipfile.ZipFile(src) as z:
        files = {n: z.read(n) for n in z.namelist()}
    config = json.loads(files["config.json"])
    edit(config)
    files["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(dst, "w") as z:
        for n, data in files.items():
            z.writestr(n, data)
    return dst


def layer_configs(config):
    return [l for l in config["config"]["layers"] if l["class_name"] != "InputLayer"]


@pytest.mark.parametrize("edit, message", [
    (lambda c: layer_configs(c)[1].update(class_name="Conv2D"), "'lstm' is a Conv2D"),
    (lambda c: layer_configs(c)[1]["config"].update(activation="gelu"), "activation='gelu'"),
    (lambda c: layer_configs(c)[1]["config"].update(recurrent_activation="hard_silu"), "recurrent_activation='hard_silu'"),
    (lambda c: layer_configs(c)[2]["config"].update(activation="gelu"), "activation='gelu'"),
    (lambda c: layer_configs(c)[1]["config"].update(go_backwards=True, return_sequences=True), "go_backwards"),
    (lambda c: c.update(class_name="MyModel"), "Sequential and Functional models are supported"),
])
def test_unsupported_layers_and_options_are_named(edit, message, tmp_path):
    path = rewrite(os.path.join(HERE, "lstm.keras"), tmp_path / "bad.keras", edit)
    with pytest.raises(rustrnn.UnsupportedError, match=message):
        rustrnn.interop.from_keras(path)


def test_bidirectional_without_merge_mode_is_named(tmp_path):
    path = rewrite(os.path.join(HERE, "bidirectional_sum.keras"), tmp_path / "bad.keras",
                   lambda c: layer_configs(c)[1]["config"].update(merge_mode=None))
    with pytest.raises(rustrnn.UnsupportedError, match="merge_mode=None"):
        rustrnn.interop.from_keras(path)


def test_training_only_options_are_dropped_with_a_warning(tmp_path):
    path = rewrite(os.path.join(HERE, "lstm.keras"), tmp_path / "drop.keras",
                   lambda c: layer_configs(c)[1]["config"].update(dropout=0.2, recurrent_dropout=0.1,
                                                                   kernel_regularizer={"class_name": "L2"}))
    with pytest.warns(UserWarning, match="kernel_regularizer act only in training") as caught:
        model = rustrnn.interop.from_keras(path)
    assert not any("recurrent_dropout" in str(w.message) for w in caught)
    assert model.layers[1].dropout == 0.2  # Keras's input and recurrent dropout are carried
    assert model.layers[1].recurrent_dropout == 0.1
    ref = np.load(os.path.join(HERE, "lstm.npz"))
    np.testing.assert_allclose(model.predict(ref["x_pre"]), ref["y_pre"], atol=1e-5, rtol=0)


def test_not_an_archive_is_a_model_file_error(tmp_path):
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"not a zip")
    with pytest.raises(rustrnn.ModelFileError, match="not a Keras 3 .keras archive"):
        rustrnn.interop.from_keras(bad)


def test_export_keras_refuses_what_keras_cannot_express(tmp_path):
    m = rustrnn.Sequential([layers.Embedding(5, 3), layers.LSTM(2, return_state=True)])
    m.build()
    with pytest.raises(rustrnn.UnsupportedError, match="return_state"):
        m.export_keras(tmp_path / "a.keras")
    m = rustrnn.Sequential([layers.Embedding(5, 3, mask_zero=True), layers.GRU(2, go_backwards=True, return_sequences=True)])
    m.build()
    with pytest.raises(rustrnn.UnsupportedError, match="go_backwards"):
        m.export_keras(tmp_path / "b.keras")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = rustrnn.Sequential([layers.Embedding(5, 3), layers.GRU(2, go_backwards=True, return_sequences=True)])
        m.build()
        m.export_keras(tmp_path / "c.keras")  # without a mask Keras reads the same steps
