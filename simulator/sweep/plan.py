"""The plan of a sweep or of replications: validated points, runs and their seeds."""

from __future__ import annotations

import datetime as dt
import difflib
import fnmatch
import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..loading import (
    ScenarioError, _read_yaml, parse_overrides, parse_scenario, read_text_file, scenario_hash,
)
from ..catalog import scenario_path
from ..rng import replication_seeds
from ..scenario import Scenario
from .design import _from_unit, _grid_values, design_points
from .errors import KEY_COLUMNS, TAIL_COLUMNS, SweepError
from .spec import MAX_RUNS, Grid, LatinHypercube, Range, Sobol, _line, load_sweep
from .values import ValueChecker

_FACILITY_METRICS = ("units_lost", "share_lost", "stopped_days", "first_stop_day")
_DESTINATION_METRICS = ("lead_time_p50", "lead_time_p90", "wait_licence_mean")
_PLAIN_METRICS = ("licences_applied", "licences_approved", "licences_denied")


def metric_names(scenario) -> list[str]:
    """Every headline metric a run of ``scenario`` can report (see ``metrics.headline``)."""
    facilities = scenario.facilities
    sectors = {n: f for n, f in facilities.items() if getattr(f, "type", None) == "sector"}
    out = [f"{m}.{n}" for n in sectors for m in _FACILITY_METRICS]
    out += [f"share_lost.{s}" for s in dict.fromkeys(f.sector for f in sectors.values())] + ["share_lost.all"]
    country = {n: getattr(f, "country", None) for n, f in facilities.items()}
    destinations = dict.fromkeys(country.get(lane.buyer) for lane in scenario.lanes)
    out += [f"{m}.{c}" for c in destinations if c for m in _DESTINATION_METRICS]
    exporters = dict.fromkeys(country.get(lane.supplier) for lane in scenario.lanes
                              if country.get(lane.supplier) != country.get(lane.buyer))
    out += [f"exports_t.{c}" for c in exporters if c]
    return list(dict.fromkeys(out + list(_PLAIN_METRICS)))


def _check_metrics(patterns: Sequence[str], known: Sequence[str]) -> list[tuple[int, str]]:
    problems = []
    for i, name in enumerate(patterns):
        if any(ch in name for ch in "*?["):
            if not fnmatch.filter(known, name):
                problems.append((i, f"expected a pattern that matches some headline metric, got {name!r} "
                                    f"(metrics are e.g. {', '.join(known[:4])})"))
        elif name not in known:
            near = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
            hint = f" (did you mean {near[0]!r}?)" if near else f" (expected one of: {', '.join(known)})"
            problems.append((i, f"unknown metric {name!r}{hint}"))
    return problems


@dataclass
class Plan:
    """Everything needed to run and resume a sweep, independent of how it is executed."""

    name: str
    base_text: str
    base_source: str
    fixed: dict[str, Any]
    parameters: list[str]
    points: list[dict[str, Any]]
    replications: int
    seed: int
    common_random_numbers: bool
    metrics: list[str]
    design: dict
    fingerprint: str
    unit: np.ndarray | None = field(default=None, repr=False)
    description: dict = field(default_factory=dict, repr=False)
    collect: Any = field(default=None, repr=False)  # optional picklable callable(result) -> more metrics of each run

    @property
    def runs(self) -> int:
        return len(self.points) * self.replications

    def seed_of(self, point: int, replication: int) -> int:
        """Common random numbers: child ``replication`` of SeedSequence(seed) (as
        :func:`simulator.rng.replication_seeds`); otherwise child (point, replication)."""
        if self.common_random_numbers:
            return _crn_seeds(self.seed, self.replications)[replication]
        child = np.random.SeedSequence(self.seed, spawn_key=(point, replication))
        return int(child.generate_state(1, np.uint64)[0] >> np.uint64(1))

    def keys(self) -> Iterator[tuple[int, int]]:
        for p in range(len(self.points)):
            for r in range(self.replications):
                yield p, r


@lru_cache(maxsize=8)
def _crn_seeds(seed: int, n: int) -> tuple[int, ...]:
    return tuple(replication_seeds(seed, n))


def _json_value(v: Any) -> Any:
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    if isinstance(v, dt.date):
        return v.isoformat()
    return v


def _fingerprint(parts: dict) -> str:
    """sha256 of what defines the runs. ``parameters`` and ``fixed`` are mappings whose order
    counts (points are laid out in parameter order; overrides apply in the order given), so
    they enter as lists of pairs; the key order inside values does not count."""
    ordered = {k: [[name, value] for name, value in v.items()] if k in ("parameters", "fixed") else v
               for k, v in parts.items()}
    return hashlib.sha256(json.dumps(ordered, sort_keys=True, default=str).encode()).hexdigest()


def _rewrite(lines: Sequence[str], shown: str, where: str, always: bool = False) -> list[str]:
    """Scenario errors about an override ``shown`` -> located in the sweep file (``always``: also
    the errors the override causes elsewhere in the scenario, after the sweep file's line)."""
    out = []
    for line in lines:
        if line.startswith(shown + ": "):
            out.append(f"{where}: {line[len(shown) + 2:]}")
        else:
            out.append(f"{where}: {line}" if always else line)
    return out


def _missing_key(data: Any, path: str) -> str | None:
    """Why a dotted path does not lead into the scenario, when a name on the way is misspelt."""
    node = data
    parts = path.split(".")
    for depth, part in enumerate(parts[:-1]):
        if isinstance(node, list):
            ids = [item.get("id") if isinstance(item, dict) else None for item in node]
            if not part.isdigit() and part in ids:
                part = str(ids.index(part))
            if not part.isdigit() or int(part) >= len(node):
                return None  # the loader says what it expected
            node = node[int(part)]
            continue
        if not isinstance(node, dict):
            return None
        if part not in node:
            near = difflib.get_close_matches(part, [str(k) for k in node], n=1, cutoff=0.6)
            if not near:
                return None
            where = ".".join(parts[:depth]) or "the scenario"
            return f"expected a path into the scenario, got {part!r}, which {where} does not have (did you mean {near[0]!r}?)"
        node = node[part]
    return None


def _sampled_design(spec, seed: int) -> tuple[list[dict[str, Any]], np.ndarray | None] | None:
    """A Latin hypercube or Sobol' design's points, drawn before the checks so that every value
    they take is checked; None for a grid (its values are its lists and ranges) or when the
    design cannot be drawn (no parameters, SALib missing: reported as problems)."""
    if isinstance(spec.design, Grid) or not spec.parameters:
        return None
    from ..sensitivity import SensitivityUnavailable

    try:
        return design_points(spec, seed)
    except SensitivityUnavailable:
        return None


def _distinct(values: Sequence[Any]) -> list[Any]:
    """Values in first-seen order without repeats (1, 1.0 and True count as different)."""
    return list({(type(v), v): v for v in values}.values())


def parse_base(text: str, scen_source: str, default_name: str, fixed_set: Mapping[str, Any],
               overrides: Iterable[str] | Mapping[str, Any], line_of: Any, source: str, error: type):
    """The base scenario of a sweep or calibration file with the file's ``set:`` and the
    command's overrides applied, and those overrides as one mapping; its problems raise
    ``error`` with each located where it comes from (``line_of((key, ...))``: the file's line of
    a key; ``source``: the file)."""
    fixed = dict(fixed_set)
    fixed.update({k: v for k, v, _ in parse_overrides(overrides)})
    try:
        return parse_scenario(text, scen_source, fixed, default_name=default_name), fixed
    except ScenarioError as err:
        found = list(err.lines)
        for key, value in fixed_set.items():
            found = _rewrite(found, f"--set {key}={value}", f"{line_of(('set', key))}: set.{key} = {value!r}")
        if fixed:
            try:
                parse_scenario(text, scen_source, default_name=default_name)
            except ScenarioError:
                pass
            else:  # the scenario is fine on its own: the overrides break it
                where = line_of(("set",)) + ": set" if fixed_set else "--set"
                found = [line if line.startswith((source, "--set")) else f"{where}: {line}" for line in found]
        raise error(found) from None


def plan_sweep(path: str | Path, overrides: Iterable[str] | Mapping[str, Any] = (), scenario: Any = None) -> Plan:
    """Validate a sweep file (or a bundled sweep's name) against its scenario and lay out its
    points and runs; ``scenario`` (a :class:`Scenario`, file or bundled name) replaces the base
    scenario the file names."""
    loaded = load_sweep(path)
    spec, source, lines = loaded.spec, loaded.source, loaded.lines
    if scenario is None:
        text = read_text_file(loaded.scenario_path, "scenario", SweepError)  # a regular UTF-8 file, at most 10 MiB
        scen_source = str(loaded.scenario_path)
    else:
        text, scen_source = _base_text(scenario)
    base, fixed = parse_base(text, scen_source, loaded.scenario_path.stem, spec.set, overrides,
                      lambda key: _line(key, lines, source), source, SweepError)
    problems: list[str] = []
    names = list(spec.parameters)
    for name in names:
        if name in spec.set:
            problems.append(f"{_line(('parameters', name), lines, source)}: parameters.{name}: expected a parameter "
                            f"that is not also fixed under set:, got {name!r} in both")
    if isinstance(spec.design, (LatinHypercube, Sobol)) and not names:
        problems.append(f"{_line(('design',), lines, source)}: design: expected at least one parameter for a "
                        f"{spec.design.type} design, got none")
    if isinstance(spec.design, Sobol) and spec.design.second_order and len(names) < 2:
        problems.append(f"{_line(('design', 'second_order'), lines, source)}: design.second_order: expected at least "
                        f"two parameters for second-order indices, got {len(names)}")
    raw, _ = _read_yaml(text, scen_source)
    seed = base.seed if spec.seed is None else spec.seed
    sampled = _sampled_design(spec, seed) if not problems else None
    checker = ValueChecker(text, scen_source, fixed, loaded.scenario_path.stem)
    for name, p in spec.parameters.items():
        where = _line(("parameters", name), lines, source)
        missing = _missing_key(raw, name)
        if missing:
            problems.append(f"{where}: parameters.{name}: {missing}")
            continue
        if isinstance(spec.design, Grid) and isinstance(p, Range) and p.steps is None and p.step is None:
            problems.append(f"{where}: parameters.{name}: expected steps: N (or step: d) for a range in a grid design, "
                            "got neither")
            continue
        # Every value the sweep will run (its first invalid one is reported).
        if isinstance(spec.design, Grid):
            trial = _grid_values(p)
        elif sampled is not None:
            trial = [point[name] for point in sampled[0]]
        else:  # the design cannot be drawn (that problem is reported): the ends of the range
            trial = [_from_unit(p, 0.0), _from_unit(p, 1.0 - 1e-12)]
        for value in _distinct(trial):
            found = checker.problems(name, value)
            if found:
                shown = f"--set {name}={value}"
                for line in _rewrite(found, shown, f"{where}: parameters.{name} = {value!r}", always=True):
                    if line not in problems:
                        problems.append(line)
                break
    known = metric_names(base)
    for i, message in _check_metrics(spec.metrics, known):
        problems.append(f"{_line(('metrics', i), lines, source)}: metrics[{i}]: {message}")
    clash = set(names) & (set(known) | set(KEY_COLUMNS) | set(TAIL_COLUMNS))
    for name in sorted(clash):
        problems.append(f"{_line(('parameters', name), lines, source)}: parameters.{name}: expected a scenario path, "
                        f"got a name used by a result column")
    if isinstance(spec.design, Sobol):
        from ..sensitivity import SensitivityUnavailable, require_salib

        try:
            require_salib()
        except SensitivityUnavailable as err:
            problems.append(f"{_line(('design',), lines, source)}: design: {err}")
    if problems:
        raise SweepError(problems)
    points, unit = sampled if sampled is not None else design_points(spec, seed)
    design = spec.design.model_dump()
    parameters = {n: p.model_dump() for n, p in spec.parameters.items()}
    fingerprint = _fingerprint({"scenario_sha256": scenario_hash(base), "fixed": fixed, "parameters": parameters,
                                "design": design, "seed": seed, "crn": spec.common_random_numbers,
                                "metrics": spec.metrics})
    description = {"sweep_file": source, "sweep": spec.model_dump(mode="json"), "scenario_file": scen_source,
                   "scenario": base.name, "scenario_sha256": scenario_hash(base)}
    return Plan(loaded.name, text, scen_source, fixed, names, points, spec.replications, seed,
                spec.common_random_numbers, list(spec.metrics), design, fingerprint, unit, description)


def plan_replications(scenario: str | Path, replications: int, seed: int | None = None,
                      overrides: Iterable[str] | Mapping[str, Any] = (), metrics: Sequence[str] = ("*",)) -> Plan:
    """Replications of one scenario (a :class:`Scenario`, a file or a bundled name): a sweep with
    one point and every headline metric."""
    text, source = _base_text(scenario)
    base = parse_scenario(text, source, overrides, default_name=Path(source).stem, base_dir=Path(source).parent)
    if not 1 <= replications <= MAX_RUNS:
        raise SweepError([f"--replications {replications}: expected a number of replications from 1 to {MAX_RUNS:,}, "
                          f"got {replications}"])
    if seed is not None and seed < 0:
        raise SweepError([f"--seed {seed}: expected a seed >= 0, got {seed}"])
    seed = base.seed if seed is None else seed
    fixed = {k: v for k, v, _ in parse_overrides(overrides)}
    problems = _check_metrics(list(metrics), metric_names(base))
    if problems:
        raise SweepError([f"metric {metrics[i]}: {m}" for i, m in problems])
    sha = scenario_hash(base)
    fingerprint = _fingerprint({"scenario_sha256": sha, "fixed": fixed, "parameters": {}, "design": {"type": "grid"},
                                "seed": seed, "crn": True, "metrics": list(metrics)})
    return Plan(f"{base.name}-replications", text, source, fixed, [], [{}],
                replications, seed, True, list(metrics), {"type": "replications"}, fingerprint, None,
                {"scenario_file": source, "scenario": base.name, "scenario_sha256": sha})


def _base_text(scenario: Any) -> tuple[str, str]:
    """(YAML text, source name) of a base scenario: a file, a bundled name or a :class:`Scenario`
    (as YAML text that loads back to the same scenario, :func:`scenario_text`)."""
    if isinstance(scenario, Scenario):
        from ..loading.changes import scenario_source, scenario_text

        return scenario_text(scenario), scenario_source(scenario)
    path = scenario_path(scenario)
    return read_text_file(path, "scenario"), str(path)
