"""--set PATH=VALUE (issue 10): spec values from the command line, for estimate --spec, sweep, plan
and validate, checked by the same rules as the file's and named by their flag in errors."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from clirun import run

import costspec
from costspec.errors import InputError, SpecError

SPEC = """costspec: 1
model: {preset: llama2-7b}
training: {tokens: 1T}
hardware: {gpu: h100, mfu: 0.4, count: 64}
price: {provider: lambda}
where: ["cost_usd < 1e9"]
sweep:
  grid:
    hardware.count: [64, 128]
"""


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    f = tmp_path / "s.yaml"
    f.write_text(SPEC.replace("hardware: {gpu: h100, mfu: 0.4, count: 64}", "hardware: {gpu: h100, mfu: 0.4}"))
    return f


def test_set_reaches_every_command(spec: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A key holding dots (the grid's field names), a list as YAML, and a later --set winning.
    grid = "--set", "sweep.grid.hardware.count=[8, 16, 32]"
    code, out, _ = run(capsys, "plan", str(spec), *grid)
    assert code == 0 and "hardware.count: 3 values [8, 16, 32]" in out and "points: 3" in out
    code, out, _ = run(capsys, "sweep", str(spec), *grid, "--set", "hardware.mfu=0.5", "--set", "hardware.mfu=0.25",
                       "-o", str(tmp_path / "o.parquet"), "-q")
    table = pq.read_table(tmp_path / "o.parquet")
    assert code == 0 and table.column("gpus").to_pylist() == [8, 16, 32]
    assert set(table.column("mfu").to_pylist()) == {0.25}
    overrides = json.loads(table.schema.metadata[b"costspec.overrides"])
    assert {"path": "hardware.mfu", "flag": "--set hardware.mfu", "value": 0.25} in overrides
    assert {"path": "sweep.grid.hardware.count", "flag": "--set sweep.grid.hardware.count",
            "value": [8, 16, 32]} in overrides
    code, out, _ = run(capsys, "validate", str(spec), "--set", "hardware.mfu=0.3")
    assert code == 0 and "1 valid" in out
    one = tmp_path / "one.yaml"
    one.write_text(SPEC.replace("sweep:\n  grid:\n    hardware.count: [64, 128]\n", ""))
    code, out, _ = run(capsys, "estimate", "--spec", str(one), "--set", "hardware.count=512", "--set",
                       "training.tokens==20 * model.params", "--json")
    d = json.loads(out)
    assert code == 0 and d["gpus"] == 512 and d["tokens"] == pytest.approx(20 * d["params"])
    # A list item by its index.
    code, out, _ = run(capsys, "estimate", "--spec", str(one), "--set", "where.0=cost_usd < 1")
    assert code == 0 and "where: the point fails a condition" in out


def test_set_values_are_checked_as_the_files_are(spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "validate", str(spec), "--set", "hardware.mfu=abc")
    assert code == 1 and f"{spec}: --set hardware.mfu: malformed value" in out and "[CS206]" in out
    code, _, err = run(capsys, "sweep", str(spec), "--set", "hardware.count=8")
    assert code == 2 and "--set hardware.count: hardware.count is both set here and swept" in err
    code, _, err = run(capsys, "plan", str(spec), "--set", "hardware.gpu=h1000")
    assert code == 2 and "--set hardware.gpu:" in err and "h100" in err
    code, out, _ = run(capsys, "validate", str(spec), "--set", "hardware.count=8", "--output-format", "github")
    assert code == 1 and out.startswith(f"::error file={spec},title=costspec validate (CS404)::--set hardware.count:")


@pytest.mark.parametrize(("setting", "message"), [
    ("noequals", "--set: a setting is PATH=VALUE"),
    ("=1", "--set: a setting is PATH=VALUE"),
    ("hardware.count=[1,", "--set hardware.count: the value is not YAML"),
    ("where.3=x", "--set where.3: where is a list of 1 item: name one by its index (0 to 0)"),
    ("where.x=1", "--set where.x: where is a list of 1 item"),
    ("hardware.gpu.id=x", "--set hardware.gpu.id: hardware.gpu holds a value, not a mapping"),
    ("hardware..gpu=x", "--set hardware..gpu: an empty name in the path"),
])
def test_malformed_settings(spec: Path, capsys: pytest.CaptureFixture[str], setting: str, message: str) -> None:
    code, out, _ = run(capsys, "validate", str(spec), "--set", setting)
    assert code == 1 and message in out and "[CS108]" in out, out
    code, _, err = run(capsys, "sweep", str(spec), "--set", setting)
    assert code == 2 and message in err and "Traceback" not in err


def test_set_needs_a_spec_for_estimate(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "estimate", "--params", "7B", "--set", "hardware.count=8")
    assert code == 2 and "--set overrides a spec's values: give --spec FILE" in err


def test_the_api_takes_sets(spec: Path) -> None:
    s = costspec.load(spec, sets=["sweep.grid.hardware.count=[8]", "name=renamed"])
    assert s.points == 1 and s.name == "renamed"
    assert costspec.validate(spec, sets=["hardware.mfu=2"])[0].flag == "--set hardware.mfu"
    with pytest.raises(SpecError, match="a setting is PATH=VALUE"):
        costspec.load(spec, sets=["x"])
    with pytest.raises(InputError):
        costspec.load(spec, sets="name=x")  # type: ignore[arg-type]
