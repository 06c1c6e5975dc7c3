//! Core errors and Rust panics as Python exceptions, and the one helper every
//! compute call goes through: it releases the GIL and turns a panic into a
//! Python exception instead of a crash.
//!
//! The exception classes live in `rustrnn/errors.py` so that they can derive
//! from both our base class and the matching built-in (`ValueError`, `TypeError`).

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use rustrnn_core::kernels::fpmode::with_flush_mode;
use rustrnn_core::RnnError;
use std::panic::{catch_unwind, AssertUnwindSafe};

fn raise(py: Python<'_>, class: &str, msg: String) -> PyErr {
    match py.import("rustrnn.errors").and_then(|m| m.getattr(class)) {
        Ok(cls) => PyErr::from_type(cls.cast_into().expect("an exception class"), msg),
        Err(_) => PyRuntimeError::new_err(msg),
    }
}

/// The Python exception for a core error.
pub fn to_py(py: Python<'_>, e: RnnError) -> PyErr {
    let class = match e {
        RnnError::Shape(_) => "ShapeError",
        RnnError::Value(_) => "ArgumentError",
        RnnError::State(_) => "StateError",
    };
    raise(py, class, e.to_string())
}

/// A `TypeError` subclass for arguments of the wrong type or dtype.
pub fn dtype_error(py: Python<'_>, msg: String) -> PyErr {
    raise(py, "DTypeError", msg)
}

/// Runs `f` with the GIL released, in rustrnn's floating-point mode
/// (subnormals flushed to zero unless opted out; the thread's own mode is
/// restored before the GIL is taken back, so NumPy never sees it); a panic
/// inside becomes `rustrnn.InternalError`.
pub fn compute<T, F>(py: Python<'_>, f: F) -> PyResult<T>
where
    F: FnOnce() -> Result<T, RnnError> + Send,
    T: Send,
{
    match py.detach(|| with_flush_mode(|| catch_unwind(AssertUnwindSafe(f)))) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(to_py(py, e)),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(raise(py, "InternalError", format!("internal error in rustrnn (please report it): {what}")))
        }
    }
}
