"""Goodput (issue 12, item 4): Daly's checkpoint model through the API, published totals, bad input."""

from __future__ import annotations

import pytest

import costspec
from clirun import run


@pytest.mark.parametrize("mtbf_hours,tau_min,efficiency", [(24, 117, 0.913), (6, 57, 0.819), (0.25, 9.1, 0.200)])
def test_dalys_published_cases_through_the_api(mtbf_hours: float, tau_min: float, efficiency: float) -> None:
    """Daly 2006: δ = 5 min, R = 10 min. One GPU with a GPU MTBF of M hours is a job with MTBF M;
    a 7B checkpoint (98 GB) at 98/300 GB/s takes 5 minutes."""
    e = costspec.estimate(params="7B", tokens="1T", gpu="h100", gpus=1, mfu=0.4, gpu_mtbf_hours=mtbf_hours,
                          checkpoint_gb_per_s=7e9 * 14 / 300 / 1e9, restart_minutes=10)
    assert e.checkpoint_interval_min == pytest.approx(tau_min, abs=0.5)
    assert e.ettr == pytest.approx(efficiency, abs=0.0015)
    ideal = costspec.estimate(params="7B", tokens="1T", gpu="h100", gpus=1, mfu=0.4, goodput=1)
    assert ideal.ettr == 1 and ideal.checkpoint_interval_min is None
    assert e.gpu_hours == pytest.approx(ideal.gpu_hours / e.ettr, rel=1e-12)  # type: ignore[operator]
    assert e.mfu_average == pytest.approx(0.4 * e.ettr, rel=1e-12)  # type: ignore[operator]


def test_a_published_total_keeps_its_hours_and_gives_the_step_rate() -> None:
    e = costspec.estimate(model="llama3.1-405b", gpu="h100", gpus=16384, gpu_hours=30.84e6)
    assert e.gpu_hours == 30.84e6 and e.ettr is not None and 0.9 < e.ettr < 0.95  # (Meta: "> 90%")
    assert e.mfu == pytest.approx(e.mfu_average / e.ettr, rel=1e-12)  # type: ignore[operator]
    assert e.interruptions == pytest.approx(30.84e6 / 16384 / (54 * 24 * 16384 / 419 / 16384), rel=1e-9)


def test_the_modelled_loss_closes_part_of_llama_3s_gap() -> None:
    """At Llama 3's 41% MFU, 26.0M GPU-hours without lost time, 28.0M with it; published 30.84M."""
    with_loss = costspec.estimate(model="llama3.1-405b", gpu="h100", gpus=16384, mfu=0.41)
    without = costspec.estimate(model="llama3.1-405b", gpu="h100", gpus=16384, mfu=0.41, goodput=1)
    assert without.gpu_hours == pytest.approx(26.01e6, rel=1e-3)
    assert with_loss.gpu_hours == pytest.approx(28.02e6, rel=1e-3)


def test_no_count_no_modelled_loss() -> None:
    e = costspec.estimate(params="7B", tokens="1T", gpu="h100", mfu=0.4)
    assert e.ettr is None and e.mfu_average == 0.4
    g = costspec.estimate(params="7B", tokens="1T", gpu="h100", mfu=0.4, goodput=0.8)
    assert g.ettr == 0.8 and g.gpu_hours == pytest.approx(e.gpu_hours / 0.8, rel=1e-12)  # type: ignore[operator]


@pytest.mark.parametrize("flag,value", [("--goodput", "0"), ("--goodput", "1.5"), ("--gpu-mtbf-hours", "-1"),
                                        ("--restart-minutes", "-5"), ("--checkpoint-gb-per-s", "0")])
def test_bad_goodput_inputs_are_one_line_errors(capsys: pytest.CaptureFixture[str], flag: str, value: str) -> None:
    code, out, err = run(capsys, "estimate", "--params", "7B", "--tokens", "1T", "--gpu", "h100", "--gpus", "8",
                         "--mfu", "0.4", flag, value)
    assert code == 2 and out == "" and flag in err and err.count("\n") == 1 and "Traceback" not in err


def test_a_published_total_the_modelled_loss_cannot_fit_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    """An implied average MFU of 0.99 over a modelled ETTR below 0.99 would be a step MFU above 1."""
    hours = costspec.estimate(params="70B", tokens="1T", gpu="h100", gpus=8192, mfu=0.99, goodput=1).gpu_hours
    code, _, err = run(capsys, "estimate", "--params", "70B", "--tokens", "1T", "--gpu", "h100", "--gpus", "8192",
                       "--gpu-hours", str(hours))
    assert code == 2 and err.startswith("costspec estimate: error: --gpu-hours:") and "an MFU of at most 1" in err
    assert err.count("\n") == 1


def test_a_sweep_row_is_the_one_point_answer(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    """The engine memoises the goodput and the step per GPU count across the inner axes: every row
    still equals its one-point estimate."""
    import pyarrow.csv as pcsv

    spec = tmp_path / "s.yaml"
    spec.write_text("costspec: 1\nmodel: {}\ntraining: {tokens: 100B}\nhardware: {gpu: h100}\n"
                    "sweep: {grid: {model.params: [7B, 70B], hardware.mfu: [0.3, 0.5], "
                    "hardware.count: [64, 128, 64, 4096]}}\n"
                    "output: {columns: [params, mfu, gpus, ettr, gpu_hours, step_time_s, interruptions]}\n")
    code, _, err = run(capsys, "sweep", str(spec), "-o", str(tmp_path / "o.csv"))
    assert code == 0, err
    rows = pcsv.read_csv(tmp_path / "o.csv").to_pylist()
    assert len(rows) == 16
    for r in rows:
        e = costspec.estimate(params=r["params"], tokens="100B", gpu="h100", mfu=r["mfu"], gpus=r["gpus"])
        assert (r["ettr"], r["gpu_hours"], r["interruptions"]) == (e.ettr, e.gpu_hours, e.interruptions)
        assert r["step_time_s"] == e.step_time_s


def test_a_goodput_given_is_arithmetic_equal_to_the_one_point_answer(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    """A goodput given (or swept over numbers) compiles to vector arithmetic that no GPU count
    enters (the engine then prices a point once per count axis): every row equals its one-point
    estimate, to the bit, for a step rate and for a published duration, with no checkpoint interval
    or interruptions (nothing is modelled); a duration whose steps would beat the peak is an error."""
    import pyarrow.csv as pcsv

    spec = tmp_path / "s.yaml"
    spec.write_text("costspec: 1\nmodel: {}\ntraining: {tokens: 100B}\nhardware: {gpu: h100}\n"
                    "price: {usd_per_gpu_hour: 2.5}\nsweep: {grid: {model.params: [7B, 70B], hardware.goodput: [1, 0.8], hardware.mfu: [0.3, 0.5], "
                    "hardware.count: [64, 4096]}}\n"
                    "output: {columns: [params, mfu, gpus, ettr, gpu_hours, hfu, mfu_average, cost_usd]}\n")
    code, _, err = run(capsys, "sweep", str(spec), "-o", str(tmp_path / "o.csv"))
    assert code == 0, err
    rows = pcsv.read_csv(tmp_path / "o.csv").to_pylist()
    assert len(rows) == 16
    for r in rows:
        e = costspec.estimate(params=r["params"], tokens="100B", gpu="h100", mfu=r["mfu"], gpus=r["gpus"],
                              goodput=r["ettr"], usd_per_gpu_hour=2.5)
        assert r["ettr"] in (1, 0.8) and r["ettr"] == e.ettr
        assert (r["gpu_hours"], r["hfu"], r["mfu_average"], r["cost_usd"]) == \
            (e.gpu_hours, e.hfu, e.mfu_average, e.cost_usd)
        assert e.interruptions is None and e.checkpoint_interval_min is None
    # A published duration keeps its hours; its steps' MFU is the average over the goodput.
    e = costspec.estimate(model="llama2-70b", gpu="a100-80gb", gpus=2048, wall_clock_days=40, goodput=0.9)
    plain = costspec.estimate(model="llama2-70b", gpu="a100-80gb", gpus=2048, wall_clock_days=40, goodput=1)
    assert e.gpu_hours == plain.gpu_hours and e.mfu == pytest.approx(plain.mfu / 0.9, rel=1e-15)
    code, _, err = run(capsys, "estimate", "--model", "llama2-70b", "--gpu", "a100-80gb", "--gpus", "2048",
                       "--wall-clock-days", "20", "--goodput", "0.3")
    assert code == 2 and err.startswith("costspec estimate: error: --wall-clock-days: got 20, expected a duration whose "
                                        "steps, after the time lost to interruptions (ETTR 0.3000), run at an MFU of "
                                        "at most 1 (this implies ")


def test_the_readme_goodput_table_is_the_scripts_output() -> None:
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root / "benchmarks"))
    import goodput_check

    assert goodput_check.table() in (root / "README.md").read_text(encoding="utf-8")
