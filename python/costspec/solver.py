"""Solving for one unknown — tokens, parameters, GPU count or MFU — from targets such as a budget
(``cost_usd``), a deadline (``wall_clock_days``), GPU-hours, a compute amount (``model_flops``) or
energy.

Every target is an upper bound, and the answer is the best value that meets them all: the most
tokens or parameters, the fewest GPUs, the lowest MFU. It is exact, not iterative: each target is
an affine function of a transform of the unknown,

    tokens, params:  f = a + b·x          (FLOPs per token are affine in N; D multiplies)
    MFU, GPUs:       f = a + b·(1/x)      (GPU-hours ∝ 1/MFU; wall clock ∝ 1/GPUs)

so two evaluations of the cost model at trial values give a and b, the bound of each target is
t = (T − a)/b, and the answer is the smallest bound. A target with b = 0 does not depend on the
unknown: it is only checked. GPU counts are then rounded up to a whole multiple of TP·PP and raised
to the memory model's minimum. The sweep compiler (``plan.py``) emits the same steps as engine
operations, with the same trial values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

from costspec.catalog import Catalog
from costspec import scaling
from costspec.errors import CostspecError, InputError, ModelInputError
from costspec.estimator import Estimate, estimate
from costspec.spec import SOLVE_TARGETS, SOLVE_UNKNOWNS

# Unknown (estimate() keyword) -> spec field, and the spec field's short name on the command line.
UNKNOWNS = SOLVE_UNKNOWNS
RECIPROCAL = {"gpus", "mfu"}  # targets are affine in 1/x
# Trial values of the transformed unknown t (x = t, or x = 1/t): exact for affine targets.
# Values of the unknown the model is evaluated at (the GPU count's are mp and 2·mp, see _trials).
TRIALS: dict[str, tuple[float, float]] = {"tokens": (1e9, 2e9), "params": (1e9, 2e9), "mfu": (1.0, 0.5)}
# Targets: column name -> what it is called in messages.
TARGETS: dict[str, str] = dict(zip(SOLVE_TARGETS, ("budget", "deadline", "GPU-hour budget", "compute",
                                                    "energy budget")))
RTOL = 1e-9
# The range an answer must fall in (the sweep compiler clamps to it too): beyond it, no answer.
DOMAIN: dict[str, tuple[float, float]] = {"tokens": (1.0, 1e30), "params": (1.0, 1e30), "mfu": (1e-12, 1.0),
                                          "gpus": (1.0, 1e12)}


class SolveError(CostspecError):
    """No answer: the targets cannot be met, contradict each other, or do not fix the unknown.
    ``field`` names the spec field the problem is about (``solve.for`` or ``solve.<target>``)."""

    def __init__(self, message: str, field: str = "solve.for") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Solution:
    unknown: str  # "tokens", "params", "gpus" or "mfu"
    value: float
    binding: str  # the target that set the value, or "memory" when the memory minimum raised a GPU count
    estimate: Estimate
    targets: Mapping[str, float] = field(default_factory=dict)

    def describe(self) -> str:
        x = self.value
        shown = f"{x:,.0f}" if self.unknown == "gpus" else (f"{x:.4f}" if self.unknown == "mfu" else f"{x:.4g}")
        why = ("the memory minimum (fewer GPUs would meet the targets but not hold the model)"
               if self.binding == "memory" else f"the {TARGETS[self.binding]} ({self.binding} ≤ "
                                                  f"{self.targets[self.binding]:.6g})")
        return f"solved {UNKNOWNS[self.unknown]} = {shown}, set by {why}"


def _model_parallel(kw: Mapping[str, Any]) -> float:
    """TP·PP: GPU counts are whole multiples of it."""
    return float(kw.get("tensor_parallel") or 1) * float(kw.get("pipeline_parallel") or 1)


def _trials(unknown: str, kw: Mapping[str, Any]) -> tuple[float, float]:
    """The two values of the unknown the cost model is evaluated at (whole GPU counts exactly:
    mp and 2·mp, not 1/(1/mp))."""
    if unknown == "gpus":
        mp = _model_parallel(kw)
        return mp, 2.0 * mp
    return TRIALS[unknown]


def _value(unknown: str, t: float) -> float:
    return 1.0 / t if unknown in RECIPROCAL else t


def solve(unknown: str, targets: Mapping[str, float | int | str], **kw: Any) -> Solution:
    """Solve for ``unknown`` ("tokens", "params", "gpus" or "mfu") so that every target
    (``cost_usd``, ``wall_clock_days``, ``gpu_hours``, ``model_flops``, ``energy_kwh``: upper bounds)
    is met; ``kw`` are the other inputs of :func:`costspec.estimate`. Raises :class:`SolveError`."""
    from costspec.units import parse_number

    if not isinstance(unknown, str) or unknown not in UNKNOWNS:
        raise InputError("solve", repr(unknown), "one of " + ", ".join(UNKNOWNS))
    if not isinstance(targets, Mapping):
        raise InputError("targets", type(targets).__name__, "a mapping of target columns to upper bounds, e.g. "
                                                           "{'cost_usd': 1e6}")
    if not targets:
        raise SolveError("nothing to solve for: give a target (a budget, deadline, GPU-hours, compute or energy)")
    bounds = {}
    for name, v in targets.items():
        if name not in TARGETS:
            raise InputError(f"solve.{name}", name, "one of " + ", ".join(TARGETS))
        bounds[name] = parse_number(v, f"solve.{name}")
        if not bounds[name] > 0:
            raise InputError(f"solve.{name}", v, "a number > 0")
    if kw.get(unknown) is not None or (unknown == "tokens" and kw.get("dataset_tokens") is not None):
        raise SolveError(f"{UNKNOWNS[unknown]} is both given and solved for; drop one")
    if unknown == "mfu":
        given = [k for k in ("gpu_hours", "wall_clock_days") if kw.get(k) is not None]
        if given:
            raise SolveError(f"solving for the MFU leaves the duration to the targets; drop {given[0]}")
    elif unknown == "gpus" and kw.get("wall_clock_days") is not None:
        raise SolveError("a published wall clock with an unknown GPU count fixes nothing; give mfu instead")
    if unknown == "params" and kw.get("active_params") is not None:
        raise SolveError("solving for params needs a dense model (active_params = params); drop active_params")

    v1, v2 = _trials(unknown, kw)
    t1, t2 = _value(unknown, v1), _value(unknown, v2)  # the variable the targets are affine in
    try:
        e1 = estimate(**{**kw, unknown: v1})
        e2 = estimate(**{**kw, unknown: v2})
    except InputError as e:
        if e.field == "mfu" and unknown != "mfu":
            raise SolveError("give hardware.mfu (or gpu_hours / wall_clock_days) to solve for "
                             f"{UNKNOWNS[unknown]}") from None
        raise
    if unknown == "params" and e1.model is not None:  # (a params override makes e1 dense: ask the preset)
        preset = (kw.get("catalog") or Catalog.builtin()).model(e1.model)
        if preset.active_params and preset.active_params != preset.params:
            raise SolveError(f"solving for params needs a dense model; {e1.model} is a mixture of experts")

    limits: list[tuple[float, str]] = []
    fixed: list[tuple[str, float]] = []
    for name, target in bounds.items():
        f1, f2 = getattr(e1, name), getattr(e2, name)
        if f1 is None:
            need = {"cost_usd": "a price (usd_per_gpu_hour or provider)", "wall_clock_days": "a GPU count",
                    "energy_kwh": "power (watts)"}[name]
            raise SolveError(f"the {TARGETS[name]} target needs {need}", f"solve.{name}")
        b = (f2 - f1) / (t2 - t1)
        if b == 0.0 or abs(f2 - f1) <= 1e-12 * abs(f1):
            fixed.append((name, f1))
        else:
            limits.append(((target - (f1 - b * t1)) / b, name))
    if not limits:
        hint = "use the 6nd or palm convention" if "megatron" in _why_fixed(unknown, e1) else _HINT[unknown]
        raise SolveError(f"no unique answer: none of the targets ({', '.join(bounds)}) depends on "
                         f"{UNKNOWNS[unknown]} ({_why_fixed(unknown, e1)}; {hint})")
    for name, f in fixed:
        if f > bounds[name] * (1 + RTOL):
            raise SolveError(
                f"contradictory targets: {name} is {f:.6g} whatever {UNKNOWNS[unknown]} is "
                f"({_why_fixed(unknown, e1, name)}), "
                f"above the {TARGETS[name]} {bounds[name]:.6g}", f"solve.{name}")
    t, binding = min(limits)
    if not t > 0:
        raise SolveError(f"impossible: the {TARGETS[binding]} {bounds[binding]:.6g} is below what the run "
                         f"costs with no {UNKNOWNS[unknown].split('.')[-1]} at all", f"solve.{binding}")
    x = _value(unknown, t)
    lo, hi = DOMAIN[unknown]  # (the sweep compiler clamps to the same range, then checks the targets)
    if unknown != "mfu" and not x <= hi:
        raise SolveError(f"impossible: the {TARGETS[binding]} {bounds[binding]:.6g} gives {unknown} = {x:.3g}, "
                         f"beyond the {hi:g} costspec evaluates", f"solve.{binding}")
    if unknown in ("tokens", "params") and not x >= lo:
        raise SolveError(f"impossible: the {TARGETS[binding]} {bounds[binding]:.6g} allows {unknown} = {x:.3g}, "
                         f"less than {lo:g}", f"solve.{binding}")
    if unknown == "mfu" and x < lo:
        x = lo  # any MFU meets the targets: the lowest costspec evaluates
    if unknown == "mfu" and x > 1 + RTOL:
        needs = f"MFU {x:.3g} > 1" if math.isfinite(x) else "an MFU beyond any finite value"
        raise SolveError(f"impossible: meeting the {TARGETS[binding]} needs {needs} (a higher "
                         "peak, more GPUs or a looser target)", f"solve.{binding}")
    if unknown == "mfu":
        x = min(x, 1.0)  # within rounding of 1: the cost model takes no more than 1
    if unknown == "gpus":
        mp = _model_parallel(kw)
        x = math.ceil(x / mp * (1 - 1e-12)) * mp
        mem = e1  # memory minimum does not depend on the count
        if mem.min_gpus is None and mem.gpu_memory_gb is not None:
            raise SolveError(f"impossible: the model does not fit in {mem.gpu} memory at any GPU count "
                             f"(what cannot be sharded needs {_unshardable_gb(mem):.1f} GB per GPU, "
                             f"the {mem.gpu} has {mem.gpu_memory_gb:g} GB): more tensor/pipeline "
                             "parallelism or a higher ZeRO stage", "solve.for")
        if mem.min_gpus is not None and mem.min_gpus > x:
            x, binding = mem.min_gpus, "memory"
    try:
        final = estimate(**{**kw, unknown: x})
    except (InputError, ModelInputError) as e:  # the answer takes an output past the float range
        if e.field != unknown:
            raise
        raise SolveError(f"impossible: the {TARGETS[binding]} {bounds[binding]:.6g} gives {unknown} = {x:.6g}, at "
                         f"which the run cannot be evaluated ({e})", f"solve.{binding}") from None
    for name, target in bounds.items():  # the answer meets every target (rounding only helps)
        got = getattr(final, name)
        assert got is not None and got <= target * (1 + 1e-6), (name, got, target)
    return Solution(unknown, x, binding, final, bounds)


def budget_flops(budget_usd: float, **kw: Any) -> tuple[float, Estimate]:
    """The model FLOPs a dollar budget buys at the GPU, MFU and price of ``kw`` (the inputs of
    :func:`costspec.estimate`, without params and tokens), and the run that priced it."""
    probe = estimate(**{**kw, "params": 1e9, "tokens": 1e9})
    if not (probe.usd_per_gpu_hour or 0.0) > 0:
        raise InputError("usd_per_gpu_hour", probe.usd_per_gpu_hour,
                         "a price > 0 (a dollar budget buys nothing at a price of 0)")
    assert probe.usd_per_gpu_hour is not None
    flops = scaling.flops_for_budget(budget_usd, probe.usd_per_gpu_hour, probe.peak_tflops, probe.mfu)
    if not math.isfinite(flops):
        raise InputError("budget_usd", f"{budget_usd:g}", f"a budget that buys at most 1.8e308 FLOPs (at "
                         f"${probe.usd_per_gpu_hour:g}/GPU-hour it buys more)")
    return flops, probe


def _unshardable_gb(e: Estimate) -> float:
    parts = {"weights_gb": 3, "gradients_gb": 2, "optimizer_gb": 1}
    fixed = sum(getattr(e, k) for k, stage in parts.items() if e.zero < stage)
    return float(fixed + (e.activations_gb or 0.0))


def _why_fixed(unknown: str, e: Estimate, target: str | None = None) -> str:
    """Why a target does not depend on the unknown."""
    if unknown == "gpus":
        return "GPU-hours, cost and energy are fixed by the FLOPs and the MFU"
    if unknown == "mfu":
        return "the FLOPs do not depend on the MFU"
    if e.given != "mfu" and target != "model_flops":
        return f"{e.given} is given, which fixes the GPU-hours"
    if unknown == "params" and e.convention == "megatron":
        return "under the megatron convention the FLOPs come from the architecture, not params"
    return "it does not depend on it"


_HINT = {"gpus": "only the wall clock depends on the GPU count: give a deadline",
         "mfu": "give a budget, deadline or GPU-hours", "tokens": "give mfu instead of a fixed duration",
         "params": "give mfu instead of a fixed duration"}
