"""A model's whole life (issue 13, Sardana et al. 2023): the inference-aware compute-optimal model,
`costspec optimal --inference-tokens`, `lifetime:` in specs and its columns. The Rust tests
reproduce Sardana et al.'s own figures (rust/model/lifetime.rs); these check the engine against
a plain-Python minimisation and the spec and command-line paths."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

import costspec
from clirun import run
from costspec import scaling

ROOT = Path(__file__).resolve().parent.parent


def _reference(fit: scaling.Fit, loss: float, inference: float) -> tuple[float, float]:
    """The (N, D) of least 6·N·D + 2·N·I at `loss`, by a golden-section search on log N over the
    N that can reach the loss (independent of the engine's bisection on the derivative)."""
    def tokens(n: float) -> float:
        return (fit.B / (loss - fit.E - fit.A / n ** fit.alpha)) ** (1 / fit.beta)

    def total(x: float) -> float:
        n = math.exp(x)
        return 6 * n * tokens(n) + 2 * n * inference

    lo = math.log((fit.A / (loss - fit.E)) ** (1 / fit.alpha)) + 1e-9
    hi = lo + 20
    g = (math.sqrt(5) - 1) / 2
    for _ in range(300):
        a, b = hi - g * (hi - lo), lo + g * (hi - lo)
        if total(a) < total(b):
            hi = b
        else:
            lo = a
    n = math.exp((lo + hi) / 2)
    return n, tokens(n)


@pytest.mark.parametrize("fit", list(scaling.FITS))
@pytest.mark.parametrize("served", [0.0, 1e11, 1e12, 1e13, 1e14])
def test_the_engine_is_the_reference(fit: str, served: float) -> None:
    f = scaling.FITS[fit]
    row = scaling.allocation(fit, 5.76e23, inference_tokens=served)
    base = scaling.allocation(fit, 5.76e23)
    assert row["loss"] == pytest.approx(base["loss"], rel=1e-12)  # (the same quality)
    n, d = _reference(f, base["loss"], served)
    assert row["params"] == pytest.approx(n, rel=1e-6) and row["tokens"] == pytest.approx(d, rel=1e-6)
    if served == 0:
        assert row["params"] == pytest.approx(base["params"], rel=1e-9)
    else:
        assert row["params"] < base["params"] and row["tokens"] > base["tokens"]
        assert row["inference_flops"] == pytest.approx(2 * row["params"] * served, rel=1e-12)
        lifetime = row["model_flops"] + row["inference_flops"]
        assert lifetime < base["model_flops"] + 2 * base["params"] * served


def test_optimal_prints_the_lifetime_model_beside_the_compute_optimal(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "optimal", "--flops", "5.76e23", "--inference-tokens", "10T")
    assert code == 0, err
    assert "serving 10T tokens over its life" in out and "Sardana" in out
    lines = [line for line in out.splitlines() if line.strip().startswith("hoffmann2022")]
    assert lines[0].split()[1:3] == ["32.2B", "2.98T"] and lines[1].split()[1:3] == ["17.4B", "6.37T"]
    code, out, _ = run(capsys, "optimal", "--flops", "5.76e23", "--inference-tokens", "10T", "--json")
    d = json.loads(out)
    (life,) = [r for r in d["lifetime"] if r["fit"] == "hoffmann2022"]
    row = scaling.allocation("hoffmann2022", 5.76e23, inference_tokens="10T")
    assert life["params"] == row["params"]
    assert life["saving"] == pytest.approx(1 - life["lifetime_flops"] / life["compute_optimal_lifetime_flops"])
    assert 0.1 < life["saving"] < 0.25


@pytest.mark.parametrize("args, needle", [
    (["--fit", "tokens-per-param"], "--inference-tokens needs a fit with a loss"),
    (["--fit", "hoffmann2022", "--inference-tokens", "-1T"], "--inference-tokens: got"),
])
def test_optimal_lifetime_bad_input(capsys: pytest.CaptureFixture[str], args: list[str], needle: str) -> None:
    extra = [] if "--inference-tokens" in args else ["--inference-tokens", "1T"]
    code, out, err = run(capsys, "optimal", "--flops", "5.76e23", *args, *extra)
    assert code == 2 and out == "" and needle in err, err


def test_the_lifetime_spec_keeps_the_quality_and_shrinks_the_model() -> None:
    rows = costspec.sweep(ROOT / "specs" / "lifetime.yaml").to_pylist()
    assert len(rows) == 11 and rows[0]["tokens_served"] == 0 and rows[-1]["tokens_served"] == 30e12
    assert rows[0]["tokens"] * 10 == pytest.approx(rows[-1]["tokens_served"], rel=0.01)  # (10x its training tokens)
    assert len({round(r["loss"], 12) for r in rows}) == 1
    assert all(a["params"] > b["params"] and a["tokens"] < b["tokens"] for a, b in zip(rows, rows[1:]))
    assert all(r["lifetime_flops"] == pytest.approx(r["model_flops"] + r["inference_flops"]) for r in rows)


def test_requests_served_price_a_models_whole_life(tmp_path: Path) -> None:
    """tokens served = requests/day × days × a request's tokens; serving cost = requests × output
    tokens × the replica's price per million; lifetime cost = training + serving."""
    spec = tmp_path / "life.yaml"
    spec.write_text("costspec: 1\nmodel: {preset: llama3.1-8b}\nhardware: {gpu: h100, mfu: 0.4, count: 64}\n"
                    "price: {usd_per_gpu_hour: 2}\nserving: {input_tokens: 1000, output_tokens: 500, weights: fp8}\n"
                    "lifetime: {requests_per_day: 1e6, days: 365}\n")
    assert costspec.validate(spec) == []
    (row,) = costspec.sweep(spec).to_pylist()
    s = costspec.serve("llama3.1-8b", gpu="h100", weights="fp8", input_tokens=1000, output_tokens=500,
                       usd_per_gpu_hour=2)
    assert row["tokens_served"] == 1e6 * 365 * 1500
    assert row["serving_cost_usd"] == pytest.approx(1e6 * 365 * 500 * s.usd_per_m_tokens_served / 1e6, rel=1e-12)
    assert row["training_cost_usd"] == row["cost_usd"] > 0
    assert row["lifetime_cost_usd"] == pytest.approx(row["cost_usd"] + row["serving_cost_usd"], rel=1e-12)
    assert row["inference_flops"] == pytest.approx(2 * row["active_params"] * row["tokens_served"], rel=1e-12)
