"""Buyers that adapt their target cover: safety stock that follows experience, and pre-buying
when an export control is announced.

Both add days to an input's target cover. An :class:`~.facility.InputLine` keeps the active
adjustments in ``cover_adjustments``; at each review (and, just in time, before each day's
production) the inventory position is compared with the policy's levels raised by
``extra_days × planned use per day`` (every level of the policy: the order-up-to target, or s
and S, or s), i.e. the policy sees ``position − extra_days × use``. The adjustments add up.

**Adaptive cover** (:class:`AdaptiveCover`). The buyer keeps a smoothed lead time ``L`` of the
input, from the deliveries it receives through the lanes it orders on (not a stockpile's): lead
time = delivery time − first order time of the tonnes (as in ``lead_times.csv``). Deliveries on
one day count as their tonne-weighted mean ``x``, folded in once: ``L ← L + α (x − L)`` with
``α = 1 − exp(−Δ / τ)``, Δ the days since the previous day with deliveries (since the rule began,
for the first), τ = ``smoothing_days`` when ``x > L`` and ``relax_days`` when ``x < L``. So a
lead time held at x for t days moves L a share ``1 − exp(−t/τ)`` of the way to x, whatever the
delivery rhythm. ``L`` starts at the normal lead time ``N``: a number, or ``transit`` (the mean
transit of the default mode of the lanes the buyer normally orders on, those of the best
priority, weighted by share), or ``learned`` (``L`` when the run reaches its start date, after
the warm-up: the lead time the buyer is used to, waiting for stock included; no extra cover
before then). Extra cover = ``min(max_extra_days, max(0, lead_time_weight × (L − N)))``.

**Pre-buying** (:class:`Prebuying`). When an ``impose`` with an ``announced`` date is announced,
each input one of whose lanes the control would cover (``scope``: ``covered``: by its scope as
announced, a lane that crosses the border; ``exporter``: any lane leaving the announcing
country) adds ``extra_days`` from the announcement until ``days_after_effect`` days after the
effective date (the raise ends at that instant; overlapping announcements do not add up).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .controls import ExportControl
    from .facility import InputLine
    from .lane import Lane

__all__ = ["AdaptiveCoverRule", "AdaptiveCover", "PrebuyRule", "Prebuying", "PREBUY_SCOPES",
           "set_adaptive_cover", "set_prebuying", "set_hoarding"]


@dataclass(frozen=True)
class AdaptiveCoverRule:
    """Parameters of adaptive cover (see the module docstring)."""

    lead_time_weight: float = 1.0
    max_extra_days: float = 60.0
    smoothing_days: float = 30.0
    relax_days: float | None = None  # None: as smoothing_days
    normal_lead_days: float | str = "transit"  # a number of days, "transit" or "learned"


class AdaptiveCover:
    """One input line's smoothed lead time and the extra cover it asks for."""

    def __init__(self, rule: AdaptiveCoverRule, line: InputLine, level: float | None = None):
        self.rule, self.line = rule, line
        self.level = level  # smoothed lead time L, days (None: not yet known, starts at N)
        self.t_last = line.facility.env.now  # last day with deliveries (or when the rule began)
        self._day = math.nan  # the day whose deliveries are folded in, and the state before them
        self._before = self._alpha_dt = 0.0
        self._sum_wx = self._sum_w = 0.0
        normal = rule.normal_lead_days
        self.normal: float | None = float(normal) if isinstance(normal, (int, float)) else None
        self.learning = normal == "learned"

    def transit_days(self) -> float:
        """Share-weighted mean transit of the default mode of the lanes of the best priority."""
        split = self.line._split(self.line.lanes)  # the lanes of the best priority, with their shares
        known = [(lane.modes[lane.default_mode].mean_days, share) for lane, share in split]
        known = [(days, share) for days, share in known if days == days]
        total = sum(share for _, share in known)
        return sum(days * share for days, share in known) / total if total > 0 else 0.0

    def _start_level(self) -> float:
        if self.level is None:
            self.level = self.normal if self.normal is not None else self.transit_days()
        return self.level

    def observe(self, now: float, lead_days: float, tonnes: float) -> None:
        """A delivery of ``tonnes`` after ``lead_days`` from its first order."""
        if now != self._day:  # the first delivery of the day: start a new step from L
            self._before = self._start_level()
            self._alpha_dt = now - self.t_last
            self._day, self.t_last = now, now
            self._sum_wx = self._sum_w = 0.0
        self._sum_wx += tonnes * lead_days
        self._sum_w += tonnes
        if self._sum_w <= 0.0:
            return
        mean, before = self._sum_wx / self._sum_w, self._before
        rule = self.rule
        tau = rule.smoothing_days if mean > before else (rule.relax_days or rule.smoothing_days)
        alpha = 1.0 - math.exp(-self._alpha_dt / tau) if tau > 0 else 1.0
        self.level = before + alpha * (mean - before)

    def settle(self) -> None:
        """``learned``: the lead time the buyer is used to is its smoothed lead time now."""
        if self.learning and self.normal is None:
            self.normal = self._start_level()

    def extra_days(self, now: float) -> float:
        normal = self.normal
        if normal is None:
            if self.learning:
                return 0.0
            normal = self.normal = self.transit_days()
        gap = self.rule.lead_time_weight * (self._start_level() - normal)
        if gap <= 0.0:
            return 0.0
        cap = self.rule.max_extra_days
        return gap if gap < cap else cap


@dataclass(frozen=True)
class PrebuyRule:
    """Parameters of pre-buying on an announcement (see the module docstring)."""

    extra_days: float = 30.0
    days_after_effect: float = 0.0
    scope: str = "covered"  # a name in PREBUY_SCOPES


#: Which announcements an input reacts to: (control, one of its lanes) -> whether it does.
PREBUY_SCOPES: dict[str, Callable[[ExportControl, Lane], bool]] = {
    "covered": lambda control, lane: lane.crosses_border and control.covers(lane),
    "exporter": lambda control, lane: lane.crosses_border and lane.exporter == control.exporter,
}


class Prebuying:
    """One input line's pre-buying windows."""

    def __init__(self, rule: PrebuyRule, line: InputLine):
        self.rule, self.line = rule, line
        self.windows: list[tuple[float, float]] = []  # (from, until) in run days

    def announced(self, control: ExportControl, t_effect: float) -> bool:
        """A control taking effect at ``t_effect`` is announced now: open a window if it concerns
        this input. Returns whether it does."""
        reacts = PREBUY_SCOPES[self.rule.scope]
        if not any(reacts(control, lane) for lane in self.line.lanes):
            return False
        self.windows.append((self.line.facility.env.now, t_effect + self.rule.days_after_effect))
        return True

    def extra_days(self, now: float) -> float:
        if self.windows:
            self.windows = [w for w in self.windows if w[1] > now]
            if any(start <= now for start, _ in self.windows):
                return self.rule.extra_days
        return 0.0


def _refresh(line: InputLine) -> None:
    line.cover_adjustments = tuple(a for a in (line.adaptive_cover, line.prebuying, line.hoarding) if a is not None)


def set_adaptive_cover(line: InputLine, rule: AdaptiveCoverRule | None) -> None:
    """Turn adaptive cover on (or change its parameters: the smoothed lead time learned so far is
    kept) or off (``None``)."""
    old = line.adaptive_cover
    if rule is None:
        line.adaptive_cover = None
    else:
        line.adaptive_cover = AdaptiveCover(rule, line, old.level if old is not None else None)
        if old is not None:
            line.adaptive_cover.t_last = old.t_last
            if rule.normal_lead_days == old.rule.normal_lead_days and old.normal is not None:
                line.adaptive_cover.normal = old.normal
    _refresh(line)


def set_prebuying(line: InputLine, rule: PrebuyRule | None) -> None:
    """Turn pre-buying on (windows already open stay open, with the new extra days) or off."""
    old = line.prebuying
    line.prebuying = None if rule is None else Prebuying(rule, line)
    if old is not None and rule is not None:
        line.prebuying.windows = old.windows
    _refresh(line)


def set_hoarding(line: InputLine, cover) -> None:
    """Add (or with ``None`` remove) a market layer's hoarding to the line's extra cover: an
    object whose ``extra_days(now)`` are days of use (:class:`~.market.HoardingCover`)."""
    line.hoarding = cover
    _refresh(line)
