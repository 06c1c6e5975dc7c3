//! The JSON spec of a functional model: named inputs, layers listed in the
//! order they are called with the tensors each one reads (`[node, output]`,
//! a node being an input or an earlier layer), and the model's outputs.
//! A layer called several times (a shared layer: one set of weights) is
//! listed once per call: its first entry defines it (class, config), each
//! later one is `{"name": <the layer>, "inbound": [...]}`; a reference to the
//! outputs of call `k` of a layer is `[name, k, output]` (`[name, output]`
//! is its first call).
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
    /// The layer this call runs: its index among the model's layers (one per
    /// layer, in the order of their first calls, however often each is called).
    pub layer: usize,
    /// Which call of that layer this is (0: the first, which defines it).
    pub call: usize,
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

/// A layer entry before its references are resolved: name, class, config,
/// inbound (JSON), the index of its layer and which call of it this is.
type ParsedEntry = (String, String, Box<dyn DynLayerConfig>, Vec<Value>, usize, usize);

/// Reads `["name", index]` (or `["name", call, index]`) against the nodes known so far.
fn parse_ref(what: &str, v: &Value, names: &[(String, usize)], outputs: &[usize], later: &[(String, usize)]) -> Result<TensorRef> {
    let bad =
        || RnnError::value(format!("{what}: expected [\"node name\", output index] or [\"layer name\", call, output index], got {v}"));
    let items = v.as_array().filter(|a| a.len() == 2 || a.len() == 3).ok_or_else(bad)?;
    let name = items[0].as_str().ok_or_else(bad)?;
    let call = if items.len() == 3 { items[1].as_u64().ok_or_else(bad)? as usize } else { 0 };
    let output = items[items.len() - 1].as_u64().ok_or_else(bad)? as usize;
    let Some(node) = names.iter().position(|(n, c)| n == name && *c == call) else {
        if later.iter().any(|(n, c)| n == name && *c == call) {
            return Err(RnnError::value(format!(
                "{what}: layer {name:?} comes later in the list; list layers in the order they are called (a graph has no cycles)"
            )));
        }
        if names.iter().any(|(n, _)| n == name) {
            return Err(RnnError::value(format!("{what}: layer {name:?} has no call {call}")));
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
        // Each layer entry without its "inbound", which the common layer parser does not know;
        // a later call of a shared layer (name and inbound only) takes its first entry's class and config.
        let mut parsed: Vec<ParsedEntry> = Vec::new();
        let mut n_layers = 0;
        for (i, lv) in layers_v.iter().enumerate() {
            let mut entry = lv.clone();
            let obj = entry.as_object_mut().ok_or_else(|| RnnError::value(format!("layers[{i}]: expected a JSON object, got {lv}")))?;
            let inbound = obj
                .remove("inbound")
                .and_then(|v| v.as_array().cloned())
                .ok_or_else(|| RnnError::value(format!("layers[{i}].inbound: expected a list of [node, output index]")))?;
            let earlier = obj.get("name").and_then(Value::as_str).and_then(|n| parsed.iter().rev().find(|p| p.0 == n));
            if let (Some(first), false) = (earlier, obj.contains_key("class")) {
                if obj.len() != 1 {
                    return Err(RnnError::value(format!(
                        "layers[{i}]: a later call of the shared layer {:?} has only \"name\" and \"inbound\"",
                        first.0
                    )));
                }
                let calls = parsed.iter().filter(|p| p.4 == first.4).count();
                parsed.push((first.0.clone(), first.1.clone(), first.2.clone(), inbound, first.4, calls));
                continue;
            }
            let (name, class, config) = parse_layer(i, &entry)?;
            parsed.push((name, class, config, inbound, n_layers, 0));
            n_layers += 1;
        }
        let all: Vec<(String, usize)> = names.iter().map(|n| (n.clone(), 0)).chain(parsed.iter().map(|p| (p.0.clone(), p.5))).collect();
        let mut sorted: Vec<&String> = names.iter().chain(parsed.iter().filter(|p| p.5 == 0).map(|p| &p.0)).collect();
        sorted.sort_unstable();
        if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
            return Err(RnnError::value(format!(
                "model: two inputs or layers are named {:?}; names must be unique (a shared layer's later calls give only its \
                 name and inbound)",
                w[0]
            )));
        }
        let mut n_outputs: Vec<usize> = vec![1; inputs.len()];
        let mut flows: Vec<Vec<Flow>> = inputs.iter().map(|(_, s)| vec![flow(*s)]).collect();
        let mut layers = Vec::with_capacity(parsed.len());
        for (i, (name, class, config, inbound_v, layer, call)) in parsed.into_iter().enumerate() {
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
            if call > 0 {
                // One set of weights: every call reads what the first call's input built them for.
                let first: &GraphLayer = layers.iter().find(|l: &&GraphLayer| l.layer == layer).expect("the first call");
                let features = |f: &Flow| match f {
                    Flow::Indices { .. } => None,
                    Flow::Rows { features, .. } => Some(*features),
                };
                if features(&ins[0]) != features(&first.inputs[0]) || ins.len() != first.inputs.len() {
                    return Err(RnnError::value(format!(
                        "{what}: the shared layer is called on {:?} here but on {:?} in its first call; its weights fit only the latter",
                        ins, first.inputs
                    )));
                }
            }
            n_outputs.push(outs.len());
            flows.push(outs.clone());
            layers.push(GraphLayer { name, class, config, inbound, inputs: ins, outputs: outs, layer, call });
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

    /// The layers (one per layer, however often it is called), initialised from `seed`.
    pub fn build<F: Float>(&self, seed: u64) -> Result<Vec<NamedLayer<F>>> {
        let mut rng = SplitMix64::new(seed);
        self.first_calls()
            .map(|l| Ok(NamedLayer::new(l.name.clone(), config::build::<F>(&*l.config, l.inputs[0], rng.next_u64())?)))
            .collect()
    }

    /// The entry of each layer's first call, in the order of [`build`](Self::build).
    pub fn first_calls(&self) -> impl Iterator<Item = &GraphLayer> {
        self.layers.iter().filter(|l| l.call == 0)
    }

    /// Whether layer `layer` (an index of [`build`](Self::build)'s) is called more than once.
    pub fn is_shared(&self, layer: usize) -> bool {
        self.layers.iter().any(|l| l.layer == layer && l.call > 0)
    }

    /// Output shapes (of each layer's first output, first call) and parameter counts, for `summary()`.
    pub fn info<F: Float>(&self, layers: &[NamedLayer<F>]) -> Vec<LayerInfo> {
        self.first_calls()
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
