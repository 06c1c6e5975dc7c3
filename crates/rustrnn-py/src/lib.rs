//! `rustrnn._native`: the PyO3 binding of `rustrnn-core`. Glue only; the
//! public API is the Python package `rustrnn`.

mod errors;
mod model;
mod recurrent;
mod shared;
mod text;

use pyo3::prelude::*;

/// Resets the seed sequence that initializes new modules.
#[pyfunction]
fn manual_seed(seed: u64) {
    rustrnn_core::rng::manual_seed(seed);
}

/// Sets the number of compute threads (1..=1024).
#[pyfunction]
fn set_num_threads(py: Python<'_>, threads: usize) -> errors::Result<()> {
    errors::compute(py, || rustrnn_core::threads::set_num_threads(threads))
}

/// The number of compute threads.
#[pyfunction]
fn get_num_threads() -> usize {
    rustrnn_core::threads::num_threads()
}

/// Parameter values an architecture spec (JSON) declares, counted without
/// building anything (the model loader compares it with the file's tensors).
#[pyfunction]
fn declared_parameters(py: Python<'_>, spec: &str) -> errors::Result<usize> {
    errors::compute(py, || {
        let v: serde_json::Value =
            serde_json::from_str(spec).map_err(|e| rustrnn_core::RnnError::value(format!("architecture: not valid JSON ({e})")))?;
        rustrnn_core::declared::declared_params(&v)
    })
}

/// Every name table of the core (cells, activations, losses, optimizers,
/// merge modes, layer classes): `{concept: [accepted names]}`.
#[pyfunction]
fn name_tables() -> std::collections::HashMap<&'static str, Vec<&'static str>> {
    rustrnn_core::catalog::tables().into_iter().collect()
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<recurrent::RecurrentHandle>()?;
    m.add_class::<recurrent::ForwardTape>()?;
    m.add_class::<model::ModelHandle>()?;
    m.add_function(wrap_pyfunction!(model::serialize_model, m)?)?;
    m.add_function(wrap_pyfunction!(model::deserialize_model, m)?)?;
    m.add_function(wrap_pyfunction!(model::next_seed, m)?)?;
    m.add_function(wrap_pyfunction!(model::schedule_rate, m)?)?;
    m.add_function(wrap_pyfunction!(manual_seed, m)?)?;
    m.add_function(wrap_pyfunction!(set_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(get_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(declared_parameters, m)?)?;
    m.add_function(wrap_pyfunction!(name_tables, m)?)?;
    text::register(m)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
