"""Approximate Bayesian computation by sequential Monte Carlo (ABC-PMC), in numpy and scipy.

Population Monte Carlo ABC (Beaumont, Cornuet, Marin & Robert 2009, Biometrika 96:983) with a
tolerance set from each round's own distances (a quantile, as in Drovandi & Pettitt 2011 and
pyABC's quantile tolerance). It fits the sweep machinery: every round is one batch of ``N``
parameter points, ``M`` replications each, known before the round starts.

1. Round 0 draws ``N`` points from the prior. Round t >= 1 draws ``N`` points from the last
   round's weighted particles, each moved by a Gaussian step with twice their weighted
   covariance; a point outside the prior's support is dropped without being simulated.
2. Each point is simulated ``M`` times; ``d[i, j]`` is the distance of replication j's summary
   statistics from the observed ones.
3. The round's tolerance ``eps`` is the ``KEEP`` quantile (0.5) of its distances, and never
   above the last round's. ``a_i`` = the replications of point i within ``eps`` (M replications
   estimate the ABC likelihood, which keeps the weights unbiased whatever M).
4. Weights: ``w_i = a_i prior(θ_i) / q(θ_i)``, q the density the points were drawn from (the
   prior in round 0, the mixture of Gaussian steps after), normalised to sum to 1.

The weighted particles of the last round are the posterior sample.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.special import logsumexp

KEEP = 0.5  # a round's tolerance: this quantile of its distances


def ess(weights: np.ndarray) -> float:
    """Effective sample size of normalised or unnormalised weights."""
    total = weights.sum()
    return float(total * total / np.square(weights).sum()) if total > 0 else 0.0


def within(distances: np.ndarray, eps: float) -> np.ndarray:
    """a_i(eps): per point (row), the replications within ``eps`` (a failed run's inf never is)."""
    return (np.isfinite(distances) & (distances <= eps)).sum(axis=1).astype(float)


def tolerance(distances: np.ndarray, keep: float = KEEP) -> float:
    """The ``keep`` quantile of the round's finite distances (inf if none is finite)."""
    finite = distances[np.isfinite(distances)]
    return float(np.quantile(finite, keep)) if finite.size else math.inf


def weighted_cov(theta: np.ndarray, weights: np.ndarray) -> np.ndarray:
    w = weights / weights.sum()
    centred = theta - w @ theta
    return np.atleast_2d((centred * w[:, None]).T @ centred)


def kernel_cov(theta: np.ndarray, weights: np.ndarray, scale: Sequence[float]) -> np.ndarray:
    """Twice the particles' weighted covariance (Beaumont et al. 2009), with a floor of
    ``scale`` x 1e-3 per parameter so that a collapsed population still moves."""
    alive = weights > 0
    return 2.0 * weighted_cov(theta[alive], weights[alive]) + np.diag((np.asarray(scale, dtype=float) * 1e-3) ** 2)


def propose(theta: np.ndarray, weights: np.ndarray, cov: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points: a particle drawn by weight, moved by a Gaussian step of covariance ``cov``."""
    ancestors = rng.choice(len(theta), size=n, p=weights / weights.sum())
    return theta[ancestors] + rng.standard_normal((n, theta.shape[1])) @ np.linalg.cholesky(cov).T


def propose_within(theta: np.ndarray, weights: np.ndarray, cov: np.ndarray, n: int, rng: np.random.Generator,
                   priors: Sequence, tries: int = 1000) -> np.ndarray:
    """``n`` points of :func:`propose` inside the prior's support (drawn again until they are:
    the mixture truncated to the support, whose normalising constant cancels in the weights)."""
    out = np.empty((0, theta.shape[1]))
    for _ in range(tries):
        more = propose(theta, weights, cov, n, rng)
        out = np.vstack([out, more[np.isfinite(log_prior(priors, more))]])
        if len(out) >= n:
            return out[:n]
    return out


def log_proposal(points: np.ndarray, theta: np.ndarray, weights: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """log q(point): the density of the mixture :func:`propose` draws from."""
    alive = weights > 0
    diff = points[:, None, :] - theta[alive][None, :, :]
    quad = np.einsum("pnd,de,pne->pn", diff, np.linalg.inv(cov), diff)
    _, logdet = np.linalg.slogdet(cov)
    log_k = -0.5 * (quad + logdet + points.shape[1] * np.log(2 * np.pi))
    return logsumexp(log_k + np.log(weights[alive] / weights[alive].sum())[None, :], axis=1)


def log_prior(priors: Sequence, theta: np.ndarray) -> np.ndarray:
    """Sum of the parameters' prior log densities, per row (-inf outside the support)."""
    out = np.zeros(len(theta))
    for k, dist in enumerate(priors):
        with np.errstate(divide="ignore"):
            out += dist.logpdf(theta[:, k])
    return out


def importance_weights(a: np.ndarray, log_prior_: np.ndarray, log_q: np.ndarray) -> np.ndarray:
    """``a prior / q``, normalised (all zero if no point came within the tolerance)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        log_w = np.where(a > 0, np.log(np.maximum(a, 1e-300)) + log_prior_ - log_q, -np.inf)
    finite = np.isfinite(log_w)
    if not finite.any():
        return np.zeros(len(a))
    w = np.where(finite, np.exp(log_w - log_w[finite].max()), 0.0)
    return w / w.sum()


def weighted_quantiles(values: np.ndarray, weights: np.ndarray, qs: Sequence[float]) -> np.ndarray:
    """Quantiles of a weighted sample (the inverse of its step-wise distribution, midpoint rule)."""
    order = np.argsort(values, kind="stable")
    v, w = values[order], weights[order]
    keep = w > 0
    v, w = v[keep], w[keep] / w[keep].sum()
    mid = np.cumsum(w) - 0.5 * w
    return np.interp(qs, mid, v)


def weighted_corr(theta: np.ndarray, weights: np.ndarray) -> np.ndarray:
    cov = weighted_cov(theta[weights > 0], weights[weights > 0])
    sd = np.sqrt(np.diag(cov))
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = cov / np.outer(sd, sd)
    return np.where(np.isfinite(corr), corr, math.nan)
