"""Inferring hidden parameters of a scenario from an observed series (``resim calibrate``).

    from simulator.calibrate import calibrate
    result = calibrate("calibrations/licensing_2025_regime.yaml", workers=2)
    result.parameters          # per parameter: median, 50%/90% intervals, narrowing, verdict

A calibration file names the scenario, the observed series (customs shape) and a selection,
the parameters (dotted paths, as in sweeps) with priors, the summary statistics, replications
per point and a budget of runs. Inference is ABC-SMC (:mod:`.smc`) on the sweep machinery
(:mod:`.run`). Results in ``results/calibrations/<name>/`` (or ``out``): ``posterior.csv``,
``parameters.csv``, ``correlations.csv``, ``predictive.csv``, ``rounds.csv``,
``calibration.json``, ``report.html`` with ``predictive.png`` and ``marginals.png``, and the
runs of every round under ``rounds/round-NNN/`` (resumable).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..safe_write import make_dir, replacing, write_text
from ..sweep.executors import Executor, make_executor
from ..sweep.folder import discard
from . import posterior
from .plan import CalibrationPlan, plan_calibration
from .report import write_report
from .run import RoundLog, predictive, run_smc
from .spec import CalibrationError, load_calibration

__all__ = ["calibrate", "Calibration", "CalibrationError", "plan_calibration", "load_calibration", "format_calibration"]

OWN_FILES = ("posterior.csv", "parameters.csv", "correlations.csv", "predictive.csv", "rounds.csv", "report.html",
             "predictive.png", "marginals.png")


@dataclass
class Calibration:
    folder: Path
    posterior: pd.DataFrame
    parameters: pd.DataFrame
    correlations: pd.DataFrame
    predictive: pd.DataFrame
    rounds: pd.DataFrame
    runs: int
    stopped: str
    lost: int = 0  # runs lost with their worker (the same call again does them)


def _prepare(folder: Path, fingerprint: str, fresh: bool) -> None:
    """A new or empty folder, or this calibration's own (fresh: what it wrote there is removed)."""
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise CalibrationError([f"{folder}: expected a results folder, got a file or a link; choose another --out"])
    if not folder.is_dir() or not any(folder.iterdir()):
        return
    manifest = folder / "calibration.json"
    if not manifest.is_file():
        raise CalibrationError([f"{folder}: not empty and not a calibration's results folder (no calibration.json); "
                                "nothing was changed; choose another --out (a new or empty folder)"])
    try:
        old = json.loads(manifest.read_text(encoding="utf-8")).get("fingerprint")
    except (OSError, ValueError, AttributeError):
        old = None
    if fresh:
        rounds = folder / "rounds"
        if rounds.is_dir() and not rounds.is_symlink():
            for sub in sorted(rounds.glob("round-*")):
                if sub.is_dir() and not sub.is_symlink() and (sub / "sweep.json").is_file():
                    discard(sub, "sweep")
                    if not any(sub.iterdir()):
                        sub.rmdir()
            if not any(rounds.iterdir()):
                rounds.rmdir()
        for name in (*OWN_FILES, "calibration.json"):
            if (folder / name).is_file() or (folder / name).is_symlink():
                os.unlink(folder / name)
    elif old != fingerprint:
        raise CalibrationError([f"{folder}: holds results of a different calibration (scenario, set:, observed series, "
                                "parameters, statistics, seed, replications or population changed); run with --fresh "
                                "to discard them, or choose another --out"])


def _write_csv(path: Path, frame: pd.DataFrame) -> None:
    with replacing(path) as handle:
        frame.to_csv(handle, index=False, float_format="%.9g", lineterminator="\n")


def calibrate(path: str | Path, *, workers: int | None = None, executor: str | Executor = "local",
              scheduler: str | None = None, results: str | Path = "results", out: str | Path | None = None,
              overrides: Iterable[str] | Mapping[str, Any] = (), fresh: bool = False, budget: int | None = None,
              progress: bool = False, report: bool = True, on_round: Callable[[RoundLog], None] | None = None) -> Calibration:
    """Run (or resume) the calibration file ``path``; ``budget`` overrides the file's."""
    plan = plan_calibration(path, overrides)
    if budget is not None and budget < 2 * plan.spec.population * plan.spec.replications:
        raise CalibrationError([f"--budget {budget}: expected at least 2 x population x replications = "
                                f"{2 * plan.spec.population * plan.spec.replications:,} runs, got {budget:,}"])
    folder = Path(out) if out is not None else Path(results) / "calibrations" / plan.name
    _prepare(folder, plan.fingerprint, fresh)
    make_dir(folder)
    about = {"name": plan.name, "fingerprint": plan.fingerprint, **plan.description, "seed": plan.seed}
    write_text(folder / "calibration.json", json.dumps({**about, "status": "running"}, indent=2, default=str) + "\n")
    own = not isinstance(executor, Executor)
    ex = make_executor(executor, workers, scheduler)
    try:
        smc_out = run_smc(plan, folder, ex, budget or plan.spec.budget, progress=progress, report=on_round)
    finally:
        if own:
            ex.close()
    return _finish(plan, folder, smc_out, about, report)


def _finish(plan: CalibrationPlan, folder: Path, smc_out, about: dict, report: bool) -> Calibration:
    pop = smc_out.population
    frozen = plan.frozen()
    samples = posterior.samples(plan.names, pop.theta, pop.weights)
    params = posterior.parameters(plan.names, plan.priors, frozen, pop.theta, pop.weights)
    corr = posterior.correlations(plan.names, pop.theta, pop.weights)
    pred = predictive(plan, pop)
    rounds = pd.DataFrame([r.as_dict() for r in smc_out.rounds])
    for name, frame in (("posterior.csv", samples), ("parameters.csv", params), ("correlations.csv", corr),
                        ("predictive.csv", pred), ("rounds.csv", rounds)):
        _write_csv(folder / name, frame)
    done = {**about, "status": "done" if not smc_out.lost else "incomplete", "runs": smc_out.runs,
            "budget": plan.spec.budget, "stopped": smc_out.stopped, "rounds": [r.as_dict() for r in smc_out.rounds]}
    if report:
        text = (f"scenario {plan.description['scenario']}, {len(plan.observed)} observed months, "
                f"{smc_out.runs:,} runs in {len(smc_out.rounds)} rounds; stopped: {smc_out.stopped or 'done'}")
        write_report(folder, plan.name, params, corr, rounds, pred, {"about": text}, plan.names, frozen,
                     pop.theta, pop.weights)
    write_text(folder / "calibration.json", json.dumps(done, indent=2, default=str) + "\n")
    return Calibration(folder, samples, params, corr, pred, rounds, smc_out.runs, smc_out.stopped, smc_out.lost)


def format_calibration(result: Calibration) -> str:
    p = result.parameters
    shown = pd.DataFrame({
        "parameter": p["parameter"], "median": p["median"].map(lambda v: f"{v:.4g}"),
        "50% interval": [f"{a:.4g} - {b:.4g}" for a, b in zip(p["p25"], p["p75"])],
        "90% interval": [f"{a:.4g} - {b:.4g}" for a, b in zip(p["p05"], p["p95"])],
        "prior 90%": [f"{a:.4g} - {b:.4g}" for a, b in zip(p["prior_p05"], p["prior_p95"])],
        "narrowing": p["narrowing"].map(lambda v: f"{v:.2f}"), "verdict": p["verdict"]})
    coverage = result.predictive["in_band"].mean()
    return "\n".join([shown.to_string(index=False), "",
                      f"{result.runs:,} runs in {len(result.rounds)} rounds ({result.stopped or 'done'}); "
                      f"posterior predictive: {coverage:.0%} of observed months in the 90% band"])
