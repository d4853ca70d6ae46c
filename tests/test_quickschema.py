"""The compiled yes/no schema (quickschema.py) gives jsonschema's verdict: on random schemas and
instances, on every spec file in the repository, and on random mutations of the valid ones.
Only "valid" is trusted from it (an invalid document goes to jsonschema for its errors), so the
property that matters is: quick says valid => jsonschema says valid; the tests ask for equality."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from costspec import schema as published
from costspec import yamlio
from costspec.quickschema import compile_schema, equal

ROOT = Path(__file__).resolve().parent.parent
SPEC_FILES = sorted([*ROOT.glob("specs/*.yaml"), *ROOT.glob("specs/*.json"), *ROOT.glob("tests/specs/**/*.yaml"),
                     *ROOT.glob("tests/specs/**/*.json")])

KEYS = ["a", "b", "c", "_x", "1"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from([0.0, 1.0, 2.5, -1.5, 1e300]),
                    st.sampled_from(["", "a", "ab", "B", "7B", "=x", "1.5e3"]))
instances = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                          st.dictionaries(st.sampled_from(KEYS), inner, max_size=4)),
                         max_leaves=12)
numbers = st.one_of(st.integers(-2, 3), st.sampled_from([0.5, 1.0, 2.0]))
counts = st.integers(0, 3)


def _leaf() -> st.SearchStrategy[dict[str, Any]]:
    types = st.sampled_from(["object", "array", "string", "number", "integer", "boolean", "null"])
    return st.one_of(
        types.map(lambda t: {"type": t}),
        st.lists(types, min_size=1, max_size=3, unique=True).map(lambda t: {"type": t}),
        st.lists(scalars, min_size=1, max_size=3).map(lambda e: {"enum": e}),
        instances.map(lambda c: {"const": c}),
        numbers.map(lambda n: {"minimum": n}),
        numbers.map(lambda n: {"maximum": n}),
        numbers.map(lambda n: {"exclusiveMinimum": n}),
        numbers.map(lambda n: {"exclusiveMaximum": n}),
        counts.map(lambda n: {"minLength": n}),
        counts.map(lambda n: {"maxLength": n}),
        st.sampled_from(["^[a-z]+$", "B", "^=", "^[0-9.e]+[BT]?$"]).map(lambda p: {"pattern": p}),
        counts.map(lambda n: {"minItems": n}),
        counts.map(lambda n: {"maxItems": n}),
        st.booleans().map(lambda b: {"uniqueItems": b}),
        st.lists(st.sampled_from(KEYS), max_size=3, unique=True).map(lambda r: {"required": r}),
        counts.map(lambda n: {"minProperties": n}),
        counts.map(lambda n: {"maxProperties": n}),
        st.just({"$ref": "#/$defs/d"}),
        st.booleans(),
        st.just({"description": "annotations are ignored", "x-expected": "anything", "examples": [1]}),
    )


def _merge(parts: list[Any]) -> Any:
    out: dict[str, Any] = {}
    for p in parts:
        if isinstance(p, dict):
            out.update(p)
    return out


schemas = st.recursive(
    _leaf(),
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=3).map(_merge),
        inner.map(lambda s: {"items": s}),
        st.dictionaries(st.sampled_from(KEYS), inner, max_size=3).map(lambda p: {"properties": p}),
        st.tuples(st.dictionaries(st.sampled_from(KEYS), inner, max_size=2), st.one_of(st.just(False), inner))
          .map(lambda t: {"properties": t[0], "additionalProperties": t[1]}),
        inner.map(lambda s: {"additionalProperties": s}),
        inner.map(lambda s: {"propertyNames": s}),
        st.lists(inner, min_size=1, max_size=3).map(lambda s: {"anyOf": s}),
        st.lists(inner, min_size=1, max_size=3).map(lambda s: {"oneOf": s}),
        st.lists(inner, min_size=1, max_size=3).map(lambda s: {"allOf": s}),
        inner.map(lambda s: {"not": s}),
    ),
    max_leaves=8,
)


def _agree(schema: Any, instance: Any) -> None:
    quick = compile_schema(schema)
    assert quick is not None, schema
    try:
        verdict = Draft202012Validator(schema).is_valid(instance)
    except RecursionError:  # (a $ref cycle: not known valid, so jsonschema is asked and says so)
        verdict = False
    assert quick(instance) == verdict, (schema, instance)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schemas, schemas, instances)
def test_random_schemas_give_jsonschemas_verdict(body: Any, d: Any, instance: Any) -> None:
    root = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$defs": {"d": d}}
    root.update(body if isinstance(body, dict) else {"allOf": [body]})
    _agree(root, instance)


def test_recursive_references() -> None:
    tree = {"$defs": {"node": {"type": "object", "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/node"}}},
                               "additionalProperties": False}}, "$ref": "#/$defs/node"}
    _agree(tree, {"kids": [{"kids": []}, {}]})
    _agree(tree, {"kids": [{"kids": [{"other": 1}]}]})


@pytest.mark.parametrize("schema", [
    {"format": "email"},  # (a keyword it does not mirror)
    {"if": {"type": "string"}, "then": {"minLength": 1}},
    {"ref": "#/$defs/x", "$defs": {"x": False}},  # (an unknown keyword, not $ref)
    {"$ref": "https://example.com/other.json"},
    {"$ref": "#/$defs/missing"},
    {"$dynamicRef": "#x"},
    {"properties": {"a": {"$id": "https://example.com/a", "$ref": "#/x"}}},
    {"patternProperties": {"^a": {}}, "additionalProperties": False},
    {"prefixItems": [{}], "items": False},
    {"type": "decimal"},
    {"pattern": "("},
    [1, 2],
])
def test_what_it_does_not_mirror_goes_to_jsonschema(schema: Any) -> None:
    assert compile_schema(schema) is None


def test_equality_is_jsonschemas() -> None:
    assert equal(1, 1.0) and not equal(True, 1) and not equal(0, False) and equal([1, {"a": 2.0}], [1.0, {"a": 2}])
    assert not equal("1", 1) and not equal([1], [1, 2]) and not equal({"a": 1}, {"b": 1})


def test_published_schema_compiles() -> None:
    assert published._quick() is not None


def _data(path: Path) -> Any:
    return yamlio.read(path).data


@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_spec_file_gets_jsonschemas_verdict(path: Path) -> None:
    try:
        data = _data(path)
    except Exception:  # (files that do not parse never reach the schema)
        pytest.skip("does not parse")
    assert published._quick()(data) == published._validator().is_valid(data)


VALID = [p for p in SPEC_FILES if "invalid" not in p.parts]


def _paths(x: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [here]
    if isinstance(x, dict):
        for k, v in x.items():
            out += _paths(v, (*here, k))
    elif isinstance(x, list):
        for i, v in enumerate(x):
            out += _paths(v, (*here, i))
    return out


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(VALID), st.data())
def test_mutated_specs_get_jsonschemas_verdict(path: Path, draw: Any) -> None:
    data = copy.deepcopy(_cached(path))
    for _ in range(draw.draw(st.integers(1, 3))):
        where = draw.draw(st.sampled_from(_paths(data)))
        if not where:
            continue
        parent = data
        for k in where[:-1]:
            parent = parent[k]
        how = draw.draw(st.sampled_from(["replace", "delete", "add"]))
        if how == "replace":
            parent[where[-1]] = draw.draw(instances)
        elif how == "delete":
            del parent[where[-1]]
        elif isinstance(parent, dict):
            parent[draw.draw(st.sampled_from(KEYS + ["gpu", "count", "params"]))] = draw.draw(instances)
        else:
            parent.append(draw.draw(instances))
    assert published._quick()(data) == published._validator().is_valid(data), json.dumps(data, default=str)[:400]


_CACHE: dict[Path, Any] = {}


def _cached(path: Path) -> Any:
    if path not in _CACHE:
        _CACHE[path] = _data(path)
    return _CACHE[path]


def test_a_valid_spec_is_checked_without_jsonschema() -> None:
    code = ("import sys; from pathlib import Path; from costspec import spec; "
            f"spec.load(Path({str(ROOT / 'specs' / 'llama2-70b.yaml')!r})); "
            "print('jsonschema' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_unique_items_is_jsonschemas_and_linear(monkeypatch: pytest.MonkeyPatch) -> None:
    """jsonschema's own algorithm (sort, compare neighbours; pairs only when unsortable): the same
    verdicts, and a 20,000-name list compared 19,999 times, not 200 million (a hostile review found
    the first, pairwise version taking seconds on a spec listing 10,000 columns)."""
    from costspec import quickschema
    from jsonschema._utils import uniq

    cases = [[1, True], [1, 1.0], [True, True], [[1], [1.0]], [{"a": 1}, {"a": 1}], ["a", 1, "a"], [0, False],
             [float("nan"), float("nan")], [[1, 2], [2, 1]], [None, None], [{"a": 1}, {"b": 1}]]
    for items in cases:
        assert quickschema._unique(items) == uniq(items), items
    calls = []
    real = quickschema.equal
    monkeypatch.setattr(quickschema, "equal", lambda a, b: calls.append(1) or real(a, b))
    names = [f"c{i}" for i in range(20_000)]
    assert quickschema._unique(names) and not quickschema._unique([*names, "c5"])
    assert len(calls) <= 2 * len(names)


def test_a_malformed_schema_is_left_to_jsonschema() -> None:
    assert compile_schema({"properties": ["a"]}) is None
    assert compile_schema({"enum": 5}) is None
    check = compile_schema({"$defs": {"a": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"})
    assert check is not None and check(1) is False  # (a cycle: not known valid)
