"""A lane: a supplier-to-buyer link for one material, with transport modes and export controls.

A shipment sent down a lane first clears, one after the other, the export controls in force
that cover it (only when it crosses a border), waiting at the exporter meanwhile; then it
travels for a random transit time and is delivered. No process per shipment: each step is
a callback on a timeout or on a control's decision.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NamedTuple

import simpy

from .ledger import Shipment

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
        self.controls = [c for c in controls if c.exporter == self.exporter] if self.crosses_border else []
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
            self._clear(shipment, 0)
        else:
            self._depart(shipment)

    def _clear(self, shipment: Shipment, index: int) -> None:
        """Pass the controls from ``index`` on, in order. Whether a control applies is decided
        when the shipment reaches it (not when it was sent): one imposed or lifted while the
        shipment waited at an earlier control is honoured."""
        controls = self.controls
        while index < len(controls):
            control = controls[index]
            index += 1
            if control.in_force and control.covers(self):
                control.submit(shipment, lambda s, after=index: self._clear(s, after), self._return)
                return
        self._depart(shipment)

    def _depart(self, shipment: Shipment) -> None:
        shipment.state = "transit"
        shipment.t_cleared = self.env.now
        delay = self.modes[shipment.order.mode].transit_days()
        if delay > 0:
            self.env.timeout(delay).callbacks.append(lambda _event: self._arrive(shipment))
        else:
            self._arrive(shipment)

    def _arrive(self, shipment: Shipment) -> None:
        shipment.state = "delivered"
        shipment.t_delivered = self.env.now
        self.ledger.close_shipment(shipment, "delivered", self.env.now)
        self.buyer.receive(self, shipment.tonnes)

    def _return(self, shipment: Shipment, outcome: str) -> None:
        """Denied or refused at the border: goods back to the supplier, the buyer is told."""
        self.ledger.close_shipment(shipment, outcome, self.env.now)
        self.supplier.take_back(self.material, shipment.tonnes)
        self.buyer.inputs[self.material].cancelled(self, shipment.tonnes, shipment.order, shipment)

    def split(self, shipment: Shipment, tonnes: float) -> Shipment:
        """Split ``tonnes`` off a held shipment into a new one (e.g. what fits a quota)."""
        part = self.ledger.open_shipment(shipment.order, tonnes, shipment.t_filled)
        shipment.tonnes -= tonnes
        return part


def _as_mode(value) -> Mode:
    if isinstance(value, Mode):
        return value
    if isinstance(value, (int, float)):
        days = float(value)
        return Mode(lambda: days, 0.0, days)
    return Mode(value)
