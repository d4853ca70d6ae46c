"""Parquet outputs on any pyarrow filesystem named by a URI (``s3://bucket/prefix/out.parquet``,
``gs://...``, ``file:///...``): where a cluster's workers write their parts straight to shared
storage (``--executor ray -o s3://...``).

The rules of ``costspec.targets``, as far as an object store allows them: the target is replaced
only when everything under it is costspec's (part files carrying costspec metadata, in partition
folders that match what they record); a run writes under a temporary prefix beside the target
(``.NAME.tmp-PID-TOKEN``, with a marker object) and moves its parts into place only once every
task is done, so a run that fails leaves nothing at the target and the previous output as it was.
Object stores have no atomic rename of a folder: while the parts are moved in (after the run, a
copy and a delete each), a reader can see old and new parts side by side; and two runs writing
one URI at the same time are not coordinated (no lock), nor is a killed run's temporary prefix
cleaned by the next one.
"""

from __future__ import annotations

import os
import re
import uuid
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from costspec.targets import MARKER, MAX_DEPTH, PART, PARTITION, TASK, TargetError

URI = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://")


def is_uri(path: object) -> bool:
    return isinstance(path, str) and URI.match(path) is not None


def filesystem(uri: str) -> tuple[Any, str]:
    """The pyarrow filesystem and path a URI names; a one-line error when pyarrow cannot (its
    message is not shown: it quotes the URI, credentials and all)."""
    import pyarrow.fs as pafs

    scheme = uri.split("://", 1)[0].lower()
    if scheme == "file":
        raise TargetError(f"{shown(uri)}: give a local output as a path, not a file:// URI (a path gets costspec's "
                          "local rules: links refused, partitions checked)")
    try:
        fs, path = pafs.FileSystem.from_uri(uri)
    except Exception:  # noqa: BLE001 - unknown scheme, bad options, missing support
        raise TargetError(f"cannot use {shown(uri)} as the output: not a URI pyarrow can open (s3://, gs://, "
                          "hdfs://, abfs://, with options in its query)") from None
    path = str(path).rstrip("/")
    levels = path.split("/")
    if any(x in ("", ".", "..") for x in levels) or len(levels) < 2:
        raise TargetError(f"{shown(uri)} names no folder inside a bucket (or has empty, '.' or '..' parts); give one "
                          "such as s3://bucket/results/run.parquet")
    return fs, path


def shown(uri: object) -> str:
    """A URI as messages show it: without its user information and query (credentials)."""
    text = str(uri).split("?", 1)[0].split("#", 1)[0]
    scheme, sep, rest = text.partition("://")
    if sep:
        host, slash, tail = rest.partition("/")
        text = f"{scheme}://{host.rpartition('@')[2]}{slash}{tail}"
    return text


class Folder:
    """Where a writer puts part files, by path relative to a folder: a local folder or a prefix
    on a pyarrow filesystem."""

    def __init__(self, fs: Any | None, root: str) -> None:
        self.fs, self.root = fs, root

    @classmethod
    def local(cls, root: os.PathLike[str] | str) -> Folder:
        return cls(None, os.fspath(root))

    def path(self, rel: str) -> str:
        return f"{self.root}/{rel}" if rel else self.root

    def open(self, rel: str) -> BinaryIO:
        if self.fs is None:
            os.makedirs(os.path.dirname(self.path(rel)), exist_ok=True)
            return open(self.path(rel), "wb")
        stream: BinaryIO = self.fs.open_output_stream(self.path(rel))
        return stream

    def child(self, rel: str) -> Folder:
        return Folder(self.fs, self.path(rel))


def _parts_under(fs: Any, base: str) -> tuple[list[str], list[str]]:
    """The files under ``base`` (relative paths), and the entries that are not costspec's."""
    import pyarrow.fs as pafs
    import pyarrow.parquet as pq

    infos = fs.get_file_info(pafs.FileSelector(base, recursive=True))
    files: list[str] = []
    foreign: list[str] = []
    for info in infos:
        rel = info.path[len(base):].lstrip("/")
        levels = rel.split("/")
        dirs = levels if info.type == pafs.FileType.Directory else levels[:-1]
        if len(dirs) > MAX_DEPTH or not all(PARTITION.fullmatch(d) for d in dirs):
            foreign.append(rel)
            continue
        if info.type == pafs.FileType.Directory:
            continue
        ok = PART.fullmatch(levels[-1]) is not None
        if ok:
            try:
                with fs.open_input_file(info.path) as f:
                    meta = pq.read_metadata(f).metadata or {}
            except Exception:  # noqa: BLE001 - not Parquet: not costspec's
                meta = {}
            ok = b"costspec.version" in meta and \
                meta.get(b"costspec.partition", b"").decode("utf-8", "replace") == "/".join(dirs)
        (files if ok else foreign).append(rel)
    return files, foreign


@dataclass
class RemoteTarget:
    """A Parquet output at a URI (see the module's docstring)."""

    uri: str
    fs: Any = field(init=False)
    base: str = field(init=False)
    tmp: str = field(init=False)
    made: bool = False
    committed: bool = False

    def __post_init__(self) -> None:
        self.fs, self.base = filesystem(self.uri)
        parent, _, name = self.base.rpartition("/")
        self.tmp = f"{parent}/.{name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"

    @property
    def path(self) -> str:
        return shown(self.uri)

    @property
    def data(self) -> Folder:
        return Folder(self.fs, self.tmp)

    def check(self) -> list[str]:
        """The parts of the output there now (relative paths); an error if anything else is."""
        import pyarrow.fs as pafs

        try:
            info = self.fs.get_file_info(self.base)
            if info.type == pafs.FileType.NotFound:
                return []
            if info.type != pafs.FileType.Directory:
                raise TargetError(f"{self.path} is a file, and Parquet output is a folder of part files; give "
                                  "another path")
            files, foreign = _parts_under(self.fs, self.base)
        except OSError as e:
            raise TargetError(f"cannot use {self.path} as the output: {str(e).splitlines()[0][:160]}") from None
        if foreign:
            shown = ", ".join(repr(f) for f in foreign[:2]) + (" and more" if len(foreign) > 2 else "")
            raise TargetError(f"{self.path} holds objects costspec did not write ({shown}); costspec replaces "
                              "only its own outputs: give another path, or remove them yourself")
        return files

    def prepare(self) -> None:
        self.check()
        try:
            self.fs.create_dir(self.tmp, recursive=True)
            self.made = True
            with self.fs.open_output_stream(f"{self.tmp}/{MARKER}") as f:
                f.write(f"{os.getpid()} {self.tmp.rsplit('-', 1)[-1]}\n".encode())
        except OSError as e:
            self.discard()
            raise TargetError(f"cannot write under {self.path}: {str(e).splitlines()[0][:160]}") from None

    def new_parts(self) -> list[str]:
        files, _ = _parts_under(self.fs, self.tmp)
        return files

    def commit(self) -> None:
        """The new parts moved into place, then the old ones not replaced removed."""
        import pyarrow.fs as pafs

        old = set(self.check())
        new = [rel for rel in self._entries() if rel != MARKER]
        for rel in new:
            self.fs.move(f"{self.tmp}/{rel}", f"{self.base}/{rel}")
        for rel in sorted(old - set(new)):
            self.fs.delete_file(f"{self.base}/{rel}")
        # (pyarrow keeps a folder marker where it deleted a folder's last object: the partition
        # folders the new output does not use go, deepest first)
        used = {rel.rpartition("/")[0] for rel in new}
        gone = {"/".join(rel.split("/")[:i]) for rel in old for i in range(1, rel.count("/") + 1)}
        for d in sorted(gone, key=lambda x: -x.count("/")):
            if not any(u == d or u.startswith(d + "/") for u in used):
                self.fs.delete_dir(f"{self.base}/{d}")
        self.fs.delete_dir(self.tmp)
        if not new and self.fs.get_file_info(self.base).type == pafs.FileType.NotFound:
            self.fs.create_dir(self.base, recursive=True)
        self.committed = True

    def _entries(self) -> list[str]:
        import pyarrow.fs as pafs

        infos = self.fs.get_file_info(pafs.FileSelector(self.tmp, recursive=True))
        out = []
        for info in infos:
            rel = info.path[len(self.tmp):].lstrip("/")
            if info.type == pafs.FileType.File and not any(TASK.fullmatch(x) for x in rel.split("/")):
                out.append(rel)
        return out

    def discard(self) -> None:
        """Remove the temporary prefix (this run's own: its name carries this run's token)."""
        if self.made:
            try:
                self.fs.delete_dir(self.tmp)
            except OSError:
                pass
