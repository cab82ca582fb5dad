"""The first screen of a run report: what was lost, where and when, in one table, five facts and
one picture (facility x month heatmap of the share of planned output lost).

With replications the numbers are the mean and 95% interval over the replications: the output
lost over *all* of them (the runs table), the dated facts over the kept run folders."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .. import plots
from ..sweep.summary import mean_ci95
from .data import RunData, _date, _replications
from .heatmap import month_heatmap
from .html import Chart, num, pct, render, table

MAX_ROWS = 30  # facilities in the heatmap (those that lost most; the table below it has all)


# ------------------------------------------------------------------------------ one run's facts


def monthly_loss(run: RunData) -> pd.DataFrame:
    """Facility x month ('YYYY-MM'): share of the month's planned output not made (0..1; a month
    of catching up above plan counts 0; NaN where nothing was planned). Rows: the demand
    facilities, most output lost (share of plan) first."""
    p = run.tables["production_daily"]
    order = loss_order(run)
    if p.empty:
        return pd.DataFrame(index=pd.Index(order, name="facility"))
    p = p.assign(month=p["date"].astype(str).str.slice(0, 7), facility=p["facility"].astype(str))
    g = p.groupby(["facility", "month"])[["planned_units", "produced_units"]].sum()
    with np.errstate(all="ignore"):
        lost = (1 - g["produced_units"] / g["planned_units"].where(g["planned_units"] > 0)).clip(lower=0.0)
    matrix = lost.unstack("month")
    return matrix.reindex([f for f in order if f in matrix.index] + [f for f in matrix.index if f not in order])


def loss_order(run: RunData) -> list[str]:
    """Demand facilities, largest share of planned output lost first (then by name)."""
    sh = run.tables["shortages"]
    return list(sh.sort_values(["share_lost", "facility"], ascending=[False, True], kind="stable")["facility"].astype(str))


@dataclass
class Facts:
    """The first screen's facts of one run (NaN or "" where there is none)."""

    first_stop_day: float  # days from start
    first_stop_facility: str
    longest_stop_days: float
    longest_stop_facility: str
    worst_lead_days: float  # the worst monthly median lead time of any destination
    worst_lead_where: str  # "to DE in 2025-06"
    stopped: int  # demand facilities that stopped
    still_short: int  # of those, not back at plan at the end
    recovered_day: float  # days from start until the last stopped facility was back at plan (if all were)


def facts(run: RunData) -> Facts:
    sh = run.tables["shortages"]
    start = run.start
    stops = sh[sh["first_stop"].map(_date) != ""]
    first = stops.assign(d=pd.to_datetime(stops["first_stop"])).sort_values(["d", "facility"]) if len(stops) else stops
    longest = sh.sort_values(["longest_stop_days", "facility"], ascending=[False, True])
    lt = run.tables["lead_times"]
    worst_days, worst_where = math.nan, ""
    if len(lt):
        med = lt.groupby([lt["destination"].astype(str), lt["delivered"].astype(str).str.slice(0, 7)])["lead_time_days"].median()
        (dest, month), worst_days = med.idxmax(), float(med.max())
        worst_where = f"to {dest} in {month}"
    recovered = stops["recovered"].map(_date)
    still = int((recovered == "").sum())
    rec_day = (max(pd.Timestamp(d) for d in recovered) - start).days if len(stops) and not still else math.nan
    has_long = len(longest) and float(longest["longest_stop_days"].iloc[0] or 0) > 0
    return Facts(
        first_stop_day=float((first["d"].iloc[0] - start).days) if len(first) else math.nan,
        first_stop_facility=str(first["facility"].iloc[0]) if len(first) else "",
        longest_stop_days=float(longest["longest_stop_days"].iloc[0]) if has_long else 0.0,
        longest_stop_facility=str(longest["facility"].iloc[0]) if has_long else "",
        worst_lead_days=worst_days, worst_lead_where=worst_where, stopped=len(stops), still_short=still,
        recovered_day=float(rec_day))


def _cell_share(frame: pd.DataFrame) -> float:
    planned = frame["units_planned"].astype(float).sum()
    return float(frame["units_lost"].astype(float).sum() / planned) if planned > 0 else math.nan


def loss_by_sector_country(run: RunData) -> pd.DataFrame:
    """Sector x country: share of planned output lost (units lost / units planned; a sector's
    facilities share a unit, so its row also has an 'all' column; countries are not summed
    across sectors, whose units differ)."""
    sh = run.tables["shortages"]
    if sh.empty:
        return pd.DataFrame()
    out = {}
    for (sector, country), g in sh.groupby([sh["sector"].astype(str), sh["country"].astype(str)]):
        out.setdefault(sector, {})[country] = _cell_share(g)
    for sector, g in sh.groupby(sh["sector"].astype(str)):
        out[sector]["all"] = _cell_share(g)
    frame = pd.DataFrame(out).T
    return frame[["all", *sorted(c for c in frame.columns if c != "all")]].sort_values("all", ascending=False, kind="stable")


# ------------------------------------------------------------------ over replications


def _runs_table(run: RunData) -> pd.DataFrame | None:
    for name, read in (("runs.parquet", pd.read_parquet), ("runs.csv", pd.read_csv)):
        f = run.path / name
        if f.is_file():
            try:
                runs = read(f)
            except (ImportError, OSError, ValueError):
                return None
            return runs[runs["error"].isna()] if "error" in runs else runs
    return None


def _interval(values: Sequence[float]) -> tuple[float, float, float, int]:
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    if not len(v):
        return math.nan, math.nan, math.nan, 0
    low, high = mean_ci95([v])[0]
    return float(v.mean()), float(low), float(high), len(v)


def _share_cells_over_runs(run: RunData, runs: pd.DataFrame) -> pd.DataFrame | None:
    """As :func:`loss_by_sector_country` but each cell 'mean [low–high]' over the runs table:
    per replication the cell is sum(share_lost.f x planned_f) / sum(planned_f) over its facilities,
    with planned units from this folder's run (plans do not depend on the seed)."""
    sh = run.tables["shortages"]
    if sh.empty or not all(f"share_lost.{f}" in runs for f in sh["facility"].astype(str)):
        return None
    shares = runs[[f"share_lost.{f}" for f in sh["facility"].astype(str)]].to_numpy(float)  # runs x facilities
    planned = sh["units_planned"].to_numpy(float)

    def cell(mask: np.ndarray) -> str:
        w = planned * mask
        if w.sum() <= 0:
            return "–"
        mean, low, high, _ = _interval(shares @ w / w.sum())
        return with_interval(mean, low, high, pct, lambda v: num(100 * v, 1))

    sectors, countries = sh["sector"].astype(str).to_numpy(), sh["country"].astype(str).to_numpy()
    base = loss_by_sector_country(run)
    out = pd.DataFrame("", index=base.index, columns=base.columns)
    for s in base.index:
        for c in base.columns:
            mask = (sectors == s) & ((countries == c) if c != "all" else True)
            out.loc[s, c] = cell(mask) if mask.any() else "–"
    return out


def with_interval(mean: float, low: float, high: float, fmt: Callable[[float], str],
                  bound: Callable[[float], str] | None = None) -> str:
    """'mean [low–high]' ('1.6% [1.5–1.7]' with ``bound`` writing the bounds without the unit);
    the mean alone where there is no interval or it reads the same as the mean."""
    if math.isnan(mean):
        return "–"
    bound = bound or fmt
    if math.isnan(low) or bound(low) == bound(high) == bound(mean):
        return fmt(mean)
    return f"{fmt(mean)} [{bound(low)}–{bound(high)}]"


# ------------------------------------------------------------------------- the section


def _day_to_date(run: RunData, day: float) -> str:
    return "–" if math.isnan(day) else (run.start + pd.Timedelta(days=round(day))).date().isoformat()


def _fact_items(run: RunData, reps: list[RunData], runs: pd.DataFrame | None) -> list[dict]:
    """label, value, detail per fact; over replications: mean [95% interval]."""
    units = {str(r.facility): str(r.unit) for r in run.tables["shortages"].itertuples()}
    if not reps:
        f = facts(run)
        rec = ("everything back at plan by " + _day_to_date(run, f.recovered_day)) if f.stopped and not f.still_short else \
              (f"{f.still_short} of {f.stopped} stopped facilities still short at the end" if f.stopped else "no stop")
        return [
            {"label": "first stop", "value": _day_to_date(run, f.first_stop_day) if f.first_stop_facility else "none",
             "detail": f.first_stop_facility},
            {"label": "longest stop", "value": f"{num(f.longest_stop_days)} days" if f.longest_stop_facility else "none",
             "detail": f.longest_stop_facility},
            {"label": "worst lead time (monthly median)", "value": f"{num(f.worst_lead_days)} days" if f.worst_lead_where else "–",
             "detail": f.worst_lead_where},
            {"label": "recovery", "value": rec.split(" by ")[-1] if " by " in rec else rec, "detail": rec if " by " in rec else ""},
        ]
    all_facts = [facts(r) for r in reps]
    kept = f"over {len(reps)} kept replications" + (f" of {len(runs)}" if runs is not None and len(runs) > len(reps) else "")
    if runs is not None and units and all(f"first_stop_day.{f}" in runs for f in units):
        first_days = runs[[f"first_stop_day.{f}" for f in units]].min(axis=1, skipna=True).to_numpy(float)
        first_note = f"over all {len(runs)} replications"
    else:
        first_days, first_note = np.array([x.first_stop_day for x in all_facts]), kept
    m, lo, hi, n = _interval(first_days)
    total = len(runs) if runs is not None and first_note.startswith("over all") else len(reps)
    items = [{"label": "first stop (mean, 95% interval)",
              "value": with_interval(m, lo, hi, lambda d: _day_to_date(run, d)) if n else "none",
              "detail": f"a stop in {n} of {total} replications"}]
    m, lo, hi, _ = _interval([x.longest_stop_days for x in all_facts])
    items.append({"label": "longest stop (mean, 95% interval)", "value": with_interval(m, lo, hi, lambda d: f"{num(d)} days", num),
                  "detail": kept})
    m, lo, hi, _ = _interval([x.worst_lead_days for x in all_facts])
    items.append({"label": "worst monthly median lead time", "value": with_interval(m, lo, hi, lambda d: f"{num(d)} days", num),
                  "detail": kept})
    stopped = [x for x in all_facts if x.stopped]
    m, lo, hi, n = _interval([x.recovered_day for x in stopped])
    short = len(stopped) - n
    value = "no stop" if not stopped else f"still short at the end in {short} of {len(stopped)}" if short else \
        "back at plan by the end in every replication"
    items.append({"label": "recovery", "value": value,
                  "detail": (f"by {with_interval(m, lo, hi, lambda d: _day_to_date(run, d))}; " if n else "")
                  + f"replications with a stop, {kept}"})
    return items


def chart_loss_heatmap(run: RunData, matrix: pd.DataFrame, countries: dict[str, str], out: Path, title: str) -> Chart | None:
    """Facility x month heatmap of the share of planned output lost, 0-100% on a fixed scale."""
    if matrix.empty or matrix.shape[1] == 0:
        return None
    lost = matrix.fillna(0.0).max(axis=1) > 0
    if not lost.any():
        return None  # nothing to show: the summary says so
    matrix = matrix[lost].iloc[:MAX_ROWS]
    fig = month_heatmap(matrix.to_numpy(float) * 100, [f"{f} ({countries.get(f, '?')})" for f in matrix.index],
                              [str(m) for m in matrix.columns], title, "% of planned output lost", run.start, run.end, run.events)
    return Chart(plots.save(fig, out / "loss_heatmap.png").name, "Where and when output was lost",
                 "Each cell: the share of the month's planned output that was not made (white: none lost, dark red: all), "
                 "under the scenario's timeline (controls shaded while in force). "
                 "Facilities with the largest share lost over the horizon on top; those that lost nothing are left out "
                 "(the table below lists every facility).")


def summary_html(run: RunData, out: Path) -> str:
    """The first screen: facts, the sector x country table and the heatmap (writes its PNG)."""
    reps = _replications(run)
    runs = _runs_table(run) if reps else None
    countries = run.countries()
    if reps:
        cells = _share_cells_over_runs(run, runs) if runs is not None else None
        n_runs = len(runs) if cells is not None else len(reps)
        if cells is None:  # no runs table: the kept replications
            cells = _share_cells_over_runs(run, _kept_as_runs(reps))
        matrix = sum(monthly_loss(r).fillna(0.0) for r in reps) / len(reps)
        matrix = matrix.reindex(monthly_loss(run).index)
        loss_note = f"Share of planned output lost: mean and 95% interval over {n_runs} replications."
        heat_title = f"Share of planned output lost by facility and month (mean of {len(reps)} replications)"
    else:
        base = loss_by_sector_country(run)
        cells = base.map(pct) if len(base) else None
        matrix = monthly_loss(run)
        loss_note = "Share of planned output lost (units lost / units planned over the horizon)."
        heat_title = "Share of planned output lost by facility and month"
    lost_table = ""
    if cells is not None and len(cells):
        units = run.tables["shortages"].groupby(run.tables["shortages"]["sector"].astype(str))["unit"].first()
        frame = cells.reset_index(names="sector")
        frame.insert(1, "unit", [str(units.get(s, "")) for s in frame["sector"]])
        frame = frame.rename(columns={"all": "all countries"})
        lost_table = table(frame, numeric=[c for c in frame.columns if c not in ("sector", "unit")])
    chart = chart_loss_heatmap(run, matrix, countries, out, heat_title)
    no_loss = "" if chart else "No demand facility made less than planned in any month: nothing to map."
    return render("summary.html.j2", facts=_fact_items(run, reps, runs), lost_table=lost_table, loss_note=loss_note,
                  chart=chart, no_loss=no_loss)


def _kept_as_runs(reps: list[RunData]) -> pd.DataFrame:
    rows = []
    for r in reps:
        sh = r.tables["shortages"]
        rows.append({f"share_lost.{f}": float(s) for f, s in zip(sh["facility"].astype(str), sh["share_lost"])})
    return pd.DataFrame(rows)
