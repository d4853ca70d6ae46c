//! Memory per GPU: model states (Rajbhandari et al. 2020, ZeRO) and activations (Korthikanti
//! et al. 2022), split by tensor and pipeline parallelism and sharded over data parallelism.

use crate::model::types::{Architecture, Attention, Logits, Memory, Mode, Optimizer, Point, Precision, Recompute};

const GB: f64 = 1e9;

/// Bytes per parameter of (weights, gradients, optimizer states).
///
/// Mixed precision (bf16/fp16, and fp8/fp4 which keep 16-bit weights between casts) holds 16-bit
/// weights and gradients plus an fp32 master copy in the optimizer: Adam 2 + 2 + (4 + 4 + 4)
/// = 16 bytes/param (ZeRO paper §3.1). fp32/tf32 training has no master copy.
pub fn bytes_per_param(precision: Precision, optimizer: Optimizer) -> (f64, f64, f64) {
    let mixed = !matches!(precision, Precision::Fp32 | Precision::Tf32);
    let (w, master) = if mixed { (2.0, 4.0) } else { (4.0, 0.0) };
    let moments = match optimizer {
        Optimizer::Adam => 8.0,     // two fp32 moments
        Optimizer::Adam8bit => 2.0, // two 1-byte moments
        Optimizer::Sgd => 4.0,      // one fp32 momentum
    };
    (w, w, master + moments)
}

/// Activation bytes per GPU, the tensors each layer keeps for its backward pass (Korthikanti et
/// al. 2022, §4.1: 16-bit activations, 1-byte dropout masks, sequence parallelism whenever tensor
/// parallelism is used), per token of a layer with hidden size h, heads a of dimension q, kv_heads
/// g, MLP width f (k experts per token) and sequence length s:
///
/// - attention: the QKV input 2h, Q 2·a·q, K and V 2·2·g·q, the output projection's input 2·a·q,
///   the dropout mask h; the core, eager: softmax output, dropout mask and dropout output 5·a·s
///   (without dropout: no masks, and the softmax output 2·a·s alone);
///   flash: one fp32 log-sum-exp per head, 4·a;
/// - MLP: its input 2h, per expert 2·f·2 (plain: the activation's input and the second matmul's)
///   or 2·f·3 (gated: gate, up and their product), the dropout mask h;
/// - two layer norms: 4h;
/// - FP8 training: the four linear layers' inputs (QKV, output projection, MLP, down projection)
///   at one byte per value instead of two, beside FlashAttention's own 16-bit output;
/// - LoRA with adapter dropout: the two adapted projections' dropped inputs and masks, 2·3h.
///
/// With a = g, a·q = h and f = 4h this is Korthikanti's s·b·h·(34 + 5·a·s/h). Selective
/// recomputation drops the core (eager's s×s terms; flash's is already small), full keeps only
/// each layer's 2·s·b·h input; both add what they rebuild for one layer's backward pass at a time
/// (full: that layer's activations; selective: its core). With sequence parallelism everything
/// divides by t; without it the layer norms' inputs (4h), the two block inputs (4h) and the
/// dropout masks (2h) stay whole on every TP rank (Korthikanti's s·b·h·(10 + 24/t +
/// 5·a·s/(h·t))), and so does a full recomputation's layer input. 1F1B pipelining keeps L layers'
/// worth on the first stage (see `stage_layers` for interleaving). fp32 training doubles the
/// widths.
pub fn activation_bytes(p: &Point) -> Option<f64> {
    let (layers, extra) = activation_parts(p)?;
    Some(layers * stage_layers(p).0 + extra)
}

/// The layers' worth of activations the first and the last pipeline stage hold, as shares of L:
/// 1F1B keeps p micro-batches of L/p layers on the first stage (L) and one on the last (L/p);
/// interleaved over v chunks, Megatron-LM's schedule warms the first stage up with 2(p−1) +
/// (v−1)·p chunk micro-batches of L/(p·v) layers, L·(1 + (p−1)/(p·v)) with the one at work
/// (Korthikanti et al. 2022, §4.2.3), and the last with (v−1)·p, L·((v−1)·p + 1)/(p·v).
pub fn stage_layers(p: &Point) -> (f64, f64) {
    let (pp, v) = (p.pipeline_parallel, p.interleave);
    if pp > 1.0 && v > 1.0 {
        ((v * pp + pp - 1.0) / (pp * v), ((v - 1.0) * pp + 1.0) / (pp * v))
    } else {
        (1.0, 1.0 / pp)
    }
}

/// Activation bytes as (L layers' stored activations, what one layer at work adds: the layer a
/// recomputation rebuilds and ring attention's K,V buffers).
fn activation_parts(p: &Point) -> Option<(f64, f64)> {
    let a = &p.arch;
    let (l, h, heads, s) = (a.layers?, a.d_model?, a.heads?, a.seq_len?);
    let q = a.head_dim.unwrap_or(h / heads);
    let kv = a.kv_heads.unwrap_or(heads);
    let f = a.ffn_dim.unwrap_or(4.0 * h);
    let k = if a.experts.unwrap_or(1.0) > 1.0 { a.experts_per_token.unwrap_or(1.0) } else { 1.0 };
    let (b, t) = (p.micro_batch, p.tensor_parallel);
    let keys = s; // (a query attends over the whole sequence)
    let s = s / p.context_parallel; // (each context-parallel rank holds 1/CP of the sequence's tokens)
    // (a dropout mask: one byte per value; none without dropout)
    let mask = if p.dropout { h } else { 0.0 };
    // LoRA's adapter dropout: each of the two adapted projections (query and value) keeps its
    // dropped input (2h) and mask (h).
    let adapters = if p.mode == Mode::Lora && p.lora_dropout { 2.0 * 3.0 * h } else { 0.0 };
    // The linear layers' inputs, kept for their weight gradients: 16-bit, or FP8 copies when the
    // matmuls run in FP8 (Transformer Engine's FP8 linears cache their input in FP8; DeepSeek-V3
    // §3.3.3 "cache[s] activations in FP8"): the QKV, output-projection, MLP and down-projection
    // inputs.
    let g = if p.precision == Precision::Fp8 { 1.0 } else { 2.0 };
    // (the output projection's input is FlashAttention's output, which it keeps in 16 bits for its
    // own backward pass: FP8 adds its copy to it)
    let projection = match (p.precision == Precision::Fp8, p.attention) {
        (false, _) => 2.0,
        (true, Attention::Eager) => 1.0,
        (true, Attention::Flash) => 3.0,
    };
    let attention = g * h + 2.0 * heads * q + 4.0 * kv * q + projection * heads * q + mask + adapters;
    let mlp = g * h + k * f * if a.gated_mlp { 4.0 + g } else { 2.0 + g } + mask;
    let kept = attention + mlp + 4.0 * h;
    let core = match (p.attention, p.dropout) {
        (Attention::Eager, true) => 5.0 * heads * keys,
        (Attention::Eager, false) => 2.0 * heads * keys, // (the softmax output alone)
        (Attention::Flash, _) => 4.0 * heads,
    };
    // What sequence parallelism splits by t, and without it stays whole: norms, inputs, masks.
    let whole = if p.sequence_parallel || t == 1.0 { 0.0 } else { 4.0 * h + 2.0 * g * h + 2.0 * mask };
    let layer = s * b * (whole + (kept + core - whole) / t);
    let per_layer = match p.recompute {
        Recompute::None => layer,
        Recompute::Selective => s * b * (whole + (kept - whole) / t),
        Recompute::Full => 2.0 * s * b * h / if p.sequence_parallel { t } else { 1.0 },
    };
    // What recomputation rebuilds, one layer and one micro-batch at a time, for that layer's
    // backward pass: full, the whole layer's activations; selective, its attention core.
    let rebuilt = match p.recompute {
        Recompute::None => 0.0,
        Recompute::Selective => s * b * core / t,
        Recompute::Full => layer,
    };
    // Ring attention receives the next chunk's K and V while computing on this one: two buffers
    // of s/CP tokens' K and V, for one layer at a time.
    let ring = if p.context_parallel > 1.0 { 2.0 * 2.0 * s * b * 2.0 * kv * q / t } else { 0.0 };
    let width = if matches!(p.precision, Precision::Fp32 | Precision::Tf32) { 2.0 } else { 1.0 };
    Some((l * per_layer * width, (rebuilt + ring) * width))
}

/// The shape the activation memory assumes when the architecture is not given: N ≈ 12·L·h²
/// (Kaplan et al. 2020) with h = 128·L and heads of 128 — the GPT-3 and Llama shapes from 7B to
/// 175B (32 × 4096, 40 × 5120, 96 × 12288) — an MHA block with a 4h MLP, and the given sequence
/// length, else 2,048. Not rounded: the memory varies smoothly with N.
pub fn rule_architecture(params: f64, seq_len: Option<f64>) -> Architecture {
    let layers = (params / (12.0 * 128.0 * 128.0)).cbrt();
    Architecture {
        layers: Some(layers),
        d_model: Some(128.0 * layers),
        heads: Some(layers),
        head_dim: Some(128.0), // (also when N is so small that L underflows to 0)
        seq_len: Some(seq_len.unwrap_or(RULE_SEQ_LEN)),
        ..Architecture::default()
    }
}

/// The rule's sequence length when none is given.
pub const RULE_SEQ_LEN: f64 = 2048.0;
/// The vocabulary the logits assume when none is given (LLaMA's and Llama 2's).
pub const RULE_VOCAB: f64 = 32000.0;

/// Bytes of one micro-batch's logits on the GPU that computes the loss: s·b·V/t values in fp32
/// (the cross-entropy upcasts them; vocabulary-parallel under TP), 4.2 GB for one Llama 3
/// sequence (8192 × 128,256). A chunked (fused) loss never materialises them: 0.
pub fn logits_bytes(p: &Point, arch: &Architecture) -> f64 {
    match p.logits {
        Logits::Chunked => 0.0,
        Logits::Full => {
            let s = arch.seq_len.unwrap_or(RULE_SEQ_LEN) / p.context_parallel;
            4.0 * s * p.micro_batch * arch.vocab.unwrap_or(RULE_VOCAB) / p.tensor_parallel
        }
    }
}

/// Model states and activations of one model-parallel shard, before data-parallel sharding.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct States {
    /// Bytes per GPU of weights, gradients and optimizer states with TP·PP (and, for the routed
    /// experts, EP) splitting, as a rank holds them when ZeRO does not shard them.
    pub weights: f64,
    pub grads: f64,
    pub optim: f64,
    /// The same over one TP·PP shard of the whole model: what ZeRO shards (over data × context
    /// parallel; the experts' share over its EP-fold smaller group, the same bytes per GPU).
    pub weights_all: f64,
    pub grads_all: f64,
    pub optim_all: f64,
    pub activations: Option<f64>,
    /// The logits of one micro-batch (bytes), on the pipeline's last stage.
    pub logits: f64,
    /// Framework memory beside the tensors (bytes): the context, and the allocator's share of
    /// the busiest stage's activations and logits. Part of `fixed`.
    pub overhead: f64,
    /// Whether the activations come from `rule_architecture` (the architecture was not given).
    pub rule: bool,
    /// Bytes ZeRO shards over data parallelism, and bytes it does not (activations included).
    pub shardable: f64,
    pub fixed: f64,
    /// Fewest GPUs (a multiple of TP·PP) whose memory holds this, if any.
    pub min_gpus: Option<f64>,
}

/// The share of the parameters in routed experts: what a token does not use, (N − N_active),
/// scaled from the E − k experts it skips to all E: (N − N_active)·E/(E − k) / N. DeepSeek-V3:
/// (671B − 37B)·256/248 = 654B of 671B (58 MoE layers × 256 experts × 3 × 7168 × 2048 = 654B).
pub fn expert_share(p: &Point) -> f64 {
    let (e, k) = (p.arch.experts.unwrap_or(1.0), p.arch.experts_per_token.unwrap_or(1.0));
    if e <= k || p.active_params >= p.params || p.params <= 0.0 {
        return 0.0;
    }
    ((p.params - p.active_params) * e / (e - k) / p.params).min(1.0)
}

/// The least common multiple of two whole counts (as floats).
pub fn lcm(a: f64, b: f64) -> f64 {
    let (mut x, mut y) = (a as u64, b as u64);
    if x == 0 || y == 0 {
        return a.max(b);
    }
    while y != 0 {
        (x, y) = (y, x % y);
    }
    a / x as f64 * b
}

/// Model states (Rajbhandari et al. 2020) and activations for a point, with `trainable`
/// parameters receiving gradients and optimizer states (all of them unless LoRA).
pub fn states(p: &Point, trainable: f64) -> States {
    let (wb, gb, ob) = bytes_per_param(p.precision, p.optimizer);
    // LoRA: the frozen base at its storage width (16-bit, int8 or NF4), the adapters at the
    // training precision's, with their gradients and optimizer states.
    let lora = p.mode == Mode::Lora;
    let base = if lora { p.base_weights.map_or(wb, |w| w.bytes()) } else { wb };
    let adapters = if lora { trainable * wb } else { 0.0 };
    let model_parallel = p.tensor_parallel * p.pipeline_parallel;
    // Expert parallelism keeps 1/EP of the routed experts' parameters on a rank (LoRA's adapters
    // are on the attention projections: dense).
    let kept = 1.0 - expert_share(p) * (1.0 - 1.0 / p.expert_parallel);
    let trainable_kept = if lora { 1.0 } else { kept };
    let weights_all = (p.params * base + adapters) / model_parallel;
    let grads_all = trainable * gb / model_parallel;
    let optim_all = trainable * ob / model_parallel;
    let weights = (p.params * base * kept + adapters) / model_parallel;
    let grads = grads_all * trainable_kept;
    let optim = optim_all * trainable_kept;
    let (parts, rule) = match activation_parts(p) {
        Some(a) => (Some(a), false),
        None => {
            let mut shaped = p.clone();
            shaped.arch = rule_architecture(p.params, p.arch.seq_len);
            (activation_parts(&shaped), true)
        }
    };
    // The first pipeline stage's, and the last's (which also holds the logits).
    let (first, last) = stage_layers(p);
    let activations = parts.map(|(layers, extra)| layers * first + extra);
    let last_stage = parts.map_or(0.0, |(layers, extra)| layers * last + extra);

    // ZeRO stage k shards optimizer states (k ≥ 1), gradients (k ≥ 2), weights (k = 3).
    let z = p.zero_stage;
    let sharded = |stage: u8, bytes: f64| if z >= stage { bytes } else { 0.0 };
    // (paged optimizer states move to the host under pressure: they need not fit)
    let resident = if p.paged_optimizer { 0.0 } else { 1.0 };
    let shardable = sharded(1, optim_all) * resident + sharded(2, grads_all) + sharded(3, weights_all);
    let unsharded = |stage: u8, bytes: f64| if z >= stage { 0.0 } else { bytes };
    let logits = logits_bytes(p, &p.arch);
    // The busiest stage: the first holds L layers' activations under 1F1B, the last L/p layers'
    // and the logits (one stage: both).
    let act = activations.unwrap_or(0.0);
    let peak = act.max(last_stage + logits);
    // What the device holds beside the tensors: the framework's context, and the working memory
    // the allocator holds beyond the kept activations (transient buffers, cached blocks).
    let overhead = p.framework_gb * GB + p.allocator_share * peak;
    let fixed = unsharded(1, optim) * resident + unsharded(2, grads) + unsharded(3, weights) + peak + overhead;
    // Smallest data-parallel degree with fixed + shardable/dp ≤ capacity (the capacity of
    // `per_gpu`'s fits, tolerance included: a model that fills the memory exactly fits).
    // (ZeRO shards over data × context parallel, which both CP and EP divide: the count is TP·PP
    // times a multiple of lcm(CP, EP))
    let cp = lcm(p.context_parallel, p.expert_parallel);
    let min_gpus = p.gpu_memory_gb.and_then(|cap| {
        let room = capacity_bytes(cap) - fixed;
        if shardable <= room {
            Some(model_parallel * cp)
        } else if room <= 0.0 {
            None
        } else {
            Some(model_parallel * cp * ((shardable / room * (1.0 - 1e-12)).ceil() / cp).ceil())
        }
    });
    States {
        weights, grads, optim, weights_all, grads_all, optim_all, activations, logits, overhead, rule, shardable,
        fixed, min_gpus,
    }
}

/// The bytes a GPU of `cap_gb` holds, with a relative 1e-12 for rounding (what fits is decided
/// by this one comparison, for `fits` and for `min_gpus`).
fn capacity_bytes(cap_gb: f64) -> f64 {
    cap_gb * GB * (1.0 + 1e-12)
}

/// Per-GPU memory of `s` on `gpus` GPUs (data parallel = gpus / (TP·PP·CP)) under ZeRO stage
/// `zero`, which shards over data × context parallel (gpus / (TP·PP)). Without a count, on the
/// smallest layout: TP·PP·lcm(CP, EP) GPUs.
pub fn per_gpu(s: &States, zero: u8, gpus: Option<f64>, model_parallel: f64, context_parallel: f64,
               expert_parallel: f64, cap_gb: Option<f64>) -> Memory {
    let data_parallel = gpus.map(|g| g / (model_parallel * context_parallel));
    let dp = gpus.map_or(lcm(context_parallel, expert_parallel), |g| g / model_parallel);
    let total = s.fixed + s.shardable / dp;
    let shard_of = |stage: u8, all: f64, kept: f64| if zero >= stage { all / dp } else { kept };
    Memory {
        weights_gb: shard_of(3, s.weights_all, s.weights) / GB,
        gradients_gb: shard_of(2, s.grads_all, s.grads) / GB,
        optimizer_gb: shard_of(1, s.optim_all, s.optim) / GB,
        activations_gb: s.activations.map(|a| a / GB),
        logits_gb: s.logits / GB,
        overhead_gb: s.overhead / GB,
        total_gb: total / GB,
        data_parallel,
        // Without a GPU count, on one data-parallel replica (TP·PP GPUs).
        fits: cap_gb.map(|cap| total <= capacity_bytes(cap)),
        min_gpus: s.min_gpus,
    }
}

/// Per-GPU memory for `point`.
pub fn memory(p: &Point, trainable: f64) -> Memory {
    let s = states(p, trainable);
    per_gpu(&s, p.zero_stage, p.gpus, p.tensor_parallel * p.pipeline_parallel, p.context_parallel, p.expert_parallel,
            p.gpu_memory_gb)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn mixed_precision_adam_is_16_bytes_per_param() {
        let (w, g, o) = bytes_per_param(Precision::Bf16, Optimizer::Adam);
        assert_eq!(w + g + o, 16.0);
        let (w, g, o) = bytes_per_param(Precision::Fp32, Optimizer::Adam);
        assert_eq!(w + g + o, 16.0);
        let (w, g, o) = bytes_per_param(Precision::Bf16, Optimizer::Adam8bit);
        assert_eq!(w + g + o, 10.0);
    }

    fn point(recompute: Recompute, tp: f64, zero: u8, gpus: f64) -> Point {
        use crate::model::types::*;
        Point {
            params: 175e9,
            active_params: 175e9,
            tokens: 1e9,
            arch: Architecture {
                layers: Some(96.0),
                d_model: Some(12288.0),
                heads: Some(96.0),
                seq_len: Some(2048.0),
                ..Default::default()
            },
            recompute,
            peak_tflops: 312.0,
            utilisation: Utilisation::Mfu(0.5),
            gpus: Some(gpus),
            gpu_memory_gb: Some(80.0),
            zero_stage: zero,
            tensor_parallel: tp,
            ..Point::default()
        }
    }

    #[test]
    fn korthikanti_activation_variants() {
        // GPT-3 shape, s = 2048, b = 1, h = 12288, a = 96, L = 96 (Korthikanti et al. 2022 Table 3 model).
        let sbh = 2048.0 * 12288.0;
        let mut eager = point(Recompute::None, 1.0, 0, 1.0);
        eager.attention = Attention::Eager;
        let none = activation_bytes(&eager).unwrap();
        assert_eq!(none, 96.0 * sbh * (34.0 + 5.0 * 96.0 * 2048.0 / 12288.0));
        // FlashAttention keeps one fp32 log-sum-exp per head and token instead of the s×s terms.
        let flash = activation_bytes(&point(Recompute::None, 1.0, 0, 1.0)).unwrap();
        assert_eq!(flash, 96.0 * (sbh * 34.0 + 2048.0 * 4.0 * 96.0));
        assert!((none / flash - 3.35).abs() < 0.3, "{}", none / flash);
        // Recomputation keeps less and rebuilds one layer's share at a time (selective: the core;
        // full: the whole layer).
        let core = 2048.0 * 4.0 * 96.0 / 8.0;
        let sel = activation_bytes(&point(Recompute::Selective, 8.0, 0, 8.0)).unwrap();
        assert_eq!(sel, 96.0 * 34.0 * sbh / 8.0 + core);
        let full = activation_bytes(&point(Recompute::Full, 8.0, 0, 8.0)).unwrap();
        assert_eq!(full, 96.0 * 2.0 * sbh / 8.0 + (34.0 * sbh / 8.0 + core));
        // Without sequence parallelism (Korthikanti Table 2): s·b·h·(10 + 24/t + 5·a·s/(h·t)).
        let mut no_sp = point(Recompute::None, 8.0, 0, 8.0);
        no_sp.attention = Attention::Eager;
        no_sp.sequence_parallel = false;
        let want = 96.0 * sbh * (10.0 + 24.0 / 8.0 + 5.0 * 96.0 * 2048.0 / (12288.0 * 8.0));
        assert!((activation_bytes(&no_sp).unwrap() / want - 1.0).abs() < 1e-12);
        no_sp.recompute = Recompute::Full;
        assert!((activation_bytes(&no_sp).unwrap() / (96.0 * 2.0 * sbh + want / 96.0) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn interleaving_holds_megatrons_warm_up_micro_batches() {
        // p = 4, v = 2: the first stage warms up with 2·3 + 1·4 = 10 chunk micro-batches plus the one
        // at work, 11 chunks of L/8 layers; the last with 4 (+1), 5 of L/8.
        let mut p = point(Recompute::None, 1.0, 0, 1.0);
        p.pipeline_parallel = 4.0;
        assert_eq!(stage_layers(&p), (1.0, 0.25));
        p.interleave = 2.0;
        assert_eq!(stage_layers(&p), (11.0 / 8.0, 5.0 / 8.0));
        assert_eq!(stage_layers(&p).0, 1.0 + 3.0 / 8.0); // Korthikanti's 1 + (p−1)/(p·v)
        p.pipeline_parallel = 1.0;
        assert_eq!(stage_layers(&p), (1.0, 1.0));
    }

    #[test]
    fn without_dropout_the_masks_and_the_dropped_scores_go() {
        // Per token of a layer: 34h less the two masks (2h); eager, the core keeps the softmax
        // output alone, 2·a·s instead of 5·a·s.
        let sbh = 2048.0 * 12288.0;
        let mut p = point(Recompute::None, 1.0, 0, 1.0);
        p.dropout = false;
        assert_eq!(activation_bytes(&p).unwrap(), 96.0 * (sbh * 32.0 + 2048.0 * 4.0 * 96.0));
        p.attention = Attention::Eager;
        assert_eq!(activation_bytes(&p).unwrap(), 96.0 * sbh * (32.0 + 2.0 * 96.0 * 2048.0 / 12288.0));
        // Without sequence parallelism the norms and block inputs stay whole (8h), no masks.
        p.attention = Attention::Flash;
        p.tensor_parallel = 8.0;
        p.sequence_parallel = false;
        let want = 96.0 * (sbh * (8.0 + 24.0 / 8.0) + 2048.0 * 4.0 * 96.0 / 8.0);
        assert!((activation_bytes(&p).unwrap() / want - 1.0).abs() < 1e-12);
    }

    /// An architecture with no activations (sequence length 0): model states only. (Without an
    /// architecture the activations take the shape rule.)
    pub(crate) fn states_only() -> crate::model::types::Architecture {
        crate::model::types::Architecture {
            layers: Some(1.0),
            d_model: Some(1.0),
            heads: Some(1.0),
            seq_len: Some(0.0),
            ..Default::default()
        }
    }

    #[test]
    fn no_architecture_takes_the_shape_rule() {
        // 7B: L = (7e9 / (12·128²))^(1/3) ≈ 32.9, h = 128·L; flash, no recomputation: 34·s·h + 4·a·s per layer.
        let mut p = point(Recompute::None, 1.0, 0, 1.0);
        p.params = 7e9;
        p.arch = Default::default();
        let s = states(&p, p.params);
        let l = (7e9f64 / (12.0 * 128.0 * 128.0)).cbrt();
        let want = l * 2048.0 * (34.0 * 128.0 * l + 4.0 * l);
        assert!(s.rule && (s.activations.unwrap() / want - 1.0).abs() < 1e-12);
        p.arch = states_only();
        assert!(!states(&p, p.params).rule);
    }

    #[test]
    fn zero_stages_shard_what_the_paper_says() {
        // ZeRO paper Figure 1: 7.5B params, 64-way DP: 120 GB (stage 0), 31.4 (1), 16.6 (2), 1.9 (3).
        let mut p = point(Recompute::Full, 1.0, 0, 64.0);
        p.params = 7.5e9;
        p.arch = states_only(); // model states only, as in the figure
        let expect = [120.0, 31.4, 16.6, 1.9];
        for (zero, want) in expect.iter().enumerate() {
            p.zero_stage = zero as u8;
            let m = memory(&p, p.params);
            assert!((m.total_gb - want).abs() < 0.06, "stage {zero}: {} vs {want}", m.total_gb);
        }
    }
}
