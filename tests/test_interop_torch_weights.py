"""load_torch_weights without torch: state_dicts as arrays and .safetensors files
(written here by hand in the documented format), the transposes, and refusals."""

import json
import struct

import numpy as np
import pytest

import rustrnn
from rustrnn import layers
from rustrnn.interop import load_torch_weights, read_safetensors


def _model(**lstm):
    m = rustrnn.Sequential([layers.Embedding(10, 4), layers.LSTM(5, **lstm), layers.Dense(3)])
    m.build()
    return m


def _state(rng, bidirectional=False, prefix=("emb", "rnn", "fc")):
    sd = {f"{prefix[0]}.weight": rng.standard_normal((10, 4))}
    for sfx in ["_l0"] + (["_l0_reverse"] if bidirectional else []):
        sd[f"{prefix[1]}.weight_ih{sfx}"] = rng.standard_normal((20, 4))
        sd[f"{prefix[1]}.weight_hh{sfx}"] = rng.standard_normal((20, 5))
        sd[f"{prefix[1]}.bias_ih{sfx}"] = rng.standard_normal(20)
        sd[f"{prefix[1]}.bias_hh{sfx}"] = rng.standard_normal(20)
    d = 2 if bidirectional else 1
    sd[f"{prefix[2]}.weight"] = rng.standard_normal((3, 5 * d))
    sd[f"{prefix[2]}.bias"] = rng.standard_normal(3)
    return sd


def _write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, arr in tensors.items():
        raw = np.ascontiguousarray(arr, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(h)) + h + b"".join(blobs))


@pytest.mark.parametrize("bidirectional", [False, True])
def test_weights_land_where_they_belong_with_the_linear_transposed(bidirectional):
    rng = np.random.default_rng(0)
    m = _model(bidirectional=bidirectional)
    sd = _state(rng, bidirectional)
    pairing = load_torch_weights(m, sd)
    assert pairing == {m.layers[0].name: "emb", m.layers[1].name: "rnn", m.layers[2].name: "fc"}
    w = m.get_weight_dict()
    e, r, f = (layer.name for layer in m.layers)
    np.testing.assert_allclose(w[f"{e}/embeddings"], sd["emb.weight"], rtol=1e-6)
    np.testing.assert_allclose(w[f"{r}/weight_hh_l0"], sd["rnn.weight_hh_l0"], rtol=1e-6)
    # Keras's one bias: torch's two, added (the same outputs).
    np.testing.assert_allclose(w[f"{r}/bias_ih_l0"], sd["rnn.bias_ih_l0"] + sd["rnn.bias_hh_l0"], rtol=1e-6)
    assert f"{r}/bias_hh_l0" not in w
    np.testing.assert_allclose(w[f"{f}/kernel"], sd["fc.weight"].T, rtol=1e-6)
    np.testing.assert_allclose(w[f"{f}/bias"], sd["fc.bias"], rtol=1e-6)


def test_safetensors_file(tmp_path):
    rng = np.random.default_rng(1)
    sd = _state(rng)
    path = tmp_path / "model.safetensors"
    _write_safetensors(path, sd)
    back = read_safetensors(path)
    assert back.keys() == sd.keys() and np.allclose(back["rnn.bias_ih_l0"], sd["rnn.bias_ih_l0"], rtol=1e-6)
    m = _model()
    load_torch_weights(m, path)
    np.testing.assert_allclose(m.get_weight_dict()[f"{m.layers[2].name}/kernel"], sd["fc.weight"].T, rtol=1e-6)


def test_torch_bias_false_gives_zero_biases():
    rng = np.random.default_rng(2)
    sd = {k: v for k, v in _state(rng).items() if "bias_" not in k}
    m = _model()
    load_torch_weights(m, sd)
    assert not m.get_weight_dict()[f"{m.layers[1].name}/bias_ih_l0"].any()


def test_ambiguous_or_mismatched_is_refused_and_nothing_is_written():
    rng = np.random.default_rng(3)
    m = rustrnn.Sequential([layers.Dense(4), layers.Dense(4)])
    m.build((None, 4))
    before = m.get_weights()
    sd = {"a.weight": rng.standard_normal((4, 4)), "a.bias": np.zeros(4),
          "b.weight": rng.standard_normal((4, 4)), "b.bias": np.zeros(4)}
    with pytest.raises(rustrnn.ArgumentError, match="ambiguous"):
        load_torch_weights(m, sd)
    assert all(np.array_equal(a, b) for a, b in zip(before, m.get_weights()))
    d0, d1 = (layer.name for layer in m.layers)
    pairing = load_torch_weights(m, sd, mapping={d0: "b", d1: "a"})
    assert pairing == {d0: "b", d1: "a"}
    np.testing.assert_allclose(m.get_weight_dict()[f"{d0}/kernel"], sd["b.weight"].T, rtol=1e-6)

    m2 = _model()
    bad = _state(rng)
    bad["fc.weight"] = bad["fc.weight"].T.copy()  # a Keras-style (in, out) kernel is not a torch Linear
    with pytest.raises(rustrnn.ShapeError, match="out_features, in_features"):
        load_torch_weights(m2, bad)
    extra = {**_state(rng), "norm.weight": np.ones(7)}
    with pytest.raises(rustrnn.ArgumentError, match="norm"):
        load_torch_weights(_model(), extra)
    proj = _state(rng)
    proj["rnn.weight_hr_l0"] = np.zeros((2, 5))
    with pytest.raises(rustrnn.ShapeError, match="proj_size"):
        load_torch_weights(_model(), proj)
    with pytest.raises(rustrnn.ArgumentError, match="not a module"):
        load_torch_weights(_model(), _state(rng), mapping={m2.layers[0].name: "nope"})
