//! Memory per GPU: model states (Rajbhandari et al. 2020, ZeRO) and activations (Korthikanti
//! et al. 2022), split by tensor and pipeline parallelism and sharded over data parallelism.

use crate::types::{Memory, Mode, Optimizer, Point, Precision, Recompute};

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

/// Activation bytes per GPU (Korthikanti et al. 2022, §4, 16-bit activations, sequence
/// parallelism whenever tensor parallelism is used). Per layer, with s = sequence length,
/// b = micro-batch, h = hidden size, a = heads, t = tensor-parallel degree:
/// none: s·b·h·(34 + 5·a·s/h)/t; selective: 34·s·b·h/t; full: 2·s·b·h/t. Under 1F1B pipeline
/// scheduling the first stage holds L/p layers for p micro-batches: L layers in all.
pub fn activation_bytes(p: &Point) -> Option<f64> {
    let a = &p.arch;
    let (l, h, heads, s) = (a.layers?, a.d_model?, a.heads?, a.seq_len?);
    let (b, t) = (p.micro_batch, p.tensor_parallel);
    let sbh = s * b * h;
    let per_layer = match p.recompute {
        Recompute::None => sbh * (34.0 + 5.0 * heads * s / h) / t,
        Recompute::Selective => 34.0 * sbh / t,
        Recompute::Full => 2.0 * sbh / t,
    };
    let width = if matches!(p.precision, Precision::Fp32 | Precision::Tf32) { 2.0 } else { 1.0 };
    Some(l * per_layer * width)
}

/// Per-GPU memory for `point`, with `trainable` parameters receiving gradients and optimizer
/// states (all parameters unless LoRA).
pub fn memory(p: &Point, trainable: f64) -> Memory {
    let (wb, gb, ob) = bytes_per_param(p.precision, p.optimizer);
    let frozen_extra = if p.mode == Mode::Lora { trainable * wb } else { 0.0 };
    let model_parallel = p.tensor_parallel * p.pipeline_parallel;
    let weights = (p.params * wb + frozen_extra) / model_parallel;
    let grads = trainable * gb / model_parallel;
    let optim = trainable * ob / model_parallel;
    let activations = activation_bytes(p);

    // ZeRO stage k shards optimizer states (k ≥ 1), gradients (k ≥ 2), weights (k = 3).
    let z = p.zero_stage;
    let sharded = |stage: u8, bytes: f64| if z >= stage { bytes } else { 0.0 };
    let shardable = sharded(1, optim) + sharded(2, grads) + sharded(3, weights);
    let fixed = weights + grads + optim - shardable + activations.unwrap_or(0.0);

    let data_parallel = p.gpus.map(|g| g / model_parallel);
    let total = match data_parallel {
        Some(dp) => fixed + shardable / dp,
        None => fixed + shardable,
    };
    let fits = match (p.gpu_memory_gb, data_parallel) {
        (Some(cap), Some(_)) => Some(total <= cap * GB * (1.0 + 1e-12)),
        _ => None,
    };
    // Smallest data-parallel degree with fixed + shardable/dp ≤ capacity.
    let min_gpus = p.gpu_memory_gb.and_then(|cap| {
        let room = cap * GB - fixed;
        if room <= 0.0 {
            None
        } else if shardable <= room {
            Some(model_parallel)
        } else {
            Some(model_parallel * (shardable / room * (1.0 - 1e-12)).ceil())
        }
    });
    let scale = |x: f64| x / GB;
    let shard_of = |stage: u8, bytes: f64| match data_parallel {
        Some(dp) if z >= stage => bytes / dp,
        _ => bytes,
    };
    Memory {
        weights_gb: scale(shard_of(3, weights)),
        gradients_gb: scale(shard_of(2, grads)),
        optimizer_gb: scale(shard_of(1, optim)),
        activations_gb: activations.map(scale),
        total_gb: scale(total),
        data_parallel,
        fits,
        min_gpus,
    }
}

#[cfg(test)]
mod tests {
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
}
