"""Which columns a spec's outputs have values in, and which a sweep writes: decided from the spec
alone, so that the checks (``costspec validate``) and the compiler agree on them. Pure Python."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

from costspec import fields as registry
from costspec import scaling

if TYPE_CHECKING:
    from costspec.spec import Spec

# The serving columns (the registry's, from the serving section's first input to the fleet's price).
SERVING_COLUMNS = frozenset(registry.NAMES[registry.NAMES.index("serving_tensor_parallel"):
                                           registry.NAMES.index("fleet_usd_per_hour") + 1])
# Columns a spec that only serves has beside them (the inputs it shares with training runs).
SERVING_SHARED_COLUMNS = frozenset({"model", "params", "active_params", "gpu", "usd_per_gpu_hour", "watts",
                                    "power_basis", "pue", "grid_kg_co2e_per_kwh", "gpu_memory_gb", "scale_up_domain",
                                    "scale_up_gb_per_s", "fits", "provider"})
# Serving columns every serving sweep writes (when they have values).
SERVING_CORE = ("model", "params", "active_params", "gpu", "serving_tensor_parallel", "serving_pipeline_parallel",
                "serving_expert_parallel", "weights_precision", "activations_precision",
                "kv_precision", "input_tokens", "output_tokens", "batch", "max_batch", "weights_gb_per_gpu",
                "kv_gb_per_sequence", "ttft_s", "tpot_s", "latency_s", "output_tokens_per_s",
                "output_tokens_per_s_per_gpu", "usd_per_gpu_hour", "usd_per_m_input_tokens", "usd_per_m_output_tokens",
                "usd_per_m_tokens_served", "joules_per_token", "replicas", "serving_gpus", "fleet_usd_per_hour", "fits")
# Serving columns that only an input of the same name gives.
SERVING_GIVEN = {"serving_expert_parallel": "serving.expert", "activations_precision": "serving.activations", "batch_cap": "serving.max_batch", "max_tpot_s": "serving.max_tpot_s",
                 "max_ttft_s": "serving.max_ttft_s", "demand_tokens_per_s": "serving.demand_tokens_per_s",
                 "replicas": "serving.demand_tokens_per_s", "serving_gpus": "serving.demand_tokens_per_s",
                 "fleet_usd_per_hour": "serving.demand_tokens_per_s"}

# A model's whole life: its columns, and those only an input of the same name gives.
LIFETIME_COLUMNS = frozenset(registry.NAMES[registry.NAMES.index("tokens_served"):
                                            registry.NAMES.index("lifetime_cost_usd") + 1])
LIFETIME_GIVEN = {"requests_per_day": "lifetime.requests_per_day", "days_served": "lifetime.days"}

# Columns every sweep writes (when they have values), beside swept inputs and derived names.
CORE_COLUMNS = (
    "model", "params", "active_params", "tokens", "gpu", "gpus", "precision", "mfu", "usd_per_gpu_hour",
    "model_flops", "hardware_flops", "hfu", "gpu_hours", "wall_clock_days", "cost_usd", "energy_kwh", "co2e_kg",
    "memory_gb_per_gpu", "memory_basis", "fits", "min_gpus", "ettr", "global_batch_tokens", "grad_accum", "step_time_s",
    "tokens_per_s", "bubble_fraction", "comm_exposed_fraction",
)
# Columns written by default when one of these inputs is swept.
ALWAYS_IF_SWEPT = {
    "peak_tflops": {"hardware.gpu", "training.precision"},
    "data_parallel": {"hardware.count", "parallelism.tensor", "parallelism.pipeline", "parallelism.context"},
    "activations_gb": {"training.recompute", "parallelism.tensor", "training.micro_batch", "training.attention",
                       "parallelism.sequence", "parallelism.context", "training.dropout",
                       "training.lora_dropout", "parallelism.interleave", "training.precision"},
    "weights_gb": {"training.base_weights", "parallelism.expert"},
    "logits_gb": {"training.logits", "training.micro_batch", "parallelism.tensor"},
    "overhead_gb": {"training.framework_gb", "training.allocator_share"},
    "trainable_params": {"training.mode", "training.lora_rank", "training.lora_fraction"},
}
# The layout columns a search writes by default (layout: auto).
SEARCHED_COLUMNS = ("tensor_parallel", "pipeline_parallel", "data_parallel", "context_parallel", "expert_parallel",
                    "micro_batch", "interleave", "recompute", "zero", "layout_candidates")
# Flags, written as booleans (null where there is no value).
FLAGS = {"fits", "sequence_parallel", "tp_within_domain", "compute_bound", "dropout", "lora_dropout",
         "paged_optimizer"}
# Whole-number columns, written as int64 (null where there is no value).
WHOLE = {"gpus", "min_gpus", "tensor_parallel", "pipeline_parallel", "context_parallel", "expert_parallel",
         "micro_batch", "data_parallel", "zero", "grad_accum", "interleave", "scale_up_domain",
         "serving_tensor_parallel", "serving_pipeline_parallel", "serving_expert_parallel", "input_tokens", "output_tokens", "batch", "batch_cap", "max_batch", "replicas",
         "serving_gpus"}
# Columns whose NaN means "no value" (written as null).
NULLABLE = {"energy_kwh", "co2e_kg", "watts", "min_gpus", "activations_gb", "model", "scale_up_domain",
            "scale_up_gb_per_s", "scale_out_gbps"}  # (a GPU whose catalog entry lacks the figure)


# Columns of the step-time model: a GPU and a GPU count give them (rust/model/step.rs).
STEP = {"global_batch_tokens", "grad_accum", "step_time_s", "tokens_per_s", "bubble_fraction", "comm_exposed_fraction",
        "compute_s", "memory_bound_s", "tp_comm_s", "ep_comm_s", "cp_comm_s", "pp_comm_s", "dp_comm_s", "optimizer_s",
        "bubble_s", "layout_candidates"}
NULLABLE |= STEP | {"checkpoint_interval_min", "interruptions"}
# (a served layout that does not fit has no figures)
NULLABLE |= {"weights_gb_per_gpu", "kv_bytes_per_token", "kv_gb_per_sequence", "max_batch", "batch", "ttft_s", "tpot_s",
             "latency_s", "output_tokens_per_s", "output_tokens_per_s_per_gpu", "requests_per_s", "critical_batch",
             "compute_bound", "usd_per_m_input_tokens", "usd_per_m_output_tokens", "usd_per_m_tokens_served",
             "joules_per_token", "replicas", "serving_gpus", "fleet_usd_per_hour", "serving_cost_usd", "lifetime_cost_usd",
             "requests_per_day", "days_served"}
# Columns that are null only where the step times the run and a layout has no step (or a solve
# leaves the goodput unmodelled): nullable in those specs alone (a null mask costs a pass per batch).
NULLABLE_WHEN_PREDICTED = {"mfu", "hfu", "gpu_hours", "wall_clock_days", "cost_usd", "mfu_average"}
NULLABLE_WHEN_SOLVING = {"ettr"}
# Columns null in some spec (the others are required in every output's schema, whatever the spec).
NULLABLE_ANYWHERE = NULLABLE | NULLABLE_WHEN_PREDICTED | NULLABLE_WHEN_SOLVING | {"recompute", "data_parallel"}


def nullable(spec: Spec) -> set[str]:
    """The columns whose NaN means "no value" in this spec (written as null)."""
    out = set(NULLABLE)
    if predicted(spec):
        out |= NULLABLE_WHEN_PREDICTED
    if spec.fields.get("parallelism.layout") == "auto":  # (a point whose search finds no layout)
        out |= {"recompute", "data_parallel"}
    if spec.fields.get("solve.for") is not None or "scaling.budget_usd" in given_names(spec):
        out |= NULLABLE_WHEN_SOLVING  # (no modelled goodput there: a null ettr unless one is given)
    return out


# Columns a GPU's peak and the run's duration give (without them, a spec gives FLOPs, tokens,
# params and memory only).
TIMED = {"mfu", "hfu", "gpu_hours", "wall_clock_days", "cost_usd", "energy_kwh", "co2e_kg", "mfu_average", "ettr",
         "checkpoint_interval_min", "interruptions"}
# Goodput columns that need a GPU count (the interruption model scales with it).
COUNTED = {"checkpoint_interval_min", "interruptions"}
GPU_ONLY = {"gpu", "peak_tflops", "gpu_memory_gb", "fits", "min_gpus"}
NO_DURATION = "no hardware.mfu, gpu_hours or wall_clock_days"


def why_missing(name: str, spec: Spec | None = None) -> str:
    """Why a column has no value in a spec."""
    if spec is not None:
        given = given_names(spec) | ({str(spec.fields["solve.for"])} if spec.fields.get("solve.for") else set())
        if name in TIMED | GPU_ONLY and "hardware.gpu" not in given:
            return "no hardware.gpu"
        if name in TIMED and not timed(given) and not predicted(spec, given):
            return NO_DURATION
        if name in STEP and not stepped(given):
            return "no hardware.count (the step-time model times a layout of GPUs)"
    return {
        "cost_usd": "no price.usd_per_gpu_hour or price.provider",
        "usd_per_gpu_hour": "no price.usd_per_gpu_hour or price.provider",
        "wall_clock_days": "no hardware.count", "gpus": "no hardware.count", "fits": "no hardware.gpu",
        "data_parallel": "no hardware.count", "co2e_kg": "no energy.grid_kg_co2e_per_kwh",
        "model": "no model.preset", "provider": "no price.provider", "compute_flops": "no scaling budget",
        "loss": "no scaling.fit with a loss (hoffmann2022, besiroglu2024)",
        "energy_kwh": "no hardware.watts, and no power figure of the basis in the catalog for the GPU",
        "watts": "no hardware.watts, and no power figure of the basis in the catalog for the GPU",
        "power_basis": "hardware.watts given",
        "gpu": "no hardware.gpu", "peak_tflops": "no hardware.gpu", "gpu_memory_gb": "no hardware.gpu",
    }.get(name, "not given")


def power_bases(spec: Spec) -> tuple[str, ...]:
    """The power bases (chip, system) a spec uses."""
    ax = next((a for a in spec.sweep.axes if a.name == "hardware.power_basis"), None)
    if ax is not None:
        return tuple(str(v).lower() for v in ax.values)
    return (str(spec.fields.get("hardware.power_basis", "chip")).lower(),)


def power_figure(gpu: Any, basis: str) -> Any:
    """A catalog GPU's power figure of a basis (None where the catalog has none)."""
    return gpu.system_power_w if basis == "system" else gpu.tdp_w


def timed(given: set[str]) -> bool:
    """Whether the run has a duration: a GPU and one of mfu, gpu_hours, wall_clock_days (or mfu
    solved for)."""
    return "hardware.gpu" in given and any(d in given for d in
                                           ("hardware.mfu", "hardware.gpu_hours", "hardware.wall_clock_days"))


def stepped(given: set[str]) -> bool:
    """Whether the step-time model runs: a GPU and a GPU count (given, swept or solved for)."""
    return "hardware.gpu" in given and "hardware.count" in given


def predicted(spec: Spec, given: set[str] | None = None) -> bool:
    """Whether the step-time model's MFU times the run: it runs, and no duration (mfu, gpu_hours,
    wall_clock_days) is given and nothing is solved for."""
    given = given_names(spec) if given is None else given
    return stepped(given) and not any(d in given for d in ("hardware.mfu", "hardware.gpu_hours",
                                                               "hardware.wall_clock_days")) \
        and spec.fields.get("solve.for") is None


def serves_names(given: Iterable[str]) -> bool:
    """Whether inputs given serve the model (the serving section)."""
    return any(n.startswith("serving.") for n in given)


def serves(spec: Spec, given: set[str] | None = None) -> bool:
    """Whether the spec serves the model (has a serving section)."""
    return serves_names(given_names(spec) if given is None else given)


def serving_only(spec: Spec, given: set[str] | None = None) -> bool:
    """Whether the spec only serves: a serving section, and no input of a training run."""
    given = given_names(spec) if given is None else given
    return serves(spec, given) and all(n in registry.SERVING_SHARED for n in given if n in registry.FIELDS)


def given_names(spec: Spec) -> set[str]:
    """The fields a spec sets or sweeps, and the sweep's variables."""
    return set(spec.fields) | {a.name for a in spec.sweep.axes}


def available(spec: Spec, gpus: Iterable[Any]) -> set[str]:
    """Output columns that have values in this spec (``gpus``: the catalog entries it uses)."""
    given = given_names(spec)
    if spec.fields.get("solve.for") is not None:
        given.add(str(spec.fields["solve.for"]))
    out = set(registry.NAMES)
    if "scaling.compute_flops" not in given and "scaling.budget_usd" not in given:
        out.discard("compute_flops")
    if spec.fields.get("scaling.fit") not in scaling.FITS:
        out.discard("loss")
    if "hardware.count" not in given:
        out -= {"gpus", "wall_clock_days", "data_parallel"} | COUNTED
        if "hardware.goodput" not in given:
            out.discard("ettr")
    if "hardware.goodput" in given:
        out -= COUNTED
    if "price.usd_per_gpu_hour" not in given and "price.provider" not in given:
        out -= {"usd_per_gpu_hour", "cost_usd"}
    if "energy.grid_kg_co2e_per_kwh" not in given:
        out -= {"co2e_kg", "grid_kg_co2e_per_kwh"}
    if "model.preset" not in given:
        out -= {"model"}
    if "training.base_weights" not in given:
        out -= {"base_weights"}
    if "hardware.watts" in given:
        out.discard("power_basis")
    elif all(power_figure(g, b) is None for g in gpus for b in power_bases(spec)):
        out -= {"watts", "energy_kwh", "co2e_kg"}
    if not stepped(given):
        out -= STEP
    if spec.fields.get("parallelism.layout") != "auto":
        out.discard("layout_candidates")
    if "hardware.gpu" not in given:
        out -= GPU_ONLY | TIMED
    elif not timed(given) and not predicted(spec, given):
        out -= TIMED
    if "price.provider" in given:
        out.add("provider")
    if not serves(spec, given):
        out -= SERVING_COLUMNS
    else:
        out -= {c for c, need in SERVING_GIVEN.items() if need not in given}
        if "price.usd_per_gpu_hour" not in given and "price.provider" not in given:
            out -= {"usd_per_m_input_tokens", "usd_per_m_output_tokens", "usd_per_m_tokens_served",
                    "fleet_usd_per_hour"}
        if "watts" not in out:
            out.discard("joules_per_token")
        if serving_only(spec, given):
            out &= SERVING_COLUMNS | SERVING_SHARED_COLUMNS | LIFETIME_COLUMNS
    if not any(n.startswith("lifetime.") for n in given):
        return out - LIFETIME_COLUMNS
    out -= {c for c, need in LIFETIME_GIVEN.items() if need not in given}
    if "cost_usd" not in out:
        out.discard("training_cost_usd")
    if "model_flops" not in out:
        out.discard("lifetime_flops")
    if "usd_per_m_tokens_served" not in out:
        out.discard("serving_cost_usd")
    if not {"training_cost_usd", "serving_cost_usd"} <= out:
        out.discard("lifetime_cost_usd")
    return out


def variables(spec: Spec) -> list[str]:
    """The sweep's own variables (axes that are not spec fields), in loop order."""
    return [a.name for a in spec.sweep.axes if a.name not in registry.FIELDS]


def written(spec: Spec, gpus: Iterable[Any]) -> list[str]:
    """The columns a sweep of ``spec`` writes, in order: ``output.columns`` if given, else the core
    columns that have values, the swept inputs, the variables and the derived names."""
    if spec.output_columns:
        return list(spec.output_columns)
    have = available(spec, gpus)
    swept_in_order = [a.name for a in spec.sweep.axes]
    swept = set(swept_in_order)
    # (the step's columns by default only where the step times the run: with a given duration they
    # are there on request, output.columns)
    timed_by_step = predicted(spec)
    wanted = [] if serving_only(spec) else [n for n in CORE_COLUMNS if n in have and (timed_by_step or n not in STEP)]
    if serves(spec):
        wanted += [n for n in SERVING_CORE if n in have and n not in wanted]
    if spec.fields.get("parallelism.layout") == "auto":  # the layout each point runs
        wanted += [n for n in SEARCHED_COLUMNS if n in have and n not in wanted]
    for name in swept_in_order:  # swept inputs appear under their column names, in axis order
        as_column = registry.CATEGORY_COLUMN.get(name) or registry.INPUT_COLUMN.get(name) or \
            registry.FLAG_COLUMN.get(name)
        if as_column and as_column not in wanted:
            wanted.append(as_column)
    for name in registry.NAMES:
        if name not in wanted and name in have and name in ALWAYS_IF_SWEPT and ALWAYS_IF_SWEPT[name] & swept:
            wanted.append(name)
    if any(n.startswith(("solve.", "scaling.")) for n in given_names(spec)):
        wanted += [n for n in ("tokens_per_param", "compute_flops", "loss") if n in have]
    wanted += [n for n in registry.NAMES if n in LIFETIME_COLUMNS and n in have and n not in wanted]
    return wanted + variables(spec) + list(spec.derive)


# File extensions and the format they name; a path with another extension (or none) takes the
# format given, else Parquet.
SUFFIX_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".arrow": "arrow", ".feather": "arrow", ".ipc": "arrow",
                  ".csv": "csv"}
FORMAT_SUFFIX = {"parquet": ".parquet", "arrow": ".arrow", "csv": ".csv"}


def suffix_format(path: str | None) -> str | None:
    """The format a path's extension names, if it names one."""
    if not path:
        return None
    from pathlib import PurePath

    return SUFFIX_FORMATS.get(PurePath(path).suffix.lower())
