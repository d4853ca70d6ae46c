"""One-point estimates: resolve names against the catalog, evaluate in the engine, return a typed result.

``estimate(...)`` is the whole pipeline for a single point:

1. numbers are parsed (``"780B"`` → 7.8e11) and catalog names resolved (model preset, GPU, price);
2. the checked inputs become a one-point spec, compiled to a plan and run by the engine that runs
   sweeps (``point.run``): one evaluation path for one point and for a billion;
3. the row comes back as an :class:`Estimate`, with the source of every catalog figure used.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
import functools
from typing import Any, Callable, Literal, Mapping, ParamSpec, Sequence

from costspec.catalog import Catalog, Gpu, ModelPreset
from costspec.fields import PRECISIONS
from costspec.errors import InputError, ModelInputError
from costspec.fields import ARCHITECTURE, ATTENTIONS, BASE_WEIGHTS, LOGITS, CONVENTIONS, FIELDS, MODES, OPTIMIZERS, POWER_BASES, RECOMPUTES, LAYOUTS, SEARCHABLE
from costspec.units import parse_number
from costspec.outputs import power_figure

Number = float | int | str
Convention = Literal["6nd", "palm", "megatron"]
Recompute = Literal["none", "selective", "full"]
Mode = Literal["pretrain", "finetune", "lora"]
Precision = Literal["fp32", "tf32", "bf16", "fp16", "fp8", "fp4"]
Optimizer = Literal["adam", "adam8bit", "sgd"]
Attention = Literal["flash", "eager"]
Logits = Literal["full", "chunked"]
PowerBasis = Literal["chip", "system"]
Layout = Literal["explicit", "auto"]
BaseWeights = Literal["bf16", "int8", "nf4"]  # (the registry's choices, as types: tests/test_fields.py)


@dataclass(frozen=True)
class Estimate:
    """The cost model at one point. Field names are the column names of every costspec output."""

    # what was evaluated
    model: str | None
    params: float
    active_params: float
    trainable_params: float
    tokens: float
    gpu: str | None  # None: no GPU given (FLOPs, tokens, params and memory only)
    gpus: float | None
    precision: str
    convention: str
    recompute: str
    attention: str
    logits: str
    mode: str
    base_weights: str | None  # LoRA's frozen base storage (None: the training precision's width)
    # compute
    model_flops_per_token: float
    model_flops: float
    hardware_flops: float
    peak_tflops: float | None
    mfu: float | None  # None (with hfu, gpu_hours, time, cost, energy): no GPU or no duration given
    hfu: float | None
    gpu_hours: float | None
    wall_clock_days: float | None
    # money and energy
    usd_per_gpu_hour: float | None
    cost_usd: float | None
    watts: float | None
    power_basis: str | None  # the catalog figure the watts are (chip or system); None: watts given
    pue: float
    grid_kg_co2e_per_kwh: float | None
    energy_kwh: float | None
    co2e_kg: float | None
    # memory per GPU
    optimizer: str
    zero: int
    tensor_parallel: int
    sequence_parallel: bool
    pipeline_parallel: int
    context_parallel: int
    expert_parallel: int
    micro_batch: int
    data_parallel: float | None
    weights_gb: float
    gradients_gb: float
    optimizer_gb: float
    activations_gb: float | None
    logits_gb: float
    dropout: bool
    lora_dropout: bool
    paged_optimizer: bool
    framework_gb: float
    allocator_share: float
    overhead_gb: float  # framework_gb + allocator_share × the busiest stage's activations and logits
    memory_gb_per_gpu: float
    memory_basis: str  # the activations' architecture: "preset", "architecture" (given) or "rule"
    gpu_memory_gb: float | None
    fits: bool | None
    min_gpus: float | None
    tokens_per_param: float
    # goodput (None without a duration, or without a GPU count unless given)
    ettr: float | None = None
    mfu_average: float | None = None
    checkpoint_interval_min: float | None = None
    interruptions: float | None = None
    # the step-time model (None without a GPU count, or when the layout has no step)
    interleave: int = 1
    scale_up_domain: float | None = None
    scale_up_gb_per_s: float | None = None
    scale_out_gbps: float | None = None
    global_batch_tokens: float | None = None
    layout_candidates: float | None = None
    grad_accum: float | None = None
    step_time_s: float | None = None
    tokens_per_s: float | None = None
    bubble_fraction: float | None = None
    comm_exposed_fraction: float | None = None
    compute_s: float | None = None
    memory_bound_s: float | None = None
    tp_comm_s: float | None = None
    ep_comm_s: float | None = None
    cp_comm_s: float | None = None
    pp_comm_s: float | None = None
    dp_comm_s: float | None = None
    optimizer_s: float | None = None
    bubble_s: float | None = None
    # provenance
    given: str | None = None  # which of mfu, gpu_hours, wall_clock_days pinned the duration ("solve": the
    # targets, solving for the MFU; None: nothing did)
    architecture: Mapping[str, float | bool] = field(default_factory=dict)
    sources: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Flat JSON-ready dictionary (architecture and sources as nested objects)."""
        d = dataclasses.asdict(self)
        for k in ("gpus", "min_gpus", "data_parallel"):  # whole numbers, as every output writes them
            if isinstance(d[k], float) and d[k].is_integer():
                d[k] = int(d[k])
        d["architecture"] = dict(self.architecture)
        d["sources"] = dict(self.sources)
        return d


def _num(value: Number | None, field: str) -> float | None:
    return None if value is None else parse_number(value, field)


def _flag(value: object, field: str) -> str:
    if not isinstance(value, bool):
        raise InputError(field, repr(value), "true or false")
    return "true" if value else "false"


def _choice(value: str, field: str, options: tuple[str, ...]) -> str:
    v = str(value).lower()
    if v not in options:
        raise InputError(field, repr(value), f"one of {', '.join(options)}")
    return v


def _allowed(value: Any, field: str, one: Callable[[Any, str], Any]) -> Any:
    """A searchable degree: one value, or a list of the values the layout search may choose."""
    if isinstance(value, (list, tuple, range)):
        return [one(v, f"{field}[{i}]") for i, v in enumerate(value)]
    return None if value is None else one(value, field)


def inputs(
    *,
    gpu: str | None = None,
    model: str | None = None,
    params: Number | None = None,
    active_params: Number | None = None,
    architecture: Mapping[str, Number | bool] | None = None,
    tokens: Number | None = None,
    dataset_tokens: Number | None = None,
    epochs: Number | None = None,
    gpus: Number | None = None,
    mfu: Number | None = None,
    gpu_hours: Number | None = None,
    wall_clock_days: Number | None = None,
    usd_per_gpu_hour: Number | None = None,
    provider: str | None = None,
    precision: Precision | str = "bf16",
    convention: Convention | str = "6nd",
    recompute: Recompute | str | Sequence[Recompute | str] | None = None,
    attention: Attention | str = "flash",
    logits: Logits | str = "full",
    mode: Mode | str = "pretrain",
    base_weights: BaseWeights | str | None = None,
    lora_rank: Number | None = None,
    lora_fraction: Number | None = None,
    watts: Number | None = None,
    power_basis: PowerBasis | str = "chip",
    layout: Layout | str = "explicit",
    goodput: Number | None = None,
    gpu_mtbf_hours: Number | None = None,
    checkpoint_gb_per_s: Number | None = None,
    restart_minutes: Number | None = None,
    pue: Number = 1.0,
    grid_kg_co2e_per_kwh: Number | None = None,
    optimizer: Optimizer | str = "adam",
    zero: int | str | Sequence[int | str] | None = None,
    tensor_parallel: Number | Sequence[Number] | None = None,
    sequence_parallel: bool = True,
    tp_within_domain: bool = False,
    pipeline_parallel: Number | Sequence[Number] | None = None,
    context_parallel: Number | Sequence[Number] | None = None,
    expert_parallel: Number | Sequence[Number] | None = None,
    micro_batch: Number | Sequence[Number] | None = None,
    dropout: bool | None = None,
    lora_dropout: bool = False,
    paged_optimizer: bool = False,
    framework_gb: Number = 1.1,
    allocator_share: Number = 0.2,
    interleave: Number | Sequence[Number] | None = None,
    global_batch_tokens: Number | None = None,
    scale_up_domain: Number | None = None,
    scale_up_gb_per_s: Number | None = None,
    scale_out_gbps: Number | None = None,
    catalog: Catalog | None = None,
) -> Inputs:
    """Estimate the cost of one training run.

    Give a ``model`` preset or ``params`` (both: params overrides the preset's), ``tokens`` (or
    ``dataset_tokens`` × ``epochs``; a preset's published token count otherwise). That gives FLOPs,
    tokens, params and memory; time, cost and energy take a ``gpu`` from the catalog and one of
    ``mfu``, ``gpu_hours`` or ``wall_clock_days`` (with ``gpus``), and the GPU's memory says
    whether it fits. Price comes from ``usd_per_gpu_hour`` or a catalog ``provider``. Numbers accept suffixes
    (``"7B"``, ``"2T"``). Raises :class:`InputError` / :class:`ModelInputError` on bad input.
    """
    if catalog is not None and not isinstance(catalog, Catalog):
        raise InputError("catalog", type(catalog).__name__, "a costspec.Catalog (Catalog.load([...files]))")
    if architecture is not None and not isinstance(architecture, Mapping):
        raise InputError("architecture", type(architecture).__name__, "a mapping of architecture fields to numbers")
    cat = catalog or Catalog.builtin()
    sources: dict[str, str] = {}

    preset: ModelPreset | None = cat.model(model) if model is not None else None
    arch: dict[str, float | bool] = dict(preset.architecture) if preset else {}
    for k, v in (architecture or {}).items():
        if k == "gated_mlp":
            if not isinstance(v, bool):
                raise InputError("architecture.gated_mlp", repr(v), "true or false")
            arch[k] = v
        else:
            arch[k] = parse_number(v, f"architecture.{k}")
    if preset:
        sources["model"] = f"{preset.name}: {preset.source} [{preset.status}]"

    n = _num(params, "params")
    if n is None:
        if preset is None:
            raise InputError("params", "nothing", "a model preset (--model) or a parameter count (--params)")
        n = preset.params
    n_active = _num(active_params, "active_params")
    if n_active is None:
        n_active = preset.active_params if (preset and params is None and preset.active_params) else n

    d = _num(tokens, "tokens")
    if dataset_tokens is not None:
        if d is not None:
            raise InputError("tokens", "both tokens and dataset_tokens", "one of them")
        ds = parse_number(dataset_tokens, "dataset_tokens")
        ep = 1.0 if epochs is None else parse_number(epochs, "epochs")
        for name, v, raw in (("dataset_tokens", ds, dataset_tokens), ("epochs", ep, epochs)):
            if not v > 0:
                raise InputError(name, raw, "a number > 0")
        d = ds * ep
        if not math.isfinite(d):
            raise InputError("epochs", epochs, "a count that keeps dataset_tokens × epochs within the float range")
        sources["tokens"] = "dataset_tokens × epochs"
    elif epochs is not None:
        raise InputError("epochs", epochs, "dataset_tokens to go with it")
    if d is None:
        published = preset.training.get("tokens") if preset else None
        if published is None:
            raise InputError("tokens", "nothing", "a token count such as 780B or 2T")
        d = float(published)
        sources["tokens"] = f"published training tokens of {preset.id if preset else '?'} (see model)"

    prec = _choice(precision, "precision", PRECISIONS)
    price = _num(usd_per_gpu_hour, "usd_per_gpu_hour")
    given = [k for k, v in (("mfu", mfu), ("gpu_hours", gpu_hours), ("wall_clock_days", wall_clock_days)) if v is not None]
    if len(given) > 1:
        raise InputError(given[1], " and ".join(given), "one of mfu, gpu_hours, wall_clock_days")
    g: Gpu | None = None
    if gpu is None:
        needs = [(k, v) for k, v in (("mfu", mfu), ("gpu_hours", gpu_hours), ("wall_clock_days", wall_clock_days),
                                     ("provider", provider)) if v is not None]
        if needs:
            raise InputError(needs[0][0], repr(needs[0][1]),
                             "a gpu to go with it (time and cost are measured against a GPU's peak)")
    else:
        g = cat.gpu(gpu)
        peak = g.peak_tflops.get(prec)
        if peak is None:
            raise InputError(
                "precision", prec, f"a precision {g.id} has a dense peak for: {', '.join(g.peak_tflops)}"
            )
        sources["peak_tflops"] = f"{g.id} {prec} dense: {peak.cite()}"
        if provider is not None:
            if price is not None:
                raise InputError("provider", provider, "either a provider or a price, not both")
            sources["usd_per_gpu_hour"] = cat.price(provider, g).cite()
        if watts is None and (src := watts_source(g, str(power_basis).lower())) is not None:
            sources["watts"] = src
        if g.device_memory is not None:
            sources["gpu_memory_gb"] = f"{g.id}: {g.device_memory.cite()}"
    if price is not None:
        sources["usd_per_gpu_hour"] = "given"
    if watts is not None:
        sources["watts"] = "given"
    if str(mode).lower() != "lora":
        for name, size in (("lora_rank", lora_rank), ("lora_fraction", lora_fraction)):
            if size is not None:
                raise InputError(name, size, "mode 'lora' to go with it (LoRA adapters are trained only in LoRA mode)")
        if base_weights is not None:
            raise InputError("base_weights", base_weights, "mode 'lora' to go with it (only LoRA has a frozen base)")
    for k in (architecture or {}):
        if not isinstance(k, str):
            raise InputError("architecture", repr(k), "architecture field names (layers, d_model, ...)")
    def stage(z: Any, field: str) -> Any:
        x = 3.0 if str(z).lower() == "fsdp" else parse_number(z, field)
        return str(int(x)) if x in (0.0, 1.0, 2.0, 3.0) else x

    zero_stage = _allowed(zero, "zero", stage)
    if n > 0 and not math.isfinite(d / n):  # (params > 0 is the model's check)
        raise InputError("params", repr(n), "a parameter count that keeps tokens per parameter within the float "
                                            "range (±1.8e308)")
    # The inputs as a one-point spec: only what was given (the preset's figures, the GPU's TDP and
    # the provider's price are the compiler's to look up, as in a sweep).
    given_fields: dict[str, Any] = {
        "model.preset": preset.id if preset else None,
        "model.params": _num(params, "params"),
        "model.active_params": _num(active_params, "active_params"),
        "training.tokens": _num(tokens, "tokens"),
        "training.dataset_tokens": None if dataset_tokens is None else parse_number(dataset_tokens, "dataset_tokens"),
        "training.epochs": None if epochs is None else parse_number(epochs, "epochs"),
        "training.convention": _choice(convention, "convention", CONVENTIONS),
        "training.recompute": _allowed(recompute, "recompute", lambda v, f: _choice(v, f, RECOMPUTES)),
        "training.attention": _choice(attention, "attention", ATTENTIONS),
        "training.logits": _choice(logits, "logits", LOGITS),
        "training.base_weights": None if base_weights is None else _choice(base_weights, "base_weights", BASE_WEIGHTS),
        "training.mode": _choice(mode, "mode", MODES),
        "training.lora_rank": _num(lora_rank, "lora_rank"),
        "training.lora_fraction": _num(lora_fraction, "lora_fraction"),
        "training.precision": prec,
        "training.optimizer": _choice(optimizer, "optimizer", OPTIMIZERS),
        "training.micro_batch": _allowed(micro_batch, "micro_batch", parse_number),
        "training.dropout": None if dropout is None else _flag(dropout, "dropout"),
        "training.lora_dropout": _flag(lora_dropout, "lora_dropout") if lora_dropout else None,
        "training.paged_optimizer": _flag(paged_optimizer, "paged_optimizer") if paged_optimizer else None,
        "training.framework_gb": _num(framework_gb, "framework_gb"),
        "training.allocator_share": _num(allocator_share, "allocator_share"),
        "training.global_batch_tokens": _num(global_batch_tokens, "global_batch_tokens"),
        "parallelism.interleave": _allowed(interleave, "interleave", parse_number),
        "hardware.scale_up_domain": _num(scale_up_domain, "scale_up_domain"),
        "hardware.scale_up_gb_per_s": _num(scale_up_gb_per_s, "scale_up_gb_per_s"),
        "hardware.scale_out_gbps": _num(scale_out_gbps, "scale_out_gbps"),
        "hardware.gpu": g.id if g is not None else None,
        "hardware.mfu": _num(mfu, "mfu"),
        "hardware.gpu_hours": _num(gpu_hours, "gpu_hours"),
        "hardware.wall_clock_days": _num(wall_clock_days, "wall_clock_days"),
        "hardware.count": _num(gpus, "gpus"),
        "hardware.watts": _num(watts, "watts"),
        "hardware.power_basis": _choice(power_basis, "power_basis", POWER_BASES),
        "parallelism.layout": _choice(layout, "layout", LAYOUTS),
        "hardware.goodput": _num(goodput, "goodput"),
        "hardware.gpu_mtbf_hours": _num(gpu_mtbf_hours, "gpu_mtbf_hours"),
        "hardware.checkpoint_gb_per_s": _num(checkpoint_gb_per_s, "checkpoint_gb_per_s"),
        "hardware.restart_minutes": _num(restart_minutes, "restart_minutes"),
        "price.usd_per_gpu_hour": _num(usd_per_gpu_hour, "usd_per_gpu_hour"),
        "price.provider": provider,
        "energy.pue": parse_number(pue, "pue"),
        "energy.grid_kg_co2e_per_kwh": _num(grid_kg_co2e_per_kwh, "grid_kg_co2e_per_kwh"),
        "parallelism.zero": zero_stage,
        "parallelism.tensor": _allowed(tensor_parallel, "tensor_parallel", parse_number),
        "parallelism.pipeline": _allowed(pipeline_parallel, "pipeline_parallel", parse_number),
        "parallelism.sequence": _flag(sequence_parallel, "sequence_parallel"),
        "parallelism.tp_within_domain": None if tp_within_domain is False else _flag(tp_within_domain,
                                                                                     "tp_within_domain"),
        "parallelism.context": _allowed(context_parallel, "context_parallel", parse_number),
        "parallelism.expert": _allowed(expert_parallel, "expert_parallel", parse_number),
    }
    for k, v in (architecture or {}).items():
        given_fields[f"model.architecture.{k}"] = ("true" if v else "false") if k == "gated_mlp" else arch[k]
    pinned = given[0] if given and g is not None else None
    if pinned is None and g is not None and gpus is not None:
        pinned = "predicted"  # (the step-time model's MFU times the run)
    return Inputs(given_fields, cat, Provenance(given=pinned, architecture=arch, sources=sources))


@dataclass(frozen=True)
class Inputs:
    """estimate()'s inputs, checked: spec field -> value (None: not given), and what the estimate
    shows beside its row."""

    fields: Mapping[str, Any]
    catalog: Catalog
    provenance: Provenance

    def spec(self, solve: Mapping[str, Any] | None = None) -> Any:
        return one_point(self.fields, self.catalog, solve)

    def run(self) -> Estimate:
        e = run_spec(self.spec(), self.provenance)
        searched = self.fields.get("parallelism.layout") == "auto"
        if (self.provenance.given == "predicted" and e.step_time_s is None) or (searched and e.tensor_parallel is None):
            raise no_step(e, self.fields)
        return e


P = ParamSpec("P")


def _evaluated(checked: Callable[P, Inputs]) -> Callable[P, Estimate]:
    @functools.wraps(checked)
    def run(*args: P.args, **kwargs: P.kwargs) -> Estimate:
        return checked(*args, **kwargs).run()

    return run


# estimate(**inputs): the inputs checked, then the one-point plan run in the engine.
estimate = _evaluated(inputs)


def one_point(given: Mapping[str, Any], catalog: Catalog, solve: Mapping[str, Any] | None = None,
              keyword: Callable[[str], str] | None = None) -> Any:
    """The one-point Spec of estimate()'s inputs (spec field -> value; None: not given), checked
    by the rules every spec meets (``spec.of_keywords``); its errors name the estimate() keyword
    that set the value (``keyword``: another API's keyword of a spec field, serve()'s)."""
    from costspec.errors import SpecError
    from costspec.spec import of_keywords
    from costspec.yamlio import Document

    fields = {k: v for k, v in given.items() if v is not None}
    fields.update({f"solve.{k}" if k != "for" else "solve.for": v for k, v in (solve or {}).items()})
    data: dict[str, Any] = {"costspec": 1}
    flags: dict[tuple[str | int, ...], str] = {}
    for path, v in fields.items():
        *sections, key = path.split(".")
        node = data
        for part in sections:
            node = node.setdefault(part, {})
        node[key] = v
        if keyword is not None:
            flags[tuple(path.split("."))] = keyword(path)
        elif path in FIELDS or path.startswith("model.architecture."):
            flags[tuple(path.split("."))] = FIELDS[path].keyword if path in FIELDS else path.split(".", 1)[1]
    try:
        return of_keywords(Document("<estimate>", "", data, {(): (1, 1)}, {}, flags), catalog)
    except SpecError as e:  # (the keyword it is about, what was expected and found)
        v = fields.get(e.path)
        if e.flag and e.expected and isinstance(v, (int, float)) and e.message in ("out of range", "not a finite number"):
            raise InputError(e.flag, f"{v:g}", e.expected) from None  # (as a keyword's domain error reads)
        raise ModelInputError(e.format(), e.flag) from None


def run_spec(spec: Any, provenance: Provenance) -> Estimate:
    """Evaluate a one-point spec of estimate()'s inputs in the engine: the Estimate, or the
    InputError / ModelInputError naming the keyword."""
    from costspec.errors import SpecError
    from costspec.plan import compile_spec
    from costspec.point import PointFailed, run

    try:
        row = run(compile_spec(spec, point=True))
    except PointFailed as e:
        raise ModelInputError(str(e), e.field) from None
    except SpecError as e:
        raise ModelInputError(e.format(), e.flag) from None
    return from_row(row, provenance)


@dataclass(frozen=True)
class Provenance:
    """What an estimate shows beside its row: which figure pinned the duration, the architecture
    and the source of every catalog figure used."""

    given: str | None
    architecture: Mapping[str, float | bool]
    sources: Mapping[str, str]

    @classmethod
    def of_spec(cls, spec: Any, values: Mapping[str, Any], solved: str | None = None) -> Provenance:
        """The provenance of a one-point spec's inputs (``values``: its fields and axis values)."""
        from costspec import expr

        cat: Catalog = spec.catalog
        sources: dict[str, str] = {}
        preset = cat.model(str(values["model.preset"])) if isinstance(values.get("model.preset"), str) else None
        arch: dict[str, float | bool] = dict(preset.architecture) if preset else {}
        for a in (*ARCHITECTURE, "gated_mlp"):
            v = values.get(f"model.architecture.{a}")
            if v is not None and not isinstance(v, expr.Expr):
                arch[a] = str(v).lower() in ("true", "1") if a == "gated_mlp" else float(v)
        if preset:
            sources["model"] = f"{preset.name}: {preset.source} [{preset.status}]"
        if values.get("training.dataset_tokens") is not None:
            sources["tokens"] = "dataset_tokens × epochs"
        elif values.get("training.tokens") is None and preset is not None and solved != "tokens":
            sources["tokens"] = f"published training tokens of {preset.id} (see model)"
        gpu = values.get("hardware.gpu")
        if isinstance(gpu, str):
            g = cat.gpu(gpu)
            prec = str(values.get("training.precision") or "bf16").lower()
            if prec in g.peak_tflops:
                sources["peak_tflops"] = f"{g.id} {prec} dense: {g.peak_tflops[prec].cite()}"
            if isinstance(values.get("price.provider"), str):
                sources["usd_per_gpu_hour"] = cat.price(str(values["price.provider"]), g).cite()
            elif values.get("price.usd_per_gpu_hour") is not None:
                sources["usd_per_gpu_hour"] = "given"
            if values.get("hardware.watts") is not None:
                sources["watts"] = "given"
            elif (src := watts_source(g, str(values.get("hardware.power_basis") or "chip").lower())) is not None:
                sources["watts"] = src
            if g.device_memory is not None:
                sources["gpu_memory_gb"] = f"{g.id}: {g.device_memory.cite()}"
        given = "solve" if solved == "mfu" else next(
            (d.split(".")[1] for d in ("hardware.mfu", "hardware.gpu_hours", "hardware.wall_clock_days")
             if values.get(d) is not None), None)
        given = given if isinstance(gpu, str) else None
        if given is None and isinstance(gpu, str) and values.get("hardware.count") is not None and solved is None:
            given = "predicted"
        return cls(given, arch, sources)


def no_step(e: Estimate, fields: Mapping[str, Any] | None = None) -> InputError:
    """Why a layout has no step: more data-parallel ranks × micro-batch than the batch has sequences
    (or, searching, no layout that fits the memory and the batch among the values it may choose)."""
    seq = float(e.architecture.get("seq_len") or 2048)
    if e.tensor_parallel is None:  # (layout auto: the search found none)
        kept = [(FIELDS[p].keyword, v) for p in sorted(SEARCHABLE) if (v := (fields or {}).get(p)) is not None]
        if (fields or {}).get("parallelism.tp_within_domain") == "true":
            kept.append(("tp_within_domain", "true"))
        def shown(v: Any) -> str:
            vals = v if isinstance(v, list) else [v]
            return ",".join(dict.fromkeys(f"{x:g}" if isinstance(x, float) else str(x) for x in vals))

        among = ("; the search kept to " + ", ".join(f"{k} {shown(v)}" for k, v in kept) +
                 ": allow other values, or") if kept else ":"
        return InputError("gpus", f"{e.gpus:g}", "a count with a layout (TP, PP, CP, EP, micro-batch, recompute, "
                          f"ZeRO) that fits the memory and whose data-parallel ranks do not outnumber the global "
                          f"batch's {seq:g}-token sequences{among} another count, a larger global batch, or a GPU "
                          f"with more memory")
    mp = e.tensor_parallel * e.pipeline_parallel * e.context_parallel
    return InputError("gpus", f"{e.gpus:g}", f"a count whose {e.data_parallel or 0:g} data-parallel ranks (GPUs / "
                      f"TP·PP·CP = {mp:g}) × micro-batch {e.micro_batch:g} do not outnumber the global batch's "
                      f"{seq:g}-token sequences: fewer GPUs, more model parallelism, or a larger global batch")


def watts_source(g: Gpu, basis: str) -> str | None:
    """Where a GPU's catalog power on a basis comes from (None: the catalog has no such figure)."""
    figure = power_figure(g, basis)
    if figure is None:
        return None
    return f"{g.id} {'system power per accelerator' if basis == 'system' else 'TDP'}: {figure.cite()}"


def from_row(row: Mapping[str, Any], provenance: Provenance) -> Estimate:
    """The Estimate of one engine row (``point.run``)."""
    names = {f.name for f in dataclasses.fields(Estimate)} - {"given", "architecture", "sources"}
    values: dict[str, Any] = {k: row.get(k) for k in names}
    for k in ("gpus", "min_gpus", "data_parallel", "grad_accum", "scale_up_domain"):  # (typed float: whole numbers)
        values[k] = None if values[k] is None else float(values[k])
    return Estimate(**values, given=provenance.given, architecture=provenance.architecture,
                    sources=provenance.sources)
