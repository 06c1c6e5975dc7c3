//! Whole models against central finite differences in float64, and the
//! optimizers against their update rules written out by hand.

use super::io::Input;
use super::network::Network;
use super::seq2seq::{Seq2Seq, Seq2SeqConfig};
use super::sequential::Sequential;
use super::spec::ModelSpec;
use crate::rng::SplitMix64;
use crate::train::{Loss, OptimizerConfig, Targets, Trainer};
use ndarray::{Array2, ArrayD, IxDyn};

pub(super) fn trainer(spec: &str, loss: &str) -> Trainer<f64> {
    let v: serde_json::Value = serde_json::from_str(spec).unwrap();
    let net = if v["type"] == "functional" {
        Network::Functional(super::Functional::new(super::GraphSpec::parse(&v).unwrap(), 11).unwrap())
    } else if v["type"] == "seq2seq" {
        Network::Seq2Seq(Seq2Seq::new(Seq2SeqConfig::parse(&v["config"]).unwrap(), 11).unwrap())
    } else {
        Network::Sequential(Sequential::new(ModelSpec::parse(&v).unwrap(), 11).unwrap())
    };
    let mut t = Trainer::new(net);
    let opt = OptimizerConfig::parse(&serde_json::json!({"name": "sgd"})).unwrap();
    t.compile(Loss::parse(loss, false).unwrap(), vec![], opt).unwrap();
    t
}

/// Checks every gradient entry (or a spread-out sample of large tensors)
/// against central differences of the loss.
pub(super) fn fd_check(t: &mut Trainer<f64>, input: impl Fn() -> Input<'static, f64>, y: &ArrayD<f64>) {
    let (_, grads) = t.gradients(input(), Targets::one(y.view(), None)).unwrap();
    let eps = 1e-6;
    let mut worst = 0.0f64;
    let largest = grads.iter().flat_map(|(_, g)| g.iter()).fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(largest > 1e-3, "all gradients are (near) zero: {largest}");
    for (li, layer_grads) in grads.iter().enumerate() {
        let (name, g) = layer_grads;
        let (l, p) = crate::nn::find_param(t.net.layers(), name).unwrap();
        let base = t.net.layers()[l].param(p).to_owned();
        let n = base.len();
        let stride = (n / 40).max(1);
        for k in (li % stride..n).step_by(stride) {
            let mut loss_at = |d: f64| {
                let mut w = base.clone();
                w.as_slice_mut().unwrap()[k] += d;
                t.net.layers_mut()[l].set_param(p, w.view()).unwrap();
                let s = t.test_batch(input(), Targets::one(y.view(), None)).unwrap();
                s.loss_sum / s.count
            };
            let num = (loss_at(eps) - loss_at(-eps)) / (2.0 * eps);
            let got = g.as_slice().unwrap()[k];
            let err = (num - got).abs() / (1e-6 + num.abs().max(got.abs()));
            assert!(err < 1e-5 || (num - got).abs() < 1e-9, "{name}[{k}]: analytic {got}, numeric {num}");
            if (num - got).abs() >= 1e-9 {
                worst = worst.max(err);
            }
        }
        t.net.layers_mut()[l].set_param(p, base.view()).unwrap();
    }
    assert!(worst < 1e-5);
}

pub(super) fn leak<T>(v: T) -> &'static T {
    Box::leak(Box::new(v))
}

pub(super) fn indices(rows: &[&[i64]]) -> &'static Array2<i64> {
    let t = rows[0].len();
    leak(Array2::from_shape_fn((rows.len(), t), |(b, s)| rows[b][s]))
}

#[test]
fn embedding_bilstm_dense_with_masks_matches_finite_differences() {
    let spec = r#"{"input": {"kind": "indices"}, "layers": [
        {"class": "Embedding", "name": "emb", "config": {"input_dim": 7, "output_dim": 3, "mask_zero": true}},
        {"class": "LSTM", "name": "lstm", "config": {"units": 4, "bidirectional": true}},
        {"class": "Dense", "name": "out", "config": {"units": 1, "activation": "sigmoid"}}]}"#;
    let mut t = trainer(spec, "binary_crossentropy");
    // Right padding, left padding, no padding, all padding.
    let x = indices(&[&[1, 2, 3, 0, 0], &[0, 0, 4, 5, 6], &[6, 5, 4, 3, 2], &[0, 0, 0, 0, 0]]);
    let y = ArrayD::from_shape_vec(IxDyn(&[4]), vec![1.0, 0.0, 1.0, 0.0]).unwrap();
    fd_check(&mut t, || Input::Indices(x.view()), &y);
}

#[test]
fn gru_reset_after_survives_the_config_round_trip_and_is_gru_only() {
    use crate::recurrent::CellKind;
    let spec = |class: &str, extra: &str| {
        serde_json::from_str::<serde_json::Value>(&format!(
            r#"{{"input": {{"kind": "features", "features": 2}}, "layers": [{{"class": "{class}", "name": "r", "config": {{"units": 3{extra}}}}}]}}"#
        ))
        .unwrap()
    };
    let cell = |m: &ModelSpec| {
        let built = m.build::<f64>(1).unwrap();
        built[0].layer.as_any().downcast_ref::<crate::nn::RecurrentLayer<f64>>().unwrap().cfg.cell
    };
    for (extra, want, written) in [("", CellKind::Gru, None), (r#", "reset_after": false"#, CellKind::GruResetBefore, Some(false))] {
        let m = ModelSpec::parse(&spec("GRU", extra)).unwrap();
        assert_eq!(cell(&m), want);
        let json = m.layers[0].config.to_json();
        assert_eq!(json.get("reset_after").and_then(|v| v.as_bool()), written);
        // What to_json writes parses back to the same cell.
        let again = ModelSpec::parse(&spec(
            "GRU",
            &format!(", \"reset_after\": {}", json.get("reset_after").map_or("true".into(), |v| v.to_string())),
        ))
        .unwrap();
        assert_eq!(cell(&again), want);
        assert_eq!(again.layers[0].config.class(), "GRU");
    }
    let err = ModelSpec::parse(&spec("LSTM", r#", "reset_after": false"#)).unwrap_err().to_string();
    assert!(err.contains("reset_after"), "{err}");
}

#[test]
fn gru_sequences_with_softmax_and_masked_sparse_loss_matches_finite_differences() {
    // Both GRU variants: reset gate after (PyTorch, Keras 3) and before (Keras reset_after=False) W_hn.
    for reset_after in [true, false] {
        let spec = format!(
            r#"{{"input": {{"kind": "indices"}}, "layers": [
            {{"class": "Embedding", "name": "emb", "config": {{"input_dim": 6, "output_dim": 3, "mask_zero": true}}}},
            {{"class": "GRU", "name": "gru", "config": {{"units": 5, "return_sequences": true, "num_layers": 2, "reset_after": {reset_after}}}}},
            {{"class": "Dense", "name": "tags", "config": {{"units": 4, "activation": "softmax"}}}}]}}"#
        );
        let mut t = trainer(&spec, "sparse_categorical_crossentropy");
        let x = indices(&[&[1, 2, 3, 4], &[5, 1, 0, 0], &[0, 2, 2, 3]]);
        let y = ArrayD::from_shape_fn(IxDyn(&[3, 4]), |i| ((i[0] + 2 * i[1]) % 4) as f64);
        fd_check(&mut t, || Input::Indices(x.view()), &y);
    }
}

#[test]
fn merge_modes_go_backwards_and_stacked_dropout_layers_match_finite_differences() {
    for (merge, cell) in [("sum", "SimpleRNN"), ("mul", "LSTM"), ("ave", "GRU"), ("concat", "LSTM")] {
        let spec = format!(
            r#"{{"input": {{"kind": "indices"}}, "layers": [
            {{"class": "Embedding", "name": "emb", "config": {{"input_dim": 6, "output_dim": 3, "mask_zero": true}}}},
            {{"class": "{cell}", "name": "rnn", "config": {{"units": 3, "bidirectional": true, "merge_mode": "{merge}",
               "return_sequences": true, "go_backwards": true, "num_layers": 2, "layer_dropout": 0.5, "dropout": 0.4}}}},
            {{"class": "Dropout", "name": "drop", "config": {{"rate": 0.3}}}},
            {{"class": "Dense", "name": "out", "config": {{"units": 2, "activation": "tanh"}}}}]}}"#
        );
        let mut t = trainer(&spec, "mse");
        let x = indices(&[&[1, 2, 3, 4], &[0, 5, 1, 2], &[3, 4, 0, 0]]);
        let y = ArrayD::from_shape_fn(IxDyn(&[3, 4, 2]), |i| ((i[0] * 3 + i[1] + i[2]) % 5) as f64 / 5.0 - 0.4);
        fd_check(&mut t, || Input::Indices(x.view()), &y);
    }
}

#[test]
fn float_features_through_rnn_and_dense_layers_match_finite_differences() {
    let spec = r#"{"input": {"kind": "features", "features": 2}, "layers": [
        {"class": "Masking", "name": "mask", "config": {"mask_value": 0.0}},
        {"class": "SimpleRNN", "name": "rnn", "config": {"units": 4, "return_sequences": true, "activation": "relu"}},
        {"class": "Dense", "name": "hidden", "config": {"units": 3, "activation": "relu"}},
        {"class": "LSTM", "name": "lstm", "config": {"units": 3}},
        {"class": "Dense", "name": "out", "config": {"units": 3, "activation": "softmax"}}]}"#;
    let mut t = trainer(spec, "categorical_crossentropy");
    let mut rng = SplitMix64::new(3);
    let mut x = ArrayD::from_shape_simple_fn(IxDyn(&[3, 5, 2]), || rng.uniform(-1.0, 1.0));
    // Sequence 0 right-padded, sequence 1 left-padded (Masking), sequence 2 full.
    x.slice_mut(ndarray::s![0, 3.., ..]).fill(0.0);
    x.slice_mut(ndarray::s![1, ..2, ..]).fill(0.0);
    let x = leak(x);
    let y = ArrayD::from_shape_fn(IxDyn(&[3, 3]), |i| f64::from(u8::from(i[0] == i[1])));
    fd_check(&mut t, || Input::Features(x.view()), &y);
}

#[test]
fn seq2seq_with_bidirectional_encoder_matches_finite_differences() {
    for cell in ["lstm", "gru"] {
        let spec = format!(
            r#"{{"type": "seq2seq", "config": {{"src_vocab": 6, "tgt_vocab": 5, "embedding_dim": 3, "units": 3,
               "cell": "{cell}", "num_layers": 2, "bidirectional_encoder": true}}}}"#
        );
        let mut t = trainer(&spec, "sparse_categorical_crossentropy");
        let src = indices(&[&[3, 4, 5, 0], &[5, 3, 0, 0]]);
        let dec = indices(&[&[1, 3, 4, 3], &[1, 4, 0, 0]]);
        let y = ArrayD::from_shape_vec(IxDyn(&[2, 4]), vec![3.0, 4.0, 3.0, 2.0, 4.0, 2.0, 0.0, 0.0]).unwrap();
        fd_check(&mut t, || Input::Pair(src.view(), dec.view()), &y);
    }
}

#[test]
fn seq2seq_with_attention_matches_finite_differences() {
    // Left padding, right padding, no padding, and an all-padding source (no context).
    for (attention, cell, bidirectional) in [("luong", "lstm", true), ("bahdanau", "gru", false), ("luong", "simple_rnn", false)] {
        let spec = format!(
            r#"{{"type": "seq2seq", "config": {{"src_vocab": 6, "tgt_vocab": 5, "embedding_dim": 3, "units": 3,
               "cell": "{cell}", "bidirectional_encoder": {bidirectional}, "attention": "{attention}"}}}}"#
        );
        let mut t = trainer(&spec, "sparse_categorical_crossentropy");
        let names: Vec<String> = t.net.layers().iter().map(|l| l.name.clone()).collect();
        assert_eq!(names[4], "attention", "{names:?}");
        let src = indices(&[&[3, 4, 5, 0], &[0, 0, 5, 3], &[1, 2, 3, 4], &[0, 0, 0, 0]]);
        let dec = indices(&[&[1, 3, 4, 3], &[1, 4, 0, 0], &[1, 2, 2, 2], &[1, 3, 0, 0]]);
        let y =
            ArrayD::from_shape_vec(IxDyn(&[4, 4]), vec![3.0, 4.0, 3.0, 2.0, 4.0, 2.0, 0.0, 0.0, 2.0, 2.0, 2.0, 2.0, 3.0, 2.0, 0.0, 0.0])
                .unwrap();
        fd_check(&mut t, || Input::Pair(src.view(), dec.view()), &y);
    }
}

#[test]
fn seq2seq_dropout_is_on_in_training_only_and_matches_finite_differences() {
    // One recurrent layer: the embeddings' and the output layer's dropout are all there is. The loss is a
    // fixed weighting of the training output, its masks drawn again from the same seed at every evaluation.
    let spec = |rate: f64| {
        format!(
            r#"{{"type": "seq2seq", "config": {{"src_vocab": 6, "tgt_vocab": 5, "embedding_dim": 3, "units": 3,
               "cell": "lstm", "bidirectional_encoder": true, "attention": "luong", "dropout": {rate}}}}}"#
        )
    };
    let src = indices(&[&[3, 4, 5, 0], &[0, 0, 5, 3], &[1, 2, 3, 4]]);
    let dec = indices(&[&[1, 3, 4, 3], &[1, 4, 0, 0], &[1, 2, 2, 2]]);
    let input = || Input::Pair(src.view(), dec.view());
    let mut t = trainer(&spec(0.5), "sparse_categorical_crossentropy");
    let mut plain = trainer(&spec(0.0), "sparse_categorical_crossentropy");
    let out = |t: &mut Trainer<f64>, mode, seed| {
        t.net.set_seed(seed);
        t.net.forward(input(), mode).unwrap().y.data
    };
    let reference = out(&mut plain, crate::nn::Mode::Train, 5);
    assert_eq!(out(&mut t, crate::nn::Mode::Grad, 5), reference, "dropout outside training");
    let y = out(&mut t, crate::nn::Mode::Train, 5);
    assert_ne!(y, reference, "no dropout in training");
    assert_ne!(out(&mut t, crate::nn::Mode::Train, 6), y, "the masks do not follow the seed");
    let mut rng = SplitMix64::new(4);
    let w = Array2::from_shape_simple_fn(y.raw_dim(), || rng.uniform(-1.0, 1.0));
    t.net.zero_grad();
    out(&mut t, crate::nn::Mode::Train, 5);
    t.net.backward(super::io::OutGrad::Output(w.clone())).unwrap();
    let eps = 1e-6;
    for l in 0..t.net.layers().len() {
        for p in 0..t.net.layers()[l].param_names().len() {
            let base = t.net.layers()[l].param(p).to_owned();
            let grad = t.net.layers()[l].grad(p).to_owned();
            let stride = (base.len() / 20).max(1);
            for k in (0..base.len()).step_by(stride) {
                let mut loss_at = |d: f64| {
                    let mut v = base.clone();
                    v.as_slice_mut().unwrap()[k] += d;
                    t.net.layers_mut()[l].set_param(p, v.view()).unwrap();
                    (out(&mut t, crate::nn::Mode::Train, 5) * &w).sum()
                };
                let num = (loss_at(eps) - loss_at(-eps)) / (2.0 * eps);
                let got = grad.as_slice().unwrap()[k];
                let name = &t.net.layers()[l].name;
                assert!((num - got).abs() < 1e-7 * (1.0 + num.abs()), "{name} param {p}[{k}]: analytic {got}, numeric {num}");
            }
            t.net.layers_mut()[l].set_param(p, base.view()).unwrap();
        }
    }
}

#[test]
fn seq2seq_with_attention_decodes_what_its_forward_pass_scores() {
    // Greedy decoding step by step must pick the argmax of the teacher-forced
    // forward pass fed its own previous picks.
    for attention in ["luong", "bahdanau"] {
        let spec = format!(
            r#"{{"type": "seq2seq", "config": {{"src_vocab": 7, "tgt_vocab": 6, "embedding_dim": 4, "units": 5,
               "cell": "lstm", "bidirectional_encoder": true, "attention": "{attention}"}}}}"#
        );
        let mut t = trainer(&spec, "sparse_categorical_crossentropy");
        let src = indices(&[&[3, 4, 5, 6, 0], &[0, 2, 5, 3, 1]]);
        let Network::Seq2Seq(s) = &mut t.net else { unreachable!() };
        let out = crate::infer::decode::greedy(&mut [&mut *s], src.view(), 4).unwrap();
        for b in 0..2 {
            let mut dec = vec![1i64];
            for step in 0..4 {
                let d = Array2::from_shape_vec((1, dec.len()), dec.clone()).unwrap();
                let one = src.slice(ndarray::s![b..b + 1, ..]).to_owned();
                let f = s.forward(Input::Pair(one.view(), d.view()), crate::nn::Mode::Infer).unwrap();
                let row = f.y.data.row(dec.len() - 1).to_owned();
                let best = crate::float::argmax(row.iter().copied()) as i64;
                assert_eq!(out[[b, step]], best, "{attention}, sequence {b}, step {step}");
                if best == 2 || best == 0 {
                    break; // EOS, or padding (which the teacher-forced pass would mask)
                }
                dec.push(best);
            }
        }
        let beam = crate::infer::decode::beam_search(&mut [&mut *s], src.view(), 4, 1, 0.0).unwrap();
        assert_eq!(beam, out, "{attention}: a beam of one is greedy");
    }
}

#[test]
fn adam_matches_its_update_rule_and_state_round_trips() {
    let spec = r#"{"input": {"kind": "features", "features": 2, "sequence": false}, "layers": [
        {"class": "Dense", "name": "d", "config": {"units": 1}}]}"#;
    let v: serde_json::Value = serde_json::from_str(spec).unwrap();
    let mut t = Trainer::<f64>::new(Network::Sequential(Sequential::new(ModelSpec::parse(&v).unwrap(), 1).unwrap()));
    let opt = OptimizerConfig::parse(&serde_json::json!({"name": "adam", "learning_rate": 0.1, "clipvalue": 0.5})).unwrap();
    t.compile(Loss::parse("mse", false).unwrap(), vec!["mae".into()], opt).unwrap();
    let x = ArrayD::from_shape_vec(IxDyn(&[2, 2]), vec![1.0, 2.0, -1.0, 0.5]).unwrap();
    let y = ArrayD::from_shape_vec(IxDyn(&[2, 1]), vec![3.0, -2.0]).unwrap();
    let (mut m, mut v2) = (ArrayD::<f64>::zeros(IxDyn(&[2, 1])), ArrayD::<f64>::zeros(IxDyn(&[2, 1])));
    for step in 1..=3 {
        let w0 = t.net.layers()[0].param(0).to_owned();
        let (_, grads) = t.gradients(Input::Features(x.view()), Targets::one(y.view(), None)).unwrap();
        let g = grads[0].1.mapv(|v| v.clamp(-0.5, 0.5));
        m = &m + &((&g - &m) * 0.1);
        v2 = &v2 + &((&g * &g - &v2) * 0.001);
        let lr_t = 0.1 * (1.0 - 0.999f64.powi(step)).sqrt() / (1.0 - 0.9f64.powi(step));
        let expect = &w0 - &(&m * lr_t / (v2.mapv(f64::sqrt) + 1e-7));
        t.train_batch(Input::Features(x.view()), Targets::one(y.view(), None)).unwrap();
        let got = t.net.layers()[0].param(0).to_owned();
        assert!((&got - &expect).iter().all(|d| d.abs() < 1e-12), "step {step}: {got} vs {expect}");
    }
    let c = t.compiled.as_ref().unwrap();
    let saved: Vec<(String, ArrayD<f64>)> = c.optimizer.state().into_iter().map(|(n, a)| (n, a.to_owned())).collect();
    assert_eq!(saved.iter().map(|s| s.0.as_str()).collect::<Vec<_>>(), ["d/bias/m", "d/bias/v", "d/kernel/m", "d/kernel/v"]);
    let layers = &t.net;
    let mut fresh = c.optimizer.clone();
    fresh.set_state(3, saved.clone(), layers.layers()).unwrap();
    assert_eq!(fresh.state().len(), 4);
    let err = fresh.set_state(3, vec![("d/kernel/q".into(), saved[0].1.clone())], layers.layers()).unwrap_err();
    assert!(err.to_string().contains("d/kernel/q"), "{err}");
}

#[test]
fn model_file_bytes_round_trip_and_reject_truncation() {
    use super::saving::{from_bytes, to_bytes, FileTensor};
    let tensors = vec![
        ("weights/a".to_string(), FileTensor::F32(ArrayD::from_shape_fn(IxDyn(&[2, 3]), |i| (i[0] * 3 + i[1]) as f32))),
        ("weights/b".to_string(), FileTensor::F64(ArrayD::from_elem(IxDyn(&[4]), -1.5))),
    ];
    let meta = std::collections::HashMap::from([("format".to_string(), "rustrnn.model".to_string())]);
    let bytes = to_bytes(&tensors, meta.clone()).unwrap();
    let (m, t) = from_bytes(&bytes).unwrap();
    assert_eq!(m, meta);
    assert_eq!(t, tensors);
    for cut in [0, 7, 8, 20, bytes.len() - 1] {
        let err = from_bytes(&bytes[..cut]).unwrap_err().to_string();
        assert!(err.contains("not a valid rustrnn model file"), "{cut}: {err}");
    }
}

/// Data parallelism's arithmetic: the gradients of two halves of a batch,
/// each summed over its rows (`gradients_into` scaled by the half's count),
/// added and applied with `apply_flat(1 / total count)` give the same step as
/// `train_batch` on the whole batch — with Adam and global-norm clipping.
#[test]
fn summed_flat_gradients_of_shards_apply_as_one_training_step() {
    let spec = r#"{"input": {"kind": "indices"}, "layers": [
        {"class": "Embedding", "name": "emb", "config": {"input_dim": 9, "output_dim": 3, "mask_zero": true}},
        {"class": "GRU", "name": "gru", "config": {"units": 4}},
        {"class": "Dense", "name": "out", "config": {"units": 3, "activation": "softmax"}}]}"#;
    let adam = OptimizerConfig::parse(&serde_json::json!({"name": "adam", "learning_rate": 0.05, "global_clipnorm": 0.1})).unwrap();
    let loss = Loss::parse("sparse_categorical_crossentropy", false).unwrap();
    let (mut whole, mut parts) = (trainer(spec, "sparse_categorical_crossentropy"), trainer(spec, "sparse_categorical_crossentropy"));
    whole.compile(loss, vec![], adam.clone()).unwrap();
    parts.compile(loss, vec![], adam).unwrap();
    let x = indices(&[&[1, 2, 3, 0], &[4, 5, 0, 0], &[6, 7, 8, 1], &[2, 2, 0, 0], &[8, 1, 3, 5]]);
    let y = ArrayD::from_shape_vec(IxDyn(&[5]), vec![0.0, 2.0, 1.0, 1.0, 0.0]).unwrap();
    let w = ArrayD::from_shape_vec(IxDyn(&[5]), vec![1.0, 0.0, 2.0, 0.5, 1.5]).unwrap();
    let n = crate::train::optim::flat_len(parts.net.layers());
    for _ in 0..3 {
        whole.train_batch(Input::Indices(x.view()), Targets::one(y.view(), Some(w.view()))).unwrap();
        let mut sum = vec![0.0f64; n];
        let mut count = 0.0;
        for rows in [0..2, 2..5] {
            let xs = x.slice(ndarray::s![rows.clone(), ..]);
            let ys = y.slice(ndarray::s![rows.clone()]);
            let ws = w.slice(ndarray::s![rows]);
            let st = parts.accumulate(Input::Indices(xs), Targets::one(ys.into_dyn(), Some(ws.into_dyn()))).unwrap();
            let mut g = vec![0.0f64; n];
            parts.gradients_into(&mut g, st.count).unwrap();
            sum.iter_mut().zip(&g).for_each(|(s, v)| *s += v);
            count += st.count;
        }
        parts.apply_flat(&sum, 1.0 / count).unwrap();
    }
    for (a, b) in whole.net.layers().iter().zip(parts.net.layers()) {
        for i in 0..a.param_names().len() {
            let diff = (&a.param(i) - &b.param(i)).iter().fold(0.0f64, |m, v| m.max(v.abs()));
            assert!(diff < 1e-12, "{}/{}: differs by {diff}", a.name, a.param_names()[i]);
        }
    }
    assert!(parts.apply_flat(&sum_of(n - 1), 1.0).is_err());
}

fn sum_of(n: usize) -> Vec<f64> {
    vec![0.0; n]
}
