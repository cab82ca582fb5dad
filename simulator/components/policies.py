"""Inventory policies: how much a buyer orders at a review, in tonnes.

Levels are given in days of use so that one policy fits facilities of any size. Each policy
is a small object with ``review_days`` and ``quantity(position_t, use_t_per_day)``; choose
one by name through :data:`POLICIES` or pass your own object with the same two members.

:class:`JustInTime` is the exception: it has no review; a sector with it orders, just before
each day's production, what that day needs (``quantity(position_t, need_t)``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["OrderUpTo", "MinMax", "FixedQuantity", "JustInTime", "POLICIES"]


@dataclass
class OrderUpTo:
    """Periodic review, order up to ``target_days`` of use (the default policy)."""

    review_days: float = 7.0
    target_days: float = 60.0

    def quantity(self, position_t: float, use_t_per_day: float) -> float:
        short_t = self.target_days * use_t_per_day - position_t
        return short_t if short_t > 0.0 else 0.0  # max(0, short), without a builtin call per review

    @property
    def start_days(self) -> float:
        """Default opening stock, in days of use."""
        return self.target_days


@dataclass
class MinMax:
    """(s, S): when the position is below ``reorder_days`` of use, order up to ``target_days``."""

    review_days: float = 1.0
    reorder_days: float = 20.0
    target_days: float = 60.0

    def quantity(self, position_t: float, use_t_per_day: float) -> float:
        if position_t < self.reorder_days * use_t_per_day:
            short_t = self.target_days * use_t_per_day - position_t
            return short_t if short_t > 0.0 else 0.0
        return 0.0

    @property
    def start_days(self) -> float:
        return self.target_days


@dataclass
class FixedQuantity:
    """(s, Q): when the position is below s (``reorder_days`` of use), order the fewest lots of
    ``quantity_days`` of use that bring it to s or above: ceil((s - position) / Q) lots."""

    review_days: float = 1.0
    reorder_days: float = 20.0
    quantity_days: float = 30.0

    def quantity(self, position_t: float, use_t_per_day: float) -> float:
        reorder_t, lot_t = self.reorder_days * use_t_per_day, self.quantity_days * use_t_per_day
        if position_t >= reorder_t or lot_t <= 0:
            return 0.0
        # The relative tolerance keeps an exact multiple (s - position = k Q) at k lots despite
        # round-off in the products above.
        lots = math.ceil((reorder_t - position_t) / lot_t - 1e-9)
        return max(lots, 1) * lot_t

    @property
    def start_days(self) -> float:
        return self.reorder_days + self.quantity_days


@dataclass
class JustInTime:
    """No review: just before each day's production, order what the day needs beyond stock on hand
    and on order (a sector buying from a nearby distributor). Only sectors can use it."""

    just_in_time = True  # the facility orders at production time; no periodic review
    review_days = None
    start_days = 0.0  # no opening stock unless told

    def quantity(self, position_t: float, need_t: float) -> float:
        short_t = need_t - position_t
        return short_t if short_t > 0.0 else 0.0


POLICIES = {"order_up_to": OrderUpTo, "s_S": MinMax, "s_Q": FixedQuantity, "just_in_time": JustInTime}
