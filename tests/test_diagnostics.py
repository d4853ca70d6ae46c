"""Diagnostic codes and the renderers of `costspec validate`: text, json, github, sarif; stdin and
--quiet."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from clirun import run

from costspec.diagnostics import BY_CODE, CODES, classify
from costspec.spec import validate

ROOT = Path(__file__).resolve().parent.parent
INVALID = sorted((ROOT / "tests" / "specs" / "invalid").glob("*.yaml"))


def test_codes_are_unique_and_documented() -> None:
    assert len({c.code for c in CODES}) == len(CODES) and len({c.name for c in CODES}) == len(CODES)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for c in CODES:
        assert f"`{c.code}`" in readme and c.name in readme, c.code


@pytest.mark.parametrize("spec", INVALID, ids=lambda p: p.name)
def test_every_problem_of_the_invalid_corpus_has_a_specific_code(spec: Path) -> None:
    errors = validate(spec)
    assert errors
    for e in errors:
        assert e.code != "CS000", e.format()
    expected_code = spec.read_text(encoding="utf-8", errors="replace").splitlines()[0]
    if "code:" in expected_code:  # (a corpus file may pin its code)
        assert errors[0].code == expected_code.split("code:")[1].split()[0]


def test_classification_examples() -> None:
    assert classify("unknown key 'cout' (did you mean 'count'?)").code == "CS201"
    assert classify("division by zero in 'x / 0' (a divisor of 0: no point can evaluate it)").code != "CS201"
    assert classify("cost_usd has no value in this spec (no price)").code == "CS306"
    assert BY_CODE["CS505"].name == "include-outside"


def _bad(tmp_path: Path) -> Path:
    f = tmp_path / "bad.yaml"
    f.write_text("costspec: 1\nmodel: {preset: llama2-7b}\nhardware: {gpu: h100, mfu: 0.4, muf: 0.4}\n")
    return f


def test_text_json_github_and_quiet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = _bad(tmp_path)
    good = tmp_path / "good.yaml"
    good.write_text("costspec: 1\nmodel: {preset: llama2-7b}\nhardware: {gpu: h100, mfu: 0.4}\n")
    code, out, _ = run(capsys, "validate", str(bad), str(good))
    assert code == 1 and f"{bad}:3:33: hardware.muf: unknown key 'muf'" in out and "[CS201]" in out
    assert out.splitlines()[-1].startswith("2 files checked: 1 valid, 1 invalid")
    code, out, _ = run(capsys, "validate", "--quiet", str(bad), str(good))
    assert code == 1 and "checked" not in out and "[CS201]" in out
    code, out, _ = run(capsys, "validate", "-q", str(good))
    assert code == 0 and out == ""
    code, out, _ = run(capsys, "validate", "--output-format", "json", str(bad), str(good))
    data = json.loads(out)
    assert data["files"][0]["errors"][0]["code"] == "CS201" and data["checked"] == 2
    code, out, _ = run(capsys, "validate", "--output-format", "json", "--quiet", str(bad), str(good))
    assert [f["file"] for f in json.loads(out)["files"]] == [str(bad)]
    code, out, _ = run(capsys, "validate", "--format", "github", str(bad))
    assert out.startswith(f"::error file={bad},line=3,col=33,title=costspec validate (CS201)::")


def test_sarif(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = _bad(tmp_path)
    code, out, _ = run(capsys, "validate", "--output-format", "sarif", str(bad), str(INVALID[0]))
    assert code == 1
    doc = json.loads(out)
    assert doc["version"] == "2.1.0" and doc["$schema"].endswith("sarif-2.1.0.json")
    driver = doc["runs"][0]["tool"]["driver"]
    results = doc["runs"][0]["results"]
    assert driver["name"] == "costspec" and results
    ids = [r["id"] for r in driver["rules"]]
    for r in results:
        assert r["ruleId"] == ids[r["ruleIndex"]] and r["level"] == "error"
        loc = r["locations"][0]["physicalLocation"]
        assert loc["region"]["startLine"] >= 1 and loc["region"]["startColumn"] >= 1
        assert loc["artifactLocation"]["uri"]
    first = next(r for r in results if r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith("bad.yaml"))
    assert first["ruleId"] == "CS201" and first["locations"][0]["physicalLocation"]["region"] == {"startLine": 3, "startColumn": 33}
    code, out, _ = run(capsys, "validate", "--output-format", "sarif", str(ROOT / "specs"))
    assert code == 0 and json.loads(out)["runs"][0]["results"] == []


def test_stdin(tmp_path: Path) -> None:
    bad = _bad(tmp_path).read_text()
    proc = subprocess.run([sys.executable, "-m", "costspec.cli", "validate", "-"], input=bad, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 1 and "<stdin>:3:33: hardware.muf: unknown key 'muf'" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "costspec.cli", "validate", "-"],
                          input=(ROOT / "specs" / "mosaicml-7b.yaml").read_text(), capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0 and "1 file checked: 1 valid" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "costspec.cli", "validate", "-"], input="#" * (1 << 21),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "larger than" in proc.stdout


def test_validate_never_loads_the_extension(tmp_path: Path) -> None:
    bad = _bad(tmp_path)
    code = ("import sys; from costspec.cli import main\n"
            "try:\n    main(['validate', '--output-format', 'sarif', %r])\nexcept SystemExit:\n    pass\n"
            "assert 'costspec._native' not in sys.modules and 'pyarrow' not in sys.modules" % str(bad))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
