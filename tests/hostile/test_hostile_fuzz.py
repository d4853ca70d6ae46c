"""Hypothesis over output targets: whatever stands at the path (nothing, a file, a user's folder,
costspec's own output, a link, a pipe, missing parents), whatever the format, and whether the run
succeeds or fails, costspec either replaces only what it may or leaves everything byte-identical,
and never leaves a temporary behind."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness import SPEC, run, snapshot

FAILING = SPEC + "derive:\n  x: 1 / (hardware.count - 128)\n"
KINDS = ["missing", "missing-parents", "file", "empty-dir", "user-dir", "own-output", "foreign-parquet",
         "link-to-file", "link-to-dir", "dangling-link", "fifo", "file-as-parent"]


def _make(root: Path, kind: str, capsys: pytest.CaptureFixture[str]) -> Path:
    """Put a `kind` of thing at root/target (some with a user file beside it) and return the target."""
    (root / "beside.txt").write_text("the user's\n")
    target = root / "target"
    if kind == "missing-parents":
        return root / "a" / "b" / "target"
    if kind == "file":
        target.write_text("previous\n")
    elif kind == "empty-dir":
        target.mkdir()
    elif kind == "user-dir":
        target.mkdir()
        (target / "thesis.tex").write_text("years of work\n")
    elif kind == "own-output":
        spec = root / "own.yaml"
        spec.write_text(SPEC)
        assert run(capsys, "sweep", str(spec), "-o", str(target), "-q")[0] == 0
    elif kind == "foreign-parquet":
        target.mkdir()
        pq.write_table(pa.table({"a": [1]}), target / "part-00000.parquet")
    elif kind == "link-to-file":
        (root / "real.txt").write_text("real\n")
        target.symlink_to(root / "real.txt")
    elif kind == "link-to-dir":
        (root / "realdir").mkdir()
        (root / "realdir" / "x").write_text("x\n")
        target.symlink_to(root / "realdir")
    elif kind == "dangling-link":
        target.symlink_to(root / "nowhere")
    elif kind == "fifo":
        os.mkfifo(target)
    elif kind == "file-as-parent":
        (root / "plain").write_text("a file\n")
        return root / "plain" / "target"
    return target


def _may_replace(kind: str, fmt: str) -> bool:
    if fmt == "parquet":
        return kind in ("missing", "missing-parents", "empty-dir", "own-output")
    return kind in ("missing", "missing-parents", "file")


@given(kind=st.sampled_from(KINDS), fmt=st.sampled_from(["parquet", "csv", "arrow"]), fails=st.booleans(),
       reduce=st.booleans())
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_output_targets(capsys: pytest.CaptureFixture[str], kind: str, fmt: str, fails: bool, reduce: bool) -> None:
    root = Path(tempfile.mkdtemp(prefix="costspec-fuzz-"))
    try:
        target = _make(root, kind, capsys)
        spec = root / "run.yaml"
        spec.write_text(FAILING if fails else SPEC)
        before = snapshot(root)
        args = ["sweep", str(spec), "-o", str(target), "--format", fmt, "-q"]
        if reduce:
            args += ["--top", "1", "--by", "cost_usd"]
        code, _, err = run(capsys, *args)
        after = snapshot(root)
        assert "Traceback" not in err
        assert not [p for p in after if ".tmp-" in p], after.keys()
        if fails or not _may_replace(kind, fmt):
            assert code == 2 and err.count("\n") == 1, err
            assert after == before
            return
        assert code == 0, err
        rel = str(target.relative_to(root))
        changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
        assert all(k == rel or k.startswith(rel + "/") or rel.startswith(k + "/") for k in changed), changed
        if fmt == "parquet":
            assert pq.read_table(target).num_rows == (1 if reduce else 2)
        else:
            assert target.is_file() and not target.is_symlink() and target.stat().st_size > 0
    finally:
        shutil.rmtree(root, ignore_errors=True)
