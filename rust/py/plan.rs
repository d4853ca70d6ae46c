//! The compiled plan as a Python object: evaluation into Arrow buffers, counts, reductions.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use pyo3::buffer::PyUntypedBuffer;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::engine;

use super::errors::sweep_error;

/// A compiled sweep plan, ready to evaluate any range of its points.
#[pyclass(frozen, name = "Plan", module = "costspec._native")]
pub(crate) struct PyPlan {
    program: Arc<engine::Program>,
    /// The plan as received: reductions recompile it with their ranked registers.
    json: String,
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

/// Most threads a pool may have, per core: more only adds switching.
const MAX_THREADS_PER_CORE: usize = 4;
/// Pools kept for reuse (the most recently used sizes); an evicted pool's threads end once no
/// call is using it.
const POOLS_KEPT: usize = 4;

fn pool(threads: usize) -> PyResult<Arc<rayon::ThreadPool>> {
    static POOLS: OnceLock<Mutex<Vec<(usize, Arc<rayon::ThreadPool>)>>> = OnceLock::new();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let threads = if threads == 0 { cores } else { threads.min(MAX_THREADS_PER_CORE * cores) };
    let mut pools = POOLS.get_or_init(|| Mutex::new(Vec::new())).lock().unwrap_or_else(|e| e.into_inner());
    if let Some(i) = pools.iter().position(|(n, _)| *n == threads) {
        let entry = pools.remove(i);
        let p = entry.1.clone();
        pools.push(entry);
        return Ok(p);
    }
    let p = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("costspec-{i}"))
            .build()
            .map_err(|e| PyValueError::new_err(e.to_string()))?,
    );
    if pools.len() >= POOLS_KEPT {
        pools.remove(0);
    }
    pools.push((threads, p.clone()));
    Ok(p)
}

fn regions(start: u64, end: u64, chunk: u64) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut a = start;
    while a < end {
        let b = (a + chunk).min(end);
        out.push((a, b));
        a = b;
    }
    out
}


/// How often a running call looks for a signal (Ctrl-C, SIGTERM) to act on.
const SIGNAL_POLL: std::time::Duration = std::time::Duration::from_millis(50);

/// Run `[start, end)` in regions of `chunk` points on a pool of `threads`, one sink per region
/// (made by `make`), GIL released. Returns the sinks in region order, or the error at the lowest
/// failing point, so the outcome does not depend on the thread count.
///
/// While the pool works, the calling thread takes the GIL every 50 ms to run Python's signal
/// handlers: when one raises (KeyboardInterrupt on Ctrl-C), the workers stop at their next block
/// and that exception is returned, so an interrupt takes effect within milliseconds.
fn run_regions<S: engine::Sink + Send>(
    py: Python<'_>,
    program: &Arc<engine::Program>,
    (start, end): (u64, u64),
    chunk: usize,
    threads: usize,
    make: impl Fn(usize) -> S + Sync + Send,
) -> PyResult<Vec<S>> {
    let regs = regions(start, end.min(program.total()), chunk.max(1) as u64);
    let pool = pool(threads)?;
    let stop = AtomicBool::new(false);
    let (results, signal) = py.detach(|| {
        std::thread::scope(|scope| {
            let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
            let (regs, pool, stop, make) = (&regs, &pool, &stop, &make);
            let work = scope.spawn(move || {
                use rayon::prelude::*;
                let out: Vec<Result<S, engine::PointError>> = pool.install(|| {
                    regs.par_iter()
                        .enumerate()
                        .map(|(r, &(a, b))| {
                            let mut sink = make(r);
                            program.run_until(a, b, &mut sink, &stop).map(|_| sink)
                        })
                        .collect()
                });
                let _ = done_tx.send(());
                out
            });
            let mut signal: Option<PyErr> = None;
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = done_rx.recv_timeout(SIGNAL_POLL) {
                if signal.is_none() {
                    if let Err(e) = Python::attach(|py| py.check_signals()) {
                        signal = Some(e);
                        stop.store(true, Ordering::Relaxed);
                    }
                }
            }
            (work.join().unwrap_or_else(|p| std::panic::resume_unwind(p)), signal)
        })
    });
    if let Some(e) = signal {
        return Err(e);
    }
    let mut sinks = Vec::with_capacity(results.len());
    let mut first_err: Option<engine::PointError> = None;
    for r in results {
        match r {
            Ok(s) => sinks.push(s),
            Err(e) => {
                if first_err.as_ref().is_none_or(|f| e.index < f.index) {
                    first_err = Some(e);
                }
            }
        }
    }
    match first_err {
        Some(e) => Err(sweep_error(e)),
        None => Ok(sinks),
    }
}

impl PyPlan {
    /// The plan recompiled so that the given output columns are computed before anything else.
    fn ranked(&self, columns: impl Iterator<Item = usize>) -> PyResult<Arc<engine::Program>> {
        let mut spec: engine::PlanSpec =
            serde_json::from_str(&self.json).map_err(|e| PyValueError::new_err(format!("bad plan: {e}")))?;
        spec.ranked = columns.map(|c| spec.outputs[c].reg).collect();
        Ok(Arc::new(engine::Program::new(spec).map_err(PyValueError::new_err)?))
    }
}

#[pymethods]
impl PyPlan {
    #[new]
    fn new(json: &str) -> PyResult<Self> {
        let program = engine::Program::from_json(json).map_err(PyValueError::new_err)?;
        Ok(PyPlan { program: Arc::new(program), json: json.to_owned() })
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
        let regs = regions(start, end, chunk as u64);
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
                engine::OutKind::F64 => capacity * 8,
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
    /// by group then rank; the same whatever `threads` and `chunk`.
    #[pyo3(signature = (k, key, maximise, per, chunk, threads))]
    fn top_k(
        &self,
        py: Python<'_>,
        k: usize,
        key: usize,
        maximise: bool,
        per: Vec<usize>,
        chunk: usize,
        threads: usize,
    ) -> PyResult<Vec<(u64, Vec<f64>)>> {
        let n_out = self.program.outputs().len();
        if k == 0 || key >= n_out || per.iter().any(|&c| c >= n_out) {
            return Err(PyValueError::new_err("top_k: k must be >= 1 and columns must be plan outputs"));
        }
        let program = self.ranked(std::iter::once(key).chain(per.iter().copied()))?;
        let parts = run_regions(py, &program, (0, u64::MAX), chunk, threads, |_| {
            engine::TopK::new(k, key, maximise, per.clone())
        })?;
        let mut total = engine::TopK::new(k, key, maximise, per);
        parts.into_iter().for_each(|t| total.merge(t));
        Ok(total.finish().into_iter().map(|c| (c.index, c.row)).collect())
    }

    /// The non-dominated points per group over the output columns `keys` ((column, maximise)
    /// pairs), grouped by the output columns `per`: (point index, row values) by group, then by
    /// the first key. The same whatever `threads` and `chunk`.
    #[pyo3(signature = (keys, per, chunk, threads))]
    fn pareto(
        &self,
        py: Python<'_>,
        keys: Vec<(usize, bool)>,
        per: Vec<usize>,
        chunk: usize,
        threads: usize,
    ) -> PyResult<Vec<(u64, Vec<f64>)>> {
        let n_out = self.program.outputs().len();
        if keys.is_empty() || keys.iter().any(|&(c, _)| c >= n_out) || per.iter().any(|&c| c >= n_out) {
            return Err(PyValueError::new_err("pareto: give at least one column; columns must be plan outputs"));
        }
        let program = self.ranked(keys.iter().map(|&(c, _)| c).chain(per.iter().copied()))?;
        let parts = run_regions(py, &program, (0, u64::MAX), chunk, threads, |_| {
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
    [("flops", Flops), ("time", Time), ("wall", Wall), ("money", Money), ("mem_states", MemStates), ("mem_gpu", MemGpu)]
        .into_iter()
        .map(|(name, s)| {
            let (i, o) = s.layout();
            (name, (i.to_vec(), o.to_vec()))
        })
        .collect()
}
