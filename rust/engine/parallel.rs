//! Parallel regions: a sweep range cut into regions of a chunk each, run on a reused pool, with
//! one sink per region; the lowest failing point wins, so the outcome does not depend on the
//! thread count. No Python here: the caller says how to look for an interrupt.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use super::{PointError, Program, Sink};

/// Most threads a pool may have, per core: more only adds switching.
pub const MAX_THREADS_PER_CORE: usize = 4;
/// Pools kept for reuse (the most recently used sizes); an evicted pool's threads end once no
/// call is using it.
const POOLS_KEPT: usize = 4;
/// How often a running call looks for an interrupt.
pub const POLL: std::time::Duration = std::time::Duration::from_millis(50);

/// A pool of `threads` threads (0: one per core; at most `MAX_THREADS_PER_CORE` per core), reused.
pub fn pool(threads: usize) -> Result<Arc<rayon::ThreadPool>, String> {
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
            .map_err(|e| e.to_string())?,
    );
    if pools.len() >= POOLS_KEPT {
        pools.remove(0);
    }
    pools.push((threads, p.clone()));
    Ok(p)
}

/// `[start, end)` cut into consecutive ranges of `chunk` points.
pub fn regions(start: u64, end: u64, chunk: u64) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut a = start;
    while a < end {
        let b = (a + chunk).min(end);
        out.push((a, b));
        a = b;
    }
    out
}

/// Why a parallel run ended without its sinks.
#[derive(Debug)]
pub enum RunError {
    /// The point error at the lowest failing index.
    Point(PointError),
    /// `interrupted` said to stop; the workers stopped at their next block.
    Interrupted,
    /// The pool could not be built.
    Pool(String),
}

/// Run `[start, end)` in regions of `chunk` points on a pool of `threads`, one sink per region
/// (made by `make`). Returns the sinks in region order, or the error at the lowest failing point.
/// While the pool works, the calling thread asks `interrupted` every `POLL`; once it says yes,
/// the workers stop at their next block.
pub fn run_regions<S: Sink + Send>(
    program: &Program,
    (start, end): (u64, u64),
    chunk: usize,
    threads: usize,
    make: impl Fn(usize) -> S + Sync + Send,
    mut interrupted: impl FnMut() -> bool,
) -> Result<Vec<S>, RunError> {
    let regs = regions(start, end.min(program.total()), chunk.max(1) as u64);
    let pool = pool(threads).map_err(RunError::Pool)?;
    let stop = AtomicBool::new(false);
    let results = std::thread::scope(|scope| {
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let (regs, pool, stop, make) = (&regs, &pool, &stop, &make);
        let work = scope.spawn(move || {
            use rayon::prelude::*;
            let out: Vec<Result<S, PointError>> = pool.install(|| {
                regs.par_iter()
                    .enumerate()
                    .map(|(r, &(a, b))| {
                        let mut sink = make(r);
                        program.run_until(a, b, &mut sink, stop).map(|_| sink)
                    })
                    .collect()
            });
            let _ = done_tx.send(());
            out
        });
        while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = done_rx.recv_timeout(POLL) {
            if !stop.load(Ordering::Relaxed) && interrupted() {
                stop.store(true, Ordering::Relaxed);
            }
        }
        work.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
    });
    if stop.load(Ordering::Relaxed) {
        return Err(RunError::Interrupted);
    }
    let mut sinks = Vec::with_capacity(results.len());
    let mut first_err: Option<PointError> = None;
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
        Some(e) => Err(RunError::Point(e)),
        None => Ok(sinks),
    }
}
