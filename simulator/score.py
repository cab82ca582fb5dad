"""Holding runs against an observed series in the customs shape (``resim score``).

    from simulator import load_scenario, run
    from simulator.score import score
    from simulator.observed import read_observed
    table, summary = score(run(load_scenario("scenarios/licensing_2025.yaml")), read_observed("obs.csv"))

Each observed row (a reporter, a partner or ``WLD``, optionally an HS code or material, a
month) is set against the same sum of the simulated exports in every replication.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from .customs import WORLD, flows_customs, hs_codes
from .observed import ObservedError, check_observed, select

__all__ = ["Score", "score", "simulated_runs", "align", "observed_from_run", "SERIES_KEYS"]

SERIES_KEYS = ["reporter", "partner", "hs_code", "material"]
BAND = (0.05, 0.95)  # the 90% band over replications


class Score(NamedTuple):
    """``table``: one row per observed month; ``summary``: one row per series, then ``all``."""

    table: pd.DataFrame
    summary: pd.DataFrame


def _months(start: dt.date, end: dt.date) -> tuple[int, int]:
    """The first and last whole months (YYYYMM) simulated from ``start`` to ``end`` (exclusive)."""
    first = start if start.day == 1 else (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    last = (end.replace(day=1) - dt.timedelta(days=1))
    return first.year * 100 + first.month, last.year * 100 + last.month


def _customs_series(customs: pd.DataFrame) -> pd.DataFrame:
    frame = customs.rename(columns={"net_kg": "tonnes"})[["reporter", "partner", "hs_code", "material", "period", "tonnes"]].copy()
    frame["tonnes"] = frame["tonnes"].astype(float) / 1000.0
    frame["hs_code"] = frame["hs_code"].fillna("").astype(str)
    return frame


def _from_result(result) -> tuple[pd.DataFrame, tuple[int, int]]:
    customs = result.tables.get("flows_customs")
    if customs is None:
        customs = flows_customs(result.tables["flows_monthly"], hs_codes(result.scenario))
    return _customs_series(customs), _months(result.scenario.start, result.scenario.end)


def _from_folder(folder: Path) -> tuple[pd.DataFrame, tuple[int, int]]:
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    customs = pd.read_csv(folder / "flows_customs.csv", dtype={"hs_code": str, "reporter": str, "partner": str},
                          keep_default_na=False)
    months = _months(dt.date.fromisoformat(manifest["start"]), dt.date.fromisoformat(manifest["end"]))
    return _customs_series(customs), months


def simulated_runs(source) -> tuple[list[pd.DataFrame], tuple[int, int]]:
    """The simulated customs series of each replication, and the whole months they cover.

    ``source``: a :class:`~simulator.runner.RunResult`, a list of them, a run folder, or a
    replications folder (``resim run --replications``: its kept runs, ``replications/seed*/``)."""
    if isinstance(source, (str, Path)):
        folder = Path(source)
        kept = sorted(p for p in (folder / "replications").glob("seed*") if (p / "flows_customs.csv").is_file()) \
            if (folder / "replications").is_dir() else []
        runs = kept or ([folder] if (folder / "flows_customs.csv").is_file() else [])
        if not runs:
            raise ObservedError([f"{folder}: expected a run folder (with flows_customs.csv and manifest.json) or a "
                                 "replications folder with kept runs, got neither"])
        try:
            loaded = [_from_folder(p) for p in runs]
        except (OSError, ValueError, KeyError) as err:
            raise ObservedError([f"{folder}: cannot read the run's flows_customs.csv or manifest.json ({type(err).__name__}: "
                                 f"{' '.join(str(err).split())[:200]})"]) from None
    else:
        results = list(source) if isinstance(source, (list, tuple)) else [source]
        loaded = [_from_result(r) for r in results]
    return [frame for frame, _ in loaded], loaded[0][1]


def simulated_values(sim: pd.DataFrame, keys: Sequence[tuple]) -> np.ndarray:
    """The simulated tonnes of each observed row ``(reporter, partner, hs_code, material, period)``:
    the same reporter and period, summed over partners for ``WLD`` and over the HS codes or
    materials a row leaves empty (numpy masks: a calibration calls this on every run)."""
    cols = {c: sim[c].to_numpy() for c in ("reporter", "partner", "hs_code", "material")}
    period, tonnes = sim["period"].to_numpy(), sim["tonnes"].to_numpy(dtype=float)
    out = np.empty(len(keys))
    for i, (reporter, partner, hs, material, month) in enumerate(keys):
        rows = (cols["reporter"] == reporter) & (period == month)
        if partner != WORLD:
            rows &= cols["partner"] == partner
        if hs:
            rows &= cols["hs_code"] == hs
        if material:
            rows &= cols["material"] == material
        out[i] = tonnes[rows].sum()
    return out


def align(observed: pd.DataFrame, runs: Sequence[pd.DataFrame], months: tuple[int, int]) -> tuple[pd.DataFrame, np.ndarray]:
    """Observed rows within the simulated months, and the simulated value of each in each run
    (rows x replications): the same reporter and period, summed over partners for ``WLD``, over
    HS codes and materials where the observed row names none."""
    obs = observed[(observed["period"] >= months[0]) & (observed["period"] <= months[1])].reset_index(drop=True)
    if obs.empty:
        raise ObservedError([f"{observed.attrs.get('source', 'observed')}: period: expected months within the simulated "
                             f"ones ({months[0]} to {months[1]}), got {observed['period'].min()} to {observed['period'].max()}"])
    keys = list(obs[SERIES_KEYS + ["period"]].itertuples(index=False, name=None))
    sims = np.column_stack([simulated_values(run, keys) for run in runs])
    return obs, sims


def _index(values: np.ndarray, series: np.ndarray, base: np.ndarray) -> np.ndarray:
    """values / the mean of the baseline months of the same series, x 100 (rows, or rows x runs)."""
    out = np.full(values.shape, np.nan)
    for s in np.unique(series):
        rows = series == s
        denominator = values[rows & base].mean(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[rows] = 100.0 * values[rows] / np.where(denominator > 0, denominator, np.nan)
    return out


def score(result_or_folder, observed_frame: pd.DataFrame, selection: Mapping[str, str] | None = None,
          baseline: Sequence[int] | None = None) -> Score:
    """Set simulated exports against an observed series (see the module doc).

    ``table`` columns: the series keys, ``period``, ``observed_t``, ``simulated_p50_t`` (median
    over replications), ``simulated_p05_t`` and ``simulated_p95_t`` (the 90% band; NaN with
    one run), ``error_t`` (median - observed), ``abs_pct_error`` (|error| / observed x 100; NaN
    where nothing was observed), ``observed_index`` and ``simulated_index`` (100 = the mean of
    the series' baseline months; simulated: the median over replications of each run's index),
    ``in_band`` (the observed value within the band; NaN with one run).
    ``summary``: per series and for ``all``: ``months``, ``mape_pct`` (mean of
    ``abs_pct_error``), ``index_error_points`` (mean |simulated - observed index| outside the
    baseline), ``share_in_band`` (share of months in the band), ``replications``, ``baseline``.
    ``baseline``: months (YYYYMM); default the first observed month of each series."""
    observed = select(check_observed(observed_frame), selection or {})
    if observed.empty:
        raise ObservedError([f"{observed_frame.attrs.get('source', 'observed')}: select: expected rows matching "
                             f"{', '.join(f'{k}={v}' for k, v in (selection or {}).items())}, got none"])
    runs, months = simulated_runs(result_or_folder)
    obs, sims = align(observed, runs, months)
    table = obs[SERIES_KEYS + ["period"]].copy()
    table["observed_t"] = obs["tonnes"].to_numpy(float)
    table["simulated_p50_t"] = np.median(sims, axis=1)
    several = sims.shape[1] > 1
    low, high = (np.quantile(sims, q, axis=1) if several else np.full(len(obs), np.nan) for q in BAND)
    table["simulated_p05_t"], table["simulated_p95_t"] = low, high
    table["error_t"] = table["simulated_p50_t"] - table["observed_t"]
    with np.errstate(divide="ignore", invalid="ignore"):
        table["abs_pct_error"] = np.where(table["observed_t"] > 0, 100 * table["error_t"].abs() / table["observed_t"], np.nan)
    series = table[SERIES_KEYS].astype(str).agg(lambda r: "/".join(v for v in r if v), axis=1).to_numpy()
    if baseline:
        base = table["period"].isin(list(baseline)).to_numpy()
    else:
        first = table.groupby(series)["period"].transform("min").to_numpy()
        base = table["period"].to_numpy() == first
    table["observed_index"] = _index(table["observed_t"].to_numpy(float), series, base)
    table["simulated_index"] = np.median(_index(sims, series, base), axis=1)
    table["in_band"] = np.where(several, ((table["observed_t"] >= low) & (table["observed_t"] <= high)).astype(float), np.nan)
    table["series"], table["baseline"] = series, base
    rows = [_summary(label, g, sims.shape[1]) for label, g in table.groupby("series", sort=False)]
    rows.append(_summary("all", table, sims.shape[1]))
    return Score(table.drop(columns=["series", "baseline"]), pd.DataFrame(rows))


def _summary(label: str, g: pd.DataFrame, replications: int) -> dict:
    outside = g[~g["baseline"]]
    return {"series": label, "months": len(g), "mape_pct": g["abs_pct_error"].mean(),
            "index_error_points": (outside["simulated_index"] - outside["observed_index"]).abs().mean(),
            "share_in_band": g["in_band"].mean(), "replications": replications,
            "baseline": " ".join(str(p) for p in sorted(set(g.loc[g["baseline"], "period"])))}


def observed_from_run(source, selection: Mapping[str, str] | None = None, by_partner: bool = False) -> pd.DataFrame:
    """A run's exports as an observed series (``resim observed``): customs columns ``reporter,
    partner, hs_code, period, flow, net_kg``, one row per whole simulated month (0 in a month
    without exports), summed over materials of one HS code and, unless ``by_partner``, over
    partners (partner ``WLD``). ``selection``: ``reporter``, ``hs_code``, ``material``, ``partner``."""
    runs, (first, last) = simulated_runs(source)
    sim = runs[0]
    for key, value in (selection or {}).items():
        if not (key == "partner" and value == WORLD):
            sim = sim[sim[key].astype(str) == value]
    if not by_partner:
        sim = sim.assign(partner=WORLD)
    keys = ["reporter", "partner", "hs_code"]
    months = [y * 100 + m for y in range(first // 100, last // 100 + 1) for m in range(1, 13) if first <= y * 100 + m <= last]
    sums = sim.groupby(keys + ["period"])["tonnes"].sum()
    series = sim[keys].drop_duplicates().itertuples(index=False, name=None)
    rows = [(*key, period, "export", round(1000.0 * float(sums.get((*key, period), 0.0)))) for key in series for period in months]
    return pd.DataFrame(rows, columns=keys + ["period", "flow", "net_kg"])
