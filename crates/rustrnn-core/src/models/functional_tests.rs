//! Functional graphs against central finite differences in float64 (states
//! along edges, masks, gradients summed where a tensor feeds several layers),
//! several outputs, and the spec's errors.

use super::io::Input;
use super::tests::{fd_check, indices, leak, trainer};
use super::{Functional, GraphSpec};
use crate::nn::Mode;
use crate::train::Targets;
use ndarray::{Array2, Array3, ArrayD, IxDyn};

fn floats(shape: &[usize], seed: u64) -> &'static ArrayD<f64> {
    let mut rng = crate::rng::SplitMix64::new(seed);
    leak(ArrayD::from_shape_fn(IxDyn(shape), |_| rng.next_f64() * 2.0 - 1.0))
}

const ENC_DEC: &str = r#"{"type": "functional",
    "inputs": [{"name": "src", "kind": "indices"}, {"name": "dec_in", "kind": "features", "features": 3}],
    "layers": [
      {"class": "Embedding", "name": "emb", "config": {"input_dim": 7, "output_dim": 3, "mask_zero": true}, "inbound": [["src", 0]]},
      {"class": "LSTM", "name": "enc", "config": {"units": 4, "return_sequences": true, "return_state": true}, "inbound": [["emb", 0]]},
      {"class": "LSTM", "name": "dec", "config": {"units": 4, "return_sequences": true}, "inbound": [["dec_in", 0], ["enc", 1], ["enc", 2]]},
      {"class": "Concatenate", "name": "cat", "config": {}, "inbound": [["dec", 0], ["dec", 0], ["dec_in", 0]]},
      {"class": "Dense", "name": "out", "config": {"units": 5, "activation": "softmax"}, "inbound": [["cat", 0]]}],
    "outputs": [["out", 0]]}"#;

#[test]
fn encoder_decoder_with_states_masks_and_shared_tensors_matches_finite_differences() {
    let mut t = trainer(ENC_DEC, "categorical_crossentropy");
    let src = indices(&[&[1, 2, 3, 0], &[0, 4, 5, 6], &[6, 5, 4, 3]]);
    let dec = floats(&[3, 5, 3], 2);
    let mut y = ArrayD::<f64>::zeros(IxDyn(&[3, 5, 5]));
    for b in 0..3 {
        for s in 0..5 {
            y[[b, s, (b + 2 * s) % 5]] = 1.0;
        }
    }
    let input = || Input::Many(vec![Input::Indices(src.view()), Input::Features(dec.view())]);
    fd_check(&mut t, input, &y);
}

const BI_GRU: &str = r#"{"type": "functional",
    "inputs": [{"name": "x", "kind": "features", "features": 2}, {"name": "ctx", "kind": "features", "features": 3, "sequence": false}],
    "layers": [
      {"class": "Dense", "name": "h0", "config": {"units": 3, "activation": "tanh"}, "inbound": [["ctx", 0]]},
      {"class": "GRU", "name": "gru", "config": {"units": 3, "bidirectional": true, "return_state": true},
       "inbound": [["x", 0], ["h0", 0], ["h0", 0]]},
      {"class": "Concatenate", "name": "cat", "config": {"axis": -1}, "inbound": [["gru", 0], ["gru", 1], ["h0", 0]]},
      {"class": "Dense", "name": "out", "config": {"units": 1, "activation": "sigmoid"}, "inbound": [["cat", 0]]}],
    "outputs": [["out", 0], ["gru", 2], ["gru", 0]]}"#;

fn bi_gru_first_output_only() -> String {
    BI_GRU.replace(r#"[["out", 0], ["gru", 2], ["gru", 0]]"#, r#"[["out", 0]]"#)
}

#[test]
fn bidirectional_states_from_a_layer_match_finite_differences() {
    let mut t = trainer(&bi_gru_first_output_only(), "binary_crossentropy");
    let x = floats(&[4, 3, 2], 5);
    let c = floats(&[4, 3], 6);
    let y = ArrayD::from_shape_vec(IxDyn(&[4]), vec![1.0, 0.0, 0.0, 1.0]).unwrap();
    fd_check(&mut t, || Input::Many(vec![Input::Features(x.view()), Input::Features(c.view())]), &y);
}

#[test]
fn several_outputs_predict_and_need_a_loss_each() {
    let spec: serde_json::Value = serde_json::from_str(BI_GRU).unwrap();
    let mut f = Functional::<f64>::new(GraphSpec::parse(&spec).unwrap(), 3).unwrap();
    let x = floats(&[2, 4, 2], 1);
    let c = floats(&[2, 3], 2);
    let out = f.forward(Input::Many(vec![Input::Features(x.view()), Input::Features(c.view())]), Mode::Infer).unwrap();
    assert_eq!(out.y.shape(), vec![2, 1]);
    assert_eq!(out.outputs.len(), 2);
    assert_eq!(out.outputs[0].shape(), vec![2, 3]);
    // The GRU's final output is [h_forward, h_backward]: its second half is state 2.
    let h_bw = out.outputs[0].data.clone();
    assert_eq!(out.outputs[1].data.slice(ndarray::s![.., 3..]), h_bw);
    let mut t = trainer(BI_GRU, "binary_crossentropy");
    let y = ArrayD::<f64>::zeros(IxDyn(&[2]));
    let err =
        t.gradients(Input::Many(vec![Input::Features(x.view()), Input::Features(c.view())]), Targets::one(y.view(), None)).unwrap_err();
    assert!(err.to_string().contains("the model has 3 output(s) but was compiled with 1 loss(es)"), "{err}");
    // A wrong number of arrays names the inputs.
    let err = f.forward(Input::Features(x.view()), Mode::Infer).unwrap_err().to_string();
    assert!(err.contains("expected a list of 2 arrays (x, ctx), got 1"), "{err}");
    let short = floats(&[3, 3], 2);
    let err = f.forward(Input::Many(vec![Input::Features(x.view()), Input::Features(short.view())]), Mode::Infer).unwrap_err();
    assert!(err.to_string().contains("x[1] (ctx): expected 2 samples as x[0], got 3"), "{err}");
}

#[test]
fn initial_state_enters_the_decoder_as_keras_orders_it() {
    // A graph LSTM with initial_state computes what the layer computes from (h0, c0) directly.
    let spec = r#"{"type": "functional",
        "inputs": [{"name": "x", "kind": "features", "features": 2},
                   {"name": "h", "kind": "features", "features": 3, "sequence": false},
                   {"name": "c", "kind": "features", "features": 3, "sequence": false}],
        "layers": [{"class": "LSTM", "name": "l", "config": {"units": 3, "return_state": true}, "inbound": [["x", 0], ["h", 0], ["c", 0]]}],
        "outputs": [["l", 0], ["l", 1], ["l", 2]]}"#;
    let mut f = Functional::<f64>::new(GraphSpec::parse(&serde_json::from_str(spec).unwrap()).unwrap(), 9).unwrap();
    let x = floats(&[2, 4, 2], 1);
    let h = floats(&[2, 3], 2);
    let c = floats(&[2, 3], 3);
    let out =
        f.forward(Input::Many(vec![Input::Features(x.view()), Input::Features(h.view()), Input::Features(c.view())]), Mode::Infer).unwrap();
    let layer = f.layers[0].layer.as_any().downcast_ref::<crate::nn::RecurrentLayer<f64>>().unwrap();
    let mut copy = crate::nn::RecurrentLayer::<f64>::new(layer.cfg, 0).unwrap();
    for i in 0..crate::nn::Layer::param_names(layer).len() {
        crate::nn::Layer::assign_param(&mut copy, i, crate::nn::Layer::param(layer, i)).unwrap();
    }
    let h0: Array3<f64> = h.view().into_shape_with_order((1, 2, 3)).unwrap().to_owned();
    let c0: Array3<f64> = c.view().into_shape_with_order((1, 2, 3)).unwrap().to_owned();
    let rows = x.view().into_shape_with_order((8, 2)).unwrap().to_owned();
    let mut rng = crate::rng::SplitMix64::new(0);
    let want = copy.run(crate::nn::Tensor::new(rows, Some(4)), None, Some((h0.view(), Some(c0.view()))), Mode::Infer, &mut rng).unwrap();
    let h_n: Array2<f64> = want.h_n.index_axis(ndarray::Axis(0), 0).to_owned();
    assert!((&out.y.data - &h_n).iter().all(|d| d.abs() < 1e-14));
    assert_eq!(out.outputs[0].data, h_n);
    assert_eq!(out.outputs[1].data, want.c_n.unwrap().index_axis(ndarray::Axis(0), 0));
    // States of the wrong batch are refused.
    let h3 = floats(&[3, 3], 2);
    let err = f.forward(Input::Many(vec![Input::Features(x.view()), Input::Features(h3.view()), Input::Features(c.view())]), Mode::Infer);
    assert!(err.is_err());
}

fn parse_err(spec: &str) -> String {
    GraphSpec::parse(&serde_json::from_str(spec).unwrap()).unwrap_err().to_string()
}

#[test]
fn bad_graphs_name_the_problem() {
    let base = |inputs: &str, layers: &str, outputs: &str| {
        format!(r#"{{"type": "functional", "inputs": [{inputs}], "layers": [{layers}], "outputs": [{outputs}]}}"#)
    };
    let a = r#"{"name": "a", "kind": "features", "features": 2}"#;
    let b = r#"{"name": "b", "kind": "features", "features": 2, "sequence": false}"#;
    let dense =
        |name: &str, src: &str| format!(r#"{{"class": "Dense", "name": "{name}", "config": {{"units": 2}}, "inbound": [["{src}", 0]]}}"#);
    let e = parse_err(&base(&format!("{a}, {b}"), &dense("d", "a"), r#"["d", 0]"#));
    assert!(e.contains("inputs[1] (b): the input is not connected to any output"), "{e}");
    let e = parse_err(&base(a, &format!("{}, {}", dense("d", "a"), dense("e", "a")), r#"["d", 0]"#));
    assert!(e.contains("layers[1] (e): the layer does not lead to any output"), "{e}");
    let e = parse_err(&base(a, &format!("{}, {}", dense("d", "e"), dense("e", "a")), r#"["d", 0]"#));
    assert!(e.contains("layer \"e\" comes later in the list"), "{e}");
    let e = parse_err(&base(a, &dense("d", "zz"), r#"["d", 0]"#));
    assert!(e.contains("\"zz\" is not an input or a layer of this model"), "{e}");
    let e = parse_err(&base(a, &dense("d", "a"), r#"["d", 1]"#));
    assert!(e.contains("\"d\" has 1 output(s), got index 1"), "{e}");
    let e = parse_err(&base(a, &dense("a", "a"), r#"["a", 0]"#));
    assert!(e.contains("two inputs or layers are named \"a\""), "{e}");
    let cat = r#"{"class": "Concatenate", "name": "c", "config": {}, "inbound": [["a", 0], ["b", 0]]}"#;
    let e = parse_err(&base(&format!("{a}, {b}"), cat, r#"["c", 0]"#));
    assert!(e.contains("layers[0] (c, Concatenate): inputs[1]: expected a sequence"), "{e}");
    let cat1 = r#"{"class": "Concatenate", "name": "c", "config": {"axis": 1}, "inbound": [["a", 0], ["a", 0]]}"#;
    assert!(parse_err(&base(a, cat1, r#"["c", 0]"#)).contains("only axis=-1"));
    let lstm = r#"{"class": "LSTM", "name": "l", "config": {"units": 2}, "inbound": [["a", 0], ["b", 0]]}"#;
    let e = parse_err(&base(&format!("{a}, {b}"), lstm, r#"["l", 0]"#));
    assert!(e.contains("initial_state: expected 2 states ([h, c] per direction"), "{e}");
    let lstm3 = r#"{"class": "LSTM", "name": "l", "config": {"units": 3}, "inbound": [["a", 0], ["b", 0], ["b", 0]]}"#;
    let e = parse_err(&base(&format!("{a}, {b}"), lstm3, r#"["l", 0]"#));
    assert!(e.contains("initial_state[0]: expected shape (None, 3), got (None, 2)"), "{e}");
    let d2 = r#"{"class": "Dense", "name": "d", "config": {"units": 2}, "inbound": [["a", 0], ["b", 0]]}"#;
    let e = parse_err(&base(&format!("{a}, {b}"), d2, r#"["d", 0]"#));
    assert!(e.contains("layers[0] (d, Dense): takes one input, got a list of 2"), "{e}");
}

const ATTENTION: &str = r#"{"type": "functional",
    "inputs": [{"name": "src", "kind": "indices"}, {"name": "tgt", "kind": "indices"}],
    "layers": [
      {"class": "Embedding", "name": "es", "config": {"input_dim": 7, "output_dim": 3, "mask_zero": true}, "inbound": [["src", 0]]},
      {"class": "Embedding", "name": "et", "config": {"input_dim": 7, "output_dim": 3, "mask_zero": true}, "inbound": [["tgt", 0]]},
      {"class": "LSTM", "name": "enc", "config": {"units": 3, "return_sequences": true}, "inbound": [["es", 0]]},
      {"class": "Dense", "name": "key", "config": {"units": 3, "activation": "tanh"}, "inbound": [["enc", 0]]},
      {"class": "Attention", "name": "dot", "config": {"use_scale": true}, "inbound": [["et", 0], ["enc", 0], ["key", 0]]},
      {"class": "AdditiveAttention", "name": "add", "config": {}, "inbound": [["et", 0], ["enc", 0]]},
      {"class": "Concatenate", "name": "cat", "config": {}, "inbound": [["dot", 0], ["add", 0], ["et", 0]]},
      {"class": "Dense", "name": "out", "config": {"units": 4, "activation": "softmax"}, "inbound": [["cat", 0]]}],
    "outputs": [["out", 0]]}"#;

#[test]
fn attention_layers_with_masks_match_finite_differences() {
    let mut t = trainer(ATTENTION, "sparse_categorical_crossentropy");
    // The scale of Attention starts at 1; move it so that its gradient is checked away from the start.
    let (l, p) = crate::nn::find_param(t.net.layers(), "dot/scale").unwrap();
    t.net.layers_mut()[l].set_param(p, ndarray::arr1(&[0.7]).into_dyn().view()).unwrap();
    let src = indices(&[&[1, 2, 3, 0], &[0, 4, 5, 6], &[6, 5, 4, 3]]);
    let tgt = indices(&[&[2, 3, 0], &[1, 1, 1], &[0, 5, 6]]);
    let y = ArrayD::from_shape_vec(IxDyn(&[3, 3]), vec![0.0, 1.0, 2.0, 3.0, 0.0, 1.0, 2.0, 3.0, 1.0]).unwrap();
    fd_check(&mut t, || Input::Many(vec![Input::Indices(src.view()), Input::Indices(tgt.view())]), &y);
}

#[test]
fn attention_masks_the_value_steps_and_the_query_steps() {
    let spec: serde_json::Value = serde_json::from_str(ATTENTION).unwrap();
    let mut f = Functional::<f64>::new(GraphSpec::parse(&spec).unwrap(), 3).unwrap();
    let src = indices(&[&[1, 2, 0, 0]]);
    let tgt = indices(&[&[2, 3, 0]]);
    let out = f.forward(Input::Many(vec![Input::Indices(src.view()), Input::Indices(tgt.view())]), Mode::Infer).unwrap();
    // The output mask is the query's: the padded target step is not a loss row.
    assert_eq!(out.mask.unwrap().spans, vec![(0, 2)]);
    // Padded source steps do not change the result.
    let src2 = indices(&[&[1, 2, 0, 0, 0, 0]]);
    let again = f.forward(Input::Many(vec![Input::Indices(src2.view()), Input::Indices(tgt.view())]), Mode::Infer).unwrap();
    assert!((&out.y.data - &again.y.data).iter().all(|d| d.abs() < 1e-12));
}

/// Three outputs trained together (a fused sigmoid, a state and a sequence, one
/// of them also read by a later layer), weighted losses and a sample weight:
/// every output's gradient flows back through the shared layers.
#[test]
fn several_outputs_trained_together_match_finite_differences() {
    use crate::train::{Loss, OptimizerConfig, OutputLoss};
    let mut t = trainer(BI_GRU, "binary_crossentropy");
    let head = |loss: &str, weight: f64| OutputLoss { loss: Loss::parse(loss, false).unwrap(), weight, metrics: vec![] };
    let opt = OptimizerConfig::parse(&serde_json::json!({"name": "sgd"})).unwrap();
    t.compile_outputs(vec![head("binary_crossentropy", 0.5), head("mse", 2.0), head("mae", 1.5)], opt).unwrap();
    let x = floats(&[4, 3, 2], 5);
    let c = floats(&[4, 3], 6);
    let y0 = leak(ArrayD::from_shape_vec(IxDyn(&[4]), vec![1.0, 0.0, 0.0, 1.0]).unwrap());
    let y1 = floats(&[4, 3], 8);
    let y2 = floats(&[4, 6], 9);
    let sw = leak(ArrayD::from_shape_vec(IxDyn(&[4]), vec![0.5, 1.0, 2.0, 0.0]).unwrap());
    let input = || Input::Many(vec![Input::Features(x.view()), Input::Features(c.view())]);
    let targets = || Targets { y: vec![y0.view(), y1.view(), y2.view()], sample_weight: vec![Some(sw.view()), None, None] };
    let (loss, grads) = t.gradients(input(), targets()).unwrap();
    let total = |t: &mut crate::train::Trainer<f64>| {
        let s = t.test_batch(input(), targets()).unwrap();
        assert_eq!(s.outputs.len(), 3);
        s.loss_sum / s.count
    };
    assert!((loss - total(&mut t)).abs() < 1e-12);
    let eps = 1e-6;
    for (name, g) in &grads {
        let (l, p) = crate::nn::find_param(t.net.layers(), name).unwrap();
        let base = t.net.layers()[l].param(p).to_owned();
        for k in 0..base.len() {
            let mut at = |d: f64| {
                let mut w = base.clone();
                w.as_slice_mut().unwrap()[k] += d;
                t.net.layers_mut()[l].set_param(p, w.view()).unwrap();
                total(&mut t)
            };
            let num = (at(eps) - at(-eps)) / (2.0 * eps);
            let got = g.as_slice().unwrap()[k];
            assert!((num - got).abs() <= 1e-6 * num.abs().max(got.abs()) + 1e-9, "{name}[{k}]: analytic {got}, numeric {num}");
        }
        t.net.layers_mut()[l].set_param(p, base.view()).unwrap();
    }
    let err = t.test_batch(input(), Targets { y: vec![y0.view()], sample_weight: vec![None] }).unwrap_err();
    assert!(err.to_string().contains("expected 3 target array(s), got 1"), "{err}");
}

/// A shared layer (one set of weights) called three times, on masked token
/// sequences and on its own output: the calls' gradients sum; the last call's
/// cache is live, the earlier ones run again (with their dropout draws) in backward.
const SHARED: &str = r#"{"type": "functional",
    "inputs": [{"name": "a", "kind": "indices"}, {"name": "b", "kind": "indices"}],
    "layers": [
      {"class": "Embedding", "name": "emb", "config": {"input_dim": 6, "output_dim": 3, "mask_zero": true}, "inbound": [["a", 0]]},
      {"name": "emb", "inbound": [["b", 0]]},
      {"class": "LSTM", "name": "enc", "config": {"units": 3}, "inbound": [["emb", 0]]},
      {"name": "enc", "inbound": [["emb", 1, 0]]},
      {"class": "Dense", "name": "proj", "config": {"units": 3, "activation": "tanh"}, "inbound": [["enc", 0]]},
      {"name": "proj", "inbound": [["enc", 1, 0]]},
      {"name": "proj", "inbound": [["proj", 1, 0]]},
      {"class": "Concatenate", "name": "cat", "config": {}, "inbound": [["proj", 0], ["proj", 2, 0]]},
      {"class": "Dense", "name": "out", "config": {"units": 1, "activation": "sigmoid"}, "inbound": [["cat", 0]]}],
    "outputs": [["out", 0]]}"#;

#[test]
fn shared_layers_sum_the_gradients_of_every_call_as_finite_differences() {
    let mut t = trainer(SHARED, "binary_crossentropy");
    assert_eq!(t.net.layers().len(), 5, "one set of weights per layer, however often called");
    let a = indices(&[&[1, 2, 3, 0], &[4, 5, 0, 0], &[2, 2, 1, 3]]);
    let b = indices(&[&[5, 4, 0, 0], &[1, 1, 1, 1], &[3, 0, 0, 0]]);
    let y = ArrayD::from_shape_vec(IxDyn(&[3]), vec![1.0, 0.0, 1.0]).unwrap();
    let input = || Input::Many(vec![Input::Indices(a.view()), Input::Indices(b.view())]);
    fd_check(&mut t, input, &y);
}

#[test]
fn shared_layer_calls_must_fit_its_weights() {
    let bad = r#"{"type": "functional",
        "inputs": [{"name": "a", "kind": "features", "features": 3}, {"name": "b", "kind": "features", "features": 2}],
        "layers": [{"class": "Dense", "name": "d", "config": {"units": 2}, "inbound": [["a", 0]]},
                   {"name": "d", "inbound": [["b", 0]]},
                   {"class": "Add", "name": "sum", "config": {}, "inbound": [["d", 0], ["d", 1, 0]]}],
        "outputs": [["sum", 0]]}"#;
    let err = GraphSpec::parse(&serde_json::from_str(bad).unwrap()).unwrap_err().to_string();
    assert!(err.contains("layers[1] (d, Dense): the shared layer is called on"), "{err}");
    let bad = SHARED.replace(r#"["enc", 1, 0]"#, r#"["enc", 2, 0]"#);
    let err = GraphSpec::parse(&serde_json::from_str(&bad).unwrap()).unwrap_err().to_string();
    assert!(err.contains("has no call 2") || err.contains("comes later"), "{err}");
}

/// `Dot` in each form (features·features of two sequences with `normalize`, a sequence's
/// features·a vector, two sequences over their time axis), against finite differences.
#[test]
fn dot_matches_finite_differences_in_every_form() {
    let a = floats(&[3, 4, 3], 21);
    let b = floats(&[3, 4, 3], 22);
    let v = floats(&[3, 3], 23);
    let seq = |name: &str| format!(r#"{{"name": "{name}", "kind": "features", "features": 3, "sequence": true, "steps": 4}}"#);
    let vec3 = r#"{"name": "v", "kind": "features", "features": 3, "sequence": false}"#.to_string();
    // (inputs, Dot config, its inbound, the target's shape)
    let cases = [
        (vec![seq("a"), seq("b")], r#"{"axes": -1, "normalize": true}"#, r#"[["h", 0], ["b", 0]]"#, vec![3, 4, 2]),
        (vec![seq("a"), vec3.clone()], r#"{"axes": [2, 1]}"#, r#"[["h", 0], ["v", 0]]"#, vec![3, 2]),
        (vec![seq("a"), seq("b")], r#"{"axes": 1}"#, r#"[["h", 0], ["b", 0]]"#, vec![3, 3, 2]),
        (vec![seq("a"), vec3], r#"{"axes": -1, "normalize": true}"#, r#"[["h", 0], ["h", 1, 0]]"#, vec![3, 2]),
    ];
    for (k, (inputs, dot, inbound, y_shape)) in cases.into_iter().enumerate() {
        // `h` is a tanh Dense on `a`; case 3 also calls it on `v` (a shared layer into a Dot).
        let second = if k == 3 { r#"{"name": "h", "inbound": [["v", 0]]},"# } else { "" };
        let spec = format!(
            r#"{{"type": "functional", "inputs": [{}],
            "layers": [
              {{"class": "Dense", "name": "h", "config": {{"units": 3, "activation": "tanh"}}, "inbound": [["a", 0]]}},
              {second}
              {{"class": "Dot", "name": "d", "config": {dot}, "inbound": {inbound}}},
              {{"class": "Dense", "name": "out", "config": {{"units": 2}}, "inbound": [["d", 0]]}}],
            "outputs": [["out", 0]]}}"#,
            inputs.join(", ")
        );
        let mut t = trainer(&spec, "mse");
        let two = if inputs[1].contains("\"b\"") { b } else { v };
        fd_check(&mut t, || Input::Many(vec![Input::Features(a.view()), Input::Features(two.view())]), floats(&y_shape, 24));
    }
}
