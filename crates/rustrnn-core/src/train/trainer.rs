//! The training step, evaluation and prediction on one batch: forward, loss,
//! backpropagation, clipping and the optimizer update, all in Rust.

use super::losses::Loss;
use super::metrics::Metric;
use super::optim::{flat_len, Optimizer, OptimizerConfig};
use crate::error::{fmt_shape, Result, RnnError};
use crate::float::Float;
use crate::models::{Forward, Input, Network, OutGrad};
use crate::nn::{Activation, Mask, Mode, Tensor};
use crate::threads;
use ndarray::{Array2, ArrayD, ArrayViewD};

/// `(layer/param, array)` pairs.
pub type NamedArrays<F> = Vec<(String, ArrayD<F>)>;

/// One model output's loss as `compile` chose it: the loss, its weight in
/// the total loss (Keras' `loss_weights`) and its metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputLoss {
    pub loss: Loss,
    pub weight: f64,
    /// As the user named them (`accuracy`), resolved per batch.
    pub metrics: Vec<String>,
}

/// Losses, metrics and optimizer chosen by `compile`.
#[derive(Debug)]
pub struct Compiled<F> {
    /// One per model output, in the model's output order.
    pub losses: Vec<OutputLoss>,
    pub optimizer: Optimizer<F>,
}

/// Sums of one batch. With one output: the loss as `weight · Σ sample weight·loss`
/// over `count` valid rows. With several (Keras' total, tracked per batch weighted
/// by the batch size): `count` is the batch size and `loss_sum` is
/// `count · Σ_k weight_k · loss_k`, each `loss_k` in `outputs` as
/// `(count · loss_k, count)` (unweighted, as Keras logs `<output>_loss`).
/// Each metric (of every output in turn) as `(Σ weight·value, Σ weight)`.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchStats {
    pub loss_sum: f64,
    pub count: f64,
    pub metrics: Vec<(f64, f64)>,
    pub outputs: Vec<(f64, f64)>,
}

/// The targets of one batch: per model output, `y` and an optional sample weight.
#[derive(Debug, Clone)]
pub struct Targets<'a, F> {
    pub y: Vec<ArrayViewD<'a, F>>,
    pub sample_weight: Vec<Option<ArrayViewD<'a, F>>>,
}

impl<'a, F> Targets<'a, F> {
    /// The targets of a model with one output.
    pub fn one(y: ArrayViewD<'a, F>, sample_weight: Option<ArrayViewD<'a, F>>) -> Self {
        Targets { y: vec![y], sample_weight: vec![sample_weight] }
    }
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
        self.compile_outputs(vec![OutputLoss { loss, weight: 1.0, metrics }], optimizer)
    }

    /// `compile` with a loss (weight, metrics) per model output, in output order.
    pub fn compile_outputs(&mut self, losses: Vec<OutputLoss>, optimizer: OptimizerConfig) -> Result<()> {
        if losses.is_empty() {
            return Err(RnnError::value("loss: expected one loss per model output, got none"));
        }
        for (k, o) in losses.iter().enumerate() {
            if !o.weight.is_finite() {
                return Err(RnnError::value(format!("loss_weights[{k}]: expected a finite number, got {}", o.weight)));
            }
            for m in &o.metrics {
                Metric::resolve(m, Some(&o.loss), 2)?;
            }
        }
        self.compiled = Some(Compiled { losses, optimizer: Optimizer::new(optimizer) });
        Ok(())
    }

    fn compiled(&self) -> Result<&Compiled<F>> {
        self.compiled.as_ref().ok_or_else(|| RnnError::state("the model is not compiled; call compile(optimizer, loss) first"))
    }

    /// One training step (targets per model output); returns the batch's loss and metric sums.
    pub fn train_batch(&mut self, input: Input<'_, F>, targets: Targets<'_, F>) -> Result<BatchStats> {
        self.compiled()?;
        threads::install(|| {
            let stats = self.accumulate(input, targets)?;
            let c = self.compiled.as_mut().expect("checked");
            c.optimizer.apply(self.net.layers_mut());
            Ok(stats)
        })
    }

    /// The training step without the update: forward (dropout on), loss and
    /// backward, leaving each parameter's gradient of the batch's mean loss
    /// in the layers. Data-parallel training sums these across processes.
    pub fn accumulate(&mut self, input: Input<'_, F>, targets: Targets<'_, F>) -> Result<BatchStats> {
        self.compiled()?;
        threads::install(|| {
            self.net.zero_grad();
            let (stats, grad) = self.loss_and_grad(input, targets, Mode::Train)?;
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
    pub fn test_batch(&mut self, input: Input<'_, F>, targets: Targets<'_, F>) -> Result<BatchStats> {
        self.compiled()?;
        threads::install(|| Ok(self.loss_and_grad(input, targets, Mode::Infer)?.0))
    }

    /// The loss and the gradient of every parameter, dropout off, nothing
    /// updated (for gradient checks and debugging).
    pub fn gradients(&mut self, input: Input<'_, F>, targets: Targets<'_, F>) -> Result<(f64, NamedArrays<F>)> {
        self.compiled()?;
        threads::install(|| {
            self.net.zero_grad();
            let (stats, grad) = self.loss_and_grad(input, targets, Mode::Grad)?;
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

    fn loss_and_grad(&mut self, input: Input<'_, F>, targets: Targets<'_, F>, mode: Mode) -> Result<(BatchStats, OutGrad<F>)> {
        let batch = input.batch();
        let c = self.compiled.as_ref().expect("checked");
        let n_losses = c.losses.len();
        let n_y = targets.y.len();
        for (k, y) in targets.y.iter().enumerate() {
            if y.shape().first() != Some(&batch) {
                let what = if n_y == 1 { "y".to_string() } else { format!("y[{k}]") };
                return Err(RnnError::shape(format!(
                    "{what}: expected {batch} rows (one per sample of x), got shape {}",
                    fmt_shape(y.shape())
                )));
            }
        }
        if targets.sample_weight.len() != n_y {
            return Err(RnnError::value(format!(
                "sample_weight: expected one entry per output ({n_y}), got {}",
                targets.sample_weight.len()
            )));
        }
        let fwd = self.net.forward(input, mode)?;
        let n_out = fwd.outputs.len() + 1;
        if n_losses != n_out {
            return Err(RnnError::value(format!(
                "loss: the model has {n_out} output(s) but was compiled with {n_losses} loss(es); compile it again"
            )));
        }
        if n_y != n_out {
            return Err(RnnError::value(format!("y: the model has {n_out} output(s); expected {n_out} target array(s), got {n_y}")));
        }
        let c = self.compiled.as_ref().expect("checked");
        if n_out == 1 {
            let o = &c.losses[0];
            let sw = targets.sample_weight.into_iter().next().expect("one");
            let (mut stats, grad) =
                output_loss(o, &fwd.y, fwd.logits.as_ref(), fwd.activation, fwd.mask.as_ref(), targets.y[0].clone(), sw, "")?;
            stats.loss_sum *= o.weight;
            return Ok((stats, scale_grad(grad, o.weight)));
        }
        let (mut total, mut metrics, mut outputs, mut grads) = (0.0, Vec::new(), Vec::with_capacity(n_out), Vec::with_capacity(n_out));
        let heads = std::iter::once((&fwd.y, fwd.logits.as_ref(), fwd.activation, fwd.mask.as_ref()))
            .chain(fwd.outputs.iter().zip(&fwd.heads).map(|(t, h)| (t, h.logits.as_ref(), h.activation, h.mask.as_ref())));
        for (k, ((o, (y, logits, act, mask)), (target, sw))) in
            c.losses.iter().zip(heads).zip(targets.y.into_iter().zip(targets.sample_weight)).enumerate()
        {
            let (s, grad) = output_loss(o, y, logits, act, mask, target, sw, &format!("[{k}]"))?;
            // Keras' per-output loss: the mean over the output's valid rows.
            let mean = if s.count > 0.0 { s.loss_sum / s.count } else { 0.0 };
            total += o.weight * mean;
            outputs.push((batch as f64 * mean, batch as f64));
            metrics.extend(s.metrics);
            grads.push(Some(scale_grad(grad, o.weight)));
        }
        let count = batch as f64;
        Ok((BatchStats { loss_sum: count * total, count, metrics, outputs }, OutGrad::Many(grads)))
    }
}

/// `grad · weight` (the gradient of a weighted loss).
fn scale_grad<F: Float>(grad: OutGrad<F>, weight: f64) -> OutGrad<F> {
    if weight == 1.0 {
        return grad;
    }
    let w = F::from_f64(weight);
    match grad {
        OutGrad::Output(d) => OutGrad::Output(d.mapv(|v| v * w)),
        OutGrad::Logits(d) => OutGrad::Logits(d.mapv(|v| v * w)),
        OutGrad::Many(v) => OutGrad::Many(v.into_iter().map(|g| g.map(|g| scale_grad(g, weight))).collect()),
    }
}

/// The loss (`Σ sample weight·loss` over `count` valid rows), metrics and
/// gradient of one output. `at` names the output in messages (`[1]`, or
/// nothing for a model with one output).
#[allow(clippy::too_many_arguments)]
fn output_loss<F: Float>(
    o: &OutputLoss,
    y: &Tensor<F>,
    logits: Option<&Array2<F>>,
    activation: Activation,
    mask: Option<&Mask>,
    target: ArrayViewD<F>,
    sample_weight: Option<ArrayViewD<F>>,
    at: &str,
) -> Result<(BatchStats, OutGrad<F>)> {
    let batch = target.shape()[0];
    let out_shape = y.shape();
    let rename = |e: RnnError| match &e {
        RnnError::Shape(m) if !at.is_empty() => RnnError::shape(m.replacen("y:", &format!("y{at}:"), 1)),
        RnnError::Value(m) if !at.is_empty() => RnnError::value(m.replacen("y:", &format!("y{at}:"), 1)),
        _ => e,
    };
    let target = o.loss.target_rows(target, &out_shape).map_err(rename)?;
    let steps = y.steps.unwrap_or(1);
    let rows = batch * steps;
    let mut weights = vec![F::one(); rows];
    if let Some(m) = mask.filter(|_| y.steps.is_some()) {
        for (w, ok) in weights.iter_mut().zip(m.row_flags()) {
            if !ok {
                *w = F::zero();
            }
        }
    }
    let count = weights.iter().filter(|w| **w != F::zero()).count() as f64;
    // Keras' `metrics` read the mask but not the sample weights (those are for `weighted_metrics`).
    let metric_weights = weights.clone();
    if let Some(sw) = sample_weight {
        let what = format!("sample_weight{at}");
        let per_step = sw.shape() == [batch, steps] && y.steps.is_some();
        if sw.shape() != [batch] && !per_step {
            let alt = if y.steps.is_some() { format!(" or ({batch}, {steps})") } else { String::new() };
            return Err(RnnError::shape(format!("{what}: expected shape ({batch},){alt}, got {}", fmt_shape(sw.shape()))));
        }
        let flat: Vec<F> = sw.iter().copied().collect();
        if let Some(bad) = flat.iter().find(|v| v.is_nan() || **v < F::zero() || !v.is_finite()) {
            return Err(RnnError::value(format!("{what}: expected finite non-negative weights, got {bad:?}")));
        }
        for (r, w) in weights.iter_mut().enumerate() {
            *w = *w * if per_step { flat[r] } else { flat[r / steps] };
        }
    }
    let (loss_sum, grad) = o.loss.compute_rows(&y.data, logits, activation, target, &weights, count).map_err(rename)?;
    let outputs = y.features();
    let metrics = o
        .metrics
        .iter()
        .map(|m| Metric::resolve(m, Some(&o.loss), outputs)?.compute(y.data.view(), target, &metric_weights))
        .collect::<Result<Vec<_>>>()?;
    Ok((BatchStats { loss_sum, count, metrics, outputs: Vec::new() }, grad))
}
