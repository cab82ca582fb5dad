"""The run report's trade charts: monthly exports per material, lead times and their split,
licensing (applications, decisions, backlog); and the small panel helpers every chart uses."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.lines
import matplotlib.patches
import numpy as np
import pandas as pd

from .. import plots
from ..plots import MAX_PANELS, country_colour
from .data import RunData, _compact, _cross_border, _dates, _mid_month
from .html import Chart, Section, num, table


def _panel_note(ax, text: str) -> None:
    ax.text(0.01, 0.97, text, transform=ax.transAxes, va="top", ha="left", fontsize=8.5,
            bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "#cccccc", "boxstyle": "round,pad=0.25"})


def _empty_panel(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=9, color="#666666")


def _baseline_months(run: RunData, months: list[str]) -> list[str]:
    """The scenario's first months, before the first control is imposed (1 to 3 months)."""
    first = next((e.date for e in run.events if e.action == "impose"), None)
    base = [m for m in months[:3] if first is None or pd.Timestamp(m + "-01") + pd.offsets.MonthEnd(0) < first]
    return base or months[:1]


def chart_flows(run: RunData, out: Path) -> Section:
    sec = Section("Monthly exports by material, exporter and destination")
    fl = run.tables["flows_monthly"]
    cross = _cross_border(fl)
    if fl.empty:
        sec.notes.append("No shipments left any exporter in the horizon; chart skipped.")
        return sec
    if cross.empty:
        sec.notes.append("No cross-border flows; showing domestic deliveries.")
        cross = fl
    months = sorted(fl["month"].astype(str).unique())
    base = _baseline_months(run, months)
    sec.notes.append(f"Baseline: mean monthly tonnes over {base[0]}" + (f" to {base[-1]}" if len(base) > 1 else "")
                     + " (the scenario's first months, before any control was imposed)." if len(base) else "")
    totals = cross.groupby([cross["exporter"].astype(str), cross["material"].astype(str)])["tonnes"].sum()
    pairs = list(totals.sort_values(ascending=False, kind="stable").index)
    if len(pairs) > MAX_PANELS:
        sec.notes.append(f"Showing the {MAX_PANELS} largest of {len(pairs)} flows by exporter and material "
                         "(flows_monthly.csv has all).")
    pairs = sorted(pairs[:MAX_PANELS], key=lambda p: (p[1], -totals[p]))  # a material's panels side by side
    tf = plots.time_figure(len(pairs), "Monthly exports by exporting country and material, stacked by destination (tonnes)",
                           run.start, run.end, [("", run.events)])
    x = _mid_month(pd.Series(months))
    legend: dict = {}
    for ax, (exporter, material) in zip(tf.axes, pairs):
        g = cross[(cross["exporter"].astype(str) == exporter) & (cross["material"].astype(str) == material)]
        monthly = g.pivot_table(index="month", columns="destination", values="tonnes", aggfunc="sum").reindex(months).fillna(0.0)
        monthly = monthly[monthly.sum().sort_values(ascending=False).index]
        bottom = np.zeros(len(months))
        for dest in monthly.columns:
            bars = ax.bar(x, monthly[dest].to_numpy(), width=24, bottom=bottom, color=country_colour(dest),
                          edgecolor="white", linewidth=0.4)
            legend.setdefault(f"to {dest}", bars)
            bottom += monthly[dest].to_numpy()
        baseline = float(monthly.loc[base].sum(axis=1).mean()) if base else math.nan
        ax.set_title(f"{material} from {exporter}", fontsize=10, loc="left", color=country_colour(exporter), fontweight="bold")
        top = max(float(bottom.max()) if len(bottom) else 0, baseline if not math.isnan(baseline) else 0, 1e-9)
        if not math.isnan(baseline):
            legend.setdefault("baseline", ax.axhline(baseline, color="#111111", linestyle="--", linewidth=1.1))
            if baseline > 0 and len(bottom):  # inside the panel, above the bars: never over the title
                recent = float(np.mean(bottom[-3:]))  # three months: shipments come in weekly lumps
                _panel_note(ax, f"baseline {_compact(baseline)} t/mo; last 3 months {100 * recent / baseline:.0f}%")
        ax.set_ylabel("t/month")
        ax.set_ylim(0, top * 1.4)
    items = sorted(legend.items(), key=lambda kv: (kv[0] == "baseline", kv[0]))
    plots.side_legend(tf, [h for _, h in items], [k for k, _ in items], "destination")
    sec.charts.append(Chart(plots.save(tf.fig, out / "flows.png").name, "Monthly exports",
                            "Tonnes of each material leaving each exporting country per month (by the month they cleared "
                            "export controls), by destination; the dashed line is the baseline. Materials are never added up."))
    return sec


def _monthly_lead(lt: pd.DataFrame) -> pd.DataFrame:
    lt = lt.assign(month=lt["delivered"].astype(str).str.slice(0, 7))
    g = lt.groupby(["destination", "month"])
    stats = g["lead_time_days"].quantile([0.1, 0.5, 0.9]).unstack()
    stats.columns = ["p10", "p50", "p90"]
    means = g[["wait_stock_days", "wait_licence_days", "transit_days"]].mean()
    return stats.join(means).join(g.size().rename("shipments")).reset_index()


def chart_lead_times(run: RunData, out: Path) -> Section:
    sec = Section("Lead times by destination")
    lt = run.tables["lead_times"]
    if lt.empty:
        sec.notes.append("No deliveries in the horizon; lead-time charts skipped.")
        return sec
    monthly = _monthly_lead(lt)
    order = list(lt.groupby("destination")["tonnes"].sum().sort_values(ascending=False).index.astype(str))
    if len(order) > MAX_PANELS:
        sec.notes.append(f"Showing the {MAX_PANELS} destinations receiving the most tonnes of {len(order)}.")
    order = order[:MAX_PANELS]
    tf = plots.time_figure(len(order), "Lead time by destination and month of delivery (days from order to delivery)",
                           run.start, run.end, [("", run.events)])
    tf2 = plots.time_figure(len(order), "Where the lead time goes: mean days waiting for stock, for a licence, and in transit",
                            run.start, run.end, [("", run.events)])
    parts = [("wait_stock_days", "waiting for stock", "#8c8c8c"), ("wait_licence_days", "waiting for licence/quota", "#d62728"),
             ("transit_days", "in transit", "#1f77b4")]
    for ax, ax2, dest in zip(tf.axes, tf2.axes, order):
        g = monthly[monthly["destination"].astype(str) == dest].sort_values("month")
        x = _mid_month(g["month"])
        colour = country_colour(dest)
        ax.fill_between(x, g["p10"], g["p90"], color=colour, alpha=0.22, linewidth=0, label="p10–p90")
        ax.plot(x, g["p50"], color=colour, marker="o", markersize=3.5, linewidth=1.6, label="median")
        ax.set_title(f"to {dest}", fontsize=10, loc="left", color=colour, fontweight="bold")
        ax.set_ylabel("days")
        ax.set_ylim(bottom=0, top=max(float(g["p90"].max()), 1.0) * 1.15)
        bottom = np.zeros(len(g))
        for col, label, c in parts:
            y = g[col].fillna(0).to_numpy(float)
            ax2.bar(x, y, width=24, bottom=bottom, color=c, label=label, edgecolor="white", linewidth=0.4)
            bottom += y
        ax2.set_title(f"to {dest}", fontsize=10, loc="left", color=colour, fontweight="bold")
        ax2.set_ylabel("mean days")
        ax2.set_ylim(0, max(float(bottom.max()) if len(bottom) else 0, 1.0) * 1.3)
    plots.side_legend(tf, [matplotlib.patches.Patch(color="#888888", alpha=0.3, linewidth=0),
                           matplotlib.lines.Line2D([], [], color="#555555", marker="o", markersize=3.5, linewidth=1.6)],
                      ["p10–p90 of shipments", "median"], "in each destination's colour")
    plots.side_legend(tf2, *tf2.axes[0].get_legend_handles_labels(), "mean days")
    sec.charts.append(Chart(plots.save(tf.fig, out / "lead_times.png").name, "Lead times",
                            "Median lead time of shipments delivered each month (line) and the 10th–90th percentile band."))
    sec.charts.append(Chart(plots.save(tf2.fig, out / "lead_time_split.png").name, "Lead time split",
                            "Mean lead time of shipments delivered each month, split into its parts."))
    stats = lt.groupby("destination").agg(shipments=("lead_time_days", "size"), tonnes=("tonnes", "sum"),
                                          p50=("lead_time_days", "median"),
                                          p90=("lead_time_days", lambda v: float(np.percentile(v, 90))),
                                          stock=("wait_stock_days", "mean"), licence=("wait_licence_days", "mean"),
                                          transit=("transit_days", "mean")).reset_index()
    stats = stats.sort_values(["p50", "destination"], ascending=[False, True])
    columns = {"shipments": "shipments", "tonnes": "tonnes", "p50": "median days", "p90": "p90 days",
               "stock": "waiting for stock", "licence": "waiting for licence", "transit": "in transit"}
    sec.html = table(stats.rename(columns=columns), numeric=list(columns.values()),
                     formats={"shipments": num, **{v: (lambda x: num(x, 1)) for k, v in columns.items() if k != "shipments"}})
    return sec


def _backlog(lic: pd.DataFrame, days: pd.DatetimeIndex, by: str | None = None) -> pd.DataFrame:
    """Applications pending at the end of each day (optionally by a column)."""
    applied = _dates(lic["applied"])
    decided = _dates(lic["decided"])
    keys = lic[by].astype(str) if by else pd.Series("all", index=lic.index)
    out = {}
    for key in sorted(keys.unique()):
        m = (keys == key).to_numpy()
        a = np.searchsorted(np.sort(applied[m].dropna().to_numpy()), days.to_numpy(), side="right")
        d = np.searchsorted(np.sort(decided[m].dropna().to_numpy()), days.to_numpy(), side="right")
        out[key] = a - d
    return pd.DataFrame(out, index=days)


def chart_licensing(run: RunData, out: Path) -> Section:
    sec = Section("Licensing")
    lic = run.tables["licences"]
    if lic.empty:
        sec.notes.append("No licence applications in this run (no licensing control was in force); chart skipped.")
        return sec
    days = pd.date_range(run.start, run.end, freq="D")
    tf = plots.time_figure(2, "Export licensing: applications and decisions per week; backlog of pending applications",
                           run.start, run.end, [("", run.events)], ncols=1, panel_height=2.6)
    ax, ax2 = tf.axes
    weeks = pd.date_range(run.start, run.end + pd.Timedelta(days=7), freq="7D")
    series = [("applied", _dates(lic["applied"]), "#333333"),
              ("approved", _dates(lic.loc[lic["decision"] == "approved", "decided"]), "#2ca02c"),
              ("released", _dates(lic.loc[lic["decision"] == "released", "decided"]), "#17becf"),
              ("denied", _dates(lic.loc[lic["decision"] == "denied", "decided"]), "#d62728")]
    shown = [(label, dates.dropna(), colour) for label, dates, colour in series
             if label != "released" or dates.notna().any()]
    width = 6.0 / len(shown)
    for i, (label, dates, colour) in enumerate(shown):
        counts, _ = np.histogram(dates.to_numpy(dtype="datetime64[ns]").astype("int64"),
                                 bins=weeks.to_numpy(dtype="datetime64[ns]").astype("int64"))
        x = weeks[:-1] + pd.Timedelta(days=0.5 + width * (i + 0.5))
        ax.bar(x, counts, width=width, color=colour, label=f"{label} ({int(counts.sum())})", align="center")
    ax.set_ylabel("applications/week")
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False, borderaxespad=0)  # beside, not over, the bars
    ax.set_title("applications and decisions per week", fontsize=10, loc="left")
    back = _backlog(lic, days, "destination")
    cols = list(back.max().sort_values(ascending=False).index)
    ax2.stackplot(back.index, *[back[c].to_numpy() for c in cols], colors=[country_colour(c) for c in cols],
                  labels=[f"to {c}" for c in cols], alpha=0.85)
    ax2.set_ylabel("pending applications")
    ax2.set_title("backlog by destination", fontsize=10, loc="left")
    ax2.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False, borderaxespad=0)
    sec.charts.append(Chart(plots.save(tf.fig, out / "licensing.png").name, "Licensing",
                            "Applications filed and decided per week (released: approved in a backlog release or "
                            "when a control was lifted), and applications waiting for a decision."))
    g = lic.groupby(["control", "destination"])
    stats = pd.DataFrame({
        "applied": g.size(),
        "approved": g["decision"].apply(lambda d: int((d == "approved").sum())),
        "released": g["decision"].apply(lambda d: int((d == "released").sum())),
        "denied": g["decision"].apply(lambda d: int((d == "denied").sum())),
        "pending": g["decision"].apply(lambda d: int((d == "pending at end").sum())),
        "wait": g["wait_days"].median(),
    }).reset_index()
    stats = stats.sort_values(["control", "applied"], ascending=[True, False]).rename(
        columns={"pending": "pending at end", "wait": "median wait (days)"})
    counts = ["applied", "approved", "released", "denied", "pending at end"]
    sec.html = table(stats, numeric=[*counts, "median wait (days)"], formats={"median wait (days)": lambda x: num(x, 1)})
    return sec
