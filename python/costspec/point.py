"""One point through the one evaluation path: the spec compiled to a one-point plan
(``compile_spec(point=True)``), run by the engine into plain buffers (no pyarrow), and its row
read back. ``costspec estimate`` (flags or ``--spec``), ``costspec.estimate()`` and
``costspec.solve()`` all end here; a sweep runs the same plan over many points.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from costspec import fields as registry
from costspec.errors import CostspecError, SpecError
from costspec.spec import FIELDS, Spec, Value

if TYPE_CHECKING:
    from costspec.estimator import Estimate
    from costspec.plan import Plan
    from costspec.solver import Solution

KWARG_TO_FIELD = {info.keyword: name for name, info in FIELDS.items()}
# "division by zero in x = '1 / (ratio - 20)'": the name an expression error is about.
_EXPRESSION = re.compile(r" in (where\[\d+\]|[A-Za-z_][\w.]*) = '")
# "mfu: got 2, expected ...": the input a model error is about.
_FIELD = re.compile(r"^([A-Za-z_][\w.]*): ")


class PointFailed(CostspecError):
    """The engine could not evaluate the point: ``field`` names the input (an estimate() keyword,
    a derived name or ``where[i]``) when the message says which."""

    def __init__(self, message: str, field: str | None) -> None:
        super().__init__(message)
        self.field = field


def run(plan: Plan) -> dict[str, Any]:
    """The one point of ``plan`` (compiled with ``point=True``) as {output: value}: None for no
    value, names for categorical columns, ints for whole numbers, bools for flags."""
    from costspec import _native

    try:
        native = _native.Plan(plan.to_json())
    except ValueError as e:
        raise CostspecError(f"the engine refused the plan: {e}") from None
    buffers = [bytearray(64) for _ in plan.columns]  # 8 rows of 8 bytes: the engine's smallest region
    try:
        native.evaluate(0, 1, 8, 1, buffers)
    except _native.SweepError as e:
        message = str(e.args[0]) if e.args else str(e)
        m = _EXPRESSION.search(message) or _FIELD.match(message)
        raise PointFailed(message, m.group(1) if m else None) from None
    row: dict[str, Any] = {}
    for col, buf in zip(plan.columns, buffers):
        v = memoryview(buf).cast("d")[0]
        if v != v:
            row[col.name] = None
        elif col.kind == "i32":
            row[col.name] = col.dictionary[int(v)] if 0 <= v < len(col.dictionary) else None
        elif col.kind == "i64":
            row[col.name] = int(v)
        elif col.kind == "bool":
            row[col.name] = v != 0.0
        else:
            row[col.name] = v
    return row


@dataclass(frozen=True)
class PointResult:
    estimate: Estimate
    derived: dict[str, Any]
    kept: bool | None  # None when the spec has no where
    planning: dict[str, Any] = field(default_factory=dict)  # compute_flops, loss (scaling)
    solution: Solution | None = None

    def to_dict(self) -> dict[str, Any]:
        d = self.estimate.to_dict()
        d.update(self.planning)
        d.update(self.derived)
        if self.kept is not None:
            d["where"] = self.kept
        return d


def located(spec: Spec, name: str | None, message: str) -> SpecError:
    """``message`` at the spec field (or derived name, or where condition) ``name`` is about."""
    name = KWARG_TO_FIELD.get(name or "", name or "")
    if name in spec.derive:
        return spec.document.error(("derive", name), message)
    m = re.fullmatch(r"where\[(\d+)\]", name)
    if m:
        return spec.document.error(("where", int(m.group(1))), message)
    if name not in FIELDS:
        path: tuple[Any, ...] = ("training", "convention")
        if "training" not in (spec.document.data or {}):
            path = ("model",)
        return spec.document.error(path, message)
    return spec.document.error(field_path(spec, name), message)


def field_path(spec: Spec, name: str) -> tuple[Any, ...]:
    """Where a field is in the spec: its own key, its sweep axis, or its section."""
    return next((a.path for a in spec.sweep.axes if a.name == name), tuple(name.split(".")))


def values(spec: Spec) -> dict[str, Value]:
    """The one point's inputs as written: fixed fields and one-value axes."""
    out: dict[str, Value] = dict(spec.fields)
    for a in spec.sweep.axes:
        out[a.name] = a.value_at(0)
    return out


def evaluate(spec: Spec) -> PointResult:
    """Run a one-point spec through the engine. Raises SpecError located at the offending field,
    or at solve.* when a solved value has no answer (with why)."""
    from costspec import estimator
    from costspec.plan import compile_spec

    if spec.points != 1:
        raise spec.document.error(("sweep",), f"this spec sweeps {spec.points:,} points; estimate takes one point",
                                  "a spec without a sweep (or with one value per axis)", key=True)
    plan = compile_spec(spec, point=True)
    try:
        row = run(plan)
    except PointFailed as e:
        raise located(spec, e.field, str(e)) from None
    given = values(spec)
    unknown = given.get("solve.for")
    short = None if unknown is None else next(k for k, v in registry.SOLVE_FOR.items() if v == unknown)
    estimate = estimator.from_row(row, estimator.Provenance.of_spec(spec, given, solved=short))
    solved = None
    if short is not None:
        from costspec.solver import SOLVED_COLUMN, SolveError, explain, solution

        targets = {t: row[f"target:{t}"] for t in registry.SOLVE_TARGETS if f"target:{t}" in row}
        ok = all(row[c.name] for c in plan.columns if c.name.startswith("check[")) and \
            row.get(SOLVED_COLUMN[short]) is not None
        try:
            if not ok:
                raise explain(short, targets, row, estimate)
            solved = solution(short, targets, row, estimate)
        except SolveError as e:
            raise spec.document.error(field_path(spec, e.field), str(e)) from None
    planning = {k: row[k] for k in ("compute_flops", "loss") if row.get(k) is not None}
    derived = {k: row[k] for k in spec.derive}
    kept = None
    if spec.where:
        kept = all(row[f"where[{i}]"] for i in range(len(spec.where)))
    return PointResult(estimate, derived, kept, planning, solved)

