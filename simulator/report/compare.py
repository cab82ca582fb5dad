"""The comparison report of two or more runs: build_compare_report."""

from __future__ import annotations

import html
import math
import warnings
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from .. import plots
from ..plots import MAX_PANELS, run_colour
from .compare_folder import claim_compare_folder
from .data import REPORT_NAME, ReportError, RunData, _cross_border, _dates, _fmt_num, _mid_month, load_run
from .html import Chart, Section, _page, _table, _write
from .replications import _min_cover, _production_share
from .run import _backlog, _empty_panel, _run_meta, _with_room, headline_rows

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


def _largest(frames: list[pd.DataFrame], key: str) -> list[str]:
    """The ``key`` values with the most tonnes over all runs, largest first (at most a figure's panels)."""
    totals = pd.concat([f.groupby(key)["tonnes"].sum() for f in frames])
    return list(totals.groupby(level=0).sum().sort_values(ascending=False).index.astype(str))[:MAX_PANELS] if len(totals) else []


def build_compare_report(run_dirs: Sequence[str | Path], out_dir: str | Path) -> Path:
    """Side-by-side report of two or more runs (the first is the reference for differences)."""
    with plots.style():
        return _build_compare_report(run_dirs, out_dir)


def _build_compare_report(run_dirs: Sequence[str | Path], out_dir: str | Path) -> Path:
    if len(run_dirs) < 2:
        raise ReportError("compare needs at least two run folders")
    runs = [load_run(p) for p in run_dirs]
    out = Path(out_dir)
    claim_compare_folder(out, run_dirs)  # new, empty or an earlier comparison's: never a run's folder
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
        # One panel per largest group (exporter, destination), each run a line.
        for title, frames, key, label, chart_title, series, unit, png, alt, empty in (
            ("Monthly exports", [_cross_border(r.tables["flows_monthly"]) for r in runs], "exporter", "from {}",
             "Monthly cross-border exports by exporting country (tonnes, all materials), run by run", _exports,
             "t/month", "compare_flows.png", "Exports compared", "No cross-border flows in these runs; chart skipped."),
            ("Lead times", [r.tables["lead_times"] for r in runs], "destination", "to {}",
             "Median lead time by destination and month of delivery (days), run by run", _lead_median, "days",
             "compare_lead_times.png", "Lead times compared", "No deliveries in these runs; chart skipped."),
        ):
            sec = Section(title)
            groups = _largest(frames, key)
            if groups:
                fig = _compare_lines(runs, letters, chart_title, [(g, label.format(g)) for g in groups], series, unit,
                                     start, end, timelines, shifts=shifts)
                sec.charts.append(Chart(plots.save(fig, out / png).name, alt))
            else:
                sec.notes.append(empty)
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
