"""The layout search (issue 12, item 3): the engine's answer is the fastest fitting layout a plain
Python enumeration of the same candidates finds, the degrees given are kept, and a point with no
layout is a null row with fits false."""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import pyarrow.csv as pcsv
import pytest

import costspec
from clirun import run


def swept_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str) -> list[dict[str, Any]]:
    """The rows of a spec's sweep, written to CSV by the command line (which must succeed)."""
    spec = tmp_path / "s.yaml"
    spec.write_text(text)
    code, _, err = run(capsys, "sweep", str(spec), "-o", str(tmp_path / "o.csv"))
    assert code == 0, err
    rows: list[dict[str, Any]] = pcsv.read_csv(tmp_path / "o.csv").to_pylist()
    return rows


def brute_force(gpus: int, domain: int, allowed: dict[str, list[Any]] | None = None, tp_within_domain: bool = False,
                **kw: Any) -> tuple[float, dict[str, Any]] | None:
    """Every candidate of rust/model/search.rs evaluated one by one through costspec.estimate
    (``allowed``: the values listed per degree instead of the defaults)."""
    arch = kw["architecture"]
    heads, kv, layers = arch["heads"], arch.get("kv_heads", arch["heads"]), arch["layers"]
    allowed = allowed or {}
    tps = [t for t in allowed.get("tensor_parallel", [t for t in (1, 2, 4, 8, 16, 32, 64) if t <= min(domain, 64)])
           if heads % t == 0 and (kv % t == 0 or t % kv == 0) and not (tp_within_domain and t > domain)]
    pps = [p for p in allowed.get("pipeline_parallel", (1, 2, 4, 8, 16, 32, 64, 128)) if p <= layers]
    best: tuple[float, dict[str, Any]] | None = None
    for t, p, b, r, z in itertools.product(tps, pps, allowed.get("micro_batch", (1, 2)),
                                           allowed.get("recompute", ("none", "selective", "full")),
                                           allowed.get("zero", (1, 3))):
        if gpus % (t * p):
            continue
        vs = [v for v in allowed.get("interleave", [1] if p == 1 else (1, 2, 4))
              if v == 1 or p > 1 and math.ceil(layers / p) % v == 0]
        for v in vs:
            layout = dict(tensor_parallel=t, pipeline_parallel=p, micro_batch=b, recompute=r, zero=z, interleave=v)
            try:
                e = costspec.estimate(gpus=gpus, **kw, **layout)
            except costspec.InputError:
                continue  # (no step: the batch)
            if e.fits and e.step_time_s is not None and e.global_batch_tokens:
                per_token = e.step_time_s / e.global_batch_tokens  # (layouts round the batch differently)
                if best is None or per_token < best[0] * (1 - 1e-12):
                    best = (per_token, layout)
    return best


CASES = [
    dict(params="7B", architecture={"layers": 32, "d_model": 4096, "heads": 32, "kv_heads": 8, "ffn_dim": 11008,
                                     "vocab": 32000, "seq_len": 4096, "gated_mlp": True},
         tokens="1T", gpu="h100", global_batch_tokens="4M"),
    dict(params="70B", architecture={"layers": 80, "d_model": 8192, "heads": 64, "kv_heads": 8, "ffn_dim": 28672,
                                      "vocab": 32000, "seq_len": 4096, "gated_mlp": True},
         tokens="2T", gpu="a100-80gb", global_batch_tokens="4M"),
]


@pytest.mark.parametrize("case,gpus", [(0, 64), (0, 512), (1, 256), (1, 2048)])
def test_the_search_finds_the_fastest_fitting_layout(case: int, gpus: int) -> None:
    kw = CASES[case]
    e = costspec.estimate(gpus=gpus, layout="auto", **kw)
    want = brute_force(gpus, 8, **kw)
    assert want is not None and e.step_time_s is not None
    assert e.global_batch_tokens is not None
    assert e.step_time_s / e.global_batch_tokens == pytest.approx(want[0], rel=1e-12), \
        (e.tensor_parallel, e.pipeline_parallel, want)
    assert e.fits and e.layout_candidates is not None and e.layout_candidates >= 100
    # The answer is a layout like any other: evaluated explicitly, it is the same run.
    again = costspec.estimate(gpus=gpus, **kw, tensor_parallel=e.tensor_parallel, pipeline_parallel=e.pipeline_parallel,
                              micro_batch=e.micro_batch, recompute=e.recompute, zero=e.zero, interleave=e.interleave)
    assert again.step_time_s == e.step_time_s and again.gpu_hours == e.gpu_hours


def test_the_search_keeps_to_the_values_allowed() -> None:
    """Lists of allowed values replace a degree's default candidates (TP 16 beyond the 8-GPU
    domain included, over the scale-out network, unless TP is kept within the domain); the answer
    is the fastest of exactly those candidates."""
    kw = CASES[0]
    allowed: dict[str, list[Any]] = {"tensor_parallel": [1, 2, 16], "pipeline_parallel": [1, 2], "micro_batch": [1, 4],
                                     "recompute": ["full"], "zero": [2, 3], "interleave": [1, 2]}
    for within in (False, True):
        e = costspec.estimate(gpus=128, layout="auto", tp_within_domain=within, **allowed, **kw)
        want = brute_force(128, 8, allowed, tp_within_domain=within, **kw)
        assert want is not None and e.step_time_s is not None and e.global_batch_tokens is not None
        assert e.step_time_s / e.global_batch_tokens == pytest.approx(want[0], rel=1e-12), (e, want)
        assert e.tensor_parallel in allowed["tensor_parallel"] and e.pipeline_parallel in (1, 2)
        assert e.micro_batch in (1, 4) and e.recompute == "full" and e.zero in (2, 3) and e.interleave in (1, 2)
        # (TPs × micro-batches × ZeRO stages × (PP 1 at interleave 1, PP 2 at interleave 1 or 2))
        assert e.layout_candidates == (2 if within else 3) * 2 * 2 * (1 + 2)
    # (one allowed value is that value)
    one = costspec.estimate(gpus=128, layout="auto", tensor_parallel=[2], **kw)
    assert one.tensor_parallel == 2


def test_allowed_values_need_layout_auto(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "estimate", "--model", "llama2-70b", "--gpu", "h100", "--gpus", "1024", "--tp", "4,8")
    assert code == 2 and err.count("\n") == 1 and "--tp: a list of allowed values for --tp is for the layout search" \
        in err and "--layout auto" in err
    code, out, err = run(capsys, "estimate", "--model", "llama2-70b", "--gpu", "h100", "--gpus", "1024", "--layout",
                         "auto", "--tp", "4,8", "--recompute", "none,full", "--zero", "1,fsdp", "--json")
    assert code == 0, err
    import json
    d = json.loads(out)
    assert d["tensor_parallel"] in (4, 8) and d["recompute"] in ("none", "full") and d["zero"] in (1, 3)
    code, _, err = run(capsys, "estimate", "--model", "llama2-70b", "--gpu", "h100", "--gpus", "1024", "--layout",
                       "auto", "--recompute", "none,most")
    assert code == 2 and "'most' is not one of none, selective, full" in err
    code, _, err = run(capsys, "estimate", "--model", "llama2-70b", "--gpu", "h100", "--gpus", "1024", "--layout",
                       "auto", "--tp", "2,")
    assert code == 2 and "empty value" in err
    spec = tmp_path / "s.yaml"
    spec.write_text("costspec: 1\nmodel: {preset: llama2-70b}\nhardware: {gpu: h100, count: 1024}\n"
                    "parallelism: {tensor: [1, 2, '=3'], pipeline: [2, 4]}\n"
                    "training: {micro_batch: [], recompute: [none, most]}\n")
    code, out, _ = run(capsys, "validate", str(spec))
    assert code == 1
    lines = out.splitlines()
    assert any("s.yaml:4:30: parallelism.tensor[2]: an allowed value is a plain value" in x and "[CS604]" in x
               for x in lines), out
    assert any("s.yaml:5:25: training.micro_batch: too few items" in x for x in lines), out
    assert any("s.yaml:5:47: training.recompute[1]: not an accepted value (expected one of none, selective, full"
               in x for x in lines), out
    spec.write_text("costspec: 1\nmodel: {preset: llama2-70b}\nhardware: {gpu: h100, count: 1024}\n"
                    "parallelism: {pipeline: [2, 4]}\n")
    code, out, _ = run(capsys, "validate", str(spec))
    assert code == 1 and "s.yaml:4:25: parallelism.pipeline: a list of allowed values" in out and "[CS604]" in out
    code, _, err = run(capsys, "sweep", str(spec), "-o", str(tmp_path / "o.csv"))
    assert code == 2 and not (tmp_path / "o.csv").exists()


def test_a_sweep_searches_the_values_allowed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = swept_rows(tmp_path, capsys, "costspec: 1\nmodel: {preset: llama2-70b}\nhardware: {gpu: h100}\n"
                      "parallelism: {layout: auto, tensor: [4, 8], zero: [1]}\ntraining: {micro_batch: [1]}\n"
                      "sweep: {grid: {hardware.count: [512, 1024, 2048]}}\n")
    assert len(rows) == 3 and all(r["tensor_parallel"] in (4, 8) and r["zero"] == 1 and r["micro_batch"] == 1
                                  for r in rows)
    for r in rows:
        e = costspec.estimate(model="llama2-70b", gpu="h100", gpus=r["gpus"], layout="auto", tensor_parallel=[4, 8],
                              zero=[1], micro_batch=[1])
        assert r["step_time_s"] == pytest.approx(e.step_time_s, rel=1e-15)


def test_tp_within_the_domain(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """TP 16 on 8-GPU NVLink domains crosses the scale-out network (allowed by default); where
    the user keeps TP within a domain, it is a located error (the search leaves it out)."""
    base = dict(model="llama2-70b", gpu="h100", gpus=1024, pipeline_parallel=4)
    across = costspec.estimate(tensor_parallel=16, **base)
    inside = costspec.estimate(tensor_parallel=8, **base)
    assert across.tp_comm_s is not None and inside.tp_comm_s is not None and across.tp_comm_s > inside.tp_comm_s
    code, _, err = run(capsys, "estimate", "--model", "llama2-70b", "--gpu", "h100", "--gpus", "1024", "--tp", "16",
                       "--tp-within-domain")
    assert code == 2 and err.count("\n") == 1
    assert "--tp: TP 16 is wider than the scale-up domain of H100-SXM (8 GPUs), which --tp-within-domain forbids" in err
    spec = tmp_path / "s.yaml"
    spec.write_text("costspec: 1\nmodel: {preset: llama2-70b}\nhardware: {gpu: h100, count: 1024}\n"
                    "parallelism: {tensor: 16, tp_within_domain: true}\n")
    code, out, _ = run(capsys, "validate", str(spec))
    assert code == 1 and "s.yaml:4:23: parallelism.tensor: TP 16 is wider" in out and "[CS603]" in out
    # A domain given is the one checked; an expression is checked at its point by the engine.
    spec.write_text("costspec: 1\nmodel: {preset: llama2-70b}\nhardware: {gpu: h100, count: 1024, scale_up_domain: 16}\n"
                    "parallelism: {tensor: 16, tp_within_domain: true}\n")
    code, out, _ = run(capsys, "validate", str(spec))
    assert code == 0, out
    spec.write_text("costspec: 1\nmodel: {preset: llama2-70b}\nhardware: {gpu: h100}\n"
                    "parallelism: {tensor: '=hardware.count / 64', tp_within_domain: true}\n"
                    "sweep: {grid: {hardware.count: [512, 1024]}}\n")
    code, _, err = run(capsys, "sweep", str(spec), "-o", str(tmp_path / "o.csv"))
    assert code != 0 and "tensor_parallel: got 16, expected at most the scale-up domain's 8 GPUs" in err
    assert not (tmp_path / "o.csv").exists()


def test_degrees_given_are_kept() -> None:
    e = costspec.estimate(gpus=512, layout="auto", tensor_parallel=8, recompute="full", **CASES[1])
    assert e.tensor_parallel == 8 and e.recompute == "full"
    free = costspec.estimate(gpus=512, layout="auto", **CASES[1])
    assert free.tokens_per_s is not None and e.tokens_per_s is not None and free.tokens_per_s >= e.tokens_per_s


def test_no_layout_is_an_error_or_a_null_row(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # (a 1B model on 16,384 GPUs still has a layout, TP 8 · PP 8, at a low MFU; on 2^20 none is left)
    code, out, err = run(capsys, "estimate", "--params", "1B", "--tokens", "20B", "--gpu", "h100", "--gpus", "1048576",
                         "--layout", "auto")
    assert code == 2 and out == "" and err.count("\n") == 1 and "layout" in err
    spec = tmp_path / "s.yaml"
    spec.write_text("costspec: 1\nmodel: {params: 1B}\ntraining: {tokens: 20B}\nhardware: {gpu: h100}\n"
                    "parallelism: {layout: auto}\nsweep: {grid: {hardware.count: [8, 1048576]}}\n")
    code, _, err = run(capsys, "sweep", str(spec), "-o", str(tmp_path / "o.csv"))
    assert code == 0, err
    rows = pcsv.read_csv(tmp_path / "o.csv").to_pylist()
    assert rows[0]["step_time_s"] > 0 and rows[0]["fits"] is True
    assert rows[1]["step_time_s"] is None and rows[1]["fits"] is False and rows[1]["mfu"] is None
    assert all(rows[1][c] is None for c in ("tensor_parallel", "pipeline_parallel", "data_parallel", "zero",
                                            "micro_batch", "interleave"))
    assert rows[1]["recompute"] in (None, "")  # (a null category: an empty CSV field)
    spec.write_text("costspec: 1\nmodel: {params: 1B}\ntraining: {tokens: 20B}\nhardware: {gpu: h100, count: 8}\n"
                    "sweep: {grid: {parallelism.layout: [explicit, auto]}}\n")
    code, out, _ = run(capsys, "validate", str(spec))
    assert code == 1 and "cannot be swept" in out


def test_a_sweep_row_is_the_one_point_answer(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text("costspec: 1\nmodel: {preset: llama2-70b}\nhardware: {gpu: h100}\nparallelism: {layout: auto}\n"
                    "sweep: {grid: {hardware.count: [512, 1024, 2048]}}\n")
    code, _, err = run(capsys, "sweep", str(spec), "-o", str(tmp_path / "o.csv"))
    assert code == 0, err
    for r in pcsv.read_csv(tmp_path / "o.csv").to_pylist():
        e = costspec.estimate(model="llama2-70b", gpu="h100", gpus=r["gpus"], layout="auto")
        assert r["step_time_s"] == pytest.approx(e.step_time_s, rel=1e-15) and r["gpu_hours"] == pytest.approx(e.gpu_hours, rel=1e-15)


def test_layout_auto_needs_a_count_and_no_solve(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text("costspec: 1\nmodel: {preset: llama2-70b}\nhardware: {gpu: h100}\nparallelism: {layout: auto}\n")
    code, out, _ = run(capsys, "validate", str(spec))
    assert code == 1 and "s.yaml:4:" in out and "auto needs hardware.count" in out and "[CS601]" in out
    spec.write_text("costspec: 1\nmodel: {preset: llama2-70b}\nhardware: {gpu: h100, mfu: 0.4}\n"
                    "parallelism: {layout: auto}\nsolve: {for: hardware.count, wall_clock_days: 30}\n")
    code, out, _ = run(capsys, "validate", str(spec))
    assert code == 1 and "cannot be combined with solve.for" in out and "[CS603]" in out
    code, _, err = run(capsys, "estimate", "--model", "llama2-70b", "--gpu", "h100", "--mfu", "0.4", "--solve", "gpus",
                       "--deadline-days", "30", "--layout", "auto")
    assert code == 2 and "--layout" in err and err.count("\n") == 1


def test_a_domain_given_is_the_one_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """TPU v4 has no scale-out figure; its pods are 4,096 chips, but a spec's 8-chip domain makes a
    16-chip job span two: the scale-out figure is then needed (never a NaN in the output)."""
    spec = tmp_path / "s.yaml"
    spec.write_text("costspec: 1\nmodel: {preset: llama2-7b}\nhardware: {gpu: tpu-v4, scale_up_domain: 8}\n"
                    "sweep: {grid: {hardware.count: [4, 8, 16, 64]}}\n")
    code, out, _ = run(capsys, "validate", str(spec))
    assert code == 1 and "scale-out bandwidth" in out and "[CS506]" in out


def test_a_failed_search_sweep_leaves_the_previous_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A sweep that searches layouts writes parts of 4,096 points (both cores work): one that fails
    in a later part leaves the previous output exactly as it was."""
    out = tmp_path / "o.parquet"
    base = ("costspec: 1\nmodel: {params: 7B}\ntraining: {tokens: 140B}\nhardware: {gpu: h100}\n"
            "parallelism: {layout: auto}\nsweep: {grid: {hardware.count: {range: [8, 72008, 8]}}}\n"
            "output: {columns: [gpus, step_time_s]}\n")
    spec = tmp_path / "s.yaml"
    spec.write_text(base)
    code, _, err = run(capsys, "sweep", str(spec), "-o", str(out))
    assert code == 0, err
    parts = sorted(out.iterdir())
    assert len([p for p in parts if p.suffix == ".parquet"]) == 2
    before = {p.name: p.read_bytes() for p in parts}
    spec.write_text(base.replace("output: {columns: [gpus, step_time_s]}",
                                 "derive: {bad: '1 / (hardware.count - 70000)'}\noutput: {columns: [gpus, bad]}"))
    code, _, err = run(capsys, "sweep", str(spec), "-o", str(out))
    assert code != 0 and "division by zero" in err
    assert {p.name: p.read_bytes() for p in sorted(out.iterdir())} == before


# -- a hostile trial of the search's lists, the domain rule and fp8 (each a regression test) ---------

def test_allowed_values_none_of_which_can_be_valid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Selective recomputation without an architecture (its FLOPs need the attention's shape), TPs
    dividing no heads: no layout, said with the values the search kept to (was: a Rust panic)."""
    code, out, err = run(capsys, "estimate", "--params", "7B", "--tokens", "1T", "--gpu", "h100", "--gpus", "64",
                         "--layout", "auto", "--recompute", "selective,selective")
    assert code == 2 and out == "" and err.count("\n") == 1 and "kept to recompute selective:" in err
    code, _, err = run(capsys, "estimate", "--model", "llama2-7b", "--tokens", "1T", "--gpu", "h100", "--gpus", "64",
                       "--layout", "auto", "--tp", "3,5")
    assert code == 2 and "kept to --tp 3,5: allow other values" in err
    with pytest.raises(costspec.InputError, match="kept to recompute selective"):
        costspec.estimate(params="7B", tokens="1T", gpu="h100", gpus=64, layout="auto", recompute=["selective"])
    spec = tmp_path / "s.yaml"
    spec.write_text("costspec: 1\nmodel: {params: 7B}\ntraining: {tokens: 1T, recompute: [selective]}\n"
                    "hardware: {gpu: h100}\nparallelism: {layout: auto}\nsweep: {grid: {hardware.count: [64, 128]}}\n")
    code, _, err = run(capsys, "sweep", str(spec), "-o", str(tmp_path / "o.csv"))
    assert code == 0, err
    assert all(r["fits"] is False and r["tensor_parallel"] is None for r in pcsv.read_csv(tmp_path / "o.csv").to_pylist())


def test_a_list_with_a_solve_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "estimate", "--model", "llama2-70b", "--gpu", "h100", "--tp", "4,8", "--mfu", "0.4",
                       "--solve", "gpus", "--deadline-days", "30")
    assert code == 2 and err.count("\n") == 1 and "--tp: got a list, expected one value: a solve keeps one layout" in err
    with pytest.raises(costspec.InputError, match="a solve keeps one layout"):
        costspec.solve("gpus", {"wall_clock_days": 30}, model="llama2-70b", gpu="h100", mfu=0.4, tensor_parallel=[4, 8])


def test_moe_lora_searches_expert_parallelism() -> None:
    """LoRA on a mixture of experts: EP splits the frozen experts; listed EPs are searched (were dropped)."""
    kw = dict(model="mixtral-8x7b", tokens="1T", gpu="h100", gpus=64, mode="lora", lora_rank=16, layout="auto")
    e = costspec.estimate(**kw, expert_parallel=[4, 8])  # type: ignore[arg-type]
    assert e.expert_parallel in (4, 8) and e.fits
    free = costspec.estimate(**kw)  # type: ignore[arg-type]
    assert free.tokens_per_s is not None and e.tokens_per_s is not None and free.tokens_per_s >= e.tokens_per_s


def test_layout_auto_needs_the_network_even_with_an_mfu(capsys: pytest.CaptureFixture[str]) -> None:
    """The search times every layout: a GPU without network figures is a located error, a
    duration given or not (was: a KeyError in the report)."""
    code, out, err = run(capsys, "estimate", "--model", "llama2-7b", "--tokens", "1T", "--gpu", "rtx-4090",
                         "--gpus", "64", "--layout", "auto", "--mfu", "0.4")
    assert code == 2 and out == "" and err.count("\n") == 1 and "scale-out bandwidth" in err and "Traceback" not in err
    assert "a duration given or not" in err


def test_lists_of_allowed_values_hold_at_most_256(capsys: pytest.CaptureFixture[str]) -> None:
    many = ",".join(str(k) for k in range(1, 301))
    code, _, err = run(capsys, "estimate", "--model", "llama2-7b", "--tokens", "1T", "--gpu", "h100", "--gpus", "64",
                       "--layout", "auto", "--tp", many)
    assert code == 2 and err.count("\n") == 1 and "--tp: too many items (expected at most 256 allowed values" in err
    with pytest.raises(costspec.ModelInputError, match="too many items"):
        costspec.estimate(model="llama2-7b", tokens="1T", gpu="h100", gpus=64, layout="auto", tensor_parallel=[4] * 300)
    code, _, err = run(capsys, "estimate", "--model", "llama2-7b", "--tokens", "1T", "--gpu", "h100", "--gpus", "64",
                       "--layout", "auto", "--tp", "2,0")
    assert code == 2 and "--tp (value 2): out of range" in err


def test_tp_within_a_domain_needs_the_domain(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "mine.yaml"
    f.write_text("gpus:\n  - id: Acme-X1\n    peak_tflops: {bf16: 500}\n    memory_gb: 96\n    bandwidth_tbps: 3\n")
    code, _, err = run(capsys, "estimate", "--params", "7B", "--tokens", "1T", "--gpu", "Acme-X1", "--gpus", "8",
                       "--mfu", "0.4", "--tp", "2", "--tp-within-domain", "--catalog", str(f))
    assert code == 2 and err.count("\n") == 1 and "no GPUs per scale-up domain (scale_up_domain)" in err
    spec = tmp_path / "s.yaml"
    spec.write_text(f"costspec: 1\ncatalog: {{include: [{f.name}]}}\nmodel: {{params: 7B}}\ntraining: {{tokens: 1T}}\n"
                    "hardware: {gpu: Acme-X1, count: 8, mfu: 0.4}\nparallelism: {tensor: 2, tp_within_domain: true}\n")
    code, out, _ = run(capsys, "validate", str(spec))
    assert code == 1 and "s.yaml:6:" in out and "[CS506]" in out


def test_fp8_is_never_slower_than_bf16_nor_above_its_peak(tmp_path: Path) -> None:
    """Gaudi 3's fp8 and bf16 peaks are equal: fp8 GEMMs are not timed below bf16 ones. A GPU whose
    fp8 peak is below its bf16 peak still has an MFU of at most 1."""
    kw = dict(model="llama2-70b", gpu="gaudi3", gpus=64, tensor_parallel=8, pipeline_parallel=2, global_batch_tokens="4M")
    bf16 = costspec.estimate(**kw, precision="bf16")  # type: ignore[arg-type]
    fp8 = costspec.estimate(**kw, precision="fp8")  # type: ignore[arg-type]
    assert bf16.step_time_s is not None and fp8.step_time_s is not None and fp8.step_time_s <= bf16.step_time_s
    f = tmp_path / "odd.yaml"
    f.write_text("gpus:\n  - id: Odd-1\n    peak_tflops: {bf16: 1000, fp8: 600}\n    memory_gb: 192\n"
                 "    bandwidth_tbps: 5\n    scale_up_domain: 8\n    scale_up_gb_per_s: 450\n    scale_out_gbps: 400\n")
    odd = costspec.estimate(params="7B", tokens="1T", gpu="Odd-1", gpus=8, precision="fp8",
                            catalog=costspec.Catalog.load([f]))
    assert odd.mfu is not None and 0 < odd.mfu <= 1


def test_a_swept_domain_rule_is_a_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = swept_rows(tmp_path, capsys, "costspec: 1\nmodel: {preset: llama2-70b}\nhardware: {gpu: h100, count: 1024}\n"
                      "parallelism: {layout: auto, tensor: [4, 16]}\n"
                      "sweep: {grid: {parallelism.tp_within_domain: [false, true]}}\n")
    assert [r["tp_within_domain"] for r in rows] == [False, True]
    assert rows[1]["tensor_parallel"] == 4  # (TP 16 crosses the 8-GPU domain: left out)


def test_a_zero_stage_written_as_a_string_is_that_stage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`zero: "3"` is ZeRO 3 (was refused with "did you mean '3'?"), in a value and in a list."""
    spec = tmp_path / "s.yaml"
    spec.write_text('costspec: 1\nmodel: {preset: llama2-7b}\nhardware: {gpu: h100, count: 64, mfu: 0.4}\n'
                    'parallelism: {zero: "3"}\n')
    code, out, _ = run(capsys, "validate", str(spec))
    assert code == 0, out
    assert costspec.estimate(model="llama2-7b", gpu="h100", gpus=64, mfu=0.4, zero="3").zero == 3
    spec.write_text('costspec: 1\nmodel: {preset: llama2-7b}\nparallelism: {zero: "4"}\n')
    code, out, _ = run(capsys, "validate", str(spec))
    assert code == 1 and "did you mean" not in out and "expected one of 0, 1, 2, 3, fsdp" in out


def test_a_gpu_without_network_figures_is_located_at_its_own_value(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text("costspec: 1\nmodel: {preset: llama2-7b}\nhardware: {count: 64}\nsweep:\n  grid:\n"
                    "    hardware.gpu: [H100-SXM, A100-80GB, MI250X]\n")
    code, out, _ = run(capsys, "validate", str(spec))
    assert code == 1 and "s.yaml:6:41: sweep.grid.hardware.gpu[2]: MI250X has no" in out and "[CS506]" in out
