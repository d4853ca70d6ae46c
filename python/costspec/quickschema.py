"""A yes/no form of the published JSON Schema, compiled once into closures, so that a valid spec
is checked without importing ``jsonschema`` (~80 ms of a 0.2 s ``costspec validate``).

Only the answer "valid" is taken from here: on "invalid" the caller runs ``jsonschema`` for the
located errors, so the messages never change. The compiler knows the draft 2020-12 keywords the
schema uses and mirrors ``jsonschema``'s semantics for them (its type checks, its equality with
booleans apart from numbers, keywords that apply only to their type); a schema with any other
keyword or a non-local ``$ref`` does not compile (:class:`Unsupported`) and every instance then
goes to ``jsonschema``. ``tests/test_quickschema.py`` checks the verdicts against ``jsonschema`` on
random schemas and instances and on every spec in the repository.
"""

from __future__ import annotations

import itertools
import numbers
import re
from collections.abc import Mapping, Sequence
from typing import Any, Callable

Check = Callable[[Any], bool]

# Keywords that never reject an instance (annotations and containers); anything else unknown
# makes the schema unsupported rather than silently ignored.
ANNOTATIONS = frozenset({"$schema", "$id", "$defs", "$comment", "title", "description", "examples",
                         "default", "x-expected", "deprecated", "readOnly", "writeOnly"})


class Unsupported(Exception):
    """The schema uses something this compiler does not mirror."""


# jsonschema's default type checker (jsonschema/_types.py), type by type.
def _is_integer(x: Any) -> bool:
    if isinstance(x, bool):
        return False
    if isinstance(x, float):
        return x.is_integer()
    return isinstance(x, int)


def _is_number(x: Any) -> bool:
    return not isinstance(x, bool) and isinstance(x, numbers.Number)


TYPES: dict[str, Check] = {
    "object": lambda x: isinstance(x, dict),
    "array": lambda x: isinstance(x, list),
    "string": lambda x: isinstance(x, str),
    "boolean": lambda x: isinstance(x, bool),
    "null": lambda x: x is None,
    "integer": _is_integer,
    "number": _is_number,
}

_TRUE, _FALSE = object(), object()


def _unbool(x: Any) -> Any:
    return _TRUE if x is True else _FALSE if x is False else x


def equal(one: Any, two: Any) -> bool:
    """jsonschema's equality (jsonschema/_utils.py): 1 == 1.0, but True is not 1."""
    if one is two:
        return True
    if isinstance(one, str) or isinstance(two, str):
        return bool(one == two)
    if isinstance(one, Sequence) and isinstance(two, Sequence):
        return len(one) == len(two) and all(equal(a, b) for a, b in zip(one, two))
    if isinstance(one, Mapping) and isinstance(two, Mapping):
        return one.keys() == two.keys() and all(equal(one[k], two[k]) for k in one)
    return bool(_unbool(one) == _unbool(two))


def _unique(items: list[Any]) -> bool:
    """jsonschema's ``uniq`` (jsonschema/_utils.py), step for step: neighbours after a sort, every
    pair only when the items do not sort (a pairwise check of a 10,000-name list took seconds)."""
    try:
        ordered = sorted(_unbool(i) for i in items)
        return not any(equal(a, b) for a, b in zip(ordered, itertools.islice(ordered, 1, None)))
    except (NotImplementedError, TypeError):
        seen: list[Any] = []
        for e in items:
            e = _unbool(e)
            if any(equal(i, e) for i in seen):
                return False
            seen.append(e)
        return True


def _all(checks: list[Check]) -> Check:
    if not checks:
        return lambda x: True
    if len(checks) == 1:
        return checks[0]
    return lambda x: all(c(x) for c in checks)


class Compiler:
    def __init__(self, root: Any) -> None:
        self.root = root
        self.refs: dict[str, Check] = {}

    def ref(self, target: str) -> Check:
        if not target.startswith("#/"):
            raise Unsupported(f"$ref {target!r}")
        if target not in self.refs:
            node = self.root
            for part in target[2:].split("/"):
                part = part.replace("~1", "/").replace("~0", "~")
                if not isinstance(node, dict) or part not in node:
                    raise Unsupported(f"$ref {target!r}")
                node = node[part]
            slot: list[Check] = []
            self.refs[target] = lambda x: slot[0](x)  # (recursive references resolve at call time)
            slot.append(self.compile(node))
        return self.refs[target]

    def compile(self, s: Any) -> Check:
        if s is True:
            return lambda x: True
        if s is False:
            return lambda x: False
        if not isinstance(s, dict):
            raise Unsupported(f"schema {s!r}")
        if "$id" in s and s is not self.root:
            raise Unsupported("$id below the root (a new base for references)")
        checks: list[Check] = []
        for key, v in s.items():
            if key in ANNOTATIONS:
                continue
            maker = getattr(self, "k_" + ("ref" if key == "$ref" else key), None)
            if maker is None or key == "ref":
                raise Unsupported(f"keyword {key!r}")
            checks.append(maker(v, s))
        return _all(checks)

    # One method per keyword: ``k_<keyword>(value, schema) -> check``.
    def k_ref(self, v: Any, s: dict[str, Any]) -> Check:
        return self.ref(v)

    def k_type(self, v: Any, s: dict[str, Any]) -> Check:
        names = v if isinstance(v, list) else [v]
        tests = [TYPES[n] for n in names]  # (an unknown type name is a KeyError: unsupported below)
        return lambda x: any(t(x) for t in tests)

    def k_enum(self, v: Any, s: dict[str, Any]) -> Check:
        if not isinstance(v, list):
            raise Unsupported("enum that is not a list")
        return lambda x: any(equal(e, x) for e in v)

    def k_const(self, v: Any, s: dict[str, Any]) -> Check:
        return lambda x: equal(x, v)

    def k_minimum(self, v: Any, s: dict[str, Any]) -> Check:
        return lambda x: not _is_number(x) or not x < v

    def k_maximum(self, v: Any, s: dict[str, Any]) -> Check:
        return lambda x: not _is_number(x) or not x > v

    def k_exclusiveMinimum(self, v: Any, s: dict[str, Any]) -> Check:
        return lambda x: not _is_number(x) or not x <= v

    def k_exclusiveMaximum(self, v: Any, s: dict[str, Any]) -> Check:
        return lambda x: not _is_number(x) or not x >= v

    def k_minLength(self, v: Any, s: dict[str, Any]) -> Check:
        return lambda x: not isinstance(x, str) or len(x) >= v

    def k_maxLength(self, v: Any, s: dict[str, Any]) -> Check:
        return lambda x: not isinstance(x, str) or len(x) <= v

    def k_pattern(self, v: Any, s: dict[str, Any]) -> Check:
        rx = re.compile(v)
        return lambda x: not isinstance(x, str) or rx.search(x) is not None

    def k_items(self, v: Any, s: dict[str, Any]) -> Check:
        if "prefixItems" in s:
            raise Unsupported("prefixItems")
        each = self.compile(v)
        return lambda x: not isinstance(x, list) or all(each(i) for i in x)

    def k_minItems(self, v: Any, s: dict[str, Any]) -> Check:
        return lambda x: not isinstance(x, list) or len(x) >= v

    def k_maxItems(self, v: Any, s: dict[str, Any]) -> Check:
        return lambda x: not isinstance(x, list) or len(x) <= v

    def k_uniqueItems(self, v: Any, s: dict[str, Any]) -> Check:
        return (lambda x: not isinstance(x, list) or _unique(x)) if v else (lambda x: True)

    def k_required(self, v: Any, s: dict[str, Any]) -> Check:
        return lambda x: not isinstance(x, dict) or all(k in x for k in v)

    def k_minProperties(self, v: Any, s: dict[str, Any]) -> Check:
        return lambda x: not isinstance(x, dict) or len(x) >= v

    def k_maxProperties(self, v: Any, s: dict[str, Any]) -> Check:
        return lambda x: not isinstance(x, dict) or len(x) <= v

    def k_properties(self, v: Any, s: dict[str, Any]) -> Check:
        props = {k: self.compile(sub) for k, sub in v.items()}
        return lambda x: not isinstance(x, dict) or all(c(x[k]) for k, c in props.items() if k in x)

    def k_additionalProperties(self, v: Any, s: dict[str, Any]) -> Check:
        if "patternProperties" in s:
            raise Unsupported("patternProperties")
        known = frozenset(s.get("properties", {}))
        if v is False:
            return lambda x: not isinstance(x, dict) or all(k in known for k in x)
        each = self.compile(v)
        return lambda x: not isinstance(x, dict) or all(each(x[k]) for k in x if k not in known)

    def k_propertyNames(self, v: Any, s: dict[str, Any]) -> Check:
        name = self.compile(v)
        return lambda x: not isinstance(x, dict) or all(name(k) for k in x)

    def k_anyOf(self, v: Any, s: dict[str, Any]) -> Check:
        subs = [self.compile(sub) for sub in v]
        return lambda x: any(c(x) for c in subs)

    def k_allOf(self, v: Any, s: dict[str, Any]) -> Check:
        return _all([self.compile(sub) for sub in v])

    def k_oneOf(self, v: Any, s: dict[str, Any]) -> Check:
        subs = [self.compile(sub) for sub in v]
        return lambda x: sum(1 for c in subs if c(x)) == 1

    def k_not(self, v: Any, s: dict[str, Any]) -> Check:
        sub = self.compile(v)
        return lambda x: not sub(x)


def compile_schema(schema: Any) -> Check | None:
    """The schema as a predicate, or None when it uses anything this module does not mirror."""
    try:
        check = Compiler(schema).compile(schema)
    except (Unsupported, KeyError, TypeError, AttributeError, re.error):
        return None

    def valid(instance: Any) -> bool:
        try:
            return check(instance)
        except Exception:  # noqa: BLE001 - (a reference cycle that never reaches a keyword, a malformed
            return False  # schema: not known valid, so jsonschema judges)

    return valid
