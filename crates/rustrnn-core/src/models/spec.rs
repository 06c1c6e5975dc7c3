//! Model architectures as JSON (what the model file stores and the Python
//! layers describe), parsed strictly: unknown keys, wrong types and values
//! out of range are errors naming the field. Nothing in a spec is executed.
//!
//! ```json
//! {"type": "sequential", "input": {"kind": "indices"},
//!  "layers": [{"class": "Embedding", "name": "embedding", "config": {"input_dim": 100, "output_dim": 8}},
//!             {"class": "LSTM", "name": "lstm", "config": {"units": 16}},
//!             {"class": "Dense", "name": "dense", "config": {"units": 1, "activation": "sigmoid"}}]}
//! ```

use super::activation::Activation;
use super::dense::Dense;
use super::dropout::Dropout;
use super::embedding::Embedding;
use super::layer::{Layer, LayerKind};
use super::masking::Masking;
use super::recurrent_layer::{MergeMode, RecurrentLayer, RecurrentLayerConfig};
use crate::error::{Result, RnnError};
use crate::float::Float;
use crate::layers::{CellKind, Nonlinearity};
use crate::rng::SplitMix64;
use serde_json::{Map, Value};

/// A JSON object whose keys are checked off as they are read, so that
/// leftovers (typos, unsupported options) can be reported.
pub struct Obj<'a> {
    what: String,
    map: &'a Map<String, Value>,
    seen: Vec<&'a str>,
}

impl<'a> Obj<'a> {
    pub fn new(what: impl Into<String>, v: &'a Value) -> Result<Self> {
        let what = what.into();
        let map = v.as_object().ok_or_else(|| RnnError::value(format!("{what}: expected a JSON object, got {v}")))?;
        Ok(Obj { what, map, seen: Vec::new() })
    }

    fn get(&mut self, key: &'static str) -> Option<&'a Value> {
        self.seen.push(key);
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn bad(&self, key: &str, want: &str, got: &Value) -> RnnError {
        RnnError::value(format!("{}.{key}: expected {want}, got {got}", self.what))
    }

    pub fn usize(&mut self, key: &'static str, default: Option<usize>) -> Result<usize> {
        match self.get(key) {
            Some(v) => v.as_u64().map(|u| u as usize).ok_or_else(|| self.bad(key, "a non-negative integer", v)),
            None => default.ok_or_else(|| RnnError::value(format!("{}.{key}: missing", self.what))),
        }
    }

    pub fn positive(&mut self, key: &'static str, default: Option<usize>) -> Result<usize> {
        let v = self.usize(key, default)?;
        if v == 0 {
            return Err(RnnError::value(format!("{}.{key}: expected a positive integer, got 0", self.what)));
        }
        Ok(v)
    }

    pub fn f64(&mut self, key: &'static str, default: Option<f64>) -> Result<f64> {
        match self.get(key) {
            Some(v) => v.as_f64().filter(|x| x.is_finite()).ok_or_else(|| self.bad(key, "a finite number", v)),
            None => default.ok_or_else(|| RnnError::value(format!("{}.{key}: missing", self.what))),
        }
    }

    pub fn opt_f64(&mut self, key: &'static str) -> Result<Option<f64>> {
        match self.get(key) {
            Some(v) => v.as_f64().filter(|x| x.is_finite()).map(Some).ok_or_else(|| self.bad(key, "a finite number or null", v)),
            None => Ok(None),
        }
    }

    pub fn bool(&mut self, key: &'static str, default: bool) -> Result<bool> {
        match self.get(key) {
            Some(v) => v.as_bool().ok_or_else(|| self.bad(key, "true or false", v)),
            None => Ok(default),
        }
    }

    pub fn str(&mut self, key: &'static str, default: Option<&str>) -> Result<String> {
        match self.get(key) {
            Some(v) => v.as_str().map(str::to_owned).ok_or_else(|| self.bad(key, "a string", v)),
            None => default.map(str::to_owned).ok_or_else(|| RnnError::value(format!("{}.{key}: missing", self.what))),
        }
    }

    pub fn value(&mut self, key: &'static str) -> Option<&'a Value> {
        self.get(key)
    }

    /// Fails on any key that was never read.
    pub fn finish(self) -> Result<()> {
        let unknown: Vec<&String> = self.map.keys().filter(|k| !self.seen.contains(&k.as_str())).collect();
        if let Some(k) = unknown.first() {
            return Err(RnnError::value(format!("{}: unknown option {k:?}; expected one of {}", self.what, self.seen.join(", "))));
        }
        Ok(())
    }
}

/// What enters the first layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputSpec {
    /// Integer indices (B, T).
    Indices,
    /// Float features (B, T, I) when `sequence`, else (B, I).
    Features { features: usize, sequence: bool },
}

#[derive(Debug, Clone, PartialEq)]
pub enum LayerSpec {
    Embedding { input_dim: usize, output_dim: usize, mask_zero: bool, trainable: bool },
    Recurrent(RecurrentLayerConfig),
    Dense { units: usize, activation: Activation, use_bias: bool, trainable: bool },
    Dropout { rate: f64 },
    Masking { mask_value: f64 },
}

#[derive(Debug, Clone, PartialEq)]
pub struct NamedLayer {
    pub name: String,
    pub class: String,
    pub spec: LayerSpec,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ModelSpec {
    pub input: InputSpec,
    pub layers: Vec<NamedLayer>,
}

/// The shape of activations between layers while building.
#[derive(Debug, Clone, Copy)]
enum Flow {
    Indices,
    Rows { features: usize, sequence: bool },
}

pub fn parse_input(v: &Value) -> Result<InputSpec> {
    let mut o = Obj::new("input", v)?;
    let kind = o.str("kind", None)?;
    let spec = match kind.as_str() {
        "indices" => InputSpec::Indices,
        "features" => {
            let features = o.positive("features", None)?;
            let sequence = o.bool("sequence", true)?;
            InputSpec::Features { features, sequence }
        }
        other => return Err(RnnError::value(format!("input.kind: expected \"indices\" or \"features\", got {other:?}"))),
    };
    o.finish()?;
    Ok(spec)
}

/// Parses one `{"class", "name", "config"}` entry; `input_size` of a
/// recurrent layer is filled in by [`ModelSpec::build`].
pub fn parse_layer(i: usize, v: &Value) -> Result<NamedLayer> {
    let mut o = Obj::new(format!("layers[{i}]"), v)?;
    let class = o.str("class", None)?;
    let name = o.str("name", None)?;
    if name.is_empty() || name.contains('/') {
        return Err(RnnError::value(format!("layers[{i}].name: expected a non-empty name without '/', got {name:?}")));
    }
    let empty = Value::Object(Map::new());
    let cv = o.value("config").unwrap_or(&empty);
    o.finish()?;
    let mut c = Obj::new(format!("{name} ({class})"), cv)?;
    let spec = match class.as_str() {
        "Embedding" => LayerSpec::Embedding {
            input_dim: c.positive("input_dim", None)?,
            output_dim: c.positive("output_dim", None)?,
            mask_zero: c.bool("mask_zero", false)?,
            trainable: c.bool("trainable", true)?,
        },
        "SimpleRNN" | "LSTM" | "GRU" => {
            let cell = match class.as_str() {
                "LSTM" => CellKind::Lstm,
                "GRU" if c.bool("reset_after", true)? => CellKind::Gru,
                "GRU" => CellKind::GruResetBefore,
                _ => match c.str("activation", Some("tanh"))?.as_str() {
                    "tanh" => CellKind::Rnn(Nonlinearity::Tanh),
                    "relu" => CellKind::Rnn(Nonlinearity::Relu),
                    other => {
                        return Err(RnnError::value(format!("{name} (SimpleRNN).activation: expected \"tanh\" or \"relu\", got {other:?}")))
                    }
                },
            };
            let cfg = RecurrentLayerConfig {
                cell,
                input_size: 0,
                units: c.positive("units", None)?,
                num_layers: c.positive("num_layers", Some(1))?,
                bidirectional: c.bool("bidirectional", false)?,
                merge_mode: MergeMode::parse(&c.str("merge_mode", Some("concat"))?)?,
                return_sequences: c.bool("return_sequences", false)?,
                return_state: c.bool("return_state", false)?,
                go_backwards: c.bool("go_backwards", false)?,
                dropout: c.f64("dropout", Some(0.0))?,
                trainable: c.bool("trainable", true)?,
            };
            if !(0.0..1.0).contains(&cfg.dropout) {
                return Err(RnnError::value(format!("{name} ({class}).dropout: expected a rate in [0, 1), got {}", cfg.dropout)));
            }
            LayerSpec::Recurrent(cfg)
        }
        "Dense" => LayerSpec::Dense {
            units: c.positive("units", None)?,
            activation: Activation::parse(&c.str("activation", Some("linear"))?)?,
            use_bias: c.bool("use_bias", true)?,
            trainable: c.bool("trainable", true)?,
        },
        "Dropout" => {
            let rate = c.f64("rate", None)?;
            if !(0.0..1.0).contains(&rate) {
                return Err(RnnError::value(format!("{name} (Dropout).rate: expected a rate in [0, 1), got {rate}")));
            }
            LayerSpec::Dropout { rate }
        }
        "Masking" => LayerSpec::Masking { mask_value: c.f64("mask_value", Some(0.0))? },
        other => {
            return Err(RnnError::value(format!(
                "layers[{i}].class: expected one of Embedding, Masking, SimpleRNN, LSTM, GRU, Dense, Dropout, got {other:?}"
            )))
        }
    };
    c.finish()?;
    Ok(NamedLayer { name, class, spec })
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
        let layers = layers_v.iter().enumerate().map(|(i, l)| parse_layer(i, l)).collect::<Result<Vec<_>>>()?;
        let mut names: Vec<&str> = layers.iter().map(|l| l.name.as_str()).collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(RnnError::value(format!("layers: two layers are named {:?}; names must be unique", w[0])));
        }
        let mut spec = ModelSpec { input, layers };
        spec.infer_sizes()?;
        Ok(spec)
    }

    /// Fills in each recurrent layer's input size and checks that every
    /// layer gets an input it accepts.
    fn infer_sizes(&mut self) -> Result<Vec<Flow>> {
        let mut flow = match self.input {
            InputSpec::Indices => Flow::Indices,
            InputSpec::Features { features, sequence } => Flow::Rows { features, sequence },
        };
        let n = self.layers.len();
        let mut flows = Vec::with_capacity(n);
        for (i, l) in self.layers.iter_mut().enumerate() {
            let at = format!("layers[{i}] ({}, {})", l.name, l.class);
            flow = match (&mut l.spec, flow) {
                (LayerSpec::Embedding { output_dim, .. }, Flow::Indices) => Flow::Rows { features: *output_dim, sequence: true },
                (LayerSpec::Embedding { .. }, _) => {
                    return Err(RnnError::value(format!("{at}: an Embedding must be the first layer, reading integer indices (batch, time)")))
                }
                (_, Flow::Indices) => {
                    return Err(RnnError::value(format!(
                        "{at}: the input is integer indices, which only an Embedding reads; start the model with an Embedding layer or pass float features"
                    )))
                }
                (LayerSpec::Recurrent(cfg), Flow::Rows { features, sequence }) => {
                    if !sequence {
                        return Err(RnnError::value(format!(
                            "{at}: expects a sequence (batch, time, features) but the previous layer outputs (batch, {features}); set return_sequences=True on the recurrent layer before it"
                        )));
                    }
                    if cfg.return_state && i + 1 != n {
                        return Err(RnnError::value(format!("{at}: return_state=True is only supported on the last layer of a Sequential")));
                    }
                    cfg.input_size = features;
                    Flow::Rows { features: cfg.output_size(), sequence: cfg.return_sequences }
                }
                (LayerSpec::Dense { units, .. }, Flow::Rows { sequence, .. }) => Flow::Rows { features: *units, sequence },
                (LayerSpec::Masking { .. }, Flow::Rows { features, sequence: true }) => Flow::Rows { features, sequence: true },
                (LayerSpec::Masking { .. }, Flow::Rows { .. }) => {
                    return Err(RnnError::value(format!("{at}: Masking needs a sequence input (batch, time, features)")))
                }
                (LayerSpec::Dropout { .. }, f) => f,
            };
            flows.push(flow);
        }
        Ok(flows)
    }

    /// The layers, initialised from `seed`.
    pub fn build<F: Float>(&self, seed: u64) -> Result<Vec<Layer<F>>> {
        let mut rng = SplitMix64::new(seed);
        let mut in_features = match self.input {
            InputSpec::Features { features, .. } => features,
            InputSpec::Indices => 0,
        };
        let mut layers = Vec::with_capacity(self.layers.len());
        for l in &self.layers {
            let s = rng.next_u64();
            let (kind, out) = build_layer::<F>(&l.spec, in_features, s)?;
            in_features = out;
            layers.push(Layer { name: l.name.clone(), kind });
        }
        Ok(layers)
    }

    /// Output shapes and parameter counts, for `summary()`.
    pub fn info<F: Float>(&self, layers: &[Layer<F>]) -> Vec<LayerInfo> {
        let mut spec = self.clone();
        let flows = spec.infer_sizes().expect("validated at parse");
        spec.layers
            .iter()
            .zip(flows)
            .zip(layers)
            .map(|((l, f), built)| {
                let output_shape = match f {
                    Flow::Rows { features, sequence: true } => vec![None, None, Some(features)],
                    Flow::Rows { features, sequence: false } => vec![None, Some(features)],
                    Flow::Indices => vec![None, None],
                };
                LayerInfo {
                    name: l.name.clone(),
                    class: l.class.clone(),
                    output_shape,
                    params: built.num_params(),
                    trainable: built.trainable(),
                }
            })
            .collect()
    }
}

/// One layer from its spec; returns it and its output features.
pub fn build_layer<F: Float>(spec: &LayerSpec, in_features: usize, seed: u64) -> Result<(LayerKind<F>, usize)> {
    Ok(match *spec {
        LayerSpec::Embedding { input_dim, output_dim, mask_zero, trainable } => {
            (LayerKind::Embedding(Embedding::new(input_dim, output_dim, mask_zero, trainable, seed)?), output_dim)
        }
        LayerSpec::Recurrent(cfg) => {
            let cfg = RecurrentLayerConfig { input_size: in_features, ..cfg };
            (LayerKind::Recurrent(RecurrentLayer::new(cfg, seed)?), cfg.output_size())
        }
        LayerSpec::Dense { units, activation, use_bias, trainable } => {
            (LayerKind::Dense(Dense::new(in_features, units, activation, use_bias, trainable, seed)?), units)
        }
        LayerSpec::Dropout { rate } => (LayerKind::Dropout(Dropout::new(rate)), in_features),
        LayerSpec::Masking { mask_value } => (LayerKind::Masking(Masking::new(mask_value)), in_features),
    })
}
