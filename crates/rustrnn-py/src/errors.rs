//! Core errors and Rust panics as Python exceptions, and the one helper every
//! compute call goes through: it releases the GIL and turns a panic into a
//! Python exception instead of a crash.
//!
//! The exception classes live in `rustrnn/errors.py` so that they can derive
//! from both our base class and the matching built-in (`ValueError`,
//! `TypeError`); each is imported once, on first use. Binding functions
//! return [`Result`], so `?` converts a core error (and a `PyErr`) as is.

use pyo3::prelude::*;
use rustrnn_core::RnnError;
use std::panic::{catch_unwind, AssertUnwindSafe};

pyo3::import_exception!(rustrnn.errors, ShapeError);
pyo3::import_exception!(rustrnn.errors, ArgumentError);
pyo3::import_exception!(rustrnn.errors, StateError);
pyo3::import_exception!(rustrnn.errors, DTypeError);
pyo3::import_exception!(rustrnn.errors, InternalError);
pyo3::import_exception!(rustrnn.errors, MemoryError);

/// An error on its way to Python.
#[derive(Debug)]
pub struct Error(PyErr);

pub type Result<T> = std::result::Result<T, Error>;

/// The one mapping of core errors onto exception classes.
impl From<RnnError> for Error {
    fn from(e: RnnError) -> Self {
        Error(match e {
            RnnError::Shape(m) => ShapeError::new_err(m),
            RnnError::Value(m) => ArgumentError::new_err(m),
            RnnError::State(m) => StateError::new_err(m),
            RnnError::Memory(m) => MemoryError::new_err(m),
        })
    }
}

impl From<PyErr> for Error {
    fn from(e: PyErr) -> Self {
        Error(e)
    }
}

impl From<Error> for PyErr {
    fn from(e: Error) -> Self {
        e.0
    }
}

/// A `TypeError` subclass for arguments of the wrong type or dtype.
pub fn dtype_error(msg: String) -> Error {
    Error(DTypeError::new_err(msg))
}

/// Runs `f` with the GIL released; a panic inside becomes `rustrnn.InternalError`.
pub fn compute<T, F>(py: Python<'_>, f: F) -> Result<T>
where
    F: FnOnce() -> std::result::Result<T, RnnError> + Send,
    T: Send,
{
    match py.detach(|| catch_unwind(AssertUnwindSafe(f))) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.into()),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(Error(InternalError::new_err(format!("internal error in rustrnn (please report it): {what}"))))
        }
    }
}
