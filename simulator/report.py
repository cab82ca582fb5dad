"""Reports people look at: PNG charts and one self-contained HTML page per run, comparison or sweep.

    build_run_report(run_dir)              -> run_dir/report.html (+ PNGs beside it)
    build_compare_report(run_dirs, out)    -> out/report.html
    build_sweep_report(sweep_dir)          -> sweep_dir/report.html

The page holds only text, tables and ``<img>`` tags pointing at PNGs in the same folder (relative
names), so the folder opens offline and can be zipped or copied as is. Everything is read from
the files a run writes (see :mod:`simulator.results`), so a report can be rebuilt at any time.

Replications: if a run folder holds ``replications/<name>/`` sub-folders that are themselves
run folders (same scenario, other seeds), the run report adds fan charts (median, 50% and 90%
bands) over them; otherwise it says they were skipped.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import plots
from .plots import MAX_PANELS, country_colour, run_colour

__all__ = ["ReportError", "build_report", "build_run_report", "build_compare_report", "build_sweep_report", "RunData", "load_run",
           "headline_rows"]

REPORT_NAME = "report.html"
MAX_FIGURES = 2  # figures of small multiples per chart kind (2 x 12 panels)

# file -> columns expected (an absent or empty file reads as an empty table with these columns)
TABLES = {
    "shortages": ("shortages.csv", ["facility", "sector", "country", "unit", "units_planned", "units_produced",
                                    "units_lost", "share_lost", "stopped_days", "first_stop", "longest_stop_days",
                                    "recovered"]),
    "plants": ("plants.csv", ["facility", "country", "output", "desired_t", "produced_t", "short_t", "starved_days",
                              "first_starved", "longest_starved_days", "recovered"]),
    "lead_times": ("lead_times.csv", ["order_id", "shipment_id", "material", "supplier", "buyer", "exporter",
                                      "destination", "mode", "ordered", "delivered", "tonnes", "lead_time_days",
                                      "wait_stock_days", "wait_licence_days", "transit_days"]),
    "flows_monthly": ("flows_monthly.csv", ["month", "exporter", "destination", "material", "tonnes"]),
    "licences": ("licences.csv", ["control", "exporter", "destination", "material", "tonnes", "applied", "decided",
                                  "decision", "wait_days"]),
    "inventory_daily": ("inventory_daily.csv", ["date", "facility", "material", "on_hand_t", "days_of_cover"]),
    "production_daily": ("production_daily.csv", ["date", "facility", "planned_units", "produced_units"]),
    "events": ("events.csv", ["date", "action", "target", "detail"]),
}
_STRING_COLUMNS = {"facility", "sector", "country", "unit", "first_stop", "recovered", "output", "first_starved",
                   "material", "supplier", "buyer", "exporter", "destination", "mode", "ordered", "delivered",
                   "month", "control", "applied", "decided", "decision", "date", "action", "target", "detail"}


class ReportError(Exception):
    """A problem with the user's input (a folder that is not a run, a sweep without a table):
    the message is one line meant for the terminal."""


# =========================================================================================== data


@dataclass
class RunData:
    """A finished run as read back from its folder."""

    path: Path
    manifest: dict
    summary: dict
    tables: dict[str, pd.DataFrame]
    missing: list[str] = field(default_factory=list)  # files that were absent
    label: str = ""

    @property
    def start(self) -> pd.Timestamp:
        return pd.Timestamp(self.manifest.get("start") or self._guess_start())

    @property
    def end(self) -> pd.Timestamp:
        return pd.Timestamp(self.manifest.get("end") or self.start + pd.Timedelta(days=365))

    def _guess_start(self) -> str:
        dates = self.tables["production_daily"]["date"].dropna()
        return str(dates.min()) if len(dates) else "2000-01-01"

    @property
    def events(self) -> list[plots.TimelineEvent]:
        return plots.events_from_frame(self.tables["events"])

    def countries(self) -> dict[str, str]:
        """Facility -> country, from every table that names both."""
        out: dict[str, str] = {}
        lt = self.tables["lead_times"]
        if len(lt):
            out.update(dict(zip(lt["supplier"], lt["exporter"])))
            out.update(dict(zip(lt["buyer"], lt["destination"])))
        for name in ("plants", "shortages"):
            t = self.tables[name]
            out.update(dict(zip(t["facility"], t["country"])))
        return {str(k): str(v) for k, v in out.items()}


def _read_csv(path: Path, columns: list[str]) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, keep_default_na=False, na_values=[""],
                            dtype={c: str for c in columns if c in _STRING_COLUMNS})
    except pd.errors.EmptyDataError:
        frame = pd.DataFrame(columns=columns)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise ReportError(f"{path}: cannot read ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from None
    for c in columns:
        if c not in frame:
            frame[c] = pd.Series(dtype=str if c in _STRING_COLUMNS else float)
    return frame


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReportError(f"{path}: cannot read ({type(exc).__name__}: {exc})") from None
    if not isinstance(data, dict):
        raise ReportError(f"{path}: expected a JSON object")
    return data


def load_run(run_dir: str | Path) -> RunData:
    """Read a run folder; :class:`ReportError` if it is not one."""
    path = Path(run_dir)
    if not path.exists():
        raise ReportError(f"{path}: no such folder")
    if not path.is_dir():
        raise ReportError(f"{path}: not a folder")
    if not (path / "manifest.json").is_file():
        raise ReportError(f"{path}: not a run folder (no manifest.json)")
    manifest = _read_json(path / "manifest.json")
    summary = _read_json(path / "summary.json") if (path / "summary.json").is_file() else {}
    tables, missing = {}, []
    for name, (filename, columns) in TABLES.items():
        f = path / filename
        if f.is_file():
            tables[name] = _read_csv(f, columns)
        else:
            missing.append(filename)
            tables[name] = pd.DataFrame({c: pd.Series(dtype=str if c in _STRING_COLUMNS else float) for c in columns})
    label = f"{manifest.get('scenario', path.parent.name)} seed {manifest.get('seed', '?')}"
    return RunData(path, manifest, summary, tables, missing, label)


def _replications(run: RunData) -> list[RunData]:
    """The run and its replications (``replications/*/`` run folders), if there are any."""
    folder = run.path / "replications"
    if not folder.is_dir():
        return []
    reps = [load_run(p) for p in sorted(folder.iterdir()) if p.is_dir() and (p / "manifest.json").is_file()]
    seeds = {r.manifest.get("seed") for r in reps}
    if reps and run.manifest.get("seed") not in seeds:
        reps.insert(0, run)
    return reps if len(reps) >= 2 else []


# ===================================================================================== headlines


def _fmt_num(v: float, digits: int = 0) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f"{v:,.{digits}f}"


def _compact(v: float) -> str:
    """1,424,658 -> 1.42 M; 80,446 -> 80.4 k: short enough for a panel's corner."""
    a = abs(v)
    if a >= 1e9:
        return f"{v / 1e9:.3g} bn"
    if a >= 1e6:
        return f"{v / 1e6:.3g} M"
    if a >= 1e4:
        return f"{v / 1e3:.3g} k"
    return f"{v:,.0f}" if a >= 100 else f"{v:.3g}"


def _date(v) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) or str(v) == "nan" else str(v)


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


# ======================================================================================== charts


@dataclass
class Chart:
    filename: str
    title: str
    caption: str = ""


@dataclass
class Section:
    title: str
    charts: list[Chart] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    html: str = ""  # extra (already escaped) HTML, e.g. a table


def _chunks(items: list, size: int = MAX_PANELS, limit: int = MAX_FIGURES) -> list[list]:
    return [items[i:i + size] for i in range(0, min(len(items), size * limit), size)]


def _suffix(i: int) -> str:
    return "" if i == 0 else f"_{i + 1}"


def _mid_month(months: pd.Series) -> pd.Series:
    return pd.to_datetime(months.astype(str) + "-01") + pd.Timedelta(days=14)


def _dates(col: pd.Series) -> pd.Series:
    return pd.to_datetime(col, errors="coerce")


def _demand_order(run: RunData) -> list[str]:
    sh = run.tables["shortages"]
    return list(sh.sort_values(["units_lost", "facility"], ascending=[False, True])["facility"].astype(str))


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
    rows = "".join(
        f"<tr><td>{html.escape(e.date.date().isoformat())}</td><td>{html.escape(plots.ACTION_STYLE.get(e.action, ('', '', e.action))[2])}</td>"
        f"<td>{html.escape(e.target)}</td><td>{html.escape(e.detail)}</td></tr>" for e in events)
    sec.html = f"<table class='data'><tr><th>date</th><th>what</th><th>control or facility</th><th>detail</th></tr>{rows}</table>"
    return sec


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
                         "lost output, most units lost first, then others while a figure has room (shortages.csv has all).")
    for k, names in enumerate(chunks):
        tf = plots.time_figure(len(names), "Production by demand facility: made per day (solid, 7-day mean) against plan (dashed); shaded: days below plan",
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
            ax.fill_between(x, 0, 1, where=short, step="post", transform=ax.get_xaxis_transform(), color="#d62728",
                            alpha=0.2, linewidth=0, label="below plan")
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
            if ax.get_legend_handles_labels()[0]:
                ax.legend(loc="upper right", fontsize=7.5, framealpha=0.85)
            else:
                _empty_panel(ax, "no cover recorded")
        sec.charts.append(Chart(plots.save(tf.fig, out / f"cover{_suffix(k)}.png").name, "Days of cover",
                                "Stock on hand of each input divided by its planned daily use; at zero the line runs dry."))
    return sec


def _baseline_months(run: RunData, months: list[str]) -> list[str]:
    """The scenario's first months, before the first control is imposed (1 to 3 months)."""
    first = next((e.date for e in run.events if e.action == "impose"), None)
    base = [m for m in months[:3] if first is None or pd.Timestamp(m + "-01") + pd.offsets.MonthEnd(0) < first]
    return base or months[:1]


def _cross_border(fl: pd.DataFrame) -> pd.DataFrame:
    return fl[fl["exporter"].astype(str) != fl["destination"].astype(str)]


def chart_flows(run: RunData, out: Path) -> Section:
    sec = Section("Monthly flows by exporter and destination")
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
    totals = cross.groupby("exporter")["tonnes"].sum().sort_values(ascending=False)
    exporters = list(totals.index.astype(str))
    if len(exporters) > MAX_PANELS:
        sec.notes.append(f"Showing the {MAX_PANELS} largest of {len(exporters)} exporters.")
    exporters = exporters[:MAX_PANELS]
    tf = plots.time_figure(len(exporters), "Monthly exports by exporting country, stacked by destination (tonnes, all materials)",
                           run.start, run.end, [("", run.events)])
    all_months = pd.Series(months)
    x = _mid_month(all_months)
    legend: dict = {}
    for ax, exporter in zip(tf.axes, exporters):
        g = cross[cross["exporter"].astype(str) == exporter]
        table = g.pivot_table(index="month", columns="destination", values="tonnes", aggfunc="sum").reindex(months).fillna(0.0)
        table = table[table.sum().sort_values(ascending=False).index]
        bottom = np.zeros(len(months))
        for dest in table.columns:
            bars = ax.bar(x, table[dest].to_numpy(), width=24, bottom=bottom, color=country_colour(dest),
                          edgecolor="white", linewidth=0.4)
            legend.setdefault(f"to {dest}", bars)
            bottom += table[dest].to_numpy()
        baseline = float(table.loc[base].sum(axis=1).mean()) if base else math.nan
        ax.set_title(f"from {exporter}", fontsize=10, loc="left", color=country_colour(exporter), fontweight="bold")
        if not math.isnan(baseline):
            legend.setdefault("baseline", ax.axhline(baseline, color="#111111", linestyle="--", linewidth=1.1))
            if baseline > 0 and len(bottom):
                ax.set_title(f"baseline {_compact(baseline)} t/mo; last month {100 * bottom[-1] / baseline:.0f}%",
                             fontsize=8, loc="right", color="#444444")
        ax.set_ylabel("t/month")
        ax.set_ylim(top=max(float(bottom.max()) if len(bottom) else 0, baseline if not math.isnan(baseline) else 0, 1e-9) * 1.15)
    items = sorted(legend.items(), key=lambda kv: (kv[0] == "baseline", kv[0]))
    plots.side_legend(tf, [h for _, h in items], [k for k, _ in items], "destination")
    sec.charts.append(Chart(plots.save(tf.fig, out / "flows.png").name, "Monthly exports",
                            "Tonnes leaving each exporting country per month (by the month they cleared export controls), "
                            "by destination; the dashed line is the baseline."))
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
        if ax is tf.axes[0]:
            ax.legend(loc="upper left", fontsize=7.5, framealpha=0.85)
        bottom = np.zeros(len(g))
        for col, label, c in parts:
            y = g[col].fillna(0).to_numpy(float)
            ax2.bar(x, y, width=24, bottom=bottom, color=c, label=label, edgecolor="white", linewidth=0.4)
            bottom += y
        ax2.set_title(f"to {dest}", fontsize=10, loc="left", color=colour, fontweight="bold")
        ax2.set_ylabel("mean days")
        ax2.set_ylim(0, max(float(bottom.max()) if len(bottom) else 0, 1.0) * 1.3)
        if ax2 is tf2.axes[0]:
            ax2.legend(loc="upper left", fontsize=7.5, ncol=3, framealpha=0.85)
    sec.charts.append(Chart(plots.save(tf.fig, out / "lead_times.png").name, "Lead times",
                            "Median lead time of shipments delivered each month (line) and the 10th–90th percentile band."))
    sec.charts.append(Chart(plots.save(tf2.fig, out / "lead_time_split.png").name, "Lead time split",
                            "Mean lead time of shipments delivered each month, split into its parts."))
    stats = lt.groupby("destination").agg(shipments=("lead_time_days", "size"), tonnes=("tonnes", "sum"),
                                          p50=("lead_time_days", "median"),
                                          p90=("lead_time_days", lambda v: float(np.percentile(v, 90))),
                                          stock=("wait_stock_days", "mean"), licence=("wait_licence_days", "mean"),
                                          transit=("transit_days", "mean")).reset_index()
    sec.html = _table(["destination", "shipments", "tonnes", "median days", "p90 days", "waiting for stock", "waiting for licence",
                       "in transit"],
                      [[r.destination, f"{r.shipments:,}", _fmt_num(r.tonnes, 1), _fmt_num(r.p50, 1), _fmt_num(r.p90, 1),
                        _fmt_num(r.stock, 1), _fmt_num(r.licence, 1), _fmt_num(r.transit, 1)] for r in stats.itertuples()])
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
    ax.legend(loc="upper right", fontsize=8, framealpha=0.85)
    ax.set_title("applications and decisions per week", fontsize=10, loc="left")
    back = _backlog(lic, days, "destination")
    cols = list(back.max().sort_values(ascending=False).index)
    ax2.stackplot(back.index, *[back[c].to_numpy() for c in cols], colors=[country_colour(c) for c in cols],
                  labels=[f"to {c}" for c in cols], alpha=0.85)
    ax2.set_ylabel("pending applications")
    ax2.set_title("backlog by destination", fontsize=10, loc="left")
    ax2.legend(loc="upper right", fontsize=8, ncol=2, framealpha=0.85)
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
    sec.html = _table(["control", "destination", "applied", "approved", "released", "denied", "pending at end", "median wait (days)"],
                      [[r.control, r.destination, r.applied, r.approved, r.released, r.denied, r.pending, _fmt_num(r.wait, 1)]
                       for r in stats.itertuples()])
    return sec


# ------------------------------------------------------------------------------- replications


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
    if demand and all("production_daily.csv" not in r.missing for r in reps):
        tf = plots.time_figure(len(demand), "Production as % of plan across replications (7-day mean)", run.start, run.end, timeline)
        for ax, name in zip(tf.axes, demand):
            x, m = _daily_matrix(reps, "production_daily", name, _production_share)
            plots.fan(ax, x, m, country_colour(countries.get(name, "")))
            ax.set_title(f"{name} ({countries.get(name, '?')})", fontsize=10, loc="left")
            ax.set_ylabel("% of plan")
            ax.set_ylim(0, 115)
        sec.charts.append(Chart(plots.save(tf.fig, out / "fan_production.png").name, "Production fan chart"))
    if demand:
        tf = plots.time_figure(len(demand), "Days of cover of the scarcest input across replications", run.start, run.end, timeline)
        for ax, name in zip(tf.axes, demand):
            x, m = _daily_matrix(reps, "inventory_daily", name, _min_cover)
            plots.fan(ax, x, m, country_colour(countries.get(name, "")))
            ax.set_title(f"{name} ({countries.get(name, '?')})", fontsize=10, loc="left")
            ax.set_ylabel("days of cover")
            ax.set_ylim(bottom=0)
        sec.charts.append(Chart(plots.save(tf.fig, out / "fan_cover.png").name, "Cover fan chart"))
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
        sec.charts.append(Chart(plots.save(tf.fig, out / "fan_lead_times.png").name, "Lead-time fan chart"))
    exporters = list(_cross_border(run.tables["flows_monthly"]).groupby("exporter")["tonnes"].sum()
                     .sort_values(ascending=False).index.astype(str))[:MAX_PANELS]
    if exporters:
        tf = plots.time_figure(len(exporters), "Monthly cross-border exports across replications (tonnes)", run.start, run.end, timeline)
        for ax, exporter in zip(tf.axes, exporters):
            def tonnes(r, exporter=exporter):
                fl = _cross_border(r.tables["flows_monthly"])
                return fl[fl["exporter"].astype(str) == exporter].groupby("month")["tonnes"].sum()
            x, m = _monthly_matrix(reps, tonnes)
            plots.fan(ax, x, np.nan_to_num(m), country_colour(exporter))
            ax.set_title(f"from {exporter}", fontsize=10, loc="left")
            ax.set_ylabel("t/month")
            ax.set_ylim(bottom=0)
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
        rows.append([name, f"{100 * q[1, 0]:.1f}%", f"{100 * q[0, 0]:.1f}% – {100 * q[2, 0]:.1f}%",
                     f"{q[1, 1]:.0f}", f"{q[0, 1]:.0f} – {q[2, 1]:.0f}"])
    sec.html = _table(["facility", "share lost (median)", "share lost (90% range)", "days stopped (median)",
                       "days stopped (90% range)"], rows)
    return sec


# ========================================================================================== HTML

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0 auto;max-width:1240px;
padding:16px 24px;color:#222;background:#fff;line-height:1.4}
h1{font-size:1.6em;margin:.2em 0}h2{font-size:1.25em;margin-top:1.6em;border-bottom:2px solid #ddd;padding-bottom:.2em}
.meta{color:#555;font-size:.9em}.note{color:#555;font-style:italic;margin:.3em 0}
table.data{border-collapse:collapse;font-size:.88em;margin:.6em 0}
table.data th,table.data td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
table.data th{background:#f3f3f3}table.data td.num{text-align:right}
ul.headline li{margin:.25em 0}
figure{margin:1em 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{color:#555;font-size:.88em}
.bad{color:#b00}.good{color:#070}
"""


def _table(header: Sequence[str], rows: Sequence[Sequence], numeric_from: int = 1) -> str:
    def cell(i, v):
        text = html.escape(str(v))
        return f"<td class='num'>{text}</td>" if i >= numeric_from and _looks_numeric(str(v)) else f"<td>{text}</td>"
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(cell(i, v) for i, v in enumerate(r)) + "</tr>" for r in rows)
    return f"<table class='data'><tr>{head}</tr>{body}</table>"


def _looks_numeric(s: str) -> bool:
    s = s.replace(",", "").replace("%", "").replace("+", "").replace("−", "-").strip()
    try:
        float(s)
        return True
    except ValueError:
        return s in ("–",)


def _page(title: str, meta: str, sections: Sequence[Section], intro: str = "") -> str:
    parts = [f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
             f"<meta name='viewport' content='width=device-width, initial-scale=1'><style>{_CSS}</style></head><body>",
             f"<h1>{html.escape(title)}</h1><p class='meta'>{meta}</p>", intro]
    for sec in sections:
        parts.append(f"<h2>{html.escape(sec.title)}</h2>")
        for note in sec.notes:
            if note:
                parts.append(f"<p class='note'>{html.escape(note)}</p>")
        if sec.html:
            parts.append(sec.html)
        for chart in sec.charts:
            parts.append(f"<figure><img src='{html.escape(chart.filename, quote=True)}' alt='{html.escape(chart.title, quote=True)}'>"
                         + (f"<figcaption>{html.escape(chart.caption)}</figcaption>" if chart.caption else "") + "</figure>")
    parts.append(f"<p class='meta'>Made by resim report on {html.escape(dt.datetime.now().isoformat(timespec='seconds'))}.</p>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _write(path: Path, text: str) -> Path:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path


def _run_meta(run: RunData) -> str:
    m = run.manifest
    bits = [f"scenario <b>{html.escape(str(m.get('scenario', '?')))}</b>", f"seed {html.escape(str(m.get('seed', '?')))}",
            f"{html.escape(str(m.get('start', '?')))} to {html.escape(str(m.get('end', '?')))}",
            f"resim {html.escape(str(m.get('package_version', '?')))}",
            f"scenario sha256 {html.escape(str(m.get('scenario_sha256', ''))[:12])}",
            f"folder {html.escape(str(run.path))}"]
    return " · ".join(bits)


def _headline_html(rows: list[dict]) -> str:
    if not rows:
        return "<p class='note'>No demand facilities in this scenario.</p>"
    items = "".join(f"<li class='{'bad' if r['first_stop'] else 'good'}'>{html.escape(r['sentence'])}</li>" for r in rows)
    table = _table(["facility", "country", "sector", "first stop", "days stopped", "longest stop (days)", "units lost",
                    "share of plan lost", "back at plan", "worst monthly median lead time (days)"],
                   [[r["facility"], r["country"], r["sector"], r["first_stop"] or "–", f"{r['stopped_days']:.0f}",
                     f"{r['longest_stop_days']:.0f}", f"{_fmt_num(r['units_lost'])} {r['unit']}", f"{100 * r['share_lost']:.1f}%",
                     r["recovered"] or ("still short" if r["first_stop"] else "–"),
                     f"{r['worst_lead_days']:.0f} ({r['worst_lead_month']})" if not math.isnan(r["worst_lead_days"]) else "–"]
                    for r in rows], numeric_from=4)
    return f"<ul class='headline'>{items}</ul>{table}"


def build_run_report(run_dir: str | Path) -> Path:
    """Write ``report.html`` and its PNGs into the run folder; returns the HTML path."""
    with plots.style():
        return _build_run_report(run_dir)


def _build_run_report(run_dir: str | Path) -> Path:
    run = load_run(run_dir)
    out = run.path
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        sections = [chart_timeline(run, out)]
        headline = Section("Headline", html=_headline_html(headline_rows(run)))
        if run.missing:
            headline.notes.append(f"Missing from the run folder: {', '.join(run.missing)}; the charts that need them are skipped.")
        timeline_png = _timeline_png(run, out)
        if timeline_png:
            sections[0].charts.insert(0, timeline_png)
        sections.extend(_draw_charts(run, out, (chart_production, chart_cover, chart_flows, chart_lead_times,
                                                chart_licensing, section_replications)))
    title = f"resim run report: {run.manifest.get('scenario', run.path.name)}"
    return _write(out / REPORT_NAME, _page(title, _run_meta(run), [headline, *sections]))


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

        with ProcessPoolExecutor(max_workers=2, mp_context=mp.get_context("fork")) as pool:
            # production charts are the slowest: they go first so the other worker takes the rest
            futures = [pool.submit(_draw_in_worker, fn.__name__, out) for fn in functions]
            return [f.result() for f in futures]
    except (OSError, RuntimeError):  # no processes here (sandbox): draw in this one
        return [fn(run, out) for fn in functions]
    finally:
        _FORKED_RUN = None


def _timeline_png(run: RunData, out: Path) -> Chart | None:
    if not run.events:
        return None
    tf = plots.time_figure(0, "What happened when: the scenario's timeline", run.start, run.end, [("", run.events)])
    return Chart(plots.save(tf.fig, out / "timeline.png").name, "Timeline",
                 "Shaded: a control in force. Every time chart below shares this strip and marks the events with dotted lines.")


# ==================================================================================== comparison

_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _diff_number(a: float, b: float, digits: int = 0, pct: bool = False) -> str:
    if any(isinstance(v, float) and math.isnan(v) for v in (a, b)):
        return "–"
    d = b - a
    if pct:
        return f"{100 * d:+.1f} pp"
    return f"{d:+,.{digits}f}"


def _diff_date(a: str, b: str, none_a: str = "none", none_b: str = "none") -> str:
    if not a and not b:
        return "–"
    if not a:
        return f"{none_a} → {b}"
    if not b:
        return f"{a} → {none_b}"
    days = (pd.Timestamp(b) - pd.Timestamp(a)).days
    return f"{days:+d} days" if days else "same day"


def _compare_headline(runs: list[RunData]) -> str:
    per_run = [{r["facility"]: r for r in headline_rows(run)} for run in runs]
    names: list[str] = []
    for rows in per_run:
        for name in sorted(rows, key=lambda n: -rows[n]["units_lost"]):
            if name not in names:
                names.append(name)
    if not names:
        return "<p class='note'>No demand facilities in these runs.</p>"
    letters = [_LETTERS[i % 26] for i in range(len(runs))]
    header = ["facility", "measure", *letters, *[f"{x} − A" for x in letters[1:]]]
    body = []
    measures = [
        ("first stop", lambda r: r["first_stop"] or "–", lambda a, b: _diff_date(a["first_stop"], b["first_stop"], "no stop", "no stop")),
        ("days stopped", lambda r: f"{r['stopped_days']:.0f}", lambda a, b: _diff_number(a["stopped_days"], b["stopped_days"])),
        ("units lost", lambda r: _fmt_num(r["units_lost"]), lambda a, b: _diff_number(a["units_lost"], b["units_lost"])),
        ("share of plan lost", lambda r: f"{100 * r['share_lost']:.1f}%", lambda a, b: _diff_number(a["share_lost"], b["share_lost"], pct=True)),
        ("back at plan", lambda r: r["recovered"] or ("still short" if r["first_stop"] else "–"),
         lambda a, b: _diff_date(a["recovered"], b["recovered"], "–", "–") if a["recovered"] and b["recovered"] else "–"),
        ("worst monthly median lead time (days)", lambda r: _fmt_num(r["worst_lead_days"]),
         lambda a, b: _diff_number(a["worst_lead_days"], b["worst_lead_days"])),
    ]
    for name in names:
        for i, (label, show, diff) in enumerate(measures):
            cells = [name if i == 0 else "", label]
            cells += [show(rows[name]) if name in rows else "(absent)" for rows in per_run]
            base = per_run[0].get(name)
            cells += [diff(base, rows[name]) if base is not None and name in rows else "–" for rows in per_run[1:]]
            body.append(cells)
    sentences = []
    for letter, run, rows in zip(letters, runs, per_run):
        items = "".join(f"<li class='{'bad' if r['first_stop'] else 'good'}'>{html.escape(r['sentence'])}</li>" for r in rows.values())
        sentences.append(f"<p><b>{html.escape(letter)}</b> — {html.escape(run.label)}</p><ul class='headline'>{items}</ul>")
    return "".join(sentences) + _table(header, body, numeric_from=2)


def _compare_lines(runs, letters, title, items, series_fn, ylabel, start, end, timelines, ylim=None, shifts=None):
    tf = plots.time_figure(len(items), title, start, end, timelines)
    for ax, (item, panel_title) in zip(tf.axes, items):
        drawn = False
        for i, (letter, run) in enumerate(zip(letters, runs)):
            s = series_fn(run, item)
            if s is None or len(s) == 0 or s.isna().all():
                continue
            if shifts is not None:
                s = s.copy()
                s.index = pd.DatetimeIndex(s.index) - shifts[i]
            ax.plot(s.index, s.to_numpy(float), color=run_colour(i), linewidth=1.5, label=f"{letter}: {run.label}",
                    marker="o" if len(s) <= 24 else None, markersize=3)
            drawn = True
        ax.set_title(panel_title, fontsize=10, loc="left", fontweight="bold")
        ax.set_ylabel(ylabel)
        if ylim:
            ax.set_ylim(*ylim)
        else:
            ax.set_ylim(bottom=0)
        if not drawn:
            _empty_panel(ax, "no data in these runs")
    handles = {}
    for ax in tf.axes:
        for h, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, h)
    if handles:
        tf.axes[0].legend(list(handles.values()), list(handles.keys()), loc="lower left", fontsize=7.5, framealpha=0.85)
    return tf.fig


def _production_pct(run: RunData, name: str):
    p = run.tables["production_daily"]
    g = p[p["facility"].astype(str) == name]
    return _production_share(g.assign(date=_dates(g["date"]))) if len(g) else None


def _cover_min(run: RunData, name: str):
    inv = run.tables["inventory_daily"]
    g = inv[inv["facility"].astype(str) == name]
    return _min_cover(g.assign(date=_dates(g["date"]))) if len(g) else None


def _exports(run: RunData, exporter: str):
    fl = _cross_border(run.tables["flows_monthly"])
    s = fl[fl["exporter"].astype(str) == exporter].groupby("month")["tonnes"].sum()
    months = sorted(run.tables["flows_monthly"]["month"].astype(str).unique())
    s = s.reindex(months).fillna(0.0)
    s.index = _mid_month(pd.Series(months, dtype=str))
    return s


def _lead_median(run: RunData, dest: str):
    lt = run.tables["lead_times"]
    lt = lt[lt["destination"].astype(str) == dest]
    s = lt.groupby(lt["delivered"].astype(str).str.slice(0, 7))["lead_time_days"].median()
    s.index = _mid_month(pd.Series(s.index, dtype=str))
    return s


def _backlog_total(run: RunData, _item=None):
    lic = run.tables["licences"]
    if lic.empty:
        return None
    return _backlog(lic, pd.date_range(run.start, run.end, freq="D"))["all"]


def build_compare_report(run_dirs: Sequence[str | Path], out_dir: str | Path) -> Path:
    """Side-by-side report of two or more runs (the first is the reference for differences)."""
    with plots.style():
        return _build_compare_report(run_dirs, out_dir)


def _build_compare_report(run_dirs: Sequence[str | Path], out_dir: str | Path) -> Path:
    if len(run_dirs) < 2:
        raise ReportError("compare needs at least two run folders")
    runs = [load_run(p) for p in run_dirs]
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ReportError(f"{out}: exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    letters = [_LETTERS[i % 26] for i in range(len(runs))]
    labels = [r.label for r in runs]
    for r in runs:
        if labels.count(r.label) > 1:
            r.label = f"{r.label} ({r.path.name})"
    ref = runs[0].start
    shifts = [r.start - ref for r in runs]
    start, end = ref, max(r.end - d for r, d in zip(runs, shifts))
    timelines = [(f"{letter}: ", [plots.TimelineEvent(e.date - d, e.action, e.target, e.detail) for e in r.events])
                 for letter, r, d in zip(letters, runs, shifts)]
    notes = ["A is the reference: differences are each run minus A."]
    if any(d != pd.Timedelta(0) for d in shifts):
        notes.append("The runs start on different dates; in the charts each run is shifted so that the starts line up "
                     "(the time axes show A's dates): " + "; ".join(f"{letter} by {d.days:+d} days"
                                                                  for letter, d in zip(letters, shifts) if d != pd.Timedelta(0)) + ".")
    sections = [Section("Headline", html=_compare_headline(runs), notes=notes)]
    countries: dict[str, str] = {}
    for r in runs:
        countries.update(r.countries())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        losses = pd.concat([r.tables["shortages"].set_index("facility")["units_lost"] for r in runs])
        losses = losses.groupby(level=0).max().sort_values(ascending=False, kind="stable")
        demand = _with_room(list(losses.index.astype(str)), set(losses[losses > 0].index.astype(str)))[:MAX_PANELS]
        sec = Section("Production against plan")
        if demand:
            fig = _compare_lines(runs, letters, "Production as % of plan by demand facility (7-day mean), run by run",
                                 [(n, f"{n} ({countries.get(n, '?')})") for n in demand], _production_pct, "% of plan",
                                 start, end, timelines, ylim=(0, 115), shifts=shifts)
            sec.charts.append(Chart(plots.save(fig, out / "compare_production.png").name, "Production compared",
                                    "Units made over the last 7 days as a share of plan; one colour per run."))
            fig = _compare_lines(runs, letters, "Days of cover of the scarcest input, run by run",
                                 [(n, f"{n} ({countries.get(n, '?')})") for n in demand], _cover_min, "days of cover",
                                 start, end, timelines, shifts=shifts)
            sec.charts.append(Chart(plots.save(fig, out / "compare_cover.png").name, "Cover compared"))
        else:
            sec.notes.append("No demand facilities; production charts skipped.")
        sections.append(sec)
        sec = Section("Monthly exports")
        totals = pd.concat([_cross_border(r.tables["flows_monthly"]).groupby("exporter")["tonnes"].sum() for r in runs])
        exporters = list(totals.groupby(level=0).sum().sort_values(ascending=False).index.astype(str))[:MAX_PANELS] if len(totals) else []
        if exporters:
            fig = _compare_lines(runs, letters, "Monthly cross-border exports by exporting country (tonnes, all materials), run by run",
                                 [(x, f"from {x}") for x in exporters], _exports, "t/month", start, end, timelines, shifts=shifts)
            sec.charts.append(Chart(plots.save(fig, out / "compare_flows.png").name, "Exports compared"))
        else:
            sec.notes.append("No cross-border flows in these runs; chart skipped.")
        sections.append(sec)
        sec = Section("Lead times")
        totals = pd.concat([r.tables["lead_times"].groupby("destination")["tonnes"].sum() for r in runs])
        dests = list(totals.groupby(level=0).sum().sort_values(ascending=False).index.astype(str))[:MAX_PANELS] if len(totals) else []
        if dests:
            fig = _compare_lines(runs, letters, "Median lead time by destination and month of delivery (days), run by run",
                                 [(d, f"to {d}") for d in dests], _lead_median, "days", start, end, timelines, shifts=shifts)
            sec.charts.append(Chart(plots.save(fig, out / "compare_lead_times.png").name, "Lead times compared"))
        else:
            sec.notes.append("No deliveries in these runs; chart skipped.")
        sections.append(sec)
        sec = Section("Licensing")
        if any(len(r.tables["licences"]) for r in runs):
            fig = _compare_lines(runs, letters, "Licence applications pending, run by run", [("all", "backlog, all controls")],
                                 _backlog_total, "pending applications", start, end, timelines, shifts=shifts)
            sec.charts.append(Chart(plots.save(fig, out / "compare_licensing.png").name, "Licensing compared"))
            rows = []
            for letter, r in zip(letters, runs):
                d = r.tables["licences"]["decision"].astype(str)
                rows.append([letter, len(d), int((d == "approved").sum()), int((d == "released").sum()),
                             int((d == "denied").sum()), int((d == "pending at end").sum())])
            sec.html = _table(["run", "applied", "approved", "released", "denied", "pending at end"], rows)
        else:
            sec.notes.append("No licence applications in these runs; chart skipped.")
        sections.append(sec)
    meta = "<br>".join(f"<b>{html.escape(letter)}</b>: {_run_meta(r)}" for letter, r in zip(letters, runs))
    title = "resim comparison: " + " vs ".join(str(r.manifest.get("scenario", r.path.name)) for r in runs)
    return _write(out / REPORT_NAME, _page(title, meta, sections))


# ========================================================================================= sweeps

_SWEEP_KEYS = {"point_id", "replication", "seed", "wall_seconds", "error", "parameters", "metrics"}


def _read_runs(folder: Path) -> pd.DataFrame:
    for name in ("runs.parquet", "runs.csv"):
        f = folder / name
        if f.is_file():
            try:
                return pd.read_parquet(f) if f.suffix == ".parquet" else pd.read_csv(f)
            except ImportError:
                raise ReportError(f"{f}: reading Parquet needs pyarrow (pip install pyarrow)") from None
            except (OSError, ValueError) as exc:
                raise ReportError(f"{f}: cannot read ({type(exc).__name__}: {exc})") from None
    raise ReportError(f"{folder}: not a sweep folder (no runs.parquet or runs.csv)")


def _ci95(values: np.ndarray) -> tuple[float, float, float, int]:
    from scipy import stats

    v = values[~np.isnan(values)]
    n = len(v)
    if n == 0:
        return math.nan, math.nan, math.nan, 0
    mean = float(v.mean())
    if n == 1:
        return mean, math.nan, math.nan, 1
    half = float(stats.t.ppf(0.975, n - 1)) * float(v.std(ddof=1)) / math.sqrt(n)
    return mean, mean - half, mean + half, n


def _point_stats(ok: pd.DataFrame, parameters: list[str], metric: str) -> pd.DataFrame:
    rows = []
    for point_id, g in ok.groupby("point_id", sort=True):
        mean, low, high, n = _ci95(pd.to_numeric(g[metric], errors="coerce").to_numpy(float))
        rows.append({"point_id": point_id, **{p: g[p].iloc[0] for p in parameters}, "mean": mean, "low": low, "high": high, "n": n})
    return pd.DataFrame(rows)


def _is_numeric(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def _metric_title(metric: str) -> str:
    head, _, key = metric.partition(".")
    words = {"units_lost": "units lost", "share_lost": "share of plan lost", "stopped_days": "days stopped",
             "first_stop_day": "first stop (days from start)", "lead_time_p50": "median lead time (days)",
             "lead_time_p90": "p90 lead time (days)", "wait_licence_mean": "mean wait for licence (days)",
             "exports_t": "exports (t)", "licences_applied": "licences applied", "licences_approved": "licences approved",
             "licences_denied": "licences denied"}
    return f"{words.get(head, head)}: {key}" if key else words.get(head, head)


def _sweep_one(ok, runs, parameter, metrics, out) -> list[Chart]:
    charts = []
    values = runs[parameter]
    numeric = _is_numeric(values)
    cats = sorted(values.dropna().unique(), key=str) if not numeric else None
    for k, chunk in enumerate(_chunks(metrics)):
        fig, axes = plots.grid_figure(len(chunk), f"Metrics against {parameter} (mean of replications, 95% confidence band)")
        for ax, metric in zip(axes, chunk):
            st = _point_stats(ok, [parameter], metric).sort_values(parameter, key=(None if numeric else lambda s: s.astype(str)))
            x = st[parameter].to_numpy(float) if numeric else np.array([cats.index(v) for v in st[parameter]])
            rx = ok[parameter].to_numpy(float) if numeric else np.array([cats.index(v) for v in ok[parameter]])
            ax.scatter(rx, pd.to_numeric(ok[metric], errors="coerce"), s=8, color="#999999", alpha=0.5, label="runs", zorder=1)
            ax.fill_between(x, st["low"], st["high"], color="#1f77b4", alpha=0.25, linewidth=0, label="95% CI of mean")
            ax.plot(x, st["mean"], color="#1f77b4", marker="o", markersize=4, linewidth=1.6, label="mean")
            if not numeric:
                ax.set_xticks(range(len(cats)), [str(c) for c in cats], fontsize=8)
            ax.set_xlabel(parameter, fontsize=8)
            ax.set_title(_metric_title(metric), fontsize=9.5, loc="left")
            ax.grid(alpha=0.3)
        axes[0].legend(fontsize=7.5, loc="best")
        charts.append(Chart(plots.save(fig, out / f"sweep_metrics{_suffix(k)}.png").name, f"Metrics against {parameter}",
                            "Each panel: the mean of a metric over replications at each value (line), its 95% confidence "
                            "interval (band, Student t) and the single runs (grey)."))
    return charts


def _sweep_two(ok, parameters, metrics, out) -> list[Chart]:
    p1, p2 = parameters
    charts = []
    for k, chunk in enumerate(_chunks(metrics)):
        fig, axes = plots.grid_figure(len(chunk), f"Mean of each metric over {p1} × {p2}", panel_height=3.2)
        for ax, metric in zip(axes, chunk):
            st = _point_stats(ok, [p1, p2], metric)
            table = st.pivot_table(index=p2, columns=p1, values="mean", aggfunc="mean")
            if table.size <= 400 and table.notna().sum().sum() >= 0.8 * len(st):  # a grid
                im = ax.imshow(table.to_numpy(float), origin="lower", aspect="auto", cmap="viridis")
                ax.set_xticks(range(table.shape[1]), [f"{v:.3g}" if isinstance(v, float) else str(v) for v in table.columns],
                              fontsize=7, rotation=45)
                ax.set_yticks(range(table.shape[0]), [f"{v:.3g}" if isinstance(v, float) else str(v) for v in table.index], fontsize=7)
                if table.size <= 64:
                    lo, hi = np.nanmin(table.to_numpy(float)), np.nanmax(table.to_numpy(float))
                    for (i, j), v in np.ndenumerate(table.to_numpy(float)):
                        if not math.isnan(v):
                            light = hi > lo and (v - lo) / (hi - lo) > 0.6  # viridis is light at the top
                            ax.text(j, i, f"{v:.3g}", ha="center", va="center", fontsize=8,
                                    color="black" if light else "white")
            else:  # scattered design (latin hypercube): points coloured by the mean
                im = ax.scatter(st[p1], st[p2], c=st["mean"], cmap="viridis", s=30)
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03)
            ax.set_xlabel(p1, fontsize=8)
            ax.set_ylabel(p2, fontsize=8)
            ax.set_title(_metric_title(metric), fontsize=9.5, loc="left")
        charts.append(Chart(plots.save(fig, out / f"sweep_heatmaps{_suffix(k)}.png").name, f"Heatmaps over {p1} and {p2}",
                            "Each cell: the mean of the metric over the replications of that point."))
    return charts


def _sweep_many(ok, parameters, metrics, out) -> list[Chart]:
    charts = []
    for k, metric in enumerate(metrics[:MAX_PANELS]):
        params = parameters[:MAX_PANELS]
        fig, axes = plots.grid_figure(len(params), f"{_metric_title(metric)} against each parameter (mean per point)")
        st = _point_stats(ok, params, metric)
        for ax, p in zip(axes, params):
            if _is_numeric(st[p]):
                ax.scatter(st[p], st["mean"], s=14, color="#1f77b4")
            else:
                cats = sorted(st[p].unique(), key=str)
                ax.scatter([cats.index(v) for v in st[p]], st["mean"], s=14, color="#1f77b4")
                ax.set_xticks(range(len(cats)), [str(c) for c in cats], fontsize=8)
            ax.set_xlabel(p, fontsize=8)
            ax.set_ylabel(_metric_title(metric), fontsize=8)
            ax.grid(alpha=0.3)
        charts.append(Chart(plots.save(fig, out / f"sweep_scatter_{k + 1}.png").name, metric))
    return charts


def _sweep_sobol(folder, ok, parameters, metrics, meta, out) -> tuple[list[Chart], list[str]]:
    notes = []
    f = folder / "sensitivity.csv"
    if f.is_file():
        sens = pd.read_csv(f)
    else:
        try:
            from .sensitivity import sweep_indices
            design = meta.get("design", {})
            sens, skipped = sweep_indices(ok, parameters, metrics, int(meta.get("points", ok["point_id"].max() + 1)),
                                          design.get("second_order", False), design.get("resamples", 1000),
                                          design.get("conf_level", 0.95))
            notes += [f"{m}: skipped ({why})" for m, why in skipped.items()]
        except ImportError as exc:  # SALib missing
            return [], [f"No sensitivity.csv and the indices cannot be computed here ({exc})."]
        except Exception as exc:  # noqa: BLE001 - a partial sweep cannot be analysed
            return [], [f"No sensitivity.csv and the indices cannot be computed ({type(exc).__name__}: {exc})."]
    if sens.empty:
        return [], notes + ["No Sobol' indices (every metric was skipped)."]
    charts = []
    mets = list(dict.fromkeys(sens["metric"]))
    for k, chunk in enumerate(_chunks(mets)):
        fig, axes = plots.grid_figure(len(chunk), "Sobol' sensitivity indices per metric (first-order S1 and total ST, with intervals)")
        for ax, metric in zip(axes, chunk):
            g = sens[sens["metric"] == metric].sort_values("ST", ascending=False)
            y = np.arange(len(g))
            for off, col, colour, label in ((-0.2, "S1", "#1f77b4", "first-order S1"), (0.2, "ST", "#d62728", "total ST")):
                v = g[col].to_numpy(float)
                err = np.vstack([v - g[f"{col}_low"].to_numpy(float), g[f"{col}_high"].to_numpy(float) - v])
                ax.barh(y + off, v, height=0.38, color=colour, label=label, xerr=np.clip(err, 0, None),
                        error_kw={"elinewidth": 0.8, "capsize": 2})
            ax.set_yticks(y, list(g["parameter"]), fontsize=8)
            ax.invert_yaxis()
            ax.axvline(0, color="#333333", linewidth=0.8)
            ax.set_xlabel("index (share of output variance)", fontsize=8)
            ax.set_title(_metric_title(metric), fontsize=9.5, loc="left")
            ax.grid(axis="x", alpha=0.3)
        axes[0].legend(fontsize=7.5, loc="lower right")
        charts.append(Chart(plots.save(fig, out / f"sweep_sobol{_suffix(k)}.png").name, "Sobol' indices",
                            "Bars: indices; whiskers: bootstrap confidence intervals. Parameters ordered by total index."))
    return charts, notes


def _sweep_replications(ok, metrics, out) -> list[Chart]:
    charts = []
    for k, chunk in enumerate(_chunks(metrics)):
        fig, axes = plots.grid_figure(len(chunk), "Distribution of each metric over replications")
        for ax, metric in zip(axes, chunk):
            v = pd.to_numeric(ok[metric], errors="coerce").dropna().to_numpy(float)
            mean, low, high, n = _ci95(v)
            ax.hist(v, bins=min(30, max(5, n // 3)), color="#1f77b4", alpha=0.7)
            ax.axvline(mean, color="#111111", linewidth=1.4, label=f"mean {mean:.3g}")
            if not math.isnan(low):
                ax.axvspan(low, high, color="#d62728", alpha=0.2, label="95% CI of mean")
            ax.set_title(_metric_title(metric), fontsize=9.5, loc="left")
            ax.set_ylabel("runs", fontsize=8)
            ax.legend(fontsize=7.5)
        charts.append(Chart(plots.save(fig, out / f"sweep_distributions{_suffix(k)}.png").name, "Metric distributions"))
    return charts


def build_sweep_report(sweep_dir: str | Path) -> Path:
    """Write ``report.html`` and its PNGs into a sweep's folder (``runs.parquet`` or ``runs.csv``
    with one row per run, and ``sweep.json`` if present); returns the HTML path."""
    with plots.style():
        return _build_sweep_report(sweep_dir)


def _build_sweep_report(sweep_dir: str | Path) -> Path:
    folder = Path(sweep_dir)
    if not folder.is_dir():
        raise ReportError(f"{folder}: no such folder")
    runs = _read_runs(folder)
    meta = _read_json(folder / "sweep.json") if (folder / "sweep.json").is_file() else {}
    if "point_id" not in runs:
        raise ReportError(f"{folder}: the runs table has no point_id column")
    parameters = [p for p in meta.get("parameters", []) if p in runs]
    if not meta.get("parameters"):  # infer: columns constant within a point that vary between points
        candidates = [c for c in runs.columns if c not in _SWEEP_KEYS and "." not in c and not c.startswith("licences_")]
        parameters = [c for c in candidates if runs.groupby("point_id")[c].nunique().max() <= 1 and runs[c].nunique() > 1]
    metric_cols = [c for c in runs.columns if c not in _SWEEP_KEYS and c not in parameters and _is_numeric(runs[c])]
    failed = runs["error"].notna() if "error" in runs else pd.Series(False, index=runs.index)
    ok = runs[~failed]
    design = (meta.get("design") or {}).get("type") or ("replications" if not parameters else "grid")
    notes = []
    if failed.any():
        notes.append(f"{int(failed.sum())} of {len(runs)} runs failed and are left out (see the error column of the runs table).")
    constant = [m for m in metric_cols if pd.to_numeric(ok[m], errors="coerce").nunique() <= 1]
    metrics = [m for m in metric_cols if m not in constant]
    if constant:
        notes.append(f"Constant or undefined in every run, not charted: {', '.join(constant)}.")
    limit = MAX_PANELS * MAX_FIGURES
    if len(metrics) > limit:
        notes.append(f"Charting the first {limit} of {len(metrics)} metrics (all are in the runs table).")
        metrics = metrics[:limit]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        charts: list[Chart] = []
        if ok.empty or not metrics:
            notes.append("No successful runs with varying metrics; no charts.")
        elif design == "sobol":
            got, more = _sweep_sobol(folder, ok, parameters, metrics, meta, folder)
            charts += got
            notes += more
        elif len(parameters) == 0:
            charts += _sweep_replications(ok, metrics, folder)
        elif len(parameters) == 1:
            charts += _sweep_one(ok, runs, parameters[0], metrics, folder)
        elif len(parameters) == 2:
            charts += _sweep_two(ok, parameters, metrics, folder)
        else:
            charts += _sweep_many(ok, parameters, metrics, folder)
        rows = []
        for metric in metrics[:MAX_PANELS]:
            st = _point_stats(ok, parameters, metric)
            for r in st.head(40).to_dict("records"):
                rows.append([metric, r["point_id"], *[r[p] for p in parameters], r["n"], f"{r['mean']:.4g}",
                             f"[{r['low']:.4g}, {r['high']:.4g}]" if not math.isnan(r["low"]) else "–"])
    table = _table(["metric", "point", *parameters, "runs", "mean", "95% CI"], rows, numeric_from=1) if rows else ""
    n_points = runs["point_id"].nunique()
    n_reps = runs.groupby("point_id").size().max() if len(runs) else 0
    name = meta.get("name", folder.name)
    sections = [Section(f"{design.replace('_', ' ')} design: {n_points} points × up to {n_reps} replications",
                        charts=charts, notes=notes),
                Section("Mean and 95% confidence interval per point", html=table,
                        notes=["First 40 points of the first 12 metrics; the runs table has everything."] if rows else
                        ["Nothing to tabulate."])]
    bits = [f"sweep <b>{html.escape(str(name))}</b>", f"design {html.escape(design)}",
            f"parameters {html.escape(', '.join(parameters) or 'none')}", f"{len(runs)} runs",
            f"folder {html.escape(str(folder))}"]
    if meta.get("scenario_file"):
        bits.insert(1, f"scenario {html.escape(str(meta['scenario_file']))}")
    return _write(folder / REPORT_NAME, _page(f"resim sweep report: {name}", " · ".join(bits), sections))


def build_report(folder: str | Path) -> Path:
    """``resim report FOLDER``: the run report of a run folder, or the sweep report of a sweep's."""
    path = Path(folder)
    if (path / "manifest.json").is_file():
        return build_run_report(path)
    if (path / "runs.parquet").is_file() or (path / "runs.csv").is_file():
        return build_sweep_report(path)
    if not path.exists():
        raise ReportError(f"{path}: no such folder")
    raise ReportError(f"{path}: not a run folder (no manifest.json) nor a sweep folder (no runs.parquet or runs.csv)")
