"""The headline (the flat metrics sweeps collect) and a run's summary, from its tables."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd

from .common import _GRANTED, RunInfo, _describe, _groups, _mean, _sum, weighted_mean, weighted_percentiles

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
