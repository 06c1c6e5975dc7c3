//! `rustrnn._native.ModelHandle`: a core [`Model`] (Sequential or Seq2Seq)
//! in float32 or float64. Every batch-sized call (training step, evaluation,
//! prediction, generation, decoding) runs in Rust with the GIL released, and
//! any number of Python threads may call at once (see [`Shared`]). Glue
//! only: arguments are converted here, everything else is the core's.

use crate::errors::{compute, dtype_error, Result};
use crate::shared::Shared;
use numpy::{
    Element, IntoPyArray, PyArrayDyn, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2, PyReadonlyArrayDyn, PyReadwriteArray1,
    PyUntypedArrayMethods,
};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};
use rustrnn_core::infer::Sampling;
use rustrnn_core::models::saving::{self, FileTensor};
use rustrnn_core::models::Input;
use rustrnn_core::train::{BatchStats, Loss, OptimizerConfig, OutputLoss, Schedule, Targets};
use rustrnn_core::{rng, Float, RnnError};
use std::collections::HashMap;

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

/// `$body` with `$first` this handle's model and `$rest` the other
/// handles' models of the same dtype (`None` for one of another dtype).
macro_rules! with_ensemble {
    ($self:expr, $others:expr, $first:ident, $rest:ident, $body:block) => {
        match &$self.inner {
            Inner::F32($first) => {
                let $rest = $others.iter().map(|o| if let Inner::F32(m) = &o.inner { Some(m) } else { None });
                $body
            }
            Inner::F64($first) => {
                let $rest = $others.iter().map(|o| if let Inner::F64(m) = &o.inner { Some(m) } else { None });
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
    Many(Vec<PyInput<'py, T>>),
}

impl<T: Element + Float> PyInput<'_, T> {
    fn view(&self) -> Input<'_, T> {
        match self {
            PyInput::Indices(a) => Input::Indices(a.as_array()),
            PyInput::Features(a) => Input::Features(a.as_array()),
            PyInput::Pair(a, b) => Input::Pair(a.as_array(), b.as_array()),
            PyInput::Many(v) => Input::Many(v.iter().map(PyInput::view).collect()),
        }
    }
}

/// Runs `run` on `first` and `others` (`None`: a member of another dtype) as one ensemble, the GIL released.
fn with_members<'a, T: Element + Float, R: Send>(
    py: Python<'_>,
    first: &'a Shared<T>,
    others: impl Iterator<Item = Option<&'a Shared<T>>>,
    run: impl FnOnce(&mut [&mut rustrnn_core::Model<T>]) -> rustrnn_core::Result<R> + Send,
) -> Result<R> {
    let mut all = vec![first];
    for o in others {
        all.push(o.ok_or_else(|| dtype_error("models: an ensemble's members must share one dtype (float32 or float64)".into()))?);
    }
    compute(py, || Shared::with_replicas(&all, run))
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "?".into())
}

fn indices<'py>(arg: &str, obj: &Bound<'py, PyAny>) -> Result<PyReadonlyArray2<'py, i64>> {
    obj.extract::<PyReadonlyArray2<'py, i64>>()
        .map_err(|_| dtype_error(format!("{arg}: expected a 2-D numpy.ndarray of int64 indices, got {}", type_name(obj))))
}

fn floats<'py, T: Element + Float>(arg: &str, obj: &Bound<'py, PyAny>) -> Result<PyReadonlyArrayDyn<'py, T>> {
    obj.extract::<PyReadonlyArrayDyn<'py, T>>()
        .map_err(|_| dtype_error(format!("{arg}: expected a numpy.ndarray of {}, got {}", T::NAME, describe(obj))))
}

fn describe(obj: &Bound<'_, PyAny>) -> String {
    match obj.cast::<numpy::PyUntypedArray>() {
        Ok(a) => format!("an array of {}", a.dtype()),
        Err(_) => type_name(obj),
    }
}

fn input<'py, T: Element + Float>(x: &Bound<'py, PyAny>) -> Result<PyInput<'py, T>> {
    // A functional model's inputs: one array each (indices or floats).
    if let Ok(list) = x.cast::<PyList>() {
        let mut v = Vec::with_capacity(list.len());
        for (i, item) in list.iter().enumerate() {
            v.push(match item.extract::<PyReadonlyArray2<'py, i64>>() {
                Ok(a) => PyInput::Indices(a),
                Err(_) => PyInput::Features(floats::<T>(&format!("x[{i}]"), &item)?),
            });
        }
        return Ok(PyInput::Many(v));
    }
    if let Ok(t) = x.cast::<PyTuple>() {
        if t.len() != 2 {
            return Err(dtype_error(format!("x: expected a pair (source, decoder input), got a tuple of {}", t.len())));
        }
        return Ok(PyInput::Pair(indices("x[0]", &t.get_item(0)?)?, indices("x[1]", &t.get_item(1)?)?));
    }
    if let Ok(a) = x.extract::<PyReadonlyArray2<'py, i64>>() {
        return Ok(PyInput::Indices(a));
    }
    Ok(PyInput::Features(floats::<T>("x", x)?))
}

fn opt_floats<'py, T: Element + Float>(arg: &str, obj: Option<&Bound<'py, PyAny>>) -> Result<Option<PyReadonlyArrayDyn<'py, T>>> {
    match obj {
        Some(o) if !o.is_none() => Ok(Some(floats::<T>(arg, o)?)),
        _ => Ok(None),
    }
}

/// The targets of a batch, borrowed from NumPy: `y` an array, or a list of one
/// per model output; `sample_weight` None, an array (for every output) or a
/// list of one per output (each None or an array).
struct PyTargets<'py, T: Element> {
    y: Vec<PyReadonlyArrayDyn<'py, T>>,
    sample_weight: Vec<Option<PyReadonlyArrayDyn<'py, T>>>,
}

impl<T: Element + Float> PyTargets<'_, T> {
    fn view(&self) -> Targets<'_, T> {
        Targets {
            y: self.y.iter().map(|a| a.as_array()).collect(),
            sample_weight: self.sample_weight.iter().map(|w| w.as_ref().map(|w| w.as_array())).collect(),
        }
    }
}

fn targets<'py, T: Element + Float>(y: &Bound<'py, PyAny>, sample_weight: Option<&Bound<'py, PyAny>>) -> Result<PyTargets<'py, T>> {
    let ys = match y.cast::<PyList>() {
        Ok(list) => list.iter().enumerate().map(|(k, a)| floats::<T>(&format!("y[{k}]"), &a)).collect::<Result<Vec<_>>>()?,
        Err(_) => vec![floats::<T>("y", y)?],
    };
    let sample_weight = match sample_weight.filter(|w| !w.is_none()) {
        None => (0..ys.len()).map(|_| None).collect(),
        Some(w) => match w.cast::<PyList>() {
            Ok(list) => list
                .iter()
                .enumerate()
                .map(|(k, a)| opt_floats::<T>(&format!("sample_weight[{k}]"), Some(&a)))
                .collect::<Result<Vec<_>>>()?,
            Err(_) => {
                let w = floats::<T>("sample_weight", w)?;
                (0..ys.len()).map(|_| Some(w.clone())).collect()
            }
        },
    };
    Ok(PyTargets { y: ys, sample_weight })
}

/// Named float arrays of `T` from Python, copied.
fn named_arrays<T: Element + Float>(items: &[(String, Bound<'_, PyAny>)]) -> Result<Vec<(String, ndarray::ArrayD<T>)>> {
    items
        .iter()
        .map(|(name, value)| {
            let arr = value
                .cast::<PyArrayDyn<T>>()
                .map_err(|_| dtype_error(format!("{name}: expected a numpy.ndarray of {}, got {}", <T as Float>::NAME, describe(value))))?;
            Ok((name.clone(), arr.readonly().as_array().to_owned()))
        })
        .collect()
}

/// `(Σ loss, count, [(Σ metric, Σ weight)], [(Σ output loss, count)])`: see `BatchStats`.
type Stats = (f64, f64, Vec<(f64, f64)>, Vec<(f64, f64)>);
type PyNamed<'py> = Vec<(String, Bound<'py, PyAny>)>;
/// A recurrent layer's masks of one layer and direction: recurrent (G, B, H), input (G, B, I) or None.
type PyGateMasks<'py> = (Bound<'py, PyAny>, Option<Bound<'py, PyAny>>);

fn stats(s: BatchStats) -> Stats {
    (s.loss_sum, s.count, s.metrics, s.outputs)
}

fn array_list<'py, F: Float + Element>(py: Python<'py>, items: Vec<(String, ndarray::ArrayD<F>)>) -> PyNamed<'py> {
    items.into_iter().map(|(n, a)| (n, a.into_pyarray(py).into_any())).collect()
}

#[pymethods]
impl ModelHandle {
    /// Builds a model from its JSON architecture, initialised from `seed`
    /// (default: the next seed of `manual_seed`'s sequence).
    #[new]
    #[pyo3(signature = (spec, dtype, seed=None))]
    fn new(spec: &str, dtype: &str, seed: Option<u64>) -> Result<Self> {
        let seed = seed.unwrap_or_else(rng::next_seed);
        let inner = match dtype {
            "float32" => Inner::F32(Shared::new(spec, seed)?),
            "float64" => Inner::F64(Shared::new(spec, seed)?),
            other => return Err(dtype_error(format!("dtype: expected float32 or float64, got {other}"))),
        };
        Ok(ModelHandle { inner })
    }

    /// Sets the loss, metrics and optimizer (a JSON config); resets the optimizer state.
    #[pyo3(signature = (loss, from_logits, metrics, optimizer, label_smoothing=0.0))]
    fn compile(
        &self,
        py: Python<'_>,
        loss: &str,
        from_logits: bool,
        metrics: Vec<String>,
        optimizer: &str,
        label_smoothing: f64,
    ) -> Result<()> {
        let loss = Loss::parse(loss, from_logits)?.with_label_smoothing(label_smoothing)?;
        let v = serde_json::from_str(optimizer).map_err(|e| RnnError::value(format!("optimizer: not valid JSON ({e})")))?;
        let opt = OptimizerConfig::parse(&v)?;
        with_model!(self, s, T, { compute(py, || s.write(|m| m.compile(loss, metrics, opt))) })
    }

    /// `compile` with `(loss, from_logits, label_smoothing, weight, metrics)` per model output, in output order.
    #[allow(clippy::type_complexity)]
    fn compile_outputs(&self, py: Python<'_>, losses: Vec<(String, bool, f64, f64, Vec<String>)>, optimizer: &str) -> Result<()> {
        let losses = losses
            .into_iter()
            .map(|(name, from_logits, smoothing, weight, metrics)| {
                Ok(OutputLoss { loss: Loss::parse(&name, from_logits)?.with_label_smoothing(smoothing)?, weight, metrics })
            })
            .collect::<Result<Vec<_>>>()?;
        let v = serde_json::from_str(optimizer).map_err(|e| RnnError::value(format!("optimizer: not valid JSON ({e})")))?;
        let opt = OptimizerConfig::parse(&v)?;
        with_model!(self, s, T, { compute(py, || s.write(|m| m.compile_outputs(losses, opt))) })
    }

    /// One training step. Returns `(Σ loss, valid rows, [(Σ metric, Σ weight)])`.
    #[pyo3(signature = (x, y, sample_weight=None))]
    fn train_batch(
        &self,
        py: Python<'_>,
        x: &Bound<'_, PyAny>,
        y: &Bound<'_, PyAny>,
        sample_weight: Option<&Bound<'_, PyAny>>,
    ) -> Result<Stats> {
        with_model!(self, s, T, {
            let (x, t) = (input::<T>(x)?, targets::<T>(y, sample_weight)?);
            let (xv, tv) = (x.view(), t.view());
            compute(py, || s.write(|m| m.train_batch(xv, tv))).map(stats)
        })
    }

    /// Loss and metrics of a batch, nothing updated.
    #[pyo3(signature = (x, y, sample_weight=None))]
    fn test_batch(
        &self,
        py: Python<'_>,
        x: &Bound<'_, PyAny>,
        y: &Bound<'_, PyAny>,
        sample_weight: Option<&Bound<'_, PyAny>>,
    ) -> Result<Stats> {
        with_model!(self, s, T, {
            let (x, t) = (input::<T>(x)?, targets::<T>(y, sample_weight)?);
            let (xv, tv) = (x.view(), t.view());
            compute(py, || s.with_replica(|m| m.test_batch(xv, tv))).map(stats)
        })
    }

    /// `(output, [states])` of a batch in inference mode.
    fn predict_batch<'py>(&self, py: Python<'py>, x: &Bound<'py, PyAny>) -> Result<(Bound<'py, PyAny>, Vec<Bound<'py, PyAny>>)> {
        with_model!(self, s, T, {
            let x = input::<T>(x)?;
            let xv = x.view();
            let f = compute(py, || s.with_replica(|m| m.predict(xv)))?;
            let mut states: Vec<_> = f.states.into_iter().map(|s| s.into_pyarray(py).into_any()).collect();
            states.extend(f.outputs.into_iter().map(|t| t.into_array().into_pyarray(py).into_any()));
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
    ) -> Result<(f64, PyNamed<'py>)> {
        with_model!(self, s, T, {
            let (x, t) = (input::<T>(x)?, targets::<T>(y, sample_weight)?);
            let (xv, tv) = (x.view(), t.view());
            let (loss, grads) = compute(py, || s.write_same(|m| m.gradients(xv, tv)))?;
            Ok((loss, array_list(py, grads)))
        })
    }

    /// Every parameter as `(layer/param, copy)`, in model order.
    fn weights<'py>(&self, py: Python<'py>) -> Result<PyNamed<'py>> {
        with_model!(self, s, T, { Ok(array_list(py, compute(py, || s.read(|m| Ok(m.weights())))?)) })
    }

    /// Parameter names as `layer/param`, in model order.
    fn weight_names(&self, py: Python<'_>) -> Result<Vec<String>> {
        with_model!(self, s, T, { compute(py, || s.read(|m| Ok(m.weight_names()))) })
    }

    /// Copies the given `(name, array)` pairs in; all are checked first, so a
    /// failure changes nothing.
    fn set_weights(&self, py: Python<'_>, weights: Vec<(String, Bound<'_, PyAny>)>) -> Result<()> {
        with_model!(self, s, T, {
            let arrays = named_arrays::<T>(&weights)?;
            compute(py, || s.write(|m| m.set_weights(arrays)))
        })
    }

    /// `(iterations, [(param/slot, array)])`.
    fn optimizer_state<'py>(&self, py: Python<'py>) -> Result<(u64, PyNamed<'py>)> {
        with_model!(self, s, T, {
            let (iterations, state) = compute(py, || s.read(|m| Ok(m.optimizer_state())))?;
            Ok((iterations, array_list(py, state)))
        })
    }

    fn set_optimizer_state(&self, py: Python<'_>, iterations: u64, state: Vec<(String, Bound<'_, PyAny>)>) -> Result<()> {
        with_model!(self, s, T, {
            let arrays = named_arrays::<T>(&state)?;
            compute(py, || s.write(|m| m.set_optimizer_state(iterations, arrays)))
        })
    }

    /// The rate of the optimizer's next step.
    #[getter]
    fn learning_rate(&self, py: Python<'_>) -> Result<Option<f64>> {
        with_model!(self, s, T, { compute(py, || s.read(|m| Ok(m.learning_rate()))) })
    }

    /// A constant rate (a number) or a schedule (`{"class", "config"}`), as JSON.
    fn set_learning_rate(&self, py: Python<'_>, spec: &str) -> Result<()> {
        let v: serde_json::Value =
            serde_json::from_str(spec).map_err(|e| RnnError::value(format!("learning_rate: not valid JSON ({e})")))?;
        match v.as_f64() {
            Some(lr) => with_model!(self, s, T, { compute(py, || s.write_same(|m| m.set_learning_rate(lr))) }),
            None => {
                let s = Schedule::parse(&v)?;
                with_model!(self, sh, T, { compute(py, || sh.write_same(|m| m.set_schedule(s.clone()))) })
            }
        }
    }

    /// Optimizer steps taken.
    #[getter]
    fn iterations(&self, py: Python<'_>) -> Result<u64> {
        with_model!(self, s, T, { compute(py, || s.read(|m| Ok(m.iterations()))) })
    }

    /// Per-layer name, class, output shape and parameter count, as JSON.
    fn layer_info(&self, py: Python<'_>) -> Result<String> {
        with_model!(self, s, T, { compute(py, || s.read(|m| Ok(serde_json::to_string(&m.layer_info()).expect("serializable")))) })
    }

    /// Freezes or unfreezes a layer by name.
    fn set_trainable(&self, py: Python<'_>, layer: &str, trainable: bool) -> Result<()> {
        with_model!(self, s, T, { compute(py, || s.write(|m| m.set_trainable(layer, trainable))) })
    }

    /// Keras's `reset_states`: of one layer by name, or of every stateful layer.
    #[pyo3(signature = (layer=None))]
    fn reset_states(&self, py: Python<'_>, layer: Option<&str>) -> Result<()> {
        with_model!(self, s, T, { compute(py, || s.write_same(|m| m.reset_states(layer))) })
    }

    /// Test hook: fixed recurrent-dropout masks `[(recurrent (G, B, H), input (G, B, I) or None)]`, one per
    /// layer and direction of the recurrent layer `layer`, gates in the weights' order (with `dropout` alone:
    /// `(empty (0, B, H), input (1, B, I))`, one input mask per direction); `None` draws again.
    #[pyo3(signature = (layer, masks=None))]
    fn _set_gate_masks(&self, py: Python<'_>, layer: &str, masks: Option<Vec<PyGateMasks<'_>>>) -> Result<()> {
        with_model!(self, s, T, {
            let masks = match masks {
                None => None,
                Some(list) => {
                    let three = |what: String, value: &Bound<'_, PyAny>| -> Result<ndarray::Array3<T>> {
                        let arr = value.cast::<PyArrayDyn<T>>().map_err(|_| {
                            dtype_error(format!("{what}: expected a numpy.ndarray of {}, got {}", <T as Float>::NAME, describe(value)))
                        })?;
                        let arr = arr.readonly().as_array().to_owned();
                        let ndim = arr.ndim();
                        Ok(arr
                            .into_dimensionality::<ndarray::Ix3>()
                            .map_err(|_| RnnError::shape(format!("{what}: expected a 3-D array (gates, batch, features), got {ndim}-D")))?)
                    };
                    let mut v = Vec::with_capacity(list.len());
                    for (i, (rec, inp)) in list.iter().enumerate() {
                        let input = match inp.as_ref() {
                            Some(a) => Some(three(format!("masks[{i}][1]"), a)?),
                            None => None,
                        };
                        v.push(rustrnn_core::recurrent::GateMasks { recurrent: three(format!("masks[{i}][0]"), rec)?, input });
                    }
                    Some(v)
                }
            };
            compute(py, || s.write_same(|m| m.set_gate_masks(layer, masks)))
        })
    }

    /// The batch size of the model's stateful layers (from its declared input).
    fn fix_batch_size(&self, py: Python<'_>, batch: usize) -> Result<()> {
        with_model!(self, s, T, { compute(py, || s.write_same(|m| m.fix_batch_size(batch))) })
    }

    /// Reseeds the dropout masks.
    fn set_seed(&self, py: Python<'_>, seed: u64) -> Result<()> {
        with_model!(self, s, T, {
            compute(py, || {
                s.write_same(|m| {
                    m.set_seed(seed);
                    Ok(())
                })
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
    ) -> Result<Bound<'py, PyAny>> {
        let ids = indices("seed_ids", seed_ids)?;
        let sampling = Sampling { temperature, top_k, seed: seed.unwrap_or_else(rng::next_seed) };
        with_model!(self, s, T, {
            let v = ids.as_array();
            Ok(compute(py, || s.with_replica(|m| m.generate(v, length, sampling)))?.into_pyarray(py).into_any())
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
    ) -> Result<Bound<'py, PyAny>> {
        let src = indices("x", src)?;
        with_model!(self, s, T, {
            let v = src.as_array();
            Ok(compute(py, || s.with_replica(|m| m.decode(v, max_length, beam_width, length_penalty)))?.into_pyarray(py).into_any())
        })
    }

    /// Seq2Seq decoding by this model and `others` together: each step
    /// chooses from the mean of their next-token probabilities.
    #[pyo3(signature = (others, src, max_length, beam_width=1, length_penalty=0.0))]
    fn decode_ensemble<'py>(
        &self,
        py: Python<'py>,
        others: Vec<PyRef<'py, ModelHandle>>,
        src: &Bound<'py, PyAny>,
        max_length: usize,
        beam_width: usize,
        length_penalty: f64,
    ) -> Result<Bound<'py, PyAny>> {
        let src = indices("x", src)?;
        let v = src.as_array();
        with_ensemble!(self, others, s, rest, {
            let run = |ms: &mut [&mut rustrnn_core::Model<_>]| {
                rustrnn_core::Model::decode_ensemble(ms, v, max_length, beam_width, length_penalty)
            };
            Ok(with_members(py, s, rest, run)?.into_pyarray(py).into_any())
        })
    }

    /// A Seq2Seq model's `log p(tgt | src)` per sequence, `(B,)` float64.
    fn log_likelihood<'py>(&self, py: Python<'py>, src: &Bound<'py, PyAny>, tgt: &Bound<'py, PyAny>) -> Result<Bound<'py, PyAny>> {
        let (src, tgt) = (indices("x", src)?, indices("y", tgt)?);
        with_model!(self, s, T, {
            let (src, tgt) = (src.as_array(), tgt.as_array());
            Ok(compute(py, || s.with_replica(|m| m.log_likelihood(src, tgt)))?.into_pyarray(py).into_any())
        })
    }

    /// The `n` best hypotheses of a beam search by this model and `others`
    /// together, per source: tokens `(B, n, max_length)` and scores `(B, n)`.
    #[pyo3(signature = (others, src, max_length, beam_width, length_penalty, n))]
    #[allow(clippy::too_many_arguments)] // Python's arguments, one each
    fn decode_n_best<'py>(
        &self,
        py: Python<'py>,
        others: Vec<PyRef<'py, ModelHandle>>,
        src: &Bound<'py, PyAny>,
        max_length: usize,
        beam_width: usize,
        length_penalty: f64,
        n: usize,
    ) -> Result<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
        let src = indices("x", src)?;
        let v = src.as_array();
        with_ensemble!(self, others, s, rest, {
            let run = |ms: &mut [&mut rustrnn_core::Model<_>]| {
                rustrnn_core::Model::decode_n_best(ms, v, max_length, beam_width, length_penalty, n)
            };
            let (tokens, scores) = with_members(py, s, rest, run)?;
            Ok((tokens.into_pyarray(py).into_any(), scores.into_pyarray(py).into_any()))
        })
    }

    /// `(all, trainable)` parameter counts.
    fn num_params(&self, py: Python<'_>) -> Result<(usize, usize)> {
        with_model!(self, s, T, { compute(py, || s.read(|m| Ok(m.num_params()))) })
    }

    /// Forward and backward of a training step without the update; writes
    /// every parameter's gradient into the flat array `out` (model order, see
    /// `flat_size`) in place, as the gradient of the batch's summed loss when
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
    ) -> Result<Stats> {
        with_model!(self, s, T, {
            let (x, t) = (input::<T>(x)?, targets::<T>(y, sample_weight)?);
            let (xv, tv) = (x.view(), t.view());
            let mut out = out.extract::<PyReadwriteArray1<'_, T>>().map_err(|_| {
                dtype_error(format!("out: expected a writable 1-D numpy.ndarray of {}, got {}", <T as Float>::NAME, describe(out)))
            })?;
            let buf = out.as_slice_mut().map_err(|_| dtype_error("out: expected a C-contiguous array".into()))?;
            compute(py, || s.write_same(|m| m.gradients_into(xv, tv, buf, summed))).map(stats)
        })
    }

    /// One optimizer step from the flat gradients `grads · scale` (the layout
    /// of `gradients_into`), read in place.
    #[pyo3(signature = (grads, scale=1.0))]
    fn apply_flat(&self, py: Python<'_>, grads: &Bound<'_, PyAny>, scale: f64) -> Result<()> {
        if !scale.is_finite() {
            return Err(RnnError::value(format!("scale: expected a finite number, got {scale}")).into());
        }
        with_model!(self, s, T, {
            let g = grads.extract::<PyReadonlyArray1<'_, T>>().map_err(|_| {
                dtype_error(format!("grads: expected a 1-D numpy.ndarray of {}, got {}", <T as Float>::NAME, describe(grads)))
            })?;
            let flat = g.as_slice().map_err(|_| dtype_error("grads: expected a C-contiguous array".into()))?;
            compute(py, || s.write(|m| m.apply_flat(flat, scale)))
        })
    }

    /// Values in the flat gradient layout: every parameter of every layer.
    fn flat_size(&self, py: Python<'_>) -> Result<usize> {
        with_model!(self, s, T, { compute(py, || s.read(|m| Ok(m.flat_size()))) })
    }
}

/// Safetensors bytes of `(name, float32/float64 array)` pairs and string metadata.
#[pyfunction]
pub fn serialize_model<'py>(
    py: Python<'py>,
    tensors: Vec<(String, Bound<'py, PyAny>)>,
    metadata: HashMap<String, String>,
) -> Result<Bound<'py, PyBytes>> {
    let mut items = Vec::with_capacity(tensors.len());
    for (name, value) in &tensors {
        let t = if let Ok(a) = value.extract::<PyReadonlyArrayDyn<f32>>() {
            FileTensor::F32(a.as_array().to_owned())
        } else if let Ok(a) = value.extract::<PyReadonlyArrayDyn<f64>>() {
            FileTensor::F64(a.as_array().to_owned())
        } else {
            return Err(dtype_error(format!("{name}: expected a float32 or float64 array, got {}", describe(value))));
        };
        items.push((name.clone(), t));
    }
    let bytes = compute(py, || saving::to_bytes(&items, metadata))?;
    Ok(PyBytes::new(py, &bytes))
}

/// `(metadata, [(name, array)])` from safetensors bytes, fully validated.
#[pyfunction]
pub fn deserialize_model<'py>(py: Python<'py>, data: &[u8]) -> Result<(Bound<'py, PyDict>, PyNamed<'py>)> {
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

/// The rate of update number `step` (0-based) under a schedule given as
/// JSON `{"class", "config"}`: the schedule classes in Python evaluate here.
#[pyfunction]
pub fn schedule_rate(spec: &str, step: u64) -> Result<f64> {
    let v: serde_json::Value = serde_json::from_str(spec).map_err(|e| RnnError::value(format!("schedule: not valid JSON ({e})")))?;
    Ok(Schedule::parse(&v)?.rate(step))
}

/// Teacher forcing's decoder input for Seq2Seq targets `(B, T)`: BOS, then
/// the targets shifted right; padding stays 0 (the core's, which training and
/// `log_likelihood` share).
#[pyfunction]
pub fn seq2seq_decoder_inputs<'py>(py: Python<'py>, tgt: &Bound<'py, PyAny>, bos_id: i64) -> Result<Bound<'py, PyAny>> {
    let tgt = indices("y", tgt)?;
    let v = tgt.as_array();
    Ok(compute(py, || Ok(rustrnn_core::models::decoder_inputs(v, bos_id)))?.into_pyarray(py).into_any())
}

/// The next seed of the `manual_seed` sequence (for shuffling and sampling).
#[pyfunction]
pub fn next_seed() -> u64 {
    rng::next_seed()
}
