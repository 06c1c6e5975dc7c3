//! Low-level numeric kernels: matrix products (packed GEMM for batches,
//! matrix-vector for single steps), element-wise activations and cell
//! updates, and the CPU-feature checks that choose between their SIMD and
//! portable versions. Everything above (the recurrent stack, layers, models)
//! is built from these.

pub mod activations;
pub mod cells;
pub mod gemm;
pub mod gemv;
pub mod nonlinearity;

pub use nonlinearity::Nonlinearity;
