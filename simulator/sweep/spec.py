"""The sweep-file schema, and loading a sweep file with file:line errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, Tag, TypeAdapter, ValidationError, model_validator,
)

from .. import catalog
from ..loading import ScenarioError, _data_path, _dotted, _read_yaml, _where, describe_error, read_text_file
from .errors import SweepError


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Scalar = Union[bool, int, float, str]
MAX_RUNS = 1_000_000  # runs of a sweep (points x replications): a design is laid out in memory
Identifier = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_\-]*$", max_length=64)]


class Values(_Spec):
    """An explicit list of values (YAML numbers, text or booleans)."""

    values: list[Scalar] = Field(min_length=1)


class Range(_Spec):
    """``min``..``max``: continuous for Latin hypercube and Sobol' designs; a grid takes
    ``steps`` evenly spaced values (both ends included) or every ``step`` from ``min``."""

    min: float
    max: float
    steps: Annotated[int, Field(ge=2, le=MAX_RUNS)] | None = None
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
        if self.step is not None and (self.max - self.min) / self.step >= MAX_RUNS:
            raise ValueError(f"expected at most {MAX_RUNS:,} values from min to max, got "
                             f"{(self.max - self.min) / self.step:.3g} steps of {self.step:g}")
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
    points: Annotated[int, Field(ge=1, le=MAX_RUNS)]


class Sobol(_Spec):
    """Saltelli's sampling for Sobol' indices: ``base_points`` (a power of 2) x (D + 2) points,
    x (2D + 2) with second-order indices. Needs SALib (``resim[sensitivity]``)."""

    type: Literal["sobol"]
    base_points: Annotated[int, Field(ge=2, le=MAX_RUNS)]
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
    replications: Annotated[int, Field(ge=1, le=MAX_RUNS)] = 1
    design: Design = Grid(type="grid")
    common_random_numbers: bool = Field(
        default=True, description="Replication r uses the same seed at every point (differences between points "
        "are then not blurred by different random numbers).")
    parameters: dict[str, Parameter] = Field(default_factory=dict)
    metrics: list[str] = Field(default_factory=lambda: ["*"], min_length=1,
                               description="Headline metric names; shell-style patterns such as share_lost.* allowed.")


_SWEEP_TAGS = frozenset({"values", "range", "grid", "latin_hypercube", "sobol", "Values", "Range", "Grid", "LatinHypercube", "Sobol"})
_SWEEP_FIELDS: list[str] = sorted({n for m in (SweepSpec, Values, Range, Grid, LatinHypercube, Sobol) for n in m.model_fields})


def _line(path: tuple, lines: dict, source: str) -> str:
    """``file:LINE`` of the deepest part of ``path`` the sweep file has."""
    return _where(path, lines, {}, source)[1]


@dataclass
class LoadedSweep:
    spec: SweepSpec
    source: str
    name: str
    scenario_path: Path
    lines: dict = field(repr=False)


def _point_count(spec: SweepSpec) -> int:
    """How many points the design has (at most: a grid's integer ranges may repeat values)."""
    design, params = spec.design, list(spec.parameters.values())
    if isinstance(design, LatinHypercube):
        return design.points
    if isinstance(design, Sobol):
        return design.base_points * ((2 if design.second_order else 1) * len(params) + 2)
    count = 1
    for p in params:
        if isinstance(p, Values):
            count *= len(p.values)
        elif p.steps is not None:
            count *= p.steps
        elif p.step is not None:
            count *= int((p.max - p.min) / p.step + 1e-9) + 1
    return count


def load_sweep(path: str | Path) -> LoadedSweep:
    """Read and validate a sweep file, or a bundled sweep by name (not yet its parameters
    against the scenario)."""
    path = catalog.sweep_path(path)
    source = str(path)
    text = read_text_file(path, "sweep", SweepError)
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
            path_ = _data_path(data, e["loc"], _SWEEP_TAGS)
            if e["type"] == "union_tag_invalid" and isinstance(e.get("input"), dict):
                path_ = path_ + (str((e.get("ctx") or {}).get("discriminator", "type")).strip("'"),)
            where = _line(path_, lines, source)
            found.append((int(where.rsplit(":", 1)[1]), f"{where}: {_dotted(path_) or 'sweep'}: {describe_error(e, _SWEEP_FIELDS)}"))
        raise SweepError(list(dict.fromkeys(m for _, m in sorted(found, key=lambda x: x[0])))) from None
    if spec.name is None:  # results/<name>/: a name from the file name (`...yaml`: '..') is checked like `name:`
        try:
            TypeAdapter(Identifier).validate_python(path.stem)
        except ValidationError as err:
            raise SweepError([f"{source}:1: name: {describe_error(err.errors()[0])} "
                              "(taken from the file name: add a `name:` field)"]) from None
    runs = _point_count(spec) * spec.replications
    if runs > MAX_RUNS:
        raise SweepError([f"{_line(('design',) if 'design' in data else ('parameters',), lines, source)}: sweep: expected "
                          f"at most {MAX_RUNS:,} runs (points x replications), got {runs:,}"])
    candidates = [path.parent / spec.scenario, Path(spec.scenario), catalog.scenario_path(spec.scenario)]  # or a bundled name
    scenario_path = next((c for c in candidates if c.is_file()), None)
    if scenario_path is None:
        tried = " or ".join(dict.fromkeys(str(c) for c in candidates))
        raise SweepError([f"{_line(('scenario',), lines, source)}: scenario: expected a scenario file, got "
                          f"{spec.scenario!r} (no file {tried})"])
    return LoadedSweep(spec, source, spec.name or path.stem, scenario_path, lines)
