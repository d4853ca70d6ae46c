"""Numbers as users write them: ``7B``, ``780B``, ``2T``, ``1.5e12``, ``70_000``."""

from __future__ import annotations

import math
import numbers
import re

from costspec.errors import InputError

SUFFIXES = {"k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12, "p": 1e15}
_NUMBER = re.compile(r"^\s*([+-]?(?:\d[\d_]*(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*([kKmMbBgGtTpP]?)\s*$")
ACCEPTED = "a number such as 7B, 780B, 2T, 1.5e12 or 70000 (suffixes K, M, B, T, P)"


def looks_numeric(text: str) -> bool:
    """Whether a string has a number's form (with an optional suffix), whatever its value."""
    return _NUMBER.match(text) is not None


def parse_number(value: object, field: str = "value") -> float:
    """Parse a number with an optional magnitude suffix (K=1e3, M=1e6, B=1e9, T=1e12, P=1e15).

    Raises InputError naming ``field`` for anything else (including NaN, infinities and booleans).
    """
    if isinstance(value, bool) or (isinstance(value, numbers.Number) and not isinstance(value, numbers.Real)):
        raise InputError(field, repr(value), ACCEPTED)
    if isinstance(value, numbers.Real):  # int, float, Fraction, Decimal, numpy scalars
        try:
            x = float(value)
        except (OverflowError, ValueError, TypeError):  # 10**400: beyond the float range
            raise InputError(field, _short(value), ACCEPTED + ", within the float range (±1.8e308)") from None
    elif isinstance(value, str):
        m = _NUMBER.match(value)
        if not m:
            raise InputError(field, repr(value), ACCEPTED)
        try:
            x = float(m.group(1)) * SUFFIXES.get(m.group(2).lower(), 1.0)
        except ValueError:  # misplaced underscores: '1__0', '1_'
            raise InputError(field, repr(value), ACCEPTED) from None
    else:
        raise InputError(field, repr(value), ACCEPTED)
    if not math.isfinite(x):
        raise InputError(field, _short(value), ACCEPTED + ", within the float range (±1.8e308)")
    return x + 0.0  # -0 is 0 (a price of -0 printed as $-0.00)


def _short(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 4000:
        return f"an integer of about {int(value.bit_length() * 0.30103):,} digits"  # (str() refuses > 4300 digits)
    text = repr(value) if not isinstance(value, int) else str(value)
    return text if len(text) <= 40 else f"{text[:20]}...{text[-8:]} ({len(text)} characters)"


def format_si(x: float, digits: int = 3) -> str:
    """780e9 -> '780B', 1.72e6 -> '1.72M' (the suffixes parse_number reads)."""
    if x == 0 or not math.isfinite(x):
        return f"{x:g}"
    if abs(x) >= 1e18:
        return f"{x:.{digits}e}"
    x = float(f"{x:.{digits}g}")  # round first: 999.9999e6 shows as 1B, not 1e+03M
    for suffix, scale in (("P", 1e15), ("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(x) >= scale:
            return f"{x / scale:.{digits}g}{suffix}"
    return f"{x:.{digits}g}"
