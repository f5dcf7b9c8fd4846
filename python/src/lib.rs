//! `hindsight._native`: the Rust half of the `hindsight` Python package
//! (python/hindsight/ holds the other half and the documented API). It
//! reads recordings with the same `store` reader and `values` kinds as the
//! CLI ([`recording`], [`rebuild`]) and records with the `tracer` crate's
//! `record()` and `attach()` ([`run`]), calling a Python callback with
//! each step as it is recorded ([`follow`]).

mod errors;
mod follow;
mod literal;
mod queries;
mod rebuild;
mod recording;
mod run;
mod steps;

use pyo3::prelude::*;

/// The extension module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<recording::Reader>()?;
    m.add_class::<rebuild::Object>()?;
    m.add_class::<steps::StepInfo>()?;
    m.add_function(wrap_pyfunction!(recording::open, m)?)?;
    m.add_function(wrap_pyfunction!(run::record, m)?)?;
    m.add_function(wrap_pyfunction!(run::attach, m)?)?;
    m.add_function(wrap_pyfunction!(queries::history, m)?)?;
    m.add_function(wrap_pyfunction!(queries::last_write, m)?)?;
    m.add_function(wrap_pyfunction!(queries::find, m)?)?;
    m.add_function(wrap_pyfunction!(queries::diff, m)?)?;
    m.add("STOPPED_BY_CALLBACK", tracer::STOPPED_BY_OBSERVER)?;
    Ok(())
}
