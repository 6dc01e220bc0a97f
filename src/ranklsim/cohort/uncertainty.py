"""Uncertainty of the cohort's headline numbers over the assumed and fitted parameters.

A *factor* is one uncertain quantity with a range: a model parameter (a parameter-table id, applied
to everyone as a cohort ``model_overrides`` value) or a field of the population distributions
(:class:`~ranklsim.cohort.population.PopulationSpec`, e.g. the fitted ``frag_median``).
:func:`default_factors` lists the assumed parameters of the progression layer and of the RANKL link,
the population assumptions and the two fitted fields (their 95 % profile intervals,
:data:`~ranklsim.cohort.population.FITTED_INTERVALS`); every range is stated with its reason.

One evaluation (:class:`CohortReadouts`) is one cohort of ``n`` people of one seed followed for
``years`` in the control arm and the given arms; its readouts (:data:`READOUTS`) are the incident
cases, the log sRANKL tertile OR (top vs bottom, unadjusted, control arm) and per arm the log
matched-pairs risk ratio vs control.  All evaluations of a study share the population seed
(common random numbers: the same latent traits, so differences between evaluations come from the
factors) unless an ensemble asks for one seed per member.

Three studies use it, each as a :mod:`ranklsim.parallel` engine task per evaluation:

* :func:`screen` -- Morris elementary effects over every factor (``fitting.sensitivity``);
* :func:`sobol` -- Sobol indices over the factors the screen keeps;
* :func:`ensemble` -- a Latin-hypercube ensemble of the factors: median and 95 % bands of every
  readout and the share of members in which each arm lowers incidence (sign robustness).

``ranklsim uncertainty`` (``cohort/uncertainty_cli.py``) runs them from the command line.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace

import numpy as np
import pandas as pd

from ranklsim.cohort.analysis import BRUNECK_CASES, BRUNECK_N, summary
from ranklsim.cohort.population import FITTED_INTERVALS, PopulationSpec
from ranklsim.cohort.runner import check_model_overrides, run_cohort
from ranklsim.models.ids import P
from ranklsim.models.parameters import parameter_table
from ranklsim.parallel import Engine, SerialEngine

SPECIES = "human"
#: readout names of one evaluation (arm readouts: ``LOG_RR + arm``)
CASES, LOG_OR, LOG_RR = "cases", "log_or_rankl", "log_rr_"
#: population fields a factor may name (the size and seed of a study are not factors)
POPULATION_FIELDS = frozenset(f.name for f in fields(PopulationSpec)) - {"n", "seed"}
#: quantiles of the ensemble bands
BAND = (0.025, 0.975)


@dataclass(frozen=True)
class Factor:
    """One uncertain quantity: ``id`` (parameter id or population field), its range, sampled
    uniformly (``log``: uniformly in log10), and why the range is what it is."""

    id: str
    low: float
    high: float
    log: bool = False
    source: str = ""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.low) and math.isfinite(self.high) and self.low < self.high):
            raise ValueError(f"factor {self.id}: need finite low < high, got {self.low}..{self.high}")
        if self.log and self.low <= 0:
            raise ValueError(f"factor {self.id}: a log-scaled range needs low > 0, got {self.low}")

    @property
    def kind(self) -> str:
        """"population" (a PopulationSpec field) or "model" (a parameter-table id)."""
        return "population" if self.id in POPULATION_FIELDS else "model"


def _around(pid: str, down: float, up: float, why: str) -> Factor:
    """A log-scaled factor from the table value / ``down`` to x ``up`` (clipped to the table bounds)."""
    row = parameter_table(SPECIES)[pid]
    low, high = max(row.value / down, row.lower), min(row.value * up, row.upper)
    return Factor(pid, low, high, True, f"assumed: {why}; default {row.value:g}")


def _spec_span(name: str, low: float, high: float, why: str, log: bool = False) -> Factor:
    return Factor(name, low, high, log, f"assumed: {why}; default {getattr(PopulationSpec(), name):g}")


def default_factors() -> tuple[Factor, ...]:
    """The assumed and fitted quantities behind the cohort's headline numbers, with their ranges."""
    fitted = [Factor(k, lo, hi, False, "fitted to Bruneck's case counts: 95 % profile interval")
              for k, (lo, hi) in FITTED_INTERVALS.items()]
    return (
        Factor(P.f_rank_stim, 0.05, 0.30, False, "assumed, new link: RANK share of the reference hepatic "
               "IKK drive, 1/3 to 2x the default 0.15"),
        _around(P.is_kcat_ser, 2.5, 2.5, "IKK -> IRS1-Ser gain, /2.5 to x2.5"),
        _around(P.w_tol, 2.0, 2.0, "workload tolerated before capacity fails (Ha 2016 shape)"),
        Factor(P.n_w, 2.0, 6.0, False, "assumed: steepness of the workload-failure law; default 4"),
        _around(P.k_sig, 3.0, 3.0, "rate of capacity adaptation (months to years)"),
        _around(P.k_gtox, 3.0, 3.0, "glucotoxic mass loss, ~1-9 %/year at 7 mmol/L"),
        Factor(P.G_tox, 90.0, 120.0, False, "assumed: glucotoxicity threshold 5.0-6.7 mmol/L; default 100 mg/dL"),
        Factor(P.sig_min, 0.05, 0.2, False, "assumed: residual capacity; default 0.1"),
        Factor(P.beta_floor, 0.15, 0.5, False, "assumed: residual mass in T2D (Rahier 2008: 35-75 %); default 0.3"),
        _spec_span("rankl_log_sd", 0.4, 0.8, "between-person log-SD of sRANKL production"),
        _spec_span("hep_sex_ratio", 2.0, 5.0, "men/women hepatic input (clamp-calibrated 3.40 +- the "
                   "clamp's spread)", log=True),
        _spec_span("set_sd", 10.0, 18.0, "SD of the beta-cell set point (IFG-calibrated 14)"),
        *fitted,
    )


def check_factors(factors: Sequence[Factor]) -> tuple[Factor, ...]:
    """``factors`` validated: unique ids, each a population field or a cohort-wide model parameter
    whose range lies inside its table bounds (errors name the factor)."""
    factors = tuple(factors)
    if not factors:
        raise ValueError("give at least one factor")
    ids = [f.id for f in factors]
    if len(set(ids)) != len(ids):
        raise ValueError(f"factor ids repeat: {sorted({i for i in ids if ids.count(i) > 1})}")
    for f in factors:
        if f.kind == "model":
            check_model_overrides({f.id: f.low})
            row = parameter_table(SPECIES)[f.id]
            if not row.lower <= f.low < f.high <= row.upper:
                raise ValueError(f"factor {f.id}: range {f.low:g}..{f.high:g} leaves the table bounds "
                                 f"[{row.lower:g}, {row.upper:g}] {row.unit}")
        else:
            split({f.id: f.low}, PopulationSpec())
            split({f.id: f.high}, PopulationSpec())
    return factors


def split(values: Mapping[str, float], spec: PopulationSpec) -> tuple[PopulationSpec, dict[str, float]]:
    """``spec`` with the population fields of ``values`` and the model overrides of the rest
    (validated: unknown ids and per-person parameters raise ``ValueError``)."""
    pop = {k: float(v) for k, v in values.items() if k in POPULATION_FIELDS}
    model = check_model_overrides({k: v for k, v in values.items() if k not in POPULATION_FIELDS})
    return replace(spec, **pop), model


@dataclass(frozen=True)
class CohortReadouts:
    """One evaluation: the cohort of ``spec`` under factor values (a picklable engine callable)."""

    spec: PopulationSpec
    years: float = 15.0
    arms: tuple[str, ...] = ()

    def outputs(self) -> list[str]:
        return [CASES, LOG_OR, *(LOG_RR + a for a in self.arms if a != "control")]

    def __call__(self, values: Mapping[str, float], seed: int | None = None) -> dict[str, float]:
        spec, model = split(values, self.spec if seed is None else replace(self.spec, seed=int(seed)))
        arms = ["control", *(a for a in self.arms if a != "control")] if self.arms else None
        res = run_cohort(spec, years=self.years, chunk_size=spec.n, arms=arms, model_overrides=model)
        if not res.complete:
            raise RuntimeError(f"cohort incomplete: {res.failed_chunks}")
        return readouts(summary(res))


def _log(x) -> float:
    return math.log(x) if x is not None and math.isfinite(x) and x > 0 else math.nan


def readouts(s: dict) -> dict[str, float]:
    """The readouts of a cohort summary (:func:`~ranklsim.cohort.analysis.summary`)."""
    ors = (s.get("odds_ratio_top_vs_bottom") or {}).get("unadjusted") or {}
    out = {CASES: float(s["cases"]), LOG_OR: _log(ors.get("or"))}
    for name, a in (s.get("arms") or {}).items():
        if name != "control":
            out[LOG_RR + name] = _log((a.get("risk_ratio_vs_control") or {}).get("rr"))
    return out


def _bounds(factors: Sequence[Factor]) -> tuple[dict[str, tuple[float, float]], dict[str, bool]]:
    return {f.id: (f.low, f.high) for f in factors}, {f.id: f.log for f in factors}


def screen(readout: CohortReadouts, factors: Sequence[Factor], trajectories: int = 8, *, levels: int = 4,
           seed: int = 0, engine: Engine | None = None) -> pd.DataFrame:
    """Morris screening of every readout over ``factors`` (``trajectories * (d + 1)`` cohorts)."""
    from ranklsim.fitting.sensitivity import morris_indices  # lazy: SALib is the fitting extra

    bounds, logs = _bounds(check_factors(factors))
    return morris_indices(readout, bounds, trajectories=trajectories, levels=levels, seed=seed, log_scale=logs,
                          engine=engine, chunk_size=1)


def sobol(readout: CohortReadouts, factors: Sequence[Factor], n_base: int = 32, *, seed: int = 0,
          engine: Engine | None = None, num_resamples: int = 200) -> pd.DataFrame:
    """Sobol indices (first and total order) of every readout over ``factors``
    (``n_base * (d + 2)`` cohorts)."""
    from ranklsim.fitting.sensitivity import sobol_indices  # lazy: SALib is the fitting extra

    bounds, logs = _bounds(check_factors(factors))
    return sobol_indices(readout, bounds, n_base=n_base, seed=seed, log_scale=logs, engine=engine, chunk_size=1,
                         num_resamples=num_resamples)


def pce(readout: CohortReadouts, factors: Sequence[Factor], n_samples: int = 128, *, seed: int = 0,
        engine: Engine | None = None, max_degree: int = 4, num_resamples: int = 200) -> pd.DataFrame:
    """Sobol indices of every readout from a polynomial chaos expansion over ``factors``
    (``n_samples`` cohorts on a scrambled Sobol design; :mod:`ranklsim.fitting.pce`)."""
    from ranklsim.fitting.pce import pce_sobol_indices  # lazy: as the other studies

    bounds, logs = _bounds(check_factors(factors))
    return pce_sobol_indices(readout, bounds, n_samples=n_samples, seed=seed, log_scale=logs, engine=engine,
                             chunk_size=1, max_degree=max_degree, num_resamples=num_resamples)


def top_factors(morris: pd.DataFrame, factors: Sequence[Factor], k: int) -> tuple[Factor, ...]:
    """The ``k`` factors with the largest mu* relative to the largest mu* of the same readout,
    maximised over readouts (the screen's verdict on what a Sobol study needs)."""
    rel = morris.assign(rel=morris["mu_star"] / morris.groupby("output")["mu_star"].transform("max"))
    order = rel.groupby("parameter")["rel"].max().sort_values(ascending=False).index[:k]
    by_id = {f.id: f for f in factors}
    return tuple(by_id[i] for i in order)


def draw_ensemble(factors: Sequence[Factor], size: int, seed: int = 0) -> pd.DataFrame:
    """``size`` members, a Latin hypercube over the factor ranges (log10-uniform where ``log``)."""
    from scipy.stats import qmc  # lazy: scipy.stats costs ~0.3 s to import

    factors = check_factors(factors)
    if size < 2:
        raise ValueError(f"an ensemble needs at least 2 members, got {size}")
    u = qmc.LatinHypercube(d=len(factors), seed=seed).random(size)
    cols = {}
    for j, f in enumerate(factors):
        lo, hi = (math.log10(f.low), math.log10(f.high)) if f.log else (f.low, f.high)
        x = lo + u[:, j] * (hi - lo)
        cols[f.id] = 10.0 ** x if f.log else x
    return pd.DataFrame(cols)


def _member_task(readout: CohortReadouts, item: tuple[int, dict[str, float], int | None]) -> dict[str, float]:
    _, values, seed = item
    return readout(values, seed=seed)


def ensemble(readout: CohortReadouts, members: pd.DataFrame, *, seeds: Sequence[int] | None = None,
             engine: Engine | None = None) -> tuple[pd.DataFrame, pd.DataFrame, dict[int, str]]:
    """Every member (row of factor values) through ``readout``, one engine task each.

    ``seeds``: one population seed per member (sampling and parameter uncertainty together); None:
    every member on ``readout.spec.seed`` (parameter uncertainty only).  Returns ``(bands, table,
    failures)``: per readout the median, the :data:`BAND` quantiles, ``n`` and, for the arms' log
    risk ratios, the share of members below 0 (the arm lowers incidence), over all members and over
    those consistent with Bruneck's case count (:func:`ensemble_bands`); the per-member table
    (factor values and readouts); failed members with their errors (the others are kept).
    """
    rows = [{k: float(v) for k, v in r.items()} for r in members.to_dict("records")]
    for i, r in enumerate(rows):
        try:
            split(r, readout.spec)
        except ValueError as exc:
            raise ValueError(f"ensemble member {i}: {exc}") from exc
    if seeds is not None and len(seeds) != len(rows):
        raise ValueError(f"give one seed per member: {len(seeds)} seeds for {len(rows)} members")
    items = [(i, r, None if seeds is None else int(seeds[i])) for i, r in enumerate(rows)]
    out: list[dict] = []
    failures: dict[int, str] = {}
    for i, res in (engine or SerialEngine()).map(_member_task, items, readout):
        if isinstance(res, BaseException):
            failures[i] = f"{type(res).__name__}: {res}"
        else:
            out.append({"member": i, **({} if seeds is None else {"seed": int(seeds[i])}), **rows[i], **res})
    if not out:
        raise RuntimeError(f"every ensemble member failed; first: {next(iter(failures.values()))}")
    table = pd.DataFrame(out).sort_values("member").reset_index(drop=True)
    return ensemble_bands(table, readout.outputs()), table, failures


def bands(table: pd.DataFrame, outputs: Sequence[str]) -> pd.DataFrame:
    """Median, :data:`BAND` quantiles and ``n`` per readout; ``share_lower`` for the log risk ratios."""
    rows = []
    for o in outputs:
        v = pd.to_numeric(table.get(o, pd.Series(dtype=float)), errors="coerce").dropna().to_numpy(float)
        row = {"readout": o, "n": len(v), "median": float(np.median(v)) if len(v) else math.nan,
               "low": float(np.quantile(v, BAND[0])) if len(v) else math.nan,
               "high": float(np.quantile(v, BAND[1])) if len(v) else math.nan}
        if o.startswith(LOG_RR):
            row["share_lower"] = float(np.mean(v < 0)) if len(v) else math.nan
        rows.append(row)
    return pd.DataFrame(rows)


def consistent_with_cases(table: pd.DataFrame, events: int = BRUNECK_CASES, n: int = BRUNECK_N,
                          z: float = 1.96) -> pd.DataFrame:
    """The members whose case count lies in the binomial ``z``-interval of ``events`` among ``n``
    (Bruneck: 78 of 844, 61.4-94.6): rejection sampling (ABC) of the prior ensemble on the one
    calibration target its factors move most, so that the bands of the other readouts are conditioned on
    a cohort that reproduces the observed incidence."""
    half = z * math.sqrt(events * (1.0 - events / n))
    cases = pd.to_numeric(table[CASES], errors="coerce")
    return table[(cases >= events - half) & (cases <= events + half)]


def ensemble_bands(table: pd.DataFrame, outputs: Sequence[str]) -> pd.DataFrame:
    """:func:`bands` of every member and of the members :func:`consistent_with_cases`, stacked
    (column ``members``: "all" or "consistent_with_cases")."""
    return pd.concat([bands(table, outputs).assign(members="all"),
                      bands(consistent_with_cases(table), outputs).assign(members="consistent_with_cases")],
                     ignore_index=True)
