//! What the training loop sees of a model: a forward pass that keeps what
//! backward needs, backward, and the layers holding parameters.

use super::functional::Functional;
use super::io::{Forward, Input, OutGrad};
use super::seq2seq::Seq2Seq;
use super::sequential::Sequential;
use crate::error::Result;
use crate::float::Float;
use crate::nn::{Mode, NamedLayer};

/// A trainable model.
#[derive(Debug)]
pub enum Network<F> {
    Sequential(Sequential<F>),
    Seq2Seq(Seq2Seq<F>),
    Functional(Functional<F>),
}

impl<F: Float> Network<F> {
    pub fn forward(&mut self, input: Input<'_, F>, mode: Mode) -> Result<Forward<F>> {
        match self {
            Network::Sequential(m) => m.forward(input, mode),
            Network::Seq2Seq(m) => m.forward(input, mode),
            Network::Functional(m) => m.forward(input, mode),
        }
    }

    pub fn backward(&mut self, grad: OutGrad<F>) -> Result<()> {
        match self {
            Network::Sequential(m) => m.backward(grad),
            Network::Seq2Seq(m) => m.backward(grad),
            Network::Functional(m) => m.backward(grad),
        }
    }

    pub fn layers(&self) -> &[NamedLayer<F>] {
        match self {
            Network::Sequential(m) => &m.layers,
            Network::Seq2Seq(m) => &m.layers,
            Network::Functional(m) => &m.layers,
        }
    }

    pub fn layers_mut(&mut self) -> &mut [NamedLayer<F>] {
        match self {
            Network::Sequential(m) => &mut m.layers,
            Network::Seq2Seq(m) => &mut m.layers,
            Network::Functional(m) => &mut m.layers,
        }
    }

    /// Reseeds the dropout generator.
    pub fn set_seed(&mut self, seed: u64) {
        match self {
            Network::Sequential(m) => m.set_seed(seed),
            Network::Seq2Seq(m) => m.set_seed(seed),
            Network::Functional(m) => m.set_seed(seed),
        }
    }

    pub fn zero_grad(&mut self) {
        self.layers_mut().iter_mut().for_each(|l| l.zero_grad());
    }
}
