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
    Ok(errors::compute(py, || Ok(rustrnn_core::threads::workers_flush()))?)
}

/// The kernel path in use: "portable", "avx2" or "avx512".
#[pyfunction]
fn get_isa() -> &'static str {
    rustrnn_core::kernels::isa::active().name()
}

/// Why the path in use differs from the one asked for or detected, if it does.
#[pyfunction]
fn _isa_notice() -> Option<&'static str> {
    rustrnn_core::kernels::isa::notice()
}

/// The kernel paths this CPU supports, portable first.
#[pyfunction]
fn _supported_isas() -> Vec<&'static str> {
    rustrnn_core::kernels::isa::supported().into_iter().map(|i| i.name()).collect()
}

/// Benchmark hook: one core's FMA peak in GFLOP/s on a kernel path
/// ("avx2", "avx512") for "float32" or "float64"; None for the portable path
/// or a path this CPU lacks.
#[pyfunction]
fn _fma_peak_gflops(py: Python<'_>, isa: &str, dtype: &str) -> PyResult<Option<f64>> {
    use rustrnn_core::kernels::isa::Isa;
    let path = Isa::parse(isa)
        .ok_or_else(|| pyo3::exceptions::PyValueError::new_err(format!("isa: expected portable, avx2 or avx512, got {isa:?}")))?;
    let f32 = match dtype {
        "float32" => true,
        "float64" => false,
        _ => return Err(pyo3::exceptions::PyValueError::new_err(format!("dtype: expected float32 or float64, got {dtype:?}"))),
    };
    Ok(errors::compute(py, || Ok(rustrnn_core::kernels::peak::fma_peak_gflops(path, f32, 200, 5)))?)
}

/// Every name table of the core (cells, activations, losses, optimizers,
/// merge modes, layer classes): `{concept: [accepted names]}`.
#[pyfunction]
fn name_tables() -> std::collections::HashMap<&'static str, Vec<&'static str>> {
    rustrnn_core::catalog::tables().into_iter().collect()
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // AVX-512 kernels are checked against the portable ones before first use.
    rustrnn_core::kernels::selfcheck::register();
    m.add_class::<recurrent::RecurrentHandle>()?;
    m.add_class::<recurrent::ForwardTape>()?;
    m.add_class::<model::ModelHandle>()?;
    m.add_function(wrap_pyfunction!(model::serialize_model, m)?)?;
    m.add_function(wrap_pyfunction!(model::deserialize_model, m)?)?;
    m.add_function(wrap_pyfunction!(model::next_seed, m)?)?;
    m.add_function(wrap_pyfunction!(model::schedule_rate, m)?)?;
    m.add_function(wrap_pyfunction!(model::seq2seq_decoder_inputs, m)?)?;
    m.add_function(wrap_pyfunction!(manual_seed, m)?)?;
    m.add_function(wrap_pyfunction!(set_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(get_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(declared_parameters, m)?)?;
    m.add_function(wrap_pyfunction!(get_flush_denormal, m)?)?;
    m.add_function(wrap_pyfunction!(set_flush_denormal, m)?)?;
    m.add_function(wrap_pyfunction!(_fp_control_word, m)?)?;
    m.add_function(wrap_pyfunction!(get_isa, m)?)?;
    m.add_function(wrap_pyfunction!(_isa_notice, m)?)?;
    m.add_function(wrap_pyfunction!(_supported_isas, m)?)?;
    m.add_function(wrap_pyfunction!(_fma_peak_gflops, m)?)?;
    m.add_function(wrap_pyfunction!(_workers_flush, m)?)?;
    m.add_function(wrap_pyfunction!(name_tables, m)?)?;
    text::register(m)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
