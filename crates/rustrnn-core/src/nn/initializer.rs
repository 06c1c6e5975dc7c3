//! Keras 3's weight initializers (`keras.initializers`), used by the Keras-style
//! recurrent layers: `kernel_initializer`, `recurrent_initializer`,
//! `bias_initializer`.
//!
//! A matrix is drawn in Keras's layout `(fan_in, fan_out)` (a kernel
//! `(input, gates·units)`), with Keras's fans and Keras's formulas (variance
//! scaling with a truncated normal divided by 0.8796..., orthogonal from the QR
//! of a Gaussian matrix with the signs of R's diagonal), then transposed by the
//! caller into PyTorch's `(gates·units, input)`. The values are rustrnn's own
//! draws (SplitMix64), not Keras's random stream: same distributions, not the
//! same numbers.

use crate::error::{Result, RnnError};
use crate::json::Obj;
use crate::rng::SplitMix64;
use ndarray::Array2;
use serde_json::Value;

/// How variance scaling picks `n` from the fans.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FanMode {
    In,
    Out,
    Avg,
}

/// The distribution of variance scaling.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Distribution {
    TruncatedNormal,
    UntruncatedNormal,
    Uniform,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Init {
    Zeros,
    Ones,
    Constant(f64),
    RandomUniform { minval: f64, maxval: f64 },
    RandomNormal { mean: f64, stddev: f64 },
    TruncatedNormal { mean: f64, stddev: f64 },
    VarianceScaling { scale: f64, mode: FanMode, distribution: Distribution },
    Orthogonal { gain: f64 },
    Identity { gain: f64 },
}

/// An initializer and its optional seed (Keras's `seed=`: the same values at every call).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Initializer {
    pub init: Init,
    pub seed: Option<u64>,
}

const NAMES: &str = "zeros, ones, constant, random_uniform, random_normal, truncated_normal, variance_scaling, \
                     glorot_uniform, glorot_normal, he_uniform, he_normal, lecun_uniform, lecun_normal, orthogonal, identity";

impl Initializer {
    pub const fn new(init: Init) -> Self {
        Initializer { init, seed: None }
    }

    /// A Keras name (`"glorot_uniform"`, `"GlorotUniform"`) or a Keras
    /// serialized object `{"class_name": ..., "config": {...}}`.
    pub fn parse(what: &str, v: &Value) -> Result<Self> {
        let (name, config) = match v {
            Value::String(s) => (s.clone(), None),
            Value::Object(_) => {
                let mut o = Obj::new(what, v)?;
                let name = o.str("class_name", None)?;
                let config = o.value("config").cloned();
                o.value("module");
                o.value("registered_name");
                o.finish()?;
                (name, config)
            }
            _ => return Err(RnnError::value(format!("{what}: expected an initializer name or object, got {v}"))),
        };
        let empty = Value::Object(Default::default());
        let config = config.unwrap_or(empty);
        let mut c = Obj::new(format!("{what}.config"), &config)?;
        let key: String = name.chars().filter(|ch| *ch != '_').flat_map(char::to_lowercase).collect();
        let vs = |scale, mode, distribution| Init::VarianceScaling { scale, mode, distribution };
        let init = match key.as_str() {
            "zeros" | "zero" => Init::Zeros,
            "ones" | "one" => Init::Ones,
            "constant" => Init::Constant(c.f64("value", Some(0.0))?),
            "randomuniform" | "uniform" => {
                Init::RandomUniform { minval: c.f64("minval", Some(-0.05))?, maxval: c.f64("maxval", Some(0.05))? }
            }
            "randomnormal" | "normal" => Init::RandomNormal { mean: c.f64("mean", Some(0.0))?, stddev: c.f64("stddev", Some(0.05))? },
            "truncatednormal" => Init::TruncatedNormal { mean: c.f64("mean", Some(0.0))?, stddev: c.f64("stddev", Some(0.05))? },
            "variancescaling" => {
                let scale = c.f64("scale", Some(1.0))?;
                let mode = match c.str("mode", Some("fan_in"))?.as_str() {
                    "fan_in" => FanMode::In,
                    "fan_out" => FanMode::Out,
                    "fan_avg" => FanMode::Avg,
                    m => return Err(RnnError::value(format!("{what}.mode: expected fan_in, fan_out or fan_avg, got {m:?}"))),
                };
                let distribution = match c.str("distribution", Some("truncated_normal"))?.as_str() {
                    "truncated_normal" => Distribution::TruncatedNormal,
                    "untruncated_normal" => Distribution::UntruncatedNormal,
                    "uniform" => Distribution::Uniform,
                    d => {
                        return Err(RnnError::value(format!(
                            "{what}.distribution: expected truncated_normal, untruncated_normal or uniform, got {d:?}"
                        )))
                    }
                };
                if scale <= 0.0 {
                    return Err(RnnError::value(format!("{what}.scale: expected a positive number, got {scale}")));
                }
                vs(scale, mode, distribution)
            }
            "glorotuniform" => vs(1.0, FanMode::Avg, Distribution::Uniform),
            "glorotnormal" => vs(1.0, FanMode::Avg, Distribution::TruncatedNormal),
            "heuniform" => vs(2.0, FanMode::In, Distribution::Uniform),
            "henormal" => vs(2.0, FanMode::In, Distribution::TruncatedNormal),
            "lecununiform" => vs(1.0, FanMode::In, Distribution::Uniform),
            "lecunnormal" => vs(1.0, FanMode::In, Distribution::TruncatedNormal),
            "orthogonal" => Init::Orthogonal { gain: c.f64("gain", Some(1.0))? },
            "identity" => Init::Identity { gain: c.f64("gain", Some(1.0))? },
            _ => return Err(RnnError::value(format!("{what}: unknown initializer {name:?}; expected one of {NAMES}"))),
        };
        let seed = match c.value("seed") {
            None | Some(Value::Null) => None,
            Some(s) => {
                Some(s.as_u64().ok_or_else(|| RnnError::value(format!("{what}.seed: expected a non-negative integer or null, got {s}")))?)
            }
        };
        c.finish()?;
        Ok(Initializer { init, seed })
    }

    /// Runs `f` on the initializer's own stream when it has a seed, else on `rng`.
    fn with_rng<T>(&self, rng: &mut SplitMix64, f: impl FnOnce(&mut SplitMix64) -> T) -> T {
        match self.seed {
            Some(s) => f(&mut SplitMix64::new(s)),
            None => f(rng),
        }
    }

    /// A matrix in Keras's layout `(fan_in, fan_out)`.
    pub fn matrix(&self, rows: usize, cols: usize, rng: &mut SplitMix64) -> Array2<f64> {
        let (fan_in, fan_out) = (rows as f64, cols as f64);
        self.with_rng(rng, |rng| match self.init {
            Init::Orthogonal { gain } => orthogonal(rows, cols, rng) * gain,
            Init::Identity { gain } => Array2::eye(rows.max(cols)).slice_move(ndarray::s![..rows, ..cols]) * gain,
            init => Array2::from_shape_simple_fn((rows, cols), || draw(init, fan_in, fan_out, rng)),
        })
    }

    /// A vector of `n` (a bias; Keras's fans of a 1-D shape are both `n`).
    pub fn vector(&self, what: &str, n: usize, rng: &mut SplitMix64) -> Result<Vec<f64>> {
        if let Init::Orthogonal { .. } | Init::Identity { .. } = self.init {
            return Err(RnnError::value(format!("{what}: {:?} initializes matrices only, not a bias of shape ({n},)", self.init)));
        }
        Ok(self.with_rng(rng, |rng| (0..n).map(|_| draw(self.init, n as f64, n as f64, rng)).collect()))
    }
}

fn normal(rng: &mut SplitMix64) -> f64 {
    // Box-Muller on two uniforms in (0, 1].
    let u1 = 1.0 - rng.next_f64();
    let u2 = rng.next_f64();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// A normal truncated at two standard deviations, as Keras's `truncated_normal`.
fn truncated(rng: &mut SplitMix64) -> f64 {
    loop {
        let z = normal(rng);
        if z.abs() <= 2.0 {
            return z;
        }
    }
}

fn draw(init: Init, fan_in: f64, fan_out: f64, rng: &mut SplitMix64) -> f64 {
    match init {
        Init::Zeros => 0.0,
        Init::Ones => 1.0,
        Init::Constant(v) => v,
        Init::RandomUniform { minval, maxval } => rng.uniform(minval, maxval),
        Init::RandomNormal { mean, stddev } => mean + stddev * normal(rng),
        Init::TruncatedNormal { mean, stddev } => mean + stddev * truncated(rng),
        Init::VarianceScaling { scale, mode, distribution } => {
            let n = match mode {
                FanMode::In => fan_in,
                FanMode::Out => fan_out,
                FanMode::Avg => (fan_in + fan_out) / 2.0,
            }
            .max(1.0);
            let scale = scale / n;
            match distribution {
                // The standard deviation of a unit normal truncated at ±2 is 0.8796...
                Distribution::TruncatedNormal => scale.sqrt() / 0.879_625_661_034_239_8 * truncated(rng),
                Distribution::UntruncatedNormal => scale.sqrt() * normal(rng),
                Distribution::Uniform => {
                    let limit = (3.0 * scale).sqrt();
                    rng.uniform(-limit, limit)
                }
            }
        }
        Init::Orthogonal { .. } | Init::Identity { .. } => unreachable!("matrices, drawn whole"),
    }
}

/// Keras's orthogonal matrix `(rows, cols)`: the Q of a Gaussian
/// `(max, min)` matrix (R's diagonal made positive), transposed when
/// `rows < cols`. Modified Gram-Schmidt gives exactly that Q.
fn orthogonal(rows: usize, cols: usize, rng: &mut SplitMix64) -> Array2<f64> {
    let (long, short) = (rows.max(cols), rows.min(cols));
    let mut q = Array2::from_shape_simple_fn((long, short), || normal(rng));
    for j in 0..short {
        for k in 0..j {
            let dot = q.column(j).dot(&q.column(k));
            let qk = q.column(k).to_owned();
            q.column_mut(j).scaled_add(-dot, &qk);
        }
        let norm = q.column(j).dot(&q.column(j)).sqrt();
        q.column_mut(j).mapv_inplace(|x| x / norm);
    }
    if rows < cols {
        q.reversed_axes()
    } else {
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn orthogonal_rows_or_columns_are_orthonormal() {
        let mut rng = SplitMix64::new(3);
        let init = Initializer::parse("i", &json!("orthogonal")).unwrap();
        let w = init.matrix(8, 32, &mut rng);
        let eye = w.dot(&w.t());
        assert!((eye - Array2::<f64>::eye(8)).iter().all(|x| x.abs() < 1e-12));
        let w = init.matrix(32, 8, &mut rng);
        assert!((w.t().dot(&w) - Array2::<f64>::eye(8)).iter().all(|x| x.abs() < 1e-12));
    }

    #[test]
    fn glorot_uniform_has_keras_limit_and_variance() {
        let mut rng = SplitMix64::new(1);
        let init = Initializer::parse("i", &json!({"class_name": "GlorotUniform", "config": {"seed": null}})).unwrap();
        let w = init.matrix(200, 400, &mut rng);
        let limit = (6.0f64 / 600.0).sqrt();
        assert!(w.iter().all(|x| x.abs() <= limit));
        let var = w.iter().map(|x| x * x).sum::<f64>() / w.len() as f64;
        assert!((var / (2.0 / 600.0) - 1.0).abs() < 0.02, "{var}");
    }

    #[test]
    fn seeded_initializers_repeat_and_unknown_names_are_named() {
        let init = Initializer::parse("i", &json!({"class_name": "RandomNormal", "config": {"seed": 7, "stddev": 1.0}})).unwrap();
        let a = init.matrix(3, 4, &mut SplitMix64::new(1));
        let b = init.matrix(3, 4, &mut SplitMix64::new(2));
        assert_eq!(a, b);
        let e = Initializer::parse("kernel_initializer", &json!("xavier")).unwrap_err().to_string();
        assert!(e.contains("kernel_initializer") && e.contains("xavier"), "{e}");
    }
}
