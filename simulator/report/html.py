"""The HTML page: sections of charts and notes, tables, CSS, and the atomic write."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..safe_write import write_text


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
    return write_text(path, text)  # a new file renamed over: never through a planted link
