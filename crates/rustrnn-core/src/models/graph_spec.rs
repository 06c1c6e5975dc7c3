//! The JSON spec of a functional model: named inputs, layers listed in the
//! order they are called with the tensors each one reads (`[node, output]`,
//! a node being an input or an earlier layer), and the model's outputs.
//! Validated completely before anything is built: unknown or later
//! references, output indices, shapes (through each layer's
//! [`node_outputs`](crate::nn::LayerConfig::node_outputs)), inputs that reach
//! no output and layers that lead to none are errors naming them.
//!
//! ```json
//! {"type": "functional",
//!  "inputs": [{"name": "enc_in", "kind": "features", "features": 5}, {"name": "dec_in", "kind": "features", "features": 6}],
//!  "layers": [{"class": "LSTM", "name": "lstm", "config": {"units": 8, "return_state": true}, "inbound": [["enc_in", 0]]},
//!             {"class": "LSTM", "name": "lstm_1", "config": {"units": 8, "return_sequences": true},
//!              "inbound": [["dec_in", 0], ["lstm", 1], ["lstm", 2]]},
//!             {"class": "Dense", "name": "dense", "config": {"units": 6, "activation": "softmax"}, "inbound": [["lstm_1", 0]]}],
//!  "outputs": [["dense", 0]]}
//! ```

use super::spec::{parse_input, parse_layer, InputSpec, LayerInfo};
use crate::error::{Result, RnnError};
use crate::float::Float;
use crate::json::Obj;
use crate::nn::config::{self, DynLayerConfig, Flow};
use crate::nn::NamedLayer;
use crate::rng::SplitMix64;
use serde_json::Value;

/// A tensor of the graph: output `output` of node `node` (inputs are nodes
/// `0..inputs.len()`, layer `i` is node `inputs.len() + i`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TensorRef {
    pub node: usize,
    pub output: usize,
}

/// One layer call of the graph.
#[derive(Debug, Clone)]
pub struct GraphLayer {
    pub name: String,
    pub class: String,
    pub config: Box<dyn DynLayerConfig>,
    pub inbound: Vec<TensorRef>,
    pub inputs: Vec<Flow>,
    pub outputs: Vec<Flow>,
}

#[derive(Debug, Clone)]
pub struct GraphSpec {
    /// `(name, kind)` of each model input, in the order `predict` takes them.
    pub inputs: Vec<(String, InputSpec)>,
    /// In call order (a topological order).
    pub layers: Vec<GraphLayer>,
    pub outputs: Vec<TensorRef>,
}

fn flow(spec: InputSpec) -> Flow {
    spec.flow()
}

/// Reads `["name", index]` against the nodes known so far.
fn parse_ref(what: &str, v: &Value, names: &[String], outputs: &[usize], later: &[String]) -> Result<TensorRef> {
    let bad = || RnnError::value(format!("{what}: expected [\"node name\", output index], got {v}"));
    let pair = v.as_array().filter(|a| a.len() == 2).ok_or_else(bad)?;
    let name = pair[0].as_str().ok_or_else(bad)?;
    let output = pair[1].as_u64().ok_or_else(bad)? as usize;
    let Some(node) = names.iter().position(|n| n == name) else {
        if later.iter().any(|n| n == name) {
            return Err(RnnError::value(format!(
                "{what}: layer {name:?} comes later in the list; list layers in the order they are called (a graph has no cycles)"
            )));
        }
        return Err(RnnError::value(format!("{what}: {name:?} is not an input or a layer of this model")));
    };
    if output >= outputs[node] {
        return Err(RnnError::value(format!("{what}: {name:?} has {} output(s), got index {output}", outputs[node])));
    }
    Ok(TensorRef { node, output })
}

impl GraphSpec {
    pub fn parse(v: &Value) -> Result<Self> {
        let mut o = Obj::new("model", v)?;
        o.str("type", None)?;
        let inputs_v =
            o.value("inputs").and_then(Value::as_array).ok_or_else(|| RnnError::value("model.inputs: expected a list of inputs"))?;
        let layers_v =
            o.value("layers").and_then(Value::as_array).ok_or_else(|| RnnError::value("model.layers: expected a list of layers"))?;
        let outputs_v = o
            .value("outputs")
            .and_then(Value::as_array)
            .ok_or_else(|| RnnError::value("model.outputs: expected a list of [node, index]"))?;
        o.finish()?;
        if inputs_v.is_empty() || layers_v.is_empty() || outputs_v.is_empty() {
            return Err(RnnError::value("model: a functional model needs at least one input, one layer and one output"));
        }
        let mut names = Vec::new();
        let mut inputs = Vec::new();
        for (i, iv) in inputs_v.iter().enumerate() {
            let mut rest = iv.clone();
            let name = rest
                .as_object_mut()
                .and_then(|m| m.remove("name"))
                .and_then(|n| n.as_str().map(str::to_owned))
                .filter(|n| !n.is_empty() && !n.contains('/'))
                .ok_or_else(|| RnnError::value(format!("inputs[{i}].name: expected a non-empty name without '/', got {iv}")))?;
            let spec = parse_input(&rest).map_err(|e| RnnError::value(format!("inputs[{i}] ({name}): {}", e.message())))?;
            inputs.push((name.clone(), spec));
            names.push(name);
        }
        // Each layer entry without its "inbound", which the common layer parser does not know.
        let mut parsed = Vec::new();
        for (i, lv) in layers_v.iter().enumerate() {
            let mut entry = lv.clone();
            let inbound = entry
                .as_object_mut()
                .ok_or_else(|| RnnError::value(format!("layers[{i}]: expected a JSON object, got {lv}")))?
                .remove("inbound")
                .and_then(|v| v.as_array().cloned())
                .ok_or_else(|| RnnError::value(format!("layers[{i}].inbound: expected a list of [node, output index]")))?;
            let (name, class, config) = parse_layer(i, &entry)?;
            parsed.push((name, class, config, inbound));
        }
        let all: Vec<String> = names.iter().cloned().chain(parsed.iter().map(|p| p.0.clone())).collect();
        let mut sorted = all.clone();
        sorted.sort_unstable();
        if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
            return Err(RnnError::value(format!(
                "model: two inputs or layers are named {:?}; names must be unique (a layer is called once per model)",
                w[0]
            )));
        }
        let mut n_outputs: Vec<usize> = vec![1; inputs.len()];
        let mut flows: Vec<Vec<Flow>> = inputs.iter().map(|(_, s)| vec![flow(*s)]).collect();
        let mut layers = Vec::with_capacity(parsed.len());
        for (i, (name, class, config, inbound_v)) in parsed.into_iter().enumerate() {
            let what = format!("layers[{i}] ({name}, {class})");
            if inbound_v.is_empty() {
                return Err(RnnError::value(format!("{what}.inbound: the layer reads no tensor")));
            }
            let known = &all[..inputs.len() + i];
            let later = &all[inputs.len() + i..];
            let inbound = inbound_v
                .iter()
                .enumerate()
                .map(|(k, r)| parse_ref(&format!("{what}.inbound[{k}]"), r, known, &n_outputs, later))
                .collect::<Result<Vec<_>>>()?;
            let ins: Vec<Flow> = inbound.iter().map(|r| flows[r.node][r.output]).collect();
            let outs = config.node_outputs(&ins).map_err(|why| RnnError::value(format!("{what}: {why}")))?;
            n_outputs.push(outs.len());
            flows.push(outs.clone());
            layers.push(GraphLayer { name, class, config, inbound, inputs: ins, outputs: outs });
        }
        let outputs = outputs_v
            .iter()
            .enumerate()
            .map(|(k, r)| parse_ref(&format!("outputs[{k}]"), r, &all, &n_outputs, &[]))
            .collect::<Result<Vec<_>>>()?;
        let spec = GraphSpec { inputs, layers, outputs };
        spec.check_connected()?;
        Ok(spec)
    }

    /// Every input reaches an output and every layer leads to one.
    fn check_connected(&self) -> Result<()> {
        let n_in = self.inputs.len();
        let mut used = vec![false; n_in + self.layers.len()];
        for r in &self.outputs {
            used[r.node] = true;
        }
        for (i, l) in self.layers.iter().enumerate().rev() {
            if used[n_in + i] {
                for r in &l.inbound {
                    used[r.node] = true;
                }
            }
        }
        if let Some(i) = (0..n_in).find(|&i| !used[i]) {
            return Err(RnnError::value(format!(
                "inputs[{i}] ({}): the input is not connected to any output of the model",
                self.inputs[i].0
            )));
        }
        if let Some(i) = (0..self.layers.len()).find(|&i| !used[n_in + i]) {
            return Err(RnnError::value(format!(
                "layers[{i}] ({}): the layer does not lead to any output of the model",
                self.layers[i].name
            )));
        }
        Ok(())
    }

    pub fn num_inputs(&self) -> usize {
        self.inputs.len()
    }

    /// The layers, initialised from `seed`.
    pub fn build<F: Float>(&self, seed: u64) -> Result<Vec<NamedLayer<F>>> {
        let mut rng = SplitMix64::new(seed);
        self.layers
            .iter()
            .map(|l| Ok(NamedLayer::new(l.name.clone(), config::build::<F>(&*l.config, l.inputs[0], rng.next_u64())?)))
            .collect()
    }

    /// Output shapes (of each layer's first output) and parameter counts, for `summary()`.
    pub fn info<F: Float>(&self, layers: &[NamedLayer<F>]) -> Vec<LayerInfo> {
        self.layers
            .iter()
            .zip(layers)
            .map(|(l, built)| LayerInfo {
                name: l.name.clone(),
                class: l.class.clone(),
                output_shape: l.outputs[0].shape(),
                params: built.num_params(),
                trainable: built.trainable(),
            })
            .collect()
    }
}
