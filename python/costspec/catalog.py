"""The catalog: accelerators, model presets and dated prices, each figure with its source.

The built-in catalog ships as JSON in ``costspec/data`` (it loads in about a millisecond); users
add or override entries with YAML or JSON files of the same shape (``--catalog FILE``), where a
figure may be a plain number instead of ``{value, status, src}``.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Mapping

from costspec.errors import CatalogError, UnknownNameError

PRECISIONS = ("fp32", "tf32", "bf16", "fp16", "fp8", "fp4")
ARCH_FIELDS = (
    "layers", "d_model", "heads", "kv_heads", "head_dim", "ffn_dim", "vocab", "seq_len", "experts",
    "experts_per_token",
)


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
    aliases: tuple[str, ...] = ()
    year: int | None = None
    notes: str | None = None
    origin: str = "built-in"


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

    def __init__(self, kind: str, field: str) -> None:
        self.kind, self.field = kind, field
        self.by_key: dict[str, Any] = {}
        self.ids: list[str] = []

    def add(self, entry: Any) -> None:
        if entry.id not in self.ids:
            self.ids.append(entry.id)
        else:  # a user entry replaces a built-in one of the same id, aliases and all
            self.by_key = {k: v for k, v in self.by_key.items() if v.id != entry.id}
        for name in (entry.id, *entry.aliases):
            self.by_key[normalise(name)] = entry

    def get(self, name: str) -> Any:
        hit = self.by_key.get(normalise(name))
        if hit is not None:
            return hit
        keys = {normalise(i): i for i in self.ids}
        keys.update({k: v.id for k, v in self.by_key.items()})
        near = difflib.get_close_matches(normalise(name), list(keys), n=5, cutoff=0.5)
        closest = list(dict.fromkeys(keys[k] for k in near))[:3]
        raise UnknownNameError(self.field, self.kind, name, closest, self.ids)

    def __iter__(self) -> Any:
        seen = {v.id: v for v in self.by_key.values()}
        return iter(seen[i] for i in self.ids)


def _figure(raw: Any, where: str) -> Figure | None:
    if raw is None:
        return None
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return Figure(float(raw))
    if isinstance(raw, Mapping) and isinstance(raw.get("value"), (int, float)):
        return Figure(
            float(raw["value"]), str(raw.get("status", "user")), raw.get("src"), bool(raw.get("unverified", False))
        )
    if isinstance(raw, Mapping) and raw.get("value") is None:
        return None
    raise CatalogError(f"{where}: expected a number or {{value, status, src}}, got {raw!r}")


def _require(entry: Mapping[str, Any], keys: Iterable[str], where: str) -> None:
    missing = [k for k in keys if entry.get(k) is None]
    if missing:
        raise CatalogError(f"{where}: missing {', '.join(missing)}")


def _gpu(raw: Mapping[str, Any], origin: str) -> Gpu:
    where = f"{origin}: gpu {raw.get('id', '?')}"
    _require(raw, ("id",), where)
    peaks_raw = raw.get("peak_tflops") or {}
    unknown = set(peaks_raw) - set(PRECISIONS)
    if unknown:
        raise CatalogError(f"{where}: unknown precision {sorted(unknown)}; expected {', '.join(PRECISIONS)}")
    peaks = {p: f for p, r in peaks_raw.items() if (f := _figure(r, f"{where} peak_tflops.{p}")) is not None}
    if not peaks:
        raise CatalogError(f"{where}: needs peak_tflops for at least one of {', '.join(PRECISIONS)}")
    return Gpu(
        id=str(raw["id"]),
        name=str(raw.get("name", raw["id"])),
        vendor=str(raw.get("vendor", "")),
        peak_tflops=peaks,
        memory_gb=_figure(raw.get("memory_gb"), f"{where} memory_gb"),
        tdp_w=_figure(raw.get("tdp_w"), f"{where} tdp_w"),
        bandwidth_tbps=_figure(raw.get("bandwidth_tbps"), f"{where} bandwidth_tbps"),
        aliases=tuple(str(a) for a in raw.get("aliases", ())),
        year=raw.get("year"),
        notes=raw.get("notes"),
        origin=origin,
    )


def _model(raw: Mapping[str, Any], origin: str) -> ModelPreset:
    where = f"{origin}: model {raw.get('id', '?')}"
    _require(raw, ("id", "params"), where)
    arch = dict(raw.get("architecture") or {})
    unknown = set(arch) - set(ARCH_FIELDS) - {"gated_mlp"}
    if unknown:
        raise CatalogError(f"{where}: unknown architecture field {sorted(unknown)}; expected {', '.join(ARCH_FIELDS)}")
    return ModelPreset(
        id=str(raw["id"]),
        name=str(raw.get("name", raw["id"])),
        params=float(raw["params"]),
        active_params=None if raw.get("active_params") is None else float(raw["active_params"]),
        architecture={k: v for k, v in arch.items() if v is not None},
        source=str(raw.get("source", origin)),
        status=str(raw.get("status", "user")),
        aliases=tuple(str(a) for a in raw.get("aliases", ())),
        training=dict(raw.get("training") or {}),
        notes=raw.get("notes"),
        origin=origin,
    )


def _price(raw: Mapping[str, Any], origin: str) -> Price:
    where = f"{origin}: price {raw.get('provider', '?')}/{raw.get('gpu', '?')}"
    _require(raw, ("provider", "gpu", "usd_per_gpu_hour"), where)
    return Price(
        provider=str(raw["provider"]),
        gpu=str(raw["gpu"]),
        usd_per_gpu_hour=float(raw["usd_per_gpu_hour"]),
        pricing=str(raw.get("pricing", "on-demand")),
        as_of=str(raw.get("as_of", "")),
        src=str(raw.get("src", origin)),
        status=str(raw.get("status", "user")),
        product=raw.get("product"),
        region=raw.get("region"),
        unverified=bool(raw.get("unverified", False)),
        origin=origin,
    )


class Catalog:
    """GPUs, model presets and prices. ``Catalog.load(files)`` adds user files to the built-in one."""

    def __init__(self) -> None:
        self.gpus = _Index("GPU", "gpu")
        self.models = _Index("model preset", "model")
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
    def load(cls, files: Iterable[str | Path] = ()) -> Catalog:
        files = list(files)
        if not files:
            return _builtin()
        cat = cls.fresh()
        for f in files:
            cat.add_file(f)
        return cat

    def _merge_builtin(self) -> None:
        data = resources.files("costspec") / "data"
        for name in ("gpus", "models", "prices"):
            raw = json.loads((data / f"{name}.json").read_text(encoding="utf-8"))
            self.versions.append(f"{name}@{raw['version']}")
            self.add(raw, origin="built-in")

    def add_file(self, path: str | Path) -> None:
        from costspec.yamlio import load_document

        raw = load_document(Path(path))
        if not isinstance(raw, Mapping):
            raise CatalogError(f"{path}: expected a mapping with gpus, models and/or prices")
        self.versions.append(f"user:{path}")
        self.add(raw, origin=str(path))

    def add(self, raw: Mapping[str, Any], origin: str) -> None:
        unknown = set(raw) - {"gpus", "models", "prices", "catalog", "version", "about"}
        if unknown:
            raise CatalogError(f"{origin}: unknown section {sorted(unknown)}; expected gpus, models, prices")
        for section in ("gpus", "models", "prices"):
            entries = raw.get(section) or []
            if not isinstance(entries, list):
                raise CatalogError(f"{origin}: {section} must be a list of entries")
            for e in entries:
                if not isinstance(e, Mapping):
                    raise CatalogError(f"{origin}: each entry of {section} must be a mapping, got {e!r}")
                if section == "gpus":
                    self.gpus.add(_gpu(e, origin))
                elif section == "models":
                    self.models.add(_model(e, origin))
                else:
                    p = _price(e, origin)
                    self.gpu(p.gpu)  # a price must name a known GPU
                    self.prices.append(p)

    def gpu(self, name: str) -> Gpu:
        gpu: Gpu = self.gpus.get(name)
        return gpu

    def model(self, name: str) -> ModelPreset:
        model: ModelPreset = self.models.get(name)
        return model

    def price(self, provider: str, gpu: Gpu) -> Price:
        """The newest on-demand price of ``provider`` for ``gpu`` (user rows win over built-in ones).

        ``provider`` may name a tier after a slash ('gcp/spot', 'runpod/secure'), matched against
        the row's pricing text.
        """
        name, _, tier = provider.partition("/")
        rows = [p for p in self.prices if normalise(p.provider) == normalise(name)]
        if not rows:
            providers = sorted({p.provider for p in self.prices})
            near = difflib.get_close_matches(name.lower(), [p.lower() for p in providers], n=3, cutoff=0.4)
            closest = [p for p in providers if p.lower() in near]
            raise UnknownNameError("provider", "provider", provider, closest, providers)
        for_gpu = [p for p in rows if p.gpu == gpu.id]
        if tier:
            for_gpu = [p for p in for_gpu if tier.lower() in p.pricing.lower()]
        else:
            for_gpu = [p for p in for_gpu if p.pricing.startswith("on-demand")] or for_gpu
        if not for_gpu:
            offered = sorted({f"{p.gpu} ({p.pricing})" for p in rows})
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
