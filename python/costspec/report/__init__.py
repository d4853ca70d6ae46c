"""``costspec report``: a sweep's output as one self-contained page of charts and tables, or as
static images of the charts.

    report = costspec.report("results/scaling.parquet")   # renders inline in Jupyter
    # (the module is callable: costspec.report(...) is costspec.report.report(...))
    report.save("scaling.html")                           # or .png / .svg per chart: save_images

Needs the ``report`` extra (vl-convert and numpy); the page needs no network to open.
"""

from __future__ import annotations

import os
import sys
import types
from dataclasses import dataclass
from pathlib import Path

from costspec.report.charts import NAMES, Chart, Frame, Selection, select
from costspec.report.source import ReportError, Results, open_results
from costspec.report.tables import Table, tables

FORMATS = ("html", "png", "svg")

__all__ = ["FORMATS", "NAMES", "Report", "ReportError", "report", "write_report"]


@dataclass
class Report:
    """A sweep's report: its charts and tables, the page rendered on demand."""

    results: Results
    selection: Selection
    tables: list[Table]
    rows: str | None = None  # the charts' rows as the page embeds them, once made

    @property
    def charts(self) -> list[Chart]:
        return self.selection.charts

    @property
    def title(self) -> str:
        name = Path(self.results.meta.get("costspec.spec_file") or self.results.path).stem
        try:
            from costspec.yamlio import parse

            doc = parse(self.results.meta.get("costspec.spec", ""), "<metadata>").data
            if isinstance(doc, dict) and isinstance(doc.get("name"), str):
                name = doc["name"]
        except Exception:  # noqa: BLE001 - the title falls back to the file's name
            pass
        return f"costspec report: {name}" if name else "costspec report"

    def html(self) -> str:
        from costspec.report.page import render

        return render(self.results, self.selection, self.tables, self.title, self.rows)

    def _repr_html_(self) -> str:
        """Jupyter: the page in a frame of its own (its scripts kept apart from the notebook's)."""
        import html

        return (f'<iframe srcdoc="{html.escape(self.html(), quote=True)}" style="width:100%;height:900px;'
                'border:1px solid #ddd" sandbox="allow-scripts"></iframe>')

    def image(self, chart: str, fmt: str = "png") -> bytes:
        """One chart as PNG or SVG bytes, without a browser."""
        from costspec.report.page import static

        for c in self.charts:
            if c.name == chart:
                return static(self.results, c, fmt)
        raise ReportError(f"this report has no chart {chart!r} (it has: {', '.join(c.name for c in self.charts)})")

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the page (atomically; a file costspec may replace, see costspec.targets)."""
        out = Path(os.fspath(path))
        _write_files([(out, self.html().encode())], inputs=self._inputs())
        return out

    def save_images(self, folder: str | os.PathLike[str], fmt: str = "png") -> list[Path]:
        """Each chart as ``folder/<chart>.<fmt>`` (every image is rendered before any is written)."""
        if fmt not in ("png", "svg"):
            raise ReportError(f"images are png or svg, not {fmt!r}")
        base = Path(os.fspath(folder))
        files = [(base / f"{c.name}.{fmt}", self.image(c.name, fmt)) for c in self.charts]
        _write_files(files, inputs=self._inputs())
        return [p for p, _ in files]

    def _inputs(self) -> tuple[Path, ...]:
        return self.results.inputs


def report(results: str | os.PathLike[str], *, charts: list[str] | None = None, threads: int = 0) -> Report:
    """The report of a sweep's output (Parquet folder or file, Arrow, CSV), or of a spec (swept in
    memory first). ``charts`` picks charts by name (``costspec.report.NAMES``)."""
    if charts is not None:
        unknown = [c for c in charts if c not in NAMES]
        if unknown:
            raise ReportError(f"unknown chart {unknown[0]!r}; the charts are: {', '.join(NAMES)}")
    from costspec.report.page import vl_convert

    vl_convert()  # (the extra's one-line error before any reading)
    from costspec.report.charts import CAP
    from costspec.report.page import DATA_BUDGET, embedded

    res = open_results(results, threads=threads)
    frame = Frame(res.table)  # (each column read into numpy once, for every chart and table)
    sel = select(res, charts, frame=frame)
    # A page stays under 5 MB: with many columns (every row goes in whole, for its tooltip), each
    # chart plots fewer rows (its note says how many of how many).
    cap, rows = CAP, embedded(res, sel)
    while len(rows.encode()) > DATA_BUDGET and cap > 50:
        cap = max(50, int(cap * DATA_BUDGET / len(rows.encode()) * 0.9))
        sel = select(res, charts, cap, frame)
        rows = embedded(res, sel)
    return Report(res, sel, tables(res, frame), rows)


def write_report(rep: Report, output: str | os.PathLike[str], fmt: str = "html") -> list[Path]:
    """The page to ``output`` (html), or each chart's image into the folder ``output`` (png, svg);
    with one chart, an ``output`` ending in .png/.svg is that image."""
    out = Path(os.fspath(output))
    if fmt == "html":
        return [rep.save(out)]
    if len(rep.charts) == 1 and out.suffix.lower() == f".{fmt}":
        data = rep.image(rep.charts[0].name, fmt)
        _write_files([(out, data)], inputs=rep._inputs())
        return [out]
    if not rep.charts:
        raise ReportError("no chart to draw: " + "; ".join(f"{n} {why}" for n, why in rep.selection.left_out))
    return rep.save_images(out, fmt)


def _write_files(files: list[tuple[Path, bytes]], inputs: tuple[Path, ...]) -> None:
    """Each file through a costspec target: checked, written beside it, renamed into place; on
    failure the ones not yet committed leave nothing behind."""
    from costspec.targets import Target

    for path, _ in files:
        _check_place(path, inputs)
    targets = []
    current = files[0][0] if files else Path()
    try:
        for path, _ in files:
            current = path
            t = Target(path, folder_output=False, inputs=inputs)
            targets.append(t)
            t.prepare()
        for t, (path, data) in zip(targets, files):
            current = path
            with open(t.data, "wb") as f:
                f.write(data)
        for t, (path, _) in zip(targets, files):
            current = path
            t.commit()
    except BaseException as e:
        for t in targets:
            t.discard()
        if isinstance(e, OSError):
            raise ReportError(f"cannot write {current}: {e.strerror or e}") from None
        raise


def _check_place(path: Path, inputs: tuple[Path, ...]) -> None:
    """A report file never goes where it would damage what it reads or a sweep's output: not a
    bare '.', not inside a folder it reads, not inside a costspec output folder (whose next sweep
    would refuse it as a folder costspec did not write)."""
    from costspec.targets import PART, _is_costspec_part

    if path.name in ("", ".", "..") or not os.path.basename(os.path.abspath(path)):
        raise ReportError(f"{str(path) or repr('')} is not a file name; give one, e.g. -o report.html")
    parent = Path(os.path.abspath(path.parent))
    for i in inputs:
        if i.is_dir():
            try:
                inside = parent.resolve().is_relative_to(i.resolve())
            except OSError:
                inside = False
            if inside:
                raise ReportError(f"{path} is inside {i}, the output this report reads; give a path outside it")
    try:
        with os.scandir(parent) as it:
            ours = any(PART.fullmatch(e.name) and _is_costspec_part(Path(e.path)) for e in it)
    except OSError:
        ours = False  # (a missing parent: the target creates it)
    if ours:
        raise ReportError(f"{path} would go inside {parent}, a costspec sweep output folder (its next sweep would "
                          "refuse to replace it); give a path outside it")


class _CallableModule(types.ModuleType):
    """``costspec.report(...)``: the module called is its ``report`` function."""

    def __call__(self, results: str | os.PathLike[str], *, charts: list[str] | None = None,
                 threads: int = 0) -> Report:
        return report(results, charts=charts, threads=threads)


sys.modules[__name__].__class__ = _CallableModule
