"""Executors: local processes (concurrent.futures) and Dask distributed."""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from .errors import SweepError


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


class Executor:
    """The one interface sweeps use: run ``fn`` on each task, yield ``(task, result, error)`` as
    tasks finish (in any order). ``error`` is an exception of the machinery (a lost worker),
    never of a run: runs catch their own errors."""

    workers: int = 1

    def map_unordered(self, fn: Callable, tasks: Sequence) -> Iterator[tuple[Any, Any, BaseException | None]]:
        raise NotImplementedError

    def close(self, cancel: bool = False) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, kind, *_):
        self.close(cancel=kind is not None)


class LocalExecutor(Executor):
    """Local processes (concurrent.futures); ``workers=1`` runs in this process.

    ``start_method``: how worker processes start ("forkserver", the default, or "spawn"; see
    :mod:`multiprocessing`). Both import the calling script again in each worker, so a script
    must make its sweep call under ``if __name__ == "__main__":``."""

    def __init__(self, workers: int | None = None, start_method: str = "forkserver"):
        self.workers = max(1, workers or available_cores())
        self.start_method = start_method
        self._pool: cf.ProcessPoolExecutor | None = None

    def map_unordered(self, fn, tasks):
        if self.workers == 1:
            for task in tasks:
                yield task, fn(task), None
            return
        if self._pool is None:
            ctx = multiprocessing.get_context(self.start_method)
            if self.start_method == "forkserver":
                ctx.set_forkserver_preload(["simulator.sweep", "simulator.runner"])
            self._pool = cf.ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx)
        futures = {self._pool.submit(fn, task): task for task in tasks}
        for future in cf.as_completed(futures):
            try:
                yield futures[future], future.result(), None
            except Exception as err:  # noqa: BLE001 - e.g. BrokenProcessPool
                yield futures[future], None, err

    def close(self, cancel: bool = False) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=not cancel, cancel_futures=cancel)
            self._pool = None


class DaskExecutor(Executor):
    """Dask distributed: a scheduler address (``tcp://host:8786``), an existing ``Client``, or a
    local cluster of ``workers`` processes (threads if ``processes=False``).
    Needs ``resim[distributed]``; workers of a remote cluster need resim installed."""

    def __init__(self, scheduler: Any = None, workers: int | None = None, processes: bool = True):
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise SweepError(["--executor dask needs dask.distributed: install resim[distributed] "
                              "(pip install -e '.[distributed]')"]) from None
        self._cluster = None
        if scheduler is not None and not isinstance(scheduler, str):
            self.client, self._own_client = scheduler, False
        elif scheduler:
            try:
                self.client = Client(scheduler, timeout="20s")
            except OSError as err:
                raise SweepError([f"--scheduler {scheduler}: cannot connect to a Dask scheduler ({err})"]) from None
            self._own_client = True
        else:
            self._cluster = LocalCluster(n_workers=workers or available_cores(), threads_per_worker=1,
                                         processes=processes, dashboard_address=None)
            self.client, self._own_client = Client(self._cluster), True
        self.workers = max(1, sum(self.client.nthreads().values()))

    def map_unordered(self, fn, tasks):
        from distributed import as_completed

        futures = {}
        for task in tasks:
            futures[self.client.submit(fn, task, pure=False)] = task
        self._futures = list(futures)
        for future in as_completed(list(futures)):
            try:
                yield futures[future], future.result(), None
            except Exception as err:  # noqa: BLE001 - e.g. KilledWorker
                yield futures[future], None, err

    def close(self, cancel: bool = False) -> None:
        if cancel and getattr(self, "_futures", None):
            self.client.cancel(self._futures)
        if self._own_client:
            self.client.close()
        if self._cluster is not None:
            self._cluster.close()


def make_executor(executor: str | Executor = "local", workers: int | None = None, scheduler: str | None = None) -> Executor:
    if isinstance(executor, Executor):
        return executor
    if workers is not None and workers < 1:
        raise SweepError([f"--workers {workers}: expected a number of workers >= 1, got {workers}"])
    if executor == "local":
        if scheduler:
            raise SweepError([f"--scheduler {scheduler}: expected --executor dask with a scheduler, got --executor local"])
        return LocalExecutor(workers)
    if executor == "dask":
        return DaskExecutor(scheduler, workers)
    raise SweepError([f"--executor {executor}: expected local or dask, got {executor!r}"])
