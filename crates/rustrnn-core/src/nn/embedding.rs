//! `Embedding`: integer indices `(B, T)` to vectors `(B·T, E)`, with the
//! gradient accumulated only into the rows that were looked up.

use super::config::{Flow, LayerConfig};
use super::layer::{Ctx, GradCtx, Layer, LayerInput, ParamVisitor};
use super::tensor::{Mask, Tensor};
use crate::error::{Result, RnnError};
use crate::float::Float;
use crate::json::Obj;
use crate::rng::SplitMix64;
use ndarray::{Array2, ArrayView2, ArrayViewD};
use serde_json::{json, Value};
use std::any::Any;

#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddingConfig {
    pub input_dim: usize,
    pub output_dim: usize,
    pub mask_zero: bool,
    pub trainable: bool,
}

impl LayerConfig for EmbeddingConfig {
    fn parse(_class: &str, c: &mut Obj) -> Result<Self> {
        Ok(EmbeddingConfig {
            input_dim: c.positive("input_dim", None)?,
            output_dim: c.positive("output_dim", None)?,
            mask_zero: c.bool("mask_zero", false)?,
            trainable: c.bool("trainable", true)?,
        })
    }

    fn class(&self) -> &'static str {
        "Embedding"
    }

    fn output(&self, input: Flow, _last: bool) -> std::result::Result<Flow, String> {
        match input {
            Flow::Indices { steps } => Ok(Flow::sequence(self.output_dim, steps)),
            Flow::Rows { .. } => Err("an Embedding must be the first layer, reading integer indices (batch, time)".into()),
        }
    }

    fn build<F: Float>(&self, _input: Flow, seed: u64) -> Result<Box<dyn Layer<F>>> {
        Ok(Box::new(Embedding::new(self.input_dim, self.output_dim, self.mask_zero, self.trainable, seed)?))
    }

    fn to_json(&self) -> Value {
        json!({"input_dim": self.input_dim, "output_dim": self.output_dim, "mask_zero": self.mask_zero, "trainable": self.trainable})
    }
}

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
        // Weight and gradient, probed before either is allocated.
        crate::memory::ensure::<F>("Embedding input_dim x output_dim", &[input_dim, output_dim, 2])?;
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
    pub fn lookup(&mut self, x: ArrayView2<i64>, keep: bool) -> Result<(Tensor<F>, Option<Mask>)> {
        let (batch, steps) = x.dim();
        crate::memory::ensure::<F>("x (batch x steps x output_dim)", &[batch, steps, self.output_dim])?;
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

    /// The (V, E) table.
    pub fn table(&self) -> ArrayView2<'_, F> {
        self.weight.view()
    }

    /// Adds `dy` (B·T, E) into the rows that were looked up.
    fn accumulate(&mut self, dy: ArrayView2<F>) -> Result<()> {
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
}

impl<F: Float> Layer<F> for Embedding<F> {
    fn class(&self) -> &'static str {
        "Embedding"
    }

    fn config(&self) -> Value {
        let (input_dim, output_dim, mask_zero, trainable) = (self.input_dim, self.output_dim, self.mask_zero, self.trainable);
        EmbeddingConfig { input_dim, output_dim, mask_zero, trainable }.to_json()
    }

    fn forward(&mut self, x: LayerInput<'_, F>, ctx: &mut Ctx<'_, F>) -> Result<Tensor<F>> {
        let (y, mask) = self.lookup(x.indices("Embedding")?, ctx.keep())?;
        ctx.mask = mask;
        Ok(y)
    }

    fn backward(&mut self, dy: Array2<F>, _ctx: &mut GradCtx<F>) -> Result<Option<Array2<F>>> {
        self.accumulate(dy.view())?;
        Ok(None)
    }

    fn param_names(&self) -> Vec<String> {
        vec!["embeddings".into()]
    }

    fn param(&self, _i: usize) -> ArrayViewD<'_, F> {
        self.weight.view().into_dyn()
    }

    fn grad(&self, _i: usize) -> ArrayViewD<'_, F> {
        self.grad.view().into_dyn()
    }

    fn assign_param(&mut self, _i: usize, value: ArrayViewD<F>) -> Result<()> {
        self.weight.view_mut().into_dyn().assign(&value);
        Ok(())
    }

    fn visit_params(&mut self, f: &mut ParamVisitor<'_, F>) {
        f(0, self.weight.view_mut().into_dyn(), self.grad.view().into_dyn());
    }

    /// Clears only the rows that received gradient.
    fn zero_grad(&mut self) {
        for &i in &self.touched {
            self.grad.row_mut(i).fill(F::zero());
            self.seen[i] = false;
        }
        self.touched.clear();
    }

    fn trainable(&self) -> bool {
        self.trainable
    }

    fn set_trainable(&mut self, trainable: bool) {
        self.trainable = trainable;
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
