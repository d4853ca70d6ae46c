"""A plain-Python reference of the step-time model (rust/model/step.rs), written from the formulas
in the README rather than from the Rust: the tests compare the two, and
benchmarks/calibrate_step.py fits the constants with it (so they are a parameter here)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

# The fitted constants (rust/model/step.rs holds the same values; a test compares them).
CONSTANTS: dict[str, float] = {
    "gemm_efficiency": 0.66, "gemm_half_size": 128.0, "elementwise_bytes": 32.0, "score_bytes": 48.0,
    "dp_overlap": 0.5, "optimizer_bytes": 32.0, "fp8_gemm_efficiency": 0.78,
}


@dataclass
class Run:
    """One training step's inputs. ``arch``: layers, d_model, heads (and optionally kv_heads,
    head_dim, ffn_dim, vocab, seq_len, experts, experts_per_token, gated_mlp)."""

    params: float
    arch: dict[str, Any]
    gpus: int
    peak: float  # FLOP/s
    domain: int
    scale_up: float  # bytes/s per GPU per direction
    scale_out: float
    hbm: float
    global_batch_tokens: float
    model_flops_per_token: float
    active_params: float | None = None
    tp: int = 1
    pp: int = 1
    cp: int = 1
    ep: int = 1
    sp: bool = True
    micro_batch: int = 1
    interleave: int = 1
    zero: int = 1
    recompute: str = "none"
    attention: str = "flash"
    mode: str = "pretrain"
    trainable: float | None = None
    fp32: bool = False
    fp8: bool = False  # 8-bit GEMMs (peak: the 8-bit one): the attention core and logits at peak16
    peak16: float | None = None  # the 16-bit peak, FLOP/s


def _bw(n: float, stride: float, r: Run) -> float:
    if n * stride <= r.domain:
        return r.scale_up
    per_domain = max(1, math.floor(r.domain / stride))
    return min(r.scale_up, min(per_domain, n) * r.scale_out)


def _ring(nbytes: float, n: float, bw: float) -> float:
    return 0.0 if n <= 1 else 2 * (n - 1) / n * nbytes / bw


def step(r: Run, k: dict[str, float] | None = None) -> dict[str, float]:
    k = {**CONSTANTS, **(k or {})}
    a = r.arch
    L, h, heads = a["layers"], a["d_model"], a["heads"]
    s = a.get("seq_len") or 2048
    q = a.get("head_dim") or h / heads
    kv = a.get("kv_heads") or heads
    ffn = a.get("ffn_dim") or 4 * h  # (unused without ffn_dim: see below)
    vocab = a.get("vocab") or 32000
    E = a.get("experts") or 1
    top = (a.get("experts_per_token") or 1) if E > 1 else 1
    t, p, c, e, b, v = r.tp, r.pp, r.cp, r.ep, r.micro_batch, r.interleave
    d = r.gpus / (t * p * c)
    wanted = r.global_batch_tokens / s
    if d * b > wanted * (1 + 1e-12) or d != int(d):
        raise ValueError("more data-parallel ranks × micro-batch than sequences")
    m = max(1.0, float(math.floor(wanted / (d * b) + 0.5)))  # whole micro-batches per rank, nearest
    seqs = m * d * b
    tokens_mb = b * s / c
    width = 2 if r.fp32 else 1

    # matmul FLOPs per token of one layer, forward
    qkv = 2 * h * heads * q + 2 * 2 * h * kv * q
    proj = 2 * heads * q * h
    mlp = (3 if a.get("gated_mlp") else 2) * 2 * h * ffn * top
    router = 2 * h * E if E > 1 else 0
    core = 2 * s * heads * q * 2
    backward_weights = 1 if r.mode == "lora" else 2
    again = {"none": (0, 0), "selective": (0, 1), "full": (1, 1)}[r.recompute]
    matmuls = qkv + proj + mlp + router
    if not a.get("ffn_dim"):  # (no MLP width: the active parameters' share, embeddings out)
        active = r.active_params if r.active_params is not None else r.params
        matmuls = 2 * max(active - 2 * vocab * h, 0.5 * active) / L
    adapters = 2 * (r.trainable or 0) / L if r.mode == "lora" else 0.0  # (LoRA's adapters, per layer)
    per_layer = matmuls * (1 + backward_weights + again[0]) + core * (3 + again[1]) + adapters * (3 + again[0])
    n_layers = math.ceil(L / p)
    eff = k["gemm_efficiency"] / (1 + k["gemm_half_size"] / (h / t))
    # 8-bit: the linear layers' GEMMs at the 8-bit peak (at a fraction of the 16-bit GEMMs'
    # efficiency), the attention core and the logits at the 16-bit peak
    linear_peak, core_peak = r.peak, r.peak
    if r.fp8:  # (never slower than 16-bit GEMMs, never faster than the 8-bit peak)
        linear_peak = r.peak * k["fp8_gemm_efficiency"]
        if r.peak16:
            linear_peak = min(max(linear_peak, r.peak16), r.peak)
            core_peak = min(r.peak16, r.peak)
    linear = matmuls * (1 + backward_weights + again[0]) + adapters * (3 + again[0])
    attention = core * (3 + again[1])
    assert per_layer == linear + attention
    compute = tokens_mb / t * (n_layers * linear / (linear_peak * eff)
                               + (n_layers * attention + 3 * 2 * h * vocab) / (core_peak * eff))
    core_time = tokens_mb * n_layers * core * (3 + again[1]) / t / (core_peak * eff)

    mem_bytes = k["elementwise_bytes"] * tokens_mb * h * n_layers / (t if r.sp else 1)
    if r.attention == "eager":
        mem_bytes += k["score_bytes"] * b * heads / t * s * s / c * n_layers
    memory = width * mem_bytes / r.hbm

    act = 2 * width * tokens_mb * h
    tp_time = n_layers * (4 + 2 * again[0]) * _ring(act, t, _bw(t, 1, r))
    ep_time = 0.0
    if E > 1 and e > 1:
        ep_time = n_layers * (4 + 2 * again[0]) * act * top / t * (e - 1) / e / _bw(e, t * c, r)
    cp_time = 0.0
    if c > 1:
        kv_block = 2 * width * 2 * tokens_mb * kv * q / t
        cp_time = max(0.0, n_layers * (c - 1) * kv_block * (3 + again[1]) / _bw(c, t, r) - core_time)
    pp_time = 0.0
    if p > 1:
        link = r.scale_up if t * c * d * p <= r.domain else r.scale_out
        pp_time = v * 2 * act / t / link
    mb = compute + memory + tp_time + ep_time + cp_time + pp_time
    slots = m + (p - 1) / v

    active = r.active_params if r.active_params is not None else r.params
    share = 0.0
    if E > 1 and active < r.params:
        share = min(1.0, (r.params - active) * E / (E - top) / r.params)
    if r.mode == "lora":
        dense, routed = (r.trainable or 0) / (t * p), 0.0
    else:
        dense, routed = r.params * (1 - share) / (t * p), r.params * share / (t * p * e)

    def ring(n_params: float, group: float) -> float:
        return _ring(n_params * 2 * width, group, _bw(group, t * c, r))

    once = ring(dense, d * c) + ring(routed, d * c / e)
    if r.zero >= 3:  # reduce-scatter once; weights gathered per micro-batch forward and backward, prefetched
        dp = max(0.0, once / 2 - k["dp_overlap"] * compute * 2 / 3) + max(0.0, once * m - slots * compute)
    else:
        dp = max(0.0, once - k["dp_overlap"] * compute * 2 / 3)
    opt = k["optimizer_bytes"] * (dense + routed) / (d * c if r.zero >= 1 else 1) / r.hbm
    total = slots * mb + dp + opt
    tps = seqs * s / total
    return {
        "step_time_s": total, "tokens_per_s": tps, "mfu": r.model_flops_per_token * tps / (r.gpus * r.peak),
        "grad_accum": m, "data_parallel": d, "bubble_fraction": (p - 1) / v * mb / total,
        "comm_exposed_fraction": (slots * (tp_time + ep_time + cp_time + pp_time) + dp) / total,
    }
