//! Activations of a `Dense` layer, applied per row, and their backward pass
//! written in terms of the output (which is what the layer keeps).

use crate::float::Float;
use crate::names::Names;
use ndarray::{Array2, ArrayView2, ArrayViewMut2, Axis, Zip};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    Linear,
    Relu,
    Tanh,
    Sigmoid,
    Softmax,
}

impl Names for Activation {
    const WHAT: &'static str = "activation";
    const TABLE: &'static [(&'static str, Self)] = &[
        ("linear", Activation::Linear),
        ("relu", Activation::Relu),
        ("tanh", Activation::Tanh),
        ("sigmoid", Activation::Sigmoid),
        ("softmax", Activation::Softmax),
    ];
}

crate::from_str_by_names!(Activation);

impl Activation {
    /// Applies the activation to every row of `z`, in place.
    pub fn apply<F: Float>(self, mut z: ArrayViewMut2<F>) {
        match self {
            Activation::Linear => {}
            Activation::Relu => z.mapv_inplace(|v| if v > F::zero() { v } else { F::zero() }),
            Activation::Tanh => for_rows(&mut z, F::tanh_inplace),
            Activation::Sigmoid => for_rows(&mut z, F::sigmoid_inplace),
            Activation::Softmax => z.rows_mut().into_iter().for_each(|r| softmax_inplace(r.into_slice().expect("contiguous"))),
        }
    }

    /// `dz` from `dy` and the output `y`, in place on `dy`.
    pub fn backward<F: Float>(self, y: ArrayView2<F>, dy: &mut Array2<F>) {
        let one = F::one();
        match self {
            Activation::Linear => {}
            Activation::Relu => Zip::from(dy).and(y).for_each(|d, &y| {
                if y <= F::zero() {
                    *d = F::zero()
                }
            }),
            Activation::Tanh => Zip::from(dy).and(y).for_each(|d, &y| *d = *d * (one - y * y)),
            Activation::Sigmoid => Zip::from(dy).and(y).for_each(|d, &y| *d = *d * y * (one - y)),
            Activation::Softmax => {
                for (mut d, y) in dy.axis_iter_mut(Axis(0)).zip(y.axis_iter(Axis(0))) {
                    let dot = d.iter().zip(y.iter()).fold(F::zero(), |s, (a, b)| s + *a * *b);
                    d.zip_mut_with(&y, |d, &y| *d = y * (*d - dot));
                }
            }
        }
    }
}

fn for_rows<F: Float>(z: &mut ArrayViewMut2<F>, f: fn(&mut [F])) {
    match z.as_slice_mut() {
        Some(s) => f(s),
        None => z.rows_mut().into_iter().for_each(|r| f(r.into_slice().expect("contiguous rows"))),
    }
}

/// Numerically stable softmax of one row, in place.
pub fn softmax_inplace<F: Float>(row: &mut [F]) {
    let max = row.iter().fold(F::neg_infinity(), |m, &v| if v > m { v } else { m });
    let mut sum = F::zero();
    for v in row.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    let inv = F::one() / sum;
    row.iter_mut().for_each(|v| *v = *v * inv);
}

/// `log Σ exp(row)`, stable.
pub fn log_sum_exp<F: Float>(row: &[F]) -> F {
    let max = row.iter().fold(F::neg_infinity(), |m, &v| if v > m { v } else { m });
    if max == F::neg_infinity() {
        return max;
    }
    max + row.iter().fold(F::zero(), |s, &v| s + (v - max).exp()).ln()
}
