//! `GlobalAveragePooling1D` and `GlobalMaxPooling1D`: `(B, T, F) -> (B, F)`,
//! the mean or the maximum over the steps of each sequence. As in Keras 3,
//! the average is over the valid steps when a mask arrives (a sequence that
//! is all padding averages to 0, where Keras divides 0 by 0), the maximum
//! ignores the mask (padded steps included); both consume the mask.

use super::config::{Flow, LayerConfig};
use super::layer::{Ctx, GradCtx, Layer, LayerInput};
use super::tensor::Tensor;
use crate::error::{Result, RnnError};
use crate::float::Float;
use crate::json::Obj;
use ndarray::Array2;
use serde_json::{json, Value};
use std::any::Any;
use std::marker::PhantomData;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolKind {
    Average,
    Max,
}

impl PoolKind {
    fn class(self) -> &'static str {
        match self {
            PoolKind::Average => "GlobalAveragePooling1D",
            PoolKind::Max => "GlobalMaxPooling1D",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct GlobalPoolingConfig {
    pub kind: PoolKind,
}

impl LayerConfig for GlobalPoolingConfig {
    fn parse(class: &str, _c: &mut Obj) -> Result<Self> {
        let kind = if class == "GlobalMaxPooling1D" { PoolKind::Max } else { PoolKind::Average };
        Ok(GlobalPoolingConfig { kind })
    }

    fn class(&self) -> &'static str {
        self.kind.class()
    }

    fn output(&self, input: Flow, _last: bool) -> std::result::Result<Flow, String> {
        let (features, sequence) = input.rows()?;
        if !sequence {
            return Err(format!("{} expects a sequence (batch, time, features), got (batch, features)", self.kind.class()));
        }
        Ok(Flow::vector(features))
    }

    fn build<F: Float>(&self, _input: Flow, _seed: u64) -> Result<Box<dyn Layer<F>>> {
        Ok(Box::new(GlobalPooling::<F> { kind: self.kind, cache: None, _float: PhantomData }))
    }

    fn to_json(&self) -> Value {
        json!({})
    }
}

/// What backward needs: the steps and the averaged span of each sequence
/// (average) or, per output value, the input row it came from (max).
#[derive(Debug)]
enum PoolCache {
    Average { steps: usize, spans: Vec<(usize, usize)> },
    Max { steps: usize, argmax: Array2<usize> },
}

#[derive(Debug)]
pub struct GlobalPooling<F> {
    pub kind: PoolKind,
    cache: Option<PoolCache>,
    _float: PhantomData<F>,
}

impl<F: Float> Layer<F> for GlobalPooling<F> {
    fn class(&self) -> &'static str {
        self.kind.class()
    }

    fn config(&self) -> Value {
        json!({})
    }

    fn forward(&mut self, x: LayerInput<'_, F>, ctx: &mut Ctx<'_, F>) -> Result<Tensor<F>> {
        let class = self.kind.class();
        let x = x.rows(class)?;
        let steps = x.steps.ok_or_else(|| RnnError::shape(format!("{class}: expected a sequence, got (batch, features)")))?;
        let (b, f) = (x.batch(), x.features());
        let mask = ctx.mask.take();
        let mut y = Array2::<F>::zeros((b, f));
        match self.kind {
            PoolKind::Average => {
                let spans: Vec<(usize, usize)> = match &mask {
                    Some(m) => m.spans.clone(),
                    None => vec![(0, steps); b],
                };
                for (bi, &(s, e)) in spans.iter().enumerate() {
                    if e > s {
                        let mut out = y.row_mut(bi);
                        for t in s..e {
                            out += &x.data.row(bi * steps + t);
                        }
                        let inv = F::from_f64(1.0 / (e - s) as f64);
                        out.mapv_inplace(|v| v * inv);
                    }
                }
                self.cache = ctx.keep().then_some(PoolCache::Average { steps, spans });
            }
            PoolKind::Max => {
                let mut argmax = Array2::<usize>::zeros((b, f));
                for bi in 0..b {
                    for j in 0..f {
                        let mut best = bi * steps;
                        for t in 1..steps {
                            // The first maximum wins, as the gradient of torch.max.
                            if x.data[[bi * steps + t, j]] > x.data[[best, j]] {
                                best = bi * steps + t;
                            }
                        }
                        y[[bi, j]] = x.data[[best, j]];
                        argmax[[bi, j]] = best;
                    }
                }
                self.cache = ctx.keep().then_some(PoolCache::Max { steps, argmax });
            }
        }
        Ok(Tensor::new(y, None))
    }

    fn backward(&mut self, dy: Array2<F>, _ctx: &mut GradCtx<F>) -> Result<Option<Array2<F>>> {
        let cache = self.cache.take().ok_or_else(|| RnnError::state(format!("{}.backward: no training forward", self.kind.class())))?;
        let (b, f) = dy.dim();
        Ok(Some(match cache {
            PoolCache::Average { steps, spans } => {
                let mut dx = Array2::<F>::zeros((b * steps, f));
                for (bi, &(s, e)) in spans.iter().enumerate() {
                    if e > s {
                        let inv = F::from_f64(1.0 / (e - s) as f64);
                        let g = dy.row(bi).mapv(|v| v * inv);
                        for t in s..e {
                            dx.row_mut(bi * steps + t).assign(&g);
                        }
                    }
                }
                dx
            }
            PoolCache::Max { steps, argmax } => {
                let mut dx = Array2::<F>::zeros((b * steps, f));
                for ((bi, j), &r) in argmax.indexed_iter() {
                    dx[[r, j]] = dy[[bi, j]];
                }
                dx
            }
        }))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
