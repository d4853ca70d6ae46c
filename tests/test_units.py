from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from costspec import InputError, parse_number
from costspec.units import format_si


@pytest.mark.parametrize(
    ("text", "value"),
    [("7B", 7e9), ("780B", 780e9), ("2T", 2e12), ("1.5e12", 1.5e12), ("70_000", 7e4), ("1.2k", 1200.0),
     ("0.5M", 5e5), (".5T", 5e11), ("3", 3.0), (42, 42.0), (2.5, 2.5), ("1P", 1e15), (" 12b ", 12e9)],
)
def test_parse(text: object, value: float) -> None:
    assert parse_number(text, "x") == value


@pytest.mark.parametrize("bad", ["", "B", "7X", "1.2.3", "nan", "inf", "-inf", "1__0", "1e", True, None, [1]])
def test_reject(bad: object) -> None:
    with pytest.raises(InputError, match="^tokens: got"):
        parse_number(bad, "tokens")


@given(st.floats(1.0, 1e17))
def test_format_round_trips_within_digits(x: float) -> None:
    assert parse_number(format_si(x, 6)) == pytest.approx(x, rel=1e-5)


@given(st.text(max_size=12))
def test_only_input_errors_escape(text: str) -> None:
    try:
        parse_number(text, "x")
    except InputError:
        pass
