"""`costspec report` (issue 15): chart selection, aggregation checked against DuckDB, the page in a
real browser (headless Chromium, network off), static images, and every error path."""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from clirun import run
from costspec.report import NAMES, ReportError, report
from costspec.report.charts import Frame, argmin_per_group, front_per_group, select
from costspec.report.source import Results
from costspec.report.tables import cell

ROOT = Path(__file__).resolve().parents[1]

SPEC = """
costspec: 1
name: small
model: {}
training: {tokens: "=20 * model.params"}
hardware: {mfu: 0.4}
sweep:
  zip:
    - hardware.gpu: [A100-80GB, H100-SXM, MI300X]
      price.provider: [lambda, lambda, vultr]
  grid:
    model.params: [1B, 7B, 70B, 400B]
    hardware.count: [64, 128, 256, 512, 1024]
energy: {pue: 1.1, grid_kg_co2e_per_kwh: 0.385}
"""


@pytest.fixture(scope="module", autouse=True)
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """vl-convert's JavaScript bundle cached for this module only (not in the user's home)."""
    d = tmp_path_factory.mktemp("cache")
    old = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(d)
    yield d
    if old is None:
        del os.environ["XDG_CACHE_HOME"]
    else:
        os.environ["XDG_CACHE_HOME"] = old


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real sweep's output (Parquet, 60 points)."""
    d = tmp_path_factory.mktemp("swept")
    (d / "small.yaml").write_text(SPEC)
    from costspec.plan import compile_spec
    from costspec.runner import write
    from costspec.spec import load

    write(compile_spec(load(d / "small.yaml")), d / "small.parquet", fmt="parquet", threads=2)
    return d / "small.parquet"


def _results(table: pa.Table) -> Results:
    return Results(table, "mem", "parquet", {"costspec.version": "test"})


# -- chart selection ---------------------------------------------------------------------------


def test_charts_follow_the_columns() -> None:
    n = 4
    base = {"gpu": ["A", "A", "B", "B"], "params": [1e9, 2e9, 1e9, 2e9], "cost_usd": [1.0, 2.0, 3.0, 4.0]}
    sel = select(_results(pa.table(base)))
    assert [c.name for c in sel.charts] == ["cost_vs_params"]
    why = dict(sel.left_out)
    assert "wall_clock_days" in why["time_cost_front"] and "memory_gb_per_gpu" in why["memory"]
    more = dict(base, wall_clock_days=[1.0, 2.0, 1.5, 0.5], gpus=[8, 16, 8, 16], memory_gb_per_gpu=[10.0] * n)
    assert [c.name for c in select(_results(pa.table(more))).charts] == [
        "cost_vs_params", "time_cost_front", "gpu_scaling", "memory"]
    serving = {"gpu": ["A", "B"], "tpot_s": [0.01, 0.02], "usd_per_m_tokens_served": [1.0, 0.5]}
    assert [c.name for c in select(_results(pa.table(serving))).charts] == ["serving"]
    frontier = {"compute_flops": [1e21, 1e22], "params": [1e9, 3e9], "tokens": [2e10, 6e10]}
    assert [c.name for c in select(_results(pa.table(frontier))).charts] == ["frontier"]


def test_picked_charts_and_a_chart_without_values() -> None:
    t = pa.table({"params": [1e9, 2e9], "cost_usd": [float("nan"), float("nan")]})
    sel = select(_results(t), ["cost_vs_params", "serving"])
    assert sel.charts == []
    assert [n for n, _ in sel.left_out] == ["cost_vs_params", "serving"]
    assert "no row" in sel.left_out[0][1]


def test_a_text_column_where_a_number_belongs_is_left_out() -> None:
    t = pa.table({"params": ["7B", "8B"], "cost_usd": [1.0, 2.0]})
    sel = select(_results(t))
    assert "not numeric" in dict(sel.left_out)["cost_vs_params"]


def test_cells_have_separators_and_no_nan() -> None:
    assert cell(1234567.0) == "1,234,567"
    assert cell(12345) == "12,345"
    assert cell(0.4712) == "0.471"
    assert cell(float("nan")) == "–" and cell(None) == "–"
    assert cell(2.5e24) == "2.500e+24"
    assert cell(True) == "yes"


# -- aggregation ----------------------------------------------------------------------------------


def test_plotted_minimum_per_group_equals_duckdb(swept: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    rep = report(swept)
    chart = next(c for c in rep.charts if c.name == "cost_vs_params")
    t = rep.results.table
    got = sorted((r["gpu"], r["params"], r["cost_usd"]) for r in t.take(pa.array(chart.rows)).to_pylist())
    want = duckdb.sql(f"select gpu, params, min(cost_usd) from read_parquet('{swept}/*.parquet') "
                      "where fits is distinct from false group by gpu, params order by all").fetchall()
    assert len(got) == len(want) == 10  # (400B fits only on MI300X)
    for (g1, p1, c1), (g2, p2, c2) in zip(got, sorted(want)):
        assert (g1, p1) == (g2, p2) and c1 == pytest.approx(c2, rel=1e-12)


def test_gpu_count_chart_is_the_cheapest_per_size_and_count(swept: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    rep = report(swept, charts=["gpu_scaling"])
    (chart,) = rep.charts
    rows = rep.results.table.take(pa.array(chart.rows)).to_pylist()
    want = {(g, p, n): c for g, p, n, c in duckdb.sql(
        f"select gpu, params, gpus, min(cost_usd) from read_parquet('{swept}/*.parquet') "
        "where fits is distinct from false group by all").fetchall()}
    assert len(rows) == len(want) == 47  # (13 of 400B's 15 runs do not fit)
    for r in rows:
        assert r["cost_usd"] == pytest.approx(want[(r["gpu"], r["params"], r["gpus"])], rel=1e-12)


def _front_brute(xs: list[float], ys: list[float]) -> set[int]:
    out = set()
    for i, (x, y) in enumerate(zip(xs, ys)):
        dominated = any((x2 <= x and y2 <= y and (x2 < x or y2 < y)) or (x2 == x and y2 == y and j < i)
                        for j, (x2, y2) in enumerate(zip(xs, ys)) if j != i)
        if not dominated:
            out.add(i)
    return out


@pytest.mark.parametrize("seed", range(5))
def test_front_equals_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 300
    xs = rng.integers(1, 30, n).astype(float)  # ties on purpose
    ys = rng.integers(1, 30, n).astype(float)
    groups = rng.choice(["a", "b", "c"], n)
    f = Frame(pa.table({"g": groups, "x": xs, "y": ys}))
    got = set(front_per_group(f, ["g"], "x", "y").tolist())
    want: set[int] = set()
    for g in "abc":
        idx = [i for i in range(n) if groups[i] == g]
        want |= {idx[k] for k in _front_brute([xs[i] for i in idx], [ys[i] for i in idx])}
    assert got == want


def test_argmin_skips_rows_that_do_not_fit_and_missing_values() -> None:
    f = Frame(pa.table({"g": ["a", "a", "a", "b"], "y": [1.0, 2.0, float("nan"), None],
                        "fits": [False, True, True, True]}))
    assert argmin_per_group(f, ["g"], "y", f.fits()).tolist() == [1]


# -- the page -------------------------------------------------------------------------------------


def test_page_is_self_contained(swept: Path) -> None:
    page = report(swept).html()
    assert len(page) < 5_000_000
    markup = re.sub(r"<script[^>]*>.*?</script>", "", page, flags=re.S)
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", markup)  # nothing fetched
    assert not re.search(r"<script[^>]+src=", page)
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert "vegaEmbed" in page
    meta = pq.read_schema(next(swept.iterdir())).metadata
    assert meta[b"costspec.spec_sha256"].decode() in page
    assert "60 rows" in page and "60 evaluated" in page
    for name in ("cost_vs_params", "time_cost_front", "gpu_scaling", "memory"):
        assert f"id='chart-{name}'" in page


def test_jupyter_renders_the_page_in_a_frame(swept: Path) -> None:
    import costspec

    rep = costspec.report(swept, charts=["memory"])  # (the module is callable)
    assert [c.name for c in rep.charts] == ["memory"]
    html = rep._repr_html_()
    assert html.startswith("<iframe srcdoc=") and "vegaEmbed" in html


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("the browser tests need Chromium (Debian: apt-get install chromium; .ci/run installs it)")


def _browse(page: Path, shot: Path) -> str:
    """The page's DOM after its scripts ran, in headless Chromium with the network off, and a
    screenshot of it. Virtual time makes the wait deterministic: the page's own clock stops
    only when its work is done (or the budget is spent)."""
    flags = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             "--no-first-run", "--disable-extensions", "--disable-background-networking",
             "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
             "--host-resolver-rules=MAP * ~NOTFOUND", "--virtual-time-budget=30000",
             f"--user-data-dir={shot.parent / 'profile'}"]
    url = page.resolve().as_uri()
    dom = subprocess.run(flags + ["--dump-dom", url], capture_output=True, text=True, timeout=120, check=True).stdout
    subprocess.run(flags + ["--window-size=1240,2400", f"--screenshot={shot}", url], capture_output=True,
                   timeout=120, check=True)
    return dom


def _check_rendered(dom: str, charts: list[str]) -> None:
    assert 'data-status="done"' in dom, "the page's charts never finished"
    assert "data-errors=" not in dom.split("<body", 1)[0], re.search(r'id="errors"[^>]*>([^<]*)', dom)
    for name in charts:
        m = re.search(rf'id="chart-{name}"[^>]*data-rendered="(\d)"', dom) or \
            re.search(rf'data-rendered="(\d)"[^>]*id="chart-{name}"', dom)
        assert m and m.group(1) == "1", f"chart {name} did not render"
        body = dom.split(f'id="chart-{name}"', 1)[1].split("class=\"note\"", 1)[0]
        assert "<svg" in body or "<canvas" in body, f"chart {name} has no SVG"


def test_every_chart_renders_in_a_real_browser(swept: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                               ) -> None:
    out = tmp_path / "small.report.html"
    code, stdout, err = run(capsys, "report", str(swept), "-o", str(out))
    assert code == 0, err
    assert stdout.startswith(f"report: {out} (4 charts, 2 tables")
    dom = _browse(out, tmp_path / "report.png")
    _check_rendered(dom, ["cost_vs_params", "time_cost_front", "gpu_scaling", "memory"])
    assert (tmp_path / "report.png").stat().st_size > 20_000


def test_serving_and_planning_pages_render(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for spec, charts in (("serving", ["serving"]), ("frontier", ["frontier"]), ("budget", ["time_cost_front"])):
        out = tmp_path / f"{spec}.html"
        code, _, err = run(capsys, "report", str(ROOT / "specs" / f"{spec}.yaml"), "-o", str(out))
        assert code == 0, err
        dom = _browse(out, tmp_path / f"{spec}.png")
        _check_rendered(dom, charts)


def test_the_browser_check_sees_a_broken_chart(swept: Path, tmp_path: Path) -> None:
    """The harness fails a chart that does not draw (a spec Vega-Lite rejects)."""
    page = report(swept, charts=["cost_vs_params"]).html()
    broken = page.replace('"mark":{"type":"line"', '"mark":{"type":"no-such-mark"', 1)
    assert broken != page
    (tmp_path / "broken.html").write_text(broken)
    dom = _browse(tmp_path / "broken.html", tmp_path / "broken.png")
    with pytest.raises(AssertionError):
        _check_rendered(dom, ["cost_vs_params"])
    assert "data-errors=" in dom


# -- static images -------------------------------------------------------------------------------


def test_images_without_a_browser(swept: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "report", str(swept), "--format", "png", "-o", str(tmp_path / "charts"))
    assert code == 0, err
    files = sorted(p.name for p in (tmp_path / "charts").iterdir())
    assert files == ["cost_vs_params.png", "gpu_scaling.png", "memory.png", "time_cost_front.png"]
    assert all((tmp_path / "charts" / f).read_bytes().startswith(b"\x89PNG") for f in files)
    code, out, err = run(capsys, "report", str(swept), "--format", "svg", "--chart", "memory", "-o",
                         str(tmp_path / "memory.svg"))
    assert code == 0, err
    svg = (tmp_path / "memory.svg").read_text()
    assert svg.startswith("<svg") and "memory per GPU (GB)" in svg


def test_sweep_writes_its_report_beside_the_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "s.yaml").write_text(SPEC)
    code, out, err = run(capsys, "sweep", str(tmp_path / "s.yaml"), "-o", str(tmp_path / "out" / "s.parquet"),
                         "--report")
    assert code == 0, err
    assert (tmp_path / "out" / "s.report.html").is_file()
    assert f"report: {tmp_path / 'out' / 's.report.html'}" in out


def test_arrow_and_csv_outputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "s.yaml").write_text(SPEC)
    for fmt in ("arrow", "csv"):
        out = tmp_path / f"s.{fmt}"
        assert run(capsys, "sweep", str(tmp_path / "s.yaml"), "-o", str(out), "-q")[0] == 0
        code, stdout, err = run(capsys, "report", str(out))
        assert code == 0, err
        page = (tmp_path / "s.report.html").read_text()
        assert "4 charts" in stdout
        assert ("carries no metadata" in page) == (fmt == "csv")


# -- bad input -------------------------------------------------------------------------------------


def _one_line_error(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code, out, err = run(capsys, *args)
    assert code == 2, (out, err)
    assert err.count("\n") == 1 and err.startswith("costspec report: error: "), err
    assert "Traceback" not in err
    return err


def test_not_a_costspec_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    secret = "do-not-echo-this-content"
    pq.write_table(pa.table({"x": [secret]}), tmp_path / "other.parquet")
    err = _one_line_error(capsys, "report", str(tmp_path / "other.parquet"), "-o", str(tmp_path / "r.html"))
    assert "not a costspec output" in err and secret not in err
    (tmp_path / "other.csv").write_text(f"name,value\n{secret},1\n")
    err = _one_line_error(capsys, "report", str(tmp_path / "other.csv"), "-o", str(tmp_path / "r.html"))
    assert "not a costspec output" in err and secret not in err
    (tmp_path / "notes.txt").write_text(secret)
    err = _one_line_error(capsys, "report", str(tmp_path / "notes.txt"), "-o", str(tmp_path / "r.html"))
    assert secret not in err
    (tmp_path / "fake.parquet").write_bytes(b"PAR1" + secret.encode())
    err = _one_line_error(capsys, "report", str(tmp_path / "fake.parquet"), "-o", str(tmp_path / "r.html"))
    assert secret not in err
    assert not (tmp_path / "r.html").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fake.parquet", "notes.txt", "other.csv", "other.parquet"]


def test_missing_file_and_unknown_chart(tmp_path: Path, capsys: pytest.CaptureFixture[str], swept: Path) -> None:
    err = _one_line_error(capsys, "report", str(tmp_path / "nope.parquet"))
    assert "no such file" in err
    err = _one_line_error(capsys, "report", str(swept), "--chart", "pie")
    assert "unknown chart 'pie'" in err and "cost_vs_params" in err


def test_a_chart_the_output_cannot_have_is_a_note(swept: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "report", str(swept), "--chart", "serving", "--chart", "memory", "-o",
                         str(tmp_path / "r.html"))
    assert code == 0
    assert "chart serving not drawn: needs the columns tpot_s, usd_per_m_tokens_served" in err
    page = (tmp_path / "r.html").read_text()
    assert "<b>serving</b>: needs the columns" in page and "id='chart-memory'" in page
    err = _one_line_error(capsys, "report", str(swept), "--chart", "serving", "--format", "png", "-o",
                          str(tmp_path / "png"))
    assert "no chart to draw" in err and not (tmp_path / "png").exists()


def test_unwritable_output_leaves_nothing(swept: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file").write_text("x")
    err = _one_line_error(capsys, "report", str(swept), "-o", str(tmp_path / "file" / "r.html"))
    assert "Not a directory" in err
    (tmp_path / "folder").mkdir()
    err = _one_line_error(capsys, "report", str(swept), "-o", str(tmp_path / "folder"))
    assert "is a folder" in err
    os.symlink(tmp_path / "elsewhere.html", tmp_path / "link.html")
    err = _one_line_error(capsys, "report", str(swept), "-o", str(tmp_path / "link.html"))
    assert "symbolic link" in err and not (tmp_path / "elsewhere.html").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "folder", "link.html"]
    assert (tmp_path / "file").read_text() == "x" and not any((tmp_path / "folder").iterdir())


def test_the_input_is_never_the_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "s.yaml").write_text(SPEC)
    assert run(capsys, "sweep", str(tmp_path / "s.yaml"), "-o", str(tmp_path / "s.arrow"), "-q")[0] == 0
    before = (tmp_path / "s.arrow").read_bytes()
    err = _one_line_error(capsys, "report", str(tmp_path / "s.arrow"), "-o", str(tmp_path / "s.arrow"))
    assert "a file this run reads" in err
    assert (tmp_path / "s.arrow").read_bytes() == before


def test_a_failed_report_keeps_the_previous_page(swept: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "r.html"
    assert run(capsys, "report", str(swept), "-o", str(out))[0] == 0
    before = out.read_bytes()
    import costspec.report.page as page

    def broken(*_: Any) -> str:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(page, "render", broken)
    err = _one_line_error(capsys, "report", str(swept), "-o", str(out))
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html"]
    del err


def test_missing_extra_is_one_line(swept: Path, capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "vl_convert", None)
    err = _one_line_error(capsys, "report", str(swept), "-o", str(tmp_path / "r.html"))
    assert "pip install 'costspec[report]'" in err
    (tmp_path / "s.yaml").write_text(SPEC)
    code, out, err = run(capsys, "sweep", str(tmp_path / "s.yaml"), "-o", str(tmp_path / "s.parquet"), "--report")
    assert code == 2 and "costspec[report]" in err and not (tmp_path / "s.parquet").exists()
    with pytest.raises(ReportError):
        report(swept)


def test_parts_of_different_specs_are_refused(swept: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                              ) -> None:
    (tmp_path / "other.yaml").write_text(SPEC.replace("name: small", "name: other"))
    assert run(capsys, "sweep", str(tmp_path / "other.yaml"), "-o", str(tmp_path / "o.parquet"), "-q")[0] == 0
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    shutil.copy(next(iter(sorted(swept.iterdir()))), mixed / "part-00000.parquet")
    shutil.copy(next(iter(sorted((tmp_path / "o.parquet").iterdir()))), mixed / "part-00001.parquet")
    err = _one_line_error(capsys, "report", str(mixed), "-o", str(tmp_path / "r.html"))
    assert "different specs" in err


# -- the JavaScript bundle's cache ------------------------------------------------------------------


def test_bundle_cache_is_checked(cache_dir: Path) -> None:
    from costspec.report.page import bundle

    first = bundle()
    (cached,) = list((cache_dir / "costspec").glob("vega-bundle-*.js"))
    text = cached.read_text()
    cached.write_text(text.replace("vegaEmbed", "evil", 1))  # a cache whose content no longer matches its hash
    assert bundle() == first
    assert cached.read_text() == text


def test_names_are_the_documented_charts() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in NAMES:
        assert f"`{name}`" in readme
    _ = (itertools, json)


def test_a_long_front_keeps_whole_sizes() -> None:
    """Over the cap, the time/cost chart drops whole model sizes (one is shown at a time), never
    points of a shown size's front."""
    n = 10  # a front of n points for each of 12 sizes: 120 rows, over the cap
    params = [float(p) for p in np.repeat(np.geomspace(1e9, 1e12, 12), n)]
    days = [float(d) for d in np.tile(np.arange(1, n + 1), 12)]
    cost = [p * (n + 1 - d) for p, d in zip(params, days)]
    t = pa.table({"gpu": ["A"] * len(params), "params": params, "wall_clock_days": days, "cost_usd": cost})
    (chart,) = select(_results(t), ["time_cost_front"], cap=50).charts
    shown = np.asarray(params)[chart.rows]
    sizes, counts = np.unique(shown, return_counts=True)
    assert chart.rows.size <= 50 and (counts == n).all() and sizes.size == 5
    assert "5 of the 12 model sizes" in chart.note


# -- found by a hostile review -------------------------------------------------------------------


def test_never_writes_into_the_output_it_reads(swept: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "o.parquet"
    shutil.copytree(swept, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    part = sorted(out.iterdir())[0]
    err = _one_line_error(capsys, "report", str(out), "-o", str(part))
    assert "inside" in err
    err = _one_line_error(capsys, "report", str(out), "--format", "png", "-o", str(out))
    assert "inside" in err
    # the default page of a part file, or of '.' inside the folder, goes beside the folder
    code, stdout, err = run(capsys, "report", str(part))
    assert code == 0, err
    assert (tmp_path / "o.report.html").is_file()
    (tmp_path / "o.report.html").unlink()
    monkeypatch.chdir(out)
    code, stdout, err = run(capsys, "report", ".")
    assert code == 0, err
    assert (tmp_path / "o.report.html").is_file()
    # a page aimed into another costspec output folder
    other = tmp_path / "other.parquet"
    shutil.copytree(swept, other)
    err = _one_line_error(capsys, "report", str(out), "-o", str(other / "page.html"))
    assert "a costspec sweep output folder" in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in other.iterdir()) == sorted(before)
    # and the sweep can still replace its output
    (tmp_path / "s.yaml").write_text(SPEC)
    assert run(capsys, "sweep", str(tmp_path / "s.yaml"), "-o", str(out), "-q")[0] == 0


def test_a_specs_catalog_is_never_the_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cat = tmp_path / "cat.yaml"
    cat.write_text("gpus:\n  - id: my-gpu\n    name: My GPU\n    vendor: me\n    peak_tflops: {bf16: 100}\n"
                   "    memory_gb: 40\n    tdp_w: 300\n")
    (tmp_path / "s.yaml").write_text(SPEC.replace("energy:", "catalog: {include: [cat.yaml]}\nenergy:"))
    before = cat.read_bytes()
    err = _one_line_error(capsys, "report", str(tmp_path / "s.yaml"), "-o", str(cat))
    assert "a file this run reads" in err
    assert cat.read_bytes() == before


def test_bare_names_are_refused(swept: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in (".", ".."):
        err = _one_line_error(capsys, "report", str(swept), "-o", name)
        assert "not a file name" in err


def test_an_image_name_for_another_format_is_refused(swept: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    err = _one_line_error(capsys, "report", str(swept), "--format", "png", "--chart", "memory", "-o",
                          str(tmp_path / "m.svg"))
    assert "names a svg file, and the format is png" in err
    err = _one_line_error(capsys, "report", str(swept), "-o", str(tmp_path / "m.png"))
    assert "the format is html" in err
    assert not any(tmp_path.iterdir())


def test_odd_csv_outputs_do_not_crash(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "nullgpu.csv").write_text("gpu,gpus,params,cost_usd,wall_clock_days\n,8,1e9,10,3\n,16,1e9,12,2\n")
    code, out, err = run(capsys, "report", str(tmp_path / "nullgpu.csv"))
    assert code == 0, err
    (tmp_path / "when.csv").write_text("gpu,params,cost_usd,wall_clock_days,when\n"
                                       "A,1e9,10,3,2024-01-01T00:00:00\nB,2e9,12,2,2024-01-02T00:00:00\n")
    code, out, err = run(capsys, "report", str(tmp_path / "when.csv"))
    assert code == 0, err
    assert "2024-01-01 00:00:00" in (tmp_path / "when.report.html").read_text()
    (tmp_path / "bytes.csv").write_bytes(b"gpu,params,cost_usd,wall_clock_days\n\xff\xfe,1e9,10,3\n")
    code, out, err = run(capsys, "report", str(tmp_path / "bytes.csv"))
    assert code in (0, 2) and "Traceback" not in err and "\xff" not in err


def test_unreadable_files_are_not_quoted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    secret = "hunter2-SECRET"
    (tmp_path / "s.csv").write_text(f"user,pass\nroot,{secret},more\n")
    err = _one_line_error(capsys, "report", str(tmp_path / "s.csv"))
    assert secret not in err and "user,pass" not in err
    (tmp_path / "b.csv").write_bytes(b"\x00\x01" + secret.encode() + b"\n\x02,\x03\n")
    err = _one_line_error(capsys, "report", str(tmp_path / "b.csv"))
    assert secret not in err


def test_many_columns_keep_the_page_under_5_mb(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    derive = ", ".join(f"d{k}: 'model.params * 0.{k + 1}23456789'" for k in range(150))
    spec = SPEC.replace("model.params: [1B, 7B, 70B, 400B]", "model.params: {geomspace: [1B, 1T], num: 200}") \
        .replace("hardware.count: [64, 128, 256, 512, 1024]", "hardware.count: {range: [64, 6464, 64]}")
    (tmp_path / "s.yaml").write_text(spec + f"derive: {{{derive}}}\n")
    code, out, err = run(capsys, "report", str(tmp_path / "s.yaml"), "-o", str(tmp_path / "r.html"))
    assert code == 0, err
    page = (tmp_path / "r.html").read_text()
    assert len(page.encode()) < 5_000_000
    assert "Showing" in page and "d149" in page


def test_an_empty_output_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "s.yaml").write_text(SPEC + "where: [cost_usd < 0]\n")
    assert run(capsys, "sweep", str(tmp_path / "s.yaml"), "-o", str(tmp_path / "e.parquet"), "-q")[0] == 0
    code, out, err = run(capsys, "report", str(tmp_path / "e.parquet"))
    assert code == 0, err
    page = (tmp_path / "e.report.html").read_text()
    assert "No chart: this output has no rows." in page and "No table: this output has no rows." in page


def test_an_interrupt_during_the_report_names_what_was_written(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import costspec.report as rep

    def interrupted(*_: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(rep, "write_report", interrupted)
    (tmp_path / "s.yaml").write_text(SPEC)
    code, out, err = run(capsys, "sweep", str(tmp_path / "s.yaml"), "-o", str(tmp_path / "s.parquet"), "--report")
    assert code == 130
    assert err.strip() == f"costspec sweep: interrupted; the output {tmp_path / 's.parquet'} was written, its report was not"
    assert (tmp_path / "s.parquet").is_dir() and not (tmp_path / "s.report.html").exists()


def test_the_memory_charts_capacity_is_the_memory_fits_uses() -> None:
    """Without a gpu_memory_gb column the dashed line is the catalog's device memory: the total the
    device reports (85.52 GB for an H100), on which fits is judged, not the datasheet's 80."""
    from costspec.report.charts import _capacities

    t = pa.table({"gpu": pa.array(["H100-SXM", "H800"]).dictionary_encode(), "memory_gb_per_gpu": [83.0, 70.0]})
    caps = _capacities(Frame(t), np.arange(2), "gpu")
    assert {c["gpu"]: c["memory_gb_per_gpu"] for c in caps} == {"H100-SXM": 85.52, "H800": 80.0}
