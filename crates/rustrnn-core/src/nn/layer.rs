//! The layer protocol: what every layer of a model is to its container, the
//! optimizers and the model file. A layer reads its input and a [`Ctx`]
//! (mode, dropout generator, mask, recurrent states), returns its output and
//! keeps what its backward needs; backward turns the gradient of the output
//! into the gradient of the input and accumulates its parameters' gradients.
//! Parameters are named tensors (`kernel`, `weight_ih_l0`, ...).

use super::activation::Activation;
use super::tensor::{Mask, Memory, Tensor};
use crate::error::{fmt_shape, Result, RnnError};
use crate::float::Float;
use crate::recurrent::GateMasks;
use crate::rng::SplitMix64;
use ndarray::{Array2, Array3, ArrayView2, ArrayViewD, ArrayViewMutD};
use serde_json::Value;
use std::any::Any;
use std::fmt::Debug;

/// Called as `f(index, parameter, gradient)` for each parameter of a layer.
pub type ParamVisitor<'a, F> = dyn FnMut(usize, ArrayViewMutD<F>, ArrayViewD<F>) + 'a;

/// What a forward pass is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Keep caches for backward, dropout on.
    Train,
    /// Keep caches, dropout off (gradient checks).
    Grad,
    /// Inference: nothing kept, dropout off.
    Infer,
}

impl Mode {
    /// Whether layers keep what backward needs.
    pub fn keep(self) -> bool {
        self != Mode::Infer
    }
}

/// States of a recurrent layer, `(L·D, B, H)`: h, and c for an LSTM.
#[derive(Debug, Clone)]
pub struct States<F> {
    pub h: Array3<F>,
    pub c: Option<Array3<F>>,
}

/// What enters a layer: token indices (B, T) for an `Embedding`, else rows.
#[derive(Debug)]
pub enum LayerInput<'a, F> {
    Indices(ArrayView2<'a, i64>),
    Rows(Tensor<F>),
}

impl<'a, F: Float> LayerInput<'a, F> {
    /// The rows, or an error for a layer (`class`) that cannot read indices.
    pub fn rows(self, class: &str) -> Result<Tensor<F>> {
        match self {
            LayerInput::Rows(t) => Ok(t),
            LayerInput::Indices(_) => Err(RnnError::value(format!("{class}: expected float rows, got integer indices"))),
        }
    }

    pub fn indices(self, class: &str) -> Result<ArrayView2<'a, i64>> {
        match self {
            LayerInput::Indices(x) => Ok(x),
            LayerInput::Rows(_) => Err(RnnError::value(format!("{class}: expected integer indices (batch, time), got float rows"))),
        }
    }
}

/// What travels with the activations through one forward pass.
#[derive(Debug)]
pub struct Ctx<'a, F> {
    pub mode: Mode,
    /// Draws dropout masks.
    pub rng: &'a mut SplitMix64,
    /// Valid steps of the current sequence: set by `Embedding(mask_zero)` and
    /// `Masking`, cleared by a layer whose output is not a sequence.
    pub mask: Option<Mask>,
    /// Set by the container before its last layer: the loss may then read
    /// that layer's pre-activation.
    pub last: bool,
    /// Set by a last `Dense`: its activation, and for sigmoid or softmax a
    /// copy of its pre-activation (for losses fused with it).
    pub activation: Activation,
    pub logits: Option<Array2<F>>,
    /// The initial state of the next recurrent layer (taken by it).
    pub init: Option<States<F>>,
    /// The final states of the last recurrent layer that ran.
    pub states: Option<States<F>>,
    /// `return_state` outputs: h (and c) per direction of the top layer, (B, H).
    pub returned: Vec<Array2<F>>,
    /// What an `Attention` layer attends over (set by an encoder-decoder).
    pub memory: Option<Memory<F>>,
}

impl<'a, F> Ctx<'a, F> {
    pub fn new(mode: Mode, rng: &'a mut SplitMix64) -> Self {
        Ctx {
            mode,
            rng,
            mask: None,
            last: false,
            activation: Activation::Linear,
            logits: None,
            init: None,
            states: None,
            returned: Vec::new(),
            memory: None,
        }
    }

    pub fn keep(&self) -> bool {
        self.mode.keep()
    }
}

/// What travels with the gradient through one backward pass.
#[derive(Debug)]
pub struct GradCtx<F> {
    /// The gradient entering the (last) layer is of its pre-activation;
    /// cleared by the layer that reads it.
    pub logits: bool,
    /// Gradient of the final states of the next recurrent layer (taken by it).
    pub dstates: Option<States<F>>,
    /// Gradient of the initial states, set by a recurrent layer.
    pub dinit: Option<States<F>>,
    /// Gradient of the memory (B·S, H), set by an `Attention` layer.
    pub dmemory: Option<Array2<F>>,
}

impl<F> GradCtx<F> {
    pub fn new(logits: bool) -> Self {
        GradCtx { logits, dstates: None, dinit: None, dmemory: None }
    }
}

/// One layer of a model. A new layer is one file implementing this (and
/// [`LayerConfig`](super::config::LayerConfig) for its spec) plus one registry line.
pub trait Layer<F: Float>: Debug + Send + Sync {
    /// The Keras class name (`Dense`, `LSTM`).
    fn class(&self) -> &'static str;

    /// The `config` object of the model spec that rebuilds this layer.
    fn config(&self) -> Value;

    fn forward(&mut self, x: LayerInput<'_, F>, ctx: &mut Ctx<'_, F>) -> Result<Tensor<F>>;

    /// From the gradient of the output, accumulates parameter gradients and
    /// returns the gradient of the input (`None` when the input was indices).
    fn backward(&mut self, dy: Array2<F>, ctx: &mut GradCtx<F>) -> Result<Option<Array2<F>>>;

    /// Parameter names, in the order of [`Layer::param`].
    fn param_names(&self) -> Vec<String> {
        Vec::new()
    }

    fn param(&self, i: usize) -> ArrayViewD<'_, F> {
        unreachable!("{} has no parameter {i}", self.class())
    }

    fn grad(&self, i: usize) -> ArrayViewD<'_, F> {
        unreachable!("{} has no parameter {i}", self.class())
    }

    /// Copies `value` (of the right shape: the caller checked) into parameter `i`.
    fn assign_param(&mut self, i: usize, _value: ArrayViewD<F>) -> Result<()> {
        unreachable!("{} has no parameter {i}", self.class())
    }

    /// Calls `f(i, parameter, gradient)` for each parameter.
    fn visit_params(&mut self, _f: &mut ParamVisitor<'_, F>) {}

    fn zero_grad(&mut self) {}

    /// Whether the optimizer updates this layer's parameters.
    fn trainable(&self) -> bool {
        false
    }

    fn set_trainable(&mut self, _trainable: bool) {}

    /// For code that compiles specific layers (step-by-step generation).
    fn as_any(&self) -> &dyn Any;

    /// A layer with several inputs (`Concatenate`, `Attention`) as a node of a
    /// functional graph: the inputs in call order with their masks; it sets
    /// `ctx.mask` to its output's. Single-input layers keep this default.
    fn forward_many(&mut self, xs: Vec<Tensor<F>>, _masks: &[Option<Mask>], _ctx: &mut Ctx<'_, F>) -> Result<Tensor<F>> {
        Err(RnnError::value(format!("{}: takes one input, got a list of {}", self.class(), xs.len())))
    }

    /// The gradient of each input of [`Layer::forward_many`], in call order.
    fn backward_many(&mut self, _dy: Array2<F>, _ctx: &mut GradCtx<F>) -> Result<Vec<Array2<F>>> {
        Err(RnnError::state(format!("{}.backward_many: the layer takes one input", self.class())))
    }

    /// `(directions, has_c)` of a recurrent layer whose states a functional
    /// graph passes along its edges (`initial_state` in, `return_state` out):
    /// state `k` is h (then c, when `has_c`) of direction `k / per`, (B, H).
    fn state_layout(&self) -> Option<(usize, bool)> {
        None
    }

    /// Whether the layer carries states from one batch to the next (Keras's `stateful`).
    fn stateful(&self) -> bool {
        false
    }

    /// Keras's `reset_states` of a `stateful` layer: forgets the states
    /// carried from the last batch.
    fn reset_states(&mut self) {}

    /// A `stateful` layer's batch size, declared by the model's input
    /// (`Input(batch_size=...)`); otherwise the first batch fixes it.
    fn fix_batch_size(&mut self, _batch: usize) {}

    /// A parameter this layer no longer has but still reads from older files
    /// by adding it to parameter `i` (a Keras-style recurrent layer's
    /// `bias_hh`, folded into its one bias): `Some(i)`.
    fn folded_into(&self, _param: &str) -> Option<usize> {
        None
    }

    /// Test hook: dropout masks (one per layer and direction) that a
    /// recurrent layer uses in training instead of drawing them (with
    /// `dropout` alone: no recurrent mask, 0 gates, and one input mask,
    /// 1 gate); `None` draws again. An error for any other layer.
    fn set_gate_masks(&mut self, _masks: Option<Vec<GateMasks<F>>>) -> Result<()> {
        Err(RnnError::value(format!("{}: has no recurrent dropout masks (not a recurrent layer)", self.class())))
    }
}

/// A layer with its name in the model, unique, e.g. `lstm_1`; its
/// parameters are `name/param`.
#[derive(Debug)]
pub struct NamedLayer<F> {
    pub name: String,
    pub layer: Box<dyn Layer<F>>,
}

impl<F: Float> NamedLayer<F> {
    pub fn new(name: impl Into<String>, layer: Box<dyn Layer<F>>) -> Self {
        NamedLayer { name: name.into(), layer }
    }

    pub fn param_names(&self) -> Vec<String> {
        self.layer.param_names()
    }

    pub fn param(&self, i: usize) -> ArrayViewD<'_, F> {
        self.layer.param(i)
    }

    pub fn grad(&self, i: usize) -> ArrayViewD<'_, F> {
        self.layer.grad(i)
    }

    /// Copies `value` into parameter `i` after checking its shape.
    pub fn set_param(&mut self, i: usize, value: ArrayViewD<F>) -> Result<()> {
        let want = self.param(i).shape().to_vec();
        if value.shape() != want.as_slice() {
            return Err(RnnError::shape(format!(
                "{}/{}: expected shape {}, got {}",
                self.name,
                self.param_names()[i],
                fmt_shape(&want),
                fmt_shape(value.shape())
            )));
        }
        self.layer.assign_param(i, value)
    }

    pub fn trainable(&self) -> bool {
        self.layer.trainable()
    }

    pub fn set_trainable(&mut self, trainable: bool) {
        self.layer.set_trainable(trainable)
    }

    pub fn update(&mut self, f: &mut ParamVisitor<'_, F>) {
        self.layer.visit_params(f)
    }

    pub fn zero_grad(&mut self) {
        self.layer.zero_grad()
    }

    pub fn num_params(&self) -> usize {
        (0..self.param_names().len()).map(|i| self.param(i).len()).sum()
    }
}

/// `(layer, index)` of the parameter called `name` (`layer/param`).
pub fn find_param<F: Float>(layers: &[NamedLayer<F>], name: &str) -> Result<(usize, usize)> {
    if let Some((layer, param)) = name.split_once('/') {
        if let Some(li) = layers.iter().position(|l| l.name == layer) {
            if let Some(pi) = layers[li].param_names().iter().position(|p| p == param) {
                return Ok((li, pi));
            }
        }
    }
    let all: Vec<String> = all_param_names(layers);
    Err(RnnError::value(format!("name: {name:?} is not a parameter of this model; expected one of {}", all.join(", "))))
}

/// `(layer, index)` of the parameter that the no longer existing `name`
/// (`layer/param`) is added to when read, see [`Layer::folded_into`].
pub fn find_folded<F: Float>(layers: &[NamedLayer<F>], name: &str) -> Option<(usize, usize)> {
    let (layer, param) = name.split_once('/')?;
    let li = layers.iter().position(|l| l.name == layer)?;
    Some((li, layers[li].layer.folded_into(param)?))
}

/// Every parameter as `layer/param`, in model order.
pub fn all_param_names<F: Float>(layers: &[NamedLayer<F>]) -> Vec<String> {
    layers.iter().flat_map(|l| l.param_names().into_iter().map(move |p| format!("{}/{p}", l.name))).collect()
}
