"""The layout search's speed (issue 12): the engine on specs/scaling.yaml (every point searching its
layouts), against the same search written in plain Python over the plain-Python references of the
step and memory models (tests/reference_step.py, tests/reference.py).

    python benchmarks/layout_bench.py [--threads N]

Prints the points and candidate layouts per second of each. The engine counts every candidate it
considers, those it rules out by its lower bound included; the Python search evaluates each one.
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

import reference as mem_ref  # noqa: E402
import reference_step as ref  # noqa: E402

import costspec  # noqa: E402
from costspec import plan as pl  # noqa: E402
from costspec import runner  # noqa: E402


# The 1.1M-point sweep with search: specs/scaling.yaml with 88 token ratios instead of 8:
# 5 GPUs x 40 sizes x 88 ratios x 64 counts = 1,126,400 points, each searching its own layouts (the
# tokens differ, so no point reuses another's search).
FINE = "sweep.grid.ratio={linspace: [10, 30], num: 88}"


def engine(threads: int, sets: tuple[str, ...] = ()) -> tuple[int, float, float]:
    spec = costspec.load(HERE.parent / "specs" / "scaling.yaml", sets=["where=[]", *sets])
    plan = pl.compile_spec(spec)
    t0 = time.perf_counter()
    candidates = 0.0
    points = 0
    for b in runner.batches(plan, threads=threads, reuse=True):
        points += b.num_rows
        col = b.column(b.schema.get_field_index("layout_candidates"))
        candidates += sum(x for x in col.to_pylist() if x is not None)
    return points, candidates, time.perf_counter() - t0


# Llama 2 70B (its preset's shape) on H100s: the plain-Python search's points.
ARCH = {"layers": 80, "d_model": 8192, "heads": 64, "kv_heads": 8, "ffn_dim": 28672, "vocab": 32000, "seq_len": 4096,
        "gated_mlp": True}
PARAMS, PEAK, MEMORY = costspec.Catalog.builtin().model("llama2-70b").params, 989.4e12, 80.0


def python_search(gpus: int) -> tuple[float, int]:
    """The fastest fitting layout by plain Python (every candidate evaluated): (seconds per token, candidates)."""
    best, n = math.inf, 0
    tps = [t for t in (1, 2, 4, 8) if ARCH["heads"] % t == 0 and (ARCH["kv_heads"] % t == 0 or t % ARCH["kv_heads"] == 0)]
    pps = [p for p in (1, 2, 4, 8, 16, 32, 64) if p <= ARCH["layers"]]
    for t, p, b, r, z in itertools.product(tps, pps, (1, 2), ("none", "selective", "full"), (1, 3)):
        if gpus % (t * p):
            continue
        vs = [1] if p == 1 else [v for v in (1, 2, 4) if v == 1 or math.ceil(ARCH["layers"] / p) % v == 0]
        for v in vs:
            n += 1
            point = mem_ref.RefPoint(params=PARAMS, tokens=2e12, peak_tflops=PEAK / 1e12, arch=dict(ARCH), recompute=r,
                                     gpus=float(gpus), mfu=0.5, gpu_memory_gb=MEMORY, zero=z, tensor_parallel=t,
                                     pipeline_parallel=p, micro_batch=b, goodput=1.0)
            if not mem_ref.evaluate(point)["fits"]:
                continue
            run = ref.Run(params=PARAMS, arch=dict(ARCH), gpus=gpus, peak=PEAK, domain=8, scale_up=450e9,
                          scale_out=50e9, hbm=3.35e12, global_batch_tokens=4194304, model_flops_per_token=6 * PARAMS,
                          tp=t, pp=p, micro_batch=b, interleave=v, zero=z, recompute=r)
            try:
                st = ref.step(run)
            except ValueError:
                continue
            best = min(best, st["step_time_s"] / (st["tokens_per_s"] * st["step_time_s"]))  # (time per token)
    return best, n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=0, help="engine threads (default: all cores)")
    args = ap.parse_args()
    points, candidates, seconds = engine(args.threads)
    print(f"engine: {points:,} points of specs/scaling.yaml in {seconds:.2f} s: {points / seconds:,.0f} points/s, "
          f"{candidates / seconds:,.3g} candidate layouts/s ({candidates / points:.0f} per point)")
    fine_points, fine_candidates, fine_seconds = engine(args.threads, (FINE,))
    print(f"engine: {fine_points:,} points of specs/scaling.yaml with 88 token ratios in {fine_seconds:.2f} s: "
          f"{fine_points / fine_seconds:,.0f} points/s, {fine_candidates / fine_seconds:,.3g} candidate layouts/s "
          f"({fine_candidates / fine_points:.0f} per point)")
    counts = list(range(512, 8449, 256))
    t0 = time.perf_counter()
    total = 0
    for g in counts:
        best, n = python_search(g)
        total += n
        e = costspec.estimate(model="llama2-70b", gpu="h100", gpus=g, layout="auto", goodput=1)
        assert e.tokens_per_s is not None and abs(best * e.tokens_per_s - 1) < 1e-9, (g, best, e.tokens_per_s)
    py = time.perf_counter() - t0
    print(f"plain Python: {len(counts)} points (Llama 2 70B on 512-8,192 H100s) in {py:.2f} s: "
          f"{len(counts) / py:,.1f} points/s, {total / py:,.0f} candidate layouts/s; same answers as the engine")
    print(f"engine / plain Python, candidate layouts per second: {candidates / seconds / (total / py):,.0f}x")


if __name__ == "__main__":
    main()
