"""One renderer per output format of `costspec validate`: text, json, github (Actions
annotations) and sarif (code scanning). Each takes the checked files with their problems and
returns the text to print."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from costspec.diagnostics import BY_CODE, CODES, UNCLASSIFIED
from costspec.errors import SpecError

Results = list[tuple[Path, list[SpecError]]]


def summary(results: Results) -> str:
    files = len(results)
    invalid = [errs for _, errs in results if errs]
    n = sum(len(e) for e in invalid)
    return (f"{files} file{'s' if files != 1 else ''} checked: {files - len(invalid)} valid, {len(invalid)} invalid"
            + (f" ({n} error{'s' if n != 1 else ''})" if invalid else ""))


def text(results: Results, quiet: bool = False) -> str:
    """`file:line:column: path: message (expected ...; found ...) [CODE]`, then a summary line."""
    # (a value from the command line has no line: the file it was set on leads)
    lines = [f"{e.file}: " * bool(e.flag) + f"{e.format()} [{e.code}]" for _, errs in results for e in errs]
    if not quiet:
        lines.append(summary(results))
    return "".join(line + "\n" for line in lines)


def json_(results: Results, quiet: bool = False) -> str:
    payload = {
        "valid": not any(errs for _, errs in results),
        "checked": len(results),
        "files": [{"file": str(f), "valid": not errs, "errors": [e.as_dict() for e in errs]}
                  for f, errs in results if errs or not quiet],
    }
    return json.dumps(payload, indent=2) + "\n"


def _escape_data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(s: str) -> str:
    return _escape_data(s).replace(":", "%3A").replace(",", "%2C")


def github_annotation(e: SpecError) -> str:
    """A GitHub Actions workflow command that puts the error on the file's line."""
    where = f"line={e.line},col={e.column}," if e.line else ""  # (a --set value has no line)
    props = f"file={_escape_property(e.file)},{where}title={_escape_property(f'costspec validate ({e.code})')}"
    message = f"{e.path}: {e.message}" if e.path else e.message
    message = f"{e.flag}: {message}" if e.flag else message
    detail = "; ".join(x for x in (f"expected {e.expected}" if e.expected else "",
                                   f"found {e.found}" if e.found else "") if x)
    return f"::error {props}::{_escape_data(message + (f' ({detail})' if detail else ''))}"


def github(results: Results, quiet: bool = False) -> str:
    lines = [github_annotation(e) for _, errs in results for e in errs]
    if not quiet:
        lines.append(summary(results))
    return "".join(line + "\n" for line in lines)


def sarif(results: Results, quiet: bool = False) -> str:
    """SARIF 2.1.0, as GitHub code scanning and other tools read it."""
    import costspec

    used = sorted({e.code for _, errs in results for e in errs})
    rules = [BY_CODE.get(code, UNCLASSIFIED) for code in used]
    findings = []
    for f, errs in results:
        for e in errs:
            detail = "; ".join(x for x in (f"expected {e.expected}" if e.expected else "",
                                           f"found {e.found}" if e.found else "") if x)
            findings.append({
                "ruleId": e.code,
                "ruleIndex": used.index(e.code),
                "level": "error",
                "message": {"text": (f"{e.path}: " if e.path else "") + e.message + (f" ({detail})" if detail else "")},
                "locations": [{"physicalLocation": {
                    "artifactLocation": {"uri": Path(e.file).as_posix()},
                    "region": {"startLine": max(e.line, 1), "startColumn": max(e.column, 1)},
                }}],
            })
    doc = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "costspec",
                "version": str(costspec.__version__),
                "informationUri": "https://costspec.dev",
                "rules": [{"id": r.code, "name": r.name, "shortDescription": {"text": r.summary},
                           "defaultConfiguration": {"level": "error"}} for r in rules],
            }},
            "results": findings,
        }],
    }
    return json.dumps(doc, indent=2) + "\n"


RENDERERS: dict[str, Callable[..., str]] = {"text": text, "json": json_, "github": github, "sarif": sarif}
ALL_CODES = CODES
