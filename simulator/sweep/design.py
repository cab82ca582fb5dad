"""Design points: a full grid, a Latin hypercube or Saltelli's sampling for Sobol' indices."""

from __future__ import annotations

import math
from itertools import product
from typing import Any

import numpy as np

from .spec import Grid, LatinHypercube, Range, SweepSpec, Values


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
        from ..sensitivity import saltelli_unit_sample

        unit = saltelli_unit_sample(names, design.base_points, design.second_order, _sampling_seed(seed) % 2**32)
    points = [{n: _from_unit(p, float(u)) for n, p, u in zip(names, params, row)} for row in unit]
    return points, unit
