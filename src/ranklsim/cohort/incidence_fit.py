"""Maximum-likelihood calibration of the progression traits to Bruneck's counts, with the fitting tools.

Two population parameters are fitted (issue 15 item 5): the median beta-cell fragility
``frag_median`` and the mean yearly rise of insulin resistance ``ir_drift_mean``
(:class:`~ranklsim.cohort.population.PopulationSpec`).  The data are two counts (:data:`COUNT_TARGETS`),
each binomial:

* diabetes at the 1990 baseline: 82 of 919 (WHO 1999, fasting or 2-h glucose; excluded from the
  follow-up), which depends on the fragility only (the drift starts at baseline);
* incident diabetes: 78 of the 844 followed for 15 years (fasting glucose >= 7.0 mmol/L at a 5-yearly
  examination, Kiechl 2013).

A cohort run is a stochastic simulation (a finite virtual population), so the likelihood is evaluated
on an *emulator*: the event probabilities simulated on a grid of the two parameters with common random
numbers (the same seeds at every grid point), pooled over the seeds, and interpolated on the logit
scale (:class:`CountEmulator`; monotone PCHIP per axis with four or more grid values, linear otherwise).
:class:`IncidenceObjective` is then an ordinary ``ObjectiveLike`` of :mod:`ranklsim.fitting`:
:func:`~ranklsim.fitting.multistart.run_multistart` fits it and
:func:`~ranklsim.fitting.profile.profile_likelihood` gives each parameter's profile interval.  The
emulator's own Monte-Carlo error (a few hundred simulated events per grid point) is reported, not
propagated.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy.interpolate import PchipInterpolator, RegularGridInterpolator
from scipy.special import expit, logit

from ranklsim.cohort.analysis import BRUNECK_CASES, BRUNECK_N, is_false, is_true
from ranklsim.cohort.population import PopulationSpec
from ranklsim.cohort.runner import run_cohort
from ranklsim.fitting.multistart import MultistartResult, run_multistart
from ranklsim.fitting.profile import ProfileResult, profile_likelihood


@dataclass(frozen=True)
class CountTarget:
    """An observed count: ``events`` of ``n`` people."""

    statistic: str
    events: int
    n: int
    source: str


COUNT_TARGETS = (
    CountTarget("baseline", 82, 919, "Bruneck 1990 (Bonora et al. 2004 Diabetes 53:1782): 82 of 919 aged "
                                     "40-79 with diabetes by fasting or 2-h OGTT glucose, excluded"),
    CountTarget("incidence", BRUNECK_CASES, BRUNECK_N, "Kiechl et al. 2013 Nat Med 19:358: 78 incident cases among 844 in "
                                      "15 years (fasting glucose, 5-yearly examinations)"),
)
#: fitted spec fields: optimisation scale and bounds (linear)
FIT_PARAMETERS = {"frag_median": ("log10", 0.1, 3.0), "ir_drift_mean": ("lin", 0.0, 0.08)}
#: grid columns of a simulated table (:func:`simulate_grid`)
GRID_COLUMNS = ("frag_median", "ir_drift_mean", "seed", "n_baseline", "baseline", "n_followed", "incidence")


class CountEmulator:
    """Event probabilities as smooth functions of (``frag_median``, ``ir_drift_mean``) from a grid table.

    ``table``: one row per (grid point, seed) with the columns of :data:`GRID_COLUMNS`: ``baseline``
    events among ``n_baseline`` people examined at baseline, ``incidence`` cases among ``n_followed``.
    Baseline rows may leave ``ir_drift_mean`` as NaN (it does not act before baseline).
    """

    def __init__(self, table: pd.DataFrame) -> None:
        if missing := sorted(set(GRID_COLUMNS) - set(table.columns)):
            raise ValueError(f"grid table lacks columns {missing}")
        base = table.dropna(subset=["n_baseline"]).groupby("frag_median")[["baseline", "n_baseline"]].sum()
        inc = table.dropna(subset=["n_followed", "ir_drift_mean"]).groupby(
            ["frag_median", "ir_drift_mean"])[["incidence", "n_followed"]].sum()
        if len(base) < 2:
            raise ValueError("the baseline grid needs at least 2 fragility values")
        self.frag = np.log10(base.index.to_numpy(float))
        z = logit((base["baseline"] + 0.5) / (base["n_baseline"] + 1.0))  # add-half: never 0 or 1
        self._base = PchipInterpolator(self.frag, z) if len(base) >= 4 else None
        self._base_z = z
        inc_f = np.log10(np.unique(inc.index.get_level_values(0).to_numpy(float)))
        inc_d = np.unique(inc.index.get_level_values(1).to_numpy(float))
        if len(inc) != len(inc_f) * len(inc_d) or min(len(inc_f), len(inc_d)) < 2:
            raise ValueError("the incidence grid must be a full grid of >= 2 x 2 points")
        p = ((inc["incidence"] + 0.5) / (inc["n_followed"] + 1.0)).to_numpy().reshape(len(inc_f), len(inc_d))
        method = "pchip" if min(len(inc_f), len(inc_d)) >= 4 else "linear"
        self._inc = RegularGridInterpolator((inc_f, inc_d), logit(p), method=method)
        self.bounds = {"frag_median": (10 ** max(self.frag[0], inc_f[0]), 10 ** min(self.frag[-1], inc_f[-1])),
                       "ir_drift_mean": (float(inc_d[0]), float(inc_d[-1]))}
        self.events = {"baseline": int(base["baseline"].sum()), "incidence": int(inc["incidence"].sum())}

    def probability(self, statistic: str, frag_median: float, ir_drift_mean: float) -> float:
        lf = math.log10(frag_median)
        if statistic == "baseline":
            z = self._base(lf) if self._base is not None else np.interp(lf, self.frag, self._base_z)
            return float(expit(z))
        if statistic == "incidence":
            return float(expit(self._inc([[lf, ir_drift_mean]])[0]))
        raise ValueError(f"unknown statistic {statistic!r}")


def _deviance_residual(k: int, n: int, p: float) -> float:
    """sign(k - np) sqrt(binomial deviance): 0.5 r^2 = nll - nll(saturated)."""
    p = min(max(p, 1e-12), 1 - 1e-12)
    dev = (k * math.log(k / (n * p)) if k else 0.0) + ((n - k) * math.log((n - k) / (n * (1 - p))) if n - k else 0.0)
    return math.copysign(math.sqrt(max(0.0, 2.0 * dev)), k - n * p)


class IncidenceObjective:
    """Binomial negative log-likelihood of :data:`COUNT_TARGETS` under the emulator (``ObjectiveLike``)."""

    parameter_ids = tuple(FIT_PARAMETERS)
    scales = tuple(v[0] for v in FIT_PARAMETERS.values())

    def __init__(self, emulator: CountEmulator, targets: Sequence[CountTarget] = COUNT_TARGETS) -> None:
        self.emulator = emulator
        self.targets = tuple(targets)
        lo = [max(FIT_PARAMETERS[k][1], emulator.bounds[k][0]) for k in self.parameter_ids]
        hi = [min(FIT_PARAMETERS[k][2], emulator.bounds[k][1]) for k in self.parameter_ids]
        self.lower = np.array([math.log10(v) if s == "log10" else v for v, s in zip(lo, self.scales, strict=True)])
        self.upper = np.array([math.log10(v) if s == "log10" else v for v, s in zip(hi, self.scales, strict=True)])
        self.x_nominal = 0.5 * (self.lower + self.upper)
        # nll of the saturated model (p = events/n): 0.5 sum r^2 + this is the binomial nll
        self._saturated = sum(-math.lgamma(t.n + 1) + math.lgamma(t.events + 1) + math.lgamma(t.n - t.events + 1)
                              - (t.events * math.log(t.events / t.n) if t.events else 0.0)
                              - ((t.n - t.events) * math.log(1 - t.events / t.n) if t.n > t.events else 0.0)
                              for t in self.targets)

    def to_parameters(self, x: np.ndarray) -> dict[str, float]:
        return {k: float(10.0 ** v if s == "log10" else v)
                for k, s, v in zip(self.parameter_ids, self.scales, np.asarray(x, float), strict=True)}

    def expected(self, x: np.ndarray) -> dict[str, float]:
        """Expected count of each target under ``x``."""
        p = self.to_parameters(x)
        return {t.statistic: t.n * self.emulator.probability(t.statistic, p["frag_median"], p["ir_drift_mean"])
                for t in self.targets}

    def residuals(self, x: np.ndarray) -> np.ndarray:
        p = self.to_parameters(x)
        return np.array([_deviance_residual(t.events, t.n, self.emulator.probability(
            t.statistic, p["frag_median"], p["ir_drift_mean"])) for t in self.targets])

    def __call__(self, x: np.ndarray) -> float:
        return float(0.5 * np.sum(self.residuals(x) ** 2) + self._saturated)


@dataclass
class IncidenceFit:
    """Fitted spec, the optimum, each parameter's profile, and the emulator's expected counts."""

    spec: PopulationSpec
    parameters: dict[str, float]
    expected: dict[str, float]
    multistart: MultistartResult
    profiles: list[ProfileResult]

    def intervals(self) -> dict[str, tuple[float, float]]:
        """95 % profile-likelihood interval of each fitted parameter (linear scale; NaN: open side)."""
        return {row["parameter"]: (float(row["ci_lower"]), float(row["ci_upper"]))
                for row in (prof.row() for prof in self.profiles)}


def fit_incidence(table: pd.DataFrame, spec: PopulationSpec, targets: Sequence[CountTarget] = COUNT_TARGETS,
                  n_starts: int = 8, seed: int = 0, n_points: int = 12) -> IncidenceFit:
    """Fit ``frag_median`` and ``ir_drift_mean`` to ``targets`` on the emulator of ``table``, then
    profile both; returns the calibrated spec (values rounded to 4 digits) with the evidence."""
    obj = IncidenceObjective(CountEmulator(table), targets)
    res = run_multistart(obj, n_starts, seed=seed, progress=False)
    profiles = [profile_likelihood(obj, res.best_x, k, n_points=n_points) for k in obj.parameter_ids]
    best = obj.to_parameters(res.best_x)
    return IncidenceFit(replace(spec, **{k: round(v, 4) for k, v in best.items()}), best, obj.expected(res.best_x),
                        res, profiles)


def simulate_grid(spec: PopulationSpec, frag_values: Sequence[float], drift_values: Sequence[float],
                  seeds: Sequence[int], engine=None, years: float = 15.0) -> pd.DataFrame:
    """The grid table of :class:`CountEmulator`: for every fragility and seed a baseline run with the OGTT
    (diabetes by fasting or 2-h glucose), and for every (fragility, drift, seed) a follow-up run
    (fasting glucose, 5-yearly).  Common random numbers: the same seeds at every point."""
    rows = []
    for frag in frag_values:
        for s in seeds:
            people = run_cohort(replace(spec, frag_median=frag, seed=s), years=1, ogtt=True, engine=engine).people
            ok = people["error"].isna()
            rows.append({"frag_median": frag, "ir_drift_mean": np.nan, "seed": s, "n_baseline": int(ok.sum()),
                         "baseline": int(is_true(people.loc[ok, "baseline_diabetes"]).sum()),
                         "n_followed": np.nan, "incidence": np.nan})
            for drift in drift_values:
                res = run_cohort(replace(spec, frag_median=frag, ir_drift_mean=drift, seed=s), years=years,
                                 engine=engine)
                p = res.people
                followed = p["error"].isna() & is_false(p["baseline_diabetes"])
                rows.append({"frag_median": frag, "ir_drift_mean": drift, "seed": s, "n_baseline": np.nan,
                             "baseline": np.nan, "n_followed": int(followed.sum()),
                             "incidence": int(is_true(p.loc[followed, "diabetes"]).sum())})
    return pd.DataFrame(rows, columns=list(GRID_COLUMNS))
