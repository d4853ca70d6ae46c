"""A module imported on first use: the commands that never touch Arrow (a sweep written by the
engine's Parquet writer, validate, estimate) do not pay for importing pyarrow and numpy (~0.15 s).
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class Lazy:
    """Stands for the module ``name`` and imports it at the first attribute read (under Python's
    import lock, so threads that race to it get one import)."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attr: str) -> Any:
        module = self._module
        if module is None:
            module = self._module = importlib.import_module(self._name)
        return getattr(module, attr)

    def load(self) -> None:
        """Import it now (before starting threads that use it: pyarrow.compute registers its
        kernels as it is imported)."""
        self.__getattr__("__name__")
