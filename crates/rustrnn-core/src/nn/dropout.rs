//! Inverted dropout: in training each value is zeroed with probability
//! `rate` and the rest scaled by `1 / (1 - rate)`; identity at inference.

use super::config::{Flow, LayerConfig};
use super::layer::{Ctx, GradCtx, Layer, LayerInput, Mode};
use super::tensor::{mul_assign, Tensor};
use crate::error::{Result, RnnError};
use crate::float::Float;
use crate::json::Obj;
use crate::rng::SplitMix64;
use ndarray::Array2;
use serde_json::{json, Value};
use std::any::Any;

/// Draws a `(rows, cols)` mask of `0` and `1 / (1 - rate)` values.
pub fn draw_mask<F: Float>(rows: usize, cols: usize, rate: f64, rng: &mut SplitMix64) -> Array2<F> {
    let keep = F::from_f64(1.0 / (1.0 - rate));
    Array2::from_shape_simple_fn((rows, cols), || if rng.next_f64() < rate { F::zero() } else { keep })
}

#[derive(Debug, Clone, PartialEq)]
pub struct DropoutConfig {
    pub rate: f64,
}

impl LayerConfig for DropoutConfig {
    fn parse(_class: &str, c: &mut Obj) -> Result<Self> {
        let rate = c.f64("rate", None)?;
        if !(0.0..1.0).contains(&rate) {
            return Err(RnnError::value(format!("{}.rate: expected a rate in [0, 1), got {rate}", c.what())));
        }
        Ok(DropoutConfig { rate })
    }

    fn class(&self) -> &'static str {
        "Dropout"
    }

    fn output(&self, input: Flow, _last: bool) -> std::result::Result<Flow, String> {
        input.rows()?;
        Ok(input)
    }

    fn build<F: Float>(&self, _input: Flow, _seed: u64) -> Result<Box<dyn Layer<F>>> {
        Ok(Box::new(Dropout::<F>::new(self.rate)))
    }

    fn to_json(&self) -> Value {
        json!({"rate": self.rate})
    }
}

#[derive(Debug)]
pub struct Dropout<F> {
    pub rate: f64,
    /// The mask of the last training forward.
    mask: Option<Array2<F>>,
}

impl<F: Float> Dropout<F> {
    pub fn new(rate: f64) -> Self {
        Dropout { rate, mask: None }
    }

    /// Applies dropout in place when `active` (training) and the rate is non-zero.
    pub fn apply(&mut self, x: &mut Array2<F>, active: bool, rng: &mut SplitMix64) {
        self.mask = None;
        if !active || self.rate == 0.0 {
            return;
        }
        let m = draw_mask::<F>(x.nrows(), x.ncols(), self.rate, rng);
        mul_assign(x, &m);
        self.mask = Some(m);
    }
}

impl<F: Float> Layer<F> for Dropout<F> {
    fn class(&self) -> &'static str {
        "Dropout"
    }

    fn config(&self) -> Value {
        DropoutConfig { rate: self.rate }.to_json()
    }

    fn forward(&mut self, x: LayerInput<'_, F>, ctx: &mut Ctx<'_, F>) -> Result<Tensor<F>> {
        let mut t = x.rows("Dropout")?;
        self.apply(&mut t.data, ctx.mode == Mode::Train, ctx.rng);
        Ok(t)
    }

    fn backward(&mut self, mut dy: Array2<F>, _ctx: &mut GradCtx<F>) -> Result<Option<Array2<F>>> {
        if let Some(m) = self.mask.take() {
            mul_assign(&mut dy, &m);
        }
        Ok(Some(dy))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
