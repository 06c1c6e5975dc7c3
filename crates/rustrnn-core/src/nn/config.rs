//! What a layer's configuration is to the model spec: it checks the input
//! it gets ([`Flow`]) and builds the layer in either float type. Each layer
//! file implements [`LayerConfig`]; the [registry](super::registry) maps
//! class names to them.

use super::layer::Layer;
use crate::error::Result;
use crate::float::Float;
use crate::json::Obj;
use serde_json::Value;
use std::any::Any;
use std::fmt::Debug;

/// The activations between layers while a model is assembled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Integer indices (B, T); `steps` is T when known (`Input(shape=(T,))`).
    Indices { steps: Option<usize> },
    /// Rows of `features`: (B, T, features) when `sequence`, else (B, features).
    /// `steps` is T when known (always `None` without `sequence`): `Flatten`
    /// and `Reshape` need it, every other layer runs on any number of steps.
    Rows { features: usize, sequence: bool, steps: Option<usize> },
}

impl Flow {
    /// A sequence (B, T, features), T = `steps` when known.
    pub fn sequence(features: usize, steps: Option<usize>) -> Flow {
        Flow::Rows { features, sequence: true, steps }
    }

    /// One vector per sample (B, features).
    pub fn vector(features: usize) -> Flow {
        Flow::Rows { features, sequence: false, steps: None }
    }

    /// Rows of `features` with this flow's time axis (a per-step layer's output).
    pub fn with_features(self, features: usize) -> Flow {
        match self {
            Flow::Rows { sequence, steps, .. } => Flow::Rows { features, sequence, steps },
            Flow::Indices { steps } => Flow::sequence(features, steps),
        }
    }

    /// T of a sequence (or of indices) when known.
    pub fn steps(self) -> Option<usize> {
        match self {
            Flow::Rows { steps, .. } | Flow::Indices { steps } => steps,
        }
    }

    /// `(features, sequence)` of rows; integer indices only an `Embedding` reads.
    pub fn rows(self) -> std::result::Result<(usize, bool), String> {
        match self {
            Flow::Rows { features, sequence, .. } => Ok((features, sequence)),
            Flow::Indices { .. } => Err("the input is integer indices, which only an Embedding reads; \
                                  start the model with an Embedding layer or pass float features"
                .into()),
        }
    }

    /// Features of rows (0 for indices).
    pub fn features(self) -> usize {
        match self {
            Flow::Rows { features, .. } => features,
            Flow::Indices { .. } => 0,
        }
    }

    /// The `summary()` shape, `None` for the batch and an unknown number of steps.
    pub fn shape(self) -> Vec<Option<usize>> {
        match self {
            Flow::Rows { features, sequence: true, steps } => vec![None, steps, Some(features)],
            Flow::Rows { features, sequence: false, .. } => vec![None, Some(features)],
            Flow::Indices { steps } => vec![None, steps],
        }
    }
}

/// The configuration of one layer class, as its file defines it.
pub trait LayerConfig: Debug + Clone + Send + Sync + 'static {
    /// Reads the `config` object of a layer of class `class` (checked off by `c`).
    fn parse(class: &str, c: &mut Obj) -> Result<Self>;

    fn class(&self) -> &'static str;

    /// The output for `input`, or why the layer cannot take it; `last` says
    /// whether the layer ends the model.
    fn output(&self, input: Flow, last: bool) -> std::result::Result<Flow, String>;

    /// The layer, initialised from `seed`, for `input` (as `output` accepted).
    fn build<F: Float>(&self, input: Flow, seed: u64) -> Result<Box<dyn Layer<F>>>;

    fn to_json(&self) -> Value;

    /// The outputs of the layer as a node of a functional graph, for its
    /// inputs in call order. The default is one input and one output
    /// ([`LayerConfig::output`]); layers with several inputs or outputs
    /// (`Concatenate`, a recurrent layer with `initial_state`/`return_state`) override it.
    fn node_outputs(&self, inputs: &[Flow]) -> std::result::Result<Vec<Flow>, String> {
        match inputs {
            [x] => Ok(vec![self.output(*x, false)?]),
            _ => Err(format!("takes one input, got a list of {}", inputs.len())),
        }
    }
}

/// A [`LayerConfig`] behind a pointer, as a model spec holds it.
pub trait DynLayerConfig: Debug + Send + Sync {
    fn class(&self) -> &'static str;
    fn output(&self, input: Flow, last: bool) -> std::result::Result<Flow, String>;
    fn build_f32(&self, input: Flow, seed: u64) -> Result<Box<dyn Layer<f32>>>;
    fn build_f64(&self, input: Flow, seed: u64) -> Result<Box<dyn Layer<f64>>>;
    fn to_json(&self) -> Value;
    fn clone_box(&self) -> Box<dyn DynLayerConfig>;
    /// As [`LayerConfig::node_outputs`]; the default (one input, one output) serves
    /// configs that implement this trait directly (wrappers such as `TimeDistributed`).
    fn node_outputs(&self, inputs: &[Flow]) -> std::result::Result<Vec<Flow>, String> {
        match inputs {
            [x] => Ok(vec![self.output(*x, false)?]),
            _ => Err(format!("takes one input, got a list of {}", inputs.len())),
        }
    }
}

impl<T: LayerConfig> DynLayerConfig for T {
    fn class(&self) -> &'static str {
        LayerConfig::class(self)
    }
    fn output(&self, input: Flow, last: bool) -> std::result::Result<Flow, String> {
        LayerConfig::output(self, input, last)
    }
    fn build_f32(&self, input: Flow, seed: u64) -> Result<Box<dyn Layer<f32>>> {
        self.build::<f32>(input, seed)
    }
    fn build_f64(&self, input: Flow, seed: u64) -> Result<Box<dyn Layer<f64>>> {
        self.build::<f64>(input, seed)
    }
    fn to_json(&self) -> Value {
        LayerConfig::to_json(self)
    }
    fn clone_box(&self) -> Box<dyn DynLayerConfig> {
        Box::new(self.clone())
    }
    fn node_outputs(&self, inputs: &[Flow]) -> std::result::Result<Vec<Flow>, String> {
        LayerConfig::node_outputs(self, inputs)
    }
}

impl Clone for Box<dyn DynLayerConfig> {
    fn clone(&self) -> Self {
        self.clone_box()
    }
}

/// Builds the layer of `cfg` in the float type `F`.
pub fn build<F: Float>(cfg: &dyn DynLayerConfig, input: Flow, seed: u64) -> Result<Box<dyn Layer<F>>> {
    // F is f32 or f64; the detour through Any turns the concrete box into Box<dyn Layer<F>>.
    let any: Box<dyn Any> = if std::any::TypeId::of::<F>() == std::any::TypeId::of::<f32>() {
        Box::new(cfg.build_f32(input, seed)?)
    } else {
        Box::new(cfg.build_f64(input, seed)?)
    };
    Ok(*any.downcast::<Box<dyn Layer<F>>>().expect("Float is f32 or f64"))
}
