"""Builds a running model from a :class:`~simulator.scenario.Scenario`.

With :mod:`simulator.model_timeline` (the timeline's events), the only code that knows both
the schema and the components: it turns specs into components with their random streams, wires
lanes and controls, runs them, samples inventories and closes the books. Simulation time is in
days; time zero is ``start - warmup_days``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import math
from bisect import bisect_left
from collections import defaultdict
from typing import Any

import numpy as np
import simpy

from . import balance
from . import components as c
from . import scenario as sp
from .balance import MassBalanceError
from .model_timeline import TimelineMixin
from .rng import BlockSampler, Streams, uniform_sampler

__all__ = ["Model", "MassBalanceError"]

_GC_YOUNG_THRESHOLD = 50_000  # allocations between young-generation collections during a run


@contextlib.contextmanager
def fewer_collections():
    """Python's young-generation GC threshold raised to 50,000 for the duration (a caller's higher
    setting is kept, and the old one comes back after). A run allocates many short-lived objects
    (orders, shipments, timeouts): with the default threshold (700) the cyclic GC took 5 % of a
    run, and 15 % on a network 8 times larger; at 10,000 it still took 6 % of a headline-only
    licensing_2025 replication, mostly in the older generations that frequent young collections
    fill, and 2.5 % at 50,000 (benchmarks/README.md)."""
    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], _GC_YOUNG_THRESHOLD), *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


class Model(TimelineMixin):
    """A scenario's components on one SimPy environment, ready to ``run()``."""

    def __init__(self, scenario: sp.Scenario, seed: int | None = None, sample_inventory: bool = True):
        """``sample_inventory=False``: no inventory snapshots (a run whose tables do not include
        ``inventory_daily``, e.g. headline-only; nothing else reads them)."""
        self.scenario = scenario
        self.seed = scenario.seed if seed is None else int(seed)
        self.env = simpy.Environment()
        self.ledger = c.Ledger()
        self.streams = Streams(self.seed)
        self.t_start = float(scenario.warmup_days)
        self.t_end = self.t_start + scenario.horizon_days
        self.specs: dict[str, Any] = {**scenario.facilities, **scenario.controls}
        self.suspended: dict[str, bool] = {}  # control -> whether it applies again when resumed
        self._suspended_until: dict[str, float] = {}
        self.controls = {name: self._build_control(name, spec) for name, spec in scenario.controls.items()}
        self.facilities = {name: self._build_facility(name, spec) for name, spec in scenario.facilities.items()}
        self.lanes = [self._build_lane(i, spec) for i, spec in enumerate(scenario.lanes)]
        for name, spec in scenario.facilities.items():  # how suppliers share out short stock
            if hasattr(spec, "allocation"):
                self.facilities[name].allocation = self._allocation(spec.allocation)
            if hasattr(spec, "output_cap_t_per_year"):  # production quotas count calendar years
                self.facilities[name].year_bounds = self._year_bounds
                self.facilities[name].output_cap_t_per_year = spec.output_cap_t_per_year
        # Per plant and sector: (production or batches table rows when it took effect, tonnes of
        # each input per unit or per tonne of output), for the conversion checks at the end.
        self.conversions: dict[str, list[tuple[int, dict]]] = {
            name: [(0, self._conversion(fac))] for name, fac in self.facilities.items() if isinstance(fac, (c.Plant, c.Sector))}
        self.timeline = sp.expanded_timeline(scenario)  # selectors and relative values resolved
        for event in self.timeline:
            self._schedule(event)
        self._schedule_adaptation()
        self._pairs = self._inventory_pairs()
        self._refresh_rates()
        self._sampling = False
        if sample_inventory:
            c.repeat(self.env, self._sample_inventory, last=True)  # end of day: after the day's production
        # Prices and the responses they drive: only in scenarios with `markets` (simulator.market_build).
        self.markets = None
        if scenario.markets is not None:
            from .market_build import build_markets

            self.markets = build_markets(self)
        self.finished = False

    # ----------------------------------------------------------------- time

    def time_of(self, day: dt.date) -> float:
        return self.t_start + (day - self.scenario.start).days

    def date_of(self, t: float) -> dt.date:
        return self.scenario.start + dt.timedelta(days=math.floor(t - self.t_start))

    def _year_bounds(self, t: float) -> tuple[float, float]:
        """Simulation times of the 1 January that starts the calendar year of ``t`` and of the next."""
        year = self.date_of(t).year
        return self.time_of(dt.date(year, 1, 1)), self.time_of(dt.date(year + 1, 1, 1))

    # ----------------------------------------------------------------- random quantities

    def sampler(self, dist: sp.Distribution | None, *names: str) -> BlockSampler | None:
        if dist is None:
            return None
        return BlockSampler(dist.draw, self.streams.generator(*names))

    def _working_days(self, sampler, holidays: str | None = None) -> callable:
        """Review durations given in working days (Monday to Friday, or a country's calendar
        with its public holidays: ``holidays``), turned into calendar days from today:
        ``whole`` working days on from the first working day not before today (numpy's
        ``busday_offset(today, whole, roll="forward")``), less the unused part of the last
        day. Working days are listed once, as day numbers from the start date, and looked up
        by bisection."""
        env, t_start = self.env, self.t_start
        if holidays is not None:  # simulator.workdays: the country's calendar, listed as needed
            from .workdays import calendar_for

            calendar = calendar_for(holidays, self.scenario.start, -math.ceil(t_start) - 7)

            def draw_on_calendar() -> float:
                working = sampler()
                whole = math.ceil(working)
                day = math.floor(env.now - t_start)
                return calendar.nth_after(day, whole) - day - (whole - working)

            return draw_on_calendar
        first_weekday = self.scenario.start.weekday()
        workdays: list[int] = []  # day numbers (start date = 0) that are working days, ascending

        def extend_to(last_day: int) -> None:
            day = workdays[-1] + 1 if workdays else -math.ceil(t_start) - 7
            workdays.extend(d for d in range(day, last_day + 1) if (first_weekday + d) % 7 < 5)

        extend_to(math.ceil(self.scenario.horizon_days) + 400)

        def draw() -> float:
            working = sampler()
            whole = math.ceil(working)
            day = math.floor(env.now - t_start)
            index = bisect_left(workdays, day) + whole
            if index < len(workdays):
                return workdays[index] - day - (whole - working)
            # Past the table (a review ending long after the run): 5k working days after a
            # working day is 7k days after it, so no list grows with a (random) long review.
            weeks, rest = divmod(index - (len(workdays) - 1), 5)
            end = workdays[-1] + 7 * weeks
            while rest:
                end += 1
                rest -= (first_weekday + end) % 7 < 5
            return end - day - (whole - working)

        return draw

    # ----------------------------------------------------------------- building

    def _policy(self, spec):
        fields = spec.model_dump(exclude={"type"})
        return c.POLICIES[spec.type](**fields)

    def _buyer_args(self, spec) -> dict:
        return dict(
            policy=self._policy(spec.policy),
            policies={m: self._policy(p) for m, p in spec.policies.items()},
            initial_stock_t=spec.initial_stock_t,
            expedite_below_cover_days=spec.expedite_below_cover_days,
            resource_after_denial_days=spec.resource_after_denial_days,
            cancel_backlog_after_days=spec.cancel_backlog_after_days,
            unfilled_orders=spec.unfilled_orders,
            withdraw_held_after_days=spec.withdraw_held_after_days,
            adaptive_cover=self._adaptive(spec.adaptive_cover),
            prebuy_on_announcement=self._prebuy(spec.prebuy_on_announcement),
        )

    @staticmethod
    def _adaptive(spec: sp.AdaptiveCover | None) -> c.AdaptiveCoverRule | None:
        return None if spec is None else c.AdaptiveCoverRule(**spec.model_dump())

    @staticmethod
    def _prebuy(spec: sp.PrebuyOnAnnouncement | None) -> c.PrebuyRule | None:
        return None if spec is None else c.PrebuyRule(**spec.model_dump())

    @staticmethod
    def _allocation(spec):
        """The supplier's allocation rule object (None: first come, first served)."""
        return c.ALLOCATIONS[spec.rule](**spec.model_dump(exclude={"rule"}))

    def _build_facility(self, name: str, spec):
        env, ledger = self.env, self.ledger
        if isinstance(spec, sp.Mine):
            return c.Mine(env, name, spec.country, spec.material, spec.capacity_t_per_year, spec.utilisation,
                          self.sampler(spec.variability, name, "variability"), spec.batch_days,
                          spec.initial_stock_t, spec.max_stock_t, ledger=ledger)
        if isinstance(spec, sp.Plant):
            return c.Plant(env, name, spec.country, spec.output, spec.recipe_t_per_t, spec.capacity_t_per_year,
                           spec.utilisation, self.sampler(spec.processing_days, name, "processing"),
                           spec.batch_days, spec.output_stock_days, ledger=ledger, **self._buyer_args(spec))
        if isinstance(spec, sp.Sector):
            return c.Sector(env, name, spec.country, spec.units_per_year, spec.bom_kg_per_unit, spec.sector,
                            spec.unmet_demand, spec.catchup_factor, self.sampler(spec.demand_variability, name, "demand"),
                            ledger=ledger, firms=self._firms(name, spec.firms),
                            pool_orders=spec.firms is None or spec.firms.pool_orders,
                            catch_up=c.CatchUpRule(**spec.catch_up.model_dump()) if spec.catch_up else None,
                            **self._buyer_args(spec))
        if isinstance(spec, sp.Depot):
            return c.Depot(env, name, spec.country, spec.throughput_t_per_year, ledger=ledger, **self._buyer_args(spec))
        if isinstance(spec, sp.Stockpile):
            return c.Stockpile(env, name, spec.country, spec.stock_t, spec.release_below_cover_days,
                               spec.release_target_cover_days, ledger=ledger)
        raise TypeError(f"no component for {type(spec).__name__}")  # pragma: no cover

    def _firms(self, name: str, spec: sp.Firms | None) -> list[tuple[float, float]] | None:
        """(share, cover days) per firm: covers drawn from the facility's own stream ``(name,
        "firms")``, so no other component's random numbers change."""
        if spec is None:
            return None
        shares = list(spec.shares) if spec.shares is not None else [1.0 / spec.count] * spec.count
        if isinstance(spec.cover_days, list):
            covers = [float(v) for v in spec.cover_days]
        else:
            covers = [float(v) for v in spec.cover_days.draw(self.streams.generator(name, "firms"), spec.count)]
        return list(zip(shares, covers))

    @staticmethod
    def _conversion(fac) -> dict[str, float]:
        if isinstance(fac, c.Plant):
            return dict(fac.recipe_t_per_t)
        return {m: kg / 1000.0 for m, kg in fac.bom_kg_per_unit.items()}

    def _build_lane(self, index: int, spec: sp.Lane) -> c.Lane:
        key = f"lane:{spec.supplier}>{spec.buyer}:{spec.material}"
        modes = {
            name: c.Mode(self.sampler(m.transit_days, key, name), m.cost_per_t, m.transit_days.mean())
            for name, m in spec.modes.items()
        }
        return c.Lane(self.env, self.facilities[spec.supplier], self.facilities[spec.buyer], spec.material,
                      modes, spec.default_mode, spec.priority, spec.share, controls=list(self.controls.values()))

    def _scope(self, spec) -> dict:
        materials = [m for m, mat in self.scenario.materials.items() if sp.material_in_scope(spec, m, mat)]
        dest = spec.destinations
        return dict(
            materials=materials,
            destinations=list(dest.include) if isinstance(dest, sp.Include) else None,
            excluded_destinations=list(dest.exclude) if isinstance(dest, sp.Exclude) else (),
        )

    def _build_control(self, name: str, spec):
        env = self.env
        scope = self._scope(spec)
        materials = scope.pop("materials")
        if isinstance(spec, sp.Licensing):
            office = c.LicensingOffice(
                env, spec.reviewers, self._review_sampler(name, spec), spec.approval_probability,
                uniform_sampler(self.streams.generator(name, "decisions")), spec.approval_by_destination,
            )
            self._set_outcomes(office, name, spec)
            counts = self.streams.generator(name, "decision counts")  # bundles of real applications
            office.binomial = lambda n, p, draw=counts.binomial: int(draw(n, p))
            control = c.LicensingControl(env, name, spec.exporter, materials, office, spec.consignment_t, **scope)
        elif isinstance(spec, sp.Quota):
            control = c.QuotaControl(env, name, spec.exporter, materials, spec.tonnes_per_period,
                                     self._period_end(spec.period), spec.on_exceed, **scope)
        else:
            control = c.BanControl(env, name, spec.exporter, materials, spec.on_block, **scope)
        control.in_force = spec.in_force_at_start
        control.enforcement_ramp_days = spec.enforcement_ramp_days
        if spec.enforcement_ramp_days > 0:
            control.uniform = uniform_sampler(self.streams.generator(name, "enforcement"))
        return control

    def _set_outcomes(self, office, name: str, spec: sp.Licensing, tag: str = "") -> None:
        """The office's decision rules besides the approval chance and review time (also on ease)."""
        office.approval_by_sector = dict(spec.approval_by_sector)
        office.approval_by_buyer = dict(spec.approval_by_buyer)
        office.return_probability = spec.return_probability
        office.return_by_destination = dict(spec.return_by_destination)
        office.resubmit_days = self.sampler(spec.resubmit_days, name, "resubmit" + tag)
        office.review_days_by_outcome = {outcome: self._review_sampler(name, spec, dist, f"review-{outcome}{tag}")
                                         for outcome, dist in spec.review_days_by_outcome.items()}

    def _review_sampler(self, name: str, spec: sp.Licensing, dist=None, stream: str = "review"):
        """Review times of ``dist`` (default: the control's review time), in the control's units."""
        if spec.review_working_days is not None:
            return self._working_days(self.sampler(dist or spec.review_working_days, name, stream), spec.holidays)
        return self.sampler(dist or spec.review_days, name, stream)

    def _period_end(self, period: str):
        months = {"year": 12, "half_year": 6, "quarter": 3, "month": 1}[period]

        def end_of_period(t: float) -> float:
            day = self.date_of(t)
            first_month = (day.month - 1) // months * months  # 0-based month the period starts
            total = day.year * 12 + first_month + months
            return self.time_of(dt.date(total // 12, total % 12 + 1, 1))

        return end_of_period

    # ----------------------------------------------------------------- records

    def _inventory_pairs(self) -> list[tuple]:
        """(stock dict, material, facility code, material code, facility) for every stock to
        sample, in the order of the snapshot rows; also the row template those rows fill."""
        table = self.ledger.records.inventory
        pairs = [
            (fac.stock, material, table.code("facility", name), table.code("material", material), fac)
            for name, fac in self.facilities.items() for material in fac.stock
        ]
        # One snapshot is a block of rows (t, facility, material, on_hand_t, days_of_cover):
        # the code columns never change, so each snapshot fills the other three and appends
        # the block's bytes in one call.
        self._snapshot = np.zeros((len(pairs), table.width))
        self._snapshot[:, 1] = [p[2] for p in pairs]
        self._snapshot[:, 2] = [p[3] for p in pairs]
        self._rows_of: dict[int, list[int]] = defaultdict(list)  # id(facility) -> its snapshot rows
        for i, pair in enumerate(pairs):
            self._rows_of[id(pair[4])].append(i)
        return pairs

    def _refresh_rates(self, facility=None) -> None:
        """Daily use (inputs) or planned output (outputs) per sampled stock, for days of cover
        (NaN where there is none, so cover comes out NaN), of every stock or of ``facility``'s.
        Rates change only when the timeline sets a facility's parameters, so they are computed
        then, not every day."""
        if facility is None:
            self._rates = np.full(len(self._pairs), math.nan)
        rows = range(len(self._pairs)) if facility is None else self._rows_of.get(id(facility), ())
        for i in rows:
            _stock, material, _f, _m, fac = self._pairs[i]
            rate = fac.daily_use_t(material) or fac.planned_output_t_per_day(material)
            self._rates[i] = rate if rate > 0 else math.nan

    def _sample_inventory(self) -> float:
        """Append one snapshot of every stock (none at time zero, which precedes the start date
        by the warm-up); returns the days until the next."""
        if not self._sampling:
            self._sampling = True
            return self.t_start
        rows = self._snapshot
        if len(rows):
            rows[:, 0] = self.env.now
            on_hand = rows[:, 3]
            on_hand[:] = [stock[material] for stock, material, _f, _m, _fac in self._pairs]
            np.divide(on_hand, self._rates, out=rows[:, 4])
            self.ledger.records.inventory.data.frombytes(rows.tobytes())
        return self.scenario.inventory_sample_days

    # ----------------------------------------------------------------- running

    def simulate(self) -> None:
        """Advance the simulation to the end of the horizon (warm-up included); :meth:`run` does
        this and then closes the books."""
        with fewer_collections():
            c.run_until(self.env, self.t_end)

    def run(self) -> None:
        """Simulate warm-up and horizon, then close the books: record what is unfinished, and
        check the mass balance per material, per facility and across conversions
        (:mod:`simulator.balance`)."""
        if self.finished:
            raise RuntimeError("this model has already run; build a new one")
        self.simulate()
        for facility in self.facilities.values():
            if getattr(facility, "firms", None):
                facility.settle_firms()  # days made to plan not yet taken from the firms' stocks
        self._record_unfinished()
        self.balance = self.mass_balance()
        self.finished = True
        balance.check(self.balance, balance.facility_problems(self.facilities, self.ledger.records, self.conversions))

    def release(self) -> None:
        """Cut the references between the model's parts (pending events, facilities and their
        lines, firms and pools, lanes, controls and offices, the market layer, the ledger's
        live shipments) so that its memory is freed at once when the model is dropped. A model is
        a web of references (lanes and facilities name each other, lines their facility, pending
        events their callbacks): without this, Python's cyclic collector has to find every part
        of it after the run, which took 7-8 ms of a 0.3 s replication (benchmarks/README.md).
        The model is unusable afterwards; runs that do not keep their model call it."""
        parts = [*self.lanes, *self.controls.values()]
        parts += [control.office for control in self.controls.values() if hasattr(control, "office")]
        for facility in self.facilities.values():
            parts.append(facility)
            parts += facility.input_lines()
            parts += getattr(facility, "firms", None) or ()
            parts += (getattr(facility, "pools", None) or {}).values()
        if self.markets is not None:
            parts += [self.markets, *self.markets.prices, *self.markets.responses]
        self.env._queue.clear()  # noqa: SLF001 - pending events and the callbacks they hold
        production_round = vars(self.env).pop("_daily_round", None)
        if production_round is not None:  # the production round and the activities it calls
            production_round.ticks = []
        self.ledger.live.clear()
        for part in parts:
            part.__dict__.clear()
        seed, scenario = self.seed, self.scenario
        self.__dict__.clear()  # (samplers' closures name the model: no cycle through it either)
        self.seed, self.scenario, self.released = seed, scenario, True

    def mass_balance(self) -> dict:
        """Initial + produced = on hand + held + in transit + consumed, per material and in all."""
        return balance.mass_balance(self.facilities, self.ledger)

    def _record_unfinished(self) -> None:
        for shipment in list(self.ledger.live.values()):
            self.ledger.record_shipment(shipment, "held at end" if shipment.state == "held" else "in transit at end")
        for control in self.controls.values():
            if isinstance(control, c.LicensingControl):
                control.record_pending()

    def events_processed(self) -> int:
        """SimPy events scheduled so far (the environment's event counter)."""
        return next(self.env._eid)  # noqa: SLF001 - SimPy keeps the count in this counter
