"""Posterior sampling with emcee (affine-invariant ensemble sampler)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ranklsim.constants import FAILED_VALUE
from ranklsim.fitting.types import FITTING_EXTRA_HINT, ObjectiveLike, bounds_of, to_linear

LogPrior = Callable[[np.ndarray], float]


def _import_emcee():
    try:
        import emcee  # optional: emcee is the fitting extra
    except ImportError as exc:
        raise ImportError(f"posterior sampling needs emcee: {FITTING_EXTRA_HINT}") from exc
    return emcee


class LogPosterior:
    """``-nll(x) + log prior(x)``; ``-inf`` outside the bounds or when the simulation fails. Picklable."""

    def __init__(self, objective: ObjectiveLike, prior: str | LogPrior = "uniform") -> None:
        if not (prior == "uniform" or callable(prior)):
            raise ValueError(f"prior must be 'uniform' or a callable log-prior, got {prior!r}")
        self.objective, self.prior = objective, prior
        self.lower, self.upper = bounds_of(objective)
        self.log_volume = float(np.sum(np.log(self.upper - self.lower)))

    def __call__(self, x: np.ndarray) -> float:
        x = np.asarray(x, float)
        if np.any(x < self.lower) or np.any(x > self.upper):
            return -math.inf
        try:
            nll = float(self.objective(x))
        except Exception:  # a failing simulation is a zero-probability point
            return -math.inf
        if not math.isfinite(nll) or nll >= FAILED_VALUE:
            return -math.inf
        lp = -self.log_volume if self.prior == "uniform" else float(self.prior(x))
        return -nll + lp


@dataclass
class SamplingResult:
    """Chain ``(n_steps, n_walkers, d)`` on the optimisation scale with diagnostics."""

    parameter_ids: tuple[str, ...]
    scales: tuple[str, ...]
    chain: np.ndarray
    log_prob: np.ndarray
    acceptance_fraction: np.ndarray
    tau: np.ndarray

    @property
    def n_steps(self) -> int:
        return int(self.chain.shape[0])

    @property
    def converged(self) -> bool:
        """``n_steps > 50 * max(tau)`` (emcee's rule of thumb)."""
        return bool(np.all(np.isfinite(self.tau)) and self.n_steps > 50 * float(np.max(self.tau)))

    def _defaults(self, burn: int | None, thin: int | None) -> tuple[int, int]:
        tau = self.tau[np.isfinite(self.tau)]
        tmax = float(tau.max()) if tau.size else self.n_steps / 10
        tmin = float(tau.min()) if tau.size else 1.0
        if burn is None:
            burn = min(self.n_steps // 2, math.ceil(3 * tmax))
        if thin is None:
            thin = max(1, int(tmin // 2))
        return int(burn), int(thin)

    def flat(self, burn: int | None = None, thin: int | None = None) -> np.ndarray:
        """Flattened samples on the optimisation scale (default burn 3 max tau, thin tau_min / 2)."""
        burn, thin = self._defaults(burn, thin)
        return self.chain[burn::thin].reshape(-1, self.chain.shape[-1])

    def samples(self, burn: int | None = None, thin: int | None = None) -> pd.DataFrame:
        """Flattened samples in linear parameter values (columns = parameter ids)."""
        return pd.DataFrame(to_linear(self.flat(burn, thin), self.scales), columns=list(self.parameter_ids))

    def summary(self) -> pd.DataFrame:
        """Per parameter: tau, median and 95 % interval (linear scale)."""
        s = self.samples()
        q = s.quantile([0.025, 0.5, 0.975]).T
        q.columns = ["q2.5", "median", "q97.5"]
        q.insert(0, "tau", self.tau)
        return q.rename_axis("parameter").reset_index()

    def save(self, directory: str | Path) -> Path:
        """Write ``chain.npz`` and ``sampling.json`` (ids, scales, diagnostics)."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(d / "chain.npz", chain=self.chain, log_prob=self.log_prob,
                            acceptance_fraction=self.acceptance_fraction, tau=self.tau)
        meta = {"parameter_ids": list(self.parameter_ids), "scales": list(self.scales),
                "n_steps": self.n_steps, "n_walkers": int(self.chain.shape[1]),
                "tau": [float(t) for t in self.tau], "converged": self.converged,
                "mean_acceptance": float(np.mean(self.acceptance_fraction))}
        (d / "sampling.json").write_text(json.dumps(meta, indent=2) + "\n")
        return d

    @classmethod
    def load(cls, directory: str | Path) -> SamplingResult:
        d = Path(directory)
        meta = json.loads((d / "sampling.json").read_text())
        z = np.load(d / "chain.npz")
        return cls(tuple(meta["parameter_ids"]), tuple(meta["scales"]), z["chain"], z["log_prob"],
                   z["acceptance_fraction"], z["tau"])


def initial_walkers(x_start: np.ndarray, lower: np.ndarray, upper: np.ndarray, n_walkers: int,
                    ball: float, seed: int) -> np.ndarray:
    """Gaussian ball (``ball`` x bound width) around ``x_start``, kept strictly inside the bounds."""
    rng = np.random.default_rng(seed)
    width = upper - lower
    p0 = np.asarray(x_start, float) + ball * width * rng.standard_normal((n_walkers, width.size))
    eps = 1e-9 * width
    return np.clip(p0, lower + eps, upper - eps)


def sample_posterior(objective: ObjectiveLike, x_start: np.ndarray, *, n_walkers: int | None = None,
                     n_steps: int = 2000, seed: int = 0, prior: str | LogPrior = "uniform", ball: float = 1e-3,
                     progress: bool = False, pool: Any = None) -> SamplingResult:
    """Run emcee from a small ball around ``x_start`` (optimisation scale).

    ``prior``: ``"uniform"`` within the bounds (optimisation scale) or a callable log-prior of ``x``
    (added inside the bounds). ``n_walkers`` defaults to ``max(4 d, 12)`` (made even). ``pool`` is passed to
    emcee (anything with an ordered ``map``).
    """
    emcee = _import_emcee()
    lo, hi = bounds_of(objective)
    d = lo.size
    nw = max(4 * d, 12) if n_walkers is None else int(n_walkers)
    nw += nw % 2
    if nw < 2 * d:
        raise ValueError(f"emcee needs at least 2 * d = {2 * d} walkers, got {nw}")
    log_post = LogPosterior(objective, prior)
    sampler = emcee.EnsembleSampler(nw, d, log_post, pool=pool)
    sampler.random_state = np.random.RandomState(seed).get_state()
    sampler.run_mcmc(initial_walkers(x_start, lo, hi, nw, ball, seed), int(n_steps), progress=progress)
    tau = np.asarray(sampler.get_autocorr_time(tol=0), dtype=float)
    return SamplingResult(tuple(objective.parameter_ids), tuple(objective.scales), sampler.get_chain(),
                          sampler.get_log_prob(), np.asarray(sampler.acceptance_fraction), tau)
