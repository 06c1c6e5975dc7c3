//! `Embedding`: integer indices `(B, T)` to vectors `(B·T, E)`, with the
//! gradient accumulated only into the rows that were looked up.

use super::layer::ParamVisitor;
use super::tensor::{Mask, Tensor};
use crate::error::{Result, RnnError};
use crate::float::Float;
use crate::rng::SplitMix64;
use ndarray::{Array2, ArrayView2, ArrayViewD, ArrayViewMutD};

#[derive(Debug)]
pub struct Embedding<F> {
    pub input_dim: usize,
    pub output_dim: usize,
    pub mask_zero: bool,
    pub trainable: bool,
    /// (V, E).
    weight: Array2<F>,
    /// (V, E); only the rows listed in `touched` can be non-zero.
    grad: Array2<F>,
    touched: Vec<usize>,
    seen: Vec<bool>,
    /// Flattened indices of the last training forward.
    cache: Option<Vec<usize>>,
}

impl<F: Float> Embedding<F> {
    /// Keras' default initialization: U(-0.05, 0.05).
    pub fn new(input_dim: usize, output_dim: usize, mask_zero: bool, trainable: bool, seed: u64) -> Result<Self> {
        if input_dim == 0 || output_dim == 0 {
            return Err(RnnError::value(format!(
                "Embedding: input_dim and output_dim must be positive, got input_dim={input_dim}, output_dim={output_dim}"
            )));
        }
        let mut rng = SplitMix64::new(seed);
        Ok(Embedding {
            input_dim,
            output_dim,
            mask_zero,
            trainable,
            weight: Array2::from_shape_simple_fn((input_dim, output_dim), || F::from_f64(rng.uniform(-0.05, 0.05))),
            grad: Array2::zeros((input_dim, output_dim)),
            touched: Vec::new(),
            seen: vec![false; input_dim],
            cache: None,
        })
    }

    /// Looks up `x` (B, T); returns `(B·T, E)` rows and, with `mask_zero`, the mask.
    pub fn forward(&mut self, x: ArrayView2<i64>, keep: bool) -> Result<(Tensor<F>, Option<Mask>)> {
        let (batch, steps) = x.dim();
        let mut idx = Vec::with_capacity(batch * steps);
        for ((b, t), &v) in x.indexed_iter() {
            if v < 0 || v as u64 >= self.input_dim as u64 {
                return Err(RnnError::value(format!(
                    "x: index {v} at [{b}, {t}] is out of range for an Embedding with input_dim={} (expected 0..{})",
                    self.input_dim,
                    self.input_dim - 1
                )));
            }
            idx.push(v as usize);
        }
        let mask = if self.mask_zero { Some(Mask::from_indices(x)?) } else { None };
        let mut out = Array2::<F>::zeros((idx.len(), self.output_dim));
        for (mut row, &i) in out.rows_mut().into_iter().zip(&idx) {
            row.assign(&self.weight.row(i));
        }
        self.cache = (keep && self.trainable).then_some(idx);
        Ok((Tensor::new(out, Some(steps)), mask))
    }

    /// Adds `dy` (B·T, E) into the rows that were looked up.
    pub fn backward(&mut self, dy: ArrayView2<F>) -> Result<()> {
        if !self.trainable {
            return Ok(());
        }
        let idx = self.cache.take().ok_or_else(|| RnnError::state("Embedding.backward: no training forward to differentiate"))?;
        for (d, &i) in dy.rows().into_iter().zip(&idx) {
            let mut g = self.grad.row_mut(i);
            g += &d;
            if !self.seen[i] {
                self.seen[i] = true;
                self.touched.push(i);
            }
        }
        Ok(())
    }

    pub fn param_names(&self) -> Vec<String> {
        vec!["embeddings".into()]
    }

    pub fn param(&self) -> ArrayViewD<'_, F> {
        self.weight.view().into_dyn()
    }

    pub fn grad(&self) -> ArrayViewD<'_, F> {
        self.grad.view().into_dyn()
    }

    pub fn weight_mut(&mut self) -> ArrayViewMutD<'_, F> {
        self.weight.view_mut().into_dyn()
    }

    pub fn update(&mut self, f: &mut ParamVisitor<'_, F>) {
        f(0, self.weight.view_mut().into_dyn(), self.grad.view().into_dyn());
    }

    /// Clears only the rows that received gradient.
    pub fn zero_grad(&mut self) {
        for &i in &self.touched {
            self.grad.row_mut(i).fill(F::zero());
            self.seen[i] = false;
        }
        self.touched.clear();
    }

    /// The (V, E) table.
    pub fn table(&self) -> ArrayView2<'_, F> {
        self.weight.view()
    }
}
