"""Running a measurement in a fresh interpreter, so that each figure has its own peak RSS."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any


def run_child(code: str) -> dict[str, Any]:
    """Run `code` in a fresh interpreter; it prints one JSON line. Adds the child's peak RSS (MB)."""
    code = textwrap.dedent(code) + (
        "\nimport resource as _r, json as _j\n"
        "print(_j.dumps({'rss': _r.getrusage(_r.RUSAGE_SELF).ru_maxrss / 1024}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr)
    lines = proc.stdout.strip().splitlines()
    out: dict[str, Any] = json.loads(lines[-2])
    out["peak_rss_mb"] = json.loads(lines[-1])["rss"]
    return out


def sweep_to_parquet(spec_file: str, out: str) -> dict[str, Any]:
    """`costspec sweep` to Parquet (2 writer threads), timed: seconds, points, kept."""
    return run_child(f"""
        import json, time
        from costspec.spec import load
        from costspec.plan import compile_spec
        from costspec.runner import write
        plan = compile_spec(load({spec_file!r}))
        t0 = time.perf_counter()
        s = write(plan, {out!r}, fmt="parquet", threads=2)
        dt = time.perf_counter() - t0
        print(json.dumps({{"seconds": dt, "points": plan.points, "kept": s.kept}}))
    """)
