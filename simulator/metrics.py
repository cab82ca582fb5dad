"""Pure functions from a run's records to the tables users read.

Nothing here knows SimPy: inputs are the record tables as DataFrames and a small
:class:`RunInfo`; every output column is documented in the function that computes it.
Only what happens from the scenario's start date on is reported (warm-up is dropped).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["RunInfo", "shortages", "plant_starvation", "lead_times", "lead_time_stats", "flows_monthly",
           "licences", "licences_weekly", "production_daily", "shortages_firms", "production_firms_daily", "inventory_daily", "events", "headline", "summary"]

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


def shortages(production: pd.DataFrame, info: RunInfo, firm_production: pd.DataFrame | None = None,
              days: dict[str, FirmDays] | None = None) -> pd.DataFrame:
    """One row per demand facility.

    Columns: ``facility``; ``sector``; ``country``; ``unit`` (what a unit is); ``units_planned``
    and ``units_produced`` over the horizon; ``units_lost`` = planned - produced (with
    backorders, what was still not made at the end); ``share_lost`` = lost / planned;
    ``stopped_days``: days that made less than plan; ``first_stop``: first such day (ISO date,
    empty if none); ``longest_stop_days``: longest run of such days; ``recovered``: first day
    back at plan after the last stop (empty if never stopped or still stopped at the end);
    ``share_firm_days_stopped``: stopped days / days in the horizon.

    A sector with firms (rows of ``firm_production``) counts stops firm by firm: a firm is
    stopped on a day it makes less than its own plan. ``stopped_days`` = firm-days stopped /
    number of firms; ``share_firm_days_stopped`` = firm-days stopped / firm-days;
    ``first_stop``: first day any firm stopped; ``longest_stop_days``: the longest stop of any
    firm; ``recovered``: first day every firm is back at plan after the last day any firm was
    stopped (empty if never stopped or a firm is still stopped at the end).
    """
    rows = []
    t = production["t"].to_numpy()
    groups = _rows_of(production["facility"], t >= info.t_start - 1e-9)
    planned_units, produced_units = production["planned_units"].to_numpy(), production["produced_units"].to_numpy()
    by_firm = days if days is not None else firm_days(production, firm_production, info)
    for name, meta in info.facilities.items():
        if meta["kind"] != "sector":
            continue
        g = groups.get(name)
        if g is None:
            planned = produced = 0.0
            stops = _outages(np.array([]), np.array([], dtype=bool), 1.0, info)
            days = 0
        else:
            g = g[np.argsort(t[g])]  # by time, numpy's default sort as DataFrame.sort_values("t")
            planned, produced = _sum(planned_units[g]), _sum(produced_units[g])
            days = len(g)
            if name not in by_firm:  # a sector with firms counts its stops firm by firm (below)
                stops = _outages(t[g], _short_days(planned_units[g], produced_units[g]), 1.0, info)
        if name in by_firm:
            stops, share_stopped = _firm_outages(by_firm[name], info)
        else:
            share_stopped = stops["stopped_days"] / days if days else 0.0
        lost = max(0.0, planned - produced)
        rows.append({
            "facility": name, "sector": meta.get("sector", ""), "country": meta["country"], "unit": meta.get("unit", "units"),
            "units_planned": planned, "units_produced": produced, "units_lost": lost,
            "share_lost": lost / planned if planned > 0 else 0.0, **stops, "share_firm_days_stopped": share_stopped,
        })
    columns = ["facility", "sector", "country", "unit", "units_planned", "units_produced", "units_lost", "share_lost",
               "stopped_days", "first_stop", "longest_stop_days", "recovered", "share_firm_days_stopped"]
    return pd.DataFrame(rows, columns=columns)


@dataclass
class FirmDays:
    """A sector's firms day by day from the start date: ``times`` (d,), and ``planned`` and
    ``made`` units (d x firms)."""

    times: np.ndarray
    planned: np.ndarray
    made: np.ndarray


def firm_days(production: pd.DataFrame, firm_production: pd.DataFrame | None, info: RunInfo) -> dict[str, FirmDays]:
    """Each sector with firms, day by day: a firm's plan is its share of the sector's day plan
    (the sector's rows), and it made that plan on every day without a row of its own (the engine
    writes firm rows only on days some firm may fall short: see ``Sector._produce_firms``)."""
    out = {}
    sectors = {name: meta["firms"] for name, meta in info.facilities.items() if meta.get("firms")}
    if not sectors:
        return out
    t = production["t"].to_numpy(dtype=float)
    day_plan = production["planned_units"].to_numpy(dtype=float)
    own = {}
    if firm_production is not None and len(firm_production):
        firm_t = firm_production["t"].to_numpy(dtype=float)
        own = _rows_of(firm_production["facility"], firm_t >= info.t_start - 1e-9)
        firm_no = firm_production["firm"].to_numpy(dtype=int)
        firm_plan = firm_production["planned_units"].to_numpy(dtype=float)
        firm_made = firm_production["produced_units"].to_numpy(dtype=float)
    for name, g in _rows_of(production["facility"], t >= info.t_start - 1e-9).items():
        if name not in sectors:
            continue
        g = g[np.argsort(t[g], kind="stable")]
        times = t[g]
        shares = np.array([share for share, _cover in sectors[name]])
        planned = day_plan[g][:, None] * shares[None, :]
        made = planned.copy()
        f = own.get(name)
        if f is not None:
            day, firm = np.searchsorted(times, firm_t[f]), firm_no[f] - 1
            planned[day, firm] = firm_plan[f]
            made[day, firm] = firm_made[f]
        out[name] = FirmDays(times, planned, made)
    return out


def _short_days(planned: np.ndarray, made: np.ndarray) -> np.ndarray:
    """Days (or firm-days) that made less than plan."""
    return (made < planned * (1 - STOP_TOLERANCE)) & (planned > 0)


def _firm_outages(days: FirmDays, info: RunInfo) -> tuple[dict, float]:
    """A sector's stop columns from its firms' days (see :func:`shortages`)."""
    short = _short_days(days.planned, days.made)  # day x firm
    n = short.shape[1]
    anyone = _outages(days.times, short.any(axis=1), 1.0, info)
    firm_days_stopped = float(short.sum())
    # All firms at once rather than _outages firm by firm: the days are in time order, so the
    # earliest first stop of any firm is the first day any firm stopped.
    stopped = np.flatnonzero(short.any(axis=1))
    stops = {
        "stopped_days": firm_days_stopped / n,
        "first_stop": info.date(days.times[stopped[0]]) if len(stopped) else "",
        "longest_stop_days": _longest_run(short) * 1.0,
        "recovered": anyone["recovered"],
    }
    return stops, firm_days_stopped / short.size if short.size else 0.0


def _longest_run(short: np.ndarray) -> int:
    """The longest run of True down any column of a (day x firm) boolean array (0 if none)."""
    days, firms = short.shape
    padded = np.zeros((firms, days + 1), dtype=np.int8)  # a False after each firm's days: no run spans two firms
    padded[:, :days] = short.T
    edges = np.diff(padded.ravel(), prepend=np.int8(0))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return int((ends - starts).max()) if len(starts) else 0


def shortages_firms(firm_production: pd.DataFrame, info: RunInfo, production: pd.DataFrame,
                    days: dict[str, FirmDays] | None = None) -> pd.DataFrame:
    """One row per firm of each sector with firms (none for sectors without).

    Columns: ``facility``; ``firm`` (1, 2, ...); ``share`` of the sector's output; ``cover_days``
    (its target cover, days of its own use, as drawn); ``units_planned`` and ``units_produced``
    over the horizon; ``units_lost`` = planned - produced; ``share_lost`` = lost / planned;
    ``stopped_days``: days it made less than its plan; ``first_stop`` (ISO date, empty if none);
    ``longest_stop_days``; ``recovered``: first day back at plan after its last stop (empty if
    never stopped or still stopped at the end).
    """
    rows = []
    for name, one in (days if days is not None else firm_days(production, firm_production, info)).items():
        firms = info.facilities[name]["firms"]
        short = _short_days(one.planned, one.made)
        for i, (share, cover) in enumerate(firms):
            planned, produced = float(one.planned[:, i].sum()), float(one.made[:, i].sum())
            lost = max(0.0, planned - produced)
            rows.append({"facility": name, "firm": i + 1, "share": share, "cover_days": cover,
                         "units_planned": planned, "units_produced": produced, "units_lost": lost,
                         "share_lost": lost / planned if planned > 0 else 0.0,
                         **_outages(one.times, short[:, i], 1.0, info)})
    columns = ["facility", "firm", "share", "cover_days", "units_planned", "units_produced", "units_lost", "share_lost",
               "stopped_days", "first_stop", "longest_stop_days", "recovered"]
    return pd.DataFrame(rows, columns=columns)


def plant_starvation(batches: pd.DataFrame, info: RunInfo) -> pd.DataFrame:
    """One row per plant: ``facility``, ``country``, ``output``; ``desired_t`` (what batches
    wanted to make: refill finished stock and open orders, within capacity) and ``produced_t``;
    ``short_t`` = desired - produced; ``starved_days``: days in batches its inputs cut short;
    ``first_starved``, ``longest_starved_days``, ``recovered`` as for demand facilities."""
    rows = []
    t = batches["t"].to_numpy()
    groups = _rows_of(batches["facility"], t >= info.t_start - 1e-9)
    desired_t, produced_t = batches["desired_t"].to_numpy(), batches["produced_t"].to_numpy()
    for name, meta in info.facilities.items():
        if meta["kind"] != "plant":
            continue
        g = groups.get(name)
        if g is None:
            desired = produced = 0.0
            stops = _outages(np.array([]), np.array([], dtype=bool), 1.0, info)
        else:
            g = g[np.argsort(t[g])]  # by time, numpy's default sort as DataFrame.sort_values("t")
            wanted, made = desired_t[g], produced_t[g]
            desired, produced = _sum(wanted), _sum(made)
            short = (made < wanted * (1 - 1e-6)) & (wanted - made > 1e-6)
            stops = _outages(t[g], short, meta.get("batch_days", 1.0), info)
        rows.append({
            "facility": name, "country": meta["country"], "output": meta.get("output", ""),
            "desired_t": desired, "produced_t": produced, "short_t": max(0.0, desired - produced),
            "starved_days": stops["stopped_days"], "first_starved": stops["first_stop"],
            "longest_starved_days": stops["longest_stop_days"], "recovered": stops["recovered"],
        })
    columns = ["facility", "country", "output", "desired_t", "produced_t", "short_t", "starved_days",
               "first_starved", "longest_starved_days", "recovered"]
    return pd.DataFrame(rows, columns=columns)


def lead_times(shipments: pd.DataFrame, info: RunInfo) -> pd.DataFrame:
    """One row per delivered shipment (an order filled in parts gives one row per part).

    Columns: ``order_id``, ``shipment_id``, ``material``, ``supplier``, ``buyer``, ``exporter``
    and ``destination`` (country codes), ``mode``; ``ordered`` and ``delivered`` (ISO dates);
    ``tonnes``; ``lead_time_days`` = delivered - ordered, split into ``wait_stock_days``
    (order placed -> goods left the supplier's stock), ``wait_licence_days`` (held at the
    exporter: licence review, quota or ban) and ``transit_days``. When the tonnes were ordered
    before and that order failed (licence denied, refused, or withdrawn from a supplier that
    had no stock), the time lost counts too: as licence wait for a denial or refusal
    (including the wait to re-order), as stock wait for a withdrawn order. ``ordered`` is the first order of
    the tonnes: a re-order after a denial keeps the original date. Shipments delivered from the
    start date on.
    """
    t_delivered = shipments["t_delivered"].to_numpy()
    rows = np.flatnonzero((shipments["outcome"] == "delivered").to_numpy() & (t_delivered >= info.t_start))
    # By delivery, then shipment, as DataFrame.sort_values sorts (np.lexsort's order), reading
    # only the rows and columns the table needs instead of sorting a copy of the whole table.
    rows = rows[_order_by(t_delivered[rows], shipments["shipment_id"].to_numpy()[rows])]
    t = {c: _values(shipments, c, rows) for c in ("t_first_ordered", "t_ordered", "t_filled", "t_cleared",
                                                 "t_delivered", "lost_stock_days", "lost_licence_days")}
    # Text columns stay pandas string arrays from end to end (no .to_numpy(), which would make a
    # Python object per cell: on a 30-year run that alone was 200 MB of peak memory).
    return pd.DataFrame({
        "order_id": _values(shipments, "order_id", rows), "shipment_id": _values(shipments, "shipment_id", rows),
        **{c: _texts(shipments[c], rows) for c in ("material", "supplier", "buyer", "exporter", "destination", "mode")},
        "ordered": info.dates(t["t_first_ordered"]), "delivered": info.dates(t["t_delivered"]),
        "tonnes": _values(shipments, "tonnes", rows),
        "lead_time_days": t["t_delivered"] - t["t_first_ordered"],
        "wait_stock_days": t["t_filled"] - t["t_ordered"] + t["lost_stock_days"],
        "wait_licence_days": t["t_cleared"] - t["t_filled"] + t["lost_licence_days"],
        "transit_days": t["t_delivered"] - t["t_cleared"],
    })


def _values(frame: pd.DataFrame, column: str, rows: np.ndarray) -> np.ndarray:
    """A number column's values at row positions ``rows``."""
    return frame[column].to_numpy()[rows]


def _order_by(primary: np.ndarray, secondary: np.ndarray) -> np.ndarray:
    """Positions that sort by ``primary``, then ``secondary``, ties in their order: the order of
    ``np.lexsort((secondary, primary))`` and of ``DataFrame.sort_values``. Records mostly come
    already in time order without ties, and a stable sort of sorted data is nearly free; then
    the second key changes nothing and lexsort (ten times slower) is not needed."""
    order = np.argsort(primary, kind="stable")
    ranked = primary[order]
    if np.all(ranked[1:] > ranked[:-1]):  # no ties (nor NaN): the second key orders nothing
        return order
    return np.lexsort((secondary, primary))


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


def lead_time_stats(lt: pd.DataFrame) -> pd.DataFrame:
    """Lead-time distributions by ``by`` in (destination, material, lane, month) and ``group``.

    Columns: ``by``, ``group``, ``shipments``, ``tonnes``, ``mean``, ``p50``, ``p90``, ``p99`` (days,
    order to delivery), and the means of ``wait_stock_days``, ``wait_licence_days`` and
    ``transit_days``, all per tonne (:func:`weighted_percentiles`). ``month`` is the month of
    delivery (YYYY-MM).
    """
    keys = {
        "destination": lt["destination"],
        "material": lt["material"],
        "lane": lt["supplier"] + ">" + lt["buyer"] + ":" + lt["material"],
        "month": lt["delivered"].str.slice(0, 7),
    }
    values = {c: lt[c].to_numpy(dtype=float) for c in ("tonnes", "lead_time_days", "wait_stock_days", "wait_licence_days", "transit_days")}
    rows = []
    for by, key in keys.items():
        for group, rows_of_group in _groups(key):
            tonnes = values["tonnes"][rows_of_group]
            rows.append({"by": by, "group": group, "shipments": len(rows_of_group),
                         "tonnes": float(tonnes.sum()),
                         **_describe(values["lead_time_days"][rows_of_group], tonnes),
                         **{c: weighted_mean(values[c][rows_of_group], tonnes)
                            for c in ("wait_stock_days", "wait_licence_days", "transit_days")}})
    return pd.DataFrame(rows, columns=["by", "group", "shipments", "tonnes", "mean", "p50", "p90", "p99",
                                       "wait_stock_days", "wait_licence_days", "transit_days"])


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


def flows_monthly(shipments: pd.DataFrame, info: RunInfo) -> pd.DataFrame:
    """Tonnes leaving each exporter per month: ``month`` (YYYY-MM, when the shipment cleared the
    exporter's controls and left), ``exporter``, ``destination`` (countries; domestic deliveries
    have exporter == destination), ``material``, ``tonnes``."""
    t = shipments["t_cleared"].to_numpy()
    rows = np.flatnonzero(shipments["t_cleared"].notna().to_numpy() & (t >= info.t_start) & (t < info.t_end))
    # The four keys as codes into their sorted texts, grouped as groupby(keys, sort=True) groups
    # them; text is made for the groups only, not for every shipment.
    days, day_labels = info.day_codes(t[rows])
    months, month_of_day = np.unique(day_labels.astype("U7"), return_inverse=True)  # YYYY-MM: a day's first 7 characters
    keys = {"month": (month_of_day.reshape(-1)[days], months.astype(object)),
            **{c: _sorted_codes(shipments[c].take(rows)) for c in ("exporter", "destination", "material")}}
    group, first = _key_groups([(codes, len(labels)) for codes, labels in keys.values()])
    grouped = group >= 0
    # pandas' own group sum (compensated, row by row): the same tonnes as a groupby on the keys
    tonnes = pd.Series(shipments["tonnes"].to_numpy()[rows][grouped]).groupby(group[grouped]).sum().to_numpy()
    return pd.DataFrame({**{c: pd.array(labels[codes[first]], dtype="str") for c, (codes, labels) in keys.items()},
                         "tonnes": tonnes})


def _sorted_codes(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """A column as text coded into its distinct texts sorted: (each row's code, -1 if missing;
    the texts), the order of a groupby on ``column.astype(str)``. A category column sorts its
    names once and its rows keep their codes."""
    if not isinstance(column.dtype, pd.CategoricalDtype):
        codes, uniques = pd.factorize(column.astype(str), sort=True)
        return codes, np.asarray(uniques, dtype=object)
    labels, rank = np.unique(np.asarray(column.cat.categories.astype(str), dtype=object), return_inverse=True)
    codes = column.array.codes
    return np.where(codes < 0, -1, rank.reshape(-1)[codes]), labels


def _key_groups(keys: list[tuple[np.ndarray, int]]) -> tuple[np.ndarray, np.ndarray]:
    """Rows grouped by several keys, each given as (each row's code into the key's sorted
    values, -1 if missing; how many values), as ``groupby(keys, sort=True)`` groups them: each
    row's group number (groups in the keys' order; -1 for a row with a missing key, which a
    groupby drops) and the first row of each group."""
    combined, size = np.zeros(len(keys[0][0]) if keys else 0, dtype=np.int64), 1
    missing = np.zeros(len(combined), dtype=bool)
    for codes, n in keys:
        missing |= codes < 0
        if size * max(n, 1) >= 2**62:  # renumber the groups so far before int64 overflows
            size, combined = len(combined), np.unique(combined, return_inverse=True)[1].reshape(-1).astype(np.int64)
        combined, size = combined * n + codes, size * max(n, 1)
    group = np.full(len(combined), -1, dtype=np.int64)
    _, first, group[~missing] = np.unique(combined[~missing], return_index=True, return_inverse=True)
    return group, np.flatnonzero(~missing)[first]


def _buyer_sector(buyers: pd.Series, info: RunInfo) -> pd.Series:
    """The end use of each buyer: a sector's ``sector``, else the facility's kind (plant, depot)."""
    lookup = {name: meta.get("sector") or meta["kind"] for name, meta in info.facilities.items()}
    if isinstance(buyers.dtype, pd.CategoricalDtype):  # a record column: each buyer looked up once
        sectors = [lookup.get(name) for name in buyers.cat.categories]
        sectors = np.array(["" if s is None else s for s in sectors], dtype=object)
        return pd.Series(_by_code(buyers.array.codes, sectors, missing=""), index=buyers.index, name=buyers.name)
    return buyers.astype(str).map(lookup).fillna("")


def licences(lic: pd.DataFrame, info: RunInfo) -> pd.DataFrame:
    """One row per licence application made from the start date on: ``control``, ``exporter``,
    ``destination``, ``buyer`` (the buying facility: end user), ``sector`` (its sector: end use;
    for plants and depots their kind), ``material``, ``tonnes``, ``applications`` (real
    applications the row stands for: tonnes / the control's consignment size; 1 without one;
    a bundle whose applications were decided differently is split into one row per decision),
    ``submission`` (0 for a first
    application, n for its n-th re-submission after being returned for documents), ``applied``
    and ``decided`` (ISO dates; decided empty while pending), ``decision`` (approved; returned:
    for documents, re-submitted as a new row; denied; released: approved in a backlog release or
    because the control was lifted; general licence: approved when a general licence covering it
    was granted; withdrawn: by the buyer; out of scope: the control's scope no longer covers it;
    pending at end), ``wait_days`` (applied -> decided, or -> end).

    An application belongs to the run if it was applied at or after the start (``t_applied >=
    t_start``): one made during the warm-up is left out, even if decided after the start, as
    warm-up rows are left out of every table (the headline licence counts are this table's)."""
    t_applied = lic["t_applied"].to_numpy()
    rows = np.flatnonzero(t_applied >= info.t_start - 1e-9)
    rows = rows[np.argsort(t_applied[rows], kind="stable")]  # as sort_values(kind="stable"): only the rows kept
    t_applied, t_decided = t_applied[rows], _values(lic, "t_decided", rows)
    decision = _texts(lic["decision"], rows)
    pending = np.asarray(decision == "pending at end", dtype=bool)
    return pd.DataFrame({
        **{c: _texts(lic[c], rows) for c in ("control", "exporter", "destination", "buyer")},
        "sector": _buyer_sector(lic["buyer"].take(rows), info).array, "material": _texts(lic["material"], rows),
        "tonnes": _values(lic, "tonnes", rows), "applications": _values(lic, "applications", rows).astype("int64"),
        "submission": _values(lic, "submission", rows).astype("int64"),
        "applied": info.dates(t_applied), "decided": info.dates(np.where(pending, np.nan, t_decided)),
        "decision": decision,
        "wait_days": np.where(pending, info.t_end - t_applied, t_decided - t_applied),
    })


_GRANTED = ("approved", "released", "general licence")
_CLOSED = ("withdrawn", "out of scope")


def licences_weekly(lic: pd.DataFrame, info: RunInfo) -> pd.DataFrame:
    """The licensing office week by week, in the shape published figures take ("x% of requests
    submitted since April granted by 4 June"): one row per week (from the start date, 7 days
    each) and exporter, destination and sector (the buyer's end use) that ever applied. Counts
    are of real applications (the ``applications`` column of :func:`licences`).

    Columns: ``week`` (ISO date of its first day), ``exporter``, ``destination``, ``sector``;
    counts within the week: ``submitted`` (first applications), ``resubmitted`` (after a return),
    ``granted`` (approved, released or under a general licence), ``returned`` (for documents),
    ``denied``, ``withdrawn`` (by the buyer, or out of the control's scope); at the week's end:
    ``pending`` (first applications not yet granted, denied or withdrawn: a returned request is
    still pending), ``cumulative_submitted``, ``cumulative_granted``, and ``share_granted`` =
    cumulative granted / cumulative submitted (empty before any submission). Applications made
    during the warm-up are left out (as in :func:`licences`)."""
    keys = ["exporter", "destination", "sector"]
    columns = ["week", *keys, "submitted", "resubmitted", "granted", "returned", "denied", "withdrawn", "pending",
               "cumulative_submitted", "cumulative_granted", "share_granted"]
    lic = lic[lic["t_applied"] >= info.t_start - 1e-9]
    if not len(lic):
        return pd.DataFrame(columns=columns)
    n_weeks = max(1, math.ceil((info.t_end - info.t_start) / 7.0 - 1e-9))
    base = pd.DataFrame({"exporter": lic["exporter"].astype(str).to_numpy(),
                         "destination": lic["destination"].astype(str).to_numpy(),
                         "sector": _buyer_sector(lic["buyer"], info).to_numpy()})
    decision = lic["decision"].astype(str).to_numpy()
    # A split bundle's later parts are not new submissions: count a first application once, as
    # the applications of every row with submission 0 (its parts carry their own counts).
    first = lic["submission"].to_numpy() == 0
    kind_applied = np.where(first, "submitted", "resubmitted")
    kind_decided = pd.Series(decision).replace({**{d: "granted" for d in _GRANTED}, **{d: "withdrawn" for d in _CLOSED}}).to_numpy()
    decided = decision != "pending at end"
    week = lambda t: np.floor((np.asarray(t, dtype=float) - info.t_start) / 7.0).astype("int64")  # noqa: E731
    weight = lic["applications"].to_numpy()
    events = pd.concat([
        base.assign(week=week(lic["t_applied"]), kind=kind_applied, n=weight),
        base[decided].assign(week=week(lic["t_decided"].to_numpy()[decided]), kind=kind_decided[decided], n=weight[decided]),
    ])
    events = events[events["week"] < n_weeks]
    counts = events.pivot_table(index=[*keys, "week"], columns="kind", values="n", aggfunc="sum", fill_value=0)
    groups = base.drop_duplicates().sort_values(keys)
    grid = pd.MultiIndex.from_tuples([(*g, w) for g in groups.itertuples(index=False) for w in range(n_weeks)],
                                     names=[*keys, "week"])
    counts = counts.reindex(grid, fill_value=0).reindex(columns=columns[4:10], fill_value=0).astype("int64")
    by_group = counts.groupby(level=[0, 1, 2], sort=False)
    cumulative = by_group.cumsum()
    counts["cumulative_submitted"] = cumulative["submitted"]
    counts["cumulative_granted"] = cumulative["granted"]
    counts["pending"] = cumulative["submitted"] - cumulative["granted"] - cumulative["denied"] - cumulative["withdrawn"]
    with np.errstate(invalid="ignore", divide="ignore"):
        counts["share_granted"] = np.where(counts["cumulative_submitted"] > 0,
                                           counts["cumulative_granted"] / counts["cumulative_submitted"], np.nan)
    out = counts.reset_index()
    out.columns.name = None
    out["week"] = (np.datetime64(info.start) + (out["week"].to_numpy() * 7).astype("timedelta64[D]")).astype(str)
    return out[columns]


def production_daily(production: pd.DataFrame, info: RunInfo) -> pd.DataFrame:
    """Daily output of each demand facility: ``date``, ``facility``, ``planned_units``,
    ``produced_units`` (more than planned on catch-up days with backorders)."""
    prod = production[production["t"] >= info.t_start - 1e-9]
    return pd.DataFrame({
        "date": info.date_categories(prod["t"]), "facility": prod["facility"].to_numpy(),
        "planned_units": prod["planned_units"].to_numpy(), "produced_units": prod["produced_units"].to_numpy(),
    })


def production_firms_daily(firm_production: pd.DataFrame, info: RunInfo, production: pd.DataFrame,
                           days: dict[str, FirmDays] | None = None) -> pd.DataFrame:
    """Daily output of each firm of the sectors with firms: ``date``, ``facility``, ``firm``
    (1, 2, ...), ``planned_units`` (its share of the day's plan), ``produced_units``; day by
    day, the firms of a day in order."""
    parts = []
    for name, one in (days if days is not None else firm_days(production, firm_production, info)).items():
        d, n = one.planned.shape
        parts.append(pd.DataFrame({
            "t": np.repeat(one.times, n), "facility": name, "firm": np.tile(np.arange(1, n + 1), d),
            "planned_units": one.planned.ravel(), "produced_units": one.made.ravel()}))
    if not parts:
        return pd.DataFrame({"date": pd.Series([], dtype=object), "facility": pd.Series([], dtype=object),
                             "firm": pd.Series([], dtype=int), "planned_units": pd.Series([], dtype=float),
                             "produced_units": pd.Series([], dtype=float)})
    rows = pd.concat(parts, ignore_index=True).sort_values(["t"], kind="stable")
    return pd.DataFrame({
        "date": info.date_categories(rows["t"]), "facility": rows["facility"].to_numpy(),
        "firm": rows["firm"].to_numpy(), "planned_units": rows["planned_units"].to_numpy(),
        "produced_units": rows["produced_units"].to_numpy(),
    })


def inventory_daily(inv: pd.DataFrame, info: RunInfo) -> pd.DataFrame:
    """Inventory snapshots: ``date``, ``facility``, ``material``, ``on_hand_t``, ``days_of_cover``
    (on hand / planned daily use, or for outputs / planned daily output; empty for reserves)."""
    return pd.DataFrame({
        "date": info.date_categories(inv["t"]), "facility": inv["facility"].to_numpy(),
        "material": inv["material"].to_numpy(), "on_hand_t": inv["on_hand_t"].to_numpy(),
        "days_of_cover": inv["days_of_cover"].to_numpy(),
    })


def events(ev: pd.DataFrame, info: RunInfo) -> pd.DataFrame:
    """The timeline as applied: ``date``, ``action`` (impose, ease, release, release_stockpile,
    suspend, suspension ends, lift, set), ``target`` (control or facility), ``detail``,
    ``in_force`` (for controls: yes/no after the event; empty for facilities)."""
    return pd.DataFrame({"date": info.dates(ev["t"]), "action": _text(ev["action"]), "target": _text(ev["target"]),
                         "detail": _text(ev["detail"]), "in_force": _text(ev["in_force"])})


def headline(tables: dict[str, pd.DataFrame], info: RunInfo) -> dict[str, float]:
    """Flat scalar metrics, the ones sweeps collect. Names are ``metric`` or ``metric.key``:

    ``units_lost.<facility>``, ``share_lost.<facility>``, ``stopped_days.<facility>``,
    ``first_stop_day.<facility>`` (days from start; NaN if never), ``share_lost.<sector>`` (all
    places), ``share_lost.all``, ``lead_time_p50.<destination>``, ``lead_time_p90.<destination>``,
    ``wait_licence_mean.<destination>``, ``exports_t.<exporter>`` (cross-border tonnes),
    ``licences_applied`` (real applications first submitted from the start date on, re-submissions
    not counted again), ``licences_approved`` (approved, released or under a general licence),
    ``licences_denied`` (real applications: sums of :func:`licences`' ``applications``).
    """
    out: dict[str, float] = {}
    sh = tables["shortages"]
    start = info.start
    # Columns as Python lists and numpy arrays, read once (not row by row or group by group
    # through pandas); sums as pandas sums them (_sum, _mean), so the figures are the same.
    columns = {c: sh[c].tolist() for c in ("facility", "units_lost", "share_lost", "stopped_days", "first_stop")}
    for name, lost, share, stopped, first_stop in zip(*columns.values()):
        out[f"units_lost.{name}"] = lost
        out[f"share_lost.{name}"] = share
        out[f"stopped_days.{name}"] = stopped
        out[f"first_stop_day.{name}"] = (dt.date.fromisoformat(first_stop) - start).days if first_stop else math.nan
    planned_units, lost_units = sh["units_planned"].to_numpy(), sh["units_lost"].to_numpy()
    for sector, rows in _groups(sh["sector"]):
        planned = _sum(planned_units[rows])
        out[f"share_lost.{sector}"] = float(_sum(lost_units[rows]) / planned) if planned > 0 else 0.0
    if len(sh):
        # Units differ between sectors (vehicles, MW), so "all" is the plain mean of facility shares.
        out["share_lost.all"] = _mean(sh["share_lost"].to_numpy(dtype=float))
    lt = tables["lead_times"]
    lead, licence = lt["lead_time_days"].to_numpy(dtype=float), lt["wait_licence_days"].to_numpy(dtype=float)
    tonnes = lt["tonnes"].to_numpy(dtype=float)
    for dest, rows in _groups(lt["destination"]):  # per tonne, as lead_time_stats
        p50, p90 = weighted_percentiles(lead[rows], tonnes[rows], (50, 90))
        out[f"lead_time_p50.{dest}"], out[f"lead_time_p90.{dest}"] = p50, p90
        out[f"wait_licence_mean.{dest}"] = weighted_mean(licence[rows], tonnes[rows])
    fl = tables["flows_monthly"]
    cross = (fl["exporter"] != fl["destination"]).to_numpy()
    exported = fl["tonnes"].to_numpy()[cross]
    for exporter, rows in _groups(fl["exporter"][cross]):
        out[f"exports_t.{exporter}"] = _sum(exported[rows])
    lic = tables["licences"]
    n = lic["applications"].to_numpy() if "applications" in lic else np.ones(len(lic), dtype=np.int64)
    first = (lic["submission"] == 0).to_numpy() if "submission" in lic else np.ones(len(lic), dtype=bool)
    out["licences_applied"] = _sum(n[first])
    out["licences_approved"] = _sum(n[lic["decision"].isin(_GRANTED).to_numpy()])
    out["licences_denied"] = _sum(n[(lic["decision"] == "denied").to_numpy()])
    return out


def summary(tables: dict[str, pd.DataFrame]) -> dict:
    """Headline figures per demand facility and per destination, for summary.json."""
    sh = tables["shortages"]
    lt = tables["lead_times"]
    by_destination = {}
    values = {c: lt[c].to_numpy(dtype=float) for c in ("tonnes", "lead_time_days", "wait_stock_days", "wait_licence_days", "transit_days")}
    for dest, rows in _groups(lt["destination"]):
        by_destination[dest] = {
            "shipments": int(len(rows)), "tonnes": float(values["tonnes"][rows].sum()),
            **{f"lead_time_{k}_days": v for k, v in _describe(values["lead_time_days"][rows], values["tonnes"][rows]).items()},
            **{f"{c[:-5]}_mean_days": weighted_mean(values[c][rows], values["tonnes"][rows])
               for c in ("wait_stock_days", "wait_licence_days", "transit_days")},
        }
    return {
        "demand_facilities": {r["facility"]: {k: v for k, v in r.items() if k != "facility"} for r in sh.to_dict("records")},
        "destinations": by_destination,
    }
