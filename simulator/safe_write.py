"""Writing output files without following links, and the temporary folders of run folders.

Every file resim writes (run folders, reports and their PNGs, comparisons, sweep tables and
parts) is made as a new file in the target's own folder and renamed over the target
(``os.replace``). An existing path is never opened for writing, so a symbolic link planted where
an output file goes is replaced by a regular file and its target is left untouched; a reader
sees the old file or the new one, never half of one.

Run folders are first written to a hidden temporary folder ``.<name>.<random>/`` beside the
target, holding a marker file (``.resim-partial``: this process's id and host) until it is
renamed into place. A run killed outright (SIGKILL, a power cut) cannot remove its temporary
folder; :func:`remove_stale_temp_dirs` removes such folders later, and only those: a hidden
folder with the marker, written on this host by a process that is no longer running.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

__all__ = ["replacing", "replace_with", "write_text", "copy_file", "make_dir", "remove",
           "make_temp_dir", "seal_temp_dir", "remove_stale_temp_dirs", "MARKER"]

MARKER = ".resim-partial"
_TEMP_NAME = re.compile(r"^\..+\.[a-z0-9_]{8}$")  # tempfile.mkdtemp(prefix=".<name>.")

_UMASK = os.umask(0)
os.umask(_UMASK)


def _is_link(path: Path) -> bool:
    return os.path.islink(path)


@contextlib.contextmanager
def replacing(path: str | Path, mode: str = "w", **open_args) -> Iterator[IO]:
    """Open a new temporary file beside ``path`` (``mode``: "w" text, "wb" binary) and, when the
    block ends without an exception, rename it over ``path``; on an exception it is removed.

    Text is UTF-8 with newlines written as given."""
    if mode not in ("w", "wb"):
        raise ValueError(f"mode: expected 'w' or 'wb', got {mode!r}")
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o666 & ~_UMASK)  # what a plain open() would have made
        if mode == "w":
            open_args = {"encoding": "utf-8", "newline": "", **open_args}
        with os.fdopen(fd, mode, **open_args) as handle:
            fd = -1  # closed with the handle
            yield handle
        os.replace(tmp, path)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def replace_with(path: str | Path, write: Callable[[Path], object]) -> None:
    """``write(p)`` writes the file at ``p``, a path in a new private folder beside ``path``
    (for writers that want a file name); the file is then renamed over ``path``."""
    path = Path(path)
    folder = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        tmp = folder / path.name
        write(tmp)
        if not stat.S_ISREG(os.lstat(tmp).st_mode):
            raise OSError(f"{path}: the writer did not make a regular file")
        os.replace(tmp, path)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` as a new file renamed into place; returns ``path``."""
    with replacing(path, "w") as handle:
        handle.write(text)
    return Path(path)


def copy_file(source: str | Path, target: str | Path) -> None:
    """Copy a regular file's bytes (and times) to ``target``, as a new file renamed into place."""
    source, target = Path(source), Path(target)
    with open(source, "rb") as src, replacing(target, "wb") as dst:
        shutil.copyfileobj(src, dst)
    info = os.stat(source)
    os.utime(target, ns=(info.st_atime_ns, info.st_mtime_ns), follow_symlinks=False)


def make_dir(path: str | Path) -> Path:
    """A sub-folder of an output folder: made if missing; a symbolic link there is replaced by a
    new folder (its target is not touched)."""
    path = Path(path)
    if _is_link(path):
        with contextlib.suppress(FileNotFoundError):  # another worker may have removed it
            os.unlink(path)
    path.mkdir(parents=True, exist_ok=True)
    return path


def remove(path: str | Path) -> None:
    """Remove a file, a link (not what it points at) or a folder and its contents; nothing if
    missing."""
    path = Path(path)
    if _is_link(path) or (path.exists() and not path.is_dir()):
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


# --- temporary run folders ------------------------------------------------------------------

def _process_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), to tell a reused id."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] == "Z" else fields[19]  # state, starttime (fields 3 and 22)


def _alive(pid: int, started: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # PermissionError: another user's process, running
    if not os.path.isdir("/proc/self"):
        return True  # no /proc: the id is in use, take it as the same process
    now = _process_start(pid)
    if now is None:
        return False  # ended since, or a zombie (ended, not yet reaped)
    return started is None or now == started  # a different start time: the id was reused


def make_temp_dir(target: str | Path) -> Path:
    """A new hidden folder ``.<target name>.<random>/`` beside ``target``, marked as this
    process's until :func:`seal_temp_dir`."""
    target = Path(target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    mark = {"resim": "temporary run folder", "pid": os.getpid(), "started": _process_start(os.getpid()),
            "host": socket.gethostname()}
    try:
        with replacing(tmp / MARKER) as handle:
            handle.write(json.dumps(mark) + "\n")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return tmp


def seal_temp_dir(tmp: str | Path) -> None:
    """Remove the marker of a finished temporary folder (just before it is renamed into place)."""
    os.unlink(Path(tmp) / MARKER)


def _stale(entry: Path) -> bool:
    if not _TEMP_NAME.match(entry.name):
        return False
    try:
        if not stat.S_ISDIR(os.lstat(entry).st_mode) or not stat.S_ISREG(os.lstat(entry / MARKER).st_mode):
            return False
        mark = json.loads((entry / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(mark, dict) or mark.get("resim") != "temporary run folder":
        return False
    pid = mark.get("pid")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0 or mark.get("host") != socket.gethostname():
        return False
    if pid == os.getpid():
        return False
    return not _alive(pid, mark.get("started"))


def remove_stale_temp_dirs(folder: str | Path) -> list[Path]:
    """Remove, in ``folder``, the temporary run folders left by resim processes that were killed
    (see the module's docstring); returns those removed. Anything else is left alone."""
    folder = Path(folder)
    try:
        entries = [folder / name for name in os.listdir(folder) if name.startswith(".")]
    except OSError:
        return []
    removed = []
    for entry in entries:
        if _stale(entry):
            shutil.rmtree(entry, ignore_errors=True)
            if not os.path.lexists(entry):
                removed.append(entry)
    return removed
