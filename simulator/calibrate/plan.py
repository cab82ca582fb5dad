"""The plan of a calibration: the file checked against its scenario and observed series."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..loading import _read_yaml, read_text_file, scenario_hash
from ..observed import ObservedError, parse_select, read_observed, select
from ..score import _months
from ..sweep.plan import _missing_key, _rewrite, parse_base
from ..sweep.values import ValueChecker
from .series import Statistics
from .spec import CalibrationError, CalibrationSpec, Prior, line_of, load_calibration


@dataclass
class CalibrationPlan:
    """Everything a calibration needs, independent of how its runs are executed."""

    name: str
    source: str
    spec: CalibrationSpec
    base_text: str
    base_source: str
    fixed: dict[str, Any]
    names: list[str]
    priors: list[Prior]
    observed: pd.DataFrame
    statistics: Statistics
    seed: int
    fingerprint: str
    description: dict = field(default_factory=dict, repr=False)

    @property
    def keys(self) -> tuple:
        return tuple(self.observed[["reporter", "partner", "hs_code", "material", "period"]].itertuples(index=False, name=None))

    def frozen(self) -> list:
        return [p.frozen() for p in self.priors]

    def point(self, theta: np.ndarray) -> dict[str, Any]:
        """Scenario values of one particle (integer parameters rounded)."""
        return {n: int(round(float(v))) if p.integer else float(v) for n, p, v in zip(self.names, self.priors, theta)}


def _support_ends(prior: Prior) -> list[float]:
    """The values a prior's draws reach at most: its bounds, or its 0.1% and 99.9% quantiles."""
    dist = prior.frozen()
    ends = [prior.min if prior.min is not None else float(dist.ppf(0.001)),
            prior.max if prior.max is not None else float(dist.ppf(0.999))]
    return [int(round(v)) if prior.integer else float(v) for v in ends]


def plan_calibration(path: str | Path, overrides: Iterable[str] | Mapping[str, Any] = ()) -> CalibrationPlan:
    """Validate a calibration file against its scenario and observed series."""
    loaded = load_calibration(path)
    spec, source, lines = loaded.spec, loaded.source, loaded.lines
    text = read_text_file(loaded.scenario_path, "scenario", CalibrationError)
    scen_source = str(loaded.scenario_path)
    base, fixed = parse_base(text, scen_source, loaded.scenario_path.stem, spec.set, overrides,
                      lambda key: line_of(key, lines, source), source, CalibrationError)
    try:
        observed = read_observed(loaded.observed_path)
    except ObservedError as err:
        raise CalibrationError(err.lines) from None
    where = line_of(("select",), lines, source)
    try:
        selection = parse_select(spec.select, f"{where}: select")
    except ObservedError as err:
        raise CalibrationError(err.lines) from None
    chosen = select(observed, selection)
    first, last = _months(base.start, base.end)
    chosen = chosen[(chosen["period"] >= first) & (chosen["period"] <= last)].reset_index(drop=True)
    problems = []
    if chosen.empty:
        problems.append(f"{line_of(('observed',), lines, source)}: observed: expected rows within the simulated months "
                        f"{first} to {last}{' matching select: ' + ', '.join(f'{k}={v}' for k, v in selection.items()) if selection else ''}, "
                        f"got none in {loaded.observed_path}")
    baseline = spec.statistics.baseline
    if baseline and not chosen.empty:
        absent = [m for m in baseline if m not in set(chosen["period"])]
        if absent:
            problems.append(f"{line_of(('statistics', 'baseline'), lines, source)}: statistics.baseline: expected months "
                            f"of the observed series, got {', '.join(map(str, absent))} (not observed or not simulated)")
    raw, _ = _read_yaml(text, scen_source)
    checker = ValueChecker(text, scen_source, fixed, loaded.scenario_path.stem)
    for name, prior in spec.parameters.items():
        at = line_of(("parameters", name), lines, source)
        if name in spec.set:
            problems.append(f"{at}: parameters.{name}: expected a parameter that is not also fixed under set:, got it in both")
            continue
        missing = _missing_key(raw, name)
        if missing:
            problems.append(f"{at}: parameters.{name}: {missing}")
            continue
        for value in dict.fromkeys(_support_ends(prior)):
            found = checker.problems(name, value)
            if found:
                problems += _rewrite(found, f"--set {name}={value}", f"{at}: parameters.{name} = {value!r}", always=True)
                break
    if problems:
        raise CalibrationError(list(dict.fromkeys(problems)))
    seed = base.seed if spec.seed is None else spec.seed
    statistics = Statistics.of(chosen, spec.statistics.type, baseline)
    data = {"scenario_sha256": scenario_hash(base), "fixed": [[k, v] for k, v in fixed.items()],
            "parameters": [[n, p.model_dump()] for n, p in spec.parameters.items()],
            "observed": chosen.to_csv(index=False), "statistics": spec.statistics.model_dump(), "seed": seed,
            "replications": spec.replications, "population": spec.population, "crn": spec.common_random_numbers}
    fingerprint = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()
    description = {"calibration_file": source, "calibration": spec.model_dump(mode="json"), "scenario_file": scen_source,
                   "scenario": base.name, "scenario_sha256": data["scenario_sha256"],
                   "observed_file": str(loaded.observed_path), "selection": selection}
    return CalibrationPlan(loaded.name, source, spec, text, scen_source, fixed, list(spec.parameters),
                           list(spec.parameters.values()), chosen, statistics, seed, fingerprint, description)
