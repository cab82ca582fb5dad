"""Drawing a report's chart sections on two forked processes (matplotlib holds the GIL), with
workers that end with the report whatever happens."""

from __future__ import annotations

import warnings
from pathlib import Path

from .. import interrupts, plots
from .data import RunData
from .html import Section

_FORKED_RUN: RunData | None = None  # the run a forked drawing worker inherits


def _draw_in_worker(fn, out: Path) -> Section:
    with plots.style(), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return fn(_FORKED_RUN, out)


def draw_charts(run: RunData, out: Path, functions) -> list[Section]:
    """Draw the chart sections, on two forked processes where the machine has the cores
    (matplotlib drawing is most of a report's time and holds the GIL)."""
    import multiprocessing as mp
    import os

    if (os.cpu_count() or 1) < 2 or "fork" not in mp.get_all_start_methods():
        return [fn(run, out) for fn in functions]
    global _FORKED_RUN
    _FORKED_RUN = run
    try:
        from concurrent.futures import ProcessPoolExecutor

        pool = ProcessPoolExecutor(max_workers=2, mp_context=mp.get_context("fork"),
                                   initializer=_worker_start, initargs=(os.getpid(),))
        try:
            with interrupts.held():  # the workers are forked at the first submit
                # production charts are the slowest: they go first so the other worker takes the rest
                futures = [pool.submit(_draw_in_worker, fn, out) for fn in functions]  # module-level functions: sent by name
            sections = [f.result() for f in futures]
            interrupts.check()
            pool.shutdown()
        except BaseException:  # Ctrl-C, SIGTERM, a chart's error: the workers end now, with us
            _end_workers(pool)
            raise
        return sections
    except (OSError, RuntimeError):  # no processes here (sandbox): draw in this one
        return [fn(run, out) for fn in functions]
    finally:
        _FORKED_RUN = None


def _worker_start(parent: int) -> None:
    """A drawing worker leaves Ctrl-C to its parent (which ends it), dies on SIGTERM, and
    (Linux) is killed if its parent dies first, so no worker outlives the report."""
    import os
    import signal
    import sys

    interrupts.child_start()
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent died before that
        os._exit(1)


def _end_workers(pool) -> None:
    """Kill a drawing pool's workers and wait for them (SIGINT and SIGTERM held off meanwhile)."""
    with interrupts.shielded():
        kill = getattr(pool, "kill_workers", None)  # Python 3.14
        processes = list((getattr(pool, "_processes", None) or {}).values())
        if kill is not None:
            kill()
        else:
            for process in processes:
                if process.is_alive():
                    process.kill()
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.join(timeout=10)
