//! Where the row of time step `t`, batch element `b` lives in a (seq, batch)
//! or (batch, seq) ordered buffer, and which (t, b) are real data.
//!
//! Every per-step buffer of a layer (projected inputs, gates, cached states,
//! outputs) uses the row order of the user's input, so batch-first and
//! time-major inputs are both read in place and the all-steps products are
//! single GEMMs over contiguous memory.

use ndarray::{s, ArrayBase, Data, Ix2, ViewRepr};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeqLayout {
    pub seq_len: usize,
    pub batch: usize,
    t_stride: usize,
    b_stride: usize,
}

impl SeqLayout {
    pub fn new(seq_len: usize, batch: usize, batch_first: bool) -> Self {
        let (t_stride, b_stride) = if batch_first { (1, seq_len) } else { (batch, 1) };
        SeqLayout { seq_len, batch, t_stride, b_stride }
    }

    /// Rows in a buffer: seq_len · batch.
    pub fn rows(&self) -> usize {
        self.seq_len * self.batch
    }

    #[inline]
    pub fn row(&self, t: usize, b: usize) -> usize {
        t * self.t_stride + b * self.b_stride
    }

    /// The time step handled at position `step` of a direction's loop.
    #[inline]
    pub fn time(&self, step: usize, reverse: bool) -> usize {
        if reverse {
            self.seq_len - 1 - step
        } else {
            step
        }
    }

    /// The (batch, cols) view of the rows of time step `t`, with columns `cols`.
    pub fn step_rows<'a, S: Data>(
        &self,
        buf: &'a ArrayBase<S, Ix2>,
        t: usize,
        cols: std::ops::Range<usize>,
    ) -> ArrayBase<ViewRepr<&'a S::Elem>, Ix2> {
        let first = self.row(t, 0);
        let last = self.row(t, self.batch - 1);
        buf.slice(s![first..=last;self.b_stride, cols])
    }
}

/// Which (t, b) hold real data: `start <= t < end` of each sequence's span,
/// or everything. Right padding (PyTorch's lengths) is the span `(0, len)`,
/// left padding (Keras' default) `(T - len, T)`. Outside its span a
/// sequence's state passes through unchanged and its output is zero.
#[derive(Debug, Clone, Copy)]
pub struct Validity<'a> {
    spans: Option<&'a [(usize, usize)]>,
}

impl<'a> Validity<'a> {
    pub fn new(spans: Option<&'a [(usize, usize)]>) -> Self {
        Validity { spans }
    }

    /// Whether every (t, b) holds real data (no spans given).
    pub fn all(&self) -> bool {
        self.spans.is_none()
    }

    #[inline]
    pub fn is_valid(&self, t: usize, b: usize) -> bool {
        self.spans.is_none_or(|s| s[b].0 <= t && t < s[b].1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn rows_follow_the_input_order() {
        let bf = SeqLayout::new(4, 3, true);
        assert_eq!(bf.row(2, 1), 6);
        let tm = SeqLayout::new(4, 3, false);
        assert_eq!(tm.row(2, 1), 7);
        let buf = Array2::from_shape_fn((12, 2), |(r, c)| (r * 10 + c) as f64);
        let step = bf.step_rows(&buf, 2, 1..2);
        assert_eq!(step.column(0).to_vec(), vec![21.0, 61.0, 101.0]);
        let step = tm.step_rows(&buf, 2, 0..2);
        assert_eq!(step.column(0).to_vec(), vec![60.0, 70.0, 80.0]);
        assert_eq!(bf.time(0, true), 3);
    }
}
