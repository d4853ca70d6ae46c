"""Output paths: costspec replaces only what it wrote, and a failed run leaves everything as it was.

Each test is a reproducer from the hostile trial (issue 9, items 1-4, 11 and 18), run through the
command line and, where it has one, the Python API.
"""

from __future__ import annotations

import os
import signal
import socket
import stat
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from harness import SPEC, call, child, cli, one_line_error, snapshot

from costspec.errors import CostspecError
from costspec.plan import compile_spec
from costspec.runner import write
from costspec.spec import load_text
from costspec.targets import clean_stale

# 10^12 points: a million GPU counts × a million values of a variable the where clause reads at
# every point (nothing to prune: it would run for many minutes).
HUGE = SPEC.replace("[64, 128]", "{range: [8, 8000008, 8]}\n    k: {range: [0, 1000000]}") + "where: [k >= 0]\n"
FAILING = SPEC + "derive:\n  x: 1 / (hardware.count - 128)\n"  # point 1 divides by zero


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    f = tmp_path / "s.yaml"
    f.write_text(SPEC)
    return f


def _no_temporaries(folder: Path) -> None:
    assert not [p.name for p in folder.rglob(".*tmp-*")]


# -- 1. a folder that is not a costspec output is never replaced ---------------------------------

@pytest.mark.parametrize("via", ["flag", "spec"])
def test_a_user_folder_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str], via: str) -> None:
    user = tmp_path / "userdir"
    user.mkdir()
    (user / "important.txt").write_text("x\n")
    (user / "sub").mkdir()
    (user / "sub" / "thesis.tex").write_text("y\n")
    spec = tmp_path / "s.yaml"
    spec.write_text(SPEC + (f"output: {{path: {user}}}\n" if via == "spec" else ""))
    before = snapshot(tmp_path)
    args = ["sweep", str(spec)] + (["-o", str(user)] if via == "flag" else [])
    code, _, err = cli(capsys, *args)
    line = one_line_error(code, err)
    assert "folder costspec did not write" in line and "important.txt" in line or "'sub'" in line
    assert snapshot(tmp_path) == before


def test_a_folder_with_a_foreign_parquet_file_is_refused(tmp_path: Path, spec: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """A part-00000.parquet that costspec did not write (no costspec metadata) is not ours either."""
    import pyarrow as pa

    out = tmp_path / "o.parquet"
    out.mkdir()
    pq.write_table(pa.table({"a": [1]}), out / "part-00000.parquet")
    before = snapshot(tmp_path)
    code, _, err = cli(capsys, "sweep", str(spec), "-o", str(out))
    assert "folder costspec did not write" in one_line_error(code, err)
    assert snapshot(tmp_path) == before


def test_a_costspec_output_folder_is_replaced(tmp_path: Path, spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "o.parquet"
    code, _, _ = cli(capsys, "sweep", str(spec), "-o", str(out), "--threads", "1", "-q")
    assert code == 0
    code, _, _ = cli(capsys, "sweep", str(spec), "-o", str(out), "--threads", "2", "-q")
    assert code == 0 and [p.name for p in out.iterdir()] == ["part-00000.parquet"]
    assert pq.read_table(out).num_rows == 2
    _no_temporaries(tmp_path)
    # An empty folder holds nothing of anyone's: it may be replaced too.
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, _ = cli(capsys, "sweep", str(spec), "-o", str(empty), "-q")
    assert code == 0 and pq.read_table(empty).num_rows == 2


def test_a_regular_file_is_replaced_atomically_only_when_complete(tmp_path: Path, spec: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "o.csv"
    out.write_text("previous\n")
    code, _, err = cli(capsys, "sweep", str(spec), "-o", str(out), "--format", "csv", "-q")
    assert code == 0, err and out.read_text().count("\n") == 3
    # A failing run leaves the previous file as it was.
    failing = tmp_path / "f.yaml"
    failing.write_text(FAILING)
    before = snapshot(tmp_path)
    code, _, err = cli(capsys, "sweep", str(failing), "-o", str(out), "--format", "csv")
    assert "division by zero" in one_line_error(code, err)
    assert snapshot(tmp_path) == before


def test_parquet_over_a_file_and_a_file_format_over_a_folder_are_refused(
        tmp_path: Path, spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "o.parquet"
    f.write_text("mine\n")
    d = tmp_path / "o.csv"
    d.mkdir()
    before = snapshot(tmp_path)
    code, _, err = cli(capsys, "sweep", str(spec), "-o", str(f))
    assert "is a file, and Parquet output is a folder" in one_line_error(code, err)
    code, _, err = cli(capsys, "sweep", str(spec), "-o", str(d), "--format", "csv")
    assert "is a folder" in one_line_error(code, err)
    assert snapshot(tmp_path) == before


# -- 2. links, pipes, devices and sockets are never replaced or written through ---------------------

def _specials(tmp_path: Path) -> dict[str, Path]:
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / "keep.txt").write_text("k\n")
    made = {"fifo": tmp_path / "fifo", "dirlink": tmp_path / "dirlink", "filelink": tmp_path / "filelink",
            "dangling": tmp_path / "dangling", "socket": tmp_path / "sock"}
    os.mkfifo(made["fifo"])
    made["dirlink"].symlink_to(target)
    made["filelink"].symlink_to(target / "keep.txt")
    made["dangling"].symlink_to(tmp_path / "nowhere")
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(made["socket"]))
    s.close()
    if os.geteuid() == 0:  # a character device, as root
        made["device"] = tmp_path / "null"
        os.mknod(made["device"], stat.S_IFCHR | 0o666, os.makedev(1, 3))
    return made


@pytest.mark.parametrize("fmt", ["parquet", "csv", "arrow"])
def test_special_targets_are_refused(tmp_path: Path, spec: Path, capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    made = _specials(tmp_path)
    before = snapshot(tmp_path)
    for name, path in made.items():
        code, _, err = cli(capsys, "sweep", str(spec), "-o", str(path), "--format", fmt)
        line = one_line_error(code, err)
        assert "never writes through or replaces links, pipes or devices" in line, (name, line)
        with pytest.raises(CostspecError):
            write(compile_spec(load_text(SPEC)), path, fmt=fmt)
    assert snapshot(tmp_path) == before


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full")
def test_dev_full_is_refused_not_replaced(spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = os.lstat("/dev/full")
    code, _, err = cli(capsys, "sweep", str(spec), "-o", "/dev/full", "--format", "csv")
    assert "is a character device" in one_line_error(code, err)
    after = os.lstat("/dev/full")
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev


@pytest.mark.parametrize("name", [".", "..", "", "  "])
def test_output_paths_without_a_name_are_refused(tmp_path: Path, spec: Path, capsys: pytest.CaptureFixture[str],
                                                 name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    before = snapshot(tmp_path)
    code, _, err = cli(capsys, "sweep", str(spec), "-o", name)
    one_line_error(code, err)
    assert snapshot(tmp_path) == before


# -- 3. a failed run leaves the previous output exactly as it was --------------------------------------

CONTRADICTED = """costspec: 1
model: {preset: llama2-70b}
training: {recompute: full}
hardware: {gpu: h100}
price: {provider: lambda}
sweep: {grid: {hardware.mfu: [0.3, 0.4]}}
solve:
  for: hardware.count
  cost_usd: 1M
  wall_clock_days: 30
"""


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_a_solving_sweep_with_no_answer_keeps_the_previous_output(
        tmp_path: Path, spec: Path, capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    out = tmp_path / f"o.{fmt}"
    code, _, _ = cli(capsys, "sweep", str(spec), "-o", str(out), "--format", fmt, "-q")
    assert code == 0
    before = snapshot(tmp_path)
    bad = tmp_path / "bad.yaml"
    bad.write_text(CONTRADICTED)
    before["bad.yaml"] = snapshot(tmp_path)["bad.yaml"]
    code, _, err = cli(capsys, "sweep", str(bad), "-o", str(out), "--format", fmt)
    assert "nothing written" in one_line_error(code, err)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("fmt", ["parquet", "arrow", "csv"])
def test_a_point_error_keeps_the_previous_output(tmp_path: Path, spec: Path, capsys: pytest.CaptureFixture[str],
                                                 fmt: str) -> None:
    out = tmp_path / f"o.{fmt}"
    assert cli(capsys, "sweep", str(spec), "-o", str(out), "--format", fmt, "-q")[0] == 0
    failing = tmp_path / "f.yaml"
    failing.write_text(FAILING)
    before = snapshot(tmp_path)
    code, _, err = cli(capsys, "sweep", str(failing), "-o", str(out), "--format", fmt)
    assert "point 1 " in one_line_error(code, err)
    assert snapshot(tmp_path) == before


# -- 4. temporaries of killed runs, links and created parent folders -----------------------------------

def _dead_pid() -> int:
    import subprocess

    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_sigkill_mid_write_leaves_a_temporary_the_next_run_cleans(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text(SPEC.replace("[64, 128]", "{range: [8, 800000000, 8]}"))
    out = tmp_path / "out.csv"
    proc = child("sweep", str(big), "-o", str(out), "--format", "csv", "--max-points", "10000000000", "--threads", "1")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(tmp_path.glob(".out.csv.tmp-*")):
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    while time.monotonic() < deadline and not any((p / "data").exists() and (p / "data").stat().st_size
                                                  for p in tmp_path.glob(".out.csv.tmp-*")):
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    left = list(tmp_path.glob(".out.csv.tmp-*"))
    assert len(left) == 1 and (left[0] / "data").stat().st_size > 0  # what SIGKILL leaves
    small = tmp_path / "s.yaml"
    small.write_text(SPEC)
    assert call("sweep", str(small), "-o", str(out), "--format", "csv", "-q")[0] == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.yaml", "out.csv", "s.yaml"]


def test_stale_temporaries_of_dead_processes_only(tmp_path: Path) -> None:
    """Only folders that carry costspec's marker (naming their process and token) are cleaned up;
    files, links and unmarked folders with look-alike names are a user's, and stay."""
    from costspec.targets import MARKER

    target = tmp_path / "o.parquet"
    dead = _dead_pid()

    def marked(token: str, pid: int = dead) -> Path:
        d = tmp_path / f".o.parquet.tmp-{pid}-{token}"
        d.mkdir()
        (d / MARKER).write_text(f"{pid} {token}\n")
        return d

    stale = marked("0123abcd")
    (stale / "part-00000.parquet").write_bytes(b"PAR1 partial")  # a part its killed run never finished
    (stale / "data").write_bytes(b"a,b\n1,")                    # or a CSV
    live = marked("0badf00d", os.getppid())                        # a live process's: left alone
    odd = marked("aaaabbbb")                                       # something else put in it: stays
    (odd / "notes.txt").write_text("user file")
    wrong = tmp_path / f".o.parquet.tmp-{dead}-cccc0000"           # a marker that does not match
    wrong.mkdir()
    (wrong / MARKER).write_text(f"{dead} 99999999\n")
    unmarked = tmp_path / f".o.parquet.tmp-{dead}-dddd0000"         # a user's folder
    unmarked.mkdir()
    (unmarked / "part-00000.parquet").write_text("the user's")
    lookalike = tmp_path / f".o.parquet.tmp-{dead}-deadbeef"        # a user's file
    lookalike.write_text("precious")
    link = tmp_path / f".o.parquet.tmp-{dead}-feedf00d"
    link.symlink_to(tmp_path / "elsewhere")
    (tmp_path / "elsewhere").mkdir()
    old_file = tmp_path / f".o.parquet.old-{dead}-eeee0000"         # a file can never be a moved output
    old_file.write_text("precious")
    before = {p.name for p in tmp_path.iterdir()}
    removed = clean_stale(target)
    assert [p.name for p in removed] == [stale.name]
    assert {p.name for p in tmp_path.iterdir()} == before - {stale.name}
    assert (odd / "notes.txt").exists() and not (odd / MARKER).exists()
    assert (unmarked / "part-00000.parquet").read_text() == "the user's" and lookalike.read_text() == "precious"
    assert old_file.read_text() == "precious" and not target.exists()


def test_user_files_named_like_temporaries_survive_a_sweep(tmp_path: Path, spec: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    dead = _dead_pid()
    (tmp_path / f".out.csv.tmp-{dead}-deadbeef").write_text("precious\n")
    (tmp_path / f".out.csv.old-{dead}-deadbeef").write_text("precious\n")
    folder = tmp_path / f".r.parquet.tmp-{dead}-cafebabe"
    folder.mkdir()
    import pyarrow as pa

    pq.write_table(pa.table({"a": [1]}), folder / "part-00000.parquet")
    before = snapshot(tmp_path)
    assert cli(capsys, "sweep", str(spec), "-o", str(tmp_path / "out.csv"), "--format", "csv", "-q")[0] == 0
    assert cli(capsys, "sweep", str(spec), "-o", str(tmp_path / "r.parquet"), "-q")[0] == 0
    after = snapshot(tmp_path)
    assert {k: v for k, v in after.items() if k in before} == before


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_failed_runs_remove_the_folders_they_created(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     fmt: str) -> None:
    failing = tmp_path / "f.yaml"
    failing.write_text(FAILING)
    before = snapshot(tmp_path)
    code, _, err = cli(capsys, "sweep", str(failing), "-o", str(tmp_path / "new" / "deep" / f"o.{fmt}"),
                       "--format", fmt)
    assert "division by zero" in one_line_error(code, err)
    assert snapshot(tmp_path) == before


def test_a_folder_made_meanwhile_is_not_removed(tmp_path: Path) -> None:
    """Parents a failed run created are removed only while empty."""
    from costspec.targets import Target

    t = Target(tmp_path / "a" / "b" / "o.csv", folder_output=False)
    t.prepare()
    (tmp_path / "a" / "user.txt").write_text("u")
    t.discard()
    assert not (tmp_path / "a" / "b").exists() and (tmp_path / "a" / "user.txt").exists()


def test_interrupted_reduction_leaves_the_previous_output(tmp_path: Path) -> None:
    """Ctrl-C during an engine reduction takes effect at once (item 19) and leaves the previous output."""
    out = tmp_path / "o.parquet"
    small = tmp_path / "s.yaml"
    small.write_text(SPEC)
    assert call("sweep", str(small), "-o", str(out), "-q")[0] == 0
    before = snapshot(tmp_path)
    big = tmp_path / "big.yaml"
    big.write_text(HUGE)
    before["big.yaml"] = ("file", big.read_bytes(), stat.S_IMODE(big.stat().st_mode))
    proc = child("sweep", str(big), "-o", str(out), "--top", "1", "--by", "cost_usd", "--max-points", "10000000000000")
    time.sleep(1.5)  # well into the reduction (it would take minutes)
    assert proc.poll() is None
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert time.monotonic() - t0 < 5, "the interrupt waited for the engine call to return"
    assert proc.returncode == 130 and "interrupted; nothing was written" in err and "Traceback" not in err
    assert snapshot(tmp_path) == before


# -- 18. the disk check counts what will be written ------------------------------------------------

def test_a_small_reduction_of_a_huge_sweep_passes_the_disk_check(tmp_path: Path) -> None:
    from costspec.runner import check_room

    huge = load_text(HUGE + "output: {keep: {top: 1, by: cost_usd, per: [gpu]}}\n")
    plan = compile_spec(huge)
    assert plan.points == 10**12
    check_room(plan, tmp_path / "o.parquet", 10**13)  # writes one row: no "may need 45375 GB"
    plain = compile_spec(load_text(HUGE))
    with pytest.raises(CostspecError, match="may need about"):
        check_room(plain, tmp_path / "o.parquet", 10**13)


# -- 10, 11, 16. output options that crashed or wrote what cannot be read -----------------------------

@pytest.mark.parametrize("fmt", ["parquet", "csv", "arrow"])
def test_columns_without_cost_or_gpu_hours(tmp_path: Path, spec: Path, capsys: pytest.CaptureFixture[str],
                                           fmt: str) -> None:
    out = tmp_path / f"o.{fmt}"
    code, stdout, err = cli(capsys, "sweep", str(spec), "-o", str(out), "--format", fmt, "--columns", "gpu,mfu")
    assert code == 0 and "Traceback" not in err and "cheapest" not in stdout
    spec.write_text(SPEC + "output: {columns: [gpus, mfu]}\n")
    code, _, err = cli(capsys, "sweep", str(spec), "-o", str(out), "--format", fmt)
    assert code == 0, err


@pytest.mark.parametrize("args,flag", [
    (["--columns", "gpu,gpu,cost_usd"], "--columns: an item is repeated"),
    (["--columns", ","], "--columns: too few items"),
    (["--columns", "cost_ud"], "--columns: unknown column 'cost_ud' (did you mean 'cost_usd'?)"),
    (["--top", "3", "--by", "gpu"], "--by: cannot rank by 'gpu'"),
    (["--top", "3", "--by", "-"], "--by: malformed value"),
    (["--top", "3", "--by", "cost_ud"], "did you mean 'cost_usd'"),
    (["--pareto", ","], "--pareto: too few items"),
    (["--pareto", "cost_usd,cost_usd"], "--pareto: an item is repeated"),
    (["--pareto", "cost_usd", "--per", "gpus"], "--per: cannot group by 'gpus'"),
    (["--top", "3"], "--top K goes with --by COLUMN"),
    (["--per", "gpu"], "--per groups a reduction"),
])
def test_bad_output_options_are_one_line_errors(tmp_path: Path, spec: Path, capsys: pytest.CaptureFixture[str],
                                                args: list[str], flag: str) -> None:
    before = snapshot(tmp_path)
    code, _, err = cli(capsys, "sweep", str(spec), "-o", str(tmp_path / "o.parquet"), *args)
    assert flag in one_line_error(code, err)
    assert snapshot(tmp_path) == before


def test_a_huge_top_k_keeps_every_point(tmp_path: Path, spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "o.parquet"
    code, _, err = cli(capsys, "sweep", str(spec), "-o", str(out), "--top", "99999999999999999999", "--by", "cost_usd")
    assert code == 0, err
    assert pq.read_table(out).num_rows == 2
    # Written columns read back, with their names once each.
    code, _, _ = cli(capsys, "sweep", str(spec), "-o", str(out), "--columns", "gpu,gpus,cost_usd", "-q")
    assert code == 0 and pq.read_table(out).column_names == ["gpu", "gpus", "cost_usd"]
