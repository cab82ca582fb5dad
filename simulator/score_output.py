"""Writing and printing a score (``resim score``), and the chart of simulated against observed
months (also the posterior predictive chart of a calibration)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from .observed import ObservedError
from .safe_write import make_dir, replacing, write_text

__all__ = ["draw_series", "write_score", "format_score", "check_out"]

_MAX_PANELS = 6


def draw_series(table: pd.DataFrame, path: Path, title: str) -> Path:
    """One panel per series (reporter, partner, HS code, material; at most six): the observed
    months as dots and a line, the simulated median as a line and its 90% band shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = ["reporter", "partner", "hs_code", "material"]
    groups = list(table.groupby(keys, sort=False))[:_MAX_PANELS]
    fig, axes = plt.subplots(len(groups), 1, figsize=(9, 2.8 * len(groups) + 0.6), squeeze=False)
    for ax, (key, g) in zip(axes[:, 0], groups):
        x = pd.to_datetime(g["period"].astype(str), format="%Y%m")
        if g["simulated_p05_t"].notna().any():
            ax.fill_between(x, g["simulated_p05_t"], g["simulated_p95_t"], color="#1f77b4", alpha=0.25,
                            label="simulated 90% band", step=None)
        ax.plot(x, g["simulated_p50_t"], color="#1f77b4", label="simulated median")
        ax.plot(x, g["observed_t"], color="black", marker="o", markersize=3, linewidth=1, label="observed")
        ax.set_title(" / ".join(str(k) for k in key if str(k)), fontsize=10)
        ax.set_ylabel("tonnes a month")
        ax.grid(alpha=0.3)
        ax.set_ylim(bottom=0)
    axes[0, 0].legend(fontsize=8, loc="best")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    with replacing(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=100)
    plt.close(fig)
    return path


def check_out(folder: Path, marker: str) -> None:
    """Refuse an output folder that is not new, empty, or an earlier one of the same command (it holds ``marker``)."""
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise ObservedError([f"{folder}: expected a folder for the results, got a file or a link; choose another --out"])
    if folder.is_dir() and any(folder.iterdir()) and not (folder / marker).is_file():
        raise ObservedError([f"{folder}: not empty and not an earlier result of this command (no {marker}); nothing was "
                             "changed; choose another --out (a new or empty folder)"])


def write_score(table: pd.DataFrame, summary: pd.DataFrame, out: Path, about: dict) -> Path:
    """``score.csv`` (the table), ``score_summary.csv``, ``score.png`` and ``score.json`` in ``out``."""
    check_out(out, "score.json")
    make_dir(out)
    for name, frame in (("score.csv", table), ("score_summary.csv", summary)):
        with replacing(out / name) as handle:
            frame.to_csv(handle, index=False, float_format="%.6g", lineterminator="\n")
    draw_series(table, out / "score.png", f"{Path(str(about.get('run', ''))).name}: simulated against observed exports")
    write_text(out / "score.json", json.dumps(about, indent=2, default=str) + "\n")
    return out


def format_score(table: pd.DataFrame, summary: pd.DataFrame) -> str:
    shown = table.copy()
    for c in ("observed_t", "simulated_p50_t", "simulated_p05_t", "simulated_p95_t", "error_t"):
        shown[c] = shown[c].map(lambda v: "-" if pd.isna(v) else f"{v:,.1f}")
    shown["abs_pct_error"] = shown["abs_pct_error"].map(lambda v: "-" if pd.isna(v) else f"{v:.1f}%")
    shown["in_band"] = shown["in_band"].map(lambda v: "-" if pd.isna(v) else "yes" if v else "no")
    cols = ["reporter", "partner", "hs_code", "period", "observed_t", "simulated_p50_t", "simulated_p05_t",
            "simulated_p95_t", "error_t", "abs_pct_error", "in_band"]
    lines = ["Observed against simulated (tonnes a month; band: 5th-95th percentile over replications)",
             shown[cols].to_string(index=False), "", "Summary"]
    s = summary.copy()
    s["mape_pct"] = s["mape_pct"].map(lambda v: "-" if pd.isna(v) else f"{v:.1f}%")
    s["index_error_points"] = s["index_error_points"].map(lambda v: "-" if pd.isna(v) else f"{v:.1f}")
    s["share_in_band"] = s["share_in_band"].map(lambda v: "- (one run: no band)" if pd.isna(v) else f"{v:.0%}")
    lines.append(s.to_string(index=False))
    return "\n".join(lines)
