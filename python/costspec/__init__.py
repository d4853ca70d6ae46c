"""costspec: what will this model cost to train, and on what hardware?

The public, typed API. The cost model itself runs in Rust (``costspec._native``).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from costspec.catalog import Catalog, Figure, Gpu, ModelPreset, Price
from costspec.errors import CatalogError, CostspecError, InputError, ModelInputError, UnknownNameError
from costspec.estimate import Estimate, estimate
from costspec.units import parse_number

try:
    __version__ = version("costspec")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0+unknown"

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
    "UnknownNameError",
    "__version__",
    "estimate",
    "parse_number",
]
