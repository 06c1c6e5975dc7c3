//! Metrics, as `(Σ weight·value, Σ weight)` per batch so that an epoch's
//! value is an exact weighted mean over all valid rows.

use super::losses::{Loss, LossKind};
use crate::error::{Result, RnnError};
use crate::float::{argmax, to_f64, Float};
use ndarray::ArrayView2;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Metric {
    /// Mean over outputs of `(y > threshold) == (t > 0.5)`.
    BinaryAccuracy {
        threshold: f64,
    },
    /// `argmax y == argmax t`.
    CategoricalAccuracy,
    /// `argmax y == t`.
    SparseCategoricalAccuracy,
    MeanAbsoluteError,
    MeanSquaredError,
}

impl Metric {
    /// Resolves a Keras metric name; `accuracy` picks the variant that fits
    /// the loss and the number of outputs, as Keras does. With logits (a
    /// `from_logits` loss) the binary threshold is 0 instead of 0.5.
    pub fn resolve(name: &str, loss: Option<&Loss>, outputs: usize) -> Result<Self> {
        let logits = loss.is_some_and(|l| l.from_logits);
        let threshold = if logits { 0.0 } else { 0.5 };
        Ok(match name {
            "accuracy" | "acc" => match loss.map(|l| l.kind) {
                Some(LossKind::BinaryCrossentropy) => Metric::BinaryAccuracy { threshold },
                Some(LossKind::SparseCategoricalCrossentropy) => Metric::SparseCategoricalAccuracy,
                _ if outputs == 1 => Metric::BinaryAccuracy { threshold },
                _ => Metric::CategoricalAccuracy,
            },
            "binary_accuracy" => Metric::BinaryAccuracy { threshold },
            "categorical_accuracy" => Metric::CategoricalAccuracy,
            "sparse_categorical_accuracy" => Metric::SparseCategoricalAccuracy,
            "mae" | "mean_absolute_error" => Metric::MeanAbsoluteError,
            "mse" | "mean_squared_error" => Metric::MeanSquaredError,
            other => {
                return Err(RnnError::value(format!(
                    "metrics: unknown metric {other:?}; expected accuracy, binary_accuracy, categorical_accuracy, sparse_categorical_accuracy, mae or mse"
                )))
            }
        })
    }

    /// `y` (rows, C), `t` the loss' target rows, `weights` per row (0 = masked).
    pub fn compute<F: Float>(&self, y: ArrayView2<F>, t: ArrayView2<F>, weights: &[F]) -> Result<(f64, f64)> {
        let sparse_target = t.ncols() == 1 && y.ncols() > 1;
        match self {
            Metric::SparseCategoricalAccuracy if t.ncols() != 1 => {
                return Err(RnnError::value("metrics: sparse_categorical_accuracy needs class-index targets; use categorical_accuracy for one-hot targets"))
            }
            Metric::CategoricalAccuracy | Metric::BinaryAccuracy { .. } | Metric::MeanAbsoluteError | Metric::MeanSquaredError
                if sparse_target =>
            {
                return Err(RnnError::value("metrics: this metric needs targets with one column per output; with class-index targets use sparse_categorical_accuracy"))
            }
            _ => {}
        }
        let (mut sum, mut total) = (0.0, 0.0);
        for (r, &w) in weights.iter().enumerate() {
            if w == F::zero() {
                continue;
            }
            let (yr, tr) = (y.row(r), t.row(r));
            let c = yr.len() as f64;
            let v = match *self {
                Metric::BinaryAccuracy { threshold } => {
                    yr.iter().zip(tr.iter()).filter(|(p, q)| (to_f64(**p) > threshold) == (to_f64(**q) > 0.5)).count() as f64 / c
                }
                Metric::CategoricalAccuracy => f64::from(u8::from(argmax(yr.iter().copied()) == argmax(tr.iter().copied()))),
                Metric::SparseCategoricalAccuracy => f64::from(u8::from(argmax(yr.iter().copied()) as f64 == to_f64(tr[0]))),
                Metric::MeanAbsoluteError => yr.iter().zip(tr.iter()).map(|(p, q)| to_f64(*p - *q).abs()).sum::<f64>() / c,
                Metric::MeanSquaredError => yr.iter().zip(tr.iter()).map(|(p, q)| to_f64(*p - *q).powi(2)).sum::<f64>() / c,
            };
            let w = to_f64(w);
            sum += w * v;
            total += w;
        }
        Ok((sum, total))
    }
}
