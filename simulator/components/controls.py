"""Export controls: gates that a shipment leaving the exporter must clear.

Every control has a scope (materials, destinations), can be imposed and lifted, and
implements ``submit(shipment, proceed, refuse)``: it calls ``proceed(shipment)`` when the
shipment may go on (now or later) and ``refuse(shipment, outcome)`` when it may not, in which
case the goods return to the supplier. New instruments only need these methods.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING

import simpy

from .ledger import EPS_T, Shipment
from .licensing import Application, LicensingOffice

if TYPE_CHECKING:  # pragma: no cover
    from .lane import Lane

__all__ = ["ExportControl", "LicensingControl", "QuotaControl", "BanControl"]

Proceed = Callable[[Shipment], None]
Refuse = Callable[[Shipment, str], None]


class ExportControl:
    """Scope and in-force state shared by every instrument."""

    instrument = "control"

    def __init__(
        self,
        env: simpy.Environment,
        name: str,
        exporter: str,
        materials: Collection[str],
        destinations: Collection[str] | None = None,
        excluded_destinations: Collection[str] = (),
        in_force: bool = False,
    ):
        self.env, self.name, self.exporter = env, name, exporter
        self.set_scope(materials, destinations, excluded_destinations)
        self.in_force = in_force

    def set_scope(self, materials: Collection[str], destinations: Collection[str] | None = None, excluded_destinations: Collection[str] = ()) -> None:
        self.materials = frozenset(materials)
        self.destinations = None if destinations is None else frozenset(destinations)
        self.excluded_destinations = frozenset(excluded_destinations)

    def covers(self, lane: Lane) -> bool:
        dest = lane.destination
        return (
            lane.exporter == self.exporter
            and lane.material in self.materials
            and (self.destinations is None or dest in self.destinations)
            and dest not in self.excluded_destinations
        )

    def impose(self) -> None:
        self.in_force = True

    def lift(self) -> None:
        """Stop applying; shipments waiting at this control go on."""
        self.in_force = False
        self.flush()

    def flush(self) -> None:  # pragma: no cover - overridden
        pass

    def submit(self, shipment: Shipment, proceed: Proceed, refuse: Refuse) -> None:  # pragma: no cover
        raise NotImplementedError

    def held_t(self) -> float:
        return 0.0


class LicensingControl(ExportControl):
    """Every covered shipment needs a licence from ``office``; goods wait at the exporter."""

    instrument = "licensing"

    def __init__(self, env, name, exporter, materials, office: LicensingOffice, **scope):
        super().__init__(env, name, exporter, materials, **scope)
        self.office = office
        office.on_decision = self.record
        self._lane_codes: dict = {}  # lane -> its category codes in the licences table
        self._decision_codes: dict[str, int] = {}

    def record(self, app: Application, decision: str | None = None) -> None:
        """Append the application to the licences table of its shipment's ledger."""
        shipment = app.payload
        lane = shipment.order.lane
        table = lane.ledger.records.licences
        codes = self._lane_codes.get(lane)
        if codes is None:  # codes are given on first use, as table.code would
            codes = self._lane_codes[lane] = (
                table.code("control", self.name), table.code("exporter", lane.exporter),
                table.code("destination", lane.destination), table.code("material", lane.material))
        decision = decision or app.state
        decision_code = self._decision_codes.get(decision)
        if decision_code is None:
            decision_code = self._decision_codes[decision] = table.code("decision", decision)
        table.data.frombytes(table.pack(*codes, shipment.tonnes, app.t_applied, app.t_review_start, app.t_decided, decision_code))

    def record_pending(self) -> None:
        """At the end of a run: record applications still queued or under review."""
        for app in [*self.office.in_review, *self.office.queue]:
            self.record(app, "pending at end")

    def submit(self, shipment: Shipment, proceed: Proceed, refuse: Refuse) -> None:
        app = Application(
            shipment.order.lane.destination,
            lambda: proceed(shipment),
            lambda outcome: refuse(shipment, outcome),
            payload=shipment,
        )
        self.office.apply(app)

    def release(self, fraction: float = 1.0) -> int:
        """Approve the oldest ``fraction`` of the pending backlog at once ("release in volume")."""
        return self.office.release(fraction)

    def flush(self) -> None:
        self.office.release(1.0)


class QuotaControl(ExportControl):
    """At most ``tonnes_per_period`` of covered shipments per calendar period.

    ``period_end(t)`` gives the end of the period containing time ``t``. Over the cap a
    shipment waits for the next period (``on_exceed="wait"``, first come first served) or is
    refused (``"refuse"``); a shipment larger than what is left is split, the part that fits
    going now.
    """

    instrument = "quota"

    def __init__(self, env, name, exporter, materials, tonnes_per_period: float, period_end: Callable[[float], float], on_exceed: str = "wait", **scope):
        super().__init__(env, name, exporter, materials, **scope)
        if on_exceed not in ("wait", "refuse"):
            raise ValueError(f"on_exceed must be 'wait' or 'refuse', got {on_exceed!r}")
        self.tonnes_per_period, self.period_end, self.on_exceed = tonnes_per_period, period_end, on_exceed
        self.used_t = 0.0
        self._period_end = period_end(env.now)
        self.waiting: deque[tuple[Shipment, Proceed, Refuse]] = deque()
        self._wake_scheduled = False

    def _roll(self) -> None:
        now = self.env.now
        if now >= self._period_end:
            self._period_end = self.period_end(now)
            self.used_t = 0.0

    def room_t(self) -> float:
        self._roll()
        return max(0.0, self.tonnes_per_period - self.used_t)

    def submit(self, shipment: Shipment, proceed: Proceed, refuse: Refuse) -> None:
        if self.on_exceed == "refuse":
            room = self.room_t()
            if shipment.tonnes <= room + EPS_T:
                self.used_t += shipment.tonnes
                proceed(shipment)
            elif room > EPS_T:
                part = shipment.order.lane.split(shipment, room)
                self.used_t += room
                proceed(part)
                refuse(shipment, "refused")
            else:
                refuse(shipment, "refused")
            return
        self.waiting.append((shipment, proceed, refuse))
        self._serve()

    def _serve(self) -> None:
        while self.waiting and self.in_force:
            room = self.room_t()
            if room <= EPS_T:
                break
            shipment, proceed, _ = self.waiting[0]
            if shipment.tonnes <= room + EPS_T:
                self.waiting.popleft()
                self.used_t += shipment.tonnes
                proceed(shipment)
            else:
                part = shipment.order.lane.split(shipment, room)
                self.used_t += room
                proceed(part)
        if self.waiting and self.in_force and not self._wake_scheduled:
            self._wake_scheduled = True
            self.env.timeout(self._period_end - self.env.now).callbacks.append(self._wake)

    def _wake(self, _event) -> None:
        self._wake_scheduled = False
        self._serve()

    def set_cap(self, tonnes_per_period: float) -> None:
        self.tonnes_per_period = tonnes_per_period
        self._serve()

    def flush(self) -> None:
        waiting, self.waiting = self.waiting, deque()
        for shipment, proceed, _ in waiting:
            proceed(shipment)

    def held_t(self) -> float:
        return sum(s.tonnes for s, _, _ in self.waiting)


class BanControl(ExportControl):
    """Covered shipments are held until the ban is lifted (``on_block="hold"``) or refused."""

    instrument = "ban"

    def __init__(self, env, name, exporter, materials, on_block: str = "hold", **scope):
        super().__init__(env, name, exporter, materials, **scope)
        if on_block not in ("hold", "refuse"):
            raise ValueError(f"on_block must be 'hold' or 'refuse', got {on_block!r}")
        self.on_block = on_block
        self.held: deque[tuple[Shipment, Proceed]] = deque()

    def submit(self, shipment: Shipment, proceed: Proceed, refuse: Refuse) -> None:
        if self.on_block == "refuse":
            refuse(shipment, "refused")
        else:
            self.held.append((shipment, proceed))

    def flush(self) -> None:
        held, self.held = self.held, deque()
        for shipment, proceed in held:
            proceed(shipment)

    def held_t(self) -> float:
        return sum(s.tonnes for s, _ in self.held)
