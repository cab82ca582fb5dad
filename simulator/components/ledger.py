"""Orders, shipments and the ledger that follows every tonne through a run.

The ledger counts what is produced and consumed per material and keeps the shipments that
are still on their way (held at an exporter or in transit), so that a run can check its own
mass balance from independent sources: facility stocks, live shipments, and the counters.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..records import Records

if TYPE_CHECKING:  # pragma: no cover
    from .lane import Lane

__all__ = ["Order", "Shipment", "Ledger", "EPS_T"]

# Quantities below this many tonnes are treated as zero (float round-off, not material).
EPS_T = 1e-9


class Order:
    """A buyer's request to one supplier (through one lane) for ``tonnes`` of its material.

    A re-order of tonnes that an earlier order failed to bring (denied, refused, withdrawn)
    keeps the first order's time ``t_first`` (default: ``t_ordered``) and how the time since
    was lost, for lead times. ``remaining_t`` is what is not yet filled from the supplier's
    stock. ``line``: the buyer's input line that placed it, when the buyer has several for one
    material (a sector's firms); None: the buyer's own ``inputs[material]``.
    (A plain class with slots: one is made per order, so its construction is kept cheap.)
    """

    __slots__ = ("id", "lane", "tonnes", "t_ordered", "mode", "remaining_t", "t_first", "lost_stock_days",
                 "lost_licence_days", "line")

    def __init__(self, id: int, lane: "Lane", tonnes: float, t_ordered: float, mode: str, remaining_t: float = 0.0,
                 t_first: float | None = None, lost_stock_days: float = 0.0, lost_licence_days: float = 0.0,
                 line=None):
        self.id, self.lane, self.tonnes, self.t_ordered, self.mode = id, lane, tonnes, t_ordered, mode
        self.remaining_t, self.line = remaining_t, line
        self.t_first = t_ordered if t_first is None or t_first != t_first else t_first
        self.lost_stock_days, self.lost_licence_days = lost_stock_days, lost_licence_days

    def __repr__(self) -> str:
        return (f"Order(id={self.id}, lane={self.lane!r}, tonnes={self.tonnes!r}, t_ordered={self.t_ordered!r}, "
                f"mode={self.mode!r}, remaining_t={self.remaining_t!r}, t_first={self.t_first!r})")


@dataclass(slots=True, eq=False)
class Shipment:
    """Goods that left a supplier's stock for one order (an order may ship in several parts)."""

    id: int
    order: Order
    tonnes: float
    t_filled: float
    state: str = "held"  # held (at the exporter, clearing controls) -> transit -> delivered
    t_cleared: float = float("nan")
    t_delivered: float = float("nan")
    gate: Any = None  # the export control holding it now (None: not held by a control)
    cleared_by: Any = None  # tuple of controls it has cleared for good (a licence granted; None: none)

    @property
    def lane(self) -> "Lane":
        return self.order.lane


@dataclass
class Ledger:
    """Run-wide accounting shared by components: ids, counters, live shipments, records."""

    records: Records = field(default_factory=Records)
    produced_t: defaultdict = field(default_factory=lambda: defaultdict(float))
    consumed_t: defaultdict = field(default_factory=lambda: defaultdict(float))
    initial_t: defaultdict = field(default_factory=lambda: defaultdict(float))
    live: dict = field(default_factory=dict)  # shipment id -> Shipment not yet delivered/returned
    _next_order: int = 0
    _next_shipment: int = 0
    _mode_codes: dict = field(default_factory=dict)  # shipments table category codes, cached
    _outcome_codes: dict = field(default_factory=dict)

    def new_order_id(self) -> int:
        self._next_order += 1
        return self._next_order

    def new_shipment_id(self) -> int:
        self._next_shipment += 1
        return self._next_shipment

    def open_shipment(self, order: Order, tonnes: float, now: float) -> Shipment:
        self._next_shipment += 1  # new_shipment_id() written out: one shipment per call of this
        shipment = Shipment(self._next_shipment, order, tonnes, now)
        self.live[shipment.id] = shipment
        return shipment

    def close_shipment(self, shipment: Shipment, outcome: str, now: float) -> None:
        """Remove a shipment from the live set and record it (delivered, denied or refused)."""
        del self.live[shipment.id]
        self.record_shipment(shipment, outcome)

    def record_shipment(self, s: Shipment, outcome: str) -> None:
        table = self.records.shipments
        order = s.order
        lane = order.lane
        mode = order.mode
        mode_code = self._mode_codes.get(mode)
        if mode_code is None:  # codes are given on first use, as table.code would
            mode_code = self._mode_codes[mode] = table.code("mode", mode)
        outcome_code = self._outcome_codes.get(outcome)
        if outcome_code is None:
            outcome_code = self._outcome_codes[outcome] = table.code("outcome", outcome)
        material, supplier, buyer, exporter, destination = lane.record_codes
        table.data.frombytes(table.pack(
            s.id, order.id, material, supplier, buyer, exporter, destination,
            mode_code, s.tonnes, order.t_first, order.lost_stock_days, order.lost_licence_days,
            order.t_ordered, s.t_filled, s.t_cleared,
            s.t_delivered, outcome_code, s.tonnes * lane.modes[mode].cost_per_t,
        ))

    def in_flight_t(self) -> tuple[dict, dict]:
        """Tonnes per material held at exporters and in transit, from the live shipments."""
        held: defaultdict = defaultdict(float)
        transit: defaultdict = defaultdict(float)
        for s in self.live.values():
            (held if s.state == "held" else transit)[s.order.lane.material] += s.tonnes
        return held, transit
