"""The memory model against practice (issue 11): FlashAttention, quantised LoRA bases."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.csv as pcsv
import pytest

import costspec
from clirun import run

ROOT = Path(__file__).resolve().parent.parent


def _swept(tmp_path: Path, capsys: pytest.CaptureFixture[str], spec_text: str) -> list[dict[str, Any]]:
    """`costspec sweep` of a spec to CSV: the rows."""
    spec = tmp_path / "s.yaml"
    spec.write_text(spec_text)
    code, _, err = run(capsys, "sweep", str(spec), "-o", str(tmp_path / "o.csv"))
    assert code == 0, err
    rows: list[dict[str, Any]] = pcsv.read_csv(tmp_path / "o.csv").to_pylist()
    return rows

# A 7B MHA shape with a plain 4h MLP: Korthikanti et al. 2022's block.
MHA_7B = {"layers": 32, "d_model": 4096, "heads": 32, "ffn_dim": 16384, "vocab": 32000}


def _act(attention: str, seq_len: int, recompute: str = "none") -> float:
    e = costspec.estimate(params="6.7B", tokens="1B", architecture={**MHA_7B, "seq_len": seq_len},
                          attention=attention, recompute=recompute)
    assert e.activations_gb is not None
    return e.activations_gb


@pytest.mark.parametrize("seq_len,ratio", [(2048, 3.35), (8192, 10.4)])
def test_flash_attention_drops_the_scores(seq_len: int, ratio: float) -> None:
    """Korthikanti's s·b·h·(34 + 5·a·s/h) per layer keeps the s×s scores; FlashAttention keeps
    34·s·b·h plus one fp32 log-sum-exp per head and token."""
    eager, flash = _act("eager", seq_len), _act("flash", seq_len)
    s, h, a, layers = seq_len, 4096, 32, 32
    assert eager * 1e9 == pytest.approx(layers * s * h * (34 + 5 * a * s / h), rel=1e-12)
    assert flash * 1e9 == pytest.approx(layers * (34 * s * h + 4 * a * s), rel=1e-12)
    assert eager / flash == pytest.approx(ratio, abs=0.01)
    # Selective recomputation drops the core either way, and rebuilds one layer's for its backward
    # pass; full keeps each layer's input and rebuilds one whole layer.
    core = {"eager": 5 * a * s * s, "flash": 4 * a * s}
    for attention in ("eager", "flash"):
        assert _act(attention, seq_len, "selective") == \
            pytest.approx((layers * 34 * s * h + core[attention]) / 1e9, rel=1e-12)
        assert _act(attention, seq_len, "full") == \
            pytest.approx((layers * 2 * s * h + 34 * s * h + core[attention]) / 1e9, rel=1e-12)


def test_gqa_and_gated_mlps_change_the_activations() -> None:
    """Llama 2 70B: 8 KV heads of 128 and a SwiGLU MLP of 28,672 keep 6h + 4·8·128 (attention),
    2h + 6·28672 (MLP) and 4h (norms) bytes per token and layer: Llama trains without dropout,
    whose masks (h each) Korthikanti's count adds."""
    e = costspec.estimate(model="llama2-70b", tokens="2T", recompute="selective")
    assert e.dropout is False
    h, s, layers = 8192, 4096, 80
    per_token = 6 * h + 4 * 8 * 128 + 2 * h + 6 * 28672 + 4 * h
    masks = costspec.estimate(model="llama2-70b", tokens="2T", recompute="selective", dropout=True)
    assert masks.activations_gb == pytest.approx(e.activations_gb + layers * s * 2 * h / 1e9, rel=1e-12)
    rebuilt = 4 * 64 * s  # (one layer's flash core, recomputed for its backward pass: fp32 per head)
    assert e.activations_gb == pytest.approx((layers * s * per_token + rebuilt) / 1e9, rel=1e-12)


def test_nf4_and_int8_bases() -> None:
    """QLoRA §3: NF4 is 4 bits, plus an 8-bit constant per 64 weights and an fp32 constant per
    256 blocks: 4.127 bits per parameter."""
    kw = {"params": "65B", "tokens": "1B", "mode": "lora", "lora_fraction": 0.001}
    lora_bytes = 65e9 * 0.001 * 2
    for base, bits in (("nf4", 4 + 8 / 64 + 32 / (64 * 256)), ("int8", 8.0), ("bf16", 16.0)):
        e = costspec.estimate(**kw, base_weights=base)  # type: ignore[arg-type]
        assert e.weights_gb * 1e9 == pytest.approx(65e9 * bits / 8 + lora_bytes, rel=1e-12), base
        assert e.base_weights == base
    assert round(4 + 8 / 64 + 32 / (64 * 256), 3) == 4.127
    assert costspec.estimate(**kw).weights_gb == costspec.estimate(**kw, base_weights="bf16").weights_gb  # type: ignore[arg-type]


@pytest.mark.parametrize("preset,gpu,rank,base,recompute,source", [
    ("llama-65b", "rtx-a6000", 64, "nf4", "full", "QLoRA: a 65B model finetuned on a single 48 GB GPU"),
    ("llama-33b", "rtx-3090", 64, "nf4", "full", "QLoRA: 33B on a single 24 GB consumer GPU"),
    ("llama-33b", "rtx4090", 64, "nf4", "full", "QLoRA: Guanaco 33B on a 24 GB consumer GPU"),
    ("llama-7b", "rtx4090", 16, None, "none", "LoRA 7B at sequence 2048 on a 24 GB GPU"),
])
def test_published_lora_setups_fit(preset: str, gpu: str, rank: int, base: str | None, recompute: str,
                                   source: str) -> None:
    e = costspec.estimate(model=preset, tokens="1B", gpu=gpu, gpus=1, mfu=0.3, mode="lora", lora_rank=rank,
                          base_weights=base, recompute=recompute)  # type: ignore[arg-type]
    assert e.fits is True, (source, e.memory_gb_per_gpu)


def test_base_weights_belong_to_lora(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "estimate", "--params", "7B", "--tokens", "1T", "--base-weights", "nf4")
    assert code == 2 and "--base-weights: got nf4, expected mode 'lora' to go with it" in err
    code, _, err = run(capsys, "estimate", "--params", "7B", "--tokens", "1T", "--attention", "sdpa")
    assert code == 2 and "sdpa" in err and "flash" in err and err.count("\n") == 1
    spec = tmp_path / "s.yaml"
    spec.write_text("costspec: 1\nmodel: {params: 7B}\ntraining: {tokens: 1T, base_weights: nf4}\n")
    code, out, _ = run(capsys, "validate", str(spec))
    assert code == 1 and "s.yaml:3:" in out and "base_weights stores LoRA's frozen base" in out
    spec.write_text("costspec: 1\nmodel: {params: 7B}\ntraining: {tokens: 1T, attention: sdpa}\n")
    code, out, _ = run(capsys, "validate", str(spec))
    assert code == 1 and "s.yaml:3:" in out and "sdpa" in out


def test_a_sweep_over_attention_and_base_weights(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = _swept(tmp_path, capsys,
                  "costspec: 1\nmodel: {preset: llama-7b}\n"
                  "training: {tokens: 1B, mode: lora, lora_rank: 16}\nhardware: {gpu: rtx4090, count: 1, mfu: 0.3}\n"
                  "sweep: {grid: {training.attention: [flash, eager], training.base_weights: [bf16, nf4]}}\n")
    assert [(r["attention"], r["base_weights"]) for r in rows] == \
        [("flash", "bf16"), ("flash", "nf4"), ("eager", "bf16"), ("eager", "nf4")]
    for r in rows:  # one evaluation path: each row is the one-point estimate
        e = costspec.estimate(model="llama-7b", tokens="1B", mode="lora", lora_rank=16, gpu="rtx4090", gpus=1, mfu=0.3,
                              attention=r["attention"], base_weights=r["base_weights"])
        assert (r["weights_gb"], r["activations_gb"], r["fits"]) == \
            (pytest.approx(e.weights_gb, rel=1e-15), pytest.approx(e.activations_gb, rel=1e-15), e.fits)
    # LoRA 7B at sequence 2048 fits 24 GB with FlashAttention; the eager s×s softmax outputs (17.2 GB
    # of activations) do not with a 16-bit base, and do with an NF4 one.
    assert [r["fits"] for r in rows] == [True, True, False, True]


def test_logits_take_4_bytes_per_position_and_vocabulary_entry() -> None:
    """One Llama 3 sequence: 8,192 × 128,256 fp32 logits, 4.2 GB; split by TP (vocabulary-parallel);
    a chunked loss never materialises them."""
    e = costspec.estimate(model="llama3-8b", tokens="1B")
    assert e.logits_gb == pytest.approx(4 * 8192 * 128256 / 1e9, rel=1e-15) and round(e.logits_gb, 1) == 4.2
    assert costspec.estimate(model="llama3-8b", tokens="1B", tensor_parallel=8).logits_gb * 8 == pytest.approx(e.logits_gb)
    chunked = costspec.estimate(model="llama3-8b", tokens="1B", logits="chunked")
    assert chunked.logits_gb == 0 and e.memory_gb_per_gpu - chunked.memory_gb_per_gpu == pytest.approx(e.logits_gb * 1.2)
    # Pipelined: the first stage's L layers of activations, or the last's L/p and the logits.
    for pp, kw in ((2, {}), (4, {"recompute": "full"})):
        p = costspec.estimate(model="llama3-8b", tokens="1B", pipeline_parallel=pp, **kw)  # type: ignore[arg-type]
        c = costspec.estimate(model="llama3-8b", tokens="1B", pipeline_parallel=pp, logits="chunked", **kw)  # type: ignore[arg-type]
        assert p.activations_gb is not None
        # (every stage also holds the layer a full recomputation rebuilds; the last L/p layers' inputs)
        rebuilt = p.activations_gb - 32 * 2 * 8192 * 4096 / 1e9 if kw else 0.0
        peak = max(p.activations_gb, (p.activations_gb - rebuilt) / pp + rebuilt + p.logits_gb)
        # (the allocator's default share, 0.2, of the busiest stage's activations and logits too)
        assert p.memory_gb_per_gpu - c.memory_gb_per_gpu == pytest.approx((peak - p.activations_gb) * 1.2, abs=1e-9)
        assert p.overhead_gb == pytest.approx(1.1 + 0.2 * peak, rel=1e-12)


def test_alpaca_and_megatrons_table_1_fit() -> None:
    """Alpaca: a full fine-tune of LLaMA 7B with FSDP on 8 A100-80GB (sequence 512, 4 per GPU);
    Narayanan et al. 2021 Table 1: ten GPT models from 1.7B to 1T, full recomputation, on 80 GB."""
    alpaca = costspec.estimate(model="llama-7b", mode="finetune", tokens="1B", gpu="a100-80gb", gpus=8, zero=3,
                               micro_batch=4, architecture={"seq_len": 512}, mfu=0.3)
    assert alpaca.fits is True
    table_1 = [  # (params, heads, hidden, layers, TP, PP, GPUs), as printed
        (1.7e9, 24, 2304, 24, 1, 1, 32), (3.6e9, 32, 3072, 30, 2, 1, 64), (7.5e9, 32, 4096, 36, 4, 1, 128),
        (18.4e9, 48, 6144, 40, 8, 1, 256), (39.1e9, 64, 8192, 48, 8, 2, 512), (76.1e9, 80, 10240, 60, 8, 4, 1024),
        (145.6e9, 96, 12288, 80, 8, 8, 1536), (310.1e9, 128, 16384, 96, 8, 16, 1920),
        (529.6e9, 128, 20480, 105, 8, 35, 2520), (1008.0e9, 160, 25600, 128, 8, 64, 3072),
    ]
    for n, heads, h, layers, tp, pp, gpus in table_1:
        arch = {"layers": layers, "d_model": h, "heads": heads, "ffn_dim": 4 * h, "vocab": 51200, "seq_len": 2048}
        e = costspec.estimate(params=n, tokens="1B", architecture=arch, gpu="a100-80gb", gpus=gpus, mfu=0.4,
                              tensor_parallel=tp, pipeline_parallel=pp, zero=0, recompute="full", attention="eager")
        assert e.fits is True, (n, e.memory_gb_per_gpu)


def test_sequence_parallelism_can_be_turned_off(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Korthikanti et al. 2022, Table 2: without SP, s·b·h·(10 + 24/t + 5·a·s/(h·t)) per layer."""
    kw = {"params": "6.7B", "tokens": "1B", "architecture": {**MHA_7B, "seq_len": 2048}, "attention": "eager",
          "tensor_parallel": 8}
    on = costspec.estimate(**kw)  # type: ignore[arg-type]
    off = costspec.estimate(**kw, sequence_parallel=False)  # type: ignore[arg-type]
    s, h, a, layers, t = 2048, 4096, 32, 32, 8
    assert off.activations_gb * 1e9 == pytest.approx(layers * s * h * (10 + 24 / t + 5 * a * s / (h * t)), rel=1e-12)
    assert on.activations_gb * 1e9 == pytest.approx(layers * s * h * (34 + 5 * a * s / h) / t, rel=1e-12)
    assert on.sequence_parallel is True and off.sequence_parallel is False
    code, out, _ = run(capsys, "estimate", "--params", "6.7B", "--tokens", "1B", "--tp", "8", "--no-sp")
    assert code == 0 and "TP 8 without SP" in out
    rows = _swept(tmp_path, capsys,
                  "costspec: 1\nmodel: {preset: llama2-7b}\nparallelism: {tensor: 8}\n"
                  "sweep: {grid: {parallelism.sequence: [true, false]}}\n")
    assert [r["sequence_parallel"] for r in rows] == [True, False] and rows[0]["activations_gb"] < rows[1]["activations_gb"]
    with pytest.raises(costspec.InputError, match="sequence_parallel"):
        costspec.estimate(params="7B", tokens="1T", sequence_parallel="no")  # type: ignore[arg-type]


def test_context_parallelism_splits_the_sequence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Llama 3 405B at 131K on CP 16 holds what 8K holds without CP, plus the ring's K,V buffers;
    model states are replicated across CP ranks, and GPU counts are multiples of TP·PP·CP."""
    kw = {"model": "llama3.1-405b", "tokens": "15.6T", "gpu": "h100", "mfu": 0.4, "tensor_parallel": 8,
          "pipeline_parallel": 16, "zero": 1, "recompute": "selective"}
    at_8k = costspec.estimate(**kw, gpus=2048)  # type: ignore[arg-type]
    at_131k = costspec.estimate(**kw, gpus=2048 * 16, context_parallel=16,  # type: ignore[arg-type]
                                architecture={"seq_len": 131072})
    ring = 2 * 2 * 8192 * 2 * 8 * 128 / 8  # two chunks of 8,192 tokens' K and V (8 KV heads of 128), TP 8
    assert at_131k.activations_gb == pytest.approx(at_8k.activations_gb + ring / 1e9, rel=1e-12)
    assert at_131k.logits_gb == pytest.approx(at_8k.logits_gb, rel=1e-12)
    assert at_131k.weights_gb == at_8k.weights_gb and at_131k.data_parallel == at_8k.data_parallel == 16
    # ZeRO shards over data × context parallel: the optimizer's share divides by 16 more.
    assert at_131k.optimizer_gb == pytest.approx(at_8k.optimizer_gb / 16, rel=1e-12)
    assert at_131k.min_gpus is None or at_131k.min_gpus % (8 * 16 * 16) == 0
    small = costspec.estimate(model="llama2-7b", tokens="1T", gpu="h100", mfu=0.4, context_parallel=4)
    assert small.min_gpus is not None and small.min_gpus % 4 == 0
    code, _, err = run(capsys, "estimate", "--model", "llama2-7b", "--tokens", "1T", "--gpu", "h100", "--gpus", "6",
                       "--cp", "4", "--mfu", "0.4")
    assert code == 2 and "--gpus: got 6, expected a multiple of tensor × pipeline parallel × lcm(context, expert parallel) (4)" in err
    spec = tmp_path / "s.yaml"
    spec.write_text("costspec: 1\nmodel: {preset: llama2-7b}\nparallelism: {context: 3}\n")
    code, out, _ = run(capsys, "validate", str(spec))
    assert code == 1 and "context_parallel 3 does not divide the sequence length 4096" in out and "[CS603]" in out
    s = costspec.solve("gpus", {"wall_clock_days": 30}, model="llama2-7b", tokens="1T", gpu="h100", mfu=0.4,
                       context_parallel=4)
    assert s.value % 4 == 0 and s.estimate.wall_clock_days <= 30


def test_expert_parallelism_splits_the_routed_experts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """DeepSeek-V3 as its report trained it (PP 16, EP 64, ZeRO-1, 2,048 H800): 654B of its 671B
    parameters are routed experts ((671 - 37)·256/248), of which a rank keeps 1/64."""
    kw = {"model": "deepseek-v3", "tokens": "14.8T", "gpu": "h800", "gpus": 2048, "pipeline_parallel": 16, "zero": 1,
          "mfu": 0.3, "recompute": "full", "precision": "fp8"}
    ep = costspec.estimate(**kw, expert_parallel=64)  # type: ignore[arg-type]
    no = costspec.estimate(**kw)  # type: ignore[arg-type]
    n, active = 671e9, 37e9
    experts = (n - active) * 256 / 248
    assert no.weights_gb == pytest.approx(n * 2 / 16 / 1e9, rel=1e-12)
    assert ep.weights_gb == pytest.approx((n - experts * (1 - 1 / 64)) * 2 / 16 / 1e9, rel=1e-12)
    assert ep.optimizer_gb == no.optimizer_gb  # (ZeRO-1 shards the optimizer states: the same bytes per GPU)
    assert ep.fits is True and no.fits is False
    code, _, err = run(capsys, "estimate", "--model", "llama2-7b", "--tokens", "1T", "--ep", "2")
    assert code == 2 and "expert_parallel 2 does not divide a model without routed experts" in err
    spec = tmp_path / "s.yaml"
    spec.write_text("costspec: 1\nmodel: {preset: deepseek-v3}\nparallelism: {expert: 3}\n")
    code, out, _ = run(capsys, "validate", str(spec))
    assert code == 1 and "expert_parallel 3 does not divide the experts (256)" in out and "[CS603]" in out
    code, _, err = run(capsys, "estimate", "--model", "deepseek-v3", "--gpu", "h800", "--gpus", "96", "--pp", "16",
                       "--ep", "64", "--mfu", "0.3")
    assert code == 2 and "--gpus: got 96, expected a multiple of tensor × pipeline parallel × lcm(context, expert " \
                         "parallel) (1024)" in err


def test_cp_and_ep_without_a_count_are_judged_on_the_smallest_layout(capsys: pytest.CaptureFixture[str]) -> None:
    """Without --gpus, fits was judged on TP·PP GPUs, which a CP or EP layout cannot run on."""
    e = costspec.estimate(params="7B", tokens="1B", gpu="a100-40gb", context_parallel=4, tensor_parallel=2, zero=3)
    at_8 = costspec.estimate(params="7B", tokens="1B", gpu="a100-40gb", context_parallel=4, tensor_parallel=2, zero=3,
                             gpus=8)
    assert e.memory_gb_per_gpu == at_8.memory_gb_per_gpu and e.fits is True and e.min_gpus == 8
    code, out, _ = run(capsys, "estimate", "--params", "7B", "--tokens", "1B", "--gpu", "a100-40gb", "--cp", "4",
                       "--tp", "2")
    assert "fits on 8 GPUs (TP·PP·lcm(CP, EP), no --gpus)" in out
    for args, needle in ((["--params", "7B", "--tokens", "1B", "--cp", "3"], "does not divide the sequence length 2048"),
                         (["--model", "deepseek-v3", "--params", "700B", "--ep", "64"], "none are in routed experts"),
                         (["--model", "mixtral-8x7b", "--tokens", "1B", "--arch", "experts_per_token=9"],
                          "--arch experts_per_token=...")):
        code, _, err = run(capsys, "estimate", *args)
        assert code == 2 and needle in err, (args, err)


def test_solved_counts_are_the_fewest_the_layout_allows() -> None:
    """With CP 4 and EP 4 the unit is TP·PP·lcm(4, 4) = 4, not 16: 92 GPUs meet a 25-day deadline."""
    s = costspec.solve("gpus", {"wall_clock_days": 25}, model="mixtral-8x7b", tokens="1T", gpu="h100", mfu=0.4,
                       context_parallel=4, expert_parallel=4)
    assert s.value == 92 and s.binding == "wall_clock_days"
    fewer = costspec.estimate(model="mixtral-8x7b", tokens="1T", gpu="h100", mfu=0.4, context_parallel=4,
                              expert_parallel=4, gpus=88)
    assert fewer.wall_clock_days is not None and fewer.wall_clock_days > 25


def test_the_overhead_is_the_framework_and_a_share_of_the_activations() -> None:
    """overhead_gb = framework_gb + allocator_share × the busiest stage's activations and logits,
    part of memory_gb_per_gpu; both 0 leave the tensors alone."""
    kw: dict[str, Any] = {"model": "llama2-7b", "tokens": "1B", "mode": "lora", "lora_rank": 8}
    bare = costspec.estimate(**kw, framework_gb=0, allocator_share=0)
    assert bare.overhead_gb == 0
    e = costspec.estimate(**kw)
    assert (e.framework_gb, e.allocator_share) == (1.1, 0.2)
    assert e.activations_gb is not None
    assert e.overhead_gb == pytest.approx(1.1 + 0.2 * (e.activations_gb + e.logits_gb), rel=1e-12)
    assert e.memory_gb_per_gpu == pytest.approx(bare.memory_gb_per_gpu + e.overhead_gb, rel=1e-12)
    # (pipelined: the share of the busier stage, the first's L layers here)
    p = costspec.estimate(**kw, pipeline_parallel=4, framework_gb=0)
    assert p.activations_gb is not None
    assert p.overhead_gb == pytest.approx(0.2 * max(p.activations_gb, p.activations_gb / 4 + p.logits_gb))


def test_the_default_share_is_the_fit_on_the_measured_table() -> None:
    """benchmarks/memory_practice.py fits the share on Hugging Face's fp32 rows; the field's
    default is that fit, rounded."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("memory_practice", ROOT / "benchmarks" / "memory_practice.py")
    assert spec is not None and spec.loader is not None
    mp = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mp)
    assert round(mp.fitted_share(), 2) == costspec.fields.FIELDS["training.allocator_share"].default == 0.2


def test_fits_is_judged_on_the_memory_the_device_reports() -> None:
    """An H100's "80 GB" is 81,559 MiB as nvidia-smi reports it: fits uses that, with the source;
    a GPU without a reported total keeps its datasheet figure."""
    e = costspec.estimate(params="7B", tokens="1B", gpu="h100", gpus=1, mfu=0.4)
    assert e.gpu_memory_gb == 85.52 == round(81559 * 2**20 / 1e9, 2)
    assert "81559MiB" in e.sources["gpu_memory_gb"]
    assert costspec.estimate(params="7B", tokens="1B", gpu="h800", gpus=1, mfu=0.4).gpu_memory_gb == 80
    # A model that needs 82 GB: over the datasheet's 80 GB, under the 85.52 GB reported.
    arch = {"layers": 1, "d_model": 1, "heads": 1, "seq_len": 1}  # (model states, and a few bytes)
    states = costspec.estimate(params=82e9 / 16, tokens="1B", gpu="h100", gpus=1, mfu=0.4, architecture=arch,
                               framework_gb=0, allocator_share=0, zero=0, logits="chunked")
    assert states.memory_gb_per_gpu == pytest.approx(82.0) and states.fits is True
    # Serving keeps the datasheet's memory, which its fitted constants were fitted on.
    served = costspec.serve(model="llama3.1-8b", gpu="h100", input_tokens=1000, output_tokens=100)
    assert served.gpu_memory_gb == 80


def test_dropout_comes_from_the_preset_and_can_be_set(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    llama = costspec.estimate(model="llama2-7b", tokens="1B")
    assert llama.dropout is False
    assert costspec.estimate(params="7B", tokens="1B").dropout is True  # (Korthikanti et al. 2022 count it)
    on = costspec.estimate(model="llama2-7b", tokens="1B", dropout=True)
    assert on.activations_gb is not None and llama.activations_gb is not None
    assert on.activations_gb - llama.activations_gb == pytest.approx(32 * 4096 * 2 * 4096 / 1e9, rel=1e-12)
    code, out, _ = run(capsys, "estimate", "--model", "llama2-7b", "--tokens", "1B", "--dropout")
    assert code == 0 and "no dropout" not in out
    code, out, _ = run(capsys, "estimate", "--model", "llama2-7b", "--tokens", "1B")
    assert code == 0 and "recompute none, no dropout" in out
    # A sweep over it: the column, as a flag.
    rows = _swept(tmp_path, capsys,
                  "costspec: 1\nmodel: {preset: llama2-7b}\ntraining: {tokens: 1B}\n"
                  "sweep: {grid: {training.dropout: [true, false]}}\n")
    assert [r["dropout"] for r in rows] == [True, False]
    assert rows[0]["activations_gb"] == pytest.approx(on.activations_gb)
    assert rows[1]["activations_gb"] == pytest.approx(llama.activations_gb)


@pytest.mark.parametrize("flag,value", [("--framework-gb", "-1"), ("--allocator-share", "-0.5"),
                                        ("--framework-gb", "nan"), ("--allocator-share", "inf")])
def test_bad_overheads_are_one_line_errors(flag: str, value: str, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "estimate", "--params", "7B", "--tokens", "1B", flag, value)
    assert code == 2 and err.count("\n") == 1 and flag in err and not out, err
    field = flag[2:].replace("-", "_")
    spec = tmp_path / "s.yaml"
    spec.write_text(f"costspec: 1\nmodel: {{params: 7B}}\ntraining:\n  tokens: 1B\n  {field}: -1\n")
    code, out, _ = run(capsys, "validate", str(spec))
    assert code == 1 and "s.yaml:5:" in out and field in out


def test_a_catalog_preset_with_a_non_boolean_dropout_is_refused(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    cat = tmp_path / "cat.yaml"
    cat.write_text("models:\n  - id: m1\n    params: 7e9\n    training: {dropout: 0.1}\n")
    code, out, err = run(capsys, "estimate", "--model", "m1", "--tokens", "1B", "--catalog", str(cat))
    assert code == 2 and "training.dropout" in err and "expected true or false" in err and "cat.yaml:4" in err, err


def test_interleaving_keeps_more_micro_batches_on_the_first_stage() -> None:
    """Korthikanti et al. 2022 §4.2.3: interleaving over v chunks scales the first stage's
    activations by 1 + (p−1)/(p·v); the last stage holds ((v−1)·p + 1)/(p·v) of L layers' worth."""
    kw: dict[str, Any] = {"model": "llama2-70b", "tokens": "1B", "tensor_parallel": 8, "pipeline_parallel": 8,
                          "recompute": "selective", "logits": "chunked"}
    plain = costspec.estimate(**kw)
    two = costspec.estimate(**kw, interleave=2)
    assert plain.activations_gb is not None and two.activations_gb is not None
    one_layer = 4 * 64 * 4096 / 8 / 1e9  # (the flash core selective recomputation rebuilds, per TP rank)
    assert two.activations_gb - one_layer == pytest.approx((plain.activations_gb - one_layer) * (1 + 7 / 16),
                                                           rel=1e-12)
    assert costspec.estimate(**{**kw, "pipeline_parallel": 1}, interleave=2).activations_gb == \
        costspec.estimate(**{**kw, "pipeline_parallel": 1}).activations_gb  # (no pipeline: nothing interleaves)


def test_lora_dropout_keeps_the_adapters_dropped_inputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """PEFT's lora_B(lora_A(dropout(x))) on the query and value: each keeps its dropped input (2h)
    and mask (h) per token, 6h a layer; nothing without adapter dropout, or outside LoRA."""
    kw: dict[str, Any] = {"model": "llama2-7b", "tokens": "1B", "mode": "lora", "lora_rank": 8,
                          "architecture": {"seq_len": 1304}}
    off, on = costspec.estimate(**kw), costspec.estimate(**kw, lora_dropout=True)
    assert off.lora_dropout is False and on.lora_dropout is True
    assert on.activations_gb is not None and off.activations_gb is not None
    assert on.activations_gb - off.activations_gb == pytest.approx(32 * 1304 * 6 * 4096 / 1e9, rel=1e-12)
    code, out, err = run(capsys, "estimate", "--params", "7B", "--tokens", "1B", "--lora-dropout")
    assert code == 2 and err.count("\n") == 1 and "lora_dropout" in err and "mode lora" in err and not out, err
    spec = tmp_path / "s.yaml"
    spec.write_text("costspec: 1\nmodel: {params: 7B}\ntraining: {tokens: 1B, lora_dropout: true}\n")
    code, out, _ = run(capsys, "validate", str(spec))
    assert code == 1 and "s.yaml:3:" in out and "lora_dropout" in out


def test_an_overhead_that_overflows_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    for flag, value in (("--framework-gb", "1e300"), ("--allocator-share", "1e308")):
        code, _, err = run(capsys, "estimate", "--model", "llama2-7b", "--tokens", "1B", flag, value)
        assert code == 2 and err.startswith(f"costspec estimate: error: {flag}: got "), err
        assert "within the float range" in err


def test_fp8_linears_cache_their_inputs_in_fp8() -> None:
    """FP8 training keeps the QKV, output-projection, MLP and down-projection inputs at one byte
    (Transformer Engine's FP8 linears; DeepSeek-V3 §3.3.3): h + h + f less per token and layer, and
    the output projection's FP8 copy, a·q, beside FlashAttention's own 16-bit output."""
    kw: dict[str, Any] = {"model": "llama2-70b", "tokens": "1B", "gpu": "h100", "recompute": "selective"}
    bf16, fp8 = costspec.estimate(**kw), costspec.estimate(**kw, precision="fp8")
    assert bf16.activations_gb is not None and fp8.activations_gb is not None
    h, f, s, layers = 8192, 28672, 4096, 80
    assert bf16.activations_gb - fp8.activations_gb == pytest.approx(layers * s * (h + f) / 1e9, rel=1e-12)
    eager = {k: costspec.estimate(**kw, precision=k, attention="eager", dropout=False) for k in ("bf16", "fp8")}
    assert eager["bf16"].activations_gb - eager["fp8"].activations_gb == \
        pytest.approx(layers * s * (3 * h + f) / 1e9, rel=1e-12)  # (no kept attention output: a·q less)


def test_the_layout_search_checks_each_candidates_interleave_against_the_memory() -> None:
    """The search picks TP 4, PP 2 interleaved 4 for Llama 2 70B on 64 H100s; checking memory as if
    every candidate were uninterleaved would pick a layout whose interleaving does not fit."""
    kw: dict[str, Any] = {"model": "llama2-70b", "tokens": "1B", "gpu": "h100", "gpus": 64,
                          "global_batch_tokens": "1M"}
    e = costspec.estimate(**kw, layout="auto", tensor_parallel=[1, 2, 4, 8], pipeline_parallel=[2, 4, 8],
                          recompute=["none"], zero=[1])
    assert e.fits is True and e.interleave > 1
    same = costspec.estimate(**kw, mfu=0.4, tensor_parallel=e.tensor_parallel, pipeline_parallel=e.pipeline_parallel,
                             interleave=e.interleave, micro_batch=e.micro_batch, recompute="none", zero=1)
    assert same.fits is True and same.memory_gb_per_gpu == pytest.approx(e.memory_gb_per_gpu, rel=1e-12)


def test_paged_optimizer_states_need_not_fit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """bitsandbytes' paged optimizers (QLoRA §3) keep the states in unified memory, moved to the
    host under pressure: optimizer_gb reports them, the total and the minimum count leave them out."""
    kw: dict[str, Any] = {"model": "llama2-7b", "tokens": "1B", "mode": "finetune", "gpu": "a100-80gb",
                          "optimizer": "adam8bit", "zero": 0}
    e, paged = costspec.estimate(**kw), costspec.estimate(**kw, paged_optimizer=True)
    assert paged.paged_optimizer is True and paged.optimizer_gb == e.optimizer_gb > 0
    assert e.memory_gb_per_gpu - paged.memory_gb_per_gpu == pytest.approx(e.optimizer_gb, rel=1e-12)
    sharded = {k: costspec.estimate(**{**kw, "zero": 1}, paged_optimizer=k) for k in (False, True)}
    assert sharded[True].min_gpus is not None and sharded[False].min_gpus is not None
    assert sharded[True].min_gpus <= sharded[False].min_gpus
    code, out, _ = run(capsys, "estimate", "--model", "llama2-7b", "--tokens", "1B", "--paged-optimizer")
    assert code == 0 and "paged: moved to the host under pressure, not in the total" in out
    code, out, err = run(capsys, "estimate", "--params", "7B", "--tokens", "1B", "--paged-optimizer",
                         "--optimizer", "sgd")
    assert code == 2 and err.count("\n") == 1 and "paged_optimizer" in err and not out, err
    spec = tmp_path / "s.yaml"
    spec.write_text("costspec: 1\nmodel: {params: 7B}\ntraining: {tokens: 1B, optimizer: sgd, paged_optimizer: true}\n")
    code, out, _ = run(capsys, "validate", str(spec))
    assert code == 1 and "s.yaml:3:" in out and "paged" in out
