"""Published figures costspec must reproduce, each with its source."""

from __future__ import annotations

import pytest

import costspec
from costspec import Catalog, estimate


def rel(a: float, b: float) -> float:
    return abs(a / b - 1.0)


@pytest.mark.parametrize(("preset", "flops"), [("palm-8b", 4.29e22), ("palm-540b", 2.56e24)])
def test_palm_model_flops(preset: str, flops: float) -> None:
    """PaLM (Chowdhery et al. 2022) Table 20 / the newsletter: 4.29e22 and 2.56e24 FLOPs on 780B tokens."""
    e = estimate(model=preset, tokens="780B", convention="palm", gpu="tpu-v4", mfu=0.462)
    assert rel(e.model_flops, flops) < 0.005
    assert e.convention == "palm"


def test_palm_540b_mfu_from_throughput() -> None:
    """PaLM 540B: 238.3K tokens/s on 6144 TPU v4 chips is 46.2% MFU (Table 3). The throughput is a
    training step rate: the time it gives has no interruptions in it (goodput 1)."""
    days = 780e9 / 238.3e3 / 86400
    e = estimate(model="palm-540b", tokens="780B", convention="palm", gpu="tpu-v4", gpus=6144, wall_clock_days=days,
                 goodput=1)
    assert e.mfu == pytest.approx(0.462, abs=0.0005) and e.mfu_average == e.mfu


def test_mosaicml_7b_on_a100() -> None:
    """MosaicML (via the newsletter): 7B on 134B tokens, ~11,462 A100 GPU-hours ≈ $25,300."""
    implied = estimate(model="mpt-7b", tokens="134B", gpu="a100-40gb", gpu_hours=11462).mfu
    assert 0.38 < implied < 0.45
    e = estimate(model="mpt-7b", tokens="134B", gpu="a100-40gb", mfu=round(implied, 3), usd_per_gpu_hour=2.21)
    assert rel(e.gpu_hours, 11462) < 0.005
    assert e.cost_usd is not None and rel(e.cost_usd, 25300) < 0.005


def test_llama2_70b_mfu_and_carbon() -> None:
    """Llama 2 (Touvron et al. 2023) Table 2: 1,720,320 A100-80GB hours, 291.42 tCO2e at 400 W, PUE 1.1,
    0.385 kg/kWh; over $3.5M at ~$2/h (the newsletter)."""
    e = estimate(model="llama2-70b", tokens="2T", gpu="A100-80GB", gpu_hours=1720320, watts=400, pue=1.1,
                 grid_kg_co2e_per_kwh=0.385, usd_per_gpu_hour=2.05)
    assert e.mfu == pytest.approx(0.43, abs=0.01)
    assert e.co2e_kg is not None and e.co2e_kg / 1000 == pytest.approx(291.42, abs=0.005)
    assert e.cost_usd is not None and e.cost_usd > 3.5e6


@pytest.mark.parametrize(
    ("preset", "catalog_co2e_t"),
    [("llama2-7b", 31.22), ("llama2-13b", 62.44), ("llama-65b", 173), ("llama-7b", 14)],
)
def test_meta_carbon_convention(preset: str, catalog_co2e_t: float) -> None:
    """Meta's convention (LLaMA Table 15, Llama 2 Table 2): GPU-hours × 400 W × PUE 1.1 × 0.385 kg/kWh."""
    m = Catalog.builtin().model(preset)
    e = estimate(model=preset, gpu="A100-80GB", gpu_hours=m.training["gpu_hours"], watts=400, pue=1.1,
                 grid_kg_co2e_per_kwh=0.385)
    assert e.co2e_kg is not None
    assert e.co2e_kg / 1000 == pytest.approx(catalog_co2e_t, abs=0.01 if catalog_co2e_t % 1 else 0.5)  # Meta truncates


def test_alpaca_under_100_dollars_at_every_catalog_a100_80gb_price() -> None:
    """Stanford Alpaca: 3 hours on 8 A100-80GB, under $100 at cloud prices."""
    cat = Catalog.builtin()
    providers = sorted({p.provider for p in cat.prices if p.gpu == "A100-80GB"})
    assert len(providers) >= 3
    for provider in providers:
        e = estimate(model="llama-7b", mode="finetune", dataset_tokens=52_002 * 512, epochs=3, gpu="a100-80gb",
                     gpus=8, wall_clock_days=3 / 24, provider=provider)
        assert e.gpu_hours == pytest.approx(24)
        assert e.cost_usd is not None and e.cost_usd < 100, provider


def test_deepseek_v3_cost() -> None:
    """DeepSeek-V3 technical report: 2.788M H800 GPU-hours at $2/GPU-hour = $5.576M."""
    e = estimate(model="deepseek-v3", gpu="h800", gpu_hours=2.788e6, usd_per_gpu_hour=2, precision="fp8")
    assert e.cost_usd == pytest.approx(5.576e6)
    assert e.active_params == 37e9
    assert e.model_flops == pytest.approx(6 * 37e9 * 14.8e12)


def test_llama31_405b_flops() -> None:
    """Llama 3 herd paper: 405B on 15.6T tokens is 3.8e25 FLOPs."""
    e = estimate(model="llama3.1-405b", tokens="15.6T", gpu="h100", mfu=0.4)
    assert rel(e.model_flops, 3.8e25) < 0.005


def test_gpt3_flops() -> None:
    """Brown et al. 2020 Table D.1: GPT-3 175B on 300B tokens, 3.14e23 FLOPs."""
    e = estimate(model="gpt3-175b", tokens="300B", gpu="v100", precision="fp16", mfu=0.2)
    assert rel(e.model_flops, 3.14e23) < 0.005


def test_megatron_gpt3_34_days() -> None:
    """Narayanan et al. 2021 §5.1: GPT-3 on 1024 A100s at 140 TFLOP/s per GPU (full recomputation,
    8·N·D hardware FLOPs) takes about 34 days for 300B tokens."""
    hfu = 140 / 312
    e = estimate(params="175B", tokens="300B", gpu="a100-80gb", gpus=1024, recompute="full", mfu=hfu * 6 / 8)
    assert e.hfu == pytest.approx(hfu)
    assert e.wall_clock_days == pytest.approx(34, abs=0.5)


def test_version_is_exposed() -> None:
    """One version: the engine's module's (Cargo.toml), the installed package's (pyproject.toml)."""
    from importlib.metadata import version

    from costspec import _native

    assert costspec.__version__ == _native.__version__ == version("costspec")
