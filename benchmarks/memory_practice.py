"""The README's memory tables, computed by costspec's own model.

- (no argument) "memory vs practice": published or widely run configurations, the published
  verdict, costspec's answer (with its default framework overhead) and the source.
- --measured: "memory vs measured", the calibration set. Hugging Face's single-GPU training guide
  measured bert-large-uncased (sequence 512) on a 16 GB V100 with nvidia-smi (the device's whole
  use, MiB), configuration by configuration, beside the CUDA context alone (1,343 MiB). The
  allocator share (training.allocator_share) is fitted here, once, on the fp32 AdamW rows: the
  least-squares share of the activations that the measurement holds beyond the context and the
  tensors costspec counts. The script prints the fit; the field's default is its value.
- --check: "memory vs measured elsewhere", the check set, nothing refitted: LitGPT's, torchtune's
  and PEFT's published peak memory, each against costspec with the defaults (the framework term
  set to what the counter sees).

Run: python benchmarks/memory_practice.py [--measured | --check]   (prints Markdown)
"""

from __future__ import annotations

from typing import Any

import costspec

QLORA = "Dettmers et al. 2023 (QLoRA)"
LLAMA3 = "Dubey et al. 2024"
TORCHTUNE = "torchtune README (0217d44c, 2024-05)"
LITGPT = "LitGPT tutorials/resource-tables.md (2023-10)"
# Llama 3 405B's layout (Dubey et al. 2024, Table 4); Meta "proactively deallocate[s] tensors that
# will not be used for future computation ... based on detailed memory allocation profiling"
# (§3.3.2), which the second figure takes as no allocator share.
LLAMA3_8K = dict(model="llama3.1-405b", gpu="h100", gpus=16384, tensor_parallel=8, pipeline_parallel=16, zero=1)
# NVIDIA's DGX Cloud benchmarking recipes (github.com/NVIDIA/dgxc-benchmarking) and NeMo's
# performance summary: Megatron-Core on H100, the distributed optimizer (ZeRO-1), sequence
# parallelism, no activation recomputation unless named, one sequence per micro-batch.
DGXC = "NVIDIA dgxc-benchmarking"
NEMO = "NeMo performance summary (24.07)"
NEMOTRON_340B = {"layers": 96, "d_model": 18432, "heads": 96, "kv_heads": 8, "ffn_dim": 73728, "vocab": 256000,
                 "seq_len": 4096, "gated_mlp": False}
GPT3_175B = {"layers": 96, "d_model": 12288, "heads": 96, "ffn_dim": 49152, "vocab": 51200, "seq_len": 2048}
RECIPES: list[tuple[str, dict[str, Any], str]] = [
    ("Llama 3.1 405B, seq 8,192: TP 8, PP 8, CP 2, VP 8 on 1,024 H100", dict(
        model="llama3.1-405b", gpus=1024, tensor_parallel=8, pipeline_parallel=8, context_parallel=2, interleave=8),
     DGXC + " (v25.04)"),
    ("Llama 3.1 70B, seq 8,192: TP 4, PP 4, CP 2, VP 5 on 64 H100", dict(
        model="llama3.1-70b", gpus=64, tensor_parallel=4, pipeline_parallel=4, context_parallel=2, interleave=5),
     DGXC + " (v25.01.1)"),
    ("Llama 3.1 70B, FP8, seq 8,192: TP 4, PP 8, VP 5 on 64 H100", dict(
        model="llama3.1-70b", gpus=64, tensor_parallel=4, pipeline_parallel=8, interleave=5, precision="fp8"),
     DGXC + " (v25.04)"),
    ("Nemotron-4 340B, seq 4,096: TP 8, PP 8, VP 12, selective recomputation, on 256 H100", dict(
        params=341e9, architecture=NEMOTRON_340B, gpus=256, tensor_parallel=8, pipeline_parallel=8, interleave=12,
        recompute="selective"), DGXC + " (v25.01.1)"),
    ("GPT-3 175B, FP8, seq 2,048: TP 4, PP 8, VP 6, 2 sequences per micro-batch, on 512 H100", dict(
        params=175e9, architecture=GPT3_175B, gpus=512, tensor_parallel=4, pipeline_parallel=8, interleave=6,
        micro_batch=2, precision="fp8"), NEMO),
    ("Llama 2 70B, FP8, seq 4,096: TP 4, PP 4, VP 20 on 64 H100", dict(
        model="llama2-70b", gpus=64, tensor_parallel=4, pipeline_parallel=4, interleave=20, precision="fp8"), NEMO),
]
ROWS: list[tuple[str, str, dict[str, Any], str, str]] = [
    ("QLoRA: LLaMA 65B, NF4 base, LoRA r = 64, full recomputation, paged optimizer, one 48 GB RTX A6000", "fits",
     dict(model="llama-65b", mode="lora", lora_rank=64, base_weights="nf4", recompute="full", gpu="rtx-a6000",
          gpus=1, lora_dropout=True, paged_optimizer=True), "", QLORA),
    ("QLoRA: LLaMA 33B, same, one 24 GB RTX 3090", "fits",
     dict(model="llama-33b", mode="lora", lora_rank=64, base_weights="nf4", recompute="full", gpu="rtx-3090", gpus=1,
          lora_dropout=True, paged_optimizer=True), "", QLORA),
    ("LoRA: Llama 2 7B, r = 8, batch 4 × 2,048, activation checkpointing, one RTX 4090", "fits (21.3 GB peak)",
     dict(model="llama2-7b", mode="lora", lora_rank=8, micro_batch=4, recompute="full", gpu="rtx4090", gpus=1,
          architecture={"seq_len": 2048}), "", TORCHTUNE),
    ("LoRA: Llama 2 7B, r = 8, adapter dropout, batch 4 × 1,304, no checkpointing, one A100-40GB", "out of memory",
     dict(model="llama2-7b", mode="lora", lora_rank=8, micro_batch=4, gpu="a100-40gb", gpus=1,
          architecture={"seq_len": 1304}, lora_dropout=True), "", LITGPT),
    ("Alpaca: LLaMA 7B full fine-tune, FSDP (ZeRO-3) on 8 × A100-80GB, sequence 512, 4 per GPU", "fits",
     dict(model="llama-7b", mode="finetune", gpu="a100-80gb", gpus=8, zero=3, micro_batch=4,
          architecture={"seq_len": 512}), "", "Taori et al. 2023"),
    ("DeepSeek-V3: PP 16, EP 64, ZeRO-1 on 2,048 H800, fp8, full recomputation", "fits",
     dict(model="deepseek-v3", gpu="h800", gpus=2048, pipeline_parallel=16, expert_parallel=64, zero=1,
          precision="fp8", recompute="full", architecture={"ffn_dim": 2048}), "", "DeepSeek-AI 2024"),
    ("Llama 3 405B at 8K: TP 8, PP 16, ZeRO-1 on 16,384 H100, no activation checkpointing", "fits", LLAMA3_8K,
     "", LLAMA3),
    ("Llama 3 405B at 131K: TP 8, CP 16, PP 16, ZeRO-1", "fits",
     dict(LLAMA3_8K, context_parallel=16, architecture={"seq_len": 131072}), "", LLAMA3),
]
# Narayanan et al. 2021, Table 1: (params, heads, hidden, layers, TP, PP, GPUs), full recomputation, no ZeRO.
MEGATRON = [
    (1.7e9, 24, 2304, 24, 1, 1, 32), (3.6e9, 32, 3072, 30, 2, 1, 64), (7.5e9, 32, 4096, 36, 4, 1, 128),
    (18.4e9, 48, 6144, 40, 8, 1, 256), (39.1e9, 64, 8192, 48, 8, 2, 512), (76.1e9, 80, 10240, 60, 8, 4, 1024),
    (145.6e9, 96, 12288, 80, 8, 8, 1536), (310.1e9, 128, 16384, 96, 8, 16, 1920),
    (529.6e9, 128, 20480, 105, 8, 35, 2520), (1008.0e9, 160, 25600, 128, 8, 64, 3072),
]


def answer(kw: dict[str, Any]) -> costspec.Estimate:
    return costspec.estimate(tokens="1B", mfu=0.3, **kw)


def verdict(e: costspec.Estimate) -> str:
    return f"{e.memory_gb_per_gpu:.1f} of {e.gpu_memory_gb:g} GB: {'fits' if e.fits else 'does not fit'}"


def main() -> None:
    print("| configuration | published | costspec | source |")
    print("| --- | --- | --- | --- |")
    for name, published, kw, why, source in ROWS[:5]:
        print(f"| {name} | {published} | {verdict(answer(kw))}{' — ' + why if why else ''} | {source} |")
    totals = []
    for n, heads, h, layers, tp, pp, gpus in MEGATRON:
        arch = {"layers": layers, "d_model": h, "heads": heads, "ffn_dim": 4 * h, "vocab": 51200, "seq_len": 2048}
        e = answer(dict(params=n, architecture=arch, gpu="a100-80gb", gpus=gpus, tensor_parallel=tp,
                        pipeline_parallel=pp, zero=0, recompute="full", attention="eager"))
        totals.append((e.memory_gb_per_gpu, e.fits))
    fit = "all fit" if all(f for _, f in totals) else f"{sum(1 for _, f in totals if f)} of 10 fit"
    print(f"| Megatron-LM Table 1: the ten GPT rows 1.7B–1T, full recomputation, no ZeRO | all fit on 80 GB | "
          f"{fit} ({min(t for t, _ in totals):.1f}–{max(t for t, _ in totals):.1f} GB of 85.9) | "
          "Narayanan et al. 2021 |")
    for name, kw, source in RECIPES:
        print(f"| {name} | fits | {verdict(answer({'gpu': 'h100', 'zero': 1, **kw}))} | {source} |")
    # The same recipe's first layout, and its statement that it "will not fit on fewer GPUs" than 576.
    first = dict(model="llama3.1-405b", gpu="h100", zero=1, tensor_parallel=8, pipeline_parallel=9,
                 context_parallel=2, interleave=7)
    e, dp3 = answer(first), answer({**first, "gpus": 432})
    print(f"| Llama 3.1 405B, seq 8,192: TP 8, PP 9, CP 2, VP 7 | at least 576 H100 | min_gpus {e.min_gpus:,.0f} "
          f"(DP 3: {verdict(dp3)}) | {DGXC} (v24.11.1) |")
    for name, published, kw, _, source in ROWS[5:]:
        e = answer(kw)
        if kw.get("expert_parallel"):
            no_ep = answer({k: v for k, v in kw.items() if k != "expert_parallel"})
            extra = f" ({no_ep.memory_gb_per_gpu:.1f} GB without EP)"
        else:  # (Llama 3: what Meta's profiled deallocation leaves, as no allocator share)
            bare = answer({**kw, "allocator_share": 0})
            extra = (f" with the default allocator share ({e.overhead_gb - e.framework_gb:.1f} GB of "
                     f"{e.activations_gb:.1f} GB activations); without it, as Meta profiled and deallocated, "
                     f"{verdict(bare)}")
        print(f"| {name} | {published} | {verdict(e)}{extra} | {source} |")


# Hugging Face Transformers, "Methods and tools for efficient training on a single GPU" (docs v4.27,
# perf_train_gpu_one) and "Model training anatomy" (model_memory_anatomy): bert-large-uncased for
# sequence classification, sequences of 512, Trainer defaults, one V100-SXM2 16 GB; "GPU memory
# occupied" is nvidia-smi's used memory (pynvml, MiB). The context: `torch.ones((1, 1)).to("cuda")`.
HF = "Hugging Face Transformers docs (perf_train_gpu_one, model_memory_anatomy)"
MIB = 2**20 / 1e9  # (nvidia-smi's MiB in GB)
CONTEXT_MIB = 1343
BERT_LARGE = dict(params=335e6, attention="eager", logits="chunked", gpu="v100", gpus=1,
                  architecture={"layers": 24, "d_model": 1024, "heads": 16, "ffn_dim": 4096, "vocab": 30522,
                                "seq_len": 512, "gated_mlp": False})
MEASURED: list[tuple[str, int, dict[str, Any] | None]] = [
    ("batch 4, fp32, AdamW", 14949, dict(micro_batch=4, precision="fp32", optimizer="adam")),
    ("batch 1 × 4 accumulated, fp32, AdamW", 8681, dict(micro_batch=1, precision="fp32", optimizer="adam")),
    ("batch 1 × 4, gradient checkpointing, fp32, AdamW", 6775,
     dict(micro_batch=1, precision="fp32", optimizer="adam", recompute="full")),
    ("batch 4, fp16 (PyTorch AMP), AdamW", 13939, dict(micro_batch=4, precision="fp16", optimizer="adam")),
    ("batch 1 × 4, checkpointing, fp16 AMP, AdamW", 7275,
     dict(micro_batch=1, precision="fp16", optimizer="adam", recompute="full")),
    ("batch 4, fp32, 8-bit Adam (bitsandbytes)", 13085, dict(micro_batch=4, precision="fp32", optimizer="adam8bit")),
    ("batch 1 × 4, checkpointing, fp16 AMP, 8-bit Adam", 5363,
     dict(micro_batch=1, precision="fp16", optimizer="adam8bit", recompute="full")),
    ("batch 4, fp32, Adafactor", 12295, None),
    ("batch 1 × 4, checkpointing, fp16 AMP, Adafactor", 4847, None),
]


def fitted_share() -> float:
    """The allocator share fitted on the fp32 AdamW rows: least squares through the origin of what
    nvidia-smi holds beyond the context and costspec's tensors, against the activations (and
    logits) of the busiest stage."""
    xs, ys = [], []
    for _, mib, kw in MEASURED:
        if kw is None or kw["precision"] != "fp32" or kw["optimizer"] != "adam":
            continue
        e = answer({**BERT_LARGE, **kw, "framework_gb": 0, "allocator_share": 0})
        xs.append((e.activations_gb or 0.0) + e.logits_gb)
        ys.append(mib * MIB - CONTEXT_MIB * MIB - e.memory_gb_per_gpu)
    return sum(x * y for x, y in zip(xs, ys)) / sum(x * x for x in xs)


def measured() -> None:
    context = CONTEXT_MIB * MIB
    share = fitted_share()
    print("| bert-large-uncased, sequence 512, one V100 | measured (nvidia-smi) | costspec | error |")
    print("| --- | --- | --- | --- |")
    for name, mib, kw in MEASURED:
        total = mib * MIB
        if kw is None:
            print(f"| {name} | {total:.2f} GB | not modelled (no Adafactor) | – |")
            continue
        e = answer({**BERT_LARGE, **kw, "framework_gb": context})
        fit = " (fitted)" if kw["precision"] == "fp32" and kw["optimizer"] == "adam" else ""
        print(f"| {name}{fit} | {total:.2f} GB | {e.memory_gb_per_gpu:.2f} GB (activations {e.activations_gb:.2f}, "
              f"overhead {e.overhead_gb:.2f}) | {e.memory_gb_per_gpu / total - 1:+.0%} |")
    print(f"| (context alone: `torch.ones((1, 1)).to(\"cuda\")`) | {context:.2f} GB | framework_gb = {context:.2f} "
          "| |")
    print()
    print(f"Fitted allocator share: {share:.4f} of the activations (the default, 0.2, is this rounded).")


# The check set: published peaks whose shapes the sources state; nothing is fitted to them. The
# framework term is what the counter sees: torch.cuda.max_memory_allocated (LitGPT, PEFT) and
# torchtune's peak counters hold no CUDA context or driver reserve (framework_gb = 0).
PEFT = "huggingface/peft README (2022-12), A100-80GB"
T5_NOTE = "encoder-decoder taken as its 24 encoder layers at the input length (the labels are a few tokens)"
CHECK: list[tuple[str, float, dict[str, Any], str]] = [
    ("LoRA r = 8 (q, v), adapter dropout, Llama 2 7B, bf16, batch 1 × 1,304, no checkpointing, A100-40GB", 21.30,
     dict(model="llama2-7b", mode="lora", lora_rank=8, gpu="a100-40gb", gpus=1, architecture={"seq_len": 1304},
          lora_dropout=True), LITGPT),
    ("same, batch 2", 29.07,
     dict(model="llama2-7b", mode="lora", lora_rank=8, micro_batch=2, gpu="a100-40gb", gpus=1,
          architecture={"seq_len": 1304}, lora_dropout=True), LITGPT),
    ("same, batch 1, NF4 base (double-quantised)", 13.84,
     dict(model="llama2-7b", mode="lora", lora_rank=8, base_weights="nf4", gpu="a100-40gb", gpus=1,
          architecture={"seq_len": 1304}, lora_dropout=True), LITGPT),
    ("LoRA r = 8 (q, v), adapter dropout, Llama 2 13B, batch 1 × 1,304, A100-40GB", 38.12,
     dict(model="llama2-13b", mode="lora", lora_rank=8, gpu="a100-40gb", gpus=1, architecture={"seq_len": 1304},
          lora_dropout=True), LITGPT),
    ("same, NF4 base (double-quantised)", 22.55,
     dict(model="llama2-13b", mode="lora", lora_rank=8, base_weights="nf4", gpu="a100-40gb", gpus=1,
          architecture={"seq_len": 1304}, lora_dropout=True), LITGPT),
    ("LoRA r = 8 (q, v), Llama 2 7B, batch 4 × 2,048, activation checkpointing, RTX 4090", 21.3,
     dict(model="llama2-7b", mode="lora", lora_rank=8, micro_batch=4, recompute="full", gpu="rtx4090", gpus=1,
          architecture={"seq_len": 2048}), TORCHTUNE),
    ("QLoRA r = 8 (every linear layer, about 20M adapters), same", 12.3,
     dict(model="llama2-7b", mode="lora", lora_fraction=0.003, base_weights="nf4", micro_batch=4, recompute="full",
          gpu="rtx4090", gpus=1, architecture={"seq_len": 2048}), TORCHTUNE),
    ("T0_3B full fine-tune, fp32 AdamW, batch 8 × 64 (assumed)", 47.14,
     dict(params=2.85e9, mode="finetune", precision="fp32", micro_batch=8, logits="chunked", gpu="a100-80gb", gpus=1,
          architecture={"layers": 24, "d_model": 2048, "heads": 32, "ffn_dim": 5120, "vocab": 32128,
                        "seq_len": 64, "gated_mlp": True}), PEFT + "; " + T5_NOTE),
    ("T0_3B LoRA r = 8 (q, v), adapter dropout, fp32, same shape", 14.4,
     dict(params=2.85e9, mode="lora", lora_rank=8, lora_dropout=True, precision="fp32", micro_batch=8, logits="chunked",
          gpu="a100-80gb", gpus=1,
          architecture={"layers": 24, "d_model": 2048, "heads": 32, "ffn_dim": 5120, "vocab": 32128,
                        "seq_len": 64, "gated_mlp": True}), PEFT + "; " + T5_NOTE),
    ("mt0-xxl (12.9B) LoRA r = 8 (q, v), adapter dropout, fp32, same shape", 56.0,
     dict(params=12.9e9, mode="lora", lora_rank=8, lora_dropout=True, precision="fp32", micro_batch=8, logits="chunked",
          gpu="a100-80gb", gpus=1,
          architecture={"layers": 24, "d_model": 4096, "heads": 64, "ffn_dim": 10240, "vocab": 250112,
                        "seq_len": 64, "gated_mlp": True}), PEFT + "; " + T5_NOTE),
    ("bloomz-7b1 LoRA r = 8 (fused QKV), adapter dropout, fp32, batch 8 × 64", 32.0,
     dict(params=7.07e9, mode="lora", lora_rank=8, lora_dropout=True, precision="fp32", micro_batch=8,
          gpu="a100-80gb", gpus=1,
          architecture={"layers": 30, "d_model": 4096, "heads": 32, "ffn_dim": 16384, "vocab": 250880,
                        "seq_len": 64}), PEFT + " (max_length 64, batch 8: its example script)"),
]


def check() -> None:
    print("| run | measured peak | costspec | error | source |")
    print("| --- | --- | --- | --- | --- |")
    for name, gb, kw, source in CHECK:
        e = answer({**kw, "framework_gb": 0})
        print(f"| {name} | {gb:.2f} GB | {e.memory_gb_per_gpu:.2f} GB (weights {e.weights_gb:.2f}, activations "
              f"{e.activations_gb:.2f}) | {e.memory_gb_per_gpu / gb - 1:+.0%} | {source} |")


if __name__ == "__main__":
    import sys

    args = sys.argv[1:]
    measured() if "--measured" in args else check() if "--check" in args else main()
