"""Power bases (issue 11, item 6): a chip's TDP or the measured system power per accelerator."""

from __future__ import annotations

from pathlib import Path

import pyarrow.csv as pcsv
import pytest

import costspec
from clirun import run

# PaLM 540B (Chowdhery et al. 2022, App. B): 6,144 TPU v4 chips for 1,200 h and 3,072 for 336 h.
PALM_CHIP_HOURS = 6144 * 1200 + 3072 * 336


def test_palms_published_co2e_comes_from_the_system_power() -> None:
    """App. B: 378.5 W measured system power per chip, PUE 1.08, 0.079 tCO2e/MWh → 271.43 tCO2e."""
    e = costspec.estimate(model="palm-540b", gpu="tpu-v4", gpu_hours=PALM_CHIP_HOURS, pue=1.08,
                          grid_kg_co2e_per_kwh=0.079, power_basis="system")
    assert (e.watts, e.power_basis) == (378.5, "system")
    assert e.energy_kwh == pytest.approx(PALM_CHIP_HOURS * 378.5 * 1.08 / 1000, rel=1e-12)
    assert e.co2e_kg is not None and e.co2e_kg / 1000 == pytest.approx(271.43, abs=0.005)
    assert "system power per accelerator" in e.sources["watts"] and "PaLM" in e.sources["watts"]
    chip = costspec.estimate(model="palm-540b", gpu="tpu-v4", gpu_hours=PALM_CHIP_HOURS, pue=1.08,
                             grid_kg_co2e_per_kwh=0.079)
    assert (chip.watts, chip.power_basis) == (192.0, "chip") and "TDP" in chip.sources["watts"]
    assert chip.co2e_kg is not None and chip.co2e_kg / 1000 == pytest.approx(137.69, abs=0.01)
    given = costspec.estimate(model="palm-540b", gpu="tpu-v4", gpu_hours=PALM_CHIP_HOURS, watts=300,
                              power_basis="system")
    assert (given.watts, given.power_basis, given.sources["watts"]) == (300.0, None, "given")


def test_the_breakdown_names_the_basis(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "estimate", "--model", "palm-540b", "--gpu", "tpu-v4", "--gpu-hours",
                         str(PALM_CHIP_HOURS), "--power-basis", "system")
    assert code == 0, err
    assert "378.5 W (system, per chip)" in out


def test_a_gpu_without_a_system_figure_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "estimate", "--model", "llama2-7b", "--gpu", "h100", "--gpu-hours", "1000",
                         "--power-basis", "system")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "--power-basis" in err and "H100-SXM" in err and "TPU-v4" in err and "Traceback" not in err
    code, _, err = run(capsys, "estimate", "--model", "llama2-7b", "--gpu", "h100", "--gpu-hours", "1000",
                       "--power-basis", "wall")
    assert code == 2 and "wall" in err and "chip" in err and err.count("\n") == 1
    # The same check in specs, located; a swept GPU list is judged GPU by GPU; watts given lift it.
    spec = tmp_path / "s.yaml"
    spec.write_text("costspec: 1\nmodel: {preset: llama2-7b}\n"
                    "hardware: {gpu: h100, gpu_hours: 1000, power_basis: system}\n")
    code, out, _ = run(capsys, "validate", str(spec))
    assert code == 1 and "s.yaml:3:" in out and "no system power per accelerator for H100-SXM" in out and "[CS506]" in out
    spec.write_text("costspec: 1\nmodel: {preset: llama2-7b}\n"
                    "hardware: {gpu_hours: 1000, power_basis: system}\n"
                    "sweep: {grid: {hardware.gpu: [tpu-v4, a100-80gb]}}\n")
    code, out, _ = run(capsys, "validate", str(spec))
    assert code == 1 and "s.yaml:3:" in out and "A100-80GB" in out and "TPU-v4," not in out
    code, _, err = run(capsys, "sweep", str(spec), "-o", str(tmp_path / "o.csv"))
    assert code != 0 and not (tmp_path / "o.csv").exists()
    spec.write_text("costspec: 1\nmodel: {preset: llama2-7b}\n"
                    "hardware: {gpu: h100, gpu_hours: 1000, power_basis: system, watts: 1000}\n")
    code, out, _ = run(capsys, "validate", str(spec))
    assert code == 0, out


def test_a_sweep_over_the_basis(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text("costspec: 1\nmodel: {preset: palm-540b}\n"
                    f"hardware: {{gpu: tpu-v4, gpu_hours: {PALM_CHIP_HOURS}}}\nenergy: {{pue: 1.08}}\n"
                    "sweep: {grid: {hardware.power_basis: [chip, system]}}\n"
                    "output: {columns: [power_basis, watts, energy_kwh]}\n")
    code, _, err = run(capsys, "sweep", str(spec), "-o", str(tmp_path / "o.csv"))
    assert code == 0, err
    rows = pcsv.read_csv(tmp_path / "o.csv").to_pylist()
    assert [(r["power_basis"], r["watts"]) for r in rows] == [("chip", 192.0), ("system", 378.5)]
    for r in rows:  # one evaluation path: each row is the one-point estimate
        e = costspec.estimate(model="palm-540b", gpu="tpu-v4", gpu_hours=PALM_CHIP_HOURS, pue=1.08,
                              power_basis=r["power_basis"])
        assert r["energy_kwh"] == pytest.approx(e.energy_kwh, rel=1e-15)


def test_a_swept_basis_without_a_gpu_gives_no_energy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text("costspec: 1\nmodel: {preset: palm-540b}\nsweep: {grid: {hardware.power_basis: [chip, system]}}\n")
    code, _, err = run(capsys, "sweep", str(spec), "-o", str(tmp_path / "o.csv"))
    assert code == 0, err
    rows = pcsv.read_csv(tmp_path / "o.csv").to_pylist()
    assert [r["power_basis"] for r in rows] == ["chip", "system"] and "energy_kwh" not in rows[0]
