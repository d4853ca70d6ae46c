"""What a report is made from: a sweep's output read back (Parquet folder or file, Arrow, CSV)
with its provenance, or a spec swept in memory. Pure pyarrow."""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from costspec import fields as registry
from costspec.errors import CostspecError

SPEC_SUFFIXES = (".yaml", ".yml", ".json")
# A spec swept in memory for its report: beyond this many points, sweep it to a file first.
MAX_SPEC_POINTS = 2_000_000  # (~40 columns of 8 bytes: under 1 GB in memory)
UNITS = {name: unit for name, unit, _ in registry.COLUMNS}
MEANINGS = {name: meaning for name, _, meaning in registry.COLUMNS}


class ReportError(CostspecError):
    """A report that cannot be made: its input is not a costspec output, or unreadable."""


@dataclass
class Results:
    """A sweep's rows and where they came from."""

    table: pa.Table
    path: str  # what the user named
    kind: str  # parquet, arrow, csv, or spec (swept in memory)
    meta: dict[str, str] = field(default_factory=dict)  # the costspec.* metadata ("" keys absent)
    inputs: tuple[Path, ...] = ()  # the files read (a spec's: with its catalogs): never an output

    @property
    def units(self) -> dict[str, str]:
        """Each column's unit: the output's own record, else the column registry's."""
        try:
            recorded = json.loads(self.meta.get("costspec.units", "{}"))
        except ValueError:
            recorded = {}
        out = {}
        for name in self.table.column_names:
            unit = recorded.get(name) if isinstance(recorded, dict) else None
            out[name] = str(unit) if unit else UNITS.get(name, "")
        return out

    @property
    def evaluated(self) -> int | None:
        """Points the sweep evaluated (the metadata's count), where recorded."""
        try:
            return int(self.meta["costspec.points"])
        except (KeyError, ValueError):
            return None


def _kind_of(path: Path) -> str:
    """parquet, arrow, csv or spec, from the file's first bytes (then its extension)."""
    st = os.stat(path)
    if stat.S_ISDIR(st.st_mode):
        return "parquet"
    if not stat.S_ISREG(st.st_mode):
        raise ReportError(f"{path} is not a file or folder costspec can read")
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"ARROW1"):
        return "arrow"
    suffix = path.suffix.lower()
    if suffix in SPEC_SUFFIXES:
        return "spec"
    if suffix == ".csv":
        return "csv"
    raise ReportError(f"{path} is not a costspec output (Parquet, Arrow or CSV) nor a spec (.yaml, .yml, .json)")


def _meta(schema_meta: dict[bytes, bytes] | None) -> dict[str, str]:
    return {k.decode("utf-8", "replace"): v.decode("utf-8", "replace")
            for k, v in (schema_meta or {}).items() if k.startswith(b"costspec.")}


def _not_ours(path: Path | str, what: str) -> ReportError:
    return ReportError(f"{path} is not a costspec output ({what} has no costspec metadata); give the output of "
                       "costspec sweep, or a spec")


def _read_parquet(path: Path) -> tuple[pa.Table, dict[str, str]]:
    import pyarrow.parquet as pq

    from costspec.targets import PART

    if path.is_dir():
        parts = sorted(p for p in _parts(path, 0) if PART.fullmatch(p.name))
        if not parts:
            raise ReportError(f"{path} holds no costspec part files (part-NNNNN.parquet): not a costspec output")
    else:
        parts = [path]
    tables, meta = [], None
    for p in parts:
        try:
            t = pq.read_table(p)
        except (OSError, pa.ArrowException) as e:
            raise ReportError(f"cannot read {p}: {_reason(e, 'not a readable Parquet file')}") from None
        m = _meta(t.schema.metadata)
        if "costspec.version" not in m:
            raise _not_ours(path, p.name if p != path else "the file")
        for level in p.relative_to(path).parent.parts if p != path else ():  # (a partitioned output)
            t = t.append_column(*_partition_column(level, t.num_rows))
        if meta is None:
            meta = m
        elif m.get("costspec.spec_sha256") != meta.get("costspec.spec_sha256"):
            raise ReportError(f"{path} mixes the outputs of different specs ({parts[0].name} and {p.name} differ in "
                              "spec hash); report on one sweep's output")
        tables.append(t.replace_schema_metadata(None))
    assert meta is not None
    try:
        table = pa.concat_tables(tables, promote_options="permissive") if len(tables) > 1 else tables[0]
    except pa.ArrowException:
        raise ReportError(f"cannot combine the parts of {path}: their columns differ") from None
    return table, meta


def _parts(folder: Path, depth: int) -> list[Path]:
    """The part files of an output folder, with those in hive-style partition folders."""
    from costspec.targets import MAX_DEPTH, PARTITION

    out = []
    for p in folder.iterdir():
        if p.is_dir() and not p.is_symlink() and PARTITION.fullmatch(p.name) and depth < MAX_DEPTH:
            out.extend(_parts(p, depth + 1))
        else:
            out.append(p)
    return out


def _partition_column(level: str, rows: int) -> tuple[str, pa.Array]:
    """A partition folder's COLUMN=VALUE as a column of ``rows`` values."""
    from urllib.parse import unquote

    from costspec.runner import HIVE_NULL

    name, _, value = level.partition("=")
    v = None if value == HIVE_NULL else unquote(value)
    return name, pa.array([v] * rows, pa.string())


def _reason(e: BaseException, what: str) -> str:
    """Why a file could not be read, never quoting it (pyarrow's messages can hold its bytes)."""
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    return what


def _read_arrow(path: Path) -> tuple[pa.Table, dict[str, str]]:
    import pyarrow.ipc as ipc

    try:
        with ipc.open_file(path) as r:
            table = r.read_all()
    except (OSError, pa.ArrowException) as e:
        raise ReportError(f"cannot read {path}: {_reason(e, 'not a readable Arrow IPC file')}") from None
    meta = _meta(table.schema.metadata)
    if "costspec.version" not in meta:
        raise _not_ours(path, "the file")
    return table.replace_schema_metadata(None), meta


def _read_csv(path: Path) -> tuple[pa.Table, dict[str, str]]:
    """A CSV carries no metadata: it is taken as costspec's when its header is made of costspec
    output columns (swept axes and derived names aside, at least two of the registry's, and a
    cost, time or FLOPs column among them)."""
    import pyarrow.csv as csv

    try:
        table = csv.read_csv(path)
    except (OSError, pa.ArrowException) as e:
        raise ReportError(f"cannot read {path}: {_reason(e, 'not a CSV file costspec can read (malformed rows or not text)')}") from None
    known = [c for c in table.column_names if c in UNITS]
    measures = {"cost_usd", "wall_clock_days", "model_flops", "compute_flops", "usd_per_m_tokens_served",
                "gpu_hours", "training_cost_usd", "memory_gb_per_gpu"}
    if len(known) < 2 or not measures & set(known):
        raise ReportError(f"{path} is not a costspec output (its CSV header names no costspec output columns); "
                          "give the output of costspec sweep, or a spec")
    return table, {}


def open_results(source: str | os.PathLike[str], *, threads: int = 0) -> Results:
    """A sweep output, read back; or a spec, swept in memory first."""
    path = Path(os.fspath(source))
    try:
        kind = _kind_of(path)
    except FileNotFoundError:
        raise ReportError(f"{path}: no such file or folder") from None
    except OSError as e:
        raise ReportError(f"cannot read {path}: {e.strerror or e}") from None
    if kind == "spec":
        return _swept(path, threads)
    reader = {"parquet": _read_parquet, "arrow": _read_arrow, "csv": _read_csv}[kind]
    try:
        table, meta = reader(path)
    except PermissionError as e:
        raise ReportError(f"cannot read {path}: {e.strerror or e}") from None
    return Results(table, str(path), kind, meta, inputs=(path,))


def _swept(path: Path, threads: int) -> Results:
    from costspec.plan import compile_spec
    from costspec.runner import metadata, sweep
    from costspec.spec import load

    plan = compile_spec(load(path))
    if plan.points > MAX_SPEC_POINTS:
        raise ReportError(f"{path} sweeps {plan.points:,} points, more than a report sweeps in memory "
                          f"({MAX_SPEC_POINTS:,}): run costspec sweep {path} --report, or report on its output")
    table = sweep(plan.spec, threads=threads)
    return Results(table.replace_schema_metadata(None), str(path), "spec", metadata(plan),
                   inputs=(path, *plan.spec.inputs))


def describe_source(r: Results) -> dict[str, Any]:
    """The provenance shown at the top of a report."""
    m = r.meta
    return {
        "source": r.path,
        "format": {"spec": "a spec, swept in memory"}.get(r.kind, r.kind),
        "spec_file": m.get("costspec.spec_file") or "",
        "spec_sha256": m.get("costspec.spec_sha256") or "",
        "costspec_version": m.get("costspec.version") or "",
        "catalog": m.get("costspec.catalog") or "",
        "points_evaluated": r.evaluated,
        "rows": r.table.num_rows,
        "spec_text": m.get("costspec.spec") or "",
        "overrides": m.get("costspec.overrides") or "",
    }
