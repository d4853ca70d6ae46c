"""``costspec validate``: find spec files, check them, report in text, JSON or GitHub annotations."""

from __future__ import annotations

import fnmatch
import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

import click

from costspec.errors import SpecError
from costspec.spec import validate

SUFFIXES = (".yaml", ".yml", ".json")


class UsageProblem(click.UsageError):
    pass


MAX_FILES = 100_000  # spec files one run checks at most


def find_files(paths: tuple[str, ...]) -> list[Path]:
    """Files as given, spec files under folders (recursively), and glob matches, in order, each
    once (by its real path). Searching never follows a link to a folder (a link loop cannot hang
    it) and takes a linked file only when it resolves inside the folder searched."""
    found: list[Path] = []
    for p in paths:
        path = Path(p)
        if any(ch in p for ch in "*?["):
            hits = _glob(p)
            if not hits:
                raise UsageProblem(f"no files match {p}")
            found.extend(hits)
        elif path.is_dir():
            hits = sorted(_walk(path, lambda rel: rel.suffix.lower() in SUFFIXES))
            if not hits:
                raise UsageProblem(f"no spec files (*.yaml, *.yml, *.json) under {p}")
            found.extend(hits)
        elif os.path.lexists(path):
            found.append(path)  # named by the user: read as given (bounded, whatever it is)
        else:
            raise UsageProblem(f"no such file or folder: {p}")
        if len(found) > MAX_FILES:
            raise UsageProblem(f"more than {MAX_FILES:,} files to check; give narrower paths")
    seen: set[str] = set()
    out = []
    for f in found:
        try:
            key = str(f.resolve())
        except (OSError, RuntimeError):
            key = str(f)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def _walk(root: Path, keep: Any) -> list[Path]:
    """Regular files under ``root`` whose path relative to it ``keep`` accepts; hidden files and
    folders are skipped, links to folders not followed, links to files taken only when they
    resolve inside ``root``. Iterative (a folder 1,500 levels deep is no recursion error)."""
    real_root = root.resolve()
    out: list[Path] = []
    stack = [root]
    while stack:
        here = stack.pop()
        try:
            with os.scandir(here) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            continue
        folders = []
        for e in entries:
            if e.name.startswith("."):  # .git, .venv, ...
                continue
            f = Path(e.path)
            try:
                if e.is_dir(follow_symlinks=False):
                    folders.append(f)
                    continue
                if e.is_symlink():
                    target = f.resolve(strict=True)
                    if not target.is_relative_to(real_root) or not target.is_file():
                        continue
                elif not e.is_file(follow_symlinks=False):
                    continue
            except (OSError, RuntimeError):
                continue
            if keep(f.relative_to(root)):
                out.append(f)
                if len(out) > MAX_FILES:
                    raise UsageProblem(f"more than {MAX_FILES:,} files under {root}; give narrower paths")
        stack.extend(reversed(folders))
    return sorted(out)


def _glob(pattern: str) -> list[Path]:
    """Files matching a glob (``**`` spans folders), found by walking from the pattern's literal
    prefix without following links to folders."""
    parts = Path(pattern).parts
    first = next(i for i, part in enumerate(parts) if any(ch in part for ch in "*?["))
    base = Path(*parts[:first]) if first else Path(".")
    rest: list[str] = []
    for part in parts[first:]:  # '**/**' is '**'
        if not (part == "**" and rest and rest[-1] == "**"):
            rest.append(part)
    if not base.is_dir():
        return []
    pattern_parts = tuple(rest)
    return _walk(base, lambda rel: _match(rel.parts, pattern_parts))


def _match(names: tuple[str, ...], pattern: tuple[str, ...]) -> bool:
    """Whether path components match glob components (``**``: zero or more components; hidden
    names match only a pattern that starts with a dot, as in the shell). A table over (component,
    pattern part), filled from the end: time proportional to names × pattern, no recursion."""
    n = len(names)
    # after[i]: names[i:] matches pattern[j + 1:] (for the j of the previous round)
    after = [i == n for i in range(n + 1)]
    for head in reversed(pattern):
        now = [False] * (n + 1)
        for i in range(n, -1, -1):
            if head == "**":
                now[i] = after[i] or (i < n and not names[i].startswith(".") and now[i + 1])
            elif i < n and not (names[i].startswith(".") and not head.startswith(".")):
                now[i] = after[i + 1] and fnmatch.fnmatchcase(names[i], head)
        after = now
    return after[0]


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


def run_validate(paths: tuple[str, ...], fmt: str | None, allow_include_outside: bool = False) -> int:
    if fmt is None:
        fmt = "github" if os.environ.get("GITHUB_ACTIONS") == "true" else "text"
    files = find_files(paths)
    results = [(f, validate(f, allow_include_outside=allow_include_outside)) for f in files]
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
