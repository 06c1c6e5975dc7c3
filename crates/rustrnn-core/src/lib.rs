//! # rustrnn-core
//!
//! Exact RNN, LSTM and GRU layers with forward propagation and
//! backpropagation through time, numerically matching PyTorch. Pure Rust: the
//! Python binding lives in the `rustrnn-py` crate.
//!
//! Layout, from the bottom up:
//! - [`kernels`]: matrix products and element-wise cell kernels (SIMD activations);
//! - [`layers`]: configuration, parameters and the recurrent stack;
//! - [`memory`]: overflow-checked sizes and fallible allocation;
//! - [`threads`]: the shared thread pool; [`rng`]: seedable initialization;
//! - [`text`]: Keras-style tokenizing and word-vector file parsing.

pub mod declared;
pub mod error;
pub mod float;
pub mod kernels;
pub mod layers;
pub mod memory;
pub mod models;
pub mod rng;
pub mod text;
pub mod threads;

pub use error::{Result, RnnError};
pub use float::Float;
pub use layers::{CellKind, Nonlinearity, Recurrent, RnnConfig};
