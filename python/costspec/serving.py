"""Serving one model: ``serve(...)`` and ``costspec serve`` (issue 13).

The inputs become a one-point spec with a ``serving:`` section, compiled and run by the engine
that runs sweeps (``point.run``: one evaluation path), and the row comes back as a
:class:`Served` with the source of every catalog figure. The model is ``rust/model/serve.rs``:
the KV cache per token 2·L·H_kv·d_h·bytes, decode a roofline of HBM reads against FLOPs, prefill
compute-bound, a replica decoding ``batch`` sequences under continuous batching.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal, Mapping

from costspec.catalog import Catalog
from costspec.errors import InputError, ModelInputError
from costspec.fields import FIELDS, SERVING, WIDTHS
from costspec.units import format_si, parse_number

Number = float | int | str
Width = Literal["bf16", "fp8", "int8", "int4"]

# serve()'s keyword of each spec field (the serving section's keys; its TP is tensor_parallel).
KEYWORD: dict[str, str] = {
    "model.preset": "model", "model.params": "params", "model.active_params": "active_params",
    "hardware.gpu": "gpu", "hardware.watts": "watts", "hardware.power_basis": "power_basis",
    "hardware.scale_up_domain": "scale_up_domain", "hardware.scale_up_gb_per_s": "scale_up_gb_per_s",
    "price.usd_per_gpu_hour": "usd_per_gpu_hour", "price.provider": "provider", "energy.pue": "pue",
    "energy.grid_kg_co2e_per_kwh": "grid_kg_co2e_per_kwh",
    "hardware.scale_out_gbps": "scale_out_gbps",
    **{p: {"serving.tensor": "tensor_parallel", "serving.pipeline": "pipeline_parallel",
           "serving.expert": "expert_parallel"}.get(p, FIELDS[p].key)
       for p in SERVING},
}


@dataclass(frozen=True)
class Served:
    """One replica of a served model. Field names are the column names of serving sweeps."""

    model: str | None
    params: float
    active_params: float
    gpu: str
    serving_tensor_parallel: int
    serving_pipeline_parallel: int
    serving_expert_parallel: int
    weights_precision: str
    kv_precision: str
    input_tokens: int
    output_tokens: int
    batch: int
    max_batch: int
    weights_gb_per_gpu: float
    kv_bytes_per_token: float
    kv_gb_per_sequence: float
    ttft_s: float
    tpot_s: float
    latency_s: float
    output_tokens_per_s: float
    output_tokens_per_s_per_gpu: float
    requests_per_s: float
    critical_batch: float | None  # None: decode never turns compute-bound (the cache reads grow as fast)
    compute_bound: bool
    mbu: float
    mfu_decode: float
    mfu_prefill: float
    tp_efficiency: float
    kv_fraction: float
    reserved_gb: float
    gpu_memory_gb: float
    usd_per_gpu_hour: float | None = None
    usd_per_m_input_tokens: float | None = None
    usd_per_m_output_tokens: float | None = None
    usd_per_m_tokens_served: float | None = None
    watts: float | None = None
    pue: float = 1.0
    joules_per_token: float | None = None
    batch_cap: int | None = None
    max_tpot_s: float | None = None
    max_ttft_s: float | None = None
    demand_tokens_per_s: float | None = None
    replicas: int | None = None
    serving_gpus: int | None = None
    fleet_usd_per_hour: float | None = None
    activations_precision: str = "auto"
    # what the breakdown shows beside the row
    peak_tflops: float = 0.0
    hbm_tbps: float = 0.0
    architecture: Mapping[str, float] = dataclasses.field(default_factory=dict)
    sources: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["architecture"] = dict(self.architecture)
        d["sources"] = dict(self.sources)
        return d


def serve(
    model: str | None = None,
    *,
    gpu: str,
    input_tokens: Number,
    output_tokens: Number,
    params: Number | None = None,
    active_params: Number | None = None,
    architecture: Mapping[str, Number] | None = None,
    tensor_parallel: Number = 1,
    pipeline_parallel: Number = 1,
    expert_parallel: Number = 1,
    weights: Width | str = "bf16",
    activations: str = "auto",
    kv: Width | str = "bf16",
    batch: Number | None = None,
    max_batch: Number | None = None,
    max_tpot_s: Number | None = None,
    max_ttft_s: Number | None = None,
    demand_tokens_per_s: Number | None = None,
    mbu: Number = 0.6,
    mfu_decode: Number = 0.2,
    mfu_prefill: Number = 0.7,
    tp_efficiency: Number = 1.0,
    kv_fraction: Number = 0.9,
    reserved_gb: Number = 2.0,
    usd_per_gpu_hour: Number | None = None,
    provider: str | None = None,
    watts: Number | None = None,
    power_basis: str = "chip",
    pue: Number = 1.0,
    grid_kg_co2e_per_kwh: Number | None = None,
    scale_up_domain: Number | None = None,
    scale_up_gb_per_s: Number | None = None,
    scale_out_gbps: Number | None = None,
    catalog: Catalog | None = None,
) -> Served:
    """Serve a model on one replica of ``tensor_parallel`` × ``pipeline_parallel`` GPUs (a mixture of
    experts with ``expert_parallel`` a multiple of TP: EP × PP GPUs, data-parallel attention).

    Give a ``model`` preset (or ``params`` with an ``architecture``: layers, d_model, heads,
    kv_heads), a ``gpu`` and the request's ``input_tokens`` and ``output_tokens``. The batch is the
    most sequences whose KV caches fit (within ``max_batch`` and ``max_tpot_s``) unless given.
    Prices come from ``usd_per_gpu_hour`` or a catalog ``provider``; ``demand_tokens_per_s`` gives
    the replicas and GPUs a fleet needs. Efficiencies default to the values fitted on TensorRT-LLM's
    published throughput. Raises :class:`InputError` / :class:`ModelInputError` on bad input, and
    when the replica cannot serve: no batch fits, or none meets the latency bounds.
    """
    from costspec.estimator import one_point

    if catalog is not None and not isinstance(catalog, Catalog):
        raise InputError("catalog", type(catalog).__name__, "a costspec.Catalog (Catalog.load([...files]))")
    if architecture is not None and not isinstance(architecture, Mapping):
        raise InputError("architecture", type(architecture).__name__, "a mapping of architecture fields to numbers")
    cat = catalog or Catalog.builtin()
    given = {"model": model, "params": params, "active_params": active_params, "gpu": gpu,
             "tensor_parallel": tensor_parallel, "pipeline_parallel": pipeline_parallel,
             "expert_parallel": expert_parallel, "weights": weights, "activations": activations, "kv": kv, "input_tokens": input_tokens,
             "output_tokens": output_tokens, "batch": batch, "max_batch": max_batch, "max_tpot_s": max_tpot_s,
             "max_ttft_s": max_ttft_s, "demand_tokens_per_s": demand_tokens_per_s, "mbu": mbu,
             "mfu_decode": mfu_decode, "mfu_prefill": mfu_prefill,
             "tp_efficiency": tp_efficiency, "kv_fraction": kv_fraction,
             "reserved_gb": reserved_gb, "usd_per_gpu_hour": usd_per_gpu_hour, "provider": provider, "watts": watts,
             "power_basis": power_basis, "pue": pue, "grid_kg_co2e_per_kwh": grid_kg_co2e_per_kwh,
             "scale_up_domain": scale_up_domain, "scale_up_gb_per_s": scale_up_gb_per_s,
             "scale_out_gbps": scale_out_gbps}
    fields: dict[str, Any] = {}
    for path, kw in KEYWORD.items():
        v = given[kw]
        if v is None:
            continue
        f = FIELDS[path]
        if f.kind == "number":
            v = parse_number(v, kw)
        elif f.kind == "choice":
            if str(v).lower() not in f.choices:
                raise InputError(kw, repr(v), "one of " + ", ".join(f.choices))
            v = str(v).lower()
        elif f.kind == "name" and path == "model.preset":
            v = cat.model(str(v)).id
        elif f.kind == "name" and path == "hardware.gpu":
            v = cat.gpu(str(v)).id
        fields[path] = v
    for k, v in (architecture or {}).items():
        if not isinstance(k, str) or f"model.architecture.{k}" not in FIELDS or k == "gated_mlp":
            raise InputError("architecture", repr(k), "architecture fields (layers, d_model, heads, kv_heads, "
                                                      "head_dim, experts, experts_per_token, kv_latent)")
        fields[f"model.architecture.{k}"] = parse_number(v, f"architecture.{k}")
    spec = one_point(fields, cat, keyword=lambda p: KEYWORD.get(p, p.split(".", 1)[1]))
    return run_spec(spec, fields)


def run_spec(spec: Any, fields: Mapping[str, Any]) -> Served:
    """Evaluate a one-point serving spec: the Served, or the error saying why it cannot serve."""
    from costspec.errors import SpecError
    from costspec.plan import compile_spec
    from costspec.point import PointFailed, run

    try:
        row = run(compile_spec(spec, point=True))
    except PointFailed as e:
        raise ModelInputError(str(e), e.field) from None
    except SpecError as e:
        raise ModelInputError(e.format(), e.flag) from None
    if not row.get("fits"):
        raise why_not(row, fields)
    return from_row(row, spec.catalog, fields)


def why_not(row: Mapping[str, Any], fields: Mapping[str, Any]) -> ModelInputError:
    """Why a replica cannot serve (a fits-false row), naming the input to change."""
    gpu, mem = row.get("gpu"), float(row.get("gpu_memory_gb") or 0.0)
    if not row.get("serve:layout_valid"):
        return ModelInputError("tensor_parallel: the replica's layout cannot be served (a TP that does not divide "
                               "the heads or is wider than the scale-up domain, an EP that does not divide the "
                               "routed experts, or a GPU without the precision's peak)", "tensor_parallel")
    weights = row.get("weights_gb_per_gpu") or 0.0
    reserved, share = row.get("reserved_gb") or 0.0, row.get("kv_fraction") or 0.0
    if not row.get("max_batch"):
        if weights >= mem:
            return ModelInputError(
                f"tensor_parallel: the weights take {_gb(weights)} per GPU of {gpu}'s {mem:g} GB: a larger TP, smaller "
                "weights (fp8, int4), or a GPU with more memory", "tensor_parallel")
        if weights + reserved >= mem:
            return ModelInputError(
                f"reserved_gb: the weights ({_gb(weights)} per GPU) and {reserved:g} GB reserved fill {gpu}'s "
                f"{mem:g} GB, leaving nothing for KV caches", "reserved_gb")
        return ModelInputError(
            f"input_tokens: one sequence's KV cache ({_gb(row.get('kv_gb_per_sequence') or 0.0)} for the whole model "
            f"at {row.get('input_tokens')} + {row.get('output_tokens')} tokens) does not fit in the "
            f"{_gb((mem - weights - reserved) * share)} per GPU left for caches ({mem:g} GB − weights − "
            f"{reserved:g} GB reserved, × kv_fraction {share:g}): fewer tokens, an fp8 cache, or a larger TP",
            "input_tokens")
    if not row.get("serve:memory_fits"):
        return ModelInputError(
            f"batch: got {row.get('batch')}, expected at most {row.get('max_batch')} sequences: each holds "
            f"{_gb(row.get('kv_gb_per_sequence') or 0.0)} of KV cache at its full length, and the weights take "
            f"{_gb(weights)} per GPU of {mem:g} GB", "batch")
    if "serving.max_tpot_s" in fields and row.get("tpot_s") is not None and row["tpot_s"] > row["max_tpot_s"]:
        return ModelInputError(
            f"max_tpot_s: got {row['max_tpot_s']:g}, expected a bound some batch meets: "
            f"{'one sequence' if row.get('batch') == 1 else 'batch ' + str(row.get('batch'))} decodes at "
            f"{row['tpot_s'] * 1e3:.3g} ms per token on this replica (a larger TP, fp8 weights or a faster GPU "
            "lower it)", "max_tpot_s")
    ttft = row.get("ttft_s") or 0.0
    return ModelInputError(
        f"max_ttft_s: got {row.get('max_ttft_s')}, expected a bound the prefill meets: one "
        f"{row.get('input_tokens')}-token prompt takes {ttft * 1e3:.3g} ms on this replica (a larger TP or a "
        "shorter prompt lowers it)", "max_ttft_s")


def _gb(x: float) -> str:
    return f"{x:,.3g} GB" if x < 1e6 else f"{x:.4g} GB"


def from_row(row: Mapping[str, Any], cat: Catalog, fields: Mapping[str, Any]) -> Served:
    names = {f.name for f in dataclasses.fields(Served)} - {"peak_tflops", "hbm_tbps", "architecture", "sources"}
    values: dict[str, Any] = {k: row.get(k) for k in names}
    values["serving_expert_parallel"] = int(fields.get("serving.expert") or 1)  # (written when given)
    values["activations_precision"] = str(fields.get("serving.activations") or "auto")
    g = cat.gpu(str(row["gpu"]))
    w = str(row["weights_precision"])
    act = values["activations_precision"]
    gemm = act if act != "auto" else ("fp8" if w == "fp8" else "bf16")
    peak_name = "fp8" if gemm == "fp8" else ("bf16" if "bf16" in g.peak_tflops else "fp16")
    peak = g.peak_tflops[peak_name]
    sources = {"peak_tflops": f"{g.id} {peak_name} dense: {peak.cite()}"}
    if g.bandwidth_tbps is not None:
        sources["hbm_tbps"] = f"{g.id}: {g.bandwidth_tbps.cite()}"
    if g.memory_gb is not None:
        sources["gpu_memory_gb"] = f"{g.id}: {g.memory_gb.cite()}"
    preset = cat.model(str(row["model"])) if row.get("model") else None
    if preset is not None:
        sources["model"] = f"{preset.name}: {preset.source} [{preset.status}]"
    provider = fields.get("price.provider")
    if isinstance(provider, str):
        sources["usd_per_gpu_hour"] = cat.price(provider, g).cite()
    elif fields.get("price.usd_per_gpu_hour") is not None:
        sources["usd_per_gpu_hour"] = "given"
    if fields.get("serving.batch") is not None:
        sources["batch"] = "given"
    if fields.get("hardware.watts") is not None:
        sources["watts"] = "given"
    else:
        from costspec.estimator import watts_source

        src = watts_source(g, str(fields.get("hardware.power_basis") or "chip"))
        if src is not None:
            sources["watts"] = src
    arch = {a: row[f"architecture.{a}"] for a in ("layers", "d_model", "heads", "kv_heads", "head_dim", "kv_latent")
            if row.get(f"architecture.{a}") is not None}
    return Served(**values, peak_tflops=peak.value, hbm_tbps=g.bandwidth_tbps.value if g.bandwidth_tbps else 0.0,
                  architecture=arch, sources=sources)


def _at(s: Served) -> str:
    return "" if s.tp_efficiency == 1 else f" (at {s.tp_efficiency:g} of the scale-up bandwidth)"


def _ms(x: float) -> str:
    return f"{x * 1e3:.3g} ms" if x < 1 else f"{x:.3g} s"


def _usd(x: float) -> str:
    return f"${x:,.4g}" if x < 1000 else f"${x:,.0f}"


def render(s: Served) -> str:
    """The breakdown of a served model: every figure with its formula and inputs."""
    a = s.architecture
    t, pp, ep = s.serving_tensor_parallel, s.serving_pipeline_parallel, s.serving_expert_parallel
    wide = ep > t  # (wide EP: EP/TP attention groups)
    width = ep if wide else t
    layout = " · ".join([f"TP {t}"] + ([f"EP {ep}"] if ep > 1 else []) + ([f"PP {pp}"] if pp > 1 else []))
    gpus = " · ".join((["EP"] if wide else ["TP"]) + (["PP"] if pp > 1 else []))
    layers, heads = a.get("layers", 0), a.get("heads", 0)
    kv_heads = a.get("kv_heads", heads)
    head_dim = a.get("head_dim") or (a.get("d_model", 0) / heads if heads else 0)
    who = s.model or f"{format_si(s.params, 4)}-parameter model"
    on = f"{s.gpu} × {t}" if t > 1 and pp == 1 and ep == 1 else (
        s.gpu if width * pp == 1 else f"{s.gpu} × {width * pp} ({layout})")
    rows: list[tuple[str, str, str] | str] = []
    add = rows.append
    context = s.input_tokens + s.output_tokens / 2
    add("Memory per GPU")
    add(("weights", f"{s.weights_gb_per_gpu:,.2f} GB", f"{format_si(s.params, 4)} params × "
         f"{_WIDTH_TEXT[s.weights_precision]} / " + (
             (f"TP {t}" if pp == 1 else f"(TP {t} · PP {pp})") if not wide else
             f"{'(EP · PP)' if pp > 1 else 'EP'} for the routed experts, / {'(TP · PP)' if pp > 1 else 'TP'} "
             f"for the rest (in each of {ep // t} attention groups)")))
    if a.get("kv_latent"):
        add(("KV per token", f"{s.kv_bytes_per_token:,.0f} B", f"L {layers:g} · latent {a['kv_latent']:g} · "
             f"{_WIDTH_TEXT[s.kv_precision]} (MLA: one latent for all heads, on every TP rank)"))
    else:
        add(("KV per token", f"{s.kv_bytes_per_token:,.0f} B", f"2 · L {layers:g} · KV heads {kv_heads:g} · head dim "
             f"{head_dim:g} · {_WIDTH_TEXT[s.kv_precision]}" + (" (replicated once TP exceeds the KV heads)"
                                                                if t > kv_heads else "")))
    add(("KV per request", f"{s.kv_gb_per_sequence:.3g} GB", f"{s.input_tokens:,} + {s.output_tokens:,} tokens"))
    cap = f", capped at {s.batch_cap:,}" if s.batch_cap is not None else ""
    add(("max batch", f"{s.max_batch:,}", f"({s.gpu_memory_gb:g} GB − weights − {s.reserved_gb:g} GB reserved) × "
         f"{s.kv_fraction:g} / KV of a sequence at {context:,.0f} tokens (its average while decoding)"
         + (f" × {ep // t} groups" if wide else "") + cap))
    how = "given" if "batch" in s.sources else (
        f"the largest within TPOT ≤ {_ms(s.max_tpot_s)}" if s.max_tpot_s is not None and s.batch < s.max_batch
        else "the most that fit")
    add(("batch", f"{s.batch:,}", how))
    add("Latency")
    add(("TTFT", _ms(s.ttft_s), f"prefill of one prompt: (2·N_active·s + 2·L·s²·H·d_h) / (TP · {s.peak_tflops:g} "
         f"TFLOP/s × MFU {s.mfu_prefill:g}) + TP all-reduces" + _at(s)
         + (f" + two all-to-alls per layer over EP {ep}" if wide else "")))
    bound = "compute-bound" if s.compute_bound else "bandwidth-bound"
    add(("TPOT", _ms(s.tpot_s), f"{bound}: max((weights + batch · KV) / ({s.hbm_tbps:g} TB/s × MBU {s.mbu:g}), "
         f"batch · 2·N_active / ({gpus} · peak × MFU {s.mfu_decode:g})) + TP all-reduces" + _at(s) +
         ("" if not wide else f"; {ep // t} attention groups each decode batch / {ep // t}, two all-to-alls of "
                              f"the tokens' expert copies per layer over EP {ep}") +
         ("" if pp == 1 else f"; PP {pp} micro-batches through {pp} stages, {pp - 1} send{'s' if pp > 2 else ''} "
                              "between them")))
    add(("latency", _ms(s.latency_s), "TTFT + (output − 1) · TPOT"))
    crit = f"{s.critical_batch:,.0f}" if s.critical_batch is not None else "never"
    add(("critical batch", crit, "batch from which decode is compute-bound"))
    add("Throughput (one replica, continuous batching)")
    add(("output tokens/s", f"{s.output_tokens_per_s:,.0f}", "batch · output / (output · TPOT + batch · TTFT"
         + ("); " if pp == 1 and not wide else
            " / (" + " · ".join((["PP"] if pp > 1 else []) + ([f"{ep // t} groups"] if wide else [])) + ")); ") +
         f"{s.output_tokens_per_s_per_gpu:,.0f} per GPU"))
    add(("requests/s", f"{s.requests_per_s:.3g}", "output tokens/s / output tokens"))
    if s.usd_per_gpu_hour is not None and s.usd_per_m_tokens_served is not None:
        add("Price")
        add(("GPU-hour", _usd(s.usd_per_gpu_hour), s.sources.get("usd_per_gpu_hour", "")))
        add(("$/M input", _usd(s.usd_per_m_input_tokens or 0), "the replica's price over its prefill time"))
        add(("$/M output", _usd(s.usd_per_m_output_tokens or 0), "the replica's price over its decode time"))
        add(("$/M served", _usd(s.usd_per_m_tokens_served), "per million output tokens with their prompts: "
             f"price × {gpus} / 3600 / output tokens/s"))
    if s.joules_per_token is not None:
        add(("energy", f"{s.joules_per_token:.3g} J/token", f"{s.watts:g} W × {width * pp} GPU{'s' if width * pp > 1 else ''} × PUE {s.pue:g} / output "
             "tokens/s"))
    if s.replicas is not None:
        add(f"Fleet for {s.demand_tokens_per_s:,.0f} output tokens/s")
        add(("replicas", f"{s.replicas:,}", "⌈demand / output tokens/s per replica⌉"))
        add(("GPUs", f"{s.serving_gpus:,}", f"replicas × {gpus}"))
        if s.fleet_usd_per_hour is not None:
            add(("per hour", _usd(s.fleet_usd_per_hour), "GPUs × price"))
    width = max(len(r[0]) for r in rows if isinstance(r, tuple))
    vwidth = max(len(r[1]) for r in rows if isinstance(r, tuple))
    gemms = "" if s.activations_precision == "auto" else f", {s.activations_precision} activations"
    lines = [f"{who} served on {on}, {s.weights_precision} weights{gemms}, {s.kv_precision} KV cache, "
             f"{s.input_tokens:,} in / {s.output_tokens:,} out", ""]
    for r in rows:
        lines.append(r if isinstance(r, str) else f"  {r[0]:<{width}}  {r[1]:>{vwidth}}  {r[2]}")
    lines.append("Sources")
    lines.extend(f"  {k}: {v}" for k, v in s.sources.items())
    lines.append("  efficiencies: MBU, decode and prefill MFU fitted on TensorRT-LLM 0.17's published throughput "
                 "(benchmarks/calibrate_serve.py)")
    return "\n".join(lines)


_WIDTH_TEXT = {"bf16": "2 B", "fp8": "1 B", "int8": "1 B", "int4": "0.52 B (4 bits + group-128 scales)"}
assert tuple(_WIDTH_TEXT) == WIDTHS
