//! A functional model: a graph of layer calls with several inputs and
//! outputs, run in the spec's call order (a topological order). Each tensor
//! carries its mask along the edges; a recurrent layer's `initial_state`
//! enters as extra inputs and its `return_state` leaves as extra outputs
//! (through [`Layer::state_layout`](crate::nn::Layer::state_layout)); layers with
//! several inputs use [`Layer::forward_many`](crate::nn::Layer::forward_many).
//! Backward walks the calls in reverse, summing the gradients of a tensor
//! that feeds several layers. Training reads the first output.

use super::graph_spec::{GraphSpec, TensorRef};
use super::io::{read_input, Forward, Input, OutGrad};
use crate::error::{Result, RnnError};
use crate::float::Float;
use crate::nn::{Activation, Ctx, GradCtx, LayerInput, Mask, Mode, NamedLayer, States, Tensor};
use crate::rng::SplitMix64;
use ndarray::{Array2, Array3, ArrayView2, Axis};

/// A tensor on an edge of the graph.
#[derive(Debug, Clone)]
enum Value<'a, F> {
    Indices(ArrayView2<'a, i64>),
    Rows(Tensor<F>, Option<Mask>),
}

#[derive(Debug)]
pub struct Functional<F> {
    pub spec: GraphSpec,
    pub layers: Vec<NamedLayer<F>>,
    rng: SplitMix64,
    /// `(rows, features)` of every layer output of the last kept forward, for
    /// the zero gradient of an output nothing differentiates.
    shapes: Vec<Vec<(usize, usize)>>,
    /// Whether the last kept forward handed the loss the logits of the first output.
    fused: bool,
}

impl<F: Float> Functional<F> {
    pub fn new(spec: GraphSpec, seed: u64) -> Result<Self> {
        let mut seeds = SplitMix64::new(seed);
        let layers = spec.build(seeds.next_u64())?;
        Ok(Functional { spec, layers, rng: SplitMix64::new(seeds.next_u64()), shapes: Vec::new(), fused: false })
    }

    pub fn set_seed(&mut self, seed: u64) {
        self.rng = SplitMix64::new(seed);
    }

    fn n_in(&self) -> usize {
        self.spec.num_inputs()
    }

    /// The layer whose first output is the model's first output, when nothing
    /// else reads that tensor: its final Dense may hand the loss its logits.
    fn loss_layer(&self) -> Option<usize> {
        let first = self.spec.outputs[0];
        let layer = first.node.checked_sub(self.n_in())?;
        let read_elsewhere = self.spec.layers.iter().any(|l| l.inbound.contains(&first)) || self.spec.outputs[1..].contains(&first);
        (first.output == 0 && !read_elsewhere).then_some(layer)
    }

    fn model_inputs<'a>(&self, input: Input<'a, F>) -> Result<Vec<Value<'a, F>>> {
        let n = self.n_in();
        let list = match input {
            Input::Many(v) => v,
            Input::Pair(a, b) => vec![Input::Indices(a), Input::Indices(b)],
            single => vec![single],
        };
        if list.len() != n {
            let names: Vec<&str> = self.spec.inputs.iter().map(|(n, _)| n.as_str()).collect();
            return Err(RnnError::value(format!("x: expected a list of {n} arrays ({}), got {}", names.join(", "), list.len())));
        }
        let batch = list[0].batch();
        let mut out = Vec::with_capacity(n);
        for (i, (x, (name, spec))) in list.into_iter().zip(&self.spec.inputs).enumerate() {
            let arg = if n == 1 { format!("x ({name})") } else { format!("x[{i}] ({name})") };
            if x.batch() != batch {
                return Err(RnnError::shape(format!("{arg}: expected {batch} samples as x[0], got {}", x.batch())));
            }
            out.push(match read_input(*spec, x, &arg)? {
                LayerInput::Indices(ix) => Value::Indices(ix),
                LayerInput::Rows(t) => Value::Rows(t, None),
            });
        }
        Ok(out)
    }

    pub fn forward(&mut self, input: Input<'_, F>, mode: Mode) -> Result<Forward<F>> {
        let inputs = self.model_inputs(input)?;
        let n_in = self.n_in();
        let loss_layer = self.loss_layer();
        let mut values: Vec<Vec<Option<Value<F>>>> = inputs.into_iter().map(|v| vec![Some(v)]).collect();
        let mut ctx = Ctx::new(mode, &mut self.rng);
        let (mut logits, mut activation) = (None, Activation::Linear);
        for (i, (node, entry)) in self.layers.iter_mut().zip(&self.spec.layers).enumerate() {
            let args: Vec<Value<F>> =
                entry.inbound.iter().map(|r| values[r.node][r.output].clone().expect("an earlier node's output")).collect();
            ctx.last = loss_layer == Some(i);
            ctx.logits = None;
            ctx.activation = Activation::Linear;
            ctx.returned.clear();
            ctx.states = None;
            let layer = &mut node.layer;
            let outs = if let Some((dirs, has_c)) = layer.state_layout() {
                let mut args = args.into_iter();
                let (x, mask) = match args.next().expect("at least one input") {
                    Value::Indices(ix) => (LayerInput::Indices(ix), None),
                    Value::Rows(t, m) => (LayerInput::Rows(t), m),
                };
                let states: Vec<Array2<F>> = args.map(|v| rows_of(v, &node.name)).collect::<Result<_>>()?;
                ctx.init = pack_states(&states, dirs, has_c, &node.name)?;
                ctx.mask = mask;
                let y = layer.forward(x, &mut ctx)?;
                let mut outs = vec![Value::Rows(y, ctx.mask.take())];
                if entry.outputs.len() > 1 {
                    outs.extend(ctx.returned.drain(..).map(|s| Value::Rows(Tensor::new(s, None), None)));
                }
                outs
            } else if entry.inbound.len() == 1 {
                let (x, mask) = match args.into_iter().next().expect("one input") {
                    Value::Indices(ix) => (LayerInput::Indices(ix), None),
                    Value::Rows(t, m) => (LayerInput::Rows(t), m),
                };
                ctx.mask = mask;
                let y = layer.forward(x, &mut ctx)?;
                vec![Value::Rows(y, ctx.mask.take())]
            } else {
                let mut xs = Vec::with_capacity(args.len());
                let mut masks = Vec::with_capacity(args.len());
                for v in args {
                    match v {
                        Value::Rows(t, m) => {
                            xs.push(t);
                            masks.push(m);
                        }
                        Value::Indices(_) => {
                            return Err(RnnError::value(format!("{}: expected float rows, got integer indices", node.name)))
                        }
                    }
                }
                ctx.mask = None;
                let y = layer.forward_many(xs, &masks, &mut ctx)?;
                vec![Value::Rows(y, ctx.mask.take())]
            };
            if ctx.last {
                logits = ctx.logits.take();
                activation = ctx.activation;
            }
            debug_assert_eq!(outs.len(), entry.outputs.len(), "{}: outputs as node_outputs declared", node.name);
            values.push(outs.into_iter().map(Some).collect());
        }
        if mode.keep() {
            self.shapes = values[n_in..]
                .iter()
                .map(|outs| {
                    outs.iter()
                        .map(|v| match v {
                            Some(Value::Rows(t, _)) => t.data.dim(),
                            _ => (0, 0),
                        })
                        .collect()
                })
                .collect();
            self.fused = logits.is_some();
        }
        let mut results = Vec::with_capacity(self.spec.outputs.len());
        for r in &self.spec.outputs {
            match values[r.node][r.output].clone() {
                Some(Value::Rows(t, m)) => results.push((t, m)),
                _ => return Err(RnnError::value("outputs: an integer input cannot be an output of the model")),
            }
        }
        let mut results = results.into_iter();
        let (y, mask) = results.next().expect("at least one output");
        Ok(Forward { y, logits, activation, mask, states: Vec::new(), outputs: results.map(|(t, _)| t).collect() })
    }

    pub fn backward(&mut self, grad: OutGrad<F>) -> Result<()> {
        let n_in = self.n_in();
        let (d, is_logits) = match grad {
            OutGrad::Output(d) => (d, false),
            OutGrad::Logits(d) => (d, true),
        };
        if is_logits && !self.fused {
            return Err(RnnError::state("backward: the gradient is of logits, but the last forward handed none to the loss"));
        }
        let mut grads: Vec<Vec<Option<Array2<F>>>> = self.spec.layers.iter().map(|l| vec![None; l.outputs.len()]).collect::<Vec<_>>();
        let mut logits_at = None;
        let first = self.spec.outputs[0];
        match first.node.checked_sub(n_in) {
            None => return Ok(()), // the output is a model input: no parameter in between
            Some(l) if is_logits => {
                logits_at = Some(l);
                grads[l][0] = Some(d);
            }
            Some(l) => grads[l][first.output] = Some(d),
        }
        for i in (0..self.layers.len()).rev() {
            if grads[i].iter().all(Option::is_none) {
                continue;
            }
            let outs = std::mem::take(&mut grads[i]);
            let entry = &self.spec.layers[i];
            let NamedLayer { name, layer } = &mut self.layers[i];
            let mut ctx = GradCtx::new(logits_at == Some(i));
            let mut outs = outs.into_iter();
            let dy = outs.next().expect("one output").unwrap_or_else(|| Array2::zeros(self.shapes[i][0]));
            let dins: Vec<Option<Array2<F>>> = if let Some((dirs, has_c)) = layer.state_layout() {
                let dstates: Vec<Option<Array2<F>>> = outs.collect();
                if dstates.iter().any(Option::is_some) {
                    let filled: Vec<Array2<F>> =
                        dstates.into_iter().enumerate().map(|(k, g)| g.unwrap_or_else(|| Array2::zeros(self.shapes[i][k + 1]))).collect();
                    ctx.dstates = pack_states(&filled, dirs, has_c, name)?;
                }
                let dx = layer.backward(dy, &mut ctx)?;
                let mut dins = vec![dx];
                if entry.inbound.len() > 1 {
                    let init = ctx.dinit.take().ok_or_else(|| RnnError::state(format!("{name}: no gradient of initial_state")))?;
                    dins.extend(unpack_states(init, dirs).into_iter().map(Some));
                }
                dins
            } else if entry.inbound.len() == 1 {
                vec![layer.backward(dy, &mut ctx)?]
            } else {
                layer.backward_many(dy, &mut ctx)?.into_iter().map(Some).collect()
            };
            for (r, g) in entry.inbound.iter().zip(dins) {
                if let (Some(g), Some(l)) = (g, r.node.checked_sub(n_in)) {
                    add_grad(&mut grads[l][r.output], g);
                }
            }
        }
        Ok(())
    }

    /// The spec's tensor references (for tests and summaries).
    pub fn outputs(&self) -> &[TensorRef] {
        &self.spec.outputs
    }
}

fn add_grad<F: Float>(slot: &mut Option<Array2<F>>, g: Array2<F>) {
    match slot {
        Some(acc) => *acc += &g,
        None => *slot = Some(g),
    }
}

fn rows_of<F: Float>(v: Value<'_, F>, layer: &str) -> Result<Array2<F>> {
    match v {
        Value::Rows(t, _) if t.steps.is_none() => Ok(t.data),
        _ => Err(RnnError::shape(format!("{layer}: initial_state: expected (batch, units) states"))),
    }
}

/// `[h, c]` per direction, (B, H) each, as the layer's `(D, B, H)` states.
fn pack_states<F: Float>(list: &[Array2<F>], dirs: usize, has_c: bool, layer: &str) -> Result<Option<States<F>>> {
    if list.is_empty() {
        return Ok(None);
    }
    let per = if has_c { 2 } else { 1 };
    let (b, h) = list[0].dim();
    if let Some((k, s)) = list.iter().enumerate().find(|(_, s)| s.dim() != (b, h)) {
        return Err(RnnError::shape(format!("{layer}: state {k} has shape {:?}, expected ({b}, {h}) as state 0", s.dim())));
    }
    let stack = |off: usize| {
        let mut a = Array3::<F>::zeros((dirs, b, h));
        for d in 0..dirs {
            a.index_axis_mut(Axis(0), d).assign(&list[d * per + off]);
        }
        a
    };
    Ok(Some(States { h: stack(0), c: has_c.then(|| stack(1)) }))
}

/// The inverse of [`pack_states`].
fn unpack_states<F: Float>(s: States<F>, dirs: usize) -> Vec<Array2<F>> {
    let mut out = Vec::new();
    for d in 0..dirs {
        out.push(s.h.index_axis(Axis(0), d).to_owned());
        if let Some(c) = &s.c {
            out.push(c.index_axis(Axis(0), d).to_owned());
        }
    }
    out
}
