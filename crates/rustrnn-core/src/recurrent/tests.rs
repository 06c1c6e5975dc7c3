//! The fast recurrent stack against the plain reference and against finite
//! differences, across cells, odd sizes, layouts, lengths and thread counts.

use super::config::{CellKind, Nonlinearity, RnnConfig};
use super::reference;
use super::stack::Recurrent;
use crate::rng::SplitMix64;
use ndarray::{Array, Array3, Dimension, Ix3};

fn random<D: Dimension>(shape: D, rng: &mut SplitMix64) -> Array<f64, D> {
    Array::from_shape_simple_fn(shape, || rng.uniform(-1.0, 1.0))
}

const CELLS: [CellKind; 5] =
    [CellKind::Rnn(Nonlinearity::Tanh), CellKind::Rnn(Nonlinearity::Relu), CellKind::Lstm, CellKind::Gru, CellKind::GruResetBefore];

struct Case {
    cfg: RnnConfig,
    batch: usize,
    seq: usize,
    lengths: Vec<usize>,
}

fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    // (I, H, layers, bidir, bias, B, T, varlen): H deliberately not a multiple of any SIMD width.
    let shapes = [
        (3, 5, 1, false, true, 1, 1, false),
        (4, 7, 2, true, true, 3, 6, true),
        (9, 17, 1, true, false, 2, 4, true),
        (2, 3, 1, false, true, 1, 40, false),
        (3, 9, 1, true, true, 2, 300, true),
        (5, 33, 2, false, true, 4, 3, true),
    ];
    for cell in CELLS {
        for &(i, h, layers, bidir, bias, b, t, varlen) in &shapes {
            let mut cfg = RnnConfig::new(cell, i, h);
            cfg.num_layers = layers;
            cfg.bidirectional = bidir;
            cfg.bias = bias;
            let lengths = (0..b).map(|k| if varlen { 1 + (k * 5 + t - 1) % t } else { t }).collect();
            v.push(Case { cfg, batch: b, seq: t, lengths });
        }
    }
    v
}

fn lengths_i64(l: &[usize]) -> Vec<i64> {
    l.iter().map(|&v| v as i64).collect()
}

fn max_diff(a: &Array3<f64>, b: &Array3<f64>) -> f64 {
    assert_eq!(a.shape(), b.shape());
    a.iter().zip(b).fold(0.0, |m, (x, y)| m.max((x - y).abs()))
}

#[test]
fn forward_matches_reference_in_both_layouts() {
    for (n, case) in cases().into_iter().enumerate() {
        let mut rng = SplitMix64::new(n as u64);
        let cfg = case.cfg;
        let x = random(Ix3(case.batch, case.seq, cfg.input_size), &mut rng);
        let h0 = random(Ix3(cfg.num_states(), case.batch, cfg.hidden_size), &mut rng);
        let c0 = random(Ix3(cfg.num_states(), case.batch, cfg.hidden_size), &mut rng);
        let mut m = Recurrent::<f64>::new(cfg, 7 + n as u64).unwrap();
        let spans: Vec<_> = case.lengths.iter().map(|&l| (0, l)).collect();
        let (ro, rh, rc) = reference::forward(&cfg, m.params(), x.view(), h0.view(), c0.view(), &spans);
        let c0v = (cfg.cell == CellKind::Lstm).then(|| c0.view());
        let got = m.forward(x.view(), Some(h0.view()), c0v, Some(&lengths_i64(&case.lengths))).unwrap();
        assert!(max_diff(&got.output, &ro) < 1e-12, "case {n} {:?}: output", cfg.cell);
        assert!(max_diff(&got.h_n, &rh) < 1e-12, "case {n}: h_n");
        if let Some(cn) = got.c_n {
            assert!(max_diff(&cn, &rc) < 1e-12, "case {n}: c_n");
        }

        // Time-major: the same numbers, transposed.
        let mut cfg_tm = cfg;
        cfg_tm.batch_first = false;
        let mut m_tm = Recurrent::<f64>::new(cfg_tm, 0).unwrap();
        for s in m.slots().to_vec() {
            m_tm.set_param(&s.name, m.param(&s.name).unwrap()).unwrap();
        }
        let xt = x.view().permuted_axes([1, 0, 2]).as_standard_layout().into_owned();
        let got_tm = m_tm.forward(xt.view(), Some(h0.view()), c0v, Some(&lengths_i64(&case.lengths))).unwrap();
        let back = got_tm.output.view().permuted_axes([1, 0, 2]).to_owned();
        assert!(max_diff(&back, &ro) < 1e-12, "case {n}: time-major output");

        // Left padding: each sequence's valid steps at the end.
        let left: Vec<_> = case.lengths.iter().map(|&l| (case.seq - l, case.seq)).collect();
        let (ro, rh, _) = reference::forward(&cfg, m.params(), x.view(), h0.view(), c0.view(), &left);
        let got = m.forward_spans(x.view(), Some(h0.view()), c0v, Some(left.clone())).unwrap();
        assert!(max_diff(&got.output, &ro) < 1e-12 && max_diff(&got.h_n, &rh) < 1e-12, "case {n}: left padding");
    }
}

/// L = Σ out·dout + Σ h_n·dhn (+ Σ c_n·dcn).
fn loss(m: &mut Recurrent<f64>, x: &Array3<f64>, h0: &Array3<f64>, c0: &Array3<f64>, lengths: &[i64], w: &[Array3<f64>; 3]) -> f64 {
    let lstm = m.config().cell == CellKind::Lstm;
    let o = m.forward(x.view(), Some(h0.view()), lstm.then(|| c0.view()), Some(lengths)).unwrap();
    let mut l = (&o.output * &w[0]).sum() + (&o.h_n * &w[1]).sum();
    if let Some(cn) = o.c_n {
        l += (&cn * &w[2]).sum();
    }
    l
}

#[test]
fn backward_matches_finite_differences() {
    // Long sequences are covered against the reference; finite differences stay on short ones.
    for (n, case) in cases().into_iter().enumerate().filter(|(_, c)| c.seq <= 10) {
        check_finite_differences(n, case);
    }
}

/// LSTM with a projection (proj_size): no plain reference, so every case goes
/// through finite differences (PyTorch's own numbers are checked in Python).
#[test]
fn projected_lstm_matches_finite_differences() {
    let shapes = [(3, 5, 2, 1, false, true, 2, 4, true), (4, 6, 3, 2, true, true, 3, 5, true), (2, 4, 1, 2, false, false, 1, 3, false)];
    for (n, &(i, h, p, layers, bidir, bias, b, t, varlen)) in shapes.iter().enumerate() {
        let mut cfg = RnnConfig::new(CellKind::Lstm, i, h);
        cfg.proj_size = p;
        cfg.num_layers = layers;
        cfg.bidirectional = bidir;
        cfg.bias = bias;
        let lengths = (0..b).map(|k| if varlen { 1 + (k * 5 + t - 1) % t } else { t }).collect();
        check_finite_differences(1000 + n, Case { cfg, batch: b, seq: t, lengths });
    }
}

fn check_finite_differences(n: usize, case: Case) {
    let eps = 1e-6;
    {
        let mut rng = SplitMix64::new(100 + n as u64);
        let cfg = case.cfg;
        let lstm = cfg.cell == CellKind::Lstm;
        let x = random(Ix3(case.batch, case.seq, cfg.input_size), &mut rng);
        let h0 = random(Ix3(cfg.num_states(), case.batch, cfg.state_size()), &mut rng);
        let c0 = random(Ix3(cfg.num_states(), case.batch, cfg.hidden_size), &mut rng);
        let lengths = lengths_i64(&case.lengths);
        let mut m = Recurrent::<f64>::new(cfg, n as u64).unwrap();
        let out = m.forward(x.view(), Some(h0.view()), lstm.then(|| c0.view()), Some(&lengths)).unwrap();
        let cn_dim = out.c_n.as_ref().map_or(out.h_n.raw_dim(), |c| c.raw_dim());
        let w = [random(out.output.raw_dim(), &mut rng), random(out.h_n.raw_dim(), &mut rng), random(cn_dim, &mut rng)];
        let g = m.backward(Some(w[0].view()), Some(w[1].view()), lstm.then(|| w[2].view())).unwrap();

        let check = |analytic: f64, plus: f64, minus: f64, what: &str| {
            let numeric = (plus - minus) / (2.0 * eps);
            let tol = 1e-6 * (1.0 + numeric.abs());
            // ReLU kinks make single entries non-differentiable; allow those rarely.
            assert!(
                (analytic - numeric).abs() < tol || cfg.cell == CellKind::Rnn(Nonlinearity::Relu),
                "case {n} {what}: {analytic} vs {numeric}"
            );
        };
        // Input and initial states: a few entries each.
        for k in (0..x.len()).step_by(7) {
            let (mut xp, mut xm) = (x.clone(), x.clone());
            xp.as_slice_mut().unwrap()[k] += eps;
            xm.as_slice_mut().unwrap()[k] -= eps;
            let (lp, lm) = (loss(&mut m, &xp, &h0, &c0, &lengths, &w), loss(&mut m, &xm, &h0, &c0, &lengths, &w));
            check(g.dx.as_slice().unwrap()[k], lp, lm, "dx");
        }
        for k in (0..h0.len()).step_by(5) {
            let (mut hp, mut hm) = (h0.clone(), h0.clone());
            hp.as_slice_mut().unwrap()[k] += eps;
            hm.as_slice_mut().unwrap()[k] -= eps;
            let (lp, lm) = (loss(&mut m, &x, &hp, &c0, &lengths, &w), loss(&mut m, &x, &hm, &c0, &lengths, &w));
            check(g.dh0.as_slice().unwrap()[k], lp, lm, "dh0");
        }
        for k in (0..c0.len()).step_by(5) {
            if lstm {
                let (mut cp, mut cm) = (c0.clone(), c0.clone());
                cp.as_slice_mut().unwrap()[k] += eps;
                cm.as_slice_mut().unwrap()[k] -= eps;
                let (lp, lm) = (loss(&mut m, &x, &h0, &cp, &lengths, &w), loss(&mut m, &x, &h0, &cm, &lengths, &w));
                check(g.dc0.as_ref().unwrap().as_slice().unwrap()[k], lp, lm, "dc0");
            }
        }
        // Every parameter tensor: a strided subset of entries.
        for slot in m.slots().to_vec() {
            let grad = m.grad(&slot.name).unwrap().to_owned();
            let base = m.param(&slot.name).unwrap().to_owned();
            for k in (0..base.len()).step_by(11) {
                let mut p = base.clone();
                p.as_slice_mut().unwrap()[k] += eps;
                m.set_param(&slot.name, p.view()).unwrap();
                let lp = loss(&mut m, &x, &h0, &c0, &lengths, &w);
                p.as_slice_mut().unwrap()[k] -= 2.0 * eps;
                m.set_param(&slot.name, p.view()).unwrap();
                let lm = loss(&mut m, &x, &h0, &c0, &lengths, &w);
                m.set_param(&slot.name, base.view()).unwrap();
                check(grad.as_slice().unwrap()[k], lp, lm, &slot.name);
            }
        }
    }
}

#[test]
fn results_are_bit_identical_for_any_thread_count() {
    // Big enough per step (B·G·H·H) that several workers split the hidden units.
    for cell in CELLS {
        let mut cfg = RnnConfig::new(cell, 24, 100);
        cfg.bidirectional = true;
        cfg.num_layers = 2;
        let mut rng = SplitMix64::new(5);
        let x = random(Ix3(64, 7, 24), &mut rng).mapv(|v| v as f32);
        let dout = random(Ix3(64, 7, 200), &mut rng).mapv(|v| v as f32);
        let lengths: Vec<i64> = (0..64).map(|b| 1 + b % 7).collect();
        let run = |threads: usize| {
            let mut m = Recurrent::<f32>::new(cfg, 3).unwrap();
            let out = crate::threads::with_num_threads(threads, || m.forward(x.view(), None, None, Some(&lengths)).unwrap());
            let g = crate::threads::with_num_threads(threads, || m.backward(Some(dout.view()), None, None).unwrap());
            (out.output, g.dx, m.grads().clone())
        };
        let one = run(1);
        for t in [2, 3] {
            let other = run(t);
            assert!(one.0 == other.0 && one.1 == other.1 && one.2 == other.2, "{cell:?}: {t} threads differ");
        }
    }
}

#[test]
fn several_workers_match_the_reference() {
    for cell in CELLS {
        let mut cfg = RnnConfig::new(cell, 5, 96);
        cfg.bidirectional = true;
        let mut rng = SplitMix64::new(9);
        let x = random(Ix3(40, 4, 5), &mut rng);
        let h0 = random(Ix3(2, 40, 96), &mut rng);
        let c0 = random(Ix3(2, 40, 96), &mut rng);
        let lengths: Vec<usize> = (0..40).map(|b| 1 + b % 4).collect();
        let spans: Vec<_> = lengths.iter().map(|&l| (0, l)).collect();
        let mut m = Recurrent::<f64>::new(cfg, 2).unwrap();
        let (ro, rh, _) = reference::forward(&cfg, m.params(), x.view(), h0.view(), c0.view(), &spans);
        let c0v = (cell == CellKind::Lstm).then(|| c0.view());
        // Training (gates projected before the loop and kept) and inference
        // (40 rows: projected inside the loop, from kept packs).
        for training in [true, false] {
            m.set_training(training);
            let got =
                crate::threads::with_num_threads(3, || m.forward(x.view(), Some(h0.view()), c0v, Some(&lengths_i64(&lengths))).unwrap());
            assert!(max_diff(&got.output, &ro) < 1e-12 && max_diff(&got.h_n, &rh) < 1e-12, "{cell:?} training {training}");
        }
    }
}

#[test]
fn misuse_is_reported_not_panicked() {
    let cfg = RnnConfig::new(CellKind::Gru, 3, 4);
    let mut m = Recurrent::<f64>::new(cfg, 1).unwrap();
    assert!(m.backward(None, None, None).unwrap_err().to_string().contains("forward"));
    let x = Array3::<f64>::zeros((2, 5, 3));
    let err = m.forward(Array3::<f64>::zeros((2, 5, 4)).view(), None, None, None).unwrap_err();
    assert!(err.to_string().contains("(2, 5, 4)"), "{err}");
    let err = m.forward(x.view(), None, None, Some(&[1, 6])).unwrap_err();
    assert!(err.to_string().contains("lengths[1] = 6"), "{err}");
    let err = m.forward(x.view(), None, None, Some(&[1])).unwrap_err();
    assert!(err.to_string().starts_with("lengths"), "{err}");
    let err = m.forward(x.view(), Some(Array3::zeros((1, 3, 4)).view()), None, None).unwrap_err();
    assert!(err.to_string().contains("h0") && err.to_string().contains("(1, 2, 4)"), "{err}");
    m.forward(x.view(), None, None, None).unwrap();
    let err = m.backward(Some(Array3::zeros((2, 5, 5)).view()), None, None).unwrap_err();
    assert!(err.to_string().starts_with("dout"), "{err}");
    m.backward(None, None, None).unwrap();
    assert!(m.backward(None, None, None).is_err(), "the cache is consumed");
    m.set_training(false);
    m.forward(x.view(), None, None, None).unwrap();
    assert!(m.backward(None, None, None).unwrap_err().to_string().contains("eval"));
}
