//! The PyO3 binding: thin wrappers that release the GIL around the engine, which knows nothing of
//! Python. A one-point estimate is a one-point plan (python/costspec/point.py): there is no other
//! entry into the cost model.

mod errors;
mod parquet;
mod plan;

use pyo3::prelude::*;

use crate::engine;

/// Adds the module's functions, classes, exceptions and constants.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(plan::stage_layouts, m)?)?;
    m.add_function(wrap_pyfunction!(plan::categories, m)?)?;
    m.add_function(wrap_pyfunction!(plan::goodput_defaults, m)?)?;
    m.add_function(wrap_pyfunction!(plan::serve_defaults, m)?)?;
    m.add_class::<plan::PyPlan>()?;
    m.add_class::<parquet::PyParquetPart>()?;
    m.add_function(wrap_pyfunction!(parquet::arrow_schema, m)?)?;
    m.add_function(wrap_pyfunction!(parquet::footer_metadata, m)?)?;
    m.add("SweepError", m.py().get_type::<errors::SweepError>())?;
    m.add("BLOCK", engine::BLOCK)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
