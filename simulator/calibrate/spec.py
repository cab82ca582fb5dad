"""The calibration-file schema, priors, and reading a calibration file with file:line errors."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError, model_validator
from scipy import stats

from ..loading import ScenarioError, _data_path, _dotted, _read_yaml, _where, describe_error, read_text_file
from ..sweep.spec import MAX_RUNS, Identifier


class CalibrationError(ScenarioError):
    """A calibration file (or option) is invalid; ``lines`` holds one message per problem."""


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _range_shorthand(value: Any) -> Any:
    return {"dist": "uniform", "min": value[0], "max": value[1]} if isinstance(value, list) and len(value) == 2 else value


class Prior(_Spec):
    """A prior: ``uniform`` or ``loguniform`` {min, max}, ``triangular`` {min, mode, max}, or
    ``normal`` {mean, sd} truncated to optional {min, max}; ``[a, b]`` is uniform on a..b.
    ``integer: true`` rounds each value to a whole number before it is set in the scenario."""

    dist: Literal["uniform", "loguniform", "triangular", "normal"] = "uniform"
    min: float | None = None
    max: float | None = None
    mode: float | None = None
    mean: float | None = None
    sd: Annotated[float, Field(gt=0)] | None = None
    integer: bool = False

    @model_validator(mode="after")
    def _check(self):
        need = {"uniform": ("min", "max"), "loguniform": ("min", "max"), "triangular": ("min", "mode", "max"),
                "normal": ("mean", "sd")}[self.dist]
        missing = [k for k in need if getattr(self, k) is None]
        if missing:
            raise ValueError(f"expected {', '.join(need)} for a {self.dist} prior, got no {', '.join(missing)}")
        for k in ("min", "max", "mode", "mean", "sd"):
            v = getattr(self, k)
            if v is not None and not math.isfinite(v):
                raise ValueError(f"expected finite numbers, got {k}={v}")
        if self.min is not None and self.max is not None and not self.max > self.min:
            raise ValueError(f"expected max > min, got min={self.min:g}, max={self.max:g}")
        if self.dist == "loguniform" and self.min <= 0:
            raise ValueError(f"expected min > 0 for a loguniform prior, got min={self.min:g}")
        if self.dist == "triangular" and not self.min <= self.mode <= self.max:
            raise ValueError(f"expected min <= mode <= max, got {self.min:g}, {self.mode:g}, {self.max:g}")
        if self.dist != "normal" and (self.mean is not None or self.sd is not None):
            raise ValueError(f"expected no mean or sd for a {self.dist} prior (they belong to normal), got one")
        return self

    def frozen(self):
        """The prior as a frozen scipy.stats distribution."""
        if self.dist == "uniform":
            return stats.uniform(self.min, self.max - self.min)
        if self.dist == "loguniform":
            return stats.loguniform(self.min, self.max)
        if self.dist == "triangular":
            return stats.triang((self.mode - self.min) / (self.max - self.min), loc=self.min, scale=self.max - self.min)
        lo = -np.inf if self.min is None else (self.min - self.mean) / self.sd
        hi = np.inf if self.max is None else (self.max - self.mean) / self.sd
        return stats.truncnorm(lo, hi, loc=self.mean, scale=self.sd)

    def describe(self) -> str:
        parts = {k: getattr(self, k) for k in ("min", "mode", "max", "mean", "sd") if getattr(self, k) is not None}
        return f"{self.dist}(" + ", ".join(f"{k}={v:g}" for k, v in parts.items()) + ")" + (" integer" if self.integer else "")


PriorField = Annotated[Prior, BeforeValidator(_range_shorthand)]
Month = Annotated[int, Field(ge=190001, le=220012)]


class Statistics(_Spec):
    """Summary statistics: ``index`` (default: each month / the mean of the baseline months of its
    series) or ``level`` (each month / the mean of the observed series, so tonnes count too)."""

    type: Literal["index", "level"] = "index"
    baseline: list[Month] | None = Field(default=None, min_length=1)


class CalibrationSpec(_Spec):
    """A calibration file."""

    name: Identifier | None = None
    description: str = ""
    scenario: str = Field(description="The scenario file, relative to the calibration file.")
    set: dict[str, Any] = Field(default_factory=dict)
    observed: str = Field(description="The observed series (CSV in the customs shape), relative to this file.")
    select: dict[str, str] = Field(default_factory=dict)
    seed: Annotated[int, Field(ge=0)] | None = None
    parameters: dict[str, PriorField] = Field(min_length=1)
    statistics: Statistics = Statistics()
    replications: Annotated[int, Field(ge=1, le=1000)] = 2
    population: Annotated[int, Field(ge=10, le=100_000)] = 100
    budget: Annotated[int, Field(ge=1, le=MAX_RUNS)]
    common_random_numbers: bool = True


_TAGS = frozenset({"uniform", "loguniform", "triangular", "normal", "index", "level"})
_FIELDS: list[str] = sorted({n for m in (CalibrationSpec, Prior, Statistics) for n in m.model_fields})


def line_of(path: tuple, lines: dict, source: str) -> str:
    """``file:LINE`` of the deepest part of ``path`` the file has."""
    return _where(path, lines, {}, source)[1]


@dataclass
class LoadedCalibration:
    spec: CalibrationSpec
    source: str
    name: str
    scenario_path: Path
    observed_path: Path
    lines: dict = field(repr=False)


def _find(base: Path, given: str) -> Path | None:
    return next((c for c in (base.parent / given, Path(given)) if c.is_file()), None)


def load_calibration(path: str | Path) -> LoadedCalibration:
    """Read and validate a calibration file (not yet its parameters against the scenario)."""
    path = Path(path)
    source = str(path)
    text = read_text_file(path, "calibration", CalibrationError)
    if not text.strip():
        raise CalibrationError([f"{source}:1: calibration: expected a YAML mapping (scenario, observed, parameters, "
                                "budget, ...), got an empty file"])
    try:
        data, lines = _read_yaml(text, source)
    except ScenarioError as err:
        raise CalibrationError(err.lines) from None
    if not isinstance(data, dict):
        raise CalibrationError([f"{source}:1: calibration: expected a YAML mapping (scenario, observed, parameters, "
                                f"budget, ...), got {type(data).__name__}"])
    try:
        spec = CalibrationSpec.model_validate(data)
    except ValidationError as err:
        found = []
        for e in err.errors():
            where_path = _data_path(data, e["loc"], _TAGS)
            where = line_of(where_path, lines, source)
            found.append((int(where.rsplit(":", 1)[1]),
                          f"{where}: {_dotted(where_path) or 'calibration'}: {describe_error(e, _FIELDS)}"))
        raise CalibrationError(list(dict.fromkeys(m for _, m in sorted(found, key=lambda x: x[0])))) from None
    if spec.name is None:
        try:
            TypeAdapter(Identifier).validate_python(path.stem)
        except ValidationError as err:
            raise CalibrationError([f"{source}:1: name: {describe_error(err.errors()[0])} "
                                    "(taken from the file name: add a `name:` field)"]) from None
    problems = []
    scenario_path, observed_path = _find(path, spec.scenario), _find(path, spec.observed)
    for key, given, found_path, kind in (("scenario", spec.scenario, scenario_path, "a scenario file"),
                                         ("observed", spec.observed, observed_path, "an observed series (CSV)")):
        if found_path is None:
            tried = " or ".join(dict.fromkeys(str(c) for c in (path.parent / given, Path(given))))
            problems.append(f"{line_of((key,), lines, source)}: {key}: expected {kind}, got {given!r} (no file {tried})")
    first = spec.population * spec.replications
    if spec.budget < 2 * first:
        problems.append(f"{line_of(('budget',), lines, source)}: budget: expected at least 2 x population x replications "
                        f"= {2 * first:,} runs (the prior's round and one more), got {spec.budget:,}")
    if problems:
        raise CalibrationError(problems)
    return LoadedCalibration(spec, source, spec.name or path.stem, scenario_path, observed_path, lines)
