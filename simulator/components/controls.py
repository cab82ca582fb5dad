"""Export controls: gates that a shipment leaving the exporter must clear.

Every control has a scope (materials, destinations), can be imposed and lifted, and
implements ``submit(shipment, proceed, refuse)``: it calls ``proceed(shipment)`` when the
shipment may go on (now or later) and ``refuse(shipment, outcome)`` when it may not, in which
case the goods return to the supplier. A control also lets go of what it holds when it is
lifted (``flush``) or when its scope no longer covers it (``rescope``), and hands a held
shipment back to a buyer who withdraws it (``withdraw``). New instruments only need these.

The order in which a shipment meets controls never depends on how a scenario lists them: by
``stage`` (bans, then licences, then quotas) and then by name; see :class:`~.lane.Lane`.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING

import simpy

from .ledger import EPS_T, Shipment
from .licensing import Application, LicensingOffice

if TYPE_CHECKING:  # pragma: no cover
    from .lane import Lane

__all__ = ["ExportControl", "LicensingControl", "QuotaControl", "BanControl", "GeneralLicence"]

Proceed = Callable[[Shipment], None]
Refuse = Callable[[Shipment, str], None]


class ExportControl:
    """Scope and in-force state shared by every instrument."""

    instrument = "control"
    stage = 0  # bans 0, licences 1, quotas 2: the order a shipment meets them in

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
        # Enforcement ramp: for this many days after it is imposed, a covered shipment is
        # stopped only with probability (days since imposed) / ramp, drawn by ``uniform``.
        self.enforcement_ramp_days = 0.0
        self.uniform: Callable[[], float] | None = None
        self.t_imposed = env.now

    def set_scope(self, materials: Collection[str], destinations: Collection[str] | None = None, excluded_destinations: Collection[str] = ()) -> None:
        """Change what the control covers; what it holds and no longer covers goes on at once."""
        self.materials = frozenset(materials)
        self.destinations = None if destinations is None else frozenset(destinations)
        self.excluded_destinations = frozenset(excluded_destinations)
        # lane -> covers(lane): a lane's exporter, material and destination never change, so
        # the answer changes only here (lanes ask again at every step of every shipment)
        self._covered: dict[Lane, bool] = {}
        self.rescope()

    def covers(self, lane: Lane) -> bool:
        covered = self._covered.get(lane)
        if covered is None:
            covered = self._covered[lane] = self._in_scope(lane)
        return covered

    def _in_scope(self, lane: Lane) -> bool:
        dest = lane.destination
        return (
            lane.exporter == self.exporter
            and lane.material in self.materials
            and (self.destinations is None or dest in self.destinations)
            and dest not in self.excluded_destinations
        )

    def impose(self) -> None:
        if not self.in_force:
            self.t_imposed = self.env.now
        self.in_force = True

    def enforced(self) -> bool:
        """Whether a covered shipment reaching customs now is stopped: always, once the
        enforcement ramp is over; during it, with probability (days since imposed) / ramp."""
        ramp = self.enforcement_ramp_days
        if ramp <= 0.0:
            return True
        share = (self.env.now - self.t_imposed) / ramp
        return share >= 1.0 or self.uniform() < share

    def lift(self) -> None:
        """Stop applying; shipments waiting at this control go on."""
        self.in_force = False
        self.flush()

    def flush(self) -> None:  # pragma: no cover - overridden
        """Let every held shipment go on."""

    def rescope(self) -> None:
        """Let held shipments that the scope no longer covers go on (none by default)."""

    def withdraw(self, shipment: Shipment) -> bool:  # pragma: no cover - overridden
        """Stop holding ``shipment`` (its buyer takes it back); False if it is not held here."""
        return False

    def submit(self, shipment: Shipment, proceed: Proceed, refuse: Refuse) -> None:  # pragma: no cover
        raise NotImplementedError

    def held_t(self) -> float:
        return 0.0


class LicensingControl(ExportControl):
    """Every covered shipment needs a licence from ``office``; goods wait at the exporter."""

    instrument = "licensing"
    stage = 1

    def __init__(self, env, name, exporter, materials, office: LicensingOffice, consignment_t: float | None = None,
                 **scope):
        self.office = office
        self._apps: dict[int, Application] = {}  # shipment id -> its pending application
        super().__init__(env, name, exporter, materials, **scope)
        # Tonnes one real application covers: a shipment is round(tonnes / consignment_t) (at
        # least 1) applications; None: one application per shipment.
        self.consignment_t = consignment_t
        office.on_decision = self.record
        office.on_resubmit = self._resubmitted
        office.on_split = self._split
        self.general: list[GeneralLicence] = []
        # lane -> (its control, exporter, destination and material codes in the licences table,
        # its buyer's code): a lane's names never change, so one look-up per record
        self._lane_codes: dict = {}
        self._decision_codes: dict[str, int] = {}
        # lane -> (destination, buyer name, buyer sector) for its applications
        self._lane_parties: dict = {}

    def record(self, app: Application, decision: str | None = None) -> None:
        """Append the application to the licences table of its shipment's ledger."""
        shipment = app.payload
        self._apps.pop(shipment.id, None)
        lane = shipment.order.lane
        table = lane.ledger.records.licences
        lane_codes = self._lane_codes.get(lane)
        if lane_codes is None:  # codes are given on first use, as table.code would
            # (each column numbers its names by first use: the buyer's first record is its
            # lane's first record, so giving its code here keeps that order)
            lane_codes = self._lane_codes[lane] = (
                (table.code("control", self.name), table.code("exporter", lane.exporter),
                 table.code("destination", lane.destination), table.code("material", lane.material)),
                table.code("buyer", lane.buyer.name))
        codes, buyer_code = lane_codes
        decision = decision or app.state
        decision_code = self._decision_codes.get(decision)
        if decision_code is None:
            decision_code = self._decision_codes[decision] = table.code("decision", decision)
        table.data.frombytes(table.pack(*codes, shipment.tonnes, app.t_applied, app.t_review_start, app.t_decided,
                                        decision_code, buyer_code, app.submission, app.count))

    def _resubmitted(self, returned: Application, again: Application) -> None:
        self._apps[again.payload.id] = again

    def record_pending(self) -> None:
        """At the end of a run: record applications still queued, under review or being re-submitted."""
        for app in [*self.office.in_review, *self.office.queue, *self.office.resubmitting]:
            self.record(app, "pending at end")

    def applications(self, tonnes: float) -> int:
        """Real applications a shipment of ``tonnes`` stands for (nearest whole number, at least 1)."""
        if self.consignment_t is None:
            return 1
        return max(1, math.floor(tonnes / self.consignment_t + 0.5))

    def _application(self, shipment: Shipment, proceed: Proceed, refuse: Refuse, count: int) -> Application:
        def approve() -> None:
            shipment.cleared_by = (*(shipment.cleared_by or ()), self)
            proceed(shipment)

        lane = shipment.order.lane
        parties = self._lane_parties.get(lane)
        if parties is None:
            buyer = lane.buyer
            parties = self._lane_parties[lane] = (lane.destination, buyer.name, getattr(buyer, "sector", ""))
        destination, buyer, sector = parties
        app = Application(destination, approve, lambda outcome: refuse(shipment, outcome), shipment, buyer, sector, count)
        app._proceed, app._refuse = proceed, refuse
        self._apps[shipment.id] = app
        return app

    def _split(self, app: Application, counts: dict[str, int]) -> list[tuple[Application, str]]:
        """Split an application's goods by its real applications' decisions: the first decision
        keeps the shipment, each other takes count / total of its tonnes as a new shipment."""
        shipment, lane = app.payload, app.payload.order.lane
        total = app.count
        tonnes = shipment.tonnes
        parts = []
        for i, (decision, count) in enumerate(sorted(counts.items())):
            if i == 0:
                part, part_app = app, app
                part_app.count = count
            else:
                part = lane.split(shipment, tonnes * count / total)
                part.gate = self
                part_app = self._application(part, app._proceed, app._refuse, count)
                part_app.submission = app.submission
                part_app.t_applied, part_app.t_review_start = app.t_applied, app.t_review_start
                part_app.state = app.state
            parts.append((part_app, decision))
        return parts

    def submit(self, shipment: Shipment, proceed: Proceed, refuse: Refuse) -> None:
        if self.general:
            licence = self._general_for(shipment)
            if licence is not None:  # shipped under a general licence: no application
                licence.tonnes_left -= shipment.tonnes
                shipment.cleared_by = (*(shipment.cleared_by or ()), self)
                proceed(shipment)
                return
        self.office.apply(self._application(shipment, proceed, refuse, self.applications(shipment.tonnes)))

    def _general_for(self, shipment: Shipment) -> GeneralLicence | None:
        if not self.general:
            return None
        now = self.env.now
        self.general = [g for g in self.general if g.t_until > now and g.tonnes_left > 1e-9]
        return next((g for g in self.general if g.covers(shipment)), None)

    def grant_general(self, licence: GeneralLicence) -> int:
        """Grant a general licence; pending applications it covers are approved at once
        (recorded as ``general licence``), oldest first, while its tonnage lasts. Returns how many."""
        self.general.append(licence)
        count = 0
        for app in sorted(self._apps.values(), key=lambda a: a.t_applied):
            shipment = app.payload
            if licence.covers(shipment) and self.office.withdraw(app):
                licence.tonnes_left -= shipment.tonnes
                app.t_decided = self.env.now
                self.record(app, "general licence")
                app.approve()
                count += 1
        return count

    def release(self, fraction: float = 1.0) -> int:
        """Approve the oldest ``fraction`` of the pending backlog at once ("release in volume")."""
        return self.office.release(fraction)

    def flush(self) -> None:
        self.office.release(1.0)

    def _drop(self, shipment: Shipment, decision: str) -> Application | None:
        app = self._apps.get(shipment.id)
        if app is None or not self.office.withdraw(app):
            return None
        app.t_decided = self.env.now
        self.record(app, decision)
        return app

    def rescope(self) -> None:
        if not self._apps:
            return
        for app in [a for a in self._apps.values() if not self.covers(a.payload.order.lane)]:
            if self._drop(app.payload, "out of scope") is not None:
                app.payload.gate = None
                app.payload.order.lane.proceed(app.payload)

    def withdraw(self, shipment: Shipment) -> bool:
        return self._drop(shipment, "withdrawn") is not None


@dataclass
class GeneralLicence:
    """A licence for many shipments: from one exporting facility (``supplier``), to one buyer
    facility and/or one destination (None: any), until simulation time ``t_until`` and for at
    most ``tonnes_left`` tonnes. A covered shipment passes without review; one larger than what
    is left needs an application."""

    buyer: str | None = None
    destination: str | None = None
    t_until: float = math.inf
    tonnes_left: float = math.inf
    supplier: str | None = None

    def covers(self, shipment: Shipment) -> bool:
        lane = shipment.order.lane
        return ((self.supplier is None or lane.supplier.name == self.supplier)
                and (self.buyer is None or lane.buyer.name == self.buyer)
                and (self.destination is None or lane.destination == self.destination)
                and shipment.tonnes <= self.tonnes_left + EPS_T)


class QuotaControl(ExportControl):
    """At most ``tonnes_per_period`` of covered shipments per calendar period.

    ``period_end(t)`` gives the end of the period containing time ``t``. Tonnes count against
    the quota only when they leave: the lane takes what fits every quota covering a shipment
    (:meth:`room_t`, :meth:`count`) and the rest waits at the quota with the least room
    (:meth:`hold`, first come first served, served again when a new period starts or the cap
    rises) or, with ``on_exceed="refuse"``, is refused.
    """

    instrument = "quota"
    stage = 2

    def __init__(self, env, name, exporter, materials, tonnes_per_period: float, period_end: Callable[[float], float], on_exceed: str = "wait", **scope):
        if on_exceed not in ("wait", "refuse"):
            raise ValueError(f"on_exceed must be 'wait' or 'refuse', got {on_exceed!r}")
        self.waiting: deque[tuple[Shipment, Proceed]] = deque()
        super().__init__(env, name, exporter, materials, **scope)
        self.tonnes_per_period, self.period_end, self.on_exceed = tonnes_per_period, period_end, on_exceed
        self.used_t = 0.0
        self._period_end = period_end(env.now)
        self._wake_scheduled = False

    def _roll(self) -> None:
        now = self.env.now
        if now >= self._period_end:
            self._period_end = self.period_end(now)
            self.used_t = 0.0

    def room_t(self) -> float:
        self._roll()
        return max(0.0, self.tonnes_per_period - self.used_t)

    def count(self, tonnes: float) -> None:
        """Tonnes that leave now under this quota."""
        self._roll()
        self.used_t += tonnes

    def hold(self, shipment: Shipment, retry: Proceed, front: bool = False) -> None:
        """Wait for room; ``front``: a shipment served from the queue keeps its place."""
        shipment.gate = self
        (self.waiting.appendleft if front else self.waiting.append)((shipment, retry))
        self._schedule_wake()

    def submit(self, shipment: Shipment, proceed: Proceed, refuse: Refuse) -> None:
        """On its own (outside a lane's joint rule): pass what fits, then wait or refuse."""
        room = self.room_t()
        if shipment.tonnes <= room + EPS_T:
            self.count(shipment.tonnes)
            proceed(shipment)
            return
        if room > EPS_T:
            part = shipment.order.lane.split(shipment, room)
            self.count(room)
            proceed(part)
        if self.on_exceed == "refuse":
            refuse(shipment, "refused")
        else:
            self.hold(shipment, lambda s: self.submit(s, proceed, refuse))

    def _serve(self) -> None:
        while self.waiting and self.in_force and self.room_t() > EPS_T:
            shipment, retry = self.waiting.popleft()
            shipment.gate = None
            retry(shipment)
        self._schedule_wake()

    def _schedule_wake(self) -> None:
        if self.waiting and self.in_force and not self._wake_scheduled:
            self._wake_scheduled = True
            self._roll()
            self.env.timeout(self._period_end - self.env.now).callbacks.append(self._wake)

    def _wake(self, _event) -> None:
        self._wake_scheduled = False
        self._serve()

    def set_cap(self, tonnes_per_period: float) -> None:
        self.tonnes_per_period = tonnes_per_period
        self._serve()

    def flush(self) -> None:
        waiting, self.waiting = self.waiting, deque()
        for shipment, retry in waiting:
            shipment.gate = None
            retry(shipment)

    def rescope(self) -> None:
        if not self.waiting:
            return
        keep, go = deque(), []
        for item in self.waiting:
            (keep if self.covers(item[0].order.lane) else go).append(item)
        self.waiting = keep
        for shipment, retry in go:
            shipment.gate = None
            retry(shipment)

    def withdraw(self, shipment: Shipment) -> bool:
        for item in self.waiting:
            if item[0] is shipment:
                self.waiting.remove(item)
                shipment.gate = None
                return True
        return False

    def held_t(self) -> float:
        return sum(s.tonnes for s, _ in self.waiting)


class BanControl(ExportControl):
    """Covered shipments are held until the ban is lifted (``on_block="hold"``) or refused."""

    instrument = "ban"
    stage = 0

    def __init__(self, env, name, exporter, materials, on_block: str = "hold", **scope):
        if on_block not in ("hold", "refuse"):
            raise ValueError(f"on_block must be 'hold' or 'refuse', got {on_block!r}")
        self.held: dict[int, tuple[Shipment, Proceed]] = {}  # shipment id -> held, in arrival order
        super().__init__(env, name, exporter, materials, **scope)
        self.on_block = on_block

    def submit(self, shipment: Shipment, proceed: Proceed, refuse: Refuse) -> None:
        if self.on_block == "refuse":
            refuse(shipment, "refused")
        else:
            self.held[shipment.id] = (shipment, proceed)

    def _let_go(self, items) -> None:
        for shipment, proceed in items:
            del self.held[shipment.id]
            shipment.gate = None
            proceed(shipment)

    def flush(self) -> None:
        self._let_go(list(self.held.values()))

    def rescope(self) -> None:
        if self.held:
            self._let_go([item for item in self.held.values() if not self.covers(item[0].order.lane)])

    def withdraw(self, shipment: Shipment) -> bool:
        if self.held.pop(shipment.id, None) is None:
            return False
        shipment.gate = None
        return True

    def held_t(self) -> float:
        return sum(s.tonnes for s, _ in self.held.values())
