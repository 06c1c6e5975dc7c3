//! A model that any number of Python threads use at once.
//!
//! Training and every change of the weights hold `master` for writing, one
//! at a time; inference (predict, evaluate, generate, decode) runs on a
//! private replica per concurrent call, copied from `master` under a read
//! lock, so a caller always sees the weights of a completed step and never
//! waits for another's computation. Locks are only taken with the GIL
//! released (inside `compute`), and the GIL is never taken while one is held,
//! so no lock order can deadlock with it.

use rustrnn_core::{Float, Model, RnnError};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};

type CoreResult<T> = std::result::Result<T, RnnError>;

/// At most this many idle replicas are kept (each holds a copy of the weights).
const MAX_SPARES: usize = 8;

pub struct Shared<F> {
    master: RwLock<Model<F>>,
    /// Bumped under the write lock whenever `master` changes.
    version: AtomicU64,
    /// Idle replicas and the version they copy (stale ones are dropped when seen).
    spares: Mutex<Vec<(u64, Model<F>)>>,
    /// What `master` was built from, to build replicas.
    spec: serde_json::Value,
    seed: u64,
    /// A model with `stateful` layers carries states from call to call: every
    /// call runs on `master`, one at a time, in call order.
    stateful: bool,
}

fn poisoned() -> RnnError {
    RnnError::state("the model is unusable: an internal error interrupted a change of its weights; load it again")
}

impl<F: Float> Shared<F> {
    pub fn new(spec: &str, seed: u64) -> CoreResult<Self> {
        let spec: serde_json::Value = serde_json::from_str(spec).map_err(|e| RnnError::value(format!("spec: not valid JSON ({e})")))?;
        let master = Model::from_spec(&spec, seed)?;
        let stateful = master.is_stateful();
        Ok(Shared { master: RwLock::new(master), version: AtomicU64::new(0), spares: Mutex::new(Vec::new()), spec, seed, stateful })
    }

    /// `f` on the model, read-only.
    pub fn read<R>(&self, f: impl FnOnce(&Model<F>) -> CoreResult<R>) -> CoreResult<R> {
        f(&*self.master.read().map_err(|_| poisoned())?)
    }

    /// `f` on the model under the write lock; replicas become stale.
    pub fn write<R>(&self, f: impl FnOnce(&mut Model<F>) -> CoreResult<R>) -> CoreResult<R> {
        let mut m = self.master.write().map_err(|_| poisoned())?;
        let out = f(&mut m);
        self.version.fetch_add(1, Ordering::SeqCst);
        out
    }

    /// `f` on the model under the write lock, for calls that leave the
    /// weights as they were (gradients without an update, reseeding).
    pub fn write_same<R>(&self, f: impl FnOnce(&mut Model<F>) -> CoreResult<R>) -> CoreResult<R> {
        f(&mut *self.master.write().map_err(|_| poisoned())?)
    }

    /// A fresh copy of the model (weights and compile settings) and its version.
    fn replicate(&self) -> CoreResult<(u64, Model<F>)> {
        let m = self.master.read().map_err(|_| poisoned())?;
        let version = self.version.load(Ordering::SeqCst);
        let mut r = Model::from_spec(&self.spec, self.seed)?;
        r.set_weights(m.weights())?;
        if let Some(c) = m.trainer.compiled.as_ref() {
            r.compile_outputs(c.losses.clone(), c.optimizer.config.clone())?;
        }
        Ok((version, r))
    }

    /// `f` on a replica of the current weights, private to this call (on
    /// `master` for a stateful model: its states are one sequence of calls).
    pub fn with_replica<R>(&self, f: impl FnOnce(&mut Model<F>) -> CoreResult<R>) -> CoreResult<R> {
        if self.stateful {
            return self.write_same(f);
        }
        let (version, mut replica) = self.checkout()?;
        let out = f(&mut replica);
        self.checkin(version, replica);
        out
    }

    /// `f` on private replicas of several models at once (an ensemble
    /// decoding); none may be stateful.
    pub fn with_replicas<R>(all: &[&Shared<F>], f: impl FnOnce(&mut [&mut Model<F>]) -> CoreResult<R>) -> CoreResult<R> {
        if all.iter().any(|s| s.stateful) {
            return Err(RnnError::value("models: a model with stateful layers cannot be one of an ensemble"));
        }
        let mut taken = all.iter().map(|s| s.checkout()).collect::<CoreResult<Vec<_>>>()?;
        let out = f(&mut taken.iter_mut().map(|(_, m)| m).collect::<Vec<_>>());
        for (s, (version, m)) in all.iter().zip(taken) {
            s.checkin(version, m);
        }
        out
    }

    /// An idle replica of the current weights, or a new one, and its version.
    fn checkout(&self) -> CoreResult<(u64, Model<F>)> {
        let now = self.version.load(Ordering::SeqCst);
        let idle = {
            let mut spares = self.spares.lock().unwrap_or_else(|e| e.into_inner());
            spares.retain(|(v, _)| *v == now);
            spares.pop()
        };
        match idle {
            Some(r) => Ok(r),
            None => self.replicate(),
        }
    }

    /// Keeps a replica for later calls unless the weights changed meanwhile.
    fn checkin(&self, version: u64, replica: Model<F>) {
        if version == self.version.load(Ordering::SeqCst) {
            let mut spares = self.spares.lock().unwrap_or_else(|e| e.into_inner());
            if spares.len() < MAX_SPARES {
                spares.push((version, replica));
            }
        }
    }
}
