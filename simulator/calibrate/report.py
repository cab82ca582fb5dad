"""The calibration's report: ``report.html`` with the posterior intervals and verdicts, the
marginal posteriors against their priors, correlations, the rounds, and the posterior
predictive chart (``predictive.png``: the final particles' simulations against the observed series)."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pandas as pd

from ..safe_write import replacing, write_text
from ..score_output import draw_series

_CSS = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:0 auto;padding:16px 24px;color:#222}"
        "table{border-collapse:collapse;font-size:.9em;margin:.6em 0}th,td{border:1px solid #ddd;padding:3px 8px}"
        "th{background:#f3f3f3}td.n{text-align:right}.note{color:#555}img{max-width:100%;border:1px solid #eee}")


def _table(frame: pd.DataFrame, digits: int = 4) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = []
    for values in frame.itertuples(index=False, name=None):
        cells = []
        for v in values:
            if isinstance(v, (float, np.floating)):
                cells.append(f'<td class="n">{"-" if not np.isfinite(v) else f"{v:.{digits}g}"}</td>')
            else:
                cells.append(f"<td>{html.escape(str(v))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def draw_marginals(names, frozen, theta: np.ndarray, weights: np.ndarray, path: Path) -> Path:
    """Each parameter's weighted posterior histogram against its prior density."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.2), squeeze=False)
    for k, (ax, name, dist) in enumerate(zip(axes[0], names, frozen)):
        lo, hi = float(dist.ppf(0.001)), float(dist.ppf(0.999))
        ax.hist(theta[:, k], bins=25, range=(lo, hi), weights=weights, density=True, color="#1f77b4", alpha=0.6,
                label="posterior")
        x = np.linspace(lo, hi, 200)
        ax.plot(x, dist.pdf(x), color="black", linewidth=1, label="prior")
        ax.set_title(name.split(".")[-2] + "." + name.split(".")[-1] if name.count(".") else name, fontsize=9)
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    with replacing(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=100)
    plt.close(fig)
    return path


def write_report(folder: Path, title: str, params: pd.DataFrame, corr: pd.DataFrame, rounds: pd.DataFrame,
                 predictive: pd.DataFrame, meta: dict, names, frozen, theta, weights) -> Path:
    draw_series(predictive, folder / "predictive.png", f"{title}: posterior predictive against the observed series")
    draw_marginals(names, frozen, theta, weights, folder / "marginals.png")
    coverage = predictive["in_band"].mean()
    body = [
        f"<h1>Calibration {html.escape(title)}</h1>",
        f"<p class='note'>{html.escape(meta['about'])}</p>",
        "<h2>Parameters</h2>",
        "<p class='note'>Posterior median and 50%/90% intervals (weighted particles). narrowing = 1 - posterior "
        "90% width / prior 90% width; identified from 0.5, weakly identified 0.2-0.5, else not identified "
        "(the data leave the prior about as it was: the interval is the prior's, not a finding).</p>",
        _table(params),
        "<h2>Posterior against prior</h2><img src='marginals.png' alt='marginal posteriors'>",
        "<h2>Posterior predictive</h2>",
        f"<p class='note'>The final particles' simulations (median and 90% band, weighted) against the observed "
        f"months; {coverage:.0%} of observed months lie in the band.</p>",
        "<img src='predictive.png' alt='posterior predictive'>",
        "<h2>Correlations between parameters</h2>", _table(corr, 3),
        "<h2>Rounds</h2><p class='note'>eps: the ABC tolerance (root mean square difference of the summary "
        "statistics); ess: effective sample size; runs: simulations of the round.</p>", _table(rounds),
    ]
    page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{_CSS}</style></head><body>{''.join(body)}</body></html>\n")
    return write_text(folder / "report.html", page)
