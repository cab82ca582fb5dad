"""Firms within a sector: one national sector as several firms, each with its own stock.

A :class:`~.sector.Sector` given ``firms`` (issue 11) is ``N`` firms, each with a share of the
sector's output (default: equal shares) and its own target cover in days of its own use. Each
firm has its own stock, input lines (inventory position, orders, reviews, withdrawals) and
stoppages; the facility's output is the sum of theirs. The rules:

- **Plan.** The sector's daily plan (one draw of ``demand_variability`` a day, for the whole
  sector) is split by share; each firm makes its share as its own stock allows, with its own
  backorders or catch-up (backorder pace and catch-up rate scale with its share).
- **Cover.** A firm's policy is the sector's with every level (``target_days``,
  ``reorder_days``, ``quantity_days``) multiplied by the firm's factor ``cover_days / L``, where
  ``L`` is the level of the sector's policy for that input at the start: ``target_days``
  (``order_up_to``, ``s_S``) or ``reorder_days + quantity_days`` (``s_Q``). So at the start an
  order-up-to firm's target is its cover, an (s, S) firm's S is its cover and s keeps its ratio
  to S, and an (s, Q) firm's s + Q is its cover. A policy set on the timeline is scaled by the
  same factors (a longer target for the sector lengthens every firm's in proportion). Without a
  level at the start (``just_in_time``, or ``L`` = 0) firms use the policies as given. Each firm
  opens with ``cover x`` its daily use of every input.
- **Orders.** Each firm orders through all the sector's lanes, for its own needs; an order
  carries the firm's input line (``Order.line``), and what it brings (or the news that it was
  denied, refused, withdrawn or cancelled) reaches that firm. With purchasing pools (the
  default, :mod:`.pooling`) the firms review together and their new tonnes for one lane and
  mode go as one order, shared out in proportion to what each asked. Goods sent without an order (a
  stockpile release) are split among the firms by share.
- **Books.** The facility's ``stock``, ``initial_t`` and ``used_t`` are the sums over its firms
  (kept up to date with every change), so the mass balance, inventory records and conversion
  checks see the sector as one facility; :mod:`simulator.balance` also checks that the sums
  agree.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING

from .facility import Facility, InputLine
from .policies import FixedQuantity, MinMax, OrderUpTo

if TYPE_CHECKING:  # pragma: no cover
    from .catchup import CatchUp
    from .lane import Lane
    from .pooling import PurchasingPool
    from .sector import Sector

__all__ = ["Firm", "FirmsInput", "policy_level", "scaled_policy"]


def policy_level(policy) -> float | None:
    """The level a firm's cover stands for: S or the target, s + Q; None without levels."""
    if isinstance(policy, (OrderUpTo, MinMax)):
        return policy.target_days
    if isinstance(policy, FixedQuantity):
        return policy.reorder_days + policy.quantity_days
    return None  # just in time, or a policy object of the caller's own


def scaled_policy(policy, factor: float | None):
    """``policy`` with every level multiplied by ``factor`` (None: as it is)."""
    if factor is None:
        return policy
    if isinstance(policy, OrderUpTo):
        return replace(policy, target_days=policy.target_days * factor)
    if isinstance(policy, MinMax):
        return replace(policy, reorder_days=policy.reorder_days * factor, target_days=policy.target_days * factor)
    if isinstance(policy, FixedQuantity):
        return replace(policy, reorder_days=policy.reorder_days * factor, quantity_days=policy.quantity_days * factor)
    return policy


class Firm(Facility):
    """One firm of a sector: its ``share`` of the plan, its ``cover_days``, its stock and input
    lines. Not a facility of the network on its own: lanes and tables name its sector."""

    kind = "firm"
    supports_just_in_time = True

    def __init__(self, sector: Sector, index: int, share: float, cover_days: float, policy, policies,
                 catch_up: CatchUp | None = None, pools: dict[str, PurchasingPool] | None = None, **buying):
        super().__init__(sector.env, f"{sector.name}#{index}", sector.country, sector.ledger)
        self.sector, self.index, self.share, self.cover_days = sector, index, share, cover_days
        self.backlog_units = 0.0  # units owed, with backorders
        self.catch_up = catch_up
        self._just_in_time: list[tuple[InputLine, float]] = []
        self.factors: dict[str, float | None] = {}  # per input: its levels / the sector's at the start
        policies = policies or {}
        for material in sector.bom_kg_per_unit:
            given = policies.get(material, policy) or OrderUpTo()
            level = policy_level(given)
            factor = self.factors[material] = cover_days / level if level else None
            line = InputLine(self, material, scaled_policy(given, factor), **buying)
            line.order_line = line  # its orders name it, so their goods come back to this firm
            if pools is not None:  # reviewed with the other firms, new tonnes ordered together
                pools[material].join(line)
            self.inputs[material] = line
        for material in self.inputs:
            self.add_initial_stock(material, cover_days * self.daily_use_t(material))
        for line in self.inputs.values():
            line.start()
        self.sourcing_changed()

    #: the sector's cumulative plan (units) up to which this firm's stock and use are current
    _settled_units = 0.0

    @property
    def stock(self) -> dict[str, float]:
        """On hand per material, brought up to date first (days it made its plan are taken
        from stock when read: see :meth:`Sector._produce_firms`)."""
        if self._settled_units != self.sector.cum_plan_units:
            self.settle()
        return self._stock

    @stock.setter
    def stock(self, value: dict[str, float]) -> None:
        self._stock = value

    def settle(self) -> None:
        """Take from stock what the firm made on the days since its books were last current, on
        each of which it made exactly its share of the sector's plan."""
        sector = self.sector
        units = (sector.cum_plan_units - self._settled_units) * self.share
        self._settled_units = sector.cum_plan_units
        if units:
            stock, used_t = self._stock, self.used_t
            for material, need in sector._needs_t:
                used = units * need
                stock[material] -= used
                used_t[material] = used_t.get(material, 0.0) + used

    def covered_units(self) -> float:
        """The sector's cumulative plan (units) up to which this firm's stock, as last settled,
        covers its share of every input (inf when it needs none)."""
        share, covered = self.share, math.inf
        if share > 0.0:
            for material, need in self.sector._needs_t:
                if need > 0.0:
                    units = self._stock.get(material, 0.0) / (share * need)
                    if units < covered:
                        covered = units
        return self._settled_units + covered

    def add_initial_stock(self, material: str, tonnes: float) -> None:
        self.stock[material] = self.stock.get(material, 0.0) + tonnes
        self.initial_t[material] = self.initial_t.get(material, 0.0) + tonnes
        self.sector.add_initial_stock(material, tonnes)  # the facility's books and the ledger's
        self.sector.firm_stock_rose()

    def daily_use_t(self, material: str) -> float:
        return self.share * self.sector.daily_use_t(material)

    def owed_t(self, material: str) -> float:
        """Units still owed (backorders, or recoverable units with catch-up) x bill of materials."""
        units = self.backlog_units
        if self.catch_up is not None:
            units += self.catch_up.owed_units
        if units <= 0.0:
            return 0.0
        return units * self.sector.bom_kg_per_unit.get(material, 0.0) / 1000.0

    def sourcing_changed(self) -> None:
        self._just_in_time = [(self.inputs[m], need) for m, need in self.sector._needs_t
                              if m in self.inputs and self.inputs[m].just_in_time]
        self.sector.firm_sourcing_changed()

    def receive(self, lane: Lane, tonnes: float) -> None:
        """Goods this firm ordered, delivered through ``lane``."""
        material = lane.material
        self.stock[material] += tonnes
        self.sector.stock[material] += tonnes
        self.sector.firm_stock_rose()
        self.inputs[material].delivered(tonnes)


class FirmsInput:
    """One input of a sector with firms, seen whole: what a stockpile, a lane's goods sent
    without an order, and the timeline address as ``sector.inputs[material]``.

    Tonnes on order, deliveries and refusals are split among the firms' lines by share; the
    position, cover and planned use are the sector's; ``policy`` and the buying settings set
    here apply to every firm (the policy scaled to each firm's cover). Other attributes read
    through to the first firm's line (the settings are the same for every firm)."""

    _SETTINGS = frozenset({"expedite_below_cover_days", "resource_after_denial_days", "cancel_backlog_after_days",
                           "unfilled_orders", "withdraw_held_after_days"})

    def __init__(self, sector: Sector, material: str, policy):
        object.__setattr__(self, "sector", sector)
        object.__setattr__(self, "material", material)
        object.__setattr__(self, "_policy", policy)

    def lines(self) -> list[tuple[InputLine, float]]:
        """(firm's line, firm's share) for every firm."""
        return [(firm.inputs[self.material], firm.share) for firm in self.sector.firms]

    def __getattr__(self, name: str):
        if name.startswith("__") or "sector" not in self.__dict__:  # e.g. copy and pickle probing
            raise AttributeError(name)
        return getattr(self.sector.firms[0].inputs[self.material], name)

    def __setattr__(self, name: str, value) -> None:
        if name == "policy":
            object.__setattr__(self, "_policy", value)
            for firm in self.sector.firms:
                firm.inputs[self.material].policy = scaled_policy(value, firm.factors[self.material])
        elif name in self._SETTINGS:
            for line, _share in self.lines():
                setattr(line, name, value)
        elif name == "on_order_t":  # e.g. a stockpile's release, split as its delivery will be
            extra = value - self.on_order_t
            for line, share in self.lines():
                line.on_order_t += extra * share
        else:
            raise AttributeError(f"cannot set {name!r} on a sector's firms as a whole")

    @property
    def policy(self):
        return self._policy

    @property
    def on_order_t(self) -> float:
        return sum([line.on_order_t for line, _share in self.lines()])

    @property
    def use_t_per_day(self) -> float:
        return self.sector.daily_use_t(self.material)

    def position_t(self) -> float:
        return sum([line.position_t() for line, _share in self.lines()])

    def cover_days(self) -> float:
        use = self.use_t_per_day
        return self.sector.stock.get(self.material, 0.0) / use if use > 0 else float("inf")

    def add_lane(self, lane: Lane) -> None:
        for line, _share in self.lines():
            line.add_lane(lane)

    def delivered(self, tonnes: float) -> None:
        for line, share in self.lines():
            line.delivered(tonnes * share)

    def cancel_expected(self, tonnes: float) -> None:
        for line, share in self.lines():
            line.cancel_expected(tonnes * share)

    def cancelled(self, lane: Lane, tonnes: float, order=None, shipment=None) -> None:
        for line, share in self.lines():
            line.cancelled(lane, tonnes * share, order, shipment)
