//! Step-by-step inference: a `Sequential` language model compiled into
//! single-token matrix-vector steps that sample its own output
//! ([`generate`]), and Seq2Seq decoding, greedy or by beam search, by one
//! model or an ensemble ([`decode`]).

pub mod decode;
pub mod generate;

pub use generate::{Sampling, StepModel};
