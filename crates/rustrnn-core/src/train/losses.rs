//! Losses, averaged over the valid rows (samples, or time steps of a masked
//! sequence) and weighted per sample. Cross-entropies are fused with the
//! output layer's sigmoid or softmax: they read its pre-activation and hand
//! back the gradient of it, which is exact and never overflows.
//!
//! Per row: binary cross-entropy, MSE, MAE and Huber average over the outputs
//! (as Keras does); categorical cross-entropies sum over the classes.

use crate::error::{fmt_shape, Result, RnnError};
use crate::float::{to_f64, Float};
use crate::models::{Forward, OutGrad};
use crate::names::Names;
use crate::nn::activation::{log_sum_exp, softmax_inplace, Activation};
use ndarray::{Array2, ArrayView2, ArrayViewD, Axis, Ix2};
use rayon::prelude::*;

/// Clipping of probabilities away from 0 and 1 (Keras' epsilon).
pub const EPSILON: f64 = 1e-7;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LossKind {
    BinaryCrossentropy,
    CategoricalCrossentropy,
    SparseCategoricalCrossentropy,
    MeanSquaredError,
    MeanAbsoluteError,
    /// Keras' `Huber` with its default `delta = 1`.
    Huber,
}

/// Keras' default Huber `delta`: quadratic within it, linear beyond.
pub const HUBER_DELTA: f64 = 1.0;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Loss {
    pub kind: LossKind,
    /// Outputs are logits rather than probabilities.
    pub from_logits: bool,
    /// Cross-entropies only: the targets are mixed with the uniform
    /// distribution, `y·(1 - s) + s/C` (Keras' `label_smoothing`, and
    /// PyTorch's `CrossEntropyLoss(label_smoothing=s)` for class indices);
    /// binary: `y·(1 - s) + s/2`.
    pub label_smoothing: f64,
}

/// What a loss reads from the model output.
enum Source {
    Logits,
    Output,
}

impl Names for LossKind {
    const WHAT: &'static str = "loss";
    const TABLE: &'static [(&'static str, Self)] = &[
        ("binary_crossentropy", LossKind::BinaryCrossentropy),
        ("bce", LossKind::BinaryCrossentropy),
        ("categorical_crossentropy", LossKind::CategoricalCrossentropy),
        ("cce", LossKind::CategoricalCrossentropy),
        ("sparse_categorical_crossentropy", LossKind::SparseCategoricalCrossentropy),
        ("mse", LossKind::MeanSquaredError),
        ("mean_squared_error", LossKind::MeanSquaredError),
        ("mae", LossKind::MeanAbsoluteError),
        ("mean_absolute_error", LossKind::MeanAbsoluteError),
        ("huber", LossKind::Huber),
    ];
}

crate::from_str_by_names!(LossKind);

impl Loss {
    pub fn parse(name: &str, from_logits: bool) -> Result<Self> {
        Ok(Loss { kind: LossKind::from_name(name)?, from_logits, label_smoothing: 0.0 })
    }

    /// The loss with its targets smoothed by `s` in [0, 1] (cross-entropies only).
    pub fn with_label_smoothing(self, s: f64) -> Result<Self> {
        use LossKind::*;
        if !(0.0..=1.0).contains(&s) {
            return Err(RnnError::value(format!("label_smoothing: expected a number in [0, 1], got {s}")));
        }
        if s != 0.0 && !matches!(self.kind, BinaryCrossentropy | CategoricalCrossentropy | SparseCategoricalCrossentropy) {
            return Err(RnnError::value(format!("label_smoothing: only cross-entropy losses smooth their labels, not {:?}", self.kind)));
        }
        Ok(Loss { label_smoothing: s, ..self })
    }

    pub fn is_sparse(&self) -> bool {
        self.kind == LossKind::SparseCategoricalCrossentropy
    }

    fn source(&self, act: Activation) -> Source {
        use LossKind::*;
        match (self.kind, act, self.from_logits) {
            (BinaryCrossentropy, Activation::Sigmoid, false) => Source::Logits,
            (CategoricalCrossentropy | SparseCategoricalCrossentropy, Activation::Softmax, false) => Source::Logits,
            _ => Source::Output,
        }
    }

    /// `y` as `(rows, C)` (or `(rows, 1)` of class indices for the sparse
    /// loss), for a model output of shape `out` ((B, C) or (B, T, C)).
    pub fn target_rows<'a, F: Float>(&self, y: ArrayViewD<'a, F>, out: &[usize]) -> Result<ArrayView2<'a, F>> {
        let c = *out.last().expect("non-empty shape");
        let lead = &out[..out.len() - 1];
        let rows: usize = lead.iter().product();
        let s = y.shape();
        let cols = if self.is_sparse() {
            let ok = s == lead || (s.len() == out.len() && &s[..lead.len()] == lead && s[lead.len()] == 1);
            if !ok {
                return Err(RnnError::shape(format!(
                    "y: expected class indices of shape {} (or {} with a trailing 1) for the output {}, got {}",
                    fmt_shape(lead),
                    fmt_shape(lead),
                    fmt_shape(out),
                    fmt_shape(s)
                )));
            }
            1
        } else {
            let ok = s == out || (c == 1 && s == lead);
            if !ok {
                let alt = if c == 1 { format!(" or {}", fmt_shape(lead)) } else { String::new() };
                return Err(RnnError::shape(format!(
                    "y: expected shape {}{alt} to match the model output, got {}",
                    fmt_shape(out),
                    fmt_shape(s)
                )));
            }
            c
        };
        let y = y.into_shape_with_order((rows, cols)).map_err(|_| RnnError::shape("y: expected a C-contiguous array"))?;
        Ok(y.into_dimensionality::<Ix2>().expect("2-D"))
    }

    /// Loss of a batch: returns `Σ weight·loss` over the rows and the gradient
    /// of `Σ weight·loss / count`. `weights` has one entry per row: the sample
    /// weight, or 0 for a masked step; `count` is the number of valid rows.
    pub fn compute<F: Float>(&self, fwd: &Forward<F>, target: ArrayView2<F>, weights: &[F], count: f64) -> Result<(f64, OutGrad<F>)> {
        self.compute_rows(&fwd.y.data, fwd.logits.as_ref(), fwd.activation, target, weights, count)
    }

    /// [`compute`](Self::compute) on an output's rows `y`, with the
    /// pre-activation `logits` of its final `activation` when it has one.
    pub fn compute_rows<F: Float>(
        &self,
        y: &Array2<F>,
        logits: Option<&Array2<F>>,
        activation: Activation,
        target: ArrayView2<F>,
        weights: &[F],
        count: f64,
    ) -> Result<(f64, OutGrad<F>)> {
        let (rows, c) = y.dim();
        if self.is_sparse() {
            check_labels(target, c)?;
        }
        let (pred, fused) = match (self.source(activation), logits) {
            (Source::Logits, Some(z)) => (z, true),
            _ => (y, self.from_logits),
        };
        let scale = if count > 0.0 { 1.0 / count } else { 0.0 };
        let (kind, smoothing) = (self.kind, self.label_smoothing);
        let mut grad = Array2::<F>::zeros((rows, c));
        let mut losses = vec![0.0f64; rows];
        grad.axis_iter_mut(Axis(0)).into_par_iter().zip(losses.par_iter_mut()).enumerate().with_min_len(64).for_each(|(r, (mut g, l))| {
            let w = weights[r];
            if w == F::zero() {
                return;
            }
            let g = g.as_slice_mut().expect("contiguous");
            let p = pred.row(r);
            let p = p.as_slice().expect("contiguous");
            let t = target.row(r);
            let loss = row_loss(kind, fused, smoothing, p, t.as_slice().expect("contiguous"), g);
            let k = F::from_f64(scale) * w;
            g.iter_mut().for_each(|v| *v = *v * k);
            *l = loss * to_f64(w);
        });
        let sum: f64 = losses.iter().sum();
        let grad = if fused { OutGrad::Logits(grad) } else { OutGrad::Output(grad) };
        Ok((sum, grad))
    }
}

fn check_labels<F: Float>(t: ArrayView2<F>, classes: usize) -> Result<()> {
    for (r, &v) in t.iter().enumerate() {
        let k = to_f64(v);
        if !(k >= 0.0 && k < classes as f64 && k.fract() == 0.0) {
            return Err(RnnError::value(format!("y: class index {k} (row {r}) is not an integer in 0..{classes} (the number of outputs)")));
        }
    }
    Ok(())
}

/// One row's loss; writes the unscaled gradient into `g`. `smoothing`: see
/// [`Loss::label_smoothing`].
fn row_loss<F: Float>(kind: LossKind, logits: bool, smoothing: f64, p: &[F], t: &[F], g: &mut [F]) -> f64 {
    let c = p.len();
    let keep = F::from_f64(1.0 - smoothing);
    let inv_c = F::from_f64(1.0 / c as f64);
    let eps = F::from_f64(EPSILON);
    let one = F::one();
    let mut loss = 0.0;
    match kind {
        LossKind::BinaryCrossentropy => {
            let half = F::from_f64(0.5 * smoothing);
            for k in 0..c {
                let (z, y) = (p[k], t[k] * keep + half);
                if logits {
                    // max(z, 0) - z·y + log(1 + exp(-|z|))
                    let l = z.max(F::zero()) - z * y + (-z.abs()).exp().ln_1p();
                    loss += to_f64(l);
                    g[k] = (one / (one + (-z).exp()) - y) * inv_c;
                } else {
                    let q = z.max(eps).min(one - eps);
                    loss -= to_f64(y * q.ln() + (one - y) * (one - q).ln());
                    g[k] = if q == z { (q - y) / (q * (one - q)) * inv_c } else { F::zero() };
                }
            }
            loss / c as f64
        }
        LossKind::CategoricalCrossentropy | LossKind::SparseCategoricalCrossentropy => {
            let sparse = kind == LossKind::SparseCategoricalCrossentropy;
            let uniform = F::from_f64(smoothing / c as f64);
            let label = |k: usize| {
                let y = match sparse {
                    true if to_f64(t[0]) as usize == k => one,
                    true => F::zero(),
                    false => t[k],
                };
                y * keep + uniform // exactly y without smoothing
            };
            if logits {
                let lse = log_sum_exp(p);
                g.copy_from_slice(p);
                softmax_inplace(g);
                let tsum = (0..c).fold(F::zero(), |s, k| s + label(k));
                for k in 0..c {
                    let y = label(k);
                    if y != F::zero() {
                        loss += to_f64(y * (lse - p[k]));
                    }
                    g[k] = g[k] * tsum - y;
                }
            } else {
                for k in 0..c {
                    let y = label(k);
                    let q = p[k].max(eps).min(one - eps);
                    if y != F::zero() {
                        loss -= to_f64(y * q.ln());
                    }
                    g[k] = if q == p[k] { -y / q } else { F::zero() };
                }
            }
            loss
        }
        LossKind::MeanSquaredError => {
            for k in 0..c {
                let d = p[k] - t[k];
                loss += to_f64(d * d);
                g[k] = F::from_f64(2.0) * d * inv_c;
            }
            loss / c as f64
        }
        LossKind::MeanAbsoluteError => {
            for k in 0..c {
                let d = p[k] - t[k];
                loss += to_f64(d.abs());
                g[k] = if d > F::zero() {
                    inv_c
                } else if d < F::zero() {
                    -inv_c
                } else {
                    F::zero()
                };
            }
            loss / c as f64
        }
        LossKind::Huber => {
            // 0.5·d² within delta, delta·(|d| - 0.5·delta) beyond; gradient d clipped to ±delta.
            let delta = F::from_f64(HUBER_DELTA);
            let half = F::from_f64(0.5);
            for k in 0..c {
                let d = p[k] - t[k];
                let a = d.abs();
                let (l, dl) = if a <= delta { (half * d * d, d) } else { (delta * a - half * delta * delta, delta * d.signum()) };
                loss += to_f64(l);
                g[k] = dl * inv_c;
            }
            loss / c as f64
        }
    }
}
