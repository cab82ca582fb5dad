"""A lane: a supplier-to-buyer link for one material, with transport modes and export controls.

A shipment sent down a lane first clears the export controls in force that cover it (only
when it crosses a border), waiting at the exporter meanwhile; then it travels for a random
transit time and is delivered. No process per shipment: each step is a callback on a timeout
or on a control's decision.

The rule for several controls does not depend on the order a scenario lists them in: a
shipment meets bans, then licences (each by name), re-checking all of them after every step,
so a ban imposed while it waited for a licence holds it; it leaves when none of them holds it
and every quota covering it has room, and only then are its tonnes counted against those
quotas (what does not fit waits at the quota with the least room, or is refused).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NamedTuple

import simpy

from .ledger import EPS_T, Shipment
from .clock import Timer

if TYPE_CHECKING:  # pragma: no cover
    from .controls import ExportControl
    from .facility import Facility

__all__ = ["Lane", "Mode"]


class Mode(NamedTuple):
    """A transport mode: a sampler of transit days, a cost per tonne, and its mean transit."""

    transit_days: Callable[[], float]
    cost_per_t: float = 0.0
    mean_days: float = float("nan")


class Lane:
    """Links ``supplier`` to ``buyer`` for ``material``; registers itself with both."""

    def __init__(
        self,
        env: simpy.Environment,
        supplier: Facility,
        buyer: Facility,
        material: str,
        modes: dict[str, Mode | Callable[[], float] | float],
        default_mode: str | None = None,
        priority: int = 1,
        share: float = 1.0,
        controls: Sequence[ExportControl] = (),
    ):
        self.env = env
        self.supplier, self.buyer, self.material = supplier, buyer, material
        self.modes: dict[str, Mode] = {name: _as_mode(m) for name, m in modes.items()}
        self.default_mode = default_mode or next(iter(self.modes))
        known = [(m.mean_days, name) for name, m in self.modes.items() if m.mean_days == m.mean_days]
        self.fastest_mode = min(known)[1] if known else self.default_mode
        self.priority, self.share = priority, share
        self.exporter, self.destination = supplier.country, buyer.country
        self.crosses_border = self.exporter != self.destination
        # Only controls of the exporting country can ever apply; scope is checked per shipment
        # because a control's scope may change on the timeline.
        mine = sorted((c for c in controls if c.exporter == self.exporter), key=lambda c: (c.stage, c.name))
        self.controls = mine if self.crosses_border else []
        # Bans and licences hold a shipment one after the other; quotas are passed jointly.
        self.gates = [c for c in self.controls if c.instrument != "quota"]
        self.quotas = [c for c in self.controls if c.instrument == "quota"]
        self.held: dict[int, Shipment] = {}  # shipment id -> shipment waiting at the exporter's controls
        self.ledger = supplier.ledger
        table = self.ledger.records.shipments
        self.record_codes = tuple(table.code(column, name) for column, name in (
            ("material", material), ("supplier", supplier.name), ("buyer", buyer.name),
            ("exporter", self.exporter), ("destination", self.destination)))
        supplier.add_outbound(self)
        buyer.add_inbound(self)

    def __repr__(self) -> str:
        return f"Lane({self.supplier.name} -> {self.buyer.name}, {self.material})"

    # ----------------------------------------------------------------- shipping

    def send(self, shipment: Shipment) -> None:
        """Start a shipment that has left the supplier's stock."""
        if self.controls:
            self.held[shipment.id] = shipment
            self.proceed(shipment)
        else:
            self._depart(shipment)

    def proceed(self, shipment: Shipment, queued: bool = False) -> None:
        """Take a held shipment as far as the controls in force let it go now (see the module
        docstring). Whether a control applies is decided each time (not when the shipment was
        sent), so one imposed, lifted or rescoped meanwhile is honoured. ``queued``: it comes
        from a quota's queue and keeps its place there if it still does not fit."""
        cleared = shipment.cleared_by or ()
        for control in self.gates:
            if control.in_force and control not in cleared and control.covers(self):
                if not control.enforced():  # customs not yet enforcing: it passes this control
                    cleared = shipment.cleared_by = (*cleared, control)
                    continue
                shipment.gate = control
                control.submit(shipment, self.proceed, self._return)
                return
        if self.quotas:  # most lanes have none: no list to build
            quotas = [q for q in self.quotas if q.in_force and q.covers(self)]
            if quotas and self._through_quotas(shipment, quotas, queued):
                return
        self._depart(shipment)

    def _through_quotas(self, shipment: Shipment, quotas: list, queued: bool) -> bool:
        """Count what fits every quota and send it; True if some of ``shipment`` stays behind
        (waiting or refused), False if all of it may leave now."""
        if not queued:  # first come, first served: wait behind shipments already waiting
            for quota in quotas:
                if quota.waiting:
                    quota.hold(shipment, self._retry)
                    return True
        rooms = [(q.room_t(), q.name, q) for q in quotas]
        room, _, binding = min(rooms, key=lambda r: (r[0], r[1]))
        if shipment.tonnes <= room + EPS_T:
            for quota in quotas:
                quota.count(shipment.tonnes)
            return False
        if room > EPS_T:
            part = self.split(shipment, room)
            for quota in quotas:
                quota.count(room)
            self._depart(part)
        if binding.on_exceed == "refuse":
            self._return(shipment, "refused")
        else:
            binding.hold(shipment, self._retry, front=queued)
        return True

    def _retry(self, shipment: Shipment) -> None:
        self.proceed(shipment, queued=True)

    def withdraw(self, shipment: Shipment) -> bool:
        """The buyer withdraws a shipment held by a control: the goods go back to the supplier's
        stock (outcome ``withdrawn``) and the buyer re-sources them. False if it is not held."""
        gate = shipment.gate
        if gate is None or not gate.withdraw(shipment):
            return False
        self._return(shipment, "withdrawn")
        return True

    def _depart(self, shipment: Shipment) -> None:
        if self.held:  # only lanes with controls hold shipments
            self.held.pop(shipment.id, None)
        shipment.state = "transit"
        shipment.t_cleared = self.env.now
        delay = self.modes[shipment.order.mode].transit_days()
        if delay > 0:
            Timer(self.env, delay, self._transit_ended, shipment)
        else:
            self._arrive(shipment)

    def _transit_ended(self, event: Timer) -> None:
        self._arrive(event._value)  # the Timer carries the shipment (see _depart)

    def _arrive(self, shipment: Shipment) -> None:
        now = self.env.now  # read once: the clock does not move within a callback
        shipment.state = "delivered"
        shipment.t_delivered = now
        self.ledger.close_shipment(shipment, "delivered", now)
        order = shipment.order
        line = order.line  # a firm's input line or a pool of them (None: the buyer's own)
        learns = self.supplier.takes_orders  # the buyer learns lead times of what it ordered
        if line is not None:
            line.take_delivery(self, shipment.tonnes, now - order.t_first, learns)
            return
        self.buyer.receive(self, shipment.tonnes)
        adaptive = self.buyer.inputs[self.material].adaptive_cover
        if adaptive is not None and learns:
            adaptive.observe(now, now - order.t_first, shipment.tonnes)

    def _return(self, shipment: Shipment, outcome: str) -> None:
        """Denied, refused or withdrawn at the border: goods back to the supplier, the buyer is told."""
        self.held.pop(shipment.id, None)
        shipment.gate = None
        self.ledger.close_shipment(shipment, outcome, self.env.now)
        self.supplier.take_back(self.material, shipment.tonnes)
        line = shipment.order.line or self.buyer.inputs[self.material]
        line.cancelled(self, shipment.tonnes, shipment.order, shipment)

    def split(self, shipment: Shipment, tonnes: float) -> Shipment:
        """Split ``tonnes`` off a held shipment into a new one (e.g. what fits a quota)."""
        part = self.ledger.open_shipment(shipment.order, tonnes, shipment.t_filled)
        part.cleared_by = shipment.cleared_by
        shipment.tonnes -= tonnes
        if shipment.id in self.held:  # the part waits with it until a control lets it go
            self.held[part.id] = part
        return part


def _as_mode(value) -> Mode:
    if isinstance(value, Mode):
        return value
    if isinstance(value, (int, float)):
        days = float(value)
        return Mode(lambda: days, 0.0, days)
    return Mode(value)
