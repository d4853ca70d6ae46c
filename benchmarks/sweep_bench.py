"""Sweep benchmarks (issue 4), printing their figures on this machine.

(a) Evaluation alone of a 5.12e7-point sweep whose `where` keeps nothing: the Rust engine on 1 and
    2 threads; the same model vectorised in numpy as an expert would write it (hoisted by
    broadcasting, streamed through reused buffers), once computing only what the filter needs and
    once computing every output column; and pure Python on 1e6 points.
(b) The same sweep with every point kept, written to Parquet by `costspec sweep`: wall time and
    peak RSS; then pyarrow alone writing the same table (read back into memory) with tuned settings
    (dictionary encoding on the categorical columns only, zstd level 1), in one file and in two
    files written by two threads.

Run: python benchmarks/sweep_bench.py [--quick]   (needs numpy; --quick uses 1/10 of the points)
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
name: bench
model: {{}}
training: {{tokens: "=ratio * model.params", precision: bf16}}
hardware: {{}}
energy: {{pue: 1.1, grid_kg_co2e_per_kwh: 0.385}}
sweep:
  zip:
    - hardware.gpu: [A100-80GB, H100-SXM, H200, B200, MI300X]
      price.provider: [lambda, lambda, nebius, lambda, vultr]
  grid:
    model.params: {{geomspace: [1B, 1T], num: {n_params}}}
    ratio: {{linspace: [10, 30], num: 20}}
    hardware.mfu: {{linspace: [0.30, 0.55], num: 20}}
    hardware.count: {{range: [256, 65792, 256]}}
{where}
"""


def spec_text(n_params: int, where: str) -> str:
    return SPEC.format(n_params=n_params, where=where)


# The sweep's axes and catalog attributes as numpy arrays: what either numpy baseline starts from.
NUMPY_SETUP = """
        import json, time, numpy as np
        from costspec.spec import load
        from costspec.plan import compile_spec
        plan = compile_spec(load({spec_file!r}))
        ax = {{name: np.array(axis.materialise(), dtype=object) for a in plan.axis_values for name, axis in a.items()}}
        cat = plan.spec.catalog
        gpus = [cat.gpu(g) for g in ax["hardware.gpu"]]
        peak = np.array([g.peak_tflops["bf16"].value for g in gpus]) * 1e12
        price = np.array([cat.price(p, g).usd_per_gpu_hour for p, g in zip(ax["price.provider"], gpus)])
        watts = np.array([g.tdp_w.value for g in gpus])
        mem = np.array([g.memory_gb.value for g in gpus]) * 1e9
        params = ax["model.params"].astype(float)
        tpp = ax["ratio"].astype(float)
        mfu = ax["hardware.mfu"].astype(float)
        count = ax["hardware.count"].astype(float)
"""


def numpy_baseline(spec_file: str) -> dict[str, float]:
    """The cost model in numpy, as an expert would vectorise it for this sweep."""
    return run_child(NUMPY_SETUP.format(spec_file=spec_file) + """
        t0 = time.perf_counter()
        # Hoisted by broadcasting: FLOPs per (params, tpp); GPU-hours per (gpu, params, tpp, mfu).
        flops = 6.0 * params[:, None] ** 2 * tpp[None, :]                     # 6·N·D with D = tpp·N
        gpu_hours = flops[None, :, :, None] / (peak[:, None, None, None] * mfu[None, None, None, :]) / 3600.0
        gh = gpu_hours.reshape(-1)                                             # outer combinations
        inv_count = 1.0 / (count * 24.0)
        chunk = 4096                                                           # outer rows per pass
        wall = np.empty((chunk, count.size))                                   # reused buffers
        mask = np.empty((chunk, count.size), dtype=bool)
        kept = 0
        for a in range(0, gh.size, chunk):
            g = gh[a:a + chunk]
            w, m = wall[: g.size], mask[: g.size]
            np.multiply(g[:, None], inv_count[None, :], out=w)                 # wall-clock days
            np.less_equal(w, 0.0, out=m)                                       # where: keeps nothing
            n = int(np.count_nonzero(m))
            if n:  # the other outputs only for kept points (never reached here)
                kept += n
        dt = time.perf_counter() - t0
        print(json.dumps({"seconds": dt, "points": plan.points, "kept": kept}))
    """)


def numpy_full(spec_file: str) -> dict[str, float]:
    """numpy computing every output column of the sweep per point (as the design notes' baseline
    did), streamed through reused buffers, then the filter."""
    return run_child(NUMPY_SETUP.format(spec_file=spec_file) + """
        t0 = time.perf_counter()
        flops = 6.0 * params[:, None] ** 2 * tpp[None, :]
        shape = (gpus.__len__(), params.size, tpp.size, mfu.size)
        gh = (flops[None, :, :, None] / (peak[:, None, None, None] * mfu[None, None, None, :]) / 3600.0).reshape(-1)
        g_idx = np.repeat(np.arange(len(gpus)), params.size * tpp.size * mfu.size)
        p_idx = np.tile(np.repeat(np.arange(params.size), tpp.size * mfu.size), len(gpus))
        state_bytes = 16.0 * params                                            # mixed-precision Adam, ZeRO-3
        chunk = 4096
        shp = (chunk, count.size)
        wall, cost, energy, co2, memgb = (np.empty(shp) for _ in range(5))
        fits, mask = np.empty(shp, dtype=bool), np.empty(shp, dtype=bool)
        kept = 0
        for a in range(0, gh.size, chunk):
            g = gh[a:a + chunk]; m = g.size
            gi, pi = g_idx[a:a + chunk], p_idx[a:a + chunk]
            np.divide(g[:, None], count[None, :] * 24.0, out=wall[:m])
            np.multiply(g[:, None], price[gi][:, None], out=cost[:m])
            np.multiply(g[:, None], (watts[gi] * 1.1 / 1000.0)[:, None], out=energy[:m])
            np.multiply(energy[:m], 0.385, out=co2[:m])
            np.divide(state_bytes[pi][:, None], count[None, :], out=memgb[:m])
            np.less_equal(memgb[:m], mem[gi][:, None], out=fits[:m])
            np.less_equal(wall[:m], 0.0, out=mask[:m])
            kept += int(np.count_nonzero(mask[:m]))
        dt = time.perf_counter() - t0
        print(json.dumps({"seconds": dt, "points": plan.points, "kept": kept}))
    """)


def python_baseline(points: int) -> dict[str, float]:
    """The same per-point arithmetic in pure Python."""
    return run_child(f"""
        import json, time
        t0 = time.perf_counter()
        kept = 0
        n = 0
        for gi, peak in enumerate((312e12, 989.4e12, 989.4e12, 2250e12, 1307.4e12)):
            for pi in range(100):
                params = 1e9 * 1000 ** (pi / 99)
                for t in range(20):
                    tokens = (10 + 20 * t / 19) * params
                    flops = 6 * params * tokens
                    for m in range(20):
                        mfu = 0.30 + 0.25 * m / 19
                        gpu_hours = flops / (peak * mfu) / 3600
                        for count in range(256, 65792, 256):
                            wall = gpu_hours / count / 24
                            if wall <= 0:
                                kept += 1
                            n += 1
                            if n >= {points}:
                                break
                        if n >= {points}: break
                    if n >= {points}: break
                if n >= {points}: break
            if n >= {points}: break
        dt = time.perf_counter() - t0
        print(json.dumps({{"seconds": dt, "points": n, "kept": kept}}))
    """)


def engine(spec_file: str, threads: int) -> dict[str, float]:
    return run_child(f"""
        import json, time
        from costspec.spec import load
        from costspec.plan import compile_spec
        from costspec.runner import evaluate_only
        plan = compile_spec(load({spec_file!r}))
        evaluate_only(plan, threads={threads})  # warm the thread pool
        t0 = time.perf_counter()
        kept = evaluate_only(plan, threads={threads})
        dt = time.perf_counter() - t0
        print(json.dumps({{"seconds": dt, "points": plan.points, "kept": kept}}))
    """)




def pyarrow_alone(src: str, out: str, parts: int) -> dict[str, float]:
    return run_child(f"""
        import json, os, time, threading
        import pyarrow as pa, pyarrow.parquet as pq, pyarrow.dataset as ds
        table = ds.dataset({src!r}, format="parquet").to_table()
        dict_cols = [f.name for f in table.schema if pa.types.is_dictionary(f.type)]
        os.makedirs({out!r}, exist_ok=True)
        n = table.num_rows
        t0 = time.perf_counter()
        def write(k):
            part = table.slice(n * k // {parts}, n * (k + 1) // {parts} - n * k // {parts})
            pq.write_table(part, os.path.join({out!r}, f"part-{{k}}.parquet"), compression="zstd",
                           compression_level=1, use_dictionary=dict_cols, row_group_size=1 << 20)
        threads = [threading.Thread(target=write, args=(k,)) for k in range({parts})]
        for t in threads: t.start()
        for t in threads: t.join()
        dt = time.perf_counter() - t0
        print(json.dumps({{"seconds": dt, "points": n, "kept": n}}))
    """)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="1/10 of the points")
    a = ap.parse_args()
    n_params = 10 if a.quick else 100
    tmp = Path(tempfile.mkdtemp(prefix="costspec-bench-"))
    try:
        none_spec = tmp / "none.yaml"
        none_spec.write_text(spec_text(n_params, 'where: ["wall_clock_days <= 0"]'))
        all_spec = tmp / "all.yaml"
        all_spec.write_text(spec_text(n_params, ""))
        print(f"machine: {os.cpu_count()} cores; points: {5 * n_params * 20 * 20 * 256:,}")

        def line(name: str, r: dict[str, float], extra: str = "") -> None:
            rate = r["points"] / r["seconds"]
            print(f"  {name:<46} {r['seconds']:8.3f} s  {rate / 1e6:9.1f} M points/s  peak RSS {r['peak_rss_mb']:7.0f} MB"
                  + (f"  {extra}" if extra else ""))

        print("(a) evaluation alone, where keeps nothing")
        e1 = engine(str(none_spec), 1)
        line("costspec engine, 1 thread", e1)
        e2 = engine(str(none_spec), 2)
        line("costspec engine, 2 threads", e2)
        nb = numpy_baseline(str(none_spec))
        line("numpy, filter inputs only, 1 thread", nb)
        nf = numpy_full(str(none_spec))
        line("numpy, every output column, 1 thread", nf)
        pb = python_baseline(1_000_000)
        line("pure Python (1e6 points)", pb)
        r2 = e2["points"] / e2["seconds"]
        print(f"  engine (2 threads) vs numpy: {r2 / (nb['points'] / nb['seconds']):.2f}x (filter inputs only), "
              f"{r2 / (nf['points'] / nf['seconds']):.2f}x (every output); "
              f"target >= 2.5e8 points/s: {'met' if r2 >= 2.5e8 else 'NOT met'} ({r2:.3g})")

        print("(b) sweep -> Parquet, every point kept")
        out = tmp / "sweep.parquet"
        sw = sweep_to_parquet(str(all_spec), str(out))
        size = sum(f.stat().st_size for f in out.glob("*.parquet"))
        line("costspec sweep (2 writer threads)", sw, f"{size / 1e6:.0f} MB on disk")
        p1 = pyarrow_alone(str(out), str(tmp / "pa1"), 1)
        line("pyarrow alone, tuned, 1 file", p1)
        p2 = pyarrow_alone(str(out), str(tmp / "pa2"), 2)
        line("pyarrow alone, tuned, 2 files / 2 threads", p2)
        best = min(p1["seconds"], p2["seconds"])
        print(f"  costspec sweep / best pyarrow write: {sw['seconds'] / best:.2f}x (target <= 1.2x); "
              f"peak RSS {sw['peak_rss_mb']:.0f} MB (target < 1024 MB)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
