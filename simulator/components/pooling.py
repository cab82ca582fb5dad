"""Purchasing pools: a sector's firms review an input together and order as one buyer.

The rule (``firms.pool_orders``, on by default). The firms of one sector review each input on the
same days (their policies differ in levels, never in review period), so a sector with firms runs
one review per input for all of them. Each firm decides what to order exactly as on its own: from
its own position and levels, its own re-orders of earlier failures, the lanes it avoids after a
denial, expediting from its own cover. Then the tonnes that go to the same lane by the same
mode (and, for re-orders, with the same first-order date and days lost) are placed as **one order**, which the supplier fills, the exporter's controls hold, license
and split, and the lane carries, as one. What it brings, and what is denied, refused, withdrawn,
cancelled or rounded off, is shared among the firms in proportion to what each asked (the last
firm takes what round-off leaves). Each firm re-sources its share of a failure as it would
alone, and those re-orders are pooled again (they share the failed order's dates).

Why: a sector's firms buy through the same distributors and exporters, whose consignments and
licence applications bundle many buyers' needs; and without pooling every firm doubles the
orders, shipments and licence decisions of a run for the same tonnes (the cost of firms was
2.3x a run without them). What pooling gives up: firms of one sector share the luck of each
licence decision on a pooled order (in proportion), so their stocks differ by cover and by
the timing of their needs, not by separate licence draws; ``pool_orders: false`` restores
independent orders.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .clock import repeat
from .ledger import EPS_T, Order

if TYPE_CHECKING:  # pragma: no cover
    from .facility import InputLine
    from .lane import Lane

__all__ = ["PooledLine", "PurchasingPool"]


class PooledLine:
    """The buyer side of one pooled order: the firms' input lines and the fraction each asked
    for. Stands where an order names its input line (``Order.line``) and shares out what
    happens to the order."""

    __slots__ = ("parts", "pool")

    def __init__(self, parts: list[tuple[InputLine, float]], pool: PurchasingPool):
        self.parts, self.pool = parts, pool

    def shares(self, tonnes: float) -> list[tuple[InputLine, float]]:
        """``tonnes`` split by fraction; the last line takes the rest, so the parts sum exactly."""
        out, left = [], tonnes
        for line, fraction in self.parts[:-1]:
            part = tonnes * fraction
            out.append((line, part))
            left -= part
        out.append((self.parts[-1][0], left))
        return out

    @property
    def unfilled_orders(self) -> str:
        return self.parts[0][0].unfilled_orders

    def take_delivery(self, lane: Lane, tonnes: float, lead_time_days: float, learns: bool) -> None:
        """Each firm takes its share as :meth:`InputLine.take_delivery` and :meth:`Firm.receive`
        would, written out (every pooled delivery reaches every firm of a sector): into the
        firm's stock and its sector's, off its tonnes on order, into its adaptive cover."""
        parts, left = self.parts, tonnes  # shares(tonnes), written out
        last, material = len(parts) - 1, lane.material
        sector = parts[0][0].facility.sector
        sector_stock, now = sector.stock, sector.env.now
        for i, (line, fraction) in enumerate(parts):
            part = tonnes * fraction if i < last else left
            left -= part
            line.facility.stock[material] += part  # (the firm's stock property settles it first)
            sector_stock[material] += part
            line.on_order_t -= part
            if learns and line.adaptive_cover is not None:
                line.adaptive_cover.observe(now, lead_time_days, part)
        sector.firm_stock_rose()

    def order_lost(self, tonnes: float) -> None:
        for line, part in self.shares(tonnes):
            line.order_lost(part)

    def cancel_expected(self, tonnes: float) -> None:
        for line, part in self.shares(tonnes):
            line.cancel_expected(part)

    def cancelled(self, lane: Lane, tonnes: float, order: Order | None = None, shipment=None) -> None:
        """Each firm learns of its share and re-sources it; their re-orders, which carry the same
        first-order date and lost days, go out pooled again."""
        def each_firm() -> None:
            for line, part in self.shares(tonnes):
                line.cancelled(lane, part, order, shipment)

        self.pool.pooled(each_firm)


class PurchasingPool:
    """One input of a sector's firms, reviewed together (see the module docstring). Firms'
    input lines join with :meth:`join`; the pool's periodic review replaces theirs."""

    def __init__(self, env, material: str):
        self.env, self.material = env, material
        self.lines: list[InputLine] = []
        self.open_orders: list[Order] = []  # pooled orders not yet filled in full
        # during a review: (lane, mode, first ordered, days lost ...) -> [(line, tonnes, order id)]
        self.collecting: dict[tuple, list[tuple[InputLine, float, int]]] | None = None
        self._running = False

    def join(self, line: InputLine) -> None:
        self.lines.append(line)
        line.pool = self

    def start(self) -> None:
        """Run the periodic review (if it is not running already)."""
        if not self._running:
            self._running = True
            repeat(self.env, self.review)

    def collect(self, lane: Lane, mode: str, t_first: float, lost_stock_days: float, lost_licence_days: float,
                line: InputLine, tonnes: float, order_id: int) -> None:
        """A firm's order placed while the pool collects (its id given, no :class:`Order` made
        yet): held back to be pooled with the others for the same lane and mode, first-order
        date and days lost (for lead times)."""
        key = (lane, mode, t_first, lost_stock_days, lost_licence_days)
        parts = self.collecting.get(key)
        if parts is None:
            self.collecting[key] = [(line, tonnes, order_id)]
        else:
            parts.append((line, tonnes, order_id))

    def pooled(self, act: Callable[[], object]) -> object:
        """Call ``act()``, collecting the firms' orders placed meanwhile, then place them pooled
        (nested: the outermost call places). Returns what ``act`` returns."""
        if self.collecting is not None:
            return act()
        self.collecting = collected = {}
        try:
            result = act()
        finally:
            self.collecting = None
        for key, parts in collected.items():
            self._place(key, parts)
        return result

    def review(self) -> float | None:
        """Every firm's review, then one order per lane and mode for their new tonnes. Returns
        the days until the next review (the shortest of the firms'; None when none reviews)."""
        next_review = self.pooled(self._review_firms)
        if next_review is None:
            self._running = False
        return next_review

    def _review_firms(self) -> float | None:
        self._withdraw_stale()
        next_review = None
        for line in self.lines:
            if line.just_in_time or line.unfilled_since:
                delay = line.review()  # re-orders of failed tonnes, or no review: the general path
            else:
                delay = self._review_line(line)
            if delay is not None and (next_review is None or delay < next_review):
                next_review = delay
        return next_review

    def _review_line(self, line: InputLine) -> float:
        """:meth:`InputLine.review` and :meth:`InputLine.order` of a firm's line with nothing to
        re-order, written out (every firm, every week): the same position, levels, expediting,
        lanes, tonnes on order and order ids, the new tonnes collected for pooling. A test
        checks that runs through :meth:`InputLine.review` give the same files."""
        line._withdraw_stale()
        policy = line._policy
        use = line.facility.daily_use_t(line.material)
        position = line.position_t()
        if line.cover_adjustments:  # levels raised by adaptive cover or pre-buying
            position -= line.extra_cover_days() * use
        qty = policy.quantity(position, use)
        if qty > EPS_T:
            below = line.expedite_below_cover_days
            expedite = below is not None and line.cover_days(use) < below
            now, new_id = self.env.now, line.facility.ledger.new_order_id
            for lane, share in line.choose_lanes():
                tonnes = qty * share
                line.on_order_t += tonnes
                # new tonnes: first ordered now, no days lost
                self.collect(lane, lane.fastest_mode if expedite else lane.default_mode, now, 0.0, 0.0,
                             line.order_line, tonnes, new_id())
        return policy.review_days

    def _place(self, key: tuple, parts: list[tuple[InputLine, float, int]]) -> None:
        """One order for the collected (firm's line, tonnes, order id) of ``key``: the firm's
        own if it is alone, else a pooled one under the first firm's order id."""
        lane, mode, t_first, lost_stock, lost_licence = key
        now = self.env.now
        line, tonnes, order_id = parts[0]
        if len(parts) == 1:  # nothing to pool: the firm's own order
            order = Order(order_id, lane, tonnes, now, mode, 0.0, t_first, lost_stock, lost_licence, line)
            line.open_orders.append(order)
        else:
            total = sum([tonnes for _line, tonnes, _id in parts])
            pooled = PooledLine([(line, tonnes / total) for line, tonnes, _id in parts], self)
            order = Order(order_id, lane, total, now, mode, 0.0, t_first, lost_stock, lost_licence, pooled)
            self.open_orders.append(order)
        lane.supplier.receive_order(order)

    def _withdraw_stale(self) -> None:
        """The firms' withdrawal rules (the same for every firm) applied to pooled orders."""
        if self.lines:  # (held goods may belong to orders filled already: no test on open orders)
            self.open_orders = self.lines[0].withdraw_stale(
                self.open_orders, lambda order: isinstance(order.line, PooledLine) and order.line.pool is self)
