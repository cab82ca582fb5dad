"""Chart building blocks for the reports: colours, the timeline strip, time-axis figures, fans.

Figures are plain :class:`matplotlib.figure.Figure` objects rendered with the Agg canvas, so
nothing here touches pyplot's global state or needs a display.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display needed; harmless if pyplot was never imported

import matplotlib.dates as mdates  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from .safe_write import replacing  # noqa: E402

__all__ = ["country_colour", "run_colour", "TimelineEvent", "events_from_frame", "control_periods", "TimeFigure",
           "time_figure", "side_legend", "grid_figure", "style", "save", "fan", "ACTION_STYLE", "MAX_PANELS"]

MAX_PANELS = 12  # small multiples per figure
WIDTH_IN = 12.0
DPI = 100

# Fixed colours for the countries that appear most in rare-earth supply chains; others get a
# stable colour derived from the code, so a country has the same colour in every chart and report.
_COUNTRIES = {
    "CN": "#d62728", "US": "#1f77b4", "JP": "#9467bd", "DE": "#b8860b", "KR": "#17becf", "AU": "#ff7f0e",
    "MY": "#2ca02c", "VN": "#8c8c00", "MM": "#8c564b", "EE": "#e377c2", "FR": "#3f51b5", "GB": "#7f7f7f",
    "IN": "#a55194", "CA": "#7b4173", "BR": "#31a354", "RU": "#5254a3", "TH": "#8c6d31", "EU": "#393b79",
    "IT": "#6b6ecf", "ES": "#e7ba52", "NL": "#ad494a", "SE": "#3182bd", "TW": "#843c39", "MX": "#637939",
    "XX": "#525252",
}
_FALLBACK = ["#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd", "#e6550d", "#31a354",
             "#756bb1", "#636363", "#a55194", "#637939"]
_RUNS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]


def country_colour(code: str) -> str:
    """The colour of a country (ISO code) in every chart."""
    code = str(code).upper()
    if code in _COUNTRIES:
        return _COUNTRIES[code]
    digest = int(hashlib.sha256(code.encode()).hexdigest(), 16)
    return _FALLBACK[digest % len(_FALLBACK)]


def run_colour(i: int) -> str:
    """The colour of the i-th run in a comparison."""
    return _RUNS[i % len(_RUNS)]


# ---------------------------------------------------------------------------------- timeline

ACTION_STYLE = {  # action -> (colour, marker, label)
    "expect": ("#8c564b", "<", "expected (pre-buying)"),
    "announce": ("#e377c2", ">", "announced (pre-buying)"),
    "impose": ("#d62728", "v", "imposed"),
    "ease": ("#ff7f0e", "D", "eased"),
    "general_licence": ("#bcbd22", "P", "general licence"),
    "release": ("#2ca02c", "^", "backlog released"),
    "release_stockpile": ("#17becf", "^", "stockpile released"),
    "suspend": ("#1f77b4", "s", "suspended"),
    "suspension ends": ("#1f77b4", "s", "suspension ends"),
    "lift": ("#333333", "x", "lifted"),
    "set": ("#9467bd", "o", "facility changed"),
    "new supply": ("#2ca02c", "*", "new supply committed"),
}
FACILITY_ACTIONS = ("set", "release_stockpile", "new supply")  # events on facilities: grouped on one strip row
FACILITY_ROW = "facility changes"
CONTROL_BAND = "#4c72b0"  # a control in force: blue-grey, unlike the red of "below plan"
BELOW_PLAN = "#d62728"


@dataclass(frozen=True)
class TimelineEvent:
    date: pd.Timestamp
    action: str
    target: str
    detail: str
    in_force: str = ""  # for controls, "yes"/"no" after the event (events.csv); "" if unknown


def events_from_frame(events: pd.DataFrame) -> list[TimelineEvent]:
    """events.csv rows (date, action, target, detail) -> events, in date order."""
    out = []
    if events is None or events.empty:
        return out
    for row in events.itertuples(index=False):
        date = pd.to_datetime(getattr(row, "date", None), errors="coerce")
        if pd.isna(date):
            continue
        detail = getattr(row, "detail", "")
        state = getattr(row, "in_force", "")
        out.append(TimelineEvent(date, str(row.action), str(row.target), "" if pd.isna(detail) else str(detail),
                                 "" if pd.isna(state) else str(state)))
    return sorted(out, key=lambda e: e.date)


def control_periods(events: Sequence[TimelineEvent], end: pd.Timestamp) -> dict[str, list[tuple[pd.Timestamp, pd.Timestamp]]]:
    """When each control was in force: from the ``in_force`` state the run recorded after each
    event, or (older run folders) impose switches it on and suspend or lift switch it off."""
    periods: dict[str, list] = {}
    active: dict[str, pd.Timestamp] = {}
    for e in events:
        on = e.in_force == "yes" if e.in_force else (True if e.action == "impose" else False if e.action in ("suspend", "lift") else None)
        if on is None:
            continue
        periods.setdefault(e.target, [])
        if on:
            active.setdefault(e.target, e.date)
        elif e.target in active:
            periods[e.target].append((active.pop(e.target), e.date))
    for target, began in active.items():
        periods[target].append((began, end))
    return periods


def _row_of(e: TimelineEvent) -> str:
    return FACILITY_ROW if e.action in FACILITY_ACTIONS and not e.in_force else e.target


def _strip_rows(events: Sequence[TimelineEvent]) -> list[str]:
    """Every control (in order of its first event), then one row for all facility changes."""
    rows = list(dict.fromkeys(_row_of(e) for e in events if _row_of(e) != FACILITY_ROW))
    return rows + ([FACILITY_ROW] if any(_row_of(e) == FACILITY_ROW for e in events) else [])


def _row_label(row: str, events: Sequence[TimelineEvent]) -> str:
    if row != FACILITY_ROW:
        return row
    return f"{FACILITY_ROW} ({sum(_row_of(e) == FACILITY_ROW for e in events)})"


def draw_timeline(ax, events: Sequence[TimelineEvent], start: pd.Timestamp, end: pd.Timestamp,
                  prefix: str = "", y0: int = 0, legend: bool = True) -> list[str]:
    """Draw the scenario's timeline on ``ax``: one row per control, a band while it is in force
    and a marker per event (impose, ease, release, suspend, lift...); all facility changes on one
    last row, with the number of changes made on one day beside its marker. Returns the labels."""
    rows = _strip_rows(events)
    periods = control_periods(events, end)
    for i, target in enumerate(rows):
        for a, b in periods.get(target, []) if target != FACILITY_ROW else []:
            ax.barh(y0 + i, mdates.date2num(b) - mdates.date2num(a), left=mdates.date2num(a), height=0.7,
                    color=CONTROL_BAND, alpha=0.25, linewidth=0)
    used = set()
    counts: dict[tuple, int] = {}
    for e in events:
        key = (_row_of(e), e.date, e.action)
        counts[key] = counts.get(key, 0) + 1
    for (row, date, action), n in counts.items():
        colour, marker, _ = ACTION_STYLE.get(action, ("#000000", "o", action))
        x, y = mdates.date2num(date), y0 + rows.index(row)
        ax.plot([x], [y], marker=marker, color=colour, markersize=9, linestyle="none", markeredgewidth=1.2,
                markeredgecolor="white" if marker not in ("x", "P", "*") else colour, clip_on=False)  # whole at the edges
        if n > 1:
            ax.annotate(f"×{n}", (x, y), xytext=(0, 7), textcoords="offset points", ha="center", va="bottom", fontsize=7,
                        color="#444444")
        used.add(action)
    labels = [f"{prefix}{_row_label(r, events)}" for r in rows]
    if legend and used:
        handles = [Line2D([], [], marker=ACTION_STYLE[a][1], color=ACTION_STYLE[a][0], linestyle="none",
                          markersize=7, markeredgewidth=1.5, label=ACTION_STYLE[a][2]) for a in ACTION_STYLE if a in used]
        handles.append(Patch(color=CONTROL_BAND, alpha=0.25, label="control in force"))
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=8, frameon=False,
                  borderaxespad=0)
    return labels


def mark_events(ax, events: Sequence[TimelineEvent]) -> None:
    """Faint vertical lines at the timeline's events, so panels line up with the strip. One line
    collection per panel (an ``axvline`` each cost a second per report: dozens of events times
    dozens of panels); x in dates, y from the bottom to the top of the panel."""
    if not events:
        return
    xs = mdates.date2num([e.date for e in events])
    colours = [ACTION_STYLE.get(e.action, ("#000000",))[0] for e in events]
    lines = LineCollection([[(x, 0.0), (x, 1.0)] for x in xs], colors=colours, alpha=0.45, linewidths=0.9,
                           linestyles=":", zorder=0, transform=ax.get_xaxis_transform())
    ax.add_collection(lines, autolim=False)  # the panels' date range is set, not fitted


def date_axis(ax) -> None:
    locator = mdates.AutoDateLocator(minticks=3, maxticks=7)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


@dataclass
class TimeFigure:
    fig: Figure
    strip: object
    axes: list
    strips: list = field(default_factory=list)


def _grid_shape(n: int) -> tuple[int, int]:
    ncols = 1 if n <= 3 else 2 if n <= 8 else 3
    return math.ceil(n / ncols), ncols


def time_figure(n_panels: int, title: str, start: pd.Timestamp, end: pd.Timestamp,
                timelines: Sequence[tuple[str, Sequence[TimelineEvent]]] = (), panel_height: float = 2.3,
                ncols: int | None = None, label_chars: int = 0, gap_in: float = 1.0) -> TimeFigure:
    """A figure whose panels share a date axis with the timeline strip above each column.

    ``timelines`` is [(label prefix, events)], one block of strip rows per run (one for a run
    report, one per run in a comparison). ``label_chars``: room for panel tick labels that long; ``gap_in``: inches between rows (room for panel titles)."""
    n_panels = max(0, n_panels)
    nrows, nc = _grid_shape(max(1, n_panels)) if ncols is None else (math.ceil(n_panels / ncols), ncols)
    nrows = nrows if n_panels else 0
    nc = nc if n_panels else 1
    blocks = [(prefix, ev, [f"{prefix}{_row_label(r, ev)}" for r in _strip_rows(ev)] or [f"{prefix}(no events)"])
              for prefix, ev in timelines]
    if not any(ev for _, ev in timelines):
        blocks = []  # no events at all: no strip
    labels = [label for _, _, got in blocks for label in got]
    strip_h = 0.5 + 0.34 * len(labels) if labels else 0.0
    height = strip_h + panel_height * nrows + 0.9
    fig = Figure(figsize=(WIDTH_IN, height), dpi=DPI)
    FigureCanvasAgg(fig)
    ratios = ([strip_h] if labels else []) + [panel_height] * nrows
    left = max(0.075, (0.065 * max([len(x) for x in labels] + [label_chars]) + 0.3) / WIDTH_IN)
    gs = fig.add_gridspec(len(ratios), nc, height_ratios=ratios, hspace=gap_in / (sum(ratios) / len(ratios)), wspace=0.3,
                          left=left, right=0.86, top=1 - 0.75 / height, bottom=0.45 / height)
    xlim = (mdates.date2num(start), mdates.date2num(end))
    strips = []
    for c in range(nc if labels else 0):
        strip = fig.add_subplot(gs[0, c])
        y0 = 0
        for i, (prefix, ev, got) in enumerate(blocks):
            draw_timeline(strip, ev, start, end, prefix=prefix, y0=y0, legend=(i == 0 and c == nc - 1))
            y0 += len(got)
        strip.set_yticks(range(len(labels)), labels if c == 0 else [""] * len(labels), fontsize=8)
        strip.set_ylim(len(labels) - 0.5, -0.5)
        strip.set_xlim(*xlim)
        if c == 0:
            strip.set_title("Scenario timeline", fontsize=9, loc="left")
        strip.grid(axis="x", alpha=0.3)
        date_axis(strip)
        strip.tick_params(axis="x", labelbottom=not n_panels)
        strips.append(strip)
    fig.suptitle(title, fontsize=13, fontweight="bold", x=0.01, ha="left")
    axes = []
    first = 1 if labels else 0
    all_events = [e for _, ev in timelines for e in ev]
    for i in range(n_panels):
        r, c = divmod(i, nc)
        ax = fig.add_subplot(gs[first + r, c], sharex=strips[c] if strips else None)
        ax.set_xlim(*xlim)
        date_axis(ax)
        if i + nc < n_panels:  # dates only under the lowest panel of each column
            ax.tick_params(axis="x", labelbottom=False)
        mark_events(ax, all_events)
        ax.grid(alpha=0.3)
        axes.append(ax)
    return TimeFigure(fig, strips[0] if strips else None, axes, strips)


def side_legend(tf: TimeFigure, handles: Sequence, labels: Sequence[str], title: str | None = None) -> None:
    """One legend for all panels, in the right margin below the timeline's legend."""
    if not tf.axes:
        return
    top = tf.axes[0].get_position().y1
    for strip in tf.strips:  # below the timeline's legend, which may reach lower than the strip
        legend = strip.get_legend()
        if legend is not None:
            box = legend.get_window_extent(tf.fig.canvas.get_renderer()).transformed(tf.fig.transFigure.inverted())
            top = min(top, box.y0 - 0.15 / tf.fig.get_figheight())
    tf.fig.legend(handles, labels, loc="upper left", bbox_to_anchor=(0.87, top), fontsize=8, frameon=False,
                  title=title, title_fontsize=8.5, alignment="left")


def grid_figure(n_panels: int, title: str, panel_height: float = 2.8, ncols: int | None = None,
                label_chars: int = 0) -> tuple[Figure, list]:
    """Small multiples without a time axis; ``label_chars``: room for y tick labels that long."""
    n_panels = max(1, n_panels)
    nrows, nc = _grid_shape(n_panels) if ncols is None else (math.ceil(n_panels / ncols), ncols)
    height = panel_height * nrows + 0.9
    fig = Figure(figsize=(WIDTH_IN, height), dpi=DPI)
    FigureCanvasAgg(fig)
    left = max(0.08, (0.065 * label_chars + 0.3) / WIDTH_IN)
    gs = fig.add_gridspec(nrows, nc, hspace=0.6, wspace=0.28, left=left, right=0.97,
                          top=1 - 0.85 / height, bottom=0.5 / height)
    fig.suptitle(title, fontsize=13, fontweight="bold", x=0.01, ha="left")
    axes = []
    for i in range(n_panels):
        r, c = divmod(i, nc)
        axes.append(fig.add_subplot(gs[r, c]))
    return fig, axes


def style():
    """Settings for building and saving report figures (a context manager). A fixed title
    height skips matplotlib's automatic title placement, the slowest part of drawing."""
    return matplotlib.rc_context({"axes.titley": 1.0, "axes.titlepad": 4.0, "font.size": 9.5})


def save(fig: Figure, path: Path) -> Path:
    """Save ``fig`` as a new file renamed over ``path`` (never written through a planted link)."""
    with replacing(path, "wb") as handle:
        # tight: legends in the margin are never cut off at the figure's edge
        fig.savefig(handle, format=Path(path).suffix.lstrip(".") or "png", dpi=DPI, facecolor="white",
                    bbox_inches="tight", pad_inches=0.12)
    return path


def fan(ax, x, samples: np.ndarray, colour: str, label: str | None = None) -> None:
    """Fan chart of ``samples`` (replications x len(x)): median line, 50% and 90% bands."""
    samples = np.asarray(samples, dtype=float)
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            q05, q25, q50, q75, q95 = np.nanpercentile(samples, [5, 25, 50, 75, 95], axis=0)
    ax.fill_between(x, q05, q95, color=colour, alpha=0.15, linewidth=0)
    ax.fill_between(x, q25, q75, color=colour, alpha=0.35, linewidth=0)
    ax.plot(x, q50, color=colour, linewidth=1.6, label=label)
