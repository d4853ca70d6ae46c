"""The catalog: required entries, every figure sourced, dense peaks, name matching."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from costspec import Catalog, UnknownNameError, estimate

REQUIRED_GPUS = [
    "V100", "A100-40GB", "A100-80GB", "H100-SXM", "H100-PCIe", "H200", "H800", "B200", "GB200", "MI250X", "MI300X",
    "MI325X", "TPU-v4", "TPU-v5e", "TPU-v5p", "TPU-v6e", "Gaudi3", "L4", "L40S",
]
REQUIRED_MODELS = [
    "palm-8b", "palm-62b", "palm-540b", "gpt3-175b", "chinchilla-70b", "llama-7b", "llama-13b", "llama-33b",
    "llama-65b", "llama2-7b", "llama2-13b", "llama2-70b", "llama3-8b", "llama3-70b", "llama3.1-8b",
    "llama3.1-70b", "llama3.1-405b", "mpt-7b", "mixtral-8x7b", "deepseek-v3", "qwen-7b",
]
cat = Catalog.builtin()


@pytest.mark.parametrize("gpu", REQUIRED_GPUS)
def test_required_gpus_are_sourced(gpu: str) -> None:
    g = cat.gpu(gpu)
    assert g.peak_tflops, gpu
    for prec, fig in g.peak_tflops.items():
        assert fig.src and fig.status in {"primary", "paper_text", "derived", "secondary", "memory"}, (gpu, prec)
        if fig.status in {"secondary", "memory"}:
            assert fig.unverified, (gpu, prec)
    assert g.memory_gb is not None and g.memory_gb.src


@pytest.mark.parametrize("model", REQUIRED_MODELS)
def test_required_models_have_architectures(model: str) -> None:
    m = cat.model(model)
    assert m.source and m.status
    for k in ("layers", "d_model", "heads", "vocab", "seq_len"):
        assert k in m.architecture, (model, k)


def test_dense_not_sparse_peaks() -> None:
    """The sparsity trap: datasheets print 2× 'with sparsity' figures (A100 624, H100 1979 bf16)."""
    assert cat.gpu("a100").peak_tflops["bf16"].value == 312
    assert cat.gpu("h100").peak_tflops["bf16"].value == pytest.approx(989.4)
    assert cat.gpu("h100").peak_tflops["fp8"].value == pytest.approx(1978.9)
    assert cat.gpu("b200").peak_tflops["bf16"].value == 2250


def test_every_price_is_dated_sourced_and_names_a_gpu() -> None:
    for p in cat.prices:
        assert p.as_of and p.src and p.usd_per_gpu_hour > 0
        cat.gpu(p.gpu)


@pytest.mark.parametrize(
    ("name", "gpu_id"),
    [("h100", "H100-SXM"), ("H100 SXM", "H100-SXM"), ("h100_sxm5", "H100-SXM"), ("a100", "A100-80GB"),
     ("A100-40gb", "A100-40GB"), ("mi300x", "MI300X"), ("trillium", "TPU-v6e"), ("tpu v4", "TPU-v4")],
)
def test_names_match_case_insensitively_with_aliases(name: str, gpu_id: str) -> None:
    assert cat.gpu(name).id == gpu_id


def test_unknown_name_lists_closest() -> None:
    with pytest.raises(UnknownNameError) as e:
        cat.model("llama2-80b")
    assert "llama2-70b" in e.value.closest


def test_moe_presets_use_active_params() -> None:
    e = estimate(model="mixtral-8x7b", tokens="1T", gpu="h100", mfu=0.4)
    assert e.active_params == pytest.approx(12.88e9, rel=1e-3)
    assert e.model_flops == pytest.approx(6 * e.active_params * 1e12)
    assert e.trainable_params == e.params  # every expert is trained


def test_provider_picks_newest_on_demand_price() -> None:
    h100 = cat.gpu("h100")
    assert cat.price("aws", h100).usd_per_gpu_hour == pytest.approx(6.88)  # after the June 2025 cut
    assert cat.price("gcp/spot", h100).pricing == "spot"
    assert cat.price("runpod/secure", h100).usd_per_gpu_hour == pytest.approx(3.49)


def test_data_files_are_valid_json_with_versions() -> None:
    data = resources.files("costspec") / "data"
    for name in ("gpus", "models", "prices"):
        raw = json.loads((data / f"{name}.json").read_text())
        assert raw["catalog"] == name and raw["version"] and raw["about"]
