"""The hand-written stub matches the native module, and the package type-checks strictly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_native_stub_matches_module() -> None:
    proc = subprocess.run([sys.executable, "-m", "mypy.stubtest", "costspec._native"],
                          capture_output=True, text=True, check=False, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_package_type_checks() -> None:
    proc = subprocess.run([sys.executable, "-m", "mypy", "--strict", "-p", "costspec"],
                          capture_output=True, text=True, check=False, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
