//! Generation (one-to-many): feeds a model its own samples one token at a
//! time, carrying the recurrent state in Rust with no Python per step.
//!
//! The model is compiled into a [`StepModel`]: plain row-major weights, one
//! matrix-vector product per matrix and token, no allocation per step. The
//! embedding is folded into the first recurrent layer's input weights
//! (`table[v] = W_ih · emb[v] + b_ih`), so reading a token is a row copy.

use crate::error::{Result, RnnError};
use crate::float::{argmax, Float};
use crate::kernels::gemv::{gemv, gemv_par};
use crate::kernels::{cells, cells_any_activation as any_act, CellActivations};
use crate::models::Sequential;
use crate::nn::activation::softmax_inplace;
use crate::nn::dense::Dense;
use crate::nn::dropout::Dropout;
use crate::nn::embedding::Embedding;
use crate::nn::{Activation, Layer, RecurrentLayer};
use crate::recurrent::CellKind;
use crate::rng::SplitMix64;
use crate::threads;
use ndarray::{Array1, Array2, ArrayView2, Axis};
use rayon::prelude::*;

/// How the next token is drawn from the logits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampling {
    /// Logits are divided by it; 0 means greedy (argmax).
    pub temperature: f64,
    /// Only the `k` most likely tokens can be drawn.
    pub top_k: Option<usize>,
    pub seed: u64,
}

#[derive(Debug, Clone)]
struct StepRnn<F> {
    cell: CellKind,
    /// Keras's activations when not tanh/sigmoid.
    acts: Option<CellActivations>,
    hidden: usize,
    /// (G·H, I) and (G·H, H), row-major.
    w_ih: Array2<F>,
    w_hh: Array2<F>,
    b_ih: Array1<F>,
    b_hh: Array1<F>,
}

#[derive(Debug, Clone)]
struct StepDense<F> {
    /// (U, I): the transposed Keras kernel, row-major.
    w: Array2<F>,
    b: Option<Array1<F>>,
    activation: Activation,
}

#[derive(Debug, Clone)]
enum Op<F> {
    Rnn(StepRnn<F>),
    Dense(StepDense<F>),
}

/// A unidirectional model `Embedding → (recurrent | Dense | Dropout)* → Dense`
/// prepared for single-token steps.
#[derive(Debug, Clone)]
pub struct StepModel<F> {
    vocab: usize,
    /// (V, E) embedding, or (V, G·H) with the first recurrent layer's input
    /// projection folded in when that layer comes right after the embedding.
    table: Array2<F>,
    folded: bool,
    ops: Vec<Op<F>>,
}

/// Per-sequence state and scratch buffers, allocated once.
struct Scratch<F> {
    h: Vec<Vec<F>>,
    c: Vec<Vec<F>>,
    gates: Vec<F>,
    gh: Vec<F>,
    ghn: Vec<F>,
    a: Vec<F>,
    b: Vec<F>,
}

fn contiguous<F: Float>(a: ArrayView2<F>) -> Array2<F> {
    a.as_standard_layout().into_owned()
}

impl<F: Float> StepModel<F> {
    pub fn new(model: &Sequential<F>) -> Result<Self> {
        let unsupported = |why: &str| RnnError::value(format!("generate: {why}"));
        let mut layers = model.layers.iter();
        let emb = match layers.next().and_then(|l| l.layer.as_any().downcast_ref::<Embedding<F>>()) {
            Some(e) => e,
            None => return Err(unsupported("the model must start with an Embedding (it feeds its own token ids back)")),
        };
        let mut ops = Vec::new();
        for l in layers {
            let any = l.layer.as_any();
            if let Some(r) = any.downcast_ref::<RecurrentLayer<F>>() {
                if r.cfg.bidirectional || r.cfg.go_backwards {
                    return Err(unsupported(&format!(
                        "layer {} reads its sequence backwards (bidirectional or go_backwards), which needs the whole sequence and cannot generate step by step",
                        l.name
                    )));
                }
                let names = r.param_names();
                let get = |n: String| -> Result<ndarray::ArrayD<F>> {
                    let i = names.iter().position(|x| *x == n).ok_or_else(|| unsupported(&format!("{}: missing {n}", l.name)))?;
                    Ok(r.param(i).to_owned())
                };
                for k in 0..r.cfg.num_layers {
                    let m2 = |a: ndarray::ArrayD<F>| contiguous(a.into_dimensionality::<ndarray::Ix2>().expect("2-D weight").view());
                    let m1 = |a: ndarray::ArrayD<F>| a.into_dimensionality::<ndarray::Ix1>().expect("1-D bias");
                    ops.push(Op::Rnn(StepRnn {
                        cell: r.cfg.cell,
                        acts: (!r.cfg.activations.is_default()).then_some(r.cfg.activations),
                        hidden: r.cfg.units,
                        w_ih: m2(get(format!("weight_ih_l{k}"))?),
                        w_hh: m2(get(format!("weight_hh_l{k}"))?),
                        b_ih: m1(get(format!("bias_ih_l{k}"))?),
                        b_hh: m1(get(format!("bias_hh_l{k}"))?),
                    }));
                }
            } else if let Some(d) = any.downcast_ref::<Dense<F>>() {
                let (k, b) = d.kernel();
                ops.push(Op::Dense(StepDense { w: contiguous(k.t()), b: d.use_bias.then(|| b.clone()), activation: d.activation }));
            } else if any.is::<Dropout<F>>() {
                // Identity at inference.
            } else if any.is::<Embedding<F>>() {
                return Err(unsupported("only the first layer can be an Embedding"));
            } else {
                return Err(unsupported(&format!(
                    "a {} layer ({}) cannot run one generated token at a time; remove it",
                    l.layer.class(),
                    l.name
                )));
            }
        }
        match ops.last() {
            Some(Op::Dense(d)) if matches!(d.activation, Activation::Softmax | Activation::Linear) => {}
            _ => return Err(unsupported("the last layer must be a Dense with softmax or linear (logits) activation over the vocabulary")),
        }
        let vocab = emb.input_dim;
        let out = match ops.last() {
            Some(Op::Dense(d)) => d.w.nrows(),
            _ => unreachable!("checked above"),
        };
        if out != vocab {
            return Err(unsupported(&format!(
                "the output layer has {out} units but the Embedding has input_dim={vocab}; they must match to feed samples back"
            )));
        }
        let (table, folded) = match ops.first() {
            Some(Op::Rnn(r)) => {
                crate::memory::ensure::<F>("the vocabulary's input table (vocab x gates)", &[vocab, r.w_ih.nrows()])?;
                let mut t = Array2::<F>::zeros((vocab, r.w_ih.nrows()));
                let w = r.w_ih.as_slice().expect("contiguous");
                let emb_t = emb.table();
                for v in 0..vocab {
                    let e = emb_t.row(v).to_vec();
                    gemv(w, &e, Some(r.b_ih.as_slice().expect("contiguous")), t.row_mut(v).into_slice().expect("contiguous"));
                }
                (t, true)
            }
            _ => (emb.table().to_owned(), false),
        };
        Ok(StepModel { vocab, table, folded, ops })
    }

    fn scratch(&self) -> Scratch<F> {
        let widest = self
            .ops
            .iter()
            .map(|o| match o {
                Op::Rnn(r) => r.w_ih.nrows().max(r.w_ih.ncols()),
                Op::Dense(d) => d.w.nrows().max(d.w.ncols()),
            })
            .max()
            .unwrap_or(0)
            .max(self.table.ncols());
        let rnns: Vec<&StepRnn<F>> = self.ops.iter().filter_map(|o| if let Op::Rnn(r) = o { Some(r) } else { None }).collect();
        Scratch {
            h: rnns.iter().map(|r| vec![F::zero(); r.hidden]).collect(),
            c: rnns.iter().map(|r| vec![F::zero(); r.hidden]).collect(),
            gates: vec![F::zero(); widest],
            gh: vec![F::zero(); widest],
            ghn: vec![F::zero(); widest],
            a: vec![F::zero(); widest],
            b: vec![F::zero(); widest],
        }
    }

    /// Feeds `token`; when `want_logits`, leaves the logits in `s.a[..V]`.
    fn step(&self, token: usize, s: &mut Scratch<F>, want_logits: bool) {
        let mut width = self.table.ncols();
        let row = self.table.row(token);
        let row = row.as_slice().expect("contiguous");
        s.a[..width].copy_from_slice(row);
        let mut rnn_i = 0;
        let last = self.ops.len() - 1;
        for (oi, op) in self.ops.iter().enumerate() {
            match op {
                Op::Rnn(r) => {
                    let gs = r.w_hh.nrows();
                    let gates = &mut s.gates[..gs];
                    if oi == 0 && self.folded {
                        gates.copy_from_slice(&s.a[..gs]);
                    } else {
                        gemv_par(r.w_ih.as_slice().expect("contiguous"), &s.a[..width], Some(r.b_ih.as_slice().expect("c")), gates);
                    }
                    let h = &mut s.h[rnn_i];
                    let gh = &mut s.gh[..gs];
                    gemv_par(r.w_hh.as_slice().expect("contiguous"), h, Some(r.b_hh.as_slice().expect("c")), gh);
                    match (r.cell, r.acts) {
                        (CellKind::Rnn(act), None) => cells::rnn_forward(act, gates, gh, h),
                        (CellKind::Rnn(_), Some(a)) => any_act::rnn_forward(a, gates, gh, h),
                        (CellKind::Lstm, None) => cells::lstm_forward(gates, r.hidden, gh, r.hidden, &mut s.c[rnn_i], h),
                        (CellKind::Lstm, Some(a)) => any_act::lstm_forward(a, gates, r.hidden, gh, r.hidden, &mut s.c[rnn_i], h),
                        (CellKind::GruResetBefore, acts) => {
                            // gh's r and z blocks hold W_h{r,z} h + b_h{r,z}; its n block is redone from r*h.
                            let hs = r.hidden;
                            let rh = &mut s.ghn[..hs];
                            match acts {
                                None => cells::gru_reset_before_gates(gates, hs, gh, hs, h, rh),
                                Some(a) => any_act::gru_reset_before_gates(a, gates, hs, gh, hs, h, rh),
                            }
                            let w_hn = &r.w_hh.as_slice().expect("contiguous")[2 * hs * hs..];
                            gemv_par(w_hn, rh, Some(&r.b_hh.as_slice().expect("c")[2 * hs..]), &mut gh[2 * hs..]);
                            match acts {
                                None => cells::gru_reset_before_update(gates, hs, &gh[2 * hs..], h),
                                Some(a) => any_act::gru_reset_before_update(a, gates, hs, &gh[2 * hs..], h),
                            }
                        }
                        (CellKind::Gru, acts) => {
                            // gh already holds b_hh (b_hn included); the kernel reads the old state.
                            let h_old = &mut s.b[..r.hidden];
                            h_old.copy_from_slice(h);
                            let ghn = &mut s.ghn[..r.hidden];
                            match acts {
                                None => cells::gru_forward(gates, r.hidden, gh, r.hidden, None, ghn, h_old, h),
                                Some(a) => any_act::gru_forward(a, gates, r.hidden, gh, r.hidden, None, ghn, h_old, h),
                            }
                        }
                    }
                    width = r.hidden;
                    s.a[..width].copy_from_slice(h);
                    rnn_i += 1;
                }
                Op::Dense(d) => {
                    if oi == last && !want_logits {
                        return;
                    }
                    let u = d.w.nrows();
                    gemv_par(
                        d.w.as_slice().expect("contiguous"),
                        &s.a[..width],
                        d.b.as_ref().map(|b| b.as_slice().expect("c")),
                        &mut s.b[..u],
                    );
                    if oi != last {
                        d.activation.apply(ndarray::ArrayViewMut2::from_shape((1, u), &mut s.b[..u]).expect("1 x u"));
                    }
                    std::mem::swap(&mut s.a, &mut s.b);
                    width = u;
                }
            }
        }
    }

    /// Generates `length` tokens after each row of `seed_ids` (B, S).
    pub fn generate(&self, seed_ids: ArrayView2<i64>, length: usize, sampling: Sampling) -> Result<Array2<i64>> {
        let (batch, prefix) = seed_ids.dim();
        if prefix == 0 {
            return Err(RnnError::shape("seed_ids: expected at least one seed token per sequence"));
        }
        if sampling.temperature.is_nan() || sampling.temperature < 0.0 || !sampling.temperature.is_finite() {
            return Err(RnnError::value(format!("temperature: expected a finite value >= 0, got {}", sampling.temperature)));
        }
        if sampling.top_k == Some(0) {
            return Err(RnnError::value("top_k: expected a positive integer or None, got 0"));
        }
        for ((b, t), &v) in seed_ids.indexed_iter() {
            if v < 0 || v as u64 >= self.vocab as u64 {
                return Err(RnnError::value(format!("seed_ids: token {v} at [{b}, {t}] is out of range 0..{}", self.vocab)));
            }
        }
        crate::memory::ensure::<i64>("length (batch x length tokens)", &[batch, length])?;
        let mut out = Array2::<i64>::zeros((batch, length));
        let mut seeds = SplitMix64::new(sampling.seed);
        let row_seeds: Vec<u64> = (0..batch).map(|_| seeds.next_u64()).collect();
        // Sequences are independent: one per task, each with its own state and
        // generator, so the result does not depend on the thread count.
        threads::install(|| {
            out.axis_iter_mut(Axis(0)).into_par_iter().zip(seed_ids.axis_iter(Axis(0))).zip(row_seeds).for_each(
                |((mut row, prompt), seed)| {
                    let mut s = self.scratch();
                    let mut rng = SplitMix64::new(seed);
                    for (t, &tok) in prompt.iter().enumerate() {
                        self.step(tok as usize, &mut s, t + 1 == prefix);
                    }
                    let mut probs = vec![F::zero(); self.vocab];
                    for t in 0..length {
                        let tok = sample(&s.a[..self.vocab], &mut probs, sampling, &mut rng);
                        row[t] = tok as i64;
                        if t + 1 < length {
                            self.step(tok, &mut s, true);
                        }
                    }
                },
            );
        });
        Ok(out)
    }
}

/// Draws a token from `logits`; `probs` is scratch of the same length.
fn sample<F: Float>(logits: &[F], probs: &mut [F], sampling: Sampling, rng: &mut SplitMix64) -> usize {
    if sampling.temperature == 0.0 {
        return argmax(logits.iter().copied());
    }
    let inv_t = F::from_f64(1.0 / sampling.temperature);
    for (p, &z) in probs.iter_mut().zip(logits) {
        *p = z * inv_t;
    }
    if let Some(k) = sampling.top_k.filter(|&k| k < probs.len()) {
        let mut sorted: Vec<F> = probs.to_vec();
        sorted.sort_by(|a, b| b.partial_cmp(a).unwrap_or(std::cmp::Ordering::Equal));
        let cut = sorted[k - 1];
        // Everything above the cut, then ties at the cut in order, so exactly k survive.
        let mut ties = k - probs.iter().filter(|p| **p > cut).count();
        for p in probs.iter_mut() {
            if *p == cut && ties > 0 {
                ties -= 1;
            } else if *p <= cut {
                *p = F::neg_infinity();
            }
        }
    }
    softmax_inplace(probs);
    let u = F::from_f64(rng.next_f64());
    let mut acc = F::zero();
    let mut last_nonzero = 0;
    for (i, &p) in probs.iter().enumerate() {
        if p > F::zero() {
            last_nonzero = i;
        }
        acc += p;
        if u < acc {
            return i;
        }
    }
    last_nonzero
}
