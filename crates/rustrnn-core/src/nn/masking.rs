//! `Masking`: marks the steps of a float sequence whose features all equal
//! `mask_value` as padding, so that recurrent layers skip them and sequence
//! losses ignore them (Keras' layer of that name). Masked steps are zeroed.

use super::tensor::{Mask, Tensor};
use crate::error::{Result, RnnError};
use crate::float::Float;
use ndarray::Array2;

#[derive(Debug)]
pub struct Masking {
    pub mask_value: f64,
    /// Per row of the last training forward: whether it is a real step.
    rows: Option<Vec<bool>>,
}

impl Masking {
    pub fn new(mask_value: f64) -> Self {
        Masking { mask_value, rows: None }
    }

    /// Computes the mask of `x` (B·T, F) and zeroes its masked rows.
    pub fn forward<F: Float>(&mut self, x: &mut Tensor<F>, keep: bool) -> Result<Mask> {
        let Some(steps) = x.steps else {
            return Err(RnnError::shape("Masking: expected a sequence input (batch, time, features)"));
        };
        let value = F::from_f64(self.mask_value);
        let real: Vec<bool> = x.data.rows().into_iter().map(|r| r.iter().any(|&v| v != value)).collect();
        let mask = Mask::from_valid(x.batch(), steps, |b, t| real[b * steps + t]).map_err(|(b, t)| {
            RnnError::value(format!(
                "x: with Masking, masked steps (all features equal to mask_value={}) must come before or after the real steps \
                 of each sequence, but sequence {b} has one at step {t} between real steps",
                self.mask_value
            ))
        })?;
        zero_rows(&mut x.data, &real);
        self.rows = keep.then_some(real);
        Ok(mask)
    }

    pub fn backward<F: Float>(&mut self, dy: &mut Array2<F>) {
        if let Some(real) = self.rows.take() {
            zero_rows(dy, &real);
        }
    }
}

fn zero_rows<F: Float>(a: &mut Array2<F>, keep: &[bool]) {
    for (mut row, &k) in a.rows_mut().into_iter().zip(keep) {
        if !k {
            row.fill(F::zero());
        }
    }
}
