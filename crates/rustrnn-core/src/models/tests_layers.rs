//! The sequence-shaping layers (RepeatVector, TimeDistributed, global
//! pooling, Conv1D, LayerNormalization) in whole models, against central
//! finite differences in float64, and their spec round trip.

use super::io::Input;
use super::spec::ModelSpec;
use super::tests::{fd_check, indices, leak, trainer};
use crate::rng::SplitMix64;
use crate::train::Targets;
use ndarray::{ArrayD, IxDyn};

#[test]
fn pooling_of_a_masked_sequence_with_layer_normalization_matches_finite_differences() {
    for pool in ["GlobalAveragePooling1D", "GlobalMaxPooling1D"] {
        let spec = format!(
            r#"{{"input": {{"kind": "indices"}}, "layers": [
            {{"class": "Embedding", "name": "emb", "config": {{"input_dim": 7, "output_dim": 3, "mask_zero": true}}}},
            {{"class": "LSTM", "name": "lstm", "config": {{"units": 4, "return_sequences": true}}}},
            {{"class": "LayerNormalization", "name": "norm", "config": {{"epsilon": 0.01}}}},
            {{"class": "{pool}", "name": "pool", "config": {{}}}},
            {{"class": "Dense", "name": "out", "config": {{"units": 3, "activation": "softmax"}}}}]}}"#
        );
        let mut t = trainer(&spec, "sparse_categorical_crossentropy");
        // Perturb gamma and beta off their ones/zeros so their gradients are generic.
        let (l, p) = crate::nn::find_param(t.net.layers(), "norm/gamma").unwrap();
        let g = ndarray::Array1::from(vec![0.7, 1.3, -0.4, 1.1]).into_dyn();
        t.net.layers_mut()[l].set_param(p, g.view()).unwrap();
        // Right padding, left padding, no padding.
        let x = indices(&[&[1, 2, 3, 0, 0], &[0, 0, 4, 5, 6], &[6, 5, 4, 3, 2]]);
        let y = ArrayD::from_shape_vec(IxDyn(&[3]), vec![0.0, 2.0, 1.0]).unwrap();
        fd_check(&mut t, || Input::Indices(x.view()), &y);
    }
}

#[test]
fn conv1d_paddings_repeat_vector_and_time_distributed_match_finite_differences() {
    for (padding, strides, dilation) in [("same", 2, 1), ("causal", 1, 2), ("valid", 1, 1), ("same", 1, 2)] {
        let spec = format!(
            r#"{{"input": {{"kind": "features", "features": 2}}, "layers": [
            {{"class": "Conv1D", "name": "conv", "config": {{"filters": 3, "kernel_size": 3, "strides": {strides},
              "padding": "{padding}", "dilation_rate": {dilation}, "activation": "tanh"}}}},
            {{"class": "Conv1D", "name": "conv2", "config": {{"filters": 4, "kernel_size": 2, "use_bias": false}}}},
            {{"class": "GlobalMaxPooling1D", "name": "pool", "config": {{}}}},
            {{"class": "RepeatVector", "name": "repeat", "config": {{"n": 3}}}},
            {{"class": "GRU", "name": "gru", "config": {{"units": 3, "return_sequences": true}}}},
            {{"class": "TimeDistributed", "name": "td", "config": {{"layer": {{"class": "Dense", "config": {{"units": 4, "activation": "softmax"}}}}}}}}]}}"#
        );
        let mut t = trainer(&spec, "sparse_categorical_crossentropy");
        let mut rng = SplitMix64::new(5);
        let x = leak(ArrayD::from_shape_simple_fn(IxDyn(&[2, 7, 2]), || rng.uniform(-1.0, 1.0)));
        let y = ArrayD::from_shape_fn(IxDyn(&[2, 3]), |i| ((i[0] + 2 * i[1]) % 4) as f64);
        fd_check(&mut t, || Input::Features(x.view()), &y);
    }
}

#[test]
fn time_distributed_keeps_the_mask_for_the_sequence_loss() {
    let spec = r#"{"input": {"kind": "indices"}, "layers": [
        {"class": "Embedding", "name": "emb", "config": {"input_dim": 6, "output_dim": 3, "mask_zero": true}},
        {"class": "SimpleRNN", "name": "rnn", "config": {"units": 4, "return_sequences": true}},
        {"class": "TimeDistributed", "name": "td", "config": {"layer": {"class": "LayerNormalization", "config": {"center": false}}}},
        {"class": "TimeDistributed", "name": "td2", "config": {"layer": {"class": "Dense", "config": {"units": 2, "activation": "tanh"}}}}]}"#;
    let mut t = trainer(spec, "mse");
    let x = indices(&[&[1, 2, 3, 4], &[5, 1, 0, 0], &[0, 2, 2, 3]]);
    let y = ArrayD::from_shape_fn(IxDyn(&[3, 4, 2]), |i| ((i[0] * 3 + i[1] + i[2]) % 5) as f64 / 5.0 - 0.4);
    fd_check(&mut t, || Input::Indices(x.view()), &y);
    // A padded step's target does not count: changing it leaves the loss as it is.
    let base = t.test_batch(Input::Indices(x.view()), Targets::one(y.view(), None)).unwrap().loss_sum;
    let mut y2 = y.clone();
    y2[[1, 3, 0]] = 100.0;
    let again = t.test_batch(Input::Indices(x.view()), Targets::one(y2.view(), None)).unwrap().loss_sum;
    assert_eq!(base, again);
}

#[test]
fn new_layer_specs_round_trip_and_refuse_what_they_cannot_take() {
    let parse = |layers: &str, input: &str| {
        let v: serde_json::Value = serde_json::from_str(&format!(r#"{{"input": {input}, "layers": [{layers}]}}"#)).unwrap();
        ModelSpec::parse(&v)
    };
    let seq = r#"{"kind": "features", "features": 3}"#;
    let vec = r#"{"kind": "features", "features": 3, "sequence": false}"#;
    for layer in [
        r#"{"class": "Conv1D", "name": "c", "config": {"filters": 2, "kernel_size": 3, "strides": 1, "padding": "causal", "dilation_rate": 2, "activation": "relu", "use_bias": false, "trainable": true}}"#,
        r#"{"class": "LayerNormalization", "name": "n", "config": {"epsilon": 0.001, "center": false, "scale": true, "trainable": true}}"#,
        r#"{"class": "TimeDistributed", "name": "t", "config": {"layer": {"class": "Dense", "config": {"units": 2, "activation": "relu", "use_bias": true, "trainable": true}}}}"#,
        r#"{"class": "GlobalAveragePooling1D", "name": "p", "config": {}}"#,
    ] {
        let m = parse(layer, seq).unwrap();
        let v: serde_json::Value = serde_json::from_str(layer).unwrap();
        assert_eq!(m.layers[0].config.to_json(), v["config"], "{layer}");
    }
    let m = parse(r#"{"class": "RepeatVector", "name": "r", "config": {"n": 4}}"#, vec).unwrap();
    assert_eq!(m.layers[0].output.shape(), vec![None, Some(4), Some(3)]);
    for (layer, input, want) in [
        (r#"{"class": "RepeatVector", "name": "r", "config": {"n": 4}}"#, seq, "RepeatVector expects a vector"),
        (r#"{"class": "RepeatVector", "name": "r", "config": {"n": 0}}"#, vec, "n"),
        (r#"{"class": "GlobalMaxPooling1D", "name": "p", "config": {}}"#, vec, "expects a sequence"),
        (r#"{"class": "GlobalMaxPooling1D", "name": "p", "config": {"keepdims": true}}"#, seq, "keepdims"),
        (r#"{"class": "Conv1D", "name": "c", "config": {"filters": 2, "kernel_size": 3, "padding": "full"}}"#, seq, "padding"),
        (
            r#"{"class": "Conv1D", "name": "c", "config": {"filters": 2, "kernel_size": 3, "strides": 2, "dilation_rate": 2}}"#,
            seq,
            "dilation_rate",
        ),
        (r#"{"class": "LayerNormalization", "name": "n", "config": {"epsilon": 0}}"#, seq, "epsilon"),
        (
            r#"{"class": "TimeDistributed", "name": "t", "config": {"layer": {"class": "LSTM", "config": {"units": 2}}}}"#,
            seq,
            "wrapped LSTM",
        ),
        (r#"{"class": "TimeDistributed", "name": "t", "config": {"layer": {"class": "Nope", "config": {}}}}"#, seq, "Nope"),
        (r#"{"class": "TimeDistributed", "name": "t", "config": {}}"#, seq, "layer: missing"),
    ] {
        let err = parse(layer, input).unwrap_err().to_string();
        assert!(err.contains(want), "{layer}: {err}");
    }
}

#[test]
fn conv1d_too_short_sequences_are_an_error_not_a_panic() {
    let spec = r#"{"input": {"kind": "features", "features": 1}, "layers": [
        {"class": "Conv1D", "name": "conv", "config": {"filters": 1, "kernel_size": 4}}]}"#;
    let mut t = trainer(spec, "mse");
    let x = leak(ArrayD::zeros(IxDyn(&[1, 3, 1])));
    let y = ArrayD::zeros(IxDyn(&[1, 1, 1]));
    let err = t.test_batch(Input::Features(x.view()), Targets::one(y.view(), None)).unwrap_err().to_string();
    assert!(err.contains("fewer than the kernel's span of 4 steps"), "{err}");
}
