//! Serving (issue 13): the weights and the KV cache per GPU, the largest decode batch that fits,
//! prefill time (TTFT) and decode step time (TPOT) as rooflines, and the output tokens/s of a
//! replica under continuous batching. The formulas and their sources are in
//! `shared/reference/serving-model-notes.md` (kipply 2022; the JAX scaling book, ch. 7;
//! llm-analysis; Databricks' "LLM Inference Performance Engineering"):
//!
//! - KV bytes per token: 2 · L · H_kv · d_h · b_kv (K and V), per GPU max(H_kv/TP, 1) heads (the
//!   cache is replicated once TP exceeds the KV heads);
//! - decode step: max(weights + batch · context · KV bytes per GPU) / (HBM bandwidth · MBU),
//!   batch · (2·N_active + attention) FLOPs / (TP · peak · MFU)) + TP all-reduces;
//! - prefill of one prompt: (2·N_active·s + 2·L·s²·H·d_h) FLOPs / (TP · peak · MFU) + TP all-reduces;
//! - continuous batching: a replica decodes `batch` sequences at a time and prefills each new
//!   prompt as one finishes, so `batch` outputs of `output` tokens take output · TPOT + batch · TTFT.
//!
//! Expert parallelism (`Run::expert_parallel`, EP) of a mixture of experts: EP at most TP splits
//! the routed experts' weights over the TP GPUs (TensorRT-LLM's moe_ep_size × moe_tp_size = TP:
//! the same bytes and FLOPs per GPU as TP alone); EP beyond TP (a multiple of it) is wide expert
//! parallelism (vLLM's data-parallel attention with `--enable-expert-parallel`, SGLang's DP
//! attention, DeepSeek's serving): EP/TP groups of TP GPUs each serve their own sequences with the
//! attention and dense weights replicated per group, the routed experts split over all EP GPUs
//! (whole experts), and each MoE layer sends every token's k copies to its experts and back (two
//! all-to-alls) in place of the MLP's all-reduce. Routing is taken as balanced and every weight as
//! read each step (true from a few sequences per expert on).

use crate::model::types::{out_of_range, ModelError};

/// Default efficiencies, fitted on TensorRT-LLM 0.17's published throughput (benchmarks/
/// calibrate_serve.py: median |error| 16.9% on its 33 rows, 12.0% on TensorRT-LLM 1.0's 60 rows
/// without refitting): achieved HBM bandwidth in decode, achieved peak in decode and prefill GEMMs.
pub const MBU: f64 = 0.6;
pub const MFU_DECODE: f64 = 0.2;
pub const MFU_PREFILL: f64 = 0.7;
/// Achieved fraction of the scale-up bandwidth in TP all-reduces: the link's figure (fitted jointly on
/// TensorRT-LLM 0.17 it is 0.4, which does not carry over to TensorRT-LLM 1.0: not shipped).
pub const TP_EFFICIENCY: f64 = 1.0;
/// Bytes per GPU reserved beside the weights and the cache (activations, CUDA context, workspace).
pub const RESERVED_BYTES: f64 = 2e9;
/// The share of the memory left that holds the KV cache: TensorRT-LLM's default
/// kv_cache_free_gpu_mem_fraction (0.9; its published benchmarks use 0.95).
pub const KV_FRACTION: f64 = 0.9;
/// Latency per all-reduce, seconds (llm-analysis' intra-node minimum message latency for H100).
pub const ALL_REDUCE_LATENCY: f64 = 8e-6;

/// How served numbers are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Width {
    Bf16,
    Fp8,
    Int8,
    /// 4-bit weights in groups of 128 with a 16-bit scale and a 4-bit zero point each (AWQ's
    /// default, Lin et al. 2024; GPTQ's with group size 128).
    Int4,
}

crate::model::types::named_enum!(Width {
    "bf16" => Width::Bf16, "fp8" => Width::Fp8, "int8" => Width::Int8, "int4" => Width::Int4,
});

impl Width {
    pub const ALL: [Width; 4] = [Width::Bf16, Width::Fp8, Width::Int8, Width::Int4];

    /// Bytes per stored number, group constants included.
    pub fn bytes(self) -> f64 {
        match self {
            Width::Bf16 => 2.0,
            Width::Fp8 | Width::Int8 => 1.0,
            Width::Int4 => 0.5 + (2.0 + 0.5) / 128.0,
        }
    }
}

/// The served model's shape.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Model {
    /// All parameters (the weights read and stored).
    pub params: f64,
    /// Parameters active per token (MoE: the routed experts' share), for the FLOPs.
    pub active_params: f64,
    pub layers: f64,
    pub hidden: f64,
    pub heads: f64,
    pub kv_heads: f64,
    pub head_dim: f64,
    /// Routed experts per MoE layer (1: a dense model).
    pub experts: f64,
    /// Experts each token is routed to (MoE).
    pub experts_per_token: f64,
    /// Multi-head latent attention's cached width per token per layer (0: K and V per KV head).
    pub kv_latent: f64,
}

impl Model {
    /// The routed experts' parameters, from the total and active counts: a routed expert holds
    /// x = (N − N_active) / (E − k) of them, all E experts E·x (shared experts and the rest are
    /// dense). 0 for a dense model.
    pub fn routed_params(&self) -> f64 {
        let (e, k) = (self.experts, self.experts_per_token);
        if e > 1.0 && k >= 1.0 && e > k && self.params > self.active_params {
            e * (self.params - self.active_params) / (e - k)
        } else {
            0.0
        }
    }
}

/// One accelerator as serving uses it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hardware {
    /// Dense peak at the GEMMs' precision, FLOP/s.
    pub peak: f64,
    /// HBM bandwidth, bytes/s.
    pub hbm: f64,
    /// Device memory, bytes.
    pub memory: f64,
    /// Scale-up (NVLink) bandwidth per GPU per direction, bytes/s: the TP all-reduces.
    pub scale_up: f64,
    /// GPUs per scale-up domain: a replica of TP × PP GPUs beyond it sends between pipeline stages
    /// over the scale-out network.
    pub domain: f64,
    /// Scale-out bandwidth per GPU per direction, bytes/s (0: none).
    pub scale_out: f64,
}

/// How the model is served.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Run {
    pub tensor_parallel: f64,
    /// Pipeline stages, each L/PP layers: a sequence's token passes them one after another; the
    /// batch is split into PP micro-batches so that every stage is busy.
    pub pipeline_parallel: f64,
    /// Expert-parallel degree of the MoE layers: a divisor of TP (the routed experts split over the
    /// TP GPUs) or a multiple of it (EP/TP groups with data-parallel attention, all EP GPUs holding
    /// whole experts); it divides the routed experts.
    pub expert_parallel: f64,
    pub weights: Width,
    pub kv: Width,
    pub input_tokens: f64,
    pub output_tokens: f64,
    /// Concurrent sequences; None: the most that fit (`max_batch`), capped at `batch_cap`.
    pub batch: Option<f64>,
    /// The server's own batch limit (None: none).
    pub batch_cap: Option<f64>,
    /// Achieved fraction of HBM bandwidth in decode (MBU).
    pub mbu: f64,
    /// Achieved fraction of the peak in decode's GEMMs (MFU when compute-bound).
    pub mfu_decode: f64,
    /// Achieved fraction of the peak in prefill.
    pub mfu_prefill: f64,
    /// Achieved fraction of the scale-up bandwidth in the TP all-reduces.
    pub tp_efficiency: f64,
    /// The share of the memory left after the weights and `reserved` that holds the KV cache
    /// (TensorRT-LLM's kv_cache_free_gpu_mem_fraction, vLLM's gpu_memory_utilization).
    pub kv_fraction: f64,
    /// Bytes per GPU neither weights nor cache: activations, CUDA context, workspace.
    pub reserved: f64,
    /// Seconds of latency per all-reduce (llm-analysis' intra-node minimum message latency).
    pub all_reduce_latency: f64,
    /// A bound on the decode step (TPOT), seconds: with no batch given, the largest batch that
    /// fits and meets it is served; a batch given that misses it does not meet the bound.
    pub max_tpot: Option<f64>,
    /// A bound on the time to first token (one prompt's prefill), seconds.
    pub max_ttft: Option<f64>,
}

/// A served model's figures, per replica (TP GPUs) unless said.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Serving {
    pub weights_bytes_per_gpu: f64,
    /// KV cache bytes per token of the whole model (all GPUs of the replica).
    pub kv_bytes_per_token: f64,
    /// KV cache bytes of one sequence of input + output tokens (whole model).
    pub kv_bytes_per_sequence: f64,
    /// The most concurrent sequences whose caches fit (at the average context of a decode).
    pub max_batch: f64,
    pub batch: f64,
    pub ttft_s: f64,
    pub tpot_s: f64,
    /// TTFT + (output − 1) · TPOT.
    pub latency_s: f64,
    pub output_tokens_per_s: f64,
    pub output_tokens_per_s_per_gpu: f64,
    /// Prompt tokens prefilled per second at the same load.
    pub input_tokens_per_s: f64,
    /// The batch from which decode is compute-bound (infinite: the KV reads grow as fast).
    pub critical_batch: f64,
    /// Whether the decode step at `batch` is compute-bound.
    pub compute_bound: bool,
    /// Whether the TPOT and TTFT bounds (if any) are met.
    pub meets_bounds: bool,
    /// Replica-seconds of decode per output token, TPOT / batch, written so that it is the same
    /// number at every batch where it is mathematically the same (compute-bound on one GPU: the
    /// FLOPs of one token), and a price ranked by it prefers the smallest of equal batches.
    pub decode_s_per_token: f64,
}

fn all_reduce(bytes: f64, n: f64, bw: f64, latency: f64) -> f64 {
    if n <= 1.0 {
        0.0
    } else {
        2.0 * (n - 1.0) / n * bytes / bw + latency
    }
}

/// What a replica's figures are before its batch is chosen: memory, prefill, and the decode step as
/// an affine roofline of the batch b, max(read0 + read1·b, math1·b) + comm0 + comm1·b. A sweep
/// computes it once per layout and request and `at` once per batch (the engine's `serve_layout`
/// and `serve_batch` stages).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Replica {
    pub tensor_parallel: f64,
    pub pipeline_parallel: f64,
    /// Attention groups of TP GPUs, each decoding its own sequences: EP/TP with wide expert
    /// parallelism, else 1. The replica holds TP · groups · PP GPUs.
    pub groups: f64,
    pub input_tokens: f64,
    pub output_tokens: f64,
    pub weights_bytes_per_gpu: f64,
    pub kv_bytes_per_token: f64,
    /// The most sequences whose caches fit (within the server's limit); 0: none.
    pub max_batch: f64,
    pub ttft_s: f64,
    /// The batch from which decode is compute-bound (infinite: never).
    pub critical_batch: f64,
    /// Seconds of a decode step: the weights' reads, each sequence's cache reads, its FLOPs, and
    /// the TP all-reduces' latency and bytes.
    pub read0: f64,
    pub read1: f64,
    pub math1: f64,
    pub comm0: f64,
    pub comm1: f64,
    /// The latency bounds (NaN: none).
    pub max_tpot: f64,
    pub max_ttft: f64,
}

impl Replica {
    /// The batch-independent figures of `model` on `hw` run as `run` (`run.batch` aside).
    pub fn new(model: &Model, hw: &Hardware, run: &Run) -> Result<Replica, ModelError> {
        let t = run.tensor_parallel;
        if !(t >= 1.0 && t.fract() == 0.0) {
            return Err(out_of_range("tensor_parallel", t, "a whole number >= 1"));
        }
        if (model.heads / t).fract() != 0.0 {
            return Err(out_of_range("tensor_parallel", t, &format!("a divisor of the {} heads", model.heads)));
        }
        let p = run.pipeline_parallel;
        if !(p >= 1.0 && p.fract() == 0.0) || (model.layers / p).fract() != 0.0 {
            return Err(out_of_range("pipeline_parallel", p, &format!("a divisor of the {} layers", model.layers)));
        }
        let ep = run.expert_parallel;
        let routed = model.routed_params();
        if !(ep >= 1.0 && ep.fract() == 0.0) {
            return Err(out_of_range("expert_parallel", ep, "a whole number >= 1"));
        }
        if ep > 1.0 && routed == 0.0 {
            return Err(out_of_range("expert_parallel", ep, "1 for a dense model (expert parallelism splits a mixture of experts' routed experts)"));
        }
        if ep > 1.0 && ((model.experts / ep).fract() != 0.0 || ((t / ep).fract() != 0.0 && (ep / t).fract() != 0.0)) {
            return Err(out_of_range("expert_parallel", ep, &format!(
                "a divisor of the {} routed experts that divides TP or is a multiple of it", model.experts)));
        }
        let groups = if ep > t { ep / t } else { 1.0 };
        for (name, x) in [("input_tokens", run.input_tokens), ("output_tokens", run.output_tokens)] {
            if !(x >= 1.0 && x.is_finite()) {
                return Err(out_of_range(name, x, "a number of tokens >= 1"));
            }
        }
        for (name, x) in [("mbu", run.mbu), ("mfu_decode", run.mfu_decode), ("mfu_prefill", run.mfu_prefill),
                          ("kv_fraction", run.kv_fraction), ("tp_efficiency", run.tp_efficiency)] {
            if !(x > 0.0 && x <= 1.0) {
                return Err(out_of_range(name, x, "a fraction in (0, 1]"));
            }
        }
        let (l, d, q) = (model.layers, model.hidden, model.head_dim);
        // MLA caches one latent per token per layer for all heads (every TP rank holds it); decode
        // attends over it with the projections absorbed: 2·(latent + latent) FLOPs per position per
        // head stand for QK over the latent and rope part and AV over the latent (+6% for DeepSeek's
        // 576 = 512 + 64: the AV term is counted at 576).
        let mla = model.kv_latent > 0.0;
        let (kv_token, kv_token_gpu, attention_width) = if mla {
            (l * model.kv_latent * run.kv.bytes(), (l / p) * model.kv_latent * run.kv.bytes(), model.kv_latent)
        } else {
            (2.0 * l * model.kv_heads * q * run.kv.bytes(),
             2.0 * (l / p) * (model.kv_heads / t).max(1.0) * q * run.kv.bytes(), q)
        };
        // (the attention and dense weights in every group, the routed experts split over all)
        let weights = if groups > 1.0 {
            ((model.params - routed) / (t * p) + routed / (t * groups * p)) * run.weights.bytes()
        } else {
            model.params * run.weights.bytes() / (t * p)
        };
        let (s_in, s_out) = (run.input_tokens, run.output_tokens);
        // The cache a sequence holds on average while it decodes (paged: blocks as it grows).
        let context = s_in + s_out / 2.0;
        let free = (hw.memory - weights - run.reserved) * run.kv_fraction;
        let max_batch = groups * (free / (context * kv_token_gpu)).floor().max(0.0);
        let max_batch = run.batch_cap.map_or(max_batch, |c| max_batch.min(c));
        // Decode: a step of b sequences at the average context, as PP micro-batches of b/PP, each
        // through every stage in turn: the weights of all stages read once per token, each
        // sequence's cache, its FLOPs on all TP × PP GPUs, the TP all-reduces of each layer, and
        // PP − 1 sends of a micro-batch's activations (sharded over TP) between stages.
        let width = 2.0; // (activations are 16-bit: the all-reduces move b·h of them)
        let bw = hw.hbm * run.mbu;
        // (each group decodes b/groups of the sequences: their caches, and a share of all FLOPs)
        let read1 = context * kv_token_gpu / bw / groups;
        let math1 = (2.0 * model.active_params + 4.0 * l * context * model.heads * attention_width)
            / (t * groups * p * hw.peak * run.mfu_decode);
        // (within the domain on its link when the catalog has one, else the scale-out network)
        let link = if t * groups * p <= hw.domain && hw.scale_up > 0.0 { hw.scale_up } else { hw.scale_out };
        // Wide EP: one all-reduce per layer (the attention's) in a group, and the MoE layer's two
        // all-to-alls over the EP GPUs of a stage: each GPU sends its 1/EP of the tokens' k copies,
        // (EP − 1)/EP of them to other GPUs (over the scale-up link within the domain).
        let reduces = if groups > 1.0 { 1.0 } else { 2.0 };
        let ep_link = if ep <= hw.domain && hw.scale_up > 0.0 { hw.scale_up } else { hw.scale_out };
        let k = model.experts_per_token;
        let (mut comm0, mut comm1) = if t > 1.0 {
            (reduces * l * run.all_reduce_latency,
             reduces * l * 2.0 * (t - 1.0) / t * width * d / (hw.scale_up * run.tp_efficiency) / p / groups)
        } else {
            (0.0, 0.0)
        };
        if groups > 1.0 {
            comm0 += 2.0 * l * run.all_reduce_latency;
            comm1 += 2.0 * l * k * (ep - 1.0) / ep * width * d / ep / ep_link / p;
        }
        if p > 1.0 {
            comm0 += (p - 1.0) * run.all_reduce_latency;
            comm1 += (p - 1.0) * width * d / (p * t) / link / groups;
        }
        // Prefill of one prompt: causal attention is half the s² term; its stages one after another.
        let prefill_flops = 2.0 * model.active_params * s_in + 2.0 * l * s_in * s_in * model.heads * q;
        // (a group prefills its prompt while the others prefill theirs: the experts' FLOPs of the
        // groups' prompts share the EP GPUs, a group's share on TP GPUs' worth of them)
        let tp_prefill = reduces * l * all_reduce(width * s_in * d, t, hw.scale_up * run.tp_efficiency, run.all_reduce_latency)
            + if p > 1.0 { (p - 1.0) * (width * s_in * d / t / link + run.all_reduce_latency) } else { 0.0 }
            + if groups > 1.0 {
                2.0 * l * (s_in * k * (ep - 1.0) / ep * width * d / t / ep_link + run.all_reduce_latency)
            } else {
                0.0
            };
        let ttft = prefill_flops / (t * hw.peak * run.mfu_prefill) + tp_prefill;
        let read0 = p * weights / bw;
        // Compute-bound from B*: B·math1 = W/BW + B·read1.
        let critical = if math1 > read1 { read0 / (math1 - read1) } else { f64::INFINITY };
        // Figures beyond the float range come from inputs at its edge (an MBU of 1e-320): refused,
        // naming the input that took them there.
        let finite = "a value that keeps the serving figures within the float range (±1.8e308)";
        for (name, given, x) in [("params", model.params, weights + kv_token), ("mbu", run.mbu, bw),
                                 ("mbu", run.mbu, read0 + read1), ("mfu_decode", run.mfu_decode, math1),
                                 ("tp_efficiency", run.tp_efficiency, 1.0 / run.tp_efficiency),
                                 ("scale_up_gb_per_s", hw.scale_up / 1e9, comm1 + tp_prefill),
                                 ("mfu_prefill", run.mfu_prefill, ttft)] {
            if !x.is_finite() || (name == "mbu" && x == 0.0) {
                return Err(out_of_range(name, given, finite));
            }
        }
        Ok(Replica {
            tensor_parallel: t,
            pipeline_parallel: p,
            groups,
            input_tokens: s_in,
            output_tokens: s_out,
            weights_bytes_per_gpu: weights,
            kv_bytes_per_token: kv_token,
            max_batch,
            ttft_s: ttft,
            critical_batch: critical,
            read0,
            read1,
            math1,
            comm0,
            comm1,
            max_tpot: run.max_tpot.unwrap_or(f64::NAN),
            max_ttft: run.max_ttft.unwrap_or(f64::NAN),
        })
    }

    /// The decode step of `b` sequences, and whether it is compute-bound.
    #[inline]
    pub fn step(&self, b: f64) -> (f64, bool) {
        let e = self.spread(b);
        let read = self.read0 + self.read1 * e;
        let math = self.math1 * e;
        (read.max(math) + self.comm0 + self.comm1 * e, math > read)
    }

    /// The batch as the stages see it: fewer sequences than stages cannot be split into PP
    /// micro-batches, so each sequence's cache reads, FLOPs and sends run stage after stage as if
    /// PP sequences were decoding (a sequence is never spread over stages at once); likewise a
    /// group (wide EP) decodes at least one sequence. NaN stays NaN.
    #[inline]
    fn spread(&self, b: f64) -> f64 {
        let slots = self.slots();
        if b < slots { slots } else { b }
    }

    /// Sequences the replica decodes side by side at least: a micro-batch per stage per group.
    #[inline]
    fn slots(&self) -> f64 {
        self.pipeline_parallel * self.groups
    }

    /// GPUs of the replica.
    #[inline]
    pub fn gpus(&self) -> f64 {
        self.tensor_parallel * self.groups * self.pipeline_parallel
    }

    /// Replica-seconds of prefill per cycle of `b` sequences: the stages (of each group) prefill
    /// PP · groups prompts at a time (fewer: one after another through the stages).
    #[inline]
    fn prefill(&self, b: f64) -> f64 {
        let slots = self.slots();
        if b < slots { self.ttft_s } else { b * (self.ttft_s / slots) }
    }

    /// TPOT / b, written so that equal values are equal bits (see `decode_s_per_token`).
    #[inline]
    fn per_token(&self, b: f64) -> f64 {
        let inv = 1.0 / b;
        let slots = self.slots();
        let ei = if b < slots { slots * inv } else { 1.0 };
        (self.read0 * inv + self.read1 * ei).max(self.math1 * ei) + self.comm0 * inv + self.comm1 * ei
    }

    /// The batch served when none is given: the most that fit, or within a TPOT bound the largest
    /// that meets it (the step grows with the batch: a bisection over whole batches; 1 when even
    /// one sequence misses it, the bound then unmet). 0 when no sequence fits.
    pub fn default_batch(&self) -> f64 {
        let (m, bound) = (self.max_batch, self.max_tpot);
        if !(m >= 1.0) || !(self.step(m).0 > bound) {
            return m;
        }
        let (mut lo, mut hi) = (1.0_f64, m); // step(hi) > bound
        if self.step(lo).0 > bound {
            return 1.0;
        }
        while hi - lo > 1.0 {
            let mid = ((lo + hi) / 2.0).floor();
            if self.step(mid).0 <= bound { lo = mid } else { hi = mid }
        }
        lo
    }

    /// The replica's figures at `batch` concurrent sequences.
    #[inline]
    pub fn at(&self, batch: f64) -> Result<Serving, ModelError> {
        if !(batch >= 1.0) {
            return Err(out_of_range("batch", batch, "at least one sequence whose KV cache fits beside the weights"));
        }
        let (tpot, compute_bound) = self.step(batch);
        let (s_in, s_out, ttft) = (self.input_tokens, self.output_tokens, self.ttft_s);
        let r = self.rates(batch, tpot);
        // (NaN bounds compare false: no bound is met-or-missed, it is absent)
        let meets_bounds = !(tpot > self.max_tpot) && !(ttft > self.max_ttft);
        let per_token = self.per_token(batch);
        Ok(Serving {
            weights_bytes_per_gpu: self.weights_bytes_per_gpu,
            kv_bytes_per_token: self.kv_bytes_per_token,
            kv_bytes_per_sequence: self.kv_bytes_per_token * (s_in + s_out),
            max_batch: self.max_batch,
            batch,
            ttft_s: ttft,
            tpot_s: tpot,
            latency_s: r.latency_s,
            output_tokens_per_s: r.output_tokens_per_s,
            output_tokens_per_s_per_gpu: r.output_tokens_per_s_per_gpu,
            input_tokens_per_s: r.input_tokens_per_s,
            critical_batch: self.critical_batch,
            compute_bound,
            meets_bounds,
            decode_s_per_token: per_token,
        })
    }
}

/// What a replica's rates are at a batch and its step (the engine's `serve_rate` stage: only the
/// blocks that keep a point need them, after the filters and rankings that need the step alone).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rates {
    pub latency_s: f64,
    pub output_tokens_per_s: f64,
    pub output_tokens_per_s_per_gpu: f64,
    pub input_tokens_per_s: f64,
}

/// A block of batches' step figures, column by column: the two every other needs, and those asked for.
pub struct Columns<'a> {
    pub batch: &'a mut [f64],
    pub tpot_s: &'a mut [f64],
    pub compute_bound: Option<&'a mut [f64]>,
    pub memory_fits: Option<&'a mut [f64]>,
    pub meets_bounds: Option<&'a mut [f64]>,
    pub fits: Option<&'a mut [f64]>,
    pub decode_s_per_token: Option<&'a mut [f64]>,
}

impl Replica {
    /// The rates of `batch` sequences decoding at `tpot` a step: the stages prefill PP · groups
    /// prompts at a time, as they decode PP micro-batches in each group, so `batch` answers of `output` tokens take
    /// output · TPOT + the prefill of `batch` prompts. NaN in, NaN out.
    #[inline]
    pub fn rates(&self, batch: f64, tpot: f64) -> Rates {
        let (s_in, s_out) = (self.input_tokens, self.output_tokens);
        let tps = batch * s_out / (s_out * tpot + self.prefill(batch));
        Rates {
            latency_s: self.ttft_s + (s_out - 1.0) * tpot,
            output_tokens_per_s: tps,
            // (reciprocals of what a block does not change)
            output_tokens_per_s_per_gpu: tps * (1.0 / self.gpus()),
            input_tokens_per_s: tps * (s_in / s_out),
        }
    }

    /// `rates` over a block, each column asked for (the same bits: a test checks).
    pub fn rate_columns(&self, batch: &[f64], tpot: &[f64], out: [Option<&mut [f64]>; 4]) {
        let n = batch.len();
        let [latency, tps, tps_gpu, in_tps] = out;
        let (s_in, s_out, ttft) = (self.input_tokens, self.output_tokens, self.ttft_s);
        if let Some(c) = latency {
            for (c, &t) in c[..n].iter_mut().zip(&tpot[..n]) {
                *c = ttft + (s_out - 1.0) * t;
            }
        }
        let k = 1.0 / self.gpus();
        let r = s_in / s_out;
        match (tps, tps_gpu, in_tps) {
            (None, None, None) => {}
            (tps, tps_gpu, in_tps) => {
                let (mut tps, mut tps_gpu, mut in_tps) = (tps, tps_gpu, in_tps);
                for j in 0..n {
                    let b = batch[j];
                    let x = b * s_out / (s_out * tpot[j] + self.prefill(b));
                    if let Some(c) = tps.as_deref_mut() {
                        c[j] = x;
                    }
                    if let Some(c) = tps_gpu.as_deref_mut() {
                        c[j] = x * k;
                    }
                    if let Some(c) = in_tps.as_deref_mut() {
                        c[j] = x * r;
                    }
                }
            }
        }
    }

    /// The figures at each of `batches` (NaN: `default`), as `at` gives them (the same bits: a test
    /// checks), written column by column in passes the compiler vectorises: the engine's
    /// serve_batch over a block where only the batch varies. A batch `at` refuses (below one
    /// sequence), or one whose caches the memory cannot hold, has NaN figures (the latter keeps
    /// its batch), memory_fits and fits 0. Flags are 1 or 0.
    pub fn columns(&self, batches: &[f64], default: f64, out: Columns<'_>) {
        let n = batches.len();
        let ttft = self.ttft_s;
        let (batch, tpot) = (&mut out.batch[..n], &mut out.tpot_s[..n]);
        for j in 0..n {
            let b = if batches[j].is_nan() { default } else { batches[j] };
            let b = if b >= 1.0 { b } else { f64::NAN };
            // (a batch the memory cannot hold has no figures: `fitted`'s NaN carries through)
            let fitted = if b <= self.max_batch { b } else { f64::NAN };
            let e = self.spread(fitted);
            let t = (self.read0 + self.read1 * e).max(self.math1 * e) + self.comm0 + self.comm1 * e;
            batch[j] = b;
            tpot[j] = t;
        }
        let flag = |x: bool| if x { 1.0 } else { 0.0 };
        if let Some(c) = out.compute_bound {
            for (c, &b) in c[..n].iter_mut().zip(batch.iter()) {
                let e = self.spread(b);
                *c = if !(b <= self.max_batch) { f64::NAN } else { flag(self.math1 * e > self.read0 + self.read1 * e) };
            }
        }
        // (a batch given that the memory cannot hold: served figures, and fits false)
        let meets = |t: f64| !(t > self.max_tpot) && !(ttft > self.max_ttft);
        if let Some(c) = out.memory_fits {
            for (c, &b) in c[..n].iter_mut().zip(batch.iter()) {
                *c = flag(b <= self.max_batch);
            }
        }
        if let Some(c) = out.meets_bounds {
            for (c, (&b, &t)) in c[..n].iter_mut().zip(batch.iter().zip(tpot.iter())) {
                *c = if !(b <= self.max_batch) { f64::NAN } else { flag(meets(t)) };
            }
        }
        if let Some(c) = out.fits {
            for (c, (&b, &t)) in c[..n].iter_mut().zip(batch.iter().zip(tpot.iter())) {
                *c = flag(b <= self.max_batch && meets(t));
            }
        }
        if let Some(c) = out.decode_s_per_token {
            for (c, &b) in c[..n].iter_mut().zip(batch.iter()) {
                *c = if b <= self.max_batch { self.per_token(b) } else { f64::NAN };
            }
        }
    }
}

/// The serving figures of `model` on `hw` run as `run`: its batch, or the default one.
pub fn serve(model: &Model, hw: &Hardware, run: &Run) -> Result<Serving, ModelError> {
    let r = Replica::new(model, hw, run)?;
    r.at(run.batch.unwrap_or_else(|| r.default_batch()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn llama(layers: f64, hidden: f64, heads: f64, params: f64) -> Model {
        Model { params, active_params: params, layers, hidden, heads, kv_heads: 8.0, head_dim: 128.0, experts: 1.0, experts_per_token: 1.0, kv_latent: 0.0 }
    }

    fn h100() -> Hardware {
        Hardware { peak: 989.4e12, hbm: 3.35e12, memory: 80e9, scale_up: 450e9, domain: 8.0, scale_out: 50e9 }
    }

    fn run(tp: f64, batch: Option<f64>) -> Run {
        Run {
            tensor_parallel: tp, pipeline_parallel: 1.0, expert_parallel: 1.0, weights: Width::Bf16, kv: Width::Bf16, input_tokens: 512.0, output_tokens: 512.0, batch,
            batch_cap: None, mbu: 1.0, mfu_decode: 1.0, mfu_prefill: 1.0, tp_efficiency: 1.0, kv_fraction: 1.0, reserved: 0.0,
            all_reduce_latency: 0.0, max_tpot: None, max_ttft: None,
        }
    }

    /// The KV cache per token of Llama 2/3 70B (327,680 bytes in bf16), Llama 3.1 8B (131,072) and
    /// 405B (516,096); Databricks' 0.312 GiB for Llama 2 70B at 1,024 tokens.
    #[test]
    fn kv_cache_sizes_are_the_published_ones() {
        let m70 = llama(80.0, 8192.0, 64.0, 69e9);
        let s = serve(&m70, &Hardware { memory: 1e15, ..h100() }, &run(8.0, Some(1.0)).with_tokens(1024.0, 1.0)).unwrap();
        assert_eq!(s.kv_bytes_per_token, 327_680.0);
        assert!((s.kv_bytes_per_token * 1024.0 / (1u64 << 30) as f64 - 0.3125).abs() < 1e-12);
        let m8 = llama(32.0, 4096.0, 32.0, 8.03e9);
        let m405 = llama(126.0, 16384.0, 128.0, 405.85e9);
        let big = Hardware { memory: 1e15, ..h100() };
        assert_eq!(serve(&m8, &big, &run(1.0, Some(1.0))).unwrap().kv_bytes_per_token, 131_072.0);
        assert_eq!(serve(&m405, &big, &run(8.0, Some(1.0))).unwrap().kv_bytes_per_token, 516_096.0);
        let fp8 = Run { kv: Width::Fp8, ..run(1.0, Some(1.0)) };
        assert_eq!(serve(&m8, &big, &fp8).unwrap().kv_bytes_per_token, 65_536.0);
    }

    /// Weights-only decode turns compute-bound at B* = F·b_w/(2·BW) (kipply; the scaling book):
    /// 295 on an H100 in bf16 (the notes' table), half with 8-bit weights on 16-bit math.
    #[test]
    fn the_critical_batch_is_peak_over_bandwidth() {
        let m = llama(80.0, 8192.0, 64.0, 69e9);
        let big = Hardware { memory: 1e15, ..h100() };
        // With a one-token prompt and output the cache and attention are negligible: B* ≈ F/BW.
        let s = serve(&m, &big, &run(1.0, Some(1.0)).with_tokens(1.0, 1.0)).unwrap();
        assert!((s.critical_batch / (989.4e12 / 3.35e12) - 1.0).abs() < 0.01, "{}", s.critical_batch);
        // At 512 + 512 tokens: (W/BW) / ((2N + 4·L·c·H·q)/F − c·KV/BW), c = 768 tokens on average.
        let s = serve(&m, &big, &run(1.0, Some(1.0))).unwrap();
        let (c, kv) = (768.0, 327_680.0);
        let want = (69e9 * 2.0 / 3.35e12) / ((2.0 * 69e9 + 4.0 * 80.0 * c * 64.0 * 128.0) / 989.4e12 - c * kv / 3.35e12);
        assert!((s.critical_batch / want - 1.0).abs() < 1e-12, "{} vs {want}", s.critical_batch);
        // 8-bit weights on 16-bit math halve it (the scaling book's int8 case).
        let w8 = serve(&m, &big, &Run { weights: Width::Int8, ..run(1.0, Some(1.0)) }.with_tokens(1.0, 1.0)).unwrap();
        assert!((w8.critical_batch / (989.4e12 / 3.35e12 / 2.0) - 1.0).abs() < 0.01, "{}", w8.critical_batch);
    }

    /// Batch 1 in bf16 on one GPU: TPOT = (weights + one cache) / bandwidth.
    #[test]
    fn batch_one_is_bandwidth_bound() {
        let m = llama(32.0, 4096.0, 32.0, 8.03e9);
        let s = serve(&m, &h100(), &run(1.0, Some(1.0))).unwrap();
        let bytes = 8.03e9 * 2.0 + 768.0 * 131_072.0;
        assert!((s.tpot_s / (bytes / 3.35e12) - 1.0).abs() < 1e-12);
        assert!(!s.compute_bound);
        assert_eq!(s.latency_s, s.ttft_s + 511.0 * s.tpot_s);
    }

    /// The cache of the most sequences that fit fills the memory the weights leave.
    #[test]
    fn max_batch_fills_the_memory() {
        let m = llama(80.0, 8192.0, 64.0, 70e9);
        let s = serve(&m, &h100(), &run(4.0, None)).unwrap();
        let free: f64 = 80e9 - 70e9 * 2.0 / 4.0;
        let per_seq = 768.0 * 2.0 * 80.0 * 2.0 * 128.0 * 2.0; // (2 KV heads per GPU at TP 4)
        assert_eq!(s.max_batch, (free / per_seq).floor());
        assert_eq!(s.batch, s.max_batch);
        // TP 16 > 8 KV heads: the cache is replicated, one head per GPU.
        let r16 = serve(&m, &Hardware { memory: 1e15, ..h100() }, &run(16.0, Some(1.0))).unwrap();
        let r8 = serve(&m, &Hardware { memory: 1e15, ..h100() }, &run(8.0, Some(1.0))).unwrap();
        assert_eq!(r16.kv_bytes_per_token, r8.kv_bytes_per_token);
        assert!(serve(&m, &h100(), &run(1.0, None)).is_err()); // (140 GB of weights on 80 GB)
        assert!(serve(&m, &h100(), &run(3.0, Some(1.0))).is_err()); // (3 does not divide 64 heads)
    }
}

#[cfg(test)]
mod bounds {
    use super::tests_support::*;
    use super::*;

    /// With a TPOT bound and no batch, the batch served is the largest whose step meets it.
    #[test]
    fn the_batch_is_the_largest_within_the_tpot_bound() {
        let m = Model { params: 8.03e9, active_params: 8.03e9, layers: 32.0, hidden: 4096.0, heads: 32.0,
                        kv_heads: 8.0, head_dim: 128.0, experts: 1.0, experts_per_token: 1.0, kv_latent: 0.0 };
        let hw = Hardware { peak: 989.4e12, hbm: 3.35e12, memory: 80e9, scale_up: 450e9, domain: 8.0, scale_out: 50e9 };
        let free = serve(&m, &hw, &base()).unwrap();
        let bound = serve(&m, &hw, &Run { batch: Some(40.0), ..base() }).unwrap().tpot_s;
        let s = serve(&m, &hw, &Run { max_tpot: Some(bound), ..base() }).unwrap();
        assert_eq!(s.batch, 40.0);
        assert!(s.meets_bounds && s.tpot_s <= bound);
        let next = serve(&m, &hw, &Run { batch: Some(41.0), ..base() }).unwrap();
        assert!(next.tpot_s > bound);
        // A loose bound keeps the most that fit; one no batch meets serves one sequence, unmet.
        let loose = serve(&m, &hw, &Run { max_tpot: Some(10.0), ..base() }).unwrap();
        assert_eq!(loose.batch, free.max_batch);
        let tight = serve(&m, &hw, &Run { max_tpot: Some(1e-4), ..base() }).unwrap();
        assert_eq!(tight.batch, 1.0);
        assert!(!tight.meets_bounds);
        let ttft = serve(&m, &hw, &Run { max_ttft: Some(1e-6), ..base() }).unwrap();
        assert!(!ttft.meets_bounds);
    }
}

#[cfg(test)]
mod columns {
    use super::tests_support::*;
    use super::*;

    /// The column form is `at`, bit for bit, over batches that fit, that do not, and none given.
    #[test]
    fn the_columns_are_at_bit_for_bit() {
        let m = Model { params: 70.6e9, active_params: 70.6e9, layers: 80.0, hidden: 8192.0, heads: 64.0,
                        kv_heads: 8.0, head_dim: 128.0, experts: 1.0, experts_per_token: 1.0, kv_latent: 0.0 };
        let hw = Hardware { peak: 989.4e12, hbm: 3.35e12, memory: 80e9, scale_up: 450e9, domain: 8.0, scale_out: 50e9 };
        for (tp, tpot, cap) in [(1.0, None, None), (4.0, Some(0.03), None), (8.0, None, Some(100.0)), (2.0, Some(1e-5), None)] {
            let run = Run { tensor_parallel: tp, max_tpot: tpot, batch_cap: cap, max_ttft: Some(0.05), ..base() };
            let r = Replica::new(&m, &hw, &run).unwrap();
            let batches: Vec<f64> = [f64::NAN, 0.0, 0.5, 1.0, 2.0, 7.0, 64.0, 100.0, 101.0, 513.0, 5000.0].to_vec();
            let n = batches.len();
            let mut cols = vec![vec![0.0; n]; 11];
            let [b, t, x, l, g, i, c, mf, mb, f, p] = &mut cols[..] else { unreachable!() };
            r.columns(&batches, r.default_batch(), Columns {
                batch: b, tpot_s: t, compute_bound: Some(c), memory_fits: Some(mf), meets_bounds: Some(mb),
                fits: Some(f), decode_s_per_token: Some(p),
            });
            r.rate_columns(b, t, [Some(l), Some(x), Some(g), Some(i)]);
            for (j, &given) in batches.iter().enumerate() {
                let want = r.at(if given.is_nan() { r.default_batch() } else { given });
                let got: Vec<f64> = cols.iter().map(|c| c[j]).collect();
                let same = |a: f64, b: f64| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
                match want {
                    Ok(s) if s.batch > r.max_batch => {
                        assert_eq!(got[0], s.batch);
                        assert!(got[1..7].iter().chain(&got[8..9]).chain(&got[10..]).all(|x| x.is_nan()), "{got:?}");
                        assert!(got[7] == 0.0 && got[9] == 0.0, "{got:?}");
                    }
                    Ok(s) => {
                        let flag = |x: bool| if x { 1.0 } else { 0.0 };
                        let memory = s.batch <= r.max_batch;
                        let expect = [s.batch, s.tpot_s, s.output_tokens_per_s, s.latency_s,
                                      s.output_tokens_per_s_per_gpu, s.input_tokens_per_s, flag(s.compute_bound),
                                      flag(memory), flag(s.meets_bounds), flag(memory && s.meets_bounds),
                                      s.decode_s_per_token];
                        assert!(expect.iter().zip(&got).all(|(&a, &b)| same(a, b)), "{tp} {given}: {expect:?} {got:?}");
                    }
                    Err(_) => {
                        assert!(got[..7].iter().all(|x| x.is_nan()) && got[7] == 0.0 && got[9] == 0.0 && got[10].is_nan(),
                                "{got:?}");
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod pipeline {
    use super::tests_support::*;
    use super::*;

    /// Pipeline stages split the weights and the cache by PP, so more sequences fit; a token still
    /// passes every stage, so a step reads all the weights (the same time as one stage group of
    /// the whole model) while its cache reads and FLOPs spread over TP × PP GPUs (each stage holds
    /// its layers' cache of its micro-batch); PP − 1 sends join the stages.
    #[test]
    fn stages_split_memory_not_the_weight_reads() {
        let m = Model { params: 70.6e9, active_params: 70.6e9, layers: 80.0, hidden: 8192.0, heads: 64.0,
                        kv_heads: 8.0, head_dim: 128.0, experts: 1.0, experts_per_token: 1.0, kv_latent: 0.0 };
        let hw = Hardware { peak: 989.4e12, hbm: 3.35e12, memory: 80e9, scale_up: 450e9, domain: 8.0, scale_out: 50e9 };
        let one = Replica::new(&m, &hw, &Run { tensor_parallel: 4.0, ..base() }).unwrap();
        let two = Replica::new(&m, &hw, &Run { tensor_parallel: 4.0, pipeline_parallel: 2.0, ..base() }).unwrap();
        assert_eq!(two.weights_bytes_per_gpu * 2.0, one.weights_bytes_per_gpu);
        assert!(two.max_batch > 2.0 * one.max_batch);
        assert!((two.read0 / one.read0 - 1.0).abs() < 1e-12 && (two.read1 * 2.0 / one.read1 - 1.0).abs() < 1e-12);
        assert!((two.math1 * 2.0 / one.math1 - 1.0).abs() < 1e-12);
        // One p2p hop of a micro-batch's activations (sharded over TP) within the 8-GPU node.
        let hop = 2.0 * 8192.0 / (2.0 * 4.0) / 450e9;
        assert!((two.comm1 - (one.comm1 / 2.0 + hop)).abs() < 1e-18, "{} {}", two.comm1, one.comm1);
        assert_eq!(two.comm0, one.comm0 + ALL_REDUCE_LATENCY_FOR_TEST);
        // Beyond the node the stages send over the scale-out network.
        let wide = Replica::new(&m, &hw, &Run { tensor_parallel: 8.0, pipeline_parallel: 2.0, ..base() }).unwrap();
        let narrow = Replica::new(&m, &hw, &Run { tensor_parallel: 8.0, ..base() }).unwrap();
        let hop = 2.0 * 8192.0 / (2.0 * 8.0) / 50e9;
        assert!((wide.comm1 - (narrow.comm1 / 2.0 + hop)).abs() < 1e-18);
        assert!(Replica::new(&m, &hw, &Run { pipeline_parallel: 3.0, ..base() }).is_err()); // (80 layers)
        // One sequence cannot be split over stages: its step is no faster than on TP alone.
        let (t1, _) = one.step(1.0);
        let (t2, _) = two.step(1.0);
        assert!(t2 >= t1, "{t2} < {t1}");
        // Per GPU the throughput counts all TP × PP GPUs.
        let s = two.at(64.0).unwrap();
        assert!((s.output_tokens_per_s_per_gpu * 8.0 / s.output_tokens_per_s - 1.0).abs() < 1e-12);
    }
    const ALL_REDUCE_LATENCY_FOR_TEST: f64 = 8e-6;
}

#[cfg(test)]
mod expert {
    use super::tests_support::*;
    use super::*;

    fn mixtral() -> Model {
        // Mixtral 8x7B: 46.7B parameters, 12.9B active, 8 experts, 2 per token.
        Model { params: 46.7e9, active_params: 12.9e9, layers: 32.0, hidden: 4096.0, heads: 32.0, kv_heads: 8.0,
                head_dim: 128.0, experts: 8.0, experts_per_token: 2.0, kv_latent: 0.0 }
    }

    fn h100() -> Hardware {
        Hardware { peak: 989.4e12, hbm: 3.35e12, memory: 80e9, scale_up: 450e9, domain: 8.0, scale_out: 50e9 }
    }

    /// A routed expert holds (N − N_active)/(E − k) parameters: Mixtral's 8 experts 45.07B of 46.7B.
    #[test]
    fn routed_parameters_follow_from_total_and_active() {
        let x = (46.7e9 - 12.9e9) / 6.0;
        assert!((mixtral().routed_params() / (8.0 * x) - 1.0).abs() < 1e-12);
        let dense = Model { experts: 1.0, experts_per_token: 1.0, active_params: 46.7e9, ..mixtral() };
        assert_eq!(dense.routed_params(), 0.0);
    }

    /// EP up to TP splits the routed experts over the TP GPUs (TensorRT-LLM's moe_ep × moe_tp = TP):
    /// the same bytes, FLOPs and collectives per GPU as TP alone.
    #[test]
    fn ep_within_tp_is_tp() {
        for ep in [2.0, 4.0, 8.0] {
            let tp = Replica::new(&mixtral(), &h100(), &Run { tensor_parallel: 8.0, ..base() }).unwrap();
            let both = Replica::new(&mixtral(), &h100(), &Run { tensor_parallel: 8.0, expert_parallel: ep, ..base() }).unwrap();
            assert_eq!(format!("{tp:?}"), format!("{both:?}")); // (NaN bounds: compared as written)
        }
    }

    /// Wide EP (EP 8 over TP 1): eight attention groups, each holding the dense weights and its
    /// own sequences' caches, the experts split eight ways; two all-to-alls of the k copies per
    /// layer; every figure against the formula written out.
    #[test]
    fn wide_ep_groups_split_the_experts_and_the_batch() {
        let m = mixtral();
        let run = Run { expert_parallel: 8.0, weights: Width::Fp8, kv: Width::Fp8, ..base() };
        let r = Replica::new(&m, &h100(), &run).unwrap();
        let routed = m.routed_params();
        assert_eq!(r.groups, 8.0);
        assert_eq!(r.gpus(), 8.0);
        let weights = (m.params - routed) + routed / 8.0; // (fp8: a byte each)
        assert!((r.weights_bytes_per_gpu / weights - 1.0).abs() < 1e-12);
        let context = 512.0 + 256.0;
        let kv_gpu = 2.0 * 32.0 * 8.0 * 128.0; // (all KV heads on the group's one GPU, fp8)
        let per_group = ((80e9 - weights - 2e9) * 0.9 / (context * kv_gpu)).floor();
        assert_eq!(r.max_batch, 8.0 * per_group);
        let bw = 3.35e12 * 0.6;
        assert!((r.read0 / (weights / bw) - 1.0).abs() < 1e-12);
        assert!((r.read1 / (context * kv_gpu / bw / 8.0) - 1.0).abs() < 1e-12);
        let flops = 2.0 * 12.9e9 + 4.0 * 32.0 * context * 32.0 * 128.0;
        assert!((r.math1 / (flops / (8.0 * 989.4e12 * 0.2)) - 1.0).abs() < 1e-12);
        // Per sequence per layer: 2 all-to-alls, each GPU sending 1/8 of the 2 copies, 7/8 of them away.
        let a2a = 2.0 * 32.0 * 2.0 * (7.0 / 8.0) * 2.0 * 4096.0 / 8.0 / 450e9;
        assert!((r.comm1 / a2a - 1.0).abs() < 1e-12, "{} {a2a}", r.comm1);
        assert_eq!(r.comm0, 2.0 * 32.0 * 8e-6);
        // One sequence runs in one group: no faster than TP 1 alone would decode its experts.
        let s1 = r.at(1.0).unwrap();
        assert!(s1.tpot_s >= r.read0 + 8.0 * r.read1);
        // At a batch filling every group the throughput per GPU counts all eight GPUs.
        let s = r.at(800.0).unwrap();
        assert!((s.output_tokens_per_s_per_gpu * 8.0 / s.output_tokens_per_s - 1.0).abs() < 1e-12);
        // Against TP 8: fewer weight bytes per GPU read per step at TP 8 (the dense weights split).
        let tp8 = Replica::new(&m, &h100(), &Run { tensor_parallel: 8.0, ..run }).unwrap();
        assert!(tp8.read0 < r.read0);
    }

    /// EP must split a mixture of experts' routed experts evenly and line up with TP.
    #[test]
    fn ep_that_is_no_layout_is_refused() {
        let dense = Model { experts: 1.0, experts_per_token: 1.0, active_params: 46.7e9, ..mixtral() };
        assert!(Replica::new(&dense, &h100(), &Run { expert_parallel: 2.0, ..base() }).is_err());
        assert!(Replica::new(&mixtral(), &h100(), &Run { expert_parallel: 3.0, ..base() }).is_err()); // (8 experts)
        assert!(Replica::new(&mixtral(), &h100(), &Run { expert_parallel: 4.0, tensor_parallel: 8.0, ..base() }).is_ok());
        let odd = Model { heads: 48.0, ..mixtral() };
        assert!(Replica::new(&odd, &h100(), &Run { expert_parallel: 4.0, tensor_parallel: 6.0, ..base() }).is_err());
        assert!(Replica::new(&mixtral(), &h100(), &Run { expert_parallel: 1.5, ..base() }).is_err());
    }
}

#[cfg(test)]
mod latent {
    use super::tests_support::*;
    use super::*;

    /// MLA caches (d_c + d_h^R) · layers elements per token (DeepSeek-V2 §2.1.4): DeepSeek-V3's
    /// (512 + 64) · 61 · 2 bytes = 70,272 in bf16, the same on every TP rank (one latent for all
    /// heads); decode's attention FLOPs run over the latent's width.
    #[test]
    fn the_latent_cache_is_deepseeks() {
        let m = Model { params: 671e9, active_params: 37e9, layers: 61.0, hidden: 7168.0, heads: 128.0, kv_heads: 128.0,
                        head_dim: 160.0, experts: 256.0, experts_per_token: 8.0, kv_latent: 576.0 };
        let hw = Hardware { peak: 989.4e12, hbm: 4.8e12, memory: 1e15, scale_up: 450e9, domain: 8.0, scale_out: 50e9 };
        let one = Replica::new(&m, &hw, &base()).unwrap();
        let eight = Replica::new(&m, &hw, &Run { tensor_parallel: 8.0, ..base() }).unwrap();
        assert_eq!(one.kv_bytes_per_token, 70_272.0);
        assert_eq!(eight.kv_bytes_per_token, 70_272.0);
        let bw = 4.8e12 * 0.6;
        let context = 512.0 + 256.0;
        assert!((eight.read1 / (context * 70_272.0 / bw) - 1.0).abs() < 1e-12); // (not split by TP)
        let flops = 2.0 * 37e9 + 4.0 * 61.0 * context * 128.0 * 576.0;
        assert!((one.math1 / (flops / (989.4e12 * 0.2)) - 1.0).abs() < 1e-12);
    }
}

#[cfg(test)]
mod ties {
    use super::tests_support::*;
    use super::*;

    /// On one GPU beyond the critical batch decode is compute-bound: every batch's decode time per
    /// token is the same number, bit for bit (a price ranked by it keeps the smallest such batch).
    #[test]
    fn compute_bound_batches_cost_the_same_per_token() {
        let m = Model { params: 8.03e9, active_params: 8.03e9, layers: 32.0, hidden: 4096.0, heads: 32.0,
                        kv_heads: 8.0, head_dim: 128.0, experts: 1.0, experts_per_token: 1.0, kv_latent: 0.0 };
        let hw = Hardware { peak: 989.4e12, hbm: 3.35e12, memory: 1e15, scale_up: 450e9, domain: 8.0, scale_out: 50e9 };
        let r = Replica::new(&m, &hw, &Run { input_tokens: 1.0, output_tokens: 1.0, ..base() }).unwrap();
        let start = r.critical_batch.ceil() + 1.0;
        let first = r.at(start).unwrap().decode_s_per_token;
        for b in [start + 1.0, start + 17.0, 2.0 * start, 10.0 * start] {
            let s = r.at(b).unwrap();
            assert!(s.compute_bound);
            assert_eq!(s.decode_s_per_token.to_bits(), first.to_bits(), "{b}");
            assert!((s.decode_s_per_token / (s.tpot_s / b) - 1.0).abs() < 1e-12);
        }
    }
}

#[cfg(test)]
mod tests_support {
    use super::*;

    pub fn base() -> Run {
        Run {
            tensor_parallel: 1.0, pipeline_parallel: 1.0, expert_parallel: 1.0, weights: Width::Bf16, kv: Width::Bf16, input_tokens: 512.0, output_tokens: 512.0,
            batch: None, batch_cap: None, mbu: 0.6, mfu_decode: 0.2, mfu_prefill: 0.7, tp_efficiency: 1.0, kv_fraction: 0.9,
            reserved: 2e9, all_reduce_latency: 8e-6, max_tpot: None, max_ttft: None,
        }
    }
}

#[cfg(test)]
impl Run {
    fn with_tokens(self, input: f64, output: f64) -> Run {
        Run { input_tokens: input, output_tokens: output, ..self }
    }
}
