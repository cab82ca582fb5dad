"""The worker task: a batch of runs, run_task, and keeping run folders."""

from __future__ import annotations

import fnmatch
import hashlib
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..loading import ScenarioError, parse_scenario
from ..safe_write import copy_file, make_dir, remove
from .plan import Plan


@dataclass(frozen=True)
class Task:
    """A batch of runs for one worker: the base scenario text and, per run, its overrides."""

    base_text: str
    base_source: str
    fixed: tuple
    metrics: tuple
    runs: tuple  # ((point_id, replication, seed, ((path, value), ...)), ...)
    keep_dir: str | None = None  # write full run folders of the first replications here ...
    keep_below: int = 0  # ... those with replication index below this (for fan charts)
    collect: Any = None  # callable(result) -> {metric: value}, added to each run's metrics (Plan.collect)


_SCENARIOS: dict = {}


def _scenario_for(task: Task, overrides: tuple):
    key = (hashlib.sha1(task.base_text.encode()).hexdigest(), task.fixed, overrides)
    scenario = _SCENARIOS.get(key)
    if scenario is None:
        merged = {path: _thaw(value) for path, value in (*task.fixed, *overrides)}
        scenario = parse_scenario(task.base_text, task.base_source, merged, default_name=Path(task.base_source).stem)
        if len(_SCENARIOS) > 16:
            _SCENARIOS.clear()
        _SCENARIOS[key] = scenario
    return scenario


def _select(headline: Mapping[str, float], patterns: Sequence[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for pattern in patterns:
        if any(ch in pattern for ch in "*?["):
            for name in headline:
                if fnmatch.fnmatchcase(name, pattern):
                    out.setdefault(name, float(headline[name]))
        else:
            out.setdefault(pattern, float(headline.get(pattern, math.nan)))
    return out


def run_task(task: Task) -> list[dict]:
    """Run a batch; a run that raises is returned with its error, the others go on."""
    from ..runner import run

    rows = []
    for point_id, replication, seed, overrides in task.runs:
        started = time.perf_counter()
        row: dict[str, Any] = {"point_id": point_id, "replication": replication, "seed": seed}
        try:
            keep = task.keep_dir is not None and replication < task.keep_below
            result = run(_scenario_for(task, overrides), seed=seed, headline_only=not keep)
            row["metrics"] = _select(result.headline, task.metrics)
            if task.collect is not None:
                row["metrics"].update(task.collect(result))
            row["error"] = None
            if keep:
                _keep_run(result, Path(task.keep_dir) / "replications" / f"seed{seed}")
        except Exception as err:  # noqa: BLE001 - recorded, and the sweep goes on
            text = "; ".join(err.lines) if isinstance(err, ScenarioError) else str(err)
            row["metrics"] = {}
            row["error"] = f"{type(err).__name__}: {text}"
        row["wall_seconds"] = time.perf_counter() - started  # the run, and building its scenario if new
        rows.append(row)
    return rows


def _keep_run(result, folder: Path) -> None:
    """Write a replication's full run folder (atomically; a stale one is replaced)."""
    from ..results import write_run

    remove(folder)  # a link there is removed, not followed
    make_dir(folder.parent)
    write_run(result, folder)


def keep_representative(plan: Plan, folder: str | Path) -> Path | None:
    """Copy replication 0's run files into ``folder`` itself, so that the folder reads as a run
    folder (its report then shows the kept replications as fan charts); returns the folder."""
    folder = Path(folder)
    first = folder / "replications" / f"seed{plan.seed_of(0, 0)}"
    if not (first / "manifest.json").is_file():
        return None
    for item in first.iterdir():
        if item.is_file() and not item.is_symlink():
            copy_file(item, folder / item.name)  # renamed over: never written through a planted link
    return folder


def _batches(plan: Plan, todo: list[tuple[int, int]], workers: int, batch: int | None,
             keep_dir: Path | None = None, keep_below: int = 0) -> list[Task]:
    if batch is None:
        batch = max(1, min(25, math.ceil(len(todo) / (workers * 6))))
    fixed = tuple(plan.fixed.items())  # in the order given: a later override of an overlapping path wins
    tasks = []
    for i in range(0, len(todo), batch):
        runs = tuple((p, r, plan.seed_of(p, r), tuple(plan.points[p].items())) for p, r in todo[i:i + batch])
        tasks.append(Task(plan.base_text, plan.base_source, _freeze(fixed), tuple(plan.metrics), _freeze(runs),
                          str(keep_dir) if keep_dir is not None and keep_below > 0 else None, keep_below, plan.collect))
    return tasks


class _FrozenMapping(tuple):
    """A mapping frozen as its ``(key, value)`` pairs, told apart from a frozen list by its type."""

    __slots__ = ()


def _freeze(value: Any) -> Any:
    """A hashable copy of overrides (tasks are cache keys); :func:`_thaw` gives the value back."""
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, Mapping):
        return _FrozenMapping((k, _freeze(v)) for k, v in value.items())
    return value


def _thaw(value: Any) -> Any:
    """An override value as given: mappings as dicts, lists as lists."""
    if isinstance(value, _FrozenMapping):
        return {k: _thaw(v) for k, v in value}
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return value
