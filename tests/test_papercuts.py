"""What a new user hits (issue 10, item 5): each papercut as it behaves now."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv
import pyarrow.ipc
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clirun import run

import costspec
from costspec.spec import load_text

SPEC = """costspec: 1
model: {params: 7B}
training: {tokens: 140B}
hardware: {gpu: h100, mfu: 0.4}
price: {provider: lambda}
sweep: {grid: {hardware.count: [64, 128]}}
"""


def _spec(tmp_path: Path, text: str = SPEC, name: str = "s.yaml") -> Path:
    f = tmp_path / name
    f.write_text(text)
    return f


def test_the_format_follows_the_extension(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = _spec(tmp_path)
    for name, check in (("o.csv", lambda p: p.read_text().startswith('"')),
                        ("o.arrow", lambda p: pa.ipc.open_file(pa.memory_map(str(p))).read_all().num_rows == 2),
                        ("o.parquet", lambda p: p.is_dir() and pq.read_table(p).num_rows == 2),
                        ("o.out", lambda p: p.is_dir())):  # no format named: Parquet
        code, _, err = run(capsys, "sweep", str(spec), "-o", str(tmp_path / name), "-q")
        assert code == 0 and check(tmp_path / name), (name, err)
    code, _, err = run(capsys, "sweep", str(spec), "-o", str(tmp_path / "x.csv"), "--format", "parquet")
    assert code == 2 and "names a csv file, and --format says parquet" in err
    code, _, _ = run(capsys, "sweep", str(spec), "-o", str(tmp_path / "y.csv"), "--format", "csv", "-q")
    assert code == 0
    spec2 = _spec(tmp_path, SPEC + f"output: {{path: {tmp_path / 'z.csv'}}}\n", "s2.yaml")
    assert run(capsys, "sweep", str(spec2), "-q")[0] == 0 and (tmp_path / "z.csv").is_file()
    bad = _spec(tmp_path, SPEC + "output: {path: z.csv, format: parquet}\n", "s3.yaml")
    code, out, _ = run(capsys, "validate", str(bad))
    assert code == 1 and "names a csv file, and the format says parquet" in out


def test_whole_number_columns_are_int64(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = _spec(tmp_path, SPEC.replace("price: {provider: lambda}", "price: {provider: lambda}\nparallelism: {tensor: 8}")
                 .replace("model: {params: 7B}", "model: {preset: llama2-70b}")
                 + "output: {columns: [gpus, min_gpus, tensor_parallel, pipeline_parallel, micro_batch, data_parallel,"
                   " zero, cost_usd]}\n")
    table = costspec.sweep(spec)
    for name in ("gpus", "min_gpus", "tensor_parallel", "pipeline_parallel", "micro_batch", "data_parallel", "zero"):
        assert table.schema.field(name).type == pa.int64(), name
    assert table.column("gpus").to_pylist() == [64, 128] and table.column("data_parallel").to_pylist() == [8, 16]
    assert table.schema.field("cost_usd").type == pa.float64()
    # A GPU count null where the model never fits: null, not a sentinel.
    never = _spec(tmp_path, SPEC.replace("model: {params: 7B}", "model: {params: 5T}") + "output: {columns: [min_gpus]}\n"
                  "parallelism: {zero: 0}\n", "n.yaml")
    assert costspec.sweep(never).column("min_gpus").to_pylist() == [None, None]
    # Reduced in the engine, the same types.
    top = _spec(tmp_path, SPEC + "output: {keep: {top: 1, by: wall_clock_days}}\n", "t.yaml")
    assert costspec.sweep(top).schema.field("gpus").type == pa.int64()
    code, out, _ = run(capsys, "estimate", "--params", "7B", "--tokens", "1T", "--gpu", "h100", "--gpus", "8",
                       "--mfu", "0.4", "--json")
    assert '"gpus": 8,' in out


def test_spaces_include_their_ends_exactly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """geomspace takes end values, logspace base-10 exponents (numpy's meanings); the ends are the
    numbers written, so a where on them finds their rows."""
    base = (SPEC.replace("model: {params: 7B}", "model: {}")
            .replace("hardware: {gpu: h100, mfu: 0.4}", "hardware: {gpu: h100, mfu: 0.4, count: 64}"))
    for axis in ("{geomspace: [1B, 1T], num: 40}", "{logspace: [9, 12], num: 40}"):
        text = base.replace("sweep: {grid: {hardware.count: [64, 128]}}", f"sweep: {{grid: {{model.params: {axis}}}}}")
        params = costspec.sweep(load_text(text)).column("params").to_pylist()
        assert len(params) == 40 and params[0] == 1e9 and params[-1] == 1e12, axis
        assert [float(f"{v:.12g}") for v in params[::13]] == [1e9, 1e10, 1e11, 1e12]
        for end in ("1e9", "1e12"):
            assert costspec.sweep(load_text(text + f"where: ['params == {end}']\n")).num_rows == 1
    bad = _spec(tmp_path, SPEC.replace("sweep: {grid: {hardware.count: [64, 128]}}",
                                       "sweep: {grid: {model.params: {logspace: [1B, 1T], num: 4}}}"))
    code, out, _ = run(capsys, "validate", str(bad))
    assert code == 1 and ":6:42:" in out and "logspace takes base-10 exponents" in out and "geomspace" in out, out


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["linspace", "geomspace", "logspace"]),
       st.floats(-300, 300), st.floats(-300, 300), st.integers(1, 50))
def test_the_engine_generates_the_spaces_as_the_spec_reads_them(kind: str, a: float, b: float, n: int) -> None:
    """Every generated value, bit for bit: rust/engine/ir.rs and spec.Axis.value_at are one formula."""
    if kind == "geomspace":
        a, b = 10 ** (a / 10), 10 ** (b / 10)
    text = ("costspec: 1\nmodel: {params: 7B}\ntraining: {tokens: 1T}\nhardware: {gpu: h100, mfu: 0.4, count: 8}\n"
            f"sweep: {{grid: {{k: {{{kind}: [{a!r}, {b!r}], num: {n}}}}}}}\noutput: {{columns: [k]}}\n")
    s = load_text(text)
    got = costspec.sweep(s).column("k").to_pylist()
    assert got == s.sweep.grid[0].materialise()
    if kind != "logspace":
        assert got[0] == a and got[-1] == (b if n > 1 else a)


NO_HARDWARE = """costspec: 1
model: {preset: llama2-70b}
training: {tokens: 2T}
sweep: {grid: {training.recompute: [none, full]}}
"""


def test_a_spec_without_hardware_gives_flops_and_memory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = _spec(tmp_path, NO_HARDWARE)
    code, out, _ = run(capsys, "validate", str(spec))
    assert code == 0, out
    code, out, err = run(capsys, "sweep", str(spec), "-o", str(tmp_path / "o.parquet"))
    assert code == 0, err
    assert "no time or cost: no hardware.gpu (FLOPs and memory only)" in out
    t = pq.read_table(tmp_path / "o.parquet")
    assert t.column_names == ["model", "params", "active_params", "tokens", "precision", "model_flops",
                              "hardware_flops", "memory_gb_per_gpu", "memory_basis", "recompute", "activations_gb"]
    assert set(t.column("memory_basis").to_pylist()) == {"preset"}
    flops = t.column("hardware_flops").to_pylist()
    n = 68976648192
    assert flops[0] == pytest.approx(6 * n * 2e12) and flops[1] == pytest.approx(8 * n * 2e12)  # full recompute: +1 forward
    # One evaluation path: the one-point estimate of each row is the row.
    for row in t.to_pylist():
        e = costspec.estimate(model="llama2-70b", tokens="2T", recompute=row["recompute"])
        assert (e.model_flops, e.hardware_flops, e.memory_gb_per_gpu, e.activations_gb) == \
            (row["model_flops"], row["hardware_flops"], row["memory_gb_per_gpu"], row["activations_gb"])
    code, out, _ = run(capsys, "estimate", "--spec", str(_spec(tmp_path, NO_HARDWARE.split("sweep")[0], "one.yaml")))
    assert code == 0 and "GPU-hours                 -  give --gpu and one of --mfu" in out


@pytest.mark.parametrize("extra,column,why", [
    ("where: [cost_usd < 1e6]\n", "cost_usd", "no hardware.gpu"),
    ("output: {columns: [model_flops, gpu_hours]}\n", "gpu_hours", "no hardware.gpu"),
    ("hardware: {gpu: h100}\nwhere: [wall_clock_days < 30]\n", "wall_clock_days",
     "no hardware.mfu, gpu_hours or wall_clock_days"),
])
def test_time_and_cost_without_gpu_or_duration_are_located_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                   extra: str, column: str, why: str) -> None:
    spec = _spec(tmp_path, NO_HARDWARE + extra)
    code, out, _ = run(capsys, "validate", str(spec))
    assert code == 1 and f"{column}' has no value in this spec ({why})" in out.replace(f"{column} has", f"{column}' has") \
        and "[CS306]" in out
    code, _, err = run(capsys, "sweep", str(spec), "-o", str(tmp_path / "o.parquet"))
    assert code == 2 and f"{column}' has no value in this spec ({why})" in err.replace(f"{column} has", f"{column}' has")


def test_a_gpu_without_a_duration_gives_its_peak_and_the_memory_verdict(tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    spec = _spec(tmp_path, "costspec: 1\nmodel: {params: 7B}\ntraining: {tokens: 1T}\nhardware: {gpu: h100}\n")
    code, out, err = run(capsys, "sweep", str(spec), "-o", str(tmp_path / "o.csv"))
    assert code == 0, err
    assert "no time or cost: no hardware.mfu, gpu_hours or wall_clock_days (FLOPs and memory only)" in out
    t = pa.csv.read_csv(tmp_path / "o.csv")
    assert t.column("fits").to_pylist() == [False] and t.column("min_gpus").to_pylist() == [2]
    assert "gpu_hours" not in t.column_names and "cost_usd" not in t.column_names


def test_a_gpu_count_without_a_duration_is_timed_by_its_layout(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """With a GPU count the step-time model predicts the MFU (issue 12)."""
    spec = _spec(tmp_path, "costspec: 1\nmodel: {params: 7B}\ntraining: {tokens: 1T}\nhardware: {gpu: h100}\n"
                           "sweep: {grid: {hardware.count: [1, 8]}}\n")
    code, out, err = run(capsys, "sweep", str(spec), "-o", str(tmp_path / "o.csv"))
    assert code == 0, err
    assert "no time or cost" not in out
    t = pa.csv.read_csv(tmp_path / "o.csv")
    assert t.column("fits").to_pylist() == [False, True] and t.column("min_gpus").to_pylist() == [2, 2]
    for r in t.to_pylist():
        e = costspec.estimate(params="7B", tokens="1T", gpu="h100", gpus=r["gpus"])
        assert (r["mfu"], r["step_time_s"], r["gpu_hours"]) == \
            (pytest.approx(e.mfu, rel=1e-12), pytest.approx(e.step_time_s, rel=1e-12), pytest.approx(e.gpu_hours, rel=1e-12))
    assert 0.2 < t.column("mfu")[1].as_py() < 0.7


def test_solving_for_compute_needs_no_hardware(capsys: pytest.CaptureFixture[str]) -> None:
    s = costspec.solve("tokens", {"model_flops": 1e23}, params="7B")
    assert s.value == pytest.approx(1e23 / (6 * 7e9)) and s.estimate.gpu is None
    with pytest.raises(costspec.SolveError, match="a budget needs the run's duration"):
        costspec.solve("tokens", {"cost_usd": 1e6}, params="7B", usd_per_gpu_hour=2)
    code, _, err = run(capsys, "estimate", "--params", "7B", "--solve", "tokens", "--budget-usd", "1e6")
    assert code == 2 and "--budget-usd: a budget needs the run's duration" in err


# -- found by a hostile second look at the one evaluation path ------------------------------------

def test_quoted_numbers_beyond_the_float_range_are_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """'1e400' in quotes matched the schema's number pattern and was then dropped as not given."""
    spec = _spec(tmp_path, 'costspec: 1\nmodel: {params: 7B}\ntraining: {tokens: 1T}\n'
                           'hardware: {gpu: h100, mfu: 0.4, watts: "1e400"}\nprice: {usd_per_gpu_hour: "1__0"}\n')
    code, out, _ = run(capsys, "validate", str(spec))
    assert code == 1 and "s.yaml:4:40: hardware.watts: not a finite number" in out and "[CS301]" in out
    assert "s.yaml:5:27: price.usd_per_gpu_hour: malformed number" in out and "[CS106]" in out
    code, _, err = run(capsys, "estimate", "--spec", str(spec))
    assert code == 2 and "not a finite number" in err


def test_columns_a_swept_input_adds_only_when_they_have_values(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """validate passed, sweep refused: peak_tflops (swept precision, no GPU) and data_parallel
    (swept TP, no count) were added to the written columns without values."""
    spec = _spec(tmp_path, "costspec: 1\nmodel: {preset: llama2-70b}\n"
                           "sweep: {grid: {training.precision: [bf16, fp8], parallelism.tensor: [1, 2]}}\n")
    code, _, _ = run(capsys, "validate", str(spec))
    assert code == 0
    code, _, err = run(capsys, "sweep", str(spec), "-o", str(tmp_path / "o.csv"))
    assert code == 0, err
    names = pa.csv.read_csv(tmp_path / "o.csv").column_names
    assert "peak_tflops" not in names and "data_parallel" not in names and "activations_gb" in names


def test_fits_is_null_without_a_device_memory_in_every_output(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """A user GPU without memory_gb: fits was null in estimate and false in sweeps."""
    (tmp_path / "cat.yaml").write_text("gpus:\n  - id: Acme-X1\n    peak_tflops: {bf16: 100}\n")
    spec = _spec(tmp_path, "costspec: 1\ncatalog: {include: [cat.yaml]}\nmodel: {params: 7B}\ntraining: {tokens: 1T}\n"
                           "hardware: {gpu: acme-x1, mfu: 0.4}\nsweep: {grid: {hardware.count: [8, 16]}}\n")
    for name in ("o.parquet", "o.csv", "o.arrow"):
        code, _, err = run(capsys, "sweep", str(spec), "-o", str(tmp_path / name), "-q")
        assert code == 0, err
    assert pq.read_table(tmp_path / "o.parquet").column("fits").to_pylist() == [None, None]
    assert pa.csv.read_csv(tmp_path / "o.csv").column("fits").null_count == 2
    assert pa.ipc.open_file(pa.memory_map(str(tmp_path / "o.arrow"))).read_all().column("fits").to_pylist() == [None] * 2
    assert costspec.sweep(costspec.load(spec)).column("fits").to_pylist() == [None, None]
    one = _spec(tmp_path, (tmp_path / "s.yaml").read_text().replace("sweep: {grid: {hardware.count: [8, 16]}}\n", ""),
                "one.yaml")
    assert costspec.sweep(costspec.load(one)).column("fits").to_pylist() == [None]


@pytest.mark.parametrize("training,where,needs", [
    ("{tokens: 134B, recompute: selective}", "3:37: training.recompute", "recompute 'selective' needs architecture"),
    ("{tokens: 134B, convention: palm}", "3:38: training.convention", "convention 'palm' needs architecture"),
    ("{tokens: 134B, convention: megatron}", "3:38: training.convention", "convention 'megatron' needs"),
    ("{tokens: 134B, mode: lora, lora_rank: 8}", "3:38: training.lora_rank", "LoRA by rank needs architecture"),
])
def test_what_needs_an_architecture_is_checked_by_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                           training: str, where: str, needs: str) -> None:
    """validate passed these; estimate --spec then failed at the wrong place (training.convention)."""
    spec = _spec(tmp_path, f"costspec: 1\nmodel: {{params: 7B}}\ntraining: {training}\n")
    code, out, _ = run(capsys, "validate", str(spec))
    assert code == 1 and f"s.yaml:{where}: {needs}" in out and "[CS601]" in out
    code, _, err = run(capsys, "estimate", "--spec", str(spec))
    assert code == 2 and needs in err
    # With a preset that has the fields, or the fields given, it is fine.
    ok = _spec(tmp_path, f"costspec: 1\nmodel: {{preset: llama2-7b}}\ntraining: {training}\n", "ok.yaml")
    assert run(capsys, "validate", str(ok))[0] == 0


def test_a_minimum_gpu_count_past_2_to_the_52_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """It was written as int64's largest value (9223372036854775807)."""
    spec = _spec(tmp_path, "costspec: 1\nmodel: {params: 1e26, architecture: {layers: 1, d_model: 128, heads: 1, "
                           "seq_len: 128}}\ntraining: {tokens: 1e12}\nhardware: {gpu: h100, mfu: 1}\n")
    code, _, err = run(capsys, "sweep", str(spec), "-o", str(tmp_path / "o.csv"))
    assert code == 2 and "params: got 1e+26, expected a model whose minimum GPU count is at most 4.5e15" in err
    assert not (tmp_path / "o.csv").exists()


def test_estimate_keywords_meet_the_spec_rules(capsys: pytest.CaptureFixture[str]) -> None:
    """estimate() and its flags skipped the spec checker: these were accepted or mis-explained."""
    for args, needle in (
        (["--model", "llama2-70b", "--gpu", "h100", "--wall-clock-days", "10"], "--wall-clock-days: wall_clock_days needs --gpus"),
        (["--model", "llama2-7b", "--mode", "lora", "--lora-rank", "16", "--lora-fraction", "0.1"], "not both"),
        (["--params", "7B", "--tokens", "1T", "--price", "-5"], "--price: got -5, expected a number >= 0"),
        (["--params", "7B", "--tokens", "1T", "--pue", "0.5"], "--pue: got 0.5, expected a number >= 1"),
        (["--params", "7B", "--tokens", "1T", "--arch", "layerz=3"], "--arch layerz=...: unknown key 'layerz' (did you mean 'layers'?)"),
        (["--model", "llama2-7b", "--arch", "layers=1.5"], "--arch layers=...: got 1.5, expected a whole number"),
    ):
        code, _, err = run(capsys, "estimate", *args)
        assert code == 2 and needle in err and err.count("\n") == 1, (args, err)
    with pytest.raises(costspec.InputError, match="nothing: the allocation chooses params and tokens"):
        costspec.scaling.allocation("besiroglu2024", budget_usd=1e6, gpu="h100", mfu=0.4, tokens=5)
    with pytest.raises(costspec.ModelInputError, match="a dollar budget needs a price"):
        costspec.scaling.allocation("besiroglu2024", budget_usd=1e6, gpu="h100", mfu=0.4)
    with pytest.raises(costspec.InputError, match="tokens-per-param fit"):
        costspec.optimal("besiroglu2024", 1e23, 5)


def test_whole_counts_are_checked_by_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The schema says > 0; a count must also be whole (the engine refused 2.5 GPUs at run time)."""
    spec = _spec(tmp_path, "costspec: 1\nmodel: {preset: llama2-7b, architecture: {layers: 1.5}}\n"
                           "training: {micro_batch: 1.5}\nhardware: {gpu: h100, mfu: 0.4, count: 2.5}\n")
    code, out, _ = run(capsys, "validate", str(spec))
    assert code == 1 and out.count("expected a whole number from 1 to 4.5e15") == 3 and "[CS205]" in out


def test_the_breakdown_shows_huge_figures_short_and_the_right_hint(capsys: pytest.CaptureFixture[str],
                                                                   tmp_path: Path) -> None:
    code, out, _ = run(capsys, "estimate", "--params", "1e150", "--tokens", "1e150", "--gpu", "h100", "--mfu", "1",
                       "--gpus", "4e15", "--price", "1e10", "--goodput", "1")
    assert code == 0 and max(len(line) for line in out.splitlines() if not line.startswith("  peak_tflops:")) < 200
    assert "$1.685e+292" in out and "5e+125 GB" in out
    (tmp_path / "cat.yaml").write_text("gpus:\n  - id: Acme-X1\n    peak_tflops: {bf16: 100}\n    memory_gb: 80\n")
    code, out, _ = run(capsys, "estimate", "--params", "7B", "--tokens", "1T", "--gpu", "acme-x1", "--mfu", "0.4",
                       "--grid-kg-per-kwh", "0.4", "--catalog", str(tmp_path / "cat.yaml"))
    assert code == 0 and "CO2e                      -  needs the energy: give --watts" in out


def test_estimate_spec_reads_stdin_and_a_free_budget_is_refused(tmp_path: Path) -> None:
    import subprocess
    import sys

    spec = "costspec: 1\nmodel: {preset: llama2-70b}\nhardware: {gpu: a100-80gb, mfu: 0.4}\n"
    proc = subprocess.run([sys.executable, "-m", "costspec.cli", "estimate", "--spec", "-", "--set", "hardware.mfu=0.5"],
                          input=spec, capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0 and "MFU                   50.0%  given" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "costspec.cli", "estimate", "--spec", "-"], input="model: 5\n",
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2 and "<stdin>:1:8: model: wrong type" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "costspec.cli", "estimate", "--params", "7B", "--gpu", "h100", "--mfu",
                           "0.4", "--price", "0", "--solve", "tokens", "--budget-usd", "1e6"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2 and "--price: a budget at a price of 0 fixes nothing" in proc.stderr


def test_gpu_counts_the_layout_cannot_use_are_refused_by_validate(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """validate passed a count that is not a multiple of TP·PP·lcm(CP, EP); sweep then failed at
    the point, without a file position."""
    spec = _spec(tmp_path, "costspec: 1\nmodel: {preset: mixtral-8x7b}\ntraining: {tokens: 1T}\n"
                           "hardware: {gpu: h100, mfu: 0.4, count: 12}\nparallelism: {context: 2, expert: 8}\n")
    code, out, _ = run(capsys, "validate", str(spec))
    assert code == 1 and "s.yaml:4:40: hardware.count: out of range (expected a multiple of tensor × pipeline " \
                         "parallel × lcm(context, expert parallel) (8); found 12) [CS205]" in out
    code, _, err = run(capsys, "sweep", str(spec), "-o", str(tmp_path / "o.csv"))
    assert code == 2 and "s.yaml:4:40" in err
    swept = _spec(tmp_path, "costspec: 1\nmodel: {preset: llama2-7b}\nhardware: {gpu: h100, mfu: 0.4}\n"
                            "parallelism: {tensor: 8}\nsweep: {grid: {hardware.count: [8, 12, 16]}}\n", "w.yaml")
    code, out, _ = run(capsys, "validate", str(swept))
    assert code == 1 and "w.yaml:5:36: sweep.grid.hardware.count[1]: out of range" in out


def test_the_summary_shows_the_columns_its_rows_differ_in(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """One row per recompute and TP showed neither column: four identical-looking rows."""
    spec = _spec(tmp_path, "costspec: 1\nmodel: {preset: llama2-7b}\ntraining: {tokens: 1T}\n"
                           "hardware: {gpu: h100, mfu: 0.4, count: 64}\nprice: {provider: lambda}\n"
                           "sweep: {grid: {training.recompute: [none, full], parallelism.tensor: [1, 2]}}\n")
    code, out, _ = run(capsys, "sweep", str(spec), "-o", str(tmp_path / "o.csv"))
    assert code == 0 and "one row per recompute, tensor_parallel" in out
    header = next(line for line in out.splitlines() if line.strip().startswith("model"))
    assert header.split()[:5] == ["model", "params", "tokens", "recompute", "tensor_parallel"]


def test_an_expression_python_warns_about_is_a_located_error_and_no_warning() -> None:
    """'1if 2 else 3' made Python print '<unknown>:1: SyntaxWarning: invalid decimal literal'."""
    import warnings

    from costspec.spec import validate_text

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        errors = validate_text('costspec: 1\nmodel: {params: 7B}\ntraining: {tokens: 1T}\nderive: {x: "1if 2 else 3"}\n')
    assert len(errors) == 1 and errors[0].message.startswith("bad expression: syntax error")
