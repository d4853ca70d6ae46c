//! The best layout of a point (issue 12, `--layout auto`): every valid (TP, PP, CP, EP,
//! micro-batch, interleave, recompute, ZeRO stage) on the GPU count, kept if it fits the memory,
//! the fastest chosen: the least time per token (layouts round the batch to whole micro-batches
//! per rank differently; ties: the least communication time, then the smaller degrees).
//!
//! A degree the user fixes is not searched; a degree given a list of allowed values (`Space`) is
//! searched over those values only, less the ones that cannot be valid (the same rules as the
//! defaults). The default candidates: TP over the powers of two up to the scale-up domain (and
//! 64) that divide the heads and the KV heads (any, for the shape rule's fractional heads); PP
//! over powers of two up to the layers; CP over powers of two dividing the sequence (from 32K
//! tokens up); EP over powers of two dividing the routed experts (MoE only); micro-batches 1 and
//! 2; interleave 1, 2, 4 where the stage's layers divide; recompute none, selective (with an
//! architecture: its FLOPs need the attention's shape), full; ZeRO 1 and 3. With
//! `tp_within_domain` (the user forbids TP across domains) no TP wider than the scale-up domain is a candidate, listed or not.
//!
//! The model's shape is derived once per point. The search is best-first branch and bound: each
//! candidate's lower bound (its pipeline matmuls and bubble per token: the step's other terms only
//! add time) is computed first; the candidates are then stepped in the order of their bounds
//! until the next bound is no better than the best step found, and only a candidate faster than
//! the best is checked against the memory. Ties (within 1e-12) go to the least communication, then
//! to the first in the enumeration order (the smaller degrees), as an exhaustive search would.

use crate::model::memory::memory;
use crate::model::step::{step_parts, Layout, Network, Shape, Step, TpTerms, Work};
use crate::model::types::{Point, Recompute};

/// Fixed degrees (None: searched).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Fixed {
    pub tensor: Option<f64>,
    pub pipeline: Option<f64>,
    pub context: Option<f64>,
    pub expert: Option<f64>,
    pub micro_batch: Option<f64>,
    pub interleave: Option<f64>,
    pub recompute: Option<Recompute>,
    pub zero: Option<u8>,
}

/// The values a degree may take in the search (None: the default candidates). A fixed degree
/// (`Fixed`) wins over its list.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Space {
    pub tensor: Option<Vec<f64>>,
    pub pipeline: Option<Vec<f64>>,
    pub context: Option<Vec<f64>>,
    pub expert: Option<Vec<f64>>,
    pub micro_batch: Option<Vec<f64>>,
    pub interleave: Option<Vec<f64>>,
    pub recompute: Option<Vec<Recompute>>,
    pub zero: Option<Vec<u8>>,
}

impl Space {
    /// No list given: every degree's default candidates.
    pub const DEFAULT: Space = Space {
        tensor: None, pipeline: None, context: None, expert: None, micro_batch: None, interleave: None, recompute: None,
        zero: None,
    };
}

/// The layout found and its step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Found {
    pub layout: Layout,
    pub recompute: Recompute,
    pub step: Step,
    pub memory_gb: f64,
    /// Candidate layouts considered (the search's size, pruned ones included).
    pub candidates: f64,
}

/// Seconds per token of a step: layouts differ in the batch they run (whole micro-batches per
/// data-parallel rank), so the fastest is the one with the least time per token.
fn per_token(st: &Step) -> f64 {
    st.step_time_s / st.global_batch_tokens
}

fn powers_up_to(limit: f64) -> impl Iterator<Item = f64> {
    (0..13).map(|k| (1u32 << k) as f64).take_while(move |&x| x <= limit)
}

/// The fastest layout of `base` (its memory inputs: architecture, precision, optimizer, attention,
/// logits, mode, GPU memory) and `work` on `gpus` GPUs, or None when none is valid and fits.
#[allow(clippy::too_many_arguments)]
pub fn search(base: &Point, trainable: f64, work: &Work, net: &Network, gpus: f64, global_batch_tokens: f64,
              fixed: &Fixed, space: &Space, tp_within_domain: bool, sequence_parallel: bool) -> Option<Found> {
    let shape = Shape::new(work);
    let rule = shape.rule;
    let (l, heads, kv, s, experts) = (shape.layers, shape.heads, shape.kv_heads, shape.seq_len, shape.experts);
    // (routed experts to split: LoRA's frozen experts split too, as an explicit EP does)
    let moe = experts > 1.0 && work.active_params < work.params;
    let seqs = global_batch_tokens / s;

    let one = |f: Option<f64>| f.map(|x| vec![x]);
    // A degree's candidates: fixed, else the allowed values that can be valid, else the defaults.
    let listed = |f: Option<f64>, allowed: &Option<Vec<f64>>, valid: &dyn Fn(f64) -> bool| -> Option<Vec<f64>> {
        one(f).or_else(|| allowed.as_ref().map(|xs| xs.iter().copied().filter(|&x| valid(x)).collect()))
    };
    let tp_ok = |t: f64| {
        (rule || (heads / t).fract() == 0.0 && ((kv / t).fract() == 0.0 || (t / kv).fract() == 0.0))
            && !(tp_within_domain && t > net.domain)
    };
    let tps: Vec<f64> = listed(fixed.tensor, &space.tensor, &tp_ok)
        .unwrap_or_else(|| powers_up_to(net.domain.min(64.0).max(1.0)).filter(|&t| tp_ok(t)).collect());
    let pps: Vec<f64> = listed(fixed.pipeline, &space.pipeline, &|p| rule || p <= l)
        .unwrap_or_else(|| powers_up_to(l.min(128.0)).collect());
    let cp_ok = |c: f64| (s / c).fract() == 0.0;
    let cps: Vec<f64> = listed(fixed.context, &space.context, &cp_ok).unwrap_or_else(|| {
        if s >= 32768.0 { powers_up_to(32.0).filter(|&c| cp_ok(c)).collect() } else { vec![1.0] }
    });
    let ep_ok = |e: f64| e == 1.0 || moe && (experts / e).fract() == 0.0;
    let eps: Vec<f64> = listed(fixed.expert, &space.expert, &ep_ok).unwrap_or_else(|| {
        if moe { powers_up_to(experts.min(64.0)).filter(|&e| ep_ok(e)).collect() } else { vec![1.0] }
    });
    let mbs: Vec<f64> = listed(fixed.micro_batch, &space.micro_batch, &|_| true).unwrap_or_else(|| vec![1.0, 2.0]);
    // (selective recomputation's FLOPs count needs the attention's shape: not with the shape rule)
    let recomputes: Vec<Recompute> = match (fixed.recompute, &space.recompute) {
        (Some(r), _) => vec![r],
        (None, Some(rs)) => rs.iter().copied().filter(|&r| !(rule && r == Recompute::Selective)).collect(),
        (None, None) if rule => vec![Recompute::None, Recompute::Full],
        (None, None) => vec![Recompute::None, Recompute::Selective, Recompute::Full],
    };
    let zeros: Vec<u8> = match (fixed.zero, &space.zero) {
        (Some(z), _) => vec![z],
        (None, Some(zs)) => zs.clone(),
        (None, None) => vec![1, 3],
    };

    if [tps.len(), pps.len(), cps.len(), eps.len(), mbs.len(), recomputes.len(), zeros.len()].contains(&0) {
        return None; // (a list of allowed values none of which can be valid)
    }
    // First the lower bound of every candidate (`Shape::floor`: its busiest stage's matmuls,
    // element-wise work and TP all-reduces per token; the step's other terms only add time), then
    // the candidates in the order of their bounds until the next bound is no better than the best
    // step found (best-first branch and bound). The bound's factors are hoisted to the loop that
    // fixes them: per TP, per PP (layers per stage), per batch split (1/(m·d·c)), per recompute.
    let fixed_v = [fixed.interleave.unwrap_or(1.0)];
    let tp_terms: Vec<TpTerms> = tps.iter().map(|&t| shape.tp_terms(work, t, sequence_parallel, net)).collect();
    // (a layer's FLOPs per token, and its TP collectives: two more when the forward is recomputed)
    let per_r: Vec<((f64, f64), f64)> = recomputes
        .iter()
        .map(|&r| (shape.layer_flops(work, r), if r == Recompute::Full { 6.0 } else { 4.0 }))
        .collect();
    // A candidate is its key: the bound's bits (a positive float's bits order as the float) above
    // its degrees' indices, packed 9 bits each in the loops' order, so that equal bounds come out
    // in the enumeration order.
    let interleaves = |p: f64| -> &[f64] {
        match (fixed.interleave, &space.interleave) {
            (Some(_), _) => &fixed_v,
            (None, Some(vs)) => vs,
            (None, None) if p > 1.0 => &[1.0, 2.0, 4.0],
            (None, None) => &[1.0],
        }
    };
    let pack = |ix: [usize; 7]| ix.iter().fold(0u64, |acc, &i| (acc << 9) | i as u64);
    let key = |bound: f64, ix: [usize; 7]| {
        // (a hair below: the step sums the same terms in another order)
        let bound = bound * (1.0 - 1e-9);
        let bits = if bound >= 0.0 { bound.to_bits() } else { f64::INFINITY.to_bits() };
        std::cmp::Reverse(((bits as u128) << 64) | pack(ix) as u128)
    };
    // The recomputes in the order of their bounds (more FLOPs and collectives: a higher bound):
    // a layout enters the heap with the first, and its next enters when one is popped (a bound is
    // never below the one before it), so most layouts never bound their costlier recomputes.
    let mut chain: Vec<usize> = (0..recomputes.len()).collect();
    let total = |i: usize| per_r[i].0 .0 + per_r[i].0 .1;
    chain.sort_by(|&a, &b| total(a).total_cmp(&total(b)).then(per_r[a].1.total_cmp(&per_r[b].1)));
    // (each part of the FLOPs and the collectives rise along the chain: so does the bound)
    debug_assert!(chain.windows(2).all(|w| per_r[w[0]].0 .0 <= per_r[w[1]].0 .0 && per_r[w[0]].0 .1 <= per_r[w[1]].0 .1
        && per_r[w[0]].1 <= per_r[w[1]].1));
    let mut keys: Vec<std::cmp::Reverse<u128>> = Vec::with_capacity(256);
    let mut candidates = 0.0;
    for (ti, (&t, tp)) in tps.iter().zip(&tp_terms).enumerate() {
        for (pi, &p) in pps.iter().enumerate() {
            let layers = (l / p).ceil();
            for (ci, &c) in cps.iter().enumerate() {
                let mp = t * p * c;
                let d = gpus / mp;
                if !(d >= 1.0 && d.fract() == 0.0) {
                    continue;
                }
                for (ei, &e) in eps.iter().enumerate() {
                    if ((d * c) / e).fract() != 0.0 {
                        continue;
                    }
                    for (bi, &b) in mbs.iter().enumerate() {
                        if d * b > seqs * (1.0 + 1e-12) {
                            continue; // (more ranks × micro-batch than the batch has sequences)
                        }
                        // (the batch in whole micro-batches per data-parallel rank, as `Shape::compute`)
                        let m = (seqs / (d * b)).round().max(1.0);
                        let inv_mdc = 1.0 / (m * d * c);
                        let v_ok = |v: f64| fixed.interleave.is_some() || v == 1.0 || p > 1.0 && (layers / v).fract() == 0.0;
                        for (vi, &v) in interleaves(p).iter().enumerate().filter(|&(_, &v)| v_ok(v)) {
                            candidates += (recomputes.len() * zeros.len()) as f64;
                            let slots = m + (p - 1.0) / v;
                            // (the first recompute of the chain; the next is pushed when it is popped)
                            let (flops, collectives) = per_r[chain[0]];
                            let bound = shape.floor(tp, flops, collectives, layers, slots, inv_mdc);
                            keys.push(key(bound, [ti, pi, ci, ei, bi, vi, 0]));
                        }
                    }
                }
            }
        }
    }
    // The memory model's point: with the shape rule, its architecture derived once (`memory`
    // derives the same one from a point without one, for the activations; the logits' sequence
    // and vocabulary default alike).
    let mut proto = base.clone();
    if rule {
        proto.arch = crate::model::memory::rule_architecture(base.params, base.arch.seq_len);
    }
    // The candidates by bound, then in enumeration order, taken from a heap: most are never taken.
    let mut heap = std::collections::BinaryHeap::from(keys);
    let mut best: Option<(Found, f64, u64)> = None; // (found, communication time, enumeration order)
    while let Some(std::cmp::Reverse(popped)) = heap.pop() {
        let bound = f64::from_bits((popped >> 64) as u64);
        let packed = popped as u64;
        let ix = |k: u32| ((packed >> (9 * k)) & 511) as usize; // (k = 0: the last packed, the chain's)
        let p = pps[ix(5)];
        let ri = chain[ix(0)];
        let r = recomputes[ri];
        let mut layout = Layout {
            gpus,
            tensor: tps[ix(6)],
            pipeline: p,
            context: cps[ix(4)],
            expert: eps[ix(3)],
            sequence_parallel,
            micro_batch: mbs[ix(2)],
            interleave: interleaves(p)[ix(1)],
            zero: 1,
            global_batch_tokens,
        };
        if best.as_ref().is_some_and(|(f, _, _)| bound >= per_token(&f.step)) {
            break;
        }
        if ix(0) + 1 < chain.len() {
            // The layout's next recompute, bounded as in the loops above.
            let (t, c, b, v) = (layout.tensor, layout.context, layout.micro_batch, layout.interleave);
            let d = gpus / (t * p * c);
            let m = (seqs / (d * b)).round().max(1.0);
            let (flops, collectives) = per_r[chain[ix(0) + 1]];
            let next = shape.floor(&tp_terms[ix(6)], flops, collectives, (l / p).ceil(), m + (p - 1.0) / v,
                                   1.0 / (m * d * c));
            heap.push(key(next, [ix(6), ix(5), ix(4), ix(3), ix(2), ix(1), ix(0) + 1]));
        }
        // (the enumeration order, for ties: the degrees' indices with the recompute's own)
        let order = pack([ix(6), ix(5), ix(4), ix(3), ix(2), ix(1), ri]);
        let w = Work { recompute: r, ..work.clone() };
        // (stepped once; the ZeRO stages differ only in the data-parallel traffic and the optimizer)
        let Ok(parts) = step_parts(&shape, &w, &layout, net) else { continue };
        for (zi, &z) in zeros.iter().enumerate() {
            layout.zero = z;
            let st = parts.with_zero(z);
            if cfg!(test) {
                assert!(bound <= per_token(&st), "the bound {bound} is above the step's {} at {layout:?}", per_token(&st));
            }
            let comm = st.tp_comm_s + st.ep_comm_s + st.cp_comm_s + st.pp_comm_s + st.dp_comm_s;
            let rank = order * zeros.len() as u64 + zi as u64;
            // Faster; as fast (within 1e-12) with less communication; else as fast and as much
            // communication, first in the enumeration order (TP, PP, CP, EP, micro-batch, interleave,
            // recompute, ZeRO: the smaller degrees).
            let better = match &best {
                None => true,
                Some((f, bc, br)) => {
                    let (x, y) = (per_token(&st), per_token(&f.step));
                    x < y * (1.0 - 1e-12) || (x <= y * (1.0 + 1e-12) && (comm < *bc || comm == *bc && rank < *br))
                }
            };
            if !better {
                continue;
            }
            // Only a layout that would win is checked against the memory.
            let mut pt = proto.clone();
            pt.tensor_parallel = layout.tensor;
            pt.pipeline_parallel = layout.pipeline;
            pt.context_parallel = layout.context;
            pt.expert_parallel = layout.expert;
            pt.micro_batch = layout.micro_batch;
            pt.recompute = r;
            pt.zero_stage = z;
            pt.sequence_parallel = sequence_parallel;
            pt.interleave = layout.interleave;
            pt.gpus = Some(gpus);
            let m = memory(&pt, trainable);
            if m.fits == Some(true) {
                let found = Found { layout, recompute: r, step: st, memory_gb: m.total_gb, candidates: 0.0 };
                best = Some((found, comm, rank));
            }
        }
    }
    best.map(|(f, _, _)| Found { candidates, ..f })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::step::step_of;
    use crate::model::types::{Architecture, Attention, Mode, Precision};

    /// Llama 2 70B on H100s: (the point's base, its work, its network).
    fn llama70b() -> (Point, Work, Network) {
        let arch = Architecture {
            layers: Some(80.0), d_model: Some(8192.0), heads: Some(64.0), kv_heads: Some(8.0), head_dim: None,
            ffn_dim: Some(28672.0), vocab: Some(32000.0), seq_len: Some(4096.0), experts: None,
            experts_per_token: None, gated_mlp: true,
        };
        let params = 68.976648192e9;
        let mut base = Point::default();
        base.params = params;
        base.active_params = params;
        base.arch = arch.clone();
        base.gpu_memory_gb = Some(80.0);
        let work = Work {
            params, active_params: params, arch, mode: Mode::Pretrain, trainable_params: params,
            recompute: Recompute::None, attention: Attention::Flash, precision: Precision::Bf16,
            model_flops_per_token: 6.0 * params, peak: 989.4e12, peak16: 989.4e12,
        };
        let net = Network { domain: 8.0, scale_up: 450e9, scale_out: 50e9, hbm: 3.35e12 };
        (base, work, net)
    }

    /// The best-first search's answer is the exhaustive one: every candidate stepped and checked
    /// against the memory, the least time per token kept.
    #[test]
    fn best_first_is_exhaustive() {
        let (base0, work0, net) = llama70b();
        // Variants: as is; eager attention in fp32 without sequence parallelism; a 64K context;
        // a mixture of experts (the shape of Mixtral 8x7B, not its weights); LoRA; no architecture
        // (the shape rule); the mixture of experts trained with LoRA (its frozen experts split by EP).
        for variant in 0..7 {
            let (mut base, mut work) = (base0.clone(), work0.clone());
            let mut sp = true;
            match variant {
                1 => {
                    (work.attention, work.precision, sp) = (Attention::Eager, Precision::Fp32, false);
                    (base.attention, base.precision) = (Attention::Eager, Precision::Fp32);
                }
                2 => {
                    work.arch.seq_len = Some(65536.0);
                    base.arch.seq_len = Some(65536.0);
                }
                3 | 6 => {
                    for a in [&mut work.arch, &mut base.arch] {
                        (a.layers, a.d_model, a.heads, a.ffn_dim) = (Some(32.0), Some(4096.0), Some(32.0), Some(14336.0));
                        (a.experts, a.experts_per_token) = (Some(8.0), Some(2.0));
                    }
                    (work.params, work.active_params, work.trainable_params) = (46.7e9, 12.9e9, 46.7e9);
                    (base.params, base.active_params) = (46.7e9, 12.9e9);
                    work.model_flops_per_token = 6.0 * 12.9e9;
                    if variant == 6 {
                        (work.mode, work.trainable_params) = (Mode::Lora, 0.05e9);
                        base.mode = Mode::Lora;
                    }
                }
                4 => {
                    (work.mode, work.trainable_params) = (Mode::Lora, 0.1e9);
                    base.mode = Mode::Lora;
                }
                5 => {
                    work.arch = Architecture::default();
                    base.arch = Architecture::default();
                }
                _ => {}
            }
            let trainable = work.trainable_params;
            let shape = Shape::new(&work);
            let batch = if variant == 2 { 16.0 * 1048576.0 } else { 4194304.0 };
            let cps: &[f64] = if variant == 2 { &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0] } else { &[1.0] };
            let eps: &[f64] = if variant == 3 || variant == 6 { &[1.0, 2.0, 4.0, 8.0] } else { &[1.0] };
            for gpus in [64.0, 256.0, 512.0, 1024.0, 1536.0, 4096.0, 8192.0, 16384.0] {
                let found = search(&base, trainable, &work, &net, gpus, batch, &Fixed::default(), &Space::default(), false, sp);
                let mut best = f64::INFINITY;
                for t in [1.0, 2.0, 4.0, 8.0] {
                    for p in [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0] {
                        for (&c, &e) in cps.iter().flat_map(|c| eps.iter().map(move |e| (c, e))) {
                            if ((gpus / (t * p * c)) * c / e).fract() != 0.0 {
                                continue;
                            }
                            for b in [1.0, 2.0] {
                                for v in [1.0, 2.0, 4.0] {
                                    for r in [Recompute::None, Recompute::Selective, Recompute::Full] {
                                        if shape.rule && r == Recompute::Selective {
                                            continue; // (its FLOPs need the attention's shape)
                                        }
                                        for z in [1u8, 3] {
                                            let layout = Layout { gpus, tensor: t, pipeline: p, context: c, expert: e,
                                                                  sequence_parallel: sp, micro_batch: b, interleave: v,
                                                                  zero: z, global_batch_tokens: batch };
                                            let w = Work { recompute: r, ..work.clone() };
                                            let Ok(st) = step_of(&shape, &w, &layout, &net) else { continue };
                                            let mut pt = base.clone();
                                            (pt.tensor_parallel, pt.pipeline_parallel, pt.micro_batch) = (t, p, b);
                                            (pt.context_parallel, pt.expert_parallel) = (c, e);
                                            (pt.recompute, pt.zero_stage, pt.gpus) = (r, z, Some(gpus));
                                            pt.sequence_parallel = sp;
                                            pt.interleave = v;
                                            if memory(&pt, trainable).fits == Some(true) {
                                                best = best.min(per_token(&st));
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                match found {
                    Some(f) => assert!((per_token(&f.step) / best - 1.0).abs() < 1e-12,
                                       "variant {variant}, {gpus} GPUs: {:?} vs {best}", f),
                    None => assert!(best.is_infinite(), "variant {variant}, {gpus} GPUs: none found, {best}"),
                }
            }
        }
    }

    /// Lists of allowed values none of which can be valid leave no layout (no panic): selective
    /// recomputation without an architecture, TPs that divide no heads, EP on a dense model.
    #[test]
    fn allowed_values_that_cannot_be_valid_leave_no_layout() {
        let (base, work, net) = llama70b();
        let none = |space: Space, work: &Work, base: &Point| {
            search(base, work.params, work, &net, 1024.0, 4194304.0, &Fixed::default(), &space, false, true)
        };
        assert!(none(Space { tensor: Some(vec![3.0, 5.0]), ..Space::default() }, &work, &base).is_none());
        assert!(none(Space { expert: Some(vec![2.0, 4.0]), ..Space::default() }, &work, &base).is_none());
        let (mut w, mut b) = (work.clone(), base.clone());
        (w.arch, b.arch) = (Architecture::default(), Architecture::default());
        assert!(none(Space { recompute: Some(vec![Recompute::Selective]), ..Space::default() }, &w, &b).is_none());
        assert!(none(Space { recompute: Some(vec![Recompute::Full]), ..Space::default() }, &w, &b).is_some());
    }

    /// Time per call of the search's parts (`cargo test --profile ci -- --ignored --nocapture`).
    #[test]
    #[ignore]
    fn search_parts_timing() {
        let (base, work, net) = llama70b();
        let shape = Shape::new(&work);
        let layout = Layout { gpus: 1024.0, tensor: 4.0, pipeline: 4.0, context: 1.0, expert: 1.0, sequence_parallel: true,
                              micro_batch: 1.0, interleave: 1.0, zero: 1, global_batch_tokens: 4194304.0 };
        let n = 200_000;
        let time = |what: &str, f: &mut dyn FnMut() -> f64| {
            let t0 = std::time::Instant::now();
            let mut acc = 0.0;
            for _ in 0..n {
                acc += f();
            }
            println!("{what}: {:.1} ns ({acc:.3e})", t0.elapsed().as_nanos() as f64 / n as f64);
        };
        time("Shape::new", &mut || std::hint::black_box(Shape::new(std::hint::black_box(&work))).hidden);
        time("shape.compute", &mut || shape.compute(&work, std::hint::black_box(&layout), Recompute::None).unwrap().0);
        time("step_of", &mut || step_of(&shape, &work, std::hint::black_box(&layout), &net).unwrap().step_time_s);
        let mut pt = base.clone();
        pt.tensor_parallel = 4.0;
        pt.pipeline_parallel = 4.0;
        pt.gpus = Some(1024.0);
        time("memory", &mut || memory(std::hint::black_box(&pt), work.params).total_gb);
        let n_search = 20000;
        let t0 = std::time::Instant::now();
        let mut cands = 0.0;
        for g in 0..n_search {
            let gpus = 256.0 * (1.0 + (g % 64) as f64);
            let f = search(&base, work.params, &work, &net, gpus, 4194304.0, &Fixed::default(), &Space::default(), false, true);
            cands += f.map(|f| f.candidates).unwrap_or(0.0);
        }
        let s = t0.elapsed().as_secs_f64();
        println!("search: {:.2} us per point, {:.0} candidates per point, {:.3e} candidates/s", s / n_search as f64 * 1e6,
                 cands / n_search as f64, cands / s);
    }
}
