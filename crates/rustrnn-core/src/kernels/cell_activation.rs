//! Keras's `activation` and `recurrent_activation` of the recurrent cells.
//! The defaults (tanh, sigmoid) run in the fused cell kernels (`cells`); any
//! other pair runs in the cell steps of `cells_any_activation`, which apply
//! these element-wise. Each function's derivative is written in terms of its
//! output, which the cells keep for backward.

use crate::float::Float;
use crate::names::Names;

/// Keras 3's definitions (`keras.activations`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateFn {
    Tanh,
    Sigmoid,
    Relu,
    /// Keras 3's: `relu6(x + 3) / 6` (Keras 2's was `0.2x + 0.5`, clipped).
    HardSigmoid,
    Linear,
    /// `alpha = 1`.
    Elu,
    Selu,
    /// `x / (1 + |x|)`.
    Softsign,
}

impl Names for GateFn {
    const WHAT: &'static str = "activation";
    const TABLE: &'static [(&'static str, Self)] = &[
        ("tanh", GateFn::Tanh),
        ("sigmoid", GateFn::Sigmoid),
        ("relu", GateFn::Relu),
        ("hard_sigmoid", GateFn::HardSigmoid),
        ("linear", GateFn::Linear),
        ("elu", GateFn::Elu),
        ("selu", GateFn::Selu),
        ("softsign", GateFn::Softsign),
    ];
}

crate::from_str_by_names!(GateFn);

const SELU_ALPHA: f64 = 1.673_263_242_354_377_3;
const SELU_SCALE: f64 = 1.050_700_987_355_480_5;

impl GateFn {
    /// `x[i] = f(x[i])`, in place (tanh and sigmoid through the vector kernels).
    pub fn apply<F: Float>(self, x: &mut [F]) {
        let (zero, one) = (F::zero(), F::one());
        match self {
            GateFn::Tanh => F::tanh_inplace(x),
            GateFn::Sigmoid => F::sigmoid_inplace(x),
            GateFn::Relu => x.iter_mut().for_each(|v| *v = if *v < zero { zero } else { *v }),
            GateFn::HardSigmoid => {
                let (three, sixth) = (F::from_f64(3.0), F::from_f64(1.0 / 6.0));
                x.iter_mut().for_each(|v| *v = ((*v + three).max(zero).min(F::from_f64(6.0))) * sixth)
            }
            GateFn::Linear => {}
            GateFn::Elu => x.iter_mut().for_each(|v| *v = if *v > zero { *v } else { v.exp_m1() }),
            GateFn::Selu => {
                let (a, s) = (F::from_f64(SELU_ALPHA), F::from_f64(SELU_SCALE));
                x.iter_mut().for_each(|v| *v = s * if *v > zero { *v } else { a * v.exp_m1() })
            }
            GateFn::Softsign => x.iter_mut().for_each(|v| *v = *v / (one + v.abs())),
        }
    }

    /// `f'(x)` from `y = f(x)`.
    #[inline]
    pub fn slope<F: Float>(self, y: F) -> F {
        let (zero, one) = (F::zero(), F::one());
        match self {
            GateFn::Tanh => one - y * y,
            GateFn::Sigmoid => y * (one - y),
            GateFn::Relu => {
                if y > zero {
                    one
                } else {
                    zero
                }
            }
            // Flat where clipped (as torch's hardsigmoid, which Keras 3 calls).
            GateFn::HardSigmoid => {
                if y > zero && y < one {
                    F::from_f64(1.0 / 6.0)
                } else {
                    zero
                }
            }
            GateFn::Linear => one,
            GateFn::Elu => {
                if y > zero {
                    one
                } else {
                    y + one
                }
            }
            GateFn::Selu => {
                if y > zero {
                    F::from_f64(SELU_SCALE)
                } else {
                    y + F::from_f64(SELU_SCALE * SELU_ALPHA)
                }
            }
            GateFn::Softsign => {
                let d = one - y.abs();
                d * d
            }
        }
    }
}

/// A cell's `activation` (the candidate and the output's squashing; a plain
/// RNN's only one) and `recurrent_activation` (the gates).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellActivations {
    pub activation: GateFn,
    pub recurrent: GateFn,
}

impl CellActivations {
    /// Keras's and PyTorch's: tanh and sigmoid.
    pub const DEFAULT: CellActivations = CellActivations { activation: GateFn::Tanh, recurrent: GateFn::Sigmoid };

    pub fn is_default(self) -> bool {
        self == Self::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slopes_match_finite_differences_of_the_functions() {
        for &(_, f) in GateFn::TABLE {
            for x in [-4.0, -2.9, -1.3, -0.2, 0.3, 1.1, 2.5, 3.7] {
                let at = |v: f64| {
                    let mut a = [v];
                    f.apply(&mut a);
                    a[0]
                };
                let num = (at(x + 1e-6) - at(x - 1e-6)) / 2e-6;
                assert!((f.slope(at(x)) - num).abs() < 1e-6, "{f:?} at {x}: {} vs {num}", f.slope(at(x)));
            }
        }
        let mut h = [-3.5f64, -3.0, 0.0, 1.5, 3.0, 4.0];
        GateFn::HardSigmoid.apply(&mut h);
        assert_eq!(h, [0.0, 0.0, 0.5, 0.75, 1.0, 1.0]); // Keras 3's, not Keras 2's 0.2x + 0.5
    }
}
