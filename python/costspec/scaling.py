"""Compute-optimal scaling: the parametric loss fits L(N, D) = E + A/N^α + B/D^β and the
tokens-per-parameter rule, and the allocation of a FLOPs budget C = 6·N·D into N and D.

For a parametric fit the loss-minimising allocation under C = 6·N·D is (Hoffmann et al. 2022,
eq. 4):

    N_opt(C) = G · (C/6)^a,   D_opt(C) = G^-1 · (C/6)^b,
    G = (α·A / (β·B))^(1/(α+β)),   a = β/(α+β),   b = α/(α+β).

The rule allocates D = r·N (r ≈ 20 tokens per parameter), so N = sqrt(C/(6r)).
This module holds the fits' published constants; the formulas are written once, as engine
operations by the compiler (``plan.py``, ``allocate``), and :func:`optimal` and
:func:`allocation` run them as a one-point plan (a plain-Python reference checks them:
tests/reference.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TOKENS_PER_PARAM = 20.0


@dataclass(frozen=True)
class Fit:
    """A parametric fit L(N, D) = E + A/N^alpha + B/D^beta (N parameters, D tokens; loss in nats)."""

    id: str
    E: float
    A: float
    B: float
    alpha: float
    beta: float
    source: str

    @property
    def a(self) -> float:
        """Exponent of N_opt ∝ C^a."""
        return self.beta / (self.alpha + self.beta)

    @property
    def b(self) -> float:
        """Exponent of D_opt ∝ C^b."""
        return self.alpha / (self.alpha + self.beta)

    @property
    def G(self) -> float:
        return float((self.alpha * self.A / (self.beta * self.B)) ** (1.0 / (self.alpha + self.beta)))


FITS: dict[str, Fit] = {
    "hoffmann2022": Fit(
        "hoffmann2022", E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28,
        source="Hoffmann et al. 2022, Training Compute-Optimal Large Language Models, approach 3, "
               "eq. 10 (Appendix D.2) as printed; arXiv:2203.15556",
    ),
    "besiroglu2024": Fit(
        "besiroglu2024", E=1.8172, A=482.01, B=2085.43, alpha=0.3478, beta=0.3658,
        source="Besiroglu, Erdil, Barnett, You 2024, Chinchilla Scaling: A replication attempt, eq. 3 / "
               "Table 1; arXiv:2404.10102",
    ),
}
RULE = "tokens-per-param"
FIT_NAMES = (*FITS, RULE)
RULE_SOURCE = ("about 20 tokens per parameter: Chinchilla, 70B parameters on 1.4T tokens (Hoffmann et al. "
               "2022, Table 3: 1B → 20.2B tokens, 10B → 205.1B)")


def optimal(fit: str, flops: float | int | str, tokens_per_param: float | int | str | None = None
            ) -> tuple[float, float]:
    """(params, tokens) minimising the fit's loss for ``flops`` = 6·N·D, or the rule's split.
    Raises InputError for an unknown fit, a budget that is not a finite number > 0, or one whose
    optimum is not at least one parameter and one token. ``tokens_per_param`` is the rule's ratio
    (default 20); the parametric fits choose their own."""
    row = allocation(fit, flops, tokens_per_param)
    return row["params"], row["tokens"]


def allocation(fit: str, flops: float | int | str | None = None,
               tokens_per_param: float | int | str | None = None, *, budget_usd: float | int | str | None = None,
               inference_tokens: float | int | str | None = None, **hardware: Any) -> dict[str, Any]:
    """The compute-optimal run for a FLOPs budget, or for ``budget_usd`` at the GPU, MFU and price
    of ``hardware`` (``gpu``, ``mfu``, ``usd_per_gpu_hour`` or ``provider``, ``precision``,
    ``catalog``: costspec.estimate()'s keywords), evaluated by the engine: its row, with
    ``params``, ``tokens``, ``tokens_per_param``, ``compute_flops``, ``loss`` (None for the rule)
    and, for a dollar budget, ``gpu``, ``peak_tflops``, ``mfu`` and ``usd_per_gpu_hour``. With
    ``inference_tokens`` (a parametric fit), the model reaching the same loss with the fewest
    training + inference FLOPs (Sardana et al. 2023), and ``inference_flops``."""
    from costspec.errors import InputError, ModelInputError
    from costspec.estimator import inputs, one_point
    from costspec.plan import compile_spec
    from costspec.point import PointFailed, run
    from costspec.units import parse_number

    if fit not in FIT_NAMES:
        raise InputError("fit", repr(fit), "one of " + ", ".join(FIT_NAMES))
    if (flops is None) == (budget_usd is None):
        raise InputError("compute_flops", "both" if flops is not None else "neither",
                         "one budget: FLOPs or budget_usd")
    budget, name = (flops, "compute_flops") if flops is not None else (budget_usd, "budget_usd")
    chosen = [k for k in ("params", "active_params", "tokens", "dataset_tokens", "epochs") if k in hardware]
    if chosen:
        raise InputError(chosen[0], repr(hardware[chosen[0]]), "nothing: the allocation chooses params and tokens")
    if hardware and budget_usd is None:
        raise InputError(next(iter(hardware)), repr(next(iter(hardware.values()))),
                         "budget_usd to go with it (a FLOPs budget needs no hardware)")
    if tokens_per_param is not None and fit != RULE:
        raise InputError("tokens_per_param", repr(tokens_per_param), f"the {RULE} fit ({fit} chooses its own ratio)")
    if inference_tokens is not None and fit == RULE:
        raise InputError("inference_tokens", repr(inference_tokens), "a parametric fit (" + ", ".join(FITS) +
                         "): the lifetime's model reaches the budget's loss, which the rule does not give")
    c = parse_number(budget, name)
    r = parse_number(TOKENS_PER_PARAM if tokens_per_param is None else tokens_per_param, "tokens_per_param")
    for field, v, given in ((name, c, budget), ("tokens_per_param", r, tokens_per_param)):
        if not v > 0:
            raise InputError(field, given if isinstance(given, str) else repr(given), "a number > 0")
    # The hardware a dollar budget buys FLOPs on, checked as estimate() checks it (a placeholder
    # model: the allocation chooses params and tokens).
    checked = inputs(params=1, tokens=1, **hardware) if budget_usd is not None else inputs(params=1, tokens=1)
    fields = {k: v for k, v in checked.fields.items() if k not in ("model.params", "training.tokens")}
    fields.update({"scaling.fit": fit, f"scaling.{name}": c})
    if fit == RULE:
        fields["scaling.tokens_per_param"] = r
    if inference_tokens is not None:
        served = parse_number(inference_tokens, "inference_tokens")
        if not served >= 0:
            raise InputError("inference_tokens", repr(inference_tokens), "a count >= 0")
        fields["lifetime.tokens_served"] = served
    try:
        row = run(compile_spec(one_point(fields, checked.catalog), point=True))
    except PointFailed as e:
        if "compute-optimal split" in str(e):
            raise InputError(name, f"{c:g}" + (f" (at {r:g} tokens per parameter)" if fit == RULE else ""),
                             "a budget whose compute-optimal split is at least one parameter and one token") from None
        if e.field == "lifetime.tokens_served":  # (its inference FLOPs overflow)
            raise InputError("inference_tokens", f"{inference_tokens}", "a count whose inference FLOPs stay within "
                                                                        "±1.8e308") from None
        if "cannot tell from its floor" in str(e):  # (a lifetime for a budget past any model's loss)
            raise InputError(name, f"{c:g}", "a budget whose compute-optimal loss the fit can tell from its "
                                             "floor (a smaller budget)") from None
        if e.field == f"scaling.{name}":  # (the FLOPs it buys overflow)
            raise InputError(name, f"{c:g}", "a budget that buys at most 1.8e308 FLOPs") from None
        raise ModelInputError(str(e), e.field) from None
    row.setdefault("loss", None)
    return row
