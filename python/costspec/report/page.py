"""The report as one self-contained HTML page: provenance, charts (Vega-Lite, rendered in the
browser by Vega-Embed, whose JavaScript is inlined: the page loads nothing from the network, and
its content security policy forbids it), tables. Static images come from vl-convert, without a
browser."""

from __future__ import annotations

import hashlib
import html
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

from costspec.report.charts import Chart, Selection, rows_of
from costspec.report.source import Results, describe_source
from costspec.report.tables import Table

EXTRA = "costspec[report]"
DATA_BUDGET = 3_500_000  # bytes of plotted rows a page embeds at most (with ~1 MB of script: under 5 MB)
FLOAT_DIGITS = 7  # significant digits of the numbers embedded in the page


def vl_convert() -> Any:
    try:
        import vl_convert
    except ImportError:
        from costspec.report.source import ReportError

        raise ReportError(f"costspec report needs the report extra: pip install '{EXTRA}'") from None
    return vl_convert


def vl_version() -> str:
    """The newest Vega-Lite vl-convert carries (the version the specs are written for)."""
    return str(vl_convert().get_vegalite_versions()[-1])


def vl_schema() -> str:
    major = vl_version().split(".")[0]
    return f"https://vega.github.io/schema/vega-lite/v{major}.json"


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "costspec"


def bundle() -> str:
    """Vega, Vega-Lite and Vega-Embed as one script (vl-convert bundles it: ~2 s, so it is kept in
    the user's cache folder, one file per vl-convert and Vega-Lite version, and rebuilt when
    missing; a cache that cannot be written is no error)."""
    vlc = vl_convert()
    version = vl_version()
    name = f"vega-bundle-{vlc.__version__}-vl{version}.js"
    path = _cache_dir() / name
    try:
        st = os.lstat(path)
        if stat.S_ISREG(st.st_mode) and st.st_size > 0 and st.st_uid == os.getuid():
            with open(path, encoding="utf-8") as f:
                text = f.read()
            head, _, body = text.partition("\n")
            if head == "// sha256 " + hashlib.sha256(body.encode()).hexdigest():
                return body
    except (OSError, UnicodeDecodeError):
        pass
    body = str(vlc.javascript_bundle(vl_version=version))
    _store(path, "// sha256 " + hashlib.sha256(body.encode()).hexdigest() + "\n" + body)
    return body


def _store(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        pass


def _js(obj: Any) -> str:
    """JSON safe inside a <script> element."""
    text = json.dumps(obj, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026") \
        .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _short(v: Any) -> Any:
    if isinstance(v, float):
        return float(f"{v:.{FLOAT_DIGITS}g}")
    return v


def chart_data(results: Results, sel: Selection) -> tuple[list[str], list[list[Any]], dict[str, Any]]:
    """The rows every chart plots, each once (columns, rows), and per chart its row positions,
    extra columns and extra datasets."""
    import numpy as np

    cols = results.table.column_names
    every = np.unique(np.concatenate([c.rows for c in sel.charts])) if sel.charts else np.zeros(0, dtype=np.int64)
    position = {int(r): i for i, r in enumerate(every)}
    rows = [[_short(d[c]) for c in cols] for d in rows_of(results.table, every)]
    per_chart = {c.name: {"rows": [position[int(r)] for r in c.rows], "extra": c.extra,
                          "datasets": {"capacity": c.layers[0]["values"]} if c.layers else {}}
                 for c in sel.charts}
    return cols, rows, per_chart


def embedded(results: Results, sel: Selection) -> str:
    """The charts' rows as the page embeds them (JSON)."""
    cols, rows, per_chart = chart_data(results, sel)
    return _js({"columns": cols, "rows": rows, "charts": per_chart})


STYLE = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px auto;max-width:1180px;color:#222;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:8px 0}.meta dt{color:#666}.meta dd{margin:0;font-family:ui-monospace,monospace;overflow-wrap:anywhere}
pre{background:#f6f6f6;padding:10px;overflow:auto;max-height:420px;font-size:12px}
.chart{margin:8px 0 2px;min-height:60px}.note{color:#555;font-size:13px;margin:2px 0 18px}
.error{color:#b00020}
table{border-collapse:collapse;font-size:13px;margin:6px 0 4px}th,td{padding:3px 9px;border-bottom:1px solid #eee;text-align:right;white-space:nowrap}
th{background:#fafafa;font-weight:600}th small{display:block;font-weight:400;color:#777}td:first-child,th:first-child{text-align:left}
.scroll{overflow-x:auto}
"""

# Runs first: records script errors, console errors and policy violations on the page (shown, and
# what the browser tests read back), so a chart that fails is never silent.
WATCH = """
window.costspecErrors=[];
function costspecError(m){window.costspecErrors.push(String(m));var e=document.getElementById('errors');
if(e){e.textContent=window.costspecErrors.join('\\n');e.hidden=false;}document.documentElement.dataset.errors=String(window.costspecErrors.length);}
addEventListener('error',function(e){costspecError(e.message||e);});
addEventListener('unhandledrejection',function(e){costspecError(e.reason);});
document.addEventListener('securitypolicyviolation',function(e){costspecError('blocked '+e.blockedURI+' ('+e.violatedDirective+')');});
var costspecConsoleError=console.error;console.error=function(){costspecError(Array.prototype.join.call(arguments,' '));costspecConsoleError.apply(console,arguments);};
"""

EMBED = """
const C=window.costspecData;
const jobs=Object.entries(C.charts).map(([name,c])=>{
  const el=document.getElementById('chart-'+name);
  const values=c.rows.map((i)=>{const o={};C.columns.forEach((k,j)=>{o[k]=C.rows[i][j];});return o;});
  for(const [k,col] of Object.entries(c.extra)){col.forEach((v,j)=>{values[j][k]=v;});}
  const spec=Object.assign({},C.specs[name],{data:{values}});
  if(Object.keys(c.datasets).length){spec.datasets=c.datasets;}
  return vegaEmbed(el,spec,{renderer:'svg',actions:false,tooltip:{theme:'light'}})
    .then(()=>{el.dataset.rendered='1';})
    .catch((e)=>{el.dataset.rendered='0';el.insertAdjacentHTML('beforeend','<p class="error">this chart failed to render</p>');costspecError(name+': '+e);});
});
Promise.allSettled(jobs).then(()=>{document.documentElement.dataset.status='done';});
"""

CSP = ("default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; "
       "img-src data: blob:; font-src data:")


def _provenance(results: Results) -> str:
    p = describe_source(results)
    items = [("source", f"{p['source']} ({p['format']})")]
    if p["spec_file"]:
        items.append(("spec file", p["spec_file"]))
    if p["spec_sha256"]:
        items.append(("spec sha256", p["spec_sha256"]))
    if p["costspec_version"]:
        items.append(("costspec", p["costspec_version"]))
    if p["catalog"]:
        items.append(("catalog", p["catalog"]))
    evaluated = p["points_evaluated"]
    items.append(("points", (f"{evaluated:,} evaluated, " if evaluated is not None else "") + f"{p['rows']:,} rows"))
    if p["overrides"] and p["overrides"] != "[]":
        items.append(("overrides", p["overrides"]))
    if results.kind == "csv":
        items.append(("note", "a CSV output carries no metadata: spec, hash and version unknown"))
    out = ["<dl class=meta>"] + [f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in items] + ["</dl>"]
    if p["spec_text"]:
        out.append(f"<details><summary>spec</summary><pre>{html.escape(p['spec_text'])}</pre></details>")
    return "\n".join(out)


def _table_html(t: Table) -> str:
    head = "".join(f"<th>{html.escape(c)}" + (f"<small>{html.escape(u)}</small>" if u else "") + "</th>"
                   for c, u in zip(t.columns, t.units))
    body = "\n".join("<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in row) + "</tr>" for row in t.rows)
    note = f"<p class=note>{html.escape(t.note)}</p>" if t.note else ""
    return f"<h3>{html.escape(t.title)}</h3><div class=scroll><table><tr>{head}</tr>\n{body}</table></div>{note}"


def render(results: Results, sel: Selection, tables: list[Table], title: str, rows: str | None = None) -> str:
    """The page (``rows``: ``embedded(results, sel)``, when already made)."""
    specs = _js({c.name: {"$schema": vl_schema(), **c.spec} for c in sel.charts})
    rows = embedded(results, sel) if rows is None else rows
    charts = "\n".join(f"<div class=chart id='chart-{c.name}' data-chart='{c.name}'></div>"
                       f"<p class=note>{html.escape(c.note)}</p>" for c in sel.charts)
    left = ""
    if sel.left_out:
        left = "<h3>Not drawn</h3><ul>" + "".join(f"<li><b>{html.escape(n)}</b>: {html.escape(why)}</li>"
                                                  for n, why in sel.left_out) + "</ul>"
    return f"""<!doctype html>
<html lang=en><head><meta charset=utf-8>
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name=viewport content="width=device-width,initial-scale=1">
<meta name=generator content="costspec report">
<title>{html.escape(title)}</title>
<style>{STYLE}</style>
<script>{WATCH}</script>
</head><body>
<h1>{html.escape(title)}</h1>
{_provenance(results)}
<pre id=errors class=error hidden></pre>
<h2>Charts</h2>
{charts or ('<p>No chart: this output has no rows.</p>' if not results.table.num_rows else
            '<p>No chart: this output has none of the columns the charts need.</p>')}
{left}
<h2>Answers</h2>
{"".join(_table_html(t) for t in tables) or ('<p>No table: this output has no rows.</p>' if not results.table.num_rows
                                             else '<p>No table: this output has no cost or serving price column.</p>')}
<script>window.costspecData={rows};window.costspecData.specs={specs};</script>
<script type=module>{bundle()}</script>
<script type=module>{EMBED}</script>
</body></html>
"""


def static(results: Results, chart: Chart, fmt: str, scale: float = 2.0) -> bytes:
    """One chart as PNG or SVG (vl-convert: no browser)."""
    from costspec.report.charts import values, with_data

    spec = with_data(chart, values(results.table, chart), vl_schema())
    vlc = vl_convert()
    if fmt == "svg":
        return str(vlc.vegalite_to_svg(spec, vl_version=vl_version())).encode()
    return bytes(vlc.vegalite_to_png(spec, vl_version=vl_version(), scale=scale))

