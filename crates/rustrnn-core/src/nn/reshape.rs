//! `Reshape(target_shape)`: each sample's values, in order, to `target_shape`
//! (without the batch), as Keras; one entry may be -1 (inferred). rustrnn's
//! activations are `(B, F)` or `(B, T, F)`, so a target has one or two
//! entries: `(F',)` or `(T', F')`. When T is unknown, `(-1, F')` (or a fixed
//! `(T', F')`) is checked on each batch. No mask leaves it.

use super::config::{Flow, LayerConfig};
use super::layer::{Ctx, GradCtx, Layer, LayerInput};
use super::tensor::Tensor;
use crate::error::{Result, RnnError};
use crate::float::Float;
use crate::json::Obj;
use ndarray::Array2;
use serde_json::{json, Value};
use std::any::Any;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReshapeConfig {
    /// Without the batch; `-1` at most once.
    pub target_shape: Vec<i64>,
}

impl LayerConfig for ReshapeConfig {
    fn parse(_class: &str, c: &mut Obj) -> Result<Self> {
        let what = c.what().to_string();
        let v = c.value("target_shape").ok_or_else(|| RnnError::value(format!("{what}.target_shape: missing")))?;
        let bad = || RnnError::value(format!("{what}.target_shape: expected a list of positive integers (one may be -1), got {v}"));
        let target_shape: Vec<i64> = v.as_array().ok_or_else(bad)?.iter().map(|d| d.as_i64().ok_or_else(bad)).collect::<Result<_>>()?;
        if target_shape.iter().any(|&d| d == 0 || d < -1) || target_shape.iter().filter(|&&d| d == -1).count() > 1 {
            return Err(bad());
        }
        if !(1..=2).contains(&target_shape.len()) {
            return Err(RnnError::value(format!(
                "{what}.target_shape: rustrnn's activations are (batch, features) or (batch, time, features), so a target \
                 has one or two entries, got {v}"
            )));
        }
        Ok(ReshapeConfig { target_shape })
    }

    fn class(&self) -> &'static str {
        "Reshape"
    }

    fn output(&self, input: Flow, _last: bool) -> std::result::Result<Flow, String> {
        let (features, sequence) = input.rows()?;
        let total = if sequence { input.steps().and_then(|t| t.checked_mul(features)) } else { Some(features) };
        let unknown = "the number of time steps is unknown (None) here; declare it in the input (keras.Input(shape=(T, features)))";
        match (self.target_shape.as_slice(), total) {
            (&[n], Some(total)) => {
                let n = if n == -1 { total } else { n as usize };
                if n != total {
                    return Err(format!("cannot reshape {total} values per sample to ({n},)"));
                }
                Ok(Flow::vector(n))
            }
            (&[_], None) => Err(format!("Reshape to (features,) needs the input's size: {unknown}")),
            (&[t, f], total) => {
                let (t, f) = match (t, f, total) {
                    (-1, f, Some(total)) if total % f as usize == 0 => (Some(total / f as usize), f as usize),
                    (-1, f, None) => (None, f as usize), // T' = T·F / F', checked per batch
                    (t, -1, Some(total)) if total % t as usize == 0 => (Some(t as usize), total / t as usize),
                    (_, -1, None) => return Err(format!("Reshape to (steps, -1) needs the input's size: {unknown}")),
                    (t, f, total) if t > 0 && f > 0 && total.is_none_or(|n| n == (t * f) as usize) => (Some(t as usize), f as usize),
                    _ => return Err(format!("cannot reshape {} values per sample to {:?}", total.unwrap_or(0), self.target_shape)),
                };
                Ok(Flow::sequence(f, t))
            }
            _ => unreachable!("parse checked the rank"),
        }
    }

    fn build<F: Float>(&self, input: Flow, _seed: u64) -> Result<Box<dyn Layer<F>>> {
        let out = self.output(input, false).map_err(|why| RnnError::value(format!("Reshape: {why}")))?;
        let (features, sequence) = out.rows().map_err(RnnError::value)?;
        Ok(Box::new(Reshape { config: self.clone(), features, sequence, input: None }))
    }

    fn to_json(&self) -> Value {
        json!({"target_shape": self.target_shape})
    }
}

#[derive(Debug)]
pub struct Reshape {
    config: ReshapeConfig,
    /// Features of the output and whether it is a sequence.
    features: usize,
    sequence: bool,
    /// `(rows, features, steps)` of the last input, for backward.
    input: Option<(usize, usize, Option<usize>)>,
}

impl<F: Float> Layer<F> for Reshape {
    fn class(&self) -> &'static str {
        "Reshape"
    }

    fn config(&self) -> Value {
        self.config.to_json()
    }

    fn forward(&mut self, x: LayerInput<'_, F>, ctx: &mut Ctx<'_, F>) -> Result<Tensor<F>> {
        let x = x.rows("Reshape")?;
        let b = x.batch();
        let per_sample = x.data.len().checked_div(b).unwrap_or(0);
        let fixed_steps = match self.config.target_shape.as_slice() {
            &[t, _] if t > 0 => Some(t as usize),
            _ => None,
        };
        let fits = per_sample % self.features == 0 && (!self.sequence || fixed_steps.is_none_or(|t| t * self.features == per_sample));
        if !fits || (!self.sequence && per_sample != self.features) {
            return Err(RnnError::shape(format!(
                "Reshape: cannot reshape an input of shape {:?} ({per_sample} values per sample) to {:?}",
                x.shape(),
                self.config.target_shape
            )));
        }
        let steps = self.sequence.then(|| per_sample / self.features);
        self.input = Some((x.data.nrows(), x.features(), x.steps));
        ctx.mask = None;
        let rows = b * steps.unwrap_or(1);
        let data = x.data.as_standard_layout().into_owned().into_shape_with_order((rows, self.features)).expect("standard layout");
        Ok(Tensor::new(data, steps))
    }

    fn backward(&mut self, dy: Array2<F>, _ctx: &mut GradCtx<F>) -> Result<Option<Array2<F>>> {
        let (rows, features, _) = self.input.ok_or_else(|| RnnError::state("Reshape.backward: no forward pass to differentiate"))?;
        Ok(Some(dy.as_standard_layout().into_owned().into_shape_with_order((rows, features)).expect("standard layout")))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
