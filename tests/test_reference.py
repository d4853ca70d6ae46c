"""The cost model agrees with the plain-Python reference on random points (hypothesis), through
the one evaluation path (costspec.estimate: a one-point plan run by the sweep engine)."""

from __future__ import annotations

import functools
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costspec import Catalog, ModelInputError, estimate
from reference import RefPoint, close, evaluate

OUTPUT_KEYS = [
    "trainable_params", "model_flops_per_token", "model_flops", "hardware_flops", "mfu", "hfu", "gpu_hours",
    "wall_clock_days", "cost_usd", "energy_kwh", "co2e_kg", "weights_gb", "gradients_gb", "optimizer_gb",
    "activations_gb", "logits_gb", "overhead_gb", "memory_gb_per_gpu", "fits", "min_gpus", "ettr", "mfu_average",
]


@st.composite
def architectures(draw: st.DrawFn) -> dict[str, object]:
    heads = draw(st.integers(1, 128))
    head_dim = draw(st.sampled_from([32, 64, 80, 128, 256]))
    arch: dict[str, object] = {
        "layers": draw(st.integers(1, 160)),
        "heads": heads,
        "d_model": heads * head_dim * draw(st.sampled_from([1, 1, 1, 2])),
        "seq_len": draw(st.sampled_from([512, 2048, 4096, 8192, 131072])),
        "vocab": draw(st.integers(1000, 260000)),
        "gated_mlp": draw(st.booleans()),
    }
    arch["ffn_dim"] = int(arch["d_model"]) * draw(st.sampled_from([2, 3, 4]))  # type: ignore[call-overload]
    if draw(st.booleans()):
        arch["head_dim"] = head_dim
    if draw(st.booleans()):
        arch["kv_heads"] = draw(st.sampled_from([d for d in (1, 2, 4, 8, heads) if heads % d == 0]))
    if draw(st.booleans()):
        arch["experts"] = draw(st.sampled_from([8, 16, 64, 256]))
        arch["experts_per_token"] = draw(st.sampled_from([1, 2, 8]))
    # Sometimes drop fields, to exercise the "needs architecture" errors.
    for k in list(arch):
        if draw(st.integers(0, 29)) == 0:
            del arch[k]
    return arch


@st.composite
def points(draw: st.DrawFn) -> RefPoint:
    params = draw(st.floats(1e6, 2e12))
    tp = draw(st.sampled_from([1, 2, 4, 8]))
    sp = draw(st.booleans())
    cp = draw(st.sampled_from([1, 1, 2, 4]))  # (every drawn sequence length divides by 4)
    ep = 1
    pp = draw(st.sampled_from([1, 1, 2, 4, 16]))
    has_arch = draw(st.integers(0, 3)) > 0
    p = RefPoint(
        params=params,
        active_params=params * draw(st.sampled_from([1.0, 1.0, 0.25, 0.055])),
        tokens=draw(st.floats(1e6, 1e14)),
        peak_tflops=draw(st.sampled_from([19.5, 275.0, 312.0, 989.4, 1978.9, 2250.0])),
        arch=draw(architectures()) if has_arch else {},
        convention=draw(st.sampled_from(["6nd", "palm", "megatron"])),
        recompute=draw(st.sampled_from(["none", "selective", "full"])),
        attention=draw(st.sampled_from(["flash", "eager"])),
        logits=draw(st.sampled_from(["full", "chunked"])),
        mode=draw(st.sampled_from(["pretrain", "finetune", "lora"])),
        precision=draw(st.sampled_from(["fp32", "tf32", "bf16", "fp16", "fp8", "fp4"])),
        gpus=None,
        usd_per_gpu_hour=draw(st.one_of(st.none(), st.floats(0.0, 20.0))),
        watts=draw(st.one_of(st.none(), st.floats(50.0, 1500.0))),
        pue=draw(st.floats(1.0, 2.0)),
        grid_kg_co2e_per_kwh=draw(st.one_of(st.none(), st.floats(0.0, 1.0))),
        gpu_memory_gb=draw(st.one_of(st.none(), st.sampled_from([16.0, 40.0, 80.0, 141.0, 192.0]))),
        optimizer=draw(st.sampled_from(["adam", "adam8bit", "sgd"])),
        zero=draw(st.integers(0, 3)),
        tensor_parallel=tp,
        sequence_parallel=sp,
        context_parallel=cp,
        pipeline_parallel=pp,
        micro_batch=draw(st.sampled_from([1, 2, 4])),
        interleave=draw(st.sampled_from([1, 1, 2, 4])),
        framework_gb=draw(st.sampled_from([1.1, 0.0, 0.45])),
        allocator_share=draw(st.sampled_from([0.2, 0.0, 0.35])),
        paged_optimizer=draw(st.booleans()),
        dropout=draw(st.sampled_from([None, True, False])),
    )
    p.paged_optimizer = p.paged_optimizer and p.optimizer != "sgd"  # (bitsandbytes pages Adam's states)
    # Expert parallelism: a divisor of the experts (8 divides every drawn count), for MoE shapes.
    routed = (p.arch.get("experts") or 1) > (p.arch.get("experts_per_token") or 1) and \
        (p.active_params or p.params) < p.params
    if routed and draw(st.booleans()):  # (EP needs parameters in routed experts: an error otherwise)
        p.expert_parallel = ep = draw(st.sampled_from([2, 4, 8]))
    group = math.lcm(cp, ep)
    p.gpus = draw(st.one_of(st.none(), st.integers(1, 2048).map(lambda d: float(d * tp * pp * group))))
    if p.mode == "lora":
        p.base_weights = draw(st.sampled_from([None, "bf16", "int8", "nf4"]))
        p.lora_dropout = draw(st.booleans())
        if draw(st.booleans()):
            p.lora_rank = draw(st.sampled_from([4.0, 8.0, 16.0, 64.0]))
        else:
            p.lora_fraction = draw(st.floats(1e-4, 0.1))
    p.goodput = draw(st.one_of(st.none(), st.none(), st.floats(0.05, 1.0)))
    how = draw(st.sampled_from(["mfu", "gpu_hours", "wall_clock_days"]))
    if how == "mfu":
        p.mfu = draw(st.floats(0.01, 1.0))
    elif how == "gpu_hours":
        p.gpu_hours = draw(st.floats(1.0, 1e9))
    else:
        p.wall_clock_days = draw(st.floats(0.01, 1000.0))
        if p.gpus is None:
            p.gpus = float(tp * pp * group)
    return p


def needs_missing_architecture(p: RefPoint) -> bool:
    a = p.arch
    has_q = bool(a.get("head_dim") or (a.get("d_model") and a.get("heads")))
    attn = all(a.get(k) for k in ("layers", "heads", "seq_len")) and has_q
    if p.convention == "palm" or p.recompute == "selective":
        if not attn:
            return True
    if p.convention == "megatron" and not (attn and all(a.get(k) for k in ("d_model", "ffn_dim", "vocab"))):
        return True
    if p.mode == "lora" and p.lora_rank is not None and not all(a.get(k) for k in ("layers", "d_model", "heads")):
        return True
    return False


@settings(max_examples=600, deadline=None)
@given(points())
def test_engine_matches_reference(p: RefPoint) -> None:
    if needs_missing_architecture(p):
        with pytest.raises(ModelInputError, match="architecture field"):
            run(p)
        return
    heads = p.arch.get("heads")
    if heads:
        kv = p.arch.get("kv_heads") or heads
        t = p.tensor_parallel
        if heads % t or (kv % t and t % kv):
            # (the first error the engine meets: this one, or an implied MFU above 1)
            with pytest.raises(ModelInputError, match="a divisor of the heads|MFU of at most 1"):
                run(p)
            return
    ref = evaluate(p)
    if ref["mfu"] > 1.0:
        with pytest.raises(ModelInputError, match="MFU of at most 1"):
            run(p)
        return
    got = run(p).to_dict()
    for key in OUTPUT_KEYS:
        assert close(got[key], ref[key]), f"{key}: engine {got[key]!r} != reference {ref[key]!r}"


@functools.cache
def catalog(precision: str, peak: float, memory_gb: float | None) -> Catalog:
    """A catalog with one accelerator of the point's peak and memory."""
    cat = Catalog.fresh()
    gpu: dict[str, Any] = {"id": "ref-gpu", "peak_tflops": {precision: peak}}
    if memory_gb is not None:
        gpu["memory_gb"] = memory_gb
    cat.add({"gpus": [gpu]}, "<reference>")
    return cat


def run(p: RefPoint) -> Any:
    """The point through costspec.estimate (the watts and the price as given: None is none)."""
    d = p.native()
    d.pop("peak_tflops"), d.pop("gpu_memory_gb")
    kwargs = {k: v for k, v in d.items() if v is not None}
    return estimate(gpu="ref-gpu", catalog=catalog(p.precision, p.peak_tflops, p.gpu_memory_gb), **kwargs)


def test_reference_reproduces_narayanan_closed_form() -> None:
    """The reference's matmul list gives Narayanan et al.'s 96·B·s·l·h²(1 + s/6h + V/16lh)."""
    l, h, s, v = 96, 12288, 2048, 51200
    p = RefPoint(params=175e9, tokens=1.0, peak_tflops=312.0, mfu=0.5, convention="megatron", recompute="full",
                 arch={"layers": l, "d_model": h, "heads": 96, "ffn_dim": 4 * h, "vocab": v, "seq_len": s})
    out = evaluate(p)
    assert close(out["hardware_flops"], 96 * l * h * h * (1 + s / (6 * h) + v / (16 * l * h)), 1e-12)
