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

        return render(self.results, self.selection, self.tables, self.title)

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
        p = Path(self.results.path)
        return (p,) if p.is_file() else ()


def report(results: str | os.PathLike[str], *, charts: list[str] | None = None, threads: int = 0) -> Report:
    """The report of a sweep's output (Parquet folder or file, Arrow, CSV), or of a spec (swept in
    memory first). ``charts`` picks charts by name (``costspec.report.NAMES``)."""
    if charts is not None:
        unknown = [c for c in charts if c not in NAMES]
        if unknown:
            raise ReportError(f"unknown chart {unknown[0]!r}; the charts are: {', '.join(NAMES)}")
    from costspec.report.page import vl_convert

    vl_convert()  # (the extra's one-line error before any reading)
    res = open_results(results, threads=threads)
    sel = select(res, charts)
    return Report(res, sel, tables(res, Frame(res.table)))


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


class _CallableModule(types.ModuleType):
    """``costspec.report(...)``: the module called is its ``report`` function."""

    def __call__(self, results: str | os.PathLike[str], *, charts: list[str] | None = None,
                 threads: int = 0) -> Report:
        return report(results, charts=charts, threads=threads)


sys.modules[__name__].__class__ = _CallableModule
