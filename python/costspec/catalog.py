"""The catalog: accelerators, model presets and dated prices, each figure with its source.

The built-in catalog ships as JSON in ``costspec/data`` (it loads in about a millisecond); users
add or override entries with YAML or JSON files of the same shape (``--catalog FILE``), where a
figure may be a plain number instead of ``{value, status, src}``.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Iterable, Mapping

from costspec.errors import CatalogError, InputError, UnknownNameError, printable
from costspec.fields import MODEL_ARCHITECTURE as ARCH_FIELDS
from costspec.fields import PRECISIONS

# The built-in data files, installed beside the package's modules (importlib.resources would
# cost a one-point estimate 9 ms of imports).
DATA = Path(__file__).parent / "data"


def normalise(name: str) -> str:
    """Case- and punctuation-insensitive key: 'H100 SXM', 'h100-sxm' and 'H100_SXM' agree."""
    return re.sub(r"[^0-9a-z.]", "", name.lower())


@dataclass(frozen=True)
class Figure:
    """One sourced number. ``status`` is primary, paper_text, derived, secondary, memory or user."""

    value: float
    status: str = "user"
    src: str | None = None
    unverified: bool = False

    def cite(self) -> str:
        parts = [self.status] + (["unverified"] if self.unverified else [])
        return f"{self.src or 'no source given'} [{', '.join(parts)}]"


@dataclass(frozen=True)
class Gpu:
    id: str
    name: str
    vendor: str
    peak_tflops: Mapping[str, Figure]
    memory_gb: Figure | None
    tdp_w: Figure | None
    bandwidth_tbps: Figure | None = None
    # Measured power of the whole system per accelerator (host, network, fans), where published.
    system_power_w: Figure | None = None
    # The interconnect, for the step-time model: accelerators per scale-up domain (NVLink node,
    # xGMI board, TPU pod), scale-up GB/s and scale-out Gb/s per accelerator per direction, and
    # the reference system they are read from.
    scale_up_domain: Figure | None = None
    scale_up_gb_per_s: Figure | None = None
    scale_out_gbps: Figure | None = None
    network_system: str | None = None
    # The memory the driver reports (nvidia-smi's total), where a source prints it: the datasheet's
    # "80 GB" of an H100 is 81,559 MiB = 85.52 GB as the device reports it.
    memory_total_gb: Figure | None = None
    aliases: tuple[str, ...] = ()
    year: int | None = None
    notes: str | None = None
    origin: str = "built-in"

    @property
    def device_memory(self) -> Figure | None:
        """The device memory what fits is judged on: the total the driver reports where sourced,
        else the datasheet's."""
        return self.memory_total_gb or self.memory_gb


@dataclass(frozen=True)
class ModelPreset:
    id: str
    name: str
    params: float
    active_params: float | None
    architecture: Mapping[str, float | bool]
    source: str
    status: str
    aliases: tuple[str, ...] = ()
    training: Mapping[str, Any] = field(default_factory=dict)
    notes: str | None = None
    origin: str = "built-in"


@dataclass(frozen=True)
class Price:
    provider: str
    gpu: str
    usd_per_gpu_hour: float
    pricing: str
    as_of: str
    src: str
    status: str
    product: str | None = None
    region: str | None = None
    unverified: bool = False
    origin: str = "built-in"

    def cite(self) -> str:
        flags = self.status + (", unverified" if self.unverified else "")
        return f"{self.provider} {self.product or ''} {self.pricing}, as of {self.as_of}; {self.src} [{flags}]".replace("  ", " ")


class _Index:
    """Names → entries, matched case-insensitively, with aliases and 'did you mean'."""

    def __init__(self, kind: str, field: str, foreign: set[str] | None = None) -> None:
        self.kind, self.field = kind, field
        self.by_key: dict[str, Any] = {}
        self.ids: list[str] = []
        # Origins (catalog files) whose names are never offered as suggestions: an error must not
        # print what a file the user did not ask to see defines.
        self.foreign = foreign if foreign is not None else set()

    def add(self, entry: Any) -> None:
        if entry.id not in self.ids:
            self.ids.append(entry.id)
        else:  # a user entry replaces a built-in one of the same id, aliases and all
            self.by_key = {k: v for k, v in self.by_key.items() if v.id != entry.id}
        for name in (entry.id, *entry.aliases):
            self.by_key[normalise(name)] = entry

    def get(self, name: str) -> Any:
        if not isinstance(name, str) or not name:
            raise InputError(self.field, repr(name), f"a {self.kind} name from the catalog")
        hit = self.by_key.get(normalise(name))
        if hit is not None:
            return hit
        shown = {v.id for v in self.by_key.values() if v.origin not in self.foreign}
        keys = {normalise(i): i for i in self.ids if i in shown}
        keys.update({k: v.id for k, v in self.by_key.items() if v.id in shown})
        near = difflib.get_close_matches(normalise(name), list(keys), n=5, cutoff=0.5)
        closest = list(dict.fromkeys(keys[k] for k in near))[:3]
        raise UnknownNameError(self.field, self.kind, name, closest, [i for i in self.ids if i in shown])

    def __iter__(self) -> Any:
        seen = {v.id: v for v in self.by_key.values()}
        return iter(seen[i] for i in self.ids)


class _Where:
    """Locates a problem in a catalog source: ``origin:line:column: path: message``.

    Messages name known keys and positions only, never values or unknown keys from the file: a
    catalog may be any file a spec points at, and its errors must not print its content."""

    def __init__(self, origin: str, doc: Any = None, prefix: tuple[Any, ...] = ()) -> None:
        self.origin, self.doc, self.prefix = origin, doc, prefix

    def error(self, path: tuple[Any, ...], message: str, at: tuple[Any, ...] | None = None,
              key: bool = False) -> CatalogError:
        from costspec.yamlio import dotted

        path, at = (*self.prefix, *path), None if at is None else (*self.prefix, *at)
        shown = dotted(path)
        if self.doc is None:
            return CatalogError(f"{self.origin}: {shown}: {message}" if shown else f"{self.origin}: {message}")
        line, col = self.doc.where(at if at is not None else path, key=key or at is not None)
        where = f"{self.origin}:{line}:{col}"
        return CatalogError(f"{where}: {shown}: {message}" if shown else f"{where}: {message}",
                            (line, col, shown, message))

    def unknown_keys(self, raw: Mapping[Any, Any], known: Iterable[str], path: tuple[Any, ...], what: str,
                     shown: Iterable[str] | None = None) -> None:
        known = tuple(known)
        unknown = [k for k in raw if k not in known]
        if unknown:
            many = f"{len(unknown)} unknown {what}s" if len(unknown) > 1 else f"an unknown {what}"
            raise self.error(path, f"{many} (the first is located here); expected {', '.join(shown or known)}",
                             at=(*path, unknown[0]))


def _figure(raw: Any, path: tuple[Any, ...], where: _Where) -> Figure | None:
    if raw is None:
        return None
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return Figure(_finite(raw, path, where, positive=True))
    if isinstance(raw, Mapping) and isinstance(raw.get("value"), (int, float)) and not isinstance(raw["value"], bool):
        return Figure(
            _finite(raw["value"], (*path, "value"), where, positive=True), printable(str(raw.get("status", "user"))),
            None if raw.get("src") is None else printable(str(raw["src"])),
            bool(raw.get("unverified", False))
        )
    if isinstance(raw, Mapping) and raw.get("value") is None:
        return None
    raise where.error(path, "expected a number or {value, status, src}")


def _finite(x: Any, path: tuple[Any, ...], where: _Where, positive: bool = False) -> float:
    try:
        v = float(x) if not isinstance(x, (bool, str)) else math.nan
    except (OverflowError, TypeError, ValueError):
        v = math.nan
    if not math.isfinite(v) or v < 0 or (positive and v == 0):
        raise where.error(path, f"expected a finite number {'> 0' if positive else '>= 0'}")
    return v


def _text(raw: Any, key: str, path: tuple[Any, ...], where: _Where) -> str:
    v = raw.get(key)
    if not isinstance(v, (str, int, float)) or isinstance(v, bool) or str(v) == "":
        raise where.error((*path, key), "expected a non-empty name")
    if printable(str(v)) != str(v):
        raise where.error((*path, key), "a name may not hold control characters")
    return str(v)


def _require(entry: Mapping[str, Any], keys: Iterable[str], path: tuple[Any, ...], where: _Where) -> None:
    missing = [k for k in keys if entry.get(k) is None]
    if missing:
        raise where.error(path, f"missing {', '.join(missing)}")


def _gpu(raw: Mapping[str, Any], origin: str, path: tuple[Any, ...], where: _Where) -> Gpu:
    _require(raw, ("id",), path, where)
    peaks_raw = raw.get("peak_tflops") or {}
    if not isinstance(peaks_raw, Mapping):
        raise where.error((*path, "peak_tflops"), "expected a mapping of precision to TFLOP/s")
    where.unknown_keys(peaks_raw, PRECISIONS, (*path, "peak_tflops"), "precision")
    peaks = {p: f for p, r in peaks_raw.items()
             if (f := _figure(r, (*path, "peak_tflops", p), where)) is not None}
    if not peaks:
        raise where.error(path, f"needs peak_tflops for at least one of {', '.join(PRECISIONS)}")
    return Gpu(
        id=_text(raw, "id", path, where),
        name=printable(str(raw.get("name", raw["id"]))),
        vendor=printable(str(raw.get("vendor", ""))),
        peak_tflops=peaks,
        memory_gb=_figure(raw.get("memory_gb"), (*path, "memory_gb"), where),
        memory_total_gb=_figure(raw.get("memory_total_gb"), (*path, "memory_total_gb"), where),
        tdp_w=_figure(raw.get("tdp_w"), (*path, "tdp_w"), where),
        bandwidth_tbps=_figure(raw.get("bandwidth_tbps"), (*path, "bandwidth_tbps"), where),
        system_power_w=_figure(raw.get("system_power_w"), (*path, "system_power_w"), where),
        scale_up_domain=_figure(raw.get("scale_up_domain"), (*path, "scale_up_domain"), where),
        scale_up_gb_per_s=_figure(raw.get("scale_up_gb_per_s"), (*path, "scale_up_gb_per_s"), where),
        scale_out_gbps=_figure(raw.get("scale_out_gbps"), (*path, "scale_out_gbps"), where),
        network_system=None if raw.get("network_system") is None else printable(str(raw["network_system"])),
        aliases=tuple(printable(str(a)) for a in _list(raw, "aliases", path, where)),
        year=raw.get("year"),
        notes=None if raw.get("notes") is None else printable(str(raw["notes"])),
        origin=origin,
    )


def _list(raw: Mapping[str, Any], key: str, path: tuple[Any, ...], where: _Where) -> list[Any]:
    v = raw.get(key) or []
    if not isinstance(v, list):
        raise where.error((*path, key), "expected a list")
    return v


def _model(raw: Mapping[str, Any], origin: str, path: tuple[Any, ...], where: _Where) -> ModelPreset:
    _require(raw, ("id", "params"), path, where)
    arch_raw = raw.get("architecture") or {}
    if not isinstance(arch_raw, Mapping):
        raise where.error((*path, "architecture"), "expected a mapping")
    where.unknown_keys(arch_raw, (*ARCH_FIELDS, "gated_mlp"), (*path, "architecture"), "architecture field")
    arch = {k: (bool(v) if k == "gated_mlp" else _finite(v, (*path, "architecture", k), where, positive=True))
            for k, v in arch_raw.items() if v is not None}
    params = _finite(raw["params"], (*path, "params"), where, positive=True)
    active = raw.get("active_params")
    if not isinstance(raw.get("training") or {}, Mapping):
        raise where.error((*path, "training"), "expected a mapping")
    training = dict(raw.get("training") or {})
    for key in ("tokens", "gpu_hours", "gpu_hours_total", "gpu_hours_derived", "wall_clock_days", "flops", "mfu",
                "co2e_t", "cost_usd", "accelerators", "throughput_tokens_per_s", "global_batch_tokens"):
        if training.get(key) is not None:  # published figures: numbers (tokens is used as an input)
            training[key] = _finite(training[key], (*path, "training", key), where)
    if "dropout" in training and not isinstance(training["dropout"], bool):  # (the memory model's default)
        raise where.error((*path, "training", "dropout"), "expected true or false")
    return ModelPreset(
        id=_text(raw, "id", path, where),
        name=printable(str(raw.get("name", raw["id"]))),
        params=params,
        active_params=None if active is None else _finite(active, (*path, "active_params"), where, positive=True),
        architecture=arch,
        source=printable(str(raw.get("source", origin))),
        status=printable(str(raw.get("status", "user"))),
        aliases=tuple(printable(str(a)) for a in _list(raw, "aliases", path, where)),
        training=training,
        notes=None if raw.get("notes") is None else printable(str(raw["notes"])),
        origin=origin,
    )


def _price(raw: Mapping[str, Any], origin: str, path: tuple[Any, ...], where: _Where) -> Price:
    _require(raw, ("provider", "gpu", "usd_per_gpu_hour"), path, where)
    return Price(
        provider=_text(raw, "provider", path, where),
        gpu=_text(raw, "gpu", path, where),
        usd_per_gpu_hour=_finite(raw["usd_per_gpu_hour"], (*path, "usd_per_gpu_hour"), where),
        pricing=printable(str(raw.get("pricing", "on-demand"))),
        as_of=printable(str(raw.get("as_of", ""))),
        src=printable(str(raw.get("src", origin))),
        status=printable(str(raw.get("status", "user"))),
        product=None if raw.get("product") is None else printable(str(raw["product"])),
        region=None if raw.get("region") is None else printable(str(raw["region"])),
        unverified=bool(raw.get("unverified", False)),
        origin=origin,
    )


class Catalog:
    """GPUs, model presets and prices. ``Catalog.load(files)`` adds user files to the built-in one."""

    def __init__(self) -> None:
        self.foreign: set[str] = set()  # origins of catalog files: their names are never suggested
        self.gpus = _Index("GPU", "gpu", self.foreign)
        self.models = _Index("model preset", "model", self.foreign)
        self.prices: list[Price] = []
        self.versions: list[str] = []

    @classmethod
    def builtin(cls) -> Catalog:
        return _builtin()

    @classmethod
    def fresh(cls) -> Catalog:
        """A new catalog holding the built-in entries, for adding user entries to."""
        cat = cls()
        cat._merge_builtin()
        return cat

    @classmethod
    def load(cls, files: Iterable[str | Path] | str | Path = ()) -> Catalog:
        """The built-in catalog with user files added (one path, or several)."""
        import os

        if isinstance(files, (str, os.PathLike)):
            files = [files]
        if not isinstance(files, Iterable) or isinstance(files, bytes):
            raise InputError("catalog", type(files).__name__, "catalog file paths (strings or pathlib.Paths)")
        files = list(files)
        for f in files:
            if not isinstance(f, (str, os.PathLike)) or isinstance(f, bytes):
                raise InputError("catalog", type(f).__name__, "catalog file paths (strings or pathlib.Paths)")
        if not files:
            return _builtin()
        cat = cls.fresh()
        for f in files:
            cat.add_file(f)
        return cat

    def _merge_builtin(self) -> None:
        data = DATA
        for name in ("gpus", "models", "prices"):
            raw = json.loads((data / f"{name}.json").read_text(encoding="utf-8"))
            self.versions.append(f"{name}@{raw['version']}")
            self.add(raw, origin="built-in")

    def add_file(self, path: str | Path, regular_only: bool = False) -> None:
        """Add a YAML or JSON catalog file. Its errors give positions, never its content; with
        ``regular_only`` anything but a regular file is refused unread."""
        from costspec.errors import SpecError
        from costspec.yamlio import read

        try:
            doc = read(Path(path), foreign=True, regular_only=regular_only)
        except SpecError as e:
            raise CatalogError(e.format()) from None
        if not isinstance(doc.data, Mapping):
            raise CatalogError(f"{path}:1:1: expected a mapping with gpus, models and/or prices")
        self.versions.append(f"user:{path}")
        self.foreign.add(str(path))
        self.add(doc.data, origin=str(path), doc=doc)

    def add(self, raw: Mapping[str, Any], origin: str, doc: Any = None, prefix: tuple[Any, ...] = ()) -> None:
        """Add entries (``{gpus: [...], models: [...], prices: [...]}``); ``doc``, the document they
        were read from (under ``prefix`` in it), locates errors."""
        where = _Where(origin, doc, prefix)
        where.unknown_keys(raw, ("gpus", "models", "prices", "catalog", "version", "about"), (), "section",
                           shown=("gpus", "models", "prices"))
        for section in ("gpus", "models", "prices"):
            entries = raw.get(section) or []
            if not isinstance(entries, list):
                raise where.error((section,), "must be a list of entries")
            for i, e in enumerate(entries):
                path = (section, i)
                if not isinstance(e, Mapping):
                    raise where.error(path, "each entry must be a mapping")
                if section == "gpus":
                    self.gpus.add(_gpu(e, origin, path, where))
                elif section == "models":
                    self.models.add(_model(e, origin, path, where))
                else:
                    p = _price(e, origin, path, where)
                    try:
                        self.gpu(p.gpu)  # a price must name a known GPU
                    except UnknownNameError as err:
                        raise where.error((*path, "gpu"), f"not a known GPU (closest: {', '.join(err.closest)})"
                                          if err.closest else "not a known GPU") from None
                    self.prices.append(p)

    def gpu(self, name: str) -> Gpu:
        gpu: Gpu = self.gpus.get(name)
        return gpu

    def model(self, name: str) -> ModelPreset:
        model: ModelPreset = self.models.get(name)
        return model

    def provider_name(self, provider: str) -> str:
        """The catalog's spelling of a provider ('LAMBDA/Spot' → 'lambda/spot'), tier kept."""
        name, slash, tier = provider.partition("/")
        row = next((p for p in self.prices if normalise(p.provider) == normalise(name)), None)
        return (row.provider if row else name) + (slash + tier.lower() if slash else "")

    def price(self, provider: str, gpu: Gpu) -> Price:
        """The newest on-demand price of ``provider`` for ``gpu`` (user rows win over built-in ones).

        ``provider`` may name a tier after a slash ('gcp/spot', 'runpod/secure'), matched against
        the row's pricing text.
        """
        if not isinstance(provider, str) or not provider:
            raise InputError("provider", repr(provider), "a provider name from the catalog")
        name, _, tier = provider.partition("/")
        rows = [p for p in self.prices if normalise(p.provider) == normalise(name)]
        if not rows:
            providers = sorted({p.provider for p in self.prices if p.origin not in self.foreign})
            near = difflib.get_close_matches(name.lower(), [p.lower() for p in providers], n=3, cutoff=0.4)
            closest = [p for p in providers if p.lower() in near]
            raise UnknownNameError("provider", "provider", provider, closest, providers)
        for_gpu = [p for p in rows if p.gpu == gpu.id]
        if tier:
            for_gpu = [p for p in for_gpu if tier.lower() in p.pricing.lower()]
        else:
            for_gpu = [p for p in for_gpu if p.pricing.startswith("on-demand")] or for_gpu
        if not for_gpu:
            offered = sorted({f"{p.gpu} ({p.pricing})" for p in rows if p.origin not in self.foreign})
            raise UnknownNameError(
                "provider", f"price for {gpu.id} at this provider", provider, [], offered
            )
        user = [p for p in for_gpu if p.origin != "built-in"]
        pool = user or for_gpu
        newest = max(p.as_of for p in pool)
        return next(p for p in pool if p.as_of == newest)


@cache
def _builtin() -> Catalog:
    return Catalog.fresh()
