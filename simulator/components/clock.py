"""Periodic activities without a SimPy process.

A facility's daily production or weekly review is a callback that reschedules itself: the
same events, at the same times and in the same order as a process looping on ``yield
env.timeout(...)`` (the first call is scheduled as urgently as a process start), but without
resuming a generator for each of them.

Each activity owns one event and schedules it again after every call (through the public
``Environment.schedule``), instead of building a new ``Timeout`` each time: SimPy pops the
event, empties its callbacks and calls them; the callback puts them back and re-queues it.
Every tick is still one SimPy event with its own id, so event counts are unchanged.

One-off delays (reviews, re-submissions, transits, batches in process) are each a
:class:`Timer`: a timeout born with its callback and carrying what it is about.
"""

from __future__ import annotations

from collections.abc import Callable
from heapq import heappop
from typing import Any

import simpy
from simpy.events import NORMAL, URGENT, Event, Timeout

__all__ = ["daily", "repeat", "run_until", "LAST", "Timer"]

#: SimPy orders events at one time by priority (URGENT 0, NORMAL 1), then by when they were
#: scheduled; a daily round's priority 2 puts it after every other event of its moment.
LAST = 2


def repeat(env: simpy.Environment, tick: Callable[[], float | None], last: bool = False) -> None:
    """Call ``tick()`` now and then again after each delay (in days) it returns; ``None`` stops.
    ``last``: each call comes after every other event of its time (an end-of-day snapshot)."""
    timer = Event(env)
    timer._ok, timer._value = True, None  # triggered (succeeded) for good; SimPy only reads these
    schedule = env.schedule

    def fire(_event: Event) -> None:
        delay = tick()
        if delay is None:
            return
        if delay < 0:
            raise ValueError(f"negative delay {delay} from {tick!r}")
        timer.callbacks = callbacks
        schedule(timer, later, delay)

    later = LAST if last else NORMAL
    callbacks = [fire]
    timer.callbacks = callbacks
    schedule(timer, LAST if last else URGENT, 0)


class _DailyRound:
    """Activities that run once a day, called one after another in the order they joined, from
    one SimPy event a day instead of one each (see :func:`daily`)."""

    def __init__(self, env: simpy.Environment):
        self.env, self.t_start = env, env.now
        self.ticks: list[Callable[[], float | None]] = []
        self.fired = False
        self.timer = Event(env)
        self.timer._ok, self.timer._value = True, None  # triggered for good, as in repeat()
        self.callbacks = [self.fire]
        self.timer.callbacks = self.callbacks
        env.schedule(self.timer, LAST, 0)

    def fire(self, _event: Event) -> None:
        self.fired = True
        self.ticks = [tick for tick in self.ticks if tick() is not None]
        if self.ticks:
            self.timer.callbacks = self.callbacks
            self.env.schedule(self.timer, LAST, 1.0)


def daily(env: simpy.Environment, tick: Callable[[], float | None]) -> None:
    """Call ``tick()`` at the end of this moment and every day after (it returns 1.0 to go on,
    None to stop), with the other daily activities that joined at this moment: one SimPy event a
    day for all of them, in the order they joined, after every other event of its time (a day's
    deliveries, reviews and decisions come before the day's production). Joining after the
    round's first call starts a round of its own."""
    current = getattr(env, "_daily_round", None)  # the environment carries its open round
    if current is None or current.t_start != env.now or current.fired:
        current = env._daily_round = _DailyRound(env)
    current.ticks.append(tick)


class Timer(Timeout):
    """A :class:`~simpy.events.Timeout` born with its one callback, carrying ``value``.

    The same event as ``env.timeout(delay, value)`` (scheduled at creation, with NORMAL
    priority, so same-time events keep their order and the event count is unchanged), but
    without a closure per timeout and the ``callbacks.append`` that follows: reviews, re-
    submissions and transits are made by the thousand per run. ``callback(event)`` finds what
    it is about in ``event.value`` (the licensing office's and the lane's callbacks read ``_value``, set
    here, to skip the property). ``repeat`` and ``daily`` above reuse one event each instead.
    """

    def __init__(self, env: simpy.Environment, delay: float, callback: Callable[[Timeout], Any], value: Any = None):
        if delay < 0:
            raise ValueError(f"Negative delay {delay}")
        # Timeout.__init__'s own steps, with the callback list made full in one go.
        self.env = env
        self.callbacks = [callback]
        self._value = value
        self._delay = delay
        self._ok = True
        env.schedule(self, NORMAL, delay)


def run_until(env: simpy.Environment, until: float) -> None:
    """``env.run(until=until)`` with SimPy's own steps written out (``Environment.step`` for
    every event, without a method call and exception frame each): the same stop event (URGENT at
    ``until``, so events at ``until`` itself do not run), the same order and event count, and a
    failed event nobody defused raises as SimPy raises it. A run processes tens of thousands of
    events; SimPy's own loop is kept for everything else."""
    if until <= env.now:
        raise ValueError(f"until ({until}) must be greater than the current simulation time")
    stop = Event(env)
    stop._ok, stop._value = True, None
    env.schedule(stop, URGENT, until - env.now)
    queue = env._queue  # noqa: SLF001 - SimPy's event queue: (time, priority, id, event)
    while True:
        env._now, _, _, event = heappop(queue)  # never empty: the stop event is in it
        if event is stop:  # SimPy puts its stop event back, first in line (one more event id)
            stop.callbacks = []
            env.schedule(stop, -1)
            return
        callbacks, event.callbacks = event.callbacks, None
        for callback in callbacks:
            callback(event)
        if not event._ok and not hasattr(event, "_defused"):
            exc = type(event._value)(*event._value.args)  # as Environment.step raises it
            exc.__cause__ = event._value
            raise exc
