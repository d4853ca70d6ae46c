"""``costspec validate``: find spec files, check them, report in text, JSON or GitHub annotations."""

from __future__ import annotations

import glob
import json
import os
import sys
from pathlib import Path

import click

from costspec.errors import SpecError
from costspec.spec import validate

SUFFIXES = (".yaml", ".yml", ".json")


class UsageProblem(click.UsageError):
    pass


def find_files(paths: tuple[str, ...]) -> list[Path]:
    """Files as given, spec files under folders (recursively), and glob matches, in order."""
    found: list[Path] = []
    for p in paths:
        path = Path(p)
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            hits = sorted(f for f in path.rglob("*") if f.suffix.lower() in SUFFIXES and f.is_file())
            if not hits:
                raise UsageProblem(f"no spec files (*.yaml, *.yml, *.json) under {p}")
            found.extend(hits)
        elif any(ch in p for ch in "*?["):
            hits = sorted(Path(h) for h in glob.glob(p, recursive=True) if Path(h).is_file())
            if not hits:
                raise UsageProblem(f"no files match {p}")
            found.extend(hits)
        else:
            raise UsageProblem(f"no such file or folder: {p}")
    return list(dict.fromkeys(found))


def _escape_data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(s: str) -> str:
    return _escape_data(s).replace(":", "%3A").replace(",", "%2C")


def github_annotation(e: SpecError) -> str:
    """A GitHub Actions workflow command that puts the error on the file's line."""
    props = f"file={_escape_property(e.file)},line={e.line},col={e.column},title={_escape_property('costspec validate')}"
    message = f"{e.path}: {e.message}" if e.path else e.message
    detail = "; ".join(x for x in (f"expected {e.expected}" if e.expected else "", f"found {e.found}" if e.found else "") if x)
    return f"::error {props}::{_escape_data(message + (f' ({detail})' if detail else ''))}"


def run_validate(paths: tuple[str, ...], fmt: str | None) -> int:
    if fmt is None:
        fmt = "github" if os.environ.get("GITHUB_ACTIONS") == "true" else "text"
    files = find_files(paths)
    results = [(f, validate(f)) for f in files]
    invalid = [(f, errs) for f, errs in results if errs]
    n_errors = sum(len(e) for _, e in invalid)
    summary = (f"{len(files)} file{'s' if len(files) != 1 else ''} checked: {len(files) - len(invalid)} valid, "
               f"{len(invalid)} invalid" + (f" ({n_errors} error{'s' if n_errors != 1 else ''})" if invalid else ""))
    if fmt == "json":
        payload = {
            "valid": not invalid,
            "checked": len(files),
            "files": [{"file": str(f), "valid": not errs, "errors": [e.as_dict() for e in errs]} for f, errs in results],
        }
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
    else:
        for _, errs in invalid:
            for e in errs:
                sys.stdout.write((github_annotation(e) if fmt == "github" else e.format()) + "\n")
        sys.stdout.write(summary + "\n")
    return 1 if invalid else 0
