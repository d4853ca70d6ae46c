"""Outputs at a URI (issue 16: `-o s3://...`, what a cluster's workers write to), against a real S3
API (moto's server, started by the tests): equal to the local output, locally and with the Ray
executor; only costspec's outputs replaced; a failed run leaves nothing; bad URIs are one-line
errors."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from clirun import run
from test_shards import SPEC

pafs = pytest.importorskip("pyarrow.fs")
if shutil.which("moto_server", path=str(Path(sys.executable).parent)) is None:
    pytest.fail("the URI tests need moto's S3 server (pip install 'moto[server]': in the test extra)")

BAD = ("costspec: 1\nmodel: {preset: llama2-70b}\ntraining: {tokens: 2T}\nhardware: {gpu: H100-SXM, mfu: 0.4, "
       "count: \"=n\"}\nprice: {provider: lambda}\nparallelism: {tensor: 8}\nsweep: {grid: {n: [64, 128, 100, 256]}}\n")


@pytest.fixture(scope="module")
def s3() -> Iterator[str]:
    """A local S3 endpoint (moto) with a bucket; yields the URI options to append."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([str(Path(sys.executable).parent / "moto_server"), "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_EC2_METADATA_DISABLED": "true"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        opts = f"endpoint_override=127.0.0.1:{port}&scheme=http&region=us-east-1"
        fs, _ = pafs.FileSystem.from_uri(f"s3://bucket?{opts}&allow_bucket_creation=true")
        fs.create_dir("bucket")
        yield opts
    finally:
        server.terminate()
        server.wait(timeout=30)
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture()
def spec(tmp_path: Path) -> Path:
    (tmp_path / "s.yaml").write_text(SPEC)
    return tmp_path / "s.yaml"


def _fs(opts: str) -> Any:
    return pafs.FileSystem.from_uri(f"s3://bucket?{opts}")[0]


def _objects(opts: str, prefix: str) -> list[str]:
    return sorted(i.path for i in _fs(opts).get_file_info(pafs.FileSelector(f"bucket/{prefix}", recursive=True,
                                                                            allow_not_found=True))
                  if i.type == pafs.FileType.File)


def _rows(source: Any, filesystem: Any = None) -> list[tuple[object, ...]]:
    t = ds.dataset(source, filesystem=filesystem, format="parquet", partitioning="hive").to_table()
    cols = ["gpu", "params", "gpus", "dup", "cost_usd"]
    return sorted(tuple(r[c] for c in cols) for r in t.select(cols).to_pylist())


def test_an_output_at_a_uri_equals_the_local_one(spec: Path, tmp_path: Path, s3: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "sweep", str(spec), "-o", str(tmp_path / "local.parquet"), "-q")[0] == 0
    uri = f"s3://bucket/a/out.parquet?{s3}"
    code, out, err = run(capsys, "sweep", str(spec), "-o", uri)
    assert code == 0, err
    assert "output: s3://bucket/a/out.parquet" in out and s3 not in out  # (the query: not shown)
    assert _rows("bucket/a/out.parquet", _fs(s3)) == _rows(tmp_path / "local.parquet")
    # partitioned, replacing the flat output; then flat again
    assert run(capsys, "sweep", str(spec), "-o", uri, "--partition-by", "gpu", "-q")[0] == 0
    objs = _objects(s3, "a/")
    assert all("/gpu=" in o for o in objs) and not any(".tmp-" in o for o in objs)
    assert _rows("bucket/a/out.parquet", _fs(s3)) == _rows(tmp_path / "local.parquet")
    assert run(capsys, "sweep", str(spec), "-o", uri, "-q", "--top", "2", "--by", "cost_usd")[0] == 0
    assert _objects(s3, "a/") == ["bucket/a/out.parquet/part-00000.parquet"]
    left = [i.path for i in _fs(s3).get_file_info(pafs.FileSelector("bucket/a", recursive=True))]
    assert left == ["bucket/a/out.parquet", "bucket/a/out.parquet/part-00000.parquet"] or \
        sorted(left) == sorted(["bucket/a/out.parquet", "bucket/a/out.parquet/part-00000.parquet"])  # (no gpu=*/)


def test_only_costspec_outputs_are_replaced(spec: Path, s3: str, capsys: pytest.CaptureFixture[str]) -> None:
    fs = _fs(s3)
    with fs.open_output_stream("bucket/b/out.parquet/notes.txt") as f:
        f.write(b"mine")
    code, _, err = run(capsys, "sweep", str(spec), "-o", f"s3://bucket/b/out.parquet?{s3}")
    assert code == 2 and "did not write ('notes.txt')" in err and s3 not in err
    assert _objects(s3, "b/") == ["bucket/b/out.parquet/notes.txt"]
    with fs.open_output_stream("bucket/b/file.parquet") as f:
        f.write(b"x")
    code, _, err = run(capsys, "sweep", str(spec), "-o", f"s3://bucket/b/file.parquet?{s3}")
    assert code == 2 and "is a file" in err
    # a costspec output in a partition-like prefix inside the target is not a partition of it
    assert run(capsys, "sweep", str(spec), "-o", f"s3://bucket/c/runs/day=1?{s3}", "-q")[0] == 0
    code, _, err = run(capsys, "sweep", str(spec), "-o", f"s3://bucket/c/runs?{s3}")
    assert code == 2 and "did not write" in err
    assert len(_objects(s3, "c/")) == 1


def test_a_failed_run_leaves_the_previous_output(tmp_path: Path, spec: Path, s3: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    uri = f"s3://bucket/d/out.parquet?{s3}"
    assert run(capsys, "sweep", str(spec), "-o", uri, "-q")[0] == 0
    fs = _fs(s3)
    before = {p: fs.open_input_stream(p).read() for p in _objects(s3, "d/")}
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD)
    code, _, err = run(capsys, "sweep", str(bad), "-o", uri)
    assert code == 2 and "gpus: got 100" in err
    assert {p: fs.open_input_stream(p).read() for p in _objects(s3, "d/")} == before


@pytest.mark.parametrize("uri, needle", [
    ("foo://bucket/x.parquet", "not a URI pyarrow can open"),
    ("file:///tmp/x.parquet", "give a local output as a path"),
    ("s3://bucket?{}", "names no folder inside a bucket"),
    ("s3://bucket/a/../x.parquet?{}", "names no folder inside a bucket"),
    ("s3://AKIA:SEKRIT@bucket/x.csv?{}", "Parquet"),
    ("s3://missing-bucket/x.parquet?{}", "missing-bucket"),
    ("s3://bucket/x.csv?{}", "Parquet"),
])
def test_bad_uris(spec: Path, s3: str, uri: str, needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "sweep", str(spec), "-o", uri.format(s3))
    assert code == 2 and err.count("\n") == 1 and needle in err and "Traceback" not in err, err
    assert s3 not in err and "SEKRIT" not in err


def test_a_uri_in_the_spec_and_credentials_in_the_uri(spec: Path, s3: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Found by a hostile review: a URI as the spec's output.path was written as a local folder
    named like it; a URI's user information was printed."""
    spec.write_text(SPEC + f"output: {{path: 's3://bucket/f/out.parquet?{s3}'}}\n")
    code, out, err = run(capsys, "sweep", str(spec))
    assert code == 0, err
    assert _objects(s3, "f/") and not Path("s3:").exists()
    code, out, err = run(capsys, "sweep", str(spec), "-o", f"s3://test:test@bucket/f/out.parquet?{s3}")
    assert code == 0, err
    assert "test:test@" not in out + err and s3 not in out + err


def test_an_interrupt_during_a_remote_write_leaves_nothing(spec: Path, tmp_path: Path, s3: str) -> None:
    """Ctrl-C while the parts are being written: the temporary prefix is removed, nothing at the
    target (the writers are waited for on events, not on a join an interrupt can break)."""
    import signal

    big = tmp_path / "big.yaml"
    big.write_text(SPEC.replace("hardware.count: {range: [64, 1088, 64]}", "hardware.count: {range: [64, 64000064, 64]}"))
    uri = f"s3://bucket/g/out.parquet?{s3}"
    proc = subprocess.Popen([sys.executable, "-m", "costspec.cli", "sweep", str(big), "-o", uri, "--threads", "2",
                             "--max-points", "10000000000"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not any(".tmp-" in o for o in _objects(s3, "g/")):
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGSTOP)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGCONT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "nothing was written" in err, err
    time.sleep(0.5)
    assert _objects(s3, "g/") == []


def test_ray_tasks_write_to_the_uri(spec: Path, tmp_path: Path, s3: str, capsys: pytest.CaptureFixture[str]) -> None:
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")  # (workers: the env)
    try:
        assert run(capsys, "sweep", str(spec), "-o", str(tmp_path / "local.parquet"), "-q")[0] == 0
        uri = f"s3://bucket/e/out.parquet?{s3}"
        for extra in ([], ["--partition-by", "gpu"]):
            code, _, err = run(capsys, "sweep", str(spec), "--executor", "ray", "--tasks", "5", "-o", uri, "-q", *extra)
            assert code == 0, err
            assert _rows("bucket/e/out.parquet", _fs(s3)) == _rows(tmp_path / "local.parquet")
            assert not any(".tmp-" in o or ".task-" in o for o in _objects(s3, "e/"))
        bad = tmp_path / "bad.yaml"
        bad.write_text(BAD)
        before = _objects(s3, "e/")
        code, _, err = run(capsys, "sweep", str(bad), "--executor", "ray", "-o", uri)
        assert code == 2 and _objects(s3, "e/") == before
    finally:
        ray.shutdown()
    _ = pa
