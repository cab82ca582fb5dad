"""How a sweep report shows values: shares in %, parameter labels in words, tick labels that
tell values apart, which points the replications cannot tell from the best, and colour scales
no narrower than the noise."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .html import pct

_HIGHER_IS_BETTER = ("first_stop_day", "exports_t", "licences_approved")


def _is_share(metric: str) -> bool:
    return metric.split(".")[0].startswith("share_")


def _value_text(metric: str, v: float) -> str:
    """A metric's value as a reader wants it: shares in %, others with 3 significant digits."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if _is_share(metric):
        return pct(v)
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    text = f"{v:.3g}"
    return "0" if float(text) == 0 else text


def parameter_label(parameter: str, labels: dict | None = None) -> str:
    """The sweep's own label of a parameter, else its last part in words with its owner:
    'controls.cn_licence.approval_probability' -> 'approval probability (cn_licence)'."""
    if labels and labels.get(parameter):
        return str(labels[parameter])
    parts = parameter.split(".")
    if len(parts) < 2:
        return parameter.replace("_", " ")
    owner = parts[1] if parts[0] in ("controls", "facilities", "routes", "markets") else parts[-2]
    rest = [p for p in parts[2:-1] if p not in ("policy", "firms")] if parts[0] in ("controls", "facilities") else []
    return f"{parts[-1].replace('_', ' ')} ({' '.join([owner, *rest])})"


def tick_labels(values) -> list[str]:
    """Labels for distinct parameter values, with as many significant digits as needed for no two
    to read the same."""
    values = list(values)
    if not all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in values):
        return [str(v) for v in values]
    for digits in range(3, 12):
        got = [f"{float(v):.{digits}g}" for v in values]
        if len(set(got)) == len(set(float(v) for v in values)):
            return got
    return [repr(v) for v in values]


def overlaps_best(st: pd.DataFrame, metric: str) -> pd.Series:
    """Per point: whether its 95% interval overlaps the interval of the best point (lowest mean for
    losses, stops, lead times; highest for first stop day, exports, approvals): points that the
    replications cannot tell apart from the best."""
    higher = metric.split(".")[0] in _HIGHER_IS_BETTER
    means = st["mean"]
    if means.notna().sum() == 0:
        return pd.Series(False, index=st.index)
    best = means.idxmax() if higher else means.idxmin()
    low, high = st["low"].fillna(st["mean"]), st["high"].fillna(st["mean"])
    return (low <= high[best]) & (high >= low[best]) & means.notna()


def colour_range(st: pd.DataFrame) -> tuple[float, float]:
    """The means' range, widened about its middle to at least twice the median interval width."""
    lo, hi = float(np.nanmin(st["mean"])), float(np.nanmax(st["mean"]))
    width = float(np.nanmedian(st["high"] - st["low"])) if st["high"].notna().any() else 0.0
    need = 2 * width if not math.isnan(width) else 0.0
    if hi - lo < need:
        mid = (hi + lo) / 2
        lo, hi = mid - need / 2, mid + need / 2
    return (lo, hi) if hi > lo else (lo - 0.5, hi + 0.5)
