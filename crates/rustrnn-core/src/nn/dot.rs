//! Keras's `Dot(axes, normalize=False)`: the dot product of two inputs along
//! one axis of each (Keras's `batch_dot`), per sample. Each input is a matrix
//! per sample, (T, F) for a sequence and (1, F) otherwise; the contracted axis
//! is its time axis (1) or its features (-1, the last). The output's shape is
//! the first input's without its contracted axis, then the second's without
//! batch and contracted axis, `(B,)` becoming `(B, 1)`: `(B, F)·(B, F) -> (B, 1)`,
//! `(B, T, F)·(B, S, F) -> (B, T, S)` with `axes=2`, `(B, T, F)·(B, F) -> (B, T)`
//! with `axes=(2, 1)`. With `normalize`, each input is first L2-normalized along
//! its contracted axis as Keras does (`x · min(1/‖x‖, 1/ε)`, ε = 1e-7): the
//! cosine similarity. As Keras, the output has no mask.

use super::config::{Flow, LayerConfig};
use super::layer::{Ctx, GradCtx, Layer, LayerInput};
use super::tensor::{Mask, Tensor};
use crate::error::{Result, RnnError};
use crate::float::{to_f64, Float};
use crate::json::Obj;
use ndarray::{s, Array2, ArrayView2};
use serde_json::{json, Value};
use std::any::Any;

/// Keras' epsilon: the inverse norm is capped at its inverse.
const EPSILON: f64 = 1e-7;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DotConfig {
    /// As given: one axis for both inputs, or one per input (negative counts from the end).
    pub axes: (i64, Option<i64>),
    pub normalize: bool,
}

impl DotConfig {
    /// Each input's contracted axis, 1 (time) or 2 (features) for a sequence, 1 (features) otherwise.
    fn resolve(&self, ranks: [usize; 2]) -> std::result::Result<[usize; 2], String> {
        let given = [self.axes.0, self.axes.1.unwrap_or(self.axes.0)];
        let mut out = [0; 2];
        for k in 0..2 {
            let r = ranks[k] as i64;
            let a = if given[k] < 0 { given[k] + r } else { given[k] };
            if a <= 0 || a >= r {
                return Err(format!("axes: {} is not an axis of inputs[{k}] (rank {r}) other than the batch axis 0", given[k]));
            }
            out[k] = a as usize;
        }
        Ok(out)
    }
}

/// `(rank, features, steps)` of a rows flow.
fn dims(f: Flow, k: usize) -> std::result::Result<(usize, usize, Option<usize>), String> {
    let (features, sequence) = f.rows().map_err(|e| format!("inputs[{k}]: {e}"))?;
    Ok(if sequence { (3, features, f.steps()) } else { (2, features, Some(1)) })
}

impl LayerConfig for DotConfig {
    fn parse(_class: &str, c: &mut Obj) -> Result<Self> {
        let bad = |v: &Value| RnnError::value(format!("Dot.axes: expected an integer or a list of two integers, got {v}"));
        let v = c.value("axes").cloned().ok_or_else(|| RnnError::value("Dot.axes: required, e.g. Dot(axes=-1)"))?;
        let axes = match &v {
            Value::Number(n) => (n.as_i64().ok_or_else(|| bad(&v))?, None),
            Value::Array(a) if a.len() == 2 => (a[0].as_i64().ok_or_else(|| bad(&v))?, Some(a[1].as_i64().ok_or_else(|| bad(&v))?)),
            _ => return Err(bad(&v)),
        };
        let normalize = c.bool("normalize", false)?;
        Ok(DotConfig { axes, normalize })
    }

    fn class(&self) -> &'static str {
        "Dot"
    }

    fn output(&self, _input: Flow, _last: bool) -> std::result::Result<Flow, String> {
        Err("takes a list of two inputs, e.g. Dot(axes=-1)([a, b])".into())
    }

    fn node_outputs(&self, inputs: &[Flow]) -> std::result::Result<Vec<Flow>, String> {
        if inputs.len() != 2 {
            return Err(format!("takes exactly two inputs, got {}", inputs.len()));
        }
        let (r1, f1, t1) = dims(inputs[0], 0)?;
        let (r2, f2, t2) = dims(inputs[1], 1)?;
        let [a1, a2] = self.resolve([r1, r2])?;
        // Per sample: rows kept after moving the contracted axis last, and its length.
        let kept = |r: usize, a: usize, f: usize, t: Option<usize>| if r == 3 && a == 1 { (Some(f), t) } else { (t, Some(f)) };
        let ((k1, c1), (k2, c2)) = (kept(r1, a1, f1, t1), kept(r2, a2, f2, t2));
        if let (Some(x), Some(y)) = (c1, c2) {
            if x != y {
                return Err(format!("Incompatible input shapes: axis values {x} (at axis {a1}) != {y} (at axis {a2})"));
            }
        }
        let unknown = |what: &str| {
            format!("the output's {what} would be the inputs' number of steps, which is unknown; declare it in keras.Input(shape=(T, ...))")
        };
        Ok(vec![match (r1, r2) {
            (3, 3) => Flow::sequence(k2.ok_or_else(|| unknown("features"))?, k1),
            (3, 2) => Flow::vector(k1.ok_or_else(|| unknown("features"))?),
            (2, 3) => Flow::vector(k2.ok_or_else(|| unknown("features"))?),
            _ => Flow::vector(1),
        }])
    }

    fn build<F: Float>(&self, _input: Flow, _seed: u64) -> Result<Box<dyn Layer<F>>> {
        Ok(Box::new(Dot::<F> { cfg: *self, cache: None }))
    }

    fn to_json(&self) -> Value {
        let axes = match self.axes {
            (a, None) => json!(a),
            (a, Some(b)) => json!([a, b]),
        };
        json!({"axes": axes, "normalize": self.normalize})
    }
}

/// One input as the matrices the product reads.
#[derive(Debug)]
struct Side<F> {
    x: Tensor<F>,
    /// The contracted axis is the time axis (the sample's matrix is transposed).
    over_time: bool,
}

impl<F: Float> Side<F> {
    fn steps(&self) -> usize {
        self.x.steps.unwrap_or(1)
    }

    /// Sample `b`'s matrix with the contracted axis last.
    fn sample(&self, b: usize) -> Array2<F> {
        let t = self.steps();
        let m = self.x.data.slice(s![b * t..(b + 1) * t, ..]);
        if self.over_time {
            m.t().to_owned()
        } else {
            m.to_owned()
        }
    }

    /// Writes `d` (of [`sample`](Self::sample)'s layout) into sample `b` of `dx`.
    fn put(&self, b: usize, d: ArrayView2<F>, dx: &mut Array2<F>) {
        let t = self.steps();
        let mut block = dx.slice_mut(s![b * t..(b + 1) * t, ..]);
        if self.over_time {
            block.assign(&d.t());
        } else {
            block.assign(&d);
        }
    }
}

/// Each row L2-normalized as Keras (`x · min(1/‖x‖, 1/ε)`), with the factors.
fn normalize_rows<F: Float>(m: &mut Array2<F>) -> Vec<(F, bool)> {
    m.rows_mut()
        .into_iter()
        .map(|mut r| {
            let ss: f64 = r.iter().map(|v| to_f64(*v) * to_f64(*v)).sum();
            let inv = 1.0 / ss.sqrt();
            let capped = inv >= 1.0 / EPSILON; // (NaN stays NaN, as Keras's min)
            let k = F::from_f64(if capped { 1.0 / EPSILON } else { inv });
            r.mapv_inplace(|v| v * k);
            (k, capped)
        })
        .collect()
}

/// The gradient through [`normalize_rows`]: `k (dn - n (n·dn))`, or `k dn` where the factor was capped.
fn normalize_backward<F: Float>(n: &Array2<F>, factors: &[(F, bool)], dn: &mut Array2<F>) {
    for ((nr, mut dr), &(k, capped)) in n.rows().into_iter().zip(dn.rows_mut()).zip(factors) {
        let proj = if capped { F::zero() } else { nr.iter().zip(dr.iter()).fold(F::zero(), |a, (x, y)| a + *x * *y) };
        for (d, x) in dr.iter_mut().zip(nr.iter()) {
            *d = k * (*d - *x * proj);
        }
    }
}

#[derive(Debug)]
pub struct Dot<F> {
    cfg: DotConfig,
    /// The inputs of the last training forward.
    cache: Option<[Side<F>; 2]>,
}

impl<F: Float> Dot<F> {
    fn sides(&self, xs: Vec<Tensor<F>>) -> Result<[Side<F>; 2]> {
        let rank = |x: &Tensor<F>| if x.steps.is_some() { 3 } else { 2 };
        let [a1, a2] = self.cfg.resolve([rank(&xs[0]), rank(&xs[1])]).map_err(|e| RnnError::value(format!("Dot: {e}")))?;
        let mut it = xs.into_iter();
        let (x1, x2) = (it.next().expect("two"), it.next().expect("two"));
        let sides = [Side { over_time: x1.steps.is_some() && a1 == 1, x: x1 }, Side { over_time: x2.steps.is_some() && a2 == 1, x: x2 }];
        let len = |s: &Side<F>| if s.over_time { s.steps() } else { s.x.data.ncols() };
        if len(&sides[0]) != len(&sides[1]) {
            return Err(RnnError::shape(format!(
                "Dot: the contracted axes differ in length: {} (inputs[0]) != {} (inputs[1])",
                len(&sides[0]),
                len(&sides[1])
            )));
        }
        Ok(sides)
    }

    /// Sample `b`'s two matrices (contracted axis last), normalized when asked, with their factors.
    #[allow(clippy::type_complexity)]
    fn operands(&self, sides: &[Side<F>; 2], b: usize) -> [(Array2<F>, Vec<(F, bool)>); 2] {
        [0, 1].map(|k| {
            let mut m = sides[k].sample(b);
            let factors = if self.cfg.normalize { normalize_rows(&mut m) } else { Vec::new() };
            (m, factors)
        })
    }
}

impl<F: Float> Layer<F> for Dot<F> {
    fn class(&self) -> &'static str {
        "Dot"
    }

    fn config(&self) -> Value {
        self.cfg.to_json()
    }

    fn forward(&mut self, _x: LayerInput<'_, F>, _ctx: &mut Ctx<'_, F>) -> Result<Tensor<F>> {
        Err(RnnError::value("Dot: takes a list of two inputs"))
    }

    fn backward(&mut self, _dy: Array2<F>, _ctx: &mut GradCtx<F>) -> Result<Option<Array2<F>>> {
        Err(RnnError::state("Dot: takes a list of inputs; use backward_many"))
    }

    fn forward_many(&mut self, xs: Vec<Tensor<F>>, _masks: &[Option<Mask>], ctx: &mut Ctx<'_, F>) -> Result<Tensor<F>> {
        if xs.len() != 2 {
            return Err(RnnError::value(format!("Dot: takes exactly two inputs, got {}", xs.len())));
        }
        let batch = xs[0].data.nrows() / xs[0].steps.unwrap_or(1);
        if xs[1].data.nrows() / xs[1].steps.unwrap_or(1) != batch {
            return Err(RnnError::shape("Dot: the inputs have different batch sizes"));
        }
        let both_seq = xs[0].steps.is_some() && xs[1].steps.is_some();
        let sides = self.sides(xs)?;
        let mut y: Option<Array2<F>> = None;
        for b in 0..batch {
            let [(m1, _), (m2, _)] = self.operands(&sides, b);
            let m = m1.dot(&m2.t()); // (r1, r2)
            let (r1, r2) = m.dim();
            let (rows, cols) = if both_seq { (r1, r2) } else { (1, r1 * r2) };
            let out = y.get_or_insert_with(|| Array2::zeros((batch * rows, cols)));
            let flat = m.as_standard_layout().into_owned().into_shape_with_order((rows, cols)).expect("same size");
            out.slice_mut(s![b * rows..(b + 1) * rows, ..]).assign(&flat);
        }
        let y = y.ok_or_else(|| RnnError::shape("Dot: expected at least one sample"))?;
        let steps = if both_seq { Some(y.nrows() / batch) } else { None };
        self.cache = ctx.keep().then_some(sides);
        ctx.mask = None; // as Keras: Dot's output has no mask
        Ok(Tensor::new(y, steps))
    }

    fn backward_many(&mut self, dy: Array2<F>, _ctx: &mut GradCtx<F>) -> Result<Vec<Array2<F>>> {
        let sides = self.cache.take().ok_or_else(|| RnnError::state("Dot.backward: no training forward to differentiate"))?;
        let batch = sides[0].x.data.nrows() / sides[0].steps();
        let mut dx = [Array2::zeros(sides[0].x.data.dim()), Array2::zeros(sides[1].x.data.dim())];
        let per = dy.nrows() / batch;
        for b in 0..batch {
            let [(m1, f1), (m2, f2)] = self.operands(&sides, b);
            let (r1, r2) = (m1.nrows(), m2.nrows());
            let dm = dy.slice(s![b * per..(b + 1) * per, ..]).as_standard_layout().into_owned();
            let dm = dm.into_shape_with_order((r1, r2)).map_err(|_| RnnError::shape("Dot.backward: dy has the wrong shape"))?;
            let mut d1 = dm.dot(&m2); // (r1, c)
            let mut d2 = dm.t().dot(&m1); // (r2, c)
            if self.cfg.normalize {
                normalize_backward(&m1, &f1, &mut d1);
                normalize_backward(&m2, &f2, &mut d2);
            }
            sides[0].put(b, d1.view(), &mut dx[0]);
            sides[1].put(b, d2.view(), &mut dx[1]);
        }
        let [d1, d2] = dx;
        Ok(vec![d1, d2])
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
