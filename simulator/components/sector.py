"""A demand sector at one place: makes units daily from a bill of materials."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import simpy

from .clock import repeat
from .facility import Facility, InputLine
from .ledger import Ledger

__all__ = ["Sector"]


class Sector(Facility):
    """Plans ``units_per_year / 365`` units a day, times ``demand_variability()`` if given (random
    daily demand); each unit needs ``bom_kg_per_unit`` of every input. A day makes what the scarcest
    input allows. Unmet units are lost, or (``unmet_demand="backorder"``) made later, at most
    ``catchup_factor - 1`` times the mean daily plan more a day. Inputs with a just-in-time policy
    are ordered just before each day's production, for what that day needs."""

    kind = "sector"
    supports_just_in_time = True

    def __init__(
        self,
        env: simpy.Environment,
        name: str,
        country: str,
        units_per_year: float,
        bom_kg_per_unit: Mapping[str, float],
        sector: str = "demand",
        unmet_demand: str = "lost",
        catchup_factor: float = 1.2,
        demand_variability: Callable[[], float] | None = None,
        policy=None,
        policies=None,
        initial_stock_t: Mapping[str, float] | None = None,
        ledger: Ledger | None = None,
        **buying,
    ):
        super().__init__(env, name, country, ledger)
        if unmet_demand not in ("lost", "backorder"):
            raise ValueError(f"unmet_demand must be 'lost' or 'backorder', got {unmet_demand!r}")
        self.sector, self.units_per_year = sector, units_per_year
        self.bom_kg_per_unit = dict(bom_kg_per_unit)
        self.unmet_demand, self.catchup_factor = unmet_demand, catchup_factor
        self.backlog_units = 0.0
        self.demand_variability = demand_variability
        self._just_in_time: list[tuple[InputLine, float]] = []  # (input line, t per unit)
        self._make_inputs(self.bom_kg_per_unit, policy, policies, initial_stock_t, **buying)
        self._code = self.ledger.records.production.code("facility", name)
        table = self.ledger.records.production
        self._write, self._pack = table.data.frombytes, table.pack  # one row: (facility, t, planned, made)
        repeat(env, self.produce)

    @property
    def units_per_year(self) -> float:
        return self._units_per_year

    @units_per_year.setter
    def units_per_year(self, units: float) -> None:
        self._units_per_year = units
        self._plan_units_per_day = units / 365.0

    @property
    def bom_kg_per_unit(self) -> dict[str, float]:
        return self._bom

    @bom_kg_per_unit.setter
    def bom_kg_per_unit(self, bom: Mapping[str, float]) -> None:
        self._bom = dict(bom)
        self._needs_t = [(material, kg / 1000.0) for material, kg in self._bom.items()]  # t per unit
        self.sourcing_changed()

    def sourcing_changed(self) -> None:
        self._just_in_time = [(self.inputs[m], need) for m, need in self._needs_t
                              if m in self.inputs and self.inputs[m].just_in_time]

    def owed_t(self, material: str) -> float:
        """With backorders: the input the units still owed will need (part of the position)."""
        if self.backlog_units <= 0.0:
            return 0.0
        return self.backlog_units * self._bom.get(material, 0.0) / 1000.0

    def daily_use_t(self, material: str) -> float:
        return self._units_per_year / 365.0 * self._bom.get(material, 0.0) / 1000.0

    def produce(self) -> float:
        """Make one day's units from the inputs at hand; returns the days until the next."""
        stock, consumed, used_here = self.stock, self.ledger.consumed_t, self.used_t
        mean_plan = plan = made = self._plan_units_per_day
        if self.demand_variability is not None:
            multiplier = self.demand_variability()
            plan = made = plan * multiplier if multiplier > 0.0 else 0.0
        backorder = self.unmet_demand == "backorder"
        if backorder and self.backlog_units > 0:
            made += min(self.backlog_units, (self.catchup_factor - 1.0) * mean_plan)
        for line, need in self._just_in_time:
            line.order_for(made * need)
        needs = self._needs_t
        for material, need in needs:
            if stock[material] < made * need:
                made = stock[material] / need
        if made < 0.0:
            made = 0.0
        for material, need in needs:
            used = made * need
            stock[material] -= used
            consumed[material] += used
            used_here[material] = used_here.get(material, 0.0) + used
        if backorder:
            self.backlog_units = max(0.0, self.backlog_units + plan - made)
        self._write(self._pack(self._code, self.env.now, plan, made))
        return 1.0
