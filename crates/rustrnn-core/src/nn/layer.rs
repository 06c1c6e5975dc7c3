//! One layer of a model, whatever its kind, with the parameter interface the
//! optimizers and the model file use: named tensors, their gradients, and an
//! in-place update visitor.

use super::dense::Dense;
use super::dropout::Dropout;
use super::embedding::Embedding;
use super::masking::Masking;
use super::recurrent_layer::RecurrentLayer;
use crate::error::{fmt_shape, Result, RnnError};
use crate::float::Float;
use ndarray::{ArrayViewD, ArrayViewMutD};

/// Called as `f(index, parameter, gradient)` for each parameter of a layer.
pub type ParamVisitor<'a, F> = dyn FnMut(usize, ArrayViewMutD<F>, ArrayViewD<F>) + 'a;

#[derive(Debug)]
pub enum LayerKind<F> {
    Embedding(Embedding<F>),
    Recurrent(RecurrentLayer<F>),
    Dense(Dense<F>),
    Dropout(Dropout<F>),
    Masking(Masking),
}

#[derive(Debug)]
pub struct Layer<F> {
    /// Unique within the model, e.g. `lstm_1`; parameters are `name/param`.
    pub name: String,
    pub kind: LayerKind<F>,
}

impl<F: Float> Layer<F> {
    pub fn param_names(&self) -> Vec<String> {
        match &self.kind {
            LayerKind::Embedding(l) => l.param_names(),
            LayerKind::Recurrent(l) => l.param_names(),
            LayerKind::Dense(l) => l.param_names(),
            LayerKind::Dropout(_) | LayerKind::Masking(_) => Vec::new(),
        }
    }

    pub fn param(&self, i: usize) -> ArrayViewD<'_, F> {
        match &self.kind {
            LayerKind::Embedding(l) => l.param(),
            LayerKind::Recurrent(l) => l.param(i),
            LayerKind::Dense(l) => l.param(i),
            LayerKind::Dropout(_) | LayerKind::Masking(_) => unreachable!("no parameters"),
        }
    }

    pub fn grad(&self, i: usize) -> ArrayViewD<'_, F> {
        match &self.kind {
            LayerKind::Embedding(l) => l.grad(),
            LayerKind::Recurrent(l) => l.grad(i),
            LayerKind::Dense(l) => l.grad(i),
            LayerKind::Dropout(_) | LayerKind::Masking(_) => unreachable!("no parameters"),
        }
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
        match &mut self.kind {
            LayerKind::Embedding(l) => l.weight_mut().assign(&value),
            LayerKind::Recurrent(l) => l.set_param(i, value)?,
            LayerKind::Dense(l) => l.param_mut(i).assign(&value),
            LayerKind::Dropout(_) | LayerKind::Masking(_) => unreachable!("no parameters"),
        }
        Ok(())
    }

    /// Whether the optimizer updates this layer's parameters.
    pub fn trainable(&self) -> bool {
        match &self.kind {
            LayerKind::Embedding(l) => l.trainable,
            LayerKind::Recurrent(l) => l.cfg.trainable,
            LayerKind::Dense(l) => l.trainable,
            LayerKind::Dropout(_) | LayerKind::Masking(_) => false,
        }
    }

    /// Freezes (`false`) or unfreezes the layer's parameters.
    pub fn set_trainable(&mut self, trainable: bool) {
        match &mut self.kind {
            LayerKind::Embedding(l) => l.trainable = trainable,
            LayerKind::Recurrent(l) => l.cfg.trainable = trainable,
            LayerKind::Dense(l) => l.trainable = trainable,
            LayerKind::Dropout(_) | LayerKind::Masking(_) => {}
        }
    }

    /// Calls `f(i, parameter, gradient)` for each parameter.
    pub fn update(&mut self, f: &mut ParamVisitor<'_, F>) {
        match &mut self.kind {
            LayerKind::Embedding(l) => l.update(f),
            LayerKind::Recurrent(l) => l.update(f),
            LayerKind::Dense(l) => l.update(f),
            LayerKind::Dropout(_) | LayerKind::Masking(_) => {}
        }
    }

    pub fn zero_grad(&mut self) {
        match &mut self.kind {
            LayerKind::Embedding(l) => l.zero_grad(),
            LayerKind::Recurrent(l) => l.zero_grad(),
            LayerKind::Dense(l) => l.zero_grad(),
            LayerKind::Dropout(_) | LayerKind::Masking(_) => {}
        }
    }

    pub fn num_params(&self) -> usize {
        (0..self.param_names().len()).map(|i| self.param(i).len()).sum()
    }
}

/// `(layer, index)` of the parameter called `name` (`layer/param`).
pub fn find_param<F: Float>(layers: &[Layer<F>], name: &str) -> Result<(usize, usize)> {
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

/// Every parameter as `layer/param`, in model order.
pub fn all_param_names<F: Float>(layers: &[Layer<F>]) -> Vec<String> {
    layers.iter().flat_map(|l| l.param_names().into_iter().map(move |p| format!("{}/{p}", l.name))).collect()
}
