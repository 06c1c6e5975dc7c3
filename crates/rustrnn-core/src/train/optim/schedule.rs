//! Learning-rate schedules with Keras' names and formulas, evaluated in Rust
//! at every optimizer step (the Python classes only describe them). `step`
//! is the 0-based index of the update about to be made.

use crate::error::{Result, RnnError};
use crate::json::Obj;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub enum Schedule {
    /// `initial · decay_rate^(step / decay_steps)` (floored with `staircase`).
    ExponentialDecay { initial: f64, decay_steps: f64, decay_rate: f64, staircase: bool },
    /// `initial / (1 + decay_rate · step / decay_steps)` (floored with `staircase`).
    InverseTimeDecay { initial: f64, decay_steps: f64, decay_rate: f64, staircase: bool },
    /// `values[i]` while `boundaries[i-1] < step <= boundaries[i]`.
    PiecewiseConstantDecay { boundaries: Vec<i64>, values: Vec<f64> },
    /// Cosine from the top rate to `alpha` times it over `decay_steps`, after
    /// an optional linear warm-up from `initial` to `warmup_target`.
    CosineDecay { initial: f64, decay_steps: f64, alpha: f64, warmup_target: Option<f64>, warmup_steps: u64 },
}

/// The schedule classes, as `{"class": ..., "config": {...}}` names them.
pub const CLASSES: [&str; 4] = ["ExponentialDecay", "InverseTimeDecay", "PiecewiseConstantDecay", "CosineDecay"];

fn non_negative(o: &mut Obj, key: &'static str, default: Option<f64>) -> Result<f64> {
    let v = o.f64(key, default)?;
    if v < 0.0 {
        return Err(RnnError::value(format!("{}.{key}: expected a value >= 0, got {v}", o.what())));
    }
    Ok(v)
}

fn positive(o: &mut Obj, key: &'static str) -> Result<f64> {
    let v = o.f64(key, None)?;
    if v <= 0.0 {
        return Err(RnnError::value(format!("{}.{key}: expected a positive value, got {v}", o.what())));
    }
    Ok(v)
}

impl Schedule {
    /// From `{"class": "CosineDecay", "config": {...}}`.
    pub fn parse(v: &Value) -> Result<Self> {
        let mut o = Obj::new("learning_rate", v)?;
        let class = o.str("class", None)?;
        let empty = Value::Object(Default::default());
        let cv = o.value("config").unwrap_or(&empty);
        o.finish()?;
        let mut c = Obj::new(format!("learning_rate ({class})"), cv)?;
        let s = match class.as_str() {
            "ExponentialDecay" | "InverseTimeDecay" => {
                let (initial, decay_steps) = (non_negative(&mut c, "initial_learning_rate", None)?, positive(&mut c, "decay_steps")?);
                let (decay_rate, staircase) = (non_negative(&mut c, "decay_rate", None)?, c.bool("staircase", false)?);
                if class == "ExponentialDecay" {
                    Schedule::ExponentialDecay { initial, decay_steps, decay_rate, staircase }
                } else {
                    Schedule::InverseTimeDecay { initial, decay_steps, decay_rate, staircase }
                }
            }
            "PiecewiseConstantDecay" => {
                let list = |c: &mut Obj, key: &'static str| -> Result<Vec<f64>> {
                    let v = c.value(key).ok_or_else(|| RnnError::value(format!("learning_rate.{key}: missing")))?;
                    v.as_array()
                        .and_then(|a| a.iter().map(|x| x.as_f64().filter(|f| f.is_finite())).collect::<Option<Vec<_>>>())
                        .ok_or_else(|| RnnError::value(format!("learning_rate.{key}: expected a list of numbers, got {v}")))
                };
                let boundaries = list(&mut c, "boundaries")?.into_iter().map(|b| b as i64).collect::<Vec<_>>();
                let values = list(&mut c, "values")?;
                if values.len() != boundaries.len() + 1 {
                    return Err(RnnError::value(format!(
                        "learning_rate.values: expected len(boundaries) + 1 = {} values, got {}",
                        boundaries.len() + 1,
                        values.len()
                    )));
                }
                Schedule::PiecewiseConstantDecay { boundaries, values }
            }
            "CosineDecay" => Schedule::CosineDecay {
                initial: non_negative(&mut c, "initial_learning_rate", None)?,
                decay_steps: positive(&mut c, "decay_steps")?,
                alpha: non_negative(&mut c, "alpha", Some(0.0))?,
                warmup_target: c.opt_f64("warmup_target")?,
                warmup_steps: c.usize("warmup_steps", Some(0))? as u64,
            },
            other => return Err(RnnError::value(format!("learning_rate: expected one of {}, got {other:?}", CLASSES.join(", ")))),
        };
        c.finish()?;
        Ok(s)
    }

    /// The rate of update number `step` (0-based).
    pub fn rate(&self, step: u64) -> f64 {
        let progress = |decay_steps: f64, staircase: bool| {
            let p = step as f64 / decay_steps;
            if staircase {
                p.floor()
            } else {
                p
            }
        };
        match self {
            Schedule::ExponentialDecay { initial, decay_steps, decay_rate, staircase } => {
                initial * decay_rate.powf(progress(*decay_steps, *staircase))
            }
            Schedule::InverseTimeDecay { initial, decay_steps, decay_rate, staircase } => {
                initial / (1.0 + decay_rate * progress(*decay_steps, *staircase))
            }
            Schedule::PiecewiseConstantDecay { boundaries, values } => {
                boundaries.iter().zip(values).find(|(b, _)| step as i64 <= **b).map_or(values[values.len() - 1], |(_, v)| *v)
            }
            Schedule::CosineDecay { initial, decay_steps, alpha, warmup_target, warmup_steps } => {
                if let Some(target) = warmup_target.filter(|_| step < *warmup_steps) {
                    return initial + (target - initial) * step as f64 / *warmup_steps as f64;
                }
                let top = warmup_target.unwrap_or(*initial);
                let p = ((step.saturating_sub(*warmup_steps)) as f64).min(*decay_steps) / decay_steps;
                top * ((1.0 - alpha) * 0.5 * (1.0 + (std::f64::consts::PI * p).cos()) + alpha)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn schedules_follow_keras_formulas() {
        let exp = Schedule::parse(&json!({"class": "ExponentialDecay", "config": {"initial_learning_rate": 0.1, "decay_steps": 10, "decay_rate": 0.5, "staircase": true}})).unwrap();
        assert_eq!(exp.rate(9), 0.1);
        assert_eq!(exp.rate(10), 0.05);
        let inv = Schedule::parse(
            &json!({"class": "InverseTimeDecay", "config": {"initial_learning_rate": 1.0, "decay_steps": 2, "decay_rate": 1.0}}),
        )
        .unwrap();
        assert!((inv.rate(2) - 0.5).abs() < 1e-15);
        let pw = Schedule::parse(&json!({"class": "PiecewiseConstantDecay", "config": {"boundaries": [3, 6], "values": [1.0, 0.5, 0.1]}}))
            .unwrap();
        assert_eq!([pw.rate(3), pw.rate(4), pw.rate(7)], [1.0, 0.5, 0.1]);
        let cos = Schedule::parse(&json!({"class": "CosineDecay", "config": {"initial_learning_rate": 0.0, "decay_steps": 10,
            "warmup_target": 1.0, "warmup_steps": 4}}))
        .unwrap();
        assert_eq!(cos.rate(2), 0.5);
        assert!((cos.rate(4) - 1.0).abs() < 1e-15 && cos.rate(14).abs() < 1e-15 && cos.rate(100).abs() < 1e-15);
        let bad = Schedule::parse(&json!({"class": "Linear", "config": {}})).unwrap_err().to_string();
        assert!(bad.contains("expected one of ExponentialDecay"), "{bad}");
    }
}
