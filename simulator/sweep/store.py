"""The resumable result store (runs table plus part files) and atomic writes."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from ..safe_write import make_dir, replace_with
from .errors import KEY_COLUMNS, TAIL_COLUMNS, SweepError

_FRESH = "run the same command with --fresh to discard this folder's results and start again"


def _parquet_available() -> bool:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """``write(p)`` makes the file; it is renamed over ``path`` (never written through a link)."""
    replace_with(path, write)


class ResultStore:
    """``runs.parquet`` (or ``.csv``) plus ``runs/part-*`` appended as batches finish."""

    def __init__(self, folder: Path, parquet: bool | None = None):
        self.folder = Path(folder)
        self.parquet = _parquet_available() if parquet is None else parquet
        self.ext = "parquet" if self.parquet else "csv"
        self.parts = self.folder / "runs"
        self._count = 0

    @property
    def table_path(self) -> Path:
        return self.folder / f"runs.{self.ext}"

    def _write(self, frame: pd.DataFrame, path: Path) -> None:
        frame = _storable(frame)
        if self.parquet:
            _atomic_write(path, lambda p: frame.to_parquet(p, index=False))
        else:
            _atomic_write(path, lambda p: frame.to_csv(p, index=False, lineterminator="\n"))

    def _read(self, path: Path) -> pd.DataFrame:
        """A runs table or part file; a damaged one is one line naming it (:class:`SweepError`)."""
        try:
            frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path, keep_default_na=True)
        except Exception as err:  # noqa: BLE001 - any reader's error: the file is damaged
            reason = " ".join(f"{type(err).__name__}: {err}".split())
            raise SweepError([f"{path}: cannot read ({reason[:200]}); {_FRESH}"]) from None
        missing = [c for c in KEY_COLUMNS if c not in frame.columns]
        if missing:
            raise SweepError([f"{path}: expected a runs table, got one without the column(s) {', '.join(missing)}; {_FRESH}"])
        return frame

    def append(self, rows: list[dict]) -> None:
        make_dir(self.parts)  # a planted link there is replaced, not followed
        self._count += 1
        name = f"part-{time.time_ns():020d}-{os.getpid()}-{self._count:06d}.{self.ext}"
        self._write(_rows_frame(rows), self.parts / name)

    def _tables(self) -> list[Path]:
        """``runs.parquet`` and ``runs.csv``, those that exist."""
        return [p for p in (self.folder / "runs.csv", self.folder / "runs.parquet") if p.is_file()]

    def _part_files(self) -> list[Path]:
        """The ``runs/part-*`` files, in the order they were written (other files there are not ours)."""
        if not self.parts.is_dir() or self.parts.is_symlink():  # a link there is not ours to read or empty
            return []
        return sorted((f for f in self.parts.iterdir() if f.name.startswith("part-") and f.suffix in (".parquet", ".csv")
                       and f.is_file()), key=lambda f: f.name)

    def load(self) -> pd.DataFrame:
        frames = [self._read(f) for f in self._tables()]
        frames += [self._read(f) for f in self._part_files()]
        frames = [f for f in frames if len(f)]
        if not frames:
            return pd.DataFrame(columns=KEY_COLUMNS + TAIL_COLUMNS)
        table = pd.concat(frames, ignore_index=True)
        table = table.drop_duplicates(["point_id", "replication"], keep="last")
        if "error" in table:
            table["error"] = table["error"].astype(object).where(table["error"].notna(), None)
        return table.sort_values(["point_id", "replication"]).reset_index(drop=True)

    def compact(self) -> pd.DataFrame:
        """Merge the part files into ``runs.<ext>`` (atomically), then remove them."""
        parts = self._part_files()
        table = self.load()
        if parts or not self.table_path.exists():
            self._write(table, self.table_path)
            for other in self._tables():
                if other != self.table_path:
                    other.unlink()  # a format switch (pyarrow installed since): one table only
            for part in parts:  # only the parts merged: anything else in runs/ is not ours
                part.unlink()
            if self.parts.is_dir() and not self.parts.is_symlink() and not any(self.parts.iterdir()):
                self.parts.rmdir()
        return table


def _rows_frame(rows: list[dict]) -> pd.DataFrame:
    flat = []
    for row in rows:
        flat.append({"point_id": row["point_id"], "replication": row["replication"], "seed": row["seed"],
                     **row.get("parameters", {}), **row["metrics"],
                     "wall_seconds": row["wall_seconds"], "error": row["error"]})
    return pd.DataFrame(flat)


def _storable(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns of one type each (a parameter list mixing numbers and text is stored as text)."""
    frame = frame.copy()
    for column in frame.columns:
        if column == "error":
            frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
            continue
        if frame[column].dtype == object:
            kinds = {type(v) for v in frame[column] if v is not None and not (isinstance(v, float) and math.isnan(v))}
            if len(kinds) > 1 and not kinds <= {int, float}:
                frame[column] = frame[column].astype(str)
    return frame
