"""Compute-optimal scaling: the parametric loss fits L(N, D) = E + A/N^α + B/D^β and the
tokens-per-parameter rule, and the allocation of a FLOPs budget C = 6·N·D into N and D.

For a parametric fit the loss-minimising allocation under C = 6·N·D is (Hoffmann et al. 2022,
eq. 4):

    N_opt(C) = G · (C/6)^a,   D_opt(C) = G^-1 · (C/6)^b,
    G = (α·A / (β·B))^(1/(α+β)),   a = β/(α+β),   b = α/(α+β).

The rule allocates D = r·N (r ≈ 20 tokens per parameter), so N = sqrt(C/(6r)).
Pure Python: the sweep compiler turns the same formulas into engine operations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

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

    def loss(self, params: float, tokens: float) -> float:
        return float(self.E + self.A / params**self.alpha + self.B / tokens**self.beta)

    def optimal(self, flops: float) -> tuple[float, float]:
        """(N_opt, D_opt) for a budget of ``flops`` = 6·N·D."""
        x = flops / 6.0
        return float(self.G * x**self.a), float(x**self.b / self.G)


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


def optimal(fit: str, flops: float, tokens_per_param: float = TOKENS_PER_PARAM) -> tuple[float, float]:
    """(params, tokens) minimising the fit's loss for ``flops`` = 6·N·D, or the rule's split.
    Raises InputError for an unknown fit, a budget that is not a finite number > 0, or one whose
    optimum is not at least one parameter and one token."""
    from costspec.errors import InputError
    from costspec.units import parse_number

    if fit not in FIT_NAMES:
        raise InputError("fit", repr(fit), "one of " + ", ".join(FIT_NAMES))
    c = parse_number(flops, "compute_flops")
    r = parse_number(tokens_per_param, "tokens_per_param")
    for name, v, given in (("compute_flops", c, flops), ("tokens_per_param", r, tokens_per_param)):
        if not v > 0:
            raise InputError(name, repr(given), "a number > 0")
    if fit == RULE:
        n = math.sqrt(c / 6.0 / r)
        d = r * n
    else:
        n, d = FITS[fit].optimal(c)
    if not (math.isfinite(n) and math.isfinite(d) and n >= 1 and d >= 1):
        raise InputError("compute_flops", f"{c:g}" + (f" (at {r:g} tokens per parameter)" if fit == RULE else ""),
                         f"a budget whose compute-optimal split is at least one parameter and one token "
                         f"(this one gives N = {n:.3g}, D = {d:.3g})")
    return n, d


def flops_for_budget(budget_usd: float, usd_per_gpu_hour: float, peak_tflops: float, mfu: float) -> float:
    """Model FLOPs a dollar budget buys: GPU-hours = budget / price, FLOPs = GPU-hours × 3600 × peak × MFU."""
    return budget_usd / usd_per_gpu_hour * 3600.0 * peak_tflops * 1e12 * mfu
