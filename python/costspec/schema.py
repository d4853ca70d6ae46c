"""The published JSON Schema (draft 2020-12) and its errors turned into located SpecErrors."""

from __future__ import annotations

import difflib
import json
from functools import cache
from typing import Any, Iterable

from costspec.catalog import DATA
from costspec.errors import SpecError
from costspec.yamlio import Document

SCHEMA_FILE = "costspec.schema.json"


def schema_text() -> str:
    """The schema exactly as published (schemas/costspec.schema.json, shipped in the package)."""
    return (DATA / SCHEMA_FILE).read_text(encoding="utf-8")


@cache
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(schema_text())
    return loaded


@cache
def _validator() -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(schema())


def describe(value: Any) -> str:
    """How a found value is shown in an error: its YAML type and a short rendering."""
    kind = {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list",
            dict: "a mapping", type(None): "nothing"}.get(type(value), type(value).__name__)
    if value is None:
        return "nothing"
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return f"{kind} {text if len(text) <= 60 else text[:57] + '...'}"


MAX_CANDIDATES = 500  # names a suggestion compares against (a spec may declare 30,000 variables)


def did_you_mean(word: str, options: Iterable[str]) -> str:
    """' (did you mean 'x'?)' for the closest option, or ''. With many options only those of about
    the word's length that share its first letter are compared, so that a spec with tens of
    thousands of names and errors stays linear."""
    word = str(word)
    pool = list(options)
    if len(pool) > MAX_CANDIDATES:
        pool = sorted(o for o in pool if o[:1] == word[:1] and abs(len(o) - len(word)) <= 3)[:MAX_CANDIDATES]
    near = difflib.get_close_matches(word, pool, n=1, cutoff=0.6)
    return f" (did you mean {near[0]!r}?)" if near and near[0] != word else ""  # (never the word itself)


def _expected(err: Any) -> str:
    s = err.schema if isinstance(err.schema, dict) else {}
    if "x-expected" in s:
        return str(s["x-expected"])
    v, value = err.validator, err.validator_value
    if v == "type":
        names = value if isinstance(value, list) else [value]
        return " or ".join(str({"object": "a mapping", "array": "a list", "string": "a string", "number": "a number",
                            "integer": "a whole number", "boolean": "true or false", "null": "nothing"}.get(n, n))
                           for n in names)
    if v == "enum":  # (ZeRO's 3 and "3" are one stage: each shown once)
        return "one of " + ", ".join(dict.fromkeys(map(str, value)))
    if v == "const":
        return json.dumps(value)
    if v == "minimum":
        return f"a number >= {value}"
    if v == "exclusiveMinimum":
        return f"a number > {value}"
    if v == "maximum":
        return f"a number <= {value}"
    if v == "minItems":
        return f"at least {value} item{'s' if value != 1 else ''}"
    if v == "maxItems":
        return f"at most {value} items"
    if v == "minLength":
        return "a non-empty string"
    if v == "uniqueItems":
        return "each item once"
    if v == "minProperties":
        return f"at least {value} entr{'ies' if value != 1 else 'y'}"
    return str(err.message)


def _choices(err: Any) -> list[str]:
    """Enumerated values an anyOf/enum error offers, for 'did you mean'."""
    s = err.schema if isinstance(err.schema, dict) else {}
    out = [str(v) for v in s.get("enum", [])]
    for sub in s.get("anyOf", []):
        out += [str(v) for v in sub.get("enum", [])]
    return out


def _convert(doc: Document, err: Any) -> list[SpecError]:
    path = tuple(err.absolute_path)
    v = err.validator
    if v == "additionalProperties" and isinstance(err.instance, dict):
        known = list((err.schema.get("properties") or {}).keys())
        out = []
        for key in err.instance:
            if key not in known:
                hint = did_you_mean(key, known)
                out.append(doc.error((*path, key), f"unknown key {key!r}{hint}",
                                     "one of " + ", ".join(known), None, key=True))
        return out
    if v == "required" and isinstance(err.instance, dict):
        missing = [k for k in err.validator_value if k not in err.instance]
        return [doc.error(path, f"missing required key {k!r}", f"a {k!r} entry", None, key=bool(path))
                for k in missing]
    if v == "propertyNames":
        name = err.instance
        return [doc.error((*path, name), f"invalid name {name!r}", _expected(err), None, key=True)]
    if v in ("anyOf", "oneOf"):
        from jsonschema.exceptions import best_match

        # The branch the value was meant for (its type matched) explains the problem best; when no
        # branch's type matches, say what the alternatives are.
        # Among mappings, the branch whose keys the value has (no missing or unknown key) is the one
        # it was meant for: {top: 3, by: "-"} is a malformed top-k, not a Pareto front missing 'pareto'.
        branches: dict[int, list[Any]] = {}
        for e in err.context:
            branches.setdefault(int(e.relative_schema_path[0]), []).append(e)
        def misfit(errs: list[Any]) -> int:
            """How badly the value's shape misses a branch: wrong type, missing or unknown keys."""
            n = 0
            for e in errs:
                if e.relative_path:
                    continue
                if e.validator == "type":
                    n += 100
                elif e.validator in ("anyOf", "enum") and isinstance(e.instance, list) and \
                        not any(isinstance(x, list) for x in (e.validator_value if e.validator == "enum" else ())):
                    n += 100  # (a list where scalar choices go: [none, most] is a list of choices)
                elif e.validator == "required":
                    n += len([k for k in e.validator_value if k not in (e.instance or {})])
                elif e.validator == "additionalProperties" and isinstance(e.instance, dict):
                    known = (e.schema.get("properties") or {}) if isinstance(e.schema, dict) else {}
                    n += len([k for k in e.instance if k not in known])
            return n

        scores = sorted((misfit(errs), i) for i, errs in branches.items())
        unique = len(scores) == 1 or scores[0][0] < scores[1][0]
        pool = branches[scores[0][1]] if scores and unique and scores[0][0] < 100 else err.context
        specific = [e for e in pool if e.validator != "type"]
        # (one error left is the one: best_match would descend into an item's own alternatives)
        best = (specific or pool)[0] if len(specific or pool) == 1 else best_match(specific or pool)
        if best is not None and (best.validator != "type" or "x-expected" not in (err.schema or {})):
            return _convert(doc, best)
        if "x-expected" not in (err.schema or {}):
            return [doc.error(path, "invalid value", None, describe(err.instance))]
    found = describe(err.instance)
    hint = did_you_mean(err.instance, _choices(err)) if isinstance(err.instance, str) else ""
    what = {"type": "wrong type", "enum": "not an accepted value", "const": "not an accepted value",
            "pattern": "malformed value", "anyOf": "not an accepted value", "uniqueItems": "an item is repeated",
            "minItems": "too few items", "maxItems": "too many items"}.get(v, "out of range")
    return [doc.error(path, f"{what}{hint}", _expected(err), found)]


@cache
def _quick() -> Any:
    """The schema compiled to a yes/no predicate (quickschema.py), or None if it cannot be."""
    from costspec.quickschema import compile_schema

    return compile_schema(schema())


def check(doc: Document) -> list[SpecError]:
    """Every schema error in the document, located, in file order. A document the compiled
    predicate accepts has none; any other goes to jsonschema, which finds and explains them."""
    quick = _quick()
    if quick is not None and quick(doc.data):
        return []
    errors: list[SpecError] = []
    for err in _validator().iter_errors(doc.data):
        errors.extend(_convert(doc, err))
    return errors
