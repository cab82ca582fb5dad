"""Distributions of random quantities (a bare number means fixed)."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal, Union
import numpy as np
from pydantic import BeforeValidator, ConfigDict, Field, model_validator

from .base import MAX_DAYS, NoBool, Spec

# A distribution's parameters are in the unit of its field (days, mostly; a multiplier for
# variability): each at most MAX_DAYS (ten years), so that draws stay finite and a run's
# events proportional to its horizon; a coefficient of variation at most 10.
Value = Annotated[float, Field(ge=0.0, le=MAX_DAYS, allow_inf_nan=False), NoBool]
PositiveValue = Annotated[float, Field(gt=0.0, le=MAX_DAYS, allow_inf_nan=False), NoBool]
MAX_CV = 10.0


class _Dist(Spec):
    def mean(self) -> float:  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError


class Fixed(_Dist):
    """Always ``value``."""

    dist: Literal["fixed"] = "fixed"
    """Distribution kind: fixed (a bare number means the same)."""
    value: Value
    """The value, in the unit of the field (e.g. days, or a multiplier)."""

    def mean(self) -> float:
        return self.value

    def draw(self, rng, size):
        return np.full(size, self.value)


class Uniform(_Dist):
    """Uniform between ``min`` and ``max``."""

    dist: Literal["uniform"]
    """Distribution kind: uniform."""
    min: Value
    """Lower bound, in the unit of the field."""
    max: Value
    """Upper bound, in the unit of the field (at least `min`)."""

    @model_validator(mode="after")
    def _ordered(self):
        if self.min > self.max:
            raise ValueError(f"expected min <= max, got min={self.min:g}, max={self.max:g}")
        return self

    def mean(self) -> float:
        return (self.min + self.max) / 2

    def draw(self, rng, size):
        return rng.uniform(self.min, self.max, size)


class Triangular(_Dist):
    """Triangular from ``min`` to ``max``, most likely at ``mode``."""

    dist: Literal["triangular"]
    """Distribution kind: triangular."""
    min: Value
    """Lower bound, in the unit of the field."""
    mode: Value
    """Most likely value, in the unit of the field (from `min` to `max`)."""
    max: Value
    """Upper bound, in the unit of the field (above `min`)."""

    @model_validator(mode="after")
    def _ordered(self):
        if not (self.min <= self.mode <= self.max) or self.min == self.max:
            raise ValueError(
                f"expected min <= mode <= max and min < max, got min={self.min:g}, mode={self.mode:g}, max={self.max:g}"
            )
        return self

    def mean(self) -> float:
        return (self.min + self.mode + self.max) / 3

    def draw(self, rng, size):
        return rng.triangular(self.min, self.mode, self.max, size)


class Normal(_Dist):
    """Normal(mean, sd) truncated at 0 (redrawn, not clipped, so no mass piles up at 0)."""

    dist: Literal["normal"]
    """Distribution kind: normal (truncated at 0)."""
    mean_: Annotated[float, Field(ge=-MAX_DAYS, le=MAX_DAYS, allow_inf_nan=False), NoBool] = Field(alias="mean")
    """Mean before truncation at 0, in the unit of the field (at least -3 sd)."""
    sd: Value
    """Standard deviation before truncation, in the unit of the field."""
    model_config = ConfigDict(populate_by_name=True)

    @model_validator(mode="after")
    def _mostly_above_zero(self):
        # Far below 0 the truncated tail is numerically lost (scipy draws inf): such a normal
        # is almost never above 0 and is better written as another distribution.
        if self.mean_ < -3 * self.sd:
            raise ValueError(f"expected mean >= -3 sd (a normal truncated at 0 must keep some mass above 0), "
                             f"got mean={self.mean_:g}, sd={self.sd:g}")
        return self

    def mean(self) -> float:
        if self.sd == 0:
            return max(self.mean_, 0.0)
        from scipy.stats import truncnorm

        a = -self.mean_ / self.sd
        return float(truncnorm.mean(a, np.inf, loc=self.mean_, scale=self.sd))

    def draw(self, rng, size):
        if self.sd == 0:
            return np.full(size, max(self.mean_, 0.0))
        from scipy.stats import truncnorm

        a = -self.mean_ / self.sd
        return truncnorm.rvs(a, np.inf, loc=self.mean_, scale=self.sd, size=size, random_state=rng)


class LogNormal(_Dist):
    """Lognormal given by its own mean and coefficient of variation (not by mu and sigma)."""

    dist: Literal["lognormal"]
    """Distribution kind: lognormal."""
    mean_: PositiveValue = Field(alias="mean")
    """Mean of the values themselves (not of their logarithm), in the unit of the field."""
    cv: Annotated[float, Field(ge=0.0, le=MAX_CV, allow_inf_nan=False), NoBool]
    """Coefficient of variation: standard deviation / mean (no unit, 0 to 10)."""
    model_config = ConfigDict(populate_by_name=True)

    def mean(self) -> float:
        return self.mean_

    def draw(self, rng, size):
        sigma2 = math.log1p(self.cv**2)
        return rng.lognormal(math.log(self.mean_) - sigma2 / 2, math.sqrt(sigma2), size)


class Gamma(_Dist):
    """Gamma given by its mean and coefficient of variation (shape = 1/cv^2)."""

    dist: Literal["gamma"]
    """Distribution kind: gamma."""
    mean_: PositiveValue = Field(alias="mean")
    """Mean, in the unit of the field."""
    cv: Annotated[float, Field(ge=0.001, le=MAX_CV, allow_inf_nan=False), NoBool]
    """Coefficient of variation: standard deviation / mean (no unit, 0.001 to 10; shape = 1/cv^2)."""
    model_config = ConfigDict(populate_by_name=True)

    def mean(self) -> float:
        return self.mean_

    def draw(self, rng, size):
        shape = 1.0 / self.cv**2
        return rng.gamma(shape, self.mean_ / shape, size)


class Exponential(_Dist):
    """Exponential with the given ``mean``."""

    dist: Literal["exponential"]
    """Distribution kind: exponential."""
    mean_: PositiveValue = Field(alias="mean")
    """Mean, in the unit of the field."""
    model_config = ConfigDict(populate_by_name=True)

    def mean(self) -> float:
        return self.mean_

    def draw(self, rng, size):
        return rng.exponential(self.mean_, size)


def _number_means_fixed(value: Any) -> Any:
    if isinstance(value, str):  # a quoted number, or 1e9 (text to YAML 1.1): a number, as in other fields
        try:
            value = float(value)
        except ValueError:
            return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return {"dist": "fixed", "value": value}
    return value


_DistributionSpec = Annotated[
    Union[Fixed, Uniform, Triangular, Normal, LogNormal, Gamma, Exponential], Field(discriminator="dist")
]
Distribution = Annotated[
    _DistributionSpec,
    # What a file may hold (the JSON Schema's view): a bare number, or a tagged mapping.
    BeforeValidator(_number_means_fixed, json_schema_input_type=Union[Value, _DistributionSpec]),
]

