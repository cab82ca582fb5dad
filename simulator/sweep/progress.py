"""Progress of a sweep: one line on stderr."""

from __future__ import annotations

import math
import sys
import time


class Progress:
    """One stderr line: runs done, failed, and time left (a bar on a terminal)."""

    def __init__(self, total: int, skipped: int, enabled: bool = True, stream=None, label: str = "runs"):
        self.total, self.skipped, self.enabled = total, skipped, enabled
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.started = time.monotonic()
        self.done = self.failed = 0
        self._last = 0.0
        self.label = label

    def update(self, done: int, failed: int) -> None:
        self.done += done
        self.failed += failed
        now = time.monotonic()
        finished = self.skipped + self.done >= self.total
        if not self.enabled or (not finished and now - self._last < (0.2 if self.tty else 10.0)):
            return
        self._last = now
        if self.tty:
            self.stream.write("\r\033[K" + self.line() + ("\n" if finished else ""))
        else:
            self.stream.write(self.line() + "\n")
        self.stream.flush()

    def line(self) -> str:
        todo = self.total - self.skipped
        elapsed = time.monotonic() - self.started
        left = elapsed / self.done * (todo - self.done) if self.done else math.nan
        frac = (self.skipped + self.done) / self.total if self.total else 1.0
        bar = "#" * int(frac * 24) + "." * (24 - int(frac * 24))
        eta = "?" if math.isnan(left) else _clock(left)
        skipped = f", {self.skipped} already done" if self.skipped else ""
        return (f"[{bar}] {self.skipped + self.done}/{self.total} {self.label}{skipped}, {self.failed} failed, "
                f"{_clock(elapsed)} elapsed, {eta} left")


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
