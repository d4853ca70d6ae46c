//! The block loop: walking one range of the product, evaluating blocks, feeding a sink.

use super::*;

pub(crate) struct Worker<'a> {
    p: &'a Program,
    stop: &'a AtomicBool,
    scalars: Vec<f64>,
    vectors: Vec<Vec<f64>>,
    idx: Vec<usize>,
    /// Lowest level whose deferred ops are stale.
    stale: Option<usize>,
    /// The outer combination `idx` holds.
    at: u64,
    /// Inner positions whose axis values the vector registers hold.
    loaded: Option<(usize, usize)>,
    kept: Vec<u32>,
    /// Positions a reduction has not ruled out.
    cand: Vec<u32>,
    ins: Vec<f64>,
    outs: Vec<f64>,
    /// A direct-mapped memo of a stage's outputs by its one varying input, for one op at a time:
    /// an entry is valid in the generation that wrote it.
    memo_keys: Vec<(u64, u32)>,
    memo_vals: Vec<f64>,
    memo_gen: u32,
    /// Per op (by its inputs' address): the fixed inputs of its last evaluation and their
    /// generation, so that the memo carries over blocks and outer combinations that leave them.
    memo_last: Vec<(usize, Vec<u64>, u32)>,
}

const MEMO: usize = 1024;

impl<'a> Worker<'a> {
    pub(crate) fn new(p: &'a Program, stop: &'a AtomicBool) -> Worker<'a> {
        Worker {
            p,
            stop,
            scalars: vec![f64::NAN; p.spec.registers],
            vectors: vec![vec![0.0; BLOCK.min(p.inner_len)]; p.n_slots],
            idx: vec![0; p.n_outer],
            stale: None,
            at: 0,
            loaded: None,
            kept: Vec::with_capacity(BLOCK),
            cand: Vec::with_capacity(BLOCK),
            ins: vec![0.0; MAX_STAGE_INPUTS],
            outs: vec![0.0; MAX_STAGE_OUTPUTS],
            memo_keys: vec![(0, 0); MEMO],
            memo_vals: vec![0.0; MEMO * MAX_STAGE_OUTPUTS],
            memo_gen: 0,
            memo_last: Vec::new(),
        }
    }

    fn err(&self, index: u64, message: String) -> PointError {
        PointError { index, message }
    }

    /// A stage's output columns, taken from their slots while it ran, back in them; then its
    /// failure at block position j, if any, as the point's error.
    fn put_back(&mut self, outs: Vec<Vec<f64>>, o: &[usize], failure: Option<(usize, String)>, index0: u64)
                -> Result<(), PointError> {
        for (col, &r) in outs.into_iter().zip(o) {
            self.vectors[self.p.slot[r]] = col;
        }
        match failure {
            Some((j, m)) => Err(self.err(index0 + j as u64, m)),
            None => Ok(()),
        }
    }

    /// Run the ops of one outer level (0: constants, 1 + l: outer axis l) as scalars.
    fn outer_level(&mut self, lvl: usize, index: u64) -> Result<bool, PointError> {
        for &k in &self.p.outer_ops[lvl] {
            self.scalar_op(k).map_err(|m| self.err(index, m))?;
        }
        Ok(self.p.outer_filters[lvl].iter().all(|&r| {
            let v = self.scalars[r];
            v != 0.0 && !v.is_nan()
        }))
    }

    fn scalar_op(&mut self, k: usize) -> Result<(), String> {
        let s = &mut self.scalars;
        match &self.p.spec.ops[k] {
            OpSpec::Bin { op, a, b, o, msg } => {
                let (x, y) = (s[*a], s[*b]);
                s[*o] = if let Some(m) = msg {
                    let r = bin_checked(*op, x, y);
                    if let Some(why) = checked(Some(*op), None, x, y, r) {
                        return Err(format!("{why} in {}", self.p.spec.messages[*m]));
                    }
                    r
                } else {
                    bin(*op, x, y)
                };
            }
            OpSpec::Un { op, a, o, msg } => {
                let x = s[*a];
                let r = un(*op, x);
                if let Some(m) = msg {
                    if let Some(why) = checked(None, Some(*op), x, 0.0, r) {
                        return Err(format!("{why} in {}", self.p.spec.messages[*m]));
                    }
                }
                s[*o] = r;
            }
            OpSpec::Lut { t, a, b, o } => s[*o] = lookup(&self.p.spec.tables[*t], s[*a], s[*b]),
            OpSpec::Check { a, o, lo, msg } => {
                if s[*a] < *lo {
                    return Err(self.p.spec.messages[*msg].clone());
                }
                s[*o] = s[*a];
            }
            OpSpec::Model { stage, i, o, space } => {
                let n_in = i.len();
                for (q, &r) in i.iter().enumerate() {
                    self.ins[q] = s[r];
                }
                stage_eval(*stage, space.as_deref(), &self.ins[..n_in], &mut self.outs[..o.len()])?;
                for (q, &r) in o.iter().enumerate() {
                    s[r] = self.outs[q];
                }
            }
        }
        Ok(())
    }

    fn set_axis(&mut self, axis: usize, i: usize) {
        for c in &self.p.spec.axes[axis].columns {
            self.scalars[c.reg] = c.values[i];
        }
    }

    /// Decode outer combination `o` and recompute from the outermost level that changed.
    fn goto(&mut self, o: u64, first: bool, index: u64) -> Result<Option<usize>, PointError> {
        let mut from = self.p.n_outer;
        if !first && o == self.at + 1 {
            // The next combination: an odometer step, no division.
            for l in (0..self.p.n_outer).rev() {
                from = l;
                self.idx[l] += 1;
                if self.idx[l] < self.p.lens[l] {
                    break;
                }
                self.idx[l] = 0;
            }
        } else {
            let mut rest = o;
            for l in (0..self.p.n_outer).rev() {
                let len = self.p.lens[l] as u64;
                let i = (rest % len) as usize;
                rest /= len;
                if first || i != self.idx[l] {
                    from = l;
                }
                self.idx[l] = i;
            }
        }
        self.at = o;
        let from = if first { 0 } else { from };
        let lvl = if first { 0 } else { from + 1 };
        self.stale = Some(self.stale.map_or(lvl, |s| s.min(lvl)));
        if first && !self.outer_level(0, index)? {
            return Ok(Some(0));
        }
        for l in from..self.p.n_outer {
            self.set_axis(l, self.idx[l]);
            if !self.outer_level(l + 1, index)? {
                return Ok(Some(l + 1));
            }
        }
        Ok(None)
    }

    pub(crate) fn run(&mut self, start: u64, end: u64, out: &mut dyn Sink) -> Result<usize, PointError> {
        if start >= end {
            return Ok(0);
        }
        for &(r, v) in &self.p.spec.consts {
            self.scalars[r] = v;
        }
        let inner = self.p.inner_len as u64;
        let mut o = start / inner;
        let last = (end - 1) / inner;
        let mut kept_total = 0;
        let mut first = true;
        while o <= last {
            if self.stop.load(Ordering::Relaxed) {
                return Err(self.err(PointError::STOPPED, "interrupted".into()));
            }
            let combo_start = o * inner;
            let failed = self.goto(o, first, combo_start.max(start))?;
            first = false;
            if let Some(lvl) = failed {
                if lvl == 0 {
                    return Ok(0); // a constant filter fails: nothing is kept anywhere
                }
                // Skip every combination sharing the failed level's prefix.
                let span: u64 = self.p.lens[lvl..self.p.n_outer].iter().map(|&l| l as u64).product();
                o = (o / span + 1) * span;
                continue;
            }
            let p0 = start.saturating_sub(combo_start) as usize;
            let p1 = (end - combo_start).min(inner) as usize;
            let mut a = p0;
            while a < p1 {
                if self.stop.load(Ordering::Relaxed) {
                    return Err(self.err(PointError::STOPPED, "interrupted".into()));
                }
                let b = (a + BLOCK).min(p1);
                kept_total += self.block(combo_start, a, b, out)?;
                a = b;
            }
            o += 1;
        }
        Ok(kept_total)
    }

    /// Evaluate inner positions [a, b) of the combination starting at point `base`.
    /// (A block whose filters drop points runs the rest over its kept points alone.)
    fn block(&mut self, base: u64, a: usize, b: usize, out: &mut dyn Sink) -> Result<usize, PointError> {
        let n = b - a;
        let p = self.p;
        // Load the inner axes' columns for positions a..b (unchanged since the last block when it
        // covered the same positions: axis registers are never written by operations).
        let reload = self.loaded != Some((a, b));
        self.loaded = Some((a, b));
        for (j, stride) in p.inner_strides.iter().enumerate().filter(|_| reload) {
            let axis = p.n_outer + j;
            let len = p.lens[axis];
            for c in &p.spec.axes[axis].columns {
                let v = &mut self.vectors[p.slot[c.reg]];
                if *stride == 1 && p.inner_strides.len() == 1 {
                    v[..n].copy_from_slice(&c.values[a..b]);
                } else {
                    for (q, dst) in v[..n].iter_mut().enumerate() {
                        *dst = c.values[((a + q) / stride) % len];
                    }
                }
            }
        }
        for q in 0..p.inner_rank.len() {
            self.vector_op(p.inner_rank[q], n, base + a as u64)?;
        }
        // A reduction rules out, on the ranked columns alone, the points that cannot enter it.
        let pruned = !p.spec.ranked.is_empty() && {
            let mut cand = std::mem::take(&mut self.cand);
            cand.clear();
            out.prune(&self.sources(n), n, base + a as u64, &mut cand);
            self.cand = cand;
            self.cand.len() < n
        };
        if pruned && self.cand.is_empty() {
            return Ok(0);
        }
        for q in 0..p.inner_first.len() {
            self.vector_op(p.inner_first[q], n, base + a as u64)?;
        }
        self.kept.clear();
        let src = |r: usize| match p.slot[r] {
            usize::MAX => Source::Scalar(self.scalars[r]),
            s => Source::Vector(&self.vectors[s][..n]),
        };
        // The fused comparisons first, each over the points the ones before kept (the first one
        // branch-free over the block), then any other filter over what is left.
        for (q, &(op, a, b)) in p.fused.iter().enumerate() {
            let (x, y) = (src(a), src(b));
            macro_rules! keep {
                ($cmp:tt) => {
                    match (x, y, q) {
                        (Source::Vector(x), Source::Scalar(c), 0) => keep_where(&mut self.kept, x, |v| v $cmp c),
                        (x, y, 0) => self.kept.extend((0..n as u32).filter(|&j| x.at(j as usize) $cmp y.at(j as usize))),
                        (Source::Vector(x), Source::Scalar(c), _) => self.kept.retain(|&j| x[j as usize] $cmp c),
                        (x, y, _) => self.kept.retain(|&j| x.at(j as usize) $cmp y.at(j as usize)),
                    }
                };
            }
            match op {
                BinOp::Lt => keep!(<),
                BinOp::Le => keep!(<=),
                BinOp::Gt => keep!(>),
                BinOp::Ge => keep!(>=),
                BinOp::Eq => keep!(==),
                _ => keep!(!=),
            }
            if self.kept.is_empty() {
                break;
            }
        }
        if p.fused.is_empty() {
            self.kept.extend(0..n as u32);
        }
        for &r in &p.inner_filters {
            let v = &self.vectors[p.slot[r]][..n];
            self.kept.retain(|&j| v[j as usize] != 0.0 && !v[j as usize].is_nan());
        }
        if pruned {
            intersect(&mut self.kept, &self.cand);
        }
        if self.kept.is_empty() {
            return Ok(0);
        }
        if let Some(from) = self.stale.take() {
            for lvl in from..p.deferred.len() {
                for q in 0..p.deferred[lvl].len() {
                    let k = p.deferred[lvl][q];
                    self.scalar_op(k).map_err(|m| self.err(base + a as u64, m))?;
                }
            }
        }
        let kept = self.kept.len();
        // A block whose `where` drops points: what the rest reads is gathered at the kept
        // positions and the rest runs over those alone (the output columns of a 0.1% window were
        // computed for every point of its blocks), so a point the `where` drops is evaluated no
        // further than the `where` reads, whatever else its block keeps: an input the model
        // refuses there is no error. (A reduction's sink is told each row's point index.)
        if kept < n && !p.inner_rest.is_empty() {
            for &s in &p.rest_gather {
                let v = &mut self.vectors[s];
                for (q, &j) in self.kept.iter().enumerate() {
                    v[q] = v[j as usize];  // (kept is ascending: q <= j)
                }
            }
            self.loaded = None;  // (the inner axes' columns were overwritten)
            for q in 0..p.inner_rest.len() {
                if let Err(mut e) = self.vector_op(p.inner_rest[q], kept, base + a as u64) {
                    if let Some(j) = e.index.checked_sub(base + a as u64).filter(|&j| j < kept as u64) {
                        e.index = base + a as u64 + self.kept[j as usize] as u64;  // (the point's own index)
                    }
                    return Err(e);
                }
            }
            let sources = self.sources(kept);
            out.emit_compact(&self.kept, &sources, base + a as u64);
            return Ok(kept);
        }
        for q in 0..p.inner_rest.len() {
            self.vector_op(p.inner_rest[q], n, base + a as u64)?;
        }
        let all = kept == n;
        let sources = self.sources(n);
        out.emit(&self.kept, all, &sources, base + a as u64);
        Ok(kept)
    }

    /// Each output column's values over the block's first `n` positions.
    fn sources(&self, n: usize) -> Vec<Source<'_>> {
        let p = self.p;
        p.spec
            .outputs
            .iter()
            .map(|o| match p.slot[o.reg] {
                usize::MAX => Source::Scalar(self.scalars[o.reg]),
                s => Source::Vector(&self.vectors[s][..n]),
            })
            .collect()
    }

    fn vector_op(&mut self, k: usize, n: usize, index0: u64) -> Result<(), PointError> {
        let p = self.p;
        match &p.spec.ops[k] {
            OpSpec::Bin { op, a, b, o, msg } => {
                let mut out = std::mem::take(&mut self.vectors[p.slot[*o]]);
                let (sa, sb) = (p.slot[*a], p.slot[*b]);
                {
                    let x = if sa == usize::MAX { None } else { Some(&self.vectors[sa][..n]) };
                    let y = if sb == usize::MAX { None } else { Some(&self.vectors[sb][..n]) };
                    let (xs, ys) = (self.scalars[*a], self.scalars[*b]);
                    macro_rules! apply {
                        ($f:expr) => {
                            match (x, y) {
                                (Some(x), Some(y)) => {
                                    for ((d, &u), &v) in out[..n].iter_mut().zip(x).zip(y) {
                                        *d = $f(u, v);
                                    }
                                }
                                (Some(x), None) => {
                                    for (d, &u) in out[..n].iter_mut().zip(x) {
                                        *d = $f(u, ys);
                                    }
                                }
                                (None, Some(y)) => {
                                    for (d, &v) in out[..n].iter_mut().zip(y) {
                                        *d = $f(xs, v);
                                    }
                                }
                                (None, None) => out[..n].fill($f(xs, ys)),
                            }
                        };
                    }
                    // Monomorphised loops for the common arithmetic; the rest go through `bin`.
                    match op {
                        BinOp::Add => apply!(|u: f64, v: f64| u + v),
                        BinOp::Sub => apply!(|u: f64, v: f64| u - v),
                        BinOp::Mul => apply!(|u: f64, v: f64| u * v),
                        BinOp::Div => apply!(|u: f64, v: f64| u / v),
                        BinOp::Le => apply!(|u: f64, v: f64| if u <= v { 1.0 } else { 0.0 }),
                        BinOp::Lt => apply!(|u: f64, v: f64| if u < v { 1.0 } else { 0.0 }),
                        BinOp::Ge => apply!(|u: f64, v: f64| if u >= v { 1.0 } else { 0.0 }),
                        BinOp::Gt => apply!(|u: f64, v: f64| if u > v { 1.0 } else { 0.0 }),
                        other if msg.is_some() => {
                            let other = *other;
                            apply!(|u: f64, v: f64| bin_checked(other, u, v))
                        }
                        other => {
                            let other = *other;
                            apply!(|u: f64, v: f64| bin(other, u, v))
                        }
                    }
                    // A checked op: find a non-finite result whose operands had values (rare: a
                    // scan of the block, then a look at the operands only where it fails).
                    if let Some(&m) = msg.as_ref().filter(|_| !all_finite(&out[..n])) {
                        let at = |src: Option<&[f64]>, c: f64, j: usize| src.map_or(c, |v| v[j]);
                        for (j, &r) in out[..n].iter().enumerate() {
                            if r.is_finite() {
                                continue;
                            }
                            let (u, v) = (at(x, xs, j), at(y, ys, j));
                            if let Some(why) = checked(Some(*op), None, u, v, r) {
                                let message = format!("{why} in {}", p.spec.messages[m]);
                                self.vectors[p.slot[*o]] = out;
                                return Err(self.err(index0 + j as u64, message));
                            }
                        }
                    }
                }
                self.vectors[p.slot[*o]] = out;
            }
            OpSpec::Un { op, a, o, msg } => {
                let mut out = std::mem::take(&mut self.vectors[p.slot[*o]]);
                match p.slot[*a] {
                    usize::MAX => out[..n].fill(un(*op, self.scalars[*a])),
                    s => {
                        for (d, &u) in out[..n].iter_mut().zip(&self.vectors[s][..n]) {
                            *d = un(*op, u);
                        }
                    }
                }
                if let Some(&m) = msg.as_ref().filter(|_| !all_finite(&out[..n])) {
                    let src = p.slot[*a];
                    for (j, &r) in out[..n].iter().enumerate() {
                        if r.is_finite() {
                            continue;
                        }
                        let u = if src == usize::MAX { self.scalars[*a] } else { self.vectors[src][j] };
                        if let Some(why) = checked(None, Some(*op), u, 0.0, r) {
                            let message = format!("{why} in {}", p.spec.messages[m]);
                            self.vectors[p.slot[*o]] = out;
                            return Err(self.err(index0 + j as u64, message));
                        }
                    }
                }
                self.vectors[p.slot[*o]] = out;
            }
            OpSpec::Check { a, o, lo, msg } => {
                let mut out = std::mem::take(&mut self.vectors[p.slot[*o]]);
                match p.slot[*a] {
                    usize::MAX => out[..n].fill(self.scalars[*a]),
                    sa => out[..n].copy_from_slice(&self.vectors[sa][..n]),
                }
                // A branch-free minimum first (NaN passes, as `v < lo` is false for it); the
                // position only when something is below.
                let least = out[..n].iter().fold(f64::INFINITY, |m, &v| m.min(v));
                let bad = if least < *lo { out[..n].iter().position(|v| *v < *lo) } else { None };
                self.vectors[p.slot[*o]] = out;
                if let Some(j) = bad {
                    return Err(self.err(index0 + j as u64, p.spec.messages[*msg].clone()));
                }
            }
            OpSpec::Lut { t, a, b, o } => {
                let mut out = std::mem::take(&mut self.vectors[p.slot[*o]]);
                let table = &p.spec.tables[*t];
                for (j, d) in out[..n].iter_mut().enumerate() {
                    let x = self.read(*a, j);
                    let y = self.read(*b, j);
                    *d = lookup(table, x, y);
                }
                self.vectors[p.slot[*o]] = out;
            }
            OpSpec::Model { stage: Stage::Wall, i, o, .. } => {
                // The innermost loop of most sweeps (GPU count): a checked division.
                let (gh_reg, g_reg, out_reg) = (i[WallIn::gpu_hours as usize], i[WallIn::gpus as usize], o[WallOut::wall_clock_days as usize]);
                let mut out = std::mem::take(&mut self.vectors[p.slot[out_reg]]);
                let gh_scalar = self.scalars[gh_reg];
                let g_scalar = self.scalars[g_reg];
                let (sh, sg) = (p.slot[gh_reg], p.slot[g_reg]);
                let bad = {
                    let gh_v = (sh != usize::MAX).then(|| &self.vectors[sh][..n]);
                    let g_v = (sg != usize::MAX).then(|| &self.vectors[sg][..n]);
                    // whole and >= 1: (g + 2^52) - 2^52 rounds to an integer, vectorisable unlike trunc
                    let ok = match (gh_v, g_v) {
                        (Some(gh), Some(g)) => {
                            let mut ok = true;
                            for ((d, &h), &c) in out[..n].iter_mut().zip(gh).zip(g) {
                                *d = wall_clock_days(h, c);
                                ok &= whole(c);
                            }
                            ok
                        }
                        (None, Some(g)) => {
                            let mut ok = true;
                            for (d, &c) in out[..n].iter_mut().zip(g) {
                                *d = wall_clock_days(gh_scalar, c);
                                ok &= whole(c);
                            }
                            ok
                        }
                        (Some(gh), None) => {
                            for (d, &h) in out[..n].iter_mut().zip(gh) {
                                *d = wall_clock_days(h, g_scalar);
                            }
                            whole(g_scalar)
                        }
                        (None, None) => {
                            out[..n].fill(wall_clock_days(gh_scalar, g_scalar));
                            whole(g_scalar)
                        }
                    };
                    if ok {
                        None
                    } else {
                        (0..n).find(|&j| !whole(g_v.map_or(g_scalar, |v| v[j])))
                    }
                };
                self.vectors[p.slot[out_reg]] = out;
                if let Some(j) = bad {
                    let g = self.read(g_reg, j);
                    return Err(self.err(index0 + j as u64, format!("gpus: got {}, expected a whole number from 1 to 4.5e15", g.shown())));
                }
            }
            OpSpec::Model { stage: Stage::Money, i, o, .. }
                if i.iter().enumerate().all(|(q, &r)| q == MoneyIn::gpu_hours as usize || p.slot[r] == usize::MAX) =>
            {
                // Cost and energy per point when only the hours vary (the GPU count's goodput, say):
                // the stage's arithmetic as vector loops; its checks once (the fixed inputs) and, if
                // a result leaves the float range, point by point for the stage's own error.
                use {MoneyIn as I, MoneyOut as O};
                let mut ins = [0.0f64; MAX_STAGE_INPUTS];
                for (q, &r) in i.iter().enumerate() {
                    ins[q] = self.scalars[r];
                }
                let h_reg = i[I::gpu_hours as usize];
                let mut res = [0.0f64; MAX_STAGE_OUTPUTS];
                if n > 0 {
                    // (the fixed inputs' checks, on one hour: a point without hours skips them)
                    ins[I::gpu_hours as usize] = 1.0;
                    if let Err(m) = stage_eval(Stage::Money, None, &ins[..i.len()], &mut res[..o.len()]) {
                        let j = (0..n).find(|&j| !self.read(h_reg, j).is_nan());
                        if let Some(j) = j {
                            return Err(self.err(index0 + j as u64, m));
                        }
                    }
                }
                let (price, watts, pue, grid) =
                    (ins[I::usd_per_gpu_hour as usize], ins[I::watts as usize], ins[I::pue as usize], ins[I::grid_kg_co2e_per_kwh as usize]);
                let mut cost = std::mem::take(&mut self.vectors[p.slot[o[O::cost_usd as usize]]]);
                let mut energy = std::mem::take(&mut self.vectors[p.slot[o[O::energy_kwh as usize]]]);
                let mut co2 = std::mem::take(&mut self.vectors[p.slot[o[O::co2e_kg as usize]]]);
                let hours: &[f64] = match p.slot[h_reg] {
                    usize::MAX => &[],
                    sh => &self.vectors[sh][..n],
                };
                let h_at = |j: usize| if hours.is_empty() { self.scalars[h_reg] } else { hours[j] };
                let mut finite = true;
                for j in 0..n {
                    let h = h_at(j);
                    let (c, en) = (h * price, h * watts / 1000.0 * pue);
                    let g = en * grid;
                    finite &= !(c.is_infinite() || en.is_infinite() || g.is_infinite() || (h * watts).is_infinite());
                    cost[j] = c;
                    energy[j] = en;
                    co2[j] = g;
                }
                let mut failure = None;
                if !finite {
                    for j in 0..n {
                        ins[I::gpu_hours as usize] = h_at(j);
                        if let Err(m) = stage_eval(Stage::Money, None, &ins[..i.len()], &mut res[..o.len()]) {
                            failure = Some((j, m));
                            break;
                        }
                    }
                }
                self.vectors[p.slot[o[O::cost_usd as usize]]] = cost;
                self.vectors[p.slot[o[O::energy_kwh as usize]]] = energy;
                self.vectors[p.slot[o[O::co2e_kg as usize]]] = co2;
                if let Some((j, m)) = failure {
                    return Err(self.err(index0 + j as u64, m));
                }
            }
            OpSpec::Model { stage: Stage::Goodput, i, o, .. } if self.goodput_fast(i) => {
                // The usual case: the model, the goodput inputs and the duration's kind are fixed
                // within the block and the GPU count (with the hours) varies. The ratio depends on
                // the count alone then: computed once per distinct count (a direct-mapped memo).
                use GoodputIn as I;
                let mut outs: Vec<Vec<f64>> = o.iter().map(|&r| std::mem::take(&mut self.vectors[p.slot[r]])).collect();
                let mut ins = [0.0f64; MAX_STAGE_INPUTS];
                for (q, &r) in i.iter().enumerate() {
                    ins[q] = self.scalars[r];
                }
                let at = |k: I| i[k as usize];
                let (g_reg, h_reg, m_reg, f_reg) = (at(I::gpus), at(I::gpu_hours), at(I::mfu), at(I::hfu));
                let gen = self.gen_for(i, &[I::gpus as usize, I::gpu_hours as usize, I::mfu as usize, I::hfu as usize]);
                let mut res = [0.0f64; MAX_STAGE_OUTPUTS];
                let kind = ins[I::util_kind as usize];
                let mut failure = None;
                for j in 0..n {
                    let g = self.read(g_reg, j);
                    let slot = (g.to_bits().wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 54) as usize;
                    let ratio = if self.memo_keys[slot] == (g.to_bits(), gen) {
                        let v = &self.memo_vals[slot * MAX_STAGE_OUTPUTS..slot * MAX_STAGE_OUTPUTS + 3];
                        (v[0], v[1], v[2])
                    } else {
                        ins[I::gpus as usize] = g;
                        match goodput_ratio(&|k: I| ins[k as usize]) {
                            Ok(v) => {
                                self.memo_keys[slot] = (g.to_bits(), gen);
                                self.memo_vals[slot * MAX_STAGE_OUTPUTS..slot * MAX_STAGE_OUTPUTS + 3]
                                    .copy_from_slice(&[v.0, v.1, v.2]);
                                v
                            }
                            Err(m) => {
                                failure = Some((j, m));
                                break;
                            }
                        }
                    };
                    let (hours, mfu, hfu) = (self.read(h_reg, j), self.read(m_reg, j), self.read(f_reg, j));
                    if let Err(m) = goodput_apply(ratio, kind, g, hours, mfu, hfu, &mut res) {
                        failure = Some((j, m));
                        break;
                    }
                    for (q, col) in outs.iter_mut().enumerate() {
                        col[j] = res[q];
                    }
                }
                self.put_back(outs, o, failure, index0)?;
            }
            OpSpec::Model { stage: stage @ (Stage::Step | Stage::StepCheck | Stage::Search), i, o, space }
                if self.one_varies(i).is_some() => {
                // The step (or the layout search) when one input varies within the block (the GPU
                // count, usually, repeated across inner axes it does not depend on, such as the
                // MFU): evaluated once per distinct value (a direct-mapped memo).
                let q = self.one_varies(i).unwrap_or(0);
                let mut outs: Vec<Vec<f64>> = o.iter().map(|&r| std::mem::take(&mut self.vectors[p.slot[r]])).collect();
                let mut ins = [0.0f64; MAX_STAGE_INPUTS];
                for (k, &r) in i.iter().enumerate() {
                    ins[k] = self.scalars[r];
                }
                let width = o.len();
                // The step's checks alone over GPU counts: monotone in the count (only a job
                // spanning scale-up domains needs a scale-out figure), so if the largest count of
                // the block passes, every count does (its columns are null: nothing reads them).
                if *stage == Stage::StepCheck && q == super::stages::StepIn::gpus as usize {
                    let most = (0..n).map(|j| self.read(i[q], j)).fold(f64::NEG_INFINITY, f64::max);
                    let mut vals = [0.0f64; MAX_STAGE_OUTPUTS];
                    ins[q] = most;
                    if most.is_finite() && stage_eval(*stage, None, &ins[..i.len()], &mut vals[..width]).is_ok() {
                        for col in outs.iter_mut() {
                            col[..n].fill(f64::NAN);
                        }
                        self.put_back(outs, o, None, index0)?;
                        return Ok(());
                    }
                }
                let gen = self.gen_for(i, &[q]);
                let mut failure = None;
                for j in 0..n {
                    let x = self.read(i[q], j);
                    let slot = (x.to_bits().wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 54) as usize;
                    if self.memo_keys[slot] != (x.to_bits(), gen) {
                        ins[q] = x;
                        let vals = &mut self.memo_vals[slot * MAX_STAGE_OUTPUTS..slot * MAX_STAGE_OUTPUTS + width];
                        if let Err(m) = stage_eval(*stage, space.as_deref(), &ins[..i.len()], vals) {
                            failure = Some((j, m));
                            break;
                        }
                        self.memo_keys[slot] = (x.to_bits(), gen);
                    }
                    for (k, col) in outs.iter_mut().enumerate() {
                        col[j] = self.memo_vals[slot * MAX_STAGE_OUTPUTS + k];
                    }
                }
                self.put_back(outs, o, failure, index0)?;
            }
            OpSpec::Model { stage: Stage::ServeBatch, i, o, .. }
                if i.iter().enumerate().all(|(q, &r)| (q == super::stages::ServeBatchIn::batch as usize) != (p.slot[r] == usize::MAX)) =>
            {
                // The usual case: the replica is fixed within the block and the batch varies: the
                // model's column form, writing only the outputs something reads.
                use super::stages::{ServeBatchIn as I, ServeBatchOut as O};
                let mut outs: Vec<Vec<f64>> = o.iter().map(|&r| std::mem::take(&mut self.vectors[p.slot[r]])).collect();
                let ins: Vec<f64> = i.iter().map(|&r| self.scalars[r]).collect();
                let default = ins[I::default_batch as usize];
                let batches = &self.vectors[p.slot[i[I::batch as usize]]][..n];
                match super::stages::serve_replica(&ins) {
                    Some(r) => {
                        let live: Vec<bool> = o.iter().map(|&r| p.live[r]).collect();
                        let [batch, tpot, bound, memory, meets, fits, per_token] = &mut outs[..] else {
                            unreachable!("serve_batch writes {} outputs", O::NAMES.len())
                        };
                        fn pick<'a>(c: &'a mut [f64], live: bool, n: usize) -> Option<&'a mut [f64]> {
                            live.then(|| &mut c[..n])
                        }
                        r.columns(batches, default, crate::model::serve::Columns {
                            batch: &mut batch[..n], tpot_s: &mut tpot[..n],
                            compute_bound: pick(bound, live[O::compute_bound as usize], n),
                            memory_fits: pick(memory, live[O::memory_fits as usize], n),
                            meets_bounds: pick(meets, live[O::meets_bounds as usize], n),
                            fits: pick(fits, live[O::fits as usize], n),
                            decode_s_per_token: pick(per_token, live[O::decode_s_per_token as usize], n),
                        });
                    }
                    None => {
                        let mut res = [0.0f64; MAX_STAGE_OUTPUTS];
                        super::stages::serve_batch_row(None, f64::NAN, default, &mut res);
                        for (q, col) in outs.iter_mut().enumerate() {
                            col[..n].fill(res[q]);
                        }
                    }
                }
                self.put_back(outs, o, None, index0)?;
            }
            OpSpec::Model { stage: Stage::ServeRate, i, o, .. }
                if i.iter().enumerate().all(|(q, &r)| {
                    use super::stages::ServeRateIn as I;
                    (q == I::batch as usize || q == I::tpot_s as usize) || p.slot[r] == usize::MAX
                }) =>
            {
                // The replica fixed within the block, batches and steps varying (or not): the
                // rates' column form, writing only the outputs something reads.
                use super::stages::ServeRateIn as I;
                let mut outs: Vec<Vec<f64>> = o.iter().map(|&r| std::mem::take(&mut self.vectors[p.slot[r]])).collect();
                let ins: Vec<f64> = i.iter().map(|&r| self.scalars[r]).collect();
                let replica = super::stages::serve_rate_replica(&ins);
                let column = |q: I| -> Vec<f64> {
                    match p.slot[i[q as usize]] {
                        usize::MAX => vec![self.scalars[i[q as usize]]; n],
                        s => self.vectors[s][..n].to_vec(),
                    }
                };
                let (batch, tpot) = (column(I::batch), column(I::tpot_s));
                let live: Vec<bool> = o.iter().map(|&r| p.live[r]).collect();
                let mut cols = outs.iter_mut().zip(&live).map(|(c, &l)| l.then(|| &mut c[..n]));
                let out = [cols.next().flatten(), cols.next().flatten(), cols.next().flatten(), cols.next().flatten()];
                replica.rate_columns(&batch, &tpot, out);
                self.put_back(outs, o, None, index0)?;
            }
            OpSpec::Model { stage: Stage::MemGpu, i, o, .. } => {
                // Per-GPU memory varies with the GPU count, usually the innermost axis.
                let mut outs: Vec<Vec<f64>> = o.iter().map(|&r| std::mem::take(&mut self.vectors[p.slot[r]])).collect();
                let ops: Vec<Source<'_>> = i
                    .iter()
                    .map(|&r| match p.slot[r] {
                        usize::MAX => Source::Scalar(self.scalars[r]),
                        s => Source::Vector(&self.vectors[s][..n]),
                    })
                    .collect();
                let mut failure = None;
                // Nothing reads its columns (a filter sweep writing none of them): only the stage's
                // check runs (the GPU count a whole multiple of the model-parallel group).
                let needed = o.iter().any(|&r| p.live[r]);
                use MemGpuIn as I;
                let gpus_at = I::gpus as usize;
                let only_gpus_vary = ops.iter().enumerate().all(|(q, o)| q == gpus_at || matches!(o, Source::Scalar(_)));
                let fast = only_gpus_vary && matches!(ops[gpus_at], Source::Vector(_));
                if let (true, Source::Vector(gs)) = (fast, ops[gpus_at]) {
                    // The usual case: the model and its layout are fixed within the block, the GPU
                    // count varies.
                    let v = |q: I| ops[q as usize].at(0);
                    let s = mem_states(v);
                    let (zero, mp, cp, cap) = (
                        v(I::zero) as u8,
                        v(I::tensor_parallel) * v(I::pipeline_parallel),
                        v(I::context_parallel),
                        opt(v(I::gpu_memory_gb)),
                    );
                    let group = crate::model::memory::lcm(cp, v(I::expert_parallel));
                    for (j, &g) in gs.iter().enumerate() {
                        if !(whole(g) && whole(g / (mp * group))) {
                            failure = Some((j, g, mp, group));
                            break;
                        }
                        if needed {
                            let m = per_gpu(&s, zero, Some(g), mp, cp, v(I::expert_parallel), cap);
                            for (col, x) in outs.iter_mut().zip(memory_row(&m)) {
                                col[j] = x;
                            }
                        }
                    }
                }
                for j in (0..n).filter(|_| !fast) {
                    let v = |q: I| ops[q as usize].at(j);
                    let (g, tp, pp, cp) = (v(I::gpus), v(I::tensor_parallel), v(I::pipeline_parallel), v(I::context_parallel));
                    let mp = tp * pp;
                    let group = crate::model::memory::lcm(cp, v(I::expert_parallel));
                    if !g.is_nan() && !(whole(g) && whole(g / (mp * group))) {
                        failure = Some((j, g, mp, group));
                        break;
                    }
                    if !needed {
                        continue;
                    }
                    let s = mem_states(v);
                    let m = per_gpu(&s, v(I::zero) as u8, opt(g), mp, cp, v(I::expert_parallel), opt(v(I::gpu_memory_gb)));
                    for (col, x) in outs.iter_mut().zip(memory_row(&m)) {
                        col[j] = x;
                    }
                }
                drop(ops);
                for (col, &r) in outs.into_iter().zip(o) {
                    self.vectors[p.slot[r]] = col;
                }
                if let Some((j, g, mp, cp)) = failure {
                    let m = if whole(g) {
                        format!("gpus: got {g}, expected {}", crate::model::estimate::multiple_of(mp * cp, cp))
                    } else {
                        format!("gpus: got {}, expected a whole number from 1 to 4.5e15", g.shown())
                    };
                    return Err(self.err(index0 + j as u64, m));
                }
            }
            OpSpec::Model { stage, i, o, space } => {
                let mut outs: Vec<Vec<f64>> = o.iter().map(|&r| std::mem::take(&mut self.vectors[p.slot[r]])).collect();
                let mut ins = [0.0f64; MAX_STAGE_INPUTS];
                let mut res = [0.0f64; MAX_STAGE_OUTPUTS];
                let mut failure = None;
                // Operands resolved once: (vector slot, or the scalar value).
                let operands: Vec<(usize, f64)> = i.iter().map(|&r| (p.slot[r], self.scalars[r])).collect();
                for (q, &(slot, v)) in operands.iter().enumerate() {
                    if slot == usize::MAX {
                        ins[q] = v;
                    }
                }
                let varying: Vec<(usize, usize)> =
                    operands.iter().enumerate().filter(|(_, (s, _))| *s != usize::MAX).map(|(q, (s, _))| (q, *s)).collect();
                for j in 0..n {
                    for &(q, slot) in &varying {
                        ins[q] = self.vectors[slot][j];
                    }
                    if let Err(m) = stage_eval(*stage, space.as_deref(), &ins[..i.len()], &mut res[..o.len()]) {
                        failure = Some((j, m));
                        break;
                    }
                    for (q, col) in outs.iter_mut().enumerate() {
                        col[j] = res[q];
                    }
                }
                self.put_back(outs, o, failure, index0)?;
            }
        }
        Ok(())
    }

    /// A new memo generation: every entry written before is stale (one per op evaluation).
    fn next_gen(&mut self) -> u32 {
        self.memo_gen = self.memo_gen.wrapping_add(1);
        if self.memo_gen == 0 {
            self.memo_keys.fill((0, 0));
            for last in self.memo_last.iter_mut() {
                last.2 = u32::MAX; // (no entry carries it)
            }
            self.memo_gen = 1;
        }
        self.memo_gen
    }

    /// The memo generation of an op whose inputs other than `varying` (positions) are fixed in
    /// this block: the last one when they have not changed since its last evaluation.
    fn gen_for(&mut self, i: &[usize], varying: &[usize]) -> u32 {
        let id = i.as_ptr() as usize;
        let scalars = &self.scalars;
        let fixed = || i.iter().enumerate().filter(|(q, _)| !varying.contains(q)).map(|(_, &r)| scalars[r].to_bits());
        let k = match self.memo_last.iter().position(|(op, _, _)| *op == id) {
            Some(k) if self.memo_last[k].1.iter().copied().eq(fixed()) => return self.memo_last[k].2,
            Some(k) => k,
            None => {
                self.memo_last.push((id, Vec::new(), 0));
                self.memo_last.len() - 1
            }
        };
        // (the fixed inputs changed, or the op is new: a new generation, the inputs kept in place)
        let mut kept = std::mem::take(&mut self.memo_last[k].1);
        kept.clear();
        kept.extend(fixed());
        let gen = self.next_gen();
        self.memo_last[k] = (id, kept, gen);
        gen
    }

    /// The one input of a stage that varies within the block, if exactly one does.
    fn one_varies(&self, i: &[usize]) -> Option<usize> {
        let mut it = i.iter().enumerate().filter(|(_, &r)| self.p.slot[r] != usize::MAX);
        match (it.next(), it.next()) {
            (Some((q, _)), None) => Some(q),
            _ => None,
        }
    }

    /// Whether a goodput stage's inputs vary only in the GPU count and the durations within the
    /// block (its memoised path).
    fn goodput_fast(&self, i: &[usize]) -> bool {
        use GoodputIn as I;
        let varying = [I::gpus, I::gpu_hours, I::mfu, I::hfu].map(|k| i[k as usize]);
        i.iter().all(|&r| self.p.slot[r] == usize::MAX || varying.contains(&r))
    }

    #[inline(always)]
    fn read(&self, r: usize, j: usize) -> f64 {
        match self.p.slot[r] {
            usize::MAX => self.scalars[r],
            s => self.vectors[s][j],
        }
    }
}

