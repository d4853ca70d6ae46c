"""The command line as users run it: output, JSON keys, one-line errors and exit status 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import costspec

from clirun import run

REQUIRED_JSON_KEYS = {
    "params", "active_params", "tokens", "convention", "model_flops", "hardware_flops", "peak_tflops", "mfu",
    "hfu", "gpu_hours", "wall_clock_days", "cost_usd", "energy_kwh", "co2e_kg", "memory_gb_per_gpu", "fits",
    "min_gpus",
}


def test_done_when_palm_540b_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "estimate", "--model", "palm-540b", "--tokens", "780B", "--convention", "palm",
                       "--json", "--gpu", "tpu-v4", "--mfu", "0.462")
    assert code == 0
    data = json.loads(out)
    assert REQUIRED_JSON_KEYS <= data.keys()
    assert data["model_flops"] == pytest.approx(2.56e24, rel=0.005)
    assert data["convention"] == "palm"


def test_text_output_shows_formulas_and_sources(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "estimate", "--model", "llama2-70b", "--gpu", "a100-80gb", "--gpus", "2048",
                       "--gpu-hours", "1720320", "--provider", "lambda", "--pue", "1.1", "--grid-kg-per-kwh", "0.385")
    assert code == 0
    assert "6·N)·D" in out and "N=68.977B" in out and "D=2T" in out
    assert "implied" in out and "42.8%" in out and "1,720,320" in out
    assert "GPU-hours × $2.79/GPU-hour" in out
    assert "Lambda" in out and "as of" in out  # the price's source and date
    assert "Korthikanti" in out


def test_catalog_listing(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "catalog", "gpus")
    assert code == 0 and "H100-SXM" in out and "989.4" in out
    code, out, _ = run(capsys, "catalog", "models", "--json")
    assert code == 0 and any(m["id"] == "palm-540b" for m in json.loads(out))
    code, out, _ = run(capsys, "catalog", "prices", "--json")
    rows = json.loads(out)
    assert code == 0 and all(r["as_of"] and r["src"] for r in rows)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--tokens", "-5"], "--tokens: got -5, expected a number > 0"),
        (["--tokens", "0"], "--tokens: got 0"),
        (["--tokens", "12Q"], "--tokens: got '12Q', expected a number such as 7B"),
        (["--mfu", "1.5"], "--mfu: got 1.5, expected a fraction in (0, 1]"),
        (["--mfu", "0"], "--mfu: got 0"),
        (["--gpu", "h1000"], "--gpu: got 'h1000', expected a known GPU; closest: H100-SXM"),
        (["--model", "lama2-70b"], "--model: got 'lama2-70b', expected a known model preset; closest: llama2-70b"),
        (["--precision", "fp8", "--gpu", "a100"], "--precision: got fp8, expected a precision A100-80GB has"),
        (["--precision", "fp9"], "Invalid value for '--precision'"),
        (["--convention", "megatron", "--model", "deepseek-v3"], "needs architecture field ffn_dim"),
        (["--gpu-hours", "3"], "--gpu-hours: got mfu and gpu_hours, expected one of --mfu, --gpu-hours"),
        (["--provider", "nowhere"], "--provider: got 'nowhere', expected a known provider"),
        (["--gpus", "12", "--tp", "8"], "--gpus: got 12, expected a multiple of tensor × pipeline parallel (8)"),
        (["--pue", "0.9"], "--pue: got 0.9, expected a number >= 1"),
        (["--mode", "lora"], "--mode: mode lora needs the adapters' size (expected --lora-rank or --lora-fraction)"),
        (["--catalog", "/nonexistent/file.yaml"], "--catalog: /nonexistent/file.yaml:1:1: cannot read"),
        (["--bogus"], "No such option '--bogus'"),
    ],
)
def test_bad_input_is_one_line_exit_2(capsys: pytest.CaptureFixture[str], args: list[str], needle: str) -> None:
    base = {"--model": "llama2-7b", "--tokens": "1T", "--gpu": "h100", "--mfu": "0.4"}
    it = iter(args)
    for flag in it:
        base[flag] = next(it) if flag not in ("--bogus",) else ""
    argv = ["estimate"] + [x for kv in base.items() for x in kv if x != ""]
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("costspec estimate: error: "), err
    assert needle in err, err


def test_a_duration_needs_a_gpu(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "estimate", "--params", "7B", "--tokens", "1T", "--mfu", "0.4")
    assert code == 2 and err.count("\n") == 1
    assert "--mfu: got '0.4', expected a gpu to go with it (time and cost are measured against a GPU's peak)" in err
    code, _, err = run(capsys, "estimate", "--params", "7B", "--tokens", "1T", "--provider", "lambda")
    assert code == 2 and "--provider: got 'lambda', expected a gpu to go with it" in err


def test_flops_and_memory_without_hardware(capsys: pytest.CaptureFixture[str]) -> None:
    """A model and tokens give what they determine, and the breakdown names what time and cost need."""
    code, out, _ = run(capsys, "estimate", "--model", "llama2-70b", "--tokens", "2T")
    assert code == 0 and out.startswith("llama2-70b, pretrain, 2T tokens at bf16\n")
    assert "model FLOPs       8.277e+23" in out
    assert "GPU-hours                 -  give --gpu and one of --mfu, --gpu-hours, --wall-clock-days" in out
    assert "weights           137.95 GB" in out and "give --gpu to see whether it fits" in out
    code, out, _ = run(capsys, "estimate", "--model", "llama2-70b", "--tokens", "2T", "--json")
    d = json.loads(out)
    assert d["model_flops"] == pytest.approx(6 * 68976648192 * 2e12) and d["gpu"] is None
    assert d["gpu_hours"] is None and d["cost_usd"] is None and d["weights_gb"] == pytest.approx(137.953296384)
    code, out, _ = run(capsys, "estimate", "--model", "llama2-70b", "--tokens", "2T", "--gpu", "h100")
    assert code == 0 and "peak            989.4 TFLOP/s" in out and "min GPUs" in out
    assert "GPU-hours                   -  give one of --mfu, --gpu-hours, --wall-clock-days" in out
    # The model's FLOPs and memory are the same with and without the GPU.
    full = costspec.estimate(model="llama2-70b", tokens="2T", gpu="h100", mfu=0.4)
    bare = costspec.estimate(model="llama2-70b", tokens="2T")
    for k in ("model_flops", "hardware_flops", "weights_gb", "gradients_gb", "optimizer_gb", "activations_gb",
              "memory_gb_per_gpu", "tokens_per_param"):
        assert getattr(bare, k) == getattr(full, k), k


def test_user_catalog_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "mine.yaml"
    f.write_text(
        "gpus:\n"
        "  - id: Acme-X1\n"
        "    aliases: [x1]\n"
        "    peak_tflops: {bf16: 500, fp8: 1000}\n"
        "    memory_gb: 96\n"
        "    tdp_w: {value: 600, status: primary, src: Acme datasheet 2026}\n"
        "prices:\n"
        "  - {provider: AcmeCloud, gpu: Acme-X1, usd_per_gpu_hour: 1.5, as_of: 2026-11}\n"
    )
    code, out, _ = run(capsys, "estimate", "--params", "7B", "--tokens", "1T", "--gpu", "x1", "--mfu", "0.5",
                       "--provider", "acmecloud", "--catalog", str(f), "--json")
    assert code == 0
    data = json.loads(out)
    assert data["gpu"] == "Acme-X1" and data["peak_tflops"] == 500 and data["usd_per_gpu_hour"] == 1.5
    assert "Acme datasheet" in data["sources"]["watts"]


def test_bad_user_catalog_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text("gpus:\n  - id: A\n    peak_tflops: {bf17: 3}\n")
    code, _, err = run(capsys, "catalog", "gpus", "--catalog", str(f))
    # Located, never echoing the file's text (a catalog may be any file a spec points at).
    assert code == 2 and f"{f}:3:19: gpus[0].peak_tflops: an unknown precision" in err and "bf17" not in err
    f.write_text("gpus:\n  - id: A\n    id: B\n")
    code, _, err = run(capsys, "catalog", "gpus", "--catalog", str(f))
    assert code == 2 and f"{f}:3:" in err and "duplicate" in err.lower()


def test_console_script_never_prints_a_traceback() -> None:
    """The installed entry point: bad input gives exit 2 and no traceback."""
    proc = subprocess.run(
        [sys.executable, "-m", "costspec.cli", "estimate", "--params", "7B", "--tokens", "-1", "--gpu", "a100",
         "--mfu", "0.4"],
        capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip() == "costspec estimate: error: --tokens: got -1, expected a number > 0"
