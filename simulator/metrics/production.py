"""Production tables: shortages per demand facility (and per firm), plants starved of inputs,
daily production, inventories and the timeline's events."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .common import STOP_TOLERANCE, RunInfo, _facility_rows, _outages, _rows_of, _sum, _text

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
    t, groups = _facility_rows(production, info)
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
    t, groups = _facility_rows(batches, info)
    desired_t, produced_t = batches["desired_t"].to_numpy(), batches["produced_t"].to_numpy()
    for name, meta in info.facilities.items():
        if meta["kind"] != "plant":
            continue
        g = groups.get(name)
        if g is None:
            desired = produced = 0.0
            stops = _outages(np.array([]), np.array([], dtype=bool), 1.0, info)
        else:
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
