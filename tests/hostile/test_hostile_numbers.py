"""Numbers and expressions at their extremes: every one is a located one-line error or a finite
result, never a hang, a traceback, `inf`/`nan` reported as a result, or a silent null (issue 9,
items 7, 11, 13-16 and 20), and `estimate` and `sweep` agree point for point (item 14)."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness import cli, one_line_error

import costspec
from costspec.errors import CostspecError, InputError

BASE = "costspec: 1\nmodel: {params: 7B}\ntraining: {tokens: 140B}\nhardware: {gpu: h100, mfu: 0.4}\n"
HUGE_INT = "1" + "0" * 400


def _write(tmp_path: Path, text: str) -> Path:
    f = tmp_path / "s.yaml"
    f.write_text(text)
    return f


# -- specs that validate must reject (and estimate and sweep with it, at the same place) ---------------

INVALID = {
    "nested power (hung estimate for 60 s)": ('derive: {x: "10 ** 10 ** 10"}\n', "5:14", "overflow"),
    "power beyond the float range": ('derive: {x: "10 ** 5000"}\n', "5:14", "overflow"),
    "float power beyond the range": ('derive: {x: "10.0 ** 400"}\n', "5:14", "overflow"),
    "log of a negative constant": ('derive: {x: "log(0 - 1)"}\n', "5:14", "log of a number <= 0"),
    "sqrt of a negative constant": ('derive: {x: "sqrt(0 - 1)"}\n', "5:14", "square root of a negative"),
    "exp overflow": ('derive: {x: "exp(1000)"}\n', "5:14", "overflow"),
    "complex power": ('derive: {x: "(0 - 8) ** 0.5"}\n', "5:14", "negative number to a fractional power"),
    "constant division by zero": ('derive: {x: "model.params / 0"}\n', "5:14", "division by zero"),
    "a literal beyond the float range": ('derive: {x: "1e400 * model.params"}\n', "5:14", "beyond the float range"),
    "a 400-digit integer in an expression": (f'derive: {{x: "{HUGE_INT} * 2"}}\n', "5:14", "beyond the float range"),
    "a 400-digit integer as a value": (f"sweep: {{grid: {{k: [{HUGE_INT}]}}}}\n", "5:20", "beyond the float range"),
    "a sweep variable .inf": ("sweep: {grid: {k: [.inf]}}\n", "5:20", "not a finite number"),
    "a sweep variable .nan": ("sweep: {grid: {k: [1, .nan]}}\n", "5:23", "not a finite number"),
    "a range to .inf": ("sweep: {grid: {k: {range: [0, .inf, 1]}}}\n", "5:31", "not a finite number"),
    "a linspace to .inf": ("sweep: {grid: {k: {linspace: [1, .inf], num: 3}}}\n", "5:34", "not a finite number"),
    "a logspace to .nan": ("sweep: {grid: {k: {logspace: [1, .nan], num: 3}}}\n", "5:34", "not a finite number"),
    "a string end beyond the range": ('sweep: {grid: {k: {linspace: ["1e400", 2], num: 3}}}\n', "5:31",
                                      "not a finite number"),
    "num >= 2^63": ("sweep: {grid: {k: {linspace: [1, 2], num: 9223372036854775808}}}\n", "5:43", "at most 1e+08"),
    "a range of 1e300 values": ("sweep: {grid: {k: {range: [1, 1e300, 1e-300]}}}\n", "5:27", "at most that many"),
    "!!bool yes": ("price: {usd_per_gpu_hour: 1}\nname: !!bool yes\n", "6:7", "malformed boolean"),
    "duplicate output columns": ("output: {columns: [gpu, gpu, gpu_hours]}\n", "5:19", "repeated"),
    "ranking by a categorical column": ("output: {keep: {top: 1, by: gpu}}\n", "5:29", "cannot rank by 'gpu'"),
    "an empty Pareto front": ("output: {keep: {pareto: []}}\n", "5:25", "too few items"),
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_validate_rejects_what_would_fail_everywhere(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     case: str) -> None:
    extra, where, message = INVALID[case]
    f = _write(tmp_path, BASE + extra)
    started = time.monotonic()
    code, out, err = cli(capsys, "validate", str(f))
    assert code == 1 and f"{f}:{where}:" in out and message in out, out + err
    for args in (["estimate", "--spec", str(f)], ["sweep", str(f), "-o", str(tmp_path / "o.parquet")],
                 ["plan", str(f)], ["plan", "--json", str(f)]):
        code, _, err = cli(capsys, *args)
        assert f"{f}:{where}:" in one_line_error(code, err)
    with pytest.raises(costspec.SpecError):
        costspec.load(f)
    assert time.monotonic() - started < 30
    assert not (tmp_path / "o.parquet").exists()


# -- the same rule at run time: estimate and sweep agree on every point ----------------------------------

RUNTIME = [
    ("log(k - 2)", "log of a number <= 0"),
    ("sqrt(k - 2)", "square root of a negative number"),
    ("exp(k * 1000)", "overflow (beyond ±1.8e308)"),
    ("10.0 ** (k * 400)", "overflow (beyond ±1.8e308)"),
    ("(k - 9) ** 0.5", "a negative number to a fractional power"),
    ("model.params / (k - 1)", "division by zero"),
    ("(k - 1) ** -1", "zero to a negative power"),
    ("max(k * 1e308, 1) * 10", "overflow (beyond ±1.8e308)"),
    ("min(k * 1e308, 1e308) * 2", "overflow (beyond ±1.8e308)"),
    ("0 * model.params / (k - 1)", "division by zero"),  # 0/0
]


@pytest.mark.parametrize("text,why", RUNTIME)
@pytest.mark.parametrize("where", ["derive", "where", "field"])
def test_estimate_and_sweep_fail_alike(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, why: str,
                                       where: str) -> None:
    body = {"derive": f'derive: {{x: "{text}"}}\n',
            "where": f'where: ["{text} > 0"]\n',
            "field": None}[where]
    if body is None:  # an input given by an expression
        spec = BASE.replace("tokens: 140B", f'tokens: "=140e9 + 0 * ({text})"')
        label = "training.tokens"
    else:
        spec, label = BASE + body, "x" if where == "derive" else "where[0]"
    spec += "sweep: {grid: {k: [1]}}\n"
    f = _write(tmp_path, spec)
    assert cli(capsys, "validate", str(f))[0] == 0  # not constant: only a point can tell
    code, _, err = cli(capsys, "estimate", "--spec", str(f))
    estimate_line = one_line_error(code, err)
    code, _, err = cli(capsys, "sweep", str(f), "-o", str(tmp_path / "o.parquet"))
    sweep_line = one_line_error(code, err)
    expected = f"{why} in {label} = "
    assert expected in estimate_line and expected in sweep_line, (estimate_line, sweep_line)
    if where == "derive":  # located at the derive line, not at training.convention or model (item 20)
        assert f"{f}:5:13: derive.x:" in estimate_line
    assert "point 0 (k=1)" in sweep_line
    assert not (tmp_path / "o.parquet").exists()


def test_missing_values_pass_through_quietly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A solving sweep's points without an answer have no values: expressions over them give no
    value (null), never an error, and those points are left out."""
    f = _write(tmp_path, """costspec: 1
model: {preset: llama2-70b}
training: {recompute: full}
hardware: {gpu: h100}
price: {provider: lambda}
sweep: {grid: {hardware.mfu: [0.01, 0.4]}}
solve: {for: hardware.count, cost_usd: 4M, wall_clock_days: 30}
where: ["log(cost_usd) / wall_clock_days > 0"]
""")
    table = costspec.sweep(f)
    assert table.num_rows == 1 and table.column("mfu").to_pylist() == [0.4]


@given(k=st.one_of(st.floats(-1e308, 1e308), st.integers(-10**6, 10**6).map(float),
                   st.sampled_from([0.0, -0.0, 5e-324, -5e-324, 1e308, -1e308, 1.0, 2.0, 9.0, 20.0])),
       text=st.sampled_from(["log(k)", "sqrt(k)", "exp(k)", "k ** 0.5", "k ** k", "1 / k", "k * k * k",
                             "10 ** k", "min(k, 1) / (k - 1)", "max(k, -k) ** 3", "k / k", "ceil(k) * 1e300",
                             "k / 1e-308", "(0 - k) ** -2", "(0 - k) ** 0.5", "0 ** k"]))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_one_rule_at_numeric_extremes(k: float, text: str) -> None:
    """Hypothesis over ±0, subnormals, 1e308 and ordinary values: the one-point path (Python) and
    the engine either both give the same finite value or both report the same reason."""
    from costspec.expr import EvalError, parse
    from costspec.runner import SweepFailed
    from costspec.spec import load_text

    e = parse(text)
    try:
        want: Any = float(e.evaluate({"k": k}))
        assert math.isfinite(want)
    except EvalError as err:
        want = str(err)
    spec = load_text(BASE + f'sweep: {{grid: {{k: [{k!r}]}}}}\nderive: {{x: "{text}"}}\n'
                     "output: {columns: [x]}\n")
    try:
        got: Any = costspec.sweep(spec).column("x")[0].as_py()
    except SweepFailed as err:
        got = str(err).split(": ", 1)[1].split(" in x = ")[0]
    if isinstance(want, float):
        assert isinstance(got, float) and (got == want or math.isclose(got, want, rel_tol=1e-12)), (k, text, want, got)
    else:
        assert got == want, (k, text, want, got)


# -- inputs and outputs past the float range: an error naming the input -----------------------------------

CLI_CASES = [
    (["estimate", "--params", "1e200", "--tokens", "1e200", "--gpu", "h100", "--mfu", "0.4"], "--params: got 1e+200"),
    (["estimate", "--params", "7B", "--tokens", "1T", "--gpu", "h100", "--mfu", "0.4", "--price", "1e308"],
     "--price: got 1e+308"),
    (["estimate", "--params", "7B", "--tokens", "1T", "--gpu", "h100", "--mfu", "5e-324"], "--mfu: got 5e-324"),
    (["estimate", "--params", "7B", "--tokens", "1T", "--gpu", "h100", "--gpu-hours", "1e308"], "--gpu-hours"),
    (["estimate", "--params", "7B", "--tokens", "1T", "--gpu", "h100", "--gpus", "1000", "--wall-clock-days",
      "1e306"], "--wall-clock-days"),
    (["estimate", "--params", "7B", "--tokens", "1T", "--gpu", "h100", "--mfu", "0.4", "--watts", "1e307",
      "--pue", "100"], "--watts"),
    (["estimate", "--params", HUGE_INT, "--tokens", "1T", "--gpu", "h100", "--mfu", "0.4"], "--params"),
    (["estimate", "--params", "7B", "--tokens", "1T", "--gpu", "h100", "--gpus", "8", "--solve", "mfu",
      "--deadline-days", "5e-324"], "--deadline-days: impossible"),
    (["estimate", "--params", "7B", "--tokens", "1T", "--gpu", "h100", "--mfu", "0.4", "--solve", "gpus",
      "--deadline-days", "1e-300"], "--deadline-days: impossible"),
    (["estimate", "--params", "7B", "--gpu", "h100", "--gpus", "8", "--mfu", "0.4", "--price", "2", "--solve",
      "tokens", "--budget-usd", "1e308"], "--budget-usd: impossible"),
    (["optimal", "--flops", "5e-324"], "--flops"),
    (["optimal", "--flops", "-1"], "--flops"),
    (["optimal", "--flops", "1e24", "--tokens-per-param", "1e308"], "--flops"),
    (["optimal", "--flops", "1e309"], "--flops"),
]


@pytest.mark.parametrize("args,message", CLI_CASES)
def test_cli_extremes_are_one_line_errors(capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    code, out, err = cli(capsys, *args)
    line = one_line_error(code, err)
    assert message in line and "inf" not in out and "nan" not in out.lower()
    assert len(line) < 400  # numbers are shown as numbers, not as hundreds of digits


@pytest.mark.parametrize("kwargs,field", [
    ({"gpu": None}, "mfu"), ({"gpu": 123}, "gpu"), ({"gpu": ""}, "gpu"), ({"model": 7}, "model"),
    ({"params": 10**400}, "params"), ({"params": float("inf")}, "params"), ({"params": 1e200, "tokens": 1e200}, "params"), ({"params": "7B", "tokens": 1e300}, "tokens"),
    ({"mfu": 5e-324}, "mfu"), ({"usd_per_gpu_hour": 1e308}, "usd_per_gpu_hour"), ({"params": "1e400"}, "params"),
    ({"params": 3 + 4j}, "params"),
])
def test_api_extremes_raise_input_errors(kwargs: dict[str, Any], field: str) -> None:
    point = {"params": "7B", "tokens": "1T", "gpu": "h100", "mfu": 0.4, **kwargs}
    with pytest.raises((InputError, costspec.ModelInputError)) as e:
        costspec.estimate(**point)
    assert e.value.field == field


def test_api_accepts_numpy_numbers() -> None:
    np = pytest.importorskip("numpy")
    e = costspec.estimate(params=np.int64(7_000_000_000), tokens=np.float64(1e12), gpu="h100", mfu=np.float32(0.5),
                          gpus=np.int32(8))
    assert e.model_flops == pytest.approx(4.2e22) and e.gpus == 8


@pytest.mark.parametrize("flops", [-1, 0, 5e-324, float("inf"), float("nan"), "x", None, 10**400, True])
def test_api_optimal_rejects_bad_budgets(flops: Any) -> None:
    with pytest.raises(InputError):
        costspec.optimal("hoffmann2022", flops)


def test_api_optimal_rejects_unknown_fits() -> None:
    with pytest.raises(InputError, match="fit"):
        costspec.optimal("chinchilla", 1e24)


def test_a_target_any_mfu_meets_gives_the_lowest_mfu_evaluated(capsys: pytest.CaptureFixture[str]) -> None:
    """--deadline-days 1e308: every MFU meets it; the answer is the lowest MFU costspec evaluates
    (as the sweep compiler clamps), with finite figures, not 'impossible'."""
    code, out, err = cli(capsys, "estimate", "--params", "7B", "--tokens", "1T", "--gpu", "h100", "--gpus", "8",
                         "--solve", "mfu", "--deadline-days", "1e308", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["mfu"] == 1e-12 and math.isfinite(data["gpu_hours"])


def test_no_result_is_ever_inf_or_nan(capsys: pytest.CaptureFixture[str]) -> None:
    """Where a value exists it is finite; where it does not, it is null with a reason."""
    code, out, err = cli(capsys, "estimate", "--params", "1e150", "--tokens", "1e150", "--gpu", "h100", "--mfu", "1",
                         "--gpus", "8", "--price", "1e-300", "--json")
    # (a checkpoint of 1.4e151 bytes never finishes between interruptions: a located error, not 0 or inf)
    assert code == 2 and "--gpus" in err and "makes progress between interruptions" in err and err.count("\n") == 1
    code, out, _ = cli(capsys, "estimate", "--params", "1e150", "--tokens", "1e150", "--gpu", "h100", "--mfu", "1",
                       "--gpus", "8", "--price", "1e-300", "--json", "--goodput", "1")
    assert code == 0
    data = json.loads(out)
    assert all(math.isfinite(v) for v in data.values() if isinstance(v, float))


def test_plan_json_is_strict_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = _write(tmp_path, BASE + "sweep: {grid: {k: [1e308, -1e308, 5e-324]}}\nderive: {x: k * 1}\n")
    code, out, _ = cli(capsys, "plan", "--json", str(f))

    def refuse(name: str) -> None:
        raise AssertionError(f"non-JSON constant {name}")

    assert code == 0 and json.loads(out, parse_constant=refuse)


# -- resources: threads and buffers (items 8 and 12) -----------------------------------------------------

def test_threads_are_clamped_and_pools_reused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from harness import thread_count

    from costspec.runner import MAX_THREADS_PER_CORE, cores

    f = _write(tmp_path, BASE + "sweep: {grid: {k: {range: [0, 2000]}}}\n")
    code, _, err = cli(capsys, "sweep", str(f), "-o", str(tmp_path / "o.parquet"), "--threads", "1000000", "-q")
    assert code == 0 and f"using {MAX_THREADS_PER_CORE * cores()}" in err
    spec = costspec.load(f)
    with pytest.warns(UserWarning, match="more than"):
        costspec.sweep(spec, threads=10_000)
    costspec.sweep(spec, threads=1)
    before = thread_count()
    for n in range(1, 101):  # a hundred distinct thread counts: a bounded number of pools
        costspec.sweep(spec, threads=n % (MAX_THREADS_PER_CORE * cores()) + 1)
    grown = thread_count() - before
    # At most the kept pools (4, of at most 4 × cores threads each) may still be alive.
    assert grown <= 4 * MAX_THREADS_PER_CORE * cores(), grown
    for bad in (-1, 1.5, "2", True, None):
        with pytest.raises(InputError):
            costspec.sweep(spec, threads=bad)


def test_a_one_point_sweep_with_many_columns_stays_small(tmp_path: Path) -> None:
    """Buffers are sized by the points of the call: a thousand derived columns on one point need
    kilobytes (they took an 8 MiB buffer each: 2.2 GB)."""
    from costspec.plan import compile_spec
    lines = [BASE.rstrip("\n"), "derive:"] + [f"  d{i}: model.params * {i}" for i in range(1000)]
    plan = compile_spec(costspec.load(_write(tmp_path, "\n".join(lines) + "\n")))
    allocated = []
    import costspec.runner as runner

    real = runner._Buffers

    class Spy(real):  # type: ignore[misc, valid-type]
        def __init__(self, columns: Any, points: int) -> None:
            allocated.append(points)
            super().__init__(columns, points)

    runner._Buffers = Spy  # type: ignore[misc]
    try:
        groups = [list(runner.batches(plan, threads=1, reuse=True))]
    finally:
        runner._Buffers = real  # type: ignore[misc]
    assert sum(b.num_rows for g in groups for b in g) == 1
    assert allocated == [8]  # points per buffer: one, rounded up to the engine's multiple of 8


@given(values=st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=8))
@settings(max_examples=200, deadline=None)
def test_axis_values_reach_the_engine_exactly(values: list[float]) -> None:
    """Plans travel to the engine as JSON: every float must arrive bit for bit (serde_json's
    default parser read -1801439850948199.0 as -1801439850948199.25)."""
    from costspec.spec import load_text

    spec = load_text(BASE + f"sweep: {{grid: {{k: [{', '.join(repr(v) for v in values)}]}}}}\n"
                     "output: {columns: [k]}\n")
    got = costspec.sweep(spec).column("k").to_pylist()
    assert [math.copysign(1, g) * abs(g) for g in got] == [v + 0.0 for v in values]
