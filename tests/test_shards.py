"""Shards (issue 16): `costspec sweep --shard I/K` and `costspec merge` give exactly the output one
machine writes, for full outputs and reductions (ties included), for every K; bad shards and
incomplete or mixed sets are one-line errors that write nothing."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from clirun import run
from costspec.shards import Shard, merge_candidates, parse

# Ties on purpose: `dup` is swept but changes nothing, so every point has an equal twin (the same
# cost, time, everything but the point index); three GPUs, several sizes and counts.
SPEC = """
costspec: 1
name: shards
model: {}
training: {tokens: "=20 * model.params"}
hardware: {mfu: 0.4}
energy: {pue: 1.1, grid_kg_co2e_per_kwh: 0.385}
sweep:
  zip:
    - hardware.gpu: [A100-80GB, H100-SXM, MI300X]
      price.provider: [lambda, lambda, vultr]
  grid:
    model.params: [1B, 3B, 7B, 13B, 70B]
    dup: [1, 2]
    hardware.count: {range: [64, 1088, 64]}
derive:
  twin: dup * 0
"""

REDUCTIONS = [
    [],
    ["--top", "3", "--by", "cost_usd", "--per", "gpu"],
    ["--top", "4", "--by", "-gpus"],
    ["--pareto", "cost_usd,wall_clock_days", "--per", "gpu"],
    ["--pareto", "cost_usd,-params"],
]


def _table(path: Path) -> pa.Table:
    return pq.read_table(path).replace_schema_metadata(None)


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("spec")
    (d / "s.yaml").write_text(SPEC)
    return d / "s.yaml"


@pytest.mark.parametrize("reduction", REDUCTIONS, ids=lambda r: " ".join(r) or "full")
def test_every_split_merges_to_the_one_machine_output(spec: Path, tmp_path: Path, reduction: list[str],
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "sweep", str(spec), "-o", str(tmp_path / "one.parquet"), "-q", *reduction)
    assert code == 0, err
    one = _table(tmp_path / "one.parquet")
    assert one.num_rows > 0
    for k in range(1, 6):
        dirs = []
        for i in range(k, 0, -1):  # (any order)
            d = tmp_path / f"k{k}-s{i}.parquet"
            code, _, err = run(capsys, "sweep", str(spec), "--shard", f"{i}/{k}", "-o", str(d), "-q", "--threads", "2",
                               *reduction)
            assert code == 0, err
            assert pq.read_schema(next(d.iterdir())).metadata[b"costspec.shard"] == f"{i}/{k}".encode()
            dirs.append(str(d))
        code, out, err = run(capsys, "merge", str(tmp_path / f"merged{k}.parquet"), *dirs)
        assert code == 0, err
        assert out.startswith(f"merged {k} shard")
        assert _table(tmp_path / f"merged{k}.parquet").equals(one), f"K={k}"


def test_shard_ranges_are_balanced_and_cover_the_points() -> None:
    for points in (0, 1, 7, 100, 10**9 + 7):
        for k in range(1, 9):
            ranges = [Shard(i, k).range(points) for i in range(1, k + 1)]
            assert ranges[0][0] == 0 and ranges[-1][1] == points
            assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
            sizes = [e - s for s, e in ranges]
            assert max(sizes) - min(sizes) <= 1


def test_merge_keeps_equal_rows_and_breaks_ties_by_point_index() -> None:
    cands = [(5, [0], [1.0, 2.0], "a5"), (2, [0], [1.0, 2.0], "a2"), (9, [0], [0.5, 3.0], "a9"),
             (1, [0], [2.0, 2.5], "dominated"), (3, [1], [-0.0, 1.0], "b3"), (4, [1], [0.0, 1.0], "b4")]
    assert merge_candidates(cands, {"pareto": [["x", False], ["y", False]]}) == ["a9", "a2", "a5", "b3", "b4"]
    assert merge_candidates(cands, {"top": 2}) == ["a9", "a2", "b3", "b4"]


@pytest.mark.parametrize("bad", ["3/2", "0/0", "0/3", "1/0", "abc", "1/2/3", "-1/2", ""])
def test_bad_shards(spec: Path, tmp_path: Path, bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "sweep", str(spec), "--shard", bad, "-o", str(tmp_path / "x.parquet"))
    assert code == 2 and err.count("\n") == 1 and "I/K" in err, err
    assert not any(tmp_path.iterdir())
    with pytest.raises(Exception):
        parse(bad)


def test_a_shard_is_parquet(spec: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "sweep", str(spec), "--shard", "1/2", "-o", str(tmp_path / "x.csv"))
    assert code == 2 and "--shard writes Parquet" in err
    assert not any(tmp_path.iterdir())


def test_default_shard_path(spec: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert run(capsys, "sweep", str(spec), "--shard", "2/3", "-q")[0] == 0
    assert (tmp_path / "results" / "shards.shard-2-of-3.parquet").is_dir()


def _shards(spec: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], k: int, text: str | None = None,
            prefix: str = "s") -> list[str]:
    if text is not None:
        spec = tmp_path / f"{prefix}.yaml"
        spec.write_text(text)
    out = []
    for i in range(1, k + 1):
        d = tmp_path / f"{prefix}{i}.parquet"
        assert run(capsys, "sweep", str(spec), "--shard", f"{i}/{k}", "-o", str(d), "-q")[0] == 0
        out.append(str(d))
    return out


def _merge_error(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code, out, err = run(capsys, "merge", *args)
    assert code == 2, (out, err)
    assert err.count("\n") == 1 and err.startswith("costspec merge: error: ") and "Traceback" not in err, err
    return err


def test_incomplete_or_mixed_shards_are_refused(spec: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    dirs = _shards(spec, tmp_path, capsys, 4)
    out = str(tmp_path / "m.parquet")
    err = _merge_error(capsys, out, dirs[0], dirs[2])
    assert "missing shards 2/4, 4/4 of 4 (given: 1/4, 3/4)" in err
    err = _merge_error(capsys, out, *dirs, dirs[1])
    assert "shard 2/4 is given twice" in err
    other = _shards(spec, tmp_path, capsys, 2, SPEC.replace("name: shards", "name: other"), prefix="o")
    err = _merge_error(capsys, out, dirs[0], dirs[1], dirs[2], other[1])
    assert "different sweeps (their spec differs)" in err
    two = _shards(spec, tmp_path, capsys, 2, prefix="t")
    err = _merge_error(capsys, out, dirs[0], two[1])
    assert "the same K" in err
    full = tmp_path / "full.parquet"
    assert run(capsys, "sweep", str(spec), "-o", str(full), "-q")[0] == 0
    err = _merge_error(capsys, out, str(full))
    assert "not a costspec shard" in err
    err = _merge_error(capsys, out, str(tmp_path / "nope"))
    assert "no such folder" in err
    (tmp_path / "notes.txt").write_text("secret")
    err = _merge_error(capsys, out, str(tmp_path / "notes.txt"))
    assert "secret" not in err
    err = _merge_error(capsys, dirs[0], *dirs)
    assert "merge into another folder" in err or "did not write" in err
    assert not (tmp_path / "m.parquet").exists()


def test_reductions_and_full_shards_do_not_mix(spec: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = tmp_path / "a.parquet"
    b = tmp_path / "b.parquet"
    assert run(capsys, "sweep", str(spec), "--shard", "1/2", "-o", str(a), "-q")[0] == 0
    assert run(capsys, "sweep", str(spec), "--shard", "2/2", "-o", str(b), "-q", "--top", "2", "--by", "cost_usd")[0] == 0
    err = _merge_error(capsys, str(tmp_path / "m.parquet"), str(a), str(b))
    assert "different sweeps" in err


def test_a_failed_merge_keeps_the_previous_output(spec: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    dirs = _shards(spec, tmp_path, capsys, 2)
    out = tmp_path / "m.parquet"
    assert run(capsys, "merge", str(out), *dirs)[0] == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    _merge_error(capsys, str(out), dirs[0])
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


NULLS = """
costspec: 1
name: nulls
model: {}
training: {tokens: "=20 * model.params"}
hardware: {gpu: H100-SXM}
price: {provider: lambda}
parallelism: {layout: auto}
sweep:
  grid:
    model.params: [7B, 70B, 1T]
    hardware.count: [8, 64, 1024]
"""


def test_a_missing_group_value_is_a_group_of_its_own(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--per recompute` where no layout fits (recompute null): those points form their own group
    (they were counted in the first category's), first; shards merge to the same answer."""
    spec = tmp_path / "n.yaml"
    spec.write_text(NULLS)
    assert run(capsys, "sweep", str(spec), "-o", str(tmp_path / "full.parquet"), "-q")[0] == 0
    rows = pq.read_table(tmp_path / "full.parquet").to_pylist()
    assert any(r["recompute"] is None for r in rows) and any(r["recompute"] is not None for r in rows)
    want: dict[object, dict[str, object]] = {}
    for i, r in sorted(enumerate(rows), key=lambda ir: (float("inf") if ir[1]["cost_usd"] is None
                                                         else ir[1]["cost_usd"], ir[0])):
        want.setdefault(r["recompute"], r)
    reduction = ["--top", "1", "--by", "cost_usd", "--per", "recompute"]
    assert run(capsys, "sweep", str(spec), "-o", str(tmp_path / "top.parquet"), "-q", *reduction)[0] == 0
    got = pq.read_table(tmp_path / "top.parquet").to_pylist()
    assert [r["recompute"] for r in got][0] is None
    assert {r["recompute"]: (r["params"], r["gpus"]) for r in got} == {
        k: (v["params"], v["gpus"]) for k, v in want.items()}
    dirs = []
    for i in (1, 2, 3):
        d = tmp_path / f"s{i}.parquet"
        assert run(capsys, "sweep", str(spec), "--shard", f"{i}/3", "-o", str(d), "-q", *reduction)[0] == 0
        dirs.append(str(d))
    assert run(capsys, "merge", str(tmp_path / "m.parquet"), *dirs)[0] == 0
    assert _table(tmp_path / "m.parquet").equals(_table(tmp_path / "top.parquet"))


def test_an_incomplete_shard_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "big.yaml"  # (2.1M points: a shard of several part files)
    spec.write_text(SPEC.replace("hardware.count: {range: [64, 1088, 64]}", "hardware.count: {range: [64, 4480064, 64]}"))
    dirs = []
    for i in (1, 2):
        d = tmp_path / f"s{i}.parquet"
        assert run(capsys, "sweep", str(spec), "--shard", f"{i}/2", "--threads", "4", "-o", str(d), "-q")[0] == 0
        dirs.append(d)
    parts = sorted(dirs[0].iterdir())
    assert len(parts) > 1
    parts[1].unlink()
    err = _merge_error(capsys, str(tmp_path / "m.parquet"), *map(str, dirs))
    assert "is incomplete" in err and "copy the shard whole" in err
    err = _merge_error(capsys, ".", *map(str, dirs[1:]))
    assert "not a folder name" in err


def test_a_sharded_solve_merges_like_one_machine(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A shard of a solving sweep may have no answer (merge decides); merged, no answer at all
    fails as the one-machine run does, and writes nothing."""
    root = Path(__file__).resolve().parents[1]
    spec = tmp_path / "b.yaml"
    text = (root / "specs" / "budget.yaml").read_text().replace("  path: results/budget.csv\n  format: csv\n", "")
    spec.write_text(text)
    code, _, err = run(capsys, "sweep", str(spec), "-o", str(tmp_path / "one.parquet"), "-q")
    assert code == 0, err
    dirs = []
    for i in range(1, 7):
        d = tmp_path / f"s{i}.parquet"
        code, _, err = run(capsys, "sweep", str(spec), "--shard", f"{i}/6", "-o", str(d), "-q")
        assert code == 0, err
        dirs.append(str(d))
    assert run(capsys, "merge", str(tmp_path / "m.parquet"), *dirs)[0] == 0
    assert _table(tmp_path / "m.parquet").equals(_table(tmp_path / "one.parquet"))
    spec.write_text(text + "where: [cost_usd < 0]\n")  # no answer anywhere
    code, _, err = run(capsys, "sweep", str(spec), "-o", str(tmp_path / "none.parquet"), "-q")
    assert code == 2 and "has an answer" in err
    dirs = []
    for i in (1, 2):
        d = tmp_path / f"n{i}.parquet"
        assert run(capsys, "sweep", str(spec), "--shard", f"{i}/2", "-o", str(d), "-q")[0] == 0
        dirs.append(str(d))
    err = _merge_error(capsys, str(tmp_path / "none.parquet"), *dirs)
    assert "no point of the merged sweep has an answer" in err
    assert not (tmp_path / "none.parquet").exists()
