//! Model architectures as JSON (what the model file stores and the Python
//! layers describe), parsed strictly: unknown keys, wrong types and values
//! out of range are errors naming the field. Nothing in a spec is executed.
//! Each layer's `class` is looked up in the [layer registry](crate::nn::registry),
//! which parses its `config`. The Python side types the same JSON as
//! TypedDicts in `python/rustrnn/spec.py`; keep the two in step.
//!
//! ```json
//! {"type": "sequential", "input": {"kind": "indices"},
//!  "layers": [{"class": "Embedding", "name": "embedding", "config": {"input_dim": 100, "output_dim": 8}},
//!             {"class": "LSTM", "name": "lstm", "config": {"units": 16}},
//!             {"class": "Dense", "name": "dense", "config": {"units": 1, "activation": "sigmoid"}}]}
//! ```

use crate::error::{Result, RnnError};
use crate::float::Float;
use crate::json::Obj;
use crate::nn::config::{self, DynLayerConfig, Flow};
use crate::nn::registry;
use crate::nn::NamedLayer;
use crate::rng::SplitMix64;
use serde_json::{Map, Value};

/// What enters the first layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputSpec {
    /// Integer indices (B, T); `steps` is T when declared.
    Indices { steps: Option<usize> },
    /// Float features (B, T, I) when `sequence`, else (B, I); `steps` is T when declared.
    Features { features: usize, sequence: bool, steps: Option<usize> },
}

impl InputSpec {
    pub fn flow(self) -> Flow {
        match self {
            InputSpec::Indices { steps } => Flow::Indices { steps },
            InputSpec::Features { features, sequence, steps } => Flow::Rows { features, sequence, steps: steps.filter(|_| sequence) },
        }
    }
}

/// One layer of a spec, with what it receives and produces.
#[derive(Debug, Clone)]
pub struct LayerEntry {
    pub name: String,
    pub class: String,
    pub config: Box<dyn DynLayerConfig>,
    pub input: Flow,
    pub output: Flow,
}

#[derive(Debug, Clone)]
pub struct ModelSpec {
    pub input: InputSpec,
    pub layers: Vec<LayerEntry>,
}

pub fn parse_input(v: &Value) -> Result<InputSpec> {
    let mut o = Obj::new("input", v)?;
    let kind = o.str("kind", None)?;
    let spec = match kind.as_str() {
        "indices" => InputSpec::Indices { steps: steps(&mut o)? },
        "features" => {
            let features = o.positive("features", None)?;
            let sequence = o.bool("sequence", true)?;
            let steps = steps(&mut o)?;
            if steps.is_some() && !sequence {
                return Err(RnnError::value("input.steps: only a sequence input (sequence: true) has steps"));
            }
            InputSpec::Features { features, sequence, steps }
        }
        other => return Err(RnnError::value(format!("input.kind: expected \"indices\" or \"features\", got {other:?}"))),
    };
    o.finish()?;
    Ok(spec)
}

/// The optional `steps` (T) of an input: a positive integer or null.
fn steps(o: &mut Obj) -> Result<Option<usize>> {
    match o.value("steps").cloned() {
        None | Some(Value::Null) => Ok(None),
        Some(_) => Ok(Some(o.positive("steps", None)?)),
    }
}

/// Parses one `{"class", "name", "config"}` entry: `(name, class, config)`.
pub fn parse_layer(i: usize, v: &Value) -> Result<(String, String, Box<dyn DynLayerConfig>)> {
    let mut o = Obj::new(format!("layers[{i}]"), v)?;
    let class = o.str("class", None)?;
    let name = o.str("name", None)?;
    if name.is_empty() || name.contains('/') {
        return Err(RnnError::value(format!("layers[{i}].name: expected a non-empty name without '/', got {name:?}")));
    }
    let empty = Value::Object(Map::new());
    let cv = o.value("config").unwrap_or(&empty);
    o.finish()?;
    let parse = registry::lookup(&class)
        .ok_or_else(|| RnnError::value(format!("layers[{i}].class: expected one of {}, got {class:?}", registry::classes().join(", "))))?;
    let mut c = Obj::new(format!("{name} ({class})"), cv)?;
    let config = parse(&class, &mut c)?;
    c.finish()?;
    Ok((name, class, config))
}

/// Per-layer description for `summary()`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LayerInfo {
    pub name: String,
    pub class: String,
    /// With `None` for the batch and for the (unknown) number of steps.
    pub output_shape: Vec<Option<usize>>,
    pub params: usize,
    pub trainable: bool,
}

impl ModelSpec {
    /// Parses a spec and checks that every layer gets an input it accepts.
    pub fn parse(v: &Value) -> Result<Self> {
        let mut o = Obj::new("model", v)?;
        let input = parse_input(o.value("input").ok_or_else(|| RnnError::value("model.input: missing"))?)?;
        let layers_v =
            o.value("layers").and_then(|l| l.as_array()).ok_or_else(|| RnnError::value("model.layers: expected a list of layers"))?;
        o.str("type", Some("sequential"))?;
        o.finish()?;
        if layers_v.is_empty() {
            return Err(RnnError::value("layers: expected at least one layer, got none"));
        }
        let parsed = layers_v.iter().enumerate().map(|(i, l)| parse_layer(i, l)).collect::<Result<Vec<_>>>()?;
        let mut names: Vec<&str> = parsed.iter().map(|l| l.0.as_str()).collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(RnnError::value(format!("layers: two layers are named {:?}; names must be unique", w[0])));
        }
        let n = parsed.len();
        let mut flow = input.flow();
        let mut layers = Vec::with_capacity(n);
        for (i, (name, class, config)) in parsed.into_iter().enumerate() {
            let output = config.output(flow, i + 1 == n).map_err(|why| RnnError::value(format!("layers[{i}] ({name}, {class}): {why}")))?;
            layers.push(LayerEntry { name, class, config, input: flow, output });
            flow = output;
        }
        Ok(ModelSpec { input, layers })
    }

    /// The layers, initialised from `seed`.
    pub fn build<F: Float>(&self, seed: u64) -> Result<Vec<NamedLayer<F>>> {
        let mut rng = SplitMix64::new(seed);
        self.layers.iter().map(|l| Ok(NamedLayer::new(l.name.clone(), config::build::<F>(&*l.config, l.input, rng.next_u64())?))).collect()
    }

    /// Output shapes and parameter counts, for `summary()`.
    pub fn info<F: Float>(&self, layers: &[NamedLayer<F>]) -> Vec<LayerInfo> {
        self.layers
            .iter()
            .zip(layers)
            .map(|(l, built)| LayerInfo {
                name: l.name.clone(),
                class: l.class.clone(),
                output_shape: l.output.shape(),
                params: built.num_params(),
                trainable: built.trainable(),
            })
            .collect()
    }
}
