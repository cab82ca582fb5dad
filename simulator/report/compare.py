"""The comparison report of two or more runs: build_compare_report."""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from .. import plots
from ..plots import MAX_PANELS, run_colour
from .compare_folder import claim_compare_folder
from .data import REPORT_NAME, ReportError, RunData, _cross_border, _dates, _mid_month, load_run
from .html import Chart, Section, _write, num, page, pct, render, signed, table
from .replications import _min_cover, _production_share
from .run import _run_meta, _with_room, headline_rows
from .trade import _backlog, _empty_panel

_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _days_between(a: str, b: str) -> str:
    if not a and not b:
        return "–"
    if not a or not b:
        return f"{a or 'no stop'} → {b or 'no stop'}"
    return signed((pd.Timestamp(b) - pd.Timestamp(a)).days, unit=" days")


def difference_table(runs: list[RunData]) -> pd.DataFrame:
    """One row per demand facility: share of plan lost, days stopped and first stop in each run,
    and each run minus A; rows sorted by the largest difference in share lost (then days stopped)."""
    per_run = [{r["facility"]: r for r in headline_rows(run)} for run in runs]
    names = list(dict.fromkeys(n for rows in per_run for n in rows))
    letters = [_LETTERS[i % 26] for i in range(len(runs))]
    records = []
    for name in names:
        got = [rows.get(name) for rows in per_run]
        base = got[0]
        rec = {"facility": name, "country": next(r["country"] for r in got if r)}
        share_d, stop_d = [], []
        for letter, r in zip(letters, got):
            rec[f"share lost {letter}"] = pct(r["share_lost"]) if r else "(absent)"
        for letter, r in zip(letters[1:], got[1:]):
            d = (r["share_lost"] - base["share_lost"]) if r and base else math.nan
            share_d.append(abs(d) if not math.isnan(d) else -1)
            rec[f"share lost {letter} − A"] = signed(100 * d, 1, " pp") if not math.isnan(d) else "–"
        for letter, r in zip(letters, got):
            rec[f"days stopped {letter}"] = num(r["stopped_days"]) if r else "(absent)"
        for letter, r in zip(letters[1:], got[1:]):
            d = (r["stopped_days"] - base["stopped_days"]) if r and base else math.nan
            stop_d.append(abs(d) if not math.isnan(d) else -1)
            rec[f"days stopped {letter} − A"] = signed(d) if not math.isnan(d) else "–"
        for letter, r in zip(letters, got):
            rec[f"first stop {letter}"] = (r["first_stop"] or "none") if r else "(absent)"
        for letter, r in zip(letters[1:], got[1:]):
            rec[f"first stop {letter} − A"] = _days_between(base["first_stop"], r["first_stop"]) if r and base else "–"
        rec["_key"] = (max(share_d, default=0), max(stop_d, default=0))
        records.append(rec)
    records.sort(key=lambda r: (-r["_key"][0], -r["_key"][1], r["facility"]))
    return pd.DataFrame([{k: v for k, v in r.items() if k != "_key"} for r in records])


def headline_text(runs: list[RunData], limit: int = 8) -> str:
    """The comparison's headline for the terminal: the runs, then the largest differences."""
    letters = [_LETTERS[i % 26] for i in range(len(runs))]
    lines = [f"{letter}: {run.label} ({run.path})" for letter, run in zip(letters, runs)]
    diff = difference_table(runs)
    if diff.empty:
        return "\n".join(lines + ["no demand facilities in these runs"])
    lines.append("largest differences in share of planned output lost (each run minus A):")
    for rec in diff.head(limit).to_dict("records"):
        bits = [f"{letter} {rec[f'share lost {letter}']}" for letter in letters]
        deltas = [f"{letter} − A {rec[f'share lost {letter} − A']}, days stopped {rec[f'days stopped {letter} − A']}"
                  for letter in letters[1:]]
        lines.append(f"  {rec['facility']} ({rec['country']}): {', '.join(bits)}; {'; '.join(deltas)}")
    if len(diff) > limit:
        lines.append(f"  ... {len(diff) - limit} more facilities in the report")
    return "\n".join(lines)


def _compare_headline(runs: list[RunData]) -> str:
    letters = [_LETTERS[i % 26] for i in range(len(runs))]
    diff = difference_table(runs)
    if diff.empty:
        return render("headline.html.j2", rows=[], table="")
    lost = set()  # facilities that lost output in some run: the others are named, not tabulated
    for run in runs:
        lost |= {r["facility"] for r in headline_rows(run) if r["stopped_days"] > 0 or r["share_lost"] > 0}
    unharmed = [f for f in diff["facility"] if f not in lost]
    diff = diff[diff["facility"].isin(lost)]
    numeric = [c for c in diff.columns if c.startswith(("share lost", "days stopped"))]
    blocks = [{"letter": letter, "label": run.label, "rows": headline_rows(run)} for letter, run in zip(letters, runs)]
    return render("compare_headline.html.j2", blocks=blocks, table=table(diff, numeric=numeric), unharmed=unharmed)


def default_folder(run_dirs: Sequence[str | Path], results: str | Path) -> Path:
    """<results>/compare/<scenario A>_vs_<scenario B>[...]: the scenario names, and the run
    folders' names too where two runs are of the same scenario."""
    names = []
    for p in run_dirs:
        try:
            names.append(str(json.loads((Path(p) / "manifest.json").read_text(encoding="utf-8")).get("scenario") or Path(p).name))
        except (OSError, ValueError, AttributeError):
            names.append(Path(p).name)
    if len(set(names)) < len(names):
        names = [f"{n}-{Path(p).name}" for n, p in zip(names, run_dirs)]
    return Path(results) / "compare" / "_vs_".join(names)


def _compare_lines(runs, letters, title, items, series_fn, ylabel, start, end, timelines, ylim=None):
    tf = plots.time_figure(len(items), title, start, end, timelines)
    for ax, (item, panel_title) in zip(tf.axes, items):
        drawn = False
        for i, (letter, run) in enumerate(zip(letters, runs)):
            s = series_fn(run, item)
            if s is None or len(s) == 0 or s.isna().all():
                continue
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
    if handles:  # beside the panels, never over a line
        plots.side_legend(tf, list(handles.values()), list(handles.keys()), "run")
    return tf.fig


def _production_pct(run: RunData, name: str):
    p = run.tables["production_daily"]
    g = p[p["facility"].astype(str) == name]
    return _production_share(g.assign(date=_dates(g["date"]))) if len(g) else None


def _cover_min(run: RunData, name: str):
    inv = run.tables["inventory_daily"]
    g = inv[inv["facility"].astype(str) == name]
    return _min_cover(g.assign(date=_dates(g["date"]))) if len(g) else None


def _exports(run: RunData, item: tuple[str, str]):
    material, exporter = item  # one material: tonnes of magnets and of concentrate are never added up
    fl = _cross_border(run.tables["flows_monthly"])
    s = fl[(fl["exporter"].astype(str) == exporter) & (fl["material"].astype(str) == material)].groupby("month")["tonnes"].sum()
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


def _largest(frames: list[pd.DataFrame], key: list[str]) -> list[tuple[str, ...]]:
    """The ``key`` values with the most tonnes over all runs, largest first (at most a figure's panels)."""
    frames = [f.astype({k: str for k in key}) for f in frames if len(f)]
    if not frames:
        return []
    totals = pd.concat([f.groupby(key)["tonnes"].sum() for f in frames])
    totals = totals.groupby(level=list(range(len(key)))).sum().sort_values(ascending=False, kind="stable")
    return [g if isinstance(g, tuple) else (g,) for g in totals.index][:MAX_PANELS]


def build_compare_report(run_dirs: Sequence[str | Path], out_dir: str | Path) -> Path:
    """Side-by-side report of two or more runs (the first is the reference for differences)."""
    return compare(run_dirs, out_dir)[0]


def compare(run_dirs: Sequence[str | Path], out_dir: str | Path) -> tuple[Path, str]:
    """:func:`build_compare_report`, and the comparison's headline as text for the terminal."""
    with plots.style():
        return _build_compare_report(run_dirs, out_dir)


def _build_compare_report(run_dirs: Sequence[str | Path], out_dir: str | Path) -> tuple[Path, str]:
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
    start, end = min(r.start for r in runs), max(r.end for r in runs)
    timelines = [(f"{letter}: ", r.events) for letter, r in zip(letters, runs)]
    notes = ["A is the reference: differences are each run minus A, largest difference in share of plan lost first."]
    if len({r.start for r in runs}) > 1:
        notes.append("The runs start on different dates; the charts show each run on its own dates, on one calendar.")
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
                                 start, end, timelines, ylim=(0, 115))
            sec.charts.append(Chart(plots.save(fig, out / "compare_production.png").name, "Production compared",
                                    "Units made over the last 7 days as a share of plan; one colour per run."))
            fig = _compare_lines(runs, letters, "Days of cover of the scarcest input, run by run",
                                 [(n, f"{n} ({countries.get(n, '?')})") for n in demand], _cover_min, "days of cover",
                                 start, end, timelines)
            sec.charts.append(Chart(plots.save(fig, out / "compare_cover.png").name, "Cover compared"))
        else:
            sec.notes.append("No demand facilities; production charts skipped.")
        sections.append(sec)
        # One panel per largest group (exporter, destination), each run a line.
        for title, frames, key, label, chart_title, series, unit, png, alt, empty in (
            ("Monthly exports", [_cross_border(r.tables["flows_monthly"]) for r in runs], ["material", "exporter"], "{} from {}",
             "Monthly cross-border exports by material and exporting country (tonnes), run by run", _exports,
             "t/month", "compare_flows.png", "Exports compared", "No cross-border flows in these runs; chart skipped."),
            ("Lead times", [r.tables["lead_times"] for r in runs], ["destination"], "to {}",
             "Median lead time by destination and month of delivery (days), run by run", _lead_median, "days",
             "compare_lead_times.png", "Lead times compared", "No deliveries in these runs; chart skipped."),
        ):
            sec = Section(title)
            groups = _largest(frames, key)
            if groups:
                items = [(g if len(g) > 1 else g[0], label.format(*g)) for g in groups]
                fig = _compare_lines(runs, letters, chart_title, items, series, unit,
                                     start, end, timelines)
                sec.charts.append(Chart(plots.save(fig, out / png).name, alt))
            else:
                sec.notes.append(empty)
            sections.append(sec)
        sec = Section("Licensing")
        if any(len(r.tables["licences"]) for r in runs):
            fig = _compare_lines(runs, letters, "Licence applications pending, run by run", [("all", "backlog, all controls")],
                                 _backlog_total, "pending applications", start, end, timelines)
            sec.charts.append(Chart(plots.save(fig, out / "compare_licensing.png").name, "Licensing compared"))
            rows = []
            for letter, r in zip(letters, runs):
                d = r.tables["licences"]["decision"].astype(str)
                rows.append([letter, len(d), int((d == "approved").sum()), int((d == "released").sum()),
                             int((d == "denied").sum()), int((d == "pending at end").sum())])
            sec.html = table(pd.DataFrame(rows, columns=["run", "applied", "approved", "released", "denied", "pending at end"]),
                             numeric=["applied", "approved", "released", "denied", "pending at end"])
        else:
            sec.notes.append("No licence applications in these runs; chart skipped.")
        sections.append(sec)
    meta = [[("run", letter), *_run_meta(r)] for letter, r in zip(letters, runs)]
    title = "resim comparison: " + " vs ".join(f"{letter} {r.label}" for letter, r in zip(letters, runs))
    return _write(out / REPORT_NAME, page(title, meta, sections)), headline_text(runs)
