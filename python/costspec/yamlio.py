"""Reading YAML 1.2 and JSON documents (catalog files now; spec files build on this)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from costspec.errors import CatalogError

MAX_BYTES = 8 * 1024 * 1024


def load_document(path: Path) -> Any:
    """Load a YAML 1.2 or JSON file. Duplicate keys are errors; so are unreadable or oversize files."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise CatalogError(f"{path}: {size} bytes is larger than the {MAX_BYTES}-byte limit")
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise CatalogError(f"{path}: cannot read: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise CatalogError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text, object_pairs_hook=_no_duplicates)
        except json.JSONDecodeError as e:
            raise CatalogError(f"{path}:{e.lineno}:{e.colno}: {e.msg}") from None
        except ValueError as e:
            raise CatalogError(f"{path}: {e}") from None
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        return YAML(typ="safe", pure=True).load(text)
    except MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise CatalogError(f"{where}: {e.problem or e.context}") from None
    except YAMLError as e:
        raise CatalogError(f"{path}: {e}") from None


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k!r}")
        out[k] = v
    return out
