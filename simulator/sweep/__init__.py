"""Monte Carlo replications, parameter sweeps and Sobol' sensitivity, on local cores or Dask.

    from simulator import run_sweep
    runs = run_sweep("inventory_vs_approval")          # one row per run (a DataFrame); a file or a bundled name

A sweep file names a base scenario, parameters addressed by the dotted paths of ``--set``, a
design (full ``grid``, ``latin_hypercube`` of N points, ``sobol`` (Saltelli) of N base points),
replications per point and the headline metrics to collect (see ``sweeps/*.yaml``).

Reproducibility: a run's seed comes from ``SeedSequence`` of the sweep seed and depends only on
its replication (common random numbers across points, the default) or on its point and
replication, never on the executor, the number of workers or the order runs finish in.

Results (``results/<sweep-name>/``): ``runs.parquet`` (CSV without pyarrow), one row per run,
appended as runs finish (``runs/part-*`` files, merged at the end) so an interrupted sweep
loses nothing and running it again only runs what is missing; ``summary.csv`` per point and
metric; ``sensitivity.csv`` for Sobol' designs; ``points.csv``; ``sweep.json``.
"""

from __future__ import annotations

import sys as _sys
import types as _types

# Re-exported: the CLI, tests and benchmarks use these names from simulator.sweep.
from .api import _finish, _replications_folder, _results_folder, execute, replicate, sweep  # noqa: F401
from .design import _from_unit, design_points  # noqa: F401
from .errors import KEY_COLUMNS, TAIL_COLUMNS, SweepError, SweepFailed, SweepInterrupted  # noqa: F401
from .executors import DaskExecutor, Executor, LocalExecutor, available_cores, make_executor  # noqa: F401
from .plan import Plan, metric_names, plan_replications, plan_sweep  # noqa: F401
from .progress import Progress  # noqa: F401
from .spec import (Design, Grid, Identifier, LatinHypercube, LoadedSweep, Parameter, Range, Scalar, Sobol,  # noqa: F401
                   SweepSpec, Values, load_sweep)
from .store import ResultStore  # noqa: F401
from .summary import format_replications, format_sweep, summarise  # noqa: F401
from .tasks import Task, _batches, keep_representative, run_task  # noqa: F401

__all__ = ["sweep", "run_sweep", "replicate", "SweepSpec", "SweepError", "SweepFailed", "SweepInterrupted", "Plan", "load_sweep", "plan_sweep",
           "plan_replications", "execute", "summarise", "LocalExecutor", "DaskExecutor", "make_executor",
           "format_replications", "format_sweep", "KEY_COLUMNS"]

run_sweep = sweep  # the name ``simulator.run_sweep`` exports


class _CallableModule(_types.ModuleType):
    """``simulator.sweep(...)`` runs a sweep, as when the package's ``sweep`` was the function:
    the name is the subpackage now (``simulator.sweep.plan_sweep`` ...), still callable."""

    def __call__(self, *args, **kwargs):
        return sweep(*args, **kwargs)


_sys.modules[__name__].__class__ = _CallableModule
