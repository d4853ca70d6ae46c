"""Sweeps: plans, index decoding, grid/zip/range semantics, engine results against the one-point
model, thread-count independence, filtering, output files and their failure modes."""

from __future__ import annotations

import itertools
import json
import math
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import costspec
from clirun import run
from costspec.plan import compile_spec
from costspec.spec import load_text
from costspec.runner import SweepFailed, evaluate_only, iter_batches, sweep, write

ROOT = Path(__file__).resolve().parent.parent

SMALL = """
costspec: 1
name: small
model: {preset: llama2-7b}
training: {tokens: "=ratio * model.params"}
hardware: {mfu: 0.4}
energy: {pue: 1.1, grid_kg_co2e_per_kwh: 0.385}
sweep:
  zip:
    - hardware.gpu: [h100, a100]
      price.provider: [lambda, runpod]
  grid:
    ratio: [10, 20, 40]
    hardware.count: {range: [8, 40, 8]}
derive:
  tpp: training.tokens / model.params
"""


def test_plan_counts_and_decodes_in_mixed_radix() -> None:
    plan = compile_spec(load_text(SMALL))
    assert plan.points == 2 * 3 * 4
    assert [names for names, _ in plan.axes] == [
        ("hardware.gpu", "price.provider"), ("ratio",), ("hardware.count",)]
    # Point i: the zip group varies slowest, the GPU count fastest.
    expected = list(itertools.product(
        [("H100-SXM", "lambda"), ("A100-80GB", "runpod")], [10.0, 20.0, 40.0], [8.0, 16.0, 24.0, 32.0]))
    for i, ((gpu, prov), tpp, count) in enumerate(expected):
        assert plan.decode(i) == {"hardware.gpu": gpu, "price.provider": prov, "ratio": tpp,
                                  "hardware.count": count}


def test_sweep_rows_match_the_one_point_model() -> None:
    table = sweep(load_text(SMALL))
    assert table.num_rows == 24
    for row in table.to_pylist():
        e = costspec.estimate(model="llama2-7b", tokens=row["tokens"], gpu=row["gpu"], gpus=row["gpus"], mfu=0.4,
                              provider=row["provider"], pue=1.1, grid_kg_co2e_per_kwh=0.385)
        d = e.to_dict()
        for k in ("model_flops", "hardware_flops", "gpu_hours", "wall_clock_days", "cost_usd", "energy_kwh", "co2e_kg",
                  "memory_gb_per_gpu", "fits", "min_gpus", "usd_per_gpu_hour", "peak_tflops"):
            if k in row:
                if d[k] is None or isinstance(d[k], bool):
                    assert row[k] == d[k], (k, row, d[k])
                else:
                    assert row[k] == pytest.approx(d[k], rel=1e-12), (k, row, d[k])
        assert row["tpp"] == pytest.approx(row["ratio"])


def _expand(axis: dict[str, object]) -> list[float]:
    """A plain-Python reading of the axis forms, from the spec documentation."""
    if "linspace" in axis:
        a, b = axis["linspace"]  # type: ignore[misc]
        n = axis["num"]
        return [a + (b - a) * i / (n - 1) for i in range(n)] if n > 1 else [a]  # type: ignore[operator]
    if "geomspace" in axis:
        a, b = axis["geomspace"]  # type: ignore[misc]
        n = axis["num"]
        return [a * (b / a) ** (i / (n - 1)) for i in range(n)] if n > 1 else [a]  # type: ignore[operator]
    if "logspace" in axis:  # base-10 exponents, as numpy
        a, b = axis["logspace"]  # type: ignore[misc]
        n = axis["num"]
        return [10 ** (a + (b - a) * i / (n - 1)) for i in range(n)] if n > 1 else [10**a]  # type: ignore[operator]
    start, stop, *step = axis["range"]  # type: ignore[misc]
    step = step[0] if step else 1
    out, x = [], start
    while (x < stop) if step > 0 else (x > stop):
        out.append(x)
        x = start + len(out) * step
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from([
        {"linspace": [0.3, 0.55], "num": 6}, {"linspace": [0.5, 0.5], "num": 1}, {"geomspace": [0.01, 1.0], "num": 5},
        {"logspace": [-2, 0], "num": 5}, {"geomspace": [0.3, 0.3], "num": 1},
        {"range": [0.1, 1.0, 0.2]}, {"range": [0.9, 0.1, -0.25]}, [0.2, 0.4, 0.6],
    ]),
    st.lists(st.integers(1, 64), min_size=1, max_size=5, unique=True),
)
def test_grid_and_zip_semantics_against_plain_python(mfu_axis: object, counts: list[int]) -> None:
    text = (
        "costspec: 1\nmodel: {params: 1B}\ntraining: {tokens: 20B}\nhardware: {}\n"
        "sweep:\n  zip:\n    - hardware.gpu: [h100, b200]\n      price.usd_per_gpu_hour: [3, 6]\n"
        f"  grid:\n    hardware.mfu: {json.dumps(mfu_axis)}\n    hardware.count: {json.dumps(counts)}\n"
    )
    table = sweep(load_text(text))
    mfus = mfu_axis if isinstance(mfu_axis, list) else _expand(mfu_axis)  # type: ignore[arg-type]
    expect = [(g, p, m, c) for (g, p), m, c in itertools.product([("H100-SXM", 3), ("B200", 6)], mfus, counts)]
    got = [(r["gpu"], r["usd_per_gpu_hour"], r["mfu"], r["gpus"]) for r in table.to_pylist()]
    assert [(g, p, c) for g, p, _, c in got] == [(g, p, c) for g, p, _, c in expect]
    assert [m for *_, m, _ in got] == pytest.approx([m for *_, m, _ in expect], rel=1e-12)


def test_output_is_identical_whatever_the_thread_count() -> None:
    spec = load_text(SMALL.replace("range: [8, 40, 8]", "range: [8, 20000, 8]") + 'where: ["wall_clock_days < 30"]\n')
    one = sweep(spec, threads=1)
    two = sweep(spec, threads=2)
    assert one.num_rows == two.num_rows > 0
    assert one.equals(two)
    assert evaluate_only(compile_spec(spec), threads=2) == one.num_rows


def test_where_filters_points() -> None:
    spec = load_text(SMALL + 'where: ["wall_clock_days <= 60", "ratio >= 20"]\n')
    table = sweep(spec)
    everything = sweep(load_text(SMALL)).to_pylist()
    keep = [r for r in everything if r["wall_clock_days"] <= 60 and r["ratio"] >= 20]
    assert table.to_pylist() == keep
    assert 0 < table.num_rows < len(everything)


def test_iter_batches_streams() -> None:
    batches = list(iter_batches(load_text(SMALL)))
    assert sum(b.num_rows for b in batches) == 24


def test_division_by_zero_names_the_point() -> None:
    spec = load_text(SMALL + "  x: 1 / (ratio - 20)\n")
    with pytest.raises(SweepFailed) as e:
        sweep(spec)
    message = str(e.value)
    assert "division by zero in x = '1 / (ratio - 20)'" in message
    assert "point 4 " in message and "ratio=20" in message and "hardware.gpu=H100-SXM" in message


def whole_distinct(out: Path, column: str) -> bool:
    values = pq.read_table(out, columns=[column]).column(column).to_pylist()
    return len(set(values)) == len(values)


def test_parquet_opens_in_duckdb_with_metadata(tmp_path: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    spec = load_text(SMALL)
    out = tmp_path / "small.parquet"
    summary = write(compile_spec(spec), out)
    assert summary.kept == 24 and out.is_dir()
    rows = duckdb.sql(f"select gpu, count(*) n, min(cost_usd) from read_parquet('{out}/*.parquet') "
                      "group by gpu order by gpu").fetchall()
    assert [(g, n) for g, n, _ in rows] == [("A100-80GB", 12), ("H100-SXM", 12)]
    meta = dict(duckdb.sql(f"select decode(key), decode(value) from parquet_kv_metadata('{out}/*.parquet')").fetchall())
    assert meta["costspec.spec"] == spec.text and len(meta["costspec.spec_sha256"]) == 64
    assert "gpus@" in meta["costspec.catalog"] and meta["costspec.version"]
    schema = pq.read_schema(next(out.glob("*.parquet")))
    assert pa.types.is_dictionary(schema.field("gpu").type) and schema.field("cost_usd").type == pa.float64()
    # Dictionary encoding on the categorical columns and on columns whose values recur (the GPU
    # count: a few values repeated), not on those whose values are all distinct.
    md = pq.ParquetFile(next(out.glob("*.parquet"))).metadata.row_group(0)
    encodings = {md.column(i).path_in_schema: md.column(i).encodings for i in range(md.num_columns)}
    assert any("DICTIONARY" in e or "RLE_DICTIONARY" in e for e in encodings["gpu"])
    assert any("DICTIONARY" in e for e in encodings["gpus"])
    assert whole_distinct(out, "wall_clock_days")
    assert not any("DICTIONARY" in e for e in encodings["wall_clock_days"])
    # Columns that never lack a value are required (no definition levels); those that can are not.
    assert not schema.field("params").nullable and not schema.field("gpu").nullable
    assert schema.field("cost_usd").nullable  # (null where a predicted MFU has no layout, in other specs)
    assert schema.field("energy_kwh").nullable and schema.field("fits").nullable
    # Every reader gets the same rows (pandas and polars where installed).
    whole = pq.read_table(out)
    assert whole.num_rows == 24 and whole.column("cost_usd").null_count == 0
    for name in ("pandas", "polars"):
        try:
            lib = __import__(name)
        except ImportError:
            continue
        frame = lib.read_parquet(str(out / "*.parquet")) if name == "polars" else lib.read_parquet(out)
        assert len(frame) == 24 and sorted(frame["gpus"].unique().tolist() if name == "pandas"
                                           else frame["gpus"].unique().to_list()) == [8, 16, 24, 32]


def test_arrow_and_csv_outputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(SMALL)
    code, out, _ = run(capsys, "sweep", str(spec), "-o", str(tmp_path / "s.arrow"), "--format", "arrow")
    assert code == 0 and "24 evaluated, 24 kept" in out
    with pa.memory_map(str(tmp_path / "s.arrow")) as f:
        assert pa.ipc.open_file(f).read_all().num_rows == 24
    code, out, _ = run(capsys, "sweep", str(spec), "-o", str(tmp_path / "s.csv"), "--format", "csv")
    assert code == 0 and (tmp_path / "s.csv").read_text().count("\n") == 25


def test_sweep_cli_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(SMALL)
    code, out, _ = run(capsys, "sweep", str(spec), "-o", str(tmp_path / "o.parquet"), "--threads", "1")
    assert code == 0
    assert "points: 24 evaluated, 24 kept" in out and "points/s" in out and "cheapest by cost_usd, one row per gpu:" in out
    code, out, _ = run(capsys, "plan", str(spec))
    assert code == 0 and "points: 24" in out and "hardware.gpu + price.provider: 2 values" in out


def test_max_points_guard_and_bad_output_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(SMALL)
    code, _, err = run(capsys, "sweep", str(spec), "--max-points", "10", "-o", str(tmp_path / "x.parquet"))
    assert code == 2 and "24 points, more than --max-points 10" in err
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, _, err = run(capsys, "sweep", str(spec), "-o", str(blocker / "x.parquet"))
    assert code == 2 and "error" in err and "Traceback" not in err
    assert not (tmp_path / "x.parquet").exists()


def test_failed_sweep_leaves_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(SMALL + "  x: 1 / (ratio - 20)\n")
    out = tmp_path / "o.parquet"
    code, _, err = run(capsys, "sweep", str(spec), "-o", str(out))
    assert code == 2 and "division by zero" in err
    assert list(tmp_path.iterdir()) == [spec]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("reduced", [False, True])
def test_interrupted_write_leaves_nothing(tmp_path: Path, sig: int, reduced: bool) -> None:
    """Deterministic: the command is stopped (SIGSTOP) as soon as its temporary output exists, so it
    cannot finish before the signal however fast the machine; the signal is queued, then the
    command continues with millions of points (or, reduced, 1e15) still to go."""
    spec = tmp_path / "big.yaml"
    if reduced:  # a top-1 reduction: nothing to write until the end, which never comes (1e15 points)
        spec.write_text(SMALL.replace("{range: [8, 40, 8]}", "{range: [8, 800000008, 8]}\n    k: {range: [0, 1e7]}")
                        + "output: {keep: {top: 1, by: cost_usd}}\n")
    else:  # a streaming Parquet write, 48M points
        spec.write_text(SMALL.replace("range: [8, 40, 8]", "range: [8, 80000000, 8]"))
    out = tmp_path / "o.parquet"
    proc = subprocess.Popen([sys.executable, "-m", "costspec.cli", "sweep", str(spec), "-o", str(out),
                             "--max-points", "10000000000000000"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not any(p.name.startswith(".o.parquet.tmp") for p in tmp_path.iterdir()):
        if proc.poll() is not None:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGSTOP)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(sig)
    proc.send_signal(signal.SIGCONT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted; nothing was written" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.yaml"]


@pytest.mark.parametrize("step", ["mkdir", "marker", "after"])
def test_an_interrupt_while_the_temporary_is_made_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 step: str) -> None:
    """The window the signal test above can hit (found on a fresh clone): Ctrl-C right after the
    temporary folder exists, before its marker does, or just after prepare returns."""
    from costspec import targets

    spec = tmp_path / "s.yaml"
    spec.write_text(SMALL)
    plan = compile_spec(costspec.load(spec))
    real_mkdir, real_write, real_data = Path.mkdir, Path.write_text, targets.Target.data

    def mkdir(self: Path, *a: object, **k: object) -> None:
        real_mkdir(self, *a, **k)  # type: ignore[arg-type]
        if step == "mkdir" and ".tmp-" in self.name:
            raise KeyboardInterrupt

    def write_text(self: Path, *a: object, **k: object) -> int:
        if step == "marker" and self.name == targets.MARKER:
            raise KeyboardInterrupt
        return real_write(self, *a, **k)  # type: ignore[arg-type]

    def data(self: targets.Target) -> Path:
        if step == "after":
            raise KeyboardInterrupt
        return real_data.fget(self)  # type: ignore[attr-defined, no-any-return]

    monkeypatch.setattr(Path, "mkdir", mkdir)
    monkeypatch.setattr(Path, "write_text", write_text)
    monkeypatch.setattr(targets.Target, "data", property(data))
    with pytest.raises(KeyboardInterrupt):
        write(plan, tmp_path / "out" / "o.parquet")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.yaml"]  # no temporary, no created parent


def test_an_interrupt_between_writer_starts_stops_the_writers_first(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The window the signal test above hit once in a full run: Ctrl-C after the first Parquet
    writer thread started and before the next did. The writers already running stop and are
    joined before the temporary they write into is removed; nothing is left, no thread lives on."""
    import threading

    from costspec import runner

    spec = tmp_path / "s.yaml"
    spec.write_text(SMALL.replace("range: [8, 40, 8]", "range: [8, 8000000, 8]"))
    plan = compile_spec(costspec.load(spec))
    real_start = threading.Thread.start
    started: list[threading.Thread] = []

    def start(self: threading.Thread) -> None:
        if self.name.startswith("costspec-writer-") and started:
            raise KeyboardInterrupt  # (before the second writer starts)
        real_start(self)
        if self.name.startswith("costspec-writer-"):
            started.append(self)

    monkeypatch.setattr(threading.Thread, "start", start)
    monkeypatch.setattr(runner, "WRITER_BATCH", 4096)  # (several parts even for this sweep)
    with pytest.raises(KeyboardInterrupt):
        write(plan, tmp_path / "o.parquet", threads=2)
    assert started and not any(t.is_alive() for t in started)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.yaml"]


def test_a_folder_already_at_the_temporary_name_is_not_ours(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """If the temporary's name is taken (by a folder costspec did not make), the run fails without
    touching it, and the previous output stays as it was."""
    from costspec import targets

    spec = tmp_path / "s.yaml"
    spec.write_text(SMALL)
    plan = compile_spec(costspec.load(spec))
    out = tmp_path / "o.csv"
    out.write_text("previous output\n")
    taken = tmp_path / ".o.csv.tmp-taken"
    taken.mkdir()
    (taken / "data").write_text("a user's file")
    (taken / targets.MARKER).write_text("not ours")
    monkeypatch.setattr(targets, "temporary", lambda target, kind="tmp": taken)
    with pytest.raises(costspec.CostspecError, match="exists"):
        write(plan, out, fmt="csv")
    assert out.read_text() == "previous output\n"
    assert (taken / "data").read_text() == "a user's file" and (taken / targets.MARKER).read_text() == "not ours"


def test_an_interrupt_that_an_extension_turns_into_another_error_is_an_interrupt(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Ctrl-C inside an extension module's initialisation (pyarrow.parquet importing ssl) surfaced
    as 'TypeError: expected a message argument' and a traceback (found on a fresh clone)."""
    import os

    from costspec import cli

    def mangled(*_a: object, **_k: object) -> None:
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
        except KeyboardInterrupt:
            raise TypeError("expected a message argument") from None

    monkeypatch.setattr(cli, "_sweep", mangled)
    spec = tmp_path / "s.yaml"
    spec.write_text(SMALL)
    code, _, err = run(capsys, "sweep", str(spec))
    assert code == 130 and "interrupted; nothing was written" in err and "Traceback" not in err
    monkeypatch.setattr(cli, "_sweep", lambda *_a, **_k: (_ for _ in ()).throw(TypeError("a real bug")))
    with pytest.raises(TypeError, match="a real bug"):  # without a signal, an error is an error
        run(capsys, "sweep", str(spec))


def test_scaling_example_plan() -> None:
    plan = compile_spec(costspec.load(ROOT / "specs" / "scaling.yaml"))
    assert plan.points == 5 * 40 * 8 * 64  # GPUs × sizes × ratios × counts (the MFU is predicted, not swept)
    assert plan.searches  # (every point runs its best layout)
    assert math.prod(n for _, n in plan.axes) == plan.points



# -- the engine against the plain-Python reference, on random sweeps ----------------------------

from reference import RefPoint, close, evaluate  # noqa: E402

from costspec import Catalog  # noqa: E402

PRESETS = ["llama2-7b", "llama2-70b", "mixtral-8x7b", "palm-8b", "gpt3-175b", "mpt-7b"]
GPUS = ["a100-80gb", "h100", "h200", "b200", "mi300x", "tpu-v4", "l40s"]


@st.composite
def sweeps(draw: st.DrawFn) -> str:
    presets = draw(st.lists(st.sampled_from(PRESETS), min_size=1, max_size=3, unique=True))
    gpus = draw(st.lists(st.sampled_from(GPUS), min_size=1, max_size=3, unique=True))
    counts = draw(st.lists(st.sampled_from([8, 64, 128, 512, 1024, 2048]), min_size=1, max_size=3, unique=True))
    mfus = draw(st.lists(st.floats(0.05, 1.0), min_size=1, max_size=3, unique=True))
    recompute = draw(st.sampled_from(["none", "selective", "full"]))
    convention = draw(st.sampled_from(["6nd", "palm", "megatron"]))
    mode = draw(st.sampled_from(["pretrain", "finetune", "lora"]))
    zero = draw(st.integers(0, 3))
    tp = draw(st.sampled_from([1, 2, 8]))
    lora = "  lora_rank: 16\n" if mode == "lora" else ""
    return (
        "costspec: 1\nmodel: {}\n"
        f"training:\n  tokens: '=tpp * model.params'\n  recompute: {recompute}\n  convention: {convention}\n"
        f"  mode: {mode}\n{lora}"
        "hardware: {}\n"
        f"price: {{usd_per_gpu_hour: {draw(st.floats(0.5, 10))}}}\n"
        f"energy: {{pue: {draw(st.floats(1, 1.6))}, grid_kg_co2e_per_kwh: {draw(st.floats(0, 0.9))}}}\n"
        f"parallelism: {{tensor: {tp}, zero: {zero}}}\n"
        "sweep:\n  grid:\n"
        f"    model.preset: {json.dumps(presets)}\n"
        f"    tpp: {json.dumps(draw(st.lists(st.sampled_from([1, 5, 20, 40]), min_size=1, max_size=2, unique=True)))}\n"
        f"    hardware.gpu: {json.dumps(gpus)}\n"
        f"    hardware.mfu: {json.dumps(mfus)}\n"
        f"    hardware.count: {json.dumps([c * tp for c in counts])}\n"
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sweeps())
def test_engine_matches_the_reference_on_random_sweeps(text: str) -> None:
    spec = load_text(text)
    try:
        table = sweep(spec)
    except SweepFailed as e:  # e.g. a convention that needs fields a preset lacks: the reference agrees
        assert "architecture field" in str(e) or "MFU" in str(e), str(e)
        return
    cat = Catalog.builtin()
    f = spec.fields
    for row in table.to_pylist():
        m = cat.model(row["model"])
        g = cat.gpu(row["gpu"])
        p = RefPoint(
            params=m.params, active_params=m.active_params, tokens=row["tokens"], arch=dict(m.architecture),
            peak_tflops=g.peak_tflops["bf16"].value, convention=str(f["training.convention"]),
            recompute=str(f["training.recompute"]), mode=str(f["training.mode"]),
            lora_rank=16.0 if f["training.mode"] == "lora" else None, mfu=row["mfu"], gpus=row["gpus"],
            usd_per_gpu_hour=float(f["price.usd_per_gpu_hour"]),  # type: ignore[arg-type]
            watts=g.tdp_w.value if g.tdp_w else None, pue=float(f["energy.pue"]),  # type: ignore[arg-type]
            grid_kg_co2e_per_kwh=float(f["energy.grid_kg_co2e_per_kwh"]),  # type: ignore[arg-type]
            gpu_memory_gb=g.device_memory.value if g.device_memory else None,
            dropout=m.training.get("dropout", True), zero=int(str(f["parallelism.zero"])),
            tensor_parallel=int(f["parallelism.tensor"]),  # type: ignore[arg-type]
        )
        ref = evaluate(p)
        for k in ("model_flops", "hardware_flops", "gpu_hours", "wall_clock_days", "cost_usd", "energy_kwh", "co2e_kg",
                  "memory_gb_per_gpu", "fits", "min_gpus", "hfu"):
            if k in row:
                assert close(row[k], ref[k]), (k, row[k], ref[k], row)


def test_public_api_exports_sweeps() -> None:
    table = costspec.sweep(ROOT / "specs" / "mosaicml-7b.yaml")
    assert table.num_rows == 1 and table.column("gpu_hours")[0].as_py() == 11462
    assert sum(b.num_rows for b in costspec.iter_batches(ROOT / "specs" / "alpaca-7b-finetune.yaml")) == 1
    assert costspec.compile_spec(costspec.load(ROOT / "specs" / "scaling.yaml")).points == 102_400


def test_output_columns_choose_and_order(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = load_text(SMALL + "output: {columns: [ratio, gpus, cost_usd, tpp, gpu]}\n")
    table = sweep(spec)
    assert table.column_names == ["ratio", "gpus", "cost_usd", "tpp", "gpu"] and table.num_rows == 24
    with pytest.raises(costspec.SpecError, match="column 'cost_usd' has no value in this spec"):
        compile_spec(load_text(SMALL.replace("      price.provider: [lambda, runpod]\n", "")
                               .replace("    - hardware.gpu: [h100, a100]\n", "    - hardware.gpu: [h100, a100]\n"
                                        "      hardware.watts: [700, 400]\n")
                               + "output: {columns: [cost_usd]}\n"))
    f = tmp_path / "s.yaml"
    f.write_text(SMALL)
    code, _, err = run(capsys, "sweep", str(f), "--columns", "gpus,cost_usdd", "-o", str(tmp_path / "o.parquet"))
    assert code == 2 and "--columns: unknown column 'cost_usdd'" in err and "did you mean 'cost_usd'" in err
    code, _, _ = run(capsys, "sweep", str(f), "--columns", "gpu,gpus,cost_usd", "-o", str(tmp_path / "o.parquet"), "-q")
    assert code == 0
    assert pq.read_schema(next((tmp_path / "o.parquet").glob("*.parquet"))).names == ["gpu", "gpus", "cost_usd"]


def test_plans_are_deterministic_across_interpreters() -> None:
    """Column order and the compiled plan do not depend on hash randomisation."""
    spec = ROOT / "tests" / "specs" / "determinism.yaml"
    outs = set()
    for seed in ("1", "2", "3"):
        proc = subprocess.run([sys.executable, "-m", "costspec.cli", "plan", "--json", str(spec)], capture_output=True,
                              text=True, check=True, env={**__import__("os").environ, "PYTHONHASHSEED": seed})
        outs.add(proc.stdout)
    assert len(outs) == 1


# -- top-k reductions in the engine -------------------------------------------------------------

from costspec.runner import top_k  # noqa: E402
from costspec.spec import Keep  # noqa: E402


def _brute_top(table: pa.Table, keep: Keep) -> list[tuple[object, ...]]:
    """Plain-Python reduction: per group, sort by (key, point order), take k; no value ranks last
    (SQL's NULLS LAST)."""
    rows = table.to_pylist()
    groups: dict[tuple[object, ...], list[tuple[float, int, dict[str, object]]]] = {}
    for i, r in enumerate(rows):
        v = r[keep.by]
        key = math.inf if v is None else (-v if keep.maximise else v)  # type: ignore[operator]
        groups.setdefault(tuple(r[p] for p in keep.per), []).append((key, i, r))  # type: ignore[arg-type]
    out = []
    order = {g: min(i for _, i, _ in v) for g, v in groups.items()}
    for g in sorted(groups, key=lambda g: order[g]):
        for _, i, r in sorted(groups[g], key=lambda t: (t[0], t[1]))[: keep.top]:
            out.append(tuple(r.values()))
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(1, 6),
    st.sampled_from(["cost_usd", "wall_clock_days", "gpu_hours", "memory_gb_per_gpu"]),
    st.booleans(),
    st.sampled_from([(), ("gpu",), ("gpu", "provider")]),
    st.sampled_from(["", 'where: ["wall_clock_days < 50"]\n']),
)
def test_top_k_matches_a_brute_force_reduction(k: int, by: str, maximise: bool, per: tuple[str, ...],
                                               where: str) -> None:
    spec = load_text(SMALL + where)
    keep = Keep(k, by, maximise, per)
    plan = compile_spec(spec)
    got = top_k(plan, keep, threads=2)
    everything = sweep(spec)
    brute = _brute_top(everything, keep)
    # Groups come in the order their dictionary indices sort, which is first appearance here.
    assert [tuple(r.values()) for r in got.to_pylist()] == brute
    assert top_k(plan, keep, threads=1).equals(got)


NULLS = """
costspec: 1
model: {preset: llama2-7b}
training: {tokens: 1T}
hardware: {mfu: 0.4}
price: {usd_per_gpu_hour: 2}
sweep:
  grid:
    hardware.gpu: [h100, tpu-v5e, a100]
    hardware.count: {range: [8, 40, 8]}
"""


@pytest.mark.parametrize("keep", [Keep(1, "energy_kwh", False, ("gpu",)), Keep(2, "energy_kwh", True, ()),
                                  Keep(per=("gpu",), pareto=(("energy_kwh", False), ("wall_clock_days", False))),
                                  Keep(per=(), pareto=(("energy_kwh", False), ("cost_usd", False)))])
def test_reductions_rank_missing_values_last(keep: Keep) -> None:
    """A GPU without a TDP has no energy: its group keeps its rows (energy null), ranked after every
    value, as SQL's NULLS LAST; it used to vanish from the answer."""
    spec = load_text(NULLS)
    assert costspec.Catalog.builtin().gpu("tpu-v5e").tdp_w is None
    plan = compile_spec(spec)
    got = top_k(plan, keep, threads=2)
    want = _brute_top(sweep(spec), keep) if keep.top else _brute_pareto(sweep(spec), keep)
    assert [tuple(r.values()) for r in got.to_pylist()] == want
    if keep.per:
        assert set(got.column("gpu").to_pylist()) == {"H100-SXM", "TPU-v5e", "A100-80GB"}


def test_top_k_from_the_cli_and_the_spec(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "s.yaml"
    f.write_text(SMALL + "output: {keep: {top: 2, by: cost_usd, per: [gpu]}}\n")
    table = sweep(costspec.load(f))
    assert table.num_rows == 4 and table.column("gpu").to_pylist() == ["H100-SXM"] * 2 + ["A100-80GB"] * 2
    code, out, _ = run(capsys, "sweep", str(f), "-o", str(tmp_path / "o.parquet"), "--top", "1", "--by", "-wall_clock_days")
    assert code == 0 and "24 evaluated, 1 kept" in out
    code, _, err = run(capsys, "sweep", str(f), "--top", "1", "--by", "gpus", "--per", "gpus")
    assert code == 2 and "--per: cannot group by 'gpus': not a categorical column (did you mean 'gpu'?)" in err
    code, _, err = run(capsys, "sweep", str(f), "--top", "1", "--by", "cost_ud")
    assert code == 2 and "--by: cannot rank by 'cost_ud' (did you mean 'cost_usd'?)" in err


def _brute_pareto(table: pa.Table, keep: Keep) -> list[tuple[object, ...]]:
    """Plain-Python Pareto front per group: points no other point is at least as good as in every
    column and better in one; equal points all stay. Ordered by group, first column, point order."""
    rows = table.to_pylist()
    keyed = []
    for i, r in enumerate(rows):
        vals = [r[c] for c, _ in keep.pareto]
        key = tuple(math.inf if v is None else (-v if m else v)  # type: ignore[operator]
                    for v, (_, m) in zip(vals, keep.pareto))
        keyed.append((tuple(r[p] for p in keep.per), key, i, r))
    out = []
    order: dict[tuple[object, ...], int] = {}
    for g, _, i, _ in keyed:
        order.setdefault(g, i)
    for g in sorted(order, key=lambda g: order[g]):
        members = [(k, i, r) for gg, k, i, r in keyed if gg == g]
        front = [(k, i, r) for k, i, r in members
                 if not any(all(a <= b for a, b in zip(k2, k)) and k2 != k for k2, _, _ in members)]
        out += [tuple(r.values()) for _, _, r in sorted(front, key=lambda t: (t[0][0], t[1]))]
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.sampled_from(["cost_usd", "wall_clock_days", "memory_gb_per_gpu", "gpus", "ratio"]),
             min_size=1, max_size=3, unique=True),
    st.lists(st.booleans(), min_size=3, max_size=3),
    st.sampled_from([(), ("gpu",), ("gpu", "provider")]),
    st.sampled_from(["", 'where: ["wall_clock_days < 50"]\n']),
)
def test_pareto_matches_a_brute_force_front(cols: list[str], maximise: list[bool], per: tuple[str, ...],
                                           where: str) -> None:
    spec = load_text(SMALL + where)
    keep = Keep(per=per, pareto=tuple(zip(cols, maximise)))
    plan = compile_spec(spec)
    got = top_k(plan, keep, threads=2)
    assert [tuple(r.values()) for r in got.to_pylist()] == _brute_pareto(sweep(spec), keep)
    assert top_k(plan, keep, threads=1).equals(got)


def test_pareto_from_the_cli_and_the_spec(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "s.yaml"
    f.write_text(SMALL + "output: {keep: {pareto: [cost_usd, wall_clock_days], per: [gpu]}}\n")
    table = sweep(costspec.load(f))
    assert 2 <= table.num_rows <= 24 and set(table.column("gpu").to_pylist()) == {"H100-SXM", "A100-80GB"}
    code, out, _ = run(capsys, "sweep", str(f), "-o", str(tmp_path / "o.parquet"), "--pareto", "cost_usd,-ratio")
    assert code == 0 and "24 evaluated" in out
    code, _, err = run(capsys, "sweep", str(f), "--pareto", "cost_usd", "--top", "2", "--by", "cost_usd")
    assert code == 2 and "one reduction" in err


WRITER_THREADS_SEE = """
import sys, threading
from costspec.cli import main
seen = []
start = threading.Thread.start
def watched(self):
    if self.name.startswith("costspec-writer"):
        seen.append("pyarrow.compute" in sys.modules and "pyarrow.acero" in sys.modules)
    start(self)
threading.Thread.start = watched
try:
    main()
except SystemExit:
    pass
print("pyarrow" in sys.modules, "numpy" in sys.modules, seen)
"""


@pytest.mark.parametrize("args, arrow", [([], False), (["--partition-by", "gpu"], True)])
def test_pyarrow_compute_is_loaded_before_writer_threads_start(tmp_path: Path, args: list[str], arrow: bool) -> None:
    """Importing pyarrow.compute registers its kernels; done in a writer thread while another thread
    writes Parquet, it races (seen here: 'No function registered with name: unique', and a crash).
    Where writer threads use Arrow (partitioned parts) it is imported before they start; where the
    engine writes the parts, neither pyarrow nor numpy is imported at all."""
    spec = tmp_path / "s.yaml"
    spec.write_text(SMALL)
    proc = subprocess.run([sys.executable, "-c", WRITER_THREADS_SEE, "sweep", str(spec), "-o",
                           str(tmp_path / "o.parquet"), "--threads", "2", "--max-points", "10000000", *args],
                          capture_output=True, text=True, check=True)
    imported, numpy, seen = proc.stdout.strip().splitlines()[-1].split(" ", 2)
    assert imported == numpy == str(arrow)
    assert seen.count("True") == (seen.count(",") + 1 if arrow else 0), seen


@pytest.mark.parametrize("keep", ["", "output: {keep: {top: 3, by: cost_usd, per: [gpu]}}\n"])
def test_the_api_builds_no_pandas_objects(tmp_path: Path, keep: str) -> None:
    """pyarrow imports pandas (0.27 s) when it converts Python lists or scalars and pandas is
    installed: the engine's batches, their nulls and the reductions' rows are built from bytes, so
    `costspec.sweep` and `iter_batches` never pay for it. A stand-in `pandas` first on the path
    records any import. (The command line's summary of the cheapest answers groups with pyarrow's
    group_by, whose query engine imports pandas when installed.)"""
    import os
    import subprocess
    import sys

    fake = tmp_path / "fake" / "pandas"
    fake.mkdir(parents=True)
    marker = tmp_path / "imported"
    (fake / "__init__.py").write_text(f"open({str(marker)!r}, 'w').close()\nraise ImportError('not here')\n")
    spec = tmp_path / "s.yaml"
    spec.write_text(SMALL + keep)
    code = (f"import costspec\nt = costspec.sweep({str(spec)!r})\nassert t.num_rows in (24, 6), t.num_rows\n"
            f"assert sum(b.num_rows for b in costspec.iter_batches({str(spec)!r})) >= 6\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "fake")}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 0, proc.stderr
    assert not marker.exists()


@pytest.mark.parametrize("one_gpu", [False, True])
def test_the_summary_is_the_best_row_of_each_answer(tmp_path: Path, one_gpu: bool) -> None:
    """The summary printed after a sweep: the best row (by cost, then fastest, then fewest GPUs)
    of each answer, the five best answers, whatever the batches — checked against the whole
    output sorted in Python, with fewer answers than five (two GPU types) and with many (the GPU
    type alone, then the axes)."""
    from costspec.runner import answers, distinct_by

    spec = tmp_path / "s.yaml"
    text = SMALL.replace("hardware.count: {range: [8, 40, 8]}", "hardware.count: {range: [8, 4000, 8]}")
    if one_gpu:  # (then the answers are the other axes' values: the token ratios)
        text = text.replace("[h100, a100]", "[h100]").replace("[lambda, runpod]", "[lambda]")
    spec.write_text(text)
    plan = compile_spec(costspec.load(spec))
    summary = write(plan, tmp_path / "o.parquet", threads=2)
    rows = pq.read_table(tmp_path / "o.parquet").to_pylist()
    per = distinct_by(plan)
    assert answers(plan, per) >= len({tuple(r[c] for c in per) for r in rows})
    best: dict[tuple[object, ...], dict[str, object]] = {}
    for r in sorted(rows, key=lambda r: (r["cost_usd"], r["wall_clock_days"], r["gpus"])):
        best.setdefault(tuple(r[c] for c in per), r)
    want = list(best.values())[:5]
    assert summary.cheapest is not None
    got = summary.cheapest.to_pylist()
    assert [(r["gpu"], r["cost_usd"], r["gpus"]) for r in got] == [(r["gpu"], r["cost_usd"], r["gpus"]) for r in want]


@pytest.mark.parametrize("text, needle", [
    # A step model refusing a layout whose columns the spec does not write (found by a hostile review:
    # ops nothing reads were dropped, model stages with them).
    ("costspec: 1\nmodel: {preset: llama2-70b}\ntraining: {tokens: 2T}\nhardware: {gpu: H100-SXM, mfu: 0.4, "
     "count: 2048}\nprice: {provider: lambda}\nparallelism: {tensor: 8, interleave: 2}\n"
     "sweep: {grid: {parallelism.pipeline: [2, 4, 8, 16]}}\n", "interleave: got 2"),
    # The modelled goodput of a job that never progresses, its columns not written.
    ("costspec: 1\nmodel: {params: 20T}\ntraining: {tokens: 10T}\nhardware: {gpu: h100, mfu: 0.4}\n"
     "price: {usd_per_gpu_hour: 2}\nsweep: {grid: {hardware.count: [1024, 10000000]}}\n"
     "output: {columns: [gpus, memory_gb_per_gpu, fits]}\n", "progress between interruptions"),
    # The money stage refusing a PUE below 1 from an expression, its columns not written.
    ("costspec: 1\nmodel: {preset: llama2-7b}\ntraining: {tokens: \"=ratio * model.params\"}\n"
     "hardware: {gpu: h100, mfu: 0.4, count: 64}\nprice: {usd_per_gpu_hour: 2}\nenergy: {pue: \"=ratio / 20\"}\n"
     "sweep: {grid: {ratio: [10, 20, 30]}}\noutput: {columns: [params, tokens, memory_gb_per_gpu, fits]}\n",
     "pue: got 0.5"),
    # The memory stage refusing a GPU count the model-parallel group does not divide (from an
    # expression), its columns not written: it then runs its check alone.
    ("costspec: 1\nmodel: {preset: llama2-70b}\ntraining: {tokens: 2T}\nhardware: {gpu: H100-SXM, mfu: 0.4, "
     "count: \"=n\"}\nprice: {provider: lambda}\nparallelism: {tensor: 8}\nsweep: {grid: {n: [64, 128, 100, 256]}}\n"
     "output: {columns: [gpus, cost_usd]}\n", "gpus: got 100"),
])
def test_a_stage_refusing_a_point_fails_the_sweep_whatever_the_columns(tmp_path: Path, text: str, needle: str) -> None:
    """A model stage that refuses a point's inputs fails the sweep (located at the point), whether or
    not its columns are written: the engine drops only arithmetic nothing reads, and a step model
    whose columns nothing reads still runs its checks."""
    spec = tmp_path / "s.yaml"
    spec.write_text(text)
    from costspec.runner import SweepFailed

    with pytest.raises(SweepFailed) as e:
        costspec.sweep(spec)
    assert needle in str(e.value) and "point " in str(e.value)


def test_outputs_of_different_specs_combine(tmp_path: Path) -> None:
    """A column's nullability is the column's, not the spec's: a sweep with the MFU given and one
    that predicts it (null where a count has no layout) have the same schema for their columns."""
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    base = ("costspec: 1\nmodel: {preset: llama2-7b}\ntraining: {tokens: 100B}\nhardware: {gpu: h100%s}\n"
            "price: {usd_per_gpu_hour: 2}\nsweep: {grid: {hardware.count: [8, 64, 131072]}}\n"
            "output: {columns: [params, gpus, mfu, gpu_hours, cost_usd]}\n")
    a.write_text(base % ", mfu: 0.4")
    b.write_text(base % "")
    ta, tb = costspec.sweep(a), costspec.sweep(b)
    assert ta.schema.remove_metadata() == tb.schema.remove_metadata()
    both = pa.concat_tables([ta, tb.replace_schema_metadata(ta.schema.metadata)])
    assert both.num_rows == 6 and both.column("mfu").null_count == tb.column("mfu").null_count


def test_a_tight_where_gives_the_rows_of_the_full_sweep(tmp_path: Path) -> None:
    """A block that keeps few points computes its other columns for those alone (gathered): the
    rows equal the full sweep's rows that pass, for windows keeping from one point in a block to
    most of it."""
    text = SMALL.replace("range: [8, 40, 8]", "range: [8, 40008, 8]")
    spec = tmp_path / "s.yaml"
    spec.write_text(text)
    full = costspec.sweep(spec)
    days = full.column("wall_clock_days").to_pylist()
    lo, hi = sorted(days)[len(days) // 3], sorted(days)[len(days) // 3 + 40]
    for window in ((lo, lo), (lo, hi), (min(days), sorted(days)[len(days) // 2])):
        spec.write_text(text + f"where: ['{window[0]!r} <= wall_clock_days', 'wall_clock_days <= {window[1]!r}']\n")
        kept = costspec.sweep(spec)
        mask = [window[0] <= d <= window[1] for d in days]
        want = full.filter(pa.array(mask))
        assert kept.num_rows == want.num_rows > 0
        assert kept.equals(want.select(kept.column_names)), window


def test_an_error_in_a_compacted_block_names_its_own_point(tmp_path: Path) -> None:
    """The model refusing a kept point of a block that keeps few: the error names that point's
    index and inputs, not its position among the kept."""
    spec = tmp_path / "s.yaml"
    spec.write_text("costspec: 1\nmodel: {preset: llama2-70b}\ntraining: {tokens: 2T}\nhardware: {gpu: H100-SXM, "
                    "mfu: 0.4, count: \"=n\"}\nprice: {provider: lambda}\nparallelism: {tensor: 8}\n"
                    "sweep: {grid: {n: {range: [4, 8200, 4]}}}\nwhere: [n >= 4000, n <= 4004]\n")
    # (the window keeps 2 of the block's 2,050 points; n = 4004 is no multiple of TP 8)
    from costspec.runner import SweepFailed

    with pytest.raises(SweepFailed) as e:
        costspec.sweep(spec)
    assert "point 1,000 (n=4004)" in str(e.value) and "gpus: got 4004" in str(e.value)


def test_a_point_the_where_drops_is_not_evaluated_further(tmp_path: Path) -> None:
    """Consistently, whatever its block keeps (found by a review of the compaction: a refused input
    at a dropped point failed the sweep only when its block kept another point): the model is not
    asked about points the `where` drops, for full outputs and reductions alike."""
    spec = tmp_path / "s.yaml"
    text = ("costspec: 1\nmodel: {preset: llama2-70b}\ntraining: {tokens: 2T}\nhardware: {gpu: H100-SXM, mfu: 0.4, "
            "count: \"=n\"}\nprice: {provider: lambda}\nparallelism: {tensor: 8}\n"
            "sweep: {grid: {n: {range: [4, 8200, 4]}}}\nwhere: [n == 4000]\n")
    spec.write_text(text)
    assert costspec.sweep(spec).column("gpus").to_pylist() == [4000]
    spec.write_text(text + "output: {keep: {top: 1, by: cost_usd}}\n")
    assert costspec.sweep(spec).column("gpus").to_pylist() == [4000]


@pytest.mark.parametrize("keep", ["{top: 3, by: cost_usd, per: [gpu]}", "{top: 2, by: -wall_clock_days}",
                                  "{pareto: [cost_usd, wall_clock_days], per: [gpu]}"])
def test_reductions_under_a_tight_where_equal_the_filtered_output(tmp_path: Path, keep: str) -> None:
    """A reduction over compacted blocks (its sink told each row's point index): the same rows as
    the full output filtered, then ranked with ties by point order."""
    text = SMALL.replace("range: [8, 40, 8]", "range: [8, 40008, 8]")
    spec = tmp_path / "s.yaml"
    spec.write_text(text)
    days = sorted(costspec.sweep(spec).column("wall_clock_days").to_pylist())
    window = f"where: ['{days[len(days) // 3]!r} <= wall_clock_days', 'wall_clock_days <= {days[len(days) // 3 + 30]!r}']\n"
    spec.write_text(text + window)
    rows = costspec.sweep(spec).to_pylist()
    spec.write_text(text + window + f"output: {{keep: {keep}}}\n")
    got = costspec.sweep(spec).to_pylist()
    if "pareto" in keep:
        want = [r for r in rows if not any(o["cost_usd"] <= r["cost_usd"] and o["wall_clock_days"] <= r["wall_clock_days"]
                                           and (o["cost_usd"], o["wall_clock_days"]) != (r["cost_usd"], r["wall_clock_days"])
                                           for o in rows if o["gpu"] == r["gpu"])]
        assert sorted(map(repr, got)) == sorted(map(repr, want))
    else:
        k = 3 if "top: 3" in keep else 2
        col, sign = ("cost_usd", 1) if "cost_usd" in keep else ("wall_clock_days", -1)
        groups = sorted({r["gpu"] for r in rows}) if "per" in keep else [None]
        for g in groups:
            mine = [(i, r) for i, r in enumerate(rows) if g is None or r["gpu"] == g]
            best = [r for _, r in sorted(mine, key=lambda ir: (sign * ir[1][col], ir[0]))[:k]]
            assert [r for r in got if g is None or r["gpu"] == g] == best
