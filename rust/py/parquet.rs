//! Parquet part files from the engine's output buffers (crate::parquet), encoded with the GIL
//! released: each writer thread encodes its row groups in parallel with the others.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use pyo3::buffer::PyUntypedBuffer;
use pyo3::exceptions::{PyKeyboardInterrupt, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::engine::{OutKind, PointError};
use crate::parquet::arrow_schema as ipc;
use crate::parquet::footer;
use crate::parquet::{Cheapest, Column, Kind, PartWriter, Rows, WriteError};

use super::errors::sweep_error;
use super::plan::PyPlan;

/// A Parquet part being written: `row_group` encodes the rows the engine left in its buffers and
/// returns the bytes to append to the file; `finish` returns the footer.
#[pyclass(frozen, name = "ParquetPart", module = "costspec._native")]
pub(crate) struct PyParquetPart {
    writer: Mutex<Option<PartWriter>>,
    wide: Vec<bool>,
    /// Set by `cancel`: a running `write` stops at the engine's next block.
    stop: AtomicBool,
}

/// Column kinds by name: "f64" (NaN: no value), "f64_nan" (NaN a value), "i64", "category" (with
/// its names), "flag".
fn kind(name: &str, categories: Option<Vec<String>>) -> PyResult<Kind> {
    Ok(match (name, categories) {
        ("f64", None) => Kind::F64(true),
        ("f64_nan", None) => Kind::F64(false),
        ("i64", None) => Kind::I64,
        ("flag", None) => Kind::Flag,
        ("category", Some(c)) => Kind::Category(c),
        _ => return Err(PyValueError::new_err(format!("unknown column kind {name}"))),
    })
}

#[pymethods]
impl PyParquetPart {
    /// `columns`: (name, kind, nullable, category names or None); `metadata`: key-value pairs.
    #[new]
    #[pyo3(signature = (columns, metadata, level=1))]
    fn new(columns: Vec<(String, String, bool, Option<Vec<String>>)>, metadata: Vec<(String, String)>, level: i32)
           -> PyResult<Self> {
        let cols = columns
            .into_iter()
            .map(|(name, k, nullable, cats)| Ok(Column { name, kind: kind(&k, cats)?, nullable }))
            .collect::<PyResult<Vec<_>>>()?;
        let wide = cols.iter().map(|c| !matches!(c.kind, Kind::Category(_))).collect();
        let writer = PartWriter::new(cols, metadata, level).map_err(PyValueError::new_err)?;
        Ok(PyParquetPart { writer: Mutex::new(Some(writer)), wide, stop: AtomicBool::new(false) })
    }

    /// One row group from the engine's buffers (one per column, as `Plan.evaluate` filled them):
    /// the rows of each (first row, count) region, in order.
    fn row_group<'py>(&self, py: Python<'py>, buffers: Vec<Bound<'py, PyAny>>, regions: Vec<(usize, usize)>)
                      -> PyResult<Bound<'py, PyBytes>> {
        if buffers.len() != self.wide.len() {
            return Err(PyValueError::new_err(format!("expected {} buffers, got {}", self.wide.len(), buffers.len())));
        }
        let need = regions
            .iter()
            .map(|&(a, n)| a.checked_add(n))
            .try_fold(0usize, |m, e| e.map(|e| m.max(e)))
            .ok_or_else(|| PyValueError::new_err("a region past the end of memory"))?;
        let mut held = Vec::with_capacity(buffers.len());
        for (b, &wide) in buffers.iter().zip(&self.wide) {
            let buf = PyUntypedBuffer::get(b)?;
            let size = if wide { 8 } else { 4 };
            if need.checked_mul(size).is_none_or(|b| buf.len_bytes() < b) || !buf.is_c_contiguous() || (buf.buf_ptr() as usize) % size != 0 {
                return Err(PyValueError::new_err(format!("each buffer must hold {need} aligned rows")));
            }
            held.push(buf);
        }
        // Adjacent regions make one slice (no filter dropped rows between them).
        let mut spans: Vec<(usize, usize)> = Vec::new();
        for &(a, n) in regions.iter().filter(|r| r.1 > 0) {
            match spans.last_mut() {
                Some(last) if last.0 + last.1 == a => last.1 += n,
                _ => spans.push((a, n)),
            }
        }
        // SAFETY: each buffer holds `need` rows of its width (checked above) and stays held, and
        // unchanged (its one writer thread waits here), until the encoding ends.
        let rows: Vec<Rows<'_>> = held
            .iter()
            .zip(&self.wide)
            .map(|(b, &wide)| unsafe {
                if wide {
                    let p = b.buf_ptr() as *const u64;
                    Rows::Wide(spans.iter().map(|&(a, n)| std::slice::from_raw_parts(p.add(a), n)).collect())
                } else {
                    let p = b.buf_ptr() as *const i32;
                    Rows::Narrow(spans.iter().map(|&(a, n)| std::slice::from_raw_parts(p.add(a), n)).collect())
                }
            })
            .collect();
        let mut guard = self.writer.lock().map_err(|_| PyRuntimeError::new_err("writer poisoned"))?;
        let writer = guard.as_mut().ok_or_else(|| PyRuntimeError::new_err("the part is finished"))?;
        let out = py.detach(|| writer.row_group(&rows)).map_err(PyValueError::new_err)?;
        drop(rows);
        drop(held);
        Ok(PyBytes::new(py, &out))
    }

    /// Evaluate points [start, end) of `plan` on the calling thread with the GIL released, the
    /// engine writing into the part's own buffers, in row groups of `group_rows` rows. After each
    /// engine call (of `group_rows` points) `emit(data, points, rows)` runs, with the GIL: `data`
    /// is the file's next bytes (maybe none) to write where the part goes; an exception from it
    /// stops the run and is raised here. `cheapest`: (key, tie columns, grouping columns, shown)
    /// as output column indices — the best row of each of the `shown` best answers is kept.
    /// Returns (rows kept, the kept best rows as one buffer per column, how many).
    #[pyo3(signature = (plan, start, end, group_rows, emit, cheapest=None))]
    #[allow(clippy::too_many_arguments, clippy::type_complexity)]
    fn write<'py>(
        &self,
        py: Python<'py>,
        plan: PyRef<'py, PyPlan>,
        start: u64,
        end: u64,
        group_rows: usize,
        emit: Bound<'py, PyAny>,
        cheapest: Option<(usize, Vec<usize>, Vec<usize>, usize)>,
    ) -> PyResult<(u64, Vec<Bound<'py, PyBytes>>, usize)> {
        let program = plan.program.clone();
        drop(plan);
        let ncols = program.outputs().len();
        if let Some((k, t, p, _)) = &cheapest {
            if std::iter::once(k).chain(t).chain(p).any(|&c| c >= ncols) {
                return Err(PyValueError::new_err("cheapest: columns must be plan outputs"));
            }
        }
        let mut best = cheapest.map(|(k, t, p, shown)| Cheapest::new(k, t, p, shown));
        let mut guard = self.writer.lock().map_err(|_| PyRuntimeError::new_err("writer poisoned"))?;
        let writer = guard.as_mut().ok_or_else(|| PyRuntimeError::new_err("the part is finished"))?;
        let emit = emit.unbind();
        let stop = &self.stop;
        let result = py.detach(|| {
            writer.write_range(&program, (start, end), group_rows, stop, best.as_mut(), |data, points, rows| {
                Python::attach(|py| emit.call1(py, (PyBytes::new(py, &data), points, rows)).map(|_| ()))
            })
        });
        let total = match result {
            Ok(n) => n,
            Err(WriteError::Emit(e)) => return Err(e),
            Err(WriteError::Point(e)) if e.index == PointError::STOPPED => {
                return Err(PyKeyboardInterrupt::new_err("the part was cancelled"))
            }
            Err(WriteError::Point(e)) => return Err(sweep_error(e)),
            Err(WriteError::Encode(m)) => return Err(PyValueError::new_err(m)),
        };
        let rows = best.map(|b| b.rows()).unwrap_or_default();
        let kinds: Vec<OutKind> = program.outputs().iter().map(|o| o.kind).collect();
        let columns = kinds
            .iter()
            .enumerate()
            .map(|(c, k)| {
                let mut b = Vec::new();
                for r in &rows {
                    if *k == OutKind::I32 {
                        b.extend_from_slice(&(r[c] as i64 as i32).to_le_bytes());
                    } else {
                        b.extend_from_slice(&r[c].to_le_bytes());
                    }
                }
                PyBytes::new(py, &b)
            })
            .collect();
        Ok((total, columns, rows.len()))
    }

    /// Stop a running `write` at the engine's next block (it raises KeyboardInterrupt).
    fn cancel(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// The footer: the file's last bytes. The part takes no more row groups.
    fn finish<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let mut guard = self.writer.lock().map_err(|_| PyRuntimeError::new_err("writer poisoned"))?;
        let writer = guard.take().ok_or_else(|| PyRuntimeError::new_err("the part is finished"))?;
        let out = py.detach(|| writer.finish()).map_err(PyValueError::new_err)?;
        Ok(PyBytes::new(py, &out))
    }
}

/// The Arrow IPC schema message of a part's columns (pyarrow's `Schema.serialize()`): `columns`
/// as (name, kind, nullable, unit or None), kinds as for `ParquetPart` (a category's names are not
/// part of a schema); `metadata`: the schema's key-value pairs, in order.
#[pyfunction]
pub(crate) fn arrow_schema<'py>(py: Python<'py>, columns: Vec<(String, String, bool, Option<String>)>,
                                metadata: Vec<(String, String)>) -> PyResult<Bound<'py, PyBytes>> {
    let kinds = columns
        .iter()
        .map(|(_, k, _, _)| kind(k, if k == "category" { Some(Vec::new()) } else { None }))
        .collect::<PyResult<Vec<_>>>()?;
    let fields: Vec<ipc::Field> = columns
        .iter()
        .zip(&kinds)
        .map(|((name, _, nullable, unit), kind)| ipc::Field { name, kind, nullable: *nullable, unit: unit.as_deref() })
        .collect();
    let pairs: Vec<(&str, &str)> = metadata.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Ok(PyBytes::new(py, &ipc::ipc_schema(&fields, &pairs)))
}

/// The key-value metadata of a Parquet footer (the `FileMetaData` bytes before the final length
/// and magic) as (key, value or None) pairs, or None when the bytes are not a footer (they come
/// from any file in the way of an output: read by a walker written for hostile bytes).
#[pyfunction]
pub(crate) fn footer_metadata(py: Python<'_>, footer: &[u8]) -> Option<Vec<(String, Option<String>)>> {
    py.detach(|| footer::key_value_metadata(footer)).ok()
}
