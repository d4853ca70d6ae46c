"""The progress bar and the tables (issue 10): they fit the terminal, and show names as written."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from clirun import run

from costspec.terminal import UNWRAPPED, table

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
SPEC = """costspec: 1
model: {}
training: {tokens: 140B}
hardware: {mfu: 0.4}
price: {provider: lambda}
sweep:
  zip:
    - hardware.gpu: [h100, a100]
  grid:
    model.params: {geomspace: [1B, 100B], num: 50}
    hardware.count: {range: [8, 4104, 8]}
"""


def _on_terminal(args: list[str], columns: int, cwd: Path) -> tuple[list[str], str, int]:
    """Run costspec with stderr on a pseudo-terminal ``columns`` wide: the terminal lines written
    (escape sequences removed), stdout, and the exit status. Reads until the command exits: no
    timing involved."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR", "TERM")}
    env["TERM"] = "xterm-256color"
    cli = [sys.executable, "-c", "from costspec.cli import main; main()"]
    proc = subprocess.Popen([*cli, *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave,
                            env=env, cwd=cwd)
    os.close(slave)
    seen = b""
    while True:
        ready, _, _ = select.select([master], [], [], 1.0)
        if ready:
            try:
                data = os.read(master, 1 << 16)
            except OSError:  # the other end closed
                data = b""
            if not data:
                break
            seen += data
        elif proc.poll() is not None:
            break
    os.close(master)
    out = proc.communicate()[0].decode()  # (closes the pipe)
    code = proc.returncode
    text = ANSI.sub("", seen.decode("utf-8", errors="replace"))
    return [line for line in re.split(r"[\r\n]", text) if line.strip()], out, code


@pytest.mark.parametrize("columns", [80, 50])
def test_the_progress_bar_fits_the_terminal(tmp_path: Path, columns: int) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(SPEC)
    lines, out, code = _on_terminal(["sweep", str(spec), "-o", str(tmp_path / "o.parquet")], columns, tmp_path)
    assert code == 0, (out, lines)
    assert lines, "no progress bar on a terminal"
    assert max(len(line) for line in lines) <= columns, [line for line in lines if len(line) > columns]
    if columns >= 80:  # room for every figure: percent, counts with separators, rate, kept, time left
        final = [line for line in lines if "100%" in line][-1]
        assert re.search(r"100% 51,200/51,200 points · [\d,]+ points/s · 51,200 kept \d+:\d\d:\d\d", final), final
    assert "points: 51,200 evaluated, 51,200 kept" in out


def test_no_bar_off_a_terminal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(SPEC)
    code, out, err = run(capsys, "sweep", str(spec), "-o", str(tmp_path / "o.parquet"))
    assert code == 0 and err == "" and "51,200 kept" in out


def test_the_summary_shows_distinct_answers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """One row per GPU type, not five copies of one configuration differing only in GPU count."""
    spec = tmp_path / "s.yaml"
    spec.write_text(SPEC)
    code, out, _ = run(capsys, "sweep", str(spec), "-o", str(tmp_path / "o.parquet"))
    head = out.index("one row per gpu:")
    rows = out[head:].splitlines()[2:]
    assert code == 0 and len(rows) == 2 and "H100-SXM" in out and "A100" in out, out
    # One GPU type: one row per value of the other axes, the count aside.
    one = tmp_path / "one.yaml"
    one.write_text(SPEC.replace("  zip:\n    - hardware.gpu: [h100, a100]\n", "").replace("{mfu: 0.4}",
                                                                                    "{mfu: 0.4, gpu: h100}"))
    code, out, _ = run(capsys, "sweep", str(one), "-o", str(tmp_path / "p.parquet"))
    rows = out[out.index("one row per params (the gpu count aside):"):].splitlines()[2:]
    params = [r.split()[0] for r in rows]
    assert code == 0 and len(rows) == 5 and len(set(params)) == 5, out
    # Only the count swept: one answer.
    count = tmp_path / "count.yaml"
    count.write_text(SPEC.replace("  zip:\n    - hardware.gpu: [h100, a100]\n", "").replace(
        "    model.params: {geomspace: [1B, 100B], num: 50}\n", "").replace("{mfu: 0.4}", "{mfu: 0.4, gpu: h100}")
                     .replace("model: {}", "model: {params: 7B}"))
    code, out, err = run(capsys, "sweep", str(count), "-o", str(tmp_path / "q.parquet"))
    assert code == 0 and len(out[out.index("cheapest by cost_usd:"):].splitlines()) == 3, (out, err)


def test_tables_show_names_as_written_and_fit() -> None:
    cells = [["[bold]x[/bold]", "1,234"], ["a\u00e9", "5"]]
    text = table(["name", "n"], cells, right=[False, True])
    assert text.splitlines() == ["name" + " " * 16 + "n", "[bold]x[/bold]  1,234", "aé" + " " * 18 + "5"]
    assert all(line == line.rstrip() for line in text.splitlines())
    long = [["x" * 60, "y" * 60]]
    assert max(len(line) for line in table(["a", "b"], long, columns=50).splitlines()) <= 50
    assert table(["a", "b"], long, columns=UNWRAPPED).splitlines()[1] == "x" * 60 + "  " + "y" * 60
