"""A demand sector at one place: makes units daily from a bill of materials."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import simpy

from .catchup import CatchUp, CatchUpRule
from .clock import daily
from .facility import Facility, InputLine
from .firms import Firm, FirmsInput
from .ledger import Ledger
from .pooling import PurchasingPool

__all__ = ["Sector"]


class Sector(Facility):
    """Plans ``units_per_year / 365`` units a day, times ``demand_variability()`` if given (random
    daily demand); each unit needs ``bom_kg_per_unit`` of every input. A day makes what the scarcest
    input allows. Unmet units are lost, or (``unmet_demand="backorder"``) made later, at most
    ``catchup_factor - 1`` times the mean daily plan more a day, or (``"catch_up"``) a share of
    them is made later within a window (``catch_up``, a :class:`~.catchup.CatchUpRule`; see
    :mod:`.catchup`). Inputs with a just-in-time policy are ordered just before each day's
    production, for what that day needs.

    ``firms``: (share of output, cover days) per firm, to model the sector as firms with their
    own stocks (see :mod:`.firms`); the facility's stock and output are then their sums.
    ``pool_orders``: the firms review together and order new tonnes as one buyer (:mod:`.pooling`)."""

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
        firms: Sequence[tuple[float, float]] | None = None,
        catch_up: CatchUpRule | None = None,
        pool_orders: bool = True,
        **buying,
    ):
        super().__init__(env, name, country, ledger)
        if unmet_demand not in ("lost", "backorder", "catch_up"):
            raise ValueError(f"unmet_demand must be 'lost', 'backorder' or 'catch_up', got {unmet_demand!r}")
        self.firms: list[Firm] = []
        self.cum_plan_units = 0.0  # the sum of the days' plans so far (firms' books settle against it)
        # the least of the firms' covered_units (None: to compute); after a firm's stock rose
        # (``_covered_low``) only a lower bound of it, recomputed when it does not suffice
        self._covered_units: float | None = None
        self._covered_low = False
        self._owing = False  # some firm owes units or buys just in time (see _firms_owe)
        self.sector, self.units_per_year = sector, units_per_year
        self.bom_kg_per_unit = dict(bom_kg_per_unit)
        self.unmet_demand, self.catchup_factor = unmet_demand, catchup_factor
        self.catch_up_rule = (catch_up or CatchUpRule()) if unmet_demand == "catch_up" else None
        self.backlog_units = 0.0
        self._catch_up: CatchUp | None = None  # recoverable units (catch-up, without firms)
        self.demand_variability = demand_variability
        self._just_in_time: list[tuple[InputLine, float]] = []  # (input line, t per unit)
        self._code = self.ledger.records.production.code("facility", name)
        table = self.ledger.records.production
        self._write, self._pack = table.data.frombytes, table.pack  # one row: (facility, t, planned, made)
        if firms:
            self._make_firms(firms, policy, policies, initial_stock_t, buying, pool_orders)
            daily(env, self._produce_firms)
            return
        if self.catch_up_rule is not None:
            self._catch_up = CatchUp(self.catch_up_rule)
        self._make_inputs(self.bom_kg_per_unit, policy, policies, initial_stock_t, **buying)
        daily(env, self.produce)

    def _make_firms(self, firms, policy, policies, initial_stock_t, buying, pool_orders: bool) -> None:
        if initial_stock_t:
            raise ValueError(f"{self.name}: a sector with firms takes its opening stock from each firm's cover, "
                             "not initial_stock_t")
        total = sum(share for share, _cover in firms)
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"{self.name}: firms' shares must sum to 1, got {total:g}")
        rule = self.catch_up_rule
        self.pools = {m: PurchasingPool(self.env, m) for m in self.bom_kg_per_unit} if pool_orders else None
        self.firms = [Firm(self, i, share, cover, policy, policies, CatchUp(rule) if rule is not None else None,
                           self.pools, **buying)
                      for i, (share, cover) in enumerate(firms, start=1)]
        self.inputs = {m: FirmsInput(self, m, (policies or {}).get(m, policy)) for m in self.bom_kg_per_unit}
        self._owing = self._firms_owe()
        self.receive = self._receive_unordered  # goods that name no firm (a stockpile's release)
        table = self.ledger.records.firm_production
        self._firm_code = table.code("facility", self.name)
        self._write_firm, self._pack_firm = table.data.frombytes, table.pack  # (facility, firm, t, planned, made)

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
        self.settle_firms()  # days made under the old bill are taken from stock with it
        self._bom = dict(bom)
        self._needs_t = [(material, kg / 1000.0) for material, kg in self._bom.items()]  # t per unit
        self.sourcing_changed()

    def sourcing_changed(self) -> None:
        if self.firms:
            for firm in self.firms:
                firm.sourcing_changed()  # (each tells the sector: firm_sourcing_changed)
            return
        self._just_in_time = [(self.inputs[m], need) for m, need in self._needs_t
                              if m in self.inputs and self.inputs[m].just_in_time]

    def input_lines(self) -> list[InputLine]:
        if self.firms:
            return [line for firm in self.firms for line in firm.inputs.values()]
        return list(self.inputs.values())

    def owed_t(self, material: str) -> float:
        """With backorders or catch-up: the input the units still owed (to be made later) will
        need (part of the position); with firms, the sum over them."""
        if self.firms:
            return sum([firm.owed_t(material) for firm in self.firms])
        units = self.backlog_units
        if self._catch_up is not None:
            units += self._catch_up.owed_units
        if units <= 0.0:
            return 0.0
        return units * self._bom.get(material, 0.0) / 1000.0

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
        catch_up = self._catch_up
        if catch_up is not None and catch_up.queue:
            made += catch_up.due(self.env.now, mean_plan)
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
        elif catch_up is not None:
            catch_up.settle(self.env.now, plan, made)
        self._write(self._pack(self._code, self.env.now, plan, made))
        return 1.0

    def settle_firms(self) -> None:
        """Bring every firm's stock and use up to date (before reading their books at the end)."""
        for firm in self.firms:
            firm.settle()
        self._covered_units = None

    def firm_sourcing_changed(self) -> None:
        """A firm's inputs changed policy (just in time or not)."""
        self._owing = self._firms_owe()

    def firm_stock_rose(self) -> None:
        """A firm's stock rose (goods delivered, opening stock): the least plan the firms cover
        can only have risen, so the one known stays a lower bound (see _all_firms_make_plan)."""
        self._covered_low = True

    def _firms_owe(self) -> bool:
        """Whether some firm owes units (backorders, catch-up) or buys just in time. Only a day
        the firms make (:meth:`_produce_firms`) or a change of sourcing changes this, so it is
        kept in ``_owing`` after each of them."""
        return any(firm.backlog_units > 0.0 or firm._just_in_time or (firm.catch_up is not None and firm.catch_up.queue)
                   for firm in self.firms)

    def _all_firms_make_plan(self, plan_after: float) -> bool:
        """Whether today every firm surely makes exactly its share of the plan: none owes units
        (backorders, catch-up), none buys just in time, and every firm's stock covers its share
        of the cumulative plan through today."""
        if self._owing:
            return False
        needed = plan_after + 1e-9 * (1.0 + plan_after)
        covered = self._covered_units
        # A lower bound that covers the day decides as the exact figure would; else compute it.
        if covered is None or (self._covered_low and needed > covered):
            covered = self._covered_units = min([firm.covered_units() for firm in self.firms])
            self._covered_low = False
        return needed <= covered

    def _produce_firms(self) -> float:
        """One day of a sector with firms: the day's plan (one draw of ``demand_variability``
        for the sector) split by share, each firm making its part as its own stock allows, with
        its own backorders or catch-up; one row per firm and one for the facility (the sums).
        The sector's books (stock, use, the ledger's consumption) take the day's total per
        input once, after the firms.

        A day on which every firm surely makes its share (:meth:`_all_firms_make_plan`) is
        counted without visiting the firms: the sector's books take the plan's inputs, the
        cumulative plan grows, and each firm takes its share from its stock when its stock is
        next read or changed (:meth:`Firm.settle`); such days write no firm rows (the tables
        read a missing firm-day as made to plan)."""
        now = self.env.now
        mean_plan = plan = self._plan_units_per_day
        if self.demand_variability is not None:
            multiplier = self.demand_variability()
            plan = plan * multiplier if multiplier > 0.0 else 0.0
        needs = self._needs_t
        plan_after = self.cum_plan_units + plan
        if self._all_firms_make_plan(plan_after):
            self.cum_plan_units = plan_after
            sector_stock, consumed, used_here = self.stock, self.ledger.consumed_t, self.used_t
            for material, need in needs:  # _book_use, written out (most days of most sectors)
                used = plan * need
                if used:
                    sector_stock[material] -= used
                    consumed[material] += used
                    used_here[material] = used_here.get(material, 0.0) + used
            self._write(self._pack(self._code, now, plan, plan))
            return 1.0
        for firm in self.firms:
            firm.settle()
        backorder = self.unmet_demand == "backorder"
        extra_rate = self.catchup_factor - 1.0
        write, pack, code = self._write_firm, self._pack_firm, self._firm_code
        total = 0.0
        day_used = dict.fromkeys(self._bom, 0.0)
        for firm in self.firms:
            share = firm.share
            firm_plan = made = plan * share
            catch_up = firm.catch_up
            if backorder:
                if firm.backlog_units > 0:
                    made += min(firm.backlog_units, extra_rate * mean_plan * share)
            elif catch_up is not None and catch_up.queue:
                made += catch_up.due(now, mean_plan * share)
            if firm._just_in_time:
                for line, need in firm._just_in_time:
                    line.order_for(made * need)
            stock, firm_used = firm.stock, firm.used_t
            for material, need in needs:
                if stock[material] < made * need:
                    made = stock[material] / need
            if made > 0.0:
                for material, need in needs:
                    used = made * need
                    stock[material] -= used
                    firm_used[material] = firm_used.get(material, 0.0) + used
                    day_used[material] += used
                total += made
            else:
                made = 0.0
            if backorder:
                firm.backlog_units = max(0.0, firm.backlog_units + firm_plan - made)
            elif catch_up is not None and made != firm_plan:  # a day exactly to plan changes nothing
                catch_up.settle(now, firm_plan, made)
            write(pack(code, firm.index, now, firm_plan, made))
        self.cum_plan_units = plan_after
        for firm in self.firms:  # today's production is in their books already
            firm._settled_units = plan_after
        self._covered_units = None
        self._owing = self._firms_owe()
        self._book_use(day_used.items())
        self._write(self._pack(self._code, now, plan, total))
        return 1.0

    def _book_use(self, used_t) -> None:
        """The day's inputs used by all firms, (material, tonnes), into the sector's books."""
        sector_stock, consumed, used_here = self.stock, self.ledger.consumed_t, self.used_t
        for material, used in used_t:
            if used:
                sector_stock[material] -= used
                consumed[material] += used
                used_here[material] = used_here.get(material, 0.0) + used

    def _receive_unordered(self, lane, tonnes: float) -> None:
        """Goods for a sector with firms that name no firm (a stockpile's release): split by
        share (the last firm takes what rounding leaves)."""
        left = tonnes
        for firm in self.firms[:-1]:
            part = tonnes * firm.share
            firm.receive(lane, part)
            left -= part
        self.firms[-1].receive(lane, left)
