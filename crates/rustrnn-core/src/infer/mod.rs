//! Step-by-step generation: a `Sequential` language model compiled into
//! single-token matrix-vector steps that sample its own output.
//! (Seq2Seq's greedy and beam-search decoding live with the model.)

pub mod generate;

pub use generate::{Sampling, StepModel};
