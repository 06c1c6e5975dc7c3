//! A functional model: a graph of layer calls with several inputs and
//! outputs, run in the spec's call order (a topological order). Each tensor
//! carries its mask along the edges; a recurrent layer's `initial_state`
//! enters as extra inputs and its `return_state` leaves as extra outputs
//! (through [`Layer::state_layout`](crate::nn::Layer::state_layout)); layers with
//! several inputs use [`Layer::forward_many`](crate::nn::Layer::forward_many).
//! Backward walks the calls in reverse, summing the gradients of a tensor
//! that feeds several layers. Training reads the first output.

use super::graph_spec::{GraphLayer, GraphSpec, TensorRef};
use super::io::{read_input, Forward, Head, Input, OutGrad};
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

/// An input of a shared layer's call, kept so that backward can run the call
/// again (the layer's cache holds only its latest call).
#[derive(Debug)]
enum Kept<F> {
    Indices(Array2<i64>),
    Rows(Tensor<F>, Option<Mask>),
}

#[derive(Debug)]
pub struct Functional<F> {
    pub spec: GraphSpec,
    /// One per layer, however often it is called (a shared layer has one set of weights).
    pub layers: Vec<NamedLayer<F>>,
    rng: SplitMix64,
    /// Per call of a shared layer but its last, of the last kept forward: its
    /// inputs and the dropout generator before it (to rerun it exactly).
    kept: Vec<Option<(Vec<Kept<F>>, SplitMix64)>>,
    kept_mode: Mode,
    /// Per call: whether it is the last call of its layer.
    last_call: Vec<bool>,
    /// `(rows, features)` of every layer output of the last kept forward, for
    /// the zero gradient of an output nothing differentiates.
    shapes: Vec<Vec<(usize, usize)>>,
    /// Per output, whether the last kept forward handed its loss the logits.
    fused: Vec<bool>,
}

impl<F: Float> Functional<F> {
    pub fn new(spec: GraphSpec, seed: u64) -> Result<Self> {
        let mut seeds = SplitMix64::new(seed);
        let layers: Vec<NamedLayer<F>> = spec.build(seeds.next_u64())?;
        for (j, l) in layers.iter().enumerate() {
            if spec.is_shared(j) && l.layer.stateful() {
                return Err(RnnError::value(format!(
                    "{}: a stateful layer called several times (shared) is not supported: its carried states belong to one call",
                    l.name
                )));
            }
        }
        let last_call =
            spec.layers.iter().enumerate().map(|(i, e)| !spec.layers[i + 1..].iter().any(|later| later.layer == e.layer)).collect();
        let n = spec.layers.len();
        Ok(Functional {
            spec,
            layers,
            rng: SplitMix64::new(seeds.next_u64()),
            kept: (0..n).map(|_| None).collect(),
            kept_mode: Mode::Infer,
            last_call,
            shapes: Vec::new(),
            fused: Vec::new(),
        })
    }

    pub fn set_seed(&mut self, seed: u64) {
        self.rng = SplitMix64::new(seed);
    }

    fn n_in(&self) -> usize {
        self.spec.num_inputs()
    }

    /// Per model output, the layer making it when nothing else reads that
    /// tensor: its final Dense may hand the output's loss its logits.
    fn loss_layers(&self) -> Vec<Option<usize>> {
        let outs = &self.spec.outputs;
        outs.iter()
            .enumerate()
            .map(|(k, r)| {
                let layer = r.node.checked_sub(self.n_in())?;
                let read_elsewhere =
                    self.spec.layers.iter().any(|l| l.inbound.contains(r)) || outs.iter().enumerate().any(|(j, o)| j != k && o == r);
                let shared = self.spec.is_shared(self.spec.layers[layer].layer);
                (r.output == 0 && !read_elsewhere && !shared).then_some(layer)
            })
            .collect()
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
        let loss_layers = self.loss_layers();
        let mut values: Vec<Vec<Option<Value<F>>>> = inputs.into_iter().map(|v| vec![Some(v)]).collect();
        let mut ctx = Ctx::new(mode, &mut self.rng);
        // (logits, activation) of each output's final layer, when fused.
        let mut heads: Vec<(Option<Array2<F>>, Activation)> = vec![(None, Activation::Linear); loss_layers.len()];
        let (layers, kept) = (&mut self.layers, &mut self.kept);
        for (i, entry) in self.spec.layers.iter().enumerate() {
            let node = &mut layers[entry.layer];
            let args: Vec<Value<F>> =
                entry.inbound.iter().map(|r| values[r.node][r.output].clone().expect("an earlier node's output")).collect();
            kept[i] = (mode.keep() && !self.last_call[i]).then(|| (args.iter().map(Kept::of).collect(), ctx.rng.clone()));
            ctx.last = loss_layers.contains(&Some(i));
            ctx.logits = None;
            ctx.activation = Activation::Linear;
            let outs = run_call(node, entry, args, &mut ctx)?;
            if ctx.last {
                let k = loss_layers.iter().position(|l| *l == Some(i)).expect("a loss layer");
                heads[k] = (ctx.logits.take(), ctx.activation);
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
            self.fused = heads.iter().map(|(z, _)| z.is_some()).collect();
            self.kept_mode = mode;
        }
        let mut results = Vec::with_capacity(self.spec.outputs.len());
        for r in &self.spec.outputs {
            match values[r.node][r.output].clone() {
                Some(Value::Rows(t, m)) => results.push((t, m)),
                _ => return Err(RnnError::value("outputs: an integer input cannot be an output of the model")),
            }
        }
        let mut outputs = Vec::with_capacity(results.len() - 1);
        let mut rest = Vec::with_capacity(results.len() - 1);
        let mut heads = heads.into_iter();
        let mut results = results.into_iter();
        let (y, mask) = results.next().expect("at least one output");
        let (logits, activation) = heads.next().expect("one per output");
        for ((t, mask), (logits, activation)) in results.zip(heads) {
            outputs.push(t);
            rest.push(Head { logits, activation, mask });
        }
        Ok(Forward { y, logits, activation, mask, states: Vec::new(), outputs, heads: rest })
    }

    /// From the gradient of the first output, or of each output (`OutGrad::Many`).
    pub fn backward(&mut self, grad: OutGrad<F>) -> Result<()> {
        let n_in = self.n_in();
        let per_output = match grad {
            OutGrad::Many(v) => v,
            single => vec![Some(single)],
        };
        if per_output.len() > self.spec.outputs.len() {
            return Err(RnnError::value(format!(
                "backward: {} output gradients for a model with {} outputs",
                per_output.len(),
                self.spec.outputs.len()
            )));
        }
        let loss_layers = self.loss_layers();
        let mut grads: Vec<Vec<Option<Array2<F>>>> = self.spec.layers.iter().map(|l| vec![None; l.outputs.len()]).collect::<Vec<_>>();
        let mut logits_at = vec![false; self.spec.layers.len()];
        for (k, g) in per_output.into_iter().enumerate() {
            let r = self.spec.outputs[k];
            let Some(l) = r.node.checked_sub(n_in) else { continue }; // a model input: no parameter in between
            match g {
                None => {}
                Some(OutGrad::Logits(d)) => {
                    if !self.fused.get(k).copied().unwrap_or(false) {
                        return Err(RnnError::state(format!(
                            "backward: the gradient of output {k} is of logits, but the last forward handed none to its loss"
                        )));
                    }
                    let l = loss_layers[k].expect("fused outputs have a loss layer");
                    logits_at[l] = true;
                    grads[l][0] = Some(d);
                }
                Some(OutGrad::Output(d)) => add_grad(&mut grads[l][r.output], d),
                Some(OutGrad::Many(_)) => return Err(RnnError::value("backward: nested output gradients")),
            }
        }
        for i in (0..self.spec.layers.len()).rev() {
            if grads[i].iter().all(Option::is_none) {
                continue;
            }
            let outs = std::mem::take(&mut grads[i]);
            let entry = &self.spec.layers[i];
            if let Some((args, rng)) = self.kept[i].take() {
                // An earlier call of a shared layer: its cache is a later call's; run this call again
                // with the same inputs and dropout draws (its gradients add to the layer's).
                let mut rng = rng;
                let mut ctx = Ctx::new(self.kept_mode, &mut rng);
                run_call(&mut self.layers[entry.layer], entry, args.iter().map(Kept::view).collect(), &mut ctx)?;
            }
            let NamedLayer { name, layer } = &mut self.layers[entry.layer];
            let mut ctx = GradCtx::new(logits_at[i]);
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

impl<F: Float> Kept<F> {
    fn of(v: &Value<'_, F>) -> Self {
        match v {
            Value::Indices(ix) => Kept::Indices(ix.to_owned()),
            Value::Rows(t, m) => Kept::Rows(t.clone(), m.clone()),
        }
    }

    fn view(&self) -> Value<'_, F> {
        match self {
            Kept::Indices(ix) => Value::Indices(ix.view()),
            Kept::Rows(t, m) => Value::Rows(t.clone(), m.clone()),
        }
    }
}

/// Runs one call of `node` on `args` (its inbound tensors): a recurrent layer's
/// extra inputs are its initial states and its extra outputs its final ones; a
/// layer with several inputs runs `forward_many`.
fn run_call<'a, F: Float>(
    node: &mut NamedLayer<F>,
    entry: &GraphLayer,
    args: Vec<Value<'a, F>>,
    ctx: &mut Ctx<'_, F>,
) -> Result<Vec<Value<'a, F>>> {
    ctx.returned.clear();
    ctx.states = None;
    let layer = &mut node.layer;
    Ok(if let Some((dirs, has_c)) = layer.state_layout() {
        let mut args = args.into_iter();
        let (x, mask) = match args.next().expect("at least one input") {
            Value::Indices(ix) => (LayerInput::Indices(ix), None),
            Value::Rows(t, m) => (LayerInput::Rows(t), m),
        };
        let states: Vec<Array2<F>> = args.map(|v| rows_of(v, &node.name)).collect::<Result<_>>()?;
        ctx.init = pack_states(&states, dirs, has_c, &node.name)?;
        ctx.mask = mask;
        let y = layer.forward(x, ctx)?;
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
        let y = layer.forward(x, ctx)?;
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
                Value::Indices(_) => return Err(RnnError::value(format!("{}: expected float rows, got integer indices", node.name))),
            }
        }
        ctx.mask = None;
        let y = layer.forward_many(xs, &masks, ctx)?;
        vec![Value::Rows(y, ctx.mask.take())]
    })
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
