"""Output targets: what costspec may replace, and how it replaces it.

The rules that keep a user's files safe, in one place:

- A run writes into a temporary folder beside the target (``.NAME.tmp-PID-XXXXXXXX``, holding a
  marker with that PID and token) and renames the output over the target only once it is complete,
  so a failed or interrupted run leaves the previous output exactly as it was.
- A target that exists is replaced only when costspec may replace it: a regular file (as every
  tool replaces its output file), or a folder that holds nothing but costspec part files carrying
  costspec metadata (directly, or in hive-style COLUMN=VALUE partition folders of them). Any other folder, a symbolic link, a named pipe, a device or a socket is
  refused before anything runs.
- Folders are never removed recursively: costspec unlinks the part files it recognises, then
  removes the folder only if that left it empty.
- Parent folders a run created are removed again when the run fails.
- Temporaries left by a killed run (their PID no longer alive, their marker matching) are removed
  by the next run at the same target; a previous output a killed run had just moved aside
  (``.NAME.old-PID-XXXXXXXX``, for the instant between two renames; only costspec part files) is
  put back if nothing took its place. Anything else with a look-alike name is left alone.
- A target that is the spec itself or one of its input files is refused.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from costspec.errors import CostspecError

PART = re.compile(r"part-\d{5}\.parquet")
# A partition folder of a partitioned output (output.partition_by): hive-style COLUMN=VALUE.
PARTITION = re.compile(r"[a-z_][a-z0-9_]*=[^/\x00]+")
MAX_DEPTH = 8  # partition levels costspec writes at most
MAX_PARTS = 4096  # a costspec output folder holds one part per writer thread
_TMP = re.compile(r"\.(?P<name>.+)\.(?P<kind>tmp|old)-(?P<pid>\d+)-(?P<token>[0-9a-f]{8})")
MAX_NAME = 200  # bytes of a target's name kept in its temporaries' names (a file name has at most 255)


class TargetError(CostspecError):
    """An output path costspec will not write to (or could not prepare)."""


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISFIFO, "a named pipe"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder"), (stat.S_ISREG, "a file")):
        if test(mode):
            return name
    return "not a regular file"


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise TargetError(f"cannot use {path} as the output: {e.strerror or e}") from None


PARTITION_KEY = "costspec.partition"  # in a partitioned output's parts: their folders, COLUMN=VALUE/...
TASK = re.compile(r"\.task-\d{5}-[0-9a-f]{8}")  # inside a temporary: a cluster task's private folder


def _is_costspec_part(path: Path, partition: str | None = None) -> bool:
    """A regular file named part-NNNNN.parquet whose footer carries costspec metadata (with
    ``partition``, the partition folders it records must be that: a costspec output that merely
    sits in a COLUMN=VALUE folder is not a partition of the output around it)."""
    st = _lstat(path)
    if st is None or not stat.S_ISREG(st.st_mode) or not PART.fullmatch(path.name):
        return False
    meta = footer_metadata(path)
    if meta is None or "costspec.version" not in meta:  # (not a readable Parquet file, or not ours)
        return False
    return partition is None or (meta.get(PARTITION_KEY) or "") == partition


def _pread(fd: int, n: int, at: int) -> bytes:
    chunks = []
    while n > 0:
        got = os.pread(fd, min(n, 1 << 30), at)
        if not got:
            raise OSError("the file is shorter than its footer says")
        chunks.append(got)
        n, at = n - len(got), at + len(got)
    return b"".join(chunks)


def footer_metadata(path: Path) -> dict[str, str | None] | None:
    """The key-value metadata of the Parquet file at ``path`` (decoded by the engine's module: no
    pyarrow), or None when it is not one: not a regular file (a link is not followed), no Parquet
    magic at both ends, a footer that does not decode."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size < 12:
            return None
        tail = _pread(fd, 8, st.st_size - 8)
        n = int.from_bytes(tail[:4], "little")
        if tail[4:] != b"PAR1" or n > st.st_size - 12 or _pread(fd, 4, 0) != b"PAR1":
            return None
        footer = _pread(fd, n, st.st_size - 8 - n)
    except OSError:
        return None
    finally:
        os.close(fd)
    from costspec import _native

    pairs = _native.footer_metadata(footer)
    return None if pairs is None else dict(pairs)


def _is_dir(path: Path) -> bool:
    st = _lstat(path)
    return st is not None and stat.S_ISDIR(st.st_mode)


def _is_partition(path: Path) -> bool:
    """A real folder (not a link) named COLUMN=VALUE."""
    st = _lstat(path)
    return st is not None and stat.S_ISDIR(st.st_mode) and PARTITION.fullmatch(path.name) is not None


def _foreign_entries(folder: Path, depth: int = 0, partition: str = "") -> list[str]:
    """Entries of ``folder`` that are not costspec part files of this output, nor partition
    folders holding only those (at most a few, for the message). A part's recorded partition must
    be the folders it is in; a partition folder holding no part at all is not costspec's."""
    foreign: list[str] = []
    with os.scandir(folder) as it:
        for n, entry in enumerate(it):
            path = Path(entry.path)
            if n < MAX_PARTS and depth < MAX_DEPTH and _is_partition(path):
                here = f"{partition}/{entry.name}" if partition else entry.name
                inner = _foreign_entries(path, depth + 1, here) if _holds_parts(path, depth + 1) else ["(empty)"]
                foreign.extend(f"{entry.name}/{x}" if x != "(empty)" else entry.name for x in inner[: 3 - len(foreign)])
            elif n >= MAX_PARTS or not _is_costspec_part(path, partition):
                foreign.append(entry.name if n < MAX_PARTS else "...")
            if len(foreign) >= 3:
                break
    return foreign


def _holds_parts(folder: Path, depth: int) -> bool:
    """Whether a partition folder holds a part file, in it or in partition folders below."""
    with os.scandir(folder) as it:
        for entry in it:
            if PART.fullmatch(entry.name) or (depth < MAX_DEPTH and _is_partition(Path(entry.path))
                                              and _holds_parts(Path(entry.path), depth + 1)):
                return True
    return False


def _shown(names: list[str]) -> str:
    return ", ".join(repr(n) for n in names[:2]) + (" and more" if len(names) > 2 else "")


def check(target: Path, folder_output: bool, inputs: tuple[Path, ...] = ()) -> None:
    """Refuse a target costspec may not replace; ``folder_output`` is True for Parquet (a folder of
    part files), False for one file (Arrow, CSV); ``inputs`` are the files the run reads (the spec,
    its catalogs), which it must not write over. Checked before the run and again before the rename.

    Under a shared lock on the target's folder: another run's commit (which holds it exclusively)
    may otherwise move the folder aside and remove its parts while they are being read."""
    with _folder_lock(target.parent, shared=True):
        _check(target, folder_output, inputs)


def _check(target: Path, folder_output: bool, inputs: tuple[Path, ...] = ()) -> None:
    if target.name in ("", ".", "..") or "\0" in str(target):
        raise TargetError(f"{str(target) or repr('')} is not a file or folder name; give one, e.g. -o results/run.parquet")
    st = _lstat(target)
    if st is not None and inputs:
        for f in inputs:
            try:
                same = os.path.samefile(f, target)
            except (OSError, ValueError):
                same = False
            if same:
                raise TargetError(f"{target} is {f}, a file this run reads; give another output path")
    if st is None:
        return
    kind = _kind(st.st_mode)
    if stat.S_ISDIR(st.st_mode):
        if not folder_output:
            raise TargetError(f"{target} is a folder; give a file path for this format, or another path")
        try:
            foreign = _foreign_entries(target)
        except OSError as e:
            raise TargetError(f"cannot read the folder {target}: {e.strerror or e}") from None
        if foreign:
            raise TargetError(f"{target} is a folder costspec did not write (it holds {_shown(foreign)}); costspec "
                              "replaces only its own output folders: give another path, or remove it yourself")
        return
    if stat.S_ISREG(st.st_mode):
        if folder_output:
            raise TargetError(f"{target} is a file, and Parquet output is a folder of part files; give another "
                              "path, or --format csv or arrow")
        return
    raise TargetError(f"{target} is {kind}; costspec writes only regular files and folders of its own "
                      "(it never writes through or replaces links, pipes or devices)")


MARKER = ".costspec-temporary"  # inside every temporary folder: "<pid> <token>", what proves it is ours
DATA = "data"  # a single-file output (CSV, Arrow) while it is written, inside its temporary folder


@dataclass
class Target:
    """One run's output: checked, with its temporary beside it and the parents it created.

    The temporary is always a folder (``.NAME.tmp-PID-TOKEN``) holding a marker that names its
    process and token: Parquet parts are written into it, a CSV or Arrow file into ``data`` in
    it. Only a folder with a matching marker is ever cleaned up as a temporary, so a user's file
    or folder that happens to look like one is never touched."""

    path: Path
    folder_output: bool
    inputs: tuple[Path, ...] = ()
    tmp: Path = field(init=False)
    created: list[Path] = field(default_factory=list)
    made: bool = False  # whether this run created the temporary folder

    def __post_init__(self) -> None:
        self.tmp = temporary(self.path)

    @property
    def data(self) -> Path:
        """Where the run writes: the temporary folder (Parquet parts) or the file in it."""
        return self.tmp if self.folder_output else self.tmp / DATA

    def prepare(self) -> None:
        """Check the target, create missing parent folders (remembered) and the marked temporary
        folder, clean stale temporaries."""
        check(self.path, self.folder_output, self.inputs)
        missing = []
        parent = self.path.parent
        while not parent.exists() and parent != parent.parent:
            if parent.is_symlink():  # a dangling link: never create through it
                raise TargetError(f"cannot write under {parent}: it is a broken symbolic link")
            missing.append(parent)
            parent = parent.parent
        for p in reversed(missing):
            try:
                p.mkdir()
            except FileExistsError:
                continue
            except OSError as e:
                self.discard()
                raise TargetError(f"cannot write under {p}: {e.strerror or e}") from None
            self.created.append(p)
        if not self.path.parent.is_dir():
            self.discard()
            raise TargetError(f"cannot write under {self.path.parent}: it is not a folder")
        with _folder_lock(self.path.parent):  # (not while another run commits: it may be between renames)
            clean_stale(self.path)
        # Ours from before mkdir: a signal lands between bytecodes, so an interrupt right after the
        # folder exists (before its marker does) still finds it ours to remove (``discard``).
        self.made = True
        try:
            self.tmp.mkdir()
        except FileExistsError:  # (not ours)
            self.made = False
            self.discard()
            raise TargetError(f"cannot write under {self.path.parent}: {self.tmp.name} exists") from None
        except OSError as e:
            self.discard()
            raise TargetError(f"cannot write under {self.path.parent}: {e.strerror or e}") from None
        try:
            (self.tmp / MARKER).write_text(_marker(self.tmp.name))
        except OSError as e:
            self.discard()
            raise TargetError(f"cannot write under {self.path.parent}: {e.strerror or e}") from None

    def commit(self) -> None:
        """Put the finished output in place of the target (checked again first). Runs at the same
        folder commit one at a time (a lock on the folder), so two sweeps to one target end with one
        whole output, not an error half-way through the other's renames."""
        with _folder_lock(self.path.parent):
            self._commit()

    def _commit(self) -> None:
        _check(self.path, self.folder_output, self.inputs)
        if not self.folder_output:
            os.replace(self.data, self.path)  # atomic: the old file or the new one, never a partial file
            _remove_temporary(self.tmp)
        else:
            (self.tmp / MARKER).unlink()  # (the output folder holds part files only)
            if self.path.is_dir():
                # Two renames: the previous output goes aside, the new one in its place. Interrupted
                # between them (Ctrl-C, an error), the previous output is put back; killed between
                # them, the next run puts it back (clean_stale).
                aside = temporary(self.path, "old")
                try:
                    os.rename(self.path, aside)
                    os.rename(self.tmp, self.path)
                except BaseException:
                    if os.path.lexists(aside) and not os.path.lexists(self.path):
                        os.rename(aside, self.path)
                    raise
                remove_output(aside)
            else:
                os.rename(self.tmp, self.path)
        self.created.clear()

    def discard(self) -> None:
        """After a failure (or an interrupt, at any point of ``prepare``): remove the temporary and
        the parent folders this run created."""
        try:
            if self.made:
                _remove_temporary(self.tmp)
        finally:
            for p in reversed(self.created):
                try:
                    p.rmdir()  # only if empty: something else may have been put there meanwhile
                except OSError:
                    break
            self.created.clear()


class _folder_lock:
    """An exclusive advisory lock on a folder (flock on its descriptor), where the system has one."""

    def __init__(self, folder: Path, shared: bool = False) -> None:
        self.folder, self.fd, self.shared = folder, -1, shared

    def __enter__(self) -> None:
        try:
            import fcntl

            self.fd = os.open(self.folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))  # (never blocks on a pipe)
            fcntl.flock(self.fd, fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX)
        except (ImportError, OSError):
            if self.fd >= 0:
                os.close(self.fd)
            self.fd = -1

    def __exit__(self, *exc: object) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # (closing releases the lock)


def _marker(name: str) -> str:
    m = _TMP.fullmatch(name)
    return f"{m['pid']} {m['token']}\n" if m else ""


def _remove_temporary(folder: Path) -> None:
    """Remove a temporary folder of this run or of a dead one: the marker, a file output and part
    files (complete or not), then the folder, which stays if anything else is in it."""
    st = _lstat(folder)
    if st is None or not stat.S_ISDIR(st.st_mode):
        return
    _remove_parts(folder, top=True)


def _remove_parts(folder: Path, top: bool = False, depth: int = 0) -> None:
    """A temporary's marker and file output (at its top), its part files (complete or not) and
    partition folders of them, each folder removed when that emptied it."""
    with os.scandir(folder) as it:
        entries = [Path(e.path) for e in it]
    for e in entries:
        if (top and e.name in (MARKER, DATA) or PART.fullmatch(e.name)) and stat.S_ISREG(os.lstat(e).st_mode):
            e.unlink(missing_ok=True)
        elif depth < MAX_DEPTH and (_is_partition(e) or top and TASK.fullmatch(e.name) and _is_dir(e)):
            _remove_parts(e, depth=depth + 1)
    try:
        folder.rmdir()
    except OSError as e:
        if e.errno not in (errno.ENOTEMPTY, errno.EEXIST):
            raise


def _stem(target: Path) -> str:
    """The target's name as its temporaries carry it: a long name (or one that is not text) is
    replaced by a digest, so that a temporary's name stays within the 255 bytes a file name may
    have and pyarrow can take it."""
    name = target.name
    try:
        name.encode("utf-8")
        ok = len(os.fsencode(name)) <= MAX_NAME
    except UnicodeEncodeError:
        ok = False
    if ok:
        return name
    import hashlib

    return "costspec-" + hashlib.sha256(os.fsencode(name)).hexdigest()[:20]


def temporary(target: Path, kind: str = "tmp") -> Path:
    return target.with_name(f".{_stem(target)}.{kind}-{os.getpid()}-{uuid.uuid4().hex[:8]}")


def remove_output(path: Path) -> None:
    """Remove a replaced output folder: its costspec part files (checked by their metadata), then
    the folder, only if nothing else is left in it. Never a user's file."""
    st = _lstat(path)
    if st is None or not stat.S_ISDIR(st.st_mode):
        return
    _remove_output(path, 0)


def _remove_output(path: Path, depth: int, partition: str = "") -> None:
    with os.scandir(path) as it:
        entries = [Path(e.path) for e in it]
    for e in entries:
        if _is_costspec_part(e, partition if depth else None):
            e.unlink(missing_ok=True)
        elif depth < MAX_DEPTH and _is_partition(e):
            _remove_output(e, depth + 1, f"{partition}/{e.name}" if partition else e.name)
    try:
        path.rmdir()
    except OSError as e:
        if e.errno not in (errno.ENOTEMPTY, errno.EEXIST):
            raise


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    return True


def clean_stale(target: Path) -> list[Path]:
    """Clean up after runs at ``target`` whose process is gone (SIGKILL, power loss): remove their
    temporary folders (only those whose marker matches their name), and put back a previous output
    such a run had moved aside (only a folder of costspec part files) if nothing took its place,
    else remove it. Anything else with a look-alike name is left alone."""
    removed: list[Path] = []
    folder = target.parent
    stem = _stem(target)
    try:
        with os.scandir(folder) as it:
            names = sorted(e.name for e in it if e.name.startswith((f".{stem}.tmp-", f".{stem}.old-")))
    except OSError:
        return removed
    for name in names:
        m = _TMP.fullmatch(name)
        if m is None or m["name"] != stem or _alive(int(m["pid"])):
            continue
        path = folder / name
        try:
            st = os.lstat(path)
            if not stat.S_ISDIR(st.st_mode):
                continue  # costspec's temporaries are folders
            if m["kind"] == "tmp":
                marker = path / MARKER
                if not (marker.is_file() and not marker.is_symlink()
                        and marker.read_text(errors="replace")[:64] == _marker(name)):
                    continue
                _remove_temporary(path)
            else:
                if _foreign_entries(path):
                    continue  # not (only) costspec's output
                if not os.path.lexists(target):
                    os.rename(path, target)
                    continue
                remove_output(path)
        except OSError:
            continue
        if not os.path.lexists(path):
            removed.append(path)
    return removed
