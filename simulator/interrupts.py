"""SIGINT and SIGTERM for the command line: both end a command the same way.

The first signal raises ``KeyboardInterrupt`` in the main thread, so every ``finally`` and
``except BaseException`` cleans up (a run's temporary folder is removed, drawing workers are
ended); from then on both signals are ignored, so that cleanup is not itself interrupted and
the process ends once it is done. :func:`exit_code` is then 128 + the signal's number (130 for
SIGINT, 143 for SIGTERM). A KeyboardInterrupt raised where Python swallows exceptions (a
``__del__``, an at-fork hook) is caught up with by :func:`check` before results are committed;
forks happen under :func:`held`, and cleanup under :func:`shielded`.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

__all__ = ["handle_signals", "exit_code", "check", "shielded", "held", "child_start"]

SIGNALS = tuple(s for s in (signal.SIGINT, getattr(signal, "SIGTERM", None)) if s is not None)

received: int | None = None  # the first signal handled by handle_signals


def _on_signal(signum, _frame) -> None:
    global received
    if received is None:
        received = signum
    for s in SIGNALS:
        signal.signal(s, signal.SIG_IGN)  # further signals would interrupt the cleanup
    raise KeyboardInterrupt


def _restore(previous: dict) -> None:
    """Put back the handlers found before a block (None, set outside Python: the default)."""
    for s, handler in previous.items():
        signal.signal(s, handler if handler is not None else signal.SIG_DFL)


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def handle_signals(exiting: bool = False) -> Iterator[None]:
    """Within the block: SIGINT and SIGTERM raise KeyboardInterrupt once, then are ignored
    (while the cleanup runs). The previous handlers come back at the end, also after a signal,
    and the signal is forgotten (:func:`check` no longer raises): ``main()`` called from Python
    (a notebook) must leave Ctrl-C working and later runs undisturbed. ``exiting``: the process
    ends after the block (the ``resim`` command), so after a signal both stay ignored until it
    has ended: a second Ctrl-C or SIGTERM arriving late, while the interpreter shuts down, must
    neither print a traceback nor end the process by the signal instead of its exit code."""
    global received
    received = None
    if not _main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in SIGNALS}
    for s in SIGNALS:
        signal.signal(s, _on_signal)
    try:
        yield
    finally:
        if not (exiting and received is not None):
            _restore(previous)
        received = None


def exit_code() -> int:
    """128 + the number of the signal received (130 for SIGINT, also when none was)."""
    return 128 + int(received or signal.SIGINT)


def check() -> None:
    """Raise KeyboardInterrupt if a signal was handled: its first KeyboardInterrupt may have been
    raised where Python swallows exceptions (a ``__del__``, an at-fork hook). Called before
    anything is committed (a run folder renamed into place)."""
    if received is not None:
        raise KeyboardInterrupt


@contextlib.contextmanager
def shielded() -> Iterator[None]:
    """Defer SIGINT and SIGTERM within the block (cleanup that must finish): one that arrives is
    sent again when the block ends, to the handlers found. Only in the main thread."""
    if not _main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in SIGNALS}
    deferred: list[int] = []
    for s in SIGNALS:
        if previous[s] is not signal.SIG_IGN:
            signal.signal(s, lambda signum, _frame: deferred.append(signum))
    try:
        yield
    finally:
        _restore(previous)
        for s in dict.fromkeys(deferred):
            signal.raise_signal(s)


@contextlib.contextmanager
def held() -> Iterator[None]:
    """Block SIGINT and SIGTERM in this thread within the block; they are delivered when it
    ends. Around a fork: the child starts with them blocked (see :func:`child_start`), and no
    handler runs in the parent's at-fork hooks, where its exception would be lost."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def child_start() -> None:
    """In a worker forked under :func:`held`: ignore SIGINT (the parent, which gets it too, ends
    its workers), die on SIGTERM, then unblock both."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)
