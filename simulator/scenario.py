"""The scenario schema: typed, immutable specifications of a world and its timeline.

Everything a run needs is described here and validated once, at the edge, with pydantic.
The schema knows nothing of SimPy; :mod:`simulator.model` turns a :class:`Scenario` into
components. Reading YAML (with line numbers for error messages) is in :mod:`simulator.loading`.

Units: tonnes (``_t``), days (``_days``), kilograms per unit (``_kg_per_unit``); dates are
ISO dates. Random quantities are :data:`Distribution` specs (a bare number means fixed).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Any, Literal, Union

import numpy as np
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from .codes import AGGREGATE_COUNTRIES, ELEMENTS, ISO_COUNTRIES

__all__ = [
    "Scenario",
    "Material",
    "Mine",
    "Plant",
    "Sector",
    "Firms",
    "CatchUp",
    "Stockpile",
    "Depot",
    "Lane",
    "TransportMode",
    "Licensing",
    "Quota",
    "Ban",
    "Distribution",
    "RUNTIME_SETTABLE",
]


class Spec(BaseModel):
    """Base of every spec: unknown keys are errors (catches typos) and specs are frozen.

    A field is documented by the docstring under it (or ``Field(description=...)``): that text
    is its description in ``resim schema``, so keep it to one line with the unit."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


# --------------------------------------------------------------------------- identifiers

Identifier = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_\-]*$", max_length=64)]


def _check_country(code: str) -> str:
    if code not in ISO_COUNTRIES and code not in AGGREGATE_COUNTRIES:
        raise ValueError(f"expected an ISO 3166 alpha-2 country code (e.g. CN, US, DE), got {code!r}")
    return code


def _check_element(symbol: str) -> str:
    if symbol not in ELEMENTS:
        raise ValueError(f"expected a chemical element symbol (e.g. Nd, Dy, Tb), got {symbol!r}")
    return symbol


# The JSON Schema lists the codes too, so that an editor can complete and check them.
Country = Annotated[str, AfterValidator(_check_country),
                    WithJsonSchema({"type": "string", "enum": sorted(ISO_COUNTRIES | AGGREGATE_COUNTRIES)})]
Element = Annotated[str, AfterValidator(_check_element), WithJsonSchema({"type": "string", "enum": sorted(ELEMENTS)})]


def _reference(kind: str):
    """A validator that checks a name against the scenario's ``kind`` names (from context).

    The loader passes the names found in the document as validation context, so unknown
    references are reported in the same pass, with their line, as every other error.
    """

    def check(name: str, info: ValidationInfo) -> str:
        known = (info.context or {}).get(kind)
        if known is not None and name not in known:
            raise ValueError(f"expected one of the scenario's {kind} ({_few(known)}), got {name!r}")
        return name

    return AfterValidator(check)


def _few(names, limit: int = 8) -> str:
    names = sorted(names)
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "") if names else "none defined"


MaterialRef = Annotated[str, _reference("materials")]
FacilityRef = Annotated[str, _reference("facilities")]
ControlRef = Annotated[str, _reference("controls")]


def _check_in_horizon(day: dt.date, info: ValidationInfo) -> dt.date:
    window = (info.context or {}).get("horizon")
    if window is not None and not (window[0] <= day <= window[1]):
        raise ValueError(
            f"expected a date within the scenario's horizon {window[0]} to {window[1]}, got {day}"
        )
    return day


DateInHorizon = Annotated[dt.date, AfterValidator(_check_in_horizon)]

def _not_a_boolean(value: Any) -> Any:
    # YAML reads yes/no/on/off as booleans and pydantic would quietly take them as 1 and 0.
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {str(value).lower()} (a YAML boolean)")
    return value


NoBool = BeforeValidator(_not_a_boolean)
Probability = Annotated[float, Field(ge=0.0, le=1.0), NoBool]
NonNegative = Annotated[float, Field(ge=0.0, allow_inf_nan=False), NoBool]
Positive = Annotated[float, Field(gt=0.0, allow_inf_nan=False), NoBool]
Count = Annotated[int, NoBool]

# --------------------------------------------------------------------------- distributions


class _Dist(Spec):
    def mean(self) -> float:  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError


class Fixed(_Dist):
    """Always ``value``."""

    dist: Literal["fixed"] = "fixed"
    """Distribution kind: fixed (a bare number means the same)."""
    value: NonNegative
    """The value, in the unit of the field (e.g. days, or a multiplier)."""

    def mean(self) -> float:
        return self.value

    def draw(self, rng, size):
        return np.full(size, self.value)


class Uniform(_Dist):
    """Uniform between ``min`` and ``max``."""

    dist: Literal["uniform"]
    """Distribution kind: uniform."""
    min: NonNegative
    """Lower bound, in the unit of the field."""
    max: NonNegative
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
    min: NonNegative
    """Lower bound, in the unit of the field."""
    mode: NonNegative
    """Most likely value, in the unit of the field (from `min` to `max`)."""
    max: NonNegative
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
    mean_: float = Field(alias="mean", allow_inf_nan=False)
    """Mean before truncation at 0, in the unit of the field."""
    sd: NonNegative
    """Standard deviation before truncation, in the unit of the field."""
    model_config = ConfigDict(populate_by_name=True)

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
    mean_: Positive = Field(alias="mean")
    """Mean of the values themselves (not of their logarithm), in the unit of the field."""
    cv: NonNegative
    """Coefficient of variation: standard deviation / mean (no unit)."""
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
    mean_: Positive = Field(alias="mean")
    """Mean, in the unit of the field."""
    cv: Positive
    """Coefficient of variation: standard deviation / mean (no unit; shape = 1/cv^2)."""
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
    mean_: Positive = Field(alias="mean")
    """Mean, in the unit of the field."""
    model_config = ConfigDict(populate_by_name=True)

    def mean(self) -> float:
        return self.mean_

    def draw(self, rng, size):
        return rng.exponential(self.mean_, size)


def _number_means_fixed(value: Any) -> Any:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return {"dist": "fixed", "value": value}
    return value


_DistributionSpec = Annotated[
    Union[Fixed, Uniform, Triangular, Normal, LogNormal, Gamma, Exponential], Field(discriminator="dist")
]
Distribution = Annotated[
    _DistributionSpec,
    # What a file may hold (the JSON Schema's view): a bare number, or a tagged mapping.
    BeforeValidator(_number_means_fixed, json_schema_input_type=Union[NonNegative, _DistributionSpec]),
]

# --------------------------------------------------------------------------- materials


class Material(Spec):
    """A traded material, in tonnes, with its element content as mass fractions."""

    description: str = ""
    """Free text for readers of the file; not used by the model."""
    elements: dict[Element, Probability] = Field(default_factory=dict)
    """Element content: symbol -> mass fraction (0 to 1, summing to at most 1), for element scopes."""

    @model_validator(mode="after")
    def _fractions_sum(self):
        total = sum(self.elements.values())
        if total > 1.0 + 1e-9:
            raise ValueError(f"expected element mass fractions summing to at most 1, got {total:g}")
        return self


# --------------------------------------------------------------------------- inventory policies


class OrderUpTo(Spec):
    """Periodic review: every ``review_days`` order up to ``target_days`` of use (position)."""

    type: Literal["order_up_to"] = "order_up_to"
    """Policy kind: order_up_to (periodic review, order up to a target)."""
    review_days: Positive = 7.0
    """Days between reviews."""
    target_days: NonNegative = 60.0
    """Target inventory position (on hand plus on order), in days of use."""


class MinMax(Spec):
    """(s, S): at review, if position < ``reorder_days`` of use, order up to ``target_days``."""

    type: Literal["s_S"]
    """Policy kind: s_S (reorder point s, order-up-to level S)."""
    review_days: Positive = 1.0
    """Days between reviews."""
    reorder_days: NonNegative
    """Reorder point s: order when the position is below this many days of use."""
    target_days: NonNegative
    """Order-up-to level S, in days of use (at least `reorder_days`)."""

    @model_validator(mode="after")
    def _ordered(self):
        if self.reorder_days > self.target_days:
            raise ValueError(
                f"expected reorder_days <= target_days, got reorder_days={self.reorder_days:g}, target_days={self.target_days:g}"
            )
        return self


class FixedQuantity(Spec):
    """(s, Q): at review, while position < ``reorder_days`` of use, order ``quantity_days`` of use."""

    type: Literal["s_Q"]
    """Policy kind: s_Q (reorder point s, fixed lot Q)."""
    review_days: Positive = 1.0
    """Days between reviews."""
    reorder_days: NonNegative
    """Reorder point s: order when the position is below this many days of use."""
    quantity_days: Positive
    """Lot size Q, in days of use: as many lots are ordered as bring the position to s or above."""


class JustInTime(Spec):
    """No review: just before each day's production, order what the day needs beyond stock on hand
    and on order (sectors only; e.g. buying from a nearby distributor through a short lane)."""

    type: Literal["just_in_time"]
    """Policy kind: just_in_time (sectors only: order each day what the day needs)."""


Policy = Annotated[Union[OrderUpTo, MinMax, FixedQuantity, JustInTime], Field(discriminator="type")]

# --------------------------------------------------------------------------- adapting buyers, allocating suppliers


class AdaptiveCover(Spec):
    """Safety stock that follows experience: each input's target cover rises by weight x (smoothed
    lead time - normal lead time) days, capped (rule: simulator/components/adaptation.py)."""

    lead_time_weight: NonNegative = Field(
        default=1.0, description="Days of extra cover per day the smoothed lead time exceeds normal (assumption; plausibly 0.5-2).")
    max_extra_days: NonNegative = Field(
        default=60.0, description="Most extra cover, in days of use (assumption; plausibly 30-120).")
    smoothing_days: Positive = Field(
        default=30.0, description="Time constant of the smoothing of observed lead times while they rise, days (assumption; plausibly 14-90).")
    relax_days: Positive | None = Field(
        default=None, description="Time constant while observed lead times fall, days (default: smoothing_days; plausibly 30-180).")
    normal_lead_days: NonNegative | Literal["transit", "learned"] = Field(
        default="transit", description="Normal lead time: days, or transit (mean transit of the usual lanes) or learned (smoothed value at `start`).")


class PrebuyOnAnnouncement(Spec):
    """Pre-buying: an announced control (an impose with `announced`) raises the target cover of the
    inputs it would cover from the announcement until it takes effect."""

    extra_days: NonNegative = Field(
        default=30.0, description="Days of use added to the target cover of each input concerned (assumption; plausibly 15-90).")
    days_after_effect: NonNegative = Field(
        default=0.0, description="Days after the effective date that the raised cover lasts (0: it ends when the control takes effect).")
    scope: Literal["covered", "exporter"] = Field(
        default="covered", description="Inputs that react: covered (the control would cover one of their lanes) or exporter (a lane from that country).")


class FirstComeFirstServed(Spec):
    """Oldest order first, each filled in full before the next (the default)."""

    rule: Literal["fcfs"] = Field(default="fcfs", description="Allocation rule: fcfs (first come, first served).")


class ProRata(Spec):
    """Stock short of the open orders is split in proportion to what each still lacks."""

    rule: Literal["pro_rata"] = Field(description="Allocation rule: pro_rata (in proportion to the open orders' remaining tonnes).")


class DomesticFirst(Spec):
    """Buyers in the supplier's own country first, then the rest (first come, first served in each)."""

    rule: Literal["domestic_first"] = Field(description="Allocation rule: domestic_first (own country's buyers first).")


class Tiers(Spec):
    """Buyers by tier, lower first; buyers not listed after every tier (first come, first served in each)."""

    rule: Literal["tiers"] = Field(description="Allocation rule: tiers (buyers by tier, lower first).")
    tiers: dict[FacilityRef, Annotated[Count, Field(ge=0)]] = Field(
        min_length=1, description="Buyer facility -> tier (whole number, lower served first); buyers not listed come last.")


def _name_means_rule(value: Any) -> Any:
    if value == "tiers":
        raise ValueError("expected {rule: tiers, tiers: {<buyer>: <tier>, ...}} (the rule needs its tiers), got 'tiers'")
    return {"rule": value} if isinstance(value, str) else value


_AllocationSpec = Annotated[Union[FirstComeFirstServed, ProRata, DomesticFirst, Tiers], Field(discriminator="rule")]
Allocation = Annotated[
    _AllocationSpec,
    # A rule without parameters may be given by its name alone (allocation: pro_rata).
    BeforeValidator(_name_means_rule,
                    json_schema_input_type=Union[Literal["fcfs", "pro_rata", "domestic_first"], _AllocationSpec]),
]


def _allocation_field():
    return Field(default_factory=FirstComeFirstServed,
                 description="How stock short of the queued orders is shared: fcfs, pro_rata, domestic_first or {rule: tiers, tiers: {buyer: n}}.")

# --------------------------------------------------------------------------- facilities


class _Facility(Spec):
    country: Country
    """ISO 3166 alpha-2 code of the country the facility is in (EU and XX, rest of world, too)."""
    description: str = ""
    """Free text for readers of the file; not used by the model."""


class _Buyer(_Facility):
    """Fields shared by facilities that consume inputs and replenish them."""

    initial_stock_t: dict[MaterialRef, NonNegative] | None = Field(
        default=None,
        description="Stock at the start, material -> tonnes; inputs default to the policy's target cover.",
    )
    policy: Policy = Field(default_factory=OrderUpTo)
    """Inventory policy of every input without one in `policies` (default: order_up_to)."""
    policies: dict[MaterialRef, Policy] = Field(
        default_factory=dict, description="Per-input policy, overriding `policy`."
    )
    expedite_below_cover_days: NonNegative | None = Field(
        default=None,
        description="Ship by air (the lane's fastest mode) when cover falls below this.",
    )
    resource_after_denial_days: NonNegative = Field(
        default=30.0,
        description="How long a buyer avoids a lane after a denial or refusal (0: re-apply at once).",
    )
    unfilled_orders: Literal["backorder", "lost"] = Field(
        default="backorder",
        description="What a supplier cannot fill from stock when an order arrives: it waits in the "
        "supplier's first-come-first-served backlog, or is lost (the next review orders again).",
    )
    cancel_backlog_after_days: NonNegative | None = Field(
        default=None,
        description="Cancel what a supplier has not shipped after this many days, avoid that "
        "lane and order the tonnes through the others (default: wait however long it takes).",
    )
    withdraw_held_after_days: NonNegative | None = Field(
        default=None,
        description="Withdraw goods that have waited this many days at the exporter's controls "
        "(held by a ban or quota, or pending a licence): they return to the supplier, the "
        "application is withdrawn, and the tonnes are re-ordered through the other lanes "
        "(default: wait however long it takes).",
    )
    adaptive_cover: AdaptiveCover | None = Field(
        default=None, description="Raise each input's target cover with its observed lead times (default: off).")
    prebuy_on_announcement: PrebuyOnAnnouncement | None = Field(
        default=None, description="Raise the target cover of inputs an announced control would cover, until it takes effect (default: off).")


def _periodic_only(kind: str):
    """A validator for ``policy`` / ``policies`` of facilities that do not produce daily."""

    def check(value):
        for policy in value.values() if isinstance(value, dict) else [value]:
            if isinstance(policy, JustInTime):
                raise ValueError(f"expected a periodic policy (order_up_to, s_S or s_Q) for a {kind}, "
                                 "got just_in_time (only a sector orders as it produces)")
        return value

    return field_validator("policy", "policies")(lambda cls, value: check(value))


class Mine(_Facility):
    """A mine: produces one material (ore, concentrate) in batches at its capacity."""

    type: Literal["mine"]
    """Facility kind: mine."""
    material: MaterialRef
    """The material it produces (a name under `materials`)."""
    capacity_t_per_year: NonNegative
    """Full capacity, tonnes per year."""
    utilisation: Probability = 1.0
    """Share of capacity produced (0 to 1)."""
    variability: Distribution | None = Field(
        default=None, description="Multiplier on each batch's output (no unit, mean about 1)."
    )
    batch_days: Positive = 7.0
    """Days between batches; each adds that many days of capacity x utilisation."""
    initial_stock_t: NonNegative = 0.0
    """Stock of its material at the start, tonnes."""
    max_stock_t: NonNegative | None = Field(
        default=None, description="Most stock held, tonnes: output stops while stock is at this level (no buyer)."
    )
    allocation: Allocation = _allocation_field()


class Plant(_Buyer):
    """Separation, metal making or magnet making: inputs per tonne of output, capacity, delay."""

    type: Literal["plant"]
    """Facility kind: plant."""
    output: MaterialRef
    """The material it makes (a name under `materials`)."""
    recipe_t_per_t: dict[MaterialRef, Positive] = Field(min_length=1)
    """Inputs: material -> tonnes of it per tonne of output."""
    capacity_t_per_year: NonNegative
    """Full capacity, tonnes of output per year."""
    utilisation: Probability = Field(
        default=1.0, description="Planned share of capacity: sets input cover and output target."
    )
    processing_days: Distribution = Field(default_factory=lambda: Fixed(value=0.0))
    """Days from the start of a batch until its output is ready (default 0)."""
    batch_days: Positive = 1.0
    """Days between batches."""
    output_stock_days: NonNegative = Field(
        default=14.0,
        description="Target for finished stock plus work in process, in days of planned output "
        "(batches refill it, and the open order backlog, within capacity).",
    )
    allocation: Allocation = _allocation_field()
    check_periodic_policies = _periodic_only("plant")


class Firms(Spec):
    """A sector as several firms, each with its own stock, orders and stoppages (output: the sum)."""

    count: Annotated[Count, Field(ge=1, le=10_000)]
    """Number of firms (a whole number)."""
    cover_days: Distribution | list[NonNegative] = Field(
        description="Each firm's target cover, days of its own use (replaces the policy's target, sets its "
        "opening stock): a distribution drawn once per firm, or one number per firm."
    )
    shares: list[Probability] | None = Field(
        default=None, description="Each firm's share of the sector's output, summing to 1 (default: equal shares)."
    )

    @model_validator(mode="after")
    def _one_per_firm(self):
        if self.shares is not None:
            if len(self.shares) != self.count:
                raise ValueError(f"expected one share per firm ({self.count}), got {len(self.shares)} shares")
            if abs(sum(self.shares) - 1.0) > 1e-6:
                raise ValueError(f"expected shares summing to 1, got {sum(self.shares):.9g}")
        if isinstance(self.cover_days, list) and len(self.cover_days) != self.count:
            raise ValueError(f"expected one cover_days per firm ({self.count}), got {len(self.cover_days)} values")
        return self


class CatchUp(Spec):
    """Catch-up of lost output: a share of each day's lost units may be made later, within a window."""

    share: Probability = 0.7
    """Share of each day's lost units that can be made later (0 to 1; assumption range 0.5 to 0.9)."""
    within_days: NonNegative = 60.0
    """Days after the loss by which those units must be made; what is left then is lost (assumption 30 to 90)."""
    max_rate: Annotated[float, Field(ge=1.0, le=10.0), NoBool] = 1.2
    """The most a day may make while catching up, as a multiple of the mean daily plan (no unit)."""


class Sector(_Buyer):
    """A demand sector at one place: units per year, a bill of materials, daily production."""

    type: Literal["sector"]
    """Facility kind: sector (demand)."""
    sector: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    """Name of the demand sector (e.g. ev, wind); results are grouped by it."""
    unit: str = "units"
    """Name of what it makes (e.g. vehicles), for reports."""
    units_per_year: NonNegative
    """Planned production, units per year."""
    bom_kg_per_unit: dict[MaterialRef, Positive] = Field(min_length=1)
    """Bill of materials: material -> kilograms of it per unit."""
    unmet_demand: Literal["lost", "backorder", "catch_up"] = "lost"
    """Units the inputs do not allow on a day: lost, backordered and made later, or partly made later (catch_up)."""
    catchup_factor: Annotated[float, Field(ge=1.0, le=10.0)] = Field(
        default=1.2, description="With backorders: the most a day may make, as a multiple of plan."
    )
    catch_up: CatchUp | None = Field(
        default=None, description="With unmet_demand catch_up: share recoverable, window (days) and rate cap (default 0.7, 60, 1.2)."
    )
    demand_variability: Distribution | None = Field(
        default=None, description="Multiplier on each day's planned units (mean about 1): random daily demand."
    )
    firms: Firms | None = Field(
        default=None, description="Model the sector as firms, each with its own share, cover (days), stock and stoppages."
    )

    @model_validator(mode="after")
    def _catch_up_and_firms(self):
        if self.catch_up is not None and self.unmet_demand != "catch_up":
            raise ValueError(f"expected unmet_demand: catch_up with catch_up settings, got unmet_demand: {self.unmet_demand}")
        if self.firms is not None and self.initial_stock_t:
            raise ValueError("expected no initial_stock_t with firms (each firm opens with its cover_days of use), "
                             f"got initial_stock_t for {', '.join(self.initial_stock_t)}")
        return self


class Depot(_Buyer):
    """A distributor, port warehouse or trader: buys materials and resells them unchanged."""

    type: Literal["depot"]
    """Facility kind: depot."""
    throughput_t_per_year: dict[MaterialRef, NonNegative] = Field(
        min_length=1, description="Planned flow, material -> tonnes per year: sets days of cover for its policy."
    )
    allocation: Allocation = _allocation_field()
    check_periodic_policies = _periodic_only("depot")


class Stockpile(_Facility):
    """A state or company reserve: ships only what the timeline releases, or to stop outages."""

    type: Literal["stockpile"]
    """Facility kind: stockpile."""
    stock_t: dict[MaterialRef, NonNegative] = Field(min_length=1)
    """Stock at the start: material -> tonnes."""
    release_below_cover_days: NonNegative | None = Field(
        default=None, description="Release to a buyer whose cover falls below this many days."
    )
    release_target_cover_days: NonNegative = Field(
        default=30.0,
        description="An automatic release tops a buyer's stock on hand, plus what the stockpile "
        "already has on the way to it, up to this cover.",
    )


Facility = Annotated[Union[Mine, Plant, Sector, Depot, Stockpile], Field(discriminator="type")]

# --------------------------------------------------------------------------- lanes


class TransportMode(Spec):
    """One way of shipping along a lane (sea, air, truck, ...)."""

    transit_days: Distribution
    """Days from shipment to delivery (a number or a distribution)."""
    cost_per_t: NonNegative = 0.0
    """Transport cost per tonne shipped, in a currency of your choice (added up in the results)."""


class Lane(Spec):
    """A supplier-to-buyer link for one material. Lanes of equal priority split orders by share."""

    supplier: FacilityRef
    """The facility that ships (a name under `facilities`)."""
    buyer: FacilityRef
    """The facility that orders and receives (a name under `facilities`)."""
    material: MaterialRef
    """The material shipped (a name under `materials`)."""
    modes: dict[Identifier, TransportMode] = Field(min_length=1)
    """Transport modes by name (e.g. sea, air); the fastest is used to expedite."""
    default_mode: Identifier | None = Field(
        default=None, description="The mode of ordinary orders, a name under `modes` (default: the first mode)."
    )
    priority: Annotated[Count, Field(ge=1)] = 1
    """Whole number: a buyer orders through its lanes with the lowest priority, others only while those are avoided."""
    share: Positive = 1.0
    """Relative weight of this lane in splitting orders among lanes of equal priority (e.g. t/yr)."""

    @model_validator(mode="after")
    def _mode_known(self):
        if self.default_mode is not None and self.default_mode not in self.modes:
            raise ValueError(
                f"expected default_mode to be one of {sorted(self.modes)}, got {self.default_mode!r}"
            )
        return self

    @property
    def mode(self) -> str:
        return self.default_mode or next(iter(self.modes))


# --------------------------------------------------------------------------- export controls


class Include(Spec):
    """Only shipments to these countries are in scope."""

    include: list[Country] = Field(min_length=1)
    """ISO country codes of the destinations in scope."""


class Exclude(Spec):
    """Shipments to every country but these are in scope."""

    exclude: list[Country] = Field(min_length=1)
    """ISO country codes of the destinations not in scope."""


class ElementScope(Spec):
    """In scope when the listed elements together make up at least ``min_fraction`` by mass."""

    any_of: list[Element] = Field(min_length=1)
    """Element symbols (e.g. Dy, Tb) whose mass fractions are added up."""
    min_fraction: Probability = 0.0
    """Least combined mass fraction (0 to 1) for a material to be in scope; 0: any content."""


class _Control(Spec):
    exporter: Country
    """ISO country code of the exporting country: the control covers shipments leaving it."""
    description: str = ""
    """Free text for readers of the file; not used by the model."""
    materials: list[MaterialRef] = Field(default_factory=list)
    """Materials in scope by name (names under `materials`)."""
    elements: ElementScope | None = None
    """Materials in scope by element content (besides those in `materials`)."""
    destinations: Literal["all"] | Include | Exclude = "all"
    """Destination countries in scope: all, {include: [...]} or {exclude: [...]}."""
    in_force_at_start: bool = False
    """In force from the start (true), or only once an `impose` event brings it in (false)."""
    enforcement_ramp_days: Annotated[float, Field(ge=0.0, le=3650.0)] = 0.0
    """Days for customs to enforce a new ban or licence fully: a covered shipment is stopped with chance (days since imposed) / ramp (0: at once)."""

    @model_validator(mode="after")
    def _has_scope(self):
        if not self.materials and self.elements is None:
            raise ValueError("expected a material scope: `materials`, `elements` or both, got neither")
        return self


class Licensing(_Control):
    """Every in-scope shipment needs a licence from the exporter's office (c reviewers, FCFS)."""

    instrument: Literal["licensing"]
    """Control kind: licensing."""
    reviewers: Annotated[Count, Field(ge=1)]
    """Number of reviewers working on applications in parallel, first come first served."""
    review_days: Distribution | None = None
    """Review time per application, calendar days (give this or `review_working_days`)."""
    review_working_days: Distribution | None = None
    """Review time per application, working days Monday to Friday (or give `review_days`)."""
    approval_probability: Probability
    """Chance (0 to 1) that an application is approved; denied goods return to the supplier."""
    approval_by_destination: dict[Country, Probability] = Field(default_factory=dict)
    """Approval chance by destination country code, instead of `approval_probability`."""
    approval_by_sector: dict[str, Probability] = Field(default_factory=dict)
    """Approval chance by the buyer's sector (end use, e.g. defence: 0), before destination."""
    approval_by_buyer: dict[FacilityRef, Probability] = Field(default_factory=dict)
    """Approval chance by buying facility (end user), before sector and destination."""
    return_probability: Probability = 0.0
    """Chance (0 to 1) that a decision returns the application for documents; it is re-submitted and reviewed again. Denied: the rest (a return chance above 1 - approval is cut to it)."""
    return_by_destination: dict[Country, Probability] = Field(default_factory=dict)
    """Return chance by destination country code, instead of `return_probability`."""
    resubmit_days: Distribution | None = None
    """Calendar days an applicant takes to re-submit a returned application (default 0)."""
    review_days_by_outcome: dict[Literal["denied", "returned"], Distribution] = Field(default_factory=dict)
    """Own review time for denials or returns, in the units of the review time (calendar or working days)."""
    consignment_t: Positive | None = None
    """Tonnes one real application covers: a shipment is round(tonnes / this), at least 1, applications, each decided on its own; reviewers then count real applications (default: one per shipment)."""

    @model_validator(mode="after")
    def _one_review_time(self):
        if (self.review_days is None) == (self.review_working_days is None):
            given = "neither" if self.review_days is None else "both"
            raise ValueError(f"expected exactly one of review_days or review_working_days, got {given}")
        return self


class Quota(_Control):
    """A tonnage cap per calendar period on the in-scope flows."""

    instrument: Literal["quota"]
    """Control kind: quota."""
    tonnes_per_period: NonNegative
    """The cap on in-scope shipments, tonnes per period."""
    period: Literal["year", "half_year", "quarter", "month"] = "year"
    """The calendar period the cap is counted over."""
    on_exceed: Literal["wait", "refuse"] = "wait"
    """Shipments over the cap wait for the next period, or are refused."""


class Ban(_Control):
    """In-scope shipments are held until the ban ends, or refused."""

    instrument: Literal["ban"]
    """Control kind: ban."""
    on_block: Literal["hold", "refuse"] = "hold"
    """In-scope shipments are held at the exporter until the ban ends, or refused."""


Control = Annotated[Union[Licensing, Quota, Ban], Field(discriminator="instrument")]

# --------------------------------------------------------------------------- timeline


class _Event(Spec):
    date: DateInHorizon
    """The day the event happens (YYYY-MM-DD, from `start` to the end of the horizon)."""
    id: Identifier | None = Field(
        default=None, description="A name for the event, so that --set and sweeps can address it "
        "(timeline.<id>.fraction) whatever its position."
    )
    note: str = ""
    """Free text for readers of the file (e.g. the source); not used by the model."""


class Impose(_Event):
    """Bring a control into force (after a suspension ends, if it is suspended)."""

    action: Literal["impose"]
    """Event kind: impose."""
    control: ControlRef
    """The control (a name under `controls`)."""
    announced: dt.date | None = None
    """The day it was announced (YYYY-MM-DD, not after `date`): buyers with `prebuy_on_announcement` react then."""


class Expect(_Event):
    """Buyers come to expect a control before any announcement (front-loading): those with
    `prebuy_on_announcement` react as to an announcement effective on `until`. No legal effect."""

    action: Literal["expect"]
    """Event kind: expect."""
    control: ControlRef
    """The control buyers expect (a name under `controls`): its scope says whose inputs react."""
    until: dt.date
    """The day the expectation ends (YYYY-MM-DD, after `date`): when the control is expected to take effect."""


class Ease(_Event):
    """Change a control's parameters (approval probability, reviewers, quota, scope, ...)."""

    action: Literal["ease"]
    """Event kind: ease."""
    control: ControlRef
    """The control (a name under `controls`)."""
    set: dict[str, Any] = Field(min_length=1)
    """New values of control fields by name, e.g. {approval_probability: 0.6}."""


class Release(_Event):
    """Approve a fraction of the pending licence backlog at once, oldest first."""

    action: Literal["release"]
    """Event kind: release."""
    control: ControlRef
    """The licensing control whose pending applications are approved."""
    fraction: Probability = 1.0
    """Share (0 to 1) of the pending applications approved."""


class ReleaseStockpile(_Event):
    """Ship tonnes out of a stockpile now, split over its lanes by share."""

    action: Literal["release_stockpile"]
    """Event kind: release_stockpile."""
    facility: FacilityRef
    """The stockpile (a name under `facilities`)."""
    material: MaterialRef
    """The material released."""
    tonnes: NonNegative
    """Tonnes to release (at most what the stockpile holds)."""


class Suspend(_Event):
    """Stop applying a control for a while; it applies again when the suspension ends."""

    action: Literal["suspend"]
    """Event kind: suspend."""
    control: ControlRef
    """The control (a name under `controls`)."""
    until: dt.date | None = None
    """The day the suspension ends (YYYY-MM-DD; default: suspended until lifted or the end)."""


class GrantGeneralLicence(_Event):
    """A general licence: shipments it covers pass a licensing control without review."""

    action: Literal["general_licence"]
    """Event kind: general_licence."""
    control: ControlRef
    """The licensing control (a name under `controls`)."""
    supplier: FacilityRef | None = None
    """Only shipments from this exporting facility, e.g. a magnet maker (default: any supplier)."""
    buyer: FacilityRef | None = None
    """Only shipments to this buying facility (default: any buyer)."""
    destination: Country | None = None
    """Only shipments to this country (default: any destination)."""
    until: dt.date | None = None
    """The day it expires (YYYY-MM-DD; default: the end of the run)."""
    tonnes: NonNegative | None = None
    """Tonnes it covers in all (default: no limit)."""


class Lift(_Event):
    """End a control (and any suspension of it)."""

    action: Literal["lift"]
    """Event kind: lift."""
    control: ControlRef
    """The control (a name under `controls`)."""


class SetParameter(_Event):
    """Change a facility parameter: a mine outage, new capacity, a smaller bill of materials."""

    action: Literal["set"]
    """Event kind: set."""
    path: str = Field(pattern=r"^facilities\.[A-Za-z][A-Za-z0-9_\-]*\.[a-z_]+$")
    """The parameter to change, as facilities.<facility>.<parameter>."""
    value: Any
    """The new value, written as in the facility (a number, a mapping, a distribution, ...)."""


Event = Annotated[
    Union[Impose, Ease, Release, ReleaseStockpile, Suspend, Lift, SetParameter, GrantGeneralLicence, Expect],
    Field(discriminator="action"),
]

# Parameters the running model knows how to change mid-run, by facility type / instrument.
_BUYING = frozenset({"policy", "expedite_below_cover_days", "resource_after_denial_days", "cancel_backlog_after_days",
                     "unfilled_orders", "withdraw_held_after_days", "adaptive_cover", "prebuy_on_announcement"})
RUNTIME_SETTABLE: dict[str, frozenset[str]] = {
    "mine": frozenset({"capacity_t_per_year", "utilisation", "variability", "max_stock_t", "allocation"}),
    "plant": _BUYING | {"capacity_t_per_year", "utilisation", "processing_days", "output_stock_days", "allocation"},
    "sector": _BUYING | {"units_per_year", "bom_kg_per_unit", "demand_variability"},
    "depot": _BUYING | {"throughput_t_per_year", "allocation"},
    "stockpile": frozenset({"release_below_cover_days", "release_target_cover_days"}),
    "licensing": frozenset(
        {"reviewers", "review_days", "review_working_days", "approval_probability",
         "approval_by_destination", "approval_by_sector", "approval_by_buyer", "return_probability",
         "return_by_destination", "resubmit_days", "review_days_by_outcome", "consignment_t", "materials", "elements",
         "destinations"}
    ),
    "quota": frozenset({"tonnes_per_period", "on_exceed", "materials", "elements", "destinations"}),
    "ban": frozenset({"on_block", "materials", "elements", "destinations"}),
}

# --------------------------------------------------------------------------- scenario


class Scenario(Spec):
    """A whole world: materials, facilities, lanes, export controls and a dated timeline."""

    name: Identifier
    """The scenario's name (in a file, default: the file name); letters, digits, _ and -."""
    description: str = ""
    """Free text; its first line is what `resim list` shows."""
    start: dt.date
    """The first day simulated and reported (YYYY-MM-DD)."""
    horizon_days: Annotated[Count, Field(ge=1, le=365 * 200)]
    """Days simulated and reported from `start`."""
    seed: Annotated[Count, Field(ge=0)] = 0
    """Seed of the random numbers (whole number; `resim run --seed` overrides it)."""
    warmup_days: Annotated[Count, Field(ge=0, le=3650)] = Field(
        default=0,
        description="Days simulated before `start` (no timeline events, nothing reported) so "
        "that pipelines and inventories reach their steady state.",
    )
    materials: dict[Identifier, Material] = Field(min_length=1)
    """Traded materials by name, in tonnes."""
    facilities: dict[Identifier, Facility] = Field(min_length=1)
    """Facilities by name: mines, plants, sectors, depots and stockpiles."""
    lanes: list[Lane] = Field(default_factory=list)
    """Supplier-to-buyer links, one material each."""
    controls: dict[Identifier, Control] = Field(default_factory=dict)
    """Export controls by name: licensing, quotas and bans."""
    timeline: list[Event] = Field(default_factory=list)
    """Dated events: impose, ease, release, release_stockpile, suspend, lift and set."""
    inventory_sample_days: Positive = Field(
        default=1.0, description="Days between the inventory records of inventory_daily.csv."
    )

    @property
    def end(self) -> dt.date:
        return self.start + dt.timedelta(days=self.horizon_days)

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo):
        # The loader collects these itself, with line numbers; direct construction raises.
        if (info.context or {}).get("defer_problems"):
            return self
        found = problems(self)
        if found:
            raise ValueError("; ".join(f"{'.'.join(map(str, loc))}: {msg}" for loc, msg in found))
        return self


def _inputs(facility) -> dict[str, float]:
    if isinstance(facility, Plant):
        return dict(facility.recipe_t_per_t)
    if isinstance(facility, Sector):
        return dict(facility.bom_kg_per_unit)
    if isinstance(facility, Depot):
        return dict(facility.throughput_t_per_year)
    return {}


def supplies(facility, material: str) -> bool:
    """Whether ``facility`` can ship ``material``."""
    if isinstance(facility, Mine):
        return facility.material == material
    if isinstance(facility, Plant):
        return facility.output == material
    if isinstance(facility, Stockpile):
        return material in facility.stock_t
    if isinstance(facility, Depot):
        return material in facility.throughput_t_per_year
    return False


def problems(s: Scenario) -> list[tuple[tuple, str]]:
    """Cross-field problems a field-by-field schema cannot see, as (location, message) pairs.

    ``s`` may also be a partly valid scenario (the loader's salvage of a file with schema
    errors): lanes and events that failed validation are ``None`` there and are skipped."""
    found: list[tuple[tuple, str]] = []
    facilities, materials, controls = s.facilities, s.materials, s.controls

    for i, lane in enumerate(s.lanes):
        if lane is None:
            continue
        sup = facilities.get(lane.supplier)
        buy = facilities.get(lane.buyer)
        if sup is not None and not supplies(sup, lane.material):
            found.append(((("lanes", i, "supplier")), (
                f"expected a facility that ships {lane.material!r}, got {lane.supplier!r} "
                f"(a {sup.type} that does not)")))
        if buy is not None and lane.material not in _inputs(buy):
            found.append(((("lanes", i, "buyer")), (
                f"expected a facility that uses {lane.material!r} (in its recipe or bill of "
                f"materials), got {lane.buyer!r}")))
        if lane.supplier == lane.buyer:
            found.append((("lanes", i, "buyer"), f"expected a buyer other than the supplier, got {lane.buyer!r}"))

    supplied = {(lane.buyer, lane.material) for lane in s.lanes
                if lane is not None and not isinstance(facilities.get(lane.supplier), Stockpile)}
    all_lanes_known = all(lane is not None for lane in s.lanes)  # else a missing lane may be a broken one
    for name, fac in facilities.items():
        ins = _inputs(fac)
        for material in ins:
            if material not in materials:
                continue
            if all_lanes_known and (name, material) not in supplied:
                key = {"plant": "recipe_t_per_t", "sector": "bom_kg_per_unit"}.get(fac.type, "throughput_t_per_year")
                found.append(((("facilities", name, key, material)), (
                    f"expected a lane from a mine, plant or depot supplying {material!r} to {name!r}, got none")))
        if isinstance(fac, Plant) and fac.output in fac.recipe_t_per_t:
            found.append((("facilities", name, "output"), f"expected an output that is not also an input, got {fac.output!r}"))
        if isinstance(fac, (Plant, Sector, Depot)):
            for key in ("policies", "initial_stock_t"):
                extra = [m for m in (getattr(fac, key) or {}) if m in materials and m not in ins and not (isinstance(fac, Plant) and m == fac.output)]
                for m in extra:
                    found.append(((("facilities", name, key, m)), f"expected a material {name!r} uses, got {m!r}"))
        if isinstance(getattr(fac, "allocation", None), Tiers) and all_lanes_known:
            buyers = {lane.buyer for lane in s.lanes if lane.supplier == name}
            for buyer in fac.allocation.tiers:
                if buyer in facilities and buyer not in buyers:
                    found.append((("facilities", name, "allocation", "tiers", buyer),
                                  f"expected a buyer on a lane from {name!r} ({_few(buyers)}), got {buyer!r}"))

    horizon = (s.start, s.end)
    seen_ids: dict[str, int] = {}
    for i, ev in enumerate(s.timeline):
        if ev is None:
            continue
        if ev.id is not None:
            if ev.id in seen_ids:
                found.append((("timeline", i, "id"), f"expected an id no other event has, got {ev.id!r} (also timeline[{seen_ids[ev.id]}])"))
            seen_ids.setdefault(ev.id, i)
        if not (horizon[0] <= ev.date <= horizon[1]):
            found.append((("timeline", i, "date"), f"expected a date within the horizon {horizon[0]} to {horizon[1]}, got {ev.date}"))
        control = controls.get(getattr(ev, "control", None) or "")
        if isinstance(ev, Ease) and control is not None:
            allowed = RUNTIME_SETTABLE[control.instrument]
            for key in ev.set:
                if key not in allowed:
                    found.append((("timeline", i, "set", key), (
                        f"expected a {control.instrument} parameter that can change mid-run "
                        f"({', '.join(sorted(allowed))}), got {key!r}")))
            if all(k in allowed for k in ev.set):
                found.extend(_revalidate(control, ev.set, ("timeline", i, "set"), s))
        if isinstance(ev, GrantGeneralLicence) and control is not None and not isinstance(control, Licensing):
            found.append((("timeline", i, "control"), f"expected a licensing control (a general licence replaces licence reviews), got {ev.control!r}, a {control.instrument}"))
        if isinstance(ev, Release) and control is not None and not isinstance(control, Licensing):
            found.append((("timeline", i, "control"), f"expected a licensing control (only a licence backlog can be released), got {ev.control!r}, a {control.instrument}"))
        if isinstance(ev, Impose) and ev.announced is not None and ev.announced > ev.date:
            found.append((("timeline", i, "announced"), f"expected a date on or before {ev.date}, got {ev.announced}"))
        if isinstance(ev, Expect) and ev.until <= ev.date:
            found.append((("timeline", i, "until"), f"expected a date after {ev.date}, got {ev.until}"))
        if isinstance(ev, Suspend) and ev.until is not None and ev.until <= ev.date:
            found.append((("timeline", i, "until"), f"expected a date after {ev.date}, got {ev.until}"))
        if isinstance(ev, ReleaseStockpile):
            pile = facilities.get(ev.facility)
            if pile is not None and not isinstance(pile, Stockpile):
                found.append((("timeline", i, "facility"), f"expected a stockpile, got {ev.facility!r}, a {pile.type}"))
            elif pile is not None and ev.material not in pile.stock_t:
                found.append((("timeline", i, "material"), f"expected a material held in {ev.facility!r} ({', '.join(pile.stock_t)}), got {ev.material!r}"))
        if isinstance(ev, SetParameter):
            _, fac_name, field = ev.path.split(".")
            fac = facilities.get(fac_name)
            if fac is None:
                found.append((("timeline", i, "path"), f"expected facilities.<facility>.<parameter> naming one of the scenario's facilities, got {fac_name!r}"))
                continue
            allowed = RUNTIME_SETTABLE[fac.type]
            if field not in allowed:
                found.append((("timeline", i, "path"), f"expected a {fac.type} parameter that can change mid-run ({', '.join(sorted(allowed))}), got {field!r}"))
                continue
            found.extend(_revalidate(fac, {field: ev.value}, ("timeline", i, "value"), s, single=True))
            if field == "bom_kg_per_unit" and isinstance(ev.value, dict):
                new = sorted(set(ev.value) - set(fac.bom_kg_per_unit))
                if new:
                    found.append((("timeline", i, "value"), f"expected only inputs {fac_name!r} already has ({', '.join(fac.bom_kg_per_unit)}), got new {', '.join(new)}"))
    return found


def _changed(spec: Spec, changes: dict) -> dict:
    """``spec`` as data with ``changes`` applied. Giving one form of review time replaces the
    other (review_days <-> review_working_days), since a control has exactly one."""
    data = spec.model_dump(by_alias=True, exclude_unset=True)
    if hasattr(spec, "type"):
        data["type"] = spec.type
    for given, other in (("review_days", "review_working_days"), ("review_working_days", "review_days")):
        if given in changes and other not in changes:
            data.pop(other, None)
    data.update(changes)
    return data


def _revalidate(spec: Spec, changes: dict, loc: tuple, s: Scenario, single: bool = False):
    """Check that ``spec`` with ``changes`` applied is still valid; problems located at ``loc``."""
    data = _changed(spec, changes)
    context = {"materials": set(s.materials), "facilities": set(s.facilities), "controls": set(s.controls)}
    try:
        type(spec).model_validate(data, context=context)
    except ValidationError as err:
        from .loading import describe_error  # phrased like every other error (lazy: no cycle)

        out = []
        for e in err.errors():
            where = loc if single else loc + tuple(e["loc"][:1])
            out.append((where, describe_error(e)))
        return out
    return []


def apply_change(spec: Spec, changes: dict) -> Spec:
    """Return a copy of ``spec`` with ``changes`` validated and applied (specs are frozen)."""
    return type(spec).model_validate(_changed(spec, changes))


def material_in_scope(control: _Control, material_name: str, material: Material) -> bool:
    """Whether a control's material scope covers a material (named, or by element content)."""
    if material_name in control.materials:
        return True
    if control.elements is not None:
        share = sum(material.elements.get(el, 0.0) for el in control.elements.any_of)
        return share > 0.0 and share >= control.elements.min_fraction
    return False


def destination_in_scope(control: _Control, country: str) -> bool:
    scope = control.destinations
    if scope == "all":
        return True
    if isinstance(scope, Include):
        return country in scope.include
    return country not in scope.exclude
