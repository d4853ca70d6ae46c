"""The engine's Parquet writer (rust/parquet, issue 14): what it writes reads back, in pyarrow and
DuckDB, as the values the engine left in its buffers — "no value" as null, categories as their
names, the chosen encodings (a dictionary of runs, a small dictionary, plain), statistics, row
groups and metadata — and a sweep's output equals what pyarrow's writer makes of the same rows."""

from __future__ import annotations

import io
import math
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costspec import _native, runner
from costspec.plan import compile_spec
from costspec.spec import load

NO_INT = -(2**63)
CATS = ["A100-80GB", "H100-SXM", "MI300X"]


def write(columns: list[tuple[str, str, bool, list[str] | None]], groups: list[tuple[list[np.ndarray], list]],
          metadata: list[tuple[str, str]] | None = None) -> bytes:
    """A file from row groups: each the buffers (one per column) and its (first row, count) regions."""
    part = _native.ParquetPart(columns, metadata or [], 1)
    out = io.BytesIO()
    for buffers, regions in groups:
        out.write(part.row_group([pa.py_buffer(b.tobytes()) for b in buffers], regions))
    out.write(part.finish())
    return out.getvalue()


def expected(kind: str, values: np.ndarray) -> pa.Array:
    """What a column of the engine's values reads back as."""
    if kind == "f64":
        return pa.array([None if math.isnan(x) else float(x) for x in values], pa.float64())
    if kind == "i64":
        return pa.array([None if x == NO_INT else int(x) for x in values], pa.int64())
    if kind == "flag":
        return pa.array([None if math.isnan(x) else bool(x) for x in values], pa.bool_())
    return pa.array([None if x < 0 else CATS[x] for x in values], pa.string())


@st.composite
def column_values(draw: st.DrawFn, kind: str, n: int, nullable: bool) -> np.ndarray:
    """n values in runs (long, short or single), a few of them "no value" when nullable."""
    pool_f = [0.0, -0.0, 1.5, 1e300, -2.25, 3.0e-7, float("inf")]
    out: list = []
    while len(out) < n:
        length = draw(st.sampled_from([1, 1, 2, 7, 8, 9, 50, 300]))
        null = nullable and draw(st.integers(0, 9)) == 0
        if kind == "f64":
            v = math.nan if null else draw(st.sampled_from(pool_f) | st.floats(-1e6, 1e6, allow_nan=False))
        elif kind == "i64":
            v = NO_INT if null else draw(st.integers(-(2**62), 2**62))
        elif kind == "flag":
            v = math.nan if null else float(draw(st.sampled_from([0.0, 1.0, 2.0])))
        else:
            v = -1 if null else draw(st.integers(0, len(CATS) - 1))
        out.extend([v] * length)
    dtype = {"f64": np.float64, "flag": np.float64, "i64": np.int64, "category": np.int32}[kind]
    return np.array(out[:n], dtype=dtype)


KINDS = ["f64", "i64", "flag", "category"]


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_round_trip(data: st.DataObject) -> None:
    kinds = data.draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=5))
    nullable = [data.draw(st.booleans()) for _ in kinds]
    columns = [(f"c{i}", k, nb, CATS if k == "category" else None) for i, (k, nb) in enumerate(zip(kinds, nullable))]
    groups, want = [], [[] for _ in kinds]
    for _ in range(data.draw(st.integers(1, 3))):
        # Regions with gaps between them (rows a filter dropped), as an engine call leaves them.
        regions, at = [], 0
        for _ in range(data.draw(st.integers(1, 3))):
            at += data.draw(st.sampled_from([0, 0, 3, 8]))
            count = data.draw(st.sampled_from([0, 1, 5, 64, 700]))
            regions.append((at, count))
            at += count
        buffers = []
        for i, (k, nb) in enumerate(zip(kinds, nullable)):
            vals = data.draw(column_values(k, at, nb))
            buffers.append(vals)
            for a, c in regions:
                want[i].append(vals[a:a + c])
        groups.append((buffers, regions))
    raw = write(columns, groups)
    table = pq.read_table(io.BytesIO(raw))
    for i, k in enumerate(kinds):
        got = table.column(f"c{i}").combine_chunks()
        exp = expected(k, np.concatenate(want[i]) if want[i] else np.array([], np.float64))
        assert got.equals(exp.cast(got.type)) if k != "f64" else \
            got.to_pylist() == exp.to_pylist() or _same_floats(got, exp), f"column {i} ({k})"
        assert table.schema.field(f"c{i}").nullable == nullable[i]
    # Statistics as the values say (DuckDB prunes row groups on them).
    md = pq.ParquetFile(io.BytesIO(raw)).metadata
    offset = 0
    for r in range(md.num_row_groups):
        rows = md.row_group(r).num_rows
        for i, k in enumerate(kinds):
            stats = md.row_group(r).column(i).statistics
            vals = table.column(f"c{i}").slice(offset, rows).drop_null()
            assert stats.null_count == rows - len(vals)
            if len(vals) and k != "flag":
                lo, hi = min(vals.to_pylist()), max(vals.to_pylist())
                assert (stats.min, stats.max) == (lo, hi)
        offset += rows


def _same_floats(a: pa.Array, b: pa.Array) -> bool:
    """Equal, -0.0 and 0.0 told apart."""
    return all((x is None and y is None) or (x is not None and y is not None and math.copysign(1, x) == math.copysign(1, y)
                                            and x == y) for x, y in zip(a.to_pylist(), b.to_pylist()))


def test_encodings_follow_the_runs(tmp_path: Path) -> None:
    n = 100_000
    runs = np.repeat(np.arange(n // 50, dtype=np.float64) * 1.5, 50)  # runs of 50: a dictionary of runs
    few = np.tile(np.arange(256, 256 * 51, 256, dtype=np.int64), n // 50)  # 50 values cycling: small dictionary
    distinct = np.random.default_rng(1).random(n)  # all distinct: plain
    cats = np.repeat(np.array([0, 2, 1], np.int32), [40_000, 30_000, 30_000])
    raw = write([("runs", "f64", False, None), ("few", "i64", True, None), ("spread", "f64", False, None),
                 ("gpu", "category", False, CATS)], [([runs, few, distinct, cats], [(0, n)])])
    path = tmp_path / "x.parquet"
    path.write_bytes(raw)
    col = pq.ParquetFile(path).metadata.row_group(0)
    assert "RLE_DICTIONARY" in col.column(0).encodings and col.column(0).has_dictionary_page
    assert "RLE_DICTIONARY" in col.column(1).encodings
    assert "RLE_DICTIONARY" not in col.column(2).encodings and not col.column(2).has_dictionary_page
    assert col.column(0).total_compressed_size < n * 0.2  # (runs: a few bytes each)
    assert col.column(1).total_compressed_size < n * 0.05
    t = pq.read_table(path)
    assert t.column("runs").to_numpy().tolist() == runs.tolist()
    assert t.column("few").to_numpy().tolist() == few.tolist()
    assert t.column("spread").to_numpy().tolist() == distinct.tolist()
    got = duckdb.sql(f"SELECT sum(runs), sum(few), sum(spread), count(*) FILTER (WHERE gpu = 'MI300X') "
                     f"FROM read_parquet('{path}')").fetchall()[0]
    assert got == (pytest.approx(runs.sum()), int(few.sum()), pytest.approx(distinct.sum()), 30_000)


def test_empty_part_keeps_the_schema() -> None:
    raw = write([("a", "f64", True, None), ("gpu", "category", False, CATS)], [],
                [("costspec.version", "x")])
    t = pq.read_table(io.BytesIO(raw))
    assert t.num_rows == 0 and t.column_names == ["a", "gpu"]
    assert pq.ParquetFile(io.BytesIO(raw)).metadata.metadata[b"costspec.version"] == b"x"


def test_no_value_in_a_required_column_is_an_error() -> None:
    part = _native.ParquetPart([("a", "f64", False, None)], [], 1)
    with pytest.raises(ValueError, match="missing value in a column declared required"):
        part.row_group([pa.py_buffer(np.array([1.0, math.nan]).tobytes())], [(0, 2)])


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown column kind"):
        _native.ParquetPart([("a", "f32", False, None)], [], 1)
    part = _native.ParquetPart([("a", "f64", False, None)], [], 1)
    with pytest.raises(ValueError, match="expected 1 buffers"):
        part.row_group([], [(0, 1)])
    with pytest.raises(ValueError, match="aligned rows"):
        part.row_group([pa.py_buffer(b"\0" * 8)], [(0, 2)])
    # Regions past the end of memory, category indices past the names (a hostile review: an
    # unchecked sum read outside the buffer; an index panicked).
    with pytest.raises(ValueError, match="past the end of memory"):
        part.row_group([pa.py_buffer(bytes(32))], [(2**60, 2**64 - 2**60 + 1)])
    with pytest.raises(ValueError, match="aligned rows"):
        part.row_group([pa.py_buffer(bytes(32))], [(2**60, 2)])
    cats = _native.ParquetPart([("g", "category", False, ["x"])], [], 1)
    with pytest.raises(ValueError, match="category index 5 of 1 names"):
        cats.row_group([pa.py_buffer(np.array([0, 5, 5], np.int32).tobytes())], [(0, 3)])
    part.finish()
    with pytest.raises(RuntimeError, match="finished"):
        part.finish()


def test_bad_row_group_sizes(tmp_path: Path) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(SPEC)
    plan = compile_spec(load(spec))
    native = _native.Plan(plan.to_json())
    part = _native.ParquetPart(runner._part_columns(plan), [], 1)
    for rows in (0, 2**36, 2**62):
        with pytest.raises(ValueError, match="group_rows must be"):
            part.write(native, 0, 10, rows, lambda *a: None)


SPEC = """
costspec: 1
name: writer-check
model: {}
training: {tokens: "=ratio * model.params"}
sweep:
  zip:
    - hardware.gpu: [A100-80GB, H100-SXM, MI300X]
      price.provider: [lambda, lambda, vultr]
  grid:
    model.params: {geomspace: [1B, 1T], num: 7}
    ratio: [10, 20, 40]
    hardware.mfu: [0.3, 0.45]
    hardware.count: {range: [64, 4096, 64]}
"""


@pytest.mark.parametrize("where", ["", "where: [wall_clock_days <= 30]\n"])
def test_sweep_output_equals_pyarrows(tmp_path: Path, where: str) -> None:
    """The same rows as pyarrow's writer makes of the sweep's table: values, types, units,
    metadata; and DuckDB reads the same sums."""
    spec = tmp_path / "s.yaml"
    spec.write_text(SPEC + where)
    plan = compile_spec(load(spec))
    out = tmp_path / "out.parquet"
    runner.write(plan, out, threads=2)
    mine = pq.read_table(out)
    table = runner.sweep(plan.spec, threads=2)
    ref = tmp_path / "ref.parquet"
    pq.write_table(table, ref)
    theirs = pq.read_table(ref)
    assert mine.num_rows == theirs.num_rows > 0
    assert mine.equals(theirs)
    assert mine.schema.equals(theirs.schema, check_metadata=True)
    cols = ", ".join(f"sum({c})" for c in ("params", "gpus", "wall_clock_days", "cost_usd"))
    a = duckdb.sql(f"SELECT count(*), {cols} FROM read_parquet('{out}/*.parquet')").fetchall()[0]
    b = duckdb.sql(f"SELECT count(*), {cols} FROM read_parquet('{ref}')").fetchall()[0]
    assert a[0] == b[0] and all(x == pytest.approx(y, rel=1e-12) for x, y in zip(a[1:], b[1:]))
    # pandas and polars, where installed, read the parts as the table (the GPU as a category).
    for name in ("pandas", "polars"):
        try:
            lib = __import__(name)
        except ImportError:
            continue
        df = lib.read_parquet(out) if name == "pandas" else lib.read_parquet(f"{out}/*.parquet")
        assert len(df) == theirs.num_rows
        assert float(df["cost_usd"].sum()) == pytest.approx(sum(theirs.column("cost_usd").to_pylist()), rel=1e-12)


def test_nan_in_a_derived_column_stays_nan(tmp_path: Path) -> None:
    """A derived column's NaN is a value (as in the in-memory table and the other formats), not a
    null; only the columns the plan says NaN means "no value" in get nulls. (A hostile review found
    the first version writing nulls.)"""
    spec = tmp_path / "dv.yaml"
    spec.write_text("""
costspec: 1
name: dv
model: {preset: llama2-7b}
training: {tokens: 100B}
hardware: {count: 64, mfu: 0.4}
price: {usd_per_gpu_hour: 2}
derive:
  kw: "hardware.watts / 1000"
sweep:
  grid:
    hardware.gpu: [H100-SXM, TPU-v5e, A100-80GB]
    model.params: [1B, 2B]
""")
    out = tmp_path / "out.parquet"
    runner.write(compile_spec(load(spec)), out)
    got = pq.read_table(out).column("kw").to_pylist()
    want = runner.sweep(spec).column("kw").to_pylist()
    assert [None if x is None else ("nan" if math.isnan(x) else x) for x in got] == \
        [None if x is None else ("nan" if math.isnan(x) else x) for x in want]
    assert sum(1 for x in got if x is not None and math.isnan(x)) == 2
    assert duckdb.sql(f"SELECT count(*) FILTER (WHERE isnan(kw)) FROM read_parquet('{out}/*.parquet')").fetchall()[0][0] == 2


def test_summary_ties_go_to_the_earliest_points(tmp_path: Path) -> None:
    """Answers tied on cost, time and GPUs: the summary shows the earliest points' (as before the
    engine's writer; a hostile review found a later one shown instead)."""
    spec = tmp_path / "tie.yaml"
    spec.write_text("""
costspec: 1
name: tie2
model: {preset: llama2-7b}
training: {tokens: 100B, lora_fraction: 0.01}
hardware: {gpu: H100-SXM, count: 64, mfu: 0.4}
price: {usd_per_gpu_hour: 2}
sweep:
  zip:
    - training.mode: [pretrain, pretrain, pretrain, pretrain, pretrain, lora]
      parallelism.zero: [0, 1, 2, 3, 0, 0]
      training.recompute: [none, none, none, none, full, none]
""")
    parted = tmp_path / "parted.yaml"
    parted.write_text(spec.read_text() + "output: {partition_by: [recompute]}\n")
    for fmt, path in (("parquet", spec), ("arrow", spec), ("parquet", parted)):
        # (the engine's writer, pyarrow's, and the partitioned path's pruning of each batch)
        s = runner.write(compile_spec(load(path)), tmp_path / f"out-{path.stem}.{fmt}", fmt=fmt)
        assert s.cheapest is not None
        rows = s.cheapest.select(["mode", "zero", "recompute"]).to_pylist()
        assert [(r["mode"], r["zero"], r["recompute"]) for r in rows] == [
            ("lora", 0, "none"), ("pretrain", 0, "none"), ("pretrain", 1, "none"), ("pretrain", 2, "none"),
            ("pretrain", 3, "none")], fmt


# The Arrow schema (ARROW:schema) and footers, without pyarrow (rust/parquet/arrow_schema.rs, footer.rs).

ARROW_TYPES = {"f64": pa.float64(), "f64_nan": pa.float64(), "i64": pa.int64(), "flag": pa.bool_(),
               "category": pa.dictionary(pa.int32(), pa.string())}
texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(texts, st.sampled_from(sorted(ARROW_TYPES)), st.booleans(), st.none() | texts), max_size=8),
       st.lists(st.tuples(texts, texts), max_size=4, unique_by=lambda kv: kv[0]))
def test_arrow_schema_reads_back_as_pyarrows(fields: list, metadata: list) -> None:
    """The engine's IPC schema message reads back in pyarrow as the schema pyarrow would have
    serialised: names, types (categories as dictionaries of strings), nullability, units, metadata."""
    ours = _native.arrow_schema(fields, metadata)
    want = pa.schema([pa.field(n, ARROW_TYPES[k], nullable=nl, metadata={"unit": u} if u is not None else None)
                      for n, k, nl, u in fields], metadata=dict(metadata) or None)
    got = pa.ipc.read_schema(pa.py_buffer(ours))
    assert got.equals(want, check_metadata=True), (got, want)
    assert len(ours) % 8 == 0 and ours[:4] == b"\xff\xff\xff\xff"


@pytest.mark.parametrize("path", sorted((Path(__file__).parent.parent / "specs").glob("*.yaml")), ids=lambda p: p.name)
def test_arrow_schema_of_every_spec(path: Path) -> None:
    plan = compile_spec(load(path))
    meta = runner._parquet_metadata(plan, {**runner.metadata(plan), "extra": "1"})
    assert [k for k, _ in meta] == [*runner.metadata(plan), "extra", "ARROW:schema"]
    import base64

    got = pa.ipc.read_schema(pa.py_buffer(base64.b64decode(dict(meta)["ARROW:schema"])))
    want = runner._schema(plan)
    assert got.equals(want.with_metadata({**want.metadata, b"extra": b"1"}), check_metadata=True)


def test_arrow_schema_bad_kind() -> None:
    with pytest.raises(ValueError, match="unknown column kind"):
        _native.arrow_schema([("a", "f32", True, None)], [])


def _footer(data: bytes) -> bytes:
    n = int.from_bytes(data[-8:-4], "little")
    return data[-8 - n:-8]


def test_footer_metadata_is_pyarrows(tmp_path: Path) -> None:
    f = tmp_path / "t.parquet"
    pq.write_table(pa.table({"a": [1, 2]}).replace_schema_metadata({"k": "v", "costspec.version": "x"}), f)
    want = {k.decode(): v.decode() for k, v in pq.read_metadata(f).metadata.items()}
    assert dict(_native.footer_metadata(_footer(f.read_bytes()))) == want
    from costspec import targets

    assert targets.footer_metadata(f) == want
    bare = tmp_path / "bare.parquet"
    pq.write_table(pa.table({"a": [1]}), bare, store_schema=False)
    assert targets.footer_metadata(bare) == {}


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_footer_metadata_of_any_bytes_is_a_dict_or_none(data: st.DataObject) -> None:
    """Any file may sit where an output goes: its footer's bytes, cut or changed anywhere, never
    raise (a decoder panic included) — they are some metadata, or none."""
    sink = io.BytesIO()
    pq.write_table(pa.table({"a": [1.5, None]}).replace_schema_metadata({"costspec.version": "0"}), sink)
    footer = bytearray(_footer(sink.getvalue()))
    for _ in range(data.draw(st.integers(1, 4))):
        how = data.draw(st.sampled_from(["flip", "cut", "random"]))
        if how == "flip" and footer:
            i = data.draw(st.integers(0, len(footer) - 1))
            footer[i] ^= 1 << data.draw(st.integers(0, 7))
        elif how == "cut":
            footer = footer[:data.draw(st.integers(0, len(footer)))]
        else:
            footer = bytearray(data.draw(st.binary(max_size=200)))
    got = _native.footer_metadata(bytes(footer))
    assert got is None or all(isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in got)


def test_footer_metadata_of_what_is_not_a_parquet_file(tmp_path: Path) -> None:
    import os

    from costspec import targets

    good = tmp_path / "good.parquet"
    pq.write_table(pa.table({"a": [1]}), good)
    data = good.read_bytes()
    cases = {"empty": b"", "short": b"PAR1PAR1", "text": b"hello world, not parquet at all",
             "no head magic": b"XXXX" + data[4:], "no tail magic": data[:-4] + b"XXXX",
             "length past the start": data[:-8] + (10**6).to_bytes(4, "little") + b"PAR1",
             "garbage footer": b"PAR1" + b"\x00" * 40 + (20).to_bytes(4, "little") + b"PAR1"}
    for name, content in cases.items():
        p = tmp_path / f"{name}.parquet"
        p.write_bytes(content)
        assert targets.footer_metadata(p) is None, name
    link = tmp_path / "link.parquet"
    link.symlink_to(good)
    assert targets.footer_metadata(link) is None  # (a link is not followed)
    fifo = tmp_path / "fifo.parquet"
    os.mkfifo(fifo)
    assert targets.footer_metadata(fifo) is None  # (and does not block)
    assert targets.footer_metadata(tmp_path) is None
    assert targets.footer_metadata(tmp_path / "missing.parquet") is None


# The summary's cheapest rows, ranked in Python (runner._Cheapest._rank) as Arrow ranked them.

RANK_SPEC = """
costspec: 1
name: rank
model: {preset: llama2-7b}
training: {tokens: 100B}
hardware: {mfu: 0.4}
price: {usd_per_gpu_hour: 2}
sweep:
  grid:
    hardware.gpu: [H100-SXM, A100-80GB, MI300X]
    hardware.count: [8, 16]
"""


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([None, math.nan, 1.0, 2.0, 2.0, 3.5]), st.sampled_from([None, math.nan, 1.0, 2.0]),
                          st.sampled_from([8, 16, None]), st.sampled_from(["H100-SXM", "A100-80GB", "MI300X", None])),
                max_size=14))
def test_rank_orders_rows_as_arrow_does(tmp_path_factory: pytest.TempPathFactory, rows: list) -> None:
    """_rank (Python, a few rows) against _firsts (Arrow's sort and group_by): same rows, same
    order, ties to the earlier row; no value and NaN sorted as Arrow sorts them."""
    plan = compile_spec(load(_spec(tmp_path_factory)))
    c = runner._Cheapest(plan)
    assert c.per == ["gpu"] and c.key == "cost_usd"
    names = [col.name for col in plan.columns]
    base = runner.sweep(plan.spec).slice(0, 1).to_pylist()[0]
    full = []
    for cost, days, gpus, gpu in rows:
        r = dict(base, cost_usd=cost, wall_clock_days=days, gpus=gpus, gpu=gpu)
        full.append(tuple(r[n] for n in names))
    table = runner.Rows(plan, full).table() if full else None
    want = [tuple(r[n] for n in names) for r in c._firsts(table).to_pylist()] if table is not None else []
    got = c._rank(full)
    norm = lambda rs: [tuple("nan" if isinstance(v, float) and v != v else v for v in r) for r in rs]  # noqa: E731
    assert norm(got) == norm(want)


_SPEC_PATH: list[Path] = []


def _spec(factory: pytest.TempPathFactory) -> Path:
    if not _SPEC_PATH:
        p = factory.mktemp("rank") / "rank.yaml"
        p.write_text(RANK_SPEC)
        _SPEC_PATH.append(p)
    return _SPEC_PATH[0]


@pytest.mark.parametrize("path", sorted((Path(__file__).parent.parent / "specs").glob("*.yaml")), ids=lambda p: p.name)
def test_summary_rows_are_the_same_from_every_writer(tmp_path: Path, path: Path) -> None:
    """The cheapest rows from the engine's writer (decoded from its buffers) and from pyarrow's
    (Arrow tables): the same Python values; Rows.table() reads back as them, with the output's schema."""
    plan = compile_spec(load(path))
    if plan.points > 2_000_000 or plan.spec.keep is not None or plan.spec.partition_by:
        pytest.skip("large or reduced")
    a = runner.write(plan, tmp_path / "a.parquet", threads=2)
    b = runner.write(plan, tmp_path / "b.arrow", fmt="arrow", threads=2)
    assert (a.best is None) == (b.best is None)
    if a.best is None:
        return
    norm = lambda rs: [tuple("nan" if isinstance(v, float) and v != v else v for v in r) for r in rs]  # noqa: E731
    assert norm(a.best.values) == norm(b.best.values)
    table = a.best.table()
    assert table.schema.equals(runner._schema(plan), check_metadata=True)
    assert norm([tuple(r.values()) for r in table.to_pylist()]) == norm(a.best.values)


def test_a_crafted_footer_is_refused_not_a_crash(tmp_path: Path) -> None:
    """A part whose footer claims 2^35 key-value entries in 9 bytes: the output folder holding it
    is refused as not costspec's (a hostile review found the parquet crate's decoder aborting the
    process on a 200 GB allocation), and nothing is printed from the engine's module."""
    import subprocess
    import sys

    out = tmp_path / "out.parquet"
    out.mkdir()
    footer = b"\x15\x02\x19\xfc" + bytes([0xFF, 0xFF, 0xFF, 0xFF, 0x07])
    (out / "part-00000.parquet").write_bytes(b"PAR1" + footer + len(footer).to_bytes(4, "little") + b"PAR1")
    spec = tmp_path / "s.yaml"
    spec.write_text(RANK_SPEC)
    proc = subprocess.run([sys.executable, "-c", "from costspec.cli import main; main()", "sweep", str(spec),
                           "-o", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "costspec did not write" in proc.stderr and "panicked" not in proc.stderr
    assert (out / "part-00000.parquet").read_bytes()[4:13] == footer


def test_minus_zero_ties_with_zero_in_every_writer(tmp_path: Path) -> None:
    """A cost of -0 (0 × a negative) ties with 0, as Arrow's sort has it: the tie goes to the faster
    run, whichever writer ranks the rows (a hostile review found the engine's writer taking -0 as
    cheaper and showing the slowest run at "$-0")."""
    spec = tmp_path / "z.yaml"
    spec.write_text("""
costspec: 1
name: zeros
model: {preset: llama2-7b}
training: {tokens: 2T}
hardware: {mfu: 0.4}
price: {usd_per_gpu_hour: "=(hardware.count - 128) * 0"}
sweep:
  grid:
    hardware.gpu: [A100-80GB, H100-SXM]
    hardware.count: {range: [64, 2048, 64]}
""")
    plan = compile_spec(load(spec))
    got = {}
    for fmt in ("parquet", "arrow"):
        s = runner.write(plan, tmp_path / f"o.{fmt}", fmt=fmt)
        assert s.best is not None
        got[fmt] = [(r["gpu"], r["gpus"]) for r in s.best.dicts()]
    assert got["parquet"] == got["arrow"] == [("H100-SXM", 1984), ("A100-80GB", 1984)]
