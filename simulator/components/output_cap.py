"""A production quota: at most so many tonnes of a mine's or plant's output per calendar year.

The year's allowance is spread over what is left of the year: a batch made at time ``t``
(days) with ``batch_days`` between batches may make at most

    remaining x batch_days / max(batch_days, year_end - t)

where ``remaining`` = the cap less what the facility has made since the year began (never
below 0). A facility at full use therefore makes the cap in equal batches, one held back by
a full store or short inputs makes up later in the year, and the year's last batch may use
all that is left. Output counts to the year in which its batch is made. A cap changed
mid-year (a timeline ``set``) keeps what was made since 1 January; a cap first set mid-year
counts the part of the year already gone as made at the cap's pace (no catch-up for the
time before the quota). The calendar comes from ``year_bounds(t) -> (start, end)`` in
simulation days (the model maps dates; the default is 365-day years from time 0).
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["CappedOutput", "OutputCap", "days_365"]

_EPS = 1e-9


def days_365(t: float) -> tuple[float, float]:
    """Years of 365 days from time 0 (for a component used without a calendar)."""
    start = (t // 365.0) * 365.0
    return start, start + 365.0


class OutputCap:
    """The annual output cap of one facility (see the module docstring)."""

    __slots__ = ("t_per_year", "year_bounds", "year_start", "year_end", "made_t")

    def __init__(self, t_per_year: float, now: float, year_bounds: Callable[[float], tuple[float, float]] = days_365):
        self.t_per_year, self.year_bounds = t_per_year, year_bounds
        self.year_start, self.year_end = year_bounds(now)
        # The part of the year already gone, as if made at the cap's pace.
        self.made_t = t_per_year * (now - self.year_start) / (self.year_end - self.year_start)

    def allowance(self, now: float, batch_days: float) -> float:
        """The most a batch made now may make, tonnes."""
        if now >= self.year_end - _EPS:  # a new calendar year: a fresh allowance
            self.year_start, self.year_end = self.year_bounds(now + _EPS)
            self.made_t = 0.0
        remaining = self.t_per_year - self.made_t
        if remaining <= 0.0:
            return 0.0
        left = self.year_end - now
        return remaining * batch_days / (left if left > batch_days else batch_days)

    def record(self, tonnes: float) -> None:
        """A batch made (or started) ``tonnes`` of output."""
        self.made_t += tonnes


class CappedOutput:
    """Mixin for mines and plants: ``output_cap_t_per_year`` (None: no cap) and the calendar
    ``year_bounds`` the model sets (see :class:`OutputCap`)."""

    output_cap: OutputCap | None = None
    year_bounds: Callable[[float], tuple[float, float]] = staticmethod(days_365)

    @property
    def output_cap_t_per_year(self) -> float | None:
        return None if self.output_cap is None else self.output_cap.t_per_year

    @output_cap_t_per_year.setter
    def output_cap_t_per_year(self, value: float | None) -> None:
        if value is None:
            self.output_cap = None
        elif self.output_cap is None:
            self.output_cap = OutputCap(float(value), self.env.now, self.year_bounds)
        else:  # what was made this year stays counted
            self.output_cap.t_per_year = float(value)
