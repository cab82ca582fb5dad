"""A plant: turns inputs into one output by a recipe (separation, metal making, magnets)."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping

import simpy

from .clock import Timer, daily, repeat
from .facility import Facility
from .ledger import EPS_T, Ledger
from .output_cap import CappedOutput

__all__ = ["Plant"]


class Plant(Facility, CappedOutput):
    """Makes ``output`` in batches every ``batch_days``.

    **When.** A plant with daily batches (``batch_days`` 1, the default) works in the
    end-of-day round with the sectors (:func:`~.clock.daily`): each day, after the day's
    deliveries, reviews and decisions, the batches whose processing has ended join its stock
    and are shipped, then the day's batch starts; a batch's processing time is counted in whole
    days (rounded to the nearest: a batch of 14.6 days is ready in the round 15 days after it
    started). Other batch lengths run on a clock of their own, a batch at the start of its
    period, output ready after the exact processing time.

    A batch makes what refills finished stock to ``output_stock_days`` of planned output plus
    the open order backlog, at most capacity, and at most what its inputs allow (the plant is
    then *starved*). Inputs are consumed when a batch starts; output is ready after
    ``processing_days()``. Inputs are replenished by their :class:`InputLine`. With
    ``output_cap_t_per_year`` (a production quota, :mod:`.output_cap`) a batch's capacity is
    also at most the year's allowance; plans (input cover, output target) still follow
    capacity x utilisation.
    """

    kind = "plant"

    def __init__(
        self,
        env: simpy.Environment,
        name: str,
        country: str,
        output: str,
        recipe_t_per_t: Mapping[str, float],
        capacity_t_per_year: float,
        utilisation: float = 1.0,
        processing_days: Callable[[], float] | None = None,
        batch_days: float = 1.0,
        output_stock_days: float = 14.0,
        policy=None,
        policies=None,
        initial_stock_t: Mapping[str, float] | None = None,
        ledger: Ledger | None = None,
        **buying,
    ):
        super().__init__(env, name, country, ledger)
        self.output = output
        self.recipe_t_per_t = dict(recipe_t_per_t)
        self.capacity_t_per_year, self.utilisation = capacity_t_per_year, utilisation
        self.processing_days = processing_days
        self.batch_days, self.output_stock_days = batch_days, output_stock_days
        self.wip_t = 0.0
        self.stock.setdefault(output, 0.0)
        initial = dict(initial_stock_t) if initial_stock_t is not None else {}
        initial.setdefault(output, output_stock_days * self.planned_output_t_per_day(output))
        self._make_inputs(self.recipe_t_per_t, policy, policies, initial, **buying)
        self._code = self.ledger.records.batches.code("facility", name)
        table = self.ledger.records.batches
        self._write, self._pack = table.data.frombytes, table.pack  # one row: (facility, t, desired, made)
        self._in_round = batch_days == 1.0
        # (ready time, batch number, tonnes) of batches in process, soonest first (daily batches)
        self._processing: list[tuple[float, int, float]] = []
        self._batches = 0
        if self._in_round:
            daily(env, self._daily_batch)
        else:
            repeat(env, self.produce)

    def planned_output_t_per_day(self, material: str) -> float:
        return self.capacity_t_per_year * self.utilisation / 365.0 if material == self.output else 0.0

    def daily_use_t(self, material: str) -> float:
        return self.recipe_t_per_t.get(material, 0.0) * self.capacity_t_per_year * self.utilisation / 365.0

    def produce(self) -> float:
        """Start one batch; returns the days until the next."""
        env, output, stock = self.env, self.output, self.stock
        room = self.capacity_t_per_year / 365.0 * self.batch_days
        cap = self.output_cap
        if cap is not None:
            allowed = cap.allowance(env.now, self.batch_days)
            room = allowed if allowed < room else room
        target = self.output_stock_days * self.planned_output_t_per_day(output) + self.backlog_t(output)
        wanted = target - stock[output] - self.wip_t
        # min(room, max(0, wanted)), without the builtins' call overhead (this runs every batch)
        desired = (wanted if wanted < room else room) if wanted > 0.0 else 0.0
        if desired <= EPS_T:  # round-off, not a wish to produce
            desired = 0.0
        qty = desired
        recipe = self.recipe_t_per_t.items()
        for material, per_t in recipe:
            inputs_allow = stock[material] / per_t
            if inputs_allow < qty:
                qty = inputs_allow
        if qty > EPS_T:
            if cap is not None:
                cap.record(qty)
            consumed, used_here = self.ledger.consumed_t, self.used_t
            for material, per_t in recipe:
                used = qty * per_t
                stock[material] -= used
                consumed[material] += used
                used_here[material] = used_here.get(material, 0.0) + used
            self.wip_t += qty
            delay = self.processing_days() if self.processing_days is not None else 0.0
            if self._in_round:  # ready in the round nearest the end of its processing
                days = int(delay + 0.5) if delay > 0 else 0
                if days:
                    self._batches += 1
                    heapq.heappush(self._processing, (env.now + days - 0.5, self._batches, qty))
                else:
                    self._finish(qty)
            elif delay > 0:
                Timer(env, delay, self._batch_ready, qty)
            else:
                self._finish(qty)
        else:
            qty = 0.0
        self._write(self._pack(self._code, env.now, desired, qty))
        return self.batch_days

    def _daily_batch(self) -> float:
        """The plant's turn in the end-of-day round: finish the batches due, start today's."""
        processing = self._processing
        if processing:
            now = self.env.now
            while processing and processing[0][0] < now:  # due today (stored half a day early)
                self._finish(heapq.heappop(processing)[2])
        return self.produce()

    def _batch_ready(self, event: Timer) -> None:
        self._finish(event._value)  # the Timer carries the batch's tonnes

    def _finish(self, qty: float) -> None:
        self.wip_t -= qty
        self.stock[self.output] += qty
        self.made_t[self.output] = self.made_t.get(self.output, 0.0) + qty
        self.ledger.produced_t[self.output] += qty
        self.serve(self.output)
