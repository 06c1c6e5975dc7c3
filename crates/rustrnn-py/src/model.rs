//! `rustrnn._native.ModelHandle`: a whole model (Sequential or Seq2Seq) with
//! its loss, metrics and optimizer, in float32 or float64. Every batch-sized
//! call (training step, evaluation, prediction, generation, decoding) runs
//! in Rust with the GIL released. Glue only: the architecture arrives as
//! JSON and is validated by the core.

use crate::errors::{compute, dtype_error, to_py};
use numpy::{Element, IntoPyArray, PyArrayDyn, PyArrayMethods, PyReadonlyArray2, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyTuple};
use rustrnn_core::models::generate::{Sampling, StepModel};
use rustrnn_core::models::layer::{all_param_names, find_param};
use rustrnn_core::models::saving::{self, FileTensor};
use rustrnn_core::models::seq2seq::Seq2SeqConfig;
use rustrnn_core::models::{Input, Loss, ModelSpec, Network, OptimizerConfig, Seq2Seq, Sequential, Trainer};
use rustrnn_core::{rng, Float, RnnError};
use std::collections::HashMap;

/// A trainer and, once generation was asked for, its compiled step model
/// (dropped whenever the weights change).
struct Typed<F> {
    trainer: Trainer<F>,
    step: Option<StepModel<F>>,
}

enum Inner {
    F32(Typed<f32>),
    F64(Typed<f64>),
}

macro_rules! with_model {
    ($self:expr, $m:ident, $t:ident, $body:block) => {
        match &mut $self.inner {
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
            "float32" => Inner::F32(Typed { trainer: build(&v, seed).map_err(|e| to_py(py, e))?, step: None }),
            "float64" => Inner::F64(Typed { trainer: build(&v, seed).map_err(|e| to_py(py, e))?, step: None }),
            other => return Err(dtype_error(py, format!("dtype: expected float32 or float64, got {other}"))),
        };
        Ok(ModelHandle { inner })
    }

    /// Sets the loss, metrics and optimizer (a JSON config); resets the optimizer state.
    fn compile(&mut self, py: Python<'_>, loss: &str, from_logits: bool, metrics: Vec<String>, optimizer: &str) -> PyResult<()> {
        let loss = Loss::parse(loss, from_logits).map_err(|e| to_py(py, e))?;
        let opt = OptimizerConfig::parse(&parse_json(py, "optimizer", optimizer)?).map_err(|e| to_py(py, e))?;
        with_model!(self, m, T, { m.trainer.compile(loss, metrics, opt).map_err(|e| to_py(py, e)) })
    }

    /// One training step. Returns `(Σ loss, valid rows, [(Σ metric, Σ weight)])`.
    #[pyo3(signature = (x, y, sample_weight=None))]
    fn train_batch(
        &mut self,
        py: Python<'_>,
        x: &Bound<'_, PyAny>,
        y: &Bound<'_, PyAny>,
        sample_weight: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Stats> {
        with_model!(self, m, T, {
            m.step = None;
            let (x, y, w) = (input::<T>(x)?, floats::<T>("y", y)?, opt_floats::<T>("sample_weight", sample_weight)?);
            let (xv, yv, wv) = (x.view(), y.as_array(), w.as_ref().map(|w| w.as_array()));
            let t = &mut m.trainer;
            compute(py, || t.train_batch(xv, yv, wv)).map(stats)
        })
    }

    /// Loss and metrics of a batch, nothing updated.
    #[pyo3(signature = (x, y, sample_weight=None))]
    fn test_batch(
        &mut self,
        py: Python<'_>,
        x: &Bound<'_, PyAny>,
        y: &Bound<'_, PyAny>,
        sample_weight: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Stats> {
        with_model!(self, m, T, {
            let (x, y, w) = (input::<T>(x)?, floats::<T>("y", y)?, opt_floats::<T>("sample_weight", sample_weight)?);
            let (xv, yv, wv) = (x.view(), y.as_array(), w.as_ref().map(|w| w.as_array()));
            let t = &mut m.trainer;
            compute(py, || t.test_batch(xv, yv, wv)).map(stats)
        })
    }

    /// `(output, [states])` of a batch in inference mode.
    fn predict_batch<'py>(&mut self, py: Python<'py>, x: &Bound<'py, PyAny>) -> PyResult<(Bound<'py, PyAny>, Vec<Bound<'py, PyAny>>)> {
        with_model!(self, m, T, {
            let x = input::<T>(x)?;
            let xv = x.view();
            let t = &mut m.trainer;
            let f = compute(py, || t.predict(xv))?;
            let states = f.states.into_iter().map(|s| s.into_pyarray(py).into_any()).collect();
            Ok((f.y.into_array().into_pyarray(py).into_any(), states))
        })
    }

    /// `(loss, [(name, gradient)])` with dropout off and no update.
    #[pyo3(signature = (x, y, sample_weight=None))]
    fn gradients<'py>(
        &mut self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        y: &Bound<'py, PyAny>,
        sample_weight: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<(f64, PyNamed<'py>)> {
        with_model!(self, m, T, {
            let (x, y, w) = (input::<T>(x)?, floats::<T>("y", y)?, opt_floats::<T>("sample_weight", sample_weight)?);
            let (xv, yv, wv) = (x.view(), y.as_array(), w.as_ref().map(|w| w.as_array()));
            let t = &mut m.trainer;
            let (loss, grads) = compute(py, || t.gradients(xv, yv, wv))?;
            Ok((loss, array_list(py, grads)?))
        })
    }

    /// Every parameter as `(layer/param, copy)`, in model order.
    fn weights<'py>(&mut self, py: Python<'py>) -> PyResult<PyNamed<'py>> {
        with_model!(self, m, T, {
            let layers = m.trainer.net.layers();
            let mut out = Vec::new();
            for l in layers {
                for (i, p) in l.param_names().iter().enumerate() {
                    out.push((format!("{}/{p}", l.name), l.param(i).to_owned()));
                }
            }
            array_list(py, out)
        })
    }

    /// Parameter names as `layer/param`, in model order.
    fn weight_names(&mut self) -> Vec<String> {
        with_model!(self, m, T, { all_param_names(m.trainer.net.layers()) })
    }

    /// Copies the given `(name, array)` pairs in; all are checked first, so a
    /// failure changes nothing.
    fn set_weights(&mut self, py: Python<'_>, weights: Vec<(String, Bound<'_, PyAny>)>) -> PyResult<()> {
        with_model!(self, m, T, {
            m.step = None;
            let layers = m.trainer.net.layers();
            let mut staged = Vec::new();
            for (name, value) in &weights {
                let (l, p) = find_param(layers, name).map_err(|e| to_py(py, e))?;
                let arr = value.cast::<PyArrayDyn<T>>().map_err(|_| {
                    dtype_error(py, format!("{name}: expected a numpy.ndarray of {}, got {}", <T as Float>::NAME, describe(value)))
                })?;
                let a = arr.readonly().as_array().to_owned();
                let want = layers[l].param(p).shape().to_vec();
                if a.shape() != want.as_slice() {
                    return Err(to_py(
                        py,
                        RnnError::shape(format!(
                            "{name}: expected shape {}, got {}",
                            rustrnn_core::error::fmt_shape(&want),
                            rustrnn_core::error::fmt_shape(a.shape())
                        )),
                    ));
                }
                staged.push((l, p, a));
            }
            let layers = m.trainer.net.layers_mut();
            for (l, p, a) in staged {
                layers[l].set_param(p, a.view()).map_err(|e| to_py(py, e))?;
            }
            Ok(())
        })
    }

    /// `(iterations, [(param/slot, array)])`.
    fn optimizer_state<'py>(&mut self, py: Python<'py>) -> PyResult<(u64, PyNamed<'py>)> {
        with_model!(self, m, T, {
            match m.trainer.compiled.as_ref() {
                Some(c) => {
                    let items = c.optimizer.state().into_iter().map(|(n, a)| (n, a.to_owned())).collect();
                    Ok((c.optimizer.iterations, array_list(py, items)?))
                }
                None => Ok((0, Vec::new())),
            }
        })
    }

    fn set_optimizer_state(&mut self, py: Python<'_>, iterations: u64, state: Vec<(String, Bound<'_, PyAny>)>) -> PyResult<()> {
        with_model!(self, m, T, {
            let mut items = Vec::new();
            for (name, value) in &state {
                let arr = value
                    .cast::<PyArrayDyn<T>>()
                    .map_err(|_| dtype_error(py, format!("{name}: expected a numpy.ndarray of {}", <T as Float>::NAME)))?;
                items.push((name.clone(), arr.readonly().as_array().to_owned()));
            }
            let t = &mut m.trainer;
            let c = t.compiled.as_mut().ok_or_else(|| to_py(py, RnnError::state("set_optimizer_state: compile the model first")))?;
            c.optimizer.set_state(iterations, items, t.net.layers()).map_err(|e| to_py(py, e))
        })
    }

    /// The optimizer's current learning rate.
    #[getter]
    fn learning_rate(&mut self) -> Option<f64> {
        with_model!(self, m, T, { m.trainer.compiled.as_ref().map(|c| c.optimizer.config.learning_rate) })
    }

    #[setter]
    fn set_learning_rate(&mut self, py: Python<'_>, lr: f64) -> PyResult<()> {
        if !(lr >= 0.0 && lr.is_finite()) {
            return Err(to_py(py, RnnError::value(format!("learning_rate: expected a finite value >= 0, got {lr}"))));
        }
        with_model!(self, m, T, {
            let c = m.trainer.compiled.as_mut().ok_or_else(|| to_py(py, RnnError::state("learning_rate: compile the model first")))?;
            c.optimizer.config.learning_rate = lr;
            Ok(())
        })
    }

    /// Optimizer steps taken.
    #[getter]
    fn iterations(&mut self) -> u64 {
        with_model!(self, m, T, { m.trainer.compiled.as_ref().map_or(0, |c| c.optimizer.iterations) })
    }

    /// Per-layer name, class, output shape and parameter count, as JSON.
    fn layer_info(&mut self) -> String {
        with_model!(self, m, T, {
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
            serde_json::to_string(&info).expect("serializable")
        })
    }

    /// Freezes or unfreezes a layer by name.
    fn set_trainable(&mut self, py: Python<'_>, layer: &str, trainable: bool) -> PyResult<()> {
        with_model!(self, m, T, {
            let layers = m.trainer.net.layers_mut();
            let names: Vec<String> = layers.iter().map(|l| l.name.clone()).collect();
            let l = layers.iter_mut().find(|l| l.name == layer).ok_or_else(|| {
                to_py(py, RnnError::value(format!("layer: {layer:?} is not a layer of this model; expected one of {}", names.join(", "))))
            })?;
            l.set_trainable(trainable);
            Ok(())
        })
    }

    /// Reseeds the dropout masks.
    fn set_seed(&mut self, seed: u64) {
        with_model!(self, m, T, { m.trainer.net.set_seed(seed) })
    }

    /// Samples `length` tokens after each row of `seed_ids` (B, S), step by step in Rust.
    #[pyo3(signature = (seed_ids, length, temperature=1.0, top_k=None, seed=None))]
    fn generate<'py>(
        &mut self,
        py: Python<'py>,
        seed_ids: &Bound<'py, PyAny>,
        length: usize,
        temperature: f64,
        top_k: Option<usize>,
        seed: Option<u64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let ids = indices("seed_ids", seed_ids)?;
        let sampling = Sampling { temperature, top_k, seed: seed.unwrap_or_else(rng::next_seed) };
        with_model!(self, m, T, {
            let step = match &mut m.step {
                Some(s) => s,
                slot => {
                    let Network::Sequential(seq) = &m.trainer.net else {
                        return Err(to_py(py, RnnError::value("generate: use decode() for a Seq2Seq model")));
                    };
                    slot.insert(StepModel::new(seq).map_err(|e| to_py(py, e))?)
                }
            };
            let v = ids.as_array();
            let out = compute(py, || step.generate(v, length, sampling))?;
            Ok(out.into_pyarray(py).into_any())
        })
    }

    /// Seq2Seq decoding: greedy when `beam_width == 1`, else beam search.
    #[pyo3(signature = (src, max_length, beam_width=1, length_penalty=0.0))]
    fn decode<'py>(
        &mut self,
        py: Python<'py>,
        src: &Bound<'py, PyAny>,
        max_length: usize,
        beam_width: usize,
        length_penalty: f64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let src = indices("x", src)?;
        with_model!(self, m, T, {
            let Network::Seq2Seq(s) = &mut m.trainer.net else {
                return Err(to_py(py, RnnError::value("decode: only a Seq2Seq model decodes; use generate() for a Sequential")));
            };
            let v = src.as_array();
            let out = compute(py, || {
                if beam_width == 1 {
                    s.greedy(v, max_length)
                } else {
                    s.beam_search(v, max_length, beam_width, length_penalty)
                }
            })?;
            Ok(out.into_pyarray(py).into_any())
        })
    }

    /// `(all, trainable)` parameter counts.
    fn num_params(&mut self) -> (usize, usize) {
        with_model!(self, m, T, {
            let layers = m.trainer.net.layers();
            (layers.iter().map(|l| l.num_params()).sum(), layers.iter().filter(|l| l.trainable()).map(|l| l.num_params()).sum())
        })
    }
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
