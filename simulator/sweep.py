"""Monte Carlo replications, parameter sweeps and Sobol' sensitivity, on local cores or Dask.

    from simulator import sweep
    runs = sweep("sweeps/inventory_vs_approval.yaml")          # one row per run (a DataFrame)

A sweep file names a base scenario, parameters addressed by the dotted paths of ``--set``, a
design (full ``grid``, ``latin_hypercube`` of N points, ``sobol`` (Saltelli) of N base points),
replications per point and the headline metrics to collect (see ``sweeps/*.yaml``).

Reproducibility: a run's seed comes from ``SeedSequence`` of the sweep seed and depends only on
its replication (common random numbers across points, the default) or on its point and
replication, never on the executor, the number of workers or the order runs finish in.

Results (``results/<sweep-name>/``): ``runs.parquet`` (CSV without pyarrow), one row per run,
appended as runs finish (``runs/part-*`` files, merged at the end) so an interrupted sweep
loses nothing and running it again only runs what is missing; ``summary.csv`` per point and
metric; ``sensitivity.csv`` for Sobol' designs; ``points.csv``; ``sweep.json``.
"""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import difflib
import fnmatch
import hashlib
import json
import math
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import product
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import numpy as np
import pandas as pd
from pydantic import BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, Tag, ValidationError, model_validator

from .loading import ScenarioError, _read_yaml, describe_error, load_scenario, parse_overrides, parse_scenario, scenario_hash
from .rng import replication_seeds

__all__ = ["sweep", "replicate", "SweepSpec", "SweepError", "SweepInterrupted", "Plan", "load_sweep", "plan_sweep",
           "plan_replications", "execute", "summarise", "LocalExecutor", "DaskExecutor", "make_executor",
           "format_replications", "format_sweep", "KEY_COLUMNS"]

KEY_COLUMNS = ["point_id", "replication", "seed"]
TAIL_COLUMNS = ["wall_seconds", "error"]


class SweepError(ScenarioError):
    """A sweep file (or sweep option) is invalid; ``lines`` holds one message per problem."""


class SweepInterrupted(Exception):
    """Ctrl-C during a sweep; everything finished so far is saved."""

    def __init__(self, folder: Path, saved: int, total: int):
        super().__init__(f"interrupted: {saved} of {total} runs saved in {folder}; run the same command again to continue")
        self.folder, self.saved, self.total = folder, saved, total


# --------------------------------------------------------------------------- the sweep file


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Scalar = Union[bool, int, float, str]
Identifier = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_\-]*$", max_length=64)]


class Values(_Spec):
    """An explicit list of values (YAML numbers, text or booleans)."""

    values: list[Scalar] = Field(min_length=1)


class Range(_Spec):
    """``min``..``max``: continuous for Latin hypercube and Sobol' designs; a grid takes
    ``steps`` evenly spaced values (both ends included) or every ``step`` from ``min``."""

    min: float
    max: float
    steps: Annotated[int, Field(ge=2)] | None = None
    step: Annotated[float, Field(gt=0)] | None = None
    log: bool = False
    integer: bool = False

    @model_validator(mode="after")
    def _check(self):
        if not self.max > self.min:
            raise ValueError(f"expected max > min, got min={self.min:g}, max={self.max:g}")
        if self.steps is not None and self.step is not None:
            raise ValueError("expected steps or step, not both, got both")
        if self.log and self.min <= 0:
            raise ValueError(f"expected min > 0 for a log range, got min={self.min:g}")
        if self.log and self.step is not None:
            raise ValueError("expected steps (not step) for a log range, got step")
        return self


def _parameter_tag(value: Any) -> str:
    if isinstance(value, BaseModel):  # serialising
        return "range" if isinstance(value, Range) else "values"
    return "range" if isinstance(value, dict) and "values" not in value else "values"


def _list_to_values(value: Any) -> Any:
    return {"values": value} if isinstance(value, list) else value


Parameter = Annotated[Union[Annotated[Values, Tag("values")], Annotated[Range, Tag("range")]],
                      Discriminator(_parameter_tag), BeforeValidator(_list_to_values)]


class Grid(_Spec):
    """Every combination of the parameters' values."""

    type: Literal["grid"]


class LatinHypercube(_Spec):
    """``points`` points of a Latin hypercube (scipy.stats.qmc) over the parameters."""

    type: Literal["latin_hypercube"]
    points: Annotated[int, Field(ge=1)]


class Sobol(_Spec):
    """Saltelli's sampling for Sobol' indices: ``base_points`` (a power of 2) x (D + 2) points,
    x (2D + 2) with second-order indices. Needs SALib (``resim[sensitivity]``)."""

    type: Literal["sobol"]
    base_points: Annotated[int, Field(ge=2)]
    second_order: bool = False
    resamples: Annotated[int, Field(ge=10)] = 1000
    conf_level: Annotated[float, Field(gt=0, lt=1)] = 0.95

    @model_validator(mode="after")
    def _power_of_two(self):
        if self.base_points & (self.base_points - 1):
            raise ValueError(f"expected base_points to be a power of 2 (e.g. 64, 128, 256), got {self.base_points}")
        return self


def _design_shorthand(value: Any) -> Any:
    if isinstance(value, str):
        value = {"type": value}
    if isinstance(value, dict) and value.get("type") == "lhs":
        value = {**value, "type": "latin_hypercube"}
    return value


Design = Annotated[Union[Grid, LatinHypercube, Sobol], Field(discriminator="type"), BeforeValidator(_design_shorthand)]


class SweepSpec(_Spec):
    """A sweep file."""

    name: Identifier | None = Field(default=None, description="Results go to results/<name>/ (default: the file name).")
    description: str = ""
    scenario: str = Field(description="The base scenario file, relative to the sweep file.")
    set: dict[str, Any] = Field(default_factory=dict, description="Overrides applied to every run, by dotted path.")
    seed: Annotated[int, Field(ge=0)] | None = Field(default=None, description="Default: the scenario's seed.")
    replications: Annotated[int, Field(ge=1)] = 1
    design: Design = Grid(type="grid")
    common_random_numbers: bool = Field(
        default=True, description="Replication r uses the same seed at every point (differences between points "
        "are then not blurred by different random numbers).")
    parameters: dict[str, Parameter] = Field(default_factory=dict)
    metrics: list[str] = Field(default_factory=lambda: ["*"], min_length=1,
                               description="Headline metric names; shell-style patterns such as share_lost.* allowed.")


_SWEEP_TAGS = {"values", "range", "grid", "latin_hypercube", "sobol", "Values", "Range", "Grid", "LatinHypercube", "Sobol"}
_SWEEP_FIELDS: list[str] = sorted({n for m in (SweepSpec, Values, Range, Grid, LatinHypercube, Sobol) for n in m.model_fields})


def _dotted(path: Sequence) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _line(path: tuple, lines: dict, source: str) -> str:
    for cut in range(len(path), -1, -1):
        if path[:cut] in lines:
            return f"{source}:{lines[path[:cut]]}"
    return f"{source}:1"


def _doc_path(data: Any, loc: Sequence) -> tuple:
    path: list = []
    node: Any = data
    for part in loc:
        if isinstance(node, dict) and part in node:
            path.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            path.append(part)
            node = node[part]
        elif isinstance(part, str) and (part in _SWEEP_TAGS or "[" in part):
            continue
        elif isinstance(node, dict):
            path.append(part)
            node = None
        else:
            break
    return tuple(path)


@dataclass
class LoadedSweep:
    spec: SweepSpec
    source: str
    name: str
    scenario_path: Path
    lines: dict = field(repr=False)


def load_sweep(path: str | Path) -> LoadedSweep:
    """Read and validate a sweep file (not yet its parameters against the scenario)."""
    path = Path(path)
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SweepError([f"{path}: no such sweep file"]) from None
    except (OSError, UnicodeDecodeError) as err:
        raise SweepError([f"{path}: cannot read sweep file: {err}"]) from None
    if not text.strip():
        raise SweepError([f"{source}:1: sweep: expected a YAML mapping of sweep fields, got an empty file"])
    try:
        data, lines = _read_yaml(text, source)
    except ScenarioError as err:
        raise SweepError(err.lines) from None
    if not isinstance(data, dict):
        raise SweepError([f"{source}:1: sweep: expected a YAML mapping of sweep fields (scenario, parameters, "
                          f"design, ...), got {type(data).__name__}"])
    try:
        spec = SweepSpec.model_validate(data)
    except ValidationError as err:
        found = []
        for e in err.errors():
            path_ = _doc_path(data, e["loc"])
            if e["type"] == "union_tag_invalid" and isinstance(e.get("input"), dict):
                path_ = path_ + (str((e.get("ctx") or {}).get("discriminator", "type")).strip("'"),)
            where = _line(path_, lines, source)
            found.append((int(where.rsplit(":", 1)[1]), f"{where}: {_dotted(path_) or 'sweep'}: {describe_error(e, _SWEEP_FIELDS)}"))
        raise SweepError(list(dict.fromkeys(m for _, m in sorted(found, key=lambda x: x[0])))) from None
    candidates = [path.parent / spec.scenario, Path(spec.scenario)]
    scenario_path = next((c for c in candidates if c.is_file()), None)
    if scenario_path is None:
        tried = " or ".join(dict.fromkeys(str(c) for c in candidates))
        raise SweepError([f"{_line(('scenario',), lines, source)}: scenario: expected a scenario file, got "
                          f"{spec.scenario!r} (no file {tried})"])
    return LoadedSweep(spec, source, spec.name or path.stem, scenario_path, lines)


# --------------------------------------------------------------------------- metric names

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


# --------------------------------------------------------------------------- the plan


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
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _grid_values(p: Values | Range) -> list:
    if isinstance(p, Values):
        return list(p.values)
    if p.steps is not None:
        xs = np.geomspace(p.min, p.max, p.steps) if p.log else np.linspace(p.min, p.max, p.steps)
    else:
        n = int(math.floor((p.max - p.min) / p.step + 1e-9)) + 1
        xs = p.min + p.step * np.arange(n)
    out = [round(float(x), 12) for x in xs]
    return list(dict.fromkeys(int(round(x)) for x in out)) if p.integer else out


def _from_unit(p: Values | Range, u: float) -> Any:
    if isinstance(p, Values):
        return p.values[min(int(u * len(p.values)), len(p.values) - 1)]
    if p.integer:
        lo, hi = math.ceil(p.min), math.floor(p.max)
        if p.log:
            return int(min(hi, max(lo, round(math.exp(math.log(p.min) + u * (math.log(p.max) - math.log(p.min)))))))
        return int(min(hi, lo + math.floor(u * (hi - lo + 1))))
    if p.log:
        return float(math.exp(math.log(p.min) + u * (math.log(p.max) - math.log(p.min))))
    return float(p.min + u * (p.max - p.min))


def _sampling_seed(seed: int) -> int:
    return int(np.random.SeedSequence(seed, spawn_key=(2**31 - 1,)).generate_state(1)[0])


def design_points(spec: SweepSpec, seed: int) -> tuple[list[dict[str, Any]], np.ndarray | None]:
    """The design's points (``{path: value}``) and, for sampled designs, their unit-cube coordinates."""
    names = list(spec.parameters)
    params = list(spec.parameters.values())
    design = spec.design
    if isinstance(design, Grid):
        combos = product(*[_grid_values(p) for p in params]) if names else [()]
        return [dict(zip(names, c)) for c in combos], None
    if isinstance(design, LatinHypercube):
        from scipy.stats import qmc

        unit = qmc.LatinHypercube(d=len(names), rng=np.random.default_rng(_sampling_seed(seed))).random(design.points)
    else:
        from .sensitivity import saltelli_unit_sample

        unit = saltelli_unit_sample(names, design.base_points, design.second_order, _sampling_seed(seed) % 2**32)
    points = [{n: _from_unit(p, float(u)) for n, p, u in zip(names, params, row)} for row in unit]
    return points, unit


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


def plan_sweep(path: str | Path, overrides: Iterable[str] | Mapping[str, Any] = ()) -> Plan:
    """Validate a sweep file against its scenario and lay out its points and runs."""
    loaded = load_sweep(path)
    spec, source, lines = loaded.spec, loaded.source, loaded.lines
    text = loaded.scenario_path.read_text(encoding="utf-8")
    scen_source = str(loaded.scenario_path)
    fixed = dict(spec.set)
    fixed.update({k: v for k, v, _ in parse_overrides(overrides)})
    problems: list[str] = []
    try:
        base = parse_scenario(text, scen_source, fixed, default_name=loaded.scenario_path.stem)
    except ScenarioError as err:
        found = list(err.lines)
        for key, value in spec.set.items():
            found = _rewrite(found, f"--set {key}={value}", f"{_line(('set', key), lines, source)}: set.{key} = {value!r}")
        if fixed:
            try:
                parse_scenario(text, scen_source, default_name=loaded.scenario_path.stem)
            except ScenarioError:
                pass
            else:  # the scenario is fine on its own: the overrides break it
                where = _line(("set",), lines, source) + ": set" if spec.set else "--set"
                found = [line if line.startswith((source, "--set")) else f"{where}: {line}" for line in found]
        raise SweepError(found) from None
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
        if isinstance(p, Values):
            trial = list(dict.fromkeys(p.values))[:50]
        elif isinstance(spec.design, Grid):
            trial = _grid_values(p)
            trial = list(dict.fromkeys([trial[0], trial[-1]]))
        else:
            trial = list(dict.fromkeys([_from_unit(p, 0.0), _from_unit(p, 1.0 - 1e-12)]))
        for value in trial:
            try:
                parse_scenario(text, scen_source, {**fixed, name: value}, default_name=loaded.scenario_path.stem)
            except ScenarioError as err:
                shown = f"--set {name}={value}"
                for line in _rewrite(err.lines, shown, f"{where}: parameters.{name} = {value!r}", always=True):
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
        from .sensitivity import SensitivityUnavailable, require_salib

        try:
            require_salib()
        except SensitivityUnavailable as err:
            problems.append(f"{_line(('design',), lines, source)}: design: {err}")
    if problems:
        raise SweepError(problems)
    seed = base.seed if spec.seed is None else spec.seed
    points, unit = design_points(spec, seed)
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
    """Replications of one scenario: a sweep with one point and every headline metric."""
    path = Path(scenario)
    base = load_scenario(path, overrides)
    if replications < 1:
        raise SweepError([f"--replications {replications}: expected a number of replications >= 1, got {replications}"])
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
    return Plan(f"{base.name}-replications", path.read_text(encoding="utf-8"), str(path), fixed, [], [{}],
                replications, seed, True, list(metrics), {"type": "replications"}, fingerprint, None,
                {"scenario_file": str(path), "scenario": base.name, "scenario_sha256": sha})


# --------------------------------------------------------------------------- running (in workers)


@dataclass(frozen=True)
class Task:
    """A batch of runs for one worker: the base scenario text and, per run, its overrides."""

    base_text: str
    base_source: str
    fixed: tuple
    metrics: tuple
    runs: tuple  # ((point_id, replication, seed, ((path, value), ...)), ...)
    keep_dir: str | None = None  # write full run folders of the first replications here ...
    keep_below: int = 0  # ... those with replication index below this (for fan charts)


_SCENARIOS: dict = {}


def _scenario_for(task: Task, overrides: tuple):
    key = (hashlib.sha1(task.base_text.encode()).hexdigest(), task.fixed, overrides)
    scenario = _SCENARIOS.get(key)
    if scenario is None:
        merged = {**dict(task.fixed), **dict(overrides)}
        scenario = parse_scenario(task.base_text, task.base_source, merged, default_name=Path(task.base_source).stem)
        if len(_SCENARIOS) > 16:
            _SCENARIOS.clear()
        _SCENARIOS[key] = scenario
    return scenario


def _select(headline: Mapping[str, float], patterns: Sequence[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for pattern in patterns:
        if any(ch in pattern for ch in "*?["):
            for name in headline:
                if fnmatch.fnmatchcase(name, pattern):
                    out.setdefault(name, float(headline[name]))
        else:
            out.setdefault(pattern, float(headline.get(pattern, math.nan)))
    return out


def run_task(task: Task) -> list[dict]:
    """Run a batch; a run that raises is returned with its error, the others go on."""
    from .runner import run

    rows = []
    for point_id, replication, seed, overrides in task.runs:
        started = time.perf_counter()
        row: dict[str, Any] = {"point_id": point_id, "replication": replication, "seed": seed}
        try:
            result = run(_scenario_for(task, overrides), seed=seed)
            row["metrics"] = _select(result.headline, task.metrics)
            row["error"] = None
            if task.keep_dir is not None and replication < task.keep_below:
                _keep_run(result, Path(task.keep_dir) / "replications" / f"seed{seed}")
        except Exception as err:  # noqa: BLE001 - recorded, and the sweep goes on
            text = "; ".join(err.lines) if isinstance(err, ScenarioError) else str(err)
            row["metrics"] = {}
            row["error"] = f"{type(err).__name__}: {text}"
        row["wall_seconds"] = time.perf_counter() - started  # the run, and building its scenario if new
        rows.append(row)
    return rows


def _keep_run(result, folder: Path) -> None:
    """Write a replication's full run folder (atomically; a stale one is replaced)."""
    from .results import write_run

    if folder.exists():
        shutil.rmtree(folder)
    write_run(result, folder)


def keep_representative(plan: Plan, folder: str | Path) -> Path | None:
    """Copy replication 0's run files into ``folder`` itself, so that the folder reads as a run
    folder (its report then shows the kept replications as fan charts); returns the folder."""
    folder = Path(folder)
    first = folder / "replications" / f"seed{plan.seed_of(0, 0)}"
    if not (first / "manifest.json").is_file():
        return None
    for item in first.iterdir():
        if item.is_file():
            shutil.copy2(item, folder / item.name)
    return folder


# --------------------------------------------------------------------------- executors


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


class Executor:
    """The one interface sweeps use: run ``fn`` on each task, yield ``(task, result, error)`` as
    tasks finish (in any order). ``error`` is an exception of the machinery (a lost worker),
    never of a run: runs catch their own errors."""

    workers: int = 1

    def map_unordered(self, fn: Callable, tasks: Sequence) -> Iterator[tuple[Any, Any, BaseException | None]]:
        raise NotImplementedError

    def close(self, cancel: bool = False) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, kind, *_):
        self.close(cancel=kind is not None)


class LocalExecutor(Executor):
    """Local processes (concurrent.futures); ``workers=1`` runs in this process."""

    def __init__(self, workers: int | None = None):
        self.workers = max(1, workers or available_cores())
        self._pool: cf.ProcessPoolExecutor | None = None

    def map_unordered(self, fn, tasks):
        if self.workers == 1:
            for task in tasks:
                yield task, fn(task), None
            return
        if self._pool is None:
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(["simulator.sweep", "simulator.runner"])
            self._pool = cf.ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx)
        futures = {self._pool.submit(fn, task): task for task in tasks}
        for future in cf.as_completed(futures):
            try:
                yield futures[future], future.result(), None
            except Exception as err:  # noqa: BLE001 - e.g. BrokenProcessPool
                yield futures[future], None, err

    def close(self, cancel: bool = False) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=not cancel, cancel_futures=cancel)
            self._pool = None


class DaskExecutor(Executor):
    """Dask distributed: a scheduler address (``tcp://host:8786``), an existing ``Client``, or a
    local cluster of ``workers`` processes (threads if ``processes=False``).
    Needs ``resim[distributed]``; workers of a remote cluster need resim installed."""

    def __init__(self, scheduler: Any = None, workers: int | None = None, processes: bool = True):
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise SweepError(["--executor dask needs dask.distributed: install resim[distributed] "
                              "(pip install -e '.[distributed]')"]) from None
        self._cluster = None
        if scheduler is not None and not isinstance(scheduler, str):
            self.client, self._own_client = scheduler, False
        elif scheduler:
            try:
                self.client = Client(scheduler, timeout="20s")
            except OSError as err:
                raise SweepError([f"--scheduler {scheduler}: cannot connect to a Dask scheduler ({err})"]) from None
            self._own_client = True
        else:
            self._cluster = LocalCluster(n_workers=workers or available_cores(), threads_per_worker=1,
                                         processes=processes, dashboard_address=None)
            self.client, self._own_client = Client(self._cluster), True
        self.workers = max(1, sum(self.client.nthreads().values()))

    def map_unordered(self, fn, tasks):
        from distributed import as_completed

        futures = {}
        for task in tasks:
            futures[self.client.submit(fn, task, pure=False)] = task
        self._futures = list(futures)
        for future in as_completed(list(futures)):
            try:
                yield futures[future], future.result(), None
            except Exception as err:  # noqa: BLE001 - e.g. KilledWorker
                yield futures[future], None, err

    def close(self, cancel: bool = False) -> None:
        if cancel and getattr(self, "_futures", None):
            self.client.cancel(self._futures)
        if self._own_client:
            self.client.close()
        if self._cluster is not None:
            self._cluster.close()


def make_executor(executor: str | Executor = "local", workers: int | None = None, scheduler: str | None = None) -> Executor:
    if isinstance(executor, Executor):
        return executor
    if workers is not None and workers < 1:
        raise SweepError([f"--workers {workers}: expected a number of workers >= 1, got {workers}"])
    if executor == "local":
        if scheduler:
            raise SweepError([f"--scheduler {scheduler}: expected --executor dask with a scheduler, got --executor local"])
        return LocalExecutor(workers)
    if executor == "dask":
        return DaskExecutor(scheduler, workers)
    raise SweepError([f"--executor {executor}: expected local or dask, got {executor!r}"])


# --------------------------------------------------------------------------- results on disk


def _parquet_available() -> bool:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_UMASK = os.umask(0)
os.umask(_UMASK)


class ResultStore:
    """``runs.parquet`` (or ``.csv``) plus ``runs/part-*`` appended as batches finish."""

    def __init__(self, folder: Path, parquet: bool | None = None):
        self.folder = Path(folder)
        self.parquet = _parquet_available() if parquet is None else parquet
        self.ext = "parquet" if self.parquet else "csv"
        self.parts = self.folder / "runs"
        self._count = 0

    @property
    def table_path(self) -> Path:
        return self.folder / f"runs.{self.ext}"

    def _write(self, frame: pd.DataFrame, path: Path) -> None:
        frame = _storable(frame)
        if self.parquet:
            _atomic_write(path, lambda p: frame.to_parquet(p, index=False))
        else:
            _atomic_write(path, lambda p: frame.to_csv(p, index=False, lineterminator="\n"))

    def _read(self, path: Path) -> pd.DataFrame:
        if path.suffix == ".parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path, keep_default_na=True)

    def append(self, rows: list[dict]) -> None:
        self.parts.mkdir(parents=True, exist_ok=True)
        self._count += 1
        name = f"part-{time.time_ns():020d}-{os.getpid()}-{self._count:06d}.{self.ext}"
        self._write(_rows_frame(rows), self.parts / name)

    def load(self) -> pd.DataFrame:
        files = sorted(self.folder.glob("runs.*")) if self.folder.is_dir() else []
        frames = [self._read(f) for f in files if f.suffix in (".parquet", ".csv")]
        if self.parts.is_dir():
            frames += [self._read(f) for f in sorted(self.parts.iterdir(), key=lambda f: f.name)
                       if f.suffix in (".parquet", ".csv") and not f.name.startswith(".")]
        frames = [f for f in frames if len(f)]
        if not frames:
            return pd.DataFrame(columns=KEY_COLUMNS + TAIL_COLUMNS)
        table = pd.concat(frames, ignore_index=True)
        table = table.drop_duplicates(["point_id", "replication"], keep="last")
        if "error" in table:
            table["error"] = table["error"].astype(object).where(table["error"].notna(), None)
        return table.sort_values(["point_id", "replication"]).reset_index(drop=True)

    def compact(self) -> pd.DataFrame:
        """Merge the part files into ``runs.<ext>`` (atomically), then remove them."""
        table = self.load()
        if self.parts.is_dir() and any(self.parts.iterdir()) or not self.table_path.exists():
            self._write(table, self.table_path)
            for other in self.folder.glob("runs.*"):
                if other != self.table_path and other.suffix in (".parquet", ".csv"):
                    other.unlink()  # a format switch (pyarrow installed since): one table only
            if self.parts.is_dir():
                shutil.rmtree(self.parts)
        return table


def _rows_frame(rows: list[dict]) -> pd.DataFrame:
    flat = []
    for row in rows:
        flat.append({"point_id": row["point_id"], "replication": row["replication"], "seed": row["seed"],
                     **row.get("parameters", {}), **row["metrics"],
                     "wall_seconds": row["wall_seconds"], "error": row["error"]})
    return pd.DataFrame(flat)


def _storable(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns of one type each (a parameter list mixing numbers and text is stored as text)."""
    frame = frame.copy()
    for column in frame.columns:
        if column == "error":
            frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
            continue
        if frame[column].dtype == object:
            kinds = {type(v) for v in frame[column] if v is not None and not (isinstance(v, float) and math.isnan(v))}
            if len(kinds) > 1 and not kinds <= {int, float}:
                frame[column] = frame[column].astype(str)
    return frame


# --------------------------------------------------------------------------- progress


class Progress:
    """One stderr line: runs done, failed, and time left (a bar on a terminal)."""

    def __init__(self, total: int, skipped: int, enabled: bool = True, stream=None, label: str = "runs"):
        self.total, self.skipped, self.enabled = total, skipped, enabled
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.started = time.monotonic()
        self.done = self.failed = 0
        self._last = 0.0
        self.label = label

    def update(self, done: int, failed: int) -> None:
        self.done += done
        self.failed += failed
        now = time.monotonic()
        finished = self.skipped + self.done >= self.total
        if not self.enabled or (not finished and now - self._last < (0.2 if self.tty else 10.0)):
            return
        self._last = now
        if self.tty:
            self.stream.write("\r\033[K" + self.line() + ("\n" if finished else ""))
        else:
            self.stream.write(self.line() + "\n")
        self.stream.flush()

    def line(self) -> str:
        todo = self.total - self.skipped
        elapsed = time.monotonic() - self.started
        left = elapsed / self.done * (todo - self.done) if self.done else math.nan
        frac = (self.skipped + self.done) / self.total if self.total else 1.0
        bar = "#" * int(frac * 24) + "." * (24 - int(frac * 24))
        eta = "?" if math.isnan(left) else _clock(left)
        skipped = f", {self.skipped} already done" if self.skipped else ""
        return (f"[{bar}] {self.skipped + self.done}/{self.total} {self.label}{skipped}, {self.failed} failed, "
                f"{_clock(elapsed)} elapsed, {eta} left")


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


# --------------------------------------------------------------------------- execute


def _batches(plan: Plan, todo: list[tuple[int, int]], workers: int, batch: int | None,
             keep_dir: Path | None = None, keep_below: int = 0) -> list[Task]:
    if batch is None:
        batch = max(1, min(25, math.ceil(len(todo) / (workers * 6))))
    fixed = tuple(sorted(plan.fixed.items(), key=lambda kv: kv[0]))
    tasks = []
    for i in range(0, len(todo), batch):
        runs = tuple((p, r, plan.seed_of(p, r), tuple(plan.points[p].items())) for p, r in todo[i:i + batch])
        tasks.append(Task(plan.base_text, plan.base_source, _freeze(fixed), tuple(plan.metrics), _freeze(runs),
                          str(keep_dir) if keep_dir is not None and keep_below > 0 else None, keep_below))
    return tasks


def _freeze(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple((k, _freeze(v)) for k, v in value.items())
    return value


def _manifest(plan: Plan, folder: Path, store: ResultStore, extra: dict) -> dict:
    from .runner import version

    return {"name": plan.name, "fingerprint": plan.fingerprint, **plan.description,
            "seed": plan.seed, "common_random_numbers": plan.common_random_numbers, "design": plan.design,
            "parameters": plan.parameters, "points": len(plan.points), "replications": plan.replications,
            "runs": plan.runs, "metrics": plan.metrics, "fixed_overrides": {k: _json_value(v) for k, v in plan.fixed.items()},
            "format": store.ext, "package_version": version(), **extra}


def _check_folder(plan: Plan, folder: Path, fresh: bool) -> None:
    manifest = folder / "sweep.json"
    ours = ["sweep.json", "points.csv", "summary.csv", "sensitivity.csv", "runs.parquet", "runs.csv", "runs"]
    if fresh:
        for name in ours:
            target = folder / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
        return
    if manifest.exists():
        try:
            old = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            old = {}
        if old.get("fingerprint") != plan.fingerprint:
            raise SweepError([f"{folder}: holds results of a different sweep (scenario, parameters, design, seed "
                              "or metrics changed); run with --fresh to discard them, or give the sweep another name"])
    elif folder.exists() and any(p.name in ours for p in folder.iterdir()):
        raise SweepError([f"{folder}: holds results without a sweep.json; run with --fresh to discard them"])


def execute(plan: Plan, folder: str | Path, executor: Executor, *, progress: bool = True, fresh: bool = False,
            retry_failed: bool = False, batch: int | None = None, parquet: bool | None = None,
            stream=None, keep_runs: int = 0) -> tuple[pd.DataFrame, dict]:
    """Run what is missing from ``folder``; return (this plan's runs, information about the call).

    ``keep_runs``: also write the full run folders of replications 0..keep_runs-1 under
    ``folder/replications/`` (the workers must see ``folder``: local processes, or a Dask
    cluster on a shared file system)."""
    folder = Path(folder)
    _check_folder(plan, folder, fresh)
    folder.mkdir(parents=True, exist_ok=True)
    store = ResultStore(folder, parquet)
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    try:
        created = json.loads((folder / "sweep.json").read_text(encoding="utf-8")).get("created", now)
    except (OSError, ValueError):
        created = now
    data = _manifest(plan, folder, store, {"created": created, "updated": now})
    _atomic_write(folder / "sweep.json", lambda p: p.write_text(json.dumps(data, indent=2, default=str) + "\n"))
    points = pd.DataFrame([{"point_id": i, **p} for i, p in enumerate(plan.points)])
    _atomic_write(folder / "points.csv", lambda p: _storable(points).to_csv(p, index=False, lineterminator="\n"))
    existing = store.load()
    if retry_failed and len(existing):
        existing = existing[existing["error"].isna()]
    done = set(zip(existing["point_id"].astype(int), existing["replication"].astype(int))) if len(existing) else set()
    todo = [key for key in plan.keys() if key not in done]
    info = {"folder": folder, "runs": plan.runs, "skipped": plan.runs - len(todo), "ran": 0, "failed": 0,
            "lost": 0, "lost_error": None, "workers": executor.workers, "seconds": 0.0}
    bar = Progress(plan.runs, plan.runs - len(todo), progress, stream)
    started = time.perf_counter()
    if todo:
        tasks = _batches(plan, todo, executor.workers, batch, folder.resolve(), keep_runs)
        try:
            for task, rows, err in executor.map_unordered(run_task, tasks):
                if err is not None:
                    info["lost"] += len(task.runs)
                    info["lost_error"] = f"{type(err).__name__}: {err}"
                    bar.update(0, len(task.runs))
                    continue
                for row in rows:
                    row["parameters"] = plan.points[row["point_id"]]
                store.append(rows)
                failed = sum(1 for r in rows if r["error"])
                info["ran"] += len(rows)
                info["failed"] += failed
                bar.update(len(rows), failed)
        except KeyboardInterrupt:
            executor.close(cancel=True)
            store.compact()
            raise SweepInterrupted(folder, info["skipped"] + info["ran"], plan.runs) from None
    info["seconds"] = time.perf_counter() - started
    table = store.compact()
    return _this_plan(table, plan), info


def _this_plan(table: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    if len(table):
        table = table[(table["point_id"] < len(plan.points)) & (table["replication"] < plan.replications)]
    metric_cols = [c for c in table.columns if c not in set(KEY_COLUMNS) | set(TAIL_COLUMNS) | set(plan.parameters)]
    explicit = [m for m in plan.metrics if not any(ch in m for ch in "*?[")]
    metric_cols = explicit + [c for c in metric_cols if c not in explicit]
    for c in metric_cols:
        if c not in table:
            table[c] = math.nan
    columns = KEY_COLUMNS + plan.parameters + metric_cols + TAIL_COLUMNS
    for c in plan.parameters:
        if c not in table:
            table[c] = None
    table = table[columns].reset_index(drop=True)
    table.attrs = {"name": plan.name, "parameters": list(plan.parameters), "metrics": metric_cols}
    return table


# --------------------------------------------------------------------------- summaries


def _stats(values: np.ndarray) -> dict[str, float]:
    from scipy import stats

    v = values[~np.isnan(values)]
    n = len(v)
    out = {"n": n, "mean": math.nan, "sd": math.nan, "ci95_low": math.nan, "ci95_high": math.nan,
           "p10": math.nan, "p50": math.nan, "p90": math.nan}
    if n == 0:
        return out
    mean = float(v.mean())
    out.update(mean=mean, p10=float(np.percentile(v, 10)), p50=float(np.percentile(v, 50)), p90=float(np.percentile(v, 90)))
    if n > 1:
        sd = float(v.std(ddof=1))
        half = float(stats.t.ppf(0.975, n - 1)) * sd / math.sqrt(n)
        out.update(sd=sd, ci95_low=mean - half, ci95_high=mean + half)
    return out


def summarise(runs: pd.DataFrame, parameters: Sequence[str] | None = None, metrics: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per point and metric: ``n`` (runs where the metric has a value), ``failed`` (runs
    of the point that raised), mean, sd, 95% CI of the mean (Student t), p10, p50, p90.

    Statistics are over the runs where the metric is defined: ``first_stop_day`` of a line that
    never stopped is NaN, so ``n`` says in how many runs it stopped."""
    parameters = list(runs.attrs.get("parameters", []) if parameters is None else parameters)
    metrics = list(runs.attrs.get("metrics", []) if metrics is None else metrics)
    rows = []
    for point_id, g in runs.groupby("point_id", sort=True):
        failed = int(g["error"].notna().sum()) if "error" in g else 0
        ok = g[g["error"].isna()] if "error" in g else g
        head = {"point_id": int(point_id), **{p: g[p].iloc[0] for p in parameters}}
        for metric in metrics:
            values = pd.to_numeric(ok[metric], errors="coerce").to_numpy(dtype=float) if metric in ok else np.array([])
            rows.append({**head, "metric": metric, "failed": failed, **_stats(values)})
    columns = ["point_id", *parameters, "metric", "n", "failed", "mean", "sd", "ci95_low", "ci95_high", "p10", "p50", "p90"]
    return pd.DataFrame(rows, columns=columns)


def _num(x: float) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    ax = abs(x)
    if ax != 0 and (ax >= 1e6 or ax < 1e-3):
        return f"{x:.3g}"
    return f"{x:,.4g}" if ax < 1000 else f"{x:,.0f}"


def format_replications(summary: pd.DataFrame, info: dict, plan: Plan) -> str:
    lines = [f"{plan.description.get('scenario', plan.name)}: {plan.replications} replications "
             f"(seed {plan.seed}, child seeds from SeedSequence), {_run_counts(info)}"]
    table = [("metric", "n", "mean", "sd", "95% CI", "p10", "p50", "p90")]
    for row in summary.itertuples(index=False):
        ci = f"[{_num(row.ci95_low)}, {_num(row.ci95_high)}]"
        table.append((row.metric, str(row.n), _num(row.mean), _num(row.sd), ci, _num(row.p10), _num(row.p50), _num(row.p90)))
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
            rows.append((str(d["point_id"]), *values, str(d["n"]), _num(d["mean"]),
                         f"[{_num(d['ci95_low'])}, {_num(d['ci95_high'])}]"))
        lines += _columns(rows)
    return "\n".join(lines)


# --------------------------------------------------------------------------- entry points


def _finish(plan: Plan, runs: pd.DataFrame, info: dict, folder: Path) -> tuple[pd.DataFrame, pd.DataFrame | None, str]:
    summary = summarise(runs)
    _atomic_write(folder / "summary.csv", lambda p: _storable(summary).to_csv(p, index=False, lineterminator="\n"))
    text = ""
    sens = None
    if plan.design.get("type") == "sobol":
        from .sensitivity import format_ranking, sweep_indices

        sens, skipped = sweep_indices(runs, plan.parameters, runs.attrs["metrics"], len(plan.points),
                                      plan.design.get("second_order", False), plan.design.get("resamples", 1000),
                                      plan.design.get("conf_level", 0.95), seed=plan.seed % 2**32)
        _atomic_write(folder / "sensitivity.csv", lambda p: sens.to_csv(p, index=False, lineterminator="\n"))
        text = format_ranking(sens, skipped, plan.design.get("conf_level", 0.95))
    return summary, sens, text


def _results_folder(plan: Plan, results: str | Path, out: str | Path | None, sub: str | None = None) -> Path:
    if out is not None:
        return Path(out)
    return Path(results) / plan.name if sub is None else Path(results) / sub


def sweep(path: str | Path, *, workers: int | None = None, executor: str | Executor = "local",
          scheduler: str | None = None, results: str | Path = "results", out: str | Path | None = None,
          overrides: Iterable[str] | Mapping[str, Any] = (), fresh: bool = False, retry_failed: bool = False,
          progress: bool = False, batch: int | None = None) -> pd.DataFrame:
    """Run the sweep file ``path``; return one row per run (point id, replication, seed, every
    swept parameter, every metric, wall seconds, error or None).

    Results are written (and resumed from) ``results/<sweep-name>/`` or ``out``; the per-point
    summary (:func:`summarise` of the table) and, for Sobol' designs, the indices are there too
    (``summary.csv``, ``sensitivity.csv``). ``table.attrs`` holds the folder, the parameter and
    metric column names and counts of this call (``info``).
    ``executor``: "local" (processes; ``workers`` default all cores), "dask" (a local cluster,
    or ``scheduler="tcp://host:8786"``) or an :class:`Executor`."""
    plan = plan_sweep(path, overrides)
    folder = _results_folder(plan, results, out)
    own = not isinstance(executor, Executor)
    ex = make_executor(executor, workers, scheduler)
    try:
        runs, info = execute(plan, folder, ex, progress=progress, fresh=fresh, retry_failed=retry_failed, batch=batch)
    finally:
        if own:
            ex.close()
    summary, sens, _ = _finish(plan, runs, info, folder)
    runs.attrs.update(folder=str(folder), info={k: v for k, v in info.items() if k != "folder"})
    return runs


def replicate(scenario: str | Path, replications: int, *, seed: int | None = None,
              overrides: Iterable[str] | Mapping[str, Any] = (), workers: int | None = None,
              executor: str | Executor = "local", scheduler: str | None = None, results: str | Path = "results",
              out: str | Path | None = None, progress: bool = False) -> pd.DataFrame:
    """``replications`` runs of a scenario with child seeds of ``seed``; one row per run."""
    plan = plan_replications(scenario, replications, seed, overrides)
    folder = _replications_folder(plan, results, out)
    own = not isinstance(executor, Executor)
    ex = make_executor(executor, workers, scheduler)
    try:
        runs, info = execute(plan, folder, ex, progress=progress)
    finally:
        if own:
            ex.close()
    _finish(plan, runs, info, folder)
    runs.attrs.update(folder=str(folder))
    return runs


def _replications_folder(plan: Plan, results: str | Path, out: str | Path | None) -> Path:
    if out is not None:
        return Path(out)
    tag = hashlib.sha256((plan.fingerprint).encode()).hexdigest()[:8]
    return Path(results) / plan.description["scenario"] / f"replications-seed{plan.seed}-{tag}"
