//! The matrix-vector products of the one-token-at-a-time paths live with the
//! other kernels ([`crate::kernels::gemv`]).

pub use crate::kernels::gemv::{gemv, gemv_par};
