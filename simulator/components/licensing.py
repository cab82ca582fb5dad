"""A licensing office: a first-come-first-served queue with ``reviewers`` parallel reviews.

Each review takes a random time and ends in one of three decisions: **approved** (granted),
**returned** for more documents (the applicant re-submits after a delay and the application is
reviewed again, from the back of the queue), or **denied**. The probability of each may depend on
the end user (the buying facility), the end use (the buyer's sector) and the destination, most
specific first. The office knows nothing about shipments beyond each application's callbacks,
so it can be used on its own (an M/G/c queue with random outcomes).

**Granularity.** One application may stand for ``count`` real applications (a model shipment
is many consignments): it takes ``count`` reviewers (all of them if there are fewer), waits
first come first served until that many are free, and its ``count`` decisions are drawn one by
one. When they differ, ``on_split(app, counts)`` splits it into one application per decision
(the control splits the goods), each decided as a whole. Office capacity is thus counted in
real applications, and results do not depend on how many real applications a model shipment
bundles beyond sampling. With ``count = 1`` everything is as for a single application.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import simpy

from .clock import Timer

__all__ = ["LicensingOffice", "Application"]


class Application:
    """One licence application. ``approve()`` / ``deny("denied")`` are called on decision;
    ``on_return(app)`` (if given) when it is returned for documents, before re-submission."""

    __slots__ = ("destination", "payload", "approve", "deny", "state", "t_applied", "t_review_start", "t_decided",
                 "buyer", "sector", "submission", "count", "_outcome", "_slots", "_proceed", "_refuse")

    def __init__(self, destination: str, approve: Callable[[], Any], deny: Callable[[str], Any], payload: Any = None,
                 buyer: str = "", sector: str = "", count: int = 1):
        self.destination = destination
        self.payload = payload
        self.approve, self.deny = approve, deny
        self.buyer, self.sector = buyer, sector
        self.state = "new"  # queued -> reviewing -> approved | returned | denied | released | withdrawn
        self.submission = 0  # 0 for the first, n for the n-th re-submission after a return
        self.count = count  # real applications it stands for
        self._slots = 0  # reviewers it holds while under review
        self._proceed = self._refuse = None  # for a licensing control's own use (splitting goods)
        self.t_applied = self.t_review_start = self.t_decided = math.nan  # a constant: no float() call per application
        self._outcome = None


class LicensingOffice:
    """Reviews applications FCFS with ``reviewers`` servers.

    ``review_days()`` draws a review duration in calendar days; ``uniform()`` draws U(0,1) for
    decisions. A decision approves with ``approval_probability`` (or the most specific of
    ``approval_by_buyer``, ``approval_by_sector``, ``approval_by_destination``), returns the
    application for documents with ``return_probability`` (likewise ``return_by_destination``),
    and denies otherwise. ``review_days_by_outcome`` may give denials and returns their own
    review time (then the outcome is drawn when the review starts). A returned application is
    re-submitted after ``resubmit_days()`` (0 without it). ``on_decision(app)`` is called after
    each decision (for records).
    """

    def __init__(
        self,
        env: simpy.Environment,
        reviewers: int,
        review_days: Callable[[], float],
        approval_probability: float,
        uniform: Callable[[], float],
        approval_by_destination: Mapping[str, float] | None = None,
        on_decision: Callable[[Application], None] | None = None,
        *,
        return_probability: float = 0.0,
        return_by_destination: Mapping[str, float] | None = None,
        approval_by_sector: Mapping[str, float] | None = None,
        approval_by_buyer: Mapping[str, float] | None = None,
        resubmit_days: Callable[[], float] | None = None,
        review_days_by_outcome: Mapping[str, Callable[[], float]] | None = None,
    ):
        self.env = env
        self.reviewers = reviewers
        self.review_days = review_days
        self.approval_probability = approval_probability
        self.approval_by_destination = dict(approval_by_destination or {})
        self.approval_by_sector = dict(approval_by_sector or {})
        self.approval_by_buyer = dict(approval_by_buyer or {})
        self.return_probability = return_probability
        self.return_by_destination = dict(return_by_destination or {})
        self.resubmit_days = resubmit_days
        self.review_days_by_outcome = dict(review_days_by_outcome or {})
        self.uniform = uniform
        self.on_decision = on_decision
        self.on_resubmit: Callable[[Application, Application], None] | None = None  # (returned, new)
        self.queue: deque[Application] = deque()
        self.in_review: dict[Application, None] = {}  # insertion-ordered set
        self._busy = 0  # reviewers at work (sum of the slots of applications under review)
        # (app, {decision: count}) -> [(part, decision)]: splits an application whose real
        # applications were decided differently (see the module docstring).
        self.on_split: Callable[[Application, dict], list] | None = None
        self.resubmitting: dict[Application, None] = {}  # returned, waiting to be re-submitted
        # binomial(n, p) -> successes in n trials: decides a bundle of real applications in two
        # draws (see _draw_counts); None: one uniform draw per real application
        self.binomial: Callable[[int, float], int] | None = None

    @property
    def busy(self) -> int:
        """Reviewers at work."""
        return self._busy

    @property
    def pending(self) -> int:
        """Applications not yet decided: queued, under review, or returned and not yet re-submitted."""
        return len(self.queue) + len(self.in_review) + len(self.resubmitting)

    def probability(self, destination: str, sector: str = "", buyer: str = "") -> float:
        """Probability that a decision approves: by buyer, else sector, else destination, else the default."""
        if buyer in self.approval_by_buyer:
            return self.approval_by_buyer[buyer]
        if sector in self.approval_by_sector:
            return self.approval_by_sector[sector]
        return self.approval_by_destination.get(destination, self.approval_probability)

    def probabilities(self, app: Application) -> tuple[float, float]:
        """(approve, return) for ``app``; the rest of the probability denies. A return probability
        larger than what approval leaves is cut to it."""
        # probability()'s rule written out: this runs once per decision
        by_buyer, by_sector, destination = self.approval_by_buyer, self.approval_by_sector, app.destination
        if by_buyer and app.buyer in by_buyer:
            approve = by_buyer[app.buyer]
        elif by_sector and app.sector in by_sector:
            approve = by_sector[app.sector]
        else:
            approve = self.approval_by_destination.get(destination, self.approval_probability)
        ret = self.return_by_destination.get(destination, self.return_probability)
        left = 1.0 - approve
        return approve, left if left < ret else ret  # min(ret, left), without the call

    def apply(self, app: Application) -> None:
        app.state, app.t_applied = "queued", self.env.now
        self.queue.append(app)
        self._start_reviews()

    def set_reviewers(self, reviewers: int) -> None:
        """More reviewers start at once; fewer finish their current reviews first."""
        self.reviewers = reviewers
        self._start_reviews()

    def _draw_outcome(self, app: Application) -> str:
        approve, ret = self.probabilities(app)
        u = self.uniform()
        return "approved" if u < approve else "returned" if u < approve + ret else "denied"

    def _draw_counts(self, app: Application) -> dict[str, int]:
        """Decisions of an application's ``count`` real applications: independent decisions, so
        the counts are multinomial; drawn as two binomials with ``binomial(n, p)`` if the office
        has it (two draws whatever the count), else one uniform draw each."""
        approve, ret = self.probabilities(app)
        if self.binomial is not None:
            granted = self.binomial(app.count, approve)
            rest = app.count - granted
            if not rest:  # all granted: the usual case, no second draw
                return _nonzero(granted, 0, 0)
            returned = self.binomial(rest, min(1.0, ret / (1.0 - approve))) if ret > 0.0 else 0
            return _nonzero(granted, returned, rest - returned)
        either, uniform = approve + ret, self.uniform
        granted = returned = 0
        for _ in range(app.count):  # the same draws, in the same order, as _draw_outcome would make
            u = uniform()
            if u < approve:
                granted += 1
            elif u < either:
                returned += 1
        return _nonzero(granted, returned, app.count - granted - returned)

    def _start_reviews(self) -> None:
        queue = self.queue
        reviewers = self.reviewers
        while queue and self._busy < reviewers:
            app = queue[0]
            need = app.count if app.count < reviewers else reviewers
            if self._busy + need > reviewers:
                break  # first come, first served: it waits for enough reviewers
            queue.popleft()
            if not self.review_days_by_outcome:  # one review time for all: decided when it ends
                self._review(app, need, None)
                continue
            # the time depends on the decision: draw the decisions first
            if app.count == 1:
                self._review(app, need, self._draw_outcome(app))
                continue
            parts = self._split(app, self._draw_counts(app))
            for part, outcome in parts:
                self._review(part, need if len(parts) == 1 else need * part.count / app.count, outcome)

    def _review(self, app: Application, slots: float, outcome: str | None) -> None:
        """Start reviewing ``app`` with ``slots`` reviewers; ``outcome``: its decision if drawn
        already (then its review time may depend on it), None to draw it when the review ends."""
        app.state, app.t_review_start, app._outcome, app._slots = "reviewing", self.env.now, outcome, slots
        self._busy += slots
        self.in_review[app] = None
        days = self.review_days if outcome is None else self.review_days_by_outcome.get(outcome, self.review_days)
        Timer(self.env, days(), self._review_ended, app)

    def _split(self, app: Application, counts: dict[str, int]) -> list[tuple[Application, str]]:
        if len(counts) == 1 or self.on_split is None:
            decision = max(counts, key=counts.get)
            return [(app, decision)]
        return self.on_split(app, counts)

    def _free(self, app: Application) -> None:
        del self.in_review[app]
        self._busy -= app._slots
        if self._busy < 1e-9:
            self._busy = 0

    def _review_ended(self, event: Timer) -> None:
        self._finish(event._value)  # the Timer carries the application (see _review)

    def _finish(self, app: Application) -> None:
        if app.state != "reviewing":  # released or withdrawn while under review; its reviewer is free already
            return
        self._free(app)
        if app._outcome is not None:
            self._decide(app, app._outcome)
        elif app.count == 1:
            self._decide(app, self._draw_outcome(app))
        else:
            for part, decision in self._split(app, self._draw_counts(app)):
                self._decide(part, decision)
        self._start_reviews()

    def _decide(self, app: Application, decision: str) -> None:
        app.state, app.t_decided = decision, self.env.now
        if self.on_decision is not None:
            self.on_decision(app)
        if decision == "denied":
            app.deny("denied")
        elif decision == "returned":
            self._resubmit_later(app)
        else:
            app.approve()

    def _resubmit_later(self, app: Application) -> None:
        """The applicant completes the documents and submits again: a new application (its own
        row in the records), same callbacks, reviewed again from the back of the queue."""
        again = Application(app.destination, app.approve, app.deny, app.payload, app.buyer, app.sector, app.count)
        again._proceed, again._refuse = app._proceed, app._refuse
        again.submission = app.submission + 1
        again.state, again.t_applied = "resubmitting", self.env.now
        self.resubmitting[again] = None
        if self.on_resubmit is not None:
            self.on_resubmit(app, again)
        delay = self.resubmit_days() if self.resubmit_days is not None else 0.0
        Timer(self.env, delay, self._resubmit, again)

    def _resubmit(self, event: Timer) -> None:
        app = event._value  # the new application (see _resubmit_later)
        if app.state != "resubmitting":  # withdrawn or released meanwhile
            return
        del self.resubmitting[app]
        self.apply(app)

    def withdraw(self, app: Application) -> bool:
        """Take a pending application off the queue, out of review (its reviewer is free at
        once) or out of re-submission; False if it is not pending here."""
        if app.state == "queued":
            self.queue.remove(app)
        elif app.state == "reviewing":
            self._free(app)
        elif app.state == "resubmitting":
            del self.resubmitting[app]
        else:
            return False
        app.state = "withdrawn"
        self._start_reviews()
        return True

    @staticmethod
    def released_count(fraction: float, pending: int) -> int:
        """How many of ``pending`` applications a release of ``fraction`` approves: the nearest
        whole number, halves rounded up (0.5 of 1, 3, 5, 7, 10 releases 1, 2, 3, 4, 5). The
        1e-9 keeps products such as 0.3 x 5 = 1.4999999999999998 on the side of their exact value."""
        return min(pending, math.floor(fraction * pending + 0.5 + 1e-9))

    def release(self, fraction: float = 1.0) -> int:
        """Approve the oldest ``fraction`` of pending applications (queued, under review, or
        returned and not yet re-submitted) at once; returns how many (:meth:`released_count`)."""
        pending = sorted([*self.in_review, *self.queue, *self.resubmitting], key=lambda a: a.t_applied)
        chosen = pending[: self.released_count(fraction, len(pending))]
        if not chosen:
            return 0
        chosen_set = set(chosen)
        self.queue = deque(a for a in self.queue if a not in chosen_set)
        for app in chosen:
            if app in self.in_review:
                self._free(app)
            self.resubmitting.pop(app, None)
        for app in chosen:
            self._decide(app, "released")
        self._start_reviews()
        return len(chosen)


def _nonzero(approved: int, returned: int, denied: int) -> dict[str, int]:
    """{decision: count} of the decisions that occur, in the order approved, returned, denied."""
    counts = {}
    if approved:
        counts["approved"] = approved
    if returned:
        counts["returned"] = returned
    if denied:
        counts["denied"] = denied
    return counts
