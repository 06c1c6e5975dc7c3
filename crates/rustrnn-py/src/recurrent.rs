//! `rustrnn._native.Recurrent`: a handle on a core [`Recurrent`] stack in
//! float32 or float64. Glue only: arrays come in as read-only NumPy views
//! (no copy) and go out with `into_pyarray` (no copy); all checks on shapes and
//! values happen in the core.

use crate::errors::{compute, dtype_error, Error, Result};
use numpy::{Element, IntoPyArray, PyArrayDyn, PyArrayMethods, PyReadonlyArray3, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use rustrnn_core::recurrent::{CellKind, ForwardCache, Nonlinearity, Recurrent, RnnConfig};
use rustrnn_core::{rng, Float, RnnError};
use std::sync::{Mutex, MutexGuard};

/// The stack behind a mutex: a forward pass keeps the cache its backward
/// pass reads, so calls from several Python threads take turns (each with the
/// GIL released while it computes or waits).
enum Stack {
    F32(Mutex<Recurrent<f32>>),
    F64(Mutex<Recurrent<f64>>),
}

fn lock<T>(m: &Mutex<T>) -> std::result::Result<MutexGuard<'_, T>, RnnError> {
    m.lock().map_err(|_| RnnError::state("the module is unusable: an internal error interrupted a change of its weights; build it again"))
}

/// Runs `$body` with `$m` bound to the typed stack and `$t` to its element type.
macro_rules! with_stack {
    ($self:expr, $m:ident, $t:ident, $body:block) => {
        match &$self.stack {
            Stack::F32($m) => {
                #[allow(dead_code)]
                type $t = f32;
                $body
            }
            Stack::F64($m) => {
                #[allow(dead_code)]
                type $t = f64;
                $body
            }
        }
    };
}

#[pyclass(module = "rustrnn._native")]
pub struct RecurrentHandle {
    stack: Stack,
}

enum Tape {
    F32(ForwardCache<f32>),
    F64(ForwardCache<f64>),
}

/// What one training-mode forward kept for its backward, held outside the
/// handle so that several forwards can each be differentiated later (as
/// autograd does). Used once.
#[pyclass(module = "rustrnn._native")]
pub struct ForwardTape {
    tape: Option<Tape>,
}

/// A read-only view of a C-contiguous 3-D array of `T`, or a `TypeError`
/// naming the argument. (The Python layer converts; this is the last guard.)
fn view3<'py, T: Element + Float>(arg: &'static str, obj: &Bound<'py, PyAny>) -> Result<PyReadonlyArray3<'py, T>> {
    let arr = obj
        .cast::<numpy::PyUntypedArray>()
        .map_err(|_| dtype_error(format!("{arg}: expected a numpy.ndarray of {}, got {}", T::NAME, type_name(obj))))?;
    if arr.ndim() != 3 {
        return Err(Error::from(rustrnn_core::RnnError::shape(format!(
            "{arg}: expected a 3-D array, got shape {}",
            rustrnn_core::error::fmt_shape(arr.shape())
        ))));
    }
    let typed = obj
        .extract::<PyReadonlyArray3<'py, T>>()
        .map_err(|_| dtype_error(format!("{arg}: expected dtype {}, got {}", T::NAME, arr.dtype())))?;
    if !typed.is_c_contiguous() {
        return Err(PyValueError::new_err(format!("{arg}: expected a C-contiguous array")).into());
    }
    Ok(typed)
}

fn opt_view3<'py, T: Element + Float>(arg: &'static str, obj: Option<&Bound<'py, PyAny>>) -> Result<Option<PyReadonlyArray3<'py, T>>> {
    match obj {
        Some(o) if !o.is_none() => Ok(Some(view3::<T>(arg, o)?)),
        _ => Ok(None),
    }
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "?".into())
}

#[pymethods]
impl RecurrentHandle {
    #[new]
    #[pyo3(signature = (cell, input_size, hidden_size, num_layers, bidirectional, bias, batch_first, nonlinearity, dtype, seed=None, proj_size=0))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        cell: &str,
        input_size: usize,
        hidden_size: usize,
        num_layers: usize,
        bidirectional: bool,
        bias: bool,
        batch_first: bool,
        nonlinearity: &str,
        dtype: &str,
        seed: Option<u64>,
        proj_size: usize,
    ) -> Result<Self> {
        let act: Nonlinearity = nonlinearity.parse()?;
        let cell = match cell.parse::<CellKind>()? {
            CellKind::Rnn(_) => CellKind::Rnn(act),
            other => other,
        };
        let config = RnnConfig { num_layers, bidirectional, bias, batch_first, proj_size, ..RnnConfig::new(cell, input_size, hidden_size) };
        let seed = seed.unwrap_or_else(rng::next_seed);
        let stack = match dtype {
            "float32" => Stack::F32(Mutex::new(Recurrent::new(config, seed)?)),
            "float64" => Stack::F64(Mutex::new(Recurrent::new(config, seed)?)),
            other => return Err(dtype_error(format!("dtype: expected float32 or float64, got {other}"))),
        };
        Ok(RecurrentHandle { stack })
    }

    /// Returns `(output, h_n, c_n or None)`.
    #[pyo3(signature = (x, h0=None, c0=None, lengths=None))]
    fn forward<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        h0: Option<&Bound<'py, PyAny>>,
        c0: Option<&Bound<'py, PyAny>>,
        lengths: Option<Vec<i64>>,
    ) -> Result<Bound<'py, PyTuple>> {
        with_stack!(self, m, T, {
            let x = view3::<T>("x", x)?;
            let h0 = opt_view3::<T>("h0", h0)?;
            let c0 = opt_view3::<T>("c0", c0)?;
            let (xv, h0v, c0v) = (x.as_array(), h0.as_ref().map(|a| a.as_array()), c0.as_ref().map(|a| a.as_array()));
            let out = compute(py, || lock(m)?.forward(xv, h0v, c0v, lengths.as_deref()))?;
            let cn = out.c_n.map(|c| c.into_pyarray(py).into_any());
            Ok(PyTuple::new(
                py,
                [
                    out.output.into_pyarray(py).into_any(),
                    out.h_n.into_pyarray(py).into_any(),
                    cn.unwrap_or_else(|| py.None().into_bound(py)),
                ],
            )?)
        })
    }

    /// Returns `(dx, dh0, dc0 or None)`; parameter gradients accumulate.
    #[pyo3(signature = (dout=None, dhn=None, dcn=None))]
    fn backward<'py>(
        &self,
        py: Python<'py>,
        dout: Option<&Bound<'py, PyAny>>,
        dhn: Option<&Bound<'py, PyAny>>,
        dcn: Option<&Bound<'py, PyAny>>,
    ) -> Result<Bound<'py, PyTuple>> {
        with_stack!(self, m, T, {
            let dout = opt_view3::<T>("dout", dout)?;
            let dhn = opt_view3::<T>("dhn", dhn)?;
            let dcn = opt_view3::<T>("dcn", dcn)?;
            let (a, b, c) = (dout.as_ref().map(|a| a.as_array()), dhn.as_ref().map(|a| a.as_array()), dcn.as_ref().map(|a| a.as_array()));
            let g = compute(py, || lock(m)?.backward(a, b, c))?;
            let dc0 = g.dc0.map(|c| c.into_pyarray(py).into_any());
            Ok(PyTuple::new(
                py,
                [g.dx.into_pyarray(py).into_any(), g.dh0.into_pyarray(py).into_any(), dc0.unwrap_or_else(|| py.None().into_bound(py))],
            )?)
        })
    }

    /// The tape of the last training-mode forward, taken out of the handle
    /// (None if there is none).
    fn take_tape(&self, py: Python<'_>) -> Result<Option<ForwardTape>> {
        let tape = match &self.stack {
            Stack::F32(m) => compute(py, || Ok(lock(m)?.take_cache()))?.map(Tape::F32),
            Stack::F64(m) => compute(py, || Ok(lock(m)?.take_cache()))?.map(Tape::F64),
        };
        Ok(tape.map(|t| ForwardTape { tape: Some(t) }))
    }

    /// Makes `tape` (from `take_tape` of this handle) the one the next
    /// `backward` consumes; the tape is spent.
    fn put_tape(&self, py: Python<'_>, tape: &mut ForwardTape) -> Result<()> {
        match (&self.stack, tape.tape.take()) {
            (_, None) => Err(RnnError::state("tape: already used by a backward; run forward again").into()),
            (Stack::F32(m), Some(Tape::F32(c))) => compute(py, || {
                lock(m)?.put_cache(c);
                Ok(())
            }),
            (Stack::F64(m), Some(Tape::F64(c))) => compute(py, || {
                lock(m)?.put_cache(c);
                Ok(())
            }),
            _ => Err(dtype_error("tape: recorded in another dtype than this handle's".into())),
        }
    }

    /// Parameter names in PyTorch's `named_parameters()` order.
    fn param_names(&self, py: Python<'_>) -> Result<Vec<String>> {
        with_stack!(self, m, T, { compute(py, || Ok(lock(m)?.slots().iter().map(|s| s.name.clone()).collect())) })
    }

    /// A copy of a parameter.
    fn get_param<'py>(&self, py: Python<'py>, name: &str) -> Result<Bound<'py, PyAny>> {
        with_stack!(self, m, T, { Ok(compute(py, || Ok(lock(m)?.param(name)?.to_owned()))?.into_pyarray(py).into_any()) })
    }

    /// A copy of a parameter's accumulated gradient.
    fn get_grad<'py>(&self, py: Python<'py>, name: &str) -> Result<Bound<'py, PyAny>> {
        with_stack!(self, m, T, { Ok(compute(py, || Ok(lock(m)?.grad(name)?.to_owned()))?.into_pyarray(py).into_any()) })
    }

    /// Copies `value` (an array of the module's dtype) into a parameter.
    fn set_param(&self, py: Python<'_>, name: &str, value: &Bound<'_, PyAny>) -> Result<()> {
        with_stack!(self, m, T, {
            let arr = value.cast::<PyArrayDyn<T>>().map_err(|_| {
                dtype_error(format!("{name}: expected a numpy.ndarray of {}, got {}", <T as Float>::NAME, type_name(value)))
            })?;
            let ro: PyReadonlyArrayDyn<T> = arr.readonly();
            let v = ro.as_array();
            compute(py, || lock(m)?.set_param(name, v))
        })
    }

    /// Dropout between layers in training mode (PyTorch's `dropout`).
    fn set_dropout(&self, py: Python<'_>, p: f64) -> Result<()> {
        with_stack!(self, m, T, { compute(py, || lock(m)?.set_dropout(p)) })
    }

    fn zero_grad(&self, py: Python<'_>) -> Result<()> {
        with_stack!(self, m, T, {
            compute(py, || {
                lock(m)?.zero_grad();
                Ok(())
            })
        })
    }

    #[getter]
    fn training(&self, py: Python<'_>) -> Result<bool> {
        with_stack!(self, m, T, { compute(py, || Ok(lock(m)?.is_training())) })
    }

    #[setter]
    fn set_training(&self, py: Python<'_>, training: bool) -> Result<()> {
        with_stack!(self, m, T, {
            compute(py, || {
                lock(m)?.set_training(training);
                Ok(())
            })
        })
    }

    fn num_parameters(&self, py: Python<'_>) -> Result<usize> {
        with_stack!(self, m, T, { compute(py, || Ok(lock(m)?.params().len())) })
    }
}
