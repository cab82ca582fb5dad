"""Observed series in the customs shape: reading them with clear errors, and selecting from them.

An observed series is a CSV with the columns of ``flows_customs.csv`` (``reporter``,
``partner``, ``hs_code``, ``period``, ``flow``, ``net_kg``, ``material``), or ``tonnes``
instead of ``net_kg``. Required: ``reporter``, ``partner``, ``period`` and one of ``net_kg`` or
``tonnes``; other columns (UN Comtrade exports have many) are ignored. ``partner`` may be
``WLD``, the total over all partners. Every problem is one line
``file:LINE: column: expected ..., got ...`` (:class:`ObservedError`, exit code 2).
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from .codes import AGGREGATE_COUNTRIES, ISO_COUNTRIES
from .customs import WORLD
from .loading import ScenarioError, _clip, read_text_file

__all__ = ["ObservedError", "read_observed", "check_observed", "parse_select", "select", "SELECT_KEYS"]

SERIES_COLUMNS = ["reporter", "partner", "hs_code", "material", "period", "tonnes"]
SELECT_KEYS = ("reporter", "partner", "hs_code", "material")
_COUNTRIES = ISO_COUNTRIES | AGGREGATE_COUNTRIES
_PERIOD = re.compile(r"^([0-9]{4})-?([0-9]{2})$")
_HS = re.compile(r"^[0-9]{4}(\.?[0-9]{2}){0,3}$")
_EXPORT = {"export", "exports", "x"}
_MAX_PROBLEMS = 20


class ObservedError(ScenarioError):
    """An observed series (or a selection from it) is invalid; ``lines`` holds one message per problem."""


def _period(text: str) -> int | None:
    m = _PERIOD.match(text)
    if not m or not 1900 <= int(m.group(1)) <= 2200 or not 1 <= int(m.group(2)) <= 12:
        return None
    return int(m.group(1)) * 100 + int(m.group(2))


def _amount(text: str) -> float | None:
    try:
        value = float(text.replace(",", "")) if text.strip() else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) and value >= 0 else None


def _check_rows(rows: list[tuple[int, dict[str, str]]], header: list[str], source: str, header_line: int = 1) -> pd.DataFrame:
    """Validate rows ``(line, {column: text})``; the series with ``tonnes`` (see module doc)."""
    present = set(header)
    missing = [c for c in ("reporter", "partner", "period") if c not in present]
    problems = [f"{source}:{header_line}: {c}: expected a column {c}, got columns {_clip(', '.join(header), 200) or 'none'}"
                for c in missing]
    unit = "net_kg" if "net_kg" in present else "tonnes" if "tonnes" in present else None
    if unit is None:
        problems.append(f"{source}:{header_line}: net_kg: expected a column net_kg or tonnes, got columns "
                        f"{_clip(', '.join(header), 200) or 'none'}")
    if problems:
        raise ObservedError(problems)
    out, seen = [], {}
    for line, row in rows:
        found = []
        reporter, partner = row.get("reporter", "").strip(), row.get("partner", "").strip()
        if reporter not in _COUNTRIES:
            found.append(f"reporter: expected an ISO 3166 alpha-2 country code (e.g. CN), got {_clip(reporter)!r}")
        if partner not in _COUNTRIES and partner != WORLD:
            found.append(f"partner: expected an ISO 3166 alpha-2 country code or WLD (all partners), got {_clip(partner)!r}")
        hs = row.get("hs_code", "").strip()
        if hs and not _HS.match(hs):
            found.append(f"hs_code: expected an HS code such as 8505.11, got {_clip(hs)!r}")
        period = _period(row.get("period", "").strip())
        if period is None:
            found.append(f"period: expected a month as YYYYMM (e.g. 202504), got {_clip(row.get('period', ''))!r}")
        flow = row.get("flow", "export").strip()
        if flow.lower() not in _EXPORT:
            found.append(f"flow: expected export (the simulator's flows are exports), got {_clip(flow)!r}")
        value = _amount(row.get(unit, ""))
        if value is None:
            found.append(f"{unit}: expected a number >= 0, got {_clip(row.get(unit, ''))!r}")
        material = row.get("material", "").strip()
        key = (reporter, partner, hs, material, period)
        if not found and key in seen:
            found.append(f"period: expected one row per reporter, partner, hs_code, material and period, got a second "
                         f"row for {period} (the first is on line {seen[key]})")
        problems += [f"{source}:{line}: {p}" for p in found]
        if len(problems) >= _MAX_PROBLEMS:
            break
        seen.setdefault(key, line)
        if not found:
            out.append((reporter, partner, hs, material, period, value / 1000.0 if unit == "net_kg" else value))
    if problems:
        more = "" if len(problems) < _MAX_PROBLEMS else " (first problems only)"
        raise ObservedError(problems[:_MAX_PROBLEMS - 1] + [problems[_MAX_PROBLEMS - 1] + more]
                            if len(problems) >= _MAX_PROBLEMS else problems)
    if not out:
        raise ObservedError([f"{source}:{header_line + 1}: period: expected at least one row of data, got none"])
    frame = pd.DataFrame(out, columns=SERIES_COLUMNS)
    frame.attrs["source"] = source
    return frame


def read_observed(path: str | Path) -> pd.DataFrame:
    """Read an observed series: columns ``reporter, partner, hs_code, material, period`` (YYYYMM
    as an integer) and ``tonnes`` (``net_kg`` / 1000); ``hs_code`` and ``material`` are ""
    where the file has none. Raises :class:`ObservedError` with every problem."""
    source = str(path)
    text = read_text_file(Path(path), "observed series", ObservedError)
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header: list[str] | None = None
    header_line = 1
    rows = []
    try:
        for record in reader:
            if not any(cell.strip() for cell in record):
                continue
            if header is None:
                header, header_line = [c.strip().lower() for c in record], reader.line_num
                continue
            if len(record) != len(header):
                raise ObservedError([f"{source}:{reader.line_num}: row: expected {len(header)} cells as in the header, "
                                     f"got {len(record)}"])
            rows.append((reader.line_num, dict(zip(header, record))))
    except csv.Error as err:
        raise ObservedError([f"{source}:{reader.line_num}: row: expected CSV, got {err}"]) from None
    if header is None:
        raise ObservedError([f"{source}:1: header: expected a CSV header (reporter, partner, period, net_kg, ...), got an empty file"])
    return _check_rows(rows, header, source, header_line)


def check_observed(frame: pd.DataFrame, source: str = "observed") -> pd.DataFrame:
    """The same checks on a DataFrame (row i is reported as line i + 2, as in its CSV)."""
    if isinstance(frame, pd.DataFrame) and list(frame.columns) == SERIES_COLUMNS and frame.attrs.get("source"):
        return frame  # already read and checked
    header = [str(c).strip().lower() for c in frame.columns]
    rows = [(i + 2, {h: "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v) for h, v in zip(header, values)})
            for i, values in enumerate(frame.itertuples(index=False, name=None))]
    return _check_rows(rows, header, source)


def parse_select(text: str | Mapping[str, str] | None, where: str = "--select") -> dict[str, str]:
    """``reporter=CN,hs_code=8505.11`` (or a mapping) -> ``{column: value}``."""
    if not text:
        return {}
    pairs = text.items() if isinstance(text, Mapping) else (part.partition("=")[::2] for part in str(text).split(","))
    out = {}
    for key, value in pairs:
        key, value = str(key).strip(), str(value).strip()
        if key not in SELECT_KEYS:
            raise ObservedError([f"{where}: {_clip(key) or 'select'}: expected one of {', '.join(SELECT_KEYS)}, got {_clip(key)!r}"])
        if not value:
            raise ObservedError([f"{where}: {key}: expected a value ({key}=...), got nothing"])
        out[key] = value
    return out


def select(frame: pd.DataFrame, selection: Mapping[str, str]) -> pd.DataFrame:
    """The observed rows matching every ``column=value`` of ``selection``. A row without an
    ``hs_code`` or ``material`` (the file has none) matches and takes the selected value."""
    frame = frame.copy()
    keep = pd.Series(True, index=frame.index)
    for key, value in selection.items():
        column = frame[key].astype(str)
        keep &= (column == value) | ((column == "") & (key in ("hs_code", "material")))
        frame[key] = value
    out = frame[keep].reset_index(drop=True)
    out.attrs = dict(frame.attrs)
    return out
