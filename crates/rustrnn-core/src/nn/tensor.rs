//! The activations passed between layers, and the mask of valid time steps.

use crate::error::{Result, RnnError};
use crate::float::Float;
use ndarray::{Array2, ArrayD, ArrayView2, IxDyn};

/// Activations between layers: `data` is `(B·T, F)` for a sequence, rows in
/// batch-major order (row `b·T + t`), or `(B, F)` when `steps` is `None`.
#[derive(Debug, Clone)]
pub struct Tensor<F> {
    pub data: Array2<F>,
    pub steps: Option<usize>,
}

impl<F: Float> Tensor<F> {
    pub fn new(data: Array2<F>, steps: Option<usize>) -> Self {
        Tensor { data, steps }
    }

    pub fn batch(&self) -> usize {
        self.data.nrows() / self.steps.unwrap_or(1).max(1)
    }

    pub fn features(&self) -> usize {
        self.data.ncols()
    }

    /// `(B, T, F)` or `(B, F)`.
    pub fn shape(&self) -> Vec<usize> {
        match self.steps {
            Some(t) => vec![self.batch(), t, self.features()],
            None => vec![self.batch(), self.features()],
        }
    }

    /// The activations with their user-facing shape.
    pub fn into_array(self) -> ArrayD<F> {
        let shape = self.shape();
        self.data.into_shape_with_order(IxDyn(&shape)).expect("rows are batch-major")
    }
}

/// Which steps of each sequence are real data: `spans[b] = (start, end)`,
/// `start <= t < end`. Right padding gives `(0, len)`, left padding
/// `(T - len, T)`; a sequence that is all padding has `start == end`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mask {
    pub spans: Vec<(usize, usize)>,
    pub steps: usize,
}

impl Mask {
    /// The mask of `Embedding(mask_zero=True)`: index 0 is padding, which must
    /// come before and/or after the tokens of each sequence (a recurrent layer
    /// runs over one contiguous span per sequence).
    pub fn from_indices(x: ArrayView2<i64>) -> Result<Mask> {
        let (batch, steps) = x.dim();
        Self::from_valid(batch, steps, |b, t| x[[b, t]] != 0).map_err(|(b, t)| {
            RnnError::value(format!(
                "x: with mask_zero=True, padding (index 0) must come before or after the tokens of each sequence \
                 (left or right padding), but sequence {b} has a 0 at step {t} between tokens"
            ))
        })
    }

    /// The spans of the steps where `valid(b, t)`; `Err((b, t))` names an
    /// invalid step between valid ones.
    pub fn from_valid(batch: usize, steps: usize, valid: impl Fn(usize, usize) -> bool) -> std::result::Result<Mask, (usize, usize)> {
        let mut spans = Vec::with_capacity(batch);
        for b in 0..batch {
            let Some(start) = (0..steps).find(|&t| valid(b, t)) else {
                spans.push((0, 0));
                continue;
            };
            let end = (0..steps).rev().find(|&t| valid(b, t)).expect("has a valid step") + 1;
            if let Some(t) = (start..end).find(|&t| !valid(b, t)) {
                return Err((b, t));
            }
            spans.push((start, end));
        }
        Ok(Mask { spans, steps })
    }

    #[inline]
    pub fn is_valid(&self, b: usize, t: usize) -> bool {
        let (s, e) = self.spans[b];
        s <= t && t < e
    }

    /// One flag per row of a `(B·T, F)` tensor.
    pub fn row_flags(&self) -> Vec<bool> {
        let mut v = Vec::with_capacity(self.spans.len() * self.steps);
        for &(s, e) in &self.spans {
            v.extend((0..self.steps).map(|t| s <= t && t < e));
        }
        v
    }
}

/// Encoder outputs a decoder attends to: `values` (B·S, H), batch-major,
/// with the span of valid steps of each source (as in [`Mask`]).
#[derive(Debug, Clone)]
pub struct Memory<F> {
    pub values: Array2<F>,
    pub steps: usize,
    pub spans: Vec<(usize, usize)>,
}

impl<F: Float> Memory<F> {
    pub fn batch(&self) -> usize {
        self.spans.len()
    }

    /// The sources `batch` (in that order, repeats allowed), e.g. one per beam.
    pub fn select(&self, batch: &[usize]) -> Memory<F> {
        let s = self.steps;
        let values = gather_rows(self.values.view(), batch.iter().flat_map(|&b| b * s..(b + 1) * s));
        Memory { values, steps: s, spans: batch.iter().map(|&b| self.spans[b]).collect() }
    }
}

/// `a *= b` element-wise (a dropout mask).
pub fn mul_assign<F: Float>(a: &mut Array2<F>, b: &Array2<F>) {
    ndarray::Zip::from(a).and(b).for_each(|x, &y| *x = *x * y);
}

/// Copies the rows `rows` of `src` (in that order) into a new array.
pub fn gather_rows<F: Float>(src: ArrayView2<F>, rows: impl Iterator<Item = usize>) -> Array2<F> {
    let idx: Vec<usize> = rows.collect();
    let mut out = Array2::zeros((idx.len(), src.ncols()));
    for (dst, &r) in out.rows_mut().into_iter().zip(&idx) {
        let mut dst = dst;
        dst.assign(&src.row(r));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn mask_from_left_right_and_empty_padding() {
        let x = array![[3, 4, 0, 0], [0, 0, 5, 6], [0, 0, 0, 0], [1, 2, 3, 4]];
        let m = Mask::from_indices(x.view()).unwrap();
        assert_eq!(m.spans, vec![(0, 2), (2, 4), (0, 0), (0, 4)]);
        assert!(m.is_valid(1, 3) && !m.is_valid(1, 1) && !m.is_valid(2, 0));
        let bad = array![[1, 0, 2]];
        let err = Mask::from_indices(bad.view()).unwrap_err().to_string();
        assert!(err.contains("sequence 0 has a 0 at step 1"), "{err}");
    }
}
