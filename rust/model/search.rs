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
//! `tp_within_domain` no TP wider than the scale-up domain is a candidate, listed or not. The model's shape is derived once per point; a candidate whose pipeline
//! matmuls and bubble alone take longer than the best step so far is skipped (the step's other
//! terms only add time), and only a candidate faster than the best is checked against the memory.

use crate::model::memory::memory;
use crate::model::step::{step_of, Layout, Network, Shape, Step, Work};
use crate::model::types::{Mode, Point, Recompute};

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
    /// No TP wider than the scale-up domain (the user forbids TP across domains).
    pub tp_within_domain: bool,
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
              fixed: &Fixed, space: &Space, sequence_parallel: bool) -> Option<Found> {
    let shape = Shape::new(work);
    let rule = shape.rule;
    let (l, heads, kv, s, experts) = (shape.layers, shape.heads, shape.kv_heads, shape.seq_len, shape.experts);
    let moe = experts > 1.0 && work.active_params < work.params && work.mode != Mode::Lora;
    let seqs = global_batch_tokens / s;

    let one = |f: Option<f64>| f.map(|x| vec![x]);
    // A degree's candidates: fixed, else the allowed values that can be valid, else the defaults.
    let listed = |f: Option<f64>, allowed: &Option<Vec<f64>>, valid: &dyn Fn(f64) -> bool| -> Option<Vec<f64>> {
        one(f).or_else(|| allowed.as_ref().map(|xs| xs.iter().copied().filter(|&x| valid(x)).collect()))
    };
    let tp_ok = |t: f64| {
        (rule || (heads / t).fract() == 0.0 && ((kv / t).fract() == 0.0 || (t / kv).fract() == 0.0))
            && !(space.tp_within_domain && t > net.domain)
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

    let mut best: Option<(Found, f64)> = None; // (found, communication time)
    let mut candidates = 0.0;
    for &t in &tps {
        for &p in &pps {
            for &c in &cps {
                let mp = t * p * c;
                let d = gpus / mp;
                if !(d >= 1.0 && d.fract() == 0.0) {
                    continue;
                }
                for &e in &eps {
                    if ((d * c) / e).fract() != 0.0 {
                        continue;
                    }
                    for &b in &mbs {
                        if d * b > seqs * (1.0 + 1e-12) {
                            continue; // (more ranks × micro-batch than the batch has sequences)
                        }
                        let v_ok = |v: f64| v == 1.0 || p > 1.0 && ((l / p).ceil() / v).fract() == 0.0;
                        let vs: Vec<f64> = match (fixed.interleave, &space.interleave) {
                            (Some(v), _) => vec![v],
                            (None, Some(vs)) => vs.iter().copied().filter(|&v| v_ok(v)).collect(),
                            (None, None) if p > 1.0 => [1.0, 2.0, 4.0].into_iter().filter(|&v| v_ok(v)).collect(),
                            (None, None) => vec![1.0],
                        };
                        for &v in &vs {
                            candidates += (recomputes.len() * zeros.len()) as f64;
                            let mut layout = Layout {
                                gpus,
                                tensor: t,
                                pipeline: p,
                                context: c,
                                expert: e,
                                sequence_parallel,
                                micro_batch: b,
                                interleave: v,
                                zero: 1,
                                global_batch_tokens,
                            };
                            for &r in &recomputes {
                                // A lower bound: the pipeline's matmuls and bubble alone (the step's
                                // other terms only add time).
                                let Some((compute, m, slots, d)) = shape.compute(work, &layout, r) else { break };
                                let tokens = m * d * b * shape.seq_len;
                                if best.as_ref().is_some_and(|(f, _)| slots * compute / tokens >= per_token(&f.step)) {
                                    continue;
                                }
                                let w = Work { recompute: r, ..work.clone() };
                                for &z in &zeros {
                                    layout.zero = z;
                                    let Ok(st) = step_of(&shape, &w, &layout, net) else { continue };
                                    let comm = st.tp_comm_s + st.ep_comm_s + st.cp_comm_s + st.pp_comm_s + st.dp_comm_s;
                                    let better = match &best {
                                        None => true,
                                        Some((f, bc)) => {
                                            let (x, y) = (per_token(&st), per_token(&f.step));
                                            x < y * (1.0 - 1e-12) || (x <= y * (1.0 + 1e-12) && comm < *bc)
                                        }
                                    };
                                    if !better {
                                        continue;
                                    }
                                    // Only a layout that would win is checked against the memory.
                                    let mut pt = base.clone();
                                    pt.tensor_parallel = t;
                                    pt.pipeline_parallel = p;
                                    pt.context_parallel = c;
                                    pt.expert_parallel = e;
                                    pt.micro_batch = b;
                                    pt.recompute = r;
                                    pt.zero_stage = z;
                                    pt.sequence_parallel = sequence_parallel;
                                    pt.gpus = Some(gpus);
                                    let m = memory(&pt, trainable);
                                    if m.fits == Some(true) {
                                        let found = Found { layout, recompute: r, step: st, memory_gb: m.total_gb, candidates: 0.0 };
                                        best = Some((found, comm));
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    best.map(|(f, _)| Found { candidates, ..f })
}
