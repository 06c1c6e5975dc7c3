//! `rustrnn._native.ModelHandle`: a whole model (Sequential or Seq2Seq) with
//! its loss, metrics and optimizer, in float32 or float64. Every batch-sized
//! call (training step, evaluation, prediction, generation, decoding) runs
//! in Rust with the GIL released, and any number of Python threads may call
//! it at once (see [`Shared`]). Glue only: the architecture arrives as JSON
//! and is validated by the core.

use crate::errors::{compute, dtype_error, to_py};
use numpy::{
    Element, IntoPyArray, PyArrayDyn, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2, PyReadonlyArrayDyn, PyReadwriteArray1,
    PyUntypedArrayMethods,
};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyTuple};
use rustrnn_core::models::generate::{Sampling, StepModel};
use rustrnn_core::models::layer::{all_param_names, find_param};
use rustrnn_core::models::optim::flat_len;
use rustrnn_core::models::saving::{self, FileTensor};
use rustrnn_core::models::seq2seq::Seq2SeqConfig;
use rustrnn_core::models::{Input, Loss, ModelSpec, Network, OptimizerConfig, Seq2Seq, Sequential, Trainer};
use rustrnn_core::{rng, Float, RnnError};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard};

/// Loss, metrics and optimizer as `compile` received them (replicas need them
/// for evaluation).
type CompileArgs = (Loss, Vec<String>, OptimizerConfig);

/// The model proper: weights, gradients and optimizer state.
struct Master<F> {
    trainer: Trainer<F>,
    compile: Option<CompileArgs>,
}

/// A model that any number of Python threads use at once. Training and every
/// change of the weights hold `master` for writing, one at a time; inference
/// (predict, evaluate, decode) runs on a private replica per concurrent call,
/// copied from `master` under a read lock, so a caller always sees the weights
/// of a completed step and never waits for another's computation. Locks are
/// only taken with the GIL released, and the GIL is never taken while one is
/// held, so no lock order can deadlock with it.
struct Shared<F> {
    master: RwLock<Master<F>>,
    /// Bumped under the write lock whenever `master` changes.
    version: AtomicU64,
    /// Idle replicas (of some version; stale ones are dropped when seen).
    spares: Mutex<Vec<(u64, Trainer<F>)>>,
    /// The compiled step model of `generate`, for the version it was built from.
    step: Mutex<Option<(u64, Arc<StepModel<F>>)>>,
    spec: serde_json::Value,
    seed: u64,
}

/// At most this many idle replicas are kept (each holds a copy of the weights).
const MAX_SPARES: usize = 8;

fn poisoned() -> RnnError {
    RnnError::state("the model is unusable: an internal error interrupted a change of its weights; load it again")
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // These mutexes guard caches only: a panic cannot leave them inconsistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl<F: Float> Shared<F> {
    fn new(spec: serde_json::Value, seed: u64) -> Result<Self, RnnError> {
        let trainer = build(&spec, seed)?;
        Ok(Shared {
            master: RwLock::new(Master { trainer, compile: None }),
            version: AtomicU64::new(0),
            spares: Mutex::new(Vec::new()),
            step: Mutex::new(None),
            spec,
            seed,
        })
    }

    fn read(&self) -> Result<RwLockReadGuard<'_, Master<F>>, RnnError> {
        self.master.read().map_err(|_| poisoned())
    }

    /// Runs `f` on `master` under the write lock, then marks replicas stale.
    fn write<R>(&self, f: impl FnOnce(&mut Master<F>) -> Result<R, RnnError>) -> Result<R, RnnError> {
        let mut m = self.master.write().map_err(|_| poisoned())?;
        let out = f(&mut m);
        self.version.fetch_add(1, Ordering::SeqCst);
        out
    }

    /// A fresh copy of `master` (weights and compile settings) and its version.
    fn replicate(&self) -> Result<(u64, Trainer<F>), RnnError> {
        let m = self.read()?;
        let version = self.version.load(Ordering::SeqCst);
        let mut t: Trainer<F> = build(&self.spec, self.seed)?;
        let (from, to) = (m.trainer.net.layers(), t.net.layers_mut());
        for (src, dst) in from.iter().zip(to.iter_mut()) {
            for i in 0..src.param_names().len() {
                dst.set_param(i, src.param(i))?;
            }
        }
        if let Some((loss, metrics, opt)) = &m.compile {
            t.compile(*loss, metrics.clone(), opt.clone())?;
        }
        Ok((version, t))
    }

    /// Runs `f` on a replica of the current weights, private to this call.
    fn with_replica<R>(&self, f: impl FnOnce(&mut Trainer<F>) -> Result<R, RnnError>) -> Result<R, RnnError> {
        let now = self.version.load(Ordering::SeqCst);
        let idle = {
            let mut spares = lock(&self.spares);
            spares.retain(|(v, _)| *v == now);
            spares.pop()
        };
        let (version, mut t) = match idle {
            Some(r) => r,
            None => self.replicate()?,
        };
        let out = f(&mut t);
        if version == self.version.load(Ordering::SeqCst) {
            let mut spares = lock(&self.spares);
            if spares.len() < MAX_SPARES {
                spares.push((version, t));
            }
        }
        out
    }

    /// The step model of the current weights, built once per version.
    fn step_model(&self) -> Result<Arc<StepModel<F>>, RnnError> {
        let m = self.read()?;
        let now = self.version.load(Ordering::SeqCst);
        let mut slot = lock(&self.step);
        if let Some((v, s)) = slot.as_ref() {
            if *v == now {
                return Ok(s.clone());
            }
        }
        let Network::Sequential(seq) = &m.trainer.net else {
            return Err(RnnError::value("generate: use decode() for a Seq2Seq model"));
        };
        let s = Arc::new(StepModel::new(seq)?);
        *slot = Some((now, s.clone()));
        Ok(s)
    }
}

enum Inner {
    F32(Shared<f32>),
    F64(Shared<f64>),
}

macro_rules! with_model {
    ($self:expr, $m:ident, $t:ident, $body:block) => {
        match &$self.inner {
            Inner::F32($m) => {
                #[allow(dead_code)]
                type $t = f32;
                $body
            }
            Inner::F64($m) => {
                #[allow(dead_code)]
                type $t = f64;
                $body
            }
        }
    };
}

#[pyclass(module = "rustrnn._native")]
pub struct ModelHandle {
    inner: Inner,
}

/// The arrays of a model input, borrowed from NumPy for the call.
enum PyInput<'py, T: Element> {
    Indices(PyReadonlyArray2<'py, i64>),
    Features(PyReadonlyArrayDyn<'py, T>),
    Pair(PyReadonlyArray2<'py, i64>, PyReadonlyArray2<'py, i64>),
}

impl<T: Element + Float> PyInput<'_, T> {
    fn view(&self) -> Input<'_, T> {
        match self {
            PyInput::Indices(a) => Input::Indices(a.as_array()),
            PyInput::Features(a) => Input::Features(a.as_array()),
            PyInput::Pair(a, b) => Input::Pair(a.as_array(), b.as_array()),
        }
    }
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "?".into())
}

fn indices<'py>(arg: &str, obj: &Bound<'py, PyAny>) -> PyResult<PyReadonlyArray2<'py, i64>> {
    obj.extract::<PyReadonlyArray2<'py, i64>>()
        .map_err(|_| dtype_error(obj.py(), format!("{arg}: expected a 2-D numpy.ndarray of int64 indices, got {}", type_name(obj))))
}

fn floats<'py, T: Element + Float>(arg: &str, obj: &Bound<'py, PyAny>) -> PyResult<PyReadonlyArrayDyn<'py, T>> {
    obj.extract::<PyReadonlyArrayDyn<'py, T>>()
        .map_err(|_| dtype_error(obj.py(), format!("{arg}: expected a numpy.ndarray of {}, got {}", T::NAME, describe(obj))))
}

fn describe(obj: &Bound<'_, PyAny>) -> String {
    match obj.cast::<numpy::PyUntypedArray>() {
        Ok(a) => format!("an array of {}", a.dtype()),
        Err(_) => type_name(obj),
    }
}

fn input<'py, T: Element + Float>(x: &Bound<'py, PyAny>) -> PyResult<PyInput<'py, T>> {
    if let Ok(t) = x.cast::<PyTuple>() {
        if t.len() != 2 {
            return Err(dtype_error(x.py(), format!("x: expected a pair (source, decoder input), got a tuple of {}", t.len())));
        }
        return Ok(PyInput::Pair(indices("x[0]", &t.get_item(0)?)?, indices("x[1]", &t.get_item(1)?)?));
    }
    if let Ok(a) = x.extract::<PyReadonlyArray2<'py, i64>>() {
        return Ok(PyInput::Indices(a));
    }
    Ok(PyInput::Features(floats::<T>("x", x)?))
}

fn opt_floats<'py, T: Element + Float>(arg: &str, obj: Option<&Bound<'py, PyAny>>) -> PyResult<Option<PyReadonlyArrayDyn<'py, T>>> {
    match obj {
        Some(o) if !o.is_none() => Ok(Some(floats::<T>(arg, o)?)),
        _ => Ok(None),
    }
}

fn parse_json(py: Python<'_>, what: &str, text: &str) -> PyResult<serde_json::Value> {
    serde_json::from_str(text).map_err(|e| to_py(py, RnnError::value(format!("{what}: not valid JSON ({e})"))))
}

fn build<F: Float>(spec: &serde_json::Value, seed: u64) -> Result<Trainer<F>, RnnError> {
    let net = match spec.get("type").and_then(|t| t.as_str()) {
        Some("seq2seq") => {
            let cfg = spec.get("config").ok_or_else(|| RnnError::value("model.config: missing"))?;
            Network::Seq2Seq(Seq2Seq::new(Seq2SeqConfig::parse(cfg)?, seed)?)
        }
        Some("sequential") | None => Network::Sequential(Sequential::new(ModelSpec::parse(spec)?, seed)?),
        Some(other) => return Err(RnnError::value(format!("model.type: expected \"sequential\" or \"seq2seq\", got {other:?}"))),
    };
    Ok(Trainer::new(net))
}

type Stats = (f64, f64, Vec<(f64, f64)>);
type PyNamed<'py> = Vec<(String, Bound<'py, PyAny>)>;

fn stats(s: rustrnn_core::models::BatchStats) -> Stats {
    (s.loss_sum, s.count, s.metrics)
}

fn array_list<'py, F: Float + Element>(py: Python<'py>, items: Vec<(String, ndarray::ArrayD<F>)>) -> PyResult<PyNamed<'py>> {
    Ok(items.into_iter().map(|(n, a)| (n, a.into_pyarray(py).into_any())).collect())
}

#[pymethods]
impl ModelHandle {
    /// Builds a model from its JSON architecture, initialised from `seed`
    /// (default: the next seed of `manual_seed`'s sequence).
    #[new]
    #[pyo3(signature = (spec, dtype, seed=None))]
    fn new(py: Python<'_>, spec: &str, dtype: &str, seed: Option<u64>) -> PyResult<Self> {
        let v = parse_json(py, "spec", spec)?;
        let seed = seed.unwrap_or_else(rng::next_seed);
        let inner = match dtype {
            "float32" => Inner::F32(Shared::new(v, seed).map_err(|e| to_py(py, e))?),
            "float64" => Inner::F64(Shared::new(v, seed).map_err(|e| to_py(py, e))?),
            other => return Err(dtype_error(py, format!("dtype: expected float32 or float64, got {other}"))),
        };
        Ok(ModelHandle { inner })
    }

    /// Sets the loss, metrics and optimizer (a JSON config); resets the optimizer state.
    fn compile(&self, py: Python<'_>, loss: &str, from_logits: bool, metrics: Vec<String>, optimizer: &str) -> PyResult<()> {
        let loss = Loss::parse(loss, from_logits).map_err(|e| to_py(py, e))?;
        let opt = OptimizerConfig::parse(&parse_json(py, "optimizer", optimizer)?).map_err(|e| to_py(py, e))?;
        with_model!(self, s, T, {
            compute(py, || {
                s.write(|m| {
                    m.trainer.compile(loss, metrics.clone(), opt.clone())?;
                    m.compile = Some((loss, metrics, opt));
                    Ok(())
                })
            })
        })
    }

    /// One training step. Returns `(Σ loss, valid rows, [(Σ metric, Σ weight)])`.
    #[pyo3(signature = (x, y, sample_weight=None))]
    fn train_batch(
        &self,
        py: Python<'_>,
        x: &Bound<'_, PyAny>,
        y: &Bound<'_, PyAny>,
        sample_weight: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Stats> {
        with_model!(self, s, T, {
            let (x, y, w) = (input::<T>(x)?, floats::<T>("y", y)?, opt_floats::<T>("sample_weight", sample_weight)?);
            let (xv, yv, wv) = (x.view(), y.as_array(), w.as_ref().map(|w| w.as_array()));
            compute(py, || s.write(|m| m.trainer.train_batch(xv, yv, wv))).map(stats)
        })
    }

    /// Forward and backward of a training step without the update; writes
    /// every parameter's gradient into the flat array `out` (model order, see
    /// `flat_size`), as the gradient of the batch's summed loss when
    /// `summed`, else of its mean loss. Returns the batch's sums as `train_batch`.
    #[pyo3(signature = (x, y, out, sample_weight=None, summed=false))]
    fn gradients_into(
        &self,
        py: Python<'_>,
        x: &Bound<'_, PyAny>,
        y: &Bound<'_, PyAny>,
        out: &Bound<'_, PyAny>,
        sample_weight: Option<&Bound<'_, PyAny>>,
        summed: bool,
    ) -> PyResult<Stats> {
        with_model!(self, s, T, {
            let (x, y, w) = (input::<T>(x)?, floats::<T>("y", y)?, opt_floats::<T>("sample_weight", sample_weight)?);
            let (xv, yv, wv) = (x.view(), y.as_array(), w.as_ref().map(|w| w.as_array()));
            let mut out = flat_out::<T>(out)?;
            let buf = out.as_slice_mut().map_err(|_| dtype_error(py, "out: expected a C-contiguous array".into()))?;
            compute(py, || {
                let mut m = s.master.write().map_err(|_| poisoned())?;
                let st = m.trainer.accumulate(xv, yv, wv)?;
                m.trainer.gradients_into(buf, if summed { st.count } else { 1.0 })?;
                Ok(st)
            })
            .map(stats)
        })
    }

    /// One optimizer step from the flat gradients `grads · scale` (the layout
    /// of `gradients_into`), read in place.
    #[pyo3(signature = (grads, scale=1.0))]
    fn apply_flat(&self, py: Python<'_>, grads: &Bound<'_, PyAny>, scale: f64) -> PyResult<()> {
        if !scale.is_finite() {
            return Err(to_py(py, RnnError::value(format!("scale: expected a finite number, got {scale}"))));
        }
        with_model!(self, s, T, {
            let g = grads.extract::<PyReadonlyArray1<'_, T>>().map_err(|_| {
                dtype_error(py, format!("grads: expected a 1-D numpy.ndarray of {}, got {}", <T as Float>::NAME, describe(grads)))
            })?;
            let flat = g.as_slice().map_err(|_| dtype_error(py, "grads: expected a C-contiguous array".into()))?;
            compute(py, || s.write(|m| m.trainer.apply_flat(flat, scale)))
        })
    }

    /// Values in the flat gradient layout: every parameter of every layer.
    fn flat_size(&self, py: Python<'_>) -> PyResult<usize> {
        with_model!(self, s, T, { compute(py, || Ok(flat_len(s.read()?.trainer.net.layers()))) })
    }

    /// Loss and metrics of a batch, nothing updated.
    #[pyo3(signature = (x, y, sample_weight=None))]
    fn test_batch(
        &self,
        py: Python<'_>,
        x: &Bound<'_, PyAny>,
        y: &Bound<'_, PyAny>,
        sample_weight: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Stats> {
        with_model!(self, s, T, {
            let (x, y, w) = (input::<T>(x)?, floats::<T>("y", y)?, opt_floats::<T>("sample_weight", sample_weight)?);
            let (xv, yv, wv) = (x.view(), y.as_array(), w.as_ref().map(|w| w.as_array()));
            compute(py, || s.with_replica(|t| t.test_batch(xv, yv, wv))).map(stats)
        })
    }

    /// `(output, [states])` of a batch in inference mode.
    fn predict_batch<'py>(&self, py: Python<'py>, x: &Bound<'py, PyAny>) -> PyResult<(Bound<'py, PyAny>, Vec<Bound<'py, PyAny>>)> {
        with_model!(self, s, T, {
            let x = input::<T>(x)?;
            let xv = x.view();
            let f = compute(py, || s.with_replica(|t| t.predict(xv)))?;
            let states = f.states.into_iter().map(|s| s.into_pyarray(py).into_any()).collect();
            Ok((f.y.into_array().into_pyarray(py).into_any(), states))
        })
    }

    /// `(loss, [(name, gradient)])` with dropout off and no update.
    #[pyo3(signature = (x, y, sample_weight=None))]
    fn gradients<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        y: &Bound<'py, PyAny>,
        sample_weight: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<(f64, PyNamed<'py>)> {
        with_model!(self, s, T, {
            let (x, y, w) = (input::<T>(x)?, floats::<T>("y", y)?, opt_floats::<T>("sample_weight", sample_weight)?);
            let (xv, yv, wv) = (x.view(), y.as_array(), w.as_ref().map(|w| w.as_array()));
            let (loss, grads) = compute(py, || {
                let mut m = s.master.write().map_err(|_| poisoned())?;
                m.trainer.gradients(xv, yv, wv)
            })?;
            Ok((loss, array_list(py, grads)?))
        })
    }

    /// Every parameter as `(layer/param, copy)`, in model order.
    fn weights<'py>(&self, py: Python<'py>) -> PyResult<PyNamed<'py>> {
        with_model!(self, s, T, {
            let out = compute(py, || {
                let m = s.read()?;
                let mut out = Vec::new();
                for l in m.trainer.net.layers() {
                    for (i, p) in l.param_names().iter().enumerate() {
                        out.push((format!("{}/{p}", l.name), l.param(i).to_owned()));
                    }
                }
                Ok(out)
            })?;
            array_list(py, out)
        })
    }

    /// Parameter names as `layer/param`, in model order.
    fn weight_names(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        with_model!(self, s, T, { compute(py, || Ok(all_param_names(s.read()?.trainer.net.layers()))) })
    }

    /// Copies the given `(name, array)` pairs in; all are checked first, so a
    /// failure changes nothing.
    fn set_weights(&self, py: Python<'_>, weights: Vec<(String, Bound<'_, PyAny>)>) -> PyResult<()> {
        with_model!(self, s, T, {
            let mut arrays = Vec::with_capacity(weights.len());
            for (name, value) in &weights {
                let arr = value.cast::<PyArrayDyn<T>>().map_err(|_| {
                    dtype_error(py, format!("{name}: expected a numpy.ndarray of {}, got {}", <T as Float>::NAME, describe(value)))
                })?;
                arrays.push((name.clone(), arr.readonly()));
            }
            let views: Vec<(String, ndarray::ArrayViewD<'_, T>)> = arrays.iter().map(|(n, a)| (n.clone(), a.as_array())).collect();
            compute(py, || {
                s.write(|m| {
                    let layers = m.trainer.net.layers();
                    let mut staged = Vec::new();
                    for (name, a) in &views {
                        let (l, p) = find_param(layers, name)?;
                        let want = layers[l].param(p).shape().to_vec();
                        if a.shape() != want.as_slice() {
                            return Err(RnnError::shape(format!(
                                "{name}: expected shape {}, got {}",
                                rustrnn_core::error::fmt_shape(&want),
                                rustrnn_core::error::fmt_shape(a.shape())
                            )));
                        }
                        staged.push((l, p, a));
                    }
                    let layers = m.trainer.net.layers_mut();
                    for (l, p, a) in staged {
                        layers[l].set_param(p, a.view())?;
                    }
                    Ok(())
                })
            })
        })
    }

    /// `(iterations, [(param/slot, array)])`.
    fn optimizer_state<'py>(&self, py: Python<'py>) -> PyResult<(u64, PyNamed<'py>)> {
        with_model!(self, s, T, {
            let (it, items) = compute(py, || {
                let m = s.read()?;
                Ok(match m.trainer.compiled.as_ref() {
                    Some(c) => (c.optimizer.iterations, c.optimizer.state().into_iter().map(|(n, a)| (n, a.to_owned())).collect()),
                    None => (0, Vec::new()),
                })
            })?;
            Ok((it, array_list(py, items)?))
        })
    }

    fn set_optimizer_state(&self, py: Python<'_>, iterations: u64, state: Vec<(String, Bound<'_, PyAny>)>) -> PyResult<()> {
        with_model!(self, s, T, {
            let mut items = Vec::new();
            for (name, value) in &state {
                let arr = value
                    .cast::<PyArrayDyn<T>>()
                    .map_err(|_| dtype_error(py, format!("{name}: expected a numpy.ndarray of {}", <T as Float>::NAME)))?;
                items.push((name.clone(), arr.readonly().as_array().to_owned()));
            }
            compute(py, || {
                s.write(|m| {
                    let t = &mut m.trainer;
                    let c = t.compiled.as_mut().ok_or_else(|| RnnError::state("set_optimizer_state: compile the model first"))?;
                    c.optimizer.set_state(iterations, items, t.net.layers())
                })
            })
        })
    }

    /// The optimizer's current learning rate.
    #[getter]
    fn learning_rate(&self, py: Python<'_>) -> PyResult<Option<f64>> {
        with_model!(self, s, T, { compute(py, || Ok(s.read()?.trainer.compiled.as_ref().map(|c| c.optimizer.config.learning_rate))) })
    }

    #[setter]
    fn set_learning_rate(&self, py: Python<'_>, lr: f64) -> PyResult<()> {
        if !(lr >= 0.0 && lr.is_finite()) {
            return Err(to_py(py, RnnError::value(format!("learning_rate: expected a finite value >= 0, got {lr}"))));
        }
        with_model!(self, s, T, {
            compute(py, || {
                s.write(|m| {
                    let c = m.trainer.compiled.as_mut().ok_or_else(|| RnnError::state("learning_rate: compile the model first"))?;
                    c.optimizer.config.learning_rate = lr;
                    if let Some(args) = m.compile.as_mut() {
                        args.2.learning_rate = lr;
                    }
                    Ok(())
                })
            })
        })
    }

    /// Optimizer steps taken.
    #[getter]
    fn iterations(&self, py: Python<'_>) -> PyResult<u64> {
        with_model!(self, s, T, { compute(py, || Ok(s.read()?.trainer.compiled.as_ref().map_or(0, |c| c.optimizer.iterations))) })
    }

    /// Per-layer name, class, output shape and parameter count, as JSON.
    fn layer_info(&self, py: Python<'_>) -> PyResult<String> {
        with_model!(self, s, T, {
            compute(py, || {
                let m = s.read()?;
                let info: Vec<_> = match &m.trainer.net {
                    Network::Sequential(s) => s.spec.info(&s.layers),
                    Network::Seq2Seq(s) => s
                        .layers
                        .iter()
                        .map(|l| rustrnn_core::models::spec::LayerInfo {
                            name: l.name.clone(),
                            class: match &l.kind {
                                rustrnn_core::models::layer::LayerKind::Embedding(_) => "Embedding".into(),
                                rustrnn_core::models::layer::LayerKind::Recurrent(r) => r.cfg.cell.name().into(),
                                rustrnn_core::models::layer::LayerKind::Dense(_) => "Dense".into(),
                                rustrnn_core::models::layer::LayerKind::Dropout(_) => "Dropout".into(),
                                rustrnn_core::models::layer::LayerKind::Masking(_) => "Masking".into(),
                            },
                            output_shape: Vec::new(),
                            params: l.num_params(),
                            trainable: l.trainable(),
                        })
                        .collect(),
                };
                Ok(serde_json::to_string(&info).expect("serializable"))
            })
        })
    }

    /// Freezes or unfreezes a layer by name.
    fn set_trainable(&self, py: Python<'_>, layer: &str, trainable: bool) -> PyResult<()> {
        with_model!(self, s, T, {
            compute(py, || {
                s.write(|m| {
                    let layers = m.trainer.net.layers_mut();
                    let names: Vec<String> = layers.iter().map(|l| l.name.clone()).collect();
                    let l = layers.iter_mut().find(|l| l.name == layer).ok_or_else(|| {
                        RnnError::value(format!("layer: {layer:?} is not a layer of this model; expected one of {}", names.join(", ")))
                    })?;
                    l.set_trainable(trainable);
                    Ok(())
                })
            })
        })
    }

    /// Reseeds the dropout masks.
    fn set_seed(&self, py: Python<'_>, seed: u64) -> PyResult<()> {
        with_model!(self, s, T, {
            compute(py, || {
                let mut m = s.master.write().map_err(|_| poisoned())?;
                m.trainer.net.set_seed(seed);
                Ok(())
            })
        })
    }

    /// Samples `length` tokens after each row of `seed_ids` (B, S), step by step in Rust.
    #[pyo3(signature = (seed_ids, length, temperature=1.0, top_k=None, seed=None))]
    fn generate<'py>(
        &self,
        py: Python<'py>,
        seed_ids: &Bound<'py, PyAny>,
        length: usize,
        temperature: f64,
        top_k: Option<usize>,
        seed: Option<u64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let ids = indices("seed_ids", seed_ids)?;
        let sampling = Sampling { temperature, top_k, seed: seed.unwrap_or_else(rng::next_seed) };
        with_model!(self, s, T, {
            let v = ids.as_array();
            let out = compute(py, || s.step_model()?.generate(v, length, sampling))?;
            Ok(out.into_pyarray(py).into_any())
        })
    }

    /// Seq2Seq decoding: greedy when `beam_width == 1`, else beam search.
    #[pyo3(signature = (src, max_length, beam_width=1, length_penalty=0.0))]
    fn decode<'py>(
        &self,
        py: Python<'py>,
        src: &Bound<'py, PyAny>,
        max_length: usize,
        beam_width: usize,
        length_penalty: f64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let src = indices("x", src)?;
        with_model!(self, s, T, {
            let v = src.as_array();
            let out = compute(py, || {
                s.with_replica(|t| {
                    let Network::Seq2Seq(s) = &mut t.net else {
                        return Err(RnnError::value("decode: only a Seq2Seq model decodes; use generate() for a Sequential"));
                    };
                    if beam_width == 1 {
                        s.greedy(v, max_length)
                    } else {
                        s.beam_search(v, max_length, beam_width, length_penalty)
                    }
                })
            })?;
            Ok(out.into_pyarray(py).into_any())
        })
    }

    /// `(all, trainable)` parameter counts.
    fn num_params(&self, py: Python<'_>) -> PyResult<(usize, usize)> {
        with_model!(self, s, T, {
            compute(py, || {
                let m = s.read()?;
                let layers = m.trainer.net.layers();
                Ok((layers.iter().map(|l| l.num_params()).sum(), layers.iter().filter(|l| l.trainable()).map(|l| l.num_params()).sum()))
            })
        })
    }
}

fn flat_out<'py, T: Element + Float>(obj: &Bound<'py, PyAny>) -> PyResult<PyReadwriteArray1<'py, T>> {
    obj.extract::<PyReadwriteArray1<'py, T>>()
        .map_err(|_| dtype_error(obj.py(), format!("out: expected a writable 1-D numpy.ndarray of {}, got {}", T::NAME, describe(obj))))
}

/// Safetensors bytes of `(name, float32/float64 array)` pairs and string metadata.
#[pyfunction]
pub fn serialize_model<'py>(
    py: Python<'py>,
    tensors: Vec<(String, Bound<'py, PyAny>)>,
    metadata: HashMap<String, String>,
) -> PyResult<Bound<'py, PyBytes>> {
    let mut items = Vec::with_capacity(tensors.len());
    for (name, value) in &tensors {
        let t = if let Ok(a) = value.extract::<PyReadonlyArrayDyn<f32>>() {
            FileTensor::F32(a.as_array().to_owned())
        } else if let Ok(a) = value.extract::<PyReadonlyArrayDyn<f64>>() {
            FileTensor::F64(a.as_array().to_owned())
        } else {
            return Err(dtype_error(py, format!("{name}: expected a float32 or float64 array, got {}", describe(value))));
        };
        items.push((name.clone(), t));
    }
    let bytes = compute(py, || saving::to_bytes(&items, metadata))?;
    Ok(PyBytes::new(py, &bytes))
}

/// `(metadata, [(name, array)])` from safetensors bytes, fully validated.
#[pyfunction]
pub fn deserialize_model<'py>(py: Python<'py>, data: &[u8]) -> PyResult<(Bound<'py, PyDict>, PyNamed<'py>)> {
    let (meta, tensors) = compute(py, || saving::from_bytes(data))?;
    let d = PyDict::new(py);
    for (k, v) in meta {
        d.set_item(k, v)?;
    }
    let items = tensors
        .into_iter()
        .map(|(n, t)| {
            let a = match t {
                FileTensor::F32(a) => a.into_pyarray(py).into_any(),
                FileTensor::F64(a) => a.into_pyarray(py).into_any(),
            };
            (n, a)
        })
        .collect();
    Ok((d, items))
}

/// The next seed of the `manual_seed` sequence (for shuffling and sampling).
#[pyfunction]
pub fn next_seed() -> u64 {
    rng::next_seed()
}
