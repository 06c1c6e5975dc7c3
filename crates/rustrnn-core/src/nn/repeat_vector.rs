//! `RepeatVector(n)`: `(B, F) -> (B, n, F)`, each row repeated `n` times as
//! the steps of a sequence (an encoder's summary fed to every decoder step).
//! No mask leaves it (Keras: the input is not a sequence).

use super::config::{Flow, LayerConfig};
use super::layer::{Ctx, GradCtx, Layer, LayerInput};
use super::tensor::Tensor;
use crate::error::{Result, RnnError};
use crate::float::Float;
use crate::json::Obj;
use ndarray::{Array2, Axis};
use serde_json::{json, Value};
use std::any::Any;

#[derive(Debug, Clone, PartialEq)]
pub struct RepeatVectorConfig {
    pub n: usize,
}

impl LayerConfig for RepeatVectorConfig {
    fn parse(_class: &str, c: &mut Obj) -> Result<Self> {
        Ok(RepeatVectorConfig { n: c.positive("n", None)? })
    }

    fn class(&self) -> &'static str {
        "RepeatVector"
    }

    fn output(&self, input: Flow, _last: bool) -> std::result::Result<Flow, String> {
        let (features, sequence) = input.rows()?;
        if sequence {
            return Err("RepeatVector expects a vector per sample (batch, features), got a sequence (batch, time, features)".into());
        }
        Ok(Flow::sequence(features, Some(self.n)))
    }

    fn build<F: Float>(&self, _input: Flow, _seed: u64) -> Result<Box<dyn Layer<F>>> {
        Ok(Box::new(RepeatVector { n: self.n }))
    }

    fn to_json(&self) -> Value {
        json!({"n": self.n})
    }
}

#[derive(Debug)]
pub struct RepeatVector {
    pub n: usize,
}

impl<F: Float> Layer<F> for RepeatVector {
    fn class(&self) -> &'static str {
        "RepeatVector"
    }

    fn config(&self) -> Value {
        RepeatVectorConfig { n: self.n }.to_json()
    }

    fn forward(&mut self, x: LayerInput<'_, F>, ctx: &mut Ctx<'_, F>) -> Result<Tensor<F>> {
        let x = x.rows("RepeatVector")?;
        if x.steps.is_some() {
            return Err(RnnError::shape("RepeatVector: expected (batch, features), got a sequence"));
        }
        let (b, f) = x.data.dim();
        crate::memory::ensure::<F>("RepeatVector output (batch x n x features)", &[b, self.n, f])?;
        // Row b·n + t is input row b: batch-major sequence rows.
        let mut y = Array2::<F>::zeros((b * self.n, f));
        for (i, mut row) in y.rows_mut().into_iter().enumerate() {
            row.assign(&x.data.row(i / self.n));
        }
        ctx.mask = None;
        Ok(Tensor::new(y, Some(self.n)))
    }

    /// Each input row's gradient is the sum over its `n` copies.
    fn backward(&mut self, dy: Array2<F>, _ctx: &mut GradCtx<F>) -> Result<Option<Array2<F>>> {
        let (rows, f) = dy.dim();
        let b = rows / self.n;
        let dx = dy.as_standard_layout().into_shape_with_order((b, self.n, f)).expect("standard layout").sum_axis(Axis(1));
        Ok(Some(dx))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
