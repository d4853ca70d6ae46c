"""A plain-Python reference of the serving model (rust/model/serve.rs), written from the formulas in
shared/reference/serving-model-notes.md rather than from the Rust: benchmarks/calibrate_serve.py
fits the efficiency constants with it (so they are a parameter here)."""

from __future__ import annotations

import math
from dataclasses import dataclass

# Bytes per stored number (int4: groups of 128 with a 16-bit scale and a 4-bit zero point).
WIDTH = {"bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0, "int4": 0.5 + 2.5 / 128}


@dataclass
class Served:
    """A model served on one replica of ``tp`` GPUs."""

    params: float
    active_params: float
    layers: float
    hidden: float
    heads: float
    kv_heads: float
    head_dim: float
    peak: float  # FLOP/s at the GEMMs' precision
    hbm: float  # bytes/s
    memory: float  # bytes
    scale_up: float  # bytes/s per GPU per direction
    tp: int
    input_tokens: float
    output_tokens: float
    weights: str = "bf16"
    kv: str = "bf16"
    batch: float | None = None
    batch_cap: float | None = None
    mbu: float = 1.0
    mfu_decode: float = 1.0
    mfu_prefill: float = 1.0
    kv_fraction: float = 1.0
    reserved: float = 0.0  # bytes per GPU
    all_reduce_latency: float = 0.0  # seconds
    tp_efficiency: float = 1.0  # achieved fraction of the scale-up bandwidth in TP's all-reduces
    pp: int = 1  # pipeline stages, each layers / pp layers, micro-batches of batch / pp
    domain: float = 8.0  # GPUs per scale-up domain: stages of a wider replica send over the scale-out network
    scale_out: float = 0.0  # bytes/s per GPU per direction
    ep: int = 1  # expert parallelism: a divisor of tp (experts split over the TP GPUs: as TP), or a multiple
    # (ep/tp attention groups of tp GPUs, each decoding its own sequences; experts over all ep GPUs)
    experts: float = 1.0  # routed experts
    experts_per_token: float = 1.0
    kv_latent: float = 0.0  # MLA: the latent cached per token per layer, for all heads (0: K and V per KV head)
    max_tpot: float | None = None  # seconds: the largest batch that meets it (by a scan of every batch)
    max_ttft: float | None = None


def serve(r: Served) -> dict[str, float]:
    """The serving figures of one replica (the Rust model's outputs, by name)."""
    t, p, L, q, e, k = r.tp, r.pp, r.layers, r.head_dim, r.ep, r.experts_per_token
    if r.heads % t or L % p:
        raise ValueError("TP does not divide the heads, or PP the layers")
    # A routed expert's parameters x: params = dense + E·x, active = dense + k·x.
    x = (r.params - r.active_params) / (r.experts - k) if r.experts > k else 0.0
    if e > 1 and (x <= 0 or r.experts % e or (t % e and e % t)):
        raise ValueError("EP does not split routed experts evenly, or does not line up with TP")
    groups = e // t if e > t else 1  # (attention groups of t GPUs)
    routed = r.experts * x if groups > 1 else 0.0  # (within TP the experts split as every weight does)
    if r.kv_latent:  # (one latent for all heads: every TP rank holds it; attention over its width)
        kv_token = L * r.kv_latent * WIDTH[r.kv]
        kv_token_gpu = (L / p) * r.kv_latent * WIDTH[r.kv]
    else:
        kv_token = 2 * L * r.kv_heads * q * WIDTH[r.kv]
        kv_token_gpu = 2 * (L / p) * max(r.kv_heads / t, 1) * q * WIDTH[r.kv]  # (a stage's layers)
    weights = ((r.params - routed) / (t * p) + routed / (e * p)) * WIDTH[r.weights]
    context = r.input_tokens + r.output_tokens / 2  # (the average cache of a decoding sequence)
    free = (r.memory - weights - r.reserved) * r.kv_fraction
    max_batch = groups * max(0.0, math.floor(free / (context * kv_token_gpu)))  # (each group its own sequences)
    if r.batch_cap is not None:
        max_batch = min(max_batch, r.batch_cap)
    link = r.scale_up if t * groups * p <= r.domain else r.scale_out
    ep_link = r.scale_up if e <= r.domain else r.scale_out
    reduces = 1 if groups > 1 else 2  # (per layer: the attention's, and the MLP's unless the experts combine)

    def all_to_all(tokens: float) -> float:  # one GPU's share of `tokens` tokens' k copies, (e-1)/e sent away
        return tokens * k * (e - 1) / e * 2 * r.hidden / ep_link + r.all_reduce_latency

    def ring(nbytes: float) -> float:
        return 0.0 if t <= 1 else 2 * (t - 1) / t * nbytes / (r.scale_up * r.tp_efficiency) + r.all_reduce_latency

    def hop(nbytes: float) -> float:  # one send between stages of a TP shard of the activations
        return nbytes / t / link + r.all_reduce_latency

    attention = 4 * L * context * r.heads * (r.kv_latent or q)  # FLOPs per decoded token: QK and AV over the cache

    def step(b: float) -> float:
        # Each of the p stages takes its micro-batch through its L/p layers; a token passes all of
        # them, so the step is p stage times. min(b, p·groups) micro-batches: a sequence is not split;
        # each group's micro-batch m is its own; the experts take all groups' m·groups tokens.
        m = b / min(b, p * groups)
        read = (weights + m * context * kv_token_gpu) / (r.hbm * r.mbu)
        dense = m * (2 * (r.active_params - k * x * (groups > 1)) + attention) / p / t
        experts = m * groups * 2 * k * x / p / e if groups > 1 else 0.0
        math_s = (dense + experts) / (r.peak * r.mfu_decode)
        stage = max(read, math_s) + reduces * (L / p) * ring(2 * m * r.hidden)
        if groups > 1:
            stage += 2 * (L / p) * all_to_all(m * groups / e)
        return p * stage + (p - 1) * hop(2 * m * r.hidden)

    b = max_batch if r.batch is None else r.batch
    if r.batch is None and r.max_tpot is not None and b >= 1:
        # The largest whole batch whose step meets the bound, else 1. The step never shrinks as
        # the batch grows (more micro-batch tokens read, computed and sent), so bisection finds
        # what a scan down from the largest batch finds, in ~20 steps instead of millions.
        lo, hi = 1, int(b)
        if step(hi) <= r.max_tpot:
            lo = hi
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if step(mid) <= r.max_tpot else (lo, mid)
        b = float(lo)
    if b < 1:
        raise ValueError("no sequence's cache fits")
    tpot = step(b)
    s = r.input_tokens
    # (every group prefills a prompt at once: the experts' share of all of them over e GPUs is one
    # prompt's over t; each GPU of a group sends its 1/t of the prompt's tokens to the experts)
    ttft = (2 * r.active_params * s + 2 * L * s * s * r.heads * q) / (t * r.peak * r.mfu_prefill) \
        + reduces * L * ring(2 * s * r.hidden) + (p - 1) * hop(2 * s * r.hidden) \
        + (2 * L * all_to_all(s / t) if groups > 1 else 0.0)
    # (the stages of each group prefill p·groups prompts at once)
    out = b * r.output_tokens / (r.output_tokens * tpot + b * ttft / min(b, p * groups))
    meets = (r.max_tpot is None or tpot <= r.max_tpot) and (r.max_ttft is None or ttft <= r.max_ttft)
    return {"meets_bounds": meets, "kv_bytes_per_token": kv_token, "weights_bytes_per_gpu": weights, "max_batch": max_batch, "batch": b,
            "ttft_s": ttft, "tpot_s": tpot, "output_tokens_per_s": out,
            "output_tokens_per_s_per_gpu": out / (t * groups * p)}
