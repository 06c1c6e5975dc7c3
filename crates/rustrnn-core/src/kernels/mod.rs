//! Low-level numeric kernels: matrix products and element-wise activations.
//! Everything above (layers, models, training) is built from these.

pub mod activations;
pub mod cells;
pub mod fpmode;
pub mod gemm;
