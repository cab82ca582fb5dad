"""A licensing office: a first-come-first-served queue with ``reviewers`` parallel reviews.

Each review takes a random time and ends in approval with a probability that may depend on
the destination. The office knows nothing about shipments beyond the callbacks of each
application, so it can be used on its own (an M/G/c queue with Bernoulli outcomes).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import math

import simpy

__all__ = ["LicensingOffice", "Application"]


class Application:
    """One licence application. ``approve()`` / ``deny("denied")`` are called on decision."""

    __slots__ = ("destination", "payload", "approve", "deny", "state", "t_applied", "t_review_start", "t_decided")

    def __init__(self, destination: str, approve: Callable[[], Any], deny: Callable[[str], Any], payload: Any = None):
        self.destination = destination
        self.payload = payload
        self.approve, self.deny = approve, deny
        self.state = "new"  # queued -> reviewing -> approved | denied | released | withdrawn
        self.t_applied = self.t_review_start = self.t_decided = float("nan")


class LicensingOffice:
    """Reviews applications FCFS with ``reviewers`` servers.

    ``review_days()`` draws a review duration in calendar days; ``uniform()`` draws U(0,1)
    for decisions. ``on_decision(app)`` is called after each decision (for records).
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
    ):
        self.env = env
        self.reviewers = reviewers
        self.review_days = review_days
        self.approval_probability = approval_probability
        self.approval_by_destination = dict(approval_by_destination or {})
        self.uniform = uniform
        self.on_decision = on_decision
        self.queue: deque[Application] = deque()
        self.in_review: dict[Application, None] = {}  # insertion-ordered set

    @property
    def busy(self) -> int:
        return len(self.in_review)

    @property
    def pending(self) -> int:
        return len(self.queue) + len(self.in_review)

    def probability(self, destination: str) -> float:
        return self.approval_by_destination.get(destination, self.approval_probability)

    def apply(self, app: Application) -> None:
        app.state, app.t_applied = "queued", self.env.now
        self.queue.append(app)
        self._start_reviews()

    def set_reviewers(self, reviewers: int) -> None:
        """More reviewers start at once; fewer finish their current reviews first."""
        self.reviewers = reviewers
        self._start_reviews()

    def _start_reviews(self) -> None:
        env = self.env
        while self.queue and len(self.in_review) < self.reviewers:
            app = self.queue.popleft()
            app.state, app.t_review_start = "reviewing", env.now
            self.in_review[app] = None
            env.timeout(self.review_days()).callbacks.append(lambda _event, app=app: self._finish(app))

    def _finish(self, app: Application) -> None:
        if app.state != "reviewing":  # released while under review; its reviewer is free already
            return
        del self.in_review[app]
        approved = self.uniform() < self.probability(app.destination)
        self._decide(app, "approved" if approved else "denied")
        self._start_reviews()

    def _decide(self, app: Application, decision: str) -> None:
        app.state, app.t_decided = decision, self.env.now
        if self.on_decision is not None:
            self.on_decision(app)
        if decision == "denied":
            app.deny("denied")
        else:
            app.approve()

    def withdraw(self, app: Application) -> bool:
        """Take a pending application off the queue or out of review (its reviewer is free at
        once); False if it is not pending here."""
        if app.state == "queued":
            self.queue.remove(app)
        elif app.state == "reviewing":
            del self.in_review[app]
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
        """Approve the oldest ``fraction`` of pending applications at once; returns how many
        (:meth:`released_count`)."""
        pending = sorted([*self.in_review, *self.queue], key=lambda a: a.t_applied)
        chosen = pending[: self.released_count(fraction, len(pending))]
        if not chosen:
            return 0
        chosen_set = set(chosen)
        self.queue = deque(a for a in self.queue if a not in chosen_set)
        for app in chosen:
            self.in_review.pop(app, None)
        for app in chosen:
            self._decide(app, "released")
        self._start_reviews()
        return len(chosen)
