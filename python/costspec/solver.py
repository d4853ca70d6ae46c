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

from costspec import scaling
from costspec.errors import CostspecError, InputError, ModelInputError
from costspec.estimator import Estimate, Provenance, estimate, from_row, inputs, one_point
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
    binding: str  # the target that set the value; for a GPU count "memory" when the memory minimum raised
    # it, "layout" when the targets allow fewer than one copy of the layout (TP·PP·CP·EP GPUs)
    estimate: Estimate
    targets: Mapping[str, float] = field(default_factory=dict)

    def describe(self) -> str:
        x = self.value
        shown = f"{x:,.0f}" if self.unknown == "gpus" else (f"{x:.4f}" if self.unknown == "mfu" else f"{x:.4g}")
        if self.binding == "memory":
            why = "the memory minimum (fewer GPUs would meet the targets but not hold the model)"
        elif self.binding == "layout":
            why = "the smallest layout (TP·PP·CP·EP GPUs: the targets would allow fewer)"
        else:
            why = f"the {TARGETS[self.binding]} ({self.binding} ≤ {self.targets[self.binding]:.6g})"
        return f"solved {UNKNOWNS[self.unknown]} = {shown}, set by {why}"


def _model_parallel(kw: Mapping[str, Any]) -> float:
    """TP·PP·lcm(CP, EP): GPU counts are whole multiples of it."""
    for k in ("tensor_parallel", "pipeline_parallel", "context_parallel", "expert_parallel"):
        if isinstance(kw.get(k), (list, tuple, range)):
            raise InputError(k, "a list", "one value: a solve keeps one layout (a list of allowed values is for "
                             "layout auto, which a solve cannot use)")
    return float(kw.get("tensor_parallel") or 1) * float(kw.get("pipeline_parallel") or 1) * \
        math.lcm(int(float(kw.get("context_parallel") or 1)), int(float(kw.get("expert_parallel") or 1)))


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

    timed = kw.get("gpu") is not None and (unknown == "mfu" or any(
        kw.get(k) is not None for k in ("mfu", "gpu_hours", "wall_clock_days")))
    for name in bounds:
        if name != "model_flops" and not timed:
            raise SolveError(f"{'an' if TARGETS[name][0] in 'aeiou' else 'a'} {TARGETS[name]} needs the run's duration: give gpu and one of mfu, gpu_hours, "
                             "wall_clock_days" + ("" if unknown in ("gpus", "mfu") else " (or solve for mfu)"),
                             f"solve.{name}")
    duration = next((k for k in ("gpu_hours", "wall_clock_days") if kw.get(k) is not None), "mfu")
    convention = str(kw.get("convention") or "6nd").lower()
    if not any(moves(unknown, t, duration, convention) for t in bounds):
        why = _why_fixed(unknown, duration, convention)
        hint = "use the 6nd or palm convention" if "megatron" in why else _HINT[unknown]
        raise SolveError(f"no unique answer: none of the targets ({', '.join(bounds)}) depends on "
                         f"{UNKNOWNS[unknown]} ({why}; {hint})")
    v1, _ = _trials(unknown, kw)
    # the inputs checked at a trial value of the unknown, which the spec then leaves to solve.for
    checked = inputs(**{**kw, unknown: v1})
    preset = checked.fields.get("model.preset")
    if unknown == "params" and preset is not None:
        m = checked.catalog.model(str(preset))
        if m.active_params and m.active_params != m.params:
            raise SolveError(f"solving for params needs a dense model; {preset} is a mixture of experts")
    fields = {**checked.fields, UNKNOWNS[unknown]: None}
    try:  # (the rules of a spec's solve: section, naming the target they are about)
        spec = one_point(fields, checked.catalog, {"for": UNKNOWNS[unknown], **bounds})
    except ModelInputError as e:
        if e.field and e.field.startswith("solve."):
            raise SolveError(str(e).removeprefix(f"{e.field}: "), e.field) from None
        raise
    p = checked.provenance
    provenance = Provenance("solve" if unknown == "mfu" else p.given, p.architecture, p.sources)
    from costspec.point import PointFailed

    try:
        row = point_row(spec)
    except PointFailed as e:
        if e.field == unknown:  # the answer takes an output past the float range
            raise SolveError(f"impossible: the targets give {unknown} at which the run cannot be evaluated ({e})",
                             "solve.for") from None
        raise ModelInputError(str(e), e.field) from None
    result = from_row(row, provenance)
    if not all(row[k] for k in row if k.startswith("check[")) or row.get(SOLVED_COLUMN[unknown]) is None:
        raise explain(unknown, bounds, row, result)
    return solution(unknown, bounds, row, result)


def moves(unknown: str, target: str, duration: str = "mfu", convention: str = "6nd") -> bool:
    """Whether ``target`` moves with ``unknown`` (the affine forms above), the run's duration given
    by ``duration`` (mfu, gpu_hours or wall_clock_days): decided before anything is evaluated, for
    the spec checks and the API alike."""
    timed = duration == "mfu" or unknown == "mfu"
    if target == "model_flops":
        return unknown == "tokens" or (unknown == "params" and convention != "megatron")
    if target == "wall_clock_days":
        return timed or (duration == "gpu_hours" and unknown == "gpus")
    return timed and unknown != "gpus"


# The column holding each unknown's answer.
SOLVED_COLUMN = {"tokens": "tokens", "params": "params", "gpus": "gpus", "mfu": "mfu"}
_NEEDS = {"cost_usd": "a price (usd_per_gpu_hour or provider)", "wall_clock_days": "a GPU count",
          "energy_kwh": "power (watts)", "gpu_hours": "a duration", "model_flops": "a model"}


def point_row(spec: Any) -> dict[str, Any]:
    """The one-point row of a solving spec (point.run), compile errors as ModelInputError."""
    from costspec.errors import SpecError
    from costspec.plan import compile_spec
    from costspec.point import run

    try:
        plan = compile_spec(spec, point=True)
    except SpecError as e:
        raise ModelInputError(f"{e.flag}: {e.message}" if e.flag else e.message, e.flag) from None
    return run(plan)


def _limits(unknown: str, bounds: Mapping[str, float], row: Mapping[str, Any]
            ) -> tuple[list[tuple[float, str]], list[tuple[str, float]]]:
    """The engine's affine bounds (plan.py, solve): (bound of t, target) for each target that
    moves with the unknown, and (target, its value) for each that does not."""
    limits: list[tuple[float, str]] = []
    fixed: list[tuple[str, float]] = []
    for name in bounds:
        f1 = row.get(f"trial:{name}")
        if f1 is None:
            raise SolveError(f"the {TARGETS[name]} target needs {_NEEDS[name]}", f"solve.{name}")
        t = row.get(f"bound:{name}")
        if row.get(f"slope:{name}") == 0.0:
            fixed.append((name, f1))
        else:  # (a bound past the float range is +inf: beyond any domain)
            limits.append((math.inf if t is None else t, name))
    return limits, fixed


def solution(unknown: str, bounds: Mapping[str, float], row: Mapping[str, Any], result: Estimate) -> Solution:
    """The engine's answer, and the target that set it (or the memory minimum, for a GPU count)."""
    limits, _ = _limits(unknown, bounds, row)
    x = float(row[SOLVED_COLUMN[unknown]])
    binding = min(limits)[1] if limits else next(iter(bounds))
    if unknown == "gpus" and row.get("unrounded") is not None:
        mp = _model_parallel(row)  # (the row's columns are the keywords)
        rounded = max(math.ceil(float(row["unrounded"]) / mp * (1 - 1e-12)) * mp, mp)
        if x > rounded:
            binding = "memory"
        elif x == mp and float(row["unrounded"]) < mp * (1 - 1e-9):
            binding = "layout"  # (the targets allow fewer GPUs than one copy of the layout)
    return Solution(unknown, x, binding, result, dict(bounds))


def explain(unknown: str, bounds: Mapping[str, float], row: Mapping[str, Any], e1: Estimate) -> SolveError:
    """Why the engine found no answer, from its own numbers: the targets' bounds and values."""
    limits, fixed = _limits(unknown, bounds, row)
    if not limits:
        why = _why_fixed(unknown, e1.given, e1.convention)
        hint = "use the 6nd or palm convention" if "megatron" in why else _HINT[unknown]
        return SolveError(f"no unique answer: none of the targets ({', '.join(bounds)}) depends on "
                          f"{UNKNOWNS[unknown]} ({why}; {hint})")
    for name, f in fixed:
        if f > bounds[name] * (1 + RTOL):
            return SolveError(
                f"contradictory targets: {name} is {f:.6g} whatever {UNKNOWNS[unknown]} is "
                f"({_why_fixed(unknown, e1.given, e1.convention, name)}), "
                f"above the {TARGETS[name]} {bounds[name]:.6g}", f"solve.{name}")
    t, binding = min(limits)
    if not t > 0:
        return SolveError(f"impossible: the {TARGETS[binding]} {bounds[binding]:.6g} is below what the run "
                          f"costs with no {UNKNOWNS[unknown].split('.')[-1]} at all", f"solve.{binding}")
    x = _value(unknown, t)
    lo, hi = DOMAIN[unknown]  # (the compiler clamps to the same range, then checks the targets)
    if unknown != "mfu" and not x <= hi:
        shown = f"{x:.3g}" if math.isfinite(x) else "a value beyond the float range"
        return SolveError(f"impossible: the {TARGETS[binding]} {bounds[binding]:.6g} gives {unknown} = {shown}, "
                          f"beyond the {hi:g} costspec evaluates", f"solve.{binding}")
    if unknown in ("tokens", "params") and not x >= lo:
        return SolveError(f"impossible: the {TARGETS[binding]} {bounds[binding]:.6g} allows {unknown} = {x:.3g}, "
                          f"less than {lo:g}", f"solve.{binding}")
    if unknown == "mfu" and x > 1 + RTOL:
        needs = f"MFU {x:.3g} > 1" if math.isfinite(x) else "an MFU beyond any finite value"
        return SolveError(f"impossible: meeting the {TARGETS[binding]} needs {needs} (a higher "
                          "peak, more GPUs or a looser target)", f"solve.{binding}")
    if unknown == "gpus" and e1.min_gpus is None and e1.gpu_memory_gb is not None:
        need = float(row.get("unshardable_bytes") or 0.0) / 1e9
        act = (e1.activations_gb or 0.0) + e1.logits_gb
        tips = ["more tensor/pipeline parallelism"] + (["a higher ZeRO stage"] if e1.zero < 3 else [])
        if act > need / 2:  # (mostly activations: what shrinks them first)
            tips = [t for t, ok in (("full recomputation", e1.recompute != "full"), ("context parallelism", True),
                                    ("a chunked loss", e1.logits == "full" and e1.logits_gb > act / 4)) if ok] + tips
        return SolveError(f"impossible: the model does not fit in {e1.gpu} memory at any GPU count "
                          f"(what cannot be sharded needs {need:.1f} GB per GPU, "
                          f"the {e1.gpu} has {e1.gpu_memory_gb:g} GB): " + ", ".join(tips[:-1]) +
                          (" or " if len(tips) > 1 else "") + tips[-1], "solve.for")
    missed = [n for n in bounds if (row.get(n) or 0.0) > bounds[n] * (1 + 1e-9)]
    return SolveError(f"no answer: at {unknown} = {x:.6g} the run misses "
                      f"{', '.join(missed) or 'a target'} (rounding to what the model can evaluate)", "solve.for")


def _why_fixed(unknown: str, given: str | None, convention: str, target: str | None = None) -> str:
    """Why a target does not depend on the unknown (``given``: what pinned the duration)."""
    if unknown == "gpus":
        return "GPU-hours, cost and energy are fixed by the FLOPs and the MFU"
    if unknown == "mfu":
        return "the FLOPs do not depend on the MFU"
    if given not in (None, "mfu") and target != "model_flops":
        return f"{given} is given, which fixes the GPU-hours"
    if unknown == "params" and convention == "megatron":
        return "under the megatron convention the FLOPs come from the architecture, not params"
    return "it does not depend on it"


_HINT = {"gpus": "only the wall clock depends on the GPU count: give a deadline",
         "mfu": "give a budget, deadline or GPU-hours", "tokens": "give mfu instead of a fixed duration",
         "params": "give mfu instead of a fixed duration"}
