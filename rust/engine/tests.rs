//! Engine tests: plans against brute force.

use super::*;

fn plan(json: &str) -> Program {
    Program::from_json(json).unwrap()
}

/// x in [1, 2, 3] (outer), y in 0..5000 (inner, split in blocks); z = x * y; keep z % 2 == 0 via
/// floor(z / 2) * 2 == z.
fn product_plan() -> String {
    let ys: Vec<f64> = (0..5000).map(|v| v as f64).collect();
    format!(
        r#"{{"registers": 8, "consts": [[2, 2.0]],
            "axes": [{{"len": 3, "columns": [{{"reg": 0, "values": [1, 2, 3]}}]}},
                     {{"len": 5000, "columns": [{{"reg": 1, "values": {ys:?}}}]}}],
            "ops": [{{"k": "bin", "op": "mul", "a": 0, "b": 1, "o": 3}},
                    {{"k": "bin", "op": "div", "a": 3, "b": 2, "o": 4}},
                    {{"k": "un", "op": "floor", "a": 4, "o": 5}},
                    {{"k": "bin", "op": "mul", "a": 5, "b": 2, "o": 6}},
                    {{"k": "bin", "op": "eq", "a": 6, "b": 3, "o": 7}}],
            "filters": [7],
            "outputs": [{{"reg": 3, "kind": "f64"}}]}}"#
    )
}

struct Collect(Vec<f64>);
impl Sink for Collect {
    fn emit(&mut self, kept: &[u32], _all: bool, columns: &[Source<'_>], _index0: u64) {
        self.0.extend(kept.iter().map(|&j| columns[0].at(j as usize)));
    }
}

#[test]
fn product_order_filter_and_ranges() {
    let p = plan(&product_plan());
    assert_eq!(p.total(), 15000);
    let mut all = Collect(vec![]);
    p.run(0, p.total(), &mut all).unwrap();
    let expect: Vec<f64> = (1..=3)
        .flat_map(|x| (0..5000).map(move |y| (x * y) as f64))
        .filter(|z| z % 2.0 == 0.0)
        .collect();
    assert_eq!(all.0, expect);
    // Any split of the index range gives the same rows.
    let mut parts = Collect(vec![]);
    for (a, b) in [(0, 7), (7, 4999), (4999, 5001), (5001, 12345), (12345, 15000)] {
        p.run(a, b, &mut parts).unwrap();
    }
    assert_eq!(parts.0, expect);
}

#[test]
fn division_by_zero_names_the_point() {
    let json = r#"{"registers": 3, "axes": [{"len": 4, "columns": [{"reg": 0, "values": [2, 1, 0, 3]}]}],
        "consts": [[1, 1.0]], "messages": ["derive.x = 1 / y"],
        "ops": [{"k": "bin", "op": "div", "a": 1, "b": 0, "o": 2, "msg": 0}],
        "outputs": [{"reg": 2, "kind": "f64"}]}"#;
    let err = plan(json).run(0, 4, &mut Count(0)).unwrap_err();
    assert_eq!(err.index, 2);
    assert!(err.message.contains("derive.x"));
}

#[test]
fn outer_filters_skip_whole_blocks() {
    // keep x >= 2 (outer level): 2 of 3 outer values survive.
    let json = r#"{"registers": 4, "consts": [[2, 2.0]],
        "axes": [{"len": 3, "columns": [{"reg": 0, "values": [1, 2, 3]}]},
                 {"len": 10, "columns": [{"reg": 1, "values": [0,1,2,3,4,5,6,7,8,9]}]}],
        "ops": [{"k": "bin", "op": "ge", "a": 0, "b": 2, "o": 3}],
        "filters": [3], "outputs": [{"reg": 1, "kind": "f64"}]}"#;
    let mut c = Count(0);
    assert_eq!(plan(json).run(0, 30, &mut c).unwrap(), 20);
}

/// A sweep with ties and a real front: group g (outer, 2), a (outer, 9), and an inner axis of
/// 300 positions carrying two random numbers x, y (a noisy anti-diagonal, with ties). Keys:
/// k1 = x + a, k2 = y - a (vectors), k3 = floor(a / 3) (one value per block, equal in three
/// blocks). Filter: x != 3.
fn reduction_plan(ranked: &[usize]) -> Program {
    let mut seed = 12345u64;
    let mut next = |m: u64| {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((seed >> 33) % m) as f64
    };
    // Along an anti-diagonal with noise, on a coarse grid: long fronts, ties in each key.
    let xs: Vec<f64> = (0..300).map(|_| next(40) * 5.0).collect();
    let ys: Vec<f64> = xs.iter().map(|x| 200.0 - x + next(4) * 5.0).collect();
    let json = format!(
        r#"{{"registers": 12, "consts": [[5, 3.0]],
            "axes": [{{"len": 2, "columns": [{{"reg": 0, "values": [0, 1]}}]}},
                     {{"len": 9, "columns": [{{"reg": 1, "values": [0,1,2,3,4,5,6,7,8]}}]}},
                     {{"len": 300, "columns": [{{"reg": 2, "values": {xs:?}}}, {{"reg": 3, "values": {ys:?}}}]}}],
            "ops": [{{"k": "bin", "op": "add", "a": 2, "b": 1, "o": 6}},
                    {{"k": "bin", "op": "sub", "a": 3, "b": 1, "o": 7}},
                    {{"k": "bin", "op": "ne", "a": 2, "b": 5, "o": 8}},
                    {{"k": "bin", "op": "div", "a": 1, "b": 5, "o": 9}},
                    {{"k": "un", "op": "floor", "a": 9, "o": 10}}],
            "filters": [8],
            "outputs": [{{"reg": 0, "kind": "f64"}}, {{"reg": 6, "kind": "f64"}}, {{"reg": 7, "kind": "f64"}},
                        {{"reg": 10, "kind": "f64"}}],
            "ranked": {ranked:?}}}"#
    );
    plan(&json)
}

struct Rows(Vec<(u64, Vec<f64>)>);
impl Sink for Rows {
    fn emit(&mut self, kept: &[u32], _all: bool, columns: &[Source<'_>], index0: u64) {
        for &j in kept {
            self.0.push((index0 + j as u64, columns.iter().map(|c| c.at(j as usize)).collect()));
        }
    }
}

#[test]
fn pruned_reductions_match_brute_force() {
    let all = {
        let mut r = Rows(vec![]);
        reduction_plan(&[]).run(0, 5400, &mut r).unwrap();
        r.0
    };
    let splits: [&[u64]; 4] = [&[0, 5400], &[0, 1, 299, 300, 2000, 5400], &[0, 4000, 5400], &[0, 2700, 5400]];
    for keys in [vec![(1, false), (2, false)], vec![(1, false), (2, true)], vec![(1, false), (2, false), (3, true)],
                 vec![(3, false), (1, false)]] {
        // Brute force: per group, the rows no other row dominates, by (first key, index).
        let key = |row: &[f64]| -> Vec<f64> { keys.iter().map(|&(c, m)| if m { -row[c] } else { row[c] }).collect() };
        let mut expect = vec![];
        for g in [0.0, 1.0] {
            let members: Vec<_> = all.iter().filter(|(_, r)| r[0] == g).collect();
            let mut front: Vec<_> = members
                .iter()
                .filter(|(_, r)| !members.iter().any(|(_, o)| dominates(&key(o), &key(r))))
                .map(|(i, r)| (key(r)[0], *i))
                .collect();
            front.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            expect.extend(front.into_iter().map(|(_, i)| i));
        }
        let ranked: Vec<usize> = vec![0, 6, 7, 10];
        let p = reduction_plan(&ranked);
        for cuts in splits {
            let mut total = Pareto::new(keys.clone(), vec![0]);
            for w in cuts.windows(2) {
                let mut part = Pareto::new(keys.clone(), vec![0]);
                p.run(w[0], w[1], &mut part).unwrap();
                total.merge(part);
            }
            let got: Vec<u64> = total.finish().into_iter().map(|c| c.index).collect();
            assert_eq!(got, expect, "keys {keys:?}, cuts {cuts:?}");
        }
    }
    for (key, maximise) in [(1, false), (2, true), (3, false), (3, true)] {
        let mut expect = vec![];
        for g in [0.0, 1.0] {
            let mut members: Vec<_> = all
                .iter()
                .filter(|(_, r)| r[0] == g)
                .map(|(i, r)| (if maximise { -r[key] } else { r[key] }, *i))
                .collect();
            members.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            expect.extend(members.into_iter().take(7).map(|(_, i)| i));
        }
        let p = reduction_plan(&[0, 6, 7, 10]);
        for cuts in splits {
            let mut total = TopK::new(7, key, maximise, vec![0]);
            for w in cuts.windows(2) {
                let mut part = TopK::new(7, key, maximise, vec![0]);
                p.run(w[0], w[1], &mut part).unwrap();
                total.merge(part);
            }
            let got: Vec<u64> = total.finish().into_iter().map(|c| c.index).collect();
            assert_eq!(got, expect, "key {key}, cuts {cuts:?}");
        }
    }
}

#[test]
fn two_column_fronts_match_brute_force() {
    let mut seed = 99u64;
    let mut next = |m: u64| {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((seed >> 33) % m) as f64
    };
    for trial in 0..200 {
        let n = 1 + (trial * 7) % 300;
        let grid = 1 + trial as u64 % 50; // coarse grids make ties
        let pts: Vec<Vec<f64>> = (0..n)
            .map(|_| {
                let x = next(grid);
                vec![x, (grid as f64 - x) + next(1 + grid / 5)]
            })
            .collect();
        let mut front = Pareto::new(vec![(0, false), (1, false)], vec![]);
        for (i, k) in pts.iter().enumerate() {
            front.offer(vec![], k.clone(), i as u64, || k.clone());
        }
        let mut got: Vec<u64> = front.finish().into_iter().map(|c| c.index).collect();
        got.sort();
        let expect: Vec<u64> = (0..n)
            .filter(|&i| !pts.iter().any(|o| dominates(o, &pts[i])))
            .map(|i| i as u64)
            .collect();
        assert_eq!(got, expect, "trial {trial}");
    }
}

#[test]
fn bad_plans_are_rejected() {
    assert!(Program::from_json(r#"{"registers": 1, "axes": [], "ops": [], "outputs": [{"reg": 0, "kind": "f64"}]}"#).is_err());
    assert!(Program::from_json("{").is_err());
}

#[test]
fn all_finite_finds_every_non_finite_value_at_every_position() {
    let specials = [f64::INFINITY, f64::NEG_INFINITY, f64::NAN, -f64::NAN];
    let ordinary = [0.0, -0.0, 5e-324, -5e-324, f64::MAX, f64::MIN, 1.0, -2.5e300, f64::MIN_POSITIVE];
    for n in [0usize, 1, 3, 4, 5, 8, 13, 4096] {
        let base: Vec<f64> = (0..n).map(|i| ordinary[i % ordinary.len()]).collect();
        assert!(all_finite(&base));
        for j in 0..n.min(13) {
            for &x in &specials {
                let mut v = base.clone();
                v[j] = x;
                assert!(!all_finite(&v), "n={n} j={j} x={x}");
            }
        }
    }
}

#[test]
fn checked_ops_name_the_reason_and_pass_missing_values() {
    assert_eq!(checked(Some(BinOp::Div), None, 1.0, 0.0, f64::INFINITY), Some("division by zero"));
    assert_eq!(checked(Some(BinOp::Div), None, 0.0, 0.0, f64::NAN), Some("division by zero"));
    assert_eq!(checked(Some(BinOp::Div), None, 3.0, 1e-308, f64::INFINITY), Some("overflow (beyond ±1.8e308)"));
    assert_eq!(checked(Some(BinOp::Pow), None, -1e-200, -2.0, f64::INFINITY), Some("overflow (beyond ±1.8e308)"));
    assert_eq!(checked(Some(BinOp::Pow), None, 0.0, -1.0, f64::INFINITY), Some("zero to a negative power"));
    assert_eq!(checked(Some(BinOp::Pow), None, -8.0, 0.5, f64::NAN), Some("a negative number to a fractional power"));
    assert_eq!(checked(None, Some(UnOp::Log), -1.0, 0.0, f64::NAN), Some("log of a number <= 0"));
    assert_eq!(checked(None, Some(UnOp::Sqrt), -1.0, 0.0, f64::NAN), Some("square root of a negative number"));
    assert_eq!(checked(Some(BinOp::Mul), None, 1e308, 10.0, f64::INFINITY), Some("overflow (beyond ±1.8e308)"));
    assert_eq!(checked(Some(BinOp::Add), None, f64::NAN, 1.0, f64::NAN), None); // a missing value passes
    assert_eq!(checked(Some(BinOp::Mul), None, 2.0, 3.0, 6.0), None);
    assert!(bin_checked(BinOp::Min, f64::NAN, 1.0).is_nan() && bin(BinOp::Min, f64::NAN, 1.0) == 1.0);
}

#[test]
fn parallel_regions_stop_when_interrupted_and_report_the_lowest_error() {
    use crate::engine::parallel::{run_regions, RunError};
    // A long plan: 4e9 points in regions of 1e8; asked to stop at the first poll.
    let long = r#"{"registers": 2, "axes": [{"len": 2000000, "columns": [{"reg": 0, "gen": {"kind": "range", "start": 0, "stop": 2000000, "step": 1, "num": 2000000}}]},
        {"len": 2000, "columns": [{"reg": 1, "gen": {"kind": "range", "start": 0, "stop": 2000, "step": 1, "num": 2000}}]}],
        "ops": [], "filters": [], "outputs": [{"reg": 0, "kind": "f64"}]}"#;
    let p = plan(long);
    let started = std::time::Instant::now();
    let r = run_regions(&p, (0, p.total()), 100_000_000, 2, |_| Count(0), || true);
    assert!(matches!(r, Err(RunError::Interrupted)));
    assert!(started.elapsed().as_secs() < 30);
    // The error at the lowest index, whatever the thread count and region size.
    let bad = r#"{"registers": 3, "consts": [[1, 0.0]], "axes": [{"len": 50, "columns": [{"reg": 0, "values": [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,0]}]}],
        "ops": [{"k": "bin", "op": "div", "a": 0, "b": 0, "o": 2, "msg": 0}], "filters": [], "outputs": [{"reg": 2, "kind": "f64"}], "messages": ["x = 'a / a'"]}"#;
    let p = plan(bad);
    for (threads, chunk) in [(1, 5), (2, 8), (3, 1)] {
        match run_regions(&p, (0, p.total()), chunk, threads, |_| Count(0), || false) {
            Err(RunError::Point(e)) => assert_eq!((e.index, e.message.as_str()), (49, "division by zero in x = 'a / a'")),
            Err(other) => panic!("{other:?}"),
            Ok(_) => panic!("no error"),
        }
    }
}



#[test]
fn every_stage_fits_the_workers_scratch() {
    use super::stages::{Stage, MAX_STAGE_INPUTS, MAX_STAGE_OUTPUTS};
    for s in [Stage::Flops, Stage::Time, Stage::Wall, Stage::Money, Stage::MemStates, Stage::MemGpu, Stage::Step, Stage::StepCheck, Stage::Goodput, Stage::GoodputShape, Stage::Search, Stage::ServeLayout, Stage::ServeBatch, Stage::ServeRate, Stage::Lifetime] {
        let (i, o) = s.layout();
        assert!(i.len() <= MAX_STAGE_INPUTS && o.len() <= MAX_STAGE_OUTPUTS, "{s:?}: {} in, {} out", i.len(), o.len());
    }
    // The search writes a step's outputs first, in the step's order.
    use super::stages::{SearchOut, StepOut};
    for (k, name) in StepOut::NAMES.iter().enumerate() {
        assert_eq!(SearchOut::NAMES[k], *name);
    }
}

#[test]
fn a_search_space_is_checked_when_the_plan_loads() {
    let op = |stage: &str, n_in: usize, n_out: usize, space: &str| {
        let i: Vec<usize> = vec![0; n_in];
        let o: Vec<usize> = (1..=n_out).collect();
        format!(
            r#"{{"registers": {}, "consts": [[0, 1.0]], "axes": [],
                "ops": [{{"k": "model", "stage": "{stage}", "i": {i:?}, "o": {o:?}, "space": {space}}}],
                "outputs": [{{"reg": 1, "kind": "f64"}}]}}"#,
            n_out + 1
        )
    };
    let (si, so) = (SearchIn::NAMES.len(), SearchOut::NAMES.len());
    assert!(Program::from_json(&op("search", si, so, r#"{"tensor": [1, 2, 4], "recompute": [0, 2], "zero": [1, 3]}"#)).is_ok());
    for bad in [r#"{"tensor": []}"#, r#"{"tensor": [0]}"#, r#"{"pipeline": [1.5]}"#, r#"{"recompute": [3]}"#,
                r#"{"zero": [4]}"#, r#"{"tp": [1]}"#] {
        let err = Program::from_json(&op("search", si, so, bad)).err().unwrap_or_default();
        assert!(err.contains("op 0") || err.contains("unknown field"), "{bad}: {err}");
    }
    let err = Program::from_json(&op("step", StepIn::NAMES.len(), StepOut::NAMES.len(), r#"{"tensor": [1]}"#)).err();
    assert!(err.unwrap_or_default().contains("only the layout search"));
}

/// Ops nothing needs are not run, but those that can report an error: a model stage whose columns
/// no output, filter or ranking reads (here a goodput stage given a ratio of 2, which fails at every
/// point) still runs and fails the sweep, as does a check whose value nothing reads; arithmetic
/// nobody reads is dropped.
#[test]
fn ops_nothing_needs_are_not_run() {
    use super::stages::{GoodputIn, GoodputOut};
    let (ni, no) = (GoodputIn::NAMES.len(), GoodputOut::NAMES.len());
    let plan = |extra_outputs: &str, extra_ops: &str| {
        let ins: Vec<String> = (0..ni).map(|_| "2".to_string()).collect();
        let outs: Vec<String> = (0..no).map(|k| format!("{}", 10 + k)).collect();
        format!(
            r#"{{"registers": {}, "consts": [[2, 2.0], [3, 1000.0]],
                "axes": [{{"len": 3, "columns": [{{"reg": 1, "values": [1, 2, 3]}}]}},
                         {{"len": 2000, "columns": [{{"reg": 0, "values": [{}]}}]}}],
                "ops": [{{"k": "model", "stage": "goodput", "i": [{}], "o": [{}]}},
                        {{"k": "bin", "op": "mul", "a": 0, "b": 1, "o": 4}}{extra_ops}],
                "filters": [], "outputs": [{{"reg": 4, "kind": "f64"}}{extra_outputs}],
                "messages": ["x: expected at least 1000"]}}"#,
            10 + no + 2,
            (0..2000).map(|v| v.to_string()).collect::<Vec<_>>().join(","),
            ins.join(","),
            outs.join(","),
        )
    };
    struct Count(usize);
    impl Sink for Count {
        fn emit(&mut self, kept: &[u32], _all: bool, _columns: &[Source<'_>], _index0: u64) {
            self.0 += kept.len();
        }
    }
    let run = |json: &str| {
        let p = Program::from_json(json).unwrap();
        let mut c = Count(0);
        p.run(0, p.total(), &mut c).map(|_| c.0)
    };
    assert!(run(&plan("", "")).is_err());
    assert!(run(&plan(r#", {"reg": 10, "kind": "f64"}"#, "")).is_err());
    // Arithmetic nothing reads is not scheduled: an unread product of the axes.
    let unread = r#", {"k": "bin", "op": "mul", "a": 0, "b": 0, "o": 5}"#;
    let p = Program::from_json(&plan("", unread)).unwrap();
    let scheduled: usize = p.inner_rank.len() + p.inner_first.len() + p.inner_rest.len()
        + p.outer_ops.iter().map(|o| o.len()).sum::<usize>() + p.deferred.iter().map(|o| o.len()).sum::<usize>();
    assert_eq!(scheduled, 2); // (the goodput stage and the product an output reads)
    let check = format!(r#", {{"k": "check", "a": 0, "o": {}, "lo": 1000.0, "msg": 0}}"#, 10 + no + 1);
    let err = run(&plan("", &check)).unwrap_err();
    assert_eq!(err.index, 0);
}

/// Conjunctions of comparisons (`and` trees, ranges) run as fused comparisons and keep exactly
/// the points brute force keeps; an `and` over a value that is not a comparison (NaN counts as
/// true there) is not split, so its meaning is kept.
#[test]
fn conjunctions_of_comparisons_are_fused_and_exact() {
    // x in 0..2000 (with NaN every 7th), y in [1, 2, 3]; consts 300, 1500, 2.
    let xs: Vec<String> = (0..2000).map(|v| if v % 7 == 0 { "null".into() } else { format!("{v}") }).collect();
    let plan = |ops: &str, filters: &str| {
        format!(
            r#"{{"registers": 16, "consts": [[2, 300.0], [3, 1500.0], [4, 2.0]],
                "axes": [{{"len": 3, "columns": [{{"reg": 1, "values": [1, 2, 3]}}]}},
                         {{"len": 2000, "columns": [{{"reg": 0, "values": [{}]}}]}}],
                "ops": [{ops}], "filters": [{filters}],
                "outputs": [{{"reg": 0, "kind": "f64"}}, {{"reg": 1, "kind": "f64"}}]}}"#,
            xs.join(",")
        )
    };
    struct Rows(Vec<(f64, f64)>);
    impl Sink for Rows {
        fn emit(&mut self, kept: &[u32], _all: bool, columns: &[Source<'_>], _index0: u64) {
            self.0.extend(kept.iter().map(|&j| (columns[0].at(j as usize), columns[1].at(j as usize))));
        }
    }
    let run = |json: &str| {
        let p = Program::from_json(json).unwrap();
        let mut rows = Rows(vec![]);
        p.run(0, p.total(), &mut rows).unwrap();
        rows.0.into_iter().map(|(x, y)| (if x.is_nan() { -1.0 } else { x }, y)).collect::<Vec<_>>()
    };
    let want = |f: &dyn Fn(f64, f64) -> bool| -> Vec<(f64, f64)> {
        let mut out = vec![];
        for y in [1.0, 2.0, 3.0] {
            for v in 0..2000 {
                let x = if v % 7 == 0 { f64::NAN } else { v as f64 };
                if f(x, y) {
                    out.push((if x.is_nan() { -1.0 } else { x }, y)); // (NaN compared as -1)
                }
            }
        }
        out
    };
    // 300 <= x and x < 1500 and y != 2: an and-tree of three comparisons, all fused.
    let ops = r#"{"k": "bin", "op": "le", "a": 2, "b": 0, "o": 5}, {"k": "bin", "op": "lt", "a": 0, "b": 3, "o": 6},
                 {"k": "bin", "op": "and", "a": 5, "b": 6, "o": 7}, {"k": "bin", "op": "ne", "a": 1, "b": 4, "o": 8},
                 {"k": "bin", "op": "and", "a": 7, "b": 8, "o": 9}"#;
    let json = plan(ops, "9");
    assert_eq!(Program::from_json(&json).unwrap().fused.len(), 3);
    assert_eq!(run(&json), want(&|x, y| 300.0 <= x && x < 1500.0 && y != 2.0));
    // Two filters, one a range: both fused.
    let ops_two = r#"{"k": "bin", "op": "le", "a": 2, "b": 0, "o": 5}, {"k": "bin", "op": "lt", "a": 0, "b": 3, "o": 6},
                     {"k": "bin", "op": "and", "a": 5, "b": 6, "o": 7}, {"k": "bin", "op": "ne", "a": 1, "b": 4, "o": 8}"#;
    let json = plan(ops_two, "7, 8");
    assert_eq!(Program::from_json(&json).unwrap().fused.len(), 2); // (y != 2 is on the outer axis: it skips blocks)
    assert_eq!(run(&json), want(&|x, y| 300.0 <= x && x < 1500.0 && y != 2.0));
    // x and (y != 2): `and` over x itself (NaN is true there): not split, a plain filter.
    let ops2 = r#"{"k": "bin", "op": "ne", "a": 1, "b": 4, "o": 8}, {"k": "bin", "op": "and", "a": 0, "b": 8, "o": 9}"#;
    let json = plan(ops2, "9");
    assert!(Program::from_json(&json).unwrap().fused.is_empty());
    assert_eq!(run(&json), want(&|x, y| (x != 0.0 || x.is_nan()) && y != 2.0));
    // A comparison something else reads stays computed (here an output): the filter is plain.
    let json = plan(ops, "9").replace(r#"{"reg": 1, "kind": "f64"}]"#, r#"{"reg": 1, "kind": "f64"}, {"reg": 6, "kind": "f64"}]"#);
    assert_eq!(Program::from_json(&json).unwrap().fused.len(), 0);
    assert_eq!(run(&json), want(&|x, y| 300.0 <= x && x < 1500.0 && y != 2.0));
}

/// The serving stages read their registers as the serving model's inputs (NaN: its defaults) and
/// write the model's figures (the layout stage once per layout, the batch stage per batch); no
/// cache that fits, or a layout the model does not serve, is a row with fits false, not an error.
#[test]
fn the_serving_stages_are_the_serving_model() {
    use super::stages::{stage_eval, ServeBatchIn as BI, ServeBatchOut as BO, ServeIn as I, ServeOut as O,
                        ServeRateIn as RI, ServeRateOut as RO};
    use crate::model::serve as sv;
    let mut i = vec![f64::NAN; I::NAMES.len()];
    for (k, v) in [(I::params, 8.03e9), (I::layers, 32.0), (I::d_model, 4096.0), (I::heads, 32.0), (I::kv_heads, 8.0),
                   (I::peak_tflops, 1978.9), (I::hbm_tbps, 3.35), (I::gpu_memory_gb, 80.0), (I::scale_up_gb_per_s, 450.0),
                   (I::scale_up_domain, 8.0), (I::scale_out_gbps, 400.0), (I::tensor_parallel, 1.0), (I::pipeline_parallel, 1.0),
                   (I::expert_parallel, 1.0), (I::weights, 1.0), (I::kv, 1.0),
                   (I::input_tokens, 128.0), (I::output_tokens, 2048.0)] {
        i[k as usize] = v;
    }
    // The two stages as a plan chains them: the layout's outputs feed the batch stage.
    let eval = |i: &[f64], batch: f64| -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let mut o = vec![0.0; O::NAMES.len()];
        stage_eval(Stage::ServeLayout, None, i, &mut o).unwrap();
        let mut bi = vec![f64::NAN; BI::NAMES.len()];
        for (to, from) in [(BI::default_batch, O::default_batch as usize), (BI::max_batch, O::max_batch as usize),
                           (BI::read0, O::read0 as usize), (BI::read1, O::read1 as usize),
                           (BI::math1, O::math1 as usize), (BI::comm0, O::comm0 as usize),
                           (BI::comm1, O::comm1 as usize), (BI::ttft_s, O::ttft_s as usize),
                           (BI::layout_valid, O::layout_valid as usize), (BI::groups, O::groups as usize)] {
            bi[to as usize] = o[from];
        }
        for (to, from) in [(BI::input_tokens, I::input_tokens), (BI::output_tokens, I::output_tokens),
                           (BI::tensor_parallel, I::tensor_parallel), (BI::pipeline_parallel, I::pipeline_parallel),
                           (BI::max_tpot_s, I::max_tpot_s),
                           (BI::max_ttft_s, I::max_ttft_s)] {
            bi[to as usize] = i[from as usize];
        }
        bi[BI::batch as usize] = batch;
        let mut bo = vec![0.0; BO::NAMES.len()];
        stage_eval(Stage::ServeBatch, None, &bi, &mut bo).unwrap();
        let mut ri = vec![f64::NAN; RI::NAMES.len()];
        (ri[RI::batch as usize], ri[RI::tpot_s as usize], ri[RI::ttft_s as usize], ri[RI::groups as usize]) =
            (bo[BO::batch as usize], bo[BO::tpot_s as usize], o[O::ttft_s as usize], o[O::groups as usize]);
        for (to, from) in [(RI::input_tokens, I::input_tokens), (RI::output_tokens, I::output_tokens),
                           (RI::tensor_parallel, I::tensor_parallel), (RI::pipeline_parallel, I::pipeline_parallel)] {
            ri[to as usize] = i[from as usize];
        }
        let mut ro = vec![0.0; RO::NAMES.len()];
        stage_eval(Stage::ServeRate, None, &ri, &mut ro).unwrap();
        (o, bo, ro)
    };
    let (o, bo, ro) = eval(&i, f64::NAN);
    let model = sv::Model { params: 8.03e9, active_params: 8.03e9, layers: 32.0, hidden: 4096.0, heads: 32.0,
                            kv_heads: 8.0, head_dim: 128.0, experts: 1.0, experts_per_token: 1.0, kv_latent: 0.0 };
    let hw = sv::Hardware { peak: 1978.9e12, hbm: 3.35e12, memory: 80e9, scale_up: 450e9, domain: 8.0, scale_out: 50e9 };
    let run = sv::Run { tensor_parallel: 1.0, pipeline_parallel: 1.0, expert_parallel: 1.0, weights: sv::Width::Fp8, kv: sv::Width::Fp8, input_tokens: 128.0,
                        output_tokens: 2048.0, batch: None, batch_cap: None, mbu: sv::MBU, mfu_decode: sv::MFU_DECODE,
                        mfu_prefill: sv::MFU_PREFILL, tp_efficiency: sv::TP_EFFICIENCY, kv_fraction: sv::KV_FRACTION, reserved: sv::RESERVED_BYTES,
                        all_reduce_latency: sv::ALL_REDUCE_LATENCY, max_tpot: None, max_ttft: None };
    let s = sv::serve(&model, &hw, &run).unwrap();
    assert_eq!(ro[RO::output_tokens_per_s as usize], s.output_tokens_per_s);
    assert_eq!(bo[BO::tpot_s as usize], s.tpot_s);
    assert_eq!(o[O::kv_bytes_per_token as usize], 65_536.0);
    assert_eq!(o[O::max_batch as usize], s.max_batch);
    assert_eq!(bo[BO::batch as usize], s.max_batch);
    assert_eq!(bo[BO::fits as usize], 1.0);
    // A batch given: the model at that batch.
    let (_, b64, _) = eval(&i, 64.0);
    assert_eq!(b64[BO::tpot_s as usize], sv::serve(&model, &hw, &sv::Run { batch: Some(64.0), ..run }).unwrap().tpot_s);
    // 405B in bf16 on one 80 GB GPU: nothing fits; the weights say why.
    i[I::params as usize] = 405e9;
    i[I::weights as usize] = 0.0;
    let (o, bo, ro) = eval(&i, f64::NAN);
    assert_eq!((bo[BO::fits as usize], bo[BO::memory_fits as usize]), (0.0, 0.0));
    assert!(ro[RO::output_tokens_per_s as usize].is_nan());
    assert_eq!(o[O::weights_gb_per_gpu as usize], 810.0);
    // Layouts the model does not serve are rows with fits false too: a TP that does not divide the
    // heads, one wider than the scale-up domain, a GPU without a peak at the precision.
    i[I::params as usize] = 8.03e9;
    for (tp, ok) in [(3.0, false), (16.0, false), (8.0, true)] {
        i[I::tensor_parallel as usize] = tp;
        let (o, bo, _) = eval(&i, f64::NAN);
        assert_eq!((bo[BO::fits as usize], o[O::layout_valid as usize]), (ok as u8 as f64, ok as u8 as f64), "{tp}");
    }
    i[I::peak_tflops as usize] = f64::NAN;
    let (_, bo, _) = eval(&i, f64::NAN);
    assert_eq!(bo[BO::fits as usize], 0.0);
    assert!(bo[BO::tpot_s as usize].is_nan());
    // A TPOT bound no batch meets: one sequence, fits false, meets_bounds false.
    i[I::peak_tflops as usize] = 1978.9;
    i[I::max_tpot_s as usize] = 1e-5;
    let (_, bo, _) = eval(&i, f64::NAN);
    assert_eq!((bo[BO::batch as usize], bo[BO::fits as usize], bo[BO::meets_bounds as usize]), (1.0, 0.0, 0.0));
}
