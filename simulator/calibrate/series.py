"""What a calibration run reports (its simulated values of the observed months), the summary
statistics made of them, and the distance to the observed ones."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..customs import hs_codes
from ..score import SERIES_KEYS, simulated_values

PREFIX = "sim."


def column(i: int) -> str:
    return f"{PREFIX}{i:04d}"


@dataclass(frozen=True)
class SeriesCollector:
    """Called by sweep workers on each run (``Plan.collect``): the simulated tonnes of each
    observed row ``(reporter, partner, hs_code, material, period)`` as metrics ``sim.0000``, ...
    (summed over partners for WLD, over HS codes and materials the row leaves empty)."""

    keys: tuple

    def __call__(self, result) -> dict[str, float]:
        flows = result.tables["flows_monthly"]
        codes = hs_codes(result.scenario)
        sim = pd.DataFrame({"reporter": flows["exporter"].to_numpy(), "partner": flows["destination"].to_numpy(),
                            "hs_code": [codes.get(m, "") for m in flows["material"]], "material": flows["material"].to_numpy(),
                            "period": [int(m[:4]) * 100 + int(m[5:7]) for m in flows["month"]],
                            "tonnes": flows["tonnes"].to_numpy(dtype=float)})
        sim = sim[sim["reporter"] != sim["partner"]]  # exports only, as flows_customs
        return {column(i): float(v) for i, v in enumerate(simulated_values(sim, self.keys))}


@dataclass(frozen=True)
class Statistics:
    """Summary statistics of the observed rows (in their order): ``index``, each month / the mean
    of its series' baseline months; ``level``, each month / the mean of the observed series."""

    kind: str
    series: np.ndarray  # series id of each row
    baseline: np.ndarray  # bool: the row is a baseline month of its series
    observed: np.ndarray  # observed tonnes

    @classmethod
    def of(cls, observed: pd.DataFrame, kind: str, baseline: list[int] | None) -> "Statistics":
        series = observed[SERIES_KEYS].astype(str).agg("/".join, axis=1)
        ids = pd.factorize(series)[0]
        if baseline:
            base = observed["period"].isin(baseline).to_numpy()
        else:
            base = (observed["period"] == observed.groupby(series)["period"].transform("min")).to_numpy()
        return cls(kind, ids, base, observed["tonnes"].to_numpy(float))

    def __call__(self, values: np.ndarray) -> np.ndarray:
        """Statistics of ``values`` (..., rows): the observed ones, or simulated replications."""
        values = np.asarray(values, dtype=float)
        out = np.full(values.shape, np.nan)
        for s in np.unique(self.series):
            rows = self.series == s
            if self.kind == "index":
                scale = values[..., rows & self.baseline].mean(axis=-1, keepdims=True)
            else:
                scale = np.full(values.shape[:-1] + (1,), self.observed[rows].mean())
            with np.errstate(divide="ignore", invalid="ignore"):
                out[..., rows] = values[..., rows] / np.where(scale > 0, scale, np.nan)
        return out

    def distance(self, simulated: np.ndarray) -> np.ndarray:
        """Root mean square difference of the statistics from the observed ones (inf where a
        simulated statistic is undefined: a baseline with nothing exported, a failed run)."""
        target = self(self.observed)
        diff = self(simulated) - target
        d = np.sqrt(np.mean(np.square(diff), axis=-1))
        return np.where(np.isfinite(d), d, np.inf)
