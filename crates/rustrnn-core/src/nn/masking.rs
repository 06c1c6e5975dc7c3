//! `Masking`: marks the steps of a float sequence whose features all equal
//! `mask_value` as padding, so that recurrent layers skip them and sequence
//! losses ignore them (Keras' layer of that name). Masked steps are zeroed.

use super::config::{Flow, LayerConfig};
use super::layer::{Ctx, GradCtx, Layer, LayerInput};
use super::tensor::{Mask, Tensor};
use crate::error::{Result, RnnError};
use crate::float::Float;
use crate::json::Obj;
use ndarray::Array2;
use serde_json::{json, Value};
use std::any::Any;

#[derive(Debug, Clone, PartialEq)]
pub struct MaskingConfig {
    pub mask_value: f64,
}

impl LayerConfig for MaskingConfig {
    fn parse(_class: &str, c: &mut Obj) -> Result<Self> {
        Ok(MaskingConfig { mask_value: c.f64("mask_value", Some(0.0))? })
    }

    fn class(&self) -> &'static str {
        "Masking"
    }

    fn output(&self, input: Flow, _last: bool) -> std::result::Result<Flow, String> {
        match input.rows()? {
            (_, true) => Ok(input),
            _ => Err("Masking needs a sequence input (batch, time, features)".into()),
        }
    }

    fn build<F: Float>(&self, _input: Flow, _seed: u64) -> Result<Box<dyn Layer<F>>> {
        Ok(Box::new(Masking::new(self.mask_value)))
    }

    fn to_json(&self) -> Value {
        json!({"mask_value": self.mask_value})
    }
}

#[derive(Debug)]
pub struct Masking {
    pub mask_value: f64,
    /// Per row of the last training forward: whether it is a real step.
    rows: Option<Vec<bool>>,
}

impl Masking {
    pub fn new(mask_value: f64) -> Self {
        Masking { mask_value, rows: None }
    }

    /// Computes the mask of `x` (B·T, F) and zeroes its masked rows.
    pub fn mask<F: Float>(&mut self, x: &mut Tensor<F>, keep: bool) -> Result<Mask> {
        let Some(steps) = x.steps else {
            return Err(RnnError::shape("Masking: expected a sequence input (batch, time, features)"));
        };
        let value = F::from_f64(self.mask_value);
        let real: Vec<bool> = x.data.rows().into_iter().map(|r| r.iter().any(|&v| v != value)).collect();
        let mask = Mask::from_valid(x.batch(), steps, |b, t| real[b * steps + t]).map_err(|(b, t)| {
            RnnError::value(format!(
                "x: with Masking, masked steps (all features equal to mask_value={}) must come before or after the real steps \
                 of each sequence, but sequence {b} has one at step {t} between real steps",
                self.mask_value
            ))
        })?;
        zero_rows(&mut x.data, &real);
        self.rows = keep.then_some(real);
        Ok(mask)
    }
}

impl<F: Float> Layer<F> for Masking {
    fn class(&self) -> &'static str {
        "Masking"
    }

    fn config(&self) -> Value {
        MaskingConfig { mask_value: self.mask_value }.to_json()
    }

    fn forward(&mut self, x: LayerInput<'_, F>, ctx: &mut Ctx<'_, F>) -> Result<Tensor<F>> {
        let mut t = x.rows("Masking")?;
        ctx.mask = Some(self.mask(&mut t, ctx.keep())?);
        Ok(t)
    }

    fn backward(&mut self, mut dy: Array2<F>, _ctx: &mut GradCtx<F>) -> Result<Option<Array2<F>>> {
        if let Some(real) = self.rows.take() {
            zero_rows(&mut dy, &real);
        }
        Ok(Some(dy))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

fn zero_rows<F: Float>(a: &mut Array2<F>, keep: &[bool]) {
    for (mut row, &k) in a.rows_mut().into_iter().zip(keep) {
        if !k {
            row.fill(F::zero());
        }
    }
}
