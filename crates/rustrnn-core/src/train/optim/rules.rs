//! The per-element update rules, exactly as Keras 3 writes them.

use super::OptimizerConfig;
use crate::error::{Result, RnnError};
use crate::float::Float;
use crate::json::Obj;
use crate::names::Names;
use ndarray::ArrayD;

/// The optimizers by name (`Adam(...)` is `adam`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptimizerKind {
    Sgd,
    Adam,
    AdamW,
    RmsProp,
    Adagrad,
}

impl Names for OptimizerKind {
    const WHAT: &'static str = "optimizer";
    const TABLE: &'static [(&'static str, Self)] = &[
        ("sgd", OptimizerKind::Sgd),
        ("adam", OptimizerKind::Adam),
        ("adamw", OptimizerKind::AdamW),
        ("rmsprop", OptimizerKind::RmsProp),
        ("adagrad", OptimizerKind::Adagrad),
    ];
}

crate::from_str_by_names!(OptimizerKind);

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rule {
    /// `m = μ·m − lr·g; w += m` (Nesterov: `w += μ·m − lr·g`); plain `w −= lr·g` when μ = 0.
    Sgd { momentum: f64, nesterov: bool },
    /// Adam and AdamW (AdamW differs only in its default weight decay).
    Adam { beta_1: f64, beta_2: f64, epsilon: f64, amsgrad: bool },
    /// `v = ρ·v + (1−ρ)·g²`; centered subtracts the squared mean gradient.
    RmsProp { rho: f64, momentum: f64, epsilon: f64, centered: bool },
    /// `a += g²; w −= lr·g / sqrt(a + ε)`.
    Adagrad { initial_accumulator_value: f64, epsilon: f64 },
}

/// Constants of one step, computed once in f64.
pub struct StepConsts {
    lr: f64,
    /// Adam: `lr·sqrt(1 − β₂ᵗ) / (1 − β₁ᵗ)`.
    lr_t: f64,
    /// Decoupled weight decay factor `1 − lr·wd`.
    decay: f64,
}

impl StepConsts {
    pub fn new(cfg: &OptimizerConfig, t: u64) -> Self {
        let lr = cfg.learning_rate;
        let lr_t = match cfg.rule {
            Rule::Adam { beta_1, beta_2, .. } => lr * (1.0 - beta_2.powf(t as f64)).sqrt() / (1.0 - beta_1.powf(t as f64)),
            _ => lr,
        };
        StepConsts { lr, lr_t, decay: 1.0 - lr * cfg.weight_decay }
    }
}

fn rate(o: &mut Obj, key: &'static str, default: f64) -> Result<f64> {
    let v = o.f64(key, Some(default))?;
    if !(0.0..1.0).contains(&v) {
        return Err(RnnError::value(format!("optimizer.{key}: expected a value in [0, 1), got {v}")));
    }
    Ok(v)
}

fn positive(o: &mut Obj, key: &'static str, default: f64) -> Result<f64> {
    let v = o.f64(key, Some(default))?;
    if v <= 0.0 {
        return Err(RnnError::value(format!("optimizer.{key}: expected a positive value, got {v}")));
    }
    Ok(v)
}

impl Rule {
    /// The rule and its default learning rate and weight decay.
    pub fn parse(kind: OptimizerKind, o: &mut Obj) -> Result<(Rule, f64, f64)> {
        Ok(match kind {
            OptimizerKind::Sgd => (Rule::Sgd { momentum: rate(o, "momentum", 0.0)?, nesterov: o.bool("nesterov", false)? }, 0.01, 0.0),
            OptimizerKind::Adam | OptimizerKind::AdamW => {
                let rule = Rule::Adam {
                    beta_1: rate(o, "beta_1", 0.9)?,
                    beta_2: rate(o, "beta_2", 0.999)?,
                    epsilon: positive(o, "epsilon", 1e-7)?,
                    amsgrad: o.bool("amsgrad", false)?,
                };
                (rule, 0.001, if kind == OptimizerKind::AdamW { 0.004 } else { 0.0 })
            }
            OptimizerKind::RmsProp => {
                let rule = Rule::RmsProp {
                    rho: rate(o, "rho", 0.9)?,
                    momentum: rate(o, "momentum", 0.0)?,
                    epsilon: positive(o, "epsilon", 1e-7)?,
                    centered: o.bool("centered", false)?,
                };
                (rule, 0.001, 0.0)
            }
            OptimizerKind::Adagrad => {
                let init = o.f64("initial_accumulator_value", Some(0.1))?;
                if init < 0.0 {
                    return Err(RnnError::value(format!("optimizer.initial_accumulator_value: expected a non-negative value, got {init}")));
                }
                (Rule::Adagrad { initial_accumulator_value: init, epsilon: positive(o, "epsilon", 1e-7)? }, 0.001, 0.0)
            }
        })
    }

    pub fn slot_names(&self) -> &'static [&'static str] {
        match *self {
            Rule::Sgd { momentum, .. } if momentum > 0.0 => &["momentum"],
            Rule::Sgd { .. } => &[],
            Rule::Adam { amsgrad: true, .. } => &["m", "v", "vhat"],
            Rule::Adam { .. } => &["m", "v"],
            Rule::RmsProp { centered: true, momentum, .. } if momentum > 0.0 => &["velocity", "average_gradient", "momentum"],
            Rule::RmsProp { centered: true, .. } => &["velocity", "average_gradient"],
            Rule::RmsProp { momentum, .. } if momentum > 0.0 => &["velocity", "momentum"],
            Rule::RmsProp { .. } => &["velocity"],
            Rule::Adagrad { .. } => &["accumulator"],
        }
    }

    pub fn init_slots<F: Float>(&self, shape: &[usize]) -> Vec<ArrayD<F>> {
        let init = match *self {
            Rule::Adagrad { initial_accumulator_value, .. } => F::from_f64(initial_accumulator_value),
            _ => F::zero(),
        };
        self.slot_names().iter().map(|_| ArrayD::from_elem(shape, init)).collect()
    }

    /// Updates `w` from `g` (times `scale`, then clipped to ±`clip`).
    pub fn update<F: Float>(&self, k: &StepConsts, w: &mut [F], g: &[F], slots: &mut [&mut [F]], scale: F, clip: Option<F>) {
        if k.decay != 1.0 {
            let decay = F::from_f64(k.decay);
            w.iter_mut().for_each(|v| *v = *v * decay);
        }
        // One monomorphic loop per gradient transform, so that each vectorises.
        match clip {
            Some(c) => self.apply(k, w, g, slots, |v: F| (v * scale).max(-c).min(c)),
            None if scale == F::one() => self.apply(k, w, g, slots, |v: F| v),
            None => self.apply(k, w, g, slots, |v: F| v * scale),
        }
    }

    #[inline(always)]
    fn apply<F: Float>(&self, k: &StepConsts, w: &mut [F], g: &[F], slots: &mut [&mut [F]], grad: impl Fn(F) -> F) {
        let f = F::from_f64;
        let lr = f(k.lr);
        let one = F::one();
        match *self {
            Rule::Sgd { momentum, nesterov } if momentum > 0.0 => {
                let mu = f(momentum);
                for ((w, &g), m) in w.iter_mut().zip(g).zip(slots[0].iter_mut()) {
                    let g = grad(g);
                    *m = mu * *m - lr * g;
                    *w = if nesterov { *w + mu * *m - lr * g } else { *w + *m };
                }
            }
            Rule::Sgd { .. } => {
                for (w, &g) in w.iter_mut().zip(g) {
                    *w = *w - lr * grad(g);
                }
            }
            Rule::Adam { beta_1, beta_2, epsilon, amsgrad } => {
                let (b1, b2, eps, lr_t) = (f(1.0 - beta_1), f(1.0 - beta_2), f(epsilon), f(k.lr_t));
                let [m, v, rest @ ..] = slots else { unreachable!("Adam has m and v") };
                let moments = w.iter_mut().zip(g).zip(m.iter_mut().zip(v.iter_mut()));
                match (amsgrad, rest.first_mut()) {
                    (true, Some(vhat)) => {
                        for (((w, &g), (m, v)), vh) in moments.zip(vhat.iter_mut()) {
                            let g = grad(g);
                            *m += (g - *m) * b1;
                            *v += (g * g - *v) * b2;
                            *vh = vh.max(*v);
                            *w = *w - lr_t * *m / (vh.sqrt() + eps);
                        }
                    }
                    _ => {
                        for ((w, &g), (m, v)) in moments {
                            let g = grad(g);
                            *m += (g - *m) * b1;
                            *v += (g * g - *v) * b2;
                            *w = *w - lr_t * *m / (v.sqrt() + eps);
                        }
                    }
                }
            }
            Rule::RmsProp { rho, momentum, epsilon, centered } => {
                let (r, eps, mu) = (f(rho), f(epsilon), f(momentum));
                let mut it = slots.iter_mut();
                let vel = &mut **it.next().expect("velocity");
                let mut avg = if centered { it.next().map(|s| &mut **s) } else { None };
                let mut mom = if momentum > 0.0 { it.next().map(|s| &mut **s) } else { None };
                for j in 0..w.len() {
                    let gj = grad(g[j]);
                    vel[j] = r * vel[j] + (one - r) * gj * gj;
                    let mut denom = vel[j];
                    if let Some(a) = avg.as_deref_mut() {
                        a[j] = r * a[j] + (one - r) * gj;
                        denom = denom - a[j] * a[j];
                    }
                    let inc = lr * gj / (denom + eps).sqrt();
                    match mom.as_deref_mut() {
                        Some(m) => {
                            m[j] = mu * m[j] + inc;
                            w[j] = w[j] - m[j];
                        }
                        None => w[j] = w[j] - inc,
                    }
                }
            }
            Rule::Adagrad { epsilon, .. } => {
                let eps = f(epsilon);
                for ((w, &g), acc) in w.iter_mut().zip(g).zip(slots[0].iter_mut()) {
                    let g = grad(g);
                    *acc += g * g;
                    *w = *w - lr * g / (*acc + eps).sqrt();
                }
            }
        }
    }
}
