"""What every metrics table uses: the run's :class:`RunInfo` (dates from simulation times),
text from category codes, stopped-day runs, row groups, and tonne-weighted statistics."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

STOP_TOLERANCE = 1e-9  # a day short by more than this share of plan counts as stopped


@dataclass(frozen=True)
class RunInfo:
    """What metrics need to know about a run besides its records."""

    start: dt.date
    t_start: float  # simulation time of the start date (the warm-up length)
    t_end: float
    facilities: dict[str, dict] = field(default_factory=dict)  # name -> kind, country, sector, unit, ...

    def dates(self, t) -> pd.Series:
        """Simulation times -> ISO dates (strings; empty where time is missing)."""
        codes, labels = self.day_codes(t)
        # The labels (and '' last, for missing times) become pandas text once, and rows take them
        # by position: cheaper than converting a numpy string per row to pandas text.
        labels = pd.array(np.append(labels.astype(object), ""), dtype="str")
        return pd.Series(labels.take(np.where(codes < 0, len(labels) - 1, codes)))

    def day_codes(self, t) -> tuple[np.ndarray, np.ndarray]:
        """Simulation times -> each time's day as a code (-1 where time is missing) into the ISO
        dates of the days (numpy strings, in order), each distinct day formatted once (a run
        spans hundreds of days but has thousands of rows)."""
        t = np.asarray(t, dtype=float)
        days = np.floor(t - self.t_start)
        known = ~np.isnan(days)
        unique, inverse = np.unique(days[known].astype("int64"), return_inverse=True)
        codes = np.full(len(days), -1, dtype=np.intp)
        codes[known] = inverse
        return codes, (np.datetime64(self.start) + unique.astype("timedelta64[D]")).astype(str)

    def date_categories(self, t) -> pd.Categorical:
        """Like :meth:`dates` but as a categorical (one string per distinct day): long daily
        tables then take 4 bytes a row for their date instead of a Python string."""
        t = np.asarray(t, dtype=float)
        days = np.floor(t - self.t_start).astype("int64")
        unique, codes = np.unique(days, return_inverse=True)
        labels = (np.datetime64(self.start) + unique.astype("timedelta64[D]")).astype(str)
        return pd.Categorical.from_codes(codes.astype(np.int32), categories=pd.Index(labels, dtype=object))

    def date(self, t: float) -> str:
        if t is None or (isinstance(t, float) and math.isnan(t)):
            return ""
        return (self.start + dt.timedelta(days=math.floor(t - self.t_start))).isoformat()


def _text(column: pd.Series) -> pd.Series:
    """A column as pandas text (``str`` dtype), what ``column.astype(str)`` gives (see :func:`_texts`)."""
    return pd.Series(_texts(column), index=column.index, name=column.name)


def _texts(column: pd.Series, rows: np.ndarray | None = None):
    """``column.astype(str)`` as a pandas text array, of the rows at positions ``rows`` if given.
    A record table's category column converts each name once and its rows take them by code
    (pyarrow's take), a third of the time ``astype(str)`` takes converting row by row."""
    if not isinstance(column.dtype, pd.CategoricalDtype):
        return (column if rows is None else column.take(rows)).astype(str).array
    codes = column.array.codes if rows is None else column.array.codes[rows]
    return _by_code(codes, np.asarray(column.cat.categories, dtype=object), missing=np.nan)


def _by_code(codes: np.ndarray, labels: np.ndarray, missing):
    """Pandas text: ``labels[code]`` for each code, ``missing`` for code -1 (no category)."""
    labels = pd.array(np.append(labels, missing).astype(object), dtype="str")
    return labels.take(np.where(codes < 0, len(labels) - 1, codes))


def _runs(flags) -> list[tuple[int, int]]:
    """(start index, length) of each run of True in a boolean array (edges found with numpy)."""
    flags = np.asarray(flags, dtype=bool)
    if not flags.any():
        return []
    edges = np.diff(np.concatenate(([0], flags.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return list(zip(starts.tolist(), (ends - starts).tolist()))


def _outages(times: np.ndarray, short: np.ndarray, step_days: float, info: RunInfo) -> dict:
    runs = _runs(short)
    if not runs:
        return {"stopped_days": 0.0, "first_stop": "", "longest_stop_days": 0.0, "recovered": ""}
    last_start, last_len = runs[-1]
    recovered = "" if last_start + last_len >= len(short) else info.date(times[last_start + last_len])
    return {
        "stopped_days": float(short.sum()) * step_days,
        "first_stop": info.date(times[runs[0][0]]),
        "longest_stop_days": max(length for _, length in runs) * step_days,
        "recovered": recovered,
    }


def _sum(values: np.ndarray) -> float:
    """Sum skipping NaN, as pandas' ``Series.sum`` computes it (missing values as 0, then numpy's
    pairwise sum in the same order), so it agrees to the last digit."""
    if values.dtype.kind == "f":
        values = np.where(np.isnan(values), 0.0, values)
    return float(values.sum())


def _rows_of(key: pd.Series, keep: np.ndarray) -> dict:
    """Positions of the rows ``keep`` selects, by value of ``key`` (in the order of a groupby on
    it: a category column's own order), each group's rows in table order: the groups of
    ``frame[keep].groupby(key)`` without a DataFrame for each."""
    rows = np.flatnonzero(keep)
    return {group: rows[of_group] for group, of_group in _groups(key.iloc[rows])}


def _facility_rows(frame: pd.DataFrame, info: RunInfo) -> tuple[np.ndarray, dict]:
    """A production or batches table read facility by facility: (its times, facility -> the
    positions of its rows from the start date on, by time (numpy's default sort, as
    ``DataFrame.sort_values("t")``))."""
    t = frame["t"].to_numpy()
    groups = _rows_of(frame["facility"], t >= info.t_start - 1e-9)
    return t, {name: g[np.argsort(t[g])] for name, g in groups.items()}


def _values(frame: pd.DataFrame, column: str, rows: np.ndarray) -> np.ndarray:
    """A number column's values at row positions ``rows``."""
    return frame[column].to_numpy()[rows]


def _describe(values: pd.Series | np.ndarray, tonnes: np.ndarray) -> dict:
    """Mean and percentiles of lead times, weighted by the tonnes each shipment carried (see
    :func:`weighted_percentiles`)."""
    v = np.asarray(values, dtype=float)
    mean = weighted_mean(v, tonnes)
    p50, p90, p99 = weighted_percentiles(v, tonnes, (50, 90, 99))
    return {"mean": mean, "p50": p50, "p90": p90, "p99": p99}


def weighted_percentiles(values: np.ndarray, tonnes: np.ndarray, q) -> list[float]:
    """Percentiles of a lead time per tonne: each shipment weighs its tonnes, and the p-th
    percentile is the smallest value with at least p % of the tonnes at or below it (the
    inverted CDF; NaN values skipped). Per tonne, not per shipment, so a result does not depend
    on how many shipments an order is split into (pooled orders, licence splits, partial fills)."""
    ok = ~np.isnan(values) & (tonnes > 0)
    if not ok.any():
        return [math.nan for _ in q]
    return [float(v) for v in np.percentile(values[ok], q, weights=tonnes[ok], method="inverted_cdf")]


def weighted_mean(values: np.ndarray, tonnes: np.ndarray) -> float:
    """Mean per tonne, NaN values skipped (NaN if nothing is left)."""
    ok = ~np.isnan(values) & (tonnes > 0)
    return float(np.average(values[ok], weights=tonnes[ok])) if ok.any() else math.nan


def _groups(key: pd.Series) -> list[tuple[str, np.ndarray]]:
    """(group, row positions) for each distinct key, groups sorted, rows in table order.

    Sorting once (stable, so each group's rows keep their order and sums and means come out as a
    pandas groupby's) instead of a groupby loop, which builds a DataFrame per group: tables have a
    group per lane and per month, and hundreds of thousands of rows on long runs."""
    codes, groups = pd.factorize(key, sort=True)  # missing keys get -1 and no group
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(groups) + 1))
    return [(group, order[bounds[i]:bounds[i + 1]]) for i, group in enumerate(groups)]


def _mean(values: np.ndarray) -> float:
    """Mean skipping NaN, NaN if there is nothing to average: as pandas computes it (missing values
    summed as 0, divided by the count of the others), so it agrees to the last digit."""
    missing = np.isnan(values)
    count = len(values) - int(missing.sum())
    return float(np.where(missing, 0.0, values).sum() / count) if count else math.nan


_GRANTED = ("approved", "released", "general licence")
_CLOSED = ("withdrawn", "out of scope")
