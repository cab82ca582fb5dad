"""Whose results folder is it: a sweep or replications resume only in their own folder, and
``--fresh`` removes only the files an earlier call of the same command wrote there.

A folder is a sweep's (or replications') own when it holds the ``sweep.json`` they write first;
``design.type`` in it tells replications (``resim run --replications``) from a sweep. Any other
non-empty folder is refused, ``--fresh`` or not: it may hold a run, a comparison or the user's
own files, and nothing in it is touched.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from .errors import SweepError

#: Files a sweep (and replications) write at the top of their folder, besides the report.
OWN_FILES = ("sweep.json", "points.csv", "summary.csv", "sensitivity.csv", "runs.parquet", "runs.csv")
_PART = re.compile(r"^\.?part-.*\.(parquet|csv)(\..*)?$")  # runs/part-*, and their temporary files
_KEPT = re.compile(r"^seed\d+$")  # replications/seed<S>/: kept run folders
_CHART = re.compile(r"""src=['"]([^'"/\\]+\.png)['"]""")


def kind_of(design: dict | None) -> str:
    return "replications" if (design or {}).get("type") == "replications" else "sweep"


def _command(kind: str) -> str:
    return "resim run --replications" if kind == "replications" else "resim sweep"


def check_folder(folder: Path, kind: str, fingerprint: str, fresh: bool) -> None:
    """Refuse ``folder`` unless it is new, empty, or this command's own with the same
    ``fingerprint`` (then resumed); with ``fresh``, discard what the command wrote there."""
    if not folder.exists() and not folder.is_symlink():
        return
    if not folder.is_dir():
        raise SweepError([f"{folder}: expected a results folder, got a file; choose another --out"])
    manifest = folder / "sweep.json"
    if not manifest.is_file():
        if any(folder.iterdir()):
            raise SweepError([f"{folder}: not empty and not a results folder of {_command(kind)} (it has no sweep.json); "
                              "nothing was changed; choose another --out (a new or empty folder)"])
        return
    try:
        old = json.loads(manifest.read_text(encoding="utf-8"))
        if not isinstance(old, dict):
            raise ValueError(f"expected a JSON object, got {type(old).__name__}")
    except (OSError, UnicodeDecodeError, ValueError) as err:
        if not fresh:
            reason = " ".join(f"{type(err).__name__}: {err}".split())
            raise SweepError([f"{manifest}: cannot read ({reason}); run the same command with --fresh to discard "
                              "this folder's results and start again"]) from None
        discard(folder, kind)
        return
    old_kind = kind_of(old.get("design") if isinstance(old.get("design"), dict) else None)
    if old_kind != kind:
        raise SweepError([f"{folder}: holds the results of {_command(old_kind)}, not of {_command(kind)}; nothing was "
                          "changed; choose another --out"])
    if fresh:
        discard(folder, kind)
    elif old.get("fingerprint") != fingerprint:
        changed = ("scenario, --set or seed changed" if kind == "replications" else
                   "scenario, set:, parameters or their order, design, seed or metrics changed")
        raise SweepError([f"{folder}: holds results of a different {'set of replications' if kind == 'replications' else 'sweep'} "
                          f"({changed}); run with --fresh to discard them, or choose another --out"])


def _unlink(path: Path) -> None:
    """Remove a file or a link (never what a link points at, never a folder)."""
    if path.is_symlink() or path.is_file():
        os.unlink(path)


def _remove_run_files(folder: Path) -> None:
    """A run's files (those its manifest.json lists, and the manifest)."""
    manifest = folder / "manifest.json"
    try:
        files = json.loads(manifest.read_text(encoding="utf-8")).get("files", [])
    except (OSError, UnicodeDecodeError, ValueError, AttributeError):
        return
    for name in files:
        if isinstance(name, str) and "/" not in name and "\\" not in name and not name.startswith("."):
            _unlink(folder / name)
    _unlink(manifest)


def _rmdir_if_empty(folder: Path) -> None:
    if folder.is_dir() and not folder.is_symlink() and not any(folder.iterdir()):
        folder.rmdir()


def discard(folder: Path, kind: str) -> None:
    """Remove what a sweep (or replications) wrote in ``folder``: its tables and ``sweep.json``,
    the ``runs/part-*`` files, the report and the charts it shows; for replications also the
    representative run's files and the kept run folders ``replications/seed*/``. Anything else
    (a user's notes, other files in ``runs/``) stays."""
    report = folder / "report.html"
    if report.is_file() and not report.is_symlink():
        try:
            charts = set(_CHART.findall(report.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError):
            charts = set()
        for name in sorted(charts):
            if not name.startswith("."):
                _unlink(folder / name)
    _unlink(report)
    parts = folder / "runs"
    if parts.is_dir() and not parts.is_symlink():
        for item in parts.iterdir():
            if _PART.match(item.name):
                _unlink(item)
        _rmdir_if_empty(parts)
    if kind == "replications":
        _remove_run_files(folder)
        kept = folder / "replications"
        if kept.is_dir() and not kept.is_symlink():
            for item in kept.iterdir():
                if _KEPT.match(item.name) and item.is_dir() and not item.is_symlink():
                    _remove_run_files(item)
                    _rmdir_if_empty(item)
            _rmdir_if_empty(kept)
    for name in OWN_FILES:  # sweep.json last: until then the folder still reads as ours
        if name != "sweep.json":
            _unlink(folder / name)
    _unlink(folder / "sweep.json")
