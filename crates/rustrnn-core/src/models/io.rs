//! What passes between a model and the training loop: a batch of inputs,
//! the output of a forward pass, and the gradient entering the last layer.

use super::spec::InputSpec;
use crate::error::{fmt_shape, Result, RnnError};
use crate::float::Float;
use crate::nn::{Activation, LayerInput, Mask, Tensor};
use ndarray::{Array2, ArrayView2, ArrayViewD, Ix2, Ix3};

/// A batch of model inputs.
#[derive(Debug)]
pub enum Input<'a, F> {
    /// Token indices (B, T) for a model starting with an `Embedding`.
    Indices(ArrayView2<'a, i64>),
    /// Features (B, T, I) or (B, I).
    Features(ArrayViewD<'a, F>),
    /// Source and decoder-input indices of an encoder-decoder.
    Pair(ArrayView2<'a, i64>, ArrayView2<'a, i64>),
    /// One array per input of a functional model, in its inputs' order.
    Many(Vec<Input<'a, F>>),
}

impl<F> Clone for Input<'_, F> {
    fn clone(&self) -> Self {
        match self {
            Input::Indices(x) => Input::Indices(*x),
            Input::Features(x) => Input::Features(x.clone()),
            Input::Pair(a, b) => Input::Pair(*a, *b),
            Input::Many(v) => Input::Many(v.clone()),
        }
    }
}

impl<F> Input<'_, F> {
    pub fn batch(&self) -> usize {
        match self {
            Input::Indices(x) | Input::Pair(x, _) => x.nrows(),
            Input::Features(x) => x.shape().first().copied().unwrap_or(0),
            Input::Many(v) => v.first().map_or(0, Input::batch),
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
    /// The outputs after the first of a functional model.
    pub outputs: Vec<Tensor<F>>,
    /// What a loss reads of each of `outputs` besides its rows (in the same order).
    pub heads: Vec<Head<F>>,
}

/// A functional model's output after the first, as its loss reads it.
#[derive(Debug)]
pub struct Head<F> {
    /// The pre-activation of a final sigmoid or softmax `Dense` (for fused losses).
    pub logits: Option<Array2<F>>,
    pub activation: Activation,
    pub mask: Option<Mask>,
}

/// Gradient entering the last layer.
#[derive(Debug)]
pub enum OutGrad<F> {
    /// Of the output.
    Output(Array2<F>),
    /// Of the last `Dense` layer's pre-activation.
    Logits(Array2<F>),
    /// One per output of a functional model trained on several (`None`: no loss reads it).
    Many(Vec<Option<OutGrad<F>>>),
}

impl<F> OutGrad<F> {
    /// The gradient of a model's one output and whether it is of logits.
    pub fn single(self) -> Result<(Array2<F>, bool)> {
        match self {
            OutGrad::Output(d) => Ok((d, false)),
            OutGrad::Logits(d) => Ok((d, true)),
            OutGrad::Many(_) => Err(RnnError::value("backward: a gradient per output, but the model has one output")),
        }
    }
}

/// The input `arg` as the first layer reads it, checked against `spec`.
pub fn read_input<'a, F: Float>(spec: InputSpec, input: Input<'a, F>, arg: &str) -> Result<LayerInput<'a, F>> {
    match (spec, input) {
        (InputSpec::Indices { .. }, Input::Indices(x)) => Ok(LayerInput::Indices(x)),
        (InputSpec::Features { features, sequence, .. }, Input::Features(x)) => {
            let want = if sequence { "(batch, time, features)" } else { "(batch, features)" };
            let got = fmt_shape(x.shape());
            let bad = || RnnError::shape(format!("{arg}: expected shape {want} with {features} features, got {got}"));
            let last = *x.shape().last().ok_or_else(bad)?;
            if last != features || x.ndim() != if sequence { 3 } else { 2 } || x.is_empty() {
                return Err(bad());
            }
            let t = if sequence {
                let x3 = x.into_dimensionality::<Ix3>().map_err(|_| bad())?;
                let (b, t, f) = x3.dim();
                let rows = x3.as_standard_layout().into_owned().into_shape_with_order((b * t, f)).expect("standard");
                Tensor::new(rows, Some(t))
            } else {
                Tensor::new(x.into_dimensionality::<Ix2>().map_err(|_| bad())?.to_owned(), None)
            };
            Ok(LayerInput::Rows(t))
        }
        (InputSpec::Indices { .. }, _) => Err(RnnError::value(format!("{arg}: this input is integer indices (batch, time)"))),
        (InputSpec::Features { .. }, _) => Err(RnnError::value(format!("{arg}: this input is float features, got integer indices"))),
    }
}
