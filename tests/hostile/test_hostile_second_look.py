"""Reproducers from the second hostile look (after the first round of fixes): each must stay fixed."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from harness import SPEC, call, cli, one_line_error, snapshot

import costspec
from costspec.errors import CostspecError, InputError

BASE = "costspec: 1\nmodel: {params: 7B}\ntraining: {tokens: 140B}\nhardware: {gpu: h100, mfu: 0.4}\n"


def _write(folder: Path, text: str, name: str = "s.yaml") -> Path:
    f = folder / name
    f.write_text(text)
    return f


# -- data loss ------------------------------------------------------------------------------------------

def test_a_sweep_never_writes_over_its_spec_or_includes(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # output.path is relative to the current folder
    (tmp_path / ".git").mkdir()
    cat = _write(tmp_path, "gpus: [{id: Acme-X1, peak_tflops: {bf16: 500}, memory_gb: 96}]\n", "cat.yaml")
    spec = _write(tmp_path, SPEC + "catalog: {include: [cat.yaml]}\noutput: {path: s.yaml, format: csv}\n")
    before = snapshot(tmp_path)
    code, _, err = cli(capsys, "sweep", str(spec))
    assert "a file this run reads" in one_line_error(code, err)
    code, _, err = cli(capsys, "sweep", str(spec), "-o", str(cat), "--format", "csv")
    assert "a file this run reads" in one_line_error(code, err)
    assert snapshot(tmp_path) == before


def test_a_name_cannot_lead_the_default_output_elsewhere(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("../../escaped", "a/b", "..", "x\\ny", "x\x00y"):
        spec = _write(tmp_path, SPEC + f"name: {name!r}\n".replace("'", '"'))
        code, out, _ = cli(capsys, "validate", str(spec))
        assert code == 1 and "plain file name" in out, (name, out)


def test_an_interrupt_between_the_two_renames_puts_the_previous_output_back(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from costspec import targets

    spec = _write(tmp_path, SPEC)
    out = tmp_path / "o.parquet"
    assert cli(capsys, "sweep", str(spec), "-o", str(out), "-q")[0] == 0
    before = snapshot(tmp_path)
    real = os.rename
    calls: list[tuple[Any, Any]] = []

    def rename(a: Any, b: Any) -> None:
        real(a, b)
        calls.append((a, b))
        if len(calls) == 1:  # the previous output has just gone aside
            raise KeyboardInterrupt

    monkeypatch.setattr(targets.os, "rename", rename)
    code, _, err = cli(capsys, "sweep", str(spec), "-o", str(out), "-q")
    assert code == 130 and "interrupted" in err
    monkeypatch.setattr(targets.os, "rename", real)
    assert snapshot(tmp_path) == before


def test_a_previous_output_a_killed_run_moved_aside_is_put_back(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = _write(tmp_path, SPEC)
    out = tmp_path / "o.parquet"
    assert cli(capsys, "sweep", str(spec), "-o", str(out), "-q")[0] == 0
    parts = snapshot(out)
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    aside = tmp_path / f".o.parquet.old-{p.pid}-0123abcd"  # killed between its two renames
    out.rename(aside)
    from costspec.targets import clean_stale

    clean_stale(out)
    assert snapshot(out) == parts and not aside.exists()


def test_long_names_are_written_and_failures_remove_created_folders(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    long = "L" * 250
    spec = _write(tmp_path, SPEC)
    out = tmp_path / "newp" / "deeper" / f"{long}.csv"
    code, _, err = cli(capsys, "sweep", str(spec), "-o", str(out), "--format", "csv", "-q")
    assert code == 0, err
    assert out.read_text().count("\n") == 3
    failing = _write(tmp_path, SPEC + "derive:\n  x: 1 / (hardware.count - 128)\n", "f.yaml")
    before = snapshot(tmp_path)
    code, _, err = cli(capsys, "sweep", str(failing), "-o", str(tmp_path / "n2" / "d" / f"{long}.csv"), "--format", "csv")
    assert "division by zero" in one_line_error(code, err)
    assert snapshot(tmp_path) == before


# -- leaks -------------------------------------------------------------------------------------------------

SECRET = "hunter2-password"


def test_catalog_figures_must_be_numbers_and_never_leak(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / ".git").mkdir()
    _write(tmp_path, f"models: [{{id: m, params: 1, training: {{tokens: {SECRET}}}}}]\n", "c.yaml")
    spec = _write(tmp_path, "costspec: 1\nmodel: {preset: m}\nhardware: {gpu: h100, mfu: 0.4}\n"
                            "catalog: {include: [c.yaml]}\n")
    for fmt in ("text", "json", "github"):
        code, out, err = cli(capsys, "validate", "--format", fmt, str(spec))
        assert code == 1 and SECRET not in out + err and "training.tokens" in out
    for args in (["estimate", "--spec", str(spec)], ["sweep", str(spec)], ["catalog", "models", "--catalog",
                                                                          str(tmp_path / "c.yaml")]):
        code, out, err = cli(capsys, *args)
        assert SECRET not in out + err
        one_line_error(code, err, many=True)


def test_names_from_catalog_files_are_never_suggested(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / ".git").mkdir()
    _write(tmp_path, f"gpus: [{{id: {SECRET}, peak_tflops: {{bf16: 1}}}}]\n"
                     f"prices: [{{provider: p, gpu: {SECRET[:-1]}e, usd_per_gpu_hour: 1}}]\n", "cs.yaml")
    _write(tmp_path, f"gpus: [{{id: {SECRET}, peak_tflops: {{bf16: 1}}}}]\n", "ok.yaml")
    spec = _write(tmp_path, "costspec: 1\nmodel: {params: 7B}\ntraining: {tokens: 1T}\n"
                            f"hardware: {{gpu: {SECRET[:-1]}x, mfu: 0.4}}\ncatalog: {{include: [ok.yaml]}}\n")
    for fmt in ("text", "json", "github"):
        code, out, _ = cli(capsys, "validate", "--format", fmt, str(spec))
        assert code == 1 and "unknown GPU" in out and SECRET not in out.replace(f"{SECRET[:-1]}x", "")
    code, out, err = cli(capsys, "catalog", "gpus", "--catalog", str(tmp_path / "cs.yaml"))
    assert "not a known GPU" in one_line_error(code, err) and SECRET[:-1] not in err


# -- forged lines ---------------------------------------------------------------------------------------------

def test_control_characters_never_reach_stdout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = _write(tmp_path, SPEC)
    evil = tmp_path / "evil\n::error file=x::forged.csv"
    code, out, err = cli(capsys, "sweep", str(spec), "-o", str(evil), "--format", "csv")
    assert code == 0 and not any(line.startswith("::error") for line in out.splitlines()), out
    code, out, _ = cli(capsys, "plan", str(spec))
    assert code == 0
    (tmp_path / ".git").mkdir()
    _write(tmp_path, 'gpus: [{id: "X1\\n::error file=y::forged", peak_tflops: {bf16: 1}}]\n', "cc.yaml")
    code, out, err = cli(capsys, "catalog", "gpus", "--catalog", str(tmp_path / "cc.yaml"))
    assert code == 2 and "control characters" in err and "::error file=y" not in out


# -- hangs and recursion ------------------------------------------------------------------------------------------

def test_repeated_double_stars_and_deep_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    deep = Path("gg", *["b"] * 30)
    deep.mkdir(parents=True)
    (deep / "x.yaml").write_text(BASE)
    code, out, err = call("validate", "gg/" + "**/" * 10 + "*.yaml", cwd=tmp_path)
    assert code == 0 and "1 file checked" in out, err
    levels = [Path("dd")]
    for _ in range(1500):  # (os.makedirs, and shutil.rmtree, recurse once per level)
        levels.append(levels[-1] / "a")
    for level in levels:
        level.mkdir()
    (levels[-1] / "x.yaml").write_text(BASE)
    try:
        for args in (["dd"], ["dd/**/*.yaml"]):
            code, out, err = call("validate", *args, cwd=tmp_path)
            assert code == 0 and "1 file checked" in out and "Traceback" not in err
    finally:  # pytest's own clean-up of tmp_path would hit the recursion limit
        (levels[-1] / "x.yaml").unlink()
        for level in reversed(levels):
            level.rmdir()


def test_specs_with_tens_of_thousands_of_names_validate_in_linear_time(tmp_path: Path) -> None:
    """5,000 variables and 5,000 unknown names: each error once, 'did you mean' for the first few
    (this took minutes when every error compared against every name and re-split the file)."""
    lines = [BASE.rstrip("\n"), "sweep:", "  grid:"] + [f"    v{i}: [1]" for i in range(5000)]
    lines += ["where:"] + [f'  - "zz{i} > 0"' for i in range(5000)]
    lines += ["derive:"] + [f"  d{i}: v{i} * 2" for i in range(5000)]
    spec = _write(tmp_path, "\n".join(lines) + "\n")
    started = time.monotonic()
    errors = costspec.validate(spec)
    assert len(errors) == 5000 and time.monotonic() - started < 120


def test_a_long_derive_chain_compiles(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    chain = ["derive:", "  d0: model.params * 0 + 8"] + [f"  d{i}: d{i - 1} + 0" for i in range(1, 1500)]
    spec = _write(tmp_path, BASE.replace("mfu: 0.4}", 'mfu: 0.4, count: "=d1499"}') + "\n".join(chain) + "\n")
    code, out, err = cli(capsys, "sweep", str(spec), "-o", str(tmp_path / "o.csv"), "--format", "csv", "-q")
    assert code == 0, err
    assert cli(capsys, "plan", str(spec))[0] == 0


# -- NUL, huge products, overflowing axes -------------------------------------------------------------------------

def test_nul_characters_are_located_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for extra in ('catalog: {include: ["a\\0b"]}\n', 'output: {path: "q\\0r.csv"}\n', 'name: "x\\0y"\n'):
        spec = _write(tmp_path, BASE + extra)
        code, out, err = cli(capsys, "validate", str(spec))
        assert code == 1 and "Traceback" not in err, out
        for args in (["estimate", "--spec", str(spec)], ["sweep", str(spec)]):
            one_line_error(*cli(capsys, *args)[::2], many=True)
    with pytest.raises(costspec.SpecError):
        costspec.load("a\0b.yaml")


def test_a_sweep_too_large_to_index_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    axes = "\n".join(f"    v{i}: {{range: [0, 100000000]}}" for i in range(5))
    spec = _write(tmp_path, BASE + "sweep:\n  grid:\n" + axes + "\n")
    code, out, _ = cli(capsys, "validate", str(spec))
    assert code == 1 and "a point index can count" in out
    code, _, err = cli(capsys, "sweep", str(spec), "--top", "1", "--by", "cost_usd", "--max-points", str(10**41))
    assert "a point index can count" in one_line_error(code, err)
    with pytest.raises(CostspecError):
        next(iter(costspec.iter_batches(spec)))


@pytest.mark.parametrize("name,axis,message", [
    ("x", "{linspace: [-1.7e308, 1.7e308], num: 3}", "further apart than the float range"),
    ("x", "{range: [-1.7e308, 1.7e308, 1e307]}", "beyond the float range"),
    ("hardware.count", "{geomspace: [1, 1000], num: 5}", "not a whole number"),
    ("hardware.count", "{linspace: [8, 17], num: 3}", "not a whole number"),
    ("hardware.count", "{range: [8, 40, 0.5]}", "found 39.5"),
    ("hardware.count", "{range: [8, 41.5, 0.5]}", "the step must be whole"),
])
def test_axes_that_would_write_nan_inf_or_fractions(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str,
                                                    axis: str, message: str) -> None:
    spec = _write(tmp_path, BASE + f"sweep: {{grid: {{{name}: {axis}}}}}\n")
    code, out, _ = cli(capsys, "validate", str(spec))
    assert code == 1 and message in out, out
    code, _, err = cli(capsys, "sweep", str(spec), "-o", str(tmp_path / "o.csv"), "--format", "csv")
    assert message in one_line_error(code, err)


# -- wrong results ---------------------------------------------------------------------------------------------------

def test_no_nan_hfu_and_no_null_tokens_per_param(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = cli(capsys, "estimate", "--params", "1e-200", "--tokens", "1e-200", "--gpu", "a100", "--mfu", "0.4")
    assert "--tokens" in one_line_error(code, err) and "round to 0" in err
    code, _, err = cli(capsys, "estimate", "--params", "5e-324", "--tokens", "1T", "--gpu", "h100", "--mfu", "0.4")
    assert "--params" in one_line_error(code, err)
    spec = _write(tmp_path, BASE.replace("7B", "5e-324") + "sweep: {grid: {hardware.count: [8]}}\n")
    code, _, err = cli(capsys, "sweep", str(spec), "-o", str(tmp_path / "o.csv"), "--format", "csv")
    assert "tokens_per_param" in one_line_error(code, err)
    code, out, _ = cli(capsys, "estimate", "--params", "7B", "--tokens", "1T", "--gpu", "h100", "--mfu", "0.4",
                       "--price=-0")
    assert code == 0 and "$-0" not in out and "$0" in out


def test_expressions_compute_with_numbers_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for text in ("training.precision + 1", "hardware.gpu * 1", "parallelism.zero + 1", "gpu + 0"):
        where = "where" if text.startswith("gpu") else "derive"
        extra = f'where: ["{text} > 0"]\n' if where == "where" else f'derive: {{z: "{text}"}}\n'
        spec = _write(tmp_path, BASE + "sweep: {grid: {hardware.count: [8]}}\n" + extra)
        code, out, _ = cli(capsys, "validate", str(spec))
        assert code == 1 and "is a name, not a number" in out, (text, out)


def test_estimate_and_sweep_take_the_same_implied_inputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = _write(tmp_path, BASE.replace("mfu: 0.4}", "mfu: 0.4, count: 8}") + "price: {provider: lambda}\n"
                  'derive: {z: "hardware.watts * 2", p: "price.usd_per_gpu_hour * model.active_params"}\n')
    code, out, _ = cli(capsys, "estimate", "--spec", str(spec), "--json")
    assert code == 0
    import json

    one = json.loads(out)
    table = costspec.sweep(spec)
    assert table.column("z").to_pylist() == [one["z"]] == [1400.0]
    assert table.column("p").to_pylist() == [one["p"]]
    epochs = _write(tmp_path, BASE.replace("tokens: 140B", "tokens: 1T, epochs: 2"), "e.yaml")
    code, out, _ = cli(capsys, "validate", str(epochs))
    assert code == 1 and "epochs multiply training.dataset_tokens" in out


# -- blame and types -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("args,flag", [
    (["--model", "llama2-7b", "--micro-batch", "1e308"], "--micro-batch"),
    (["--model", "llama2-7b", "--mode", "lora", "--lora-rank", "1e308"], "--lora-rank"),
    (["--params", "7B", "--tp", "1e308"], "--tp"),
    (["--params", "7B", "--arch", "gated_mlp=maybe"], "--arch gated_mlp"),
])
def test_errors_blame_the_flag_that_caused_them(capsys: pytest.CaptureFixture[str], args: list[str], flag: str) -> None:
    code, _, err = cli(capsys, "estimate", *args, "--tokens", "1T", "--gpu", "h100", "--mfu", "0.4")
    line = one_line_error(code, err)
    assert line.startswith(f"costspec estimate: error: {flag}") and len(line) < 300, line


def test_huge_numbers_are_shown_short(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "estimate", "--params", "7B", "--tokens", "1T", "--gpu", "h100", "--gpus", "8",
                       "--wall-clock-days", "1e-300")
    assert len(one_line_error(code, err)) < 400
    code, _, err = cli(capsys, "optimal", "--budget-usd", "1e308", "--price", "1e-308", "--gpu", "h100", "--mfu", "0.4")
    assert "--budget-usd" in one_line_error(code, err) and "got inf" not in err


@pytest.mark.parametrize("call_", [
    lambda: costspec.estimate(params="7B", tokens="1T", gpu="h100", mfu=0.4, architecture="x"),  # type: ignore[arg-type]
    lambda: costspec.estimate(params="7B", tokens="1T", gpu="h100", mfu=0.4, catalog="x"),  # type: ignore[arg-type]
    lambda: costspec.estimate(params="7B", tokens="1T", gpu="h100", mfu=0.4, provider=1.0),  # type: ignore[arg-type]
    lambda: costspec.estimate(params="7B", tokens="1T", gpu="h100", mfu=0.4, architecture={"gated_mlp": "maybe"}),
    lambda: costspec.solve("gpus", [1], params="7B", tokens="1T", gpu="h100", mfu=0.4),  # type: ignore[arg-type]
    lambda: costspec.solve(3, {"cost_usd": 1}, params="7B", tokens="1T", gpu="h100", mfu=0.4),  # type: ignore[arg-type]
    lambda: costspec.load(None),  # type: ignore[arg-type]
    lambda: costspec.validate({"a": 1}),  # type: ignore[arg-type]
    lambda: costspec.sweep(None),  # type: ignore[arg-type]
    lambda: list(costspec.iter_batches(3)),  # type: ignore[arg-type]
])
def test_api_wrong_types_are_input_errors(call_: Any) -> None:
    with pytest.raises(InputError):
        call_()


# -- the third look ----------------------------------------------------------------------------------------------------

def test_a_float_num_makes_its_axis(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = _write(tmp_path, '{"costspec": 1, "model": {"params": "7B"}, "training": {"tokens": "1T"}, '
                            '"hardware": {"gpu": "h100"}, "sweep": {"grid": {"hardware.mfu": '
                            '{"linspace": [0.3, 0.5], "num": 5.0}}}}', "s.json")
    assert costspec.load(spec).points == 5
    assert costspec.sweep(spec).num_rows == 5
    bad = _write(tmp_path, BASE + "sweep: {grid: {x: {range: [1, 10, 3], num: 2}}}\n")
    code, out, _ = cli(capsys, "validate", str(bad))
    assert code == 1 and "unknown key 'num' (expected one of range)" in out


@pytest.mark.parametrize("text,message", [
    ("%YAML 1.0\n---\n" + BASE, "YAML 1.2 expected"),
    ("%YAML 1.3\n---\n" + BASE, "YAML"),
])
def test_yaml_directives_the_reader_refuses(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str,
                                            message: str) -> None:
    spec = _write(tmp_path, text)
    _write(tmp_path, BASE, "ok.yaml")
    code, out, err = cli(capsys, "validate", str(tmp_path))
    assert code == 1 and message in out and "Traceback" not in err and "2 files checked" in out


@pytest.mark.parametrize("args,flag", [
    (["--params", "0", "--tokens", "1T"], "--params"),
    (["--params", "7B", "--dataset-tokens", "1T", "--epochs", "0"], "--epochs"),
    (["--params", "7B", "--dataset-tokens", "1T", "--epochs", "-2"], "--epochs"),
    (["--params", "7B", "--dataset-tokens", "1e200", "--epochs", "1e200"], "--epochs"),
    (["--params", "7B", "--tokens", "1T", "--lora-rank", "16"], "--lora-rank"),
    (["--model", "llama2-7b", "--tokens", "1T", "--mode", "lora", "--lora-rank", "1e300"], "--lora-rank"),
])
def test_more_inputs_blamed_right(capsys: pytest.CaptureFixture[str], args: list[str], flag: str) -> None:
    code, _, err = cli(capsys, "estimate", *args, "--gpu", "h100", "--mfu", "0.4")
    assert one_line_error(code, err).startswith(f"costspec estimate: error: {flag}:"), err


def test_catalog_figures_of_zero_and_odd_architectures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for text in ("gpus: [{id: Z, peak_tflops: {bf16: 0}}]\n", "gpus: [{id: Z, peak_tflops: {bf16: 1}, tdp_w: 0}]\n",
                 "models: [{id: m, params: 0}]\n", "models: [{id: m, params: 1, architecture: {layers: 0}}]\n",
                 "models: [{id: m, params: 1, training: [secret]}]\n"):
        f = _write(tmp_path, text, "c.yaml")
        code, out, err = cli(capsys, "catalog", "gpus", "--catalog", str(f))
        assert "expected" in one_line_error(code, err) and "secret" not in err
    for arch in ({"kv_heads": 64}, {"layers": 0.5}, {"experts": 2, "experts_per_token": 4}):
        with pytest.raises((costspec.InputError, costspec.ModelInputError)):
            costspec.estimate(model="llama2-7b", tokens="1T", gpu="h100", mfu=0.4, architecture=arch)


def test_solving_agrees_with_the_sweep_at_the_domain_edges(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = _write(tmp_path, "costspec: 1\nmodel: {params: 7B}\ntraining: {}\nhardware: {gpu: h100, mfu: 0.4, count: 8}\n"
                            "price: {usd_per_gpu_hour: 2}\nsweep: {grid: {x: [1e-20]}}\n"
                            'solve: {for: training.tokens, cost_usd: "=1e-300 * x"}\n')
    code, _, err = cli(capsys, "estimate", "--spec", str(spec))
    assert "impossible" in one_line_error(code, err)
    code, _, err = cli(capsys, "sweep", str(spec), "-o", str(tmp_path / "o.csv"), "--format", "csv")
    assert "impossible" in one_line_error(code, err)  # (a one-point solving sweep says why, as estimate does)
    many = _write(tmp_path, spec.read_text().replace("x: [1e-20]", "x: [1e-20, 2e-20]"), "many.yaml")
    code, _, err = cli(capsys, "sweep", str(many), "-o", str(tmp_path / "o.csv"), "--format", "csv")
    assert "has an answer" in one_line_error(code, err)
    scaled = _write(tmp_path, "costspec: 1\nmodel: {}\ntraining: {}\nhardware: {gpu: h100, mfu: 0.4, count: 8}\n"
                              'scaling: {fit: besiroglu2024, compute_flops: "=x"}\nsweep: {grid: {x: [1e-300]}}\n', "sc.yaml")
    code, _, err = cli(capsys, "estimate", "--spec", str(scaled))
    assert f"{scaled}:5:46: scaling.compute_flops" in one_line_error(code, err)
    code, _, err = cli(capsys, "sweep", str(scaled), "-o", str(tmp_path / "o.csv"), "--format", "csv")
    assert "compute-optimal split is at least one parameter" in one_line_error(code, err)
    code, _, err = cli(capsys, "estimate", "--params", "7B", "--tokens", "1T", "--gpu", "h100", "--mfu", "0.4",
                       "--tp", "1000000000000000", "--solve", "gpus", "--deadline-days", "30")
    assert code == 0, err


def test_provider_spellings_are_one_group(tmp_path: Path) -> None:
    spec = _write(tmp_path, "costspec: 1\nmodel: {params: 7B}\ntraining: {tokens: 1T}\nhardware: {gpu: h100, mfu: 0.4}\n"
                            "sweep: {grid: {price.provider: [Lambda, LAMBDA, lambda]}}\n")
    assert len(set(costspec.sweep(spec).column("provider").to_pylist())) == 1


def test_unwritable_stdout_and_ascii_terminals(tmp_path: Path) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    spec = _write(tmp_path, BASE + 'derive: {x: "1e400 * 1"}\n')
    for args in (["schema"], ["validate", str(spec)]):
        with open("/dev/full", "w") as full:
            proc = subprocess.run([sys.executable, "-m", "costspec.cli", *args], stdout=full, stderr=subprocess.PIPE,
                                  text=True, timeout=60)
        assert proc.returncode == 2 and "cannot write the output" in proc.stderr and "Traceback" not in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "costspec.cli", "validate", str(spec)], capture_output=True,
                          timeout=60, env={**os.environ, "PYTHONIOENCODING": "ascii"})
    assert proc.returncode == 1 and b"\\xb1" in proc.stdout and b"Traceback" not in proc.stderr


def test_paths_that_are_not_utf8(tmp_path: Path) -> None:
    spec = tmp_path / os.fsdecode(b"s\xfe.yaml")
    spec.write_text(SPEC)
    out = tmp_path / os.fsdecode(b"o\xfe.csv")
    code, _, err = call("sweep", str(spec), "-o", str(out), "--format", "csv", "-q")
    assert code == 0, err
    assert out.read_text().count("\n") == 3
    code, _, err = call("sweep", str(spec), "-o", str(tmp_path / os.fsdecode(b"p\xfe.parquet")), "-q")
    assert code == 0, err
    with open(tmp_path / os.fsdecode(b"p\xfe.parquet") / "part-00000.parquet", "rb") as f:  # (pyarrow takes UTF-8 paths only)
        assert pq.read_table(f).num_rows == 2


def test_more_api_inputs() -> None:
    with pytest.raises(InputError, match="digits"):
        costspec.estimate(params=10**5000, tokens="1T", gpu="h100", mfu=0.4)
    with pytest.raises(InputError):
        costspec.estimate(params="7B", tokens="1T", gpu="h100", mfu=0.4, architecture={1: 2})  # type: ignore[dict-item]
    for bad in (None, [3], [b"x.yaml"]):
        with pytest.raises(InputError):
            costspec.Catalog.load(bad)  # type: ignore[arg-type]
    with pytest.raises(costspec.CatalogError, match="nonexistent.yaml"):
        costspec.Catalog.load("nonexistent.yaml")  # one path, not its characters


def test_concurrent_sweeps_at_one_target(tmp_path: Path) -> None:
    """Eight sweeps at once to one Parquet target: each commits whole (one at a time), none fails
    half-way through another's renames, and one output with no temporaries is left."""
    from harness import child

    spec = _write(tmp_path, SPEC)
    procs = [child("sweep", str(spec), "-o", str(tmp_path / "o.parquet"), "-q") for _ in range(8)]
    results = [(p.communicate(timeout=120), p.returncode) for p in procs]
    assert all(code == 0 for _, code in results), results
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.parquet", "s.yaml"]
    assert pq.read_table(tmp_path / "o.parquet").num_rows == 2
