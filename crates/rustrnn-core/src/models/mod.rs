//! Whole models on top of the recurrent stack: Keras-style layers, a
//! sequential container and an encoder-decoder, losses, metrics, optimizers,
//! the training step, step-by-step generation and the model file format.
//!
//! Data between layers is a [`Tensor`]: rows of features, one row per batch
//! element, or per (batch element, time step) for sequences. A [`Mask`] (from
//! `Embedding(mask_zero=True)`) says which steps of each sequence are real.

pub mod activation;
pub mod dense;
pub mod dropout;
pub mod embedding;
pub mod generate;
pub mod layer;
pub mod losses;
pub mod masking;
pub mod metrics;
pub mod network;
pub mod optim;
pub mod recurrent_layer;
pub mod saving;
pub mod seq2seq;
pub mod sequential;
pub mod spec;
pub mod step;
pub mod tensor;
pub mod training;

pub use activation::Activation;
pub use layer::Layer;
pub use losses::{Loss, LossKind};
pub use metrics::Metric;
pub use network::{Forward, Input, Mode, Network, OutGrad};
pub use optim::{Optimizer, OptimizerConfig};
pub use seq2seq::Seq2Seq;
pub use sequential::Sequential;
pub use spec::{LayerSpec, ModelSpec};
pub use tensor::{Mask, Tensor};
pub use training::{BatchStats, Trainer};

#[cfg(test)]
mod tests;
