"""Expressions in specs: ``training.tokens / model.params``, ``wall_clock_days <= 90 and fits``.

Parsed with Python's own parser (``ast``) and then checked against a whitelist, never evaluated
with ``eval``: numbers, (dotted) names, ``+ - * / **``, comparisons, ``and or not`` and the
functions ``min max log exp sqrt ceil floor``. Anything else is an :class:`ExprError` that says
where in the expression it is.
"""

from __future__ import annotations

import ast
import math
import operator
from dataclasses import dataclass
from typing import Any, Callable, Mapping

FUNCTIONS: dict[str, tuple[Callable[..., float], int, int]] = {
    # name: (function, fewest arguments, most arguments)
    "min": (min, 2, 16),
    "max": (max, 2, 16),
    "log": (math.log, 1, 1),
    "exp": (math.exp, 1, 1),
    "sqrt": (math.sqrt, 1, 1),
    "ceil": (math.ceil, 1, 1),
    "floor": (math.floor, 1, 1),
}
_BIN = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_CMP = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}
_HINTS = {
    ast.BitXor: "use ** for powers",
    ast.BitAnd: "use 'and'",
    ast.BitOr: "use 'or'",
    ast.FloorDiv: "use floor(a / b)",
    ast.Mod: "% is not supported",
}


_BIN_FN: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}
_CMP_FN: dict[type, Callable[[Any, Any], bool]] = {
    ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}


class ExprError(ValueError):
    """A malformed expression; ``offset`` is the 0-based column inside the expression text."""

    def __init__(self, message: str, offset: int = 0) -> None:
        self.offset = offset
        super().__init__(message)


@dataclass(frozen=True)
class Name:
    name: str
    offset: int


@dataclass(frozen=True)
class Expr:
    """A parsed, whitelisted expression."""

    text: str
    tree: ast.expr
    names: tuple[Name, ...]

    def evaluate(self, env: Mapping[str, Any]) -> Any:
        """Evaluate with ``env`` giving every name's value (numbers or booleans)."""
        return _eval(self.tree, env)


def dotted_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted_name(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


def _check(node: ast.AST, names: list[Name]) -> None:
    offset = getattr(node, "col_offset", 0)
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            if not isinstance(node.value, bool):
                raise ExprError(f"only numbers are allowed here, not {node.value!r}", offset)
        return
    if isinstance(node, (ast.Name, ast.Attribute)):
        name = dotted_name(node)
        if name is None:
            raise ExprError("expected a name such as model.params", offset)
        if name in ("true", "false", "True", "False"):
            return
        names.append(Name(name, offset))
        return
    if isinstance(node, ast.BinOp):
        if type(node.op) not in _BIN:
            raise ExprError(_HINTS.get(type(node.op), "unsupported operator"), offset)
        _check(node.left, names)
        _check(node.right, names)
        return
    if isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, (ast.USub, ast.UAdd, ast.Not)):
            raise ExprError("unsupported operator", offset)
        _check(node.operand, names)
        return
    if isinstance(node, ast.BoolOp):
        for v in node.values:
            _check(v, names)
        return
    if isinstance(node, ast.Compare):
        for op in node.ops:
            if type(op) not in _CMP:
                raise ExprError("unsupported comparison (use < <= > >= == !=)", offset)
        _check(node.left, names)
        for c in node.comparators:
            _check(c, names)
        return
    if isinstance(node, ast.Call):
        fname = node.func.id if isinstance(node.func, ast.Name) else None
        if fname not in FUNCTIONS:
            raise ExprError(f"unknown function; expected one of {', '.join(FUNCTIONS)}", offset)
        if node.keywords:
            raise ExprError("functions take positional arguments only", offset)
        _, lo, hi = FUNCTIONS[fname]
        if not lo <= len(node.args) <= hi:
            want = str(lo) if lo == hi else f"{lo} or more"
            raise ExprError(f"{fname}() takes {want} argument{'s' if hi > 1 else ''}", offset)
        for a in node.args:
            if isinstance(a, ast.Starred):
                raise ExprError("unsupported '*' argument", a.col_offset)
            _check(a, names)
        return
    what = type(node).__name__
    raise ExprError(f"unsupported syntax ({what}); expressions use numbers, names, + - * / **, comparisons, "
                    "and/or/not and min max log exp sqrt ceil floor", offset)


def parse(text: str) -> Expr:
    """Parse and whitelist ``text``. Raises ExprError with the offending column offset."""
    if not text.strip():
        raise ExprError("empty expression")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as e:
        lead = len(text) - len(text.lstrip())
        raise ExprError(f"syntax error: {e.msg}", lead + max((e.offset or 1) - 1, 0)) from None
    except (ValueError, RecursionError, MemoryError) as e:
        raise ExprError(f"cannot parse: {e}") from None
    names: list[Name] = []
    lead = len(text) - len(text.lstrip())
    try:
        _check(tree.body, names)
    except RecursionError:
        raise ExprError("expression nested too deeply") from None
    except ExprError as e:
        raise ExprError(str(e), lead + e.offset) from None
    return Expr(text, tree.body, tuple(Name(n.name, lead + n.offset) for n in names))


def _eval(node: ast.expr, env: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.Name, ast.Attribute)):
        name = dotted_name(node)
        if name in ("true", "True"):
            return True
        if name in ("false", "False"):
            return False
        return env[name or ""]
    if isinstance(node, ast.BinOp):
        a, b = _eval(node.left, env), _eval(node.right, env)
        return _BIN_FN[type(node.op)](a, b)
    if isinstance(node, ast.UnaryOp):
        v = _eval(node.operand, env)
        return -v if isinstance(node.op, ast.USub) else (+v if isinstance(node.op, ast.UAdd) else not v)
    if isinstance(node, ast.BoolOp):
        vals = [_eval(v, env) for v in node.values]
        return all(vals) if isinstance(node.op, ast.And) else any(vals)
    if isinstance(node, ast.Compare):
        left = _eval(node.left, env)
        for op, comp in zip(node.ops, node.comparators):
            right = _eval(comp, env)
            ok = _CMP_FN[type(op)](left, right)
            if not ok:
                return False
            left = right
        return True
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return FUNCTIONS[node.func.id][0](*[_eval(a, env) for a in node.args])
    raise ExprError("unsupported syntax")
