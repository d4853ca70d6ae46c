"""The README's two commands stay at its top, and .ci/run runs the test command as written."""

from __future__ import annotations

import re
from pathlib import Path

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
