"""Run folders read back for the reports: RunData, load_run, ReportError and small helpers."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .. import plots
from ..plots import MAX_PANELS

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
    "production_firms_daily": ("production_firms_daily.csv", ["date", "facility", "firm", "planned_units", "produced_units"]),
    "events": ("events.csv", ["date", "action", "target", "detail"]),
    "prices_monthly": ("prices_monthly.csv", ["month", "material", "market", "price_per_kg", "reference_per_kg", "index"]),
    "market_responses": ("market_responses.csv", ["month", "kind", "facility", "material", "value"]),
}
# Tables of optional layers (markets): run folders written before them do not have the files,
# which then read as empty without being reported missing.
OPTIONAL = {"prices_monthly.csv", "market_responses.csv"}
_STRING_COLUMNS = {"facility", "sector", "country", "unit", "first_stop", "recovered", "output", "first_starved",
                   "material", "supplier", "buyer", "exporter", "destination", "mode", "ordered", "delivered",
                   "month", "control", "applied", "decided", "decision", "date", "action", "target", "detail",
                   "market", "kind"}


class ReportError(Exception):
    """A problem with the user's input (a folder that is not a run, a sweep without a table):
    the message is one line meant for the terminal."""


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
            if filename not in OPTIONAL:
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


def _fmt_num(v: float, digits: int = 0) -> str:
    from .html import num  # no "-0"

    return num(v, digits)


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
    return list(sh.sort_values(["share_lost", "units_lost", "facility"], ascending=[False, False, True],
                               kind="stable")["facility"].astype(str))


def _cross_border(fl: pd.DataFrame) -> pd.DataFrame:
    return fl[fl["exporter"].astype(str) != fl["destination"].astype(str)]
