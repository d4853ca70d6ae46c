"""Errors costspec reports to users. None of them should ever surface as a traceback."""

from __future__ import annotations


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
    """A catalog file that cannot be read or has a malformed entry."""
