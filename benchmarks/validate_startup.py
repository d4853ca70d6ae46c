"""Start-up time (issue 14): the wall time of whole commands on one spec — `costspec validate`, a
one-point `costspec estimate --spec`, a one-point `costspec sweep` to Parquet — beside `python -c
pass` and the imports. The commands run round-robin (one of each per round, so drift in the
machine's speed falls on all alike); min and median per command, and each against its target.

Run: python benchmarks/validate_startup.py [SPEC] [--runs N]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("spec", nargs="?", default=str(ROOT / "specs" / "llama2-70b.yaml"))
    ap.add_argument("--runs", type=int, default=15)
    a = ap.parse_args()
    exe = shutil.which("costspec") or str(Path(sys.executable).with_name("costspec"))
    py = sys.executable
    name = Path(a.spec).name
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "out.parquet")
        rows: list[tuple[str, list[str], float | None]] = [
            ("python -c pass", [py, "-c", "pass"], None),
            ("import costspec.spec (loader, schema, checks)", [py, "-c", "import costspec.spec"], None),
            ("import costspec._native (the Rust engine)", [py, "-c", "import costspec._native"], None),
            (f"costspec validate {name}", [exe, "validate", a.spec], 0.15),
            (f"costspec estimate --spec {name}", [exe, "estimate", "--spec", a.spec], 0.3),
            (f"costspec sweep {name} -o out.parquet (one point)", [exe, "sweep", a.spec, "-o", out], 0.3),
        ]
        times: list[list[float]] = [[] for _ in rows]
        for _ in range(a.runs):
            for k, (_, cmd, _) in enumerate(rows):
                t = time.perf_counter()
                done = subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                times[k].append(time.perf_counter() - t)
                if done.returncode:
                    sys.exit(f"{' '.join(cmd)} failed: {done.stderr.decode(errors='replace')[-400:]}")
    print(f"{a.runs} rounds, round-robin; seconds")
    print(f"  {'min':>7} {'median':>7} {'target':>7}  {'':8} command")
    for (label, _, target), ts in zip(rows, times):
        med = statistics.median(ts)
        verdict = "" if target is None else "met" if med < target else "NOT met"
        goal = "" if target is None else f"{target:.2f}"
        print(f"  {min(ts):7.3f} {med:7.3f} {goal:>7}  {verdict:8} {label}")

if __name__ == "__main__":
    main()
