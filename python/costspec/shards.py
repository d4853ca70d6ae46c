"""Sweeps split across machines: a shard is one of K contiguous ranges of the sweep's point index
(balanced by point count, whatever the threads), written as Parquet with metadata saying which;
``merge`` combines the K shards into exactly the output one machine writes: the same rows in the
same order for a full output, the same top-k or Pareto answer (ties included) for a reduction.

A reduced shard carries, per row, what the engine ranked it by (point index, group, rank key), so
the merge is the engine's own rule applied again: top-k by (key, point index) per group, the
non-dominated rows per group (equal rows all kept), groups in the engine's order."""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from costspec.errors import CostspecError

if TYPE_CHECKING:
    from costspec.plan import Plan

SHARD = "costspec.shard"  # "I/K"
RANGE = "costspec.shard_range"  # "start-end" (points)
CANDIDATES = "costspec.shard_candidates"  # JSON: [[index, [group...], [key...]], ...] per row (reductions)
KEEP = "costspec.shard_keep"  # JSON: the reduction (top, maximise or the Pareto directions)
SOLVING = "costspec.shard_solving"  # "1": a solving sweep (merged with no row, it has no answer)
PART_OF = "costspec.part"  # "k/n": a full output's part k of the shard's n


class ShardError(CostspecError):
    """Shards that cannot be merged, or a shard that cannot be named."""


@dataclass(frozen=True)
class Shard:
    """The ``index``-th (1-based) of ``count`` contiguous ranges of a sweep's points."""

    index: int
    count: int

    def range(self, points: int) -> tuple[int, int]:
        return points * (self.index - 1) // self.count, points * self.index // self.count

    @property
    def label(self) -> str:
        return f"{self.index}/{self.count}"


def parse(text: str) -> Shard:
    """``I/K`` with 1 ≤ I ≤ K."""
    m = re.fullmatch(r"\s*(\d{1,9})\s*/\s*(\d{1,9})\s*", text)
    if m:
        i, k = int(m.group(1)), int(m.group(2))
        if 1 <= i <= k:
            return Shard(i, k)
    raise ShardError(f"--shard: got {text!r}, expected I/K with 1 <= I <= K (the I-th of K shards, e.g. 2/4)")


def default_path(path: Path, shard: Shard) -> Path:
    """Where a shard goes when no -o is given: beside the sweep's output, its number in the name."""
    stem = path.name[: -len(path.suffix)] if path.suffix else path.name
    return path.with_name(f"{stem}.shard-{shard.index}-of-{shard.count}{path.suffix}")


def shard_metadata(plan: Plan, shard: Shard, start: int, end: int) -> dict[str, str]:
    keep = plan.spec.keep
    meta = {SHARD: shard.label, RANGE: f"{start}-{end}"}
    if plan.spec.fields.get("solve.for") is not None:  # (merged, no row at all is no answer)
        meta[SOLVING] = "1"
    if keep is not None:
        meta[KEEP] = json.dumps({"top": keep.top, "by": keep.by, "maximise": keep.maximise, "per": list(keep.per),
                                 "pareto": [[c, m] for c, m in keep.pareto]})
    return meta


def _as_i64(v: float) -> int:
    """The engine's group key (sink::group_key): `v as i64` (truncated, saturating), no value
    (NaN) as i64::MIN, a group of its own."""
    if v != v:
        return -(2**63)
    if v >= 9.223372036854775807e18:
        return 2**63 - 1
    if v <= -9.223372036854775808e18:
        return -(2**63)
    return int(v)


def _rank(v: float, maximise: bool) -> float:
    """The engine's rank_value: missing values last, maximised columns negated."""
    if v != v:
        return float("inf")
    return -v if maximise else v


def candidates_metadata(plan: Plan, rows: list[tuple[int, list[float]]]) -> dict[str, str]:
    return {CANDIDATES: json.dumps(candidate_keys(plan, rows))}  # (infinities as JSON's Infinity)


def candidate_keys(plan: Plan, rows: list[tuple[int, list[float]]]) -> list[list[Any]]:
    """Per engine row (point index, values): [index, group, rank key], what merging needs."""
    keep = plan.spec.keep
    assert keep is not None
    names = [c.name for c in plan.columns]
    per = [names.index(p) for p in keep.per]
    keys = [(names.index(c), m) for c, m in keep.pareto] if keep.pareto else [(names.index(str(keep.by)),
                                                                              keep.maximise)]
    return [[i, [_as_i64(r[c]) for c in per], [_rank(r[c], m) for c, m in keys]] for i, r in rows]


def _total(x: float) -> int:
    """f64::total_cmp's order as an integer (so -0.0 < 0.0, as the engine sorts)."""
    b: int = struct.unpack("<q", struct.pack("<d", x))[0]
    return b ^ 0x7FFFFFFFFFFFFFFF if b < 0 else b


def _dominates(a: list[float], b: list[float]) -> bool:
    return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))


def merge_candidates(cands: list[tuple[int, list[int], list[float], Any]], keep: dict[str, Any]) -> list[Any]:
    """The engine's answer over the union of ranges' answers: ``cands`` are (point index, group,
    key, payload); returns the payloads of the merged answer in the engine's order."""
    groups: dict[tuple[int, ...], list[tuple[int, list[float], Any]]] = {}
    for index, group, key, payload in cands:
        groups.setdefault(tuple(group), []).append((index, key, payload))
    out: list[Any] = []
    for g in sorted(groups):
        members = groups[g]
        if keep.get("pareto"):
            front = [m for m in members if not any(_dominates(o[1], m[1]) for o in members)]
            front.sort(key=lambda m: (_total(m[1][0]), m[0]))
            out.extend(m[2] for m in front)
        else:
            members.sort(key=lambda m: (_total(m[1][0]), m[0]))
            out.extend(m[2] for m in members[: int(keep["top"])])
    return out


def merge_answers(answers: list[tuple[Any, list[Any]]], keep: dict[str, Any]) -> Any:
    """Ranges' reduced tables with their rows' [index, group, key], in range order, merged into
    the answer over all of them (a pyarrow Table, rows in the engine's order)."""
    import pyarrow as pa

    cands: list[tuple[int, list[int], list[float], Any]] = []
    base = 0
    for table, keys in answers:
        if len(keys) != table.num_rows:
            raise ShardError("a range's rows do not match its recorded ranking: not as costspec wrote it")
        cands.extend((int(i), g, k, base + j) for j, (i, g, k) in enumerate(keys))
        base += table.num_rows
    whole = pa.concat_tables([t for t, _ in answers])
    return whole.take(pa.array(merge_candidates(cands, keep), type=pa.int64()))


def keep_rule(keep: Any) -> dict[str, Any]:
    """A spec's reduction as merge_candidates reads it."""
    return {"top": keep.top, "pareto": [[c, m] for c, m in keep.pareto]}


# -- merging ----------------------------------------------------------------------------------------


@dataclass
class _Part:
    folder: Path
    files: list[Path]
    meta: dict[str, str]
    shard: Shard


def _read_shard(folder: Path) -> _Part:
    import pyarrow.parquet as pq

    from costspec.targets import PART

    if not folder.is_dir():
        what = "no such folder" if not folder.exists() else "not a folder of part files"
        raise ShardError(f"{folder}: {what} (give the folders costspec sweep --shard wrote)")
    files = sorted(p for p in folder.iterdir() if PART.fullmatch(p.name))
    if not files:
        raise ShardError(f"{folder} holds no part files: not a costspec shard")
    metas = []
    for f in files:
        try:
            raw = pq.read_schema(f).metadata or {}
        except Exception:  # noqa: BLE001 - not Parquet: not a shard (its content is not shown)
            raise ShardError(f"{f} is not a readable Parquet file: not a costspec shard") from None
        metas.append({k.decode("utf-8", "replace"): v.decode("utf-8", "replace") for k, v in raw.items()
                      if k.startswith(b"costspec.")})
    meta = metas[0]
    if SHARD not in meta:
        raise ShardError(f"{folder} is not a costspec shard (no shard in its metadata: "
                         "write shards with costspec sweep --shard I/K)")
    if any(m.get(SHARD) != meta[SHARD] for m in metas):
        raise ShardError(f"{folder} mixes part files of different shards")
    i, _, k = meta[SHARD].partition("/")
    if KEEP not in meta:  # (a full output's parts: each says which of how many it is)
        labels = [m.get(PART_OF, "") for m in metas]
        total = labels[0].partition("/")[2]
        n = int(total) if total.isdigit() else -1
        if n < 0 or sorted(labels) != sorted(f"{j}/{n}" for j in range(n)):
            raise ShardError(f"{folder} is incomplete: shard {meta[SHARD]} was written as "
                             f"{n if n >= 0 else 'an unknown number of'} part files and {len(files)} are there "
                             "(or they are not its own); copy the shard whole")
    return _Part(folder, files, meta, Shard(int(i), int(k)))


IDENTITY = ("costspec.spec_sha256", "costspec.overrides", "costspec.catalog", "costspec.points", "costspec.version",
            KEEP)


def check_complete(parts: list[_Part]) -> list[_Part]:
    """The parts sorted by shard; an error naming what is missing, doubled or foreign."""
    if not parts:
        raise ShardError("no shards given")
    first = parts[0]
    for p in parts[1:]:
        for key in IDENTITY:
            if p.meta.get(key) != first.meta.get(key):
                what = {"costspec.spec_sha256": "spec", "costspec.overrides": "command-line overrides",
                        "costspec.catalog": "catalog", "costspec.points": "point count",
                        "costspec.version": "costspec version", KEEP: "reduction"}[key]
                raise ShardError(f"{p.folder} and {first.folder} are shards of different sweeps (their {what} "
                                 "differs): merge the shards of one sweep")
        if p.shard.count != first.shard.count:
            raise ShardError(f"{p.folder} is shard {p.shard.label} and {first.folder} shard {first.shard.label}: "
                             "shards of one split have the same K")
    seen: dict[int, _Part] = {}
    for p in parts:
        if p.shard.index in seen:
            raise ShardError(f"shard {p.shard.label} is given twice ({seen[p.shard.index].folder} and {p.folder})")
        seen[p.shard.index] = p
    k = first.shard.count
    missing = [f"{i}/{k}" for i in range(1, k + 1) if i not in seen]
    if missing:
        raise ShardError(f"missing shard{'s' if len(missing) > 1 else ''} {', '.join(missing)} of {k} "
                         f"(given: {', '.join(p.shard.label for p in sorted(parts, key=lambda p: p.shard.index))})")
    return [seen[i] for i in range(1, k + 1)]


@dataclass
class Merged:
    shards: int
    rows: int
    path: str
    files: list[str]


def merge(output: str | os.PathLike[str], folders: list[str | os.PathLike[str]]) -> Merged:
    """Combine the shards in ``folders`` (any order) into ``output``, a Parquet folder like the
    one-machine run's (written under a temporary name and renamed into place)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from costspec import runner, targets

    out = Path(os.fspath(output))
    if out.name in ("", ".", "..") or not os.path.basename(os.path.abspath(out)):
        raise ShardError(f"{str(output) or repr('')} is not a folder name; give one, e.g. results/merged.parquet")
    parts = check_complete([_read_shard(Path(os.fspath(f))) for f in folders])
    target = targets.Target(Path(os.fspath(output)), True, tuple(f for p in parts for f in p.files))
    for p in parts:
        try:
            inside = Path(os.path.abspath(target.path)).resolve() == p.folder.resolve()
        except OSError:
            inside = False
        if inside:
            raise ShardError(f"{output} is the shard {p.folder}; merge into another folder")
    keep = json.loads(parts[0].meta[KEEP]) if KEEP in parts[0].meta else None
    files: list[str] = []
    rows = 0
    try:
        target.prepare()
        if keep is None:  # every row: the shards' part files, in shard order, renumbered
            for p in parts:
                for f in p.files:
                    name = f"part-{len(files):05d}.parquet"
                    shutil.copyfile(f, target.tmp / name)
                    files.append(name)
                    rows += pq.read_metadata(target.tmp / name).num_rows
        else:
            answers = []
            for p in parts:
                t = pq.read_table(p.files[0]) if len(p.files) == 1 else pa.concat_tables(
                    [pq.read_table(f) for f in p.files])
                answers.append((t, json.loads(p.meta.get(CANDIDATES, "[]"))))
            try:
                table = merge_answers(answers, keep)
            except ShardError:
                raise ShardError("a shard's rows do not match its recorded ranking: not as costspec wrote it") from None
            md = {k: v for k, v in (table.schema.metadata or {}).items() if not k.startswith(b"costspec.shard")}
            md[b"costspec.merged_shards"] = str(len(parts)).encode()
            files = runner._write_table(table.replace_schema_metadata(md), target.tmp, "parquet")
            rows = table.num_rows
        if rows == 0 and parts[0].meta.get(SOLVING) == "1":
            raise ShardError("no point of the merged sweep has an answer (each target impossible or contradicted); "
                             "nothing written. costspec estimate --spec on one of its points says why")
        target.commit()
    except BaseException as e:
        target.discard()
        if isinstance(e, OSError):
            raise CostspecError(f"cannot write {target.path}: {e.strerror or e}") from None
        raise
    return Merged(len(parts), rows, str(target.path), files)

