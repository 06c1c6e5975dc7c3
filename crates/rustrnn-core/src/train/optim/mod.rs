//! Optimizers with Keras' update rules and defaults: SGD (momentum,
//! Nesterov), Adam, AdamW, RMSprop, Adagrad; decoupled weight decay,
//! gradient clipping by value, per-variable norm or global norm.
//!
//! State (moments) is kept per parameter name, so it survives saving and
//! loading and a change of which layers are trainable. The learning rate is
//! a plain number that schedules set before each step.

mod rules;
pub mod schedule;

use crate::error::{fmt_shape, Result, RnnError};
use crate::float::{to_f64, Float};
use crate::json::Obj;
use crate::names::Names;
use crate::nn::NamedLayer;
use ndarray::{ArrayD, ArrayViewD, ArrayViewMutD};
use rayon::prelude::*;
pub use rules::{OptimizerKind, Rule};
pub use schedule::Schedule;
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq)]
pub struct OptimizerConfig {
    pub rule: Rule,
    /// The rate of the next step without a schedule.
    pub learning_rate: f64,
    /// When set, the rate of each step (the one owner of it).
    pub schedule: Option<Schedule>,
    pub weight_decay: f64,
    pub clipnorm: Option<f64>,
    pub clipvalue: Option<f64>,
    pub global_clipnorm: Option<f64>,
}

impl OptimizerConfig {
    /// From `{"name": "adam", "learning_rate": 0.001, ...}`; absent options
    /// take Keras' defaults.
    pub fn parse(v: &Value) -> Result<Self> {
        let mut o = Obj::new("optimizer", v)?;
        let name = o.str("name", None)?.to_lowercase();
        let (rule, lr, wd) = Rule::parse(OptimizerKind::from_name(&name)?, &mut o)?;
        let schedule = match o.value("learning_rate") {
            Some(v) if v.is_object() => Some(Schedule::parse(v)?),
            _ => None,
        };
        let cfg = OptimizerConfig {
            rule,
            learning_rate: match &schedule {
                Some(s) => s.rate(0),
                None => o.f64("learning_rate", Some(lr))?,
            },
            schedule,
            weight_decay: o.f64("weight_decay", Some(wd))?,
            clipnorm: o.opt_f64("clipnorm")?,
            clipvalue: o.opt_f64("clipvalue")?,
            global_clipnorm: o.opt_f64("global_clipnorm")?,
        };
        o.finish()?;
        if cfg.learning_rate < 0.0 || cfg.weight_decay < 0.0 {
            return Err(RnnError::value(format!(
                "optimizer: learning_rate and weight_decay must be non-negative, got {} and {}",
                cfg.learning_rate, cfg.weight_decay
            )));
        }
        let clips = [cfg.clipnorm, cfg.clipvalue, cfg.global_clipnorm];
        if clips.iter().flatten().count() > 1 {
            return Err(RnnError::value("optimizer: set at most one of clipnorm, clipvalue, global_clipnorm"));
        }
        if let Some(c) = clips.iter().flatten().find(|c| **c <= 0.0) {
            return Err(RnnError::value(format!("optimizer: a clipping threshold must be positive, got {c}")));
        }
        Ok(cfg)
    }

    /// The rate of update number `step` (0-based).
    pub fn rate_at(&self, step: u64) -> f64 {
        self.schedule.as_ref().map_or(self.learning_rate, |s| s.rate(step))
    }
}

#[derive(Debug, Clone)]
pub struct Optimizer<F> {
    pub config: OptimizerConfig,
    /// Steps taken so far.
    pub iterations: u64,
    /// Per parameter name (`layer/param`), the rule's slots (e.g. `m`, `v`).
    state: BTreeMap<String, Vec<ArrayD<F>>>,
}

/// Elements per task when an update is split across threads.
const CHUNK: usize = 1 << 15;

impl<F: Float> Optimizer<F> {
    pub fn new(config: OptimizerConfig) -> Self {
        Optimizer { config, iterations: 0, state: BTreeMap::new() }
    }

    /// One update of every trainable parameter from its accumulated gradient.
    pub fn apply(&mut self, layers: &mut [NamedLayer<F>]) {
        self.apply_from(layers, None);
    }

    /// One update from `flat · scale` instead of the accumulated gradients:
    /// `flat` holds every parameter's gradient of every layer, in model order
    /// (the layout of [`flat_len`]), e.g. summed across processes.
    pub fn apply_flat(&mut self, layers: &mut [NamedLayer<F>], flat: &[F], scale: f64) -> Result<()> {
        let want = flat_len(layers);
        if flat.len() != want {
            return Err(RnnError::shape(format!("gradients: expected a flat array of {want} values, got {}", flat.len())));
        }
        self.apply_from(layers, Some((flat, scale)));
        Ok(())
    }

    fn apply_from(&mut self, layers: &mut [NamedLayer<F>], flat: Option<(&[F], f64)>) {
        self.config.learning_rate = self.config.rate_at(self.iterations);
        let cfg = self.config.clone();
        // Where each parameter's gradient starts in `flat`, per layer.
        let mut starts = Vec::with_capacity(layers.len());
        let mut at = 0;
        for l in layers.iter() {
            let mut own = Vec::new();
            for i in 0..l.param_names().len() {
                own.push(at);
                at += l.param(i).len();
            }
            starts.push(own);
        }
        let base = flat.map_or(1.0, |(_, s)| s);
        let global_scale = match cfg.global_clipnorm {
            Some(max) => {
                let sq: f64 = match flat {
                    Some((g, s)) => layers
                        .iter()
                        .zip(&starts)
                        .filter(|(l, _)| l.trainable())
                        .map(|(l, own)| {
                            let a = own.first().copied().unwrap_or(0);
                            g[a..a + l.num_params()].iter().map(|v| (to_f64(*v) * s).powi(2)).sum::<f64>()
                        })
                        .sum(),
                    None => layers
                        .iter()
                        .filter(|l| l.trainable())
                        .flat_map(|l| (0..l.param_names().len()).map(move |i| sq_norm(l.grad(i))))
                        .sum(),
                };
                clip_scale(sq.sqrt(), max)
            }
            None => 1.0,
        };
        self.iterations += 1;
        let step = rules::StepConsts::new(&cfg, self.iterations);
        for (layer, at) in layers.iter_mut().zip(&starts).filter(|(l, _)| l.trainable()) {
            let names = layer.param_names();
            let prefix = layer.name.clone();
            let state = &mut self.state;
            layer.update(&mut |i, w, own| {
                let g = match flat {
                    Some((g, _)) => {
                        let a = at[i];
                        ArrayViewD::from_shape(ndarray::IxDyn(w.shape()), &g[a..a + w.len()]).expect("sized by the layout")
                    }
                    None => own,
                };
                let slots = state.entry(format!("{prefix}/{}", names[i])).or_insert_with(|| cfg.rule.init_slots(w.shape()));
                let scale = match cfg.clipnorm {
                    Some(max) => base * global_scale * clip_scale(sq_norm(g.view()).sqrt() * base, max),
                    None => base * global_scale,
                };
                update_one(&cfg, &step, w, g, slots, F::from_f64(scale));
            });
        }
    }

    /// `(name/slot, value)` for every slot, sorted by name.
    pub fn state(&self) -> Vec<(String, ArrayViewD<'_, F>)> {
        let slot_names = self.config.rule.slot_names();
        self.state.iter().flat_map(|(p, slots)| slots.iter().zip(slot_names).map(move |(a, s)| (format!("{p}/{s}"), a.view()))).collect()
    }

    /// Restores the state saved by [`state`](Self::state), checking every
    /// entry against the model's parameters before changing anything.
    pub fn set_state(&mut self, iterations: u64, entries: Vec<(String, ArrayD<F>)>, layers: &[NamedLayer<F>]) -> Result<()> {
        let slot_names = self.config.rule.slot_names();
        let mut shapes = BTreeMap::new();
        for l in layers {
            for (i, p) in l.param_names().iter().enumerate() {
                shapes.insert(format!("{}/{p}", l.name), l.param(i).shape().to_vec());
            }
        }
        let mut state: BTreeMap<String, Vec<Option<ArrayD<F>>>> = BTreeMap::new();
        for (name, value) in entries {
            let (param, slot) = name.rsplit_once('/').unwrap_or(("", ""));
            let k = slot_names.iter().position(|s| *s == slot);
            if !shapes.contains_key(param) && k.is_some() && crate::nn::find_folded(layers, param).is_some() {
                continue; // an older file's slots of a parameter now folded into another one
            }
            let (Some(shape), Some(k)) = (shapes.get(param), k) else {
                return Err(RnnError::value(format!(
                    "optimizer state: {name:?} is not a slot of this optimizer for a parameter of this model"
                )));
            };
            if value.shape() != shape.as_slice() {
                return Err(RnnError::shape(format!(
                    "optimizer state {name}: expected shape {}, got {}",
                    fmt_shape(shape),
                    fmt_shape(value.shape())
                )));
            }
            state.entry(param.to_string()).or_insert_with(|| vec![None; slot_names.len()])[k] = Some(value);
        }
        let mut full = BTreeMap::new();
        for (p, slots) in state {
            if slots.iter().any(|s| s.is_none()) {
                return Err(RnnError::value(format!("optimizer state: {p} is missing some of the slots {}", slot_names.join(", "))));
            }
            full.insert(p, slots.into_iter().map(|s| s.expect("checked")).collect());
        }
        self.iterations = iterations;
        self.state = full;
        Ok(())
    }
}

/// Length of the flat gradient layout: every parameter of every layer.
pub fn flat_len<F: Float>(layers: &[NamedLayer<F>]) -> usize {
    layers.iter().map(|l| l.num_params()).sum()
}

fn sq_norm<F: Float>(g: ArrayViewD<F>) -> f64 {
    g.iter().map(|v| to_f64(*v).powi(2)).sum()
}

/// `min(1, max / norm)`.
fn clip_scale(norm: f64, max: f64) -> f64 {
    if norm > max {
        max / norm
    } else {
        1.0
    }
}

/// Applies the rule to one parameter, in chunks across the thread pool
/// (element-wise, so the result does not depend on the split).
fn update_one<F: Float>(
    cfg: &OptimizerConfig,
    step: &rules::StepConsts,
    mut w: ArrayViewMutD<F>,
    g: ArrayViewD<F>,
    slots: &mut [ArrayD<F>],
    scale: F,
) {
    let g = g.as_standard_layout();
    let w = w.as_slice_mut().expect("parameters are contiguous");
    let g = g.as_slice().expect("standard layout");
    let clip = cfg.clipvalue.map(F::from_f64);
    let mut slot_chunks: Vec<std::slice::ChunksMut<'_, F>> =
        slots.iter_mut().map(|s| s.as_slice_mut().expect("contiguous").chunks_mut(CHUNK)).collect();
    let mut tasks = Vec::with_capacity(w.len() / CHUNK + 1);
    for (wc, gc) in w.chunks_mut(CHUNK).zip(g.chunks(CHUNK)) {
        let sc: Vec<&mut [F]> = slot_chunks.iter_mut().map(|it| it.next().expect("same length")).collect();
        tasks.push((wc, gc, sc));
    }
    let run = |(wc, gc, mut sc): (&mut [F], &[F], Vec<&mut [F]>)| cfg.rule.update(step, wc, gc, &mut sc, scale, clip);
    if tasks.len() > 1 {
        tasks.into_par_iter().for_each(run);
    } else {
        tasks.into_iter().for_each(run);
    }
}
