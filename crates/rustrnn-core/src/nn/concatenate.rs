//! `Concatenate(axis=-1)`: joins its inputs along the features, as Keras 3's
//! layer of that name. Shapes: `[(B, T, F1), (B, T, F2), ...] -> (B, T, ΣF)`,
//! or the same without T. The output mask, as Keras', keeps a step only where
//! every input that has a mask keeps it (spans intersect into a span).

use super::config::{Flow, LayerConfig};
use super::layer::{Ctx, GradCtx, Layer, LayerInput};
use super::tensor::{Mask, Tensor};
use crate::error::{Result, RnnError};
use crate::float::Float;
use crate::json::Obj;
use ndarray::{s, Array2};
use serde_json::{json, Value};
use std::any::Any;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConcatenateConfig;

impl LayerConfig for ConcatenateConfig {
    fn parse(_class: &str, c: &mut Obj) -> Result<Self> {
        // Keras' axis counts the batch; only the features axis is supported (-1, or its positive index).
        let axis = c.value("axis").cloned().unwrap_or(json!(-1));
        if axis.as_i64() != Some(-1) {
            return Err(RnnError::value(format!(
                "{}.axis: only axis=-1 (the features) is supported, got {axis}; join along time with a Reshape instead",
                c.what()
            )));
        }
        Ok(ConcatenateConfig)
    }

    fn class(&self) -> &'static str {
        "Concatenate"
    }

    fn output(&self, _input: Flow, _last: bool) -> std::result::Result<Flow, String> {
        Err("takes a list of at least two inputs, e.g. Concatenate()([a, b])".into())
    }

    fn node_outputs(&self, inputs: &[Flow]) -> std::result::Result<Vec<Flow>, String> {
        if inputs.len() < 2 {
            return Err(format!("takes a list of at least two inputs, got {}", inputs.len()));
        }
        let (_, sequence) = inputs[0].rows()?;
        let mut features = 0usize;
        for (i, x) in inputs.iter().enumerate() {
            let (f, seq) = x.rows().map_err(|e| format!("inputs[{i}]: {e}"))?;
            if seq != sequence {
                return Err(format!(
                    "inputs[{i}]: expected a {} like inputs[0], got shape ({}); all inputs must have the same rank",
                    if sequence { "sequence (batch, time, features)" } else { "(batch, features)" },
                    x.shape().iter().map(|d| d.map_or("None".into(), |d| d.to_string())).collect::<Vec<_>>().join(", ")
                ));
            }
            features = features.checked_add(f).ok_or("the features overflow")?;
        }
        Ok(vec![inputs.iter().find(|x| x.steps().is_some()).unwrap_or(&inputs[0]).with_features(features)])
    }

    fn build<F: Float>(&self, _input: Flow, _seed: u64) -> Result<Box<dyn Layer<F>>> {
        Ok(Box::new(Concatenate { widths: Vec::new() }))
    }

    fn to_json(&self) -> Value {
        json!({"axis": -1})
    }
}

#[derive(Debug)]
pub struct Concatenate {
    /// Features of each input of the last forward, for backward.
    widths: Vec<usize>,
}

impl<F: Float> Layer<F> for Concatenate {
    fn class(&self) -> &'static str {
        "Concatenate"
    }

    fn config(&self) -> Value {
        ConcatenateConfig.to_json()
    }

    fn forward(&mut self, _x: LayerInput<'_, F>, _ctx: &mut Ctx<'_, F>) -> Result<Tensor<F>> {
        Err(RnnError::value("Concatenate: takes a list of at least two inputs"))
    }

    fn backward(&mut self, _dy: Array2<F>, _ctx: &mut GradCtx<F>) -> Result<Option<Array2<F>>> {
        Err(RnnError::state("Concatenate: takes a list of inputs; use backward_many"))
    }

    fn forward_many(&mut self, xs: Vec<Tensor<F>>, masks: &[Option<Mask>], ctx: &mut Ctx<'_, F>) -> Result<Tensor<F>> {
        let first = &xs[0];
        for (i, x) in xs.iter().enumerate().skip(1) {
            if x.steps != first.steps || x.data.nrows() != first.data.nrows() {
                return Err(RnnError::shape(format!(
                    "Concatenate: inputs[{i}] has shape {:?} but inputs[0] has {:?}; all but the last axis must match",
                    x.shape(),
                    first.shape()
                )));
            }
        }
        // Row-major, as every layer reads rows (ndarray's concatenate may choose another layout).
        let mut data = Array2::<F>::zeros((first.data.nrows(), xs.iter().map(|x| x.features()).sum()));
        let mut at = 0;
        for x in &xs {
            data.slice_mut(s![.., at..at + x.features()]).assign(&x.data);
            at += x.features();
        }
        self.widths = xs.iter().map(|x| x.features()).collect();
        ctx.mask = intersect(masks);
        Ok(Tensor::new(data, first.steps))
    }

    fn backward_many(&mut self, dy: Array2<F>, _ctx: &mut GradCtx<F>) -> Result<Vec<Array2<F>>> {
        let mut at = 0;
        Ok(self
            .widths
            .iter()
            .map(|&w| {
                let part = dy.slice(s![.., at..at + w]).to_owned();
                at += w;
                part
            })
            .collect())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The steps every mask keeps (`None` when no input has a mask).
pub fn intersect(masks: &[Option<Mask>]) -> Option<Mask> {
    let mut out: Option<Mask> = None;
    for m in masks.iter().flatten() {
        out = Some(match out {
            None => m.clone(),
            Some(acc) => Mask {
                steps: acc.steps,
                spans: acc
                    .spans
                    .iter()
                    .zip(&m.spans)
                    .map(|(&(s1, e1), &(s2, e2))| {
                        let (s, e) = (s1.max(s2), e1.min(e2));
                        if s < e {
                            (s, e)
                        } else {
                            (0, 0)
                        }
                    })
                    .collect(),
            },
        });
    }
    out
}
