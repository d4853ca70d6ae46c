"""Errors costspec reports to users. None of them should ever surface as a traceback."""

from __future__ import annotations


import re

# Control characters (C0, DEL, C1), line and paragraph separators and bidirectional overrides: a
# message holding one could break a one-line error apart, forge a CI annotation or reorder text on
# a terminal. They are shown escaped, as Python writes them in a string literal.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` with every control or bidirectional-override character escaped (``\\n``, ``\\x1b``)."""
    return _UNSAFE.sub(lambda m: repr(m.group())[1:-1], text)


class CostspecError(Exception):
    """Base class of every error costspec reports to a user."""


class InputError(CostspecError, ValueError):
    """An input outside what the cost model accepts.

    ``field`` is the input's name in the Python API and the JSON output (``tokens``, ``mfu``, ...);
    the CLI maps it to its flag.
    """

    def __init__(self, field: str, given: object, accepted: str, *, message: str | None = None) -> None:
        self.field = field
        self.given = given
        self.accepted = accepted
        super().__init__(message or f"{field}: got {given!s}, expected {accepted}")


class UnknownNameError(InputError):
    """A catalog name (GPU, model preset, provider) that matches no entry."""

    def __init__(self, field: str, kind: str, given: str, closest: list[str], known: list[str]) -> None:
        self.kind = kind
        self.closest = closest
        if closest:
            accepted = f"a known {kind}; closest: {', '.join(closest)}"
        else:
            shown = ", ".join(known[:12]) + (", ..." if len(known) > 12 else "")
            accepted = f"a known {kind} ({shown})"
        super().__init__(field, repr(given), accepted)


class ModelInputError(CostspecError, ValueError):
    """Inputs the cost model cannot evaluate together (e.g. a convention that needs architecture
    fields the model does not give). ``field`` names the input at fault where there is one."""

    def __init__(self, message: str, field: str | None = None) -> None:
        self.field = field
        super().__init__(message)


class CatalogError(CostspecError):
    """A catalog file that cannot be read or has a malformed entry. ``where`` is (line, column,
    path, message) when the problem has a position in the document it came from."""

    def __init__(self, text: str, where: tuple[int, int, str, str] | None = None) -> None:
        self.where = where
        super().__init__(printable(text))


class SpecError(CostspecError):
    """One located problem in a spec file: where it is, what was expected and what was found.

    ``load`` raises the first problem with ``errors`` holding all of them; ``validate`` returns the
    list. Lines and columns are 1-based.
    """

    def __init__(
        self,
        file: str,
        line: int,
        column: int,
        path: str,
        message: str,
        expected: str | None = None,
        found: str | None = None,
        flag: str | None = None,
    ) -> None:
        # Every part may hold text from the file or its name: escaped, so that one error stays one line.
        self.file, self.line, self.column, self.path = printable(file), line, column, printable(path)
        self.message = printable(message)
        self.expected = None if expected is None else printable(expected)
        self.found = None if found is None else printable(found)
        self.flag = flag  # set when the value came from a command-line flag rather than the file
        self.errors: list[SpecError] = [self]
        super().__init__(self.format())

    def format(self) -> str:
        if self.flag:  # the flag is where the value is: its path in the spec would only mislead
            text = f"{self.flag}: {self.message}"
        else:
            where = f"{self.file}:{self.line}:{self.column}"
            text = f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"
        detail = [f"expected {self.expected}" if self.expected else "", f"found {self.found}" if self.found else ""]
        detail = [d for d in detail if d]
        return text + (f" ({'; '.join(detail)})" if detail else "")

    @property
    def code(self) -> str:
        """The stable diagnostic code (``costspec.diagnostics``)."""
        from costspec.diagnostics import classify

        return classify(self.message).code

    def as_dict(self) -> dict[str, object]:
        d: dict[str, object] = {
            "file": self.file, "line": self.line, "column": self.column, "code": self.code, "path": self.path,
            "message": self.message, "expected": self.expected, "found": self.found,
        }
        if self.flag:
            d["flag"] = self.flag
        return d

    def __str__(self) -> str:
        more = len(self.errors) - 1
        return self.format() + (f" (and {more} more error{'s' if more > 1 else ''})" if more > 0 else "")
