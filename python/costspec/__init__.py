"""costspec: what will this model cost to train, and on what hardware?

The public, typed API. The cost model runs in Rust (``costspec._native``); it is imported only
when something needs it, so that loading and validating specs stays fast and pure Python.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from costspec.catalog import Catalog, Figure, Gpu, ModelPreset, Price
from costspec.scaling import FITS, optimal
from costspec.errors import CatalogError, CostspecError, InputError, ModelInputError, SpecError, UnknownNameError
from costspec.spec import Spec, load, validate
from costspec.units import parse_number

if TYPE_CHECKING:
    from costspec.estimator import Estimate, estimate
    from costspec.plan import Plan, compile_spec
    from costspec.runner import iter_batches, sweep
    from costspec.serving import Served, serve
    from costspec.shards import merge
    from costspec.solver import Solution, SolveError, solve

    __version__: str

# Loaded on first use: the Rust extension and pyarrow stay out of `costspec validate`.
_LAZY = {
    "estimate": "costspec.estimator",
    "Estimate": "costspec.estimator",
    "sweep": "costspec.runner",
    "iter_batches": "costspec.runner",
    "compile_spec": "costspec.plan",
    "Plan": "costspec.plan",
    "solve": "costspec.solver",
    "serve": "costspec.serving",
    "Served": "costspec.serving",
    "Solution": "costspec.solver",
    "merge": "costspec.shards",
    "SolveError": "costspec.solver",
}


def __getattr__(name: str) -> Any:
    if name == "__version__":  # importlib.metadata costs ~80 ms to import: only when asked
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("costspec")
        except PackageNotFoundError:  # a source tree without an install
            return "0+unknown"
    if name == "report":  # the report module, callable (costspec.report(...)); needs the report extra to run
        import importlib

        return importlib.import_module("costspec.report")
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'costspec' has no attribute {name!r}")


__all__ = [
    "Catalog",
    "CatalogError",
    "CostspecError",
    "Estimate",
    "FITS",
    "Figure",
    "Gpu",
    "InputError",
    "ModelInputError",
    "ModelPreset",
    "Plan",
    "Price",
    "Spec",
    "Solution",
    "SolveError",
    "Served",
    "SpecError",
    "UnknownNameError",
    "__version__",
    "compile_spec",
    "estimate",
    "iter_batches",
    "load",
    "merge",
    "optimal",
    "parse_number",
    "serve",
    "solve",
    "sweep",
    "validate",
]
