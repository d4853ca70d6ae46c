"""Start-up time of `costspec validate` on one spec file (issue 3): wall time of the whole command,
median of several runs, beside `python -c pass`, the imports, and a one-point estimate (the
same spec through the engine).

Run: python benchmarks/validate_startup.py [SPEC] [--runs N]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(cmd: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("spec", nargs="?", default=str(ROOT / "specs" / "llama2-70b.yaml"))
    ap.add_argument("--runs", type=int, default=15)
    a = ap.parse_args()
    exe = shutil.which("costspec") or str(Path(sys.executable).with_name("costspec"))
    py = sys.executable
    rows = [
        ("python -c pass", [py, "-c", "pass"]),
        ("import costspec.spec (loader, schema, checks)", [py, "-c", "import costspec.spec"]),
        ("import costspec._native (the Rust engine)", [py, "-c", "import costspec._native"]),
        (f"costspec validate {Path(a.spec).name}", [exe or "costspec", "validate", a.spec]),
        (f"costspec estimate --spec {Path(a.spec).name}", [exe or "costspec", "estimate", "--spec", a.spec]),
    ]
    print(f"median of {a.runs} runs each")
    for name, cmd in rows:
        print(f"  {timed(cmd, a.runs) * 1000:7.1f} ms  {name}")


if __name__ == "__main__":
    main()
