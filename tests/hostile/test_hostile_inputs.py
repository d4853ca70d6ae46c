"""Inputs: no file's content leaks into an error, no read is unbounded, no search hangs, and no
crafted name can forge a line of output (issue 9, items 5, 6, 9 and 17)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness import child, cli, one_line_error

import costspec
from costspec import Catalog, CatalogError

SECRET = "sup3r-s3cret-t0ken"
# A file whose top-level keys, values, tags and aliases are all secrets: none may appear anywhere.
FOREIGN = {
    "keys.yaml": f"{SECRET}: 1\nroot:*:{SECRET}:0:: 2\n",
    "shadow": f"root:*:19000:0:99999:7:::\n_apt:*:{SECRET}::\n",  # /etc/shadow-like: plain scalars
    "dup.yaml": f"{SECRET}: 1\n{SECRET}: 2\n",
    "tag.yaml": f"gpus: !{SECRET} [1]\n",
    "alias.yaml": f"gpus: *{SECRET}\n",
    "syntax.yaml": f"gpus: [{SECRET}\n",
    "bool.yaml": f"gpus: !!bool {SECRET}\n",
    "number.yaml": f"gpus: !!int {SECRET}\n",
    "entry.yaml": f"gpus: [{SECRET}]\nprices: []\n",
    "figure.yaml": f"gpus:\n  - id: {SECRET}\n    peak_tflops: {{bf16: {SECRET}}}\n",
    "precision.yaml": f"gpus:\n  - id: a\n    peak_tflops: {{{SECRET}: 3}}\n",
    "arch.yaml": f"models:\n  - id: m\n    params: 1\n    architecture: {{{SECRET}: 1}}\n",
    "price.yaml": f"prices:\n  - {{provider: p, gpu: {SECRET}, usd_per_gpu_hour: 1}}\n",
    "list.yaml": f"- {SECRET}\n",
    "utf8.yaml": SECRET + "\xff",
}


def _spec(folder: Path, include: str, name: str = "s.yaml") -> Path:
    f = folder / name
    f.write_text("costspec: 1\nmodel: {params: 7B}\ntraining: {tokens: 140B}\nhardware: {gpu: h100, mfu: 0.4}\n"
                 f"catalog: {{include: [{json.dumps(include)}]}}\n")
    return f


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    (tmp_path / "repo" / "specs").mkdir()
    return tmp_path / "repo"


# -- 5. includes: inside the repository, and never echoed ------------------------------------------

@pytest.mark.parametrize("name", sorted(FOREIGN))
@pytest.mark.parametrize("fmt", ["text", "json", "github"])
def test_a_foreign_catalog_never_leaks(repo: Path, capsys: pytest.CaptureFixture[str], name: str, fmt: str) -> None:
    data = FOREIGN[name]
    (repo / name).write_bytes(data.encode("utf-8", "surrogateescape") if name != "utf8.yaml"
                              else SECRET.encode() + b"\xff")
    spec = _spec(repo / "specs", f"../{name}")
    code, out, err = cli(capsys, "validate", "--format", fmt, str(spec))
    assert code == 1 and SECRET not in out + err and "Traceback" not in out + err
    assert f"{name}:" in out  # located in the included file
    for cmd in (["plan", str(spec)], ["sweep", str(spec), "-o", str(repo / "o.parquet")],
                ["estimate", "--spec", str(spec)]):
        code, out, err = cli(capsys, *cmd)
        one_line_error(code, err)
        assert SECRET not in out + err
    assert all(SECRET not in str(e) for e in costspec.validate(spec))
    code, out, err = cli(capsys, "catalog", "gpus", "--catalog", str(repo / name))
    assert SECRET not in out + err and "Traceback" not in err
    with pytest.raises(CatalogError) as e:
        Catalog.load([repo / name])
    assert SECRET not in str(e.value)


def test_includes_leave_the_repository_only_when_allowed(repo: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text("gpus: [{id: Acme-X1, peak_tflops: {bf16: 500}, memory_gb: 96}]\n")
    for inc in (str(outside), "../../outside.yaml", "/etc/shadow", "/etc/passwd", "link.yaml"):
        (repo / "specs" / "link.yaml").unlink(missing_ok=True)
        (repo / "specs" / "link.yaml").symlink_to(outside)  # a link inside that leads outside
        spec = _spec(repo / "specs", inc)
        code, out, _ = cli(capsys, "validate", str(spec))
        assert code == 1 and "leads outside the spec's repository" in out and str(repo) in out, out
        assert "root:" not in out
        with pytest.raises(costspec.SpecError, match="leads outside"):
            costspec.load(spec)
    code, out, _ = cli(capsys, "validate", "--allow-include-outside", str(spec))
    assert code == 0, out
    assert costspec.load(spec, allow_include_outside=True).catalog.gpu("x1" if False else "Acme-X1").id == "Acme-X1"
    # Relative to the spec (not the current folder), and anywhere inside the repository.
    (repo / "cat.yaml").write_text(outside.read_text())
    spec = _spec(repo / "specs", "../cat.yaml")
    code, out, _ = cli(capsys, "validate", str(spec))
    assert code == 0, out
    # Without a .git above, the spec's own folder is the boundary.
    loose = tmp_path / "loose"
    loose.mkdir()
    (loose / "cat.yaml").write_text(outside.read_text())
    assert cli(capsys, "validate", str(_spec(loose, "cat.yaml")))[0] == 0
    assert cli(capsys, "validate", str(_spec(loose, "../outside.yaml")))[0] == 1


# -- 6. every read is bounded by bytes actually read --------------------------------------------------

@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_devices_are_bounded(repo: Path, capsys: pytest.CaptureFixture[str], device: str) -> None:
    if not Path(device).exists():
        pytest.skip(f"no {device}")
    code, out, err = cli(capsys, "validate", device)
    assert code == 1 and "larger than the 1,048,576-byte limit" in out and "Traceback" not in err
    code, _, err = cli(capsys, "sweep", device)
    assert "larger than" in one_line_error(code, err)
    spec = _spec(repo / "specs", device)
    code, out, _ = cli(capsys, "validate", "--allow-include-outside", str(spec))
    assert code == 1 and "not a regular file" in out
    code, _, err = cli(capsys, "catalog", "gpus", "--catalog", device)
    assert "larger than" in one_line_error(code, err)


def test_an_endless_pipe_is_bounded(tmp_path: Path) -> None:
    """`costspec sweep <(yes '#')`: read until 1 MiB, then a one-line error."""
    yes = subprocess.Popen(["yes", "#"], stdout=subprocess.PIPE)
    try:
        assert yes.stdout is not None
        proc = subprocess.run([sys.executable, "-m", "costspec.cli", "sweep", f"/dev/fd/{yes.stdout.fileno()}"],
                              pass_fds=[yes.stdout.fileno()], capture_output=True, text=True, timeout=60,
                              cwd=tmp_path)
    finally:
        yes.kill()
        yes.communicate()
    assert "larger than" in one_line_error(proc.returncode, proc.stderr)
    assert list(tmp_path.iterdir()) == []


def test_a_named_pipe_without_a_writer_does_not_block(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fifo = tmp_path / "spec.yaml"
    os.mkfifo(fifo)
    proc = child("validate", str(fifo))
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1 and "a spec is a mapping" in out
    # A folder search takes regular files only: the pipe is not opened.
    (tmp_path / "ok.yaml").write_text("costspec: 1\nmodel: {params: 7B}\ntraining: {tokens: 1T}\n"
                                      "hardware: {gpu: h100, mfu: 0.4}\n")
    proc = child("validate", str(tmp_path))
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "1 file checked" in out


# -- 9. searching folders and globs: no link loop, each file once ---------------------------------------

def test_link_loops_and_duplicates(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "specs" / "a").mkdir(parents=True)
    ok = "costspec: 1\nmodel: {params: 7B}\ntraining: {tokens: 1T}\nhardware: {gpu: h100, mfu: 0.4}\n"
    (tmp_path / "specs" / "a" / "x.yaml").write_text(ok)
    (tmp_path / "specs" / "y.yaml").write_text(ok)
    (tmp_path / "specs" / "a" / "up").symlink_to("..")  # a loop
    (tmp_path / "specs" / "a" / "self").symlink_to(".")  # another
    (tmp_path / "specs" / "same.yaml").symlink_to("y.yaml")  # the same file under another name
    (tmp_path / "specs" / "passwd.yaml").symlink_to("/etc/passwd")  # leads outside: skipped
    (tmp_path / "specs" / ".hidden.yaml").write_text("not: a spec\n")
    for args in (["**/*.yaml"], ["specs"], ["specs/**/*.yaml"], ["specs", "specs/y.yaml", "specs/**/*.yaml"]):
        proc = child("validate", *args, cwd=tmp_path)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, (args, out, err)
        assert "2 files checked: 2 valid" in out, (args, out)
    # A file named on the command line is read as given, link or not.
    code, out, _ = cli(capsys, "validate", "specs/passwd.yaml")
    assert code == 1 and "1 file checked" in out


# -- 17. control characters in names cannot forge output lines -------------------------------------------

@pytest.mark.parametrize("fmt", ["text", "github", "json"])
def test_crafted_keys_and_names_stay_on_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text('costspec: 1\nmodel: {params: 7B}\ntraining: {tokens: 1T}\nhardware: {gpu: h100, mfu: 0.4}\n'
                    '"x\\n::error file=forged.yaml,line=1::pwned\\r\\n\\u001b[2J\\u202e": 1\n')
    code, out, _ = cli(capsys, "validate", "--format", fmt, str(spec))
    assert code == 1
    lines = out.splitlines()
    if fmt == "json":
        payload = json.loads(out)
        assert "\n" not in payload["files"][0]["errors"][0]["path"]
    else:
        assert len(lines) == 2 and not any(line.startswith("::error file=forged") for line in lines)
    assert "\x1b" not in out and "\u202e" not in out and "\r" not in out


def test_a_crafted_file_name_stays_on_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "a\n::error file=forged.yaml::x.yaml"
    spec.write_text("costspec: 2\nmodel: {params: 7B}\ntraining: {tokens: 1T}\nhardware: {gpu: h100, mfu: 0.4}\n")
    code, out, _ = cli(capsys, "validate", "--format", "github", str(tmp_path))
    assert code == 1 and not any(line.startswith("::error file=forged") for line in out.splitlines())
    code, _, err = cli(capsys, "sweep", str(spec))
    assert "\\n::error" in one_line_error(code, err)
