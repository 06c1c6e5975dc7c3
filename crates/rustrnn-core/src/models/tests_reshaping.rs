//! Flatten, Reshape, slicing (GetItem) and the element-wise merge layers in
//! whole models against central finite differences in float64, the number of
//! steps they need, and their errors.

use super::io::Input;
use super::spec::ModelSpec;
use super::tests::{fd_check, indices, leak, trainer};
use super::{Functional, GraphSpec};
use crate::nn::Mode;
use crate::rng::SplitMix64;
use crate::train::Targets;
use ndarray::{ArrayD, IxDyn};

fn floats(shape: &[usize], seed: u64) -> &'static ArrayD<f64> {
    let mut rng = SplitMix64::new(seed);
    leak(ArrayD::from_shape_simple_fn(IxDyn(shape), || rng.uniform(-1.0, 1.0)))
}

#[test]
fn flatten_and_reshape_after_recurrent_and_conv_layers_match_finite_differences() {
    let spec = r#"{"input": {"kind": "features", "features": 2, "steps": 5}, "layers": [
        {"class": "Conv1D", "name": "conv", "config": {"filters": 3, "kernel_size": 2, "activation": "tanh"}},
        {"class": "GRU", "name": "gru", "config": {"units": 3, "return_sequences": true}},
        {"class": "Flatten", "name": "flat", "config": {}},
        {"class": "Reshape", "name": "back", "config": {"target_shape": [6, -1]}},
        {"class": "LSTM", "name": "lstm", "config": {"units": 2, "return_sequences": true}},
        {"class": "Reshape", "name": "flat2", "config": {"target_shape": [12]}},
        {"class": "Dense", "name": "out", "config": {"units": 3, "activation": "softmax"}}]}"#;
    let v: serde_json::Value = serde_json::from_str(spec).unwrap();
    let m = ModelSpec::parse(&v).unwrap();
    let shapes: Vec<_> = m.layers.iter().map(|l| l.output.shape()).collect();
    assert_eq!(shapes[0], vec![None, Some(4), Some(3)]); // valid conv: 5 - 2 + 1 steps
    assert_eq!(shapes[2], vec![None, Some(12)]);
    assert_eq!(shapes[3], vec![None, Some(6), Some(2)]);
    assert_eq!(shapes[5], vec![None, Some(12)]);
    let mut t = trainer(spec, "sparse_categorical_crossentropy");
    let x = floats(&[3, 5, 2], 1);
    let y = ArrayD::from_shape_vec(IxDyn(&[3]), vec![0.0, 2.0, 1.0]).unwrap();
    fd_check(&mut t, || Input::Features(x.view()), &y);
    // The values keep their order: Flatten of (B, T, F) is row-major, as NumPy's reshape.
    let mut f = Functional::<f64>::new(
        GraphSpec::parse(&serde_json::json!({"type": "functional",
            "inputs": [{"name": "x", "kind": "features", "features": 2, "steps": 5}],
            "layers": [{"class": "Flatten", "name": "flat", "config": {}, "inbound": [["x", 0]]},
                       {"class": "Reshape", "name": "r", "config": {"target_shape": [2, 5]}, "inbound": [["flat", 0]]}],
            "outputs": [["flat", 0], ["r", 0]]}))
        .unwrap(),
        1,
    )
    .unwrap();
    let out = f.forward(Input::Features(x.view()), Mode::Infer).unwrap();
    assert_eq!(out.y.data.as_slice().unwrap(), x.as_slice().unwrap());
    assert_eq!(out.outputs[0].shape(), vec![3, 2, 5]);
    assert_eq!(out.outputs[0].data.as_slice().unwrap(), x.as_slice().unwrap());
    // Other numbers of steps than built for: an error naming them, not a wrong size.
    let x4 = floats(&[3, 4, 2], 2);
    let err = f.forward(Input::Features(x4.view()), Mode::Infer).unwrap_err().to_string();
    assert!(err.contains("built for sequences of 5 steps"), "{err}");
}

#[test]
fn flatten_needs_known_steps_and_embedding_inputs_carry_them() {
    let parse = |input: &str, layers: &str| {
        let v: serde_json::Value = serde_json::from_str(&format!(r#"{{"input": {input}, "layers": [{layers}]}}"#)).unwrap();
        ModelSpec::parse(&v).map_err(|e| e.to_string())
    };
    let err = parse(r#"{"kind": "features", "features": 3}"#, r#"{"class": "Flatten", "name": "f", "config": {}}"#).unwrap_err();
    assert!(err.contains("Flatten needs the number of time steps, which is unknown"), "{err}");
    let m = parse(
        r#"{"kind": "indices", "steps": 4}"#,
        r#"{"class": "Embedding", "name": "e", "config": {"input_dim": 5, "output_dim": 3}},
           {"class": "Flatten", "name": "f", "config": {}}, {"class": "Dense", "name": "d", "config": {"units": 1}}"#,
    )
    .unwrap();
    assert_eq!(m.layers[1].output.shape(), vec![None, Some(12)]);
    for (layers, want) in [
        (r#"{"class": "Reshape", "name": "r", "config": {"target_shape": [5, -1]}}"#, "cannot reshape 12 values"),
        (r#"{"class": "Reshape", "name": "r", "config": {"target_shape": [2, 2, 3]}}"#, "one or two entries"),
        (r#"{"class": "Reshape", "name": "r", "config": {"target_shape": [-1, -1]}}"#, "one may be -1"),
        (r#"{"class": "Reshape", "name": "r", "config": {"target_shape": [0]}}"#, "one may be -1"),
        (r#"{"class": "GetItem", "name": "g", "config": {"time": 4}}"#, "index 4 is out of range"),
        (r#"{"class": "GetItem", "name": "g", "config": {"time": [3, 1]}}"#, "is empty"),
        (r#"{"class": "GetItem", "name": "g", "config": {"features": 0}}"#, "drop the features axis"),
        (r#"{"class": "Flatten", "name": "f", "config": {"data_format": "channels_first"}}"#, "channels_last"),
    ] {
        let err = parse(r#"{"kind": "features", "features": 3, "steps": 4}"#, layers).unwrap_err();
        assert!(err.contains(want), "{layers}: {err}");
    }
    // (-1, F') with unknown T: the steps are found per batch.
    let m = parse(r#"{"kind": "features", "features": 4}"#, r#"{"class": "Reshape", "name": "r", "config": {"target_shape": [-1, 2]}}"#)
        .unwrap();
    assert_eq!(m.layers[0].output.shape(), vec![None, None, Some(2)]);
}

const SLICES: &str = r#"{"type": "functional",
    "inputs": [{"name": "x", "kind": "features", "features": 3}],
    "layers": [
      {"class": "LSTM", "name": "lstm", "config": {"units": 4, "return_sequences": true}, "inbound": [["x", 0]]},
      {"class": "GetItem", "name": "last", "config": {"time": -1}, "inbound": [["lstm", 0]]},
      {"class": "GetItem", "name": "mid", "config": {"time": [1, -1], "features": [1, null]}, "inbound": [["lstm", 0]]},
      {"class": "GRU", "name": "gru", "config": {"units": 3}, "inbound": [["mid", 0]]},
      {"class": "GetItem", "name": "head", "config": {"features": [null, 3]}, "inbound": [["last", 0]]},
      {"class": "Add", "name": "add", "config": {}, "inbound": [["head", 0], ["gru", 0]]},
      {"class": "Multiply", "name": "mul", "config": {}, "inbound": [["add", 0], ["gru", 0], ["head", 0]]},
      {"class": "Subtract", "name": "sub", "config": {}, "inbound": [["mul", 0], ["head", 0]]},
      {"class": "Average", "name": "avg", "config": {}, "inbound": [["sub", 0], ["gru", 0]]},
      {"class": "Maximum", "name": "max", "config": {}, "inbound": [["avg", 0], ["head", 0], ["gru", 0]]},
      {"class": "Minimum", "name": "min", "config": {}, "inbound": [["max", 0], ["add", 0]]},
      {"class": "Dense", "name": "out", "config": {"units": 1, "activation": "sigmoid"}, "inbound": [["min", 0]]}],
    "outputs": [["out", 0]]}"#;

#[test]
fn slices_of_steps_and_features_and_merges_match_finite_differences() {
    let mut t = trainer(SLICES, "binary_crossentropy");
    let x = floats(&[4, 5, 3], 3);
    let y = ArrayD::from_shape_vec(IxDyn(&[4]), vec![1.0, 0.0, 0.0, 1.0]).unwrap();
    fd_check(&mut t, || Input::Features(x.view()), &y);
}

#[test]
fn slices_give_the_numpy_values_and_merges_their_keras_values() {
    let spec = serde_json::json!({"type": "functional",
        "inputs": [{"name": "x", "kind": "features", "features": 3}, {"name": "z", "kind": "features", "features": 3}],
        "layers": [
          {"class": "GetItem", "name": "last", "config": {"time": -1}, "inbound": [["x", 0]]},
          {"class": "GetItem", "name": "span", "config": {"time": [-3, 10], "features": [-2, null]}, "inbound": [["x", 0]]},
          {"class": "Subtract", "name": "sub", "config": {}, "inbound": [["x", 0], ["z", 0]]},
          {"class": "Average", "name": "avg", "config": {}, "inbound": [["x", 0], ["z", 0]]},
          {"class": "Maximum", "name": "max", "config": {}, "inbound": [["x", 0], ["z", 0]]},
          {"class": "GetItem", "name": "third", "config": {"time": 2}, "inbound": [["x", 0]]}],
        "outputs": [["last", 0], ["span", 0], ["sub", 0], ["avg", 0], ["max", 0], ["third", 0]]});
    let mut f = Functional::<f64>::new(GraphSpec::parse(&spec).unwrap(), 1).unwrap();
    let x = floats(&[2, 4, 3], 4);
    let z = floats(&[2, 4, 3], 5);
    let out = f.forward(Input::Many(vec![Input::Features(x.view()), Input::Features(z.view())]), Mode::Infer).unwrap();
    assert_eq!(out.y.shape(), vec![2, 3]);
    assert_eq!(out.y.clone().into_array(), x.slice(ndarray::s![.., -1, ..]).into_dyn());
    let span = out.outputs[0].clone().into_array();
    assert_eq!(span, x.slice(ndarray::s![.., 1.., 1..]).into_dyn());
    assert_eq!(out.outputs[1].clone().into_array(), x - z);
    assert_eq!(out.outputs[2].clone().into_array(), (x + z) * 0.5);
    assert_eq!(out.outputs[3].clone().into_array(), ndarray::Zip::from(x).and(z).map_collect(|a, b| a.max(*b)));
    // An index past the steps of this batch is a shape error, not a panic.
    let x1 = floats(&[2, 1, 3], 6);
    let err = f.forward(Input::Many(vec![Input::Features(x1.view()), Input::Features(x1.view())]), Mode::Infer).unwrap_err();
    assert!(err.to_string().contains("index 2 is out of range for an axis of length 1"), "{err}");
}

#[test]
fn merges_refuse_mismatched_shapes_and_wrong_counts() {
    let graph = |class: &str, inbound: &str| {
        let s = format!(
            r#"{{"type": "functional",
            "inputs": [{{"name": "a", "kind": "features", "features": 3}}, {{"name": "b", "kind": "features", "features": 2}},
                       {{"name": "c", "kind": "features", "features": 3, "sequence": false}}],
            "layers": [{{"class": "{class}", "name": "m", "config": {{}}, "inbound": {inbound}}}], "outputs": [["m", 0]]}}"#
        );
        GraphSpec::parse(&serde_json::from_str(&s).unwrap()).unwrap_err().to_string()
    };
    assert!(graph("Add", r#"[["a", 0], ["b", 0]]"#).contains("must have the same shape"));
    assert!(graph("Maximum", r#"[["a", 0], ["c", 0]]"#).contains("must have the same shape"));
    assert!(graph("Subtract", r#"[["a", 0], ["a", 0], ["a", 0]]"#).contains("exactly two inputs"));
    assert!(graph("Multiply", r#"[["a", 0]]"#).contains("at least two inputs"));
}

#[test]
fn merges_intersect_masks_and_slices_drop_them() {
    // Embedding masks reach Add; the sequence loss then skips steps either input masks.
    let spec = r#"{"type": "functional",
        "inputs": [{"name": "a", "kind": "indices"}, {"name": "b", "kind": "indices"}],
        "layers": [
          {"class": "Embedding", "name": "ea", "config": {"input_dim": 5, "output_dim": 2, "mask_zero": true}, "inbound": [["a", 0]]},
          {"class": "Embedding", "name": "eb", "config": {"input_dim": 5, "output_dim": 2, "mask_zero": true}, "inbound": [["b", 0]]},
          {"class": "Add", "name": "add", "config": {}, "inbound": [["ea", 0], ["eb", 0]]},
          {"class": "SimpleRNN", "name": "rnn", "config": {"units": 2, "return_sequences": true}, "inbound": [["add", 0]]}],
        "outputs": [["rnn", 0]]}"#;
    let mut t = trainer(spec, "mse");
    let a = indices(&[&[1, 2, 3, 0], &[1, 1, 1, 1]]);
    let b = indices(&[&[2, 2, 0, 0], &[3, 3, 3, 3]]);
    let y = ArrayD::from_shape_fn(IxDyn(&[2, 4, 2]), |i| (i[1] as f64) / 4.0);
    let input = || Input::Many(vec![Input::Indices(a.view()), Input::Indices(b.view())]);
    fd_check(&mut t, input, &y);
    let base = t.test_batch(input(), Targets::one(y.view(), None)).unwrap().loss_sum;
    let mut y2 = y.clone();
    y2[[0, 2, 0]] = 50.0; // masked by b only
    assert_eq!(base, t.test_batch(input(), Targets::one(y2.view(), None)).unwrap().loss_sum);
}
