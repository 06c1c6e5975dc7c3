//! The training step, evaluation and prediction on one batch: forward, loss,
//! backpropagation, clipping and the optimizer update, all in Rust.

use super::losses::Loss;
use super::metrics::Metric;
use super::optim::{flat_len, Optimizer, OptimizerConfig};
use crate::error::{fmt_shape, Result, RnnError};
use crate::float::Float;
use crate::models::{Forward, Input, Network, OutGrad};
use crate::nn::Mode;
use crate::threads;
use ndarray::{ArrayD, ArrayViewD};

/// `(layer/param, array)` pairs.
pub type NamedArrays<F> = Vec<(String, ArrayD<F>)>;

/// Loss, metrics and optimizer chosen by `compile`.
#[derive(Debug)]
pub struct Compiled<F> {
    pub loss: Loss,
    /// As the user named them (`accuracy`), resolved per batch.
    pub metrics: Vec<String>,
    pub optimizer: Optimizer<F>,
}

/// Sums of one batch: the loss as `Σ weight·loss` over `count` valid rows,
/// each metric as `(Σ weight·value, Σ weight)`.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchStats {
    pub loss_sum: f64,
    pub count: f64,
    pub metrics: Vec<(f64, f64)>,
}

#[derive(Debug)]
pub struct Trainer<F> {
    pub net: Network<F>,
    pub compiled: Option<Compiled<F>>,
}

impl<F: Float> Trainer<F> {
    pub fn new(net: Network<F>) -> Self {
        Trainer { net, compiled: None }
    }

    pub fn compile(&mut self, loss: Loss, metrics: Vec<String>, optimizer: OptimizerConfig) -> Result<()> {
        for m in &metrics {
            Metric::resolve(m, Some(&loss), 2)?;
        }
        self.compiled = Some(Compiled { loss, metrics, optimizer: Optimizer::new(optimizer) });
        Ok(())
    }

    fn compiled(&self) -> Result<&Compiled<F>> {
        self.compiled.as_ref().ok_or_else(|| RnnError::state("the model is not compiled; call compile(optimizer, loss) first"))
    }

    /// One training step; returns the batch's loss and metric sums.
    pub fn train_batch(&mut self, input: Input<'_, F>, y: ArrayViewD<F>, sample_weight: Option<ArrayViewD<F>>) -> Result<BatchStats> {
        self.compiled()?;
        threads::install(|| {
            let stats = self.accumulate(input, y, sample_weight)?;
            let c = self.compiled.as_mut().expect("checked");
            c.optimizer.apply(self.net.layers_mut());
            Ok(stats)
        })
    }

    /// The training step without the update: forward (dropout on), loss and
    /// backward, leaving each parameter's gradient of the batch's mean loss
    /// in the layers. Data-parallel training sums these across processes.
    pub fn accumulate(&mut self, input: Input<'_, F>, y: ArrayViewD<F>, sample_weight: Option<ArrayViewD<F>>) -> Result<BatchStats> {
        self.compiled()?;
        threads::install(|| {
            self.net.zero_grad();
            let (stats, grad) = self.loss_and_grad(input, y, sample_weight, Mode::Train)?;
            self.net.backward(grad)?;
            Ok(stats)
        })
    }

    /// Writes the gradients left by [`accumulate`](Self::accumulate), times
    /// `scale`, into `out` in the flat layout of [`flat_len`].
    pub fn gradients_into(&self, out: &mut [F], scale: f64) -> Result<()> {
        let want = flat_len(self.net.layers());
        if out.len() != want {
            return Err(RnnError::shape(format!("out: expected a flat array of {want} values, got {}", out.len())));
        }
        let s = F::from_f64(scale);
        let mut at = 0;
        for l in self.net.layers() {
            for i in 0..l.param_names().len() {
                let g = l.grad(i);
                for (o, v) in out[at..at + g.len()].iter_mut().zip(g.iter()) {
                    *o = *v * s;
                }
                at += g.len();
            }
        }
        Ok(())
    }

    /// One optimizer step from `flat · scale` (gradients in the flat layout).
    pub fn apply_flat(&mut self, flat: &[F], scale: f64) -> Result<()> {
        self.compiled()?;
        let c = self.compiled.as_mut().expect("checked");
        let layers = self.net.layers_mut();
        threads::install(|| c.optimizer.apply_flat(layers, flat, scale))
    }

    /// Loss and metrics without updating anything.
    pub fn test_batch(&mut self, input: Input<'_, F>, y: ArrayViewD<F>, sample_weight: Option<ArrayViewD<F>>) -> Result<BatchStats> {
        self.compiled()?;
        threads::install(|| Ok(self.loss_and_grad(input, y, sample_weight, Mode::Infer)?.0))
    }

    /// The loss and the gradient of every parameter, dropout off, nothing
    /// updated (for gradient checks and debugging).
    pub fn gradients(
        &mut self,
        input: Input<'_, F>,
        y: ArrayViewD<F>,
        sample_weight: Option<ArrayViewD<F>>,
    ) -> Result<(f64, NamedArrays<F>)> {
        self.compiled()?;
        threads::install(|| {
            self.net.zero_grad();
            let (stats, grad) = self.loss_and_grad(input, y, sample_weight, Mode::Grad)?;
            self.net.backward(grad)?;
            let mut out = Vec::new();
            for l in self.net.layers() {
                for (i, p) in l.param_names().iter().enumerate() {
                    out.push((format!("{}/{p}", l.name), l.grad(i).to_owned()));
                }
            }
            self.net.zero_grad();
            Ok((stats.loss_sum / stats.count.max(1.0), out))
        })
    }

    pub fn predict(&mut self, input: Input<'_, F>) -> Result<Forward<F>> {
        threads::install(|| self.net.forward(input, Mode::Infer))
    }

    fn loss_and_grad(
        &mut self,
        input: Input<'_, F>,
        y: ArrayViewD<F>,
        sample_weight: Option<ArrayViewD<F>>,
        mode: Mode,
    ) -> Result<(BatchStats, OutGrad<F>)> {
        let batch = input.batch();
        if y.shape().first() != Some(&batch) {
            return Err(RnnError::shape(format!("y: expected {batch} rows (one per sample of x), got shape {}", fmt_shape(y.shape()))));
        }
        let fwd = self.net.forward(input, mode)?;
        if !fwd.outputs.is_empty() {
            return Err(RnnError::value(format!(
                "y: the model has {} outputs; a loss on several outputs is not supported. Train a Model with one output \
                 (the layers, and so the weights, can be shared with a model of several outputs)",
                fwd.outputs.len() + 1
            )));
        }
        let c = self.compiled.as_ref().expect("checked");
        let out_shape = fwd.y.shape();
        let target = c.loss.target_rows(y, &out_shape)?;
        let steps = fwd.y.steps.unwrap_or(1);
        let rows = batch * steps;
        let mut weights = vec![F::one(); rows];
        if let Some(m) = fwd.mask.as_ref().filter(|_| fwd.y.steps.is_some()) {
            for (w, ok) in weights.iter_mut().zip(m.row_flags()) {
                if !ok {
                    *w = F::zero();
                }
            }
        }
        let count = weights.iter().filter(|w| **w != F::zero()).count() as f64;
        if let Some(sw) = sample_weight {
            let per_step = sw.shape() == [batch, steps] && fwd.y.steps.is_some();
            if sw.shape() != [batch] && !per_step {
                let alt = if fwd.y.steps.is_some() { format!(" or ({batch}, {steps})") } else { String::new() };
                return Err(RnnError::shape(format!("sample_weight: expected shape ({batch},){alt}, got {}", fmt_shape(sw.shape()))));
            }
            let flat: Vec<F> = sw.iter().copied().collect();
            if let Some(bad) = flat.iter().find(|v| v.is_nan() || **v < F::zero() || !v.is_finite()) {
                return Err(RnnError::value(format!("sample_weight: expected finite non-negative weights, got {bad:?}")));
            }
            for (r, w) in weights.iter_mut().enumerate() {
                *w = *w * if per_step { flat[r] } else { flat[r / steps] };
            }
        }
        let (loss_sum, grad) = c.loss.compute(&fwd, target, &weights, count)?;
        let outputs = fwd.y.features();
        let metrics = c
            .metrics
            .iter()
            .map(|m| Metric::resolve(m, Some(&c.loss), outputs)?.compute(fwd.y.data.view(), target, &weights))
            .collect::<Result<Vec<_>>>()?;
        Ok((BatchStats { loss_sum, count, metrics }, grad))
    }
}
