"""Markets: a price per material and market, and the responses prices drive (issue 12).

Plain objects driven by one periodic event, :class:`MarketLayer` (a daily update for the whole
layer). None of them reads the scenario: the model hands them numbers and callables.

**Prices** (:class:`PriceIndex`, one per material and market). A market is a set of buyers of
the material (facilities with it as an input): ``domestic`` = those in the controlling
exporter's country, ``world`` = all others. Their **cover** = the sum of their stock on hand of
the material / the sum of their planned use per day (``stock()`` / ``use()``, callables the
model wires in). The price **index** (price / reference price) targets

    clip((normal_cover / cover) ^ elasticity + premium, floor, ceiling)

where ``normal_cover`` is given or learned: the mean of the daily covers over the last
``window_days`` days before the start date (the end of the warm-up). Cover 0 gives the ceiling;
no planned use (or no usable normal cover) gives a cover term of 1. ``premium`` (world market
only, optional) = ``premium_per_month_held`` x tonnes held at the exporter's controls on lanes
to the market's buyers (licence queue, quota queue, ban) / the normal monthly flow from the
exporter to them (their planned use x the share of their usual lanes leaving the exporter,
x 365/12, read at the start date). The index moves towards its target by exponential
smoothing, ``index += (1 - exp(-1 / smoothing_days)) (target - index)`` each day (at once with
``smoothing_days`` 0); it is 1 until the start date. Price = reference x index.

**Responses** (one object per facility and rule, updated right after the prices each day):

- :class:`Substitution` (thrifting): while the buyer's index is above ``threshold`` and has
  been for more than ``lag_days`` without a break, the reduction r of its bill of materials (or
  recipe) grows by ``max_reduction_per_year / 365 x pace`` a day, pace = min(1, (index -
  threshold) / (full_rate_index - threshold)), up to ``max_reduction``; at or below the
  threshold the lag restarts and r falls at the same top pace to (1 - ``reversible_share``) x
  the highest r reached. Bill = base x (1 - r).
- :class:`DemandDestruction`: units per year = base x f, f smoothed (``smoothing_days``)
  towards max(1, index) ^ -elasticity (prices below the reference do not raise demand).
- :class:`NewSupply`: once the world index of its material has been above ``trigger_index``
  for ``trigger_days`` days in a row, a project is committed (for good); from ``lead_days``
  later the facility's capacity ramps linearly over ``ramp_days`` from what it was to the
  target. With ``lanes`` (lane, share at target), each lane out of it weighs share x capacity /
  target, and is taken off its buyers' lanes while the capacity is 0 (so idle capacity gets no
  orders). During the ramp the layer sets the capacity daily (a timeline ``set`` of it then
  lasts until the next day); after the ramp it leaves the capacity alone.
- :class:`Hoarding`: the buyer's inputs add ``min(max_extra_days, max(0, days_per_index_point x
  (index - 1)))`` days of use to their policy's levels (an input line's ``cover_adjustments``,
  as adaptive cover and pre-buying do).
- :class:`StockpileTrigger`: a stockpile's automatic releases are on (below the given cover)
  while the index is above ``above_index``, and back to its usual setting otherwise.

Bills, units and capacities change through ``apply(field, value)``, the model's way of setting
a facility parameter as a timeline ``set`` does (so the conversion checks of the mass balance
see every bill in force). Each day's prices and response values are appended to the ``prices``
and ``market_responses`` record tables.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from .clock import repeat

if TYPE_CHECKING:  # pragma: no cover
    import simpy

    from .facility import Facility
    from .lane import Lane
    from ..records import Records

__all__ = ["PriceIndex", "MarketLayer", "Levers", "Substitution", "DemandDestruction", "NewSupply", "Hoarding",
           "HoardingCover", "StockpileTrigger", "attach_lane", "detach_lane"]

YEAR_DAYS = 365.0
_EPS = 1e-9


class PriceIndex:
    """The price of one material in one market (see the module docstring)."""

    def __init__(self, material: str, market: str, reference_per_kg: float, stock: Callable[[], float],
                 use: Callable[[], float], elasticity: float = 1.0, floor: float = 0.5, ceiling: float = 4.0,
                 normal_cover_days: float | None = None, premium_per_month_held: float = 0.0,
                 held_t: Callable[[], float] | None = None, flow_t_per_day: Callable[[], float] | None = None):
        self.material, self.market, self.reference_per_kg = material, market, reference_per_kg
        self.stock, self.use = stock, use
        self.elasticity, self.floor, self.ceiling = elasticity, floor, ceiling
        self.normal_cover_days = normal_cover_days
        self.premium_per_month_held = premium_per_month_held
        self.held_t, self.flow_t_per_day = held_t, flow_t_per_day
        self.flow_t_per_month = 0.0  # normal monthly flow from the exporter (read when settled)
        self.index = 1.0
        self.target = 1.0
        self.cover = math.nan
        self.premium = 0.0
        self._sum = 0.0
        self._count = 0

    @property
    def price_per_kg(self) -> float:
        return self.reference_per_kg * self.index

    def read_cover(self) -> float:
        """Days of cover of the market's buyers now (inf without planned use)."""
        use = self.use()
        return self.stock() / use if use > 0.0 else math.inf

    def observe(self) -> None:
        """One day of the reference window."""
        cover = self.read_cover()
        if math.isfinite(cover):
            self._sum += cover
            self._count += 1

    def settle(self) -> None:
        """Fix the normal cover (if not given) and the normal flow, at the start date."""
        if self.normal_cover_days is None:
            self.normal_cover_days = self._sum / self._count if self._count else math.nan
        if self.flow_t_per_day is not None:
            self.flow_t_per_month = self.flow_t_per_day() * YEAR_DAYS / 12.0

    def target_index(self, cover: float) -> float:
        """The index the price moves towards at this cover (premium included)."""
        normal = self.normal_cover_days
        if not math.isfinite(cover) or not (normal is not None and 0.0 < normal < math.inf):
            term = 1.0
        elif cover <= 0.0:
            term = self.ceiling
        else:
            term = (normal / cover) ** self.elasticity
        premium = 0.0
        if self.premium_per_month_held > 0.0 and self.held_t is not None and self.flow_t_per_month > 0.0:
            premium = self.premium_per_month_held * self.held_t() / self.flow_t_per_month
        self.premium = premium
        value = term + premium
        return self.ceiling if value > self.ceiling else self.floor if value < self.floor else value

    def update(self, alpha: float) -> None:
        """One day: read the cover, move the index a share ``alpha`` towards its target."""
        self.cover = self.read_cover()
        self.target = self.target_index(self.cover)
        self.index += alpha * (self.target - self.index)


class Levers:
    """A facility's quantities the market moves, as base x factors: each input's bill of
    materials (``bom_kg_per_unit`` of a sector, ``recipe_t_per_t`` of a plant) and a sector's
    units per year. ``apply(field, value)`` sets them on the facility."""

    def __init__(self, facility: Facility, apply: Callable[[str, object], None]):
        self.facility, self.apply = facility, apply
        self.field = "bom_kg_per_unit" if hasattr(facility, "bom_kg_per_unit") else "recipe_t_per_t"
        self.base_bill = dict(getattr(facility, self.field))
        self.bill_factors: dict[str, float] = {}
        self.base_units = getattr(facility, "units_per_year", None)
        self.units_factors: dict[int, float] = {}

    def set_bill_factor(self, material: str, factor: float) -> None:
        self.bill_factors[material] = factor
        self._push_bill()

    def set_units_factor(self, key: int, factor: float) -> None:
        self.units_factors[key] = factor
        self._push_units()

    def _push_bill(self) -> None:
        bill = {m: v * self.bill_factors.get(m, 1.0) for m, v in self.base_bill.items()}
        if bill != getattr(self.facility, self.field):
            self.apply(self.field, bill)

    def _push_units(self) -> None:
        if self.base_units is None:
            return
        units = self.base_units
        for factor in self.units_factors.values():
            units *= factor
        if units != self.facility.units_per_year:
            self.apply("units_per_year", units)

    def base_changed(self, field: str) -> None:
        """The timeline set ``field`` to a new base: keep it, and apply the factors on top."""
        if field == self.field:
            self.base_bill = dict(getattr(self.facility, field))
            self._push_bill()
        elif field == "units_per_year" and self.base_units is not None:
            self.base_units = self.facility.units_per_year
            self._push_units()


class Substitution:
    """Thrifting and substitution of one input of one facility (see the module docstring)."""

    kind = "bom_intensity"

    def __init__(self, levers: Levers, material: str, price: PriceIndex, threshold: float, max_reduction_per_year: float,
                 max_reduction: float, lag_days: float = 0.0, full_rate_index: float | None = None,
                 reversible_share: float = 0.0):
        self.levers, self.material, self.price = levers, material, price
        self.facility = levers.facility
        self.threshold, self.lag_days = threshold, lag_days
        self.max_reduction_per_year, self.max_reduction = max_reduction_per_year, max_reduction
        self.full_rate_index = full_rate_index if full_rate_index is not None else 2.0 * threshold
        self.reversible_share = reversible_share
        self.reduction = 0.0  # share of the base bill saved now
        self.peak = 0.0  # the highest reduction reached
        self.t_above: float | None = None  # when the index last rose above the threshold

    def update(self, now: float, days: float) -> None:
        index, reduction = self.price.index, self.reduction
        step = self.max_reduction_per_year * days / YEAR_DAYS
        if index > self.threshold:
            if self.t_above is None:
                self.t_above = now
            if now - self.t_above - self.lag_days > _EPS:
                pace = (index - self.threshold) / (self.full_rate_index - self.threshold)
                reduction = min(self.max_reduction, reduction + step * (pace if pace < 1.0 else 1.0))
        else:
            self.t_above = None
            keep = (1.0 - self.reversible_share) * self.peak
            if reduction > keep:
                reduction = max(keep, reduction - step)
        if reduction != self.reduction:
            self.reduction = reduction
            self.peak = max(self.peak, reduction)
            self.levers.set_bill_factor(self.material, 1.0 - reduction)

    @property
    def value(self) -> float:
        """The bill of materials as a share of its base."""
        return 1.0 - self.reduction


class DemandDestruction:
    """Units per year of a sector that follow the price (see the module docstring)."""

    kind = "units_per_year"

    def __init__(self, levers: Levers, material: str, price: PriceIndex, elasticity: float, smoothing_days: float = 90.0):
        self.levers, self.material, self.price = levers, material, price
        self.facility = levers.facility
        self.elasticity, self.smoothing_days = elasticity, smoothing_days
        self.factor = 1.0

    def update(self, now: float, days: float) -> None:
        index = self.price.index
        target = (index ** -self.elasticity) if index > 1.0 else 1.0
        alpha = 1.0 - math.exp(-days / self.smoothing_days) if self.smoothing_days > 0 else 1.0
        factor = self.factor + alpha * (target - self.factor)
        if factor != self.factor:
            self.factor = factor
            self.levers.set_units_factor(id(self), factor)

    @property
    def value(self) -> float:
        """The sector's units per year now."""
        return self.facility.units_per_year


def _buyer_lines(lane: Lane) -> list:
    return [line for line in lane.buyer.input_lines() if line.material == lane.material]


def detach_lane(lane: Lane) -> None:
    """Take ``lane`` off its buyer's ordering lanes (its supplier has nothing to sell)."""
    for line in _buyer_lines(lane):
        if lane in line.lanes:
            line.lanes.remove(lane)
            line._usual_choice = None  # noqa: SLF001 - the line's cached split of its lanes


def attach_lane(lane: Lane, share: float) -> None:
    """Put ``lane`` (back) among its buyer's ordering lanes with ``share``."""
    lane.share = share
    for line in _buyer_lines(lane):
        if lane not in line.lanes and lane.supplier.takes_orders:
            line.lanes.append(lane)
        line._usual_choice = None  # noqa: SLF001


class NewSupply:
    """Capacity a high world price brings online (see the module docstring)."""

    kind = "capacity_added_t_per_year"

    def __init__(self, facility: Facility, price: PriceIndex, trigger_index: float, lead_days: float,
                 capacity_t_per_year: float, apply: Callable[[str, object], None], trigger_days: float = 0.0,
                 ramp_days: float = 0.0, lanes: Sequence[tuple[Lane, float]] | None = None,
                 on_commit: Callable[[NewSupply], None] | None = None):
        self.facility, self.price, self.apply = facility, price, apply
        self.material = price.material
        self.trigger_index, self.trigger_days = trigger_index, trigger_days
        self.lead_days, self.ramp_days, self.target = lead_days, ramp_days, capacity_t_per_year
        self.lanes = list(lanes) if lanes is not None else None
        self.on_commit = on_commit
        self.base = facility.capacity_t_per_year
        self.t_above: float | None = None
        self.t_committed: float | None = None
        self.start_capacity: float | None = None  # capacity when output begins
        self._follow()

    @property
    def t_online(self) -> float:
        return math.inf if self.t_committed is None else self.t_committed + self.lead_days

    def update(self, now: float, days: float) -> None:
        if self.t_committed is None:
            if self.price.index > self.trigger_index:
                if self.t_above is None:
                    self.t_above = now
                if now - self.t_above >= self.trigger_days - _EPS:
                    self.t_committed = now
                    if self.on_commit is not None:
                        self.on_commit(self)
            else:
                self.t_above = None
            if self.t_committed is None:
                return
        online = self.t_online
        if now < online - _EPS:
            return
        if self.start_capacity is None:
            self.start_capacity = self.facility.capacity_t_per_year
        done = 1.0 if self.ramp_days <= 0.0 else min(1.0, (now - online) / self.ramp_days)
        capacity = self.target if done >= 1.0 else self.start_capacity + (self.target - self.start_capacity) * done
        if capacity != self.facility.capacity_t_per_year:
            self.apply("capacity_t_per_year", capacity)
            self._follow()

    def _follow(self) -> None:
        """Lanes out of the facility weigh their share at target x capacity / target."""
        if self.lanes is None:
            return
        capacity = self.facility.capacity_t_per_year
        for lane, share in self.lanes:
            if capacity <= 0.0:
                detach_lane(lane)
            else:
                attach_lane(lane, share * capacity / self.target if self.target > 0 else share)

    @property
    def value(self) -> float:
        """Capacity added over the facility's capacity at the start, t/yr."""
        return self.facility.capacity_t_per_year - self.base


class HoardingCover:
    """An input line's extra days of cover from hoarding (a ``cover_adjustments`` entry), set
    each day by :class:`Hoarding`."""

    __slots__ = ("days",)

    def __init__(self):
        self.days = 0.0

    def extra_days(self, now: float) -> float:
        return self.days


class Hoarding:
    """A buyer that raises its target cover with the price (see the module docstring)."""

    kind = "hoarded_extra_days"

    def __init__(self, facility: Facility, material: str, price: PriceIndex, days_per_index_point: float,
                 max_extra_days: float):
        from .adaptation import set_hoarding

        self.facility, self.material, self.price = facility, material, price
        self.days_per_index_point, self.max_extra_days = days_per_index_point, max_extra_days
        self.cover = HoardingCover()
        for line in facility.input_lines():
            if line.material == material:
                set_hoarding(line, self.cover)

    def update(self, now: float, days: float) -> None:
        extra = self.days_per_index_point * (self.price.index - 1.0)
        self.cover.days = self.max_extra_days if extra > self.max_extra_days else extra if extra > 0.0 else 0.0

    @property
    def value(self) -> float:
        """Days of use added to the buyer's target cover."""
        return self.cover.days


class StockpileTrigger:
    """A stockpile's automatic releases switched on by a high price (see the module docstring)."""

    kind = "stockpile_release_on"

    def __init__(self, stockpile, price: PriceIndex, above_index: float, release_below_cover_days: float):
        self.facility, self.price, self.material = stockpile, price, price.material
        self.above_index, self.release_below_cover_days = above_index, release_below_cover_days
        self.on = False
        self.usual = stockpile.release_below_cover_days

    def update(self, now: float, days: float) -> None:
        on = self.price.index > self.above_index
        if on != self.on:
            if on:
                self.usual = self.facility.release_below_cover_days
                self.facility.set_release_below(self.release_below_cover_days)
            else:
                self.facility.set_release_below(self.usual)
            self.on = on

    @property
    def value(self) -> float:
        """1 while releases are on, else 0."""
        return 1.0 if self.on else 0.0


class MarketLayer:
    """Every price and response of a run, updated once a day by one periodic event.

    Before ``t_start`` prices stay at the reference (index 1) and the last ``window_days`` days
    are the reference window of each price's normal cover; from ``t_start`` on each day updates
    the prices, then the responses (in the order given), and records both (``records``)."""

    def __init__(self, env: simpy.Environment, t_start: float, prices: Sequence[PriceIndex], responses: Sequence = (),
                 smoothing_days: float = 30.0, window_days: float = 60.0, records: Records | None = None):
        self.env, self.t_start = env, t_start
        self.prices, self.responses = list(prices), list(responses)
        self.smoothing_days, self.window_days = smoothing_days, window_days
        self.alpha = 1.0 - math.exp(-1.0 / smoothing_days) if smoothing_days > 0 else 1.0
        self.settled = False
        self.records = records
        if records is not None:  # each day fills these row blocks' value columns (codes fixed)
            p, r = records.prices, records.market_responses
            self._price_rows = np.zeros((len(self.prices), p.width))
            self._price_rows[:, 1] = [p.code("material", x.material) for x in self.prices]
            self._price_rows[:, 2] = [p.code("market", x.market) for x in self.prices]
            self._response_rows = np.zeros((len(self.responses), r.width))
            self._response_rows[:, 1] = [r.code("kind", x.kind) for x in self.responses]
            self._response_rows[:, 2] = [r.code("facility", x.facility.name) for x in self.responses]
            self._response_rows[:, 3] = [r.code("material", x.material) for x in self.responses]
        repeat(env, self.tick, last=True)  # end of day: it observes the day after production

    def price(self, material: str, market: str) -> PriceIndex | None:
        return next((p for p in self.prices if p.material == material and p.market == market), None)

    def tick(self) -> float:
        """One day of the market layer; returns the days until the next."""
        now = self.env.now
        if now < self.t_start - _EPS:
            if now >= self.t_start - self.window_days - _EPS:
                for price in self.prices:
                    price.observe()
            return 1.0
        if not self.settled:
            for price in self.prices:
                price.settle()
            self.settled = True
        alpha = self.alpha
        for price in self.prices:
            price.update(alpha)
        for response in self.responses:
            response.update(now, 1.0)
        if self.records is not None:
            self._record(now)
        return 1.0

    def _record(self, now: float) -> None:
        rows = self._price_rows
        if len(rows):
            rows[:, 0] = now
            rows[:, 3:] = [(p.price_per_kg, p.reference_per_kg, p.index, p.cover,
                            p.normal_cover_days if p.normal_cover_days is not None else math.nan, p.premium)
                           for p in self.prices]
            rows[:, 6][np.isinf(rows[:, 6])] = math.nan  # no planned use: no cover
            self.records.prices.data.frombytes(rows.tobytes())
        rows = self._response_rows
        if len(rows):
            rows[:, 0] = now
            rows[:, 4] = [response.value for response in self.responses]
            self.records.market_responses.data.frombytes(rows.tobytes())
