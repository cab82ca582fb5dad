"""Periodic activities without a SimPy process.

A facility's daily production or weekly review is a callback that reschedules itself: the
same events, at the same times and in the same order as a process looping on ``yield
env.timeout(...)`` (the first call is scheduled as urgently as a process start), but without
resuming a generator for each of them.

Each activity owns one event and schedules it again after every call (through the public
``Environment.schedule``), instead of building a new ``Timeout`` each time: SimPy pops the
event, empties its callbacks and calls them; the callback puts them back and re-queues it.
Every tick is still one SimPy event with its own id, so event counts are unchanged.
"""

from __future__ import annotations

from collections.abc import Callable

import simpy
from simpy.events import NORMAL, URGENT, Event

__all__ = ["repeat"]


def repeat(env: simpy.Environment, tick: Callable[[], float | None]) -> None:
    """Call ``tick()`` now and then again after each delay (in days) it returns; ``None`` stops."""
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
        schedule(timer, NORMAL, delay)

    callbacks = [fire]
    timer.callbacks = callbacks
    schedule(timer, URGENT, 0)
