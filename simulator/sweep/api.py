"""Running a plan (execute) and the public sweep() and replicate()."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import math
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import pandas as pd

from .errors import KEY_COLUMNS, TAIL_COLUMNS, SweepError, SweepFailed, SweepInterrupted
from .executors import Executor, make_executor
from .folder import check_folder, kind_of
from .plan import Plan, _json_value, plan_replications, plan_sweep
from .progress import Progress
from .store import ResultStore, _atomic_write, _storable
from .summary import summarise
from .tasks import _batches, run_task


def _manifest(plan: Plan, folder: Path, store: ResultStore, extra: dict) -> dict:
    from ..runner import version

    return {"name": plan.name, "fingerprint": plan.fingerprint, **plan.description,
            "seed": plan.seed, "common_random_numbers": plan.common_random_numbers, "design": plan.design,
            "parameters": plan.parameters, "points": len(plan.points), "replications": plan.replications,
            "runs": plan.runs, "metrics": plan.metrics, "fixed_overrides": {k: _json_value(v) for k, v in plan.fixed.items()},
            "format": store.ext, "package_version": version(), **extra}


def _check_folder(plan: Plan, folder: Path, fresh: bool) -> None:
    """Refuse a folder that is not this sweep's (or these replications') own; ``fresh``: discard
    only what an earlier call wrote there (:mod:`simulator.sweep.folder`)."""
    check_folder(folder, kind_of(plan.design), plan.fingerprint, fresh)


def execute(plan: Plan, folder: str | Path, executor: Executor, *, progress: bool | None = None, fresh: bool = False,
            retry_failed: bool = False, batch: int | None = None, parquet: bool | None = None,
            stream=None, keep_runs: int = 0) -> tuple[pd.DataFrame, dict]:
    """Run what is missing from ``folder``; return (this plan's runs, information about the call).

    ``progress``: a bar on stderr (None: only on a terminal).
    ``keep_runs``: also write the full run folders of replications 0..keep_runs-1 under
    ``folder/replications/`` (the workers must see ``folder``: local processes, or a Dask
    cluster on a shared file system).

    Raises :class:`SweepFailed` (after saving what was recorded) if not one run succeeded."""
    folder = Path(folder)
    _check_folder(plan, folder, fresh)
    store = ResultStore(folder, parquet)
    existing = store.load()  # a damaged table or part file is refused before anything is written
    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    try:
        created = json.loads((folder / "sweep.json").read_text(encoding="utf-8")).get("created", now)
    except (OSError, ValueError):
        created = now
    data = _manifest(plan, folder, store, {"created": created, "updated": now})
    _atomic_write(folder / "sweep.json", lambda p: p.write_text(json.dumps(data, indent=2, default=str) + "\n"))
    points = pd.DataFrame([{"point_id": i, **p} for i, p in enumerate(plan.points)])
    _atomic_write(folder / "points.csv", lambda p: _storable(points).to_csv(p, index=False, lineterminator="\n"))
    if retry_failed and len(existing):
        existing = existing[existing["error"].isna()]
    done = set(zip(existing["point_id"].astype(int), existing["replication"].astype(int))) if len(existing) else set()
    todo = [key for key in plan.keys() if key not in done]
    info = {"folder": folder, "runs": plan.runs, "skipped": plan.runs - len(todo), "ran": 0, "failed": 0,
            "lost": 0, "lost_error": None, "workers": executor.workers, "seconds": 0.0}
    bar = Progress(plan.runs, plan.runs - len(todo), progress, stream)
    started = time.perf_counter()
    if todo:
        tasks = _batches(plan, todo, executor.workers, batch, folder.resolve(), keep_runs)
        try:
            for task, rows, err in executor.map_unordered(run_task, tasks):
                if err is not None:
                    info["lost"] += len(task.runs)
                    info["lost_error"] = info["lost_error"] or _lost_reason(err)
                    bar.update(0, len(task.runs))
                    continue
                for row in rows:
                    row["parameters"] = plan.points[row["point_id"]]
                store.append(rows)
                failed = sum(1 for r in rows if r["error"])
                info["ran"] += len(rows)
                info["failed"] += failed
                bar.update(len(rows), failed)
        except KeyboardInterrupt:
            executor.close(cancel=True)
            store.compact()
            raise SweepInterrupted(folder, info["skipped"] + info["ran"], plan.runs) from None
        finally:
            bar.close()
    info["seconds"] = time.perf_counter() - started
    table = _this_plan(store.compact(), plan)
    _check_some_ran(plan, table, info, folder)
    return table, info


def _lost_reason(err: BaseException) -> str:
    """Why a batch never came back, in one line; a broken pool says what usually breaks it."""
    text = " ".join(f"{type(err).__name__}: {err}".split()).rstrip(".")
    if isinstance(err, BrokenProcessPool):
        text += (' (the worker processes died; a script that runs sweeps or replications on several processes '
                 'must make the call under `if __name__ == "__main__":`, as Python\'s multiprocessing '
                 'documentation requires, or use workers=1)')
    return text


def _check_some_ran(plan: Plan, table: pd.DataFrame, info: dict, folder: Path) -> None:
    """Raise :class:`SweepFailed` if not one run of the plan succeeded (lost or raised, all of them)."""
    if plan.runs == 0 or (len(table) and table["error"].isna().any()):
        return
    failed = int(table["error"].notna().sum()) if len(table) else 0
    first = str(table["error"].dropna().iloc[0]) if failed else None
    first = info["lost_error"] or first or "no run was done"
    raise SweepFailed(folder, plan.runs, failed, plan.runs - failed, " ".join(first.split()))


def _this_plan(table: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    if len(table):
        table = table[(table["point_id"] < len(plan.points)) & (table["replication"] < plan.replications)]
    metric_cols = [c for c in table.columns if c not in set(KEY_COLUMNS) | set(TAIL_COLUMNS) | set(plan.parameters)]
    explicit = [m for m in plan.metrics if not any(ch in m for ch in "*?[")]
    metric_cols = explicit + [c for c in metric_cols if c not in explicit]
    for c in metric_cols:
        if c not in table:
            table[c] = math.nan
    columns = KEY_COLUMNS + plan.parameters + metric_cols + TAIL_COLUMNS
    for c in plan.parameters:
        if c not in table:
            table[c] = None
    table = table[columns].reset_index(drop=True)
    table.attrs = {"name": plan.name, "parameters": list(plan.parameters), "metrics": metric_cols}
    return table


def _finish(plan: Plan, runs: pd.DataFrame, info: dict, folder: Path) -> tuple[pd.DataFrame, pd.DataFrame | None, str]:
    summary = summarise(runs)
    _atomic_write(folder / "summary.csv", lambda p: _storable(summary).to_csv(p, index=False, lineterminator="\n"))
    text = ""
    sens = None
    if plan.design.get("type") == "sobol":
        from ..sensitivity import format_ranking, sweep_indices

        sens, skipped = sweep_indices(runs, plan.parameters, runs.attrs["metrics"], len(plan.points),
                                      plan.design.get("second_order", False), plan.design.get("resamples", 1000),
                                      plan.design.get("conf_level", 0.95), seed=plan.seed % 2**32)
        _atomic_write(folder / "sensitivity.csv", lambda p: sens.to_csv(p, index=False, lineterminator="\n"))
        text = format_ranking(sens, skipped, plan.design.get("conf_level", 0.95))
    return summary, sens, text


def _results_folder(plan: Plan, results: str | Path, out: str | Path | None, sub: str | None = None) -> Path:
    if out is not None:
        return Path(out)
    return Path(results) / plan.name if sub is None else Path(results) / sub


def sweep(path: str | Path, *, scenario: Any = None, workers: int | None = None, executor: str | Executor = "local",
          scheduler: str | None = None, results: str | Path = "results", out: str | Path | None = None,
          overrides: Iterable[str] | Mapping[str, Any] = (), fresh: bool = False, retry_failed: bool = False,
          progress: bool = False, batch: int | None = None, save: bool = True) -> pd.DataFrame:
    """Run the sweep file ``path`` (or a bundled sweep's name); return one row per run (point id,
    replication, seed, every swept parameter, every metric, wall seconds, error or None).

    ``scenario`` (a :class:`~simulator.Scenario`, a file or a bundled name) replaces the base
    scenario the sweep file names. Results are written (and resumed from)
    ``results/<sweep-name>/`` or ``out``; the per-point summary (:func:`summarise` of the table)
    and, for Sobol' designs, the indices are there too (``summary.csv``, ``sensitivity.csv``).
    ``save=False`` leaves no files: the runs go through a temporary folder, removed before
    returning. ``table.attrs`` holds the folder (None without ``save``), the parameter and
    metric column names and counts of this call (``info``).
    ``executor``: "local" (processes; ``workers`` default all cores), "dask" (a local cluster,
    or ``scheduler="tcp://host:8786"``) or an :class:`Executor`.
    Raises :class:`SweepFailed` if every run was lost (a worker died) or raised."""
    plan = plan_sweep(path, overrides, scenario)
    with _folder(plan.name, save, _results_folder(plan, results, out)) as folder:
        own = not isinstance(executor, Executor)
        ex = make_executor(executor, workers, scheduler)
        try:
            runs, info = execute(plan, folder, ex, progress=progress, fresh=fresh, retry_failed=retry_failed, batch=batch)
        finally:
            if own:
                ex.close()
        _finish(plan, runs, info, folder)
    runs.attrs.update(folder=str(folder) if save else None, info={k: v for k, v in info.items() if k != "folder"})
    return runs


@contextlib.contextmanager
def _folder(name: str, save: bool, folder: Path) -> Iterator[Path]:
    """``folder``, or with ``save=False`` a temporary folder removed afterwards."""
    if save:
        yield folder
        return
    with tempfile.TemporaryDirectory(prefix="resim-") as tmp:
        yield Path(tmp) / name


def replicate(scenario: Any, replications: int, *, seed: int | None = None,
              overrides: Iterable[str] | Mapping[str, Any] = (), workers: int | None = None,
              executor: str | Executor = "local", scheduler: str | None = None, results: str | Path = "results",
              out: str | Path | None = None, progress: bool = False, fresh: bool = False,
              save: bool = True) -> pd.DataFrame:
    """``replications`` runs of a scenario (a :class:`~simulator.Scenario`, a file or a bundled
    name) with child seeds of ``seed``; one row per run (resumed from its folder; ``fresh``:
    earlier results there discarded; ``save=False``: no files left, as for :func:`sweep`).
    Raises :class:`SweepFailed` if every run was lost (a worker died) or raised."""
    plan = plan_replications(scenario, replications, seed, overrides)
    with _folder(plan.name, save, _replications_folder(plan, results, out)) as folder:
        own = not isinstance(executor, Executor)
        ex = make_executor(executor, workers, scheduler)
        try:
            runs, info = execute(plan, folder, ex, progress=progress, fresh=fresh)
        finally:
            if own:
                ex.close()
        _finish(plan, runs, info, folder)
    runs.attrs.update(folder=str(folder) if save else None)
    return runs


def _replications_folder(plan: Plan, results: str | Path, out: str | Path | None) -> Path:
    if out is not None:
        return Path(out)
    tag = hashlib.sha256((plan.fingerprint).encode()).hexdigest()[:8]
    return Path(results) / plan.description["scenario"] / f"replications-seed{plan.seed}-{tag}"
