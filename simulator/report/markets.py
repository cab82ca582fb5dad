"""The run report's market charts (issue 12): price index by material and market, and the
responses the prices drove (bills of materials, units per year, capacity, hoarded cover)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .. import plots
from .data import RunData, _mid_month
from .html import Chart, Section

_MARKET_STYLE = {"world": ("#1f77b4", "-"), "domestic": ("#d62728", "--")}
# kind -> (panel title, y label, how the panel sums its facilities up)
_KINDS = {
    "bom_intensity": ("Bill of materials (% of base)", "% of base", "mean"),
    "units_per_year": ("Planned units (% of the first month)", "% of first month", "share"),
    "capacity_added_t_per_year": ("Capacity added by new supply", "t/yr", "sum"),
    "hoarded_extra_days": ("Hoarded cover", "extra days of use", "mean"),
    "stockpile_release_on": ("Stockpiles releasing on price", "% of days", "mean"),
}


def chart_markets(run: RunData, out: Path) -> Section | None:
    """The section of a run with a market layer; None without one (no `markets:` in its
    scenario: prices_monthly.csv empty or absent), so such reports have no markets section."""
    prices = run.tables["prices_monthly"]
    if prices.empty:
        return None
    sec = Section("Prices and market responses")
    materials = list(dict.fromkeys(prices["material"].astype(str)))
    tf = plots.time_figure(len(materials), "Price index by material (price / reference, monthly mean): world (solid), exporter's own (dashed)",
                           run.start, run.end, [("", run.events)])
    legend: dict = {}
    for ax, material in zip(tf.axes, materials):
        g = prices[prices["material"].astype(str) == material]
        top = 1.0
        for market, rows in g.groupby("market", sort=True):
            rows = rows.sort_values("month")
            colour, style = _MARKET_STYLE.get(str(market), ("#555555", ":"))
            y = rows["index"].to_numpy(float)
            legend.setdefault(str(market), ax.plot(_mid_month(rows["month"]), y, color=colour, linestyle=style,
                                                   linewidth=1.6, marker="o", markersize=3)[0])
            top = max(top, float(np.nanmax(y)) if len(y) else 1.0)
        legend.setdefault("reference", ax.axhline(1.0, color="#888888", linewidth=0.9, linestyle=":"))
        reference = g["reference_per_kg"].astype(float)
        ref = f"${reference.iloc[0]:,.4g}/kg" if reference.nunique() == 1 else "by market"
        ax.set_title(f"{material} (reference {ref})", fontsize=10, loc="left", fontweight="bold")
        ax.set_ylabel("index")
        ax.set_ylim(0, top * 1.15)
    plots.side_legend(tf, list(legend.values()), list(legend), "market")
    sec.charts.append(Chart(plots.save(tf.fig, out / "prices.png").name, "Price index",
                            "Each material's price as a multiple of its reference price, monthly mean of the daily index "
                            "(from the buyers' days of cover against normal, plus a premium for goods held at the "
                            "exporter's controls, smoothed); prices_monthly.csv has the prices in $/kg."))
    responses = run.tables["market_responses"]
    if "market_responses.csv" in run.missing or responses.empty:
        sec.notes.append("No responses to prices in this scenario (market_responses.csv missing or empty).")
        return sec
    kinds = [k for k in _KINDS if k in set(responses["kind"].astype(str))]
    tf = plots.time_figure(len(kinds), "Responses to prices (monthly mean): one line per material, over the facilities responding",
                           run.start, run.end, [("", run.events)])
    for ax, kind in zip(tf.axes, kinds):
        title, unit, how = _KINDS[kind]
        g = responses[responses["kind"].astype(str) == kind]
        for material, rows in g.groupby("material", sort=True):
            if how == "share":  # units: the facilities' total against their first month's
                per_month = rows.groupby("month")["value"].sum().sort_index()
                values = per_month / per_month.iloc[0] if len(per_month) and per_month.iloc[0] > 0 else per_month
            else:
                per_month = rows.groupby("month")["value"].agg(how).sort_index()
                values = per_month
            n = rows["facility"].nunique()
            scale = 100.0 if unit.startswith("%") else 1.0  # shares in %
            ax.plot(_mid_month(pd.Series(values.index)), scale * values.to_numpy(float), linewidth=1.6, marker="o",
                    markersize=3, label=f"{material} ({n} {'facility' if n == 1 else 'facilities'})")
        ax.set_title(title, fontsize=10, loc="left", fontweight="bold")
        ax.set_ylabel(unit)
        low, high = ax.get_ylim()
        if unit.startswith("%"):  # a change of a fraction of a percent is not drawn as a cliff
            ax.set_ylim(min(low, 90.0), max(high, 101.0))
        else:
            ax.set_ylim(0, max(high, 1.0))
        ax.legend(fontsize=8, loc="best", frameon=False)
    sec.charts.append(Chart(plots.save(tf.fig, out / "market_responses.png").name, "Responses to prices",
                            "Bills of materials (thrifting and substitution) and planned units (demand destruction) as a "
                            "share of their base, capacity brought online by new supply, and days of cover added by "
                            "hoarding buyers; market_responses.csv has every facility."))
    return sec
