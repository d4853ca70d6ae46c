"""The hostile suite's harness: snapshots of folders, one-line errors, child processes."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # clirun, reference

from clirun import run  # noqa: E402

SPEC = """costspec: 1
model: {params: 7B}
training: {tokens: 140B}
hardware: {gpu: h100, mfu: 0.4}
price: {provider: lambda}
sweep:
  grid:
    hardware.count: [64, 128]
"""


def snapshot(root: Path) -> dict[str, Any]:
    """Every entry under ``root`` (links not followed): kind and content, for byte-identical checks."""
    out: dict[str, Any] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = os.lstat(p)
            rel = str(p.relative_to(root))
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(p))
            elif stat.S_ISREG(st.st_mode):
                out[rel] = ("file", p.read_bytes(), stat.S_IMODE(st.st_mode))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", stat.S_IMODE(st.st_mode))
            else:
                out[rel] = ("special", stat.S_IFMT(st.st_mode), st.st_rdev)
    return out


def one_line_error(code: int, err: str, exit_code: int = 2, many: bool = False) -> str:
    """Assert a failed command printed exactly one error line (with ``many``: one line per problem,
    as a spec with several problems gets) and no traceback; return the first line."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == exit_code, err
    assert "Traceback" not in err, err
    assert len(lines) == 1 or (many and lines), err
    assert all(line.startswith("costspec") and "error:" in line for line in lines), err
    return lines[0]


def child(*args: str, cwd: Path | None = None, **kw: Any) -> subprocess.Popen[str]:
    """`costspec ARGS...` in a child process."""
    return subprocess.Popen([sys.executable, "-m", "costspec.cli", *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def call(*args: str, cwd: Path | None = None) -> tuple[int, str, str]:
    """`costspec ARGS...` in a child process, to the end: (exit status, stdout, stderr)."""
    proc = child(*args, cwd=cwd)
    out, err = proc.communicate(timeout=300)
    return proc.returncode, out, err


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    return run(capsys, *args)


def thread_count() -> int:
    """OS threads of this process (Linux), or Python's count elsewhere."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()
