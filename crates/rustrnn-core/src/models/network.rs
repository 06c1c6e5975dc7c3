//! What the training loop sees of a model: inputs, a forward pass that keeps
//! what backward needs, the output gradient, and the layers holding parameters.

use super::activation::Activation;
use super::layer::Layer;
use super::seq2seq::Seq2Seq;
use super::sequential::Sequential;
use super::tensor::{Mask, Tensor};
use crate::error::Result;
use crate::float::Float;
use ndarray::{Array2, ArrayView2, ArrayViewD};

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
    pub fn keep(self) -> bool {
        self != Mode::Infer
    }
}

/// A batch of model inputs.
#[derive(Debug)]
pub enum Input<'a, F> {
    /// Token indices (B, T) for a model starting with an `Embedding`.
    Indices(ArrayView2<'a, i64>),
    /// Features (B, T, I) or (B, I).
    Features(ArrayViewD<'a, F>),
    /// Source and decoder-input indices of an encoder-decoder.
    Pair(ArrayView2<'a, i64>, ArrayView2<'a, i64>),
}

impl<F> Clone for Input<'_, F> {
    fn clone(&self) -> Self {
        match self {
            Input::Indices(x) => Input::Indices(*x),
            Input::Features(x) => Input::Features(x.clone()),
            Input::Pair(a, b) => Input::Pair(*a, *b),
        }
    }
}

impl<F> Input<'_, F> {
    pub fn batch(&self) -> usize {
        match self {
            Input::Indices(x) | Input::Pair(x, _) => x.nrows(),
            Input::Features(x) => x.shape().first().copied().unwrap_or(0),
        }
    }
}

/// Output of a forward pass.
#[derive(Debug)]
pub struct Forward<F> {
    /// The model's output rows.
    pub y: Tensor<F>,
    /// The last layer's pre-activation, when that layer is a `Dense` (for
    /// losses fused with its sigmoid or softmax).
    pub logits: Option<Array2<F>>,
    pub activation: Activation,
    /// Valid steps of a sequence output.
    pub mask: Option<Mask>,
    /// `return_state` of a final recurrent layer: h (and c) per direction, (B, H).
    pub states: Vec<Array2<F>>,
}

/// Gradient entering the last layer.
#[derive(Debug)]
pub enum OutGrad<F> {
    /// Of the output.
    Output(Array2<F>),
    /// Of the last `Dense` layer's pre-activation.
    Logits(Array2<F>),
}

/// A trainable model.
#[derive(Debug)]
pub enum Network<F> {
    Sequential(Sequential<F>),
    Seq2Seq(Seq2Seq<F>),
}

impl<F: Float> Network<F> {
    pub fn forward(&mut self, input: Input<'_, F>, mode: Mode) -> Result<Forward<F>> {
        match self {
            Network::Sequential(m) => m.forward(input, mode),
            Network::Seq2Seq(m) => m.forward(input, mode),
        }
    }

    pub fn backward(&mut self, grad: OutGrad<F>) -> Result<()> {
        match self {
            Network::Sequential(m) => m.backward(grad),
            Network::Seq2Seq(m) => m.backward(grad),
        }
    }

    pub fn layers(&self) -> &[Layer<F>] {
        match self {
            Network::Sequential(m) => &m.layers,
            Network::Seq2Seq(m) => &m.layers,
        }
    }

    pub fn layers_mut(&mut self) -> &mut [Layer<F>] {
        match self {
            Network::Sequential(m) => &mut m.layers,
            Network::Seq2Seq(m) => &mut m.layers,
        }
    }

    /// Reseeds the dropout generator.
    pub fn set_seed(&mut self, seed: u64) {
        match self {
            Network::Sequential(m) => m.set_seed(seed),
            Network::Seq2Seq(m) => m.set_seed(seed),
        }
    }

    pub fn zero_grad(&mut self) {
        self.layers_mut().iter_mut().for_each(|l| l.zero_grad());
    }
}
