//! The exceptions the native module raises, and the conversions into them.

use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::engine;

create_exception!(
    _native,
    SweepError,
    PyValueError,
    "A point of a sweep the cost model cannot evaluate. args: (message, point index)."
);

pub(crate) fn sweep_error(e: engine::PointError) -> PyErr {
    SweepError::new_err((e.message, e.index))
}

