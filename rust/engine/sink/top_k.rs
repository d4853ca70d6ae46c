use super::*;

/// The k best points per group by one output column (smallest first; `maximise` for largest;
/// points without a value last), ties broken by point index, so the answer does not depend on how
/// the sweep was split. Memory holds k rows per group, whatever the number of points.
pub struct TopK {
    k: usize,
    key: usize,
    maximise: bool,
    per: Vec<usize>,
    groups: std::collections::BTreeMap<Vec<i64>, std::collections::BinaryHeap<Candidate>>,
}


impl TopK {
    pub fn new(k: usize, key: usize, maximise: bool, per: Vec<usize>) -> TopK {
        TopK { k, key, maximise, per, groups: Default::default() }
    }

    fn offer(&mut self, group: Vec<i64>, c: Candidate) {
        let heap = self.groups.entry(group).or_default();
        if heap.len() < self.k {
            heap.push(c);
        } else if heap.peek().is_some_and(|worst| c < *worst) {
            heap.pop();
            heap.push(c);
        }
    }

    /// Fold another region's answer in (any order gives the same result).
    pub fn merge(&mut self, other: TopK) {
        for (g, heap) in other.groups {
            for c in heap {
                self.offer(g.clone(), c);
            }
        }
    }

    /// The rows, by group, then rank.
    pub fn finish(self) -> Vec<Candidate> {
        self.groups.into_values().flat_map(|h| h.into_sorted_vec()).collect()
    }
}

impl Sink for TopK {
    fn emit(&mut self, kept: &[u32], _all: bool, columns: &[Source<'_>], index0: u64) {
        self.take(kept.iter().map(|&j| (j as usize, index0 + j as u64)), columns);
    }

    fn emit_compact(&mut self, at: &[u32], columns: &[Source<'_>], index0: u64) {
        self.take(at.iter().enumerate().map(|(q, &j)| (q, index0 + j as u64)), columns);
    }

    fn prune(&self, columns: &[Source<'_>], n: usize, index0: u64, cand: &mut Vec<u32>) {
        let group = match fixed_group(&self.per, columns) {
            Some(g) => g,
            None => return cand.extend(0..n as u32),
        };
        let Some((bk, bi)) = self.bar(&group) else { return cand.extend(0..n as u32) };
        let maximise = self.maximise;
        let beats = |key: f64, index: u64| key.total_cmp(&bk).then(index.cmp(&bi)).is_lt();
        match columns[self.key] {
            Source::Scalar(v) => {
                let key = rank_value(v, maximise);
                if key > bk {
                    return;
                }
                // One key for the block: positions before the bar's index, or all if better.
                let m = if key < bk { n as u64 } else { bi.saturating_sub(index0).min(n as u64) };
                cand.extend(0..m as u32);
            }
            Source::Vector(v) => {
                // Before the bar's index a point beats it with a key at most the bar's, after it
                // only with a smaller one (branch-free over chunks: most blocks keep few points).
                // Comparisons as floats, so ±0.0 are equal: a superset of total_cmp's answer (a
                // +0.0 key before a -0.0 bar), which `emit` decides exactly.
                let m = bi.saturating_sub(index0).min(n as u64) as usize;
                let _ = beats;
                crate::engine::kernels::keep_where(cand, &v[..m], |x| rank_value(x, maximise) <= bk);
                crate::engine::kernels::keep_where_from(cand, &v[m..n], m as u32, |x| {
                    let k = rank_value(x, maximise);
                    k < bk || (k == bk && k.to_bits() != bk.to_bits())
                });
            }
        }
    }
}


impl TopK {
    /// The (key, index) a point must beat to enter a full group, if the group is full.
    fn bar(&self, group: &[i64]) -> Option<(f64, u64)> {
        self.groups.get(group).filter(|h| h.len() >= self.k).and_then(|h| h.peek()).map(|w| (w.key, w.index))
    }
}

impl TopK {
    /// Offer the rows (column position, point index) of a block.
    fn take(&mut self, rows: impl Iterator<Item = (usize, u64)>, columns: &[Source<'_>]) {
        // Groups are usually outer axes (the GPU), the same for the whole block: look the group up
        // once and skip every point that cannot beat its current k-th best.
        let fixed = fixed_group(&self.per, columns);
        let fixed_group = fixed.is_some();
        let per = self.per.clone();
        let group_at = |j: usize| -> Vec<i64> { per.iter().map(|&c| group_key(columns[c].at(j))).collect() };
        let mut group = fixed.unwrap_or_default();
        let mut bar = if fixed_group { self.bar(&group) } else { None };
        for (j, index) in rows {
            let key = rank_value(columns[self.key].at(j), self.maximise);
            if !fixed_group {
                group = group_at(j);
                bar = self.bar(&group);
            }
            if let Some((bk, bi)) = bar {
                if key.total_cmp(&bk).then(index.cmp(&bi)).is_ge() {
                    continue;
                }
            }
            let row = columns.iter().map(|c| c.at(j)).collect();
            self.offer(group.clone(), Candidate { key, index, row });
            if fixed_group {
                bar = self.bar(&group);
            }
        }
    }

}
