"""Human-readable breakdown of an estimate: every figure with the formula and inputs behind it."""

from __future__ import annotations

import math
from typing import Any

from costspec.estimator import Estimate
from costspec.units import format_si


HUGE = 1e15  # figures past it are shown with 4 significant digits, not as 16+-digit integers


def _money(x: float) -> str:
    if x >= HUGE:
        return f"${x:.4g}"
    return f"${x:,.0f}" if x >= 100 else f"${x:,.2f}"


def _gb(x: float) -> str:
    return f"{x:.4g} GB" if x >= HUGE else f"{x:,.2f} GB"


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _int(x: float) -> str:
    return f"{x:.4g}" if x >= HUGE else f"{x:,.0f}"


def _hours(x: float) -> str:
    if x >= HUGE:
        return f"{x:.4g}"
    return f"{x:,.0f}" if x >= 100 else f"{x:.3g}"


def _model_flops_formula(e: Estimate) -> str:
    a = e.architecture
    lora = e.mode == "lora"
    base = "4·N + 6·N_lora" if lora else "6·N"
    n = f"N={format_si(e.active_params, 5)}" + (f", N_lora={format_si(e.trainable_params, 3)}" if lora else "")
    d = f"D={format_si(e.tokens, 4)}"
    if e.convention == "6nd":
        return f"({base})·D  [6nd: {n}, {d}]"
    if e.convention == "palm":
        q = a.get("head_dim") or (float(a["d_model"]) / float(a["heads"]))
        shape = f"L={_int(float(a['layers']))}, H={_int(float(a['heads']))}, Q={_int(float(q))}, T={_int(float(a['seq_len']))}"
        return f"({base} + 12·L·H·Q·T)·D  [palm, Chowdhery et al. 2022 App. B: {n}, {shape}, {d}]"
    mult = "(2·(matmuls + logits) + 3·attention + 6·N_lora)" if lora else "3·(matmuls + logits + attention)"
    return f"{mult} forward FLOPs per token × D  [megatron, Narayanan et al. 2021: {d}]"


def _hardware_formula(e: Estimate) -> str:
    return {
        "none": "= model FLOPs (no activation recomputation)",
        "selective": "model FLOPs + attention-core forward 4·L·H·Q·T·D (selective recomputation)",
        "full": "model FLOPs + one more forward pass (full recomputation: 6·N·D becomes 8·N·D)",
    }.get(e.recompute or "none", "")


def _goodput(e: Estimate, add: Any) -> None:
    """The effective training time ratio: given, or Daly's model on the GPU count."""
    if e.checkpoint_interval_min is None or e.gpus is None:
        add(("ETTR", _pct(e.ettr or 1), "given (effective training time ratio)"))
        return
    n = e.interruptions
    add(("ETTR", _pct(e.ettr or 1), f"Daly 2006 on {_int(e.gpus)} GPUs: about {n or 0:,.0f} interruptions, a "
         f"checkpoint every {e.checkpoint_interval_min:.3g} min (see --gpu-mtbf-hours, --restart-minutes)"))


def _seconds(x: float) -> str:
    return f"{x:.4g} s" if x >= 0.01 or x == 0 else f"{x * 1e3:.3g} ms"


def _step(e: Estimate, add: Any) -> None:
    """The step-time model's breakdown (rust/model/step.rs)."""
    seq = e.architecture.get("seq_len") or 2048
    dp = _int(e.data_parallel or 0)
    cp = f" · CP {e.context_parallel}" if e.context_parallel > 1 else ""
    v = f" (interleaved ×{e.interleave})" if e.interleave > 1 else ""
    add(f"Step (TP {e.tensor_parallel} · PP {e.pipeline_parallel}{v}{cp} · DP {dp}; "
        f"{_int(e.global_batch_tokens or 0)} tokens = {dp} DP × {_int(e.grad_accum or 0)} micro-batches × "
        f"{e.micro_batch} × {_int(float(seq))})")
    step = e.step_time_s or 0.0
    add(("step time", _seconds(step), "(m + (PP−1)/v) micro-batch slots + exposed DP + optimizer"))
    add(("tokens/s", f"{_int(e.tokens_per_s or 0)}", "global batch / step time"))
    parts = (("compute", e.compute_s, "matmuls at the GEMM efficiency (fitted on Megatron-LM Table 1)"),
             ("element-wise", e.memory_bound_s, "norms, activations, dropouts (and eager scores) at HBM bandwidth"),
             ("TP comm", e.tp_comm_s, "ring all-reduces of b·s·h per layer on the scale-up link"),
             ("EP comm", e.ep_comm_s, "MoE all-to-alls"), ("CP comm", e.cp_comm_s, "ring attention K,V not hidden"),
             ("PP sends", e.pp_comm_s, "stage-boundary activations and gradients"),
             ("DP comm", e.dp_comm_s, "gradient reduce-scatter + weight all-gather, exposed"),
             ("optimizer", e.optimizer_s, "update at HBM bandwidth"),
             ("bubble", e.bubble_s, f"(PP−1)/v idle slots: {_pct(e.bubble_fraction or 0)} of the step"))
    for name, x, why in parts:
        if x:
            add((name, _seconds(x), f"{_pct(x / step)}: {why}" if step else why))


def render(e: Estimate) -> str:
    rows: list[tuple[str, str, str] | str] = []
    add = rows.append
    who = f"{e.model}" if e.model else f"{format_si(e.params, 4)}-parameter model"
    gpus = f" × {_int(e.gpus)}" if e.gpus else ""
    on = f" on {e.gpu}{gpus}" if e.gpu else ""
    title = f"{who}, {e.mode}, {format_si(e.tokens, 4)} tokens{on} at {e.precision}"
    # What more the time and the cost need (when the inputs stop at FLOPs and memory).
    missing = ("give --gpu and one of --mfu, --gpu-hours, --wall-clock-days" if e.gpu is None
               else "give one of --mfu, --gpu-hours, --wall-clock-days")

    add("Compute")
    add(("model FLOPs", f"{e.model_flops:.4g}", _model_flops_formula(e)))
    add(("hardware FLOPs", f"{e.hardware_flops:.4g}", _hardware_formula(e)))
    if e.peak_tflops is not None:
        add(("peak", f"{e.peak_tflops:g} TFLOP/s", f"{e.gpu} dense {e.precision} peak per GPU"))
    if e.mfu is None or e.hfu is None or e.gpu_hours is None or e.peak_tflops is None:
        add(("GPU-hours", "-", missing))
        add(("wall clock", "-", missing + (", and --gpus" if e.gpus is None else "")))
    else:
        peak = f"{e.peak_tflops:g}e12 FLOP/s"
        lost = e.ettr is not None and e.ettr < 1
        if e.given in ("mfu", "solve", "predicted"):
            add(("MFU", _pct(e.mfu), {"mfu": "given", "solve": "solved: the targets set it",
                                      "predicted": "predicted from the layout (Step below)"}[e.given]))
            if e.ettr is not None:
                _goodput(e, add)
            add(("GPU-hours", _hours(e.gpu_hours), f"model FLOPs / ({peak} × {e.mfu:.4g}) / 3600"
                 + (f" / ETTR {e.ettr:.4g}" if lost else "")))
        else:
            if e.given == "gpu_hours":
                add(("GPU-hours", _hours(e.gpu_hours), "given"))
            else:
                add(("GPU-hours", _hours(e.gpu_hours), f"{e.wall_clock_days:g} days × 24 × {_int(e.gpus or 0)} GPUs"))
            average = e.mfu_average if e.mfu_average is not None else e.mfu
            add(("MFU" + (" (average)" if lost else ""), _pct(average),
                 f"implied: model FLOPs / ({format_si(e.gpu_hours)} GPU-h × 3600 × {peak})"))
            if e.ettr is not None:
                _goodput(e, add)
            if lost:
                add(("MFU (steps)", _pct(e.mfu), "the average / ETTR: the rate of the training steps"))
        add(("HFU", _pct(e.hfu), "MFU × hardware FLOPs / model FLOPs"))
        if e.wall_clock_days is not None and e.given != "wall_clock_days":
            days = e.wall_clock_days
            shown = f"{days:.4g} days" if days >= HUGE else (f"{days:,.1f} days" if days >= 2 else f"{days * 24:.3g} hours")
            add(("wall clock", shown, f"GPU-hours / {_int(e.gpus or 0)} GPUs" + (" / 24" if days >= 2 else "")))
        elif e.wall_clock_days is None:
            add(("wall clock", "-", "give --gpus"))

    if e.step_time_s is not None:
        _step(e, add)
    add("Cost and energy")
    if e.gpu_hours is None:
        add(("cost", "-", missing + ("" if e.usd_per_gpu_hour is not None else ", and a price")))
        add(("energy", "-", missing))
    else:
        if e.cost_usd is not None and e.usd_per_gpu_hour is not None:
            add(("cost", _money(e.cost_usd), f"GPU-hours × ${e.usd_per_gpu_hour:g}/GPU-hour"))
        else:
            add(("cost", "-", "give --price USD_PER_GPU_HOUR or --provider NAME"))
        if e.energy_kwh is not None and e.watts is not None:
            basis = {"system": " (system, per chip)", "chip": " (TDP)"}.get(e.power_basis or "", "")
            add(("energy", f"{format_si(e.energy_kwh)} kWh",
                 f"GPU-hours × {e.watts:g} W{basis} × PUE {e.pue:g} / 1000"))
        else:
            add(("energy", "-", f"{e.gpu} has no {'TDP' if e.power_basis != 'system' else 'system power'} in the "
                 "catalog: give --watts"))
        if e.co2e_kg is not None:
            t = e.co2e_kg / 1000
            add(("CO2e", f"{t:.4g} t" if t >= HUGE else f"{t:,.2f} t", f"energy × {e.grid_kg_co2e_per_kwh:g} kg CO2e/kWh"))
        elif e.energy_kwh is None:
            add(("CO2e", "-", "needs the energy: give --watts"))
        else:
            add(("CO2e", "-", "give --grid-kg-per-kwh (e.g. 0.385, the US average Meta's model cards use)"))

    dp = f"{_int(e.data_parallel)}-way" if e.data_parallel else "1-way (no --gpus)"
    over = f"{dp} data parallel"
    if e.context_parallel > 1:  # (ZeRO shards over data × context parallel)
        over = f"{dp} data × {_int(e.context_parallel)}-way context parallel"
    add(
        f"Memory per GPU (ZeRO-{e.zero} over {over}, TP {e.tensor_parallel}"
        f"{'' if e.tensor_parallel == 1 else (' with SP' if e.sequence_parallel else ' without SP')}, PP {e.pipeline_parallel}"
        f"{f', CP {e.context_parallel}' if e.context_parallel > 1 else ''}"
        f"{f', EP {e.expert_parallel}' if e.expert_parallel > 1 else ''}, "
        f"micro-batch {e.micro_batch}, {e.optimizer})"
    )
    base = {"nf4": "NF4 base (4.127 bits/param, QLoRA) + adapters, ", "int8": "int8 base + adapters, ",
            "bf16": "16-bit base + adapters, "}.get(e.base_weights or "", "") if e.mode == "lora" else ""
    ep = f" (routed experts by EP {e.expert_parallel} too)" if e.expert_parallel > 1 and e.zero < 3 else ""
    add(("weights", _gb(e.weights_gb), base + "sharded by TP·PP" + ep + (" and DP (ZeRO-3)" if e.zero >= 3 else "")))
    add(("gradients", _gb(e.gradients_gb), "trainable params" + (", sharded by DP (ZeRO-2+)" if e.zero >= 2 else "")))
    add(("optimizer", _gb(e.optimizer_gb), f"{e.optimizer} states" + (", sharded by DP (ZeRO-1+)" if e.zero >= 1 else "")
         + (", paged: moved to the host under pressure, not in the total" if e.paged_optimizer else "")))
    if e.activations_gb is not None:
        how = f"{e.attention} attention, recompute {e.recompute}"
        adapters = e.mode == "lora" and e.lora_dropout
        how += {(True, False): "", (False, False): ", no dropout", (True, True): ", adapter dropout",
                (False, True): ", dropout on the adapters only"}[(e.dropout, adapters)]
        if e.precision == "fp8":
            how += ", FP8 linear inputs"
        if e.interleave > 1 and e.pipeline_parallel > 1:
            how += f", {e.interleave} interleaved stages"
        if e.memory_basis == "rule":
            layers = (e.params / (12 * 128 * 128)) ** (1 / 3)
            seq = e.architecture.get("seq_len") or 2048
            add(("activations", _gb(e.activations_gb), f"no architecture given: the shape rule N = 12·L·h², "
                 f"h = 128·L (L ≈ {layers:.4g}, h ≈ {_int(128 * layers)}, seq {_int(float(seq))}), {how}"))
        else:
            add(("activations", _gb(e.activations_gb), f"Korthikanti et al. 2022's tensors per layer, {how}"))
    else:
        add(("activations", "-", "not modelled: needs layers, d_model, heads, seq_len (--model or --arch)"))
    if e.logits == "chunked":
        add(("logits", _gb(e.logits_gb), "a chunked loss never materialises them"))
    else:
        vocab = e.architecture.get("vocab")
        v = f"V = {_int(float(vocab))}" if vocab else "V = 32,000 (no vocab given)"
        div = "TP·CP" if e.context_parallel > 1 else "TP"
        add(("logits", _gb(e.logits_gb), f"fp32 logits of one micro-batch, 4·s·b·V/{div} ({v}), on the last "
             "pipeline stage" + (" (the first stage's activations are more)" if e.pipeline_parallel > 1 else "")))
    add(("overhead", _gb(e.overhead_gb), f"framework {e.framework_gb:g} GB (CUDA context, driver reserve) + "
         f"{e.allocator_share:g} × activations and logits (transient buffers, allocator cache)"))
    unit = "TP·PP" if e.context_parallel == 1 and e.expert_parallel == 1 else "TP·PP·lcm(CP, EP)"  # (of a GPU count)
    if e.gpu is None:
        verdict = "give --gpu to see whether it fits"
    elif e.gpu_memory_gb is None:
        verdict = "GPU memory unknown"
    else:
        smallest = e.tensor_parallel * e.pipeline_parallel * math.lcm(e.context_parallel, e.expert_parallel)
        on = "" if e.gpus else f" on {_int(smallest)} GPU" + (f"s ({unit}, no --gpus)" if smallest > 1 else " (no --gpus)")
        verdict = f"of {e.gpu_memory_gb:g} GB: {'fits' if e.fits else 'does not fit'}{on}"
    add(("total", _gb(e.memory_gb_per_gpu), verdict))
    if e.min_gpus is not None:
        add(("min GPUs", _int(e.min_gpus), f"smallest GPU count (a multiple of {unit}) whose memory holds this"))
    elif e.gpu_memory_gb is not None:
        tips = [t for t, ok in (("--recompute full", e.recompute != "full"), ("--zero 3", e.zero < 3)) if ok]
        add(("min GPUs", "none", "what is not sharded over data parallelism exceeds one GPU: try " + ", ".join(tips + ["--tp", "--pp"])))

    width = max(len(r[0]) for r in rows if isinstance(r, tuple))
    vwidth = max(len(r[1]) for r in rows if isinstance(r, tuple))
    lines = [title, ""]
    for r in rows:
        if isinstance(r, str):
            lines.append(r)
        else:
            lines.append(f"  {r[0]:<{width}}  {r[1]:>{vwidth}}  {r[2]}")
    if e.sources:
        lines.append("Sources")
        lines.extend(f"  {k}: {v}" for k, v in e.sources.items())
    return "\n".join(lines)
