"""The network: materials, inventory policies, buyer and supplier behaviour, facilities and lanes."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BeforeValidator, Field, field_validator, model_validator

from .base import (
    MAX_KG_PER_UNIT, MAX_MONEY, MAX_T_PER_T, MAX_UNITS, Count, Country, Days, Element, FacilityRef,
    Identifier, MaterialRef, NoBool, Period, PositiveDays, Probability, Spec,
    Tonnes,
)
from .distributions import Distribution, Fixed

# An HS heading and subheading ("8505.11"), optionally with national digits ("8505.11.00", "85051100").
HsCode = Annotated[str, Field(pattern=r"^[0-9]{4}(\.?[0-9]{2}){0,3}$", max_length=16)]


class Material(Spec):
    """A traded material, in tonnes, with its element content as mass fractions."""

    description: str = ""
    """Free text for readers of the file; not used by the model."""
    elements: dict[Element, Probability] = Field(default_factory=dict)
    """Element content: symbol -> mass fraction (0 to 1, summing to at most 1), for element scopes."""
    hs_code: HsCode | None = Field(default=None, exclude_if=lambda value: value is None)  # absent: hash as before
    """Harmonized System code customs statistics file it under (e.g. "8505.11"), for flows_customs.csv."""

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
    review_days: Period = 7.0
    """Days between reviews (0.1 to 3650)."""
    target_days: Days = 60.0
    """Target inventory position (on hand plus on order), in days of use."""


class MinMax(Spec):
    """(s, S): at review, if position < ``reorder_days`` of use, order up to ``target_days``."""

    type: Literal["s_S"]
    """Policy kind: s_S (reorder point s, order-up-to level S)."""
    review_days: Period = 1.0
    """Days between reviews (0.1 to 3650)."""
    reorder_days: Days
    """Reorder point s: order when the position is below this many days of use."""
    target_days: Days
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
    review_days: Period = 1.0
    """Days between reviews (0.1 to 3650)."""
    reorder_days: Days
    """Reorder point s: order when the position is below this many days of use."""
    quantity_days: PositiveDays
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

    lead_time_weight: Annotated[float, Field(ge=0.0, le=100.0, allow_inf_nan=False), NoBool] = Field(
        default=1.0, description="Days of extra cover per day the smoothed lead time exceeds normal (assumption; plausibly 0.5-2).")
    max_extra_days: Days = Field(
        default=60.0, description="Most extra cover, in days of use (assumption; plausibly 30-120).")
    smoothing_days: PositiveDays = Field(
        default=30.0, description="Time constant of the smoothing of observed lead times while they rise, days (assumption; plausibly 14-90).")
    relax_days: PositiveDays | None = Field(
        default=None, description="Time constant while observed lead times fall, days (default: smoothing_days; plausibly 30-180).")
    normal_lead_days: Days | Literal["transit", "learned"] = Field(
        default="transit", description="Normal lead time: days, or transit (mean transit of the usual lanes) or learned (smoothed value at `start`).")


class PrebuyOnAnnouncement(Spec):
    """Pre-buying: an announced control (an impose with `announced`) raises the target cover of the
    inputs it would cover from the announcement until it takes effect."""

    extra_days: Days = Field(
        default=30.0, description="Days of use added to the target cover of each input concerned (assumption; plausibly 15-90).")
    days_after_effect: Days = Field(
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
    tiers: dict[FacilityRef, Annotated[Count, Field(ge=0, le=1000)]] = Field(
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

    initial_stock_t: dict[MaterialRef, Tonnes] | None = Field(
        default=None,
        description="Stock at the start, material -> tonnes; inputs default to the policy's target cover.",
    )
    policy: Policy = Field(default_factory=OrderUpTo)
    """Inventory policy of every input without one in `policies` (default: order_up_to)."""
    policies: dict[MaterialRef, Policy] = Field(
        default_factory=dict, description="Per-input policy, overriding `policy`."
    )
    expedite_below_cover_days: Days | None = Field(
        default=None,
        description="Ship by air (the lane's fastest mode) when cover falls below this.",
    )
    resource_after_denial_days: Days = Field(
        default=30.0,
        description="How long a buyer avoids a lane after a denial or refusal (0: re-apply at once).",
    )
    unfilled_orders: Literal["backorder", "lost"] = Field(
        default="backorder",
        description="What a supplier cannot fill from stock when an order arrives: it waits in the "
        "supplier's first-come-first-served backlog, or is lost (the next review orders again).",
    )
    cancel_backlog_after_days: Days | None = Field(
        default=None,
        description="Cancel what a supplier has not shipped after this many days, avoid that "
        "lane and order the tonnes through the others (default: wait however long it takes).",
    )
    withdraw_held_after_days: Days | None = Field(
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
    capacity_t_per_year: Tonnes
    """Full capacity, tonnes per year."""
    utilisation: Probability = 1.0
    """Share of capacity produced (0 to 1)."""
    variability: Distribution | None = Field(
        default=None, description="Multiplier on each batch's output (no unit, mean about 1)."
    )
    batch_days: Period = 7.0
    """Days between batches (0.1 to 3650); each adds that many days of capacity x utilisation."""
    initial_stock_t: Tonnes = 0.0
    """Stock of its material at the start, tonnes."""
    max_stock_t: Tonnes | None = Field(
        default=None, description="Most stock held, tonnes: output stops while stock is at this level (no buyer)."
    )
    output_cap_t_per_year: Tonnes | None = Field(
        default=None, description="A production quota: at most this many tonnes of output per calendar year, "
        "spread over what is left of the year (default: none; see README, production quotas).")
    allocation: Allocation = _allocation_field()


class Plant(_Buyer):
    """Separation, metal making or magnet making: inputs per tonne of output, capacity, delay."""

    type: Literal["plant"]
    """Facility kind: plant."""
    output: MaterialRef
    """The material it makes (a name under `materials`)."""
    recipe_t_per_t: dict[MaterialRef, Annotated[float, Field(gt=0.0, le=MAX_T_PER_T, allow_inf_nan=False), NoBool]] = Field(min_length=1)
    """Inputs: material -> tonnes of it per tonne of output."""
    capacity_t_per_year: Tonnes
    """Full capacity, tonnes of output per year."""
    utilisation: Probability = Field(
        default=1.0, description="Planned share of capacity: sets input cover and output target."
    )
    processing_days: Distribution = Field(default_factory=lambda: Fixed(value=0.0))
    """Days from the start of a batch until its output is ready (default 0)."""
    batch_days: Period = 1.0
    """Days between batches (0.1 to 3650)."""
    output_stock_days: Days = Field(
        default=14.0,
        description="Target for finished stock plus work in process, in days of planned output "
        "(batches refill it, and the open order backlog, within capacity).",
    )
    output_cap_t_per_year: Tonnes | None = Field(
        default=None, description="A production quota: at most this many tonnes of output per calendar year, "
        "spread over what is left of the year (default: none; see README, production quotas).")
    allocation: Allocation = _allocation_field()
    check_periodic_policies = _periodic_only("plant")


class Firms(Spec):
    """A sector as several firms, each with its own stock, orders and stoppages (output: the sum)."""

    count: Annotated[Count, Field(ge=1, le=10_000)]
    """Number of firms (a whole number)."""
    cover_days: Distribution | list[Days] = Field(
        description="Each firm's target cover, days of its own use (replaces the policy's target, sets its "
        "opening stock): a distribution drawn once per firm, or one number per firm."
    )
    shares: list[Probability] | None = Field(
        default=None, description="Each firm's share of the sector's output, summing to 1 (default: equal shares)."
    )
    pool_orders: bool = Field(
        default=True, description="Firms review each input together and order their new tonnes for one lane and mode "
        "as one order, shared out in proportion to what each asked (a purchasing pool); false: every firm orders alone."
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
    within_days: Days = 60.0
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
    units_per_year: Annotated[float, Field(ge=0.0, le=MAX_UNITS, allow_inf_nan=False), NoBool]
    """Planned production, units per year."""
    bom_kg_per_unit: dict[MaterialRef, Annotated[float, Field(gt=0.0, le=MAX_KG_PER_UNIT, allow_inf_nan=False), NoBool]] = Field(min_length=1)
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
    throughput_t_per_year: dict[MaterialRef, Tonnes] = Field(
        min_length=1, description="Planned flow, material -> tonnes per year: sets days of cover for its policy."
    )
    allocation: Allocation = _allocation_field()
    check_periodic_policies = _periodic_only("depot")


class Stockpile(_Facility):
    """A state or company reserve: ships only what the timeline releases, or to stop outages."""

    type: Literal["stockpile"]
    """Facility kind: stockpile."""
    stock_t: dict[MaterialRef, Tonnes] = Field(min_length=1)
    """Stock at the start: material -> tonnes."""
    release_below_cover_days: Days | None = Field(
        default=None, description="Release to a buyer whose cover falls below this many days."
    )
    release_target_cover_days: Days = Field(
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
    cost_per_t: Annotated[float, Field(ge=0.0, le=MAX_MONEY, allow_inf_nan=False), NoBool] = 0.0
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
    priority: Annotated[Count, Field(ge=1, le=1000)] = 1
    """Whole number: a buyer orders through its lanes with the lowest priority, others only while those are avoided."""
    share: Annotated[float, Field(gt=0.0, le=MAX_MONEY, allow_inf_nan=False), NoBool] = 1.0
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


