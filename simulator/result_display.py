"""How a :class:`~simulator.runner.RunResult` shows itself: a one-line repr, and for notebooks
an HTML headline (the run and its shortages by demand facility, worst first)."""

from __future__ import annotations

import html

import pandas as pd

from .table_dates import to_text


def short_repr(result) -> str:
    m, sh = result.manifest, result.shortages
    lost = f"{100 * float(sh['share_lost'].mean()):.1f}% of planned output lost (mean over demand facilities)" if len(sh) else "no demand facilities"
    return (f"<RunResult {m['scenario']} seed {m['seed']} {m['start']} to {m['end']}: {len(sh)} demand facilities, "
            f"{lost}, {len(result.lead_times):,} shipments>")


def headline_frame(result, rows: int = 12) -> pd.DataFrame:
    """The worst ``rows`` demand facilities: units and share lost, stopped days, dates."""
    sh = to_text(result.shortages).sort_values("share_lost", ascending=False, kind="stable").head(rows)
    return pd.DataFrame({
        "facility": sh["facility"], "country": sh["country"], "sector": sh["sector"],
        "units lost": sh["units_lost"].map(lambda v: f"{v:,.0f}"),
        "lost": sh["share_lost"].map(lambda v: f"{100 * v:.1f}%"),
        "stopped days": sh["stopped_days"].map(lambda v: f"{v:.0f}"),
        "first stop": sh["first_stop"].replace("", "-"),
        "longest stop (days)": sh["longest_stop_days"].map(lambda v: f"{v:.0f}"),
        "recovered": sh["recovered"].replace("", "-"),
    })


def html_repr(result, rows: int = 12) -> str:
    m = result.manifest
    title = html.escape(f"{m['scenario']} · seed {m['seed']} · {m['start']} to {m['end']}")
    more = len(result.shortages) - rows
    note = f"<p>{more} more demand facilities in <code>result.shortages</code>.</p>" if more > 0 else ""
    table = headline_frame(result, rows).to_html(index=False, escape=True, border=0)
    return f"<div><p><b>{title}</b></p><p>Shortages by demand facility, worst first</p>{table}{note}</div>"
