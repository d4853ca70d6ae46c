//! The exceptions the native module raises, and the conversions into them.

use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::engine;
use crate::model::types::ModelError as CoreError;

create_exception!(
    _native,
    ModelError,
    PyValueError,
    "An input the cost model cannot evaluate. args: (message, field or None)."
);

create_exception!(
    _native,
    SweepError,
    PyValueError,
    "A point of a sweep the cost model cannot evaluate. args: (message, point index)."
);

pub(crate) fn model_error(e: CoreError) -> PyErr {
    let field = match &e {
        CoreError::OutOfRange { field, .. } => Some(field.clone()),
        CoreError::MissingArchitecture { .. } => None,
    };
    ModelError::new_err((e.to_string(), field))
}

pub(crate) fn sweep_error(e: engine::PointError) -> PyErr {
    SweepError::new_err((e.message, e.index))
}

