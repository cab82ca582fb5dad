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

from pathlib import Path

# besides __all__, the constants, page parts and chart functions stay importable from simulator.report
from .compare import build_compare_report, compare
from .compare import default_folder as compare_folder_name
from .data import MAX_FIGURES, REPORT_NAME, TABLES, ReportError, RunData, load_run  # noqa: F401
from .html import Chart, Section  # noqa: F401
from .replications import section_replications  # noqa: F401
from .run import (build_run_report, chart_cover, chart_flows, chart_lead_times, chart_licensing,  # noqa: F401
                  chart_production, chart_timeline, headline_rows)
from .sweep import build_sweep_report

__all__ = ["ReportError", "build_report", "build_run_report", "build_compare_report", "compare", "compare_folder_name", "build_sweep_report", "RunData", "load_run",
           "headline_rows"]


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
