//! `GetItem`: basic indexing of a symbolic tensor, `x[:, -1]`, `x[:, -1, :]`,
//! `x[:, i:j]`, `x[..., a:b]`, as Keras 3 records `__getitem__` in a
//! functional graph. On a sequence `(B, T, F)` the time axis takes an index
//! (giving `(B, F)`: the last step is `-1`) or a slice `start:stop` (giving
//! `(B, T', F)`), the features axis a slice. Negative positions count from
//! the end (resolved per batch, so T may be unknown); slices clamp as in
//! Python. An empty result is an error. No mask leaves it (as a Keras op).

use super::config::{Flow, LayerConfig};
use super::layer::{Ctx, GradCtx, Layer, LayerInput};
use super::tensor::Tensor;
use crate::error::{Result, RnnError};
use crate::float::Float;
use crate::json::Obj;
use ndarray::{s, Array2};
use serde_json::{json, Value};
use std::any::Any;

/// What one axis keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Select {
    All,
    /// One position (the axis goes away).
    Index(i64),
    /// `start:stop`, Python's meaning (negative from the end, clamped).
    Range(Option<i64>, Option<i64>),
}

impl Select {
    fn parse(what: &str, v: Option<&Value>) -> Result<Select> {
        let bad = |v: &Value| RnnError::value(format!("{what}: expected null, an integer or [start, stop] (integers or null), got {v}"));
        match v {
            None | Some(Value::Null) => Ok(Select::All),
            Some(v) if v.is_i64() => Ok(Select::Index(v.as_i64().expect("checked"))),
            Some(whole @ Value::Array(a)) if a.len() == 2 => {
                let end = |e: &Value| if e.is_null() { Ok(None) } else { e.as_i64().map(Some).ok_or_else(|| bad(whole)) };
                Ok(Select::Range(end(&a[0])?, end(&a[1])?))
            }
            Some(v) => Err(bad(v)),
        }
    }

    fn to_json(self) -> Value {
        match self {
            Select::All => Value::Null,
            Select::Index(i) => json!(i),
            Select::Range(a, b) => json!([a, b]),
        }
    }

    /// The positions kept of an axis of length `n`, or why none.
    pub fn resolve(self, n: usize) -> std::result::Result<std::ops::Range<usize>, String> {
        let n_i = n as i64;
        match self {
            Select::All => Ok(0..n),
            Select::Index(i) => {
                let at = if i < 0 { i + n_i } else { i };
                if !(0..n_i).contains(&at) {
                    return Err(format!("index {i} is out of range for an axis of length {n}"));
                }
                Ok(at as usize..at as usize + 1)
            }
            Select::Range(a, b) => {
                let clamp = |e: i64| (if e < 0 { e + n_i } else { e }).clamp(0, n_i) as usize;
                let (start, stop) = (a.map_or(0, clamp), b.map_or(n, clamp));
                if start >= stop {
                    return Err(format!("the slice {}:{} of an axis of length {n} is empty", fmt_end(a), fmt_end(b)));
                }
                Ok(start..stop)
            }
        }
    }
}

fn fmt_end(e: Option<i64>) -> String {
    e.map_or(String::new(), |e| e.to_string())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GetItemConfig {
    /// The time axis of a sequence (`All` for a `(B, F)` input).
    pub time: Select,
    /// The features axis: `All` or a range.
    pub features: Select,
}

impl LayerConfig for GetItemConfig {
    fn parse(_class: &str, c: &mut Obj) -> Result<Self> {
        let what = c.what().to_string();
        let time = Select::parse(&format!("{what}.time"), c.value("time"))?;
        let features = Select::parse(&format!("{what}.features"), c.value("features"))?;
        if let Select::Index(_) = features {
            return Err(RnnError::value(format!(
                "{what}.features: indexing one feature would drop the features axis; take a slice (x[..., i:i+1]) instead"
            )));
        }
        Ok(GetItemConfig { time, features })
    }

    fn class(&self) -> &'static str {
        "GetItem"
    }

    fn output(&self, input: Flow, _last: bool) -> std::result::Result<Flow, String> {
        let (features, sequence) = input.rows()?;
        let f = self.features.resolve(features)?.len();
        if !sequence {
            if self.time != Select::All {
                return Err("the input is (batch, features): it has no time axis to index".into());
            }
            return Ok(Flow::vector(f));
        }
        match self.time {
            Select::Index(_) => {
                if let Some(t) = input.steps() {
                    self.time.resolve(t)?;
                }
                Ok(Flow::vector(f))
            }
            _ => Ok(Flow::sequence(f, input.steps().map(|t| self.time.resolve(t).map(|r| r.len())).transpose()?)),
        }
    }

    fn build<F: Float>(&self, _input: Flow, _seed: u64) -> Result<Box<dyn Layer<F>>> {
        Ok(Box::new(GetItem { config: *self, input: None }))
    }

    fn to_json(&self) -> Value {
        json!({"time": self.time.to_json(), "features": self.features.to_json()})
    }
}

/// What backward needs of the last input: its size and the positions kept.
#[derive(Debug, Clone)]
struct Kept {
    rows: usize,
    features: usize,
    /// T (1 without a time axis).
    steps: usize,
    kept_steps: std::ops::Range<usize>,
    kept_features: std::ops::Range<usize>,
}

#[derive(Debug)]
pub struct GetItem {
    config: GetItemConfig,
    input: Option<Kept>,
}

impl<F: Float> Layer<F> for GetItem {
    fn class(&self) -> &'static str {
        "GetItem"
    }

    fn config(&self) -> Value {
        self.config.to_json()
    }

    fn forward(&mut self, x: LayerInput<'_, F>, ctx: &mut Ctx<'_, F>) -> Result<Tensor<F>> {
        let x = x.rows("GetItem")?;
        let err = |why: String| RnnError::shape(format!("GetItem: input of shape {:?}: {why}", x.shape()));
        let cols = self.config.features.resolve(x.features()).map_err(err)?;
        let t = x.steps.unwrap_or(1);
        let steps = match x.steps {
            Some(t) => self.config.time.resolve(t).map_err(err)?,
            None if self.config.time == Select::All => 0..1,
            None => return Err(err("it has no time axis to index".into())),
        };
        let b = x.batch();
        let mut y = Array2::<F>::zeros((b * steps.len(), cols.len()));
        for bi in 0..b {
            let rows = bi * t + steps.start..bi * t + steps.end;
            y.slice_mut(s![bi * steps.len()..(bi + 1) * steps.len(), ..]).assign(&x.data.slice(s![rows, cols.clone()]));
        }
        let out_steps = match (x.steps, self.config.time) {
            (Some(_), Select::Index(_)) | (None, _) => None,
            (Some(_), _) => Some(steps.len()),
        };
        self.input = Some(Kept { rows: x.data.nrows(), features: x.features(), steps: t, kept_steps: steps, kept_features: cols });
        ctx.mask = None;
        Ok(Tensor::new(y, out_steps))
    }

    /// The gradient lands on the kept positions; the rest get zero.
    fn backward(&mut self, dy: Array2<F>, _ctx: &mut GradCtx<F>) -> Result<Option<Array2<F>>> {
        let Kept { rows, features, steps: t, kept_steps: steps, kept_features: cols } =
            self.input.clone().ok_or_else(|| RnnError::state("GetItem.backward: no forward pass to differentiate"))?;
        let mut dx = Array2::<F>::zeros((rows, features));
        for bi in 0..rows / t {
            dx.slice_mut(s![bi * t + steps.start..bi * t + steps.end, cols.clone()])
                .assign(&dy.slice(s![bi * steps.len()..(bi + 1) * steps.len(), ..]));
        }
        Ok(Some(dx))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
