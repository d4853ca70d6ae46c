"""The Ray executor (issue 16) on a real local cluster (2 CPUs, started by the tests): the output
equals the one-machine output row for row, reductions equal, a worker killed mid-run (by its
PID) gives the same answer, a failed run leaves nothing at the target, and bad input is a
one-line error."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Iterator

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from clirun import run
from costspec.distributed import KILL_ONCE
from test_shards import REDUCTIONS, SPEC

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module", autouse=True)
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A local Ray cluster for the module. Its workers inherit a kill switch, disarmed (the marker
    exists) until a test removes the marker."""
    marker = tmp_path_factory.mktemp("fault") / "killed"
    marker.write_text("disarmed")
    os.environ[KILL_ONCE] = str(marker)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    try:
        yield marker
    finally:
        ray.shutdown()
        del os.environ[KILL_ONCE]


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("spec")
    (d / "s.yaml").write_text(SPEC)
    return d / "s.yaml"


def _table(path: Path) -> pa.Table:
    return pq.read_table(path).replace_schema_metadata(None)


@pytest.mark.parametrize("reduction", REDUCTIONS, ids=lambda r: " ".join(r) or "full")
def test_ray_output_equals_one_machine(spec: Path, tmp_path: Path, reduction: list[str],
                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "sweep", str(spec), "-o", str(tmp_path / "one.parquet"), "-q", *reduction)[0] == 0
    one = _table(tmp_path / "one.parquet")
    for tasks in ("1", "3", "7"):
        out = tmp_path / f"ray{tasks}.parquet"
        code, stdout, err = run(capsys, "sweep", str(spec), "--executor", "ray", "--tasks", tasks, "-o", str(out),
                                *reduction)
        assert code == 0, err
        assert _table(out).equals(one), f"{tasks} tasks"
        assert f"{one.num_rows:,} kept" in stdout
        assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []


def test_a_killed_worker_gives_the_same_answer(spec: Path, tmp_path: Path, cluster: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "sweep", str(spec), "-o", str(tmp_path / "one.parquet"), "-q")[0] == 0
    cluster.unlink()  # armed: the first task to start kills its worker process
    code, out, err = run(capsys, "sweep", str(spec), "--executor", "ray", "--tasks", "6", "-o",
                         str(tmp_path / "ray.parquet"), "-q")
    assert code == 0, err
    pid = int(cluster.read_text())  # (the worker that died: its PID, written before it killed itself)
    assert pid != os.getpid()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert _table(tmp_path / "ray.parquet").equals(_table(tmp_path / "one.parquet"))
    assert sorted(p.name for p in (tmp_path / "ray.parquet").iterdir()) == [f"part-{k:05d}.parquet" for k in range(6)]


def test_a_failed_run_leaves_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text("costspec: 1\nmodel: {preset: llama2-70b}\ntraining: {tokens: 2T}\nhardware: {gpu: H100-SXM, "
                    "mfu: 0.4, count: \"=n\"}\nprice: {provider: lambda}\nparallelism: {tensor: 8}\n"
                    "sweep: {grid: {n: [64, 128, 100, 256]}}\n")
    out = tmp_path / "o.parquet"
    code, stdout, err = run(capsys, "sweep", str(spec), "--executor", "ray", "--tasks", "4", "-o", str(out))
    assert code == 2 and err.count("\n") == 1 and "gpus: got 100" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]
    # the previous output stays as it was
    good = tmp_path / "good.yaml"
    good.write_text(SPEC)
    assert run(capsys, "sweep", str(good), "-o", str(out), "-q")[0] == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    code, _, err = run(capsys, "sweep", str(spec), "--executor", "ray", "-o", str(out))
    assert code == 2
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml", "good.yaml", "o.parquet"]


def test_python_api(spec: Path) -> None:
    import costspec

    local = costspec.sweep(spec)
    on_ray = costspec.sweep(spec, executor="ray", tasks=5)
    assert on_ray.replace_schema_metadata(None).equals(local.replace_schema_metadata(None))


@pytest.mark.parametrize("args, needle", [
    (["--executor", "ray", "--address", "127.0.0.1:1"], "cannot reach Ray at 127.0.0.1:1"),
    (["--executor", "ray", "--address", "nonsense"], "expected HOST:PORT"),
    (["--tasks", "4"], "--address and --tasks go with --executor ray"),
    (["--executor", "ray", "--format", "csv"], "writes Parquet"),
    (["--executor", "ray", "--shard", "1/2"], "give one"),
    (["--executor", "ray", "--tasks", "5000"], "4096"),
])
def test_bad_input(spec: Path, tmp_path: Path, args: list[str], needle: str,
                   capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    if "--address" in args:
        monkeypatch.setattr(ray, "is_initialized", lambda: False)  # (as a fresh driver would try to join)
    out = tmp_path / ("o.csv" if "csv" in args else "o.parquet")
    code, stdout, err = run(capsys, "sweep", str(spec), "-o", str(out), *args)
    assert code == 2 and err.count("\n") == 1 and needle in err, err
    assert not any(tmp_path.iterdir())


def test_missing_extra(spec: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    code, out, err = run(capsys, "sweep", str(spec), "--executor", "ray", "-o", str(tmp_path / "o.parquet"))
    assert code == 2 and "pip install 'costspec[ray]'" in err
    assert not any(tmp_path.iterdir())


def test_a_partitioned_output_on_ray(spec: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import pyarrow.dataset as ds

    for name, args in (("one", []), ("ray", ["--executor", "ray", "--tasks", "5"])):
        code, _, err = run(capsys, "sweep", str(spec), "-o", str(tmp_path / f"{name}.parquet"), "--partition-by",
                           "gpu", "-q", *args)
        assert code == 0, err
    tables = [ds.dataset(tmp_path / f"{n}.parquet", format="parquet", partitioning="hive").to_table()
              for n in ("one", "ray")]
    rows = [sorted(tuple(r.values()) for r in t.select(["gpu", "params", "gpus", "dup", "cost_usd"]).to_pylist())
            for t in tables]
    assert rows[0] == rows[1] and len(rows[0]) > 0
    assert sorted(p.name for p in (tmp_path / "ray.parquet").iterdir()) == ["gpu=A100-80GB", "gpu=H100-SXM",
                                                                              "gpu=MI300X"]


def test_a_killed_worker_with_partitions(spec: Path, tmp_path: Path, cluster: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """Found by a hostile review: a worker killed while writing a partitioned part left its half
    part in the temporary, which the run then read (a traceback) and left behind."""
    import pyarrow.dataset as ds

    assert run(capsys, "sweep", str(spec), "-o", str(tmp_path / "one.parquet"), "--partition-by", "gpu", "-q")[0] == 0
    cluster.unlink()
    code, _, err = run(capsys, "sweep", str(spec), "--executor", "ray", "--tasks", "6", "--partition-by", "gpu",
                       "-o", str(tmp_path / "ray.parquet"), "-q")
    assert code == 0, err
    assert cluster.exists()
    rows = [sorted(tuple(r.values()) for r in ds.dataset(tmp_path / f"{n}.parquet", format="parquet",
                                                          partitioning="hive").to_table().to_pylist())
            for n in ("one", "ray")]
    assert rows[0] == rows[1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.parquet", "ray.parquet"]


def test_a_solve_with_no_answer_fails_on_ray_as_locally(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = Path(__file__).resolve().parents[1]
    spec = tmp_path / "b.yaml"
    spec.write_text((root / "specs" / "budget.yaml").read_text().replace("  path: results/budget.csv\n  format: csv\n", "")
                    + "where: [cost_usd < 0]\n")
    code, _, err = run(capsys, "sweep", str(spec), "--executor", "ray", "-o", str(tmp_path / "o.parquet"))
    assert code == 2 and "has an answer" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.yaml"]
