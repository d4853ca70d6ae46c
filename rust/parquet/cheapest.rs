//! The sweep summary's cheapest answers, kept while a part is written: per distinct answer (the
//! values of the grouping columns) its best row — lowest key, then the tie columns, ascending, a
//! missing value last, the earliest row on a full tie — for the `shown` best answers. Python shows
//! them (costspec.runner._Cheapest merges the parts'). An answer pushed out by `shown` better ones
//! can never come back with the rows it had, so only `shown` answers are kept.

/// A row's place in the order: key, then the tie columns; a missing value (NaN) after every value,
/// infinity included; -0 and 0 equal (as Arrow's sort, which ranks the other outputs, has them).
fn rank(v: &[f64]) -> impl Iterator<Item = (bool, f64)> + '_ {
    v.iter().map(|&x| (x.is_nan(), if x.is_nan() { 0.0 } else { x }))
}

fn better(a: &[f64], b: &[f64]) -> bool {
    for (x, y) in rank(a).zip(rank(b)) {
        if x < y {
            return true;
        }
        if x > y {
            return false;
        }
    }
    false // (a full tie: the earlier row stays)
}

/// A column's values for `Cheapest::add`.
#[derive(Clone, Copy)]
pub enum View<'a> {
    Wide(&'a [u64]),
    Narrow(&'a [i32]),
}

impl View<'_> {
    /// How many of the `most` values from row r equal row r's.
    fn run_len(&self, r: usize, most: usize) -> usize {
        match self {
            View::Wide(v) => super::run_len(&v[r..r + most], v[r]),
            View::Narrow(v) => v[r..r + most].iter().position(|&y| y != v[r]).unwrap_or(most),
        }
    }
}

pub struct Cheapest {
    /// Column indices: the key, then the tie columns.
    order: Vec<usize>,
    per: Vec<usize>,
    shown: usize,
    /// (group, order values, the row's values as bits, its row number), at most `shown`.
    best: Vec<(Vec<u64>, Vec<f64>, Vec<u64>, u64)>,
    /// Rows seen before this call (row numbers: a full tie goes to the earlier row).
    seen: u64,
}

impl Cheapest {
    pub fn new(key: usize, ties: Vec<usize>, per: Vec<usize>, shown: usize) -> Cheapest {
        let mut order = vec![key];
        order.extend(ties);
        Cheapest { order, per, shown: shown.max(1), best: Vec::new(), seen: 0 }
    }

    /// Rows `0..n` of the columns: `view(c)` is column c's values (bits; categories as i32),
    /// `get(c, r)` a value as f64 (NaN: no value), `bits(c, r)` as bits. The rows are taken in
    /// segments where the grouping columns do not change; a segment counts only by its lowest key
    /// (vectorised), and only its rows at that key are looked at one by one.
    pub fn add<'v>(
        &mut self,
        n: usize,
        ncols: usize,
        view: impl Fn(usize) -> View<'v>,
        get: impl Fn(usize, usize) -> f64,
        bits: impl Fn(usize, usize) -> u64,
    ) {
        let key = match view(self.order[0]) {
            View::Wide(k) => k,
            View::Narrow(_) => return, // (a category is no key)
        };
        let per: Vec<View<'v>> = self.per.iter().map(|&c| view(c)).collect();
        let mut r = 0;
        while r < n {
            let end = per.iter().fold(n, |e, v| e.min(r + v.run_len(r, e - r)));
            let lowest = key[r..end].iter().map(|&b| f64::from_bits(b)).fold(f64::INFINITY, f64::min);
            let skip = !lowest.is_finite() // (no value in the segment; an infinite cost is never one)
                || self.worst_key().is_some_and(|w| lowest > w)
                || self.find(r, &get, &bits).is_some_and(|i| lowest > self.best[i].1[0]);
            if !skip {
                for q in r..end {
                    if f64::from_bits(key[q]) == lowest {
                        self.consider(q, ncols, &get, &bits);
                    }
                }
            }
            r = end;
        }
        self.seen += n as u64;
    }

    /// The kept answer of row r's group, if kept.
    fn find(&self, r: usize, get: &impl Fn(usize, usize) -> f64, bits: &impl Fn(usize, usize) -> u64) -> Option<usize> {
        let per = &self.per;
        self.best.iter().position(|e| per.iter().zip(&e.0).all(|(&c, &g)| canonical(bits(c, r), get(c, r)) == g))
    }

    /// Row r against the kept answers.
    fn consider(&mut self, r: usize, ncols: usize, get: &impl Fn(usize, usize) -> f64, bits: &impl Fn(usize, usize) -> u64) {
        let ord: Vec<f64> = self.order.iter().map(|&c| get(c, r)).collect();
        let row = || (0..ncols).map(|c| bits(c, r)).collect::<Vec<u64>>();
        let seq = self.seen + r as u64;
        match self.find(r, get, bits) {
            Some(i) => {
                if better(&ord, &self.best[i].1) {
                    self.best[i] = (self.best[i].0.clone(), ord, row(), seq);
                }
            }
            None => {
                let group = self.per.iter().map(|&c| canonical(bits(c, r), get(c, r))).collect::<Vec<u64>>();
                if self.best.len() < self.shown {
                    self.best.push((group, ord, row(), seq));
                } else {
                    // (the worst kept answer; of equally bad ones, the latest row)
                    let w = (0..self.best.len()).fold(0, |w, i| if first(&self.best[w], &self.best[i]) { i } else { w });
                    if better(&ord, &self.best[w].1) {
                        self.best[w] = (group, ord, row(), seq);
                    }
                }
            }
        }
    }

    /// The highest key among the shown answers, once there are `shown` of them.
    fn worst_key(&self) -> Option<f64> {
        (self.best.len() == self.shown).then(|| self.best.iter().map(|e| e.1[0]).fold(f64::NEG_INFINITY, f64::max))
    }

    /// The kept rows (values as bits, one Vec per row), best first (a full tie: the earlier row).
    pub fn rows(&self) -> Vec<Vec<u64>> {
        let mut b: Vec<&(Vec<u64>, Vec<f64>, Vec<u64>, u64)> = self.best.iter().collect();
        b.sort_by(|x, y| if first(x, y) { std::cmp::Ordering::Less } else { std::cmp::Ordering::Greater });
        b.into_iter().map(|e| e.2.clone()).collect()
    }
}

/// Whether kept answer `a` comes before `b`: better, or as good and from an earlier row.
fn first(a: &(Vec<u64>, Vec<f64>, Vec<u64>, u64), b: &(Vec<u64>, Vec<f64>, Vec<u64>, u64)) -> bool {
    better(&a.1, &b.1) || (!better(&b.1, &a.1) && a.3 < b.3)
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
    fn order_has_minus_zero_equal_to_zero_and_missing_after_infinity() {
        assert!(!better(&[-0.0], &[0.0]) && !better(&[0.0], &[-0.0]));
        assert!(better(&[f64::INFINITY], &[f64::NAN]) && !better(&[f64::NAN], &[f64::INFINITY]));
        assert!(better(&[1.0, 2.0], &[1.0, f64::NAN]) && better(&[-1.0], &[-0.0]));
    }

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
        let cols: Vec<Vec<u64>> = (0..3).map(|c| rows.iter().map(|r| r[c].to_bits()).collect()).collect();
        for split in [1, 3, 8] {
            // (the same answer whether the rows come at once or in pieces)
            let mut c = Cheapest::new(0, vec![1], vec![2], 3);
            let mut at = 0;
            while at < rows.len() {
                let n = split.min(rows.len() - at);
                c.add(n, 3, |col| View::Wide(&cols[col][at..at + n]), |col, r| rows[at + r][col],
                      |col, r| rows[at + r][col].to_bits());
                at += n;
            }
            check(&c);
        }
    }

    #[test]
    fn full_ties_go_to_the_earlier_rows() {
        // Six answers with the same key and ties, then a cheaper one: the first four tied answers stay.
        let rows: Vec<[f64; 3]> = (0..6).map(|g| [2.0, 1.0, g as f64]).chain([[1.0, 1.0, 9.0]]).collect();
        let cols: Vec<Vec<u64>> = (0..3).map(|c| rows.iter().map(|r| r[c].to_bits()).collect()).collect();
        let mut c = Cheapest::new(0, vec![1], vec![2], 5);
        c.add(rows.len(), 3, |col| View::Wide(&cols[col]), |col, r| rows[r][col], |col, r| rows[r][col].to_bits());
        let groups: Vec<f64> = c.rows().iter().map(|r| f64::from_bits(r[2])).collect();
        assert_eq!(groups, vec![9.0, 0.0, 1.0, 2.0, 3.0]);
    }

    fn check(c: &Cheapest) {
        let got: Vec<Vec<f64>> = c.rows().iter().map(|r| r.iter().map(|&b| f64::from_bits(b)).collect()).collect();
        assert_eq!(got[0], vec![1.0, 4.0, 2.0]);
        assert_eq!(got[1], vec![3.0, 1.0, 1.0]);
        assert_eq!(got[2][..2], [4.0, 0.0]);
        assert!(got[2][2].is_nan());
        assert_eq!(got.len(), 3);
    }
}
