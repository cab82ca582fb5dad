"""The output folder of ``resim compare``: its own (``compare.json``) or new or empty, never a
run folder or a folder of other files, which are left untouched."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from .data import ReportError
from .html import _write

MARKER = "compare.json"


def claim_compare_folder(out: Path, run_dirs: Sequence[str | Path]) -> None:
    """Refuse ``out`` if it is not empty and holds no ``compare.json`` (an earlier comparison's,
    which is rebuilt); otherwise make it and write ``compare.json`` (the runs compared) first,
    so that a comparison stopped half-way still reads as one."""
    if out.exists() and not out.is_dir():
        raise ReportError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise ReportError(f"{out}: not empty and not the folder of an earlier comparison (no {MARKER}); nothing was "
                          "changed; choose another --out (a new or empty folder)")
    out.mkdir(parents=True, exist_ok=True)
    _write(out / MARKER, json.dumps({"runs": [str(p) for p in run_dirs]}, indent=2) + "\n")
