"""The run report: its headline, its charts and build_run_report."""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Sequence
from pathlib import Path

import matplotlib.lines
import matplotlib.patches
import numpy as np
import pandas as pd

from .. import interrupts, plots
from ..plots import MAX_PANELS, country_colour
from .data import (MAX_FIGURES, REPORT_NAME, RunData, _chunks, _compact, _cross_border, _date, _dates, _demand_order,
                   _fmt_num, _mid_month, _suffix, load_run)
from .html import Chart, Section, _write, num, page, pct, render, table
from .summary import summary_html
from .firms import chart_firms  # noqa: F401 - looked up by name in _draw_in_worker
from .markets import chart_markets  # noqa: F401 - looked up by name in _draw_in_worker
from .replications import section_replications  # also looked up by name in _draw_in_worker

def _worst_lead_times(run: RunData) -> dict[str, tuple[float, str]]:
    """Per buyer: the worst monthly median lead time (days) and its month."""
    lt = run.tables["lead_times"]
    out = {}
    if lt.empty:
        return out
    lt = lt.assign(month=lt["delivered"].astype(str).str.slice(0, 7))
    med = lt.groupby(["buyer", "month"])["lead_time_days"].median().reset_index()
    for buyer, g in med.groupby("buyer"):
        i = g["lead_time_days"].idxmax()
        out[str(buyer)] = (float(g.loc[i, "lead_time_days"]), str(g.loc[i, "month"]))
    return out


def headline_rows(run: RunData) -> list[dict]:
    """One dict per demand facility: the facts and a sentence in plain words."""
    sh = run.tables["shortages"]
    worst = _worst_lead_times(run)
    rows = []
    for r in sh.sort_values(["share_lost", "facility"], ascending=[False, True]).to_dict("records"):
        name = str(r["facility"])
        first, recovered = _date(r["first_stop"]), _date(r["recovered"])
        share = float(r["share_lost"] or 0.0)
        stopped = float(r["stopped_days"] or 0.0)
        unit = _date(r.get("unit")) or "units"
        lead = worst.get(name)
        if first:
            words = f"{name}: first stop {first}, {stopped:.0f} days stopped (longest {float(r['longest_stop_days']):.0f}), " \
                    f"{100 * share:.1f}% of planned output lost ({_fmt_num(float(r['units_lost']))} {unit})"
            words += f", back at plan from {recovered}" if recovered else ", still short at the end"
        else:
            words = f"{name}: no stoppage, full planned output"
        if lead:
            words += f"; worst monthly median lead time {lead[0]:.0f} days ({lead[1]})"
        rows.append({
            "facility": name, "country": _date(r["country"]), "sector": _date(r["sector"]), "unit": unit,
            "first_stop": first, "stopped_days": stopped, "longest_stop_days": float(r["longest_stop_days"] or 0.0),
            "units_lost": float(r["units_lost"] or 0.0), "share_lost": share, "recovered": recovered,
            "worst_lead_days": lead[0] if lead else math.nan, "worst_lead_month": lead[1] if lead else "",
            "sentence": words + ".",
        })
    return rows


def _panel_note(ax, text: str) -> None:
    ax.text(0.01, 0.97, text, transform=ax.transAxes, va="top", ha="left", fontsize=8.5,
            bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "#cccccc", "boxstyle": "round,pad=0.25"})


def _empty_panel(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=9, color="#666666")


def chart_timeline(run: RunData, out: Path) -> Section:
    sec = Section("Timeline of events")
    events = run.events
    if not events:
        sec.notes.append("The scenario's timeline has no events: no controls were imposed, eased or lifted.")
        return sec
    sec.html = table(pd.DataFrame({
        "date": [e.date.date().isoformat() for e in events],
        "what": [plots.ACTION_STYLE.get(e.action, ("", "", e.action))[2] for e in events],
        "control or facility": [e.target for e in events],
        "detail": [_short(e.detail) for e in events]}), wrap=["detail"])
    return sec


def _short(text: str, limit: int = 240) -> str:
    """A long detail (every pre-buying firm by name) cut to a readable length; events.csv has it all."""
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + f" … ({len(text) - limit:,} more characters in events.csv)"


def chart_production(run: RunData, out: Path) -> Section:
    sec = Section("Production against plan")
    pdaily = run.tables["production_daily"]
    order = _demand_order(run)
    if "production_daily.csv" in run.missing or pdaily.empty or not order:
        sec.notes.append("No daily production in this run folder (production_daily.csv missing or empty); chart skipped.")
        return sec
    pdaily = pdaily.assign(date=_dates(pdaily["date"]))
    groups = dict(tuple(pdaily.groupby("facility")))
    sh = run.tables["shortages"].set_index("facility")
    countries = run.countries()
    order = _with_room(order, _stopped(run))
    chunks = _chunks(order)
    total = len(run.tables["shortages"])
    if len(order) > MAX_PANELS * MAX_FIGURES or len(order) < total:
        sec.notes.append(f"Showing {min(len(order), MAX_PANELS * MAX_FIGURES)} of {total} demand facilities: those that "
                         "lost output, largest share of plan lost first, then others while a figure has room (shortages.csv has all).")
    for k, names in enumerate(chunks):
        tf = plots.time_figure(len(names), "Production by demand facility: made per day against plan",
                               run.start, run.end, [("", run.events)])
        for ax, name in zip(tf.axes, names):
            g = groups.get(name)
            colour = country_colour(countries.get(name, ""))
            ax.set_title(f"{name} ({countries.get(name, '?')})", fontsize=10, loc="left", color=colour, fontweight="bold")
            ax.set_ylabel(f"{sh.loc[name, 'unit'] if name in sh.index and isinstance(sh.loc[name, 'unit'], str) else 'units'}/day")
            if g is None or g.empty:
                _empty_panel(ax, "no production recorded")
                continue
            g = g.sort_values("date")
            x = g["date"].to_numpy()
            planned, produced = g["planned_units"].to_numpy(float), g["produced_units"].to_numpy(float)
            short = (produced < planned * (1 - 1e-9)) & (planned > 0)
            ax.fill_between(x, 0, 1, where=short, step="post", transform=ax.get_xaxis_transform(), color=plots.BELOW_PLAN,
                            alpha=0.2, linewidth=0, label="day below plan")
            smooth = pd.Series(produced).rolling(7, min_periods=1).mean().to_numpy()
            ax.step(x, planned, where="post", color="#555555", linestyle="--", linewidth=1.1, label="plan")
            ax.plot(x, smooth, color=colour, linewidth=1.5, label="produced (7-day mean)")
            ax.set_ylim(bottom=0, top=max(float(np.nanmax(planned)), float(np.nanmax(smooth)), 1.0) * 1.45)
            if name in sh.index:
                r = sh.loc[name]
                unit = r["unit"] if isinstance(r["unit"], str) else "units"
                if float(r["units_lost"]) > 0:
                    _panel_note(ax, f"lost {_compact(float(r['units_lost']))} {unit} ({100 * float(r['share_lost']):.1f}%)\n"
                                    f"{float(r['stopped_days']):.0f} days below plan")
                else:
                    _panel_note(ax, "no units lost")
        handles, labels = tf.axes[0].get_legend_handles_labels() if tf.axes else ([], [])
        plots.side_legend(tf, handles, labels)
        sec.charts.append(Chart(plots.save(tf.fig, out / f"production{_suffix(k)}.png").name,
                                "Production against plan",
                                "Units made per day (solid, mean of the last 7 days) against plan (dashed); shaded days made less than plan. "
                                "The corner note gives the units lost over the horizon."))
    return sec


def _stopped(run: RunData) -> set[str]:
    sh = run.tables["shortages"]
    return set(sh.loc[sh["units_lost"].fillna(0) > 0, "facility"].astype(str))


def _with_room(order: list, important: set) -> list:
    """The important items (in order), then the others while the last figure has room."""
    first = [x for x in order if (x[0] if isinstance(x, tuple) else x) in important]
    rest = [x for x in order if (x[0] if isinstance(x, tuple) else x) not in important]
    room = (-len(first)) % MAX_PANELS if first else MAX_PANELS
    return first + rest[:room]


def _cover_selection(run: RunData) -> list[tuple[str, list[str]]]:
    """(facility, input materials) for the facilities that matter: demand facilities, then plants
    that were starved, then other plants while a figure has room."""
    inv = run.tables["inventory_daily"]
    have = inv.groupby("facility")["material"].unique().to_dict() if len(inv) else {}
    plants = run.tables["plants"]
    outputs = dict(zip(plants["facility"].astype(str), plants["output"].astype(str)))
    stopped = _stopped(run)
    demand = [(n, sorted(map(str, have[n]))) for n in _demand_order(run) if n in have]
    starved_plants, other_plants = [], []
    for r in plants.sort_values(["starved_days", "facility"], ascending=[False, True]).itertuples(index=False):
        name = str(r.facility)
        mats = sorted(str(m) for m in have.get(name, []) if str(m) != outputs.get(name))
        if mats:
            (starved_plants if float(r.starved_days or 0) > 0 else other_plants).append((name, mats))
    first = [d for d in demand if d[0] in stopped] + starved_plants
    rest = [d for d in demand if d[0] not in stopped] + other_plants
    return _with_room(first + rest, {x[0] for x in first})


def _material_colours(materials: Sequence[str]) -> dict[str, str]:
    palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f", "#d62728"]
    return {m: palette[i % len(palette)] for i, m in enumerate(sorted(set(materials)))}


def chart_cover(run: RunData, out: Path) -> Section:
    sec = Section("Days of cover")
    inv = run.tables["inventory_daily"]
    chosen = _cover_selection(run)
    if inv.empty or not chosen:
        sec.notes.append("No inventory snapshots for demand facilities or plants; chart skipped.")
        return sec
    n_fac = inv["facility"].nunique()
    if n_fac > len(chosen):
        sec.notes.append(f"Showing {min(len(chosen), MAX_PANELS * MAX_FIGURES)} of {n_fac} facilities: demand facilities that "
                         "lost output and plants that ran short of inputs first, then others while a figure has room "
                         "(inventory_daily.csv has all).")
    inv = inv.assign(date=_dates(inv["date"]))
    groups = dict(tuple(inv.groupby(["facility", "material"])))
    colours = _material_colours([m for _, mats in chosen for m in mats])
    countries = run.countries()
    for k, items in enumerate(_chunks(chosen)):
        tf = plots.time_figure(len(items), "Days of cover by facility and input (on hand / planned daily use)",
                               run.start, run.end, [("", run.events)])
        for ax, (name, mats) in zip(tf.axes, items):
            ax.set_title(f"{name} ({countries.get(name, '?')})", fontsize=10, loc="left",
                         color=country_colour(countries.get(name, "")), fontweight="bold")
            ax.set_ylabel("days of cover")
            top = 0.0
            for m in mats:
                g = groups.get((name, m))
                if g is None:
                    continue
                y = g["days_of_cover"].to_numpy(float)
                if np.all(np.isnan(y)):
                    continue
                ax.plot(g["date"], y, color=colours[m], linewidth=1.4, label=m)
                top = max(top, float(np.nanpercentile(y, 98)))
            ax.axhline(0, color="#333333", linewidth=0.8)
            ax.set_ylim(bottom=-0.02 * max(top, 1.0), top=max(top, 1.0) * 1.2)
            if not ax.get_legend_handles_labels()[0]:
                _empty_panel(ax, "no cover recorded")
        shown = sorted({m for _, mats in items for m in mats})
        plots.side_legend(tf, [matplotlib.lines.Line2D([], [], color=colours[m], linewidth=1.4) for m in shown], shown, "input")
        sec.charts.append(Chart(plots.save(tf.fig, out / f"cover{_suffix(k)}.png").name, "Days of cover",
                                "Stock on hand of each input divided by its planned daily use; at zero the line runs dry."))
    return sec


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


_TEMP_FOLDER = re.compile(r"^\.(?P<name>.+)\.[A-Za-z0-9_]{8}$")  # a run folder being written (safe_write.make_temp_dir)


def shown_folder(path: Path) -> Path:
    """The folder a reader finds the run in: a report built while the run is still in its hidden
    temporary folder names the folder it is renamed to (``.name.abc12345`` -> ``name``)."""
    from ..safe_write import MARKER

    m = _TEMP_FOLDER.match(path.name)
    return path.with_name(m["name"]) if m and (path / MARKER).is_file() else path


def _run_meta(run: RunData) -> list[tuple[str, str]]:
    m = run.manifest
    return [("scenario", str(m.get("scenario", "?"))), ("seed", str(m.get("seed", "?"))),
            ("from", f"{m.get('start', '?')} to {m.get('end', '?')}"), ("resim", str(m.get("package_version", "?"))),
            ("scenario sha256", str(m.get("scenario_sha256", ""))[:12]), ("folder", str(shown_folder(run.path)))]


def _headline_html(rows: list[dict]) -> str:
    if not rows:
        return render("headline.html.j2", rows=[], table="")
    frame = pd.DataFrame({
        "facility": [r["facility"] for r in rows], "country": [r["country"] for r in rows],
        "sector": [r["sector"] for r in rows], "share of plan lost": [pct(r["share_lost"]) for r in rows],
        "units lost": [f"{num(r['units_lost'])} {r['unit']}" for r in rows],
        "first stop": [r["first_stop"] or "–" for r in rows], "days stopped": [num(r["stopped_days"]) for r in rows],
        "longest stop (days)": [num(r["longest_stop_days"]) for r in rows],
        "back at plan": [r["recovered"] or ("still short" if r["first_stop"] else "–") for r in rows],
        "worst monthly median lead time (days)": [f"{num(r['worst_lead_days'])} ({r['worst_lead_month']})"
                                                  if not math.isnan(r["worst_lead_days"]) else "–" for r in rows]})
    numeric = ["share of plan lost", "units lost", "days stopped", "longest stop (days)"]
    return render("headline.html.j2", rows=rows, table=table(frame, numeric=numeric))


def build_run_report(run_dir: str | Path) -> Path:
    """Write ``report.html`` and its PNGs into the run folder; returns the HTML path."""
    with plots.style():
        return _build_run_report(run_dir)


def _build_run_report(run_dir: str | Path) -> Path:
    run = load_run(run_dir)
    out = run.path
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        summary = summary_html(run, out)
        sections = [chart_timeline(run, out)]
        headline = Section("Demand facilities, largest share of plan lost first", html=_headline_html(headline_rows(run)))
        if (run.path / "replications").is_dir():
            headline.notes.append(f"One replication (seed {run.manifest.get('seed', '?')}); the summary above and the "
                                  "replications section below are over all of them.")
        if run.missing:
            headline.notes.append(f"Missing from the run folder: {', '.join(run.missing)}; the charts that need them are skipped.")
        timeline_png = _timeline_png(run, out)
        if timeline_png:
            sections[0].charts.insert(0, timeline_png)
        drawn = _draw_charts(run, out, (chart_production, chart_firms, chart_cover, chart_flows,
                                        chart_lead_times, chart_licensing, chart_markets, section_replications))
        sections.extend(section for section in drawn if section is not None)  # None: a layer the run does not have
    title = f"resim run report: {run.manifest.get('scenario', run.path.name)}"
    return _write(out / REPORT_NAME, page(title, [_run_meta(run)], [headline, *sections], summary=summary))


_FORKED_RUN: RunData | None = None  # the run a forked drawing worker inherits


def _draw_in_worker(fn_name: str, out: Path) -> Section:
    with plots.style(), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return globals()[fn_name](_FORKED_RUN, out)


def _draw_charts(run: RunData, out: Path, functions) -> list[Section]:
    """Draw the chart sections, on two forked processes where the machine has the cores
    (matplotlib drawing is most of a report's time and holds the GIL)."""
    import multiprocessing as mp
    import os

    if (os.cpu_count() or 1) < 2 or "fork" not in mp.get_all_start_methods():
        return [fn(run, out) for fn in functions]
    global _FORKED_RUN
    _FORKED_RUN = run
    try:
        from concurrent.futures import ProcessPoolExecutor

        pool = ProcessPoolExecutor(max_workers=2, mp_context=mp.get_context("fork"),
                                   initializer=_worker_start, initargs=(os.getpid(),))
        try:
            with interrupts.held():  # the workers are forked at the first submit
                # production charts are the slowest: they go first so the other worker takes the rest
                futures = [pool.submit(_draw_in_worker, fn.__name__, out) for fn in functions]
            sections = [f.result() for f in futures]
            interrupts.check()
            pool.shutdown()
        except BaseException:  # Ctrl-C, SIGTERM, a chart's error: the workers end now, with us
            _end_workers(pool)
            raise
        return sections
    except (OSError, RuntimeError):  # no processes here (sandbox): draw in this one
        return [fn(run, out) for fn in functions]
    finally:
        _FORKED_RUN = None


def _worker_start(parent: int) -> None:
    """A drawing worker leaves Ctrl-C to its parent (which ends it), dies on SIGTERM, and
    (Linux) is killed if its parent dies first, so no worker outlives the report."""
    import os
    import signal
    import sys

    interrupts.child_start()
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent died before that
        os._exit(1)


def _end_workers(pool) -> None:
    """Kill a drawing pool's workers and wait for them (SIGINT and SIGTERM held off meanwhile)."""
    with interrupts.shielded():
        kill = getattr(pool, "kill_workers", None)  # Python 3.14
        processes = list((getattr(pool, "_processes", None) or {}).values())
        if kill is not None:
            kill()
        else:
            for process in processes:
                if process.is_alive():
                    process.kill()
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.join(timeout=10)


def _timeline_png(run: RunData, out: Path) -> Chart | None:
    if not run.events:
        return None
    tf = plots.time_figure(0, "What happened when: the scenario's timeline", run.start, run.end, [("", run.events)])
    return Chart(plots.save(tf.fig, out / "timeline.png").name, "Timeline",
                 "One row per export control, shaded while it is in force, with a marker at each change; all facility changes "
                 "on one row (×n: n changes that day). Every time chart below shares this strip and marks the events with dotted lines.")
