"""A plain-Python reference of costspec's cost model, written from the papers, not from the Rust.

The Rust core must agree with it to rounding on every input (tests/test_reference.py). Where a
formula has a printed closed form (Narayanan et al. 2021, Korthikanti et al. 2022, PaLM App. B),
the reference follows the paper's own bookkeeping (lists of matmul shapes, tables of bytes) so that
a shared mistake is unlikely.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RefPoint:
    params: float
    tokens: float
    peak_tflops: float
    active_params: float | None = None
    arch: dict[str, Any] = field(default_factory=dict)
    convention: str = "6nd"
    recompute: str = "none"
    attention: str = "flash"
    logits: str = "full"
    mode: str = "pretrain"
    base_weights: str | None = None
    lora_rank: float | None = None
    lora_fraction: float | None = None
    precision: str = "bf16"
    mfu: float | None = None
    gpu_hours: float | None = None
    wall_clock_days: float | None = None
    gpus: float | None = None
    usd_per_gpu_hour: float | None = None
    watts: float | None = None
    pue: float = 1.0
    grid_kg_co2e_per_kwh: float | None = None
    gpu_memory_gb: float | None = None
    optimizer: str = "adam"
    zero: int = 0
    tensor_parallel: int = 1
    sequence_parallel: bool = True
    pipeline_parallel: int = 1
    context_parallel: int = 1
    expert_parallel: int = 1
    micro_batch: int = 1
    interleave: int = 1
    dropout: bool | None = None  # (None: costspec's default without a preset, on)
    lora_dropout: bool = False
    paged_optimizer: bool = False
    framework_gb: float = 1.1  # (costspec's defaults)
    allocator_share: float = 0.2
    goodput: float | None = None

    def native(self) -> dict[str, Any]:
        """The point as estimate() keywords (with the accelerator's peak and memory, and the architecture)."""
        d = {k: v for k, v in self.__dict__.items() if k != "arch"}
        d["architecture"] = dict(self.arch)
        return d


def head_dim(a: dict[str, Any]) -> float:
    return a["head_dim"] if a.get("head_dim") else a["d_model"] / a["heads"]


def lora_trainable(a: dict[str, Any], rank: float) -> float:
    """Hu et al. 2021: a rank-r adapter on W (d_in × d_out) is B (d_in × r) and A (r × d_out)."""
    q_out = a["heads"] * head_dim(a)
    v_out = a.get("kv_heads", a["heads"]) * head_dim(a)
    per_layer = rank * (a["d_model"] + q_out) + rank * (a["d_model"] + v_out)
    return a["layers"] * per_layer


def megatron_matmuls(a: dict[str, Any]) -> list[tuple[float, float, float]]:
    """(rows, inner, cols) of every matmul one token goes through in one layer's forward pass."""
    h, heads, q = a["d_model"], a["heads"], head_dim(a)
    kv = a.get("kv_heads", heads)
    ffn = a["ffn_dim"]
    experts = a.get("experts") or 1
    k = a.get("experts_per_token") or 1 if experts > 1 else 1
    mats = [(1, h, heads * q), (1, h, kv * q), (1, h, kv * q), (1, heads * q, h)]
    n_mlp = 3 if a.get("gated_mlp") else 2
    mats += [(1, h, ffn)] * int(n_mlp - 1) * int(k) + [(1, ffn, h)] * int(k)
    if experts > 1:
        mats.append((1, h, experts))  # router
    return mats


def forward_terms(conv: str, n_active: float, a: dict[str, Any]) -> tuple[float, float, float]:
    """(weights, logits, attention core) forward FLOPs per token."""
    if conv == "6nd":
        return 2 * n_active, 0.0, 0.0
    attn = 2 * a["seq_len"] * a["heads"] * head_dim(a) * 2 * a["layers"]  # QK^T and AV
    if conv == "palm":
        return 2 * n_active, 0.0, attn
    weights = a["layers"] * sum(2 * m * kk * n for m, kk, n in megatron_matmuls(a))
    return weights, 2 * a["d_model"] * a["vocab"], attn


def bytes_per_param(precision: str, optimizer: str) -> tuple[float, float, float]:
    """ZeRO paper §3.1 bookkeeping: (weights, gradients, optimizer) bytes per parameter."""
    mixed = precision not in ("fp32", "tf32")
    table = {
        # optimizer: (mixed-precision optimizer bytes, fp32 optimizer bytes)
        "adam": (4 + 4 + 4, 4 + 4),
        "adam8bit": (4 + 1 + 1, 1 + 1),
        "sgd": (4 + 4, 4),
    }
    return (2, 2, table[optimizer][0]) if mixed else (4, 4, table[optimizer][1])


def saved_tensors(p: RefPoint) -> list[tuple[str, float]]:
    """What one layer keeps for its backward pass, per token, in bytes (Korthikanti et al. 2022,
    §4.1, Figure 3's walk through a transformer layer; generalised to GQA, gated MLPs, MoE routing
    and FlashAttention)."""
    a = p.arch
    h, heads = a["d_model"], a["heads"]
    q = a["head_dim"] if a.get("head_dim") else h / heads
    kv = a["kv_heads"] if a.get("kv_heads") else heads
    f = a["ffn_dim"] if a.get("ffn_dim") else 4 * h
    k = (a.get("experts_per_token") or 1) if (a.get("experts") or 1) > 1 else 1
    s = a["seq_len"]
    g = 1 if p.precision == "fp8" else 2  # (FP8 matmuls cache their inputs in FP8)
    saved = [
        ("attention layer norm input", 2 * h), ("QKV projection input", g * h),
        ("Q", 2 * heads * q), ("K", 2 * kv * q), ("V", 2 * kv * q),
        ("output projection input", g * heads * q), ("attention dropout mask", 1 * h),
        # (FlashAttention keeps its output, the projection's 16-bit input, for its own backward)
        ("attention output", 2 * heads * q if g == 1 and p.attention == "flash" else 0),
        ("MLP layer norm input", 2 * h), ("MLP input", g * h),
    ]
    if a.get("gated_mlp"):
        saved += [("gate output", 2 * f * k), ("up output", 2 * f * k), ("down projection input", g * f * k)]
    else:
        saved += [("activation input", 2 * f * k), ("second matmul input", g * f * k)]
    saved.append(("MLP dropout mask", 1 * h))
    if p.attention == "eager":  # (a query's scores span the whole sequence, context parallel or not)
        saved += [("softmax output", 2 * heads * s), ("softmax dropout mask", 1 * heads * s),
                  ("dropout output", 2 * heads * s)]
    else:  # FlashAttention keeps the softmax's log-sum-exp, fp32, per head
        saved.append(("log-sum-exp", 4 * heads))
    if p.mode == "lora" and p.lora_dropout:  # PEFT: lora_B(lora_A(dropout(x))) on the query and value
        saved += [("query adapter's dropped input", 2 * h), ("query adapter's mask", 1 * h),
                  ("value adapter's dropped input", 2 * h), ("value adapter's mask", 1 * h)]
    if p.dropout is False:  # no masks, and the scores are not dropped
        saved = [(n, v) for n, v in saved if "dropout" not in n]
    return saved


CORE = {"softmax output", "softmax dropout mask", "dropout output", "log-sum-exp"}


def rule_shape(params: float, seq_len: float | None) -> dict[str, Any]:
    """No architecture given: N = 12·L·h² with h = 128·L (heads of 128), MHA, a 4h MLP, the given
    sequence length or 2,048."""
    layers = (params / (12 * 128**2)) ** (1 / 3)
    return {"layers": layers, "d_model": 128 * layers, "heads": layers, "head_dim": 128, "seq_len": seq_len or 2048}


def activations(p: RefPoint) -> tuple[float, float] | None:
    a = p.arch
    if not all(a.get(k) for k in ("layers", "d_model", "heads", "seq_len")):
        from dataclasses import replace

        p = replace(p, arch=rule_shape(p.params, a.get("seq_len")))
        a = p.arch
    s, b, h, t = a["seq_len"] / p.context_parallel, p.micro_batch, a["d_model"], p.tensor_parallel
    saved = saved_tensors(p)
    # Sequence parallelism splits everything by t; without it the norms' and blocks' inputs and the
    # dropout masks are whole on every TP rank (Korthikanti et al. 2022, Table 2).
    whole_names = {"attention layer norm input", "QKV projection input", "attention dropout mask",
                   "MLP layer norm input", "MLP input", "MLP dropout mask"}
    split_all = p.sequence_parallel or t == 1

    def layer_bytes(kept: list[tuple[str, float]]) -> float:  # per token of one layer
        if split_all:
            return sum(v for _, v in kept) / t
        return sum(v for n, v in kept if n in whole_names) + sum(v for n, v in kept if n not in whole_names) / t

    if p.recompute == "full":  # only each layer's input
        per_token = 2 * h / (t if p.sequence_parallel else 1)
    else:
        per_token = layer_bytes([(n, v) for n, v in saved if p.recompute != "selective" or n not in CORE])
    # Recomputation rebuilds, one layer and micro-batch at a time, what it dropped: full, the
    # whole layer; selective, the attention core (split by t: its heads are).
    rebuilt = {"none": 0.0, "full": layer_bytes(saved),
               "selective": sum(v for n, v in saved if n in CORE) / t}[p.recompute]
    ring = 0.0
    if p.context_parallel > 1:  # two in-flight K,V chunks of s/CP tokens, one layer at a time
        q = a["head_dim"] if a.get("head_dim") else h / a["heads"]
        kv = a["kv_heads"] if a.get("kv_heads") else a["heads"]
        ring = 2 * 2 * s * b * 2 * kv * q / t
    width = 2 if p.precision in ("fp32", "tf32") else 1
    return a["layers"] * s * b * per_token * width, (s * b * rebuilt + ring) * width


def stage_layers(p: RefPoint) -> tuple[float, float]:
    """Layers' worth of activations on the first and last pipeline stage, as shares of L: 1F1B,
    L and L/p; interleaved over v chunks, Megatron-LM's warm-ups (get_pp_rank_microbatches) plus the
    micro-batch at work: 2(p-1) + (v-1)p + 1 chunks of L/(pv) layers first, (v-1)p + 1 last."""
    pp, v = p.pipeline_parallel, p.interleave
    if pp > 1 and v > 1:
        return (2 * (pp - 1) + (v - 1) * pp + 1) / (pp * v), ((v - 1) * pp + 1) / (pp * v)
    return 1.0, 1 / pp


# Bytes per frozen base parameter: 16-bit, int8, and NF4 with QLoRA's double quantisation (a
# block of 64 weights shares an 8-bit scale; 256 blocks share an fp32 constant: Dettmers et al.
# 2023, §3).
BASE_BYTES = {"bf16": 2.0, "int8": 1.0, "nf4": (4 + 8 / 64 + 32 / (64 * 256)) / 8}


def evaluate(p: RefPoint) -> dict[str, Any]:
    n_active = p.active_params if p.active_params is not None else p.params
    a = p.arch
    if p.mode == "lora":
        trainable = lora_trainable(a, p.lora_rank) if p.lora_rank is not None else p.lora_fraction * p.params
    else:
        trainable = p.params
    w, lg, at = forward_terms(p.convention, n_active, a)
    if p.mode == "lora":
        model_pt = (w + lg) * 2 + at * 3 + 6 * trainable
    else:
        model_pt = (w + lg + at) * 3
    extra = {"none": 0.0, "selective": None, "full": w + at + (2 * trainable if p.mode == "lora" else 0.0)}[p.recompute]
    if extra is None:
        extra = 4 * a["layers"] * a["heads"] * head_dim(a) * a["seq_len"]
    model = model_pt * p.tokens
    hardware = (model_pt + extra) * p.tokens
    peak = p.peak_tflops * 1e12
    if p.mfu is not None:
        mfu, hours = p.mfu, model / (peak * p.mfu) / 3600
    else:
        hours = p.gpu_hours if p.gpu_hours is not None else p.wall_clock_days * 24 * p.gpus
        mfu = model / (hours * 3600 * peak)
    # Goodput (Daly 2006): given, or modelled on the GPU count with Llama 3's interruption rate.
    ettr = p.goodput
    if ettr is None and p.gpus:
        mtbf = 54 * 24 * 16384 / 419 * 3600 / p.gpus  # seconds between interruptions of the job
        delta = (trainable if p.mode == "lora" else p.params) * 14 / (0.15e9 * p.gpus)
        if delta >= 2 * mtbf:
            tau = mtbf
        else:
            x = delta / (2 * mtbf)
            tau = math.sqrt(2 * delta * mtbf) * (1 + math.sqrt(x) / 3 + x / 9) - delta
        ettr = tau / (mtbf * math.exp(600 / mtbf) * math.expm1((tau + delta) / mtbf))
    r = 1.0 if ettr is None else ettr
    if p.mfu is not None:
        hours = hours / r  # the step rate's hours, and the time lost
    else:
        mfu = mfu / r  # a published total already holds the lost time
    energy = None if p.watts is None else hours * p.watts / 1000 * p.pue

    wb, gb, ob = bytes_per_param(p.precision, p.optimizer)
    mp = p.tensor_parallel * p.pipeline_parallel
    base = BASE_BYTES[p.base_weights] if p.mode == "lora" and p.base_weights else wb
    weights = (p.params * base + (trainable * wb if p.mode == "lora" else 0)) / mp
    grads = trainable * gb / mp
    opt = trainable * ob / mp
    # Expert parallelism: a rank keeps 1/EP of the routed experts, whose parameters are what a token
    # skips, scaled to all experts: (N - N_active)·E/(E - k). ZeRO shards the whole (over an
    # EP-fold smaller group for the experts: the same bytes per GPU); unsharded, the rank's share.
    e_all, k = a.get("experts") or 1, (a.get("experts_per_token") or 1)
    experts = 0.0
    if e_all > k and n_active < p.params:
        experts = min(p.params, (p.params - n_active) * e_all / (e_all - k))
    drop = experts * (1 - 1 / p.expert_parallel)  # parameters a rank does not hold
    w_kept = weights - drop * base / mp
    g_kept = grads if p.mode == "lora" else grads - drop * gb / mp
    o_kept = opt if p.mode == "lora" else opt - drop * ob / mp
    parts = activations(p)
    first, last = stage_layers(p)
    act = None if parts is None else parts[0] * first + parts[1]
    act_last = 0.0 if parts is None else parts[0] * last + parts[1]
    dp = p.gpus / mp if p.gpus else None
    div = dp or math.lcm(p.context_parallel, p.expert_parallel)  # (no count: the smallest layout)
    w_pg = weights / div if p.zero >= 3 else w_kept
    g_pg = grads / div if p.zero >= 2 else g_kept
    o_pg = opt / div if p.zero >= 1 else o_kept
    # One micro-batch's fp32 logits on the last stage (s·b·V/t values), the first stage's L
    # layers of activations against the last stage's L/p layers and the logits.
    vocab = a.get("vocab") or 32000
    seq = a.get("seq_len") or 2048
    logits = 0.0 if p.logits == "chunked" else 4 * seq / p.context_parallel * p.micro_batch * vocab / p.tensor_parallel
    peak = max(act or 0, act_last + logits)
    # The framework's memory beside the tensors: a fixed context and a share of the activations.
    overhead = p.framework_gb * 1e9 + p.allocator_share * peak
    peak += overhead
    resident = 0.0 if p.paged_optimizer else 1.0  # (paged optimizer states need not fit)
    total = w_pg + g_pg + o_pg * resident + peak
    min_gpus = None
    if p.gpu_memory_gb is not None:
        cap = p.gpu_memory_gb * 1e9 * (1 + 1e-12)

        def used(d: int) -> float:
            return (
                (weights / d if p.zero >= 3 else w_kept)
                + (grads / d if p.zero >= 2 else g_kept)
                + (opt / d if p.zero >= 1 else o_kept) * resident
                + peak
            )

        # used(d) falls as the ZeRO degree d (data × context parallel) grows; d is a multiple of CP:
        # search for the smallest k with d = k·CP that fits.
        cp = math.lcm(p.context_parallel, p.expert_parallel)

        def used_k(k: int) -> float:
            return used(k * cp)

        hi = 1
        while used_k(hi) > cap and hi < 2**62 and p.zero > 0:
            hi *= 2
        if used_k(hi) <= cap:
            lo = hi // 2 if hi > 1 else 0  # used(lo) > cap, or lo == 0
            while hi - lo > 1:
                mid = (lo + hi) // 2
                lo, hi = (lo, mid) if used_k(mid) <= cap else (mid, hi)
            min_gpus = hi * cp * mp
    return {
        "trainable_params": trainable,
        "model_flops_per_token": model_pt,
        "model_flops": model,
        "hardware_flops": hardware,
        "mfu": mfu,
        "hfu": mfu * hardware / model,
        "gpu_hours": hours,
        "ettr": ettr,
        "mfu_average": mfu * r,
        "wall_clock_days": None if not p.gpus else hours / p.gpus / 24,
        "cost_usd": None if p.usd_per_gpu_hour is None else hours * p.usd_per_gpu_hour,
        "energy_kwh": energy,
        "co2e_kg": None if energy is None or p.grid_kg_co2e_per_kwh is None else energy * p.grid_kg_co2e_per_kwh,
        "weights_gb": w_pg / 1e9,
        "gradients_gb": g_pg / 1e9,
        "optimizer_gb": o_pg / 1e9,
        "activations_gb": None if act is None else act / 1e9,
        "logits_gb": logits / 1e9,
        "overhead_gb": overhead / 1e9,
        "memory_gb_per_gpu": total / 1e9,
        # (without a GPU count: on one data-parallel replica)
        "fits": None if p.gpu_memory_gb is None else total <= p.gpu_memory_gb * 1e9 * (1 + 1e-12),
        "min_gpus": min_gpus,
    }


def close(a: Any, b: Any, rel: float = 1e-9) -> bool:
    if a is None or b is None or isinstance(a, bool) or isinstance(b, bool):
        return a == b
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-12)


# -- compute-optimal scaling (Hoffmann et al. 2022, eq. 4; the fits' constants: costspec.scaling) -----

def fit_loss(f: Any, n: float, d: float) -> float:
    """L(N, D) = E + A/N^α + B/D^β."""
    return float(f.E + f.A / n**f.alpha + f.B / d**f.beta)


def fit_optimal(f: Any, flops: float) -> tuple[float, float]:
    """The loss minimum on C = 6·N·D: N = G·(C/6)^(β/(α+β)), D = (C/6)^(α/(α+β)) / G,
    G = (α·A / (β·B))^(1/(α+β))."""
    g = (f.alpha * f.A / (f.beta * f.B)) ** (1.0 / (f.alpha + f.beta))
    x = flops / 6.0
    return g * x ** (f.beta / (f.alpha + f.beta)), x ** (f.alpha / (f.alpha + f.beta)) / g


def rule_optimal(flops: float, tokens_per_param: float) -> tuple[float, float]:
    """D = r·N on C = 6·N·D: N = sqrt(C / (6·r))."""
    n = math.sqrt(flops / 6.0 / tokens_per_param)
    return n, tokens_per_param * n


def flops_for_budget(budget_usd: float, usd_per_gpu_hour: float, peak_tflops: float, mfu: float) -> float:
    """GPU-hours = budget / price; FLOPs = GPU-hours × 3600 s × peak × MFU."""
    return budget_usd / usd_per_gpu_hour * 3600.0 * peak_tflops * 1e12 * mfu
