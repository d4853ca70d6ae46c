//! Training FLOPs under an explicit counting convention.
//!
//! Every convention is expressed per token as three forward-pass terms, so that training mode
//! (pretrain, finetune, LoRA) and activation recomputation apply the same way to all of them:
//!
//! * `weight_fwd`: forward FLOPs of the weight matmuls (2 per multiply-add per weight used);
//! * `logits_fwd`: forward FLOPs of the output (logit) projection when the convention counts it
//!   apart from `weight_fwd` (only `megatron`; it is never recomputed);
//! * `attn_fwd`: forward FLOPs of the attention core (QK^T and AV), which has no weights.
//!
//! A full training step costs the forward pass plus a backward pass of twice its FLOPs
//! (activation gradients + weight gradients), hence the familiar 6·N per token.

use crate::model::types::{Architecture, Convention, Mode, ModelError, Recompute};

/// Forward FLOPs per token, split by kind.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ForwardFlops {
    pub weight_fwd: f64,
    pub logits_fwd: f64,
    pub attn_fwd: f64,
}

/// Architecture fields a formula needs, named as users write them.
fn require(arch: &Architecture, what: &str, fields: &[&str]) -> Result<(), ModelError> {
    let missing: Vec<String> = fields
        .iter()
        .filter(|f| arch.get(f).is_none())
        .map(|f| f.to_string())
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(ModelError::MissingArchitecture { what: what.to_string(), missing })
    }
}

/// Attention-core forward FLOPs per token: 2·T·H·Q for the scores and 2·T·H·Q for the
/// weighted sum of values, per layer (PaLM Appendix B counts 3× this as 12·L·H·Q·T).
pub fn attention_core_fwd(arch: &Architecture, what: &str) -> Result<f64, ModelError> {
    require(arch, what, &["layers", "heads", "seq_len"])?;
    let q = arch.head_dim_or_derived().ok_or_else(|| ModelError::MissingArchitecture {
        what: what.to_string(),
        missing: vec!["head_dim (or d_model)".to_string()],
    })?;
    let (l, h, t) = (arch.layers.unwrap(), arch.heads.unwrap(), arch.seq_len.unwrap());
    Ok(4.0 * l * h * q * t)
}

/// Forward FLOPs per token of the transformer as Narayanan et al. (2021) count it, generalised
/// to grouped-query attention, gated MLPs and mixture-of-experts layers. For a GPT-style model
/// (MHA, 4·h plain MLP) three times this is exactly 72·l·h²·(1 + s/(6h) + V/(12·l·h)) per token,
/// and with full recomputation 96·l·h²·(1 + s/(6h) + V/(16·l·h)), the formula as printed.
fn megatron_forward(arch: &Architecture) -> Result<ForwardFlops, ModelError> {
    require(arch, "convention 'megatron'", &["layers", "d_model", "heads", "ffn_dim", "vocab", "seq_len"])?;
    let l = arch.layers.unwrap();
    let h = arch.d_model.unwrap();
    let heads = arch.heads.unwrap();
    let kv_heads = arch.kv_heads.unwrap_or(heads);
    let q = arch.head_dim_or_derived().unwrap();
    let ffn = arch.ffn_dim.unwrap();
    let v = arch.vocab.unwrap();
    let mlp_mats = if arch.gated_mlp { 3.0 } else { 2.0 };
    let experts = arch.experts.unwrap_or(1.0);
    let active_experts = if experts > 1.0 { arch.experts_per_token.unwrap_or(1.0) } else { 1.0 };
    let router = if experts > 1.0 { 2.0 * h * experts } else { 0.0 };
    let per_layer = 2.0 * h * heads * q          // query projection
        + 2.0 * 2.0 * h * kv_heads * q           // key and value projections
        + 2.0 * heads * q * h                    // attention output projection
        + 2.0 * mlp_mats * h * ffn * active_experts
        + router;
    Ok(ForwardFlops {
        weight_fwd: l * per_layer,
        logits_fwd: 2.0 * h * v,
        attn_fwd: attention_core_fwd(arch, "convention 'megatron'")?,
    })
}

/// Forward FLOPs per token under `convention` for a model with `active_params` used per token.
pub fn forward_flops(
    convention: Convention,
    active_params: f64,
    arch: &Architecture,
) -> Result<ForwardFlops, ModelError> {
    match convention {
        // Kaplan et al. 2020 / Hoffmann et al. 2022: C ≈ 6·N·D, attention ignored.
        Convention::SixND => Ok(ForwardFlops { weight_fwd: 2.0 * active_params, logits_fwd: 0.0, attn_fwd: 0.0 }),
        // Chowdhery et al. 2022 (PaLM), Appendix B: 6·N + 12·L·H·Q·T per token.
        Convention::Palm => Ok(ForwardFlops {
            weight_fwd: 2.0 * active_params,
            logits_fwd: 0.0,
            attn_fwd: attention_core_fwd(arch, "convention 'palm'")?,
        }),
        Convention::Megatron => megatron_forward(arch),
    }
}

/// Training FLOPs per token: (model FLOPs, hardware FLOPs).
///
/// * pretrain / finetune: 3 × forward (forward, activation gradients, weight gradients).
/// * lora: the base weights are frozen, so they cost forward + activation gradients only
///   (2 × forward); the attention core still costs 3 × forward; the adapters cost 6 per
///   trainable parameter.
/// * recompute adds forward work to the hardware count only: `selective` recomputes the attention
///   core (Korthikanti et al. 2022), `full` the whole forward pass except the logits
///   (Narayanan et al. 2021), so 6·N·D becomes 8·N·D.
pub fn training_flops_per_token(
    fwd: &ForwardFlops,
    mode: Mode,
    trainable_params: f64,
    recompute: Recompute,
    arch: &Architecture,
) -> Result<(f64, f64), ModelError> {
    let (model, adapter_fwd) = match mode {
        Mode::Pretrain | Mode::Finetune => (3.0 * (fwd.weight_fwd + fwd.logits_fwd + fwd.attn_fwd), 0.0),
        Mode::Lora => (
            2.0 * (fwd.weight_fwd + fwd.logits_fwd) + 3.0 * fwd.attn_fwd + 6.0 * trainable_params,
            2.0 * trainable_params,
        ),
    };
    let extra = match recompute {
        Recompute::None => 0.0,
        Recompute::Selective => attention_core_fwd(arch, "recompute 'selective'")?,
        Recompute::Full => fwd.weight_fwd + fwd.attn_fwd + adapter_fwd,
    };
    Ok((model, model + extra))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gpt(l: f64, h: f64, heads: f64, s: f64, v: f64) -> Architecture {
        Architecture {
            layers: Some(l),
            d_model: Some(h),
            heads: Some(heads),
            ffn_dim: Some(4.0 * h),
            vocab: Some(v),
            seq_len: Some(s),
            ..Default::default()
        }
    }

    #[test]
    fn six_nd_is_six_n_per_token() {
        let f = forward_flops(Convention::SixND, 7e9, &Architecture::default()).unwrap();
        let (m, hw) =
            training_flops_per_token(&f, Mode::Pretrain, 7e9, Recompute::None, &Architecture::default()).unwrap();
        assert_eq!(m, 42e9);
        assert_eq!(hw, 42e9);
        let (_, hw) =
            training_flops_per_token(&f, Mode::Pretrain, 7e9, Recompute::Full, &Architecture::default()).unwrap();
        assert_eq!(hw, 56e9, "full recomputation: 8·N per token");
    }

    #[test]
    fn megatron_matches_narayanan_formula() {
        // GPT-3 175B shape (Narayanan et al. 2021 Table 1).
        let (l, h, s, v) = (96.0, 12288.0, 2048.0, 51200.0);
        let arch = gpt(l, h, 96.0, s, v);
        let f = forward_flops(Convention::Megatron, 0.0, &arch).unwrap();
        let (m, hw) = training_flops_per_token(&f, Mode::Pretrain, 0.0, Recompute::Full, &arch).unwrap();
        let printed_hw = 96.0 * l * h * h * (1.0 + s / (6.0 * h) + v / (16.0 * l * h));
        let model = 72.0 * l * h * h * (1.0 + s / (6.0 * h) + v / (12.0 * l * h));
        assert!((hw / printed_hw - 1.0).abs() < 1e-12, "{hw} vs {printed_hw}");
        assert!((m / model - 1.0).abs() < 1e-12);
    }

    #[test]
    fn palm_540b_published_flops() {
        // PaLM Table 1 / Appendix B: 540.35B params, 118 layers, 48 heads, head dim 256, T 2048.
        let arch = Architecture {
            layers: Some(118.0),
            heads: Some(48.0),
            head_dim: Some(256.0),
            seq_len: Some(2048.0),
            ..Default::default()
        };
        let f = forward_flops(Convention::Palm, 540.35e9, &arch).unwrap();
        let (m, _) = training_flops_per_token(&f, Mode::Pretrain, 540.35e9, Recompute::None, &arch).unwrap();
        let total = m * 780e9;
        assert!((total / 2.56e24 - 1.0).abs() < 0.005, "{total:e}");
    }

    #[test]
    fn palm_needs_architecture() {
        let err = forward_flops(Convention::Palm, 7e9, &Architecture::default()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("layers") && msg.contains("heads") && msg.contains("seq_len"), "{msg}");
    }

    #[test]
    fn lora_skips_base_weight_gradients() {
        let arch = Architecture::default();
        let f = forward_flops(Convention::SixND, 7e9, &arch).unwrap();
        let (m, _) = training_flops_per_token(&f, Mode::Lora, 4e6, Recompute::None, &arch).unwrap();
        assert_eq!(m, 4.0 * 7e9 + 6.0 * 4e6);
    }
}
