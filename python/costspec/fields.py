"""Every field of the spec format, declared once.

A :class:`Field` is one input: its spec path (``training.tokens``), the keyword of
:func:`costspec.estimate`, the flag of ``costspec estimate``, its output column, unit, domain,
default, choices, description and examples. From these come the spec checks (``spec.py``), the
published JSON Schema (``schema_gen.py``, which writes ``schemas/costspec.schema.json``), the
command-line flags (``cli.py``), the column table (``COLUMNS``), the defaults the compiler and
the one-point path apply, and the category orders of the engine (checked against the names the
Rust extension exports). Pure Python and data only: validation never loads the extension.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

# ------------------------------------------------------------------------------------------------
# Domains: what a number may be, how an error says it, and the schema keywords that say it too.


@dataclass(frozen=True)
class Domain:
    ok: Callable[[float], bool]
    accepted: str
    schema: dict[str, Any]


MAX_WHOLE = 2**52  # a float holds every whole number below it (the engine's `whole`)
POSITIVE = Domain(lambda x: x > 0, "a number > 0", {"exclusiveMinimum": 0})
NON_NEGATIVE = Domain(lambda x: x >= 0, "a number >= 0", {"minimum": 0})
AT_LEAST_ONE = Domain(lambda x: x >= 1, "a number >= 1", {"minimum": 1})
FRACTION = Domain(lambda x: 0 < x <= 1, "a fraction in (0, 1]", {"exclusiveMinimum": 0, "maximum": 1})
WHOLE = Domain(lambda x: 1 <= x < MAX_WHOLE and float(x).is_integer(), "a whole number from 1 to 4.5e15",
               {"exclusiveMinimum": 0})
WHOLE_AT_LEAST_ONE = Domain(WHOLE.ok, WHOLE.accepted, {"minimum": 1})  # (the same rule; the schema says >= 1)


# ------------------------------------------------------------------------------------------------
# Fields


@dataclass(frozen=True)
class Field:
    """One input of the cost model (or of planning), as every part of costspec names it."""

    path: str  # spec path: section.key (model.architecture.layers)
    kind: str  # "number", "choice" (a fixed set), "name" (a catalog lookup) or "flag" (true/false)
    description: str
    unit: str = ""
    domain: Domain | None = None
    choices: tuple[str, ...] = ()
    default: Any = None  # what the model takes when the field is absent (None: nothing)
    kwarg: str | None = None  # keyword of costspec.estimate(); None: the path's last part
    flag: str | None = None  # flag of `costspec estimate`; "" for none
    column: str | None = None  # output column of the same quantity, if any
    examples: tuple[Any, ...] = ()
    help: str | None = None  # the flag's help, if it says more or less than the description
    schema: dict[str, Any] = field(default_factory=dict)  # extra schema keywords
    command: str = "estimate"  # the command whose flag it is (estimate, or serve for the serving section)

    @property
    def section(self) -> str:
        return self.path.split(".", 1)[0]

    @property
    def key(self) -> str:
        """The field's key within its section (``architecture.layers`` for a nested one)."""
        return self.path.split(".", 1)[1]

    @property
    def keyword(self) -> str:
        return self.kwarg if self.kwarg is not None else self.path.rsplit(".", 1)[1]

    @property
    def accepted(self) -> str:
        if self.domain is not None:
            return self.domain.accepted
        return "one of " + ", ".join(self.choices) if self.choices else ""

    def ok(self, x: float) -> bool:
        return self.domain.ok(x) if self.domain is not None else True


def _f(path: str, kind: str, description: str, **kw: Any) -> Field:
    return Field(path, kind, description, **kw)


CONVENTIONS = ("6nd", "palm", "megatron")
MODES = ("pretrain", "finetune", "lora")
RECOMPUTES = ("none", "selective", "full")
PRECISIONS = ("fp32", "tf32", "bf16", "fp16", "fp8", "fp4")
OPTIMIZERS = ("adam", "adam8bit", "sgd")
ATTENTIONS = ("flash", "eager")
LOGITS = ("full", "chunked")
BASE_WEIGHTS = ("bf16", "int8", "nf4")
POWER_BASES = ("chip", "system")
LAYOUTS = ("explicit", "auto")
# Where the activation memory's architecture came from (the engine's order; an output, not an input).
MEMORY_BASES = ("preset", "architecture", "rule")
ZERO_STAGES = ("0", "1", "2", "3", "fsdp")
SOLVE_UNKNOWNS = ("training.tokens", "model.params", "hardware.count", "hardware.mfu")
FITS = ("hoffmann2022", "besiroglu2024", "tokens-per-param")
WIDTHS = ("bf16", "fp8", "int8", "int4")  # how served weights and KV caches are stored

_ARCHITECTURE = (
    ("layers", "Transformer layers L.", "layers", (80,)),
    ("d_model", "Hidden size h.", "features", (8192,)),
    ("heads", "Attention (query) heads H.", "heads", (64,)),
    ("kv_heads", "Key/value heads (grouped-query attention); defaults to heads, 1 for multi-query.", "heads", (8,)),
    ("head_dim", "Head dimension Q; defaults to d_model / heads. heads × head_dim need not equal d_model "
                 "(PaLM 540B).", "features", (128,)),
    ("ffn_dim", "Hidden size of one MLP branch (for SwiGLU the intermediate size); per expert for MoE.", "features",
     (28672,)),
    ("vocab", "Vocabulary size V.", "tokens", (32000,)),
    ("seq_len", "Training sequence length T.", "tokens", (4096,)),
    ("experts", "Routed experts per MoE layer.", "experts", (8,)),
    ("experts_per_token", "Experts each token is routed to.", "experts", (2,)),
)
ARCHITECTURE = tuple(name for name, *_ in _ARCHITECTURE)  # (the training stages' inputs, in their order)
# Architecture fields only serving reads.
_SERVING_ARCHITECTURE = (
    ("kv_latent", "Width of the latent cached per token per layer by multi-head latent attention (MLA, "
                  "DeepSeek-V2/V3: kv_lora_rank + qk_rope_head_dim, 512 + 64 = 576): the KV cache holds it in place "
                  "of keys and values (one latent for all heads, so every TP rank holds all of it), and decode's "
                  "attention runs over it (absorbed projections).", "features", (576,)),
)
MODEL_ARCHITECTURE = ARCHITECTURE + tuple(name for name, *_ in _SERVING_ARCHITECTURE)

INPUTS: tuple[Field, ...] = (
    _f("model.preset", "name", "Model preset from the catalog (costspec catalog models), matched case-insensitively.",
       kwarg="model", flag="--model", column="model", examples=("llama2-70b", "palm-540b"),
       help="Model preset from the catalog (costspec catalog models)."),
    _f("model.params", "number", "Total parameters N.", unit="parameters", domain=POSITIVE, flag="--params",
       column="params", examples=("70B", 6.7e9), help="Total parameters, e.g. 7B (overrides the preset's)."),
    _f("model.active_params", "number", "Parameters used per token (mixture-of-experts); defaults to params.",
       unit="parameters", domain=POSITIVE, flag="--active-params", column="active_params", examples=("12.9B",),
       help="Parameters used per token (MoE); defaults to --params."),
    *(_f(f"model.architecture.{name}", "number", text, unit=unit, domain=WHOLE, kwarg=f"architecture.{name}", flag="",
         examples=ex) for name, text, unit, ex in _ARCHITECTURE + _SERVING_ARCHITECTURE),
    _f("model.architecture.gated_mlp", "flag", "Gated MLP (SwiGLU/GeGLU, three matrices) rather than a plain "
       "two-matrix MLP.", choices=("true", "false"), kwarg="architecture.gated_mlp", flag=""),
    _f("training.tokens", "number", "Training tokens D. Defaults to the preset's published count.", unit="tokens",
       domain=POSITIVE, flag="--tokens", column="tokens", examples=("2T", "780B"),
       help="Training tokens, e.g. 780B or 2T (default: the preset's published count)."),
    _f("training.dataset_tokens", "number", "Dataset size, multiplied by epochs instead of giving tokens.",
       unit="tokens", domain=POSITIVE, flag="--dataset-tokens", examples=("52M",),
       help="Dataset tokens, multiplied by --epochs instead of --tokens."),
    _f("training.epochs", "number", "Passes over dataset_tokens.", unit="epochs", domain=POSITIVE, flag="--epochs",
       examples=(3,), help="Epochs over --dataset-tokens."),
    _f("training.mode", "choice", "pretrain and finetune train every weight; lora freezes the base weights.",
       choices=MODES, default="pretrain", flag="--mode", column="mode"),
    _f("training.precision", "choice", "Training precision: picks the GPU's dense peak.", choices=PRECISIONS,
       default="bf16", flag="--precision", column="precision", help="Training precision; picks the GPU's dense peak."),
    _f("training.recompute", "choice", "Activation recomputation: selective adds the attention-core forward pass, "
       "full a whole forward pass.", choices=RECOMPUTES, default="none", flag="--recompute", column="recompute",
       help="Activation recomputation (adds hardware FLOPs, saves memory)."),
    _f("training.attention", "choice", "How attention is computed, for the activation memory: flash "
       "(FlashAttention: the s×s scores are never stored) or eager (softmax and dropout kept, s×s per head).",
       choices=ATTENTIONS, default="flash", flag="--attention", column="attention",
       help="Attention implementation for the activation memory: flash (default) or eager (stores the s×s scores)."),
    _f("training.logits", "choice", "How the loss is computed, for the logits' memory: full (the s × V logits "
       "in fp32, 4·s·b·V/t bytes on the last pipeline stage) or chunked (a fused loss that never materialises them).",
       choices=LOGITS, default="full", flag="--logits", column="logits",
       help="Loss computation for the logits' memory: full (default) or chunked (a fused loss)."),
    _f("training.convention", "choice", "FLOPs count: 6nd = 6·N·D; palm = 6·N + 12·L·H·Q·T per token (PaLM App. B); "
       "megatron = every matmul and the logits (Narayanan et al. 2021).", choices=CONVENTIONS, default="6nd",
       flag="--convention", column="convention", help="How model FLOPs are counted."),
    _f("training.lora_rank", "number", "LoRA rank r (adapters on the query and value projections).", unit="rank",
       domain=POSITIVE, flag="--lora-rank", examples=(16,), help="LoRA rank (adapters on query and value projections)."),
    _f("training.lora_fraction", "number", "LoRA trainable parameters as a fraction of params.", unit="fraction",
       domain=FRACTION, flag="--lora-fraction", examples=(0.005,),
       help="LoRA trainable parameters as a fraction of --params."),
    _f("training.base_weights", "choice", "How LoRA's frozen base weights are stored: bf16 (16-bit), int8, or nf4 "
       "(QLoRA's 4-bit NormalFloat with double-quantised constants, 4.127 bits per parameter). Defaults to the "
       "training precision's width.", choices=BASE_WEIGHTS, flag="--base-weights", column="base_weights",
       help="Storage of LoRA's frozen base weights: bf16, int8 or nf4 (QLoRA)."),
    _f("training.global_batch_tokens", "number", "Tokens per optimizer step (the global batch), for the step-time "
       "model: DP × micro-batch × gradient accumulation × sequence length, rounded to the nearest whole number of "
       "micro-batches per data-parallel rank. Defaults to the preset's published batch, else DeepSeek LLM's fit "
       "0.292·C^0.3271 tokens (Bi et al. 2024) for the run's compute C; at most the training tokens.",
       unit="tokens", domain=POSITIVE,
       flag="--global-batch-tokens", column="global_batch_tokens", examples=("4M", 4194304),
       help="Tokens per optimizer step, e.g. 4M (default: the preset's published batch, else a fit)."),
    _f("training.optimizer", "choice", "Optimizer, for the memory model.", choices=OPTIMIZERS, default="adam",
       flag="--optimizer", column="optimizer"),
    _f("training.micro_batch", "number", "Sequences per micro-batch, for the activation memory.", unit="sequences",
       domain=WHOLE, default=1, flag="--micro-batch", column="micro_batch", examples=(1,),
       help="Sequences per micro-batch (activations)."),
    _f("training.dropout", "flag", "Dropout in training, for the activation memory: its masks (a byte per value "
       "after attention and after the MLP) and, with eager attention, the dropped scores are kept (Korthikanti et "
       "al. 2022). Defaults to the model preset's (the Llama presets train without), else true.",
       choices=("true", "false"), kwarg="dropout", flag="--dropout/--no-dropout", column="dropout",
       help="Dropout's masks in the activations (default: the preset's, else on)."),
    _f("training.lora_dropout", "flag", "Dropout on LoRA's adapter inputs (PEFT's lora_dropout above 0; LitGPT's "
       "and QLoRA's runs use 0.05-0.1): each of the two adapted projections keeps its dropped input and mask, 3 "
       "bytes per hidden value and token. Default false (PEFT's default, 0).", choices=("true", "false"),
       default="false", kwarg="lora_dropout", flag="--lora-dropout/--no-lora-dropout", column="lora_dropout",
       help="LoRA adapter dropout's kept inputs and masks (default: off)."),
    _f("training.paged_optimizer", "flag", "Paged optimizer states (bitsandbytes' PagedAdamW and PagedAdamW8bit, "
       "QLoRA §3): kept in CUDA unified memory and moved to the host when the GPU runs out, so they need not fit; "
       "optimizer_gb still reports their size. Adam or 8-bit Adam only. Default false.", choices=("true", "false"),
       default="false", kwarg="paged_optimizer", flag="--paged-optimizer/--no-paged-optimizer",
       column="paged_optimizer", help="Paged optimizer states: not counted in what must fit (default: off)."),
    _f("training.framework_gb", "number", "Memory per GPU outside any tensor: the CUDA context with its loaded "
       "kernels and workspaces, and what the driver reserves within the total nvidia-smi reports. Default 1.1: "
       "426 MiB of context (the largest measured on PyTorch 2 with CUDA's lazy module loading, 256-426 MiB; over "
       "1 GB before CUDA 11.7) and 621 MiB reserved (an A100-40GB reports 40,960 MiB, CUDA allocates from "
       "40,339).", unit="GB", domain=NON_NEGATIVE, default=1.1, flag="--framework-gb", column="framework_gb",
       examples=(1.1, 0), help="Memory per GPU outside the tensors: CUDA context, driver reserve (default 1.1 GB)."),
    _f("training.allocator_share", "number", "Memory PyTorch holds beyond the tensors training keeps, as a share "
       "of the busiest stage's activations and logits: the backward pass's transient buffers and the caching "
       "allocator's unused blocks. Default 0.2, fitted on Hugging Face's nvidia-smi measurements of bert-large "
       "training (README, memory vs measured); 0 counts the kept tensors only.", unit="fraction",
       domain=NON_NEGATIVE, default=0.2, flag="--allocator-share", column="allocator_share", examples=(0.2, 0),
       help="Working memory beyond the kept tensors, as a share of the activations (default 0.2)."),
    _f("hardware.gpu", "name", "Accelerator from the catalog (costspec catalog gpus), matched case-insensitively with "
       "aliases.", flag="--gpu", column="gpu", examples=("H100-SXM", "a100-80gb"),
       help="Accelerator from the catalog, e.g. h100 (costspec catalog gpus)."),
    _f("hardware.count", "number", "Number of GPUs: gives wall-clock time and the data-parallel degree.", unit="GPUs",
       domain=WHOLE, kwarg="gpus", flag="--gpus", column="gpus", examples=(2048,),
       help="GPU count: gives wall-clock time and the data-parallel degree."),
    _f("hardware.mfu", "number", "Model FLOPs utilisation.", unit="fraction of the dense peak", domain=FRACTION,
       flag="--mfu", column="mfu", examples=(0.4,), help="Model FLOPs utilisation in (0, 1]."),
    _f("hardware.gpu_hours", "number", "Published GPU-hours: costspec reports the implied MFU.", unit="GPU-hours",
       domain=POSITIVE, flag="--gpu-hours", column="gpu_hours", examples=(1720320,),
       help="Published GPU-hours instead of --mfu: reports the implied MFU."),
    _f("hardware.wall_clock_days", "number", "Published wall-clock days on count GPUs: costspec reports the implied "
       "MFU.", unit="days", domain=POSITIVE, flag="--wall-clock-days", column="wall_clock_days", examples=(21,),
       help="Published wall-clock days (with --gpus) instead of --mfu."),
    _f("hardware.goodput", "number", "Effective training time ratio (the time spent on useful steps over the "
       "elapsed time) instead of the modelled one; 1 turns the lost time off.", unit="fraction", domain=FRACTION,
       flag="--goodput", examples=(0.9, 1), help="Effective training time ratio (default: modelled from the GPU "
       "count; 1: no lost time)."),
    _f("hardware.gpu_mtbf_hours", "number", "GPU-hours between unexpected job interruptions, per GPU: a job on N GPUs "
       "is interrupted every gpu_mtbf_hours / N hours. Default 50,680 (Llama 3 405B: 419 in 54 days on 16,384 "
       "H100s).", unit="GPU-hours", domain=POSITIVE, flag="--gpu-mtbf-hours", examples=(50680,),
       help="GPU-hours between job interruptions per GPU (default: Llama 3's 50,680)."),
    _f("hardware.checkpoint_gb_per_s", "number", "Aggregate checkpoint write bandwidth; the checkpoint (14 bytes per "
       "trained parameter) takes checkpoint bytes / this. Default 0.15 GB/s per GPU (BLOOM: 2.3 TB in ~40 s from 384 "
       "GPUs).", unit="GB/s", domain=POSITIVE, flag="--checkpoint-gb-per-s", examples=(2000,),
       help="Aggregate checkpoint write bandwidth, GB/s (default: 0.15 per GPU)."),
    _f("hardware.restart_minutes", "number", "Minutes from an interruption to training again (detection, "
       "rescheduling, start-up, checkpoint load). Default 10.", unit="minutes", domain=NON_NEGATIVE,
       flag="--restart-minutes", examples=(10,), help="Minutes to restart after an interruption (default 10)."),
    _f("hardware.watts", "number", "Power per GPU; defaults to the catalog's figure of the power basis.", unit="W",
       domain=POSITIVE, flag="--watts", column="watts", examples=(700,),
       help="Power per GPU (default: the catalog's figure, see --power-basis)."),
    _f("hardware.power_basis", "choice", "Which catalog power figure energy uses when watts is not given: chip "
       "(the accelerator's TDP or measured maximum) or system (measured power of the whole system per accelerator, "
       "host, network and cooling fans included, where published: PaLM's 378.5 W per TPU v4 chip).",
       choices=POWER_BASES, default="chip", flag="--power-basis", column="power_basis",
       help="Catalog power figure for energy: chip (TDP, default) or system (per accelerator, where published)."),
    _f("hardware.scale_up_domain", "number", "Accelerators per scale-up domain (an NVLink/NVSwitch node, an xGMI "
       "board, a TPU pod); defaults to the catalog's.", unit="GPUs", domain=WHOLE_AT_LEAST_ONE,
       flag="--scale-up-domain", column="scale_up_domain", examples=(8, 72),
       help="GPUs per scale-up (NVLink) domain (default: the catalog's)."),
    _f("hardware.scale_up_gb_per_s", "number", "Scale-up (NVLink, xGMI, ICI) bandwidth per accelerator per "
       "direction; defaults to the catalog's (H100: 450).", unit="GB/s", domain=POSITIVE, flag="--scale-up-gb-per-s",
       column="scale_up_gb_per_s", examples=(450,),
       help="Scale-up bandwidth per GPU per direction, GB/s (default: the catalog's)."),
    _f("hardware.scale_out_gbps", "number", "Scale-out (InfiniBand, RoCE, DCN) bandwidth per accelerator per "
       "direction, as NICs are rated; defaults to the catalog's reference system (DGX H100: 400).", unit="Gb/s",
       domain=POSITIVE, flag="--scale-out-gbps", column="scale_out_gbps", examples=(400, 200),
       help="Scale-out bandwidth per GPU per direction, Gb/s (default: the catalog's)."),
    _f("price.usd_per_gpu_hour", "number", "Price per GPU-hour.", unit="US dollars per GPU-hour", domain=NON_NEGATIVE,
       flag="--price", column="usd_per_gpu_hour", examples=(2.0,), help="Price per GPU-hour in US dollars."),
    _f("price.provider", "name", "Catalog provider (costspec catalog prices): its newest on-demand price for the GPU.",
       flag="--provider", column="provider", examples=("lambda", "aws", "gcp/spot"),
       help="Take the price from the catalog: aws, lambda, coreweave, gcp/spot, ..."),
    _f("energy.pue", "number", "Data-centre power usage effectiveness.", unit="ratio", domain=AT_LEAST_ONE, default=1.0,
       flag="--pue", column="pue", examples=(1.1,), help="Data-centre power usage effectiveness."),
    _f("energy.grid_kg_co2e_per_kwh", "number", "Grid carbon intensity.", unit="kg CO2e per kWh",
       domain=NON_NEGATIVE, flag="--grid-kg-per-kwh", column="grid_kg_co2e_per_kwh", examples=(0.385,),
       help="Grid carbon intensity, kg CO2e per kWh."),
    _f("parallelism.layout", "choice", "explicit: the degrees given (default 1) are the layout; auto: the fastest "
       "layout that fits the memory is searched for every point (TP, PP, CP, EP, micro-batch, interleave, "
       "recompute, ZeRO stage), keeping the degrees given.", choices=LAYOUTS, default="explicit", flag="--layout",
       help="auto: search the fastest layout that fits for each point (degrees given are kept)."),
    _f("parallelism.tensor", "number", "Tensor-parallel degree.", unit="GPUs", domain=WHOLE_AT_LEAST_ONE, default=1,
       kwarg="tensor_parallel", flag="--tp", column="tensor_parallel", examples=(8,), help="Tensor-parallel degree."),
    _f("parallelism.context", "number", "Context-parallel degree (ring attention): each rank holds 1/CP of every "
       "sequence's activations; model states are replicated and ZeRO shards over data × context parallel.",
       unit="GPUs", domain=WHOLE_AT_LEAST_ONE, default=1, kwarg="context_parallel", flag="--cp",
       column="context_parallel", examples=(16,), help="Context-parallel degree (ring attention)."),
    _f("parallelism.expert", "number", "Expert-parallel degree: the routed experts split over EP ranks taken from "
       "data × context parallel; dense and attention parameters are not split.", unit="GPUs",
       domain=WHOLE_AT_LEAST_ONE, default=1, kwarg="expert_parallel", flag="--ep", column="expert_parallel",
       examples=(64,), help="Expert-parallel degree (mixture-of-experts models)."),
    _f("parallelism.sequence", "flag", "Sequence parallelism under TP (Korthikanti et al. 2022): layer norms, "
       "dropouts and block inputs split by TP too. Default true; without it they stay whole on every TP rank.",
       choices=("true", "false"), default="true", kwarg="sequence_parallel", flag="--sp/--no-sp",
       column="sequence_parallel", help="Sequence parallelism under TP (default: on)."),
    _f("parallelism.tp_within_domain", "flag", "Keep tensor parallelism within a scale-up domain (an NVLink node, an "
       "xGMI board): a TP wider than the domain is an error, and the layout search leaves such TPs out, listed "
       "or not. Default false: a TP wider than the domain runs its all-reduces over the scale-out network.",
       choices=("true", "false"), default="false", kwarg="tp_within_domain",
       flag="--tp-within-domain/--tp-across-domains", column="tp_within_domain",
       help="Keep TP within a scale-up domain (default: a wider TP crosses the scale-out network)."),
    _f("parallelism.interleave", "number", "Virtual pipeline stages per GPU (Megatron's interleaved 1F1B): the "
       "bubble shrinks to (p−1)/(v·m) at v times the stage-boundary traffic. 1: plain 1F1B.", unit="stages",
       domain=WHOLE_AT_LEAST_ONE, default=1, flag="--interleave", column="interleave", examples=(2,),
       help="Virtual pipeline stages per GPU (interleaved schedule)."),
    _f("parallelism.pipeline", "number", "Pipeline-parallel degree.", unit="GPUs", domain=WHOLE_AT_LEAST_ONE, default=1,
       kwarg="pipeline_parallel", flag="--pp", column="pipeline_parallel", examples=(4,),
       help="Pipeline-parallel degree."),
    _f("parallelism.zero", "choice", "ZeRO stage sharding model states over data parallelism: 0 none, 1 optimizer, "
       "2 + gradients, 3 (or fsdp) + weights. Default 3.", choices=ZERO_STAGES, default="3", flag="--zero",
       column="zero", help="ZeRO stage sharding model states over data parallelism (fsdp = 3).",
       schema={"$ref": None, "anyOf": [{"enum": [0, 1, 2, 3, "0", "1", "2", "3", "fsdp"]},
                                       {"$ref": "#/$defs/expression"}],
               "x-expected": "0, 1, 2, 3 or fsdp", "default": 3}),  # (stages are written as numbers too)
    # Serving (rust/model/serve.rs): one replica of `tensor` GPUs decoding `batch` sequences.
    _f("serving.tensor", "number", "Tensor-parallel degree of one serving replica: its GPUs split every layer and "
       "all-reduce over the scale-up link (at most the scale-up domain; a TP that does not divide the heads, or one "
       "wider than the domain, is no layout: fits false in a sweep).", unit="GPUs", domain=WHOLE_AT_LEAST_ONE,
       default=1, kwarg="serving.tensor", flag="--tp", column="serving_tensor_parallel", examples=(8,),
       help="Tensor-parallel degree of one replica.", command="serve"),
    _f("serving.pipeline", "number", "Pipeline stages of one serving replica, each holding layers / PP layers "
       "(and their KV cache): more sequences fit, and a token passes the stages one after another while PP "
       "micro-batches keep them busy; the stages send over the scale-up link within the domain, else the "
       "scale-out network. PP must divide the layers (else fits false in a sweep).", unit="GPUs",
       domain=WHOLE_AT_LEAST_ONE, default=1, kwarg="serving.pipeline", flag="--pp",
       column="serving_pipeline_parallel", examples=(2,), help="Pipeline stages of one replica.", command="serve"),
    _f("serving.expert", "number", "Expert-parallel degree of a mixture of experts' MoE layers: a divisor of TP "
       "splits the routed experts over the TP GPUs (TensorRT-LLM's moe_ep_size: the same bytes and FLOPs per GPU as "
       "TP alone); a multiple of TP is wide expert parallelism, EP/TP attention groups of TP GPUs (data-parallel "
       "attention, as vLLM's --enable-expert-parallel and SGLang's DP attention) each decoding its own sequences "
       "with the dense weights replicated, the routed experts split over all EP GPUs and two all-to-alls of every "
       "token's copies per layer; the replica then holds EP × PP GPUs. EP must divide the routed experts (an error, "
       "also when swept, as in training layouts).", unit="GPUs", domain=WHOLE_AT_LEAST_ONE, default=1, kwarg="serving.expert",
       flag="--ep", column="serving_expert_parallel", examples=(8,),
       help="Expert-parallel degree of one replica (MoE; a multiple of TP: data-parallel attention).",
       command="serve"),
    _f("serving.weights", "choice", "How the served weights are stored: bf16, fp8 (GEMMs at the GPU's fp8 peak), "
       "int8 or int4 (weight-only: 16-bit GEMMs; int4 in groups of 128 with a 16-bit scale and a 4-bit zero point, "
       "4.16 bits per weight).", choices=WIDTHS, default="bf16", kwarg="serving.weights", flag="--weights",
       column="weights_precision", help="Weight storage: bf16, fp8, int8 or int4.", command="serve"),
    _f("serving.activations", "choice", "The GEMMs' input precision: auto follows the weights (fp8 weights run "
       "fp8 GEMMs, W8A8; the others 16-bit ones); bf16 runs fp8 weights as weight-only (dequantised to 16 bits); "
       "fp8 runs int8 and int4 weights through fp8 GEMMs (W8A8, W4A8 as TensorRT-LLM's w4a8_awq). The GEMMs run at "
       "the GPU's dense peak at that precision; 16-bit weights with fp8 activations are no layout (fits false in a "
       "sweep).", choices=("auto", "bf16", "fp8"), default="auto", kwarg="serving.activations",
       flag="--activations", column="activations_precision",
       help="GEMM input precision: auto (as the weights), bf16 or fp8.", command="serve"),
    _f("serving.kv", "choice", "How the KV cache is stored.", choices=WIDTHS, default="bf16", kwarg="serving.kv",
       flag="--kv", column="kv_precision", help="KV cache storage: bf16, fp8, int8 or int4.", command="serve"),
    _f("serving.input_tokens", "number", "Prompt tokens per request.", unit="tokens", domain=WHOLE,
       kwarg="serving.input_tokens", flag="--input-tokens", column="input_tokens", examples=(2048,),
       help="Prompt tokens per request.", command="serve"),
    _f("serving.output_tokens", "number", "Generated tokens per request.", unit="tokens", domain=WHOLE,
       kwarg="serving.output_tokens", flag="--output-tokens", column="output_tokens", examples=(128,),
       help="Generated tokens per request.", command="serve"),
    _f("serving.batch", "number", "Concurrent sequences a replica decodes. Default: the most whose KV caches fit "
       "(within max_batch and max_tpot_s).", unit="sequences", domain=WHOLE, kwarg="serving.batch", flag="--batch",
       column="batch", examples=(64,), help="Concurrent sequences (default: the most that fit).", command="serve"),
    _f("serving.max_batch", "number", "The server's batch limit (TensorRT-LLM's max_batch_size, vLLM's "
       "max_num_seqs): the batch is at most this.", unit="sequences", domain=WHOLE, kwarg="serving.max_batch",
       flag="--max-batch", column="batch_cap", examples=(256,), help="The server's batch limit.", command="serve"),
    _f("serving.max_tpot_s", "number", "A bound on the time per output token: without a batch given, the largest "
       "batch that meets it is served; where none does, fits is false.", unit="s", domain=POSITIVE,
       kwarg="serving.max_tpot_s", flag="--max-tpot-s", column="max_tpot_s", examples=(0.05,),
       help="Bound on the time per output token, seconds.", command="serve"),
    _f("serving.max_ttft_s", "number", "A bound on the time to first token (one prompt's prefill); where it is "
       "missed, fits is false.", unit="s", domain=POSITIVE, kwarg="serving.max_ttft_s", flag="--max-ttft-s",
       column="max_ttft_s", examples=(1.0,), help="Bound on the time to first token, seconds.", command="serve"),
    _f("serving.demand_tokens_per_s", "number", "Output tokens per second the fleet must serve: gives the replicas "
       "and GPUs needed, and the fleet's price per hour.", unit="tokens/s", domain=POSITIVE,
       kwarg="serving.demand_tokens_per_s", flag="--demand-tokens-per-s", column="demand_tokens_per_s",
       examples=(100000,), help="Output tokens/s to serve: gives the replicas and GPUs needed.", command="serve"),
    _f("serving.mbu", "number", "Achieved fraction of the HBM bandwidth in decode (model bandwidth utilisation). "
       "Default 0.6, fitted on TensorRT-LLM 0.17's published throughput (benchmarks/calibrate_serve.py).",
       unit="fraction", domain=FRACTION, default=0.6, kwarg="serving.mbu", flag="--mbu", column="mbu",
       examples=(0.6,), help="Achieved fraction of HBM bandwidth in decode (default: fitted, 0.6).",
       command="serve"),
    _f("serving.mfu_decode", "number", "Achieved fraction of the dense peak in decode's GEMMs. Default 0.2 "
       "(fitted, as mbu).", unit="fraction", domain=FRACTION, default=0.2, kwarg="serving.mfu_decode",
       flag="--mfu-decode", column="mfu_decode", examples=(0.2,),
       help="Achieved fraction of the peak in decode (default: fitted, 0.2).", command="serve"),
    _f("serving.mfu_prefill", "number", "Achieved fraction of the dense peak in prefill. Default 0.7 (fitted, as "
       "mbu).", unit="fraction", domain=FRACTION, default=0.7, kwarg="serving.mfu_prefill", flag="--mfu-prefill",
       column="mfu_prefill", examples=(0.7,), help="Achieved fraction of the peak in prefill (default: fitted, 0.7).",
       command="serve"),
    _f("serving.tp_efficiency", "number", "Achieved fraction of the scale-up bandwidth in the TP all-reduces "
       "(NCCL's bus bandwidth over the link's). Default 1 (the link's figure, as llm-analysis): fitted jointly with "
       "the other efficiencies on TensorRT-LLM 0.17 it comes out at 0.4, which does not carry over to TensorRT-LLM "
       "1.0's tables (benchmarks/calibrate_serve.py; the README gives both).", unit="fraction", domain=FRACTION,
       default=1.0, kwarg="serving.tp_efficiency", flag="--tp-efficiency", column="tp_efficiency", examples=(0.8,),
       help="Achieved fraction of the scale-up bandwidth in TP all-reduces (default 1).", command="serve"),
    _f("serving.kv_fraction", "number", "Share of the memory left after the weights and reserved_gb that holds "
       "the KV cache. Default 0.9 (TensorRT-LLM's kv_cache_free_gpu_mem_fraction).", unit="fraction",
       domain=FRACTION, default=0.9, kwarg="serving.kv_fraction", flag="--kv-fraction", column="kv_fraction",
       examples=(0.9,), help="Share of the free memory for the KV cache (default 0.9).", command="serve"),
    _f("serving.reserved_gb", "number", "Memory per GPU that is neither weights nor cache (activations, CUDA "
       "context, workspace). Default 2 (fitted, as mbu).", unit="GB", domain=NON_NEGATIVE, default=2.0,
       kwarg="serving.reserved_gb", flag="--reserved-gb", column="reserved_gb", examples=(2,),
       help="Memory per GPU beside weights and cache, GB (default 2).", command="serve"),
    # A model's whole life (Sardana et al. 2023): the inference it serves after training.
    _f("lifetime.tokens_served", "number", "Tokens the model processes in inference over its life (prompts and "
       "outputs, 2·N FLOPs each). With scaling's compute_flops or budget_usd and a parametric fit, the model is "
       "the one reaching the compute-optimal model's loss with the fewest training + inference FLOPs (Sardana et "
       "al. 2023).", unit="tokens", domain=NON_NEGATIVE, kwarg="lifetime.tokens_served", flag="",
       column="tokens_served", examples=("10T", 0)),
    _f("lifetime.requests_per_day", "number", "Requests served per day, instead of tokens_served: each of "
       "serving.input_tokens + serving.output_tokens tokens, over lifetime.days.", unit="requests/day",
       domain=NON_NEGATIVE, kwarg="lifetime.requests_per_day", flag="", column="requests_per_day",
       examples=(1e6,)),
    _f("lifetime.days", "number", "Days the model is served (with requests_per_day).", unit="days", domain=POSITIVE,
       kwarg="lifetime.days", flag="", column="days_served", examples=(365,)),
    _f("solve.for", "choice", "The unknown.", choices=SOLVE_UNKNOWNS, kwarg="solve.for", flag="--solve"),
    _f("solve.cost_usd", "number", "Budget.", unit="US$", domain=POSITIVE, kwarg="solve.cost_usd", flag="--budget-usd",
       examples=(1e6,), help="Target: cost at most this (with --solve)."),
    _f("solve.wall_clock_days", "number", "Deadline.", unit="days", domain=POSITIVE, kwarg="solve.wall_clock_days",
       flag="--deadline-days", examples=(90,), help="Target: wall clock at most this (with --solve)."),
    _f("solve.gpu_hours", "number", "GPU-hour budget.", unit="GPU-hours", domain=POSITIVE, kwarg="solve.gpu_hours",
       flag="--max-gpu-hours", examples=(100000,), help="Target: GPU-hours at most this (with --solve)."),
    _f("solve.model_flops", "number", "Compute amount (model FLOPs).", unit="FLOPs", domain=POSITIVE,
       kwarg="solve.model_flops", flag="--compute-flops", examples=(1e24,),
       help="Target: model FLOPs at most this (with --solve)."),
    _f("solve.energy_kwh", "number", "Energy budget.", unit="kWh", domain=POSITIVE, kwarg="solve.energy_kwh",
       flag="--max-energy-kwh", examples=(1e6,), help="Target: energy at most this (with --solve)."),
    _f("scaling.fit", "choice", "Scaling fit.", choices=FITS, kwarg="scaling.fit", flag=""),
    _f("scaling.tokens_per_param", "number", "Tokens per parameter of the tokens-per-param rule (default 20).",
       unit="tokens/parameter", domain=POSITIVE, kwarg="scaling.tokens_per_param", flag="", examples=(20,)),
    _f("scaling.compute_flops", "number", "FLOPs budget C = 6·N·D.", unit="FLOPs", domain=POSITIVE,
       kwarg="scaling.compute_flops", flag="", examples=(5.76e23,)),
    _f("scaling.budget_usd", "number", "Dollar budget: C = budget / price × 3600 × peak × MFU.", unit="US$",
       domain=POSITIVE, kwarg="scaling.budget_usd", flag="", examples=(1e6,)),
)
FIELDS: dict[str, Field] = {f.path: f for f in INPUTS}
# The inputs `layout: auto` searches when they are not given (their default applies otherwise).
SEARCHABLE = frozenset({"parallelism.tensor", "parallelism.pipeline", "parallelism.context", "parallelism.expert",
                        "training.micro_batch", "parallelism.interleave", "training.recompute", "parallelism.zero"})
SECTIONS = ("model", "training", "hardware", "price", "energy", "parallelism", "serving", "lifetime", "solve",
            "scaling")
SERVING = tuple(f.path for f in INPUTS if f.section == "serving")
# The inputs a spec that only serves may give beside its serving section (any other makes it a
# training run too).
SERVING_SHARED = frozenset({"model.preset", "model.params", "model.active_params", "hardware.gpu", "hardware.watts",
                            "hardware.power_basis", "hardware.scale_up_domain", "hardware.scale_up_gb_per_s",
                            "hardware.scale_out_gbps",
                            "price.usd_per_gpu_hour", "price.provider", "energy.pue", "energy.grid_kg_co2e_per_kwh",
                            *(f.path for f in INPUTS if f.key.startswith("architecture.")), *SERVING,
                            *(f.path for f in INPUTS if f.section == "lifetime")})
PLANNING = tuple(f.path for f in INPUTS if f.section in ("solve", "scaling"))
SOLVE_TARGETS = tuple(f.key for f in INPUTS if f.section == "solve" and f.key != "for")
# The unknowns a solve may be for: estimate() keyword -> spec path.
SOLVE_FOR: dict[str, str] = {FIELDS[p].keyword: p for p in SOLVE_UNKNOWNS}
BY_KWARG: dict[str, Field] = {f.keyword: f for f in INPUTS}
DEFAULTS: dict[str, Any] = {f.path: f.default for f in INPUTS if f.default is not None}
CHOICES: dict[str, tuple[str, ...]] = {f.path: f.choices for f in INPUTS if f.kind == "choice"}
# The inputs whose values are names (catalog entries or choices): categorical columns of every output.
CATEGORY_COLUMN: dict[str, str] = {f.path: f.column for f in INPUTS if f.kind in ("name", "choice") and f.column
                                   and f.path != "parallelism.zero"}
CATEGORICAL_COLUMNS = ("model", "gpu", "provider", "precision", "convention", "mode", "recompute", "optimizer",
                       "attention", "logits", "base_weights", "memory_basis", "power_basis", "weights_precision",
                       "activations_precision", "kv_precision")
# Numeric inputs written under their column names when swept.
INPUT_COLUMN: dict[str, str] = {f.path: f.column for f in INPUTS if f.kind == "number" and f.column}
INPUT_COLUMN["parallelism.zero"] = "zero"
# Flag inputs written under their column names when swept.
FLAG_COLUMN: dict[str, str] = {f.path: f.column for f in INPUTS if f.kind == "flag" and f.column}


def flag(path: str) -> str | None:
    """The `costspec estimate` flag of a field (None where it has none)."""
    f = FIELDS.get(path)
    return f.flag or None if f is not None else None


# ------------------------------------------------------------------------------------------------
# Output columns, in the order of the README's table: inputs (units from their fields) and results.


@dataclass(frozen=True)
class Column:
    name: str
    unit: str
    meaning: str


def _in(path: str, meaning: str, unit: str | None = None) -> Column:
    f = FIELDS[path]
    assert f.column is not None
    return Column(f.column, f.unit if unit is None else unit, meaning)


OUTPUTS: tuple[Column, ...] = (
    _in("model.preset", "model preset id, or null"),
    _in("model.params", "total parameters N"),
    _in("model.active_params", "parameters used per token (MoE)"),
    Column("trainable_params", "parameters", "parameters receiving gradients (LoRA: the adapters)"),
    _in("training.tokens", "training tokens D"),
    _in("hardware.gpu", "accelerator catalog id"),
    _in("hardware.count", "GPU count (null if not given)"),
    _in("training.precision", "training precision"),
    _in("training.convention", "FLOPs counting convention"),
    _in("training.recompute", "activation recomputation"),
    _in("training.mode", "pretrain, finetune or lora"),
    Column("model_flops_per_token", "FLOPs", "model FLOPs per training token"),
    Column("model_flops", "FLOPs", "model FLOPs, the MFU numerator"),
    Column("hardware_flops", "FLOPs", "FLOPs executed, with recomputation"),
    Column("peak_tflops", "TFLOP/s", "dense peak per GPU at the precision"),
    _in("hardware.mfu", "model FLOPs utilisation", unit="fraction"),
    Column("hfu", "fraction", "hardware FLOPs utilisation"),
    _in("hardware.gpu_hours", "GPU-hours"),
    _in("hardware.wall_clock_days", "GPU-hours / gpus / 24"),
    _in("price.usd_per_gpu_hour", "price", unit="US$/GPU-hour"),
    Column("cost_usd", "US$", "GPU-hours × price"),
    _in("hardware.watts", "power per GPU"),
    _in("hardware.power_basis", "catalog power figure the watts come from (chip or system)"),
    _in("energy.pue", "data-centre power usage effectiveness"),
    _in("energy.grid_kg_co2e_per_kwh", "grid carbon intensity", unit="kg CO2e/kWh"),
    Column("energy_kwh", "kWh", "GPU-hours × watts × PUE"),
    Column("co2e_kg", "kg CO2e", "energy × grid intensity"),
    _in("training.optimizer", "optimizer of the memory model"),
    _in("training.attention", "attention implementation of the activation memory"),
    _in("training.logits", "loss computation of the logits' memory"),
    _in("training.base_weights", "storage of LoRA's frozen base weights (null: the training precision's)"),
    _in("parallelism.zero", "ZeRO stage"),
    _in("parallelism.tensor", "tensor-parallel degree"),
    _in("parallelism.context", "context-parallel degree"),
    _in("parallelism.expert", "expert-parallel degree"),
    _in("parallelism.sequence", "sequence parallelism under TP", unit="bool"),
    _in("parallelism.tp_within_domain", "TP kept within a scale-up domain", unit="bool"),
    _in("parallelism.pipeline", "pipeline-parallel degree"),
    _in("training.micro_batch", "sequences per micro-batch"),
    Column("data_parallel", "GPUs", "data-parallel degree, gpus / (TP·PP·CP)"),
    Column("weights_gb", "GB", "weights per GPU"),
    Column("gradients_gb", "GB", "gradients per GPU"),
    Column("optimizer_gb", "GB", "optimizer states per GPU"),
    Column("activations_gb", "GB", "activations per GPU"),
    Column("logits_gb", "GB", "one micro-batch's fp32 logits on the last pipeline stage (0 with a chunked loss)"),
    _in("training.dropout", "dropout's masks kept in the activations", unit="bool"),
    _in("training.lora_dropout", "LoRA adapter dropout's inputs and masks kept in the activations (LoRA rows)",
        unit="bool"),
    _in("training.paged_optimizer", "optimizer states paged to the host under pressure (not in the total)",
        unit="bool"),
    _in("training.framework_gb", "framework memory outside the tensors (CUDA context, driver reserve)"),
    _in("training.allocator_share", "working memory beyond the kept tensors, as a share of the activations and "
                                    "logits"),
    Column("overhead_gb", "GB", "framework memory per GPU beside the tensors: framework_gb + allocator_share × "
                                "the busiest stage's activations and logits"),
    Column("memory_gb_per_gpu", "GB", "total memory per GPU: weights, gradients and optimizer states, the "
                                      "busier pipeline stage's activations (the first's, or the last's with the "
                                      "logits), and the overhead"),
    Column("memory_basis", "", "the activations' architecture: preset, architecture (given) or rule (a shape rule "
                               "for the parameter count)"),
    Column("gpu_memory_gb", "GB", "device memory: the total the device reports (nvidia-smi) where the catalog "
                                  "has it, else the datasheet's (serving figures use the datasheet's, which their "
                                  "fits used)"),
    Column("fits", "bool", "whether the layout fits in device memory (serving: whether the replica serves the batch: "
                           "its caches fit and the latency bounds are met)"),
    Column("min_gpus", "GPUs", "fewest GPUs (a multiple of TP·PP·lcm(CP, EP)) that fit"),
    _in("parallelism.interleave", "virtual pipeline stages per GPU"),
    _in("training.global_batch_tokens", "tokens per optimizer step (the layout's whole micro-batches)"),
    Column("ettr", "fraction", "effective training time ratio: useful steps over elapsed time (given or modelled)"),
    Column("mfu_average", "fraction", "MFU over the whole elapsed time, mfu × ettr"),
    Column("checkpoint_interval_min", "minutes", "Daly's optimal checkpoint interval"),
    Column("interruptions", "interruptions", "expected job interruptions over the run"),
    Column("layout_candidates", "layouts", "layouts the search considered (layout: auto)"),
    Column("grad_accum", "micro-batches", "micro-batches per data-parallel rank per step (gradient accumulation)"),
    Column("step_time_s", "s", "predicted time of one optimizer step"),
    Column("tokens_per_s", "tokens/s", "predicted training throughput, global batch / step time"),
    Column("bubble_fraction", "fraction", "share of the step in the pipeline bubble, (p−1)/v micro-batch slots"),
    Column("comm_exposed_fraction", "fraction", "share of the step in communication not hidden by compute"),
    Column("compute_s", "s", "matmul time per step at the GEMM efficiency"),
    Column("memory_bound_s", "s", "element-wise (and eager attention-score) time per step at HBM bandwidth"),
    Column("tp_comm_s", "s", "tensor-parallel all-reduces per step"),
    Column("ep_comm_s", "s", "expert-parallel all-to-alls per step"),
    Column("cp_comm_s", "s", "context-parallel ring traffic per step not hidden by attention"),
    Column("pp_comm_s", "s", "pipeline stage-boundary sends per step"),
    Column("dp_comm_s", "s", "data-parallel gradient reduction (and ZeRO-3 gathers) per step, exposed"),
    Column("optimizer_s", "s", "optimizer update per step at HBM bandwidth"),
    Column("bubble_s", "s", "pipeline bubble per step"),
    _in("hardware.scale_up_domain", "GPUs per scale-up domain"),
    _in("hardware.scale_up_gb_per_s", "scale-up bandwidth per GPU per direction"),
    _in("hardware.scale_out_gbps", "scale-out bandwidth per GPU per direction"),
    _in("serving.tensor", "tensor-parallel degree of one serving replica"),
    _in("serving.pipeline", "pipeline stages of one serving replica"),
    _in("serving.expert", "expert-parallel degree of one serving replica"),
    _in("serving.weights", "storage of the served weights"),
    _in("serving.activations", "the GEMMs' input precision (auto: as the weights)"),
    _in("serving.kv", "storage of the KV cache"),
    _in("serving.input_tokens", "prompt tokens per request"),
    _in("serving.output_tokens", "generated tokens per request"),
    _in("serving.max_batch", "the server's batch limit"),
    _in("serving.max_tpot_s", "bound on the time per output token"),
    _in("serving.max_ttft_s", "bound on the time to first token"),
    _in("serving.mbu", "achieved fraction of HBM bandwidth in decode"),
    _in("serving.mfu_decode", "achieved fraction of the peak in decode"),
    _in("serving.mfu_prefill", "achieved fraction of the peak in prefill"),
    _in("serving.tp_efficiency", "achieved fraction of the scale-up bandwidth in TP all-reduces"),
    _in("serving.kv_fraction", "share of the free memory holding the KV cache"),
    _in("serving.reserved_gb", "memory per GPU neither weights nor cache"),
    Column("weights_gb_per_gpu", "GB", "served weights per GPU, params × bytes per weight / (TP · PP) (wide EP: the routed experts' / (EP · PP), the rest's / (TP · PP))"),
    Column("kv_bytes_per_token", "bytes", "KV cache per token, 2 · layers · KV heads · head dim · bytes (MLA: "
                                          "layers · kv_latent · bytes)"),
    Column("kv_gb_per_sequence", "GB", "KV cache of one request's input + output tokens"),
    Column("max_batch", "sequences", "most concurrent sequences whose caches fit at the average decode context "
                                     "(within batch_cap)"),
    _in("serving.batch", "concurrent sequences decoded (given, or the most that fit within the bounds)"),
    Column("ttft_s", "s", "time to first token: one prompt's prefill at mfu_prefill, with TP all-reduces"),
    Column("tpot_s", "s", "time per output token: max(bytes read / (HBM × MBU), FLOPs / (peak × MFU)) + "
                          "TP all-reduces"),
    Column("latency_s", "s", "one request end to end, TTFT + (output − 1) · TPOT"),
    Column("output_tokens_per_s", "tokens/s", "output tokens per second of one replica under continuous batching"),
    Column("output_tokens_per_s_per_gpu", "tokens/s", "output tokens/s per GPU of the replica (TP · PP GPUs; EP · PP with wide EP)"),
    Column("requests_per_s", "requests/s", "requests completed per second by one replica"),
    Column("critical_batch", "sequences", "batch from which decode is compute-bound (null: never, the cache reads "
                                          "grow as fast)"),
    Column("compute_bound", "bool", "whether the decode step at the batch is compute-bound"),
    Column("usd_per_m_input_tokens", "US$", "price of a million prompt tokens: the replica's price over the time "
                                            "its prefill takes"),
    Column("usd_per_m_output_tokens", "US$", "price of a million output tokens: the replica's price over the time "
                                             "its decode takes"),
    Column("usd_per_m_tokens_served", "US$", "price of a million output tokens with their prompts, the replica's "
                                             "price / output tokens/s"),
    Column("joules_per_token", "J", "energy per output token with its prompt, watts × the replica's GPUs × "
                                    "PUE / output tokens/s"),
    _in("serving.demand_tokens_per_s", "output tokens/s the fleet must serve"),
    Column("replicas", "replicas", "replicas needed for the demand, ⌈demand / output tokens/s⌉"),
    Column("serving_gpus", "GPUs", "GPUs needed for the demand, replicas × the replica's GPUs"),
    Column("fleet_usd_per_hour", "US$/hour", "the fleet's price per hour, serving_gpus × price"),
    _in("lifetime.tokens_served", "inference tokens over the model's life (prompts and outputs)"),
    _in("lifetime.requests_per_day", "requests served per day"),
    _in("lifetime.days", "days served"),
    Column("inference_flops", "FLOPs", "inference FLOPs over the model's life, 2 · active params · tokens served"),
    Column("lifetime_flops", "FLOPs", "model FLOPs of training and inference"),
    Column("training_cost_usd", "US$", "the training run's cost (cost_usd)"),
    Column("serving_cost_usd", "US$", "serving the tokens at the replica's price, requests × output tokens × "
                                      "usd_per_m_tokens_served / 1e6"),
    Column("lifetime_cost_usd", "US$", "training + serving cost"),
    Column("tokens_per_param", "tokens/parameter", "training tokens per parameter, D / N"),
    Column("compute_flops", "FLOPs", "compute-optimal budget C = 6·N·D (scaling.compute_flops or budget_usd)"),
    Column("loss", "nats/token", "loss predicted by the scaling fit, E + A/N^α + B/D^β"),
)
COLUMNS: tuple[tuple[str, str, str], ...] = tuple((c.name, c.unit, c.meaning) for c in OUTPUTS)
NAMES: tuple[str, ...] = tuple(c.name for c in OUTPUTS)
UNITS: dict[str, str] = {c.name: c.unit for c in OUTPUTS}
