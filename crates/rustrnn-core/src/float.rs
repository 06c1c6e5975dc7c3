//! The element types the core computes in: `f32` and `f64`.
//!
//! [`Float`] gathers what the kernels need from a scalar type, including the
//! dispatch to the vectorised activation kernels for that type.

use crate::kernels::activations;
use ndarray::LinalgScalar;
use std::fmt::Debug;

pub trait Float:
    LinalgScalar
    + crate::kernels::gemm::microkernel::GemmElem
    + num_traits::Float
    + std::ops::AddAssign
    + ndarray::ScalarOperand
    + Debug
    + Default
    + Send
    + Sync
    + std::iter::Sum
    + 'static
{
    /// NumPy's name of the type, for messages.
    const NAME: &'static str;

    fn from_f64(v: f64) -> Self;

    /// `x[i] = 1 / (1 + exp(-x[i]))`, in place.
    fn sigmoid_inplace(x: &mut [Self]);

    /// `x[i] = tanh(x[i])`, in place.
    fn tanh_inplace(x: &mut [Self]);
}

impl Float for f32 {
    const NAME: &'static str = "float32";
    #[inline]
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    #[inline]
    fn sigmoid_inplace(x: &mut [Self]) {
        activations::sigmoid_f32(x)
    }
    #[inline]
    fn tanh_inplace(x: &mut [Self]) {
        activations::tanh_f32(x)
    }
}

impl Float for f64 {
    const NAME: &'static str = "float64";
    #[inline]
    fn from_f64(v: f64) -> Self {
        v
    }
    #[inline]
    fn sigmoid_inplace(x: &mut [Self]) {
        activations::sigmoid_f64(x)
    }
    #[inline]
    fn tanh_inplace(x: &mut [Self]) {
        activations::tanh_f64(x)
    }
}

/// `v` as an `f64` (NaN if it cannot be represented), for sums kept in f64.
pub fn to_f64<F: Float>(v: F) -> f64 {
    num_traits::ToPrimitive::to_f64(&v).unwrap_or(f64::NAN)
}

/// Index of the first maximum (0 for an empty iterator).
pub fn argmax<F: Float>(v: impl Iterator<Item = F>) -> usize {
    let mut best = (0, F::neg_infinity());
    for (i, x) in v.enumerate() {
        if x > best.1 {
            best = (i, x);
        }
    }
    best.0
}
