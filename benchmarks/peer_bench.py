"""Peer benchmark (issue 14): costspec against DuckDB, polars and numpy as an expert writes it, on
the same sweep with the same formulas, in alternating rounds, answers checked to agree.

The sweep: 5 GPUs at catalog prices × 100 model sizes × 20 token ratios × 20 MFUs × C GPU counts,
goodput off (hardware.goodput 1, so every formula is a closed form the peers can write), 11
columns: gpu, params, tokens, mfu, gpus, model_flops (6·N·D), gpu_hours, wall_clock_days,
cost_usd, energy_kwh, co2e_kg. Three shapes:

  full    1e7 points (C = 50), every row written to Parquet (zstd level 1, the GPU dictionary-encoded)
  filter  2e8 points (C = 1,000), `29 <= wall_clock_days <= 30` keeps ~0.1%, written to Parquet
  top     1e8 points (C = 500), the 3 cheapest per GPU

Each tool runs in a fresh interpreter per measurement (its library's imports excluded, its
compile (costspec: loading and checking the spec too), query planning and writing included): costspec through `costspec.runner.write` (the engine, 2
threads), DuckDB through SQL (cross joins of the axes, `COPY ... TO` Parquet; all cores), polars
through a lazy frame of cross joins and `sink_parquet` (all cores), numpy broadcasting the
hoisted terms per outer chunk and writing with pyarrow (1 thread, as numpy computes). Prints the
min and median seconds of each, bytes per row, and the ratios to costspec (> 1: slower than
costspec).

Run: python benchmarks/peer_bench.py [--rounds N] [--quick] [--shapes full,filter,top] [--full-1e8]
     (needs the `bench` extra: numpy, duckdb, polars; --quick divides the points by 10)
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
from pathlib import Path
from typing import Any

from child import run_child  # benchmarks/child.py, beside this script

SPEC = """
costspec: 1
name: peer-bench
model: {{}}
training: {{tokens: "=ratio * model.params"}}
hardware: {{goodput: 1}}
energy: {{pue: 1.1, grid_kg_co2e_per_kwh: 0.385}}
sweep:
  zip:
    - hardware.gpu: [A100-80GB, H100-SXM, H200, B200, MI300X]
      price.provider: [lambda, lambda, nebius, lambda, vultr]
  grid:
    model.params: {{geomspace: [1B, 1T], num: 100}}
    ratio: {{linspace: [10, 30], num: 20}}
    hardware.mfu: {{linspace: [0.30, 0.55], num: 20}}
    hardware.count: {{range: [256, {count_end}, 256]}}
{where}output:
  columns: [gpu, params, tokens, mfu, gpus, model_flops, gpu_hours, wall_clock_days, cost_usd, energy_kwh, co2e_kg]
{keep}"""
COLUMNS = ("gpu", "params", "tokens", "mfu", "gpus", "model_flops", "gpu_hours", "wall_clock_days", "cost_usd",
           "energy_kwh", "co2e_kg")
NUMERIC = COLUMNS[1:]


def spec_text(counts: int, shape: str) -> str:
    where = "where: [29 <= wall_clock_days <= 30]\n" if shape == "filter" else ""
    keep = "  keep: {top: 3, by: cost_usd, per: [gpu]}\n" if shape == "top" else ""
    return SPEC.format(count_end=256 + 256 * counts, where=where, keep=keep)


# The axes and catalog figures every peer starts from (read from the compiled plan: the same values).
SETUP = """
    import json, time, os
    from costspec.spec import load
    from costspec.plan import compile_spec
    _plan = compile_spec(load({spec!r}))
    _ax = {{name: list(axis.materialise()) for a in _plan.axis_values for name, axis in a.items()}}
    _cat = _plan.spec.catalog
    _gs = [_cat.gpu(g) for g in _ax["hardware.gpu"]]
    GPU = [g.id for g in _gs]
    PEAK = [g.peak_tflops["bf16"].value * 1e12 for g in _gs]
    PRICE = [_cat.price(p, g).usd_per_gpu_hour for p, g in zip(_ax["price.provider"], _gs)]
    WATTS = [g.tdp_w.value for g in _gs]
    PARAMS = [float(x) for x in _ax["model.params"]]
    RATIO = [float(x) for x in _ax["ratio"]]
    MFU = [float(x) for x in _ax["hardware.mfu"]]
    COUNT = [float(x) for x in _ax["hardware.count"]]
    POINTS = _plan.points
    del _plan
"""

COSTSPEC = """
    import json, time
    from costspec.spec import load
    from costspec.plan import compile_spec
    from costspec.runner import write
    import pyarrow.parquet  # (its writer's library, imported before the clock as the peers' are)
    t0 = time.perf_counter()
    plan = compile_spec(load({spec!r}))
    s = write(plan, {out!r}, fmt="parquet", threads=2)
    dt = time.perf_counter() - t0
    print(json.dumps({{"seconds": dt, "rows": s.kept}}))
"""

DUCKDB = SETUP + """
    import duckdb
    t0 = time.perf_counter()
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET enable_progress_bar = false")
    gpus = ", ".join(f"({{i}}, '{{g}}', {{p!r}}, {{c!r}}, {{w!r}})" for i, (g, p, c, w) in enumerate(zip(GPU, PEAK, PRICE, WATTS)))
    def axis(name, vals):
        return f"(SELECT unnest([{{', '.join(repr(v) for v in vals)}}]::DOUBLE[]) AS {{name}})"
    body = f'''
        SELECT g.gpu::ENUM({{", ".join(repr(x) for x in GPU)}}) AS gpu, p.params, r.ratio * p.params AS tokens,
               m.mfu, c.gpus, 6.0 * p.params * (r.ratio * p.params) AS model_flops,
               6.0 * p.params * (r.ratio * p.params) / (g.peak * m.mfu) / 3600.0 AS gpu_hours,
               6.0 * p.params * (r.ratio * p.params) / (g.peak * m.mfu) / 3600.0 / c.gpus / 24.0 AS wall_clock_days,
               6.0 * p.params * (r.ratio * p.params) / (g.peak * m.mfu) / 3600.0 * g.price AS cost_usd,
               6.0 * p.params * (r.ratio * p.params) / (g.peak * m.mfu) / 3600.0 * g.watts * 1.1 / 1000.0 AS energy_kwh,
               6.0 * p.params * (r.ratio * p.params) / (g.peak * m.mfu) / 3600.0 * g.watts * 1.1 / 1000.0 * 0.385 AS co2e_kg
        FROM (VALUES {{gpus}}) g(i, gpu, peak, price, watts), {{axis("params", PARAMS)}} p, {{axis("ratio", RATIO)}} r,
             {{axis("mfu", MFU)}} m, {{axis("gpus", COUNT)}} c'''
    shape = {shape!r}
    if shape == "top":
        rows = con.execute(f"SELECT * FROM ({{body}}) QUALIFY row_number() OVER (PARTITION BY gpu ORDER BY cost_usd) <= 3").fetchall()
        n = len(rows)
    else:
        where = " WHERE wall_clock_days BETWEEN 29 AND 30" if shape == "filter" else ""
        n = con.execute(f"COPY (SELECT * FROM ({{body}}){{where}}) TO '{out}' (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1, PER_THREAD_OUTPUT true)").fetchone()[0]
    dt = time.perf_counter() - t0
    print(json.dumps({{"seconds": dt, "rows": n}}))
"""

POLARS = SETUP + """
    import polars as pl
    t0 = time.perf_counter()
    enum = pl.Enum(GPU)
    lf = (pl.LazyFrame({{"gpu": pl.Series(GPU, dtype=enum), "peak": PEAK, "price": PRICE, "watts": WATTS}})
          .join(pl.LazyFrame({{"params": PARAMS}}), how="cross")
          .join(pl.LazyFrame({{"ratio": RATIO}}), how="cross")
          .join(pl.LazyFrame({{"mfu": MFU}}), how="cross")
          .join(pl.LazyFrame({{"gpus": COUNT}}), how="cross"))
    tokens = pl.col("ratio") * pl.col("params")
    flops = 6.0 * pl.col("params") * tokens
    gh = flops / (pl.col("peak") * pl.col("mfu")) / 3600.0
    energy = gh * pl.col("watts") * 1.1 / 1000.0
    lf = lf.select(pl.col("gpu"), pl.col("params"), tokens.alias("tokens"), pl.col("mfu"), pl.col("gpus"),
                   flops.alias("model_flops"), gh.alias("gpu_hours"), (gh / pl.col("gpus") / 24.0).alias("wall_clock_days"),
                   (gh * pl.col("price")).alias("cost_usd"), energy.alias("energy_kwh"), (energy * 0.385).alias("co2e_kg"))
    shape = {shape!r}
    if shape == "top":
        n = lf.sort("cost_usd").group_by("gpu").head(3).collect().height
    else:
        if shape == "filter":
            lf = lf.filter(pl.col("wall_clock_days").is_between(29.0, 30.0))
        lf.sink_parquet({out!r}, compression="zstd", compression_level=1)
        n = pl.scan_parquet({out!r}).select(pl.len()).collect().item()
    dt = time.perf_counter() - t0
    print(json.dumps({{"seconds": dt, "rows": n}}))
"""

NUMPY = SETUP + """
    import numpy as np, pyarrow as pa, pyarrow.parquet as pq
    t0 = time.perf_counter()
    peak, price, watts = np.array(PEAK), np.array(PRICE), np.array(WATTS)
    params, ratio, mfu, count = np.array(PARAMS), np.array(RATIO), np.array(MFU), np.array(COUNT)
    # Hoisted by broadcasting: per (params, ratio) the tokens and FLOPs; per (gpu, params, ratio, mfu)
    # the GPU-hours; the count axis (innermost) per outer chunk through reused buffers.
    tokens = ratio[None, :] * params[:, None]
    flops = 6.0 * params[:, None] * tokens
    gh = (flops[None, :, :, None] / (peak[:, None, None, None] * mfu[None, None, None, :]) / 3600.0).reshape(-1)
    n_in = params.size * ratio.size * mfu.size
    g_of = np.repeat(np.arange(peak.size), n_in)
    p_of = np.tile(np.repeat(np.arange(params.size), ratio.size * mfu.size), peak.size)
    r_of = np.tile(np.repeat(np.arange(ratio.size), mfu.size), peak.size * params.size)
    m_of = np.tile(np.arange(mfu.size), peak.size * params.size * ratio.size)
    shape = {shape!r}
    chunk = max(1, (1 << 20) // count.size)
    gpu_type = pa.dictionary(pa.int32(), pa.string())
    schema = pa.schema([("gpu", gpu_type)] + [(c, pa.float64()) for c in {numeric!r}])
    dictionary = pa.array(GPU, pa.string())
    writer = None if shape == "top" else pq.ParquetWriter({out!r}, schema, compression="zstd", compression_level=1,
                                                          use_dictionary=["gpu"])
    best = [[] for _ in GPU]  # (top: per GPU, the 3 cheapest (cost, row) so far)
    n = 0
    for a in range(0, gh.size, chunk):
        g = gh[a:a + chunk]
        gi, pi, ri, mi = g_of[a:a + chunk], p_of[a:a + chunk], r_of[a:a + chunk], m_of[a:a + chunk]
        wall = g[:, None] / count[None, :] / 24.0
        if shape == "top":
            cost = g * price[gi]  # (the count does not change the cost: the cheapest counts are the first)
            for k in range(peak.size):
                sel = np.nonzero(gi == k)[0]
                if sel.size == 0:
                    continue
                take = sel[np.argsort(cost[sel], kind="stable")[:3]]
                best[k] = sorted(best[k] + [(float(cost[t]), int(a + t)) for t in take])[:3]
            continue
        if shape == "filter":
            keep = (wall >= 29.0) & (wall <= 30.0)
            rows, cols = np.nonzero(keep)
        else:
            rows = np.repeat(np.arange(g.size), count.size)
            cols = np.tile(np.arange(count.size), g.size)
        if rows.size == 0:
            continue
        gh_k = g[rows]
        energy = gh_k * watts[gi[rows]] * 1.1 / 1000.0
        columns = [pa.DictionaryArray.from_arrays(pa.array(gi[rows].astype(np.int32)), dictionary),
                   pa.array(params[pi[rows]]), pa.array(tokens[pi[rows], ri[rows]]), pa.array(mfu[mi[rows]]),
                   pa.array(count[cols]), pa.array(flops[pi[rows], ri[rows]]), pa.array(gh_k),
                   pa.array(wall[rows, cols]), pa.array(gh_k * price[gi[rows]]), pa.array(energy),
                   pa.array(energy * 0.385)]
        writer.write_table(pa.Table.from_arrays(columns, schema=schema))
        n += rows.size
    if writer is not None:
        writer.close()
    else:
        n = sum(len(b) * 3 // 3 for b in best) * count.size // count.size
    dt = time.perf_counter() - t0
    print(json.dumps({{"seconds": dt, "rows": n}}))
"""

CHECK = """
    import json
    import duckdb
    path = {path!r}
    src = f"read_parquet('{{path}}/**/*.parquet')" if {folder!r} else f"read_parquet('{{path}}')"
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    cols = {numeric!r}
    row = con.execute(f"SELECT count(*), {{', '.join(f'sum({{c}})' for c in cols)}} FROM {{src}}").fetchone()
    print(json.dumps({{"rows": row[0], "sums": list(row[1:])}}))
"""


def size_of(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size if path.exists() else 0


def agree(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return bool(a["rows"] == b["rows"] and all(abs(x - y) <= 1e-9 * max(abs(x), abs(y), 1e-300)
                                               for x, y in zip(a["sums"], b["sums"])))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    ap.add_argument("--quick", action="store_true", help="a tenth of the points")
    ap.add_argument("--shapes", default="full,filter,top")
    ap.add_argument("--full-1e8", action="store_true", help="also the full output at 1e8 points")
    args = ap.parse_args()
    counts = {"full": 50, "filter": 1000, "top": 500, "full-1e8": 500}
    shapes = args.shapes.split(",") + (["full-1e8"] if args.full_1e8 else [])
    tools = {"costspec": COSTSPEC, "duckdb": DUCKDB, "polars": POLARS, "numpy": NUMPY}
    with tempfile.TemporaryDirectory(prefix="peer-bench-") as tmp:
        for shape in shapes:
            kind = "full" if shape.startswith("full") else shape
            c = counts[shape] // (10 if args.quick else 1)
            spec = Path(tmp) / f"{shape}.yaml"
            spec.write_text(spec_text(c, kind))
            points = 5 * 100 * 20 * 20 * c
            times: dict[str, list[float]] = {t: [] for t in tools}
            rss: dict[str, float] = {t: 0.0 for t in tools}
            sizes: dict[str, int] = {}
            checks: dict[str, Any] = {}
            for r in range(args.rounds):
                for name, code in tools.items():
                    out = Path(tmp) / f"{shape}-{name}" / ("out.parquet" if name != "duckdb" else "out")
                    shutil.rmtree(out.parent, ignore_errors=True)
                    out.parent.mkdir()
                    res = run_child(code.format(spec=str(spec), out=str(out), shape=kind, numeric=NUMERIC))
                    times[name].append(res["seconds"])
                    rss[name] = max(rss[name], res["peak_rss_mb"])
                    if r == 0:
                        if kind != "top":
                            sizes[name] = size_of(out)
                            checks[name] = run_child(CHECK.format(path=str(out), folder=out.is_dir(),
                                                                  numeric=NUMERIC))
                        else:
                            checks[name] = {"rows": res["rows"]}
            base = statistics.median(times["costspec"])
            rows = checks["costspec"]["rows"]
            print(f"\n{shape}: {points:,} points, {rows:,} rows out (alternating rounds: {args.rounds})")
            print("| tool | min s | median s | median / costspec | bytes per row | peak RSS | answers |")
            print("|---|---|---|---|---|---|---|")
            for name in tools:
                ok = (checks[name]["rows"] == rows) if kind == "top" else agree(checks[name], checks["costspec"])
                per_row = f"{sizes[name] / rows:.2f}" if kind != "top" and rows else "-"
                print(f"| {name} | {min(times[name]):.3f} | {statistics.median(times[name]):.3f} | "
                      f"{statistics.median(times[name]) / base:.2f}× | {per_row} | {rss[name]:,.0f} MB | "
                      f"{'agree' if ok else 'DIFFER'} |")
            print(json.dumps({"shape": shape, "times": times, "sizes": sizes}))


if __name__ == "__main__":
    main()
