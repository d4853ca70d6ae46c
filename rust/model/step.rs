//! The time of one optimizer step from the parallel layout (issue 12): compute at a GEMM
//! efficiency, memory-bound element-wise work, tensor / expert / context / pipeline / data-parallel
//! communication and the pipeline bubble. Plain Rust; the constants are fitted on Megatron-LM's
//! Table 1 (Narayanan et al. 2021) by `benchmarks/calibrate_step.py` and checked, without refitting,
//! on other published runs (README, "Throughput vs published runs").
//!
//! Rank order (Megatron-LM's): tensor innermost, then context, data, pipeline outermost; a
//! scale-up domain (an NVLink/NVSwitch node, an xGMI board) holds `domain` consecutive ranks.

use crate::model::memory::{rule_architecture, RULE_SEQ_LEN, RULE_VOCAB};
use crate::model::types::{out_of_range, Architecture, Attention, Mode, ModelError, Precision, Recompute};

/// Achievable fraction of the dense peak for the transformer's matmuls at large sizes.
pub const GEMM_EFFICIENCY: f64 = 0.66;
/// GEMM size (hidden ÷ TP) at which the efficiency halves: eff = E / (1 + G0 / (h / t)).
pub const GEMM_HALF_SIZE: f64 = 128.0;
/// Bytes of HBM traffic per token and hidden unit per layer of the element-wise work (layer
/// norms, dropouts, residual adds, bias and activation functions: forward, backward and the
/// recomputed forward), split by TP only under sequence parallelism.
pub const ELEMENTWISE_BYTES: f64 = 32.0;
/// Bytes of HBM traffic per attention-score element per layer of eager attention (scale, mask,
/// softmax and dropout: forward, backward, recomputed forward). FlashAttention keeps scores on chip.
pub const SCORE_BYTES: f64 = 48.0;
/// The efficiency of 8-bit (and 4-bit) GEMMs against their own peak, as a fraction of 16-bit
/// GEMMs' against theirs: FP8 runs (Transformer Engine, torchao float8) cast, scale and keep
/// amax histories around every GEMM, and published FP8 steps are 0.65-0.75 of the bf16 steps
/// of the same layout, not 0.5. Fitted on the three bf16/fp8 pairs of NVIDIA's dgxc-benchmarking
/// recipes (Llama 3.1 8B and 70B, Nemotron-4 15B on H100, the same layouts; benchmarks/
/// calibrate_step.py --fit-fp8), with the attention core and the logits at the 16-bit peak.
pub const FP8_GEMM_EFFICIENCY: f64 = 0.78;
/// The share of the last micro-batch's backward pass the data-parallel gradient reduction hides
/// behind (bucketed all-reduce, as PyTorch DDP and Megatron-Core's --overlap-grad-reduce do).
pub const DP_OVERLAP: f64 = 0.5;
/// Bytes moved per parameter by the optimizer update (read weights, gradients, two moments and
/// the master copy, write them back: 2 × 16), at HBM bandwidth.
pub const OPTIMIZER_BYTES: f64 = 32.0;

/// The interconnect of one accelerator: GPUs per scale-up domain and bandwidths per GPU per
/// direction, bytes/s.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Network {
    pub domain: f64,
    pub scale_up: f64,
    pub scale_out: f64,
    /// HBM bandwidth, bytes/s.
    pub hbm: f64,
}

/// A parallel layout and batch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Layout {
    pub gpus: f64,
    pub tensor: f64,
    pub pipeline: f64,
    pub context: f64,
    pub expert: f64,
    pub sequence_parallel: bool,
    pub micro_batch: f64,
    /// Virtual pipeline stages per GPU (interleaved 1F1B); 1: plain 1F1B.
    pub interleave: f64,
    pub zero: u8,
    pub global_batch_tokens: f64,
}

/// What the step model needs of the model and the run.
#[derive(Clone, Debug, PartialEq)]
pub struct Work {
    pub params: f64,
    pub active_params: f64,
    pub arch: Architecture,
    pub mode: Mode,
    pub trainable_params: f64,
    pub recompute: Recompute,
    pub attention: Attention,
    pub precision: Precision,
    /// Model FLOPs per token under the run's convention (the MFU numerator).
    pub model_flops_per_token: f64,
    /// Dense peak per GPU at the precision, FLOP/s.
    pub peak: f64,
    /// The GPU's 16-bit dense peak, FLOP/s (NaN: unknown): an 8-bit (or 4-bit) run computes its
    /// attention core and logits at it; only its linear layers' GEMMs run at the low precision.
    pub peak16: f64,
}

impl Work {
    /// Whether the precision's GEMMs are 8- or 4-bit (the attention core and logits stay 16-bit).
    fn low_bit(&self) -> bool {
        matches!(self.precision, Precision::Fp8 | Precision::Fp4)
    }

    fn peak16_known(&self) -> bool {
        self.peak16.is_finite() && self.peak16 > 0.0
    }

    /// The peak the linear layers' GEMMs are timed against (their efficiency folded in for 8-bit):
    /// never below the 16-bit GEMMs' (a stack would run those instead: Gaudi 3's fp8 and bf16 peaks
    /// are equal) and never above the precision's own peak (the MFU's denominator).
    pub fn linear_peak(&self) -> f64 {
        if !self.low_bit() {
            return self.peak;
        }
        let low = self.peak * FP8_GEMM_EFFICIENCY;
        if self.peak16_known() { low.max(self.peak16).min(self.peak) } else { low }
    }

    /// The peak the attention core and the logits are timed against: the 16-bit one in an 8-bit
    /// run (at most the precision's; a GPU without a 16-bit figure: the precision's own).
    pub fn attention_peak(&self) -> f64 {
        if self.low_bit() && self.peak16_known() { self.peak16.min(self.peak) } else { self.peak }
    }
}

/// The step and its parts, seconds per optimizer step unless said.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Step {
    pub step_time_s: f64,
    pub tokens_per_s: f64,
    pub mfu: f64,
    pub data_parallel: f64,
    pub grad_accum: f64,
    pub global_batch_tokens: f64,
    pub bubble_fraction: f64,
    pub comm_exposed_fraction: f64,
    pub compute_s: f64,
    pub memory_bound_s: f64,
    pub tp_comm_s: f64,
    pub ep_comm_s: f64,
    pub cp_comm_s: f64,
    pub pp_comm_s: f64,
    pub dp_comm_s: f64,
    pub optimizer_s: f64,
    pub bubble_s: f64,
    /// Whether the architecture came from the shape rule (none given).
    pub rule: bool,
}

/// The GEMM efficiency at hidden size h split t ways.
pub fn gemm_efficiency(h: f64, t: f64) -> f64 {
    GEMM_EFFICIENCY / (1.0 + GEMM_HALF_SIZE / (h / t))
}

/// Ring all-reduce time of `bytes` over `n` ranks at `bw` bytes/s per rank: 2(n−1)/n · bytes / bw.
pub fn all_reduce(bytes: f64, n: f64, bw: f64) -> f64 {
    if n <= 1.0 {
        0.0
    } else {
        2.0 * (n - 1.0) / n * bytes / bw
    }
}

/// Bandwidth per rank of a group of `n` ranks spaced `stride` ranks apart: inside one scale-up
/// domain, the scale-up link; across domains, the scale-out link of every member in a domain
/// (NCCL runs one ring per NIC), capped by the scale-up link.
pub fn group_bandwidth(n: f64, stride: f64, net: &Network) -> f64 {
    let local = (net.domain / stride).floor().max(1.0);
    if n * stride <= net.domain {
        net.scale_up
    } else {
        (local.min(n) * net.scale_out).min(net.scale_up)
    }
}

/// The factors of a layout's time per token that depend on its TP alone, per token of a
/// context-parallel rank and layer: the matmul seconds per FLOP, the element-wise (and eager
/// scores') seconds, and one TP all-reduce's seconds (see `Shape::floor`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TpTerms {
    pub matmul: f64,
    /// (the attention core's and the logits' matmuls: at the 16-bit peak in an 8-bit run)
    pub matmul16: f64,
    pub elementwise: f64,
    pub all_reduce: f64,
}

/// What the step needs of the model, once per point (the layout search reuses it for every
/// candidate): the shape, and the forward FLOPs per token of one layer and of the logits.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Shape {
    pub layers: f64,
    pub hidden: f64,
    pub heads: f64,
    pub head_dim: f64,
    pub kv_heads: f64,
    pub seq_len: f64,
    pub experts: f64,
    pub experts_per_token: f64,
    pub weight_fwd: f64,
    pub attn_fwd: f64,
    pub logits_fwd: f64,
    pub adapter_fwd: f64,
    /// Whether the shape is the rule's (no architecture given).
    pub rule: bool,
}

impl Shape {
    /// Whether a model's shape comes from the shape rule: its architecture lacks layers, width or heads.
    pub fn by_rule(arch: &Architecture) -> bool {
        ["layers", "d_model", "heads"].iter().any(|f| arch.get(f).is_none())
    }

    pub fn new(work: &Work) -> Shape {
        let rule = Shape::by_rule(&work.arch);
        let arch = if rule { rule_architecture(work.params, work.arch.seq_len) } else { work.arch.clone() };
        let (l, h, a) = (arch.layers.unwrap(), arch.d_model.unwrap(), arch.heads.unwrap());
        let s = arch.seq_len.unwrap_or(RULE_SEQ_LEN);
        let q = arch.head_dim.unwrap_or(h / a);
        let g = arch.kv_heads.unwrap_or(a);
        let f = arch.ffn_dim.unwrap_or(4.0 * h);
        let vocab = arch.vocab.unwrap_or(RULE_VOCAB);
        let experts = arch.experts.unwrap_or(1.0);
        let moe = experts > 1.0;
        let k = if moe { arch.experts_per_token.unwrap_or(1.0) } else { 1.0 };
        let mats = if arch.gated_mlp { 3.0 } else { 2.0 };
        // Without an MLP width (DeepSeek-V3's preset: dense and expert layers differ), a layer's
        // matmuls are the active parameters' share: 2·(N_active − 2·V·h)/L (the embedding and the
        // output projection out; the logits are counted apart), at least half of 2·N_active/L.
        // The shape rule's layer is 12·h² = N/L: its matmuls are the active parameters' share.
        let weight_fwd = match arch.ffn_dim {
            _ if rule => 2.0 * work.active_params / l,
            None => 2.0 * (work.active_params - 2.0 * vocab * h).max(0.5 * work.active_params) / l,
            _ => 2.0 * h * (a * q + 2.0 * g * q) + 2.0 * a * q * h + 2.0 * mats * h * f * k
                + if moe && arch.ffn_dim.is_some() { 2.0 * h * experts } else { 0.0 },
        };
        Shape {
            layers: l,
            hidden: h,
            heads: a,
            head_dim: q,
            kv_heads: g,
            seq_len: s,
            experts,
            experts_per_token: k,
            weight_fwd,
            attn_fwd: 4.0 * s * a * q,
            logits_fwd: 2.0 * h * vocab,
            // LoRA's adapters: 2 FLOPs per trainable parameter forward, spread over the layers.
            adapter_fwd: if work.mode == Mode::Lora { 2.0 * work.trainable_params / l } else { 0.0 },
            rule,
        }
    }

    /// The FLOPs of one layer per token, forward and backward (and the recomputed forward).
    /// (the linear layers' FLOPs, the attention core's)
    pub fn layer_flops(&self, work: &Work, recompute: Recompute) -> (f64, f64) {
        let weight_passes = if work.mode == Mode::Lora { 2.0 } else { 3.0 };
        let (extra_weight, extra_attn) = match recompute {
            Recompute::None => (0.0, 0.0),
            Recompute::Selective => (0.0, 1.0),
            Recompute::Full => (1.0, 1.0),
        };
        (self.weight_fwd * (weight_passes + extra_weight) + self.adapter_fwd * (3.0 + extra_weight),
         self.attn_fwd * (3.0 + extra_attn))
    }

    /// The factors of a layout's time per token that depend on its TP alone (`Shape::floor`).
    pub fn tp_terms(&self, work: &Work, t: f64, sequence_parallel: bool, net: &Network) -> TpTerms {
        let width = if matches!(work.precision, Precision::Fp32 | Precision::Tf32) { 2.0 } else { 1.0 };
        let split = if sequence_parallel { t } else { 1.0 };
        let scores = match work.attention {
            Attention::Eager => SCORE_BYTES * (self.heads / t) * self.seq_len,
            Attention::Flash => 0.0,
        };
        let eff = gemm_efficiency(self.hidden, t);
        TpTerms {
            matmul: 1.0 / (t * work.linear_peak() * eff),
            matmul16: 1.0 / (t * work.attention_peak() * eff),
            elementwise: width * (ELEMENTWISE_BYTES * self.hidden / split + scores) / net.hbm,
            all_reduce: all_reduce(2.0 * width * self.hidden, t, group_bandwidth(t, 1.0, net)),
        }
    }

    /// A lower bound of a layout's step time per token, from the terms `step_of` adds per
    /// micro-batch slot that need no more than the TP (`tp`), the layers per stage, the slots
    /// (m + (p−1)/v) and 1/(m·d·c): the matmuls, the element-wise work and the TP all-reduces of
    /// the busiest stage. The step's other terms (EP, CP, PP traffic, exposed DP, the optimizer)
    /// only add time. Per token the micro-batch's size cancels:
    /// slots/(m·d·c) · (layers·F_lin / (t·peak·eff) + (layers·F_attn + 3·logits) / (t·peak16·eff)
    /// + layers·(elementwise + collectives·all-reduce)), the peaks as `Work` times them.
    #[allow(clippy::too_many_arguments)]
    pub fn floor(&self, tp: &TpTerms, (linear, attention): (f64, f64), collectives: f64, layers: f64, slots: f64,
                 inv_mdc: f64) -> f64 {
        slots * inv_mdc * (layers * linear * tp.matmul + (layers * attention + 3.0 * self.logits_fwd) * tp.matmul16
            + layers * (tp.elementwise + collectives * tp.all_reduce))
    }

    /// The matmul time of one micro-batch on the busiest (last) stage, and the micro-batch slots
    /// of a step — or None when the layout's ranks outnumber the batch's sequences.
    pub fn compute(&self, work: &Work, layout: &Layout, recompute: Recompute) -> Option<(f64, f64, f64, f64)> {
        let (t, p, c) = (layout.tensor, layout.pipeline, layout.context);
        let (b, v) = (layout.micro_batch, layout.interleave);
        let d = layout.gpus / (t * p * c);
        // The batch in whole micro-batches per data-parallel rank: the nearest multiple of d·b
        // sequences. Fewer sequences than d·b would leave ranks idle: no such layout.
        let wanted = layout.global_batch_tokens / self.seq_len;
        if !(d * b <= wanted * (1.0 + 1e-12)) || !(d >= 1.0 && d.fract() == 0.0) {
            return None; // (more ranks × micro-batch than the batch has sequences)
        }
        let m = (wanted / (d * b)).round().max(1.0);
        let n = b * self.seq_len / c; // tokens of a micro-batch on one context-parallel rank
        let layers = (self.layers / p).ceil();
        let (linear, attention) = self.layer_flops(work, recompute);
        let eff = gemm_efficiency(self.hidden, t);
        let compute = n / t * (layers * linear / (work.linear_peak() * eff)
            + (layers * attention + 3.0 * self.logits_fwd) / (work.attention_peak() * eff));
        Some((compute, m, m + (p - 1.0) / v, d))
    }
}

/// One optimizer step of `work` on `layout` over `net`.
pub fn step(work: &Work, layout: &Layout, net: &Network) -> Result<Step, ModelError> {
    step_of(&Shape::new(work), work, layout, net)
}

/// One optimizer step, the model's shape given (`Shape::new(work)`).
pub fn step_of(shape: &Shape, work: &Work, layout: &Layout, net: &Network) -> Result<Step, ModelError> {
    Ok(step_parts(shape, work, layout, net)?.with_zero(layout.zero))
}

/// A step's parts that do not depend on the ZeRO stage (the layout search steps a candidate once
/// and finishes it for each stage).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepParts {
    pipeline: f64,
    compute: f64,
    slots: f64,
    m: f64,
    d: f64,
    once: f64,
    dense: f64,
    routed: f64,
    replicas: f64,
    tokens: f64,
    tp: f64,
    ep: f64,
    cp: f64,
    pp: f64,
    per_micro_batch: f64,
    memory_bound: f64,
    bubble_slots: f64,
    gpus: f64,
    model_flops_per_token: f64,
    peak: f64,
    hbm: f64,
    rule: bool,
}

/// The inputs a step refuses (its errors but a batch too small for the layout, which is no layout):
/// `step_parts` checks them first; a sweep that does not write the step's columns checks only them.
pub fn check(shape: &Shape, work: &Work, layout: &Layout, net: &Network) -> Result<(), ModelError> {
    check_inputs(shape.layers, shape.rule, work.peak, layout, net)
}

/// `check` on what it reads: the model's layers (and whether they come from the shape rule, which
/// fits any pipeline), the peak, the layout and the network.
pub fn check_inputs(l: f64, rule: bool, peak: f64, layout: &Layout, net: &Network) -> Result<(), ModelError> {
    let (p, v) = (layout.pipeline, layout.interleave);
    for (name, x) in [("scale_up_domain", net.domain), ("scale_up_gb_per_s", net.scale_up), ("hbm_bandwidth", net.hbm),
                      ("peak", peak)] {
        if !(x.is_finite() && x > 0.0) {
            return Err(out_of_range(name, x, "a finite number > 0"));
        }
    }
    // (a scale-out figure may be missing when the job fits in one domain: it is never used)
    if !(net.scale_out.is_nan() && layout.gpus <= net.domain) && !(net.scale_out.is_finite() && net.scale_out > 0.0) {
        return Err(out_of_range("scale_out_gbps", net.scale_out, "a finite number > 0 (the job spans scale-up domains)"));
    }
    if !rule && p > l {
        return Err(out_of_range("pipeline_parallel", p, &format!("at most the layers ({l}): a stage holds a layer")));
    }
    if v > 1.0 && (p == 1.0 || ((l / p).ceil() / v).fract() != 0.0) {
        return Err(out_of_range(
            "interleave",
            v,
            &format!("1, or with PP > 1 a divisor of the layers per stage ({})", (l / p).ceil()),
        ));
    }
    Ok(())
}

/// The ZeRO-independent parts of one optimizer step.
pub fn step_parts(shape: &Shape, work: &Work, layout: &Layout, net: &Network) -> Result<StepParts, ModelError> {
    check(shape, work, layout, net)?;
    let (t, p, c, e) = (layout.tensor, layout.pipeline, layout.context, layout.expert);
    let (b, v) = (layout.micro_batch, layout.interleave);
    let (l, h, a) = (shape.layers, shape.hidden, shape.heads);
    let (s, q, g) = (shape.seq_len, shape.head_dim, shape.kv_heads);
    let (experts, k) = (shape.experts, shape.experts_per_token);
    let moe = experts > 1.0;
    let rule = shape.rule;
    let Some((compute, m, slots, d)) = shape.compute(work, layout, work.recompute) else {
        let d = layout.gpus / (t * p * c);
        return Err(ModelError::SmallBatch { given: layout.global_batch_tokens, sequences: d * b, seq_len: s });
    };
    let seqs = m * d * b;
    let n = b * s / c; // tokens of a micro-batch on one context-parallel rank
    let layers = (l / p).ceil();
    let extra_weight = if work.recompute == Recompute::Full { 1.0 } else { 0.0 };
    let extra_attn = if work.recompute == Recompute::None { 0.0 } else { 1.0 };
    let attn_fwd = shape.attn_fwd;
    let attn_compute = n * layers * attn_fwd * (3.0 + extra_attn) / t / (work.attention_peak() * gemm_efficiency(h, t));

    // Memory-bound work: element-wise ops, and eager attention's s×s scores.
    let width = if matches!(work.precision, Precision::Fp32 | Precision::Tf32) { 2.0 } else { 1.0 };
    let split = if layout.sequence_parallel { t } else { 1.0 };
    let elementwise = ELEMENTWISE_BYTES * n * h * layers / split;
    let scores = match work.attention {
        Attention::Eager => SCORE_BYTES * b * (a / t) * s * (s / c) * layers,
        Attention::Flash => 0.0,
    };
    let memory_bound = width * (elementwise + scores) / net.hbm;

    // Tensor parallelism: two all-reduces (or all-gather + reduce-scatter under sequence
    // parallelism, the same bytes) per layer forward, two backward, two more when the forward is
    // recomputed, of the micro-batch's n·h 16-bit activations.
    let act_bytes = 2.0 * width * n * h;
    let tp_bw = group_bandwidth(t, 1.0, net);
    let collectives = 4.0 + 2.0 * extra_weight;
    let tp = layers * collectives * all_reduce(act_bytes, t, tp_bw);
    // Expert parallelism: an all-to-all dispatch and combine per MoE layer forward and backward
    // (and in a recomputed forward) of the k routed copies of the tokens; (e−1)/e leaves the rank.
    let ep_bw = group_bandwidth(e, t * c, net);
    let ep = if moe && e > 1.0 {
        layers * (4.0 + 2.0 * extra_weight) * act_bytes * k / t * (e - 1.0) / e / ep_bw
    } else {
        0.0
    };
    // Context parallelism: ring attention passes the K and V of n tokens around c ranks each
    // layer (forward; backward passes them and their gradients), hidden behind the attention core.
    let cp_bw = group_bandwidth(c, t, net);
    let kv_bytes = 2.0 * width * 2.0 * n * g * q / t;
    let cp = if c > 1.0 {
        (layers * (c - 1.0) * kv_bytes * (3.0 + extra_attn) / cp_bw - attn_compute).max(0.0)
    } else {
        0.0
    };
    // Pipeline: each micro-batch crosses every stage boundary forward and backward (1/t of it
    // under Megatron's scatter-gather), v times with interleaving.
    let pp_bw = if t * c * d * p <= net.domain { net.scale_up } else { net.scale_out };
    let pp = if p > 1.0 { v * 2.0 * act_bytes / t / pp_bw } else { 0.0 };
    let per_micro_batch = compute + memory_bound + tp + ep + cp + pp;
    let pipeline = slots * per_micro_batch;

    // Data parallelism: the gradients (and with ZeRO-3 the weights) of one GPU's share, reduced
    // over the d·c replicas (the experts' share over d·c/e), after the last backward pass.
    let replicas = d * c;
    let expert_share = if moe && work.active_params < work.params {
        ((work.params - work.active_params) * experts / (experts - k) / work.params).min(1.0)
    } else {
        0.0
    };
    let trainable = if work.mode == Mode::Lora { work.trainable_params } else { work.params };
    let dense = trainable * (1.0 - if work.mode == Mode::Lora { 0.0 } else { expert_share }) / (t * p);
    let routed = trainable * if work.mode == Mode::Lora { 0.0 } else { expert_share } / (t * p * e);
    let grad_bytes = 2.0 * width;
    // Once per step: the gradients' reduce-scatter and the updated weights' all-gather (ZeRO-0's
    // all-reduce moves the same bytes); ZeRO-3 gathers the weights for every micro-batch's forward
    // and backward instead, prefetched behind the compute.
    let ring = |params: f64, n: f64| all_reduce(params * grad_bytes, n, group_bandwidth(n, t * c, net));
    let once = ring(dense, replicas) + ring(routed, replicas / e);
    Ok(StepParts {
        pipeline,
        compute,
        slots,
        m,
        d,
        once,
        dense,
        routed,
        replicas,
        tokens: seqs * s,
        tp,
        ep,
        cp,
        pp,
        per_micro_batch,
        memory_bound,
        bubble_slots: (p - 1.0) / v,
        gpus: layout.gpus,
        model_flops_per_token: work.model_flops_per_token,
        peak: work.peak,
        hbm: net.hbm,
        rule,
    })
}

impl StepParts {
    /// The step at ZeRO stage `zero`.
    pub fn with_zero(&self, zero: u8) -> Step {
        let StepParts { pipeline, compute, slots, m, d, once, dense, routed, replicas, tokens, tp, ep, cp, pp,
                        per_micro_batch, memory_bound, bubble_slots, .. } = *self;
        let (reduce, gathers) = if zero >= 3 { (once / 2.0, once * m) } else { (once, 0.0) };
        let dp = (reduce - DP_OVERLAP * compute * 2.0 / 3.0).max(0.0) + (gathers - slots * compute).max(0.0);
        let shards = if zero >= 1 { replicas } else { 1.0 };
        let optimizer = OPTIMIZER_BYTES * (dense + routed) / shards / self.hbm;

        let step_time = pipeline + dp + optimizer;
        let tokens_per_s = tokens / step_time;
        let comm = slots * (tp + ep + cp + pp) + dp;
        Step {
            step_time_s: step_time,
            tokens_per_s,
            mfu: self.model_flops_per_token * tokens_per_s / (self.gpus * self.peak),
            data_parallel: d,
            grad_accum: m,
            global_batch_tokens: tokens,
            bubble_fraction: bubble_slots * per_micro_batch / step_time,
            comm_exposed_fraction: comm / step_time,
            compute_s: slots * compute,
            memory_bound_s: slots * memory_bound,
            tp_comm_s: slots * tp,
            ep_comm_s: slots * ep,
            cp_comm_s: slots * cp,
            pp_comm_s: slots * pp,
            dp_comm_s: dp,
            optimizer_s: optimizer,
            bubble_s: bubble_slots * per_micro_batch,
            rule: self.rule,
        }
    }
}
