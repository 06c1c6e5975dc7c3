//! `SimpleRNN`, `LSTM`, `GRU` as Keras layers over the exact recurrent stack:
//! masks as spans, `return_sequences`, `return_state`, bidirectional
//! `merge_mode`, `go_backwards`, Keras's `dropout` (on the inputs, one mask
//! per sequence and direction reused at every step; alone, the stack's
//! `forward_input_masked`) and `recurrent_dropout` (on the state
//! entering each step: with it, Keras's `implementation=1`, one mask per gate
//! on the state and on the inputs, per layer and direction; the stack's
//! `forward_masked`), `layer_dropout` between stacked layers
//! (PyTorch's `dropout`), `use_bias`, and Keras's initializers.
//!
//! With `layer_dropout == 0` (or one layer) the layer is one [`Recurrent`] of
//! `num_layers`; otherwise one single-layer stack per layer, so that the
//! dropout masks can sit between them. Parameters keep PyTorch's names either
//! way (`weight_ih_l1_reverse`, ...).
//!
//! Without `return_sequences` the output is the final state of each
//! direction of the top layer: the forward direction's state at the last
//! valid step and the reverse direction's after the first valid step, as in
//! Keras' `Bidirectional`.

use super::config::{Flow, LayerConfig};
use super::dropout::draw_mask;
use super::initializer::{Distribution, FanMode, Init, Initializer};
use super::layer::{Ctx, GradCtx, Layer, LayerInput, Mode, ParamVisitor, States};
use super::tensor::{gather_rows, mul_assign, Mask, Tensor};
use crate::error::{fmt_shape, Result, RnnError};
use crate::float::Float;
use crate::json::Obj;
use crate::names::Names;
use crate::recurrent::{CellActivations, CellKind, GateFn, GateMasks, Nonlinearity, ParamKind, Recurrent, RnnConfig};
use crate::rng::SplitMix64;
use ndarray::{s, Array2, Array3, ArrayView3, ArrayViewD, Axis};
use serde_json::{json, Value};
use std::any::Any;

/// How the two directions of a bidirectional layer are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeMode {
    Concat,
    Sum,
    Mul,
    Ave,
}

impl Names for MergeMode {
    const WHAT: &'static str = "merge_mode";
    const TABLE: &'static [(&'static str, Self)] =
        &[("concat", MergeMode::Concat), ("sum", MergeMode::Sum), ("mul", MergeMode::Mul), ("ave", MergeMode::Ave)];
}

crate::from_str_by_names!(MergeMode);

/// `input_size` is filled in when the layer is built.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RecurrentConfig {
    pub cell: CellKind,
    pub input_size: usize,
    pub units: usize,
    pub num_layers: usize,
    pub bidirectional: bool,
    pub merge_mode: MergeMode,
    pub return_sequences: bool,
    pub return_state: bool,
    pub go_backwards: bool,
    /// Keras's `dropout`: rate on the inputs, one mask per sequence (training only).
    pub dropout: f64,
    /// Keras's `recurrent_dropout`: rate on the state entering each step, one
    /// mask per gate and sequence (training only).
    pub recurrent_dropout: f64,
    /// Dropout rate between stacked layers (PyTorch's `dropout`).
    pub layer_dropout: f64,
    pub use_bias: bool,
    /// Keras's `stateful`: the final states of a batch are the initial states
    /// of the next one (same row), until `reset_states`.
    pub stateful: bool,
    /// Keras's `activation` and `recurrent_activation` when they are not the
    /// fused kernels' (a SimpleRNN's tanh or relu is `CellKind::Rnn`'s).
    pub activations: CellActivations,
    /// Keras's initializers; `None` keeps PyTorch's (the `Seq2Seq` model).
    pub init: Option<KerasInit>,
    pub trainable: bool,
}

/// `kernel_initializer`, `recurrent_initializer`, `bias_initializer`, `unit_forget_bias`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KerasInit {
    pub kernel: Initializer,
    pub recurrent: Initializer,
    pub bias: Initializer,
    /// LSTM: the forget gate's bias starts at 1.
    pub unit_forget_bias: bool,
}

impl Default for KerasInit {
    /// Keras 3's defaults: glorot_uniform, orthogonal, zeros, unit_forget_bias.
    fn default() -> Self {
        KerasInit {
            kernel: Initializer::new(Init::VarianceScaling { scale: 1.0, mode: FanMode::Avg, distribution: Distribution::Uniform }),
            recurrent: Initializer::new(Init::Orthogonal { gain: 1.0 }),
            bias: Initializer::new(Init::Zeros),
            unit_forget_bias: true,
        }
    }
}

fn parse_init(c: &mut Obj, key: &'static str, default: Initializer) -> Result<Initializer> {
    let what = format!("{}.{key}", c.what());
    c.value(key).map_or(Ok(default), |v| Initializer::parse(&what, v))
}

impl LayerConfig for RecurrentConfig {
    fn parse(class: &str, c: &mut Obj) -> Result<Self> {
        let activation: GateFn = c.name("activation", Some(GateFn::Tanh))?;
        let mut activations = CellActivations { activation, ..CellActivations::DEFAULT };
        let cell = match class {
            "LSTM" => CellKind::Lstm,
            // Keras' reset_after: the reset gate after (PyTorch's GRU) or before the recurrent product.
            "GRU" if c.bool("reset_after", true)? => CellKind::Gru,
            "GRU" => CellKind::GruResetBefore,
            // tanh and relu run in the fused plain-RNN kernel.
            _ if activation == GateFn::Relu => {
                activations = CellActivations::DEFAULT;
                CellKind::Rnn(Nonlinearity::Relu)
            }
            _ => CellKind::Rnn(Nonlinearity::Tanh),
        };
        if class == "LSTM" || class == "GRU" {
            activations.recurrent = c.name("recurrent_activation", Some(GateFn::Sigmoid))?;
        }
        let cfg = RecurrentConfig {
            cell,
            input_size: 0,
            units: c.positive("units", None)?,
            num_layers: c.positive("num_layers", Some(1))?,
            bidirectional: c.bool("bidirectional", false)?,
            merge_mode: c.name("merge_mode", Some(MergeMode::Concat))?,
            return_sequences: c.bool("return_sequences", false)?,
            return_state: c.bool("return_state", false)?,
            go_backwards: c.bool("go_backwards", false)?,
            dropout: c.f64("dropout", Some(0.0))?,
            recurrent_dropout: c.f64("recurrent_dropout", Some(0.0))?,
            layer_dropout: c.f64("layer_dropout", Some(0.0))?,
            use_bias: c.bool("use_bias", true)?,
            stateful: c.bool("stateful", false)?,
            activations,
            init: None,
            trainable: c.bool("trainable", true)?,
        };
        let d = KerasInit::default();
        let init = KerasInit {
            kernel: parse_init(c, "kernel_initializer", d.kernel)?,
            recurrent: parse_init(c, "recurrent_initializer", d.recurrent)?,
            bias: parse_init(c, "bias_initializer", d.bias)?,
            unit_forget_bias: c.bool("unit_forget_bias", true)?,
        };
        for (key, rate) in [("dropout", cfg.dropout), ("recurrent_dropout", cfg.recurrent_dropout), ("layer_dropout", cfg.layer_dropout)] {
            if !(0.0..1.0).contains(&rate) {
                return Err(RnnError::value(format!("{}.{key}: expected a rate in [0, 1), got {rate}", c.what())));
            }
        }
        Ok(RecurrentConfig { init: Some(init), ..cfg })
    }

    fn class(&self) -> &'static str {
        match self.cell {
            CellKind::Rnn(_) => "SimpleRNN",
            CellKind::Lstm => "LSTM",
            CellKind::Gru | CellKind::GruResetBefore => "GRU",
        }
    }

    fn output(&self, input: Flow, last: bool) -> std::result::Result<Flow, String> {
        let (features, sequence) = input.rows()?;
        if !sequence {
            return Err(format!(
                "expects a sequence (batch, time, features) but the previous layer outputs (batch, {features}); \
                 set return_sequences=True on the recurrent layer before it"
            ));
        }
        if self.return_state && !last {
            return Err("return_state=True is only supported on the last layer of a Sequential".into());
        }
        Ok(if self.return_sequences { input.with_features(self.output_size()) } else { Flow::vector(self.output_size()) })
    }

    fn build<F: Float>(&self, input: Flow, seed: u64) -> Result<Box<dyn Layer<F>>> {
        Ok(Box::new(RecurrentLayer::new(RecurrentConfig { input_size: input.features(), ..*self }, seed)?))
    }

    /// In a functional graph: `[x, *initial_state]` in, `[y, *states]` out with
    /// `return_state` (h, and c for an LSTM, per direction, as Keras orders them).
    fn node_outputs(&self, inputs: &[Flow]) -> std::result::Result<Vec<Flow>, String> {
        let (x, init) = inputs.split_first().ok_or("expects an input")?;
        let y = self.output(*x, true)?;
        let n_states = self.directions() * if self.cell == CellKind::Lstm { 2 } else { 1 };
        let state = Flow::vector(self.units);
        if (!init.is_empty() || self.return_state) && self.num_layers != 1 {
            return Err("initial_state and return_state in a functional model need num_layers=1 (one layer, as in Keras)".into());
        }
        if !init.is_empty() && init.len() != n_states {
            return Err(format!(
                "initial_state: expected {n_states} states ([h, c] per direction for an LSTM, [h] per direction otherwise), got {}",
                init.len()
            ));
        }
        if let Some((i, bad)) = init.iter().enumerate().find(|(_, f)| **f != state) {
            let got: Vec<String> = bad.shape().iter().map(|d| d.map_or("None".into(), |d| d.to_string())).collect();
            return Err(format!("initial_state[{i}]: expected shape (None, {}), got ({})", self.units, got.join(", ")));
        }
        let mut out = vec![y];
        if self.return_state {
            out.extend(std::iter::repeat_n(state, n_states));
        }
        Ok(out)
    }

    fn to_json(&self) -> Value {
        let mut v = json!({
            "units": self.units,
            "num_layers": self.num_layers,
            "bidirectional": self.bidirectional,
            "merge_mode": self.merge_mode.name(),
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
            "dropout": self.dropout,
            "layer_dropout": self.layer_dropout,
            "use_bias": self.use_bias,
            "trainable": self.trainable,
        });
        if self.stateful {
            v["stateful"] = true.into(); // written only when set, as Python's get_config does
        }
        if self.recurrent_dropout > 0.0 {
            v["recurrent_dropout"] = self.recurrent_dropout.into(); // likewise
        }
        if !self.activations.is_default() {
            v["activation"] = self.activations.activation.name().into();
            if !matches!(self.cell, CellKind::Rnn(_)) {
                v["recurrent_activation"] = self.activations.recurrent.name().into();
            }
        }
        match self.cell {
            CellKind::Rnn(_) if !self.activations.is_default() => {}
            CellKind::Rnn(act) => v["activation"] = act.name().into(),
            // Written only when False, as Python's GRU.get_config does.
            CellKind::GruResetBefore => v["reset_after"] = false.into(),
            CellKind::Lstm | CellKind::Gru => {}
        }
        v
    }
}

impl RecurrentConfig {
    /// Keras's one bias per gate: a Keras-style layer (Keras's initializers)
    /// other than a GRU with `reset_after` (which has Keras's input and
    /// recurrent biases) keeps `bias_hh` at zero, out of its parameters, so
    /// that the effective bias moves as Keras's does. PyTorch's layers keep both.
    pub fn single_bias(&self) -> bool {
        self.use_bias && self.init.is_some() && self.cell != CellKind::Gru
    }

    pub fn directions(&self) -> usize {
        if self.bidirectional {
            2
        } else {
            1
        }
    }

    /// Features of the output (per step or final).
    pub fn output_size(&self) -> usize {
        if self.bidirectional && self.merge_mode == MergeMode::Concat {
            self.units.saturating_mul(2) // an impossible size fails when built
        } else {
            self.units
        }
    }
}

/// Output of a recurrent layer.
#[derive(Debug)]
pub struct RecurrentOut<F> {
    /// `(B·T, out)` with `return_sequences`, else `(B, out)`.
    pub y: Tensor<F>,
    /// (L·D, B, H): final states of every layer and direction.
    pub h_n: Array3<F>,
    pub c_n: Option<Array3<F>>,
}

#[derive(Debug)]
struct Cache<F> {
    batch: usize,
    steps: usize,
    empty: Vec<bool>,
    perm: Option<Vec<usize>>,
    dropout_masks: Vec<Array2<F>>,
    /// Forward and reverse halves before a `mul` merge, `(rows, H)` each.
    halves: Option<(Array2<F>, Array2<F>)>,
}

#[derive(Debug)]
pub struct RecurrentLayer<F> {
    pub cfg: RecurrentConfig,
    stacks: Vec<Recurrent<F>>,
    /// (stack, name inside the stack, public name), in parameter order.
    names: Vec<(usize, String, String)>,
    cache: Option<Cache<F>>,
    /// `stateful`: the final states of the last batch, the next batch's initial states.
    carried: Option<States<F>>,
    /// `stateful`: the batch size fixed by the first batch (Keras fixes it when built).
    stateful_batch: Option<usize>,
    /// Test hook ([`Layer::set_gate_masks`]): recurrent-dropout masks used
    /// instead of drawn ones, per layer and direction.
    fixed_masks: Option<Vec<GateMasks<F>>>,
}

impl<F: Float> RecurrentLayer<F> {
    pub fn new(cfg: RecurrentConfig, seed: u64) -> Result<Self> {
        for (key, rate) in [("dropout", cfg.dropout), ("recurrent_dropout", cfg.recurrent_dropout), ("layer_dropout", cfg.layer_dropout)] {
            if !(0.0..1.0).contains(&rate) {
                return Err(RnnError::value(format!("{key}: expected a rate in [0, 1), got {rate}")));
            }
        }
        // The whole stack's parameters and gradients, checked before the first is built.
        let whole = RnnConfig::new(cfg.cell, cfg.input_size.max(1), cfg.units.max(1));
        let whole = RnnConfig { num_layers: cfg.num_layers.max(1), bidirectional: cfg.bidirectional, ..whole };
        let n = crate::memory::mul("units", whole.param_elements()?, 2)?;
        crate::memory::ensure::<F>("units x num_layers (the parameters and gradients)", &[n])?;
        let split = cfg.layer_dropout > 0.0 && cfg.num_layers > 1;
        let mut rng = SplitMix64::new(seed);
        let mut stacks = Vec::new();
        let mut names = Vec::new();
        let n_stacks = if split { cfg.num_layers } else { 1 };
        for k in 0..n_stacks {
            let rc = RnnConfig {
                cell: cfg.cell,
                input_size: if k == 0 { cfg.input_size } else { cfg.directions() * cfg.units },
                hidden_size: cfg.units,
                num_layers: if split { 1 } else { cfg.num_layers },
                bidirectional: cfg.bidirectional,
                bias: cfg.use_bias,
                batch_first: true,
                proj_size: 0,
                activations: cfg.activations,
            };
            let mut stack = Recurrent::new(rc, rng.next_u64())?;
            if let Some(init) = cfg.init {
                keras_init(&mut stack, cfg.cell, init, &mut rng)?;
            }
            for slot in stack.slots() {
                if cfg.single_bias() && slot.kind == ParamKind::BiasHh {
                    continue; // a constant zero (keras_init), neither trained nor counted
                }
                let public = if split { slot.name.replacen("_l0", &format!("_l{k}"), 1) } else { slot.name.clone() };
                names.push((k, slot.name.clone(), public));
            }
            stacks.push(stack);
        }
        Ok(RecurrentLayer { cfg, stacks, names, cache: None, carried: None, stateful_batch: None, fixed_masks: None })
    }

    pub fn stacks(&self) -> &[Recurrent<F>] {
        &self.stacks
    }

    /// A stateful layer's initial states for a batch of `batch` rows: the
    /// carried ones, after checking that the batch size did not change.
    fn carried_states(&mut self, batch: usize) -> Result<Option<States<F>>> {
        if !self.cfg.stateful {
            return Ok(None);
        }
        match self.stateful_batch {
            Some(b) if b != batch => {
                return Err(RnnError::shape(format!(
                    "{}(stateful=True): the batch size must stay the same from batch to batch (the states of row i carry \
                     over to row i of the next batch): expected {b} rows (the model's batch size, declared by its Input \
                     or fixed by its first batch), got {batch}; use that batch_size and a number of samples it divides",
                    self.cfg.cell.name()
                )))
            }
            _ => self.stateful_batch = Some(batch),
        }
        Ok(self.carried.clone())
    }

    /// Layers of each stack.
    fn layers_per_stack(&self) -> usize {
        self.stacks[0].config().num_layers
    }

    /// Keras's recurrent-dropout masks of one call, per stack: per layer and
    /// direction, one per gate on the state entering each step and, on the
    /// layer's input with `dropout` (the first layer's only, as the input
    /// mask without recurrent dropout), one per gate on the input. Every
    /// direction has its own (Keras's `Bidirectional` copies the layer).
    fn gate_masks(&self, batch: usize, rng: &mut SplitMix64) -> Vec<Vec<GateMasks<F>>> {
        let cfg = self.cfg;
        let (d, per) = (cfg.directions(), self.layers_per_stack());
        let mut all = match &self.fixed_masks {
            Some(fixed) => fixed.clone(),
            None => {
                let g = cfg.cell.gates();
                let draw = |cols: usize, rate: f64, rng: &mut SplitMix64| {
                    draw_mask::<F>(g * batch, cols, rate, rng).into_shape_with_order((g, batch, cols)).expect("g·batch rows")
                };
                let mut v = Vec::with_capacity(cfg.num_layers * d);
                for layer in 0..cfg.num_layers {
                    for _ in 0..d {
                        let input = (layer == 0 && cfg.dropout > 0.0).then(|| draw(cfg.input_size, cfg.dropout, rng));
                        v.push(GateMasks { recurrent: draw(cfg.units, cfg.recurrent_dropout, rng), input });
                    }
                }
                v
            }
        };
        let mut per_stack = Vec::with_capacity(self.stacks.len());
        for _ in 0..self.stacks.len() {
            let rest = all.split_off((per * d).min(all.len()));
            per_stack.push(std::mem::replace(&mut all, rest));
        }
        per_stack
    }

    /// Keras's `dropout` without recurrent dropout: one input mask (B, I) per
    /// direction (Keras's `Bidirectional` copies the layer, masks and all),
    /// the same at every step. Fixed masks ([`Layer::set_gate_masks`]) give
    /// each direction's as its `input` (1, B, I), with no recurrent mask.
    fn input_masks(&self, batch: usize, rng: &mut SplitMix64) -> Result<Vec<Array2<F>>> {
        let (cfg, d) = (self.cfg, self.cfg.directions());
        let Some(fixed) = &self.fixed_masks else {
            return Ok((0..d).map(|_| draw_mask::<F>(batch, cfg.input_size, cfg.dropout, rng)).collect());
        };
        let mut masks = Vec::with_capacity(d);
        for (i, m) in fixed.iter().take(d).enumerate() {
            let want = [1, batch, cfg.input_size];
            match m.input.as_ref() {
                Some(inp) if inp.shape() == want && m.recurrent.is_empty() => masks.push(inp.index_axis(Axis(0), 0).to_owned()),
                _ => {
                    return Err(RnnError::shape(format!(
                        "masks[{i}]: with dropout alone, expected no recurrent mask (0 gates) and an input mask of shape {}, \
                         got {} and {}",
                        fmt_shape(&want),
                        fmt_shape(m.recurrent.shape()),
                        m.input.as_ref().map_or("None".to_string(), |a| fmt_shape(a.shape()))
                    )))
                }
            }
        }
        Ok(masks)
    }

    /// Runs the layer on `x` (B·T, I). `init` is the initial state of every
    /// layer and direction, `(L·D, B, H)` (zeros when absent).
    pub fn run(
        &mut self,
        x: Tensor<F>,
        mask: Option<&Mask>,
        init: Option<(ArrayView3<F>, Option<ArrayView3<F>>)>,
        mode: Mode,
        rng: &mut SplitMix64,
    ) -> Result<RecurrentOut<F>> {
        let cfg = self.cfg;
        let Some(steps) = x.steps else {
            return Err(RnnError::shape(format!(
                "{}: expected a sequence input (batch, time, features), got shape ({}, {})",
                cfg.cell.name(),
                x.batch(),
                x.features()
            )));
        };
        let batch = x.batch();
        if x.features() != cfg.input_size {
            return Err(RnnError::shape(format!("{}: expected {} input features, got {}", cfg.cell.name(), cfg.input_size, x.features())));
        }
        if steps == 0 || batch == 0 {
            return Err(RnnError::shape(format!("x: expected a non-empty batch and sequence, got batch {batch}, {steps} steps")));
        }
        let (d, h) = (cfg.directions(), cfg.units);
        let empty: Vec<bool> = (0..batch).map(|b| mask.is_some_and(|m| m.spans[b].0 == m.spans[b].1)).collect();
        let spans: Option<Vec<(usize, usize)>> = mask.map(|m| m.spans.iter().map(|&(s, e)| if s == e { (0, 1) } else { (s, e) }).collect());
        let perm = cfg.go_backwards.then(|| reverse_valid_steps(batch, steps, spans.as_deref()));
        let mut inp = match &perm {
            Some(p) => gather_rows(x.data.view(), p.iter().copied()),
            None => x.data,
        };
        let keep = mode != Mode::Infer;
        let mut gate_masks = (mode == Mode::Train && cfg.recurrent_dropout > 0.0).then(|| self.gate_masks(batch, rng).into_iter());
        let mut input_masks =
            (mode == Mode::Train && cfg.dropout > 0.0 && gate_masks.is_none()).then(|| self.input_masks(batch, rng)).transpose()?;
        let per = self.layers_per_stack();
        let n_states = cfg.num_layers * d;
        let mut h_n = Array3::<F>::zeros((n_states, batch, h));
        let mut c_n = (cfg.cell == CellKind::Lstm).then(|| Array3::<F>::zeros((n_states, batch, h)));
        let mut dropout_masks = Vec::new();
        let n_stacks = self.stacks.len();
        for (k, stack) in self.stacks.iter_mut().enumerate() {
            stack.set_training(keep);
            let rows = k * per * d..(k + 1) * per * d;
            let h0 = init.as_ref().map(|(h0, _)| h0.slice(s![rows.clone(), .., ..]));
            let c0 = init.as_ref().and_then(|(_, c0)| c0.as_ref().map(|c| c.slice(s![rows.clone(), .., ..])));
            let features = inp.ncols();
            let x3 = inp.view().into_shape_with_order((batch, steps, features)).expect("batch-major rows");
            let out = match (gate_masks.as_mut(), input_masks.take()) {
                (Some(m), _) => stack.forward_masked(x3, h0, c0, spans.clone(), m.next().expect("one per stack"))?,
                (None, Some(m)) => stack.forward_input_masked(x3, h0, c0, spans.clone(), m)?, // the first stack's input
                (None, None) => stack.forward_spans(x3, h0, c0, spans.clone())?,
            };
            h_n.slice_mut(s![rows.clone(), .., ..]).assign(&out.h_n);
            if let (Some(cn), Some(c)) = (c_n.as_mut(), out.c_n.as_ref()) {
                cn.slice_mut(s![rows, .., ..]).assign(c);
            }
            inp = out.output.into_shape_with_order((batch * steps, d * h)).expect("batch-major rows");
            if k + 1 < n_stacks && mode == Mode::Train {
                let m = draw_mask::<F>(inp.nrows(), inp.ncols(), cfg.layer_dropout, rng);
                mul_assign(&mut inp, &m);
                dropout_masks.push(m);
            }
        }
        // A sequence that is all padding keeps its initial states (Keras: the
        // state passes through masked steps), its output is zero.
        for (b, _) in empty.iter().enumerate().filter(|(_, e)| **e) {
            match init.as_ref() {
                Some((h0, _)) => h_n.slice_mut(s![.., b, ..]).assign(&h0.slice(s![.., b, ..])),
                None => h_n.slice_mut(s![.., b, ..]).fill(F::zero()),
            }
            if let Some(c) = c_n.as_mut() {
                match init.as_ref().and_then(|(_, c0)| c0.as_ref()) {
                    Some(c0) => c.slice_mut(s![.., b, ..]).assign(&c0.slice(s![.., b, ..])),
                    None => c.slice_mut(s![.., b, ..]).fill(F::zero()),
                }
            }
        }
        let (both, out_steps) = if cfg.return_sequences {
            for (b, _) in empty.iter().enumerate().filter(|(_, e)| **e) {
                inp.slice_mut(s![b * steps..(b + 1) * steps, ..]).fill(F::zero());
            }
            (inp, Some(steps))
        } else {
            let top = (cfg.num_layers - 1) * d;
            let mut last = Array2::<F>::zeros((batch, d * h));
            for dir in 0..d {
                last.slice_mut(s![.., dir * h..(dir + 1) * h]).assign(&h_n.index_axis(Axis(0), top + dir));
            }
            for (b, _) in empty.iter().enumerate().filter(|(_, e)| **e) {
                last.row_mut(b).fill(F::zero());
            }
            (last, None)
        };
        let (y, halves) = merge(cfg, both, keep);
        self.cache = keep.then_some(Cache { batch, steps, empty, perm, dropout_masks, halves });
        Ok(RecurrentOut { y: Tensor::new(y, out_steps), h_n, c_n })
    }

    /// Backward from the gradient of the output `dy` and, optionally, of the
    /// final states `(L·D, B, H)`. Returns `dx` (B·T, I) and the gradients
    /// of the initial states.
    #[allow(clippy::type_complexity)]
    pub fn run_backward(
        &mut self,
        dy: Option<Array2<F>>,
        dstates: Option<(Array3<F>, Option<Array3<F>>)>,
    ) -> Result<(Array2<F>, Array3<F>, Option<Array3<F>>)> {
        let cfg = self.cfg;
        let cache = self
            .cache
            .take()
            .ok_or_else(|| RnnError::state(format!("{}.backward: no training forward to differentiate", cfg.cell.name())))?;
        let Cache { batch, steps, empty, perm, mut dropout_masks, halves } = cache;
        let (d, h) = (cfg.directions(), cfg.units);
        let per = self.layers_per_stack();
        let rows_out = if cfg.return_sequences { batch * steps } else { batch };
        let mut dboth = match dy {
            Some(dy) => unmerge(cfg, dy, halves),
            None => Array2::zeros((rows_out, d * h)),
        };
        let (mut dhn_all, mut dcn_all) = match dstates {
            Some((a, b)) => (a, b),
            None => (Array3::zeros((cfg.num_layers * d, batch, h)), None),
        };
        let is_lstm = cfg.cell == CellKind::Lstm;
        if is_lstm && dcn_all.is_none() {
            dcn_all = Some(Array3::zeros(dhn_all.raw_dim()));
        }
        // The states of an all-padding sequence pass through: so do their gradients.
        let passed: Vec<(usize, Array2<F>, Option<Array2<F>>)> = empty
            .iter()
            .enumerate()
            .filter(|(_, e)| **e)
            .map(|(b, _)| {
                let c = dcn_all.as_ref().map(|c| c.slice(s![.., b, ..]).to_owned());
                (b, dhn_all.slice(s![.., b, ..]).to_owned(), c)
            })
            .collect();
        for (b, _) in empty.iter().enumerate().filter(|(_, e)| **e) {
            let rows = if cfg.return_sequences { b * steps..(b + 1) * steps } else { b..b + 1 };
            dboth.slice_mut(s![rows, ..]).fill(F::zero());
            dhn_all.slice_mut(s![.., b, ..]).fill(F::zero());
            if let Some(c) = dcn_all.as_mut() {
                c.slice_mut(s![.., b, ..]).fill(F::zero());
            }
        }
        if !cfg.return_sequences {
            let top = (cfg.num_layers - 1) * d;
            for dir in 0..d {
                let mut t = dhn_all.index_axis_mut(Axis(0), top + dir);
                t += &dboth.slice(s![.., dir * h..(dir + 1) * h]);
            }
        }
        let mut dh0 = Array3::<F>::zeros((cfg.num_layers * d, batch, h));
        let mut dc0 = is_lstm.then(|| Array3::<F>::zeros((cfg.num_layers * d, batch, h)));
        let mut dout: Option<Array2<F>> = cfg.return_sequences.then_some(dboth);
        let n_stacks = self.stacks.len();
        for k in (0..n_stacks).rev() {
            let rows = k * per * d..(k + 1) * per * d;
            let stack = &mut self.stacks[k];
            let dout3 = dout.as_ref().map(|a| a.view().into_shape_with_order((batch, steps, d * h)).expect("batch-major"));
            let dhn = dhn_all.slice(s![rows.clone(), .., ..]);
            let dcn = dcn_all.as_ref().map(|c| c.slice(s![rows.clone(), .., ..]));
            let g = stack.backward(dout3, Some(dhn), dcn)?;
            dh0.slice_mut(s![rows.clone(), .., ..]).assign(&g.dh0);
            if let (Some(a), Some(b)) = (dc0.as_mut(), g.dc0.as_ref()) {
                a.slice_mut(s![rows, .., ..]).assign(b);
            }
            let features = g.dx.shape()[2];
            let mut dx = g.dx.into_shape_with_order((batch * steps, features)).expect("batch-major");
            if k > 0 {
                if let Some(m) = dropout_masks.pop() {
                    mul_assign(&mut dx, &m);
                }
            }
            dout = Some(dx);
        }
        for (b, dh, dc) in passed {
            dh0.slice_mut(s![.., b, ..]).assign(&dh);
            if let (Some(a), Some(dc)) = (dc0.as_mut(), dc) {
                a.slice_mut(s![.., b, ..]).assign(&dc);
            }
        }
        let mut dx = dout.expect("at least one stack");
        if let Some(p) = perm {
            dx = gather_rows(dx.view(), p.into_iter());
        }
        Ok((dx, dh0, dc0))
    }
}

impl<F: Float> Layer<F> for RecurrentLayer<F> {
    fn class(&self) -> &'static str {
        LayerConfig::class(&self.cfg)
    }

    fn config(&self) -> Value {
        self.cfg.to_json()
    }

    fn forward(&mut self, x: LayerInput<'_, F>, ctx: &mut Ctx<'_, F>) -> Result<Tensor<F>> {
        let x = x.rows(LayerConfig::class(&self.cfg))?;
        // As Keras: an `initial_state` given in the graph wins over carried states.
        let carried = self.carried_states(x.batch())?;
        let init = ctx.init.take().or(carried);
        let init = init.as_ref().map(|s| (s.h.view(), s.c.as_ref().map(|c| c.view())));
        let out = self.run(x, ctx.mask.as_ref(), init, ctx.mode, ctx.rng)?;
        let cfg = self.cfg;
        if cfg.stateful {
            // Carried as constants: no gradient flows into the previous batch (Keras's state variables).
            self.carried = Some(States { h: out.h_n.clone(), c: out.c_n.clone() });
        }
        if cfg.return_state {
            ctx.returned = final_states(cfg.directions(), cfg.num_layers, &out.h_n, out.c_n.as_ref());
        }
        if !cfg.return_sequences {
            ctx.mask = None;
        }
        ctx.states = Some(States { h: out.h_n, c: out.c_n });
        Ok(out.y)
    }

    fn backward(&mut self, dy: Array2<F>, ctx: &mut GradCtx<F>) -> Result<Option<Array2<F>>> {
        let dstates = ctx.dstates.take().map(|s| (s.h, s.c));
        let (dx, dh0, dc0) = self.run_backward(Some(dy), dstates)?;
        ctx.dinit = Some(States { h: dh0, c: dc0 });
        Ok(Some(dx))
    }

    fn param_names(&self) -> Vec<String> {
        self.names.iter().map(|n| n.2.clone()).collect()
    }

    fn param(&self, i: usize) -> ArrayViewD<'_, F> {
        let (k, local, _) = &self.names[i];
        self.stacks[*k].param(local).expect("known slot")
    }

    fn grad(&self, i: usize) -> ArrayViewD<'_, F> {
        let (k, local, _) = &self.names[i];
        self.stacks[*k].grad(local).expect("known slot")
    }

    fn assign_param(&mut self, i: usize, value: ArrayViewD<F>) -> Result<()> {
        let (k, local, public) = &self.names[i];
        self.stacks[*k].set_param(local, value).map_err(|e| RnnError::shape(e.to_string().replacen(local.as_str(), public, 1)))
    }

    /// The stack owns its parameters; each is updated on a copy and written back.
    fn visit_params(&mut self, f: &mut ParamVisitor<'_, F>) {
        for (i, (k, local, _)) in self.names.iter().enumerate() {
            let stack = &mut self.stacks[*k];
            let mut w = stack.param(local).expect("known slot").to_owned();
            f(i, w.view_mut(), stack.grad(local).expect("known slot"));
            stack.set_param(local, w.view()).expect("same shape");
        }
    }

    fn zero_grad(&mut self) {
        self.stacks.iter_mut().for_each(|s| s.zero_grad());
    }

    fn trainable(&self) -> bool {
        self.cfg.trainable
    }

    fn set_trainable(&mut self, trainable: bool) {
        self.cfg.trainable = trainable;
    }

    /// Files written before [`RecurrentConfig::single_bias`] hold a `bias_hh`:
    /// it is added to `bias_ih` (the same outputs).
    fn folded_into(&self, param: &str) -> Option<usize> {
        let rest = param.strip_prefix("bias_hh").filter(|_| self.cfg.single_bias())?;
        let target = format!("bias_ih{rest}");
        self.names.iter().position(|n| n.2 == target)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn stateful(&self) -> bool {
        self.cfg.stateful
    }

    fn reset_states(&mut self) {
        self.carried = None;
    }

    fn fix_batch_size(&mut self, batch: usize) {
        if self.cfg.stateful {
            self.stateful_batch = Some(batch);
        }
    }

    fn state_layout(&self) -> Option<(usize, bool)> {
        (self.cfg.num_layers == 1).then(|| (self.cfg.directions(), self.cfg.cell == CellKind::Lstm))
    }

    fn set_gate_masks(&mut self, masks: Option<Vec<GateMasks<F>>>) -> Result<()> {
        let want = self.cfg.num_layers * self.cfg.directions();
        if let Some(m) = masks.as_ref().filter(|m| m.len() != want) {
            return Err(RnnError::shape(format!("masks: expected {want} (one per layer and direction), got {}", m.len())));
        }
        self.fixed_masks = masks;
        Ok(())
    }
}

/// The top layer's `[h, c]` per direction, (B, H) each (`return_state`).
pub fn final_states<F: Float>(d: usize, layers: usize, h_n: &Array3<F>, c_n: Option<&Array3<F>>) -> Vec<Array2<F>> {
    let top = (layers - 1) * d;
    let mut v = Vec::new();
    for dir in 0..d {
        v.push(h_n.slice(s![top + dir, .., ..]).to_owned());
        if let Some(c) = c_n {
            v.push(c.slice(s![top + dir, .., ..]).to_owned());
        }
    }
    v
}

/// Draws a stack's parameters with Keras's initializers, in Keras's layout
/// (kernel `(input, gates·units)`, recurrent kernel `(units, gates·units)`)
/// transposed into PyTorch's. Keras has one bias per gate (GRU with
/// `reset_after`: a second, recurrent one): it goes to `bias_ih` (and
/// `bias_hh` for that GRU), `bias_hh` is zero otherwise.
fn keras_init<F: Float>(stack: &mut Recurrent<F>, cell: CellKind, init: KerasInit, rng: &mut SplitMix64) -> Result<()> {
    for slot in stack.slots().to_vec() {
        let g = slot.shape[0];
        let values: Vec<f64> = match slot.kind {
            ParamKind::WeightIh => init.kernel.matrix(slot.shape[1], g, rng).reversed_axes().iter().copied().collect(),
            ParamKind::WeightHh => init.recurrent.matrix(slot.shape[1], g, rng).reversed_axes().iter().copied().collect(),
            ParamKind::BiasIh if cell == CellKind::Lstm && init.unit_forget_bias => {
                let h = g / 4;
                let mut v = init.bias.vector("bias_initializer", h, rng)?;
                v.extend(std::iter::repeat_n(1.0, h));
                v.extend(init.bias.vector("bias_initializer", 2 * h, rng)?);
                v
            }
            ParamKind::BiasIh => init.bias.vector("bias_initializer", g, rng)?,
            ParamKind::BiasHh if cell == CellKind::Gru => init.bias.vector("bias_initializer", g, rng)?,
            ParamKind::BiasHh | ParamKind::WeightHr => vec![0.0; g * slot.shape.iter().skip(1).product::<usize>()],
        };
        let arr = ndarray::ArrayD::from_shape_vec(slot.shape.clone(), values.into_iter().map(F::from_f64).collect()).expect("slot shape");
        stack.set_param(&slot.name, arr.view())?;
    }
    Ok(())
}

/// Row permutation that reverses the valid steps of each sequence (an
/// involution: it is its own inverse).
fn reverse_valid_steps(batch: usize, steps: usize, spans: Option<&[(usize, usize)]>) -> Vec<usize> {
    let mut p = Vec::with_capacity(batch * steps);
    for b in 0..batch {
        let (s, e) = spans.map_or((0, steps), |sp| sp[b]);
        p.extend((0..steps).map(|t| b * steps + if s <= t && t < e { s + e - 1 - t } else { t }));
    }
    p
}

/// Combines the `(rows, 2H)` directions per `merge_mode`; returns the output
/// and, for `mul`, the halves that backward needs.
#[allow(clippy::type_complexity)]
fn merge<F: Float>(cfg: RecurrentConfig, both: Array2<F>, keep: bool) -> (Array2<F>, Option<(Array2<F>, Array2<F>)>) {
    if !cfg.bidirectional || cfg.merge_mode == MergeMode::Concat {
        return (both, None);
    }
    let h = cfg.units;
    let fw = both.slice(s![.., ..h]);
    let bw = both.slice(s![.., h..]);
    match cfg.merge_mode {
        MergeMode::Sum => (&fw + &bw, None),
        MergeMode::Ave => ((&fw + &bw) * F::from_f64(0.5), None),
        MergeMode::Mul => (&fw * &bw, keep.then(|| (fw.to_owned(), bw.to_owned()))),
        MergeMode::Concat => unreachable!("handled above"),
    }
}

fn unmerge<F: Float>(cfg: RecurrentConfig, dy: Array2<F>, halves: Option<(Array2<F>, Array2<F>)>) -> Array2<F> {
    if !cfg.bidirectional || cfg.merge_mode == MergeMode::Concat {
        return dy;
    }
    let h = cfg.units;
    let mut both = Array2::<F>::zeros((dy.nrows(), 2 * h));
    let (mut a, mut b) = both.view_mut().split_at(Axis(1), h);
    match cfg.merge_mode {
        MergeMode::Sum => {
            a.assign(&dy);
            b.assign(&dy);
        }
        MergeMode::Ave => {
            let half = &dy * F::from_f64(0.5);
            a.assign(&half);
            b.assign(&half);
        }
        MergeMode::Mul => {
            let (fw, bw) = halves.expect("kept for mul");
            a.assign(&(&dy * &bw));
            b.assign(&(&dy * &fw));
        }
        MergeMode::Concat => unreachable!("handled above"),
    }
    both
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(class: &str, config: Value, input_size: usize) -> RecurrentLayer<f64> {
        let cfg = RecurrentConfig::parse(class, &mut Obj::new("rnn", &config).unwrap()).unwrap();
        RecurrentLayer::new(RecurrentConfig { input_size, ..cfg }, 5).unwrap()
    }

    fn run(l: &mut RecurrentLayer<f64>, x: &Array2<f64>, steps: usize, mode: Mode) -> Array2<f64> {
        // The same seed every call: the same dropout masks.
        l.run(Tensor::new(x.clone(), Some(steps)), None, None, mode, &mut SplitMix64::new(9)).unwrap().y.data
    }

    #[test]
    fn keras_input_dropout_is_one_mask_per_sequence_and_matches_finite_differences() {
        let (batch, steps, features) = (3, 4, 5);
        let mut rng = SplitMix64::new(2);
        let x = Array2::from_shape_simple_fn((batch * steps, features), || rng.uniform(-1.0, 1.0));
        for (class, go_backwards) in [("LSTM", false), ("GRU", true), ("SimpleRNN", false)] {
            let config = json!({"units": 3, "return_sequences": true, "dropout": 0.5, "go_backwards": go_backwards});
            let mut l = layer(class, config, features);
            let y = run(&mut l, &x, steps, Mode::Train);
            let w = Array2::from_shape_simple_fn(y.raw_dim(), || rng.uniform(-1.0, 1.0));
            let (dx, _, _) = l.run_backward(Some(w.clone()), None).unwrap();
            // Each sequence drops the same features at every step, and some are dropped.
            let mut dropped = 0;
            for b in 0..batch {
                let zero = |t: usize| (0..features).map(|i| dx[[b * steps + t, i]] == 0.0).collect::<Vec<_>>();
                assert!((1..steps).all(|t| zero(t) == zero(0)), "{class}: the mask changes within sequence {b}");
                dropped += zero(0).iter().filter(|z| **z).count();
            }
            assert!(dropped > 0 && dropped < batch * features, "{class}: {dropped} dropped");
            let eps = 1e-6;
            for k in 0..x.len() {
                let mut loss_at = |d: f64| {
                    let mut xp = x.clone();
                    xp.as_slice_mut().unwrap()[k] += d;
                    (run(&mut l, &xp, steps, Mode::Train) * &w).sum()
                };
                let num = (loss_at(eps) - loss_at(-eps)) / (2.0 * eps);
                let got = dx.as_slice().unwrap()[k];
                assert!((num - got).abs() < 1e-7, "{class} dx[{k}]: analytic {got}, numeric {num}");
            }
            // Off outside training.
            let mut plain = layer(class, json!({"units": 3, "return_sequences": true, "go_backwards": go_backwards}), features);
            assert_eq!(run(&mut l, &x, steps, Mode::Infer), run(&mut plain, &x, steps, Mode::Infer));
        }
    }

    /// Random masks, 0 or 1/(1-rate), for every layer and direction of `l`
    /// (with `dropout` alone: one input mask per direction, (1, B, I)).
    fn random_masks(l: &RecurrentLayer<f64>, batch: usize, rng: &mut SplitMix64) -> Vec<GateMasks<f64>> {
        let cfg = l.cfg;
        let g = if cfg.recurrent_dropout > 0.0 { cfg.cell.gates() } else { 1 };
        if cfg.recurrent_dropout == 0.0 {
            let mut draw =
                || Array3::from_shape_simple_fn((1, batch, cfg.input_size), || if rng.next_f64() < 0.3 { 0.0 } else { 1.0 / 0.7 });
            let no_recurrent = Array3::zeros((0, batch, cfg.units));
            return (0..cfg.num_layers * cfg.directions())
                .map(|_| GateMasks { recurrent: no_recurrent.clone(), input: Some(draw()) })
                .collect();
        }
        let mut draw = |cols: usize| Array3::from_shape_simple_fn((g, batch, cols), || if rng.next_f64() < 0.3 { 0.0 } else { 1.0 / 0.7 });
        let mut v = Vec::new();
        for layer in 0..cfg.num_layers {
            for _ in 0..cfg.directions() {
                let width = if layer == 0 { cfg.input_size } else { cfg.directions() * cfg.units };
                let input = (layer == 0 && cfg.dropout > 0.0).then(|| draw(width));
                v.push(GateMasks { recurrent: draw(cfg.units), input });
            }
        }
        v
    }

    #[test]
    fn recurrent_dropout_with_fixed_masks_matches_finite_differences() {
        let (batch, steps, features) = (3, 4, 3);
        let mut rng = SplitMix64::new(7);
        let x = Array2::from_shape_simple_fn((batch * steps, features), || rng.uniform(-1.0, 1.0));
        // Sequence 1 is right-padded (2 valid steps), sequence 2 left-padded (3).
        let mask = Mask { spans: vec![(0, steps), (0, 2), (1, steps)], steps };
        let cases = [
            ("LSTM", json!({"units": 3, "return_sequences": true, "dropout": 0.3, "recurrent_dropout": 0.4})),
            ("LSTM", json!({"units": 2, "bidirectional": true, "recurrent_dropout": 0.4, "activation": "relu"})),
            ("GRU", json!({"units": 3, "return_sequences": true, "dropout": 0.3, "recurrent_dropout": 0.4})),
            ("GRU", json!({"units": 2, "reset_after": false, "dropout": 0.3, "recurrent_dropout": 0.4, "go_backwards": true})),
            ("GRU", json!({"units": 2, "num_layers": 2, "bidirectional": true, "dropout": 0.3, "recurrent_dropout": 0.4})),
            ("GRU", json!({"units": 2, "num_layers": 2, "layer_dropout": 0.2, "recurrent_dropout": 0.4, "return_sequences": true})),
            ("SimpleRNN", json!({"units": 3, "return_sequences": true, "dropout": 0.3, "recurrent_dropout": 0.4})),
            // Keras's `dropout` alone: one input mask per direction.
            ("LSTM", json!({"units": 2, "bidirectional": true, "dropout": 0.4, "return_sequences": true})),
            ("GRU", json!({"units": 2, "bidirectional": true, "dropout": 0.4, "reset_after": false, "go_backwards": true})),
            ("GRU", json!({"units": 2, "num_layers": 2, "bidirectional": true, "dropout": 0.4})),
            (
                "SimpleRNN",
                json!({"units": 2, "num_layers": 2, "bidirectional": true, "dropout": 0.4, "layer_dropout": 0.2, "return_sequences": true}),
            ),
        ];
        for (class, config) in cases {
            let mut l = layer(class, config.clone(), features);
            let masks = random_masks(&l, batch, &mut rng);
            l.set_gate_masks(Some(masks)).unwrap();
            let n_states = l.cfg.num_layers * l.cfg.directions();
            let h0 = Array3::from_shape_simple_fn((n_states, batch, l.cfg.units), || rng.uniform(-0.5, 0.5));
            let c0 = (class == "LSTM").then(|| Array3::from_shape_simple_fn(h0.raw_dim(), || rng.uniform(-0.5, 0.5)));
            let forward = |l: &mut RecurrentLayer<f64>, x: &Array2<f64>, h0: &Array3<f64>| {
                let init = Some((h0.view(), c0.as_ref().map(|c| c.view())));
                let mut r = SplitMix64::new(9); // the same layer_dropout masks every call
                l.run(Tensor::new(x.clone(), Some(steps)), Some(&mask), init, Mode::Train, &mut r).unwrap()
            };
            let out = forward(&mut l, &x, &h0);
            let w = Array2::from_shape_simple_fn(out.y.data.raw_dim(), || rng.uniform(-1.0, 1.0));
            let wh = Array3::from_shape_simple_fn(out.h_n.raw_dim(), || rng.uniform(-1.0, 1.0));
            let loss = |l: &mut RecurrentLayer<f64>, x: &Array2<f64>, h0: &Array3<f64>| {
                let o = forward(l, x, h0);
                (o.y.data * &w).sum() + (o.h_n * &wh).sum()
            };
            l.zero_grad();
            forward(&mut l, &x, &h0);
            let (dx, dh0, _) = l.run_backward(Some(w.clone()), Some((wh.clone(), None))).unwrap();
            let eps = 1e-6;
            let check = |what: String, got: f64, plus: f64, minus: f64| {
                let num = (plus - minus) / (2.0 * eps);
                assert!((num - got).abs() < 1e-6 * (1.0 + num.abs()), "{class} {config}: {what}: analytic {got}, numeric {num}");
            };
            for k in 0..x.len() {
                let mut xp = x.clone();
                xp.as_slice_mut().unwrap()[k] += eps;
                let mut xm = x.clone();
                xm.as_slice_mut().unwrap()[k] -= eps;
                check(format!("dx[{k}]"), dx.as_slice().unwrap()[k], loss(&mut l, &xp, &h0), loss(&mut l, &xm, &h0));
            }
            for k in 0..h0.len() {
                let mut hp = h0.clone();
                hp.as_slice_mut().unwrap()[k] += eps;
                let mut hm = h0.clone();
                hm.as_slice_mut().unwrap()[k] -= eps;
                check(format!("dh0[{k}]"), dh0.as_slice().unwrap()[k], loss(&mut l, &x, &hp), loss(&mut l, &x, &hm));
            }
            for i in 0..l.param_names().len() {
                let grad = l.grad(i).to_owned();
                let base = l.param(i).to_owned();
                for k in 0..base.len() {
                    let mut at = |d: f64| {
                        let mut p = base.clone();
                        p.as_slice_mut().unwrap()[k] += d;
                        l.assign_param(i, p.view()).unwrap();
                        loss(&mut l, &x, &h0)
                    };
                    let (plus, minus) = (at(eps), at(-eps));
                    check(format!("{}[{k}]", l.param_names()[i]), grad.as_slice().unwrap()[k], plus, minus);
                }
                l.assign_param(i, base.view()).unwrap();
            }
        }
    }

    #[test]
    fn bidirectional_input_dropout_masks_each_direction_own_input() {
        // Keras's `Bidirectional` copies the layer: direction k of the masked
        // layer is direction k of the plain one run on x * m_k.
        let (batch, steps, features) = (3, 4, 5);
        let mut rng = SplitMix64::new(11);
        let x = Array2::from_shape_simple_fn((batch * steps, features), || rng.uniform(-1.0, 1.0));
        for class in ["LSTM", "GRU", "SimpleRNN"] {
            let config = json!({"units": 3, "bidirectional": true, "return_sequences": true});
            let mut plain = layer(class, config.clone(), features);
            let mut masked = layer(class, json!({"units": 3, "bidirectional": true, "return_sequences": true, "dropout": 0.4}), features);
            let masks = random_masks(&masked, batch, &mut rng);
            masked.set_gate_masks(Some(masks.clone())).unwrap();
            let y = run(&mut masked, &x, steps, Mode::Train);
            for (dir, m) in masks.iter().enumerate() {
                let m = m.input.as_ref().unwrap().index_axis(Axis(0), 0).to_owned();
                let xm = Array2::from_shape_fn(x.raw_dim(), |(r, i)| x[[r, i]] * m[[r / steps, i]]);
                let want = run(&mut plain, &xm, steps, Mode::Infer);
                let cols = s![.., dir * 3..(dir + 1) * 3];
                assert!((&y.slice(cols) - &want.slice(cols)).iter().all(|d| d.abs() < 1e-12), "{class} direction {dir}");
            }
        }
    }

    #[test]
    fn bidirectional_input_dropout_draws_its_own_mask_per_direction() {
        // Real masks: the gradient of one direction's outputs reaches only the
        // features its mask kept, the same ones at every step of a sequence.
        let (batch, steps, features, h) = (8, 3, 6, 4);
        let mut rng = SplitMix64::new(12);
        let x = Array2::from_shape_simple_fn((batch * steps, features), || rng.uniform(-1.0, 1.0));
        let mut l = layer("LSTM", json!({"units": h, "bidirectional": true, "return_sequences": true, "dropout": 0.5}), features);
        let kept = |l: &mut RecurrentLayer<f64>, dir: usize| {
            let y = run(l, &x, steps, Mode::Train);
            let dy = Array2::from_shape_fn(y.raw_dim(), |(_, c)| if c / h == dir { 1.0 } else { 0.0 });
            let (dx, _, _) = l.run_backward(Some(dy), None).unwrap();
            let per_step =
                |t: usize| (0..batch * features).map(|k| dx[[(k / features) * steps + t, k % features]] != 0.0).collect::<Vec<_>>();
            assert!((1..steps).all(|t| per_step(t) == per_step(0)), "direction {dir}: the mask changes within a sequence");
            per_step(0)
        };
        let (fwd, rev) = (kept(&mut l, 0), kept(&mut l, 1));
        for m in [&fwd, &rev] {
            let share = m.iter().filter(|k| !**k).count() as f64 / m.len() as f64;
            assert!((share - 0.5).abs() < 0.2, "dropped {share}");
        }
        assert_ne!(fwd, rev, "both directions drew the same mask");
        let masks = l.input_masks(batch, &mut SplitMix64::new(1)).unwrap();
        assert_eq!(masks.len(), 2);
        assert!(masks.iter().all(|m| m.shape() == [batch, features] && m.iter().all(|v| *v == 0.0 || *v == 2.0)));
        assert_ne!(masks[0], masks[1]);
    }

    #[test]
    fn recurrent_dropout_masks_of_ones_are_the_plain_layer() {
        // Masks of ones: the per-gate loop computes what the fused loop does.
        let (batch, steps, features) = (2, 5, 3);
        let mut rng = SplitMix64::new(3);
        let x = Array2::from_shape_simple_fn((batch * steps, features), || rng.uniform(-1.0, 1.0));
        for (class, extra) in [("LSTM", json!({})), ("GRU", json!({})), ("GRU", json!({"reset_after": false})), ("SimpleRNN", json!({}))] {
            let mut config = json!({"units": 4, "return_sequences": true, "bidirectional": true});
            config.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            let mut plain = layer(class, config.clone(), features);
            config["recurrent_dropout"] = 0.5.into();
            let mut masked = layer(class, config, features);
            let ones = GateMasks { recurrent: Array3::ones((masked.cfg.cell.gates(), batch, 4)), input: None };
            masked.set_gate_masks(Some(vec![ones.clone(), ones])).unwrap();
            let (a, b) = (run(&mut plain, &x, steps, Mode::Train), run(&mut masked, &x, steps, Mode::Train));
            assert!((&a - &b).iter().all(|d| d.abs() < 1e-12), "{class}");
            let dy = Array2::from_shape_simple_fn(a.raw_dim(), || rng.uniform(-1.0, 1.0));
            let (da, _, _) = plain.run_backward(Some(dy.clone()), None).unwrap();
            let (db, _, _) = masked.run_backward(Some(dy), None).unwrap();
            assert!((&da - &db).iter().all(|d| d.abs() < 1e-12), "{class} dx");
            for i in 0..plain.param_names().len() {
                assert!((&plain.grad(i) - &masked.grad(i)).iter().all(|d| d.abs() < 1e-12), "{class} {}", plain.param_names()[i]);
            }
            // Inference ignores the masks.
            assert_eq!(run(&mut plain, &x, steps, Mode::Infer), run(&mut masked, &x, steps, Mode::Infer));
        }
    }

    #[test]
    fn recurrent_dropout_draws_one_mask_per_gate_and_sequence() {
        let (batch, steps, features) = (64, 3, 5);
        let mut rng = SplitMix64::new(4);
        let x = Array2::from_shape_simple_fn((batch * steps, features), || rng.uniform(-1.0, 1.0));
        let mut l = layer("GRU", json!({"units": 16, "bidirectional": true, "recurrent_dropout": 0.25, "dropout": 0.5}), features);
        let per_stack = l.gate_masks(batch, &mut SplitMix64::new(1));
        assert_eq!(per_stack.len(), 1);
        let masks = &per_stack[0];
        assert_eq!(masks.len(), 2);
        for m in masks {
            assert_eq!(m.recurrent.shape(), [3, batch, 16]);
            let dropped = m.recurrent.iter().filter(|v| **v == 0.0).count() as f64 / m.recurrent.len() as f64;
            assert!((dropped - 0.25).abs() < 0.04, "{dropped}");
            assert!(m.recurrent.iter().all(|v| *v == 0.0 || (*v - 1.0 / 0.75).abs() < 1e-15));
            let input = m.input.as_ref().expect("dropout > 0");
            assert_eq!(input.shape(), [3, batch, features]);
            assert!(input.iter().all(|v| *v == 0.0 || *v == 2.0));
        }
        // Each gate and each direction its own mask.
        assert_ne!(masks[0].recurrent.index_axis(Axis(0), 0), masks[0].recurrent.index_axis(Axis(0), 1));
        assert_ne!(masks[0].recurrent, masks[1].recurrent);
        // The layer runs with them, and differently from without.
        let a = run(&mut l, &x, steps, Mode::Train);
        assert_ne!(a, run(&mut l, &x, steps, Mode::Infer));
    }

    #[test]
    fn keras_default_initializers_and_unit_forget_bias() {
        let (units, input) = (16, 7);
        let l = layer("LSTM", json!({"units": units}), input);
        let stack = &l.stacks()[0];
        let w_hh = stack.param("weight_hh_l0").unwrap().into_dimensionality::<ndarray::Ix2>().unwrap().to_owned();
        // Keras's recurrent kernel (units, 4·units) is orthogonal: its rows, our columns, are orthonormal.
        assert!((w_hh.t().dot(&w_hh) - Array2::<f64>::eye(units)).iter().all(|v| v.abs() < 1e-12));
        let w_ih = stack.param("weight_ih_l0").unwrap();
        let limit = (6.0 / (input + 4 * units) as f64).sqrt();
        assert!(w_ih.iter().all(|v| v.abs() <= limit) && w_ih.iter().any(|v| v.abs() > limit * 0.9));
        let b = stack.param("bias_ih_l0").unwrap();
        assert!(b.iter().enumerate().all(|(i, v)| *v == f64::from(u8::from((units..2 * units).contains(&i)))));
        assert!(stack.param("bias_hh_l0").unwrap().iter().all(|v| *v == 0.0));
        // Keras's one bias: bias_hh is a constant zero outside the parameters, read from older files into bias_ih.
        assert_eq!(l.param_names(), ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0"]);
        assert_eq!(l.folded_into("bias_hh_l0"), Some(2));
        assert_eq!(l.folded_into("bias_ih_l0"), None);
        let two = layer("SimpleRNN", json!({"units": 2, "bidirectional": true}), 3);
        assert_eq!(
            two.param_names(),
            ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse"]
        );
        assert_eq!(two.folded_into("bias_hh_l0_reverse"), Some(5));
        let gru = |after: bool| layer("GRU", json!({"units": 2, "reset_after": after}), 3).param_names().len();
        assert_eq!((gru(true), gru(false)), (4, 3));
        let no_bias = layer("GRU", json!({"units": 4, "use_bias": false, "unit_forget_bias": false}), 3);
        assert_eq!(no_bias.param_names(), ["weight_ih_l0", "weight_hh_l0"]);
        let e = RecurrentConfig::parse("LSTM", &mut Obj::new("lstm", &json!({"units": 2, "kernel_initializer": "xavier"})).unwrap());
        assert!(e.unwrap_err().to_string().contains("lstm.kernel_initializer"));
    }
}
