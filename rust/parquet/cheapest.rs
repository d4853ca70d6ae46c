//! The sweep summary's cheapest answers, kept while a part is written: per distinct answer (the
//! values of the grouping columns) its best row — lowest key, then the tie columns, ascending, a
//! missing value last, the earliest row on a full tie — for the `shown` best answers. Python shows
//! them (costspec.runner._Cheapest merges the parts'). An answer pushed out by `shown` better ones
//! can never come back with the rows it had, so only `shown` answers are kept.

/// A row's place in the order: key, then the tie columns (NaN: missing, after every value).
fn rank(v: &[f64]) -> impl Iterator<Item = f64> + '_ {
    v.iter().map(|&x| if x.is_nan() { f64::INFINITY } else { x })
}

fn better(a: &[f64], b: &[f64]) -> bool {
    for (x, y) in rank(a).zip(rank(b)) {
        match x.total_cmp(&y) {
            std::cmp::Ordering::Less => return true,
            std::cmp::Ordering::Greater => return false,
            std::cmp::Ordering::Equal => {}
        }
    }
    false // (a full tie: the earlier row stays)
}

pub struct Cheapest {
    /// Column indices: the key, then the tie columns.
    order: Vec<usize>,
    per: Vec<usize>,
    shown: usize,
    /// (group, order values, the row's values as bits), at most `shown`.
    best: Vec<(Vec<u64>, Vec<f64>, Vec<u64>)>,
}

impl Cheapest {
    pub fn new(key: usize, ties: Vec<usize>, per: Vec<usize>, shown: usize) -> Cheapest {
        let mut order = vec![key];
        order.extend(ties);
        Cheapest { order, per, shown: shown.max(1), best: Vec::new() }
    }

    /// Rows `0..n` of the columns (each a value per row as f64, through `get(column, row)`).
    pub fn add(&mut self, n: usize, ncols: usize, get: impl Fn(usize, usize) -> f64, bits: impl Fn(usize, usize) -> u64) {
        let mut ord = vec![0.0; self.order.len()];
        let mut worst: Option<f64> = self.worst_key();
        for r in 0..n {
            let key = get(self.order[0], r);
            if key.is_nan() || worst.is_some_and(|w| key > w) {
                continue; // (no value, or above the shown answers' worst: the common case)
            }
            for (o, &c) in ord.iter_mut().zip(&self.order) {
                *o = get(c, r);
            }
            let group: Vec<u64> = self.per.iter().map(|&c| canonical(bits(c, r), get(c, r))).collect();
            let row = || (0..ncols).map(|c| bits(c, r)).collect::<Vec<u64>>();
            if let Some(e) = self.best.iter_mut().find(|e| e.0 == group) {
                if better(&ord, &e.1) {
                    e.1.copy_from_slice(&ord);
                    e.2 = row();
                }
            } else if self.best.len() < self.shown {
                self.best.push((group, ord.clone(), row()));
            } else {
                let w = (0..self.best.len()).fold(0, |w, i| if better(&self.best[w].1, &self.best[i].1) { i } else { w });
                if better(&ord, &self.best[w].1) {
                    self.best[w] = (group, ord.clone(), row());
                }
            }
            worst = self.worst_key();
        }
    }

    /// The highest key among the shown answers, once there are `shown` of them.
    fn worst_key(&self) -> Option<f64> {
        (self.best.len() == self.shown).then(|| self.best.iter().map(|e| e.1[0]).fold(f64::NEG_INFINITY, f64::max))
    }

    /// The kept rows (values as bits, one Vec per row), best first.
    pub fn rows(&self) -> Vec<Vec<u64>> {
        let mut b: Vec<&(Vec<u64>, Vec<f64>, Vec<u64>)> = self.best.iter().collect();
        b.sort_by(|x, y| if better(&x.1, &y.1) { std::cmp::Ordering::Less } else if better(&y.1, &x.1) {
            std::cmp::Ordering::Greater } else { std::cmp::Ordering::Equal });
        b.into_iter().map(|e| e.2.clone()).collect()
    }
}

/// A grouping value as a group: no value (any NaN) one group.
fn canonical(bits: u64, v: f64) -> u64 {
    if v.is_nan() {
        f64::NAN.to_bits()
    } else {
        bits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn best_per_group_with_ties() {
        // columns: key, tie, group
        let rows = [
            [5.0, 2.0, 0.0],
            [3.0, 9.0, 1.0],
            [3.0, 1.0, 1.0], // better tie for group 1
            [3.0, 1.0, 1.0], // full tie: the earlier stays
            [1.0, f64::NAN, 2.0],
            [1.0, 4.0, 2.0], // a value beats a missing one
            [f64::NAN, 0.0, 3.0], // no key: never
            [4.0, 0.0, f64::NAN],
        ];
        let mut c = Cheapest::new(0, vec![1], vec![2], 3);
        c.add(rows.len(), 3, |col, r| rows[r][col], |col, r| rows[r][col].to_bits());
        let got: Vec<Vec<f64>> = c.rows().iter().map(|r| r.iter().map(|&b| f64::from_bits(b)).collect()).collect();
        assert_eq!(got[0], vec![1.0, 4.0, 2.0]);
        assert_eq!(got[1], vec![3.0, 1.0, 1.0]);
        assert_eq!(got[2][..2], [4.0, 0.0]);
        assert!(got[2][2].is_nan());
        assert_eq!(got.len(), 3);
    }
}
