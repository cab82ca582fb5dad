"""The run report's chart of sectors modelled as firms: the share of firms stopped each day."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .. import plots
from ..plots import country_colour
from .data import RunData, _chunks, _dates, _suffix
from .html import Chart, Section

STOP_TOLERANCE = 1e-9  # as metrics.shortages: a day short by more than this share of plan is stopped


def firms_stopped(daily: pd.DataFrame) -> pd.DataFrame:
    """Per facility and day: ``firms`` (how many), ``stopped`` (how many made less than their
    plan), ``share_stopped``, ``share_output`` (made / planned over all firms)."""
    short = (daily["produced_units"] < daily["planned_units"] * (1 - STOP_TOLERANCE)) & (daily["planned_units"] > 0)
    g = daily.assign(short=short).groupby(["facility", "date"], sort=True)
    out = g.agg(firms=("firm", "size"), stopped=("short", "sum"), planned=("planned_units", "sum"),
                produced=("produced_units", "sum")).reset_index()
    out["share_stopped"] = out["stopped"] / out["firms"]
    out["share_output"] = np.where(out["planned"] > 0, out["produced"] / out["planned"].where(out["planned"] > 0, 1.0), 1.0)
    return out


def chart_firms(run: RunData, out: Path) -> Section:
    sec = Section("Firms stopped")
    daily = run.tables["production_firms_daily"]
    if "production_firms_daily.csv" in run.missing or daily.empty:
        sec.notes.append("No sector in this run is modelled as firms (production_firms_daily.csv missing or empty).")
        return sec
    per_day = firms_stopped(daily)
    per_day["date"] = _dates(per_day["date"])
    worst = per_day.groupby("facility")["share_stopped"].mean().sort_values(ascending=False)
    names = [n for n in worst.index if worst[n] > 0] or list(worst.index)
    countries = run.countries()
    if len(names) < len(worst):
        sec.notes.append(f"Showing the {len(names)} of {len(worst)} sectors with firms in which a firm ever stopped, "
                         "most firm-days stopped first (shortages_firms.csv has every firm).")
    for k, chunk in enumerate(_chunks(names)):
        tf = plots.time_figure(len(chunk), "Sectors as firms: share of firms below plan each day (filled) and the sector's output as a share of plan (line)",
                               run.start, run.end, [("", run.events)])
        for ax, name in zip(tf.axes, chunk):
            g = per_day[per_day["facility"] == name].sort_values("date")
            colour = country_colour(countries.get(name, ""))
            ax.set_title(f"{name} ({countries.get(name, '?')}), {int(g['firms'].max())} firms", fontsize=10, loc="left",
                         color=colour, fontweight="bold")
            x = g["date"].to_numpy()
            ax.fill_between(x, 0, 100 * g["share_stopped"].to_numpy(), step="post", color="#d62728", alpha=0.35,
                            linewidth=0, label="firms below plan (%)")
            ax.plot(x, 100 * g["share_output"].to_numpy(), color=colour, linewidth=1.3, label="output (% of plan)")
            ax.set_ylim(0, 130)
            ax.set_ylabel("%")
        sec.charts.append(Chart(plots.save(tf.fig, out / f"firms{_suffix(k)}.png").name, "Firms stopped",
                                "Each panel is one national sector modelled as firms with different stock cover: the "
                                "filled area is the share of its firms making less than their plan that day, the line "
                                "the sector's output as a share of plan (above 100% while firms catch up)."))
    return sec
