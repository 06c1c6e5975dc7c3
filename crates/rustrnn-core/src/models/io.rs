//! What passes between a model and the training loop: a batch of inputs,
//! the output of a forward pass, and the gradient entering the last layer.

use crate::nn::{Activation, Mask, Tensor};
use ndarray::{Array2, ArrayView2, ArrayViewD};

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
    /// The last layer's pre-activation, when that layer is a `Dense` with a
    /// sigmoid or softmax (for losses fused with it).
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
