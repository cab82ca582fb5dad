"""The resumable result store (runs table plus part files) and atomic writes."""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from .errors import KEY_COLUMNS, TAIL_COLUMNS


def _parquet_available() -> bool:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_UMASK = os.umask(0)
os.umask(_UMASK)


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
        if path.suffix == ".parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path, keep_default_na=True)

    def append(self, rows: list[dict]) -> None:
        self.parts.mkdir(parents=True, exist_ok=True)
        self._count += 1
        name = f"part-{time.time_ns():020d}-{os.getpid()}-{self._count:06d}.{self.ext}"
        self._write(_rows_frame(rows), self.parts / name)

    def load(self) -> pd.DataFrame:
        files = sorted(self.folder.glob("runs.*")) if self.folder.is_dir() else []
        frames = [self._read(f) for f in files if f.suffix in (".parquet", ".csv")]
        if self.parts.is_dir():
            frames += [self._read(f) for f in sorted(self.parts.iterdir(), key=lambda f: f.name)
                       if f.suffix in (".parquet", ".csv") and not f.name.startswith(".")]
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
        table = self.load()
        if self.parts.is_dir() and any(self.parts.iterdir()) or not self.table_path.exists():
            self._write(table, self.table_path)
            for other in self.folder.glob("runs.*"):
                if other != self.table_path and other.suffix in (".parquet", ".csv"):
                    other.unlink()  # a format switch (pyarrow installed since): one table only
            if self.parts.is_dir():
                shutil.rmtree(self.parts)
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
