"""Partitioned output (issue 16): `--partition-by` / `output.partition_by` writes hive-style
folders that DuckDB and pyarrow read (with pruning) into the same rows as the flat output;
replacing, refusing and failing behave as for flat outputs."""

from __future__ import annotations

from pathlib import Path

import pyarrow.dataset as ds
import pytest

from clirun import run
from test_shards import SPEC


def _rows(path: Path) -> list[tuple[object, ...]]:
    t = ds.dataset(path, format="parquet", partitioning="hive").to_table()
    cols = ["gpu", "params", "gpus", "dup", "cost_usd", "wall_clock_days"]
    return sorted(tuple(r[c] for c in cols) for r in t.select(cols).to_pylist())


@pytest.fixture()
def spec(tmp_path: Path) -> Path:
    (tmp_path / "s.yaml").write_text(SPEC)
    return tmp_path / "s.yaml"


def test_partitioned_output_reads_back_as_the_flat_one(spec: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    duckdb = pytest.importorskip("duckdb")
    flat, part = tmp_path / "flat.parquet", tmp_path / "part.parquet"
    assert run(capsys, "sweep", str(spec), "-o", str(flat), "-q")[0] == 0
    code, out, err = run(capsys, "sweep", str(spec), "-o", str(part), "--partition-by", "gpu,provider", "-q")
    assert code == 0, err
    assert sorted(p.name for p in part.iterdir()) == ["gpu=A100-80GB", "gpu=H100-SXM", "gpu=MI300X"]
    assert sorted(p.name for p in (part / "gpu=MI300X").iterdir()) == ["provider=Vultr"]
    assert _rows(part) == _rows(flat)
    # DuckDB: hive partitions, pruned by the folder name
    q = ("select count(*), min(cost_usd) from read_parquet('{}', hive_partitioning=true) where gpu = 'H100-SXM'")
    assert duckdb.sql(q.format(f"{part}/**/*.parquet")).fetchall() == duckdb.sql(
        f"select count(*), min(cost_usd) from read_parquet('{flat}/*.parquet') where gpu = 'H100-SXM'").fetchall()
    # the partition columns are the folders', not in the files
    one = next((part / "gpu=H100-SXM" / "provider=Lambda").iterdir())
    assert "gpu" not in ds.dataset(one, format="parquet").schema.names


def test_partition_in_the_spec_with_a_reduction(spec: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec.write_text(SPEC + "output: {partition_by: [gpu], keep: {top: 2, by: cost_usd, per: [gpu]}}\n")
    out = tmp_path / "o.parquet"
    assert run(capsys, "sweep", str(spec), "-o", str(out), "-q")[0] == 0
    t = ds.dataset(out, format="parquet", partitioning="hive").to_table()
    assert t.num_rows == 6 and sorted(set(t.column("gpu").to_pylist())) == ["A100-80GB", "H100-SXM", "MI300X"]


@pytest.mark.parametrize("extra, needle", [
    ("output: {partition_by: [cost_usd]}\n", "cannot partition by 'cost_usd': not a categorical column"),
    ("output: {partition_by: [model]}\n", "cannot partition by 'model': it is not among the written columns"),
    ("output: {partition_by: [gpu], format: csv}\n", "partition_by needs format parquet"),
])
def test_bad_partitions_are_spec_errors(spec: Path, tmp_path: Path, extra: str, needle: str,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    spec.write_text(SPEC + extra)
    code, out, err = run(capsys, "validate", str(spec))
    assert code != 0 and needle in out + err
    code, out, err = run(capsys, "sweep", str(spec), "-o", str(tmp_path / "o"))
    assert code == 2 and needle in err
    assert not (tmp_path / "o").exists()


def test_partition_flags(spec: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "sweep", str(spec), "--partition-by", "gpu", "--shard", "1/2", "-o",
                         str(tmp_path / "o.parquet"))
    assert code == 2 and "a shard is not partitioned" in err
    code, out, err = run(capsys, "sweep", str(spec), "--partition-by", "gpus", "-o", str(tmp_path / "o.parquet"))
    assert code == 2 and "--partition-by" in err and "not a categorical column" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.yaml"]


def test_replacing_and_refusing_partitioned_outputs(spec: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "o.parquet"
    assert run(capsys, "sweep", str(spec), "-o", str(out), "--partition-by", "gpu", "-q")[0] == 0
    assert run(capsys, "sweep", str(spec), "-o", str(out), "-q")[0] == 0  # partitioned -> flat
    assert all(p.name.startswith("part-") for p in out.iterdir())
    assert run(capsys, "sweep", str(spec), "-o", str(out), "--partition-by", "gpu", "-q")[0] == 0  # and back
    # a file of the user's inside a partition folder: the folder is not costspec's to replace
    mine = out / "gpu=MI300X" / "notes.txt"
    mine.write_text("mine")
    before = sorted(str(p.relative_to(out)) for p in out.rglob("*"))
    code, _, err = run(capsys, "sweep", str(spec), "-o", str(out), "-q")
    assert code == 2 and "gpu=MI300X/notes.txt" in err
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == before and mine.read_text() == "mine"
    mine.unlink()
    # a link named like a partition is not followed
    (tmp_path / "elsewhere").mkdir()
    (out / "gpu=X").symlink_to(tmp_path / "elsewhere")
    code, _, err = run(capsys, "sweep", str(spec), "-o", str(out), "-q")
    assert code == 2 and "gpu=X" in err
    (out / "gpu=X").unlink()
    # a failed run keeps the previous partitioned output as it was
    snapshot = {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*.parquet")}
    bad = tmp_path / "bad.yaml"
    bad.write_text("costspec: 1\nmodel: {preset: llama2-70b}\ntraining: {tokens: 2T}\nhardware: {gpu: H100-SXM, "
                   "mfu: 0.4, count: \"=n\"}\nprice: {provider: lambda}\nparallelism: {tensor: 8}\n"
                   "sweep: {grid: {n: [64, 128, 100, 256]}}\n")
    code, _, err = run(capsys, "sweep", str(bad), "-o", str(out), "--partition-by", "gpu")
    assert code == 2
    assert {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*.parquet")} == snapshot
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml", "elsewhere", "o.parquet", "s.yaml"]


def test_report_reads_a_partitioned_output(spec: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "o.parquet"
    assert run(capsys, "sweep", str(spec), "-o", str(out), "--partition-by", "gpu", "-q")[0] == 0
    import costspec

    rep = costspec.report(out)
    assert rep.results.table.num_rows == ds.dataset(out, format="parquet", partitioning="hive").count_rows()
    assert "gpu" in rep.results.table.column_names and len(rep.charts) == 4


def test_other_outputs_in_partition_like_folders_are_never_removed(spec: Path, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """Found by a hostile review: `runs/date=2024-01-01` holding another costspec output is not a
    partition of `runs`, and an empty folder named like a partition is not costspec's."""
    runs = tmp_path / "runs"
    assert run(capsys, "sweep", str(spec), "-o", str(runs / "date=2024-01-01"), "-q")[0] == 0
    assert run(capsys, "sweep", str(spec), "-o", str(runs / "date=2024-01-02"), "-q", "--top", "3", "--by",
               "cost_usd")[0] == 0
    before = sorted(str(p.relative_to(runs)) for p in runs.rglob("*"))
    code, _, err = run(capsys, "sweep", str(spec), "-o", str(runs), "-q")
    assert code == 2 and "did not write" in err
    assert sorted(str(p.relative_to(runs)) for p in runs.rglob("*")) == before
    code, _, err = run(capsys, "merge", str(runs), str(runs / "date=2024-01-01"))
    assert code == 2
    assert sorted(str(p.relative_to(runs)) for p in runs.rglob("*")) == before
    out = tmp_path / "p.parquet"
    assert run(capsys, "sweep", str(spec), "-o", str(out), "--partition-by", "gpu", "-q")[0] == 0
    (out / "keep=me").mkdir()
    code, _, err = run(capsys, "sweep", str(spec), "-o", str(out), "-q")
    assert code == 2 and "keep=me" in err and (out / "keep=me").is_dir()


def test_a_partitioned_output_that_keeps_nothing(spec: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    spec.write_text(SPEC + "where: [cost_usd < 0]\n")
    out = tmp_path / "e.parquet"
    assert run(capsys, "sweep", str(spec), "-o", str(out), "--partition-by", "gpu", "-q")[0] == 0
    assert [p.name for p in out.iterdir()] == ["part-00000.parquet"]  # (one empty part: the columns kept)
    assert "gpu" in ds.dataset(out, format="parquet").schema.names
    code, stdout, err = run(capsys, "report", str(out))
    assert code == 0, err
    assert run(capsys, "sweep", str(spec), "-o", str(out), "-q")[0] == 0  # and it is costspec's to replace


def test_a_killed_run_s_task_folders_are_cleaned_by_the_next(spec: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """A driver killed with SIGKILL leaves its temporary, tasks' private folders inside; the next
    run at the target removes all of it (only costspec's entries)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from costspec.targets import MARKER

    stale = tmp_path / ".o.parquet.tmp-999999999-0123abcd"
    task = stale / ".task-00003-89abcdef" / "gpu=H100-SXM"
    task.mkdir(parents=True)
    pq.write_table(pa.table({"x": [1]}), task / "part-00000.parquet")
    (stale / MARKER).write_text("999999999 0123abcd\n")
    assert run(capsys, "sweep", str(spec), "-o", str(tmp_path / "o.parquet"), "-q")[0] == 0
    assert not stale.exists()
