"""Summaries per point and metric, and their text tables."""

from __future__ import annotations

import inspect
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .plan import Plan


CI_RESAMPLES = 2000  # bootstrap resamples per interval
CI_SEED = 95  # the bootstrap's seed (with the sample size): the same values always give the same interval
_CI_CELLS = 8_000_000  # at most this many resampled values in memory at once (64 MB)


def mean_ci95(samples: Sequence[np.ndarray]) -> np.ndarray:
    """95% bootstrap percentile intervals of the mean, one ``(low, high)`` row per sample.

    Percentiles of the means of :data:`CI_RESAMPLES` resamples (``scipy.stats.bootstrap``,
    ``method="percentile"``): the bounds are means of actual values, so a quantity that cannot
    be negative (units lost, stopped days, lead times, counts) never gets a negative bound, unlike
    a Student t interval of a skewed sample such as ``[0, 0, 0, 0, 10]``. The interval is widened
    to the mean if the resamples put it just outside. NaNs are dropped first; with all values
    equal (two or more) both bounds are the mean; with one value or none there is no interval
    (NaN): one run says nothing about its spread.

    Reproducible: the resamples depend only on :data:`CI_SEED` and the sample size, so the same
    values give the same interval whatever else is summarised with them. Samples of one size are
    resampled together (vectorised, in chunks of at most :data:`_CI_CELLS` resampled values).
    """
    from scipy import stats

    clean = [np.asarray(v, dtype=float) for v in samples]
    clean = [v[~np.isnan(v)] for v in clean]
    out = np.full((len(clean), 2), math.nan)
    by_size: dict[int, list[int]] = {}
    for i, v in enumerate(clean):
        if len(v) < 2:
            continue
        if v.min() == v.max():
            out[i] = v.mean()
        else:
            by_size.setdefault(len(v), []).append(i)
    key = "rng" if "rng" in inspect.signature(stats.bootstrap).parameters else "random_state"  # scipy < 1.15
    for n, rows in by_size.items():
        chunk = max(1, _CI_CELLS // (CI_RESAMPLES * n))  # rows at once, from n alone: results do not depend on it
        batch = None if CI_RESAMPLES * n <= _CI_CELLS else max(1, _CI_CELLS // n)
        for start in range(0, len(rows), chunk):
            part = rows[start:start + chunk]
            data = np.vstack([clean[i] for i in part])
            ci = stats.bootstrap((data,), np.mean, n_resamples=CI_RESAMPLES, batch=batch, vectorized=True, axis=-1,
                                 confidence_level=0.95, method="percentile",
                                 **{key: np.random.default_rng([CI_SEED, n])}).confidence_interval
            means = data.mean(axis=-1)
            out[part, 0] = np.minimum(ci.low, means)
            out[part, 1] = np.maximum(ci.high, means)
    return out


def _stats(values: np.ndarray) -> dict[str, float]:
    """n, mean, sd and percentiles of the values that are not NaN (the interval: :func:`mean_ci95`)."""
    v = values[~np.isnan(values)]
    n = len(v)
    out = {"n": n, "mean": math.nan, "sd": math.nan, "p10": math.nan, "p50": math.nan, "p90": math.nan}
    if n == 0:
        return out
    out.update(mean=float(v.mean()), p10=float(np.percentile(v, 10)), p50=float(np.percentile(v, 50)),
               p90=float(np.percentile(v, 90)))
    if n > 1:
        out.update(sd=float(v.std(ddof=1)))
    return out


def summarise(runs: pd.DataFrame, parameters: Sequence[str] | None = None, metrics: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per point and metric: ``n`` (runs where the metric has a value), ``failed`` (runs
    of the point that raised), mean, sd, 95% CI of the mean (``ci95_low``, ``ci95_high``: bootstrap
    percentile interval, :func:`mean_ci95`), p10, p50, p90.

    Statistics are over the runs where the metric is defined: ``first_stop_day`` of a line that
    never stopped is NaN, so ``n`` says in how many runs it stopped."""
    parameters = list(runs.attrs.get("parameters", []) if parameters is None else parameters)
    metrics = list(runs.attrs.get("metrics", []) if metrics is None else metrics)
    rows, samples = [], []
    for point_id, g in runs.groupby("point_id", sort=True):
        failed = int(g["error"].notna().sum()) if "error" in g else 0
        ok = g[g["error"].isna()] if "error" in g else g
        head = {"point_id": int(point_id), **{p: g[p].iloc[0] for p in parameters}}
        for metric in metrics:
            values = pd.to_numeric(ok[metric], errors="coerce").to_numpy(dtype=float) if metric in ok else np.array([])
            rows.append({**head, "metric": metric, "failed": failed, **_stats(values)})
            samples.append(values)
    for row, (low, high) in zip(rows, mean_ci95(samples)):  # all intervals at once: vectorised
        row.update(ci95_low=float(low), ci95_high=float(high))
    columns = ["point_id", *parameters, "metric", "n", "failed", "mean", "sd", "ci95_low", "ci95_high", "p10", "p50", "p90"]
    return pd.DataFrame(rows, columns=columns)


def _num(x: float) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    ax = abs(x)
    if ax != 0 and (ax >= 1e6 or ax < 1e-3):
        return f"{x:.3g}"
    return f"{x:,.4g}" if ax < 1000 else f"{x:,.0f}"


def _value(metric: str, x: float) -> str:
    """A metric's value as printed: shares (``share_*``) in per cent, the rest as numbers."""
    if metric.startswith("share_") and x is not None and not (isinstance(x, float) and math.isnan(x)):
        return f"{x * 100:.3g}%"
    return _num(x)


def format_replications(summary: pd.DataFrame, info: dict, plan: Plan) -> str:
    lines = [f"{plan.description.get('scenario', plan.name)}: {plan.replications} replications "
             f"(seed {plan.seed}, child seeds from SeedSequence), {_run_counts(info)}"]
    table = [("metric", "n", "mean", "sd", "95% CI", "p10", "p50", "p90")]
    for row in summary.itertuples(index=False):
        v = lambda x, m=row.metric: _value(m, x)  # noqa: E731 - shares in per cent
        ci = f"[{v(row.ci95_low)}, {v(row.ci95_high)}]"
        table.append((row.metric, str(row.n), v(row.mean), v(row.sd), ci, v(row.p10), v(row.p50), v(row.p90)))
    lines += _columns(table)
    lines.append("n: replications in which the metric is defined (first_stop_day: in which the line stopped)")
    return "\n".join(lines)


def _run_counts(info: dict) -> str:
    text = f"{info['ran']} run now"
    if info["skipped"]:
        text += f", {info['skipped']} already done"
    text += f", {info['failed']} failed, {info['seconds']:.1f} s on {info['workers']} worker{'s' if info['workers'] != 1 else ''}"
    return text


def _columns(rows: list[tuple]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for k, r in enumerate(rows):
        out.append("  " + "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
        if k == 0:
            out.append("  " + "  ".join("-" * w for w in widths))
    return out


def format_sweep(summary: pd.DataFrame, info: dict, plan: Plan, max_points: int = 24) -> str:
    lines = [f"sweep {plan.name}: {len(plan.points)} points x {plan.replications} replications = {plan.runs} runs "
             f"({plan.design['type']} design over {', '.join(plan.parameters) or 'no parameters'}); {_run_counts(info)}"]
    for metric, g in summary.groupby("metric", sort=False):
        lines.append(f"\n{metric}: mean [95% CI] per point")
        shown = g if len(g) <= max_points else g.sort_values("mean", ascending=False, na_position="last").head(max_points // 2)
        if len(g) > max_points:
            lines.append(f"  (the {len(shown)} highest of {len(g)} points; all in summary.csv)")
        rows = [("point", *plan.parameters, "n", "mean", "95% CI")]
        for d in shown.to_dict("records"):
            values = [_num(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v)
                      for v in (d[p] for p in plan.parameters)]
            rows.append((str(d["point_id"]), *values, str(d["n"]), _value(metric, d["mean"]),
                         f"[{_value(metric, d['ci95_low'])}, {_value(metric, d['ci95_high'])}]"))
        lines += _columns(rows)
    return "\n".join(lines)
