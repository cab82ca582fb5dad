"""The run report: its headline, its charts and build_run_report."""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Sequence
from pathlib import Path

import matplotlib.lines
import numpy as np
import pandas as pd

from .. import plots
from ..plots import MAX_PANELS, country_colour
from .data import (MAX_FIGURES, REPORT_NAME, RunData, _chunks, _compact, _date, _dates, _demand_order, _fmt_num, _suffix,
                   load_run)
from .html import Chart, Section, _write, num, page, pct, render, table
from .drawing import draw_charts
from .summary import summary_html
from .firms import chart_firms
from .markets import chart_markets
from .replications import section_replications
from .trade import _empty_panel, _panel_note, chart_flows, chart_lead_times, chart_licensing  # noqa: F401 - importable from here


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
        drawn = draw_charts(run, out, (chart_production, chart_firms, chart_cover, chart_flows,
                                        chart_lead_times, chart_licensing, chart_markets, section_replications))
        sections.extend(section for section in drawn if section is not None)  # None: a layer the run does not have
    title = f"resim run report: {run.manifest.get('scenario', run.path.name)}"
    return _write(out / REPORT_NAME, page(title, [_run_meta(run)], [headline, *sections], summary=summary))


def _timeline_png(run: RunData, out: Path) -> Chart | None:
    if not run.events:
        return None
    tf = plots.time_figure(0, "What happened when: the scenario's timeline", run.start, run.end, [("", run.events)])
    return Chart(plots.save(tf.fig, out / "timeline.png").name, "Timeline",
                 "One row per export control, shaded while it is in force, with a marker at each change; all facility changes "
                 "on one row (×n: n changes that day). Every time chart below shares this strip and marks the events with dotted lines.")
