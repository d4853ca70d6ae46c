"""Spec files: load, check against the schema and the catalog, and describe as a typed Spec.

``load(path)`` returns a :class:`Spec` or raises :class:`SpecError` (with every problem in
``.errors``); ``validate(path)`` returns the list of problems. Nothing here imports the Rust
extension, so ``costspec validate`` starts fast.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from costspec import expr, outputs, schema, scaling, yamlio
from costspec import fields as registry
from costspec import fields as columns  # the column names (NAMES)
from costspec.catalog import Catalog
from costspec.errors import CatalogError, InputError, SpecError, UnknownNameError, printable
from costspec.units import parse_number
from costspec.yamlio import Document

Value = float | int | str | bool | expr.Expr | None


# Every field, declared once (fields.py): these are its views the checks use.
FIELDS = registry.FIELDS
SOLVE_UNKNOWNS: dict[str, str] = registry.SOLVE_FOR
SOLVE_TARGETS = registry.SOLVE_TARGETS
WHOLE = registry.WHOLE.accepted
MAX_WHOLE_CHECK = 10**6  # values of a generated whole-number axis checked one by one
MAX_POINTS = 2**63 - 1  # the engine indexes points with 64-bit integers
MAX_AXIS = 10**8  # values one axis may have (the engine holds each axis in memory: 800 MB at most)
SPACES = ("linspace", "geomspace", "logspace")  # generated axes {kind: [a, b], num: n}, ends included
MAX_EXPONENT = 308.0  # a logspace exponent above it is beyond the float range (1e308 is near its top)
SECTIONS = registry.SECTIONS
SEARCHABLE = registry.SEARCHABLE  # (a list in their place: the values the layout search may choose)
# Fields that are not cost-model inputs: they steer solving and scaling.
PLANNING = registry.PLANNING
DURATION = ("hardware.mfu", "hardware.gpu_hours", "hardware.wall_clock_days")


@dataclass(frozen=True)
class Axis:
    """One sweep axis: a field (dotted) or a variable, with its values or how to generate them."""

    name: str
    kind: str  # "values", "linspace", "geomspace", "logspace" or "range"
    values: tuple[Value, ...] = ()
    start: float = 0.0
    stop: float = 0.0
    step: float = 1.0
    num: int = 0
    group: int | None = None  # zip group, None for a grid axis

    @property
    def path(self) -> tuple[Any, ...]:
        """Where the axis is written in a spec."""
        return ("sweep", "grid", self.name) if self.group is None else ("sweep", "zip", self.group, self.name)

    def __len__(self) -> int:
        if self.kind == "values":
            return len(self.values)
        if self.kind in SPACES:
            return self.num
        q = (self.stop - self.start) / self.step if self.step else 0.0
        return max(math.ceil(q), 0) if q <= MAX_AXIS else MAX_AXIS + 1

    def ends(self) -> list[Value]:
        """The first and last values (all values for a list): bounds of a generated axis."""
        if self.kind == "values":
            return list(self.values)
        n = len(self)
        if self.kind == "range":
            return [self.start, self.start + (n - 1) * self.step] if n else []
        return [self.value_at(0), self.value_at(n - 1)]

    def value_at(self, i: int) -> Value:
        """The i-th value, without generating the others. The formulas are numpy's, computed as
        the engine computes them (rust/engine/ir.rs, bit for bit): linspace a + (b-a)·i/(n-1),
        geomspace 10^(lg a + (lg b - lg a)·i/(n-1)), logspace 10^(a + (b-a)·i/(n-1)); the written
        ends are exact (geomspace [1B, 1T] starts at 1e9, not 999999999.9999993)."""
        n = len(self)
        if self.kind == "values":
            return self.values[i]
        if self.kind == "range":
            return self.start + i * self.step
        if self.kind == "logspace":
            e = self.start if n == 1 else self.start + (self.stop - self.start) * i / (n - 1)
            return float(10.0**e)
        if i == 0 or n == 1:
            return self.start
        if i == n - 1:
            return self.stop
        if self.kind == "linspace":
            return self.start + (self.stop - self.start) * i / (n - 1)
        lo, hi = math.log10(self.start), math.log10(self.stop)
        return float(10.0 ** (lo + (hi - lo) * i / (n - 1)))

    def materialise(self) -> list[Value]:
        """The axis values (numbers generated for linspace/geomspace/logspace/range; ends
        included for the spaces, stop excluded for range)."""
        if self.kind == "values":
            return list(self.values)
        return [self.value_at(i) for i in range(len(self))]


@dataclass(frozen=True)
class Sweep:
    """The grid's axes and the zip groups: the product of the grid axes and one axis per group.
    Loop order: the zip groups first, then the grid's axes, as written; the first varies slowest."""

    grid: tuple[Axis, ...] = ()
    zip: tuple[tuple[Axis, ...], ...] = ()

    @property
    def axes(self) -> tuple[Axis, ...]:
        """Every axis in loop order: the zip groups, then the grid's axes (the first varies slowest)."""
        return tuple(a for g in self.zip for a in g) + self.grid

    @property
    def points(self) -> int:
        n = 1
        for a in self.grid:
            n *= len(a)
        for g in self.zip:
            n *= len(g[0]) if g else 1
        return n


CATEGORICAL_COLUMNS = registry.CATEGORICAL_COLUMNS


@dataclass(frozen=True)
class Keep:
    """Reduce a sweep while it runs: the `top` best points by column `by` (largest first when
    `maximise`), or the Pareto front over `pareto` ((column, maximise) pairs), within each group of
    the categorical columns `per`."""

    top: int | None = None
    by: str | None = None
    maximise: bool = False
    per: tuple[str, ...] = ()
    pareto: tuple[tuple[str, bool], ...] = ()


@dataclass(frozen=True)
class Spec:
    """A checked spec. ``fields`` maps dotted input names (``hardware.gpu``) to their fixed values:
    numbers (suffixes already applied), names, or expressions (:class:`costspec.expr.Expr`)."""

    file: str
    text: str
    name: str | None
    description: str | None
    fields: Mapping[str, Value]
    sweep: Sweep
    derive: Mapping[str, expr.Expr]
    where: tuple[expr.Expr, ...]
    output_path: str | None
    output_format: str
    catalog: Catalog
    output_columns: tuple[str, ...] | None
    keep: Keep | None
    document: Document = field(repr=False)
    inputs: tuple[Path, ...] = ()  # files the spec is read from: itself and its catalog includes
    # The values the layout search may choose per degree (a list in the degree's place, under
    # `parallelism.layout: auto`): field -> values, as a field's values read (numbers, choices).
    allowed: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    # Categorical columns a Parquet output is partitioned by (hive-style COLUMN=VALUE folders).
    partition_by: tuple[str, ...] = ()

    @property
    def points(self) -> int:
        return self.sweep.points


# ----------------------------------------------------------------------------------------------
# Loading


Overrides = Mapping[tuple[str, ...], tuple[Any, str]]


def spec_path(path: object) -> Path:
    """A spec's path as given to the API: a string or path-like, else an InputError."""
    if isinstance(path, (str, os.PathLike)) and not isinstance(path, bytes):
        return Path(path)
    raise InputError("path", type(path).__name__, "the path of a spec file (a string or a pathlib.Path)")


def load(path: str | Path, overrides: Overrides | None = None, *, allow_include_outside: bool = False,
         sets: Sequence[str] = ()) -> Spec:
    """Load and check a spec file. Raises SpecError; ``err.errors`` lists every problem.

    ``sets`` are ``PATH=VALUE`` settings (``--set hardware.count=512``: VALUE is YAML, PATH dotted)
    and ``overrides`` maps spec paths (``("output", "columns")``) to (value, flag): values given on
    the command line, checked by the same rules as the file's, with errors naming the flag. Catalog
    includes must stay inside the spec's repository unless ``allow_include_outside``."""
    doc = yamlio.read(spec_path(path))
    doc.apply_sets(_sets(sets))
    for p, (value, flag) in (overrides or {}).items():
        doc.override(p, value, flag)
    spec, errors = _analyse(doc, Path(path).parent, allow_include_outside)
    if errors:
        first = errors[0]
        first.errors = errors
        raise first
    assert spec is not None
    return dataclasses.replace(spec, inputs=(Path(path), *spec.inputs))


def load_text(text: str, file: str = "<string>", base: Path | None = None, *,
              allow_include_outside: bool = False, sets: Sequence[str] = ()) -> Spec:
    """Like load(), for a spec held in a string (``file`` names it in errors; includes resolve
    against ``base``, default the current folder)."""
    doc = yamlio.parse(text, file)
    doc.apply_sets(_sets(sets))
    spec, errors = _analyse(doc, base or Path.cwd(), allow_include_outside)
    if errors:
        errors[0].errors = errors
        raise errors[0]
    assert spec is not None
    return spec


def validate(path: str | Path, *, allow_include_outside: bool = False, sets: Sequence[str] = ()) -> list[SpecError]:
    """Every problem in a spec file (with ``sets`` applied, as load's), located; an empty list
    when the spec is valid."""
    try:
        doc = yamlio.read(spec_path(path))
        doc.apply_sets(_sets(sets))
    except SpecError as e:
        return [e]
    return _analyse(doc, Path(path).parent, allow_include_outside)[1]


def validate_text(text: str, file: str = "<string>", *, allow_include_outside: bool = False,
                  sets: Sequence[str] = ()) -> list[SpecError]:
    try:
        doc = yamlio.parse(text, file)
        doc.apply_sets(_sets(sets))
    except SpecError as e:
        return [e]
    return _analyse(doc, Path.cwd(), allow_include_outside)[1]


def _sets(sets: Sequence[str]) -> Sequence[str]:
    if isinstance(sets, str) or not all(isinstance(x, str) for x in sets):
        raise InputError("sets", type(sets).__name__, "a list of 'PATH=VALUE' strings")
    return sets


# ----------------------------------------------------------------------------------------------
# Checking


def raw_includes(data: Any) -> list[tuple[int, str]]:
    """The spec's catalog.include entries that are strings, with their positions in the list."""
    cat = data.get("catalog") if isinstance(data, dict) else None
    inc = cat.get("include") if isinstance(cat, dict) else None
    return [(i, x) for i, x in enumerate(inc) if isinstance(x, str)] if isinstance(inc, list) else []


def repository_root(folder: Path) -> Path:
    """The repository a spec in ``folder`` belongs to: the nearest folder above it (itself
    included) holding ``.git``, else ``folder`` itself. Catalog includes stay inside it."""
    start = folder.resolve()
    for p in (start, *start.parents):
        if (p / ".git").exists():
            return p
    return start


def _inside(path: Path, root: Path) -> bool:
    """Whether ``path``, every link resolved, lies under ``root``."""
    try:
        return path.resolve().is_relative_to(root)
    except (OSError, RuntimeError):  # a link loop
        return False


class _Checker:
    def __init__(self, doc: Document, base: Path, allow_outside: bool = False, catalog: Catalog | None = None) -> None:
        """``catalog``: a document of estimate() keywords, already typed, with the caller's
        catalog: the same rules without the JSON Schema pass (its types and domains are checked
        value by value, its unknown keys named)."""
        self.doc = doc
        self.keywords = catalog is not None
        self.base = base
        self.allow_outside = allow_outside
        self.inputs: list[Path] = []
        self.lines: list[str] | None = None
        self.gpus: list[Any] = []  # the catalog GPUs the spec uses (set by semantics)
        self.hints_left = 100  # 'did you mean' for the first errors only: each compares against every name
        self.errors: list[SpecError] = []
        self.catalog = catalog if catalog is not None else Catalog.builtin()
        self.checked_axes: list[Axis] = []  # every well-formed axis, kept or not
        self.axis_names: set[str] = set()  # every axis name, well-formed or not (no second error for its uses)

    def err(self, path: tuple[Any, ...], message: str, expected: str | None = None, found: str | None = None,
            key: bool = False) -> None:
        self.errors.append(self.doc.error(path, message, expected, found, key))

    def expr_error(self, path: tuple[Any, ...], text: str, message: str, offset: int,
                   expected: str | None = None) -> None:
        line, col = self.doc.where(path)
        # Point inside the string: skip an opening quote and an '=' prefix.
        if self.lines is None:  # (split once: a spec may hold tens of thousands of expressions)
            self.lines = self.doc.text.splitlines()
        lines = self.lines
        if 0 < line <= len(lines) and col - 1 < len(lines[line - 1]) and lines[line - 1][col - 1] in "'\"":
            col += 1
        self.errors.append(SpecError(self.doc.file, line, col + offset, yamlio.dotted(path), message, expected,
                                     repr(text)))

    # -- catalog ---------------------------------------------------------------------------------
    def build_catalog(self, raw: Any, add_entries: bool) -> None:
        if not isinstance(raw, dict):
            return
        entries = {k: raw[k] for k in ("gpus", "models", "prices") if isinstance(raw.get(k), list)}
        includes: list[Any] = raw["include"] if isinstance(raw.get("include"), list) else []
        if not entries and not includes:
            return
        cat = Catalog.fresh()
        root = None if self.allow_outside else repository_root(self.base)
        for i, inc in enumerate(includes):
            if not isinstance(inc, str) or "\0" in inc:
                continue  # (a NUL is reported with the other path checks)
            target = self.base / inc
            if root is not None and not _inside(target, root):
                self.err(("catalog", "include", i), f"the include leads outside the spec's repository ({root})",
                         "a catalog file under that folder (or --allow-include-outside)", repr(inc))
                continue
            try:
                cat.add_file(target, regular_only=True)
                self.inputs.append(target)
            except CatalogError as e:
                self.err(("catalog", "include", i), f"cannot use catalog file: {e}")
        if entries and add_entries:
            try:
                cat.add(entries, origin=self.doc.file, doc=self.doc, prefix=("catalog",))
            except CatalogError as e:
                if e.where is not None:
                    line, col, path, message = e.where
                    self.errors.append(SpecError(self.doc.file, line, col, path, f"bad catalog entry: {message}"))
                else:
                    self.err(("catalog",), f"bad catalog entry: {e}")
        self.catalog = cat

    # -- values ----------------------------------------------------------------------------------
    def value(self, name: str, raw: Any, path: tuple[Any, ...], from_schema_ok: bool) -> Value:
        """Convert one raw input value by its field kind, reporting what the schema cannot see."""
        info = FIELDS.get(name)
        if isinstance(raw, str) and raw.startswith("="):
            if info is not None and info.kind != "number":
                self.err(path, f"{name} takes a {'catalog name' if info.kind == 'name' else 'choice'}, not an "
                         "expression (expressions compute numbers)", info.accepted or "a catalog name", repr(raw))
                return None
            return self.expression(raw[1:], path, offset=1)
        if info is None:  # a sweep variable
            if isinstance(raw, (int, float)) and not isinstance(raw, bool) and math.isfinite(raw):
                return raw
            try:
                return parse_number(raw, name)
            except InputError:
                self.err(path, "not a finite number", "a number such as 20, 7B or 1.5e12", schema.describe(raw))
                return None
        if info.kind == "number":
            if isinstance(raw, bool) or raw is None or not isinstance(raw, (int, float, str)):
                if not from_schema_ok:
                    self.err(path, "not a number", "a number such as 7B, 2T or 1.5e12", schema.describe(raw))
                return None
            if isinstance(raw, float) and not math.isfinite(raw):  # .inf, .nan, 1e999: the schema takes them
                self.err(path, "not a finite number", info.accepted, schema.describe(raw))
                return None
            try:
                x = parse_number(raw, name)
            except InputError as e:
                from costspec.units import looks_numeric

                if isinstance(raw, str) and looks_numeric(raw):  # "1e400", "1__0": the schema's pattern takes them
                    if "float range" in e.accepted:
                        self.err(path, "not a finite number", info.accepted + ", within the float range (±1.8e308)",
                                 schema.describe(raw))
                    else:
                        self.err(path, "malformed number", "a number such as 7B, 2T or 1.5e12 (underscores between "
                                 "digits)", schema.describe(raw))
                elif not from_schema_ok:
                    self.err(path, "not a number", "a number such as 7B, 2T or 1.5e12", schema.describe(raw))
                return None
            if not info.ok(x):  # (the registry's domain: whole counts too, which the schema cannot say; one
                self.err(path, "out of range", info.accepted, schema.describe(raw))  # error per spot)
            return x
        text = str(raw).lower() if isinstance(raw, (str, int, bool)) else None
        if info.kind in ("choice", "flag"):
            if text not in info.choices:
                if not from_schema_ok:
                    self.err(path, f"not an accepted value{schema.did_you_mean(str(raw), info.choices)}",
                             "one of " + ", ".join(info.choices), schema.describe(raw))
                return None
            return text
        if not isinstance(raw, str) or not raw:
            if not from_schema_ok:
                self.err(path, "expected a name", "a catalog name", schema.describe(raw))
            return None
        return raw

    def expression(self, text: str, path: tuple[Any, ...], offset: int = 0) -> expr.Expr | None:
        try:
            return expr.parse(text)
        except expr.ExprError as e:
            self.expr_error(path, text, f"bad expression: {e}", offset + e.offset)
            return None

    # -- the sweep ------------------------------------------------------------------------------
    def axis(self, name: str, raw: Any, path: tuple[Any, ...], group: int | None) -> Axis | None:
        """The axis at ``path``, or None with its problem reported (never dropped silently: a
        dropped axis would sweep one point)."""
        ax = self.axis_or_none(name, raw, path, group)
        if ax is None and not any(e.path == yamlio.dotted(path) or e.path.startswith(yamlio.dotted(path) + ".")
                                  or e.path.startswith(yamlio.dotted(path) + "[") for e in self.errors):
            self.err(path, "not a sweep axis", "a list, {values: [...]}, {linspace: [a, b], num: n}, "
                     "{geomspace: [a, b], num: n}, {logspace: [a, b], num: n} or {range: [start, stop, step]}",
                     schema.describe(raw))
        return ax

    def axis_or_none(self, name: str, raw: Any, path: tuple[Any, ...], group: int | None) -> Axis | None:
        if isinstance(raw, list) or (isinstance(raw, dict) and "values" in raw):
            items = raw if isinstance(raw, list) else raw.get("values")
            if not isinstance(items, list):
                return None
            ipath = path if isinstance(raw, list) else (*path, "values")
            if not items:
                return None  # the schema reports it
            vals = tuple(self.value(name, v, (*ipath, i), from_schema_ok=False) for i, v in enumerate(items))
            for i, v in enumerate(vals):
                if isinstance(v, expr.Expr):
                    self.err((*ipath, i), "a sweep's values are plain values, not expressions", "a number or a name "
                             "(an expression can use the axis instead)", repr(v.text))
                    return None
            return Axis(name, "values", vals, group=group)
        if not isinstance(raw, dict):
            return None
        for kind in SPACES:
            if kind in raw:
                pair, num = raw.get(kind), raw.get("num")
                if isinstance(num, float) and num.is_integer() and abs(num) < 2**63:
                    num = int(num)  # (JSON Schema counts 5.0 as an integer)
                if not (isinstance(pair, list) and len(pair) == 2 and isinstance(num, int) and not isinstance(num, bool)):
                    return None
                a, b = (self.number((*path, kind, i), v) for i, v in enumerate(pair))
                if a is None or b is None:
                    return None
                if num < 1:
                    self.err((*path, "num"), "a sweep axis with no values has no points", "num >= 1", str(num))
                    return None
                if num > MAX_AXIS:
                    self.err((*path, "num"), f"an axis may have at most {MAX_AXIS:.0e} values", "a smaller num, or "
                             "two axes whose product is the size you need", str(num))
                    return None
                if kind == "geomspace" and (a <= 0 or b <= 0):
                    self.err((*path, kind), "geomspace ends must be > 0", "two numbers > 0", schema.describe(pair))
                    return None
                if kind == "logspace" and max(a, b) > MAX_EXPONENT:
                    i = 0 if a > MAX_EXPONENT else 1
                    self.err((*path, kind, i), "logspace takes base-10 exponents (from 10^a to 10^b), and "
                             f"10^{(a, b)[i]:.6g} is beyond the float range (±1.8e308)", "exponents <= 308 ({logspace: [9, 12]} is 1e9 to 1e12), "
                             "or geomspace for end values ({geomspace: [1B, 1T], num: n})", schema.describe(pair[i]))
                    return None
                ax = Axis(name, kind, start=a, stop=b, num=num, group=group)
                if kind == "linspace" and not math.isfinite(b - a):
                    self.err((*path, kind), "the ends are further apart than the float range (±1.8e308)",
                             "ends whose difference is a finite number", schema.describe(pair))
                    return None
                self.check_numbers(name, ax, path)
                return ax
        if "range" in raw and isinstance(raw["range"], list) and 2 <= len(raw["range"]) <= 3:
            nums = [self.number((*path, "range", i), v) for i, v in enumerate(raw["range"])]
            if any(n is None for n in nums):
                return None
            start, stop = float(nums[0]), float(nums[1])  # type: ignore[arg-type]
            step = float(nums[2]) if len(nums) == 3 else 1.0  # type: ignore[arg-type]
            if step == 0:
                self.err((*path, "range", 2), "a range step of 0 never reaches its stop", "a step != 0", "0")
                return None
            ax = Axis(name, "range", start=start, stop=stop, step=step, group=group)
            if not math.isfinite(stop - start) or not all(math.isfinite(float(v)) for v in ax.ends()):  # type: ignore[arg-type]
                self.err((*path, "range"), "the range spans beyond the float range (±1.8e308)",
                         "ends whose difference is a finite number", schema.describe(raw["range"]))
                return None
            if len(ax) > MAX_AXIS:
                self.err((*path, "range"), f"this range has more than {MAX_AXIS:.0e} values (an axis may have at "
                         "most that many)", "a coarser step, or two axes whose product is the size you need",
                         schema.describe(raw["range"]))
                return None
            if len(ax) == 0:
                self.err((*path, "range"), "this range has no values, so the sweep has no points",
                         "start < stop for a positive step (stop is excluded)", schema.describe(raw["range"]))
                return None
            self.check_numbers(name, ax, path)
            return ax
        return None

    def number(self, path: tuple[Any, ...], raw: Any) -> float | None:
        """An end or step of a generated axis: a finite number (.inf, .nan and '1e400' included)."""
        try:
            return parse_number(raw, "value")
        except InputError:
            if isinstance(raw, (int, float, str)) and not isinstance(raw, bool):  # else the schema reports it
                self.err(path, "not a finite number", "a finite number such as 1B or 0.5", schema.describe(raw))
            return None

    def check_numbers(self, name: str, ax: Axis, path: tuple[Any, ...]) -> None:
        info = FIELDS.get(name)
        if info is None:
            return
        if info.kind != "number":
            self.err(path, f"{name} takes names, not generated numbers", "a list of values", ax.kind)
            return
        bad = [v for v in ax.ends() if isinstance(v, (int, float)) and not info.ok(float(v))]
        if bad:
            self.err(path, "the axis generates values out of range", info.accepted, f"{bad[0]:g}")
            return
        if info.domain is registry.WHOLE and ax.kind != "range":  # (a range of whole ends and step is whole)
            if len(ax) > MAX_WHOLE_CHECK:
                self.err(path, f"{name} takes whole numbers: generate them with range", "{range: [start, stop, step]}",
                         ax.kind)
                return
            for i in range(len(ax)):
                v = ax.value_at(i)
                if isinstance(v, float) and not info.ok(v):
                    self.err(path, f"the axis generates {v!r}, not a whole number", "whole numbers, e.g. "
                             "{range: [8, 1032, 8]} or a list", f"value {i} of {ax.kind}")
                    return
        if info.domain is registry.WHOLE and ax.kind == "range" and not (float(ax.step).is_integer()):
            self.err(path, f"{name} takes whole numbers: the step must be whole", "a whole step", f"{ax.step:g}")

    # -- the whole spec ---------------------------------------------------------------------------
    def run(self) -> Spec | None:
        data = self.doc.data
        if not isinstance(data, dict):
            self.err((), "a spec is a mapping with costspec, model and hardware keys", "a mapping",
                     schema.describe(data))
            return None
        if not self.keywords:
            self.errors.extend(schema.check(self.doc))
        catalog_ok = not any(e.path.startswith("catalog") for e in self.errors)
        self.build_catalog(data.get("catalog"), add_entries=catalog_ok)

        fields: dict[str, Value] = {}
        where_set: dict[str, tuple[Any, ...]] = {}
        allowed: dict[str, tuple[Any, ...]] = {}
        for section in SECTIONS:
            body = data.get(section)
            if not isinstance(body, dict):
                continue
            items = list(body.items())
            if section == "model" and isinstance(body.get("architecture"), dict):
                items = [(k, v) for k, v in items if k != "architecture"]
                items += [(f"architecture.{k}", v) for k, v in body["architecture"].items()]
            for key, raw in items:
                name = f"{section}.{key}"
                path = (section, *key.split("."))
                if name not in FIELDS:
                    if self.keywords:  # (else the schema reports unknown keys)
                        arch_keys = [f.key.split(".", 1)[1] for f in FIELDS.values() if f.key.startswith("architecture.")]
                        self.err(path, f"unknown key {key.split('.')[-1]!r}"
                                 f"{schema.did_you_mean(key.split('.')[-1], arch_keys)}", "one of " + ", ".join(arch_keys),
                                 None, key=True)
                    continue
                where_set[name] = path
                if name in SEARCHABLE and isinstance(raw, list):  # the values the layout search may choose
                    vals = [self.value(name, x, (*path, i), from_schema_ok=not self.keywords) for i, x in enumerate(raw)]
                    if not raw:
                        self.err(path, "an empty list of allowed values", "at least one value", "[]")
                    elif len(raw) > 256:  # (the schema's maxItems, for estimate()'s keywords too)
                        self.err(path, "too many items", "at most 256 allowed values", f"{len(raw)} values")
                    elif any(isinstance(x, expr.Expr) for x in vals):
                        i = next(i for i, x in enumerate(vals) if isinstance(x, expr.Expr))
                        self.err((*path, i), "an allowed value is a plain value, not an expression",
                                 FIELDS[name].accepted, schema.describe(raw[i]))
                    elif all(x is not None for x in vals):
                        allowed[name] = tuple(dict.fromkeys(vals))
                    continue
                v = self.value(name, raw, path, from_schema_ok=not self.keywords)
                if v is not None:
                    fields[name] = v

        sweep = self.sweep(data.get("sweep"))
        swept = {a.name: a for a in self.checked_axes}
        if sweep.points > MAX_POINTS:
            self.err(("sweep",), f"the sweep has {sweep.points:.3g} points, more than the {MAX_POINTS:.3g} a point "
                     "index can count", "fewer or shorter axes", None, key=True)

        derive: dict[str, expr.Expr] = {}
        raw_derive: dict[str, Any] = data["derive"] if isinstance(data.get("derive"), dict) else {}
        raw_where = data.get("where")
        wheres = [raw_where] if isinstance(raw_where, str) else (raw_where if isinstance(raw_where, list) else [])

        variables = {n for n in (*swept, *self.axis_names) if n not in FIELDS}
        inputs = set(FIELDS) | variables
        known = set(inputs)  # inputs and the derived names so far (grown, not rebuilt: 60k entries)
        for name, text in raw_derive.items():
            if not isinstance(text, str):
                continue
            if name in FIELDS or name in columns.NAMES or name in variables:
                self.err(("derive", name), f"derived name {name!r} hides an input or output of the same name",
                         "a new name", None, key=True)
            e = self.expression(text, ("derive", name))
            if e is not None:
                self.known_names(e, ("derive", name), known, "inputs and earlier derived names")
                derive[name] = e
                known.add(name)
        exprs: list[expr.Expr] = []
        everything = inputs | set(derive) | set(columns.NAMES)
        for i, text in enumerate(wheres):
            if not isinstance(text, str):
                continue
            path = ("where", i) if isinstance(raw_where, list) else ("where",)
            e = self.expression(text, path)
            if e is not None:
                self.known_names(e, path, everything, "inputs, outputs and derived names")
                exprs.append(e)
        for name, v in fields.items():
            if isinstance(v, expr.Expr):
                self.known_names(v, where_set[name], inputs | set(derive), "inputs, sweep variables and derived names",
                                 offset=1)

        self.cycles({n: v for n, v in fields.items() if isinstance(v, expr.Expr)}, derive, where_set)
        for name, path in where_set.items():
            if name in swept:
                self.err(path, f"{name} is both set here and swept", "one of the two", None, key=True)
        self.semantics(fields, where_set, swept)
        self.search_space(fields, allowed, where_set)

        plan_name = data.get("name")
        if isinstance(plan_name, str) and (not plan_name.strip() or plan_name in (".", "..")
                                           or any(c in plan_name for c in "/\\\0") or printable(plan_name) != plan_name):
            self.err(("name",), "the name must be a plain file name: it names the default output "
                     "(results/<name>.parquet)", "a name without path separators or control characters",
                     repr(plan_name))
        out: dict[str, Any] = data["output"] if isinstance(data.get("output"), dict) else {}
        out_path = out.get("path")
        named = outputs.suffix_format(out_path) if isinstance(out_path, str) else None
        if named is not None and isinstance(out.get("format"), str) and out["format"] != named:
            self.err(("output", "format"), f"the output path names a {named} file, and the format says "
                     f"{out['format']}", f"format: {named}, or a path with the format's extension", repr(out["format"]))
        if isinstance(out_path, str) and ("\0" in out_path or printable(out_path) != out_path):
            self.err(("output", "path"), "the output path has a control character", "a path without control "
                     "characters", repr(out_path))
        for i, inc in raw_includes(data):
            if "\0" in inc:
                self.err(("catalog", "include", i), "the include path has a NUL character", "a file path", repr(inc))
        spec = Spec(
            file=self.doc.file,
            text=self.doc.text,
            name=data.get("name") if isinstance(data.get("name"), str) else None,
            description=data.get("description") if isinstance(data.get("description"), str) else None,
            fields=fields,
            sweep=sweep,
            derive=derive,
            where=tuple(exprs),
            output_path=out.get("path") if isinstance(out.get("path"), str) else None,
            output_format=str(out.get("format") or (outputs.suffix_format(out_path) if isinstance(out_path, str) else None)
                              or "parquet"),
            catalog=self.catalog,
            output_columns=self.output_columns(out.get("columns"), everything),
            keep=self.keep(out.get("keep"), everything),
            partition_by=self.partition_by(out.get("partition_by")),
            document=self.doc,
            inputs=tuple(self.inputs),
            allowed=allowed,
        )
        if not self.errors:  # (what the outputs have needs a spec without other problems)
            self.output_checks(spec, raw_where)
        return spec

    def cycles(self, exprs: Mapping[str, expr.Expr], derive: Mapping[str, expr.Expr],
               where_set: Mapping[str, tuple[Any, ...]]) -> None:
        """An expression may not depend on itself, through any chain of fields and derived names."""
        graph = {**{n: e for n, e in exprs.items()}, **derive}
        state: dict[str, int] = {}  # 1: on the path, 2: done
        for start in graph:
            if state.get(start):
                continue
            stack: list[tuple[str, list[str]]] = [(start, [d.name for d in graph[start].names if d.name in graph])]
            state[start] = 1
            while stack:
                node, todo = stack[-1]
                if not todo:
                    state[node] = 2
                    stack.pop()
                    continue
                nxt = todo.pop()
                if state.get(nxt) == 1:
                    path = where_set.get(nxt, ("derive", nxt))
                    loop = [n for n, _ in stack][[n for n, _ in stack].index(nxt):] + [nxt]
                    self.err(path, f"{nxt} depends on itself ({' -> '.join(loop)})", "expressions without a loop",
                             graph[nxt].text)
                    return
                if not state.get(nxt):
                    state[nxt] = 1
                    stack.append((nxt, [d.name for d in graph[nxt].names if d.name in graph]))

    def output_checks(self, spec: Spec, raw_where: Any) -> None:
        """What the compiler would refuse: conditions and columns on values the spec does not have,
        and reductions ranking or grouping by a column the sweep does not write."""
        have = outputs.available(spec, self.gpus)
        for i, cond in enumerate(spec.where):
            path = ("where", i) if isinstance(raw_where, list) else ("where",)
            for n in cond.names:
                if n.name in columns.NAMES and n.name not in have:
                    self.expr_error(path, cond.text, f"{n.name} has no value in this spec "
                                    f"({outputs.why_missing(n.name, spec)})", n.offset, expected="a column with values")
        written = outputs.written(spec, self.gpus)
        for i, col in enumerate(spec.output_columns or ()):
            if col in columns.NAMES and col not in have or col == "provider" and col not in have:
                self.err(("output", "columns", i), f"column {col!r} has no value in this spec "
                         f"({outputs.why_missing(col, spec)})", "a column with values", repr(col))
        for i, col in enumerate(spec.partition_by):
            if col in CATEGORICAL_COLUMNS and col not in written:
                self.err(("output", "partition_by", i), f"cannot partition by {col!r}: it is not among the written "
                         "columns", "a written categorical column: " + ", ".join(
                             c for c in written if c in CATEGORICAL_COLUMNS), repr(col))
        if spec.partition_by and spec.output_format != "parquet":
            self.err(("output", "partition_by"), f"a {spec.output_format} output is one file: partition_by needs "
                     "format parquet", "output.format parquet", spec.output_format)
        keep = spec.keep
        if keep is None:
            return
        ranked = [("by", keep.by)] if keep.by else [("pareto", c) for c, _ in keep.pareto]
        for where, col in ranked:
            if col is not None and col not in written:
                why = (f"it has no value in this spec ({outputs.why_missing(col, spec)})" if col not in have
                       else "it is not among the written columns")
                self.err(("output", "keep", where), f"cannot rank by {col!r}: {why}",
                         "a written column: " + ", ".join(written), repr(col))
        for i, col in enumerate(keep.per):
            if col not in written:
                self.err(("output", "keep", "per", i), f"cannot group by {col!r}: it is not among the written columns",
                         "a written categorical column", repr(col))

    def partition_by(self, raw: Any) -> tuple[str, ...]:
        """`output.partition_by`: categorical columns (a folder level each)."""
        if not isinstance(raw, list):
            return ()
        for i, p in enumerate(raw):
            if p not in CATEGORICAL_COLUMNS:
                hint = schema.did_you_mean(p, CATEGORICAL_COLUMNS) if isinstance(p, str) else ""
                self.err(("output", "partition_by", i), f"cannot partition by {p!r}: not a categorical column{hint}",
                         "one of " + ", ".join(CATEGORICAL_COLUMNS), repr(p))
        return tuple(str(p) for p in raw)

    def output_columns(self, raw: Any, known: set[str]) -> tuple[str, ...] | None:
        """Requested output columns: output names, sweep variables or derived names."""
        if not isinstance(raw, list) or not all(isinstance(c, str) for c in raw):
            return None
        names = set(columns.NAMES) | {"provider"} | {n for n in known if "." not in n}
        for i, c in enumerate(raw):
            if c not in names:
                self.err(("output", "columns", i), f"unknown column {c!r}{schema.did_you_mean(c, names)}",
                         "an output column, a sweep variable or a derived name", repr(c))
        return tuple(raw)

    def keep(self, raw: Any, known: set[str]) -> Keep | None:
        """`output.keep`: ranked columns must exist and be numeric, groups must be categorical."""
        if not isinstance(raw, dict):
            return None
        names = (set(columns.NAMES) | {n for n in known if "." not in n}) - set(CATEGORICAL_COLUMNS) - {"fits"}

        def column(path: tuple[Any, ...], text: Any) -> tuple[str, bool] | None:
            if not isinstance(text, str):
                return None
            name = text.lstrip("-")
            if name not in names:
                self.err(path, f"cannot rank by {name!r}{schema.did_you_mean(name, names)}",
                         "a numeric column such as cost_usd or wall_clock_days ('-column' for largest first)",
                         repr(text))
            return name, text.startswith("-")

        per: list[Any] = raw["per"] if isinstance(raw.get("per"), list) else []
        for i, p in enumerate(per):
            if p not in CATEGORICAL_COLUMNS:
                hint = schema.did_you_mean(p, CATEGORICAL_COLUMNS) if isinstance(p, str) else ""
                self.err(("output", "keep", "per", i), f"cannot group by {p!r}: not a categorical column{hint}",
                         "one of " + ", ".join(CATEGORICAL_COLUMNS), repr(p))
        groups = tuple(str(p) for p in per)
        if isinstance(raw.get("pareto"), list):
            cols = [column(("output", "keep", "pareto", i), c) for i, c in enumerate(raw["pareto"])]
            return Keep(per=groups, pareto=tuple(c for c in cols if c is not None))
        if isinstance(raw.get("top"), int) and isinstance(raw.get("by"), str):
            by = column(("output", "keep", "by"), raw["by"])
            return Keep(int(raw["top"]), by[0] if by else None, bool(by and by[1]), groups)
        return None

    def known_names(self, e: expr.Expr, path: tuple[Any, ...], known: set[str], what: str, offset: int = 0) -> None:
        for n in e.names:
            info = FIELDS.get(n.name)
            if ((info is not None and info.kind != "number") or n.name in CATEGORICAL_COLUMNS) and n.name in known:
                self.expr_error(path, e.text, f"{n.name} is a name, not a number: expressions compute with "
                                "numbers", offset + n.offset, expected="a numeric field, variable or column")
            elif n.name not in known:
                hint = schema.did_you_mean(n.name, known) if self.hints_left > 0 else ""
                self.hints_left -= 1
                self.expr_error(path, e.text, f"unknown name {n.name!r} in expression{hint}", offset + n.offset,
                                expected=what)

    def sweep(self, raw: Any) -> Sweep:
        if not isinstance(raw, dict):
            return Sweep()
        seen: dict[str, tuple[Any, ...]] = {}
        grid: list[Axis] = []

        def name_ok(name: str, path: tuple[Any, ...]) -> bool:
            if "." in name and name not in FIELDS:
                hint = schema.did_you_mean(name, FIELDS)
                self.err(path, f"unknown field {name!r}{hint}", "a spec field such as hardware.count, or a plain "
                         "variable name", None, key=True)
                return False
            if name in seen:
                self.err(path, f"{name} is swept twice", "each axis once", None, key=True)
                return False
            if name in columns.NAMES:
                self.err(path, f"sweep variable {name!r} has the name of an output column", "another name",
                         None, key=True)
                return False
            seen[name] = path
            self.axis_names.add(name)
            return True

        if isinstance(raw.get("grid"), dict):
            for name, body in raw["grid"].items():
                path: tuple[Any, ...] = ("sweep", "grid", name)
                if name_ok(name, path):
                    ax = self.axis(name, body, path, None)
                    if ax is not None:
                        grid.append(ax)
                        self.checked_axes.append(ax)
        groups: list[tuple[Axis, ...]] = []
        if isinstance(raw.get("zip"), list):
            for gi, group in enumerate(raw["zip"]):
                if not isinstance(group, dict):
                    continue
                axes: list[Axis] = []
                for name, body in group.items():
                    path = ("sweep", "zip", gi, name)
                    if name_ok(name, path):
                        ax = self.axis(name, body, path, gi)
                        if ax is not None:
                            axes.append(ax)
                self.checked_axes.extend(axes)
                if axes:
                    lengths = {a.name: len(a) for a in axes}
                    if len(set(lengths.values())) > 1:
                        first = axes[0]
                        for a in axes[1:]:
                            if len(a) != len(first):
                                self.err(("sweep", "zip", gi, a.name),
                                         f"zip group {gi}: {a.name} has {len(a)} values but {first.name} has "
                                         f"{len(first)}", f"{len(first)} values, as the group's other lists",
                                         f"{len(a)} values", key=True)
                        continue
                    groups.append(tuple(axes))
        return Sweep(tuple(grid), tuple(groups))

    # -- meaning -------------------------------------------------------------------------------------
    def semantics(self, fields: dict[str, Value], where_set: Mapping[str, tuple[Any, ...]],
                  swept: Mapping[str, Axis]) -> None:
        """Checks that need the catalog or several fields at once."""

        def values_of(name: str) -> list[tuple[Value, tuple[Any, ...]]]:
            if name in swept:
                ax = swept[name]
                base = ax.path
                raw = self.doc.data["sweep"]["grid"][name] if ax.group is None else \
                    self.doc.data["sweep"]["zip"][ax.group][name]
                inner = base if isinstance(raw, list) else (*base, "values")
                return [(v, (*inner, i)) for i, v in enumerate(ax.values)] if ax.kind == "values" else []
            if name in fields:
                return [(fields[name], where_set[name])]
            return []

        def present(name: str) -> bool:
            return name in fields or name in swept or name in where_set

        lookups: dict[str, Callable[[str], Any]] = {
            "model.preset": self.catalog.model, "hardware.gpu": self.catalog.gpu,
        }
        resolved: dict[str, list[Any]] = {"model.preset": [], "hardware.gpu": []}
        for name, lookup in lookups.items():
            for v, path in values_of(name):
                if isinstance(v, str):
                    try:
                        resolved[name].append(lookup(v))
                    except UnknownNameError as e:
                        self.err(path, f"unknown {e.kind} {v!r}", e.accepted, None)

        # Checks of a section the schema already reports missing would only repeat it.
        has_model = isinstance(self.doc.data.get("model"), dict)
        unknown = fields.get("solve.for") if isinstance(fields.get("solve.for"), str) else None
        # Without a GPU (or without a duration) a spec gives what its inputs determine: FLOPs,
        # tokens, params and memory; time, cost and energy need a GPU's peak and one duration.
        needs_gpu = [d for d in (*DURATION, "price.provider", "scaling.budget_usd") if present(d)]
        if unknown == "hardware.mfu":
            needs_gpu.append("solve.for")
        if needs_gpu and not present("hardware.gpu"):
            name = needs_gpu[0]
            why = {"price.provider": "a provider prices a GPU", "scaling.budget_usd": "a dollar budget buys FLOPs "
                   "at a GPU's peak", "hardware.gpu_hours": "GPU-hours time a GPU, against its peak",
                   "hardware.wall_clock_days": "a wall clock times a GPU, against its peak"}.get(
                name, "an MFU is a fraction of a GPU's peak")
            path = where_set.get(name) or (swept[name].path if name in swept else (name.split(".")[0],))
            self.err(path, f"{name} needs hardware.gpu: {why}", "a GPU from the catalog, set or swept", None, key=True)
        allocates = present("scaling.compute_flops") or present("scaling.budget_usd")  # sets params and tokens

        # A model needs a preset or a parameter count.
        if has_model and not present("model.preset") and not present("model.params") \
                and unknown != "model.params" and not allocates:
            self.err(("model",), "give a model preset or params", "model.preset or model.params", None, key=True)

        # Exactly one way to pin the duration.
        given = [d for d in DURATION if present(d)]
        if unknown == "hardware.mfu" and given:
            self.err(where_set.get(given[0], ("hardware",)), "hardware.mfu is solved for (solve.for), so the "
                     "targets set the duration", "no hardware.mfu, gpu_hours or wall_clock_days", given[0], key=True)
        elif len(given) > 1:
            self.err(where_set.get(given[1], ("hardware",)), "give one of hardware.mfu, hardware.gpu_hours, "
                     "hardware.wall_clock_days", "one of them, set or swept", " and ".join(given), key=True)
        if "hardware.wall_clock_days" in given and not present("hardware.count"):
            self.err(where_set.get("hardware.wall_clock_days", ("hardware",)),
                     "wall_clock_days needs hardware.count", "a GPU count", None, key=True)

        # Tokens: given, from dataset × epochs, or the preset's published count.
        preset_names = [v for v, _ in values_of("model.preset")]
        given_all = set(fields) | set(swept) | set(where_set)
        only_serves = outputs.serves_names(given_all) and \
            all(n in registry.SERVING_SHARED for n in given_all if n in FIELDS)
        if has_model and not only_serves and not present("training.tokens") and not present("training.dataset_tokens") \
                and unknown != "training.tokens" and not allocates \
                and len(resolved["model.preset"]) == len(preset_names):  # (unknown presets are reported)
            presets = resolved["model.preset"]
            if not presets or any(not m.training.get("tokens") for m in presets):
                self.err(("training",) if "training" in (self.doc.data or {}) else ("model",),
                         "give training.tokens (or dataset_tokens and epochs)",
                         "a token count such as 2T", None, key=True)
        if present("training.tokens") and present("training.dataset_tokens"):
            self.err(where_set.get("training.dataset_tokens", ("training",)),
                     "give training.tokens or training.dataset_tokens, not both", None, None, key=True)
        modes = [v for v, _ in values_of("training.mode")]
        lora_given = [n for n in ("training.lora_rank", "training.lora_fraction") if present(n)]
        if lora_given and "lora" not in modes:
            self.err(where_set.get(lora_given[0], ("training",)), f"{lora_given[0]} sizes LoRA adapters, which only "
                     "mode lora trains", "training.mode: lora (or no LoRA size)", None, key=True)
        if present("training.base_weights") and "lora" not in modes:
            self.err(where_set.get("training.base_weights", ("training",)), "base_weights stores LoRA's frozen "
                     "base, which only mode lora has", "training.mode: lora (or no base_weights)", None, key=True)
        if present("training.lora_dropout") and "lora" not in modes and \
                any(str(v).lower() == "true" for v, _ in values_of("training.lora_dropout")):
            self.err(where_set.get("training.lora_dropout", ("training",)), "lora_dropout drops LoRA's adapter "
                     "inputs, which only mode lora has", "training.mode: lora (or no lora_dropout)", None, key=True)
        if any(str(v).lower() == "true" for v, _ in values_of("training.paged_optimizer")) and \
                any(str(v).lower() == "sgd" for v, _ in values_of("training.optimizer")):
            self.err(where_set.get("training.paged_optimizer", ("training",)), "paged optimizer states are "
                     "bitsandbytes' paged Adam's", "training.optimizer: adam or adam8bit (or no paged_optimizer)",
                     "sgd", key=True)
        if "lora" in modes and not lora_given:
            self.err(where_set.get("training.mode", ("training",)), "mode lora needs the adapters' size",
                     "training.lora_rank or training.lora_fraction", None, key=True)
        if len(lora_given) == 2:
            self.err(where_set.get(lora_given[1], ("training",)), "give training.lora_rank or "
                     "training.lora_fraction, not both", "one of them", None, key=True)
        if present("training.epochs") and not present("training.dataset_tokens"):
            self.err(where_set.get("training.epochs", ("training",)), "epochs multiply training.dataset_tokens",
                     "training.dataset_tokens to go with it (or no epochs)", None, key=True)
        if present("price.provider") and present("price.usd_per_gpu_hour"):
            self.err(where_set.get("price.provider", ("price",)), "give price.provider or price.usd_per_gpu_hour, "
                     "not both", None, None, key=True)

        self.planning(fields, where_set, swept, present, values_of, resolved["model.preset"])
        self.architecture_needed(where_set, swept, present, values_of, resolved["model.preset"])
        self.context_divides(values_of, resolved["model.preset"])
        self.heads_divide(values_of, resolved["model.preset"])
        self.experts_divide(values_of, resolved["model.preset"])
        self.counts_fit_the_layout(values_of)

        # Every GPU has a peak at every precision the spec uses, and every provider a price for it.
        gpus = resolved["hardware.gpu"]
        self.gpus = gpus
        precisions = [(v, p) for v, p in values_of("training.precision") if isinstance(v, str)] or \
            [("bf16", where_set.get("hardware.gpu", ("hardware",)))]
        if only_serves:  # (serving picks its own peak: fp8's, else bf16's or fp16's; checked in serving())
            precisions = []
        for g in gpus:
            for prec, path in precisions:
                if prec not in g.peak_tflops:
                    self.err(path, f"{g.id} has no {prec} peak", "a precision with a dense peak on "
                             f"{g.id}: {', '.join(g.peak_tflops)}", prec)
        self.network_known(present, values_of, gpus, unknown)
        if outputs.serves_names(given_all):
            self.serving(fields, where_set, swept, present, values_of, resolved["model.preset"], gpus)
        self.lifetime(fields, where_set, swept, present)
        self.tp_within_domain(fields, values_of, gpus)
        if fields.get("parallelism.layout") == "auto":
            if unknown is not None:
                self.err(where_set.get("parallelism.layout", ("parallelism",)), "parallelism.layout auto cannot be "
                         "combined with solve.for: a solve keeps one layout", "layout explicit (or no solve)", "auto",
                         key=True)
            elif not present("hardware.count"):
                self.err(where_set.get("parallelism.layout", ("parallelism",)), "parallelism.layout auto needs "
                         "hardware.count: the search lays a model out on a GPU count", "a GPU count, set or swept",
                         None, key=True)
        if "parallelism.layout" in swept:
            self.err(swept["parallelism.layout"].path, "parallelism.layout cannot be swept: auto searches the "
                     "layouts of every point already", "parallelism.layout: auto (or explicit) outside the sweep",
                     None, key=True)

        # The system power basis needs the catalog's system figure of every GPU (unless watts are given).
        if not present("hardware.watts"):
            for basis, path in values_of("hardware.power_basis"):
                if isinstance(basis, str) and basis.lower() == "system":
                    lacking = [g.id for g in gpus if g.system_power_w is None]
                    if lacking:
                        having = [g.id for g in self.catalog.gpus if g.system_power_w is not None
                                  and g.origin not in self.catalog.gpus.foreign]
                        self.err(path, f"the catalog has no system power per accelerator for {', '.join(lacking)}",
                                 "a GPU with a published system power (" + (", ".join(having) or "none") +
                                 "), given watts, or the chip basis", basis)
        providers = [(v, p) for v, p in values_of("price.provider") if isinstance(v, str)]
        zipped_gpu = swept.get("hardware.gpu")
        zipped_provider = swept.get("price.provider")
        paired = zipped_gpu is not None and zipped_provider is not None and zipped_gpu.group is not None \
            and zipped_gpu.group == zipped_provider.group
        for i, (prov, path) in enumerate(providers):
            pool = [gpus[i]] if paired and i < len(gpus) else gpus
            for g in pool:
                try:
                    self.catalog.price(prov, g)
                except UnknownNameError as e:
                    self.err(path, f"no {prov!r} price for {g.id}" if e.kind != "provider" else
                             f"unknown provider {prov!r}", e.accepted, None)
                    break


    def search_space(self, fields: Mapping[str, Value], allowed: Mapping[str, tuple[Any, ...]],
                     where_set: Mapping[str, tuple[Any, ...]]) -> None:
        """Lists of allowed values are the layout search's: they need `parallelism.layout: auto`."""
        if fields.get("parallelism.layout") == "auto":
            return
        for name in allowed:
            self.err(where_set[name], f"a list of allowed values for {name} is for the layout search",
                     "one value (an explicit layout), or parallelism.layout auto to search the values listed",
                     "a list", key=False)

    def tp_within_domain(self, fields: Mapping[str, Value], values_of: Callable[[str], list[tuple[Value, tuple[Any, ...]]]],
                         gpus: list[Any]) -> None:
        """With `parallelism.tp_within_domain`, a TP the spec writes may not exceed the GPU's
        scale-up domain (given, or the catalog's); the engine checks expressions at their points."""
        flag = fields.get("parallelism.tp_within_domain")
        if not (flag is True or str(flag).lower() == "true"):
            return
        given = [float(v) for v, _ in values_of("hardware.scale_up_domain") if isinstance(v, (int, float))]
        for g in gpus:
            domain = min(given) if given else g.scale_up_domain.value if g.scale_up_domain is not None else None
            if domain is None:
                path = next((p for _, p in values_of("parallelism.tp_within_domain")), ("parallelism",))
                self.err(path, f"{g.id} has no GPUs per scale-up domain (scale_up_domain) in the catalog, which the "
                         "step-time model needs to keep TP within a domain", "hardware.scale_up_domain given", g.id)
                return
            for tp, path in values_of("parallelism.tensor"):
                if isinstance(tp, (int, float)) and not isinstance(tp, bool) and tp > domain:
                    self.err(path, f"TP {tp:g} is wider than the scale-up domain of {g.id} ({domain:g} "
                             f"GPU{'' if domain == 1 else 's'}), which "
                             "parallelism.tp_within_domain forbids",
                             f"a TP of at most {domain:g}, or TP across domains allowed", f"{tp:g}")
                    return

    def network_known(self, present: Callable[[str], bool],
                      values_of: Callable[[str], list[tuple[Value, tuple[Any, ...]]]], gpus: list[Any],
                      unknown: Any) -> None:
        """Timing a run by its layout (a GPU count and no duration) needs the GPU's interconnect:
        the catalog's figures, or the spec's."""
        searched = any(v == "auto" for v, _ in values_of("parallelism.layout"))  # (it times layouts, a duration or not)
        if unknown is not None or not present("hardware.count") or (any(present(d) for d in DURATION) and not searched):
            return
        counts = [float(v) for v, _ in values_of("hardware.count") if isinstance(v, (int, float))]
        gpu_paths = [p for _, p in values_of("hardware.gpu")] or [("hardware",)]
        path_of: dict[str, tuple[Any, ...]] = {}  # (each GPU's own place in the spec: a swept list's item)
        for v, p in values_of("hardware.gpu"):
            try:
                path_of.setdefault(self.catalog.gpu(str(v)).id, p)
            except (UnknownNameError, CatalogError):
                pass
        for g in gpus:
            needed = [("scale_up_domain", "GPUs per scale-up domain"), ("scale_up_gb_per_s", "scale-up bandwidth")]
            domain = g.scale_up_domain.value if g.scale_up_domain is not None else None
            given_domains = [float(v) for v, _ in values_of("hardware.scale_up_domain") if isinstance(v, (int, float))]
            if present("hardware.scale_up_domain"):  # (the spec's domain, the smallest of a sweep's)
                domain = min(given_domains) if given_domains else None
            if domain is None or not counts or max(counts) > domain:
                needed.append(("scale_out_gbps", "scale-out bandwidth"))
            lacking = [(k, what) for k, what in needed if getattr(g, k) is None and not present(f"hardware.{k}")]
            if g.bandwidth_tbps is None:
                lacking.append(("bandwidth_tbps", "HBM bandwidth (a catalog entry's bandwidth_tbps)"))
            if lacking:
                names = ", ".join(f"{what} ({k})" for k, what in lacking)
                self.err(path_of.get(g.id, gpu_paths[0]), f"{g.id} has no {names} in the catalog, which the step-time "
                         "model needs to "
                         "time a run from its layout", "hardware." + lacking[0][0] + " given" + (
                             " (the layout search times every layout, a duration given or not)" if searched else
                             ", or hardware.mfu, gpu_hours or wall_clock_days"), g.id)

    # What needs architecture fields (rust/model/flops.rs and estimate.rs say the same at a point).
    def serving(self, fields: Mapping[str, Value], where_set: Mapping[str, tuple[Any, ...]],
                swept: Mapping[str, Axis], present: Callable[[str], bool],
                values_of: Callable[[str], list[tuple[Value, tuple[Any, ...]]]], presets: list[Any],
                gpus: list[Any]) -> None:
        """The serving section's rules. What a fixed value makes impossible is an error here; a
        swept value that the engine cannot serve (a TP that does not divide the heads, one wider
        than the scale-up domain, fp8 on a GPU without an fp8 peak) is a row with fits false."""
        section = where_set.get("serving.input_tokens") or where_set.get("serving.output_tokens") or \
            next((p for n, p in where_set.items() if n.startswith("serving.")), ("serving",))
        missing = [n for n in ("serving.input_tokens", "serving.output_tokens") if not present(n)]
        if missing:
            self.err(("serving",) if "serving" in (self.doc.data or {}) else section,
                     f"give {' and '.join(missing)}: the tokens of a request's prompt and of its output",
                     "a number of tokens, set or swept", None, key=True)
        if not present("hardware.gpu"):
            self.err(("serving",) if "serving" in (self.doc.data or {}) else section,
                     "serving needs hardware.gpu: a replica runs on a GPU", "a GPU from the catalog, set or swept",
                     None, key=True)
        if present("model.preset") and not presets:
            return  # (an unknown preset is reported)

        def fixed(name: str) -> tuple[Any, tuple[Any, ...]] | None:
            v = fields.get(name)
            return (v, where_set[name]) if isinstance(v, (int, float, str)) and name not in swept else None

        # The architecture: the KV cache and attention need the layers, the heads and their width.
        given = {a for a in registry.ARCHITECTURE if present(f"model.architecture.{a}")}
        for m in presets or [None]:
            have = given | ({k for k, v in m.architecture.items() if v} if m else set())
            lacking = [a for a in ("layers", "heads") if a not in have]
            if "head_dim" not in have and "d_model" not in have:
                lacking.append("d_model (or head_dim)")
            if "d_model" not in have and "head_dim" in have:
                lacking.append("d_model")
            if lacking:
                of = f"preset {m.id} does not give" if m else "the model does not give"
                self.err(where_set.get("model.preset") or where_set.get("model.params") or ("model",),
                         f"serving (the KV cache and attention) needs architecture field"
                         f"{'s' if len(lacking) > 1 else ''} {', '.join(lacking)}, which {of}",
                         "a model preset with an architecture, or model.architecture fields", None, key=True)
                return
        # A served model's shape must be one: whole heads of a whole width, KV heads grouping the
        # query heads, no more parameters active than there are.
        def number(name: str, m: Any) -> tuple[float | None, tuple[Any, ...]]:
            v = fields.get(name)
            if isinstance(v, (int, float)) and name not in swept:
                return float(v), where_set[name]
            if name in swept or isinstance(v, expr.Expr) or m is None:
                return None, where_set.get(name, ("model",))
            key = name.rsplit(".", 1)[1]
            if key == "active_params" and present("model.params"):  # (params given: active follows them)
                return number("model.params", m)
            got = m.architecture.get(key) if name.startswith("model.architecture.") else \
                (m.params if key == "params" else (m.active_params or m.params))
            return (float(got) if got else None), where_set.get(name) or where_set.get("model.preset", ("model",))
        for m in presets or [None]:
            h, hp = number("model.architecture.heads", m)
            kv, kp = number("model.architecture.kv_heads", m)
            d, _ = number("model.architecture.d_model", m)
            q, _ = number("model.architecture.head_dim", m)
            if h and kv and (kv > h or (h / kv) % 1):
                self.err(kp, f"kv_heads {kv:g} does not divide the {h:g} heads: each KV head serves a group "
                         "of query heads", "a divisor of the heads", f"{kv:g}")
            elif h and d and not q and (d / h) % 1:
                self.err(hp, f"heads {h:g} does not divide d_model {d:g}: give head_dim, or heads of a whole "
                         "width", "a divisor of d_model (or model.architecture.head_dim)", f"{h:g}")
            n, _ = number("model.params", m)
            active, ap = number("model.active_params", m)
            if n and active and active > n:
                self.err(ap, f"active_params {active:g} is above params {n:g}: the parameters used per token are "
                         "some of the model's", f"at most {n:g}", f"{active:g}")
        def counts(key: str) -> list[float]:  # (an architecture count given, else the presets')
            return [float(v) for v, _ in values_of(f"model.architecture.{key}") if isinstance(v, (int, float))] or \
                [float(m.architecture[key]) for m in presets if m.architecture.get(key)]

        def network(g: Any, attr: str) -> Any:  # (a hardware figure given, else the GPU's catalog one)
            return fields.get(f"hardware.{attr}", f.value if (f := getattr(g, attr)) is not None else None)

        tp = fixed("serving.tensor")
        if tp is not None and isinstance(tp[0], (int, float)) and tp[0] >= 1:
            t, path = float(tp[0]), tp[1]
            bad = next((h for h in counts("heads") if (h / t) % 1), None)
            if bad is not None:
                self.err(path, f"serving tensor_parallel {t:g} does not divide the {bad:g} heads: each rank holds "
                         "whole heads", "a divisor of the heads", f"{t:g}")
            if t > 1 and "hardware.gpu" not in swept:
                for g in gpus:
                    domain, link = network(g, "scale_up_domain"), network(g, "scale_up_gb_per_s")
                    if domain is None or link is None:
                        self.err(path, f"{g.id} has no scale-up domain or bandwidth in the catalog, which serving "
                                 "with TP > 1 needs", "hardware.scale_up_domain and hardware.scale_up_gb_per_s, or "
                                 "TP 1", f"{t:g}")
                    elif isinstance(domain, (int, float)) and t > float(domain):
                        self.err(path, f"serving tensor_parallel {t:g} is wider than the scale-up domain of "
                                 f"{g.id} ({float(domain):g} GPUs): its all-reduces would cross the scale-out network",
                                 f"at most {float(domain):g}", f"{t:g}")
        pp = fixed("serving.pipeline")
        if pp is not None and isinstance(pp[0], (int, float)) and pp[0] > 1:
            stages, path = float(pp[0]), pp[1]
            bad = next((n for n in counts("layers") if (n / stages) % 1), None)
            if bad is not None:
                self.err(path, f"serving pipeline_parallel {stages:g} does not divide the {bad:g} layers: each stage "
                         "holds whole layers", "a divisor of the layers", f"{stages:g}")
            t = float(tp[0]) if tp is not None and isinstance(tp[0], (int, float)) else 1.0
            ep_fixed = fixed("serving.expert")
            if ep_fixed is not None and isinstance(ep_fixed[0], (int, float)):
                t = max(t, float(ep_fixed[0]))  # (wide EP: the replica's stages span EP GPUs)
            for g in gpus if "hardware.gpu" not in swept else []:
                domain, out = network(g, "scale_up_domain"), network(g, "scale_out_gbps")
                link = network(g, "scale_up_gb_per_s")
                within = isinstance(domain, (int, float)) and t * stages <= float(domain) and link is not None
                if out is None and not within:
                    self.err(path, f"{g.id} has no scale-out bandwidth in the catalog, which serving with pipeline "
                             "stages beyond its scale-up domain needs", "hardware.scale_out_gbps, or TP × PP within "
                             "the domain", f"{stages:g}")
        self.experts_divide(values_of, presets, "serving.expert")
        ep = fixed("serving.expert")
        if ep is not None and isinstance(ep[0], (int, float)) and ep[0] > 1:
            e, path = float(ep[0]), ep[1]
            t = float(tp[0]) if tp is not None and isinstance(tp[0], (int, float)) else 1.0
            if (t / e) % 1 and (e / t) % 1:
                self.err(path, f"serving expert_parallel {e:g} does not divide tensor_parallel {t:g} nor is a "
                         "multiple of it: the experts split over the TP GPUs, or over EP/TP attention groups of TP "
                         "GPUs", f"a divisor or a multiple of {t:g}", f"{e:g}")
            for g in gpus if e > t and "hardware.gpu" not in swept else []:
                domain, out = network(g, "scale_up_domain"), network(g, "scale_out_gbps")
                link = network(g, "scale_up_gb_per_s")
                if out is None and not (isinstance(domain, (int, float)) and e <= float(domain) and link is not None):
                    self.err(path, f"{g.id} has no scale-out bandwidth in the catalog, which serving with expert "
                             "all-to-alls beyond its scale-up domain needs", "hardware.scale_out_gbps, or EP within "
                             "the domain", f"{e:g}")
        if "hardware.gpu" not in swept:
            for g in gpus:
                if g.bandwidth_tbps is None or g.memory_gb is None:
                    self.err(where_set.get("hardware.gpu", ("hardware",)), f"{g.id} has no HBM bandwidth or memory "
                             "in the catalog, which serving needs", "a GPU with both figures", g.id)
                w, a = fixed("serving.weights"), fixed("serving.activations")
                weights = str(w[0]).lower() if w is not None else None
                act = str(a[0]).lower() if a is not None else "auto"
                gemm = act if act != "auto" else ("fp8" if weights == "fp8" else "bf16")
                if not ({"bf16", "fp16"} & set(g.peak_tflops)) and gemm != "fp8":
                    self.err(where_set.get("hardware.gpu", ("hardware",)), f"{g.id} has no 16-bit peak",
                             "a GPU with a bf16 or fp16 dense peak (serving's GEMMs but fp8's)", g.id)
                # (fp8 GEMMs come from activations fp8, or auto with fp8 weights: the input that chose them)
                chose = a if a is not None and act == "fp8" else w
                if gemm == "fp8" and "fp8" not in g.peak_tflops and chose is not None:
                    self.err(chose[1], f"{g.id} has no fp8 peak", "a precision with a dense peak on "
                             f"{g.id}: {', '.join(g.peak_tflops)} (int8 and int4 are weight-only: 16-bit GEMMs)",
                             "fp8")
            a = fixed("serving.activations")
            w = fixed("serving.weights")
            # (weights swept: the bf16 ones are rows with fits false; not given: bf16, the default)
            unset = w is None and not present("serving.weights")
            if a is not None and str(a[0]).lower() == "fp8" and (unset or (w is not None and str(w[0]).lower() == "bf16")):
                self.err(a[1], "serving activations fp8 need weights of at most 8 bits: fp8 GEMMs take 8-bit "
                         "weights (fp8, or int8/int4 converted to fp8)", "weights fp8, int8 or int4, or activations "
                         "auto or bf16", "fp8")
        b, cap = fixed("serving.batch"), fixed("serving.max_batch")
        if b is not None and cap is not None and isinstance(b[0], (int, float)) and isinstance(cap[0], (int, float)) \
                and float(b[0]) > float(cap[0]):
            self.err(b[1], f"serving.batch {float(b[0]):g} is above the server's batch limit (serving.max_batch "
                     f"{float(cap[0]):g})", f"at most {float(cap[0]):g}", f"{float(b[0]):g}")

    def lifetime(self, fields: Mapping[str, Value], where_set: Mapping[str, tuple[Any, ...]],
                 swept: Mapping[str, Axis], present: Callable[[str], bool]) -> None:
        """The lifetime section: tokens served, or requests per day over days of a serving section's
        requests; a compute-optimal model for it needs a fit with a loss."""
        def at(name: str) -> tuple[Any, ...]:
            return where_set.get(name) or (swept[name].path if name in swept else ("lifetime",))

        if present("lifetime.tokens_served") and present("lifetime.requests_per_day"):
            self.err(at("lifetime.requests_per_day"), "give lifetime.tokens_served or lifetime.requests_per_day, "
                     "not both", "one of them", None, key=True)
        elif present("lifetime.requests_per_day") and not present("lifetime.days"):
            self.err(at("lifetime.requests_per_day"), "give lifetime.days: requests_per_day are served over days",
                     "a number of days", None, key=True)
        elif present("lifetime.days") and not present("lifetime.requests_per_day"):
            self.err(at("lifetime.days"), "give lifetime.requests_per_day to go with lifetime.days",
                     "requests per day (or tokens_served without days)", None, key=True)
        elif present("lifetime.requests_per_day") and not (present("serving.input_tokens")
                                                           and present("serving.output_tokens")):
            self.err(at("lifetime.requests_per_day"), "give serving.input_tokens and serving.output_tokens: "
                     "lifetime.requests_per_day counts requests of that many tokens", "a serving section", None,
                     key=True)
        fit = fields.get("scaling.fit")
        if fit == scaling.RULE and any(present(n) for n in registry.FIELDS if n.startswith("lifetime.")):
            self.err(where_set.get("scaling.fit", ("scaling",)), "a lifetime's compute-optimal model reaches the "
                     "loss of the budget's, which the tokens-per-param rule does not give", "a parametric fit "
                     "(hoffmann2022, besiroglu2024)", str(fit))

    NEEDS_ARCHITECTURE = (
        ("training.convention", "palm", "convention 'palm'", ("layers", "heads", "seq_len"), True),
        ("training.convention", "megatron", "convention 'megatron'",
         ("layers", "d_model", "heads", "ffn_dim", "vocab", "seq_len"), True),
        ("training.recompute", "selective", "recompute 'selective'", ("layers", "heads", "seq_len"), True),
        ("training.lora_rank", None, "LoRA by rank", ("layers", "d_model", "heads"), False),
    )

    def architecture_needed(self, where_set: Mapping[str, tuple[Any, ...]], swept: Mapping[str, Axis],
                            present: Callable[[str], bool],
                            values_of: Callable[[str], list[tuple[Value, tuple[Any, ...]]]], presets: list[Any]) -> None:
        """A FLOPs count, recomputation or LoRA rank that needs architecture fields the model does
        not give (neither its preset nor model.architecture): located at the choice that needs them."""
        if present("model.preset") and not presets:
            return  # (an unknown preset is reported)
        given = {a for a in registry.ARCHITECTURE if present(f"model.architecture.{a}")}
        shapes = [(m.id, given | {k for k, v in m.architecture.items() if v}) for m in presets] or [(None, given)]
        for name, value, what, needed, head_dim in self.NEEDS_ARCHITECTURE:
            if not present(name):
                continue
            hits = [p for v, p in values_of(name) if value is None or v == value] if value is not None else \
                [where_set.get(name) or (swept[name].path if name in swept else (name.split(".")[0],))]
            if not hits:
                continue
            for preset, have in shapes:
                missing = [f for f in needed if f not in have]
                if head_dim and "head_dim" not in have and "d_model" not in have:
                    missing.append("head_dim (or d_model)")
                if missing:
                    of = f"preset {preset} does not give" if preset else "the model does not give"
                    self.err(hits[0], f"{what} needs architecture field{'s' if len(missing) > 1 else ''} "
                             f"{', '.join(missing)}, which {of}", "a model preset with an architecture, or "
                             "model.architecture fields", None, key=value is None)
                    break

    def context_divides(self, values_of: Callable[[str], list[tuple[Value, tuple[Any, ...]]]],
                        presets: list[Any]) -> None:
        """Each context-parallel rank holds an equal part of the sequence (the engine refuses the
        point otherwise): CP divides every sequence length the spec gives or its presets have."""
        lengths = [float(v) for v, _ in values_of("model.architecture.seq_len") if isinstance(v, (int, float))] or \
            [float(m.architecture.get("seq_len") or 2048) for m in presets] or [2048.0]  # (the shape rule's)
        for cp, path in values_of("parallelism.context"):
            if not isinstance(cp, (int, float)) or cp < 1:
                continue
            bad = next((n for n in lengths if (n / cp) % 1), None)
            if bad is not None:
                self.err(path, f"context_parallel {cp:g} does not divide the sequence length {bad:g}: each rank "
                         "holds an equal part", "a divisor of the sequence length", f"{cp:g}")

    def heads_divide(self, values_of: Callable[[str], list[tuple[Value, tuple[Any, ...]]]],
                     presets: list[Any]) -> None:
        """Tensor parallelism splits whole heads (the engine refuses the point otherwise): TP divides
        the heads and the KV heads (or the KV heads divide it), for every head count the spec gives
        or its presets have (none: the shape rule, which has no whole heads to split)."""
        def counts(name: str) -> list[float]:
            return [float(v) for v, _ in values_of(f"model.architecture.{name}") if isinstance(v, (int, float))]
        shapes = [(h, h) for h in counts("heads")] if counts("heads") else \
            [(float(m.architecture["heads"]), float(m.architecture.get("kv_heads") or m.architecture["heads"]))
             for m in presets if m.architecture.get("heads")]
        kvs = counts("kv_heads")
        if kvs:
            shapes = [(h, kv) for h, _ in shapes for kv in kvs]
        for t, path in values_of("parallelism.tensor"):
            if not isinstance(t, (int, float)) or t < 1:
                continue
            bad = next(((h, kv) for h, kv in shapes if (h / t) % 1 or ((kv / t) % 1 and (t / kv) % 1)), None)
            if bad is not None:
                self.err(path, f"tensor_parallel {t:g} does not divide the {bad[0]:g} heads ({bad[1]:g} KV heads): "
                         "each rank holds whole heads", "a divisor of the heads that divides the KV heads or that "
                         "they divide", f"{t:g}")

    def experts_divide(self, values_of: Callable[[str], list[tuple[Value, tuple[Any, ...]]]],
                       presets: list[Any], field: str = "parallelism.expert") -> None:
        """Each expert-parallel rank holds an equal share of the routed experts (the engine refuses
        the point otherwise): EP divides the experts the spec gives or its presets have, and a model
        without routed experts has EP 1 (training's `parallelism.expert`, serving's `serving.expert`)."""
        name = "serving expert_parallel" if field == "serving.expert" else "expert_parallel"
        counts = [float(v) for v, _ in values_of("model.architecture.experts") if isinstance(v, (int, float))] or \
            [float(m.architecture.get("experts") or 0) for m in presets] or [0.0]

        def routed(m: Any) -> bool:  # whether some parameters are in routed experts (the engine's share > 0)
            def given(name: str) -> float | None:
                vals = [v for v, _ in values_of(name) if isinstance(v, (int, float))]
                return float(vals[0]) if vals else None
            params = given("model.params") if given("model.params") is not None else (m.params if m else None)
            active = given("model.active_params")
            if active is None:
                active = m.active_params if m is not None and given("model.params") is None and m.active_params \
                    else params
            e = given("model.architecture.experts") or (m.architecture.get("experts") if m else None) or 1
            k = given("model.architecture.experts_per_token") or \
                (m.architecture.get("experts_per_token") if m else None) or 1
            return params is not None and active is not None and active < params and e > k

        for ep, path in values_of(field):
            if not isinstance(ep, (int, float)) or ep <= 1:
                continue
            bad = next((n for n in counts if n <= 1 or (n / ep) % 1), None)
            if bad is not None:
                what = f"the experts ({bad:g})" if bad > 1 else "a model without routed experts (architecture.experts)"
                self.err(path, f"{name} {ep:g} does not divide {what}: each rank holds an equal share",
                         "a divisor of the routed experts", f"{ep:g}")
            elif not all(routed(m) for m in (presets or [None])):
                self.err(path, f"{name} {ep:g} does not divide any parameters: none are in routed experts "
                         "(active_params must be below params, experts_per_token below experts)", "1", f"{ep:g}")

    def counts_fit_the_layout(self, values_of: Callable[[str], list[tuple[Value, tuple[Any, ...]]]]) -> None:
        """A GPU count is a whole multiple of TP·PP·lcm(CP, EP) (the engine refuses the point
        otherwise): checked for the values the spec writes (every combination, when there are at
        most 10,000)."""
        import itertools
        import math as _m

        names = ("hardware.count", "parallelism.tensor", "parallelism.pipeline", "parallelism.context",
                 "parallelism.expert")
        options: list[list[tuple[Any, Any]]] = []
        for name in names:
            vals: list[tuple[Any, Any]] = [(v, p) for v, p in values_of(name) if isinstance(v, (int, float))]
            if name == "hardware.count" and not vals:
                return
            options.append(vals or [(1, None)])
        if _m.prod(len(o) for o in options) > 10_000:
            return
        for (g, gpath), (tp, _), (pp, _), (cp, _), (ep, _) in itertools.product(*options):
            if not all(float(x).is_integer() and x >= 1 for x in (g, tp, pp, cp, ep)):
                continue  # (reported as counts that are not whole)
            unit = int(tp) * int(pp) * _m.lcm(int(cp), int(ep))
            if int(g) % unit:
                what = "tensor × pipeline parallel" + (" × lcm(context, expert parallel)" if cp > 1 or ep > 1 else "")
                self.err(gpath, "out of range", f"a multiple of {what} ({unit})", f"{g:g}")  # (the engine's words)
                return

    def planning(self, fields: dict[str, Value], where_set: Mapping[str, tuple[Any, ...]],
                 swept: Mapping[str, Axis], present: Callable[[str], bool],
                 values_of: Callable[[str], list[tuple[Value, tuple[Any, ...]]]], presets: list[Any]) -> None:
        """`solve` and `scaling`: what they need, and what they may not be given with."""
        def at(name: str, default: tuple[Any, ...]) -> tuple[Any, ...]:
            if name in where_set:
                return where_set[name]
            if name in swept:
                return swept[name].path
            return default

        has_price = present("price.usd_per_gpu_hour") or present("price.provider")
        allocates = [n for n in ("scaling.compute_flops", "scaling.budget_usd") if present(n)]
        for name in ("solve.for", "scaling.fit"):
            if name in swept:
                self.err(at(name, ("sweep",)), f"{name} cannot be swept", "one value, set in its section", None,
                         key=True)
        unknown = str(fields["solve.for"]) if isinstance(fields.get("solve.for"), str) else None
        targets = [t for t in SOLVE_TARGETS if present(f"solve.{t}")]
        if isinstance(self.doc.data.get("solve"), dict) and unknown is not None:
            spath = at("solve.for", ("solve",))
            if not targets:
                self.err(("solve",), "nothing to solve for", "a target: solve.cost_usd, wall_clock_days, "
                         "gpu_hours, model_flops or energy_kwh", None, key=True)
            clash = [unknown] + (["training.dataset_tokens"] if unknown == "training.tokens" else []) + \
                (["model.active_params"] if unknown == "model.params" else [])
            for name in clash:
                if present(name):
                    self.err(at(name, ("solve",)), f"{name} is given, but solve.for {unknown} solves for it",
                             "one of the two", None, key=True)
            if unknown == "hardware.count" and present("hardware.wall_clock_days"):
                self.err(at("hardware.wall_clock_days", ("hardware",)), "a published wall clock with an unknown GPU "
                         "count fixes nothing", "hardware.mfu to solve for the GPU count", None, key=True)
            if unknown in ("training.tokens", "model.params") and allocates:
                self.err(at(allocates[0], ("scaling",)), f"{allocates[0]} sets {unknown}, which solve.for also "
                         "solves for", "one of the two", None, key=True)
            if unknown == "model.params":
                if any(v == "megatron" for v, _ in values_of("training.convention")):
                    self.err(spath, "no unique answer: under the megatron convention the FLOPs come from the "
                             "architecture, not model.params", "the 6nd or palm convention", "megatron")
                for m in presets:
                    if m.active_params and m.active_params != m.params:
                        self.err(spath, f"solving for model.params needs a dense model; {m.id} is a mixture of "
                                 "experts", "a dense model preset, or none", m.id)
            # Which targets move with the unknown (solver.py: the affine forms).
            from costspec.solver import moves

            duration = next((d for d in DURATION if present(d)), "hardware.mfu")
            short = next((k for k, v in SOLVE_UNKNOWNS.items() if v == unknown), None)
            # (megatron has its own message above)
            if short and targets and not any(moves(short, t, duration.split(".")[1]) for t in targets):
                why = {"hardware.count": "only the wall clock depends on the GPU count: give solve.wall_clock_days",
                       "hardware.mfu": "the FLOPs do not depend on the MFU: give a budget, deadline or GPU-hours"}.get(
                    unknown, f"{duration} fixes the GPU-hours: give hardware.mfu, or solve.model_flops")
                self.err(spath, f"no unique answer: none of the targets ({', '.join(targets)}) depends on "
                         f"{unknown}", why, ", ".join(targets))
            timed = present("hardware.gpu") and (unknown == "hardware.mfu" or any(present(d) for d in DURATION))
            for t in targets:
                if t != "model_flops" and not timed:
                    self.err(at(f"solve.{t}", ("solve",)), f"solve.{t} needs the run's duration",
                             ("" if present("hardware.gpu") else "hardware.gpu and ") + "one of hardware.mfu, "
                             "gpu_hours, wall_clock_days (or solve.for: hardware.mfu)", None, key=True)
            if "cost_usd" in targets and fields.get("price.usd_per_gpu_hour") == 0:
                self.err(at("price.usd_per_gpu_hour", ("price",)), "a budget at a price of 0 fixes nothing (the run "
                         "costs nothing at any size)", "a price > 0, or another target", "0", key=True)
            if "cost_usd" in targets and not has_price:
                self.err(at("solve.cost_usd", ("solve",)), "a budget needs a price", "price.usd_per_gpu_hour or "
                         "price.provider", None, key=True)
            if "wall_clock_days" in targets and unknown != "hardware.count" and not present("hardware.count"):
                self.err(at("solve.wall_clock_days", ("solve",)), "a deadline needs a GPU count",
                         "hardware.count, or solve.for: hardware.count", None, key=True)
            for name, v in fields.items():
                if isinstance(v, expr.Expr) and not name.startswith(("solve.", "scaling.")) \
                        and any(n.name == unknown for n in v.names):
                    self.err(where_set[name], f"{name} depends on {unknown}, which is solved for",
                             "an expression that does not use the unknown", v.text)

        if isinstance(self.doc.data.get("scaling"), dict):
            fit = fields.get("scaling.fit")
            if present("scaling.tokens_per_param") and fit != scaling.RULE:
                self.err(at("scaling.tokens_per_param", ("scaling",)), "tokens_per_param belongs to the "
                         f"{scaling.RULE} fit", f"scaling.fit: {scaling.RULE}", str(fit), key=True)
            if len(allocates) > 1:
                self.err(at(allocates[1], ("scaling",)), "give scaling.compute_flops or scaling.budget_usd, not both",
                         "one budget", None, key=True)
            if fit == scaling.RULE and not allocates:
                self.err(at("scaling.fit", ("scaling",)), "the tokens-per-param rule allocates a budget",
                         "scaling.compute_flops or scaling.budget_usd", None)
            if allocates:
                for name in ("model.params", "model.active_params", "training.tokens", "training.dataset_tokens"):
                    if present(name):
                        self.err(at(name, ("scaling",)), f"{name} is given, but {allocates[0]} chooses the "
                                 "compute-optimal params and tokens", "one of the two", None, key=True)
                for m in presets:
                    if m.active_params and m.active_params != m.params:
                        self.err(at("model.preset", ("model",)), f"compute-optimal scaling is for dense models; "
                                 f"{m.id} is a mixture of experts", "a dense model preset, or none", m.id)
            if "scaling.budget_usd" in allocates:
                if not present("hardware.mfu"):
                    self.err(at("scaling.budget_usd", ("scaling",)), "a dollar budget buys FLOPs at an MFU",
                             "hardware.mfu", None, key=True)
                if not has_price:
                    self.err(at("scaling.budget_usd", ("scaling",)), "a dollar budget needs a price",
                             "price.usd_per_gpu_hour or price.provider", None, key=True)


def _analyse(doc: Document, base: Path, allow_outside: bool = False,
             catalog: Catalog | None = None) -> tuple[Spec | None, list[SpecError]]:
    c = _Checker(doc, base, allow_outside, catalog)
    try:
        spec = c.run()
    except RecursionError:
        c.err((), "the spec is nested too deeply")
        spec = None
    errors = _dedupe(c.errors)
    return (None if errors else spec), errors


def _dedupe(errors: list[SpecError]) -> list[SpecError]:
    seen: set[tuple[int, int, str]] = set()
    out = []
    for e in sorted(errors, key=lambda e: (e.line, e.column)):
        k = (e.line, e.column, e.path)  # one error per spot: the schema's, which comes first
        if k not in seen:
            seen.add(k)
            out.append(e)
    return out


def of_keywords(doc: Document, catalog: Catalog) -> Spec:
    """The checked one-point spec of estimate()'s keywords (``doc``: their values under spec
    paths, its flags naming the keyword of each): the rules every spec meets, without the JSON
    Schema pass. Raises SpecError naming the keyword."""
    spec, errors = _analyse(doc, Path.cwd(), catalog=catalog)
    if errors:
        errors[0].errors = errors
        raise errors[0]
    assert spec is not None
    return spec
