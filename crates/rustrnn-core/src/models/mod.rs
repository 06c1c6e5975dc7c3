//! Whole models on top of the layers: the sequential container and the
//! encoder-decoder, the JSON spec they are built from, and the model file
//! format.

pub mod functional;
pub mod graph_spec;
pub mod io;
pub mod network;
pub mod saving;
pub mod seq2seq;
pub mod sequential;
pub mod spec;

pub use functional::Functional;
pub use graph_spec::GraphSpec;
pub use io::{Forward, Input, OutGrad};
pub use network::Network;
pub use seq2seq::{decoder_inputs, Seq2Seq, Seq2SeqConfig};
pub use sequential::Sequential;
pub use spec::{LayerEntry, LayerInfo, ModelSpec};

#[cfg(test)]
mod functional_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_layers;
#[cfg(test)]
mod tests_reshaping;
