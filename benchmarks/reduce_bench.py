"""Reduction benchmark (issue 5), printing its figures on this machine.

A 1.024e9-point sweep (5 GPUs at catalog prices × 200 model sizes × 40 token ratios × 100 MFUs ×
256 GPU counts; kept where the run fits in memory and ends within 120 days) reduced in the engine
(a) to the 10 cheapest points per GPU and (b) to its cost / wall-clock Pareto front, on 1 and 2
threads, with the peak RSS of each run. Then, for scale, the same two reductions done the other
way: every kept point written to Parquet by `costspec sweep`, then queried in DuckDB (top-k with a
window, the front with a running minimum), and the answers compared with the engine's.

Run: python benchmarks/reduce_bench.py [--quick] [--no-duckdb]
     (--quick: 1/10 of the points; the DuckDB part needs duckdb and writes several GB to a
     temporary folder)
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path

from child import run_child, sweep_to_parquet  # benchmarks/child.py, beside this script

SPEC = """
costspec: 1
name: reduce-bench
model: {{}}
training: {{tokens: "=ratio * model.params", recompute: full}}
hardware: {{}}
energy: {{pue: 1.1, grid_kg_co2e_per_kwh: 0.385}}
parallelism: {{tensor: 8}}
sweep:
  zip:
    - hardware.gpu: [A100-80GB, H100-SXM, H200, B200, MI300X]
      price.provider: [lambda, lambda, nebius, lambda, vultr]
  grid:
    model.params: {{geomspace: [1B, 1T], num: {n_params}}}
    ratio: {{linspace: [10, 40], num: 40}}
    hardware.mfu: {{linspace: [0.25, 0.6], num: 100}}
    hardware.count: {{range: [64, 16448, 64]}}
where: [wall_clock_days <= 120, fits]
output: {{columns: [gpu, params, tokens, mfu, gpus, wall_clock_days, cost_usd, memory_gb_per_gpu]}}
"""

TOP = "Keep(top=10, by='cost_usd', per=('gpu',))"
PARETO = "Keep(pareto=(('cost_usd', False), ('wall_clock_days', False)))"
BIGGEST = "Keep(pareto=(('cost_usd', False), ('params', True)))"  # the largest model for each budget
CASES = (
    ("top", TOP, "top-10 per GPU by cost_usd", "wall_clock_days"),
    ("pareto", PARETO, "Pareto front of cost_usd, wall_clock_days", "wall_clock_days"),
    ("biggest", BIGGEST, "Pareto front of cost_usd, -params (largest model per budget)", "-params"),
)


def engine(spec_file: str, keep: str, threads: int) -> dict[str, object]:
    return run_child(f"""
        import json, time
        from costspec.spec import load, Keep
        from costspec.plan import compile_spec
        from costspec.runner import reduce
        plan = compile_spec(load({spec_file!r}))
        t = time.perf_counter()
        table = reduce(plan, {keep}, threads={threads})
        s = time.perf_counter() - t
        rows = [[r["gpu"], r["cost_usd"], r["wall_clock_days"], r["params"]] for r in table.to_pylist()]
        print(json.dumps({{"seconds": s, "points": plan.points, "rows": rows}}))
    """)




QUERIES = {
    "top": """
        select gpu, cost_usd, wall_clock_days, params from (
          select gpu, cost_usd, wall_clock_days, params,
                 row_number() over (partition by gpu order by cost_usd) as rank
          from read_parquet('{files}'))
        where rank <= 10 order by gpu, cost_usd""",
    # A point is on the front when no point is at least as cheap and as fast and better in one:
    # the least wall clock at its cost, below every cheaper cost's least wall clock.
    "pareto": """
        with by_cost as (select cost_usd, min({k2}) as w from read_parquet('{files}') group by cost_usd),
        running as (select cost_usd, w, min(w) over (order by cost_usd rows between unbounded preceding
                                                      and 1 preceding) as cheaper from by_cost)
        select gpu, t.cost_usd, wall_clock_days, params from read_parquet('{files}') t join running using (cost_usd)
        where {k2} = running.w and (running.cheaper is null or running.w < running.cheaper)
        order by t.cost_usd""",
}


def duckdb_query(files: str, which: str, k2: str) -> dict[str, object]:
    return run_child(f"""
        import json, time, duckdb
        con = duckdb.connect()
        con.execute("set threads = 2")
        con.execute("set enable_progress_bar = false")
        t = time.perf_counter()
        rows = con.execute({QUERIES["top" if which == "top" else "pareto"]!r}.format(files={files!r}, k2={k2!r})).fetchall()
        print(json.dumps({{"seconds": time.perf_counter() - t, "rows": [list(r) for r in rows]}}))
    """)


def same_answer(a: list[list[object]], b: list[list[object]], ties_free: bool) -> bool:
    """Engine and DuckDB agree: the same (gpu, cost, wall clock, params) rows. Points tied in cost
    may differ between the two (the engine keeps the earliest in sweep order), so for top-k compare
    the costs per GPU only."""
    if ties_free:
        return sorted(map(tuple, a)) == sorted(map(tuple, b))  # type: ignore[arg-type]
    return sorted((r[0], r[1]) for r in a) == sorted((r[0], r[1]) for r in b)  # type: ignore[index]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="1/10 of the points")
    ap.add_argument("--no-duckdb", action="store_true", help="skip writing everything and querying in DuckDB")
    a = ap.parse_args()
    n_params = 20 if a.quick else 200
    tmp = Path(tempfile.mkdtemp(prefix="costspec-reduce-"))
    try:
        spec = tmp / "reduce.yaml"
        spec.write_text(SPEC.format(n_params=n_params))
        points = 5 * n_params * 40 * 100 * 256
        print(f"machine: {os.cpu_count()} cores; points: {points:,}")

        def line(name: str, r: dict[str, object], extra: str = "") -> None:
            s = float(r["seconds"])  # type: ignore[arg-type]
            rss = f"  peak RSS {float(r['peak_rss_mb']):6.0f} MB"  # type: ignore[arg-type]
            print(f"  {name:<44} {s:8.2f} s  {points / s / 1e6:8.0f} M points/s{rss}" + (f"  {extra}" if extra else ""))

        results = {}
        for which, keep, label, _ in CASES:
            print(f"{label}, reduced in the engine")
            for threads in (1, 2):
                r = engine(str(spec), keep, threads)
                line(f"{threads} thread{'s' if threads > 1 else ''}", r, f"{len(r['rows'])} rows")  # type: ignore[arg-type]
                results[which] = r
            s = float(results[which]["seconds"])  # type: ignore[arg-type]
            print(f"  target <= 8 s (>= 1.25e8 points/s) on 2 threads: {'met' if s <= 8 else 'NOT met'}")

        if a.no_duckdb:
            return
        print("for scale: write every kept point to Parquet, then query it in DuckDB (2 threads)")
        out = tmp / "all.parquet"
        w = sweep_to_parquet(str(spec), str(out))
        size = sum(f.stat().st_size for f in out.glob("*.parquet"))
        line("costspec sweep -> Parquet", w, f"{w['kept']:,} rows, {size / 1e9:.1f} GB")
        files = str(out / "*.parquet")
        for which, _, _, k2 in CASES:
            q = duckdb_query(files, which, k2)
            agree = same_answer(results[which]["rows"], q["rows"], which != "top")  # type: ignore[arg-type]
            total = float(w["seconds"]) + float(q["seconds"])  # type: ignore[arg-type]
            engine_s = float(results[which]["seconds"])  # type: ignore[arg-type]
            print(f"  duckdb {which:<8} query {float(q['seconds']):7.2f} s; write + query {total:7.1f} s "
                  f"= {total / engine_s:5.0f}x the engine; same answer: {agree}; peak RSS {float(q['peak_rss_mb']):.0f} MB")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
