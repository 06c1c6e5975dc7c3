//! `TimeDistributed(layer)`: applies a per-sample layer (one that maps
//! `(B, F)` to `(B, G)`: `Dense`, `LayerNormalization`, `Dropout`, ...) to
//! every step of a sequence, `(B, T, F) -> (B, T, G)`, with the same weights
//! at every step. The inner layer's parameters are this layer's
//! (`time_distributed/kernel`); the mask passes through, as in Keras.
//!
//! The spec nests the inner layer: `{"layer": {"class": "Dense", "config": {...}}}`.
//! The registry hands its own lookup to [`TimeDistributedConfig::parse`], so
//! this file does not import the registry.

use super::config::{self, DynLayerConfig, Flow};
use super::layer::{Ctx, GradCtx, Layer, LayerInput, ParamVisitor};
use super::tensor::Tensor;
use crate::error::{Result, RnnError};
use crate::float::Float;
use crate::json::Obj;
use ndarray::{Array2, ArrayViewD};
use serde_json::{json, Map, Value};
use std::any::Any;

/// A layer class's config parser, as the registry holds it.
pub type ParseConfig = fn(&str, &mut Obj) -> Result<Box<dyn DynLayerConfig>>;

#[derive(Debug, Clone)]
pub struct TimeDistributedConfig {
    pub inner: Box<dyn DynLayerConfig>,
}

impl TimeDistributedConfig {
    /// Reads `{"layer": {"class", "config"}}`, looking the inner class up with `lookup`.
    pub fn parse(c: &mut Obj, lookup: fn(&str) -> Option<ParseConfig>) -> Result<Self> {
        let what = format!("{}.layer", c.what());
        let v = c.value("layer").ok_or_else(|| RnnError::value(format!("{what}: missing (the wrapped layer)")))?;
        let mut o = Obj::new(what.clone(), v)?;
        let class = o.str("class", None)?;
        let empty = Value::Object(Map::new());
        let cv = o.value("config").unwrap_or(&empty);
        o.finish()?;
        if class == "TimeDistributed" {
            return Err(RnnError::value(format!("{what}.class: TimeDistributed cannot wrap a TimeDistributed")));
        }
        let parse = lookup(&class).ok_or_else(|| RnnError::value(format!("{what}.class: unknown layer class {class:?}")))?;
        let mut inner_obj = Obj::new(format!("{what} ({class})"), cv)?;
        let inner = parse(&class, &mut inner_obj)?;
        inner_obj.finish()?;
        Ok(TimeDistributedConfig { inner })
    }
}

impl DynLayerConfig for TimeDistributedConfig {
    fn class(&self) -> &'static str {
        "TimeDistributed"
    }

    fn output(&self, input: Flow, _last: bool) -> std::result::Result<Flow, String> {
        let (features, sequence) = input.rows()?;
        if !sequence {
            return Err("TimeDistributed expects a sequence (batch, time, features), got (batch, features)".into());
        }
        let inner = self.inner.class();
        match self.inner.output(Flow::vector(features), false) {
            Ok(Flow::Rows { features, sequence: false, .. }) => Ok(input.with_features(features)),
            Ok(_) => Err(format!("TimeDistributed: the wrapped {inner} does not map one step (batch, features) to one step")),
            Err(why) => Err(format!("TimeDistributed: the wrapped {inner} cannot take one step (batch, features): {why}")),
        }
    }

    fn build_f32(&self, input: Flow, seed: u64) -> Result<Box<dyn Layer<f32>>> {
        TimeDistributed::build(self, input, seed).map(|l| Box::new(l) as Box<dyn Layer<f32>>)
    }

    fn build_f64(&self, input: Flow, seed: u64) -> Result<Box<dyn Layer<f64>>> {
        TimeDistributed::build(self, input, seed).map(|l| Box::new(l) as Box<dyn Layer<f64>>)
    }

    fn to_json(&self) -> Value {
        json!({"layer": {"class": self.inner.class(), "config": self.inner.to_json()}})
    }

    fn clone_box(&self) -> Box<dyn DynLayerConfig> {
        Box::new(self.clone())
    }
}

#[derive(Debug)]
pub struct TimeDistributed<F> {
    pub config: TimeDistributedConfig,
    pub inner: Box<dyn Layer<F>>,
}

impl<F: Float> TimeDistributed<F> {
    fn build(cfg: &TimeDistributedConfig, input: Flow, seed: u64) -> Result<Self> {
        let step = Flow::vector(input.features());
        Ok(TimeDistributed { config: cfg.clone(), inner: config::build::<F>(&*cfg.inner, step, seed)? })
    }
}

impl<F: Float> Layer<F> for TimeDistributed<F> {
    fn class(&self) -> &'static str {
        "TimeDistributed"
    }

    fn config(&self) -> Value {
        json!({"layer": {"class": self.inner.class(), "config": self.inner.config()}})
    }

    fn forward(&mut self, x: LayerInput<'_, F>, ctx: &mut Ctx<'_, F>) -> Result<Tensor<F>> {
        let x = x.rows("TimeDistributed")?;
        let steps = x.steps.ok_or_else(|| RnnError::shape("TimeDistributed: expected a sequence, got (batch, features)"))?;
        let rows = x.data.nrows();
        // Every step is one more sample of the inner layer; the mask is the sequence's.
        let mask = ctx.mask.take();
        let y = self.inner.forward(LayerInput::Rows(Tensor::new(x.data, None)), ctx)?;
        ctx.mask = mask;
        if y.steps.is_some() || y.data.nrows() != rows {
            return Err(RnnError::shape(format!("TimeDistributed: the wrapped {} did not map each step to one step", self.inner.class())));
        }
        Ok(Tensor::new(y.data, Some(steps)))
    }

    fn backward(&mut self, dy: Array2<F>, ctx: &mut GradCtx<F>) -> Result<Option<Array2<F>>> {
        self.inner.backward(dy, ctx)
    }

    fn param_names(&self) -> Vec<String> {
        self.inner.param_names()
    }

    fn param(&self, i: usize) -> ArrayViewD<'_, F> {
        self.inner.param(i)
    }

    fn grad(&self, i: usize) -> ArrayViewD<'_, F> {
        self.inner.grad(i)
    }

    fn assign_param(&mut self, i: usize, value: ArrayViewD<F>) -> Result<()> {
        self.inner.assign_param(i, value)
    }

    fn visit_params(&mut self, f: &mut ParamVisitor<'_, F>) {
        self.inner.visit_params(f)
    }

    fn zero_grad(&mut self) {
        self.inner.zero_grad()
    }

    fn trainable(&self) -> bool {
        self.inner.trainable()
    }

    fn set_trainable(&mut self, trainable: bool) {
        self.inner.set_trainable(trainable)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
