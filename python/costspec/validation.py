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


def run_validate(paths: tuple[str, ...], fmt: str | None, allow_include_outside: bool = False,
                 quiet: bool = False, sets: tuple[str, ...] = ()) -> int:
    """Check every spec found under ``paths`` (``-``: one spec read from stdin) and print the
    report in ``fmt``; returns the exit status (0 valid, 1 invalid)."""
    from costspec.renderers import RENDERERS
    from costspec.spec import validate_text

    if fmt is None:
        fmt = "github" if os.environ.get("GITHUB_ACTIONS") == "true" else "text"
    results: list[tuple[Path, list[SpecError]]] = []
    for p in paths:
        if p == "-":
            results.append((Path("<stdin>"), _validate_stdin(allow_include_outside, validate_text, sets)))
            continue
        for f in find_files((p,)):
            results.append((f, validate(f, allow_include_outside=allow_include_outside, sets=sets)))
    seen: set[str] = set()
    unique = []
    for f, errs in results:  # each file once (a file named twice, or through a link)
        try:
            key = str(f.resolve()) if str(f) != "<stdin>" else "<stdin>"
        except (OSError, RuntimeError):
            key = str(f)
        if key not in seen:
            seen.add(key)
            unique.append((f, errs))
    sys.stdout.write(RENDERERS[fmt](unique, quiet=quiet))
    return 1 if any(errs for _, errs in unique) else 0


def stdin_text() -> str:
    """A spec piped in, read as '<stdin>': at most 1 MiB of UTF-8. Raises SpecError."""
    from costspec.yamlio import MAX_BYTES

    raw = sys.stdin.buffer.read(MAX_BYTES + 1)
    if len(raw) > MAX_BYTES:
        raise SpecError("<stdin>", 1, 1, "", f"the file is larger than the {MAX_BYTES:,}-byte limit")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise SpecError("<stdin>", line, 1, "", f"not UTF-8 text ({e.reason} at byte {e.start})") from None


def _validate_stdin(allow_include_outside: bool, validate_text: Any, sets: tuple[str, ...] = ()) -> list[SpecError]:
    """A spec piped in, checked as '<stdin>' (includes relative to the current folder)."""
    try:
        text = stdin_text()
    except SpecError as e:
        return [e]
    errors: list[SpecError] = validate_text(text, "<stdin>", allow_include_outside=allow_include_outside,
                                                 sets=sets)
    return errors
