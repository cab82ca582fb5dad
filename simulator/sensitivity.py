"""Sobol' sensitivity indices for sweeps with a ``sobol`` design (SALib, optional).

    pip install -e '.[sensitivity]'

The design is Saltelli's extension of a Sobol' sequence (``SALib.sample.sobol``), drawn on the
unit cube and mapped onto each parameter by :mod:`simulator.sweep`; the indices (first-order
``S1`` and total ``ST``, with bootstrap confidence intervals) come from ``SALib.analyze.sobol``.
SALib is imported inside the functions, so the rest of the simulator works without it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["SensitivityUnavailable", "require_salib", "saltelli_unit_sample", "sobol_indices", "sweep_indices",
           "format_ranking"]

INSTALL_HINT = "install resim[sensitivity] (pip install -e '.[sensitivity]', which installs SALib)"


class SensitivityUnavailable(ImportError):
    """SALib is not installed."""


def require_salib():
    try:
        import SALib  # noqa: F401
        from SALib.analyze import sobol as analyze
        from SALib.sample import sobol as sample
    except ImportError:
        raise SensitivityUnavailable(f"a sobol design needs SALib: {INSTALL_HINT}") from None
    return sample, analyze


def _problem(names: Sequence[str]) -> dict:
    return {"num_vars": len(names), "names": list(names), "bounds": [[0.0, 1.0]] * len(names)}


def saltelli_unit_sample(names: Sequence[str], base_points: int, second_order: bool, seed: int) -> np.ndarray:
    """Saltelli's sample on the unit cube: ``base_points * (2D + 2)`` rows with second-order
    indices, ``base_points * (D + 2)`` without; row order is what :func:`sobol_indices` expects."""
    sample, _ = require_salib()
    return np.asarray(sample.sample(_problem(names), base_points, calc_second_order=second_order, seed=seed), dtype=float)


def sobol_indices(names: Sequence[str], y: Sequence[float], second_order: bool = False, resamples: int = 1000,
                  conf_level: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """First-order and total Sobol' indices of ``y`` (model outputs at the rows of
    :func:`saltelli_unit_sample`, same order), one row per parameter:
    ``parameter, S1, S1_low, S1_high, ST, ST_low, ST_high`` (bootstrap intervals at ``conf_level``)."""
    _, analyze = require_salib()
    y = np.asarray(y, dtype=float)
    res = analyze.analyze(_problem(names), y, calc_second_order=second_order, num_resamples=resamples,
                          conf_level=conf_level, print_to_console=False, seed=seed)
    s1, s1c, st, stc = (np.asarray(res[k], dtype=float) for k in ("S1", "S1_conf", "ST", "ST_conf"))
    out = pd.DataFrame({"parameter": list(names), "S1": s1, "S1_low": s1 - s1c, "S1_high": s1 + s1c,
                        "ST": st, "ST_low": st - stc, "ST_high": st + stc})
    if second_order and len(names) > 1:
        s2 = np.asarray(res["S2"], dtype=float)
        for j, other in enumerate(names):
            out[f"S2.{other}"] = s2[:, j]
    return out


def sweep_indices(runs: pd.DataFrame, parameters: Sequence[str], metrics: Sequence[str], points: int,
                  second_order: bool = False, resamples: int = 1000, conf_level: float = 0.95,
                  seed: int = 0) -> tuple[pd.DataFrame, dict[str, str]]:
    """Indices per metric from a Sobol' sweep's runs: the model output at a point is the mean of
    its replications that did not fail. Returns (table, {metric: why it was skipped}); a metric is
    skipped when some point has no value (every replication failed, or the metric is undefined
    there, such as ``first_stop_day`` of a line that never stopped) or when it does not vary."""
    ok = runs[runs["error"].isna()] if "error" in runs else runs
    frames, skipped = [], {}
    for metric in metrics:
        if metric not in ok:
            skipped[metric] = "not collected"
            continue
        y = ok.groupby("point_id")[metric].mean().reindex(range(points))
        missing = int(y.isna().sum())
        if missing:
            skipped[metric] = f"no value at {missing} of {points} points"
            continue
        if float(y.std()) == 0.0:
            skipped[metric] = "constant over the design"
            continue
        table = sobol_indices(parameters, y.to_numpy(), second_order, resamples, conf_level, seed)
        table.insert(0, "metric", metric)
        frames.append(table)
    columns = ["metric", "parameter", "S1", "S1_low", "S1_high", "ST", "ST_low", "ST_high"]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    return table, skipped


def format_ranking(table: pd.DataFrame, skipped: dict[str, str] | None = None, conf_level: float = 0.95) -> str:
    """Per metric, parameters ranked by total index, with their intervals."""
    lines = [f"Sobol' sensitivity (first-order S1 and total ST, {conf_level:.0%} intervals; ranked by ST)"]
    for metric, g in table.groupby("metric", sort=False):
        lines.append(f"  {metric}")
        width = max(len(p) for p in g["parameter"])
        for rank, row in enumerate(g.sort_values("ST", ascending=False).itertuples(index=False), 1):
            lines.append(f"    {rank}. {row.parameter:<{width}}  ST {row.ST:6.3f} [{row.ST_low:6.3f}, {row.ST_high:6.3f}]"
                         f"   S1 {row.S1:6.3f} [{row.S1_low:6.3f}, {row.S1_high:6.3f}]")
    for metric, why in (skipped or {}).items():
        lines.append(f"  {metric}: skipped ({why})")
    return "\n".join(lines)
