"""costspec: what will this model cost to train, and on what hardware?

The public, typed API. The cost model runs in Rust (``costspec._native``); it is imported only
when something needs it, so that loading and validating specs stays fast and pure Python.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from costspec.catalog import Catalog, Figure, Gpu, ModelPreset, Price
from costspec.errors import CatalogError, CostspecError, InputError, ModelInputError, SpecError, UnknownNameError
from costspec.spec import Spec, load, validate
from costspec.units import parse_number

if TYPE_CHECKING:
    from costspec.estimator import Estimate, estimate

try:
    __version__ = version("costspec")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0+unknown"

_LAZY = {"estimate": "costspec.estimator", "Estimate": "costspec.estimator"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'costspec' has no attribute {name!r}")


__all__ = [
    "Catalog",
    "CatalogError",
    "CostspecError",
    "Estimate",
    "Figure",
    "Gpu",
    "InputError",
    "ModelInputError",
    "ModelPreset",
    "Price",
    "Spec",
    "SpecError",
    "UnknownNameError",
    "__version__",
    "estimate",
    "load",
    "parse_number",
    "validate",
]
