"""Fan charts over a run's replications (median, 50% and 90% bands)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .. import plots
from ..plots import MAX_PANELS, country_colour
from .data import RunData, _cross_border, _dates, _demand_order, _mid_month, _replications
from .html import Chart, Section, num, pct, table

def _daily_matrix(runs: Sequence[RunData], table: str, facility: str, value) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """Replications x days of ``value(frame)`` for one facility (NaN where a run has no data)."""
    frames = []
    for r in runs:
        t = r.tables[table]
        g = t[t["facility"].astype(str) == facility]
        s = value(g.assign(date=_dates(g["date"]))) if len(g) else pd.Series(dtype=float)
        frames.append(s)
    index = sorted(set().union(*[set(s.index) for s in frames])) if frames else []
    index = pd.DatetimeIndex(index)
    return index, np.vstack([s.reindex(index).to_numpy(float) for s in frames]) if len(index) else np.zeros((len(runs), 0))


def _production_share(g: pd.DataFrame) -> pd.Series:
    s = g.groupby("date")[["planned_units", "produced_units"]].sum().sort_index()
    roll = s.rolling(7, min_periods=1).sum()
    with np.errstate(all="ignore"):
        return 100 * roll["produced_units"] / roll["planned_units"].where(roll["planned_units"] > 0)


def _min_cover(g: pd.DataFrame) -> pd.Series:
    return g.groupby("date")["days_of_cover"].min().sort_index()


def _monthly_matrix(runs: Sequence[RunData], fn) -> tuple[pd.DatetimeIndex, np.ndarray]:
    series = [fn(r) for r in runs]
    months = sorted(set().union(*[set(s.index) for s in series]))
    x = _mid_month(pd.Series(months, dtype=str)) if months else pd.Series(dtype="datetime64[ns]")
    return pd.DatetimeIndex(x), np.vstack([s.reindex(months).to_numpy(float) for s in series])


def _fan_legend(tf) -> None:
    import matplotlib.lines
    import matplotlib.patches

    grey = "#555555"
    plots.side_legend(tf, [matplotlib.lines.Line2D([], [], color=grey, linewidth=1.6),
                           matplotlib.patches.Patch(color=grey, alpha=0.45, linewidth=0),
                           matplotlib.patches.Patch(color=grey, alpha=0.15, linewidth=0)],
                      ["median", "middle 50% of replications", "middle 90%"], "across replications")


def section_replications(run: RunData, out: Path) -> Section:
    sec = Section("Replications")
    reps = _replications(run)
    if not reps:
        sec.notes.append("This run folder has no replication outputs (replications/<seed>/ run folders), so the fan "
                         "charts (median, 50% and 90% bands across replications) are skipped.")
        return sec
    sec.notes.append(f"{len(reps)} replications (seeds {', '.join(str(r.manifest.get('seed')) for r in reps)}). "
                     "Fan charts: median line, 50% band (dark) and 90% band (light) across replications.")
    timeline = [("", run.events)]
    countries = run.countries()
    demand = _demand_order(run)[:MAX_PANELS]
    daily_fans = [  # (table, value per facility and day, title, y label, y limits, file, chart title)
        ("production_daily", _production_share, "Production as % of plan across replications (7-day mean)",
         "% of plan", (0, 115), "fan_production.png", "Production fan chart"),
        ("inventory_daily", _min_cover, "Days of cover of the scarcest input across replications",
         "days of cover", (0, None), "fan_cover.png", "Cover fan chart"),
    ]
    for source, value, title, ylabel, ylim, filename, chart_title in daily_fans:
        if not demand or any(f"{source}.csv" in r.missing for r in reps):
            continue
        tf = plots.time_figure(len(demand), title, run.start, run.end, timeline)
        for ax, name in zip(tf.axes, demand):
            x, m = _daily_matrix(reps, source, name, value)
            plots.fan(ax, x, m, country_colour(countries.get(name, "")))
            ax.set_title(f"{name} ({countries.get(name, '?')})", fontsize=10, loc="left")
            ax.set_ylabel(ylabel)
            ax.set_ylim(*ylim)
        _fan_legend(tf)
        sec.charts.append(Chart(plots.save(tf.fig, out / filename).name, chart_title))
    dests = list(run.tables["lead_times"].groupby("destination")["tonnes"].sum().sort_values(ascending=False).index.astype(str))[:MAX_PANELS]
    if dests:
        tf = plots.time_figure(len(dests), "Median lead time by month of delivery across replications (days)", run.start, run.end, timeline)
        for ax, dest in zip(tf.axes, dests):
            def med(r, dest=dest):
                lt = r.tables["lead_times"]
                lt = lt[lt["destination"].astype(str) == dest]
                return lt.groupby(lt["delivered"].astype(str).str.slice(0, 7))["lead_time_days"].median()
            x, m = _monthly_matrix(reps, med)
            plots.fan(ax, x, m, country_colour(dest))
            ax.set_title(f"to {dest}", fontsize=10, loc="left")
            ax.set_ylabel("days")
            ax.set_ylim(bottom=0)
        _fan_legend(tf)
        sec.charts.append(Chart(plots.save(tf.fig, out / "fan_lead_times.png").name, "Lead-time fan chart"))
    cross = _cross_border(run.tables["flows_monthly"])
    pairs = list(cross.groupby([cross["material"].astype(str), cross["exporter"].astype(str)])["tonnes"].sum()
                 .sort_values(ascending=False, kind="stable").index)[:MAX_PANELS]
    if pairs:  # one material a panel: tonnes of magnets and of concentrate are never added up
        tf = plots.time_figure(len(pairs), "Monthly cross-border exports by material across replications (tonnes)", run.start,
                               run.end, timeline)
        for ax, (material, exporter) in zip(tf.axes, pairs):
            def tonnes(r, material=material, exporter=exporter):
                fl = _cross_border(r.tables["flows_monthly"])
                fl = fl[(fl["exporter"].astype(str) == exporter) & (fl["material"].astype(str) == material)]
                months = sorted(r.tables["flows_monthly"]["month"].astype(str).unique())
                return fl.groupby(fl["month"].astype(str))["tonnes"].sum().reindex(months, fill_value=0.0)  # no exports: 0 t
            x, m = _monthly_matrix(reps, tonnes)
            plots.fan(ax, x, np.nan_to_num(m), country_colour(exporter))
            ax.set_title(f"{material} from {exporter}", fontsize=10, loc="left")
            ax.set_ylabel("t/month")
            ax.set_ylim(bottom=0)
        _fan_legend(tf)
        sec.charts.append(Chart(plots.save(tf.fig, out / "fan_flows.png").name, "Exports fan chart"))
    rows = []
    for name in _demand_order(run):
        vals = []
        for r in reps:
            sh = r.tables["shortages"]
            hit = sh[sh["facility"].astype(str) == name]
            vals.append((float(hit["share_lost"].iloc[0]), float(hit["stopped_days"].iloc[0])) if len(hit) else (math.nan, math.nan))
        a = np.array(vals, dtype=float)
        q = np.nanpercentile(a, [5, 50, 95], axis=0)
        rows.append([name, pct(q[1, 0]), f"{pct(q[0, 0])} – {pct(q[2, 0])}", num(q[1, 1]), f"{num(q[0, 1])} – {num(q[2, 1])}"])
    columns = ["facility", "share lost (median)", "share lost (90% range)", "days stopped (median)", "days stopped (90% range)"]
    sec.html = table(pd.DataFrame(rows, columns=columns), numeric=columns[1:])
    return sec
