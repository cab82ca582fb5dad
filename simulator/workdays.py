"""Working days of a country's calendar: Monday to Friday (or the country's own weekend), less
its public holidays, plus the weekend days it declares working days (China's make-up days,
调休), from the ``holidays`` package; numpy's business-day functions do the counting.

Days are numbered from a reference date (day 0). A :class:`HolidayCalendar` lists its working
days in year-long blocks as reviews reach them, and finds the n-th working day by bisection.
"""

from __future__ import annotations

import datetime as dt
import threading
from bisect import bisect_left
from functools import lru_cache

import numpy as np

_INSTALL = "pip install 'resim[calendars]'"


def holiday_calendar(country: str, years=()):
    """The ``holidays`` package's calendar of ``country`` for ``years``; ValueError if it has
    none or the package is missing (an optional extra)."""
    try:
        import holidays
    except ImportError:
        raise ValueError(f"expected the optional package holidays for a holiday calendar ({_INSTALL}), "
                         f"got it missing") from None
    supported = holidays.list_supported_countries()
    if country not in supported:
        raise ValueError(f"expected a country whose public holidays the holidays package knows "
                         f"(e.g. CN, DE, JP, US; {len(supported)} in all), got {country!r}")
    return holidays.country_holidays(country, years=years)


class HolidayCalendar:
    """Working days of ``country`` as day numbers from ``reference`` (a date = day 0)."""

    def __init__(self, country: str, reference: dt.date, first_day: int):
        self.country, self.reference = country, reference
        weekend = sorted(holiday_calendar(country).weekend)
        self._weekmask = "".join("0" if d in weekend else "1" for d in range(7))
        self.days: list[int] = []  # working days, ascending
        self._next = first_day      # first day number not yet listed
        self._lock = threading.Lock()  # a calendar is shared (calendar_for), also by threads

    def _extend(self, size: int) -> None:
        """List the working days of the next year-long block, unless another thread listed it
        while this one waited (the list then has more than ``size`` days)."""
        with self._lock:
            if len(self.days) == size:
                self._extend_unlocked()

    def _extend_unlocked(self) -> None:
        start = self.reference + dt.timedelta(days=self._next)
        end = start + dt.timedelta(days=366)
        calendar = holiday_calendar(self.country, range(start.year, end.year + 1))
        holidays = np.array(sorted(d for d in calendar if start <= d < end), dtype="datetime64[D]")
        extra = np.array(sorted(d for d in getattr(calendar, "weekend_workdays", ()) if start <= d < end),
                         dtype="datetime64[D]")
        dates = np.arange(np.datetime64(start), np.datetime64(end), dtype="datetime64[D]")
        working = np.is_busday(dates, weekmask=self._weekmask, holidays=holidays) | np.isin(dates, extra)
        first = np.datetime64(self.reference)
        self.days.extend(int(d) for d in (dates[working] - first).astype(int))
        self._next += len(dates)

    def nth_after(self, day: int, n: int) -> int:
        """The n-th working day counting the first working day on or after ``day`` as the
        0-th (``numpy.busday_offset(day, n, roll="forward")`` with this calendar)."""
        while not self.days or self.days[-1] < day:
            self._extend(len(self.days))
        index = bisect_left(self.days, day) + n
        while index >= len(self.days):
            self._extend(len(self.days))
        return self.days[index]


@lru_cache(maxsize=32)
def calendar_for(country: str, reference: dt.date, first_day: int) -> HolidayCalendar:
    """One calendar per country, reference and first day, shared by every review sampler (its
    list only grows, the same whoever asks)."""
    return HolidayCalendar(country, reference, first_day)
