"""The README's two commands stay at its top, and .ci/run runs the test command as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```sh\n(.+?)\n```", text, flags=re.S)[:2]


def test_ci_runs_the_readme_test_command() -> None:
    install_and_run, install_and_test = readme_commands()
    assert "costspec sweep specs/scaling.yaml" in install_and_run
    assert "pytest" in install_and_test and "cargo test" in install_and_test
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert install_and_test in ci


def test_readme_shows_the_current_palm_figure() -> None:
    import costspec

    e = costspec.estimate(model="palm-540b", tokens="780B", convention="palm", gpu="tpu-v4", mfu=0.462)
    assert f"{e.model_flops:.5g}" in (ROOT / "README.md").read_text()


def shown_runs() -> list[tuple[str, str]]:
    """Every `$ costspec ...` the README shows in a text block, with the output it shows."""
    text = (ROOT / "README.md").read_text()
    runs = []
    for block in re.findall(r"```text\n(.+?)\n```", text, flags=re.S):
        for part in re.split(r"^\$ ", block, flags=re.M)[1:]:
            command, _, shown = part.partition("\n")
            runs.append((command.split("  #")[0].strip(), shown.rstrip("\n")))
    return runs


def _matches(shown: str, actual: str) -> bool:
    """A shown line matches its actual line; '(...)' in it stands for any text."""
    if "(...)" not in shown:
        return shown == actual
    head, _, tail = shown.partition("(...)")
    return actual.startswith(head) and actual.endswith(tail) and len(actual) >= len(head) + len(tail)


@pytest.mark.parametrize("command,shown", shown_runs(), ids=[c for c, _ in shown_runs()])
def test_readme_output_is_what_the_command_prints(command: str, shown: str, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """The README's examples print what it shows (times aside). Sweeps run in a copy of specs/."""
    import shlex
    import shutil

    from clirun import run

    args = shlex.split(command)
    assert args[0] == "costspec"
    if args[1] == "sweep":
        shutil.copytree(ROOT / "specs", tmp_path / "specs")
        monkeypatch.chdir(tmp_path)
    else:
        monkeypatch.chdir(ROOT)
    monkeypatch.setenv("COLUMNS", "200")
    _, out, err = run(capsys, *args[1:])
    actual = (out + err).splitlines()
    i = 0
    skipping = False  # a line '...' stands for any lines
    for want in shown.splitlines():
        if want == "...":
            skipping = True
            continue
        while skipping and i < len(actual) and not _matches(want, actual[i]):
            i += 1
        assert i < len(actual), f"README: {want!r}\nprints nothing more:\n" + "\n".join(actual)
        got = actual[i]
        if not (want.startswith("time: ") and got.startswith("time: ")):  # (times are measured)
            assert _matches(want, got), f"README: {want!r}\nprints: {got!r}"
        i += 1
        skipping = False
    assert skipping or i == len(actual), "prints more than the README shows:\n" + "\n".join(actual[i:])


@pytest.mark.parametrize("args", [[], ["--measured"], ["--check"]])
def test_the_memory_practice_table_is_what_its_script_prints(args: list[str]) -> None:
    import subprocess
    import sys

    printed = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "memory_practice.py"), *args],
                             capture_output=True, text=True, check=True).stdout.strip()
    assert printed.count("\n") > 5 and printed in (ROOT / "README.md").read_text(encoding="utf-8")
