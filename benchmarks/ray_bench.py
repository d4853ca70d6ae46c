"""The Ray executor's overhead (issue 16): the same sweep on the one-machine engine (2 threads)
and with the Ray executor on a local 2-CPU cluster (started once, before the clock, as a user's
cluster is already up), then a model on paper of the speed-up at 8, 64 and 512 CPUs from the
measured per-task cost and scheduling overhead.

The sweep: benchmarks/peer_bench.py's filter shape, 2e8 points (5 GPUs x 100 sizes x 20 ratios x
20 MFUs x 1,000 GPU counts), `29 <= wall_clock_days <= 30` keeping ~0.1%, written to Parquet.
The per-task overhead: the same plan cut into many tasks of a few points each (what a task costs
the driver and the cluster beyond its points).

Run: python benchmarks/ray_bench.py [--rounds N] [--points-scale S]   (needs the ray extra)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from peer_bench import spec_text  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--counts", type=int, default=1000, help="GPU counts (1,000: 2e8 points)")
    a = ap.parse_args()
    import ray

    from costspec import distributed
    from costspec.executors.ray import RayExecutor
    from costspec.plan import compile_spec
    from costspec.runner import write
    from costspec.spec import load

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    ex = RayExecutor()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        (tmp / "s.yaml").write_text(spec_text(a.counts, "filter"))
        plan = compile_spec(load(tmp / "s.yaml"))
        print(f"sweep: {plan.points:,} points, filter keeps ~0.1%")
        local, on_ray = [], []
        for r in range(a.rounds):  # alternating
            t0 = time.perf_counter()
            s1 = write(plan, tmp / "local.parquet", threads=2)
            local.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            s2 = distributed.sweep(plan, tmp / "ray.parquet", ex)
            on_ray.append(time.perf_counter() - t0)
            assert s1.kept == s2.kept, (s1.kept, s2.kept)
        ml, mr = statistics.median(local), statistics.median(on_ray)
        print(f"one machine (2 threads): {min(local):.2f} s min, {ml:.2f} s median")
        print(f"ray, local 2-CPU cluster ({4 * ex.cpus()} tasks): {min(on_ray):.2f} s min, {mr:.2f} s median")
        print(f"overhead: {100 * (mr / ml - 1):+.1f}% (median; target <= 15%)")

        # Per-task overhead on the workers: many tiny tasks (the engine's work negligible).
        n_tasks = 256
        sub = tmp / "sub.yaml"
        sub.write_text(spec_text(1, "filter"))
        tiny = compile_spec(load(sub))
        t0 = time.perf_counter()
        distributed.sweep(tiny, tmp / "tiny.parquet", ex, tasks=n_tasks)
        o = (time.perf_counter() - t0) * ex.cpus() / n_tasks  # CPU-seconds per task beyond its points
        # The driver's serial cost per task: no-op tasks, submitted and collected.
        noop = ray.remote(num_cpus=1)(lambda: None)
        ray.get([noop.remote() for _ in range(50)])  # (workers warm)
        t0 = time.perf_counter()
        ray.get([noop.remote() for _ in range(2000)])
        sched = (time.perf_counter() - t0) / 2000
        print(f"per task: {1e3 * o:.1f} ms of a worker's CPU ({n_tasks} tasks of {tiny.points // n_tasks:,} points: "
              f"the plan built from its JSON, a part file), {1e3 * sched:.2f} ms of the driver's (no-op tasks)")
        # The work of a sweep worth spreading: 1e9 points of specs/scaling.yaml (~270 layouts searched each).
        root = Path(__file__).resolve().parents[1]
        big = compile_spec(load(root / "specs" / "scaling.yaml"))
        t0 = time.perf_counter()
        write(big, tmp / "scaling.parquet", threads=2)
        search_rate = big.points / (time.perf_counter() - t0) / 2  # points per CPU-second
        print(f"specs/scaling.yaml: {search_rate:,.0f} points per CPU-second (layout search)")
        print("on paper: T(P) = W/P + o*ceil(tasks/P) + d*tasks, tasks = 4P, W the sweep's CPU-seconds, o and d as "
              "measured; speed-up W/T(P):")
        for label, w in ((f"this sweep ({plan.points:.0e} points, W = {2 * ml:.1f} CPU-s)", 2 * ml),
                         (f"1e9 points with layout search (W = {1e9 / search_rate:,.0f} CPU-s)", 1e9 / search_rate)):
            row = []
            for p in (8, 64, 512):
                tasks = 4 * p
                t = w / p + o * -(-tasks // p) + sched * tasks
                row.append(f"{p} CPUs {w / t:,.0f}x")
            print(f"  {label}: " + ", ".join(row))
    ray.shutdown()


if __name__ == "__main__":
    main()
