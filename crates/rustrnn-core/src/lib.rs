//! # rustrnn-core
//!
//! Exact RNN, LSTM and GRU layers with forward propagation and
//! backpropagation through time, numerically matching PyTorch, and Keras-style
//! models trained and run in Rust. Pure Rust: the Python binding lives in the
//! `rustrnn-py` crate. See ARCHITECTURE.md for the flow of one batch.
//!
//! Layout, from the bottom up (each room imports only from rooms above it in
//! this list):
//! - [`error`], [`names`], [`json`], [`rng`], [`threads`], [`lockstep`], [`float`]:
//!   leaf helpers (the error type, name tables, the strict JSON reader, seeds, the
//!   thread pool, time loops in lockstep on it, the element types);
//! - [`kernels`]: matrix products and element-wise cell kernels (SIMD), and
//!   the CPU-feature checks that pick them;
//! - [`memory`]: overflow-checked sizes and fallible allocation (leaf);
//! - [`recurrent`]: configuration, parameters and the exact recurrent stack;
//! - [`nn`]: the layer protocol, one file per layer, the layer registry;
//! - [`models`]: `Sequential`, `Seq2Seq`, the JSON model spec, the model file;
//! - [`train`]: losses, metrics, optimizers and the training step;
//! - [`infer`]: step-by-step generation;
//! - [`model`]: a whole model as an application holds it (what the binding wraps);
//!   [`catalog`]: every name table, for the binding;
//! - [`declared`]: the parameters an architecture declares, counted without building it;
//! - [`text`]: Keras-style tokenizing and word-vector file parsing.

pub mod catalog;
pub mod declared;
pub mod error;
pub mod float;
pub mod infer;
pub mod json;
pub mod kernels;
pub mod lockstep;
pub mod memory;
pub mod model;
pub mod models;
pub mod names;
pub mod nn;
pub mod recurrent;
pub mod recycle;
pub mod rng;
pub mod text;
pub mod threads;
pub mod train;

pub use error::{Result, RnnError};
pub use float::Float;
pub use kernels::Nonlinearity;
pub use model::Model;
pub use recurrent::{CellKind, Recurrent, RnnConfig};
