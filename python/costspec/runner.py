"""Running a plan: record batches from the Rust engine, and writing them to Parquet, Arrow or CSV.

The engine fills Arrow-allocated buffers in place (no copies), region by region; each region of
``CHUNK`` points becomes one record batch, so batches are the same whatever the thread count.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from costspec import fields as colinfo
from costspec.outputs import NULLABLE_ANYWHERE as NULLABLE_COLUMNS
from costspec import remote, targets
from costspec.errors import CostspecError, InputError
from costspec.remote import Folder

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.compute as pc

    from costspec.shards import Shard
else:  # (imported on first use: a sweep written by the engine's Parquet writer never needs them)
    from costspec.lazy import Lazy

    pa, pc = Lazy("pyarrow"), Lazy("pyarrow.compute")
from costspec.plan import OutputColumn, Plan, compile_spec
from costspec.spec import Keep, Spec

CHUNK = 65536  # points per region (one record batch)
BATCH = 16 * CHUNK  # points per engine call
# Each Parquet writer refills its own buffers, written as one row group per engine call.
WRITER_BATCH = BATCH
SEARCH_BATCH = 4096  # points per part, at least, when every point searches layouts
FORMATS = ("parquet", "arrow", "csv")
NO_INT = -(2**63)  # what the engine writes for a whole-number column with no value


MAX_THREADS_PER_CORE = 4  # more threads than this only add switching (10,000 threads: 1 s became > 120 s)


def cores() -> int:
    return os.cpu_count() or 1


def clamp_threads(threads: object, *, warn: bool = True) -> int:
    """The thread count to run with: 0 means all cores; more than 4× the cores is clamped to that
    (with a warning, when ``warn``). Anything but a whole number >= 0 is an InputError."""
    import numbers

    if isinstance(threads, bool) or not isinstance(threads, numbers.Integral) or int(threads) < 0:
        raise InputError("threads", repr(threads), "a whole number >= 0 (0: all cores)")
    n = int(threads) or cores()
    most = MAX_THREADS_PER_CORE * cores()
    if n > most:
        if warn:
            import warnings

            warnings.warn(f"threads={n:,} is more than {MAX_THREADS_PER_CORE}× the {cores()} cores; using {most}",
                          stacklevel=3)
        n = most
    return n


class SweepFailed(CostspecError):
    """A point the cost model cannot evaluate; says which point, with its swept values."""


def _native_plan(plan: Plan) -> Any:
    """The engine's program for a plan. What the engine refuses to build (a plan the checks let
    through) is a CostspecError, never a raw ValueError."""
    from costspec import _native

    try:
        return _native.Plan(plan.to_json())
    except ValueError as e:
        raise CostspecError(f"{plan.spec.file}: the sweep cannot be evaluated: {e}") from None


def _fields(plan: Plan) -> list[tuple[str, str, bool, str | None]]:
    """The output's fields: (name, kind, nullable, unit). Kinds as the engine's Parquet writer takes
    them: f64 (NaN: no value), f64_nan (a derived column: NaN is a value, as in the in-memory
    table), i64, category, flag."""
    fields = []
    for c in plan.columns:
        kind = {"i32": "category", "bool": "flag", "i64": "i64"}.get(c.kind, "f64" if c.nullable else "f64_nan")
        # Columns that never have "no value" are required (Parquet writes no definition levels for
        # them): doubles and categories the plan says are never null. (Flags and whole numbers mark
        # a missing value in the engine's buffers and are checked per batch: they stay nullable.)
        # (decided by the column, not the spec: the same column is required in every output, so
        # outputs of different specs combine; derived columns hold NaN where a value is missing)
        required = c.kind in ("f64", "i32") and c.name in colinfo.NAMES and c.name not in NULLABLE_COLUMNS
        fields.append((c.name, kind, not required, c.unit or None))
    return fields


def _schema(plan: Plan) -> pa.Schema:
    types = {"category": pa.dictionary(pa.int32(), pa.string()), "flag": pa.bool_(), "i64": pa.int64(),
             "f64": pa.float64(), "f64_nan": pa.float64()}
    return pa.schema([pa.field(name, types[kind], nullable=nullable, metadata={"unit": unit} if unit else None)
                      for name, kind, nullable, unit in _fields(plan)], metadata=metadata(plan))


def _dictionary_columns(plan: Plan) -> list[str]:
    """The columns Parquet dictionary-encodes: the categories, and the columns that are a sweep
    axis's own values (few distinct values repeated in runs: the GPU count, a model size) up to
    65,536 values; derived columns, nearly all distinct, are written plain."""
    few = {c["reg"] for a in plan.json.get("axes", ()) if a.get("len", 0) <= 65536 for c in a.get("columns", ())}
    return [c.name for c in plan.columns if c.kind == "i32" or (c.reg in few and c.kind != "bool")]


def metadata(plan: Plan) -> dict[str, str]:
    """Key-value metadata of every output: version, the spec text and its hash, the catalog."""
    from costspec import _native  # (its version is the package's, tested: importlib.metadata costs 15-80 ms)

    units = {n: u for n, u, _ in colinfo.COLUMNS}
    return {
        "costspec.version": _native.__version__,
        "costspec.spec": plan.spec.text,
        "costspec.spec_sha256": hashlib.sha256(plan.spec.text.encode()).hexdigest(),
        "costspec.spec_file": _utf8(plan.spec.file),
        "costspec.catalog": _utf8(",".join(plan.spec.catalog.versions) or "builtin"),
        "costspec.points": str(plan.points),
        "costspec.units": json.dumps({c.name: units.get(c.name, c.unit) for c in plan.columns}),
        # Values the command line set over the spec's text (--set, --columns, --top ...): with the
        # text, what the run evaluated.
        "costspec.overrides": json.dumps(plan.spec.document.overridden(), default=str),
    }


# Arrow values built from bytes, never from Python objects: pyarrow converts Python lists and scalars
# through a check that imports pandas when it is installed (0.27 s of a one-point sweep's start-up).
def _numbers(kind: pa.DataType, values: Any) -> pa.Array:
    """A float64, int64 or int32 array of ``values`` (Python numbers), from their bytes."""
    import array

    code = {pa.float64(): "d", pa.int64(): "q", pa.int32(): "i"}[kind]
    data = array.array(code, values)
    return pa.Array.from_buffers(kind, len(data), [None, pa.py_buffer(data.tobytes())])


def _strings(names: tuple[str, ...] | list[str]) -> pa.Array:
    """A string array of ``names``."""
    import array

    data = [n.encode() for n in names]
    offsets = array.array("i", [0])
    for d in data:
        offsets.append(offsets[-1] + len(d))
    return pa.Array.from_buffers(pa.string(), len(names), [None, pa.py_buffer(offsets.tobytes()),
                                                          pa.py_buffer(b"".join(data))])


def _doubles(values: list[float], nulls: bool) -> pa.Array:
    """A float64 array of ``values``; with ``nulls``, NaN is null."""
    arr = _numbers(pa.float64(), values)
    return _null_where(arr, pc.is_nan(arr)) if nulls else arr


def _null_where(arr: pa.Array, missing: pa.Array) -> pa.Array:
    """``arr`` (offset 0) with nulls where ``missing`` is true."""
    if not pc.any(missing).as_py():
        return arr
    return pa.Array.from_buffers(arr.type, len(arr), [pc.invert(missing).buffers()[1], *arr.buffers()[1:]])


def _scalar(kind: pa.DataType, value: float | int) -> pa.Scalar:
    """A scalar of ``value`` (for the compute functions' comparisons)."""
    return _numbers(kind, [value])[0]


def _utf8(text: str) -> str:
    """A path as metadata can hold it: bytes of a name that is not UTF-8 become U+FFFD."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


class _Buffers:
    """One Arrow buffer per output column, sized for BATCH points, reused batch after batch."""

    def __init__(self, columns: list[OutputColumn], points: int, buffers: list[pa.Buffer] | None = None) -> None:
        self.columns = columns
        self.points = points
        self.buffers = buffers if buffers is not None else \
            [pa.allocate_buffer(self._size(c, points), resizable=False) for c in columns]
        self.dicts = [_strings(c.dictionary) if c.kind == "i32" else None for c in columns]
        self.no_int, self.zero, self.zero_i32 = _scalar(pa.int64(), NO_INT), _scalar(pa.float64(), 0.0), \
            _scalar(pa.int32(), 0)

    @staticmethod
    def _size(c: OutputColumn, n: int) -> int:
        return n * 4 if c.kind == "i32" else n * 8  # (flags arrive as doubles: NaN is null)

    def batch(self, schema: pa.Schema, offset: int, count: int) -> pa.RecordBatch:
        arrays = [self._array(k, offset, count) for k in range(len(self.columns))]
        return pa.RecordBatch.from_arrays(arrays, schema=schema)

    def rows(self, schema: pa.Schema, offset: int, count: int, positions: pa.Array) -> pa.RecordBatch:
        """The rows at ``positions`` (of the ``count`` from ``offset``): taken before "no value"
        becomes null, so a few rows of a million cost a few rows' work."""
        arrays = [self._array(k, offset, count, positions) for k in range(len(self.columns))]
        return pa.RecordBatch.from_arrays(arrays, schema=schema)

    def _array(self, k: int, offset: int, count: int, positions: pa.Array | None = None,
               raw: bool = False) -> pa.Array:
        """Column ``k``'s rows (those at ``positions`` of them), "no value" as null; with ``raw``,
        a category as its indices."""
        c, buf, d = self.columns[k], self.buffers[k], self.dicts[k]
        if c.kind == "i32":
            idx = pa.Array.from_buffers(pa.int32(), count, [None, buf.slice(offset * 4, count * 4)])
            if positions is not None:
                idx = idx.take(positions)
            if c.nullable:  # -1: no value (a layout search that found none)
                idx = _null_where(idx, pc.less(idx, self.zero_i32))
            return idx if raw else pa.DictionaryArray.from_arrays(idx, d)
        kind = pa.int64() if c.kind == "i64" else pa.float64()
        arr: pa.Array = pa.Array.from_buffers(kind, count, [None, buf.slice(offset * 8, count * 8)])
        if positions is not None:
            arr = arr.take(positions)
        if c.kind == "f64":
            if c.nullable:  # NaN means "no value": mark it null, sharing the data buffer
                valid = pc.invert(pc.is_nan(arr))
                if valid.false_count:
                    arr = pa.Array.from_buffers(pa.float64(), len(arr), [valid.buffers()[1], arr.buffers()[1]])
            return arr
        if c.kind == "i64":  # whole numbers; i64::MIN marks "no value"
            return _null_where(arr, pc.equal(arr, self.no_int))
        # a flag, as a double: nonzero is true, NaN is null
        return _null_where(pc.not_equal(arr, self.zero), pc.is_nan(arr))


def _fail(plan: Plan, err: Exception) -> SweepFailed:
    message, index = err.args if len(err.args) == 2 else (str(err), 0)
    where = ", ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}" for k, v in plan.decode(index).items())
    return SweepFailed(f"point {index:,} ({where or 'the only point'}): {message}")


def batches(
    plan: Plan,
    *,
    threads: int = 0,
    start: int = 0,
    end: int | None = None,
    reuse: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> Iterator[pa.RecordBatch]:
    """Record batches of the kept points in [start, end), in point order.

    With ``reuse`` the same buffers are refilled by every engine call: a batch is valid only until
    the next call (right for writers that consume each batch at once).
    """
    schema = _schema(plan)
    for bufs, regions in _calls(plan, threads, start, end, reuse, on_progress):
        for offset, count in regions:
            if count:
                yield bufs.batch(schema, offset, count)


def _calls(
    plan: Plan,
    threads: int,
    start: int,
    end: int | None,
    reuse: bool,
    on_progress: Callable[[int, int], None] | None,
    batch: int = BATCH,
    chunk: int = CHUNK,
) -> Iterator[tuple[_Buffers, list[tuple[int, int]]]]:
    """One engine call at a time (BATCH points): its buffers and the (first row, rows kept) of each
    of its CHUNK regions."""
    from costspec import _native

    threads = clamp_threads(threads)
    native = _native_plan(plan)
    end = plan.points if end is None else min(end, plan.points)
    # Buffers hold one engine call: no more than the points in the range (a one-point sweep with
    # a thousand derived columns needs kilobytes, not a BATCH-sized buffer per column).
    span = -(-max(end - start, 1) // 8) * 8
    chunk = min(chunk, span)
    batch = min(batch, -(-span // chunk) * chunk)
    bufs = _Buffers(plan.columns, batch) if reuse else None
    a = start
    while a < end:
        b = min(a + batch, end)
        if not reuse:
            bufs = _Buffers(plan.columns, batch)
        assert bufs is not None
        try:
            regions = native.evaluate(a, b, chunk, threads, bufs.buffers)
        except _native.SweepError as e:
            raise _fail(plan, e) from None
        yield bufs, regions
        if on_progress:  # (after the consumer took the rows: points evaluated, rows kept)
            on_progress(b - a, sum(count for _, count in regions))
        a = b


def reduce(plan: Plan, keep: Keep, *, threads: int = 0) -> pa.Table:
    """The sweep reduced in the engine (``Keep``: top-k or Pareto front, per group), as a table
    ordered by group, then rank (top-k) or the first column (Pareto); the same for any thread
    count."""
    return reduce_range(plan, keep, threads=threads)[0]


def reduce_range(plan: Plan, keep: Keep, *, threads: int = 0, start: int = 0, end: int | None = None
                 ) -> tuple[pa.Table, list[tuple[int, list[float]]]]:
    """``reduce`` over the points [start, end): the table, and each row's (point index, engine
    row values), what merging the answers of several ranges needs (``costspec.shards``)."""
    from costspec import _native

    names = [c.name for c in plan.columns]
    where = plan.spec.document
    ranked = [keep.by] if keep.by else [c for c, _ in keep.pareto]
    for col in ranked:
        if col not in names:
            raise where.error(("output", "keep", "by" if keep.by else "pareto"),
                              f"cannot rank by {col!r}: it is not among the written columns ({', '.join(names)})")
    for p in keep.per:
        if p not in names:
            raise where.error(("output", "keep", "per"), f"cannot group by {p!r}: it is not among the written columns")
    per = [names.index(p) for p in keep.per]
    threads = clamp_threads(threads)
    # Few, long regions: each starts with an empty answer, and the longer one runs, the more of its
    # points the reduction rules out before computing them (the answer is the same for any split).
    end = plan.points if end is None else min(end, plan.points)
    chunk = max(CHUNK, -(-(end - start) // (8 * threads)))
    try:
        native = _native_plan(plan)
        if end <= start:
            rows = []
        elif keep.pareto:
            rows = native.pareto([(names.index(c), m) for c, m in keep.pareto], per, chunk, threads, start, end)
        else:
            assert keep.top is not None and keep.by is not None
            rows = native.top_k(min(keep.top, plan.points), names.index(keep.by), keep.maximise, per, chunk, threads,
                                start, end)
    except _native.SweepError as e:
        raise _fail(plan, e) from None
    schema = _schema(plan)
    arrays = []
    zero = _scalar(pa.float64(), 0.0)
    for i, c in enumerate(plan.columns):
        values = [float(r[i]) for _, r in rows]
        if c.kind == "i32":  # (-1: no value)
            idx = _numbers(pa.int32(), [int(v) if v == v else -1 for v in values])
            if c.nullable:
                idx = _null_where(idx, pc.less(idx, _scalar(pa.int32(), 0)))
            arrays.append(pa.DictionaryArray.from_arrays(idx, _strings(c.dictionary)))
        elif c.kind == "bool":
            doubles = _doubles(values, False)
            arrays.append(_null_where(pc.not_equal(doubles, zero), pc.is_nan(doubles)))
        elif c.kind == "i64":
            ints = _numbers(pa.int64(), [int(v) if v == v else 0 for v in values])
            arrays.append(_null_where(ints, pc.is_nan(_doubles(values, False))))
        else:
            arrays.append(_doubles(values, c.nullable))
    return pa.Table.from_arrays(arrays, schema=schema), [(int(i), list(r)) for i, r in rows]


def top_k(plan: Plan, keep: Keep, *, threads: int = 0) -> pa.Table:
    """The `keep.top` best points per group (see ``reduce``)."""
    return reduce(plan, keep, threads=threads)


def evaluate_only(plan: Plan, threads: int = 0) -> int:
    """Evaluate every point without writing anything; returns how many `where` keeps."""
    from costspec import _native

    threads = clamp_threads(threads)
    try:
        return int(_native_plan(plan).count(0, plan.points, CHUNK, threads))
    except _native.SweepError as e:
        raise _fail(plan, e) from None


def sweep(spec: Spec | str | os.PathLike[str], *, threads: int = 0, executor: str = "local",
          address: str | None = None, tasks: int | None = None) -> pa.Table:
    """Evaluate a spec's sweep into a ``pyarrow.Table`` (use ``iter_batches`` for large sweeps).
    A spec with ``output.keep`` gives the reduced table. ``executor="ray"`` runs it as tasks of a
    Ray cluster (``address``; default: the one this process joined, else a local one), the same
    table."""
    plan = _plan(spec)
    if executor != "local":
        from costspec import distributed, executors

        ex = executors.get(executor, address=address)
        try:
            return distributed.collect(plan, ex, tasks=tasks)
        finally:
            ex.close()
    if plan.spec.keep is not None:
        return reduce(plan, plan.spec.keep, threads=threads)
    return pa.Table.from_batches(list(batches(plan, threads=threads)), schema=_schema(plan))


def iter_batches(spec: Spec | str | os.PathLike[str], *, threads: int = 0) -> Iterator[pa.RecordBatch]:
    """The sweep as record batches, streamed (each batch owns its memory)."""
    return batches(_plan(spec), threads=threads)


def _plan(spec: Spec | str | os.PathLike[str]) -> Plan:
    from costspec.spec import load, spec_path

    return compile_spec(spec if isinstance(spec, Spec) else load(spec_path(spec)))


# ------------------------------------------------------------------------------------------------
# Writing


@dataclass
class Rows:
    """A few whole rows (the summary's cheapest), as Python values in the plan's column order:
    None where a value is missing, a category by its name, a flag as a bool."""

    plan: Plan
    values: list[tuple[Any, ...]]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.plan.columns]

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.names, row)) for row in self.values]

    def table(self) -> pa.Table:
        """The rows as an Arrow table of the output's schema (built from bytes, not from Python
        objects: that conversion imports pandas where it is installed)."""
        arrays = []
        for k, c in enumerate(self.plan.columns):
            col = [row[k] for row in self.values]
            missing = pc.is_nan(_numbers(pa.float64(), [math.nan if v is None else 0.0 for v in col]))
            if c.kind == "i32":
                at = {name: i for i, name in enumerate(c.dictionary)}
                idx = _null_where(_numbers(pa.int32(), [-1 if v is None else at[v] for v in col]), missing)
                arrays.append(pa.DictionaryArray.from_arrays(idx, _strings(c.dictionary)))
            elif c.kind == "i64":
                arrays.append(_null_where(_numbers(pa.int64(), [0 if v is None else v for v in col]), missing))
            elif c.kind == "bool":
                flags = _numbers(pa.float64(), [0.0 if v is None else float(v) for v in col])
                arrays.append(_null_where(pc.not_equal(flags, _scalar(pa.float64(), 0.0)), missing))
            else:
                arrays.append(_null_where(_numbers(pa.float64(), [math.nan if v is None else v for v in col]),
                                          missing))
        return pa.Table.from_arrays(arrays, schema=_schema(self.plan))


def _decode(columns: list[OutputColumn], buffers: list[bytes], n: int) -> list[tuple[Any, ...]]:
    """``n`` rows from one buffer per column in the engine's layout (doubles, NaN no value; whole
    numbers, i64::MIN no value; category indices as int32, -1 no value; flags as doubles), as Python
    values the way Arrow gives them back (``as_py``)."""
    import array

    out: list[list[Any]] = []
    for c, b in zip(columns, buffers):
        a = array.array({"i32": "i", "i64": "q"}.get(c.kind, "d"))
        a.frombytes(b[:n * a.itemsize])
        if c.kind == "i32":
            out.append([None if i < 0 else c.dictionary[i] for i in a])
        elif c.kind == "i64":
            out.append([None if v == NO_INT else v for v in a])
        elif c.kind == "bool":
            out.append([None if v != v else v != 0.0 for v in a])
        else:  # (NaN is "no value" where the plan says so; in a derived column it is a value)
            out.append([None if v != v and c.nullable else v for v in a])
    return list(zip(*out)) if out else [()] * n


@dataclass
class Summary:
    points: int
    kept: int
    seconds: float
    path: str
    files: list[str] = field(default_factory=list)
    best: Rows | None = None  # the cheapest rows, in order
    ranked_by: str | None = None  # the column the cheapest rows are ranked by

    @property
    def points_per_second(self) -> float:
        return self.points / self.seconds if self.seconds > 0 else float("inf")

    @property
    def cheapest(self) -> pa.Table | None:
        """The cheapest rows as an Arrow table (None when no row has a cost)."""
        return None if self.best is None else self.best.table()


# The prices per million tokens of a serving sweep, any of which its summary may rank by.
SERVING_PRICES = ("usd_per_m_tokens_served", "usd_per_m_output_tokens", "usd_per_m_input_tokens")


class _Cheapest:
    """The cheapest point of each distinct answer seen so far (by cost, else GPU-hours, else $ per
    million tokens served), the five
    cheapest answers kept. Distinct: one row per GPU type when the sweep has several, else one per
    value of the sweep's other axes. The GPU count never makes an answer distinct: with the MFU an
    input a run costs the same on any count, and five rows differing only in it say one thing."""

    SHOWN = 5

    def __init__(self, plan: Plan) -> None:
        names = self.names = [c.name for c in plan.columns]
        # Ranked by cost, else GPU-hours, else (serving) the price of a million output tokens with
        # their prompts; with none among the written columns there is no table.
        self.key: str | None = next((k for k in ("cost_usd", "gpu_hours", "usd_per_m_tokens_served") if k in names), None)
        keep = plan.spec.keep
        if self.key == "usd_per_m_tokens_served" and keep is not None and keep.by in SERVING_PRICES \
                and not keep.maximise:  # (a serving sweep ranked by another of its prices: that one)
            self.key = keep.by
        # Ties (same cost at any GPU count) go to the fastest run, then to the fewest GPUs.
        self.order = [(self.key, "ascending")] + [(k, "ascending") for k in ("wall_clock_days", "gpus") if k in names]
        self.per = distinct_by(plan)
        # (the answers there can be, at most SHOWN: with fewer, the table is full once each is seen)
        self.shown = min(self.SHOWN, answers(plan, self.per))
        self.plan = plan
        at = {name: k for k, name in enumerate(names)}
        self._order = [at[name] for name, _ in self.order if name is not None]  # (none without a key)
        self._per = [at[name] for name in self.per]
        self.best: list[tuple[Any, ...]] = []  # the best row of each of the best answers so far, in order
        self.threshold: float | None = None  # the fifth-best answer's key so far
        self.lock = threading.Lock()

    def native_spec(self) -> tuple[int, list[int], list[int], int] | None:
        """What the engine's writer needs to keep these answers' rows: (key, tie columns, grouping
        columns, how many answers) as output column indices."""
        if self.key is None:
            return None
        at = {name: k for k, name in enumerate(self.names)}
        ties = [at[name] for name, _ in self.order[1:] if name is not None]
        return at[self.key], ties, [at[k] for k in self.per], self.shown

    def add_rows(self, bufs: _Buffers, schema: pa.Schema, offset: int, count: int) -> None:
        """``add`` for the ``count`` rows an engine call left from ``offset`` in its buffers, built
        whole only where they can make the table: a row can only if its key is its answer's lowest
        in these rows and its answer is among the best answers here (and under the threshold). The
        key and grouping columns find those rows (categories by their indices, never decoded)."""
        if self.key is None or not count:
            return
        at = {c.name: k for k, c in enumerate(bufs.columns)}
        keys = bufs._array(at[self.key], offset, count)
        with self.lock:
            bar = self.threshold
        low = pc.min(keys).as_py()
        if low is None or (bar is not None and low > bar):
            return
        if not self.per:
            mask = pc.equal(keys, _scalar(pa.float64(), low))
        else:
            groups = {n: bufs._array(at[n], offset, count, raw=True) for n in self.per}
            lows = pa.table({**groups, "__key": keys}).group_by(self.per, use_threads=False) \
                .aggregate([("__key", "min")])
            lows = lows.filter(lows.column("__key_min").is_valid())
            if lows.num_rows == 0:
                return
            # (every answer as good as the fifth best: a tie is broken by the full order below)
            low = lows.column("__key_min")
            cut = pc.max(low.take(pc.bottom_k_unstable(low, min(self.SHOWN, lows.num_rows))))
            best = lows.filter(pc.less_equal(low, cut))
            mask = None
            for row in best.to_pylist():
                m = pc.equal(keys, _scalar(pa.float64(), row["__key_min"]))
                for n in self.per:
                    col, v = groups[n], row[n]
                    if v is None:
                        m = pc.and_(m, pc.is_null(col))
                    elif pa.types.is_boolean(col.type):
                        m = pc.and_(m, col if v else pc.invert(col))
                    else:
                        m = pc.and_(m, pc.equal(col, _scalar(col.type, v)))
                mask = m if mask is None else pc.or_(mask, m)
            if mask is None:
                return
        positions = pc.indices_nonzero(pc.fill_null(mask, False))
        if len(positions):
            self.add(bufs.rows(schema, offset, count, positions))

    def add(self, batch: pa.RecordBatch | pa.Table) -> None:
        if self.key is None:
            return
        with self.lock:
            bar = self.threshold
        if bar is not None:  # only rows that can still make the five cheapest answers
            keys = batch.column(self.key)
            low = pc.min(keys).as_py()
            if low is None or low > bar:
                return
            batch = batch.filter(pc.less_equal(keys, _scalar(pa.float64(), bar)))
        table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
        top = self._firsts(table)
        self.merge([tuple(row[name] for name in self.names) for row in top.to_pylist()])

    def add_native(self, buffers: list[bytes], n: int) -> None:
        """``add`` for the rows the engine's Parquet writer kept (one buffer per column)."""
        self.merge(_decode(self.plan.columns, buffers, n))

    def merge(self, rows: list[tuple[Any, ...]]) -> None:
        """Take candidate rows (as Rows holds them) into the table. Earlier rows win exact ties."""
        if self.key is None:
            return
        with self.lock:
            self.best = self._rank(self.best + rows)
            if len(self.best) == self.shown:
                self.threshold = self.best[-1][self._order[0]]

    def _rank(self, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """The best row of each answer, the five best answers, in order: rows with a key, sorted
        (stably) as Arrow's ``sort_indices`` sorts them (NaN after every number, no value last)."""
        key = self._order[0]

        def order(row: tuple[Any, ...]) -> tuple[tuple[int, float], ...]:
            return tuple((2, 0.0) if row[i] is None else (1, 0.0) if row[i] != row[i] else (0, row[i])
                         for i in self._order)

        seen: set[tuple[Any, ...]] = set()
        out = []
        for row in sorted((r for r in rows if r[key] is not None), key=order):
            group = tuple(row[i] for i in self._per)
            if group not in seen:
                seen.add(group)
                out.append(row)
                if len(out) == self.SHOWN:
                    break
        return out

    def result(self) -> Rows | None:
        """The table's rows (None when no row had a key)."""
        return Rows(self.plan, list(self.best)) if self.best else None

    # Up to this many rows, the first of each answer is found by a loop over the sorted rows; a hash
    # aggregate beyond (Arrow's group_by loads pyarrow.dataset, which imports pandas: 0.3 s).
    SMALL = 10_000

    def _firsts(self, table: pa.Table) -> pa.Table:
        """The best row of each answer, the five best answers, in order. Sorted are only the rows
        that can be among them: of a large table, those at or below the fifth-lowest answer's
        lowest key (a hash aggregate finds it), so a batch of a million rows sorts a few hundred."""
        keys = table.column(self.key)
        if not self.per:
            table = table.filter(keys.is_valid())
            return table.take(pc.select_k_unstable(table, 1, self.order)).combine_chunks()
        if table.num_rows > self.SMALL:
            lows = table.group_by(self.per).aggregate([(self.key, "min")]).column(f"{self.key}_min")
            lows = lows.filter(lows.is_valid())
            if len(lows) == 0:
                return table.slice(0, 0)
            bar = lows.take(pc.bottom_k_unstable(lows, min(self.SHOWN, len(lows))))
            table = table.filter(pc.less_equal(keys, pc.max(bar)))
        else:
            table = table.filter(keys.is_valid())
        ranked = table.take(pc.sort_indices(table, self.order))
        if ranked.num_rows <= self.SMALL:
            seen: set[tuple[Any, ...]] = set()
            first: list[int] = []
            for i, group in enumerate(zip(*(ranked.column(c).to_pylist() for c in self.per))):
                if group not in seen:
                    seen.add(group)
                    first.append(i)
                    if len(first) == self.SHOWN:
                        break
            return ranked.take(_numbers(pa.int64(), first)).combine_chunks()
        # (0..n-1 by a kernel, not from Python objects: every key here has a value)
        ranked = ranked.append_column("__row", pc.indices_nonzero(ranked.column(self.key).is_valid()))
        # (use_threads=False: "first" is the first row in table order, the best of each answer)
        firsts = ranked.group_by(self.per, use_threads=False).aggregate([("__row", "first")]).column("__row_first")
        rows = pc.sort_indices(firsts).slice(0, self.SHOWN)
        return ranked.take(pc.take(firsts, rows)).drop_columns(["__row"]).combine_chunks()


def answers(plan: Plan, per: list[str]) -> int:
    """How many distinct answers the columns ``per`` can take: the product of the lengths of the
    axes that write them (a GPU type's names; a column no axis writes: unbounded)."""
    columns = {c.name: c for c in plan.columns}
    total = 1
    for name in per:
        axis = next((length for names, length in plan.axes
                     if any((colinfo.INPUT_COLUMN.get(n) or colinfo.CATEGORY_COLUMN.get(n) or n) == name
                            for n in names)), None)
        if axis is None and name in columns and columns[name].dictionary:
            axis = len(columns[name].dictionary)
        if axis is None:
            return 1 << 62
        total *= axis
    return total


def distinct_by(plan: Plan) -> list[str]:
    """The columns that tell the summary's answers apart: the GPU type when the sweep has several,
    else the columns of the sweep's axes, the GPU count aside."""
    columns = {c.name: c for c in plan.columns}
    gpu = columns.get("gpu")
    if gpu is not None and len(gpu.dictionary) > 1:
        return ["gpu"]
    per: list[str] = []
    for names, _length in plan.axes:
        for name in names:
            col = colinfo.INPUT_COLUMN.get(name) or colinfo.CATEGORY_COLUMN.get(name) or name
            if col in columns and col != "gpus" and col not in per:
                per.append(col)
    return per


def expected_rows(plan: Plan) -> int | None:
    """How many rows a run writes at most: every point, or a top-k's k per group; None for a
    Pareto front (unknown in advance, and held in memory as it is built)."""
    keep = plan.spec.keep
    if keep is None:
        return plan.points
    if keep.pareto:
        return None
    groups = math.prod(max(len(c.dictionary), 1) for c in plan.columns if c.name in keep.per)
    return min(plan.points, (keep.top or 1) * groups)


def check_room(plan: Plan, path: Path, max_points: int, fmt: str = "parquet") -> None:
    """Before anything runs: refuse a target costspec may not replace, a sweep larger than
    --max-points, and an output that would not fit on the disk."""
    targets.check(path, fmt == "parquet", plan.spec.inputs)
    if plan.points > max_points:
        raise CostspecError(
            f"the sweep has {plan.points:,} points, more than --max-points {max_points:,}; raise --max-points or "
            "shrink the sweep (costspec plan shows its axes)"
        )
    rows = expected_rows(plan)
    if rows is None:
        return
    folder = path.parent if path.parent != Path("") else Path(".")
    while not folder.exists() and folder != folder.parent:  # the disk the missing folders will be on
        folder = folder.parent
    try:
        free = shutil.disk_usage(folder).free
    except OSError as e:
        raise CostspecError(f"cannot write under {folder}: {e.strerror or e}") from None
    estimate = rows * plan.bytes_per_row() / 3  # zstd Parquet is usually smaller still
    if estimate > free:
        raise CostspecError(
            f"the output may need about {_bytes(estimate)} and {folder} has {_bytes(free)} free; "
            "add a where filter, shrink the sweep or write elsewhere"
        )


def _bytes(n: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:,.1f} {unit}"
    return f"{n:,.0f} bytes"


def write(
    plan: Plan,
    path: str | os.PathLike[str],
    *,
    fmt: str = "parquet",
    threads: int = 0,
    on_progress: Callable[[int, int], None] | None = None,
    if_empty: str | None = None,
    shard: Shard | None = None,
) -> Summary:
    """Write the sweep to ``path``: Parquet as a folder of part files (one writer per thread, over
    disjoint point ranges), Arrow IPC or CSV as one file. Written under a temporary name and renamed
    over ``path`` only when complete (see ``costspec.targets``): a failed or interrupted run leaves
    the previous output as it was. With ``if_empty``, a run that keeps no row fails with that
    message instead of replacing the previous output. With ``shard``, only its range of points,
    as Parquet, its metadata saying which shard it is (``costspec merge`` combines them)."""
    from costspec import shards

    if shard is not None and fmt != "parquet":
        raise CostspecError(f"a shard is written as Parquet (for costspec merge), not {fmt}")
    start, end = shard.range(plan.points) if shard is not None else (0, plan.points)
    extra = shards.shard_metadata(plan, shard, start, end) if shard is not None else {}
    target: Any
    if remote.is_uri(path):  # (a Parquet folder on a pyarrow filesystem: s3://, gs://, ...)
        if fmt != "parquet":
            raise CostspecError(f"an output at a URI is Parquet, not {fmt}")
        target = remote.RemoteTarget(str(path))
    else:
        target = targets.Target(Path(path), fmt == "parquet", plan.spec.inputs)
    threads = clamp_threads(threads)
    # (the engine writes a Parquet sweep's parts itself; pyarrow writes the rest)
    _import_writer(fmt if fmt != "parquet" or plan.spec.keep is not None or plan.spec.partition_by
                   or isinstance(target, remote.RemoteTarget) else None)
    cheapest = _Cheapest(plan)
    t0 = time.perf_counter()
    kept = 0
    try:
        target.prepare()  # (inside: an interrupt during it removes what it made)
        tmp = target.data
        if plan.spec.keep is not None:  # reduced in the engine: a small table, written at once
            table, rows = reduce_range(plan, plan.spec.keep, threads=threads, start=start, end=end)
            if shard is not None:  # (what merging needs: each row's point index, group and rank)
                table = table.replace_schema_metadata({**(table.schema.metadata or {}), **extra,
                                                       **shards.candidates_metadata(plan, rows)})
            if on_progress:
                on_progress(end - start, table.num_rows)
            if table.num_rows:
                cheapest.add(table)
            kept, files = table.num_rows, _write_table(table, tmp, fmt, plan.spec.partition_by)
            files = files if fmt == "parquet" else [target.path.name]
        elif fmt == "parquet":
            kept, files = _write_parquet(plan, tmp, threads, cheapest, on_progress, start, end, extra)
        else:
            kept = _write_single(plan, tmp, fmt, threads, cheapest, on_progress)
            files = [target.path.name]
        if if_empty is not None and kept == 0:
            raise CostspecError(if_empty)
        commit(target)
    except BaseException as e:
        with _signals_held():  # (a second Ctrl-C must not leave the temporary half removed)
            target.discard()
        if isinstance(e, OSError):
            why = e.strerror or (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
            raise CostspecError(f"cannot write {target.path}: {why}") from None
        raise
    return Summary(end - start, kept, time.perf_counter() - t0, str(target.path), files, cheapest.result(),
                   cheapest.key)


def commit(target: Any) -> None:
    """Put the finished output in place. At a URI that is many moves, so the interrupt signals are
    held back meanwhile: one arriving then lands once the output is complete, and is let go (the
    run is done); the moves are never left half made by Ctrl-C."""
    if not isinstance(target, remote.RemoteTarget):
        target.commit()
        return
    try:
        with _signals_held():
            target.commit()
    except KeyboardInterrupt:
        if target.committed:
            return
        raise


ZSTD_LEVEL = 1  # every Parquet output: zstd at level 1 (fast; most columns are runs anyway)
# Rows per row group of the engine's Parquet parts (DuckDB writes 122,880): the part's buffers hold
# two row groups' worth per column, few enough megabytes to stay warm in memory.
ROW_GROUP = 131_072


class _WriterStopped(Exception):
    """A writer told to stop (another failed, or the run was interrupted)."""


def _part_columns(plan: Plan) -> list[tuple[str, str, bool, list[str] | None]]:
    """The columns as the engine's Parquet writer takes them: (name, kind, nullable, categories)."""
    return [(name, kind, nullable, list(c.dictionary) if kind == "category" else None)
            for (name, kind, nullable, _), c in zip(_fields(plan), plan.columns)]


def _parquet_metadata(plan: Plan, own: dict[str, str]) -> list[tuple[str, str]]:
    """A part's key-value metadata: ``own`` (the output's and the part's), and the Arrow schema as
    pyarrow stores it (``ARROW:schema``: the IPC schema message, base64; built by the engine's
    module, without pyarrow), so that Arrow readers get the columns' types (categories as
    dictionaries) and units back."""
    import base64

    from costspec import _native

    pairs = list(own.items())
    schema = _native.arrow_schema(_fields(plan), pairs)
    return pairs + [("ARROW:schema", base64.b64encode(schema).decode())]


def _write_parquet(plan: Plan, tmp: Path | Folder, writers: int, cheapest: _Cheapest,
                   on_progress: Callable[[int, int], None] | None, start: int = 0, end: int | None = None,
                   extra: dict[str, str] | None = None) -> tuple[int, list[str]]:
    from costspec import _native

    own = {**metadata(plan), **(extra or {})}  # (a shard's part says which shard it is)
    end = plan.points if end is None else end
    n = end - start
    # Parts cover disjoint ranges of at least one BATCH each, in point order (with a layout search,
    # a point costs hundreds of step evaluations: at least SEARCH_BATCH points each).
    parts = max(1, min(writers, -(-n // (SEARCH_BATCH if plan.searches else WRITER_BATCH))))
    bounds = [start + n * k // parts for k in range(parts + 1)]
    counts = [0] * parts
    errors: list[BaseException] = []
    stop = threading.Event()
    names = [f"part-{k:05d}.parquet" for k in range(parts)]
    by = list(plan.spec.partition_by)
    if by:  # (pyarrow writes partitioned parts: loaded here, before the writer threads use it)
        import pyarrow.parquet as pq

        pc.load()
        if cheapest.key is not None:  # (the summary's group_by in those threads imports Acero and
            import importlib  # pyarrow.dataset on first use: a race there too)

            importlib.import_module("pyarrow.acero")
        schema = _schema(plan).with_metadata(own)
        # Partitioned: the partition columns are the folders' names, not in the files (as hive-style
        # readers expect); each writer writes one part per partition it meets.
        part_schema = pa.schema([f for f in schema if f.name not in by], metadata=schema.metadata)
        part_dict = [c for c in _dictionary_columns(plan) if c not in by]
    written: list[list[str]] = [[] for _ in range(parts)]

    out = tmp if isinstance(tmp, Folder) else Folder.local(tmp)  # (a local folder, or a prefix at a URI)

    def part_meta(k: int) -> dict[str, str]:
        """A shard's part says which of how many it is (costspec merge checks none is missing)."""
        return {"costspec.part": f"{k}/{parts}"} if extra and "costspec.shard" in extra else {}

    done = [threading.Event() for _ in range(parts)]  # (set by each writer as its very last step)
    cancel: list[Any] = [None] * parts  # (each writer's native part, to stop on an interrupt)
    found: list[tuple[list[bytes], int] | None] = [None] * parts  # (each part's best rows, for the summary)
    native = _native_plan(plan)

    def work(k: int) -> None:
        try:
            _write(k)
        finally:
            done[k].set()

    def _write(k: int) -> None:
        try:
            with contextlib.ExitStack() as stack:
                opened: dict[tuple[str | None, ...], Any] = {}

                def writer(key: tuple[str | None, ...]) -> Any:
                    if key not in opened:
                        rel = Path(*partition_dirs(by, key), names[k]) if by else Path(names[k])
                        f = stack.enter_context(out.open(rel.as_posix()))
                        # (the part says which partition it is: see costspec.targets)
                        mine = {**own, **part_meta(k), "costspec.partition": rel.parent.as_posix()}
                        opened[key] = stack.enter_context(pq.ParquetWriter(
                            f, part_schema.with_metadata(mine), compression="zstd", compression_level=1,
                            use_dictionary=part_dict, write_statistics=True))
                        written[k].append(rel.as_posix())
                    return opened[key]

                if not by:  # (a part per writer, rows or none: evaluated and encoded in the engine's module)
                    f = stack.enter_context(out.open(names[k]))
                    part = cancel[k] = _native.ParquetPart(_part_columns(plan),
                                                           _parquet_metadata(plan, {**own, **part_meta(k)}),
                                                           ZSTD_LEVEL)
                    written[k].append(names[k])

                    def emit(data: bytes, points: int, rows: int) -> None:
                        if stop.is_set():
                            raise _WriterStopped
                        if data:
                            f.write(data)
                        if on_progress:
                            on_progress(points, rows)

                    try:
                        kept, best, n = part.write(native, bounds[k], bounds[k + 1], ROW_GROUP, emit,
                                                   cheapest.native_spec())
                    except _native.SweepError as e:
                        raise _fail(plan, e) from None
                    f.write(part.finish())
                    counts[k] = kept
                    if n:  # (added in part order once all are done: a full tie goes to the earlier point)
                        found[k] = (best, n)
                    return
                # Partitioned: one engine call per row group, split by pyarrow into the partitions.
                for bufs, regions in _calls(plan, 1, bounds[k], bounds[k + 1], True, on_progress, WRITER_BATCH,
                                            WRITER_BATCH):
                    if stop.is_set():
                        return
                    rows = sum(count for _, count in regions)
                    if not rows:
                        continue
                    table = pa.Table.from_batches([bufs.batch(schema, o, c) for o, c in regions if c])
                    for key, piece in split(table, by):
                        writer(key).write_table(piece, row_group_size=WRITER_BATCH)
                    for o, c in regions:
                        cheapest.add_rows(bufs, schema, o, c)
                    counts[k] += rows
        except _WriterStopped:
            pass  # (another writer failed, or the run was interrupted: that is what is reported)
        except BaseException as e:  # noqa: BLE001 - reported by the caller
            if not stop.is_set():  # (the first failure is the one reported; the rest stop soon)
                errors.append(e)
            stop.set()
            for p in cancel:  # (the others' engine calls in progress stop at their next block)
                if p is not None:
                    p.cancel()

    threads = [threading.Thread(target=work, args=(k,), name=f"costspec-writer-{k}") for k in range(parts)]
    try:
        # (started inside the try, with the interrupt signals held back until every writer runs: a
        # Ctrl-C landing inside Thread.start, while a writer is starting but not yet known started,
        # would leave it writing into the temporary the caller removes; held, it lands after, where
        # the writers are stopped and joined first)
        with _signals_held():
            for t in threads:
                t.start()
        # Waited for on events the writers set last, not Thread.join: a join an interrupt breaks
        # can leave its thread taken for finished while it still writes (into a temporary the
        # caller then removes, or on into the interpreter's exit).
        for d in done:
            while not d.wait(0.1):
                pass
    except BaseException:
        stop.set()
        for p in cancel:  # (an engine call in progress stops at its next block)
            if p is not None:
                p.cancel()
        for t, d in zip(threads, done):
            if t.ident is not None:  # (started)
                while True:
                    try:
                        if d.wait(0.1):
                            break
                    except KeyboardInterrupt:  # (a second Ctrl-C: still wait, the writer stops soon)
                        continue
                t.join()
        raise
    if errors:
        raise errors[0]
    for rows in found:
        if rows is not None:
            cheapest.add_native(*rows)
    files = [name for files in written for name in files]
    if by and not files:  # (nothing kept: an empty part keeps the output's columns and metadata)
        files = _write_table(schema.empty_table(), tmp, "parquet")
    return sum(counts), files


HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"  # a partition value that is null, as Hive and pyarrow name it


def partition_dirs(columns: list[str], key: tuple[str | None, ...]) -> list[str]:
    """The hive-style folders of a partition: COLUMN=VALUE, the value URI-encoded (pyarrow's and
    DuckDB's reading)."""
    from urllib.parse import quote

    return [f"{c}={HIVE_NULL if v is None else quote(v, safe='')}" for c, v in zip(columns, key)]


def split(table: pa.Table, columns: list[str]) -> Iterator[tuple[tuple[str | None, ...], pa.Table]]:
    """The rows of each partition (values of ``columns``, in order of first appearance), without
    the partition columns."""
    if not columns:
        yield (), table
        return
    name, rest = columns[0], columns[1:]
    col = table.column(name)
    if not pa.types.is_string(col.type):
        col = col.cast(pa.string())
    for v in pc.unique(col).to_pylist():
        mask = pc.is_null(col) if v is None else pc.fill_null(pc.equal(col, v), False)
        for key, piece in split(table.filter(mask).drop_columns([name]), rest):
            yield (v, *key), piece


class _signals_held:
    """Hold SIGINT, SIGTERM and SIGHUP back in this thread (and the threads it starts) for the
    block; one that arrived meanwhile is delivered when it ends. Nothing where the system has no
    signal masks."""

    SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")

    def __enter__(self) -> None:
        import signal

        self.previous = None
        if hasattr(signal, "pthread_sigmask") and threading.current_thread() is threading.main_thread():
            held = {getattr(signal, s) for s in self.SIGNALS if hasattr(signal, s)}
            self.previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)

    def __exit__(self, *exc: object) -> None:
        import signal

        if self.previous is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, self.previous)


def _import_writer(fmt: str | None) -> None:
    """Import the format's writer (None: the engine's own), pyarrow.compute with it, and the engine's
    module (which names the version in the metadata) before the temporary output exists. A Ctrl-C
    that lands inside an extension module's initialisation (pyarrow.parquet's reaches ssl) surfaces
    as whatever that module's init makes of it (a TypeError), not as KeyboardInterrupt; before the
    temporary exists, there is nothing to clean up and the CLI's own handler reports it."""
    import importlib

    if fmt is not None:
        importlib.import_module({"parquet": "pyarrow.parquet", "arrow": "pyarrow.ipc", "csv": "pyarrow.csv"}[fmt])
        pc.load()
    importlib.import_module("costspec._native")  # (its version is in the outputs' metadata)


def _write_table(table: pa.Table, tmp: Path | Folder, fmt: str, partition_by: tuple[str, ...] = ()) -> list[str]:
    """One in-memory table, in the same layouts as a streamed sweep."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        out = tmp if isinstance(tmp, Folder) else Folder.local(tmp)
        files = []
        pieces = list(split(table, list(partition_by))) if table.num_rows else []
        for key, piece in pieces or [((), table)]:  # (nothing kept: one empty part, flat)
            rel = Path(*partition_dirs(list(partition_by), key), "part-00000.parquet") if key else \
                Path("part-00000.parquet")
            if key:
                piece = piece.replace_schema_metadata({**(piece.schema.metadata or {}),
                                                       b"costspec.partition": rel.parent.as_posix().encode()})
            dict_cols = [f.name for f in piece.schema if pa.types.is_dictionary(f.type)]
            with out.open(rel.as_posix()) as f:
                pq.write_table(piece, f, compression="zstd", compression_level=1, use_dictionary=dict_cols)
            files.append(rel.as_posix())
        return files
    assert isinstance(tmp, Path)
    # (files are opened by Python: a path that is not UTF-8 is no error)
    if fmt == "arrow":
        import pyarrow.ipc as ipc

        with open(tmp, "wb") as sink, ipc.new_file(sink, table.schema) as w:
            w.write_table(table)
    else:
        import pyarrow.csv as csv

        with open(tmp, "wb") as sink:
            csv.write_csv(table, sink)
    return [tmp.name]


def _write_single(plan: Plan, tmp: Path, fmt: str, threads: int, cheapest: _Cheapest,
                  on_progress: Callable[[int, int], None] | None) -> int:
    schema = _schema(plan)
    kept = 0
    if fmt == "arrow":
        import pyarrow.ipc as ipc

        with open(tmp, "wb") as sink, ipc.new_file(sink, schema, options=ipc.IpcWriteOptions(
                compression="lz4")) as w:
            for b in batches(plan, threads=threads, reuse=True, on_progress=on_progress):
                w.write_batch(b)
                cheapest.add(b)
                kept += b.num_rows
    else:
        import pyarrow.csv as csv

        with open(tmp, "wb") as sink, csv.CSVWriter(sink, schema) as w:
            for b in batches(plan, threads=threads, reuse=True, on_progress=on_progress):
                w.write_batch(b)
                cheapest.add(b)
                kept += b.num_rows
    return kept

