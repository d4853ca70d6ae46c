use super::*;

/// The non-dominated points per group over several output columns (each minimised; negate a
/// column's values to maximise it; a missing value counts as the worst, see `rank_value`): a
/// point stays unless another is at least as good in every column and better in one. Points with equal values all stay. The set does not depend on the
/// order points arrive in, so regions merge into the same answer for any split. With two columns
/// (the usual cost/time front) each group's front is kept sorted by the first column, so the
/// second falls along it and a point is tested against one neighbour (binary search).
pub struct Pareto {
    keys: Vec<(usize, bool)>,
    per: Vec<usize>,
    fronts: std::collections::BTreeMap<Vec<i64>, Vec<FrontPoint>>,
}

/// A point of a front, with every point of equal values (by point index).
#[derive(Debug)]
pub(crate) struct FrontPoint {
    key: Vec<f64>,
    members: Vec<(u64, Vec<f64>)>,
}

pub(crate) fn dominates(a: &[f64], b: &[f64]) -> bool {
    a.iter().zip(b).all(|(x, y)| x <= y) && a.iter().zip(b).any(|(x, y)| x < y)
}

/// Whether some point of `front` dominates `key`.
pub(crate) fn dominated(front: &[FrontPoint], key: &[f64]) -> bool {
    if key.len() == 2 {
        // Sorted by the first column; along a non-dominated set the second falls, so the last
        // point with first ≤ key's has the least second of all that could dominate.
        let p = front.partition_point(|f| f.key[0] <= key[0]);
        p > 0 && dominates(&front[p - 1].key, key)
    } else {
        front.iter().any(|f| dominates(&f.key, key))
    }
}

impl Pareto {
    pub fn new(keys: Vec<(usize, bool)>, per: Vec<usize>) -> Pareto {
        Pareto { keys, per, fronts: Default::default() }
    }

    pub(crate) fn offer(&mut self, group: Vec<i64>, key: Vec<f64>, index: u64, row: impl FnOnce() -> Vec<f64>) {
        let front = self.fronts.entry(group).or_default();
        if dominated(front, &key) {
            return;
        }
        // An equal point already there: this one joins it (it dominates nothing either).
        let equal = if key.len() == 2 {
            let q = front.partition_point(|f| f.key[0] < key[0]);
            front.get(q).is_some_and(|f| f.key == key).then_some(q)
        } else {
            front.iter().position(|f| f.key == key)
        };
        if let Some(q) = equal {
            let members = &mut front[q].members;
            let at = members.partition_point(|(i, _)| *i < index);
            members.insert(at, (index, row()));
            return;
        }
        let point = FrontPoint { members: vec![(index, row())], key };
        if point.key.len() == 2 {
            // The points it dominates have first ≥ x and second ≥ y: a run starting at the first
            // point with first ≥ x, as seconds fall along the front.
            let (x, y) = (point.key[0], point.key[1]);
            let q = front.partition_point(|f| f.key[0] < x);
            let mut r = q;
            while r < front.len() && front[r].key[1] >= y {
                r += 1;
            }
            front.splice(q..r, std::iter::once(point));
        } else {
            front.retain(|f| !dominates(&point.key, &f.key));
            front.push(point);
        }
    }

    pub fn merge(&mut self, other: Pareto) {
        for (g, front) in other.fronts {
            for f in front {
                for (index, row) in f.members {
                    self.offer(g.clone(), f.key.clone(), index, || row);
                }
            }
        }
    }

    /// The rows by group, then by the first column, then by point index.
    pub fn finish(self) -> Vec<Candidate> {
        let mut out = Vec::new();
        for (_, front) in self.fronts {
            let mut rows: Vec<Candidate> = front
                .into_iter()
                .flat_map(|f| {
                    let k = f.key[0];
                    f.members.into_iter().map(move |(index, row)| Candidate { key: k, index, row })
                })
                .collect();
            rows.sort_by(|a, b| a.key.total_cmp(&b.key).then(a.index.cmp(&b.index)));
            out.extend(rows);
        }
        out
    }

    /// Offer the row at column position `j`, point `index`.
    fn take(&mut self, j: usize, index: u64, columns: &[Source<'_>]) {
        let key = self.key_at(columns, j);
        let group: Vec<i64> = self.per.iter().map(|&c| group_key(columns[c].at(j))).collect();
        self.offer(group, key, index, || columns.iter().map(|c| c.at(j)).collect());
    }

    fn key_at(&self, columns: &[Source<'_>], j: usize) -> Vec<f64> {
        self.keys.iter().map(|&(c, max)| rank_value(columns[c].at(j), max)).collect()
    }
}

impl Sink for Pareto {
    fn emit(&mut self, kept: &[u32], _all: bool, columns: &[Source<'_>], index0: u64) {
        for &j in kept {
            self.take(j as usize, index0 + j as u64, columns);
        }
    }

    fn emit_compact(&mut self, at: &[u32], columns: &[Source<'_>], index0: u64) {
        for (q, &j) in at.iter().enumerate() {
            self.take(q, index0 + j as u64, columns);
        }
    }

    fn prune(&self, columns: &[Source<'_>], n: usize, _index0: u64, cand: &mut Vec<u32>) {
        let Some(front) = fixed_group(&self.per, columns).and_then(|g| self.fronts.get(&g)) else {
            return cand.extend(0..n as u32);
        };
        // The block's ideal point (the best of each column): if a front point dominates it, it
        // dominates every point of the block.
        let mut ideal = Vec::with_capacity(self.keys.len());
        for &(c, max) in &self.keys {
            let best = match columns[c] {
                Source::Scalar(v) => rank_value(v, max),
                Source::Vector(v) => v[..n].iter().fold(f64::INFINITY, |m, &x| m.min(rank_value(x, max))),
            };
            ideal.push(best);
        }
        if dominated(front, &ideal) {
            return;
        }
        let mut key = vec![0.0; self.keys.len()];
        cand.extend((0..n as u32).filter(|&j| {
            for (q, &(c, max)) in self.keys.iter().enumerate() {
                key[q] = rank_value(columns[c].at(j as usize), max);
            }
            !dominated(front, &key)
        }));
    }
}

