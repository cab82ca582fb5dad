"""A stockpile: a state or company reserve that ships only what is released."""

from __future__ import annotations

from collections.abc import Mapping

import simpy

from .clock import repeat
from .facility import Facility
from .ledger import EPS_T, Ledger, Order

__all__ = ["Stockpile"]


class Stockpile(Facility):
    """Holds ``stock_t``; buyers cannot order from it. ``release(material, t)`` pushes tonnes
    to the buyers on its lanes by share; with ``release_below_cover_days`` it also checks its
    buyers daily and, when a buyer's stock on hand covers fewer days than that, sends what
    brings its stock on hand plus what the stockpile already has on the way to it up to
    ``release_target_cover_days``. (Orders the buyer has placed elsewhere do not count: during a
    licensing shock they may never come.)"""

    kind = "stockpile"
    takes_orders = False

    def __init__(
        self,
        env: simpy.Environment,
        name: str,
        country: str,
        stock_t: Mapping[str, float],
        release_below_cover_days: float | None = None,
        release_target_cover_days: float = 30.0,
        ledger: Ledger | None = None,
    ):
        super().__init__(env, name, country, ledger)
        for material, tonnes in stock_t.items():
            self.add_initial_stock(material, tonnes)
        self.release_below_cover_days = release_below_cover_days
        self.release_target_cover_days = release_target_cover_days
        self.released_t = 0.0
        self._sent: dict[int, list] = {}  # lane id -> shipments this stockpile sent down it
        self._watching = False  # whether the daily check is scheduled
        self.set_release_below(release_below_cover_days)

    def set_release_below(self, days: float | None) -> None:
        """Turn automatic releases on (a daily check) or off (``None``)."""
        self.release_below_cover_days = days
        if days is not None and not self._watching:
            self._watching = True
            repeat(self.env, self.check)

    def release(self, material: str, tonnes: float) -> float:
        """Ship up to ``tonnes`` now, split over its lanes by share; returns tonnes shipped."""
        lanes = self.outbound.get(material, [])
        qty = min(tonnes, self.stock.get(material, 0.0))
        if not lanes or qty <= EPS_T:
            return 0.0
        total = sum(lane.share for lane in lanes)
        for lane in lanes:
            self._ship(lane, qty * lane.share / total)
        return qty

    def _ship(self, lane, tonnes: float) -> None:
        ledger, now = self.ledger, self.env.now
        line = lane.buyer.inputs[lane.material]
        order = Order(ledger.new_order_id(), lane, tonnes, now, lane.fastest_mode)
        line.on_order_t += tonnes
        self.stock[lane.material] -= tonnes
        self.released_t += tonnes
        shipment = ledger.open_shipment(order, tonnes, now)
        self._sent.setdefault(id(lane), []).append(shipment)
        lane.send(shipment)

    def on_the_way_t(self, lane) -> float:
        """Tonnes sent down ``lane`` by this stockpile and not yet delivered (or returned)."""
        live = self.ledger.live
        sent = [s for s in self._sent.get(id(lane), []) if s.id in live]
        self._sent[id(lane)] = sent
        return sum(s.tonnes for s in sent)

    def check(self) -> float | None:
        """The daily check of buyers' cover; returns 1 day, or None once releases are switched off."""
        if self.release_below_cover_days is None:
            self._watching = False
            return None
        for material, lanes in self.outbound.items():
            for lane in lanes:
                line = lane.buyer.inputs[material]
                if line.cover_days() < self.release_below_cover_days:
                    on_hand = lane.buyer.stock.get(material, 0.0)
                    want = self.release_target_cover_days * line.use_t_per_day - on_hand - self.on_the_way_t(lane)
                    qty = min(want, self.stock.get(material, 0.0))
                    if qty > EPS_T:
                        self._ship(lane, qty)
        return 1.0
