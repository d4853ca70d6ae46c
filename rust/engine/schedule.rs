//! The compiled program: loop levels, inner blocks, which operations run where and when.

use super::*;

#[derive(Debug)]
pub struct Program {
    pub(crate) spec: PlanSpec,
    /// Loop axes, outermost first (a plan without axes gets one axis of length 1).
    pub(crate) lens: Vec<usize>,
    pub(crate) n_outer: usize,
    /// Points per outer combination: the product of the inner axes.
    pub(crate) inner_len: usize,
    /// Per inner axis (by position among inner axes): its stride within the inner block.
    pub(crate) inner_strides: Vec<usize>,
    /// reg -> slot among vector registers (inner level), or usize::MAX.
    pub(crate) slot: Vec<usize>,
    pub(crate) n_slots: usize,
    /// Operations by level: index 0 holds constant-level ops, 1 + l the outer level l; those the
    /// filters need, and those run only when a block keeps a point.
    pub(crate) outer_ops: Vec<Vec<usize>>,
    pub(crate) deferred: Vec<Vec<usize>>,
    /// Outer filters by level (same indexing).
    pub(crate) outer_filters: Vec<Vec<usize>>,
    /// Inner operations: those ranked registers need, those the inner filters need, the rest.
    pub(crate) inner_rank: Vec<usize>,
    pub(crate) inner_first: Vec<usize>,
    pub(crate) inner_rest: Vec<usize>,
    /// The vector slots the rest (and the output columns) read that are computed before the
    /// filters: gathered at the kept positions when a block keeps few points (see Worker::block).
    pub(crate) rest_gather: Vec<usize>,
    pub(crate) inner_filters: Vec<usize>,
    /// Comparisons evaluated as filters directly: (op, a, b).
    pub(crate) fused: Vec<(BinOp, usize, usize)>,
    pub(crate) total: u64,
    /// Registers something reads: an op, a filter, an output column or a ranking (a stage may
    /// leave the others unwritten).
    pub(crate) live: Vec<bool>,
}

impl Program {
    pub fn new(mut spec: PlanSpec) -> Result<Program, String> {
        if spec.axes.is_empty() {
            spec.axes.push(AxisSpec { len: 1, columns: vec![] });
        }
        // A layout search's lists of allowed values, checked and decoded once.
        for (k, op) in spec.ops.iter_mut().enumerate() {
            if let OpSpec::Model { space: Some(sp), .. } = op {
                sp.decoded = super::stages::search_space(sp).map_err(|m| format!("op {k}: {m}"))?;
            }
        }
        for ax in &mut spec.axes {
            for c in &mut ax.columns {
                if let Some(g) = c.gen.take() {
                    c.values = g.values()?;
                }
            }
        }
        reduce_wall_clock(&mut spec)?;
        let n_axes = spec.axes.len();
        let nreg = spec.registers;
        let check_reg = |r: usize| if r < nreg { Ok(()) } else { Err(format!("register {r} out of range")) };
        let mut level: Vec<i64> = vec![i64::MIN; nreg];
        for &(r, _) in &spec.consts {
            check_reg(r)?;
            level[r] = -1;
        }
        let mut lens = Vec::with_capacity(n_axes);
        for (ai, ax) in spec.axes.iter().enumerate() {
            if ax.len == 0 {
                return Err(format!("axis {ai} has no values"));
            }
            for c in &ax.columns {
                check_reg(c.reg)?;
                if c.values.len() != ax.len {
                    return Err(format!("axis {ai}: a column has {} values, not {}", c.values.len(), ax.len));
                }
                level[c.reg] = ai as i64;
            }
            lens.push(ax.len);
        }
        for t in &spec.tables {
            if t.cols == 0 || t.values.len() % t.cols != 0 {
                return Err("a lookup table is ragged".into());
            }
        }
        let mut op_level = Vec::with_capacity(spec.ops.len());
        for (k, op) in spec.ops.iter().enumerate() {
            let mut l = -1i64;
            for r in op.inputs() {
                check_reg(r)?;
                if level[r] == i64::MIN {
                    return Err(format!("op {k} reads register {r} before it is written"));
                }
                l = l.max(level[r]);
            }
            if let OpSpec::Model { stage, i, o, space } = op {
                let (li, lo) = stage.layout();
                if i.len() != li.len() || o.len() != lo.len() {
                    return Err(format!("op {k}: stage {stage:?} takes {} inputs and {} outputs", li.len(), lo.len()));
                }
                if space.is_some() && *stage != Stage::Search {
                    return Err(format!("op {k}: only the layout search takes a search space"));
                }
            }
            if let OpSpec::Lut { t, .. } = op {
                if *t >= spec.tables.len() {
                    return Err(format!("op {k}: no table {t}"));
                }
            }
            for r in op.outputs() {
                check_reg(r)?;
                level[r] = l;
            }
            op_level.push(l);
        }
        for &r in spec.filters.iter().chain(spec.outputs.iter().map(|o| &o.reg)).chain(&spec.ranked) {
            check_reg(r)?;
            if level[r] == i64::MIN {
                return Err(format!("register {r} is read but never written"));
            }
        }

        // Inner axes: the innermost ones, until a block is long enough (at least the last axis).
        let mut k = 1;
        let mut inner_len = lens[n_axes - 1];
        while k < n_axes && inner_len < MIN_BLOCK && inner_len * lens[n_axes - 1 - k] <= BLOCK {
            inner_len *= lens[n_axes - 1 - k];
            k += 1;
        }
        let n_outer = n_axes - k;
        let mut inner_strides = vec![0; k];
        let mut stride = 1;
        for j in (0..k).rev() {
            inner_strides[j] = stride;
            stride *= lens[n_outer + j];
        }
        let mut slot = vec![usize::MAX; nreg];
        let mut n_slots = 0;
        for r in 0..nreg {
            if level[r] >= n_outer as i64 {
                slot[r] = n_slots;
                n_slots += 1;
            }
        }
        let mut outer_ops = vec![Vec::new(); n_outer + 1];
        let mut inner_ops = Vec::new();
        for (k, &l) in op_level.iter().enumerate() {
            if l >= n_outer as i64 {
                inner_ops.push(k);
            } else {
                outer_ops[(l + 1) as usize].push(k);
            }
        }
        let mut outer_filters = vec![Vec::new(); n_outer + 1];
        let mut inner_filters = Vec::new();
        for &r in &spec.filters {
            if level[r] >= n_outer as i64 {
                inner_filters.push(r);
            } else {
                outer_filters[(level[r] + 1) as usize].push(r);
            }
        }
        // Ops the ranked registers depend on run first, then those the filters depend on; the rest
        // (outer or inner) only once a block keeps a point.
        let needed_by = |seeds: &[usize]| {
            let mut needed = vec![false; nreg];
            for &r in seeds {
                needed[r] = true;
            }
            let mut mask = vec![false; spec.ops.len()];
            for k in (0..spec.ops.len()).rev() {
                if spec.ops[k].outputs().iter().any(|&r| needed[r]) {
                    mask[k] = true;
                    for r in spec.ops[k].inputs() {
                        needed[r] = true;
                    }
                }
            }
            mask
        };
        // Ops nothing needs are not run: no output column, filter or ranking reads them, nor one of
        // the ops that can report an error at a point, whose inputs stay: checks, checked
        // arithmetic, and every model stage (a stage refuses inputs it cannot model: an error of
        // the sweep whether or not its columns are written). What goes is arithmetic nobody reads.
        // (what must run: the outputs, filters and rankings, and the ops that report errors — the
        // step among them or not)
        let seeds = |with_step: bool| -> Vec<usize> {
            let reports = |op: &OpSpec| match op {
                OpSpec::Check { .. } | OpSpec::Bin { msg: Some(_), .. } | OpSpec::Un { msg: Some(_), .. } => true,
                OpSpec::Model { stage, .. } => with_step || *stage != Stage::Step,
                _ => false,
            };
            spec.outputs.iter().map(|o| o.reg).chain(spec.filters.iter().copied())
                .chain(spec.ranked.iter().copied())
                .chain(spec.ops.iter().filter(|op| reports(op)).flat_map(|op| op.outputs()))
                .collect()
        };
        let run_mask = needed_by(&seeds(true));
        // A step model whose columns nothing reads runs its checks alone (its errors still count).
        let read = needed_by(&seeds(false));
        let checks_only: Vec<usize> = (0..spec.ops.len())
            .filter(|&k| !read[k] && matches!(spec.ops[k], OpSpec::Model { stage: Stage::Step, .. }))
            .collect();
        let inner_ops: Vec<usize> = inner_ops.into_iter().filter(|&k| run_mask[k]).collect();
        let outer_ops: Vec<Vec<usize>> =
            outer_ops.into_iter().map(|ops| ops.into_iter().filter(|&k| run_mask[k]).collect()).collect();
        let rank_mask = needed_by(&spec.ranked);
        let filter_mask = needed_by(&spec.filters);
        let first_mask: Vec<bool> = rank_mask.iter().zip(&filter_mask).map(|(a, b)| *a || *b).collect();
        // A filter made by a comparison nothing else reads is evaluated while choosing the kept
        // points, without a vector of its own.
        let mut readers = vec![0usize; nreg];
        for op in &spec.ops {
            for r in op.inputs() {
                readers[r] += 1;
            }
        }
        for o in &spec.outputs {
            readers[o.reg] += 1;
        }
        let mut fused = Vec::new();
        let mut fused_ops = vec![false; spec.ops.len()];
        let mut plain_filters = Vec::new();
        let producer = |r: usize| (0..spec.ops.len()).rev().find(|&k| spec.ops[k].outputs().contains(&r));
        let comparison = |op: &BinOp| matches!(op, BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge | BinOp::Eq | BinOp::Ne);
        for &r in &inner_filters {
            // A filter that is a conjunction of comparisons (`a and b`, a range `lo <= x <= hi`)
            // whose intermediate values nothing else reads is evaluated as its comparisons, one
            // after another over the points still kept. (Only comparisons: they are 0 or 1, never
            // NaN, so `and` of them is their conjunction; `and` of other values is not.)
            let mut leaves = Vec::new();
            let mut used = Vec::new();
            let mut stack = vec![r];
            let mut whole = readers[r] == 0;
            while let (true, Some(x)) = (whole, stack.pop()) {
                let only_here = x == r || readers[x] == 1;
                match producer(x).map(|k| (k, &spec.ops[k])) {
                    Some((k, OpSpec::Bin { op: BinOp::And, a, b, .. })) if only_here => {
                        used.push(k);
                        stack.push(*b); // (a's comparisons first)
                        stack.push(*a);
                    }
                    Some((k, OpSpec::Bin { op, a, b, .. })) if only_here && comparison(op) => {
                        used.push(k);
                        leaves.push((*op, *a, *b));
                    }
                    _ => whole = false,
                }
            }
            if whole {
                fused.extend(leaves);
                for k in used {
                    fused_ops[k] = true;
                }
            } else {
                plain_filters.push(r);
            }
        }
        let inner_filters = plain_filters;
        let inner_ops: Vec<usize> = inner_ops.into_iter().filter(|&k| !fused_ops[k]).collect();
        let inner_rank = inner_ops.iter().copied().filter(|&k| rank_mask[k]).collect();
        let inner_first = inner_ops.iter().copied().filter(|&k| filter_mask[k] && !rank_mask[k]).collect();
        let inner_rest: Vec<usize> = inner_ops.iter().copied().filter(|&k| !first_mask[k]).collect();
        let rest_gather = {
            let written: std::collections::HashSet<usize> =
                inner_rest.iter().flat_map(|&k| spec.ops[k].outputs()).collect();
            let mut slots: Vec<usize> = inner_rest
                .iter()
                .flat_map(|&k| spec.ops[k].inputs())
                .chain(spec.outputs.iter().map(|o| o.reg))
                .filter(|r| !written.contains(r) && slot[*r] != usize::MAX)
                .map(|r| slot[r])
                .collect();
            slots.sort_unstable();
            slots.dedup();
            slots
        };
        let deferred: Vec<Vec<usize>> =
            outer_ops.iter().map(|ops| ops.iter().copied().filter(|&k| !first_mask[k]).collect()).collect();
        let outer_ops: Vec<Vec<usize>> =
            outer_ops.iter().map(|ops| ops.iter().copied().filter(|&k| first_mask[k]).collect()).collect();
        let total = lens.iter().try_fold(1u64, |acc, &l| acc.checked_mul(l as u64)).ok_or("too many points")?;
        let mut live = vec![false; nreg];
        for r in spec.ops.iter().enumerate().filter(|&(k, _)| run_mask[k]).flat_map(|(_, op)| op.inputs())
            .chain(spec.filters.iter().copied())
            .chain(spec.outputs.iter().map(|o| o.reg)).chain(spec.ranked.iter().copied()) {
            live[r] = true;
        }
        for k in checks_only {
            if let OpSpec::Model { stage, .. } = &mut spec.ops[k] {
                *stage = Stage::StepCheck;
            }
        }
        Ok(Program {
            spec,
            lens,
            n_outer,
            inner_len,
            inner_strides,
            slot,
            n_slots,
            outer_ops,
            deferred,
            outer_filters,
            inner_rank,
            inner_first,
            inner_rest,
            rest_gather,
            inner_filters,
            fused,
            total,
            live,
        })
    }

    /// The same program scheduled so that the registers of the output columns `ranked` are
    /// computed before anything else (a reduction ranks by them). No re-parsing: the plan it was
    /// built from, already expanded, is scheduled again.
    pub fn ranked(&self, columns: &[usize]) -> Result<Program, String> {
        let mut spec = self.spec.clone();
        spec.ranked = columns.iter().map(|&c| spec.outputs[c].reg).collect();
        for op in spec.ops.iter_mut() {  // (a ranking may read a step's columns: decided again)
            if let OpSpec::Model { stage: stage @ Stage::StepCheck, .. } = op {
                *stage = Stage::Step;
            }
        }
        Program::new(spec)
    }

    pub fn from_json(text: &str) -> Result<Program, String> {
        let spec: PlanSpec = serde_json::from_str(text).map_err(|e| format!("bad plan: {e}"))?;
        Program::new(spec)
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    pub fn outputs(&self) -> &[OutputSpec] {
        &self.spec.outputs
    }

    /// Evaluate points [start, end), appending the kept ones to `out`. Returns the number kept.
    pub fn run(&self, start: u64, end: u64, out: &mut dyn Sink) -> Result<usize, PointError> {
        self.run_until(start, end, out, &AtomicBool::new(false))
    }

    /// `run`, stopping between blocks once `stop` is set (an interrupted run: `PointError::STOPPED`).
    pub fn run_until(&self, start: u64, end: u64, out: &mut dyn Sink, stop: &AtomicBool) -> Result<usize, PointError> {
        let mut w = Worker::new(self, stop);
        w.run(start, end.min(self.total), out)
    }
}

