"""The posterior as tables: samples, per-parameter intervals with an identifiability verdict,
and pairwise correlations."""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import smc

#: narrowing = 1 - (posterior 90% interval width / prior 90% interval width)
IDENTIFIED, WEAK = 0.5, 0.2  # at least 0.5: identified; 0.2 to 0.5: weakly identified; below: not identified


def verdict(narrowing: float) -> str:
    if not np.isfinite(narrowing):
        return "not identified"
    return "identified" if narrowing >= IDENTIFIED else "weakly identified" if narrowing >= WEAK else "not identified"


def samples(names: list[str], theta: np.ndarray, weights: np.ndarray) -> pd.DataFrame:
    """``posterior.csv``: one row per particle: ``particle``, ``weight`` (summing to 1), the parameters."""
    frame = pd.DataFrame(theta, columns=names)
    frame.insert(0, "weight", weights / weights.sum())
    frame.insert(0, "particle", np.arange(len(theta)))
    return frame


def parameters(names: list[str], priors: list, frozen: list, theta: np.ndarray, weights: np.ndarray) -> pd.DataFrame:
    """``parameters.csv``: per parameter the prior (``prior``, its ``prior_p05``/``prior_p95``), the
    posterior ``median``, 50% (``p25``..``p75``) and 90% (``p05``..``p95``) intervals, ``narrowing``
    (1 - posterior / prior 90% width: 0 = the data said nothing, 1 = a point) and ``verdict``."""
    rows = []
    for k, (name, prior, dist) in enumerate(zip(names, priors, frozen)):
        p05, p25, p50, p75, p95 = smc.weighted_quantiles(theta[:, k], weights, [0.05, 0.25, 0.5, 0.75, 0.95])
        lo, hi = float(dist.ppf(0.05)), float(dist.ppf(0.95))
        narrowing = 1.0 - (p95 - p05) / (hi - lo) if hi > lo else np.nan
        rows.append({"parameter": name, "prior": prior.describe(), "prior_p05": lo, "prior_p95": hi,
                     "median": p50, "p25": p25, "p75": p75, "p05": p05, "p95": p95,
                     "narrowing": narrowing, "verdict": verdict(narrowing)})
    return pd.DataFrame(rows)


def correlations(names: list[str], theta: np.ndarray, weights: np.ndarray) -> pd.DataFrame:
    """``correlations.csv``: weighted Pearson correlations between the parameters' posterior samples."""
    corr = smc.weighted_corr(theta, weights) if len(names) > 1 else np.ones((1, 1))
    frame = pd.DataFrame(corr, index=names, columns=names)
    frame.index.name = "parameter"
    return frame.reset_index()
