"""Allocation: how a supplier shares out stock that does not cover every queued order.

A supplier (mine, plant, depot) keeps the orders it has not filled in a queue, in the order
they arrived. Whenever it has stock and open orders (an order arrives, a batch is finished, goods
are delivered, or goods refused or denied at the border come back) it ships from stock by its
rule:

* ``fcfs`` (the default): oldest order first, each filled in full before the next; the last one
  reached ships partially (:meth:`Facility._fill <simulator.components.facility.Facility._fill>`).
* ``pro_rata``: when the stock on hand covers every open order, each is filled; otherwise each
  buyer (lane) with open orders gets ``stock x its orders' remaining tonnes / all open orders'
  remaining tonnes``, which fills its orders oldest first.
* ``domestic_first``: orders from buyers in the supplier's own country (a lane that does not
  cross a border), then the rest; first come, first served within each class.
* ``tiers``: by the buyer's tier (a mapping buyer facility -> whole number, lower first; buyers
  not listed come after every tier); first come, first served within a tier.

Volume that cannot go to one destination goes to the others: a shipment refused at once at the
border (a ban or quota that refuses) comes straight back to stock; its buyer's lane is passed
over for the rest of that allocation, and the returned tonnes are allocated again, by the same
rule, among the other buyers' open orders (pro rata: in a new round, in proportion to what they
still lack).
Goods denied later (a licence review) return to stock then and are allocated by the rule as any
new stock. Choose a rule by name through :data:`ALLOCATIONS`; a rule is an object with
``fill(facility, queue, material)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from .ledger import EPS_T

if TYPE_CHECKING:  # pragma: no cover
    from collections import deque

    from .facility import Facility
    from .ledger import Order

__all__ = ["ProRata", "DomesticFirst", "Tiers", "ALLOCATIONS"]


def _came_back(facility: Facility, material: str, expected_t: float) -> bool:
    """Whether stock is above what shipping should have left (a shipment refused at once)."""
    return facility.stock.get(material, 0.0) > expected_t + EPS_T


class ProRata:
    """Stock on hand split among the buyers (lanes) with open orders in proportion to their
    remaining tonnes; each buyer's part fills its orders oldest first. (Per buyer rather than per
    order: the same shares, without splitting every order at every batch.)"""

    def fill(self, facility: Facility, queue: deque, material: str) -> None:
        stock = facility.stock
        passed_over: set = set()  # lanes a shipment came straight back from during this call
        while True:
            on_hand = stock.get(material, 0.0)
            if on_hand <= EPS_T:
                return
            by_lane: dict = {}  # lane -> its open orders, oldest first (lanes in order of first order)
            for order in queue:
                if order.lane not in passed_over:
                    by_lane.setdefault(order.lane, []).append(order)
            lacking = {lane: sum([o.remaining_t for o in orders]) for lane, orders in by_lane.items()}
            total = sum(lacking.values())
            if total <= 0.0:
                return
            share = on_hand / total if on_hand < total else 1.0
            returned = False
            for lane, orders in by_lane.items():
                part = lacking[lane] if share == 1.0 else lacking[lane] * share
                for order in orders:
                    left, remaining = stock.get(material, 0.0), order.remaining_t
                    qty = remaining if remaining < part else part
                    if qty > left:  # round-off on the last share
                        qty = left
                    if qty <= 0.0:  # withdrawn meanwhile, or the part is used up
                        continue
                    part -= qty
                    facility.ship(queue, order, qty, material)
                    if _came_back(facility, material, left - qty):
                        passed_over.add(lane)
                        returned = True
                        break
            if not returned:  # what is left is round-off
                return


class _Ranked:
    """Orders of the best rank first (``rank(facility, order)``, lower first), first come first
    served within a rank."""

    def rank(self, facility: Facility, order: Order):  # pragma: no cover - overridden
        raise NotImplementedError

    def fill(self, facility: Facility, queue: deque, material: str) -> None:
        stock = facility.stock
        passed_over: set = set()  # lanes a shipment came straight back from during this call
        while True:
            ranked = sorted([o for o in queue if o.lane not in passed_over], key=lambda o: self.rank(facility, o))
            returned = False
            for order in ranked:
                on_hand = stock.get(material, 0.0)
                if on_hand <= EPS_T:
                    return
                remaining = order.remaining_t
                if remaining <= 0.0:  # withdrawn meanwhile
                    continue
                qty = on_hand if on_hand < remaining else remaining
                facility.ship(queue, order, qty, material)
                if _came_back(facility, material, on_hand - qty):
                    passed_over.add(order.lane)
                    returned = True
                    break  # rank again: the queue may have changed
            if not returned:
                return


class DomesticFirst(_Ranked):
    """Buyers in the supplier's own country first, then the rest (FCFS within each)."""

    def rank(self, facility: Facility, order: Order) -> bool:
        return order.lane.crosses_border  # False (domestic) sorts first


class Tiers(_Ranked):
    """By the buyer's tier, lower first; buyers not listed after every tier (FCFS within a tier)."""

    def __init__(self, tiers: Mapping[str, int]):
        self.tiers = dict(tiers)

    def rank(self, facility: Facility, order: Order) -> float:
        return self.tiers.get(order.lane.buyer.name, math.inf)


#: Allocation rules by name: a factory of the rule object (keyword arguments: the rule's
#: parameters). ``fcfs`` has no object: the facility's own first-come-first-served fill runs.
ALLOCATIONS: dict[str, Callable[..., object | None]] = {
    "fcfs": lambda: None,
    "pro_rata": ProRata,
    "domestic_first": DomesticFirst,
    "tiers": Tiers,
}
