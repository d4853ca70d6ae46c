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
import warnings
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
}  # (the functions are applied by ``arith`` and ``unary``, which keep to the engine's rule)
_BIN = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_CMP = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}
_HINTS = {
    ast.BitXor: "use ** for powers",
    ast.BitAnd: "use 'and'",
    ast.BitOr: "use 'or'",
    ast.FloorDiv: "use floor(a / b)",
    ast.Mod: "% is not supported",
}


MAX_FLOAT = 1.7976931348623157e308


class EvalError(ArithmeticError):
    """A value with no finite result from finite operands: division by zero, overflow, a domain
    error. The sweep engine (rust/engine.rs, ``checked``) applies the same rule with the same words:
    a non-finite value computed from finite ones is an error at that point, while a missing value
    (NaN, "no value") passes through as missing."""


def _pow(a: float, b: float) -> float:
    try:
        return math.pow(a, b)
    except OverflowError:
        return math.inf
    except ValueError:  # 0 ** -1, (-8) ** 0.5: no real result
        return math.inf if a == 0 else math.nan


def _why(op: str, a: float, b: float, r: float) -> str:
    """Why ``r = a op b`` (finite operands) is not finite (the engine's words, rust/engine.rs)."""
    if op == "/" and b == 0:
        return "division by zero"
    if op == "log":
        return "log of a number <= 0"
    if op == "sqrt":
        return "square root of a negative number"
    if op == "**" and a == 0:
        return "zero to a negative power"
    if op == "**" and r != r:
        return "a negative number to a fractional power"
    return "overflow (beyond ±1.8e308)"


_ARITH: dict[str, Callable[[float, float], float]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv, "**": _pow,
    "min": lambda a, b: min(a, b), "max": lambda a, b: max(a, b)}


def arith(op: str, a: float, b: float) -> float:
    """``a op b`` in floats (+ - * / ** min max): NaN in, NaN out; a non-finite result from finite
    operands raises EvalError."""
    if a != a or b != b:
        return math.nan
    if op == "/" and b == 0:
        raise EvalError(_why(op, a, b, math.nan))
    r = _ARITH[op](a, b)
    if not math.isfinite(r):
        raise EvalError(_why(op, a, b, r))
    return float(r)


def unary(fn: str, a: float) -> float:
    """``fn(a)`` for log exp sqrt ceil floor, by the rule of ``arith``."""
    if a != a:
        return math.nan
    if fn == "log":
        r = math.log(a) if a > 0 else (-math.inf if a == 0 else math.nan)
    elif fn == "sqrt":
        r = math.sqrt(a) if a >= 0 else math.nan
    elif fn == "exp":
        r = math.exp(a) if a <= 709.782712893384 else math.inf
    else:
        r = float(math.ceil(a) if fn == "ceil" else math.floor(a))
    if not math.isfinite(r):
        raise EvalError(_why(fn, a, 0.0, r))
    return r


_BIN_OP = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
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
        """Evaluate in floats with ``env`` giving every name's value (numbers or booleans; None or
        NaN for "no value"). Raises EvalError for a non-finite value (see ``arith``)."""
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
        elif not abs(node.value) <= MAX_FLOAT:  # 1e400 parses as inf; a 400-digit integer as an int
            raise ExprError("a number beyond the float range (±1.8e308)", offset)
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
        with warnings.catch_warnings():  # ("1if": Python's own SyntaxWarning went to stderr)
            warnings.simplefilter("error", SyntaxWarning)
            tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as e:  # (SyntaxWarning raised as an error is not one: see below)
        lead = len(text) - len(text.lstrip())
        raise ExprError(f"syntax error: {e.msg}", lead + max((e.offset or 1) - 1, 0)) from None
    except SyntaxWarning as e:
        raise ExprError(f"syntax error: {e}") from None
    except (ValueError, RecursionError, MemoryError) as e:
        raise ExprError(f"cannot parse: {e}") from None
    names: list[Name] = []
    lead = len(text) - len(text.lstrip())
    try:
        _check(tree.body, names)
        _fold(tree.body)
    except RecursionError:
        raise ExprError("expression nested too deeply") from None
    except ExprError as e:
        raise ExprError(str(e), lead + e.offset) from None
    return Expr(text, tree.body, tuple(Name(n.name, lead + n.offset) for n in names))


def _fold(node: ast.AST) -> bool:
    """Evaluate every part made of numbers only (``10 ** 10 ** 10``, ``1 / 0``): one with no finite
    value is an error wherever the expression is used, so it is reported where it is written.
    Returns whether ``node`` is made of numbers only."""
    children = node.args if isinstance(node, ast.Call) else \
        [c for c in ast.iter_child_nodes(node) if isinstance(c, ast.expr)]
    constant = all([_fold(c) for c in children])  # (a list: fold every child)
    if isinstance(node, (ast.Name, ast.Attribute)):
        return False
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) and _fold_value(node.right) == 0:
        raise ExprError(f"division by zero in {ast.unparse(node)!r} (a divisor of 0: no point can evaluate it)",
                        getattr(node, "col_offset", 0))
    if constant and not isinstance(node, ast.Constant) and isinstance(node, ast.expr):
        try:
            _eval(node, {})
        except EvalError as e:
            raise ExprError(f"{e} in {ast.unparse(node)!r} (numbers only: no point can evaluate it)",
                            getattr(node, "col_offset", 0)) from None
    return constant


def _fold_value(node: ast.expr) -> float | None:
    """The value of a part made of numbers only, else None."""
    if any(isinstance(n, (ast.Name, ast.Attribute)) for n in ast.walk(node)):
        return None
    try:
        return float(_eval(node, {}))
    except (EvalError, TypeError, ValueError):
        return None


def _number(v: Any) -> float:
    if v is None:
        return math.nan
    if isinstance(v, (bool, int, float)):
        return float(v)
    raise TypeError(f"{v!r} is not a number")


def _eval(node: ast.expr, env: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value if isinstance(node.value, bool) else float(node.value)  # type: ignore[arg-type]
    if isinstance(node, (ast.Name, ast.Attribute)):
        name = dotted_name(node)
        if name in ("true", "True"):
            return True
        if name in ("false", "False"):
            return False
        return env[name or ""]
    if isinstance(node, ast.BinOp):
        a, b = _number(_eval(node.left, env)), _number(_eval(node.right, env))
        return arith(_BIN_OP[type(node.op)], a, b)
    if isinstance(node, ast.UnaryOp):
        v = _eval(node.operand, env)
        if isinstance(node.op, ast.Not):
            return not v
        x = _number(v)
        return -x if isinstance(node.op, ast.USub) else x
    if isinstance(node, ast.BoolOp):
        vals = [_eval(v, env) for v in node.values]
        return all(vals) if isinstance(node.op, ast.And) else any(vals)
    if isinstance(node, ast.Compare):
        left = _eval(node.left, env)
        for op, comp in zip(node.ops, node.comparators):
            right = _eval(comp, env)
            ok = _CMP_FN[type(op)](_number(left), _number(right))  # NaN ("no value") compares false
            if not ok:
                return False
            left = right
        return True
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        args = [_number(_eval(a, env)) for a in node.args]
        fname = node.func.id
        if fname in ("min", "max"):
            acc = args[0]
            for x in args[1:]:
                acc = arith(fname, acc, x)
            return acc
        return unary(fname, args[0])
    raise ExprError("unsupported syntax")
