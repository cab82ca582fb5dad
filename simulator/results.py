"""Writing a run's outputs: a results folder that appears whole or not at all.

Files are written into a hidden temporary folder beside the target and renamed into place at
the end, so an interrupted or failed run never leaves partial results behind (one killed
outright leaves its hidden folder, removed by the next run writing beside it: see
:mod:`simulator.safe_write`).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from . import interrupts, safe_write
from .table_dates import to_text
from .runner import RunResult

__all__ = ["write_run", "run_id", "format_summary", "OutputExistsError"]

# Table name -> file name. Columns are documented where they are computed (simulator.metrics).
FILES = {
    "shortages": "shortages.csv",
    "plants": "plants.csv",
    "lead_times": "lead_times.csv",
    "lead_time_stats": "lead_time_stats.csv",
    "flows_monthly": "flows_monthly.csv",
    "licences": "licences.csv",
    "licences_weekly": "licences_weekly.csv",
    "inventory_daily": "inventory_daily.csv",
    "production_daily": "production_daily.csv",
    "events": "events.csv",
    "shortages_firms": "shortages_firms.csv",
    "production_firms_daily": "production_firms_daily.csv",
    "prices_monthly": "prices_monthly.csv",  # the market layer (simulator.market_metrics): empty without markets
    "market_responses": "market_responses.csv",
    "flows_customs": "flows_customs.csv",  # exports in the customs shape (simulator.customs)
}


class OutputExistsError(Exception):
    """The requested output folder exists and is not empty."""


def run_id(result: RunResult) -> str:
    stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S")
    return f"{stamp}-seed{result.seed}-{result.manifest['scenario_sha256'][:8]}"


def _clean(value):
    """JSON cannot hold NaN: write null instead."""
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item"):  # numpy scalars
        return _clean(value.item())
    return value


def _dump(path: Path, data) -> None:
    safe_write.write_text(path, json.dumps(_clean(data), indent=2, sort_keys=False) + "\n")


def write_run(result: RunResult, out: str | Path | None = None, results_root: str | Path = "results",
              finish: Callable[[Path], object] | None = None) -> Path:
    """Write all files of ``result`` to ``out`` (default ``results/<scenario>/<run-id>/``).

    ``finish(folder)`` runs on the complete folder before it is moved into place (the report
    is built there), so the folder appears with everything or not at all."""
    if out is None:
        parent = Path(results_root) / result.scenario.name
        target = parent / run_id(result)
        suffix = 1
        while os.path.lexists(target):
            suffix += 1
            target = parent / f"{run_id(result)}-{suffix}"
    else:
        target = Path(out)
        if target.is_symlink():
            raise OutputExistsError(f"{target}: is a symbolic link; choose another --out")
        if target.exists() and (not target.is_dir() or any(target.iterdir())):
            raise OutputExistsError(f"{target}: output folder exists and is not empty; choose another --out")
    target.parent.mkdir(parents=True, exist_ok=True)
    safe_write.remove_stale_temp_dirs(target.parent)  # left by runs that were killed
    tmp = safe_write.make_temp_dir(target)
    try:
        for name, filename in FILES.items():
            frame: pd.DataFrame = to_text(result.tables[name])  # dates as ISO text, '' where missing
            with safe_write.replacing(tmp / filename) as handle:
                frame.to_csv(handle, index=False, float_format="%.9g", lineterminator="\n")
        _dump(tmp / "summary.json", {**result.summary, "headline": result.headline})
        _dump(tmp / "manifest.json", {**result.manifest, "files": sorted([*FILES.values(), "summary.json"])})
        if finish is not None:
            finish(tmp)
        interrupts.check()  # a signal whose KeyboardInterrupt was lost on the way: nothing is committed
        safe_write.seal_temp_dir(tmp)
        if target.exists():
            target.rmdir()  # empty, checked above
        os.replace(tmp, target)
    except BaseException:
        with interrupts.shielded():  # a second Ctrl-C must not leave the folder half removed
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def format_summary(result: RunResult) -> str:
    """The short text summary ``resim run`` prints."""
    m = result.manifest
    lines = [
        f"scenario {m['scenario']}  seed {m['seed']}  {m['start']} to {m['end']}  "
        f"({m['wall_seconds']:.2f} s, mass balance residual {m['mass_balance']['residual_t']:.2g} t)",
        "",
        "Shortages by demand facility (worst first)",
    ]
    # Worst first: the lines that lost the largest share of their plan lead the table.
    sh = to_text(result.shortages).sort_values("share_lost", ascending=False, kind="stable")
    if len(sh):
        table = pd.DataFrame({
            "facility": sh["facility"], "country": sh["country"], "sector": sh["sector"],
            "units_lost": sh["units_lost"].map(lambda v: f"{v:,.0f}"),
            "lost": sh["share_lost"].map(_pct),
            "stopped_days": sh["stopped_days"].map(lambda v: f"{v:.0f}"),
            "first_stop": sh["first_stop"].replace("", "-"),
            "longest_stop": sh["longest_stop_days"].map(lambda v: f"{v:.0f}"),
            "recovered": sh["recovered"].replace("", "-"),
        })
        lines.append(table.to_string(index=False))
    else:
        lines.append("  (no demand facilities)")
    lines += ["", "Lead times by destination (days, order to delivery)"]
    dest = result.summary["destinations"]
    if dest:
        table = pd.DataFrame([
            {"destination": d, "shipments": v["shipments"], "p50": f"{v['lead_time_p50_days']:.1f}",
             "p90": f"{v['lead_time_p90_days']:.1f}", "wait_stock": f"{v['wait_stock_mean_days']:.1f}",
             "wait_licence": f"{v['wait_licence_mean_days']:.1f}", "transit": f"{v['transit_mean_days']:.1f}"}
            for d, v in sorted(dest.items())
        ])
        lines.append(table.to_string(index=False))
    else:
        lines.append("  (no deliveries)")
    return "\n".join(lines)
