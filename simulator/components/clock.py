"""Periodic activities without a SimPy process.

A facility's daily production or weekly review is a callback on a timeout that schedules the
next one: the same events, at the same times and in the same order as a process looping on
``yield env.timeout(...)`` (the first call is scheduled as urgently as a process start), but
without resuming a generator for each of them.
"""

from __future__ import annotations

from collections.abc import Callable

import simpy
from simpy.events import URGENT, Event

__all__ = ["repeat"]


class _Start(Event):
    """An event already triggered, scheduled like a process's start (urgent, now)."""

    def __init__(self, env: simpy.Environment, callback: Callable[[Event], None]):
        super().__init__(env)
        self._ok = True
        self._value = None
        self.callbacks.append(callback)
        env.schedule(self, URGENT)


def repeat(env: simpy.Environment, tick: Callable[[], float]) -> None:
    """Call ``tick()`` now and then again after each delay (in days) it returns, for ever."""

    def fire(_event: Event) -> None:
        env.timeout(tick()).callbacks.append(fire)

    _Start(env, fire)
