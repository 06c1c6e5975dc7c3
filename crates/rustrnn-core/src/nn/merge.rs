//! Keras's element-wise merge layers, one config over the operation:
//! `Add`, `Subtract` (two inputs), `Multiply`, `Average`, `Maximum`,
//! `Minimum`. Every input has the same shape, `(B, F)` or `(B, T, F)`, and
//! so has the output. The output mask, as Keras's, keeps a step only where
//! every input that has a mask keeps it. The gradient of `Maximum`/`Minimum`
//! goes to the first input holding the extreme value.

use super::concatenate::intersect;
use super::config::{Flow, LayerConfig};
use super::layer::{Ctx, GradCtx, Layer, LayerInput};
use super::tensor::{Mask, Tensor};
use crate::error::{Result, RnnError};
use crate::float::Float;
use crate::json::Obj;
use ndarray::{Array2, Zip};
use serde_json::{json, Value};
use std::any::Any;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeOp {
    Add,
    Subtract,
    Multiply,
    Average,
    Maximum,
    Minimum,
}

impl MergeOp {
    pub const ALL: [MergeOp; 6] =
        [MergeOp::Add, MergeOp::Subtract, MergeOp::Multiply, MergeOp::Average, MergeOp::Maximum, MergeOp::Minimum];

    pub fn class(self) -> &'static str {
        match self {
            MergeOp::Add => "Add",
            MergeOp::Subtract => "Subtract",
            MergeOp::Multiply => "Multiply",
            MergeOp::Average => "Average",
            MergeOp::Maximum => "Maximum",
            MergeOp::Minimum => "Minimum",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MergeConfig {
    pub op: MergeOp,
}

impl LayerConfig for MergeConfig {
    fn parse(class: &str, _c: &mut Obj) -> Result<Self> {
        let op = MergeOp::ALL
            .into_iter()
            .find(|op| op.class() == class)
            .ok_or_else(|| RnnError::value(format!("merge layer: unknown class {class:?}")))?;
        Ok(MergeConfig { op })
    }

    fn class(&self) -> &'static str {
        self.op.class()
    }

    fn output(&self, _input: Flow, _last: bool) -> std::result::Result<Flow, String> {
        Err(format!("takes a list of inputs, e.g. {}()([a, b])", self.op.class()))
    }

    fn node_outputs(&self, inputs: &[Flow]) -> std::result::Result<Vec<Flow>, String> {
        if self.op == MergeOp::Subtract && inputs.len() != 2 {
            return Err(format!("takes exactly two inputs, got {}", inputs.len()));
        }
        if inputs.len() < 2 {
            return Err(format!("takes a list of at least two inputs, got {}", inputs.len()));
        }
        let (features, sequence) = inputs[0].rows()?;
        for (i, x) in inputs.iter().enumerate().skip(1) {
            let (f, seq) = x.rows().map_err(|e| format!("inputs[{i}]: {e}"))?;
            let steps_differ = matches!((x.steps(), inputs[0].steps()), (Some(a), Some(b)) if a != b);
            if f != features || seq != sequence || steps_differ {
                return Err(format!(
                    "inputs[{i}] has shape {} but inputs[0] has {}; the inputs of an element-wise merge must have the same shape",
                    fmt_flow(*x),
                    fmt_flow(inputs[0])
                ));
            }
        }
        Ok(vec![*inputs.iter().find(|x| x.steps().is_some()).unwrap_or(&inputs[0])])
    }

    fn build<F: Float>(&self, _input: Flow, _seed: u64) -> Result<Box<dyn Layer<F>>> {
        Ok(Box::new(Merge::<F> { op: self.op, inputs: Vec::new() }))
    }

    fn to_json(&self) -> Value {
        json!({})
    }
}

fn fmt_flow(f: Flow) -> String {
    let dims: Vec<String> = f.shape().iter().map(|d| d.map_or("None".into(), |d| d.to_string())).collect();
    format!("({})", dims.join(", "))
}

#[derive(Debug)]
pub struct Merge<F> {
    op: MergeOp,
    /// The inputs of the last forward (`Multiply`, `Maximum`, `Minimum`), or just their count.
    inputs: Vec<Array2<F>>,
}

impl<F: Float> Layer<F> for Merge<F> {
    fn class(&self) -> &'static str {
        self.op.class()
    }

    fn config(&self) -> Value {
        MergeConfig { op: self.op }.to_json()
    }

    fn forward(&mut self, _x: LayerInput<'_, F>, _ctx: &mut Ctx<'_, F>) -> Result<Tensor<F>> {
        Err(RnnError::value(format!("{}: takes a list of at least two inputs", self.op.class())))
    }

    fn backward(&mut self, _dy: Array2<F>, _ctx: &mut GradCtx<F>) -> Result<Option<Array2<F>>> {
        Err(RnnError::state(format!("{}: takes a list of inputs; use backward_many", self.op.class())))
    }

    fn forward_many(&mut self, xs: Vec<Tensor<F>>, masks: &[Option<Mask>], ctx: &mut Ctx<'_, F>) -> Result<Tensor<F>> {
        let first = &xs[0];
        for (i, x) in xs.iter().enumerate().skip(1) {
            if x.steps != first.steps || x.data.dim() != first.data.dim() {
                return Err(RnnError::shape(format!(
                    "{}: inputs[{i}] has shape {:?} but inputs[0] has {:?}; the shapes must match",
                    self.op.class(),
                    x.shape(),
                    first.shape()
                )));
            }
        }
        let steps = first.steps;
        let mut y = first.data.to_owned();
        for x in &xs[1..] {
            let f: fn(F, F) -> F = match self.op {
                MergeOp::Add | MergeOp::Average => |a, b| a + b,
                MergeOp::Subtract => |a, b| a - b,
                MergeOp::Multiply => |a, b| a * b,
                MergeOp::Maximum => |a, b| if b > a { b } else { a },
                MergeOp::Minimum => |a, b| if b < a { b } else { a },
            };
            Zip::from(&mut y).and(&x.data).for_each(|a, &b| *a = f(*a, b));
        }
        if self.op == MergeOp::Average {
            let n = F::from_f64(1.0 / xs.len() as f64);
            y.mapv_inplace(|v| v * n);
        }
        let keep = ctx.keep() && matches!(self.op, MergeOp::Multiply | MergeOp::Maximum | MergeOp::Minimum);
        // Only the count matters for the linear operations.
        self.inputs = if keep { xs.into_iter().map(|x| x.data).collect() } else { vec![Array2::zeros((0, 0)); xs.len()] };
        ctx.mask = intersect(masks);
        Ok(Tensor::new(y, steps))
    }

    fn backward_many(&mut self, dy: Array2<F>, _ctx: &mut GradCtx<F>) -> Result<Vec<Array2<F>>> {
        let n = self.inputs.len();
        if n == 0 {
            return Err(RnnError::state(format!("{}.backward: no forward pass to differentiate", self.op.class())));
        }
        Ok(match self.op {
            MergeOp::Add => vec![dy; n],
            MergeOp::Subtract => vec![dy.clone(), dy.mapv(|v| -v)],
            MergeOp::Average => vec![dy.mapv(|v| v * F::from_f64(1.0 / n as f64)); n],
            MergeOp::Multiply => (0..n)
                .map(|i| {
                    let mut g = dy.clone();
                    for (j, x) in self.inputs.iter().enumerate().filter(|(j, _)| *j != i) {
                        let _ = j;
                        Zip::from(&mut g).and(x).for_each(|g, &v| *g = *g * v);
                    }
                    g
                })
                .collect(),
            MergeOp::Maximum | MergeOp::Minimum => {
                let max = self.op == MergeOp::Maximum;
                // Which input holds each element's extreme (the first on ties).
                let mut winner = Array2::<usize>::zeros(dy.dim());
                let mut best = self.inputs[0].clone();
                for (j, x) in self.inputs.iter().enumerate().skip(1) {
                    Zip::from(&mut best).and(&mut winner).and(x).for_each(|b, w, &v| {
                        if (max && v > *b) || (!max && v < *b) {
                            *b = v;
                            *w = j;
                        }
                    });
                }
                (0..n)
                    .map(|i| {
                        let mut g = dy.clone();
                        Zip::from(&mut g).and(&winner).for_each(|g, &w| {
                            if w != i {
                                *g = F::zero();
                            }
                        });
                        g
                    })
                    .collect()
            }
        })
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
