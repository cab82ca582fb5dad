"""Progress of a sweep or of replications: a tqdm bar on stderr.

Shown on a terminal; elsewhere (a pipe, a log file, the tests) only when asked
(``enabled=True``), so outputs stay clean."""

from __future__ import annotations

import sys

from tqdm import tqdm


def wanted(enabled: bool | None, stream=None) -> bool:
    """``enabled`` if given, else whether ``stream`` (default stderr) is a terminal."""
    if enabled is not None:
        return bool(enabled)
    stream = stream or sys.stderr
    return hasattr(stream, "isatty") and stream.isatty()


class Progress:
    """Runs done (of ``total``, ``skipped`` of them done before this call) and failed."""

    def __init__(self, total: int, skipped: int, enabled: bool | None = None, stream=None, label: str = "runs"):
        self.stream = stream or sys.stderr
        self.failed = 0
        on = wanted(enabled, self.stream)
        tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        # Off a terminal (asked for): a plain line every 10 s instead of a redrawn bar.
        self.bar = tqdm(total=total, initial=skipped, desc=label, unit="run", file=self.stream, disable=not on,
                        dynamic_ncols=tty, mininterval=0.2 if tty else 10.0, postfix={"failed": 0},
                        bar_format=None if tty else "{desc}: {n}/{total}{postfix} [{elapsed} elapsed, {remaining} left]\n")

    def update(self, done: int, failed: int) -> None:
        self.failed += failed
        if failed:
            self.bar.set_postfix(failed=self.failed, refresh=False)
        self.bar.update(done)  # runs that came back (failed ones too); lost runs only count as failed

    def close(self) -> None:
        self.bar.close()
