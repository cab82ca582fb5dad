"""Catch-up of lost output: part of what a day could not make is made later, within a window.

A sector with ``unmet_demand="catch_up"`` (issue 11) keeps, per producer (the sector, or each of
its firms), a queue of recoverable units, oldest first:

- a day that makes less than its plan adds ``share x (plan - made)`` units, dated that day; the
  rest of the shortfall is lost at once;
- units dated day ``t`` may be made on days ``t + 1 .. t + within_days``; on a later day what is
  left of them is dropped (lost for good);
- each day may make, on top of its plan, at most ``(max_rate - 1) x`` the mean daily plan of
  recoverable units, oldest first, and only as far as its inputs allow (the plan comes first).

The units still queued are owed like backorders: they count in the inventory position.

Assumption, not a measured figure: automotive lines typically recover part of lost output with
overtime and extra shifts. A range worth exploring is ``share`` 0.5 to 0.9 and ``within_days``
30 to 90, with ``max_rate`` 1.1 to 1.3 (a sixth day or a third shift on part of the lines).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

__all__ = ["CatchUpRule", "CatchUp"]

_EPS_DAYS = 1e-9  # day arithmetic on float simulation times


@dataclass(frozen=True)
class CatchUpRule:
    """Parameters of catch-up (see the module docstring)."""

    share: float = 0.7  # of each day's shortfall that is recoverable
    within_days: float = 60.0  # days after the loss by which it must be made
    max_rate: float = 1.2  # most a day may make, as a multiple of the mean daily plan

    def __post_init__(self):
        if not 0.0 <= self.share <= 1.0:
            raise ValueError(f"catch-up share must be within 0..1, got {self.share!r}")
        if self.within_days < 0.0:
            raise ValueError(f"catch-up within_days must be >= 0, got {self.within_days!r}")
        if self.max_rate < 1.0:
            raise ValueError(f"catch-up max_rate must be >= 1, got {self.max_rate!r}")


class CatchUp:
    """One producer's recoverable units: a queue of ``[day lost, units]``, oldest first."""

    __slots__ = ("share", "within_days", "extra_rate", "queue", "owed_units", "recovered_units", "expired_units")

    def __init__(self, rule: CatchUpRule):
        self.share, self.within_days, self.extra_rate = rule.share, rule.within_days, rule.max_rate - 1.0
        self.queue: deque[list[float]] = deque()
        self.owed_units = 0.0  # recoverable units still queued (the inventory position counts them)
        self.recovered_units = 0.0  # made on top of plan, in all
        self.expired_units = 0.0  # dropped after their window, in all

    def due(self, now: float, mean_plan: float) -> float:
        """Units to try to make today on top of the plan: first drop units lost more than
        ``within_days`` ago, then at most ``(max_rate - 1) x mean_plan`` of the rest."""
        queue = self.queue
        if not queue:
            return 0.0
        oldest_allowed = now - self.within_days - _EPS_DAYS
        while queue and queue[0][0] < oldest_allowed:
            _, units = queue.popleft()
            self.owed_units -= units
            self.expired_units += units
        if not queue:
            self.owed_units = 0.0  # no round-off left behind
            return 0.0
        room = self.extra_rate * mean_plan
        return self.owed_units if self.owed_units < room else room

    def settle(self, now: float, plan: float, made: float) -> None:
        """After a day's production: what was made beyond ``plan`` comes off the queue, oldest
        first; a shortfall adds ``share x (plan - made)`` units dated ``now``."""
        if made >= plan:
            extra = made - plan
            if extra <= 0.0:
                return
            self.recovered_units += extra
            queue = self.queue
            while queue and extra > 0.0:
                entry = queue[0]
                take = entry[1] if entry[1] < extra else extra
                entry[1] -= take
                extra -= take
                self.owed_units -= take
                if entry[1] <= 1e-12 * (1.0 + take):  # made in full (up to round-off)
                    self.owed_units -= entry[1]
                    queue.popleft()
            if not queue:
                self.owed_units = 0.0
        else:
            units = self.share * (plan - made)
            if units > 0.0:
                self.queue.append([now, units])
                self.owed_units += units
