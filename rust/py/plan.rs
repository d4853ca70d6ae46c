//! The compiled plan as a Python object: evaluation into Arrow buffers, counts, reductions.

use std::collections::HashMap;
use std::sync::Arc;

use pyo3::buffer::PyUntypedBuffer;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::engine;

use super::errors::sweep_error;

/// A compiled sweep plan, ready to evaluate any range of its points.
#[pyclass(frozen, name = "Plan", module = "costspec._native")]
pub(crate) struct PyPlan {
    pub(crate) program: Arc<engine::Program>,
}

/// Raw output pointers shared with the worker threads; each region writes its own rows.
struct Outs(Vec<(*mut u8, engine::OutKind)>);
unsafe impl Send for Outs {}
unsafe impl Sync for Outs {}

impl Outs {
    /// The sink of region `r`: its rows start at r·chunk in every buffer.
    fn sink(&self, r: usize, chunk: usize) -> engine::Columns {
        engine::Columns {
            ptrs: self.0.iter().map(|(p, _)| *p).collect(),
            kinds: self.0.iter().map(|(_, k)| *k).collect(),
            row: r * chunk,
            capacity: (r + 1) * chunk,
        }
    }
}

/// Run `[start, end)` in regions on `threads` threads (engine::parallel), GIL released. While the
/// pool works, the calling thread takes the GIL every 50 ms to run Python's signal handlers: when
/// one raises (KeyboardInterrupt on Ctrl-C), the workers stop at their next block and that
/// exception is returned, so an interrupt takes effect within milliseconds.
fn run_regions<S: engine::Sink + Send>(
    py: Python<'_>,
    program: &Arc<engine::Program>,
    range: (u64, u64),
    chunk: usize,
    threads: usize,
    make: impl Fn(usize) -> S + Sync + Send,
) -> PyResult<Vec<S>> {
    let mut signal: Option<PyErr> = None;
    let result = py.detach(|| {
        engine::parallel::run_regions(program, range, chunk, threads, make, || {
            match Python::attach(|py| py.check_signals()) {
                Ok(()) => false,
                Err(e) => {
                    signal = Some(e);
                    true
                }
            }
        })
    });
    match result {
        Ok(sinks) => Ok(sinks),
        Err(engine::parallel::RunError::Point(e)) => Err(sweep_error(e)),
        Err(engine::parallel::RunError::Interrupted) => {
            Err(signal.unwrap_or_else(|| pyo3::exceptions::PyKeyboardInterrupt::new_err("interrupted")))
        }
        Err(engine::parallel::RunError::Pool(e)) => Err(PyValueError::new_err(e)),
    }
}

#[pymethods]
impl PyPlan {
    #[new]
    fn new(json: &str) -> PyResult<Self> {
        let program = engine::Program::from_json(json).map_err(PyValueError::new_err)?;
        Ok(PyPlan { program: Arc::new(program) })
    }

    /// Number of points in the product.
    #[getter]
    fn total(&self) -> u64 {
        self.program.total()
    }

    /// Evaluate points [start, end) in regions of `chunk` points on `threads` threads (0: all
    /// cores), writing kept rows of region r from row r·chunk of the output buffers (one per plan
    /// output: f64, int32 or a bitmap). Returns (first row, rows kept) per region.
    #[pyo3(signature = (start, end, chunk, threads, buffers))]
    fn evaluate(
        &self,
        py: Python<'_>,
        start: u64,
        end: u64,
        chunk: usize,
        threads: usize,
        buffers: Vec<Bound<'_, PyAny>>,
    ) -> PyResult<Vec<(usize, usize)>> {
        if chunk == 0 || chunk % 8 != 0 {
            return Err(PyValueError::new_err("chunk must be a positive multiple of 8"));
        }
        let end = end.min(self.program.total());
        let regs = engine::parallel::regions(start, end, chunk as u64);
        let capacity = regs.len() * chunk;
        let outputs = self.program.outputs();
        if buffers.len() != outputs.len() {
            return Err(PyValueError::new_err(format!("expected {} buffers, got {}", outputs.len(), buffers.len())));
        }
        let mut held = Vec::with_capacity(buffers.len());
        let mut ptrs = Vec::with_capacity(buffers.len());
        for (b, o) in buffers.iter().zip(outputs) {
            let buf = PyUntypedBuffer::get(b)?;
            let need = match o.kind {
                engine::OutKind::F64 | engine::OutKind::I64 => capacity * 8,
                engine::OutKind::I32 => capacity * 4,
                engine::OutKind::Bool => capacity.div_ceil(8),
            };
            if buf.readonly() || buf.len_bytes() < need || !buf.is_c_contiguous() {
                return Err(PyValueError::new_err(format!("each buffer must be writable with {need} bytes")));
            }
            ptrs.push((buf.buf_ptr() as *mut u8, o.kind));
            held.push(buf);
        }
        let outs = Outs(ptrs);
        let sinks = run_regions(py, &self.program, (start, end), chunk, threads, |r| outs.sink(r, chunk))?;
        drop(held);
        Ok(sinks.iter().enumerate().map(|(r, s)| (r * chunk, s.row - r * chunk)).collect())
    }

    /// The k best points per group: by output column `key` (smallest, or largest with
    /// `maximise`), grouped by the output columns `per`. Returns (point index, row values) pairs
    /// by group then rank, over the points [start, end) (default: all); the same whatever
    /// `threads` and `chunk`.
    #[pyo3(signature = (k, key, maximise, per, chunk, threads, start=0, end=u64::MAX))]
    #[allow(clippy::too_many_arguments)]
    fn top_k(
        &self,
        py: Python<'_>,
        k: usize,
        key: usize,
        maximise: bool,
        per: Vec<usize>,
        chunk: usize,
        threads: usize,
        start: u64,
        end: u64,
    ) -> PyResult<Vec<(u64, Vec<f64>)>> {
        let n_out = self.program.outputs().len();
        if k == 0 || key >= n_out || per.iter().any(|&c| c >= n_out) {
            return Err(PyValueError::new_err("top_k: k must be >= 1 and columns must be plan outputs"));
        }
        let ranked: Vec<usize> = std::iter::once(key).chain(per.iter().copied()).collect();
        let program = Arc::new(self.program.ranked(&ranked).map_err(PyValueError::new_err)?);
        let parts = run_regions(py, &program, (start, end), chunk, threads, |_| {
            engine::TopK::new(k, key, maximise, per.clone())
        })?;
        let mut total = engine::TopK::new(k, key, maximise, per);
        parts.into_iter().for_each(|t| total.merge(t));
        Ok(total.finish().into_iter().map(|c| (c.index, c.row)).collect())
    }

    /// The non-dominated points per group over the output columns `keys` ((column, maximise)
    /// pairs), grouped by the output columns `per`: (point index, row values) by group, then by
    /// the first key, over the points [start, end) (default: all). The same whatever `threads`
    /// and `chunk`.
    #[pyo3(signature = (keys, per, chunk, threads, start=0, end=u64::MAX))]
    #[allow(clippy::too_many_arguments)]
    fn pareto(
        &self,
        py: Python<'_>,
        keys: Vec<(usize, bool)>,
        per: Vec<usize>,
        chunk: usize,
        threads: usize,
        start: u64,
        end: u64,
    ) -> PyResult<Vec<(u64, Vec<f64>)>> {
        let n_out = self.program.outputs().len();
        if keys.is_empty() || keys.iter().any(|&(c, _)| c >= n_out) || per.iter().any(|&c| c >= n_out) {
            return Err(PyValueError::new_err("pareto: give at least one column; columns must be plan outputs"));
        }
        let ranked: Vec<usize> = keys.iter().map(|&(c, _)| c).chain(per.iter().copied()).collect();
        let program = Arc::new(self.program.ranked(&ranked).map_err(PyValueError::new_err)?);
        let parts = run_regions(py, &program, (start, end), chunk, threads, |_| {
            engine::Pareto::new(keys.clone(), per.clone())
        })?;
        let mut total = engine::Pareto::new(keys, per);
        parts.into_iter().for_each(|t| total.merge(t));
        Ok(total.finish().into_iter().map(|c| (c.index, c.row)).collect())
    }

    /// Evaluate points [start, end) without writing anything; returns how many the filters keep.
    #[pyo3(signature = (start, end, chunk, threads))]
    fn count(&self, py: Python<'_>, start: u64, end: u64, chunk: usize, threads: usize) -> PyResult<u64> {
        let parts = run_regions(py, &self.program, (start, end), chunk, threads, |_| engine::Count(0))?;
        Ok(parts.iter().map(|c| c.0 as u64).sum())
    }
}

/// Register layouts of the cost-model stages: {stage: (inputs, outputs)}.
#[pyfunction]
pub(crate) fn stage_layouts() -> HashMap<&'static str, (Vec<&'static str>, Vec<&'static str>)> {
    use engine::Stage::*;
    [("flops", Flops), ("time", Time), ("wall", Wall), ("money", Money), ("mem_states", MemStates), ("mem_gpu", MemGpu),
     ("step", Step), ("goodput", Goodput), ("goodput_shape", GoodputShape), ("search", Search),
     ("serve_layout", ServeLayout), ("serve_batch", ServeBatch), ("serve_rate", ServeRate),
     ("lifetime", Lifetime)]
        .into_iter()
        .map(|(name, s)| {
            let (i, o) = s.layout();
            (name, (i.to_vec(), o.to_vec()))
        })
        .collect()
}

/// The goodput model's defaults, which the compiler hoists with (rust/model/goodput.rs).
#[pyfunction]
pub(crate) fn goodput_defaults() -> HashMap<&'static str, f64> {
    use crate::model::goodput as g;
    HashMap::from([
        ("gpu_mtbf_hours", g::GPU_MTBF_HOURS),
        ("restart_minutes", g::RESTART_MINUTES),
        ("checkpoint_bytes_per_s_per_gpu", g::CHECKPOINT_BYTES_PER_S_PER_GPU),
        ("checkpoint_bytes_per_param", g::CHECKPOINT_BYTES_PER_PARAM),
    ])
}

/// The serving model's default efficiencies and memory shares (rust/model/serve.rs), which the
/// field registry states and tests/test_serve.py checks against these.
#[pyfunction]
pub(crate) fn serve_defaults() -> HashMap<&'static str, f64> {
    use crate::model::serve as s;
    HashMap::from([
        ("mbu", s::MBU),
        ("mfu_decode", s::MFU_DECODE),
        ("mfu_prefill", s::MFU_PREFILL),
        ("kv_fraction", s::KV_FRACTION),
        ("reserved_gb", s::RESERVED_BYTES / 1e9),
        ("all_reduce_latency_s", s::ALL_REDUCE_LATENCY),
    ])
}

/// The names of each category input (convention, mode, recompute, precision, optimizer) in the
/// engine's index order: the compiler encodes choices by these.
#[pyfunction]
pub(crate) fn categories() -> HashMap<&'static str, Vec<&'static str>> {
    engine::categories().into_iter().collect()
}
