"""What every facility shares: stock, filling orders (as a supplier), replenishing inputs.

A facility holds stock per material. As a supplier it fills orders first-come-first-served
from stock, partially when short, and keeps the rest in a backlog that is served as stock
arrives. As a buyer it has one :class:`InputLine` per input material, which reviews the
inventory position periodically and orders through the lanes that supply it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

import simpy

from .adaptation import AdaptiveCoverRule, PrebuyRule, set_adaptive_cover, set_prebuying
from .clock import repeat
from .ledger import EPS_T, Ledger, Order
from .policies import OrderUpTo

if TYPE_CHECKING:  # pragma: no cover
    from .lane import Lane

__all__ = ["Facility", "InputLine"]


class Facility:
    """A node of the network, located in ``country`` (ISO code)."""

    kind = "facility"
    #: whether buyers may order from this facility (stockpiles only ship what is released)
    takes_orders = True
    #: whether its inputs may be bought just in time (ordered as each day's production needs them)
    supports_just_in_time = False
    #: how stock short of the queued orders is shared out (None: first come, first served;
    #: else a rule of :mod:`.allocation`)
    allocation = None

    def __init__(self, env: simpy.Environment, name: str, country: str, ledger: Ledger | None = None):
        self.env = env
        self.name = name
        self.country = country
        self.ledger = ledger if ledger is not None else Ledger()
        self.stock: dict[str, float] = {}
        self.backlog: dict[str, deque[Order]] = {}
        self.inputs: dict[str, InputLine] = {}
        self.outbound: dict[str, list[Lane]] = {}
        self._serving: set[str] = set()
        # The facility's own books, per material, for the run's per-facility balance and
        # conversion checks: opening stock, tonnes it made (added to stock by production) and
        # tonnes it used up (taken from stock by production).
        self.initial_t: dict[str, float] = {}
        self.made_t: dict[str, float] = {}
        self.used_t: dict[str, float] = {}

    # ----------------------------------------------------------------- stock

    def add_initial_stock(self, material: str, tonnes: float) -> None:
        self.stock[material] = self.stock.get(material, 0.0) + tonnes
        self.initial_t[material] = self.initial_t.get(material, 0.0) + tonnes
        self.ledger.initial_t[material] += tonnes

    def on_hand_t(self, material: str) -> float:
        return self.stock.get(material, 0.0)

    def daily_use_t(self, material: str) -> float:
        """Planned use of an input per day (0 for materials the facility does not use)."""
        return 0.0

    def planned_output_t_per_day(self, material: str) -> float:
        """Planned shipments of ``material`` per day, for days of cover of output stock."""
        return 0.0

    def sourcing_changed(self) -> None:
        """An input's policy changed (a facility that orders at production time re-reads them)."""

    def owed_t(self, material: str) -> float:
        """Tonnes of ``material`` the facility owes its customers: orders it has received and
        not filled (a depot reselling what it buys). Part of its inventory position."""
        queue = self.backlog.get(material)
        return sum([o.remaining_t for o in queue]) if queue else 0.0

    # ----------------------------------------------------------------- supplier side

    def add_outbound(self, lane: Lane) -> None:
        self.outbound.setdefault(lane.material, []).append(lane)
        self.stock.setdefault(lane.material, 0.0)

    def backlog_t(self, material: str) -> float:
        queue = self.backlog.get(material)
        return sum([o.remaining_t for o in queue]) if queue else 0.0

    def receive_order(self, order: Order) -> None:
        """Queue an order (FCFS) and fill what stock allows now. A buyer whose unfilled orders
        are lost takes what there is: the rest is cancelled at once."""
        order.remaining_t = order.tonnes
        material = order.lane.material
        self.backlog.setdefault(material, deque()).append(order)
        self.serve(material)
        if order.remaining_t > EPS_T:
            line = order.line or order.lane.buyer.inputs[order.lane.material]
            if line.unfilled_orders == "lost":
                line.order_lost(self.cancel_order(order))

    def serve(self, material: str) -> None:
        """Fill queued orders from stock, oldest first (or by the ``allocation`` rule, see
        :mod:`.allocation`); a short order ships partially."""
        queue = self.backlog.get(material)
        if not queue or material in self._serving:
            # Re-entered (a shipment refused at once came back to stock): the loop running
            # further up the stack sees the returned stock and goes on.
            return
        self._serving.add(material)
        try:
            if self.allocation is None:
                self._fill(queue, material)
            else:
                self.allocation.fill(self, queue, material)
        finally:
            self._serving.discard(material)

    def ship(self, queue: deque, order: Order, qty: float, material: str) -> None:
        """Ship ``qty`` (at most what it lacks) from stock to a queued order, out of turn (for
        allocation rules; the same steps as :meth:`_fill`)."""
        self.stock[material] -= qty
        remaining = order.remaining_t - qty
        if remaining <= EPS_T:
            queue.remove(order)
            if remaining > 0.0:  # round-off: the buyer stops expecting it
                (order.line or order.lane.buyer.inputs[material]).cancel_expected(remaining)
            remaining = 0.0
        order.remaining_t = remaining
        order.lane.send(self.ledger.open_shipment(order, qty, self.env.now))

    def _fill(self, queue: deque, material: str) -> None:
        """First come, first served. A shipment that comes straight back (refused at the border
        at once) passes its lane over for the rest of this call, as the allocation rules do:
        else the goods taken back would go out to the same order, and back, again and again."""
        stock = self.stock
        now = self.env.now
        open_shipment = self.ledger.open_shipment
        passed_over = None  # lanes a shipment came straight back from during this call
        i = 0  # the first order not passed over (0 unless a lane was)
        while i < len(queue):
            on_hand = stock.get(material, 0.0)
            if on_hand <= EPS_T:
                break
            order = queue[i]
            if passed_over is not None and order.lane in passed_over:
                i += 1
                continue
            remaining = order.remaining_t
            qty = on_hand if on_hand < remaining else remaining
            stock[material] = on_hand - qty
            remaining -= qty
            if remaining <= EPS_T:
                del queue[i]
                if remaining > 0.0:  # round-off: the buyer stops expecting it
                    (order.line or order.lane.buyer.inputs[material]).cancel_expected(remaining)
                remaining = 0.0
            order.remaining_t = remaining
            order.lane.send(open_shipment(order, qty, now))
            if stock.get(material, 0.0) > on_hand - qty + EPS_T:  # it came straight back
                passed_over = passed_over or set()
                passed_over.add(order.lane)

    def cancel_order(self, order: Order) -> float:
        """Withdraw what is still unfilled of a queued order; returns those tonnes."""
        queue = self.backlog.get(order.lane.material)
        if not queue or order.remaining_t <= 0.0:
            return 0.0
        queue.remove(order)
        remaining, order.remaining_t = order.remaining_t, 0.0
        return remaining

    def take_back(self, material: str, tonnes: float) -> None:
        """Goods that could not leave (licence denied, quota refused) return to stock."""
        self.stock[material] = self.stock.get(material, 0.0) + tonnes
        self.serve(material)

    # ----------------------------------------------------------------- buyer side

    def input_lines(self) -> list[InputLine]:
        """Every input line (a sector with firms has one per firm and input)."""
        return list(self.inputs.values())

    def add_inbound(self, lane: Lane) -> None:
        line = self.inputs.get(lane.material)
        if line is None:
            raise ValueError(f"{self.name} does not use {lane.material!r}")
        line.add_lane(lane)

    def receive(self, lane: Lane, tonnes: float) -> None:
        """Goods delivered through ``lane``."""
        material = lane.material
        self.stock[material] = self.stock.get(material, 0.0) + tonnes
        self.inputs[material].delivered(tonnes)
        if self.backlog.get(material):
            self.serve(material)

    def _make_inputs(self, materials, policy, policies, initial_stock_t, **buying):
        """Create input lines (``buying``: the :class:`InputLine` options, the same for every
        input); inputs start at their policy's target cover unless told."""
        policies = policies or {}
        for material in materials:
            line_policy = policies.get(material, policy) or OrderUpTo()
            self.inputs[material] = InputLine(self, material, line_policy, **buying)
        initial = dict(initial_stock_t) if initial_stock_t is not None else {}
        for material, line in self.inputs.items():
            default = getattr(line.policy, "start_days", 0.0) * self.daily_use_t(material)
            self.add_initial_stock(material, initial.pop(material, default))
        for material, tonnes in initial.items():  # e.g. a plant's finished goods
            self.add_initial_stock(material, tonnes)
        for line in self.inputs.values():
            line.start()
        self.sourcing_changed()


class InputLine:
    """Replenishment of one input of a facility: position, orders, sourcing across lanes."""

    #: the line its orders name (``Order.line``): None, the buyer's ``inputs[material]``; a
    #: firm of a sector (:mod:`.firms`) sets it to the line itself, as firms share lanes
    order_line = None
    #: extra cover from a market layer's hoarding (:mod:`.market`), one of ``cover_adjustments``
    hoarding = None
    #: the purchasing pool reviewing this line with its sector's other firms (:mod:`.pooling`)
    pool = None

    def __init__(self, facility: Facility, material: str, policy, expedite_below_cover_days: float | None = None,
                 resource_after_denial_days: float = 30.0, cancel_backlog_after_days: float | None = None,
                 unfilled_orders: str = "backorder", withdraw_held_after_days: float | None = None,
                 adaptive_cover: AdaptiveCoverRule | None = None, prebuy_on_announcement: PrebuyRule | None = None):
        if unfilled_orders not in ("backorder", "lost"):
            raise ValueError(f"unfilled_orders must be 'backorder' or 'lost', got {unfilled_orders!r}")
        self.facility = facility
        self.material = material
        self._started = self._reviewing = False
        self.policy = policy
        self.expedite_below_cover_days = expedite_below_cover_days
        self.resource_after_denial_days = resource_after_denial_days
        self.cancel_backlog_after_days = cancel_backlog_after_days
        self.withdraw_held_after_days = withdraw_held_after_days
        self.unfilled_orders = unfilled_orders
        self.lost_order_t = 0.0  # tonnes suppliers could not fill at once, with unfilled_orders="lost"
        self.lanes: list[Lane] = []  # lanes buyers order through (not stockpile lanes)
        self.on_order_t = 0.0
        self.avoid_until: dict[int, float] = {}
        # Tonnes denied, refused or withdrawn and not yet re-ordered: [tonnes, first ordered,
        # days lost waiting for stock, days lost to controls, when it failed, cause]. The
        # re-order carries them, so lead times count from the first order.
        self.unfilled_since: deque[list] = deque()
        # Orders not yet filled in full (pruned at reviews), so a withdrawal rule set at any
        # time applies to orders already open.
        self.open_orders: list[Order] = []
        self._usual_choice: list[tuple[Lane, float]] | None = None  # while no lane is avoided
        # Days added to the policy's levels (:mod:`.adaptation`): adaptive cover, pre-buying.
        self.adaptive_cover = self.prebuying = None
        self.cover_adjustments: tuple = ()
        if adaptive_cover is not None or prebuy_on_announcement is not None:
            set_adaptive_cover(self, adaptive_cover)
            set_prebuying(self, prebuy_on_announcement)

    @property
    def policy(self):
        return self._policy

    @policy.setter
    def policy(self, policy) -> None:
        """A new policy applies from now: periodic reviews start if it has them (and stop at their
        next turn if it has not); a just-in-time policy orders from the facility's production."""
        just_in_time = bool(getattr(policy, "just_in_time", False))
        if just_in_time and not self.facility.supports_just_in_time:
            raise ValueError(f"{self.facility.name}: a just-in-time policy needs a facility that orders "
                             f"as it produces each day (a sector), not a {self.facility.kind}")
        self._policy, self.just_in_time = policy, just_in_time
        if self._started:
            self._start_reviews()
            self.facility.sourcing_changed()

    def start(self) -> None:
        """Begin replenishing (called once the facility has its opening stock)."""
        self._started = True
        self._start_reviews()

    def _start_reviews(self) -> None:
        if self.pool is not None:  # its sector's pool reviews it with the other firms
            if not self.just_in_time:
                self.pool.start()
            return
        if not self.just_in_time and not self._reviewing:
            self._reviewing = True
            repeat(self.facility.env, self.review)

    def add_lane(self, lane: Lane) -> None:
        if lane.supplier.takes_orders:
            self.lanes.append(lane)
            self._usual_choice = None

    @property
    def use_t_per_day(self) -> float:
        return self.facility.daily_use_t(self.material)

    def position_t(self) -> float:
        """Inventory position: on hand plus on order (ordered and not yet delivered) minus what
        the facility owes its own customers (unfilled orders, backordered units)."""
        return self.facility.stock.get(self.material, 0.0) + self.on_order_t - self.facility.owed_t(self.material)

    def cover_days(self, use: float | None = None) -> float:
        """Days of planned use on hand (``use``: the planned use per day, if the caller has it)."""
        if use is None:
            use = self.use_t_per_day
        return self.facility.stock.get(self.material, 0.0) / use if use > 0 else float("inf")

    def review(self) -> float | None:
        """The periodic review: order what the policy asks for, given the inventory position and
        planned use. Returns the days until the next review (None: the policy has no reviews)."""
        if self.just_in_time:
            self._reviewing = False
            return None
        self._withdraw_stale()
        policy = self._policy
        use = self.facility.daily_use_t(self.material)
        position = self.position_t()
        if self.cover_adjustments:  # levels raised by adaptive cover or pre-buying
            position -= self.extra_cover_days() * use
        qty = policy.quantity(position, use)
        if qty > EPS_T:
            self.order(qty)
        return policy.review_days

    def extra_cover_days(self) -> float:
        """Days of use added to the policy's levels now (adaptive cover, pre-buying)."""
        now = self.facility.env.now
        return sum([adjustment.extra_days(now) for adjustment in self.cover_adjustments])

    def order_for(self, need_t: float) -> None:
        """Just in time: order what ``need_t`` (today's production) needs beyond the position."""
        self._withdraw_stale()
        position = self.position_t()
        if self.cover_adjustments:  # levels raised by adaptive cover or pre-buying
            position -= self.extra_cover_days() * self.use_t_per_day
        qty = self._policy.quantity(position, need_t)
        if qty > EPS_T:
            self.order(qty)

    def _withdraw_stale(self) -> None:
        if (self.cancel_backlog_after_days is None and self.withdraw_held_after_days is None
                and len(self.open_orders) <= 64):
            return  # no rule to apply and nothing to forget (what withdraw_stale would find)
        mine = self.order_line
        self.open_orders = self.withdraw_stale(self.open_orders, lambda order: order.line is mine)

    def withdraw_stale(self, orders: list[Order], owns: Callable[[Order], bool]) -> list[Order]:
        """This line's withdrawal rules applied to ``orders``; returns those still open.

        ``cancel_backlog_after_days``: orders a supplier has left unfilled for longer since they
        were placed are withdrawn and re-sourced (by the line each names, or this one).
        ``withdraw_held_after_days``: shipments of orders ``owns`` accepts that have waited at
        the exporter's controls (a ban, a licence queue, a quota) that long since they left the
        supplier's stock are withdrawn: the goods go back to the supplier, a pending licence
        application is withdrawn, and the tonnes are re-ordered through the lanes not avoided."""
        now = self.facility.env.now
        if self.cancel_backlog_after_days is not None:
            still_open = []
            for order in orders:
                if order.remaining_t <= 0.0:
                    continue
                if now - order.t_ordered > self.cancel_backlog_after_days:
                    tonnes = order.lane.supplier.cancel_order(order)
                    (order.line or self).cancelled(order.lane, tonnes, order, None)
                else:
                    still_open.append(order)
            orders = still_open
        elif len(orders) > 64:  # nothing to withdraw: just forget filled orders
            orders = [o for o in orders if o.remaining_t > 0.0]
        wait = self.withdraw_held_after_days
        if wait is not None:
            for lane in self.lanes:
                if lane.held:
                    for shipment in [s for s in lane.held.values() if now - s.t_filled >= wait - 1e-9 and owns(s.order)]:
                        lane.withdraw(shipment)
        return orders

    def choose_lanes(self, candidates: list[Lane] | None = None) -> list[tuple[Lane, float]]:
        """Lanes to order through now, with the share of the order for each.

        The best (lowest) priority among lanes not avoided after a denial; equal priorities
        split by share. If every lane is avoided, all are tried again.
        """
        if candidates is None:
            if self.avoid_until:
                now = self.facility.env.now
                self.avoid_until = {k: t for k, t in self.avoid_until.items() if t > now}
            if not self.avoid_until:
                if self._usual_choice is None:
                    self._usual_choice = self._split(self.lanes)
                return self._usual_choice
            candidates = [lane for lane in self.lanes if id(lane) not in self.avoid_until] or self.lanes
        return self._split(candidates)

    @staticmethod
    def _split(lanes: list[Lane]) -> list[tuple[Lane, float]]:
        if not lanes:
            return []
        best = min(lane.priority for lane in lanes)
        group = [lane for lane in lanes if lane.priority == best]
        total = sum(lane.share for lane in group)
        return [(lane, lane.share / total) for lane in group]

    def order(self, tonnes: float, lanes: list[Lane] | None = None) -> None:
        """Order ``tonnes`` now, split over the chosen lanes by share. Tonnes that replace ones an
        earlier order failed to bring keep that order's first date (one order each); new tonnes
        are dated now."""
        ledger, now = self.facility.ledger, self.facility.env.now
        expedite = self.expedite_below_cover_days is not None and self.cover_days() < self.expedite_below_cover_days
        parts = self._replacing(tonnes, now) if self.unfilled_since else ((tonnes, now, 0.0, 0.0),)
        open_orders = self.open_orders
        pool = self.pool.collecting if self.pool is not None else None  # a pooled review collects new tonnes
        for lane, share in self.choose_lanes(lanes):
            mode = lane.fastest_mode if expedite else lane.default_mode
            for part_t, t_first, lost_stock, lost_licence in parts:
                qty = part_t * share
                self.on_order_t += qty
                if pool is not None:  # the pool makes the order when it places it
                    self.pool.collect(lane, mode, t_first, lost_stock, lost_licence, self.order_line, qty,
                                      ledger.new_order_id())
                    continue
                order = Order(ledger.new_order_id(), lane, qty, now, mode, 0.0, t_first, lost_stock, lost_licence,
                              self.order_line)
                open_orders.append(order)
                lane.supplier.receive_order(order)

    def _replacing(self, tonnes: float, now: float) -> list[tuple[float, float, float, float]]:
        """Split an order placed now into (tonnes, first ordered, days lost waiting for stock,
        days lost to controls): one part per earlier failure it replaces, oldest first, and the
        rest as new tonnes ``(rest, now, 0, 0)``. The time from a failure to now goes to its cause."""
        pending, parts = self.unfilled_since, []
        while pending and tonnes > EPS_T:
            entry = pending[0]
            take = entry[0] if entry[0] < tonnes else tonnes
            _, t_first, lost_stock, lost_licence, t_failed, cause = entry
            if cause == "stock":
                lost_stock += now - t_failed
            else:
                lost_licence += now - t_failed
            parts.append((take, t_first, lost_stock, lost_licence))
            entry[0] -= take
            tonnes -= take
            if entry[0] <= EPS_T:
                pending.popleft()
        if tonnes > EPS_T:
            parts.append((tonnes, now, 0.0, 0.0))
        return parts

    def delivered(self, tonnes: float) -> None:
        self.on_order_t -= tonnes

    def take_delivery(self, lane: Lane, tonnes: float, lead_time_days: float, learns: bool) -> None:
        """Goods its own order brought through ``lane`` (a firm's line); ``learns``: the lead
        time counts for an adaptive cover."""
        self.facility.receive(lane, tonnes)
        if learns and self.adaptive_cover is not None:
            self.adaptive_cover.observe(self.facility.env.now, lead_time_days, tonnes)

    def order_lost(self, tonnes: float) -> None:
        """A supplier could not fill ``tonnes`` at once and the buyer's unfilled orders are lost."""
        self.on_order_t -= tonnes
        self.lost_order_t += tonnes

    def cancel_expected(self, tonnes: float) -> None:
        self.on_order_t -= tonnes

    def _remember_failure(self, tonnes: float, t_first: float, lost_stock: float, lost_licence: float,
                          now: float, cause: str) -> None:
        """Tonnes to re-order with their first-order date and days lost. A failure at the same
        moment and of the same cause as the last one joins it (first date and days lost weighted
        by tonnes, so mean lead times are kept): what fails together is re-ordered as one, and a
        buyer whose every lane refuses at once does not multiply its re-orders day after day."""
        pending = self.unfilled_since
        if pending:
            last = pending[-1]
            if last[4] == now and last[5] == cause:
                total = last[0] + tonnes
                if total > 0.0 and last[1] != t_first:
                    last[1] = (last[1] * last[0] + t_first * tonnes) / total
                if total > 0.0:
                    last[2] = (last[2] * last[0] + lost_stock * tonnes) / total
                    last[3] = (last[3] * last[0] + lost_licence * tonnes) / total
                last[0] = total
                return
        pending.append([tonnes, t_first, lost_stock, lost_licence, now, cause])

    def cancelled(self, lane: Lane, tonnes: float, order: Order | None = None, shipment=None) -> None:
        """A shipment was denied or refused (``shipment`` given) or an order withdrawn from a
        supplier's backlog: avoid the lane for a while and order the same tonnes at once through
        the lanes still open (if none, the next review orders again). The re-order keeps the
        first order's time and where the time since went, for lead times."""
        self.on_order_t -= tonnes
        now = self.facility.env.now
        if order is not None:
            if shipment is not None:
                lost_stock, lost_licence, cause = shipment.t_filled - order.t_ordered, now - shipment.t_filled, "control"
            else:
                lost_stock, lost_licence, cause = now - order.t_ordered, 0.0, "stock"
            self._remember_failure(tonnes, order.t_first, order.lost_stock_days + lost_stock,
                                   order.lost_licence_days + lost_licence, now, cause)
        self.avoid_until[id(lane)] = now + self.resource_after_denial_days
        # The same lane is retried at once only after a decision that took time (a licence
        # denied after review): an instant refusal would fail again at once, forever at the
        # same moment, and a withdrawn order would only rejoin the back of the same backlog.
        retry_same = shipment is not None and order is not None and order.t_ordered < now
        open_lanes = [other for other in self.lanes
                      if self.avoid_until.get(id(other), -1.0) <= now and (retry_same or other is not lane)]
        if open_lanes:
            self.order(tonnes, open_lanes)
