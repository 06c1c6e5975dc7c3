//! `Flatten`: `(B, T, F) -> (B, T·F)`, each sample's steps one after another,
//! as Keras; `(B, F)` passes as is. T must be known when the model is built
//! (the next layer's size depends on it): from `Input(shape=(T, F))`, a
//! `RepeatVector`, or the data a `Sequential` is built on. No mask leaves it.

use super::config::{Flow, LayerConfig};
use super::layer::{Ctx, GradCtx, Layer, LayerInput};
use super::tensor::Tensor;
use crate::error::{Result, RnnError};
use crate::float::Float;
use crate::json::Obj;
use ndarray::Array2;
use serde_json::{json, Value};
use std::any::Any;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlattenConfig;

impl LayerConfig for FlattenConfig {
    fn parse(_class: &str, c: &mut Obj) -> Result<Self> {
        let format = c.str("data_format", Some("channels_last"))?;
        if format != "channels_last" {
            return Err(RnnError::value(format!("{}.data_format: only \"channels_last\" is supported, got {format:?}", c.what())));
        }
        Ok(FlattenConfig)
    }

    fn class(&self) -> &'static str {
        "Flatten"
    }

    fn output(&self, input: Flow, _last: bool) -> std::result::Result<Flow, String> {
        let (features, sequence) = input.rows()?;
        if !sequence {
            return Ok(input);
        }
        let steps = input.steps().ok_or(
            "Flatten needs the number of time steps, which is unknown (None) here: declare it in the input \
             (keras.Input(shape=(T, features)) or Input(shape=(T,)) for token indices), as Keras needs it for the next layer's size",
        )?;
        let flat = steps.checked_mul(features).ok_or("the flattened size overflows")?;
        Ok(Flow::vector(flat))
    }

    fn build<F: Float>(&self, input: Flow, _seed: u64) -> Result<Box<dyn Layer<F>>> {
        Ok(Box::new(Flatten { steps: input.steps(), features: input.features() }))
    }

    fn to_json(&self) -> Value {
        json!({})
    }
}

#[derive(Debug)]
pub struct Flatten {
    /// T the model was built for (`None`: the input is (B, F) and passes).
    steps: Option<usize>,
    features: usize,
}

impl<F: Float> Layer<F> for Flatten {
    fn class(&self) -> &'static str {
        "Flatten"
    }

    fn config(&self) -> Value {
        FlattenConfig.to_json()
    }

    fn forward(&mut self, x: LayerInput<'_, F>, ctx: &mut Ctx<'_, F>) -> Result<Tensor<F>> {
        let x = x.rows("Flatten")?;
        ctx.mask = None;
        let Some(want) = self.steps else {
            return Ok(x);
        };
        if x.steps != Some(want) {
            return Err(RnnError::shape(format!(
                "Flatten: the model was built for sequences of {want} steps (the next layer's size depends on it), got shape {:?}",
                x.shape()
            )));
        }
        let b = x.batch();
        // Rows b·T + t of (B·T, F) are, in memory, exactly row b of (B, T·F).
        let data = x.data.as_standard_layout().into_owned().into_shape_with_order((b, want * self.features)).expect("standard layout");
        Ok(Tensor::new(data, None))
    }

    fn backward(&mut self, dy: Array2<F>, _ctx: &mut GradCtx<F>) -> Result<Option<Array2<F>>> {
        let Some(t) = self.steps else {
            return Ok(Some(dy));
        };
        let b = dy.nrows();
        Ok(Some(dy.as_standard_layout().into_owned().into_shape_with_order((b * t, self.features)).expect("standard layout")))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
