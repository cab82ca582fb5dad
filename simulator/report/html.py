"""The HTML page: sections of charts and notes, tables (pandas' Styler), jinja2 templates with
autoescaping, number formats, and the atomic write."""

from __future__ import annotations

import datetime as dt
import itertools
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import pandas as pd
from markupsafe import Markup
from pandas.io.formats.style import Styler

from ..safe_write import write_text

_ENV = jinja2.Environment(loader=jinja2.PackageLoader("simulator.report", "templates"),
                          autoescape=True, trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
_TABLE_IDS = itertools.count()


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
    html: Markup | str = ""  # HTML made by table() or render(); a plain str is escaped on the page


def render(template: str, **context) -> Markup:
    """A template of ``templates/`` rendered with autoescaping: safe to place in a page."""
    return Markup(_ENV.get_template(template).render(**context))


_DATE = re.compile(r"^(\d{4}-\d{2}(-\d{2})?|–|none)$")


def table(frame: pd.DataFrame, numeric: Sequence[str] = (), formats: Mapping[str, Callable] | None = None,
          wrap: Sequence[str] = ()) -> Markup:
    """``frame`` as an HTML table (pandas' Styler; every cell and heading escaped). ``numeric``
    columns are right-aligned; ``formats`` maps a column to the function that writes its cells;
    ``wrap`` columns (long text) wrap within a readable width; dates never break. On a narrow
    screen the table scrolls sideways in its own box, never the page."""
    if frame.empty:
        return Markup("")
    frame = frame.reset_index(drop=True)
    styler = Styler(frame, cell_ids=False, uuid=f"t{next(_TABLE_IDS)}").hide(axis="index")
    styler = styler.format(formats or {}, escape="html", na_rep="–").format_index(escape="html", axis=1)
    classes = pd.DataFrame("", index=frame.index, columns=frame.columns)
    for column in frame.columns:
        if frame[column].map(lambda v: bool(_DATE.match(str(v)))).all():
            classes[column] = "nowrap"
    for column in numeric:
        classes[column] = "num"
    for column in wrap:
        classes[column] = "wrap"
    styler = styler.set_td_classes(classes).set_table_attributes('class="data"')
    return Markup('<div class="scroll">') + Markup(styler.to_html()) + Markup("</div>")


def num(v, digits: int = 0) -> str:
    """1234.5 -> '1,235'; NaN -> '–'; never '-0' (a value that rounds to zero has no sign)."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    text = f"{float(v):,.{digits}f}"
    return text.lstrip("-") if float(text.replace(",", "")) == 0 else text


def signed(v, digits: int = 0, unit: str = "") -> str:
    """A difference: '+12', '−3.5', '0' (never '-0' or '+0')."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    text = num(v, digits)
    if text.strip("0.,") == "":
        return f"0{unit}"
    return (text if text.startswith("-") else "+" + text).replace("-", "−") + unit


def pct(share, digits: int = 1) -> str:
    """A share (0.123) as a percentage ('12.3%')."""
    return "–" if share is None or (isinstance(share, float) and math.isnan(share)) else num(100 * float(share), digits) + "%"


def page(title: str, meta: Sequence[Sequence[tuple[str, str]]], sections: Sequence[Section], summary: Markup | str = "",
         folder_note: str = "") -> str:
    """The whole page. ``meta``: lines of (label, value) pairs under the title."""
    return _ENV.get_template("page.html.j2").render(
        title=title, meta=meta, sections=sections, summary=summary, folder_note=folder_note,
        made=dt.datetime.now().isoformat(timespec="seconds"))


def _write(path: Path, text: str) -> Path:
    return write_text(path, text)  # a new file renamed over: never through a planted link
