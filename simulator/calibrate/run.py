"""Running a calibration: ABC-PMC rounds (:mod:`.smc`), each round a batch of runs on the sweep
machinery (executors, resumable store, failed runs recorded) in ``rounds/round-NNN/``.

Every random choice of a round comes from ``SeedSequence(seed)`` and the round's number, and
each round's runs are stored as they finish, so the same command again redoes nothing: it
reads the rounds already run, follows the same path, and runs only what is missing (a larger
``budget`` continues where the last call stopped).

Random numbers of the runs: with ``common_random_numbers`` (the default) every point of a
round is simulated with the same M seeds (children of the round's seed), which sharpens the
comparison between points; each round has new seeds, so the posterior is not tied to one
draw of luck.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..sweep.api import execute
from ..sweep.executors import Executor
from ..sweep.plan import Plan
from . import smc
from .plan import CalibrationPlan
from .spec import CalibrationError
from .series import PREFIX, SeriesCollector, column

_SIM, _ALGO = 0xC0FFEE, 0xABC  # spawn keys: the rounds' run seeds, the algorithm's own draws


def _round_seed(seed: int, t: int) -> int:
    state = np.random.SeedSequence(seed, spawn_key=(_SIM, t)).generate_state(1, np.uint64)[0]
    return int(state >> np.uint64(1))


def _rng(seed: int, t: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_ALGO, t)))


@dataclass
class Population:
    """The particles (N x D), weights, distances (N x M) and simulated rows (N x M x K)."""

    theta: np.ndarray
    weights: np.ndarray
    distances: np.ndarray
    sims: np.ndarray
    eps: float = math.inf


@dataclass
class RoundLog:
    """One round: ``eps`` (tolerance), ``ess`` (effective sample size of its weights), ``runs``,
    ``points`` simulated, ``accepted`` (points with a replication within eps), ``failed`` runs."""

    round: int
    eps: float
    ess: float
    runs: int
    points: int
    accepted: int
    failed: int

    def as_dict(self) -> dict:
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in self.__dict__.items()}


@dataclass
class SmcResult:
    population: Population
    rounds: list[RoundLog] = field(default_factory=list)
    runs: int = 0
    stopped: str = ""
    lost: int = 0


def _plan(cp: CalibrationPlan, t: int, thetas: np.ndarray) -> Plan:
    points = [cp.point(theta) for theta in thetas]
    fingerprint = hashlib.sha256(json.dumps([cp.fingerprint, t, points], default=str).encode()).hexdigest()
    return Plan(f"{cp.name}-round{t:03d}", cp.base_text, cp.base_source, cp.fixed, list(cp.names), points,
                cp.spec.replications, _round_seed(cp.seed, t), cp.spec.common_random_numbers, [PREFIX + "*"],
                {"type": "calibration_round", "round": t}, fingerprint, None,
                {**cp.description, "round": t}, collect=SeriesCollector(cp.keys))


def _simulate(cp: CalibrationPlan, t: int, thetas: np.ndarray, folder, executor: Executor, progress: bool,
              fresh: bool) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Distances (P x M), simulated rows (P x M x K), failed runs, lost runs of ``thetas``."""
    m, k = cp.spec.replications, len(cp.observed)
    sims = np.full((len(thetas), m, k), np.nan)
    if len(thetas) == 0:
        return np.zeros((0, m)), sims, 0, 0
    plan = _plan(cp, t, thetas)
    runs, info = execute(plan, folder / "rounds" / f"round-{t:03d}", executor, progress=progress, fresh=fresh)
    runs = runs.copy()
    cols = [column(i) for i in range(k)]
    for c in cols:
        if c not in runs:
            runs[c] = np.nan
    p, r = runs["point_id"].to_numpy(int), runs["replication"].to_numpy(int)
    values = runs[cols].to_numpy(float, copy=True)
    values[runs["error"].notna().to_numpy()] = np.nan
    sims[p, r] = values
    distances = cp.statistics.distance(sims)
    return distances, sims, int(runs["error"].notna().sum()), int(info["lost"])


def run_smc(cp: CalibrationPlan, folder, executor: Executor, budget: int, progress: bool = False,
            fresh: bool = False, report=None) -> SmcResult:
    """ABC-PMC rounds (see :mod:`.smc`) while the budget affords one more; ``report(log)`` after each."""
    n, m = cp.spec.population, cp.spec.replications
    priors = cp.frozen()
    scale = np.array([d.ppf(0.95) - d.ppf(0.05) for d in priors])
    out = SmcResult(None)
    pop = None
    t = 0
    while True:
        rng = _rng(cp.seed, t)
        if pop is None:
            points = np.column_stack([d.rvs(size=n, random_state=rng) for d in priors])
        else:
            cov = smc.kernel_cov(pop.theta, pop.weights, scale)
            points = smc.propose_within(pop.theta, pop.weights, cov, n, rng, priors)
        lp = smc.log_prior(priors, points)
        if out.runs + len(points) * m > budget:
            out.stopped = f"the budget of {budget:,} runs is spent"
            break
        distances, sims, failed, lost = _simulate(cp, t, points, folder, executor, progress, fresh)
        out.runs += len(points) * m
        out.lost += lost
        if lost:
            out.stopped = f"{lost} runs were not done (a worker was lost); run the same command again to do them"
            break
        eps = smc.tolerance(distances)
        log_q = lp if pop is None else smc.log_proposal(points, pop.theta, pop.weights, cov)
        weights = smc.importance_weights(smc.within(distances, eps), lp, log_q)
        if weights.sum() <= 0 and pop is None:
            raise CalibrationError([f"{cp.source}: round 0: expected some runs whose statistics can be compared with the "
                                    "observed ones, got none (every run failed, or exported nothing in the baseline months)"])
        if weights.sum() <= 0:
            out.stopped = f"no point of round {t} came within the tolerance {eps:.4g}; the last round's particles are kept"
            break
        pop = Population(points, weights, distances, sims, eps)
        out.population = pop
        out.rounds.append(RoundLog(t, eps, smc.ess(weights), len(points) * m, len(points), int((weights > 0).sum()),
                                   failed))
        if report:
            report(out.rounds[-1])
        t += 1
    return out


def predictive(cp: CalibrationPlan, pop: Population) -> pd.DataFrame:
    """The final particles' simulations against the observed rows: median and 90% band (weighted)."""
    k = len(cp.observed)
    w = np.repeat(pop.weights[:, None], pop.sims.shape[1], axis=1).reshape(-1)
    flat = pop.sims.reshape(-1, k)
    ok = np.isfinite(flat).all(axis=1) & (w > 0)
    table = cp.observed[["reporter", "partner", "hs_code", "material", "period"]].copy()
    table["observed_t"] = cp.observed["tonnes"].to_numpy(float)
    q = np.array([smc.weighted_quantiles(flat[ok, j], w[ok], [0.5, 0.05, 0.95]) if ok.any() else [np.nan] * 3
                  for j in range(k)])
    table["simulated_p50_t"], table["simulated_p05_t"], table["simulated_p95_t"] = q[:, 0], q[:, 1], q[:, 2]
    table["in_band"] = ((table["observed_t"] >= table["simulated_p05_t"]) &
                        (table["observed_t"] <= table["simulated_p95_t"])).astype(float)
    return table
