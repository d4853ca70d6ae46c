"""The README's "memory vs practice" table, computed by costspec's own model: each published or
widely run configuration, its published verdict, costspec's answer and the source. This is a check
set only: the memory model has no fitted constants (its formulas are the papers'), so nothing here
is tuned to these rows. tests/test_memory.py asserts the verdicts that agree.

With --measured, the "memory vs measured" table instead: Hugging Face's single-GPU training guide
measured bert-large-uncased (sequence 512) on a 16 GB V100 with nvidia-smi (the device's whole
use, MiB), configuration by configuration, beside the CUDA context alone (1,343 MiB); costspec's
answer is compared with the measurement less that context. Also a check set, nothing fitted.

Run: python benchmarks/memory_practice.py [--measured]   (prints the Markdown table)
"""

from __future__ import annotations

from typing import Any

import costspec

QLORA = "Dettmers et al. 2023 (QLoRA)"
LLAMA3 = "Dubey et al. 2024"
ROWS: list[tuple[str, str, dict[str, Any], str, str]] = [
    ("QLoRA: LLaMA 65B, NF4 base, LoRA r = 64, full recomputation, one 48 GB RTX A6000", "fits",
     dict(model="llama-65b", mode="lora", lora_rank=64, base_weights="nf4", recompute="full", gpu="rtx-a6000",
          gpus=1), "", QLORA),
    ("QLoRA: LLaMA 33B, same, one 24 GB RTX 3090", "fits",
     dict(model="llama-33b", mode="lora", lora_rank=64, base_weights="nf4", recompute="full", gpu="rtx-3090", gpus=1),
     "", QLORA),
    ("LoRA: LLaMA 7B, r = 16, 16-bit base, sequence 2,048, one 24 GB GPU", "fits",
     dict(model="llama-7b", mode="lora", lora_rank=16, gpu="rtx-3090", gpus=1), "", "widely run (Hugging Face PEFT)"),
    ("Alpaca: LLaMA 7B full fine-tune, FSDP (ZeRO-3) on 8 × A100-80GB, sequence 512, 4 per GPU", "fits",
     dict(model="llama-7b", mode="finetune", gpu="a100-80gb", gpus=8, zero=3, micro_batch=4,
          architecture={"seq_len": 512}), "", "Taori et al. 2023"),
    ("DeepSeek-V3: PP 16, EP 64, ZeRO-1 on 2,048 H800, fp8, full recomputation", "fits",
     dict(model="deepseek-v3", gpu="h800", gpus=2048, pipeline_parallel=16, expert_parallel=64, zero=1,
          precision="fp8", recompute="full"), "", "DeepSeek-AI 2024"),
    ("Llama 3 405B at 8K: TP 8, PP 16, ZeRO-1 on 16,384 H100", "fits",
     dict(model="llama3.1-405b", gpu="h100", gpus=16384, tensor_parallel=8, pipeline_parallel=16, zero=1,
          recompute="selective"),
     "the first stage's activations under plain 1F1B (Meta tuned its schedule)", LLAMA3),
    ("Llama 3 405B at 131K: TP 8, CP 16, PP 16, ZeRO-1", "fits",
     dict(model="llama3.1-405b", gpu="h100", gpus=16384, tensor_parallel=8, pipeline_parallel=16,
          context_parallel=16, zero=1, recompute="selective", architecture={"seq_len": 131072}),
     "with CP 16 each rank holds 8K tokens, as at 8K", LLAMA3),
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


def main() -> None:
    print("| configuration | published | costspec | source |")
    print("| --- | --- | --- | --- |")
    for name, published, kw, why, source in ROWS[:4]:
        e = answer(kw)
        print(f"| {name} | {published} | {e.memory_gb_per_gpu:.1f} GB: {'fits' if e.fits else 'does not fit'}"
              f"{' — ' + why if why else ''} | {source} |")
    totals = []
    for n, heads, h, layers, tp, pp, gpus in MEGATRON:
        arch = {"layers": layers, "d_model": h, "heads": heads, "ffn_dim": 4 * h, "vocab": 51200, "seq_len": 2048}
        e = answer(dict(params=n, architecture=arch, gpu="a100-80gb", gpus=gpus, tensor_parallel=tp,
                        pipeline_parallel=pp, zero=0, recompute="full", attention="eager"))
        totals.append((e.memory_gb_per_gpu, e.fits))
    verdict = "all fit" if all(f for _, f in totals) else f"{sum(1 for _, f in totals if f)} of 10 fit"
    print(f"| Megatron-LM Table 1: the ten GPT rows 1.7B–1T, full recomputation, no ZeRO | all fit on 80 GB | "
          f"{verdict} ({min(t for t, _ in totals):.1f}–{max(t for t, _ in totals):.1f} GB) | Narayanan et al. 2021 |")
    for name, published, kw, why, source in ROWS[4:]:
        e = answer(kw)
        extra = ""
        if kw.get("expert_parallel"):
            no_ep = answer({k: v for k, v in kw.items() if k != "expert_parallel"})
            extra = f" ({no_ep.memory_gb_per_gpu:.1f} GB without EP)"
        print(f"| {name} | {published} | {e.memory_gb_per_gpu:.1f} GB: {'fits' if e.fits else 'does not fit'}{extra}"
              f"{' — ' + why if why else ''} | {source} |")
    print("| PEFT README GPU-memory table (T0_3B full 47.14 GB, bloomz-7b1 LoRA 32 GB, mt0-xxl LoRA 56 GB on "
          "A100-80GB) | measured | not compared yet: needs a framework-overhead term and the runs' batch shapes | "
          "huggingface/peft README |")


# Hugging Face Transformers, "Methods and tools for efficient training on a single GPU" (docs v4.27,
# perf_train_gpu_one) and "Model training anatomy" (model_memory_anatomy): bert-large-uncased for
# sequence classification, sequences of 512, Trainer defaults, one V100-SXM2 16 GB; "GPU memory
# occupied" is nvidia-smi's used memory (pynvml, MiB). The context: `torch.ones((1, 1)).to("cuda")`.
HF = "Hugging Face Transformers docs (perf_train_gpu_one, model_memory_anatomy)"
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


def measured() -> None:
    gb = 2**20 / 1e9  # (nvidia-smi's MiB in GB)
    context = CONTEXT_MIB * gb
    print("| bert-large-uncased, sequence 512, one V100 | measured | less the CUDA context | costspec | error |")
    print("| --- | --- | --- | --- | --- |")
    for name, mib, kw in MEASURED:
        total = mib * gb
        if kw is None:
            print(f"| {name} | {total:.2f} GB | {total - context:.2f} GB | not modelled (no Adafactor) | – |")
            continue
        e = answer({**BERT_LARGE, **kw})
        err = e.memory_gb_per_gpu / (total - context) - 1
        print(f"| {name} | {total:.2f} GB | {total - context:.2f} GB | {e.memory_gb_per_gpu:.2f} GB "
              f"(activations {e.activations_gb:.2f}) | {err:+.0%} |")
    print(f"| (context alone: `torch.ones((1, 1)).to(\"cuda\")`) | {context:.2f} GB | | not counted | |")


if __name__ == "__main__":
    import sys

    measured() if "--measured" in sys.argv[1:] else main()
