"""Spec files: the examples, the invalid corpus, the validator's formats, and fuzzing the loader."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from costspec import SpecError, load, validate
from costspec.expr import ExprError
from costspec.expr import parse as parse_expr
from costspec.point import evaluate
from costspec.spec import Spec, load_text, validate_text
from costspec.renderers import github_annotation
from clirun import run

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "specs").glob("*.yaml"))
INVALID = sorted((ROOT / "tests" / "specs" / "invalid").glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_are_valid(path: Path) -> None:
    assert validate(path) == []


def test_example_specs_give_the_published_figures() -> None:
    """Each example reproduces its source's figures (see the comments at the top of each file)."""
    palm = evaluate(load(ROOT / "specs" / "palm-540b.yaml")).estimate
    assert palm.model_flops == pytest.approx(2.56e24, rel=0.005)
    mosaic = evaluate(load(ROOT / "specs" / "mosaicml-7b.yaml")).estimate
    assert mosaic.gpu_hours == 11462 and mosaic.cost_usd == pytest.approx(25300, rel=0.005)
    llama = evaluate(load(ROOT / "specs" / "llama2-70b.yaml"))
    assert llama.estimate.co2e_kg is not None and llama.estimate.co2e_kg / 1000 == pytest.approx(291.42, abs=0.005)
    assert llama.estimate.mfu == pytest.approx(0.43, abs=0.01)
    assert llama.estimate.cost_usd is not None and llama.estimate.cost_usd > 3.5e6
    assert llama.estimate.tokens_per_param == pytest.approx(2e12 / 68.976648192e9)
    assert llama.kept is True
    alpaca = evaluate(load(ROOT / "specs" / "alpaca-7b-finetune.yaml"))
    assert alpaca.estimate.gpu_hours == pytest.approx(24) and alpaca.estimate.cost_usd is not None
    assert alpaca.estimate.cost_usd < 100 and alpaca.kept is True
    deepseek = evaluate(load(ROOT / "specs" / "deepseek-v3.yaml")).estimate
    assert deepseek.cost_usd == pytest.approx(5.576e6)


def test_invalid_corpus_is_large_enough() -> None:
    assert len(INVALID) >= 40


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_spec_reports_located_error(path: Path) -> None:
    """Each file's first line says which error it must produce: '# expect: LINE:COL text'."""
    first = path.read_bytes().split(b"\n", 1)[0].decode()
    m = re.match(r"# expect: (?:(\d+):(\d+) )?(.+)", first)
    assert m, f"{path.name}: no expectation line"
    errors = validate(path)
    assert errors, f"{path.name} should be invalid"
    hits = [e for e in errors if m.group(3) in e.format()]
    assert hits, f"{path.name}: no error contains {m.group(3)!r}: {[e.format() for e in errors]}"
    if m.group(1):
        assert (hits[0].line, hits[0].column) == (int(m.group(1)), int(m.group(2))), hits[0].format()
    assert all(e.file == str(path) for e in errors)


def test_schema_published_copy_is_shipped_identically(capsys: pytest.CaptureFixture[str]) -> None:
    from jsonschema import Draft202012Validator

    from costspec.schema import schema_text

    published = (ROOT / "schemas" / "costspec.schema.json").read_bytes()
    assert schema_text().encode() == published
    Draft202012Validator.check_schema(json.loads(published))
    code, out, _ = run(capsys, "schema")
    assert code == 0 and out.encode() == published


def test_yaml_12_semantics() -> None:
    spec = load_text(
        "costspec: 1\nname: no\nmodel: {params: 7e9}\ntraining: {tokens: 1e12}\nhardware: {gpu: h100, mfu: 0.4}\n"
    )
    assert spec.name == "no"  # YAML 1.1 would make this False
    assert spec.fields["model.params"] == 7e9 and spec.fields["training.tokens"] == 1e12


def test_json_specs_are_accepted(tmp_path: Path) -> None:
    f = tmp_path / "s.json"
    f.write_text(json.dumps({"costspec": 1, "model": {"preset": "llama2-7b"}, "hardware": {"gpu": "h100", "mfu": 0.4}}))
    assert validate(f) == []
    f.write_text('{"costspec": 1,\n "model": {"preset": "llama2-7b"},\n "hardware": {"gpu": "h100", "muf": 0.4}}')
    (err,) = [e for e in validate(f) if "muf" in e.message]
    assert (err.line, err.column) == (3, 30)


def test_oversize_file_is_rejected(tmp_path: Path) -> None:
    f = tmp_path / "big.yaml"
    f.write_text("costspec: 1\n" + "# padding\n" * 120_000)
    (err,) = validate(f)
    assert "larger than" in err.message


def test_load_returns_a_typed_spec_or_raises_every_error() -> None:
    spec = load(ROOT / "specs" / "llama2-70b.yaml")
    assert isinstance(spec, Spec) and spec.name == "llama2-70b-pretrain" and spec.points == 1
    assert spec.fields["hardware.gpu"] == "A100-80GB" and spec.fields["training.tokens"] == 2e12
    with pytest.raises(SpecError) as exc:
        load(INVALID[0].parent / "39-swept-twice.yaml")
    assert exc.value.errors and exc.value.line == 9


def test_sweep_points_and_axes() -> None:
    spec = load_text("""
costspec: 1
model: {preset: llama2-7b}
hardware: {mfu: 0.4}
sweep:
  grid:
    hardware.count: {range: [8, 64, 8]}
    model.params: {geomspace: [1B, 1T], num: 4}
    ratio: {linspace: [10, 30], num: 3}
  zip:
    - hardware.gpu: [h100, h200]
      price.usd_per_gpu_hour: [2.5, 3.5]
""")
    assert spec.points == 7 * 4 * 3 * 2
    axes = {a.name: a.materialise() for a in spec.sweep.axes}
    assert axes["hardware.count"] == [8, 16, 24, 32, 40, 48, 56]
    assert axes["model.params"] == pytest.approx([1e9, 1e10, 1e11, 1e12])
    assert axes["ratio"] == [10, 20, 30]


def test_estimate_spec_refuses_a_sweep(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "s.yaml"
    f.write_text("costspec: 1\nmodel: {preset: llama2-7b}\nhardware: {gpu: h100, mfu: 0.4}\n"
                 "sweep:\n  grid:\n    hardware.count: [8, 16]\n")
    code, _, err = run(capsys, "estimate", "--spec", str(f))
    assert code == 2 and f"{f}:4:1: sweep: this spec sweeps 2 points" in err


def test_estimate_spec_model_errors_are_located(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "s.yaml"
    f.write_text("costspec: 1\nmodel: {params: 7B}\ntraining:\n  tokens: 1T\n  convention: palm\n"
                 "hardware: {gpu: h100, mfu: 0.4}\n")
    code, _, err = run(capsys, "estimate", "--spec", str(f))
    assert code == 2 and f"{f}:5:15: training.convention: convention 'palm' needs architecture fields" in err


def test_field_expressions_and_derive_in_a_one_point_spec() -> None:
    spec = load_text("""
costspec: 1
model: {params: 1B}
training: {tokens: "=20 * model.params"}
hardware: {gpu: h100, mfu: 0.5}
derive: {tpp: training.tokens / model.params}
""")
    r = evaluate(spec)
    assert r.estimate.tokens == 20e9 and r.derived == {"tpp": 20.0}


# -- costspec validate ---------------------------------------------------------------------------


def test_validate_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "validate", str(ROOT / "specs"))
    assert code == 0 and f"{len(EXAMPLES)} files checked: {len(EXAMPLES)} valid, 0 invalid" in out
    code, out, _ = run(capsys, "validate", str(INVALID[0]), str(EXAMPLES[0]))
    assert code == 1 and "2 files checked: 1 valid, 1 invalid (1 error)" in out
    code, _, err = run(capsys, "validate", "no/such/file.yaml")
    assert code == 2 and "no such file or folder" in err
    code, _, err = run(capsys, "validate", str(ROOT / "specs" / "*.nothing"))
    assert code == 2 and "no files match" in err
    code, out, _ = run(capsys, "validate", str(ROOT / "specs" / "*.yaml"))
    assert code == 0


def test_validate_json_format(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "validate", "--format", "json", str(INVALID[3]), str(EXAMPLES[0]))
    data = json.loads(out)
    assert code == 1 and data["valid"] is False and data["checked"] == 2
    bad = next(f for f in data["files"] if not f["valid"])
    err = bad["errors"][0]
    assert {"file", "line", "column", "path", "message", "expected", "found"} <= err.keys()
    assert err["message"].startswith("unknown key 'cout'")


def test_validate_github_format(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    code, out, _ = run(capsys, "validate", str(INVALID[3]))
    line = out.splitlines()[0]
    assert code == 1 and line.startswith(f"::error file={INVALID[3]},line=6,col=3,title=costspec validate (CS201)::")
    code, out, _ = run(capsys, "validate", "--format", "text", str(INVALID[3]))
    assert not out.startswith("::error")


def test_github_annotation_escaping() -> None:
    e = SpecError("a,b:c.yaml", 3, 4, "x", "bad 100% value")
    assert github_annotation(e) == (
        "::error file=a%2Cb%3Ac.yaml,line=3,col=4,title=costspec validate (CS000)::x: bad 100%25 value"
    )
    # Control characters never reach the log raw (SpecError escapes them): no forged second command.
    e = SpecError("a\n::error file=x.yaml::b", 3, 4, "k\r\n::warning::forged", "bad\nnext")
    line = github_annotation(e)
    assert "\n" not in line and "\r" not in line and line.count("::error") == 1 and "::warning::" in line


def test_validate_does_not_import_the_rust_extension() -> None:
    code = (
        "import sys\n"
        "from costspec.cli import main\n"
        "try:\n"
        f"    main(['validate', {str(ROOT / 'specs')!r}])\n"
        "except SystemExit as e:\n"
        "    assert e.code == 0, e.code\n"
        "assert 'costspec._native' not in sys.modules, 'validate imported the extension'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


# -- fuzzing -------------------------------------------------------------------------------------

VALID_TEXT = (ROOT / "specs" / "llama2-70b.yaml").read_text()


def _only_spec_errors(text: str) -> None:
    errors = validate_text(text, "fuzz.yaml")
    assert all(isinstance(e, SpecError) for e in errors)
    try:
        load_text(text, "fuzz.yaml")
    except SpecError:
        pass


@settings(max_examples=300, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=400))
def test_fuzz_random_text(text: str) -> None:
    _only_spec_errors(text)


@st.composite
def mutations(draw: st.DrawFn) -> str:
    text = VALID_TEXT
    for _ in range(draw(st.integers(1, 6))):
        i = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["insert", "delete", "replace", "duplicate-line"]))
        piece = draw(st.sampled_from(["{", "}", "[", "]", ":", "-", " ", "\n", "&a ", "*a", "'", '"', "=", "1e999",
                                      "x", "\t", "!!", "<<: *a", "~", "0", "-1", "?", "#"]))
        if op == "insert":
            text = text[:i] + piece + text[i:]
        elif op == "delete":
            text = text[:i] + text[i + draw(st.integers(1, 8)):]
        elif op == "replace":
            text = text[:i] + piece + text[i + 1:]
        else:
            lines = text.splitlines(keepends=True)
            k = draw(st.integers(0, max(len(lines) - 1, 0)))
            text = "".join(lines[: k + 1] + lines[k:])
    return text


@settings(max_examples=400, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(mutations())
def test_fuzz_mutated_specs(text: str) -> None:
    _only_spec_errors(text)


@settings(max_examples=300, deadline=1000)
@given(st.text(alphabet="abcxyz._0123456789 +-*/()<>=!,andornt", max_size=60))
def test_fuzz_expressions(text: str) -> None:
    try:
        parse_expr(text)
    except ExprError:
        pass
