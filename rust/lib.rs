//! costspec's native module. The cost model (`model`) and the sweep engine (`engine`) are plain
//! Rust with no Python types; `py` converts between Python objects and them, and releases the GIL
//! around the computation.

pub mod engine;
pub mod model;
pub mod parquet;
mod py;

use pyo3::prelude::*;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    py::register(m)
}
