//! Low-level numeric kernels: matrix products (packed GEMM for batches,
//! matrix-vector for single steps), element-wise activations and cell
//! updates, and the CPU-feature checks that choose between their SIMD and
//! portable versions ([`isa`]: one detection, `RUSTRNN_ISA`), in the
//! floating-point mode of [`fpmode`] (flush-to-zero). Everything above (the
//! recurrent stack, layers, models) is built from these.

pub mod activations;
pub mod cell_activation;
pub mod cells;
pub mod cells_any_activation;
pub mod fpmode;
pub mod gemm;
pub mod gemv;
pub mod isa;
mod multiversion;
pub mod nonlinearity;
pub mod peak;
pub mod selfcheck;
#[cfg(target_arch = "x86_64")]
mod simd;

pub use cell_activation::{CellActivations, GateFn};
pub use nonlinearity::Nonlinearity;
