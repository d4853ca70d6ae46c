"""Reading YAML 1.2 and JSON documents, remembering where every key and value came from.

ruamel.yaml composes the document into nodes (YAML 1.2 core schema: ``1e12`` is a number, ``no``
is a string); this module turns the nodes into plain Python values and a position map, rejecting
what a spec must not contain: duplicate keys, unknown tags, alias expansions beyond a bound (a
"billion laughs" file is an error, not a hang), recursive aliases, over-deep nesting, oversize files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from costspec.errors import CatalogError, SpecError, printable

MAX_BYTES = 1 << 20  # a spec larger than 1 MiB is a mistake, not a spec
MAX_NODES = 100_000  # values after alias expansion
MAX_DEPTH = 64
MAX_INT = int(1.7976931348623157e308)  # an integer a float can hold (larger ones: an error, not inf)
MAX_DIGITS = 400  # a longer integer literal is beyond the float range anyway

Path_ = tuple[str | int, ...]


@dataclass
class Document:
    """A loaded document: ``data`` plus 1-based (line, column) of every value and mapping key."""

    file: str
    text: str
    data: Any
    values: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    # Values set from the command line instead of the file: path -> the flag that set it.
    flags: dict[Path_, str] = field(default_factory=dict)

    def where(self, path: Path_, key: bool = False) -> tuple[int, int]:
        """Position of the value (or key) at ``path``, else of its nearest located ancestor."""
        table = self.keys if key else self.values
        p = tuple(path)
        while p:
            if p in table:
                return table[p]
            if not key and p in self.keys:
                return self.keys[p]
            p = p[:-1]
        return self.values.get((), (1, 1))

    def error(self, path: Path_, message: str, expected: str | None = None, found: str | None = None,
              key: bool = False) -> SpecError:
        flag = self.flag_of(path)
        line, col = (0, 0) if flag else self.where(path, key)
        return SpecError(self.file, line, col, dotted(path), message, expected, found, flag=flag)

    def flag_of(self, path: Path_) -> str | None:
        """The command-line flag that set the value at ``path`` (or an ancestor of it), if any."""
        p = tuple(path)
        while p:
            if p in self.flags:
                rest = tuple(path)[len(p):]  # (an item of the list the flag gave: tensor_parallel[1])
                if len(rest) == 1 and isinstance(rest[0], int) and not self.flags[p].startswith("--"):
                    return f"{self.flags[p]}[{rest[0]}]"
                return self.flags[p]
            p = p[:-1]
        return None

    def override(self, path: Path_, value: Any, flag: str) -> None:
        """Set the value at ``path`` (creating mappings on the way; an int indexes an existing list
        item) as given by ``flag``; errors about it then name the flag. A path through a value that
        is not a mapping is left for the schema."""
        if not isinstance(self.data, dict):
            return
        node: Any = self.data
        for k in path[:-1]:
            if isinstance(node, list) and isinstance(k, int) and 0 <= k < len(node):
                node = node[k]
                continue
            if not isinstance(node, dict):
                return
            node = node.setdefault(str(k), {})
        last = path[-1]
        if isinstance(node, list) and isinstance(last, int) and 0 <= last < len(node):
            node[last] = value
        elif isinstance(node, dict):
            node[str(last)] = value
        else:
            return
        self.flags[tuple(path)] = flag

    def overridden(self) -> list[dict[str, Any]]:
        """The values set from the command line: path, the flag that set it, and the value."""
        out = []
        for path, flag in self.flags.items():
            node: Any = self.data
            for k in path:
                if isinstance(node, dict):
                    node = node.get(k)
                elif isinstance(node, list) and isinstance(k, int) and 0 <= k < len(node):
                    node = node[k]
                else:
                    node = None
            out.append({"path": dotted(path), "flag": flag, "value": node})
        return out

    def apply_sets(self, sets: Sequence[str]) -> None:
        """``--set PATH=VALUE`` overrides, in order (a later one wins): VALUE is read as YAML (``512``,
        ``h100``, ``[8, 16]``, ``"=20 * model.params"``), PATH is dotted, a key that holds dots
        (``sweep.grid.hardware.count``) included, and a number indexes a list (``where.0``).
        Errors about a value name its ``--set``. Raises SpecError for a malformed setting."""
        for item in sets:
            dotted_path, value = parse_set(item, self.file)
            path = self.resolve(dotted_path)
            self.override(path, value, f"--set {printable(dotted_path)}")

    def resolve(self, dotted_path: str) -> Path_:
        """The document path a dotted ``--set`` path names: at each mapping the longest run of
        names that is one of its keys (field names hold dots), else one name; a new key of the sweep's
        grid or of a zip group is the whole rest (``sweep.grid.model.params``)."""
        flag = f"--set {printable(dotted_path)}"
        names = dotted_path.split(".")
        path: list[str | int] = []
        node: Any = self.data
        i = 0
        while i < len(names):
            rest = names[i:]
            if isinstance(node, list):
                if not (rest[0].isdigit() and int(rest[0]) < len(node)):
                    raise _set_error(self.file, flag, f"{dotted(tuple(path))} is a list of {len(node)} item"
                                     f"{'s' * (len(node) != 1)}: name one by its index (0 to {len(node) - 1})", "an index", rest[0])
                path.append(int(rest[0]))
                node = node[int(rest[0])]
                i += 1
                continue
            if node is not None and not isinstance(node, dict):
                raise _set_error(self.file, flag, f"{dotted(tuple(path))} holds a value, not a mapping: set "
                                 f"{dotted(tuple(path))} itself", "a path to a mapping's key", dotted_path)
            keys = node if isinstance(node, dict) else {}
            j = next((j for j in range(len(rest), 0, -1) if ".".join(rest[:j]) in keys), 0)
            if j == 0:
                grid = path == ["sweep", "grid"] or (len(path) == 3 and path[:2] == ["sweep", "zip"])
                j = len(rest) if grid else 1
            key = ".".join(rest[:j])
            if not key:
                raise _set_error(self.file, flag, "an empty name in the path", "names joined by dots, e.g. hardware.count",
                                 dotted_path)
            path.append(key)
            node = keys.get(key)
            i += j
        return tuple(path)


def parse_set(item: str, file: str = "<command line>") -> tuple[str, Any]:
    """``PATH=VALUE`` as (PATH, VALUE read as one YAML value). The first ``=`` splits them, so an
    expression keeps its own: ``training.tokens==20 * model.params``."""
    path, eq, text = item.partition("=")
    path = path.strip()
    if not eq or not path:
        raise _set_error(file, "--set", "a setting is PATH=VALUE", "e.g. --set hardware.count=512", item)
    try:
        doc = parse(text, f"--set {printable(path)}")
    except SpecError as e:
        raise _set_error(file, f"--set {printable(path)}", f"the value is not YAML: {e.message}",
                         "a YAML value: 512, h100, [8, 16], {gpu: h100}", text) from None
    return path, doc.data


def _set_error(file: str, flag: str, message: str, expected: str, found: str) -> SpecError:
    return SpecError(file, 0, 0, "", message, expected, repr(found), flag=flag)


def dotted(path: Path_) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


class _Builder:
    def __init__(self, file: str, foreign: bool = False) -> None:
        self.file = file
        self.foreign = foreign  # a file costspec was not asked to show: no content in its errors
        self.count = 0
        self.values: dict[Path_, tuple[int, int]] = {}
        self.keys: dict[Path_, tuple[int, int]] = {}
        self.active: set[int] = set()

    def fail(self, node: Any, message: str, path: Path_ = (), generic: str | None = None) -> SpecError:
        """An error at ``node``; in a foreign file, ``generic`` (no text from the file) and no path."""
        m = node.start_mark
        if self.foreign:
            return SpecError(self.file, m.line + 1, m.column + 1, "", generic or message)
        return SpecError(self.file, m.line + 1, m.column + 1, dotted(path), message)

    def build(self, node: Any, path: Path_) -> Any:
        from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

        self.count += 1
        if self.count > MAX_NODES:
            raise self.fail(node, f"the document expands to more than {MAX_NODES:,} values (aliases nested too deep?)", path)
        if len(path) > MAX_DEPTH:
            raise self.fail(node, f"nesting deeper than {MAX_DEPTH} levels", path)
        if id(node) in self.active:
            raise self.fail(node, "an alias refers to a node that contains it (recursive alias)", path)
        self.values.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if isinstance(node, ScalarNode):
            return self.scalar(node, path)
        self.active.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                if node.tag not in ("tag:yaml.org,2002:seq",):
                    raise self.fail(node, f"unsupported tag {node.tag}", path, "unsupported tag")
                return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
            if isinstance(node, MappingNode):
                if node.tag not in ("tag:yaml.org,2002:map",):
                    raise self.fail(node, f"unsupported tag {node.tag}", path, "unsupported tag")
                return self.mapping(node, path)
            raise self.fail(node, "unsupported YAML node", path)
        finally:
            self.active.discard(id(node))

    def mapping(self, node: Any, path: Path_) -> dict[str, Any]:
        from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

        out: dict[str, Any] = {}
        seen: dict[str, int] = {}
        merged: list[Any] = []
        for knode, vnode in node.value:
            if knode.tag == "tag:yaml.org,2002:merge":
                sources = vnode.value if isinstance(vnode, SequenceNode) else [vnode]
                if not all(isinstance(s, MappingNode) for s in sources):
                    raise self.fail(vnode, "a merge key (<<) must refer to a mapping or a list of mappings", path)
                merged.extend(sources)
                continue
            if not isinstance(knode, ScalarNode):
                raise self.fail(knode, "mapping keys must be plain strings", path)
            key = self.scalar(knode, path)
            if not isinstance(key, str):
                key = str(knode.value)
            if key in seen:
                raise self.fail(knode, f"duplicate key {key!r} (first defined on line {seen[key]})", (*path, key),
                                f"duplicate key (first defined on line {seen[key]})")
            seen[key] = knode.start_mark.line + 1
            self.keys.setdefault((*path, key), (knode.start_mark.line + 1, knode.start_mark.column + 1))
            out[key] = self.build(vnode, (*path, key))
        for source in merged:  # explicit keys win over merged ones; earlier merges win over later
            extra = self.mapping(source, path)
            for k, v in extra.items():
                out.setdefault(k, v)
        return out

    def scalar(self, node: Any, path: Path_) -> Any:
        tag, value = node.tag, node.value
        try:
            if tag == "tag:yaml.org,2002:str" or tag == "tag:yaml.org,2002:timestamp":
                return value
            if tag == "tag:yaml.org,2002:null":
                return None
            if tag == "tag:yaml.org,2002:bool":
                # YAML 1.2 has true and false only: '!!bool yes' is an error, not false.
                if value not in ("true", "True", "TRUE", "false", "False", "FALSE"):
                    raise self.fail(node, f"malformed boolean {value!r} (YAML 1.2 booleans are true and false)",
                                    path, "malformed boolean (YAML 1.2 booleans are true and false)")
                return value.lower() == "true"
            if tag == "tag:yaml.org,2002:int":
                v = value.replace("_", "")
                # (a longer literal is beyond any float: not converted, int() of it is quadratic)
                n = MAX_INT + 1 if len(v) > MAX_DIGITS else None
                if n is None:
                    try:
                        n = int(v, 10)
                    except ValueError:
                        n = int(v, 0)
                if abs(n) > MAX_INT:
                    raise self.fail(node, f"the number {value} is beyond the float range (±1.8e308)", path,
                                    "a number beyond the float range (±1.8e308)")
                return n
            if tag == "tag:yaml.org,2002:float":
                v = value.replace("_", "").lower()
                if v.lstrip("+-") in (".inf", ".nan"):
                    return math.copysign(math.inf, -1.0 if v.startswith("-") else 1.0) if "inf" in v else math.nan
                return float(v)
        except ValueError:
            raise self.fail(node, f"malformed number {value[:40]!r}", path, "malformed number") from None
        raise self.fail(node, f"unsupported tag {tag}", path, "unsupported tag")


def parse(text: str, file: str, foreign: bool = False) -> Document:
    """Parse YAML 1.2 (JSON is a subset) into a Document. Raises SpecError. In a ``foreign`` file
    (a catalog the user did not ask to see) errors give positions, never the file's text."""
    import warnings

    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise SpecError(file, 1, 1, "", f"the file is larger than {MAX_BYTES:,} bytes")
    try:
        with warnings.catch_warnings():  # ruamel warns with excerpts of the file (duplicate anchors)
            warnings.simplefilter("ignore")
            node = YAML(typ="rt").compose(text)
    except MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = e.problem or e.context or "invalid YAML"
        raise SpecError(file, line, col, "", "YAML syntax error" if foreign else f"YAML syntax: {problem}") from None
    except YAMLError as e:
        raise SpecError(file, 1, 1, "", "YAML syntax error" if foreign else f"YAML syntax: {e}") from None
    except RecursionError:
        raise SpecError(file, 1, 1, "", f"nesting deeper than {MAX_DEPTH} levels") from None
    except Exception as e:  # noqa: BLE001 - ruamel asserts on some inputs (a %YAML 1.0 directive)
        raise SpecError(file, 1, 1, "", f"YAML the reader cannot take ({type(e).__name__}; YAML 1.2 expected)") from None
    if node is None:
        return Document(file, text, None, {(): (1, 1)})
    b = _Builder(file, foreign)
    try:
        data = b.build(node, ())
    except RecursionError:
        raise SpecError(file, 1, 1, "", f"nesting deeper than {MAX_DEPTH} levels") from None
    return Document(file, text, data, b.values, b.keys)


def read_bytes(path: Path, regular_only: bool = False) -> bytes:
    """At most MAX_BYTES of a file, bounded by the bytes actually read (a device or a pipe reports
    no size: /dev/zero is an error after 1 MiB, not a MemoryError). A named pipe with no writer
    reads as empty instead of blocking. With ``regular_only``, anything but a regular file (after
    links) is refused before it is opened. Raises OSError, or ValueError past the limit."""
    import os
    import stat

    if regular_only and not stat.S_ISREG(os.stat(path).st_mode):
        raise IsADirectoryError(0, "not a regular file") if path.is_dir() else OSError(0, "not a regular file")
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)  # opened without waiting for a writer; now read normally
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_BYTES:
            chunk = os.read(fd, min(1 << 16, MAX_BYTES + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    if size > MAX_BYTES:
        raise ValueError(f"the file is larger than the {MAX_BYTES:,}-byte limit")
    return b"".join(chunks)


def read(path: Path, foreign: bool = False, regular_only: bool = False) -> Document:
    """Read and parse a spec or catalog file (see ``parse`` and ``read_bytes``). Raises SpecError."""
    file = str(path)
    try:
        raw = read_bytes(path, regular_only)
    except ValueError as e:
        raise SpecError(file, 1, 1, "", str(e)) from None
    except OSError as e:
        raise SpecError(file, 1, 1, "", f"cannot read: {e.strerror or e}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise SpecError(file, line, 1, "", f"not UTF-8 text ({e.reason} at byte {e.start})") from None
    return parse(text, file, foreign)
