"""The report's charts: which a sweep's columns allow, the rows each one plots (aggregated in
numpy: a page never embeds a million points), and its Vega-Lite specification.

Every chart plots whole rows of the output (the row that attains a group's minimum, a front's
points), so a tooltip shows the full row behind a point."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from costspec.report.source import Results

CAP = 4000  # rows one chart plots at most (the page says when a chart hit it)
SIZES = 6  # model sizes drawn as lines in the GPU-count chart
WIDTH, HEIGHT = 520, 300

LABELS = {
    "params": "model size",
    "cost_usd": "training cost",
    "wall_clock_days": "wall clock",
    "gpus": "GPUs",
    "memory_gb_per_gpu": "memory per GPU",
    "mfu": "MFU",
    "compute_flops": "compute",
    "tokens": "training tokens",
    "usd_per_m_tokens_served": "price per million tokens",
    "tpot_s": "time per output token",
    "gpu": "accelerator",
}


@dataclass
class Chart:
    """One drawn chart: its rows (indices into the output) and per-row extras, and a Vega-Lite
    spec without data (the page or the exporter puts the rows in)."""

    name: str
    title: str
    rows: np.ndarray  # indices into the output table
    spec: dict[str, Any]
    extra: dict[str, list[Any]] = field(default_factory=dict)  # columns computed for the chart, per row
    layers: list[dict[str, Any]] = field(default_factory=list)  # extra datasets (capacity rules)
    note: str = ""  # said under the chart (an aggregation, a cap)


@dataclass(frozen=True)
class Kind:
    """A chart the report knows: the columns it needs, and how it is made."""

    name: str
    title: str
    needs: tuple[str, ...]
    make: Callable[[Results, "Frame"], Chart | None]
    about: str


class Frame:
    """The output's columns as numpy arrays (numbers as float64, categories as codes), read once."""

    def __init__(self, table: pa.Table, cap: int = CAP) -> None:
        self.table = table
        self.n = table.num_rows
        self.cap = cap  # rows one chart plots at most
        self._num: dict[str, np.ndarray] = {}
        self._codes: dict[str, tuple[np.ndarray, list[str]]] = {}

    def has(self, name: str) -> bool:
        return name in self.table.column_names

    def num(self, name: str) -> np.ndarray:
        """A numeric column as float64, NaN where null (booleans as 0/1)."""
        if name not in self._num:
            col = self.table.column(name)
            if pa.types.is_boolean(col.type):
                col = pc.cast(col, pa.int8())
            if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
                raise TypeError(name)
            arr = pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False)
            self._num[name] = np.asarray(arr, dtype=np.float64)
        return self._num[name]

    def is_numeric(self, name: str) -> bool:
        t = self.table.column(name).type
        return bool(pa.types.is_integer(t) or pa.types.is_floating(t))

    def codes(self, name: str) -> tuple[np.ndarray, list[str]]:
        """A categorical column as integer codes (−1 where null) and the names they stand for,
        in order of first appearance."""
        if name not in self._codes:
            col = self.table.column(name)
            if not pa.types.is_dictionary(col.type):
                col = pc.dictionary_encode(col)
            col = col.unify_dictionaries() if isinstance(col, pa.ChunkedArray) else col
            chunks = col.chunks if isinstance(col, pa.ChunkedArray) else [col]
            if not chunks:
                self._codes[name] = (np.zeros(0, dtype=np.int64), [])
            else:
                idx = np.concatenate([np.asarray(c.indices.fill_null(-1).to_numpy(zero_copy_only=False),
                                                 dtype=np.int64) for c in chunks])
                names = [str(x) for x in chunks[0].dictionary.to_pylist()]
                self._codes[name] = (idx, names)
        return self._codes[name]

    def fits(self) -> np.ndarray:
        """Rows that may be plotted as runs: those the memory model does not rule out."""
        if self.has("fits"):
            f = self.num("fits")
            return np.asarray(f != 0)  # (a missing verdict, NaN, is no "does not fit")
        return np.ones(self.n, dtype=bool)


def group_codes(frame: Frame, keys: list[str]) -> np.ndarray:
    """One integer per row naming its group over ``keys`` (numbers by value, categories by name)."""
    out = np.zeros(frame.n, dtype=np.int64)
    for k in keys:
        if frame.is_numeric(k):
            v = frame.num(k)
            _, inv = np.unique(np.where(np.isnan(v), np.inf, v), return_inverse=True)
            inv = inv.astype(np.int64)
        else:
            c, _ = frame.codes(k)
            inv = c + 1
        out = out * (int(inv.max(initial=0)) + 1) + inv
    return out


def argmin_per_group(frame: Frame, keys: list[str], y: str, mask: np.ndarray | None = None) -> np.ndarray:
    """The index of the row with the smallest ``y`` in each group of ``keys`` (among ``mask``
    and finite ``y``; ties: the first row), groups in order of their keys."""
    vals = frame.num(y)
    ok = np.isfinite(vals) if mask is None else (mask & np.isfinite(vals))
    rows = np.flatnonzero(ok)
    if rows.size == 0:
        return rows
    g = group_codes(frame, keys)[rows] if keys else np.zeros(rows.size, dtype=np.int64)
    order = np.lexsort((rows, vals[rows], g))  # by group, then y, then row
    sorted_g = g[order]
    first = np.ones(order.size, dtype=bool)
    first[1:] = sorted_g[1:] != sorted_g[:-1]
    return rows[order[first]]


def front_per_group(frame: Frame, keys: list[str], x: str, y: str, mask: np.ndarray | None = None) -> np.ndarray:
    """Rows on the (x, y) Pareto front, both minimised, within each group of ``keys``: no other
    row of the group is at least as good in both and better in one (of equal rows, the first)."""
    xs, ys = frame.num(x), frame.num(y)
    ok = np.isfinite(xs) & np.isfinite(ys)
    if mask is not None:
        ok &= mask
    rows = np.flatnonzero(ok)
    if rows.size == 0:
        return rows
    g = group_codes(frame, keys)[rows] if keys else np.zeros(rows.size, dtype=np.int64)
    order = np.lexsort((rows, ys[rows], xs[rows], g))  # by group, x, then y
    r = rows[order]
    gs = g[order]
    yv = ys[r]
    keep = np.zeros(r.size, dtype=bool)
    starts = np.flatnonzero(np.r_[True, gs[1:] != gs[:-1]])
    ends = np.r_[starts[1:], r.size]
    for s, e in zip(starts, ends):
        seg = yv[s:e]
        best_before = np.minimum.accumulate(np.r_[np.inf, seg[:-1]])
        keep[s:e] = seg < best_before
    return r[keep]


def _log(values: np.ndarray) -> bool:
    """A log scale where positive values span two decades or more."""
    v = values[np.isfinite(values)]
    return bool(v.size) and bool((v > 0).all()) and float(v.max()) >= 100 * float(v.min())


def _title(name: str, units: dict[str, str]) -> str:
    label = LABELS.get(name, name.replace("_", " "))
    unit = units.get(name, "")
    return f"{label} ({unit})" if unit and unit not in ("fraction", "") and unit != label else label


def _axis(frame: Frame, rows: np.ndarray, name: str, units: dict[str, str], kind: str = "quantitative"
          ) -> dict[str, Any]:
    enc: dict[str, Any] = {"field": name, "type": kind, "title": _title(name, units)}
    if kind == "quantitative":
        vals = frame.num(name)[rows]
        vals = vals[np.isfinite(vals)]
        log = _log(vals)
        enc["scale"] = {"type": "log"} if log else {"zero": False}
        small = not vals.size or float(np.abs(vals).min()) < 1
        big = bool(vals.size) and float(np.abs(vals).max()) >= 1000
        # (SI prefixes for sizes, counts and dollars; never for fractions of a day, where "10m" would read as minutes)
        enc["axis"] = {"format": ".0%" if name == "mfu" else "~s" if log and not small else ",.0f" if big and not small
                       else "~g"}
    return enc


def _color(frame: Frame, by: str | None) -> dict[str, Any] | None:
    if by is None or not frame.has(by):
        return None
    return {"field": by, "type": "nominal", "title": _title(by, {})}


def _capped(f: Frame, rows: np.ndarray) -> tuple[np.ndarray, str]:
    if rows.size <= f.cap:
        return rows, ""
    keep = rows[np.linspace(0, rows.size - 1, f.cap).round().astype(np.int64)]
    return keep, f" Showing {f.cap:,} of {rows.size:,} rows, evenly spaced."


def _base(title: str, mark: Any, encoding: dict[str, Any]) -> dict[str, Any]:
    return {"title": title, "width": WIDTH, "height": HEIGHT, "mark": mark,
            "encoding": {k: v for k, v in encoding.items() if v is not None}}


def _point_mark(**kw: Any) -> dict[str, Any]:
    return {"type": "point", "filled": True, "tooltip": {"content": "data"}, **kw}


def _line_mark() -> dict[str, Any]:
    return {"type": "line", "point": {"filled": True, "size": 40}, "tooltip": {"content": "data"}}


def _category(frame: Frame) -> str | None:
    """The column that tells runs apart in colour: the accelerator, else the model."""
    for c in ("gpu", "model"):
        if frame.has(c) and not frame.is_numeric(c):
            return c
    return None


def cost_vs_params(r: Results, f: Frame) -> Chart | None:
    by = _category(f)
    rows = argmin_per_group(f, [k for k in (by, "params") if k], "cost_usd", f.fits())
    if rows.size == 0:
        return None
    rows, cap = _capped(f, rows)
    u = r.units
    spec = _base("Cheapest run per model size", _line_mark(), {
        "x": _axis(f, rows, "params", u), "y": _axis(f, rows, "cost_usd", u), "color": _color(f, by)})
    return Chart("cost_vs_params", spec["title"], rows, spec,
                 note="Each point: the cheapest run of that size" + (" on that accelerator" if by else "") +
                 " over every other swept input" + (" (runs that do not fit in memory left out)." if f.has("fits")
                                                   else ".") + cap)


def time_cost_front(r: Results, f: Frame) -> Chart | None:
    by = _category(f)
    sized = f.has("params") and f.is_numeric("params")
    keys = [k for k in (by, "params" if sized else None) if k]
    rows = front_per_group(f, keys, "wall_clock_days", "cost_usd", f.fits())
    if rows.size == 0:
        return None
    if sized and rows.size > f.cap:
        rows, cap = _whole_sizes(f, rows)
    else:
        rows, cap = _capped(f, rows)
    u = r.units
    spec = _base("Time/cost Pareto front", _line_mark(), {
        "x": _axis(f, rows, "wall_clock_days", u), "y": _axis(f, rows, "cost_usd", u), "color": _color(f, by),
        "order": {"field": "wall_clock_days", "type": "quantitative"}})
    extra: dict[str, list[Any]] = {}
    note = ("Runs no other run beats on both wall clock and cost" + (" on the same accelerator" if by else "") +
            (" and model size (picked above)" if sized else "") + "." + cap)
    sizes = sorted(set(float(x) for x in f.num("params")[rows] if math.isfinite(x))) if sized else []
    if len(sizes) > 1:
        labels = {s: _si(s) for s in sizes}
        extra["model size"] = [labels.get(float(x), "") for x in f.num("params")[rows]]
        options = [labels[s] for s in sizes]
        spec["params"] = [{"name": "size", "value": options[len(options) // 2],
                           "bind": {"input": "select", "options": options, "name": "model size "}}]
        spec["transform"] = [{"filter": "datum['model size'] === size"}]
    return Chart("time_cost_front", spec["title"], rows, spec, extra=extra, note=note)


def _whole_sizes(f: Frame, rows: np.ndarray) -> tuple[np.ndarray, str]:
    """Fronts kept whole (one model size is shown at a time): as many sizes, evenly spread over
    the range, as fit in CAP rows."""
    p = f.num("params")[rows]
    sizes, counts = np.unique(p[np.isfinite(p)], return_counts=True)
    for k in range(sizes.size, 0, -1):
        pick = np.unique(np.linspace(0, sizes.size - 1, k).round().astype(np.int64))
        if counts[pick].sum() <= f.cap:
            break
    kept = rows[np.isin(p, sizes[pick])]
    if kept.size > f.cap:  # (one size's front alone is longer than the cap)
        return _capped(f, kept)
    return kept, f" {pick.size} of the {sizes.size} model sizes (their fronts whole: {rows.size:,} rows in all)."


def _sizes(f: Frame, rows: np.ndarray) -> list[float]:
    """Up to SIZES model sizes spread over the swept range (every size when there are few)."""
    sizes = np.unique(f.num("params")[rows])
    sizes = sizes[np.isfinite(sizes)]
    if sizes.size <= SIZES:
        return [float(s) for s in sizes]
    pick = np.unique(np.linspace(0, sizes.size - 1, SIZES).round().astype(np.int64))
    return [float(sizes[i]) for i in pick]


def _si(x: float) -> str:
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(x) >= scale:
            return f"{x / scale:.3g}{suffix}"
    return f"{x:.3g}"


def gpu_scaling(r: Results, f: Frame) -> Chart | None:
    by = _category(f) if _category(f) == "gpu" else None
    ok = f.fits()
    candidates = argmin_per_group(f, [k for k in (by, "params", "gpus") if k], "cost_usd", ok)
    if candidates.size == 0:
        return None
    sizes = _sizes(f, candidates)
    p = f.num("params")[candidates]
    rows = candidates[np.isin(p, sizes)]
    if np.unique(f.num("gpus")[rows]).size < 2:
        return None
    rows, cap = _capped(f, rows)
    u = r.units
    size_label = [_si(x) for x in f.num("params")[rows]]
    color = {"field": "model size", "type": "ordinal", "sort": {"field": "params"}, "title": "parameters",
             "scale": {"scheme": "viridis"}}
    metrics = ["wall_clock_days", "cost_usd"]
    predicted = (f.has("mfu") and f.is_numeric("mfu") and f.has("step_time_s") and f.is_numeric("step_time_s")
                 and bool(np.isfinite(f.num("step_time_s")[rows]).any()) and bool(np.isfinite(f.num("mfu")[rows]).any()))
    if predicted:
        metrics.append("mfu")
    panels: list[dict[str, Any]] = [
        {"width": 300, "height": 240, "mark": _line_mark(),
         "encoding": {"x": _axis(f, rows, "gpus", u), "y": _axis(f, rows, m, u), "color": color,
                      "detail": {"field": "params", "type": "quantitative"}},
         "title": {"mfu": "predicted MFU"}.get(m, _title(m, {}))} for m in metrics]
    spec: dict[str, Any] = {"title": "Wall clock, cost" + (" and predicted MFU" if predicted else "") +
                            " against GPU count, per model size", "hconcat": panels}
    names = sorted(set(f.codes(by)[1][c] for c in f.codes(by)[0][rows] if c >= 0)) if by else []
    note = ("The cheapest run per model size and GPU count" + (" on the accelerator picked above" if names else "") +
            f"; {len(sizes)} of the swept sizes shown." + cap)
    if names and by:
        spec["params"] = [{"name": "pick", "value": names[0],
                           "bind": {"input": "select", "options": names, "name": "accelerator "}}]
        for panel in panels:  # (each view filters: a concatenation's own transforms are not all renderers')
            panel["transform"] = [{"filter": f"datum.{by} === pick"}]
    return Chart("gpu_scaling", spec["title"], rows, spec, extra={"model size": size_label}, note=note)


def memory(r: Results, f: Frame) -> Chart | None:
    by = _category(f) if _category(f) == "gpu" else None
    rows = argmin_per_group(f, [k for k in (by, "params") if k], "memory_gb_per_gpu")
    if rows.size == 0:
        return None
    rows, cap = _capped(f, rows)
    u = r.units
    layers: list[dict[str, Any]] = []
    capacity = _capacities(f, rows, by)
    enc = {"x": _axis(f, rows, "params", u), "y": _axis(f, rows, "memory_gb_per_gpu", u), "color": _color(f, by)}
    line = {"mark": _line_mark(), "encoding": {k: v for k, v in enc.items() if v is not None}}
    spec: dict[str, Any] = {"title": "Memory per GPU against the GPU's capacity", "width": WIDTH, "height": HEIGHT}
    note = "Each point: the smallest memory per GPU of that size" + (" on that accelerator" if by else "") + "."
    if capacity:
        rule_enc: dict[str, Any] = {"y": {"field": "memory_gb_per_gpu", "type": "quantitative"},
                                    "tooltip": [{"field": by or "gpu", "type": "nominal"},
                                                {"field": "memory_gb_per_gpu", "title": "capacity (GB)"}]}
        if by:
            rule_enc["color"] = {"field": by, "type": "nominal"}
        layers.append({"values": capacity})
        spec["layer"] = [line, {"data": {"name": "capacity"}, "mark": {"type": "rule", "strokeDash": [6, 4]},
                                "encoding": rule_enc}]
        note += " Dashed: each accelerator's memory (the catalog's)."
    else:
        spec.update(line)
    return Chart("memory", spec["title"], rows, spec, layers=layers, note=note + cap)


def _capacities(f: Frame, rows: np.ndarray, by: str | None) -> list[dict[str, Any]]:
    """Each plotted accelerator's memory: the output's gpu_memory_gb, else the built-in catalog's."""
    if by is None:
        return []
    codes, names = f.codes(by)
    present = sorted({names[c] for c in codes[rows] if c >= 0})
    out = []
    if f.has("gpu_memory_gb"):
        mem = f.num("gpu_memory_gb")
        for g in present:
            vals = mem[rows][codes[rows] == names.index(g)]
            vals = vals[np.isfinite(vals)]
            if vals.size:
                out.append({by: g, "memory_gb_per_gpu": float(vals[0])})
        return out
    from costspec.catalog import Catalog

    cat = Catalog.builtin()
    for g in present:
        try:
            m = cat.gpu(g).device_memory  # (what fits is judged on)
        except Exception:  # noqa: BLE001 - a user catalog's GPU: no capacity line for it
            continue
        if m is not None:
            out.append({by: g, "memory_gb_per_gpu": float(m.value)})
    return out


def frontier(r: Results, f: Frame) -> Chart | None:
    rows = argmin_per_group(f, ["compute_flops"], "compute_flops")
    rows = rows[np.isfinite(f.num("params")[rows]) & np.isfinite(f.num("tokens")[rows])]
    if rows.size == 0:
        return None
    rows, cap = _capped(f, rows)
    u = r.units
    x = _axis(f, rows, "compute_flops", u)
    panels = [{"width": 300, "height": 240, "mark": _line_mark(),
               "encoding": {"x": x, "y": _axis(f, rows, m, u)}} for m in ("params", "tokens")]
    title = "Compute-optimal frontier"
    spec: dict[str, Any] = {"title": title, "hconcat": panels}
    return Chart("frontier", title, rows, spec,
                 note="Parameters and tokens at each compute budget (the first row of each budget)." + cap)


def serving(r: Results, f: Frame) -> Chart | None:
    by = _category(f)
    ok = f.fits()
    front = front_per_group(f, [by] if by else [], "tpot_s", "usd_per_m_tokens_served", ok)
    if front.size == 0:
        return None
    everything = np.flatnonzero(ok & np.isfinite(f.num("tpot_s")) & np.isfinite(f.num("usd_per_m_tokens_served")))
    rows = everything if everything.size <= f.cap else front
    rows, cap = _capped(f, rows)
    on_front = np.isin(rows, front)
    u = r.units
    enc = {"x": _axis(f, rows, "tpot_s", u), "y": _axis(f, rows, "usd_per_m_tokens_served", u),
           "color": _color(f, by)}
    title = "Serving: price per million tokens against latency"
    spec: dict[str, Any] = {"title": title, "width": WIDTH, "height": HEIGHT,
            "layer": [
                {"mark": _point_mark(opacity=0.35), "encoding": {k: v for k, v in enc.items() if v is not None}},
                {"transform": [{"filter": "datum['on front']"}], "mark": _line_mark(),
                 "encoding": {**{k: v for k, v in enc.items() if v is not None},
                              "order": {"field": "tpot_s", "type": "quantitative"}}}]}
    note = ("Lines: the cheapest price for each latency" + (" per accelerator" if by else "") +
            (" (only the fronts are drawn: too many points)." if everything.size > f.cap else "; points: every run.") + cap)
    return Chart("serving", title, rows, spec, extra={"on front": [bool(x) for x in on_front]}, note=note)


KINDS = (
    Kind("cost_vs_params", "Cheapest run per model size", ("params", "cost_usd"), cost_vs_params,
         "cost against parameters, the minimum over the other swept inputs, per accelerator"),
    Kind("time_cost_front", "Time/cost Pareto front", ("wall_clock_days", "cost_usd"), time_cost_front,
         "the runs no other beats on both wall clock and cost, per accelerator"),
    Kind("gpu_scaling", "Against GPU count", ("gpus", "params", "wall_clock_days", "cost_usd"), gpu_scaling,
         "wall clock, cost (and the predicted MFU) against the GPU count, per model size"),
    Kind("memory", "Memory per GPU", ("params", "memory_gb_per_gpu"), memory,
         "memory per GPU against model size, with each accelerator's capacity"),
    Kind("frontier", "Compute-optimal frontier", ("compute_flops", "params", "tokens"), frontier,
         "compute-optimal parameters and tokens per compute budget"),
    Kind("serving", "Serving price against latency", ("tpot_s", "usd_per_m_tokens_served"), serving,
         "$ per million tokens against time per output token, with the front per accelerator"),
)
NAMES = tuple(k.name for k in KINDS)


@dataclass
class Selection:
    """The charts drawn, and those left out with the reason."""

    charts: list[Chart]
    left_out: list[tuple[str, str]]  # (chart name, why)


def select(r: Results, wanted: list[str] | None = None, cap: int = CAP, frame: Frame | None = None) -> Selection:
    """The charts the output's columns allow (``wanted``: only those, in that order), each of at
    most ``cap`` rows (``frame``: the output's columns already read, reused)."""
    frame = Frame(r.table) if frame is None else frame
    frame.cap = cap
    kinds = KINDS if wanted is None else tuple(next(k for k in KINDS if k.name == w) for w in wanted)
    charts: list[Chart] = []
    left_out: list[tuple[str, str]] = []
    for k in kinds:
        missing = [c for c in k.needs if not frame.has(c)]
        bad = [c for c in k.needs if frame.has(c) and c != "gpu" and not frame.is_numeric(c)]
        if missing:
            left_out.append((k.name, f"needs the column{'s' if len(missing) > 1 else ''} {', '.join(missing)}, "
                                     "which this output does not have"))
            continue
        if bad:
            left_out.append((k.name, f"the column{'s' if len(bad) > 1 else ''} {', '.join(bad)} "
                                     f"{'are' if len(bad) > 1 else 'is'} not numeric in this output"))
            continue
        chart = k.make(r, frame)
        if chart is None:
            left_out.append((k.name, "no row of this output has values for it"))
        else:
            charts.append(chart)
    return Selection(charts, left_out)


def rows_of(table: pa.Table, rows: np.ndarray) -> list[dict[str, Any]]:
    """The rows as JSON-ready dicts (NaN and infinities as null)."""
    out: list[dict[str, Any]] = table.take(pa.array(rows, type=pa.int64())).to_pylist()
    for row in out:
        for k, v in row.items():
            if isinstance(v, float):
                if not math.isfinite(v):
                    row[k] = None
            elif isinstance(v, (bytes, bytearray)):
                row[k] = bytes(v).decode("utf-8", "replace")
            elif v is not None and not isinstance(v, (bool, int, str)):
                row[k] = str(v)  # (dates, times, decimals, lists a CSV or a user's column may hold)
    return out


def values(table: pa.Table, chart: Chart) -> list[dict[str, Any]]:
    """A chart's data: its rows with its extra columns."""
    out = rows_of(table, chart.rows)
    for name, col in chart.extra.items():
        for row, v in zip(out, col):
            row[name] = v
    return out


def with_data(chart: Chart, rows: list[dict[str, Any]], vl_schema: str) -> dict[str, Any]:
    """The chart's full Vega-Lite spec, data inline (for static export)."""
    spec = {"$schema": vl_schema, **chart.spec, "data": {"values": rows}}
    if chart.layers:
        spec["datasets"] = {"capacity": chart.layers[0]["values"]}
    return spec
