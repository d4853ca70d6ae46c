"""costspec report's speed and page size (issue 15): the whole command, as a process, on a
1,000,000-row sweep output and on specs/scaling.yaml's output.

The 1M-row sweep: 5 GPUs × 100 model sizes × 20 token ratios × 100 GPU counts, the MFU given
(no layout search: the output, not the sweep, is what is timed), every column written.
Each measurement is `costspec report OUTPUT -o PAGE` in a fresh process (imports included), with
the JavaScript bundle cached (the usual case; its first build, ~2 s, is timed once separately).

Run: python benchmarks/report_bench.py [--rounds N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC = """
costspec: 1
name: report-bench
model: {}
training: {tokens: "=ratio * model.params"}
hardware: {mfu: 0.4}
energy: {pue: 1.1, grid_kg_co2e_per_kwh: 0.385}
sweep:
  zip:
    - hardware.gpu: [A100-80GB, H100-SXM, H200, B200, MI300X]
      price.provider: [lambda, lambda, nebius, lambda, vultr]
  grid:
    model.params: {geomspace: [1B, 1T], num: 100}
    ratio: {linspace: [10, 30], num: 20}
    hardware.count: {range: [128, 12928, 128]}
"""


def costspec(*args: str, env: dict[str, str]) -> float:
    exe = Path(sys.executable).with_name("costspec")
    t0 = time.perf_counter()
    subprocess.run([str(exe), *args], check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        env = dict(os.environ, XDG_CACHE_HOME=str(tmp / "cache"))
        (tmp / "bench.yaml").write_text(SPEC)
        costspec("sweep", str(tmp / "bench.yaml"), "-o", str(tmp / "bench.parquet"), "-q", env=env)
        costspec("sweep", str(ROOT / "specs" / "scaling.yaml"), "-o", str(tmp / "scaling.parquet"), "-q", env=env)
        import pyarrow.parquet as pq

        rows = pq.read_metadata(next((tmp / "bench.parquet").iterdir())).num_rows
        rows += sum(pq.read_metadata(p).num_rows for p in sorted((tmp / "bench.parquet").iterdir())[1:])
        cold = costspec("report", str(tmp / "scaling.parquet"), "-o", str(tmp / "cold.html"), env=env)
        print(f"first report on this machine (the JavaScript bundle built and cached): {cold:.2f} s")
        for name, out, n in (("1M-row sweep", tmp / "bench.parquet", rows),
                             ("specs/scaling.yaml", tmp / "scaling.parquet", None)):
            times = [costspec("report", str(out), "-o", str(tmp / "page.html"), env=env) for _ in range(a.rounds)]
            size = (tmp / "page.html").stat().st_size
            png = costspec("report", str(out), "--format", "png", "-o", str(tmp / "png"), env=env)
            label = f"{name} ({n:,} rows)" if n else name
            print(f"{label}: report {min(times):.2f} s min, {statistics.median(times):.2f} s median "
                  f"(target < 3 s); page {size / 1e6:.2f} MB (target < 5 MB); PNGs {png:.2f} s")


if __name__ == "__main__":
    main()
