"""Shared types and constants of the fitting tools (objective protocol, scales, thresholds).

The failure value of an objective is :data:`ranklsim.constants.FAILED_VALUE`."""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Protocol, runtime_checkable

import numpy as np

#: Half the 95 % quantile of chi2(1): a point is inside the 95 % profile CI when delta nll <= this.
CHI2_DELTA_95: float = 1.920729410347062

#: Install hint for the optional dependencies of the fitting tools.
FITTING_EXTRA_HINT = "pip install ranklsim[fitting]"


@runtime_checkable
class ObjectiveLike(Protocol):
    """Negative log-likelihood on the optimisation scale (PEtab ``parameterScale``).

    Must be picklable: it is sent once to every worker process of an engine.
    """

    parameter_ids: tuple[str, ...]
    scales: tuple[str, ...]
    lower: np.ndarray
    upper: np.ndarray
    x_nominal: np.ndarray

    def __call__(self, x: np.ndarray) -> float:
        """Negative log-likelihood incl. constants; ``FAILED_VALUE`` when the simulation fails."""
        ...

    def residuals(self, x: np.ndarray) -> np.ndarray:
        """``r`` with ``nll = 0.5 * sum(r**2) + const``; large values when the simulation fails."""
        ...

    def to_parameters(self, x: np.ndarray) -> dict[str, float]:
        """Linear-scale model parameter values."""
        ...


def to_linear(x: np.ndarray, scales: Sequence[str]) -> np.ndarray:
    """Optimisation scale -> linear scale (``x`` may be 1-D or have parameters on the last axis)."""
    x = np.asarray(x, dtype=float)
    out = np.array(x, copy=True)
    for j, s in enumerate(scales):
        if s == "log10":
            out[..., j] = 10.0 ** x[..., j]
        elif s == "log":
            out[..., j] = np.exp(x[..., j])
        elif s != "lin":
            raise ValueError(f"unknown parameter scale {s!r} (expected 'lin', 'log10' or 'log')")
    return out


def package_version() -> str:
    """The installed ranklsim version (recorded in result files), ``"unknown"`` in a bare source tree."""
    try:
        return version("ranklsim")
    except PackageNotFoundError:
        return "unknown"


def bounds_of(objective: ObjectiveLike) -> tuple[np.ndarray, np.ndarray]:
    """Validated ``(lower, upper)`` float arrays of an objective."""
    lo = np.asarray(objective.lower, dtype=float).ravel()
    hi = np.asarray(objective.upper, dtype=float).ravel()
    d = len(objective.parameter_ids)
    if lo.shape != (d,) or hi.shape != (d,):
        raise ValueError(f"bounds must have one entry per parameter ({d}), got {lo.shape} and {hi.shape}")
    if not np.all(np.isfinite(lo) & np.isfinite(hi)) or np.any(lo >= hi):
        raise ValueError("bounds must be finite with lower < upper for every parameter")
    return lo, hi
