//! `rustrnn._native`: the PyO3 binding of `rustrnn-core`. Glue only; the
//! public API is the Python package `rustrnn`.

mod errors;
mod model;
mod recurrent;
mod text;

use pyo3::prelude::*;

/// Resets the seed sequence that initializes new modules.
#[pyfunction]
fn manual_seed(seed: u64) {
    rustrnn_core::rng::manual_seed(seed);
}

/// Sets the number of compute threads (at least 1).
#[pyfunction]
fn set_num_threads(threads: usize) {
    rustrnn_core::threads::set_num_threads(threads);
}

/// The number of compute threads.
#[pyfunction]
fn get_num_threads() -> usize {
    rustrnn_core::threads::num_threads()
}

/// Whether rustrnn flushes subnormal floats to zero while it computes.
#[pyfunction]
fn get_flush_denormal() -> bool {
    rustrnn_core::kernels::fpmode::flush_denormal()
}

/// Turns flushing subnormals to zero on (default) or off (strict IEEE).
#[pyfunction]
fn set_flush_denormal(on: bool) {
    rustrnn_core::kernels::fpmode::set_flush_denormal(on);
}

/// Test hook: the calling thread's MXCSR (x86_64) or FPCR (aarch64), else None.
#[pyfunction]
fn _fp_control_word() -> Option<u64> {
    rustrnn_core::kernels::fpmode::control_word()
}

/// Test hook: whether each worker of the pool flushes subnormals, asked in a
/// call made the way every compute call is made.
#[pyfunction]
fn _workers_flush(py: Python<'_>) -> PyResult<Vec<bool>> {
    errors::compute(py, || Ok(rustrnn_core::threads::workers_flush()))
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<recurrent::RecurrentHandle>()?;
    m.add_class::<model::ModelHandle>()?;
    m.add_function(wrap_pyfunction!(model::serialize_model, m)?)?;
    m.add_function(wrap_pyfunction!(model::deserialize_model, m)?)?;
    m.add_function(wrap_pyfunction!(model::next_seed, m)?)?;
    m.add_function(wrap_pyfunction!(manual_seed, m)?)?;
    m.add_function(wrap_pyfunction!(set_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(get_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(get_flush_denormal, m)?)?;
    m.add_function(wrap_pyfunction!(set_flush_denormal, m)?)?;
    m.add_function(wrap_pyfunction!(_fp_control_word, m)?)?;
    m.add_function(wrap_pyfunction!(_workers_flush, m)?)?;
    text::register(m)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
