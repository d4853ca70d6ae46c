"""The report's tables of answers: the cheapest run per accelerator, the time/cost front, the
cheapest serving price per accelerator, and every row of a small output (a budget's or a
deadline's answers), with thousands separators and units."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from costspec.report.charts import Frame, argmin_per_group, front_per_group, rows_of
from costspec.report.source import Results

SMALL = 60  # an output this small is shown whole
FRONT_ROWS = 40  # rows of the front table at most

TRAINING = ("gpu", "provider", "model", "params", "tokens", "gpus", "tensor_parallel", "pipeline_parallel",
            "data_parallel", "micro_batch", "mfu", "wall_clock_days", "gpu_hours", "cost_usd", "energy_kwh")
SERVING = ("gpu", "provider", "model", "serving_tensor_parallel", "serving_pipeline_parallel", "weights_precision",
           "batch", "ttft_s", "tpot_s", "output_tokens_per_s_per_gpu", "usd_per_m_tokens_served")


@dataclass
class Table:
    title: str
    columns: list[str]
    units: list[str]
    rows: list[list[str]]
    note: str = ""


def cell(v: Any) -> str:
    """A value as a table shows it: thousands separators, 3-4 significant digits, no 'nan'."""
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if not math.isfinite(v):
            return "–"
        a = abs(v)
        if a >= 1e15:
            return f"{v:.3e}"
        if a >= 1000 or (a >= 100 and v == int(v)):
            return f"{v:,.0f}"
        if a >= 100:
            return f"{v:,.1f}"
        return f"{v:.3g}"
    return str(v)


def _table(title: str, r: Results, rows: np.ndarray, wanted: tuple[str, ...] | list[str], note: str = "") -> Table:
    cols = [c for c in wanted if c in r.table.column_names]
    units = r.units
    data = rows_of(r.table.select(cols), rows)
    return Table(title, cols, [units.get(c, "") for c in cols], [[cell(d[c]) for c in cols] for d in data], note)


def tables(r: Results, frame: Frame) -> list[Table]:
    out: list[Table] = []
    by = "gpu" if frame.has("gpu") and not frame.is_numeric("gpu") else None
    numeric = {c for c in r.table.column_names if frame.is_numeric(c)}

    def cheapest(column: str, title: str, columns: tuple[str, ...], note: str) -> None:
        """The row of least ``column`` on each accelerator, cheapest first."""
        if column in numeric and by:
            rows = argmin_per_group(frame, [by], column, frame.fits())
            rows = rows[np.argsort(frame.num(column)[rows], kind="stable")]
            if rows.size:
                out.append(_table(title, r, rows, columns, note))

    cheapest("cost_usd", "Cheapest run per accelerator", TRAINING,
             "The run of least cost on each accelerator, over every other swept input.")
    if {"cost_usd", "wall_clock_days"} <= numeric and r.table.num_rows > SMALL:
        rows = front_per_group(frame, [], "wall_clock_days", "cost_usd", frame.fits())
        shown = rows[:FRONT_ROWS] if rows.size <= FRONT_ROWS else rows[np.linspace(0, rows.size - 1, FRONT_ROWS)
                                                                         .round().astype(np.int64)]
        if rows.size:
            note = "Runs no other run (on any accelerator) beats on both wall clock and cost, fastest first."
            if shown.size < rows.size:
                note += f" {shown.size} of its {rows.size:,} runs, evenly spaced."
            out.append(_table("Time/cost front", r, shown, TRAINING, note))
    cheapest("usd_per_m_tokens_served", "Cheapest serving per accelerator", SERVING,
             "The lowest price per million tokens served on each accelerator.")
    if 0 < r.table.num_rows <= SMALL:
        out.append(_table(f"All {r.table.num_rows:,} rows", r, np.arange(r.table.num_rows), r.table.column_names))
    return out
