//! Low-level numeric kernels: matrix products and element-wise activations,
//! on the instruction set chosen once by [`isa`], in the floating-point mode
//! of [`fpmode`].
//! Everything above (layers, models, training) is built from these.

pub mod activations;
pub mod cells;
pub mod fpmode;
pub mod gemm;
pub mod gemv;
pub mod isa;
mod multiversion;
pub mod peak;
mod selfcheck;
#[cfg(target_arch = "x86_64")]
mod simd;
