//! Inverted dropout: in training each value is zeroed with probability
//! `rate` and the rest scaled by `1 / (1 - rate)`; identity at inference.

use super::tensor::mul_assign;
use crate::float::Float;
use crate::rng::SplitMix64;
use ndarray::Array2;

/// Draws a `(rows, cols)` mask of `0` and `1 / (1 - rate)` values.
pub fn draw_mask<F: Float>(rows: usize, cols: usize, rate: f64, rng: &mut SplitMix64) -> Array2<F> {
    let keep = F::from_f64(1.0 / (1.0 - rate));
    Array2::from_shape_simple_fn((rows, cols), || if rng.next_f64() < rate { F::zero() } else { keep })
}

#[derive(Debug)]
pub struct Dropout<F> {
    pub rate: f64,
    /// The mask of the last training forward.
    mask: Option<Array2<F>>,
}

impl<F: Float> Dropout<F> {
    pub fn new(rate: f64) -> Self {
        Dropout { rate, mask: None }
    }

    /// Applies dropout in place when `active` (training) and the rate is non-zero.
    pub fn forward(&mut self, x: &mut Array2<F>, active: bool, rng: &mut SplitMix64) {
        self.mask = None;
        if !active || self.rate == 0.0 {
            return;
        }
        let m = draw_mask::<F>(x.nrows(), x.ncols(), self.rate, rng);
        mul_assign(x, &m);
        self.mask = Some(m);
    }

    pub fn backward(&mut self, dy: &mut Array2<F>) {
        if let Some(m) = self.mask.take() {
            mul_assign(dy, &m);
        }
    }
}
