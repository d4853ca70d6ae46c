//! Where kept points go: columns, a count, top-k and Pareto reductions.

mod columns;
mod count;
mod pareto;
mod top_k;

pub use columns::Columns;
pub use count::Count;
pub use pareto::Pareto;
#[cfg(test)]
pub(crate) use pareto::dominates;
pub use top_k::TopK;

use super::*;

/// A block's value of one output column: the same for every point, or one per block position.
#[derive(Clone, Copy)]
pub enum Source<'a> {
    Scalar(f64),
    Vector(&'a [f64]),
}

impl Source<'_> {
    #[inline(always)]
    pub(crate) fn at(&self, j: usize) -> f64 {
        match self {
            Source::Scalar(v) => *v,
            Source::Vector(v) => v[j],
        }
    }
}

/// Where kept points go: one call per block, with the kept positions (`all` when every position
/// of the block is kept, in order) and each output column's values.
pub trait Sink {
    /// `index0` is the point index of block position 0.
    fn emit(&mut self, kept: &[u32], all: bool, columns: &[Source<'_>], index0: u64);

    /// The kept points of a compacted block: row q of `columns` is block position `at[q]` (point
    /// `index0 + at[q]`). Default: every row, for sinks that do not need a point's index.
    fn emit_compact(&mut self, at: &[u32], columns: &[Source<'_>], index0: u64) {
        let rows: Vec<u32> = (0..at.len() as u32).collect();
        self.emit(&rows, true, columns, index0);
    }

    /// Before anything but the ranked columns is computed (the plan's `ranked` registers; other
    /// columns hold stale values): push to `cand` the positions of the block's `n` that may still
    /// enter the answer. A reduction's bar only tightens, so a point ruled out now would never be
    /// kept. Default: every position.
    fn prune(&self, _columns: &[Source<'_>], n: usize, _index0: u64, cand: &mut Vec<u32>) {
        cand.extend(0..n as u32);
    }
}


/// A value as a reduction ranks it (lower is better): negated to maximise; a missing value
/// (NaN) ranks after every value, as SQL's NULLS LAST, so a group whose points lack the value
/// still has its rows rather than disappearing.
#[inline(always)]
pub(crate) fn rank_value(v: f64, maximise: bool) -> f64 {
    if v.is_nan() {
        f64::INFINITY
    } else if maximise {
        -v
    } else {
        v
    }
}


/// A kept row: its ranking key (lower is better), its point index and its output values.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub key: f64,
    pub index: u64,
    pub row: Vec<f64>,
}

impl PartialEq for Candidate {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == std::cmp::Ordering::Equal
    }
}
impl Eq for Candidate {}
impl PartialOrd for Candidate {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Candidate {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.key.total_cmp(&o.key).then(self.index.cmp(&o.index))
    }
}


/// A grouping column's value as a group key: a category's index, or `i64::MIN` where it has no
/// value (NaN), a group of its own (before every category), not the first category's.
pub(crate) fn group_key(v: f64) -> i64 {
    if v.is_nan() {
        i64::MIN
    } else {
        v as i64
    }
}

/// The group of a block whose grouping columns are the same for every position, if they are.
pub(crate) fn fixed_group(per: &[usize], columns: &[Source<'_>]) -> Option<Vec<i64>> {
    per.iter()
        .map(|&c| match columns[c] {
            Source::Scalar(v) => Some(group_key(v)),
            Source::Vector(_) => None,
        })
        .collect()
}

