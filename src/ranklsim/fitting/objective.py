"""Negative log-likelihood of a PEtab problem, computed with one reused RoadRunner.

Per (pre-equilibration, simulation) condition pair the model is reset, the parameters set,
pre-equilibrated by relaxation (integration over ``RELAX_DAYS``; Newton steady-state solvers
fail on rate-rule models with conserved totals), and simulated only at the measured times
with only the states/outputs the observables need.  Noise: normal on the lin, log or log10
scale of the observable (PEtab v1 definitions, the same constants as pyPESTO).  A failed
simulation makes the evaluation return :data:`FAILED_VALUE`, never an exception.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ranklsim.fitting import problems as C
from ranklsim.fitting.petab_io import load_problem, model_ids

FAILED_VALUE = 1e10
#: pre-equilibration horizon (days) and output spacing
RELAX_DAYS = 200.0
MINUTES_PER_DAY = 1440.0
TOLERANCES = (1e-8, 1e-12)
_SCALE_FWD = {"lin": lambda v: v, "log": np.log, "log10": np.log10}
_SCALE_INV = {"lin": lambda v: v, "log": np.exp, "log10": lambda v: 10.0 ** v}


@dataclass(frozen=True)
class _Pair:
    preeq: str | None
    sim: str
    times: np.ndarray
    rows: np.ndarray  # measurement-table row positions, in time order


class PetabObjective:
    """NLL of a PEtab problem for the estimated parameters on their PEtab scales."""

    def __init__(self, problem, name: str = "problem") -> None:
        if isinstance(problem, (str, Path)):
            name = Path(problem).name
            problem = load_problem(problem)
        self.problem = problem
        self.name = name
        par = problem.parameter_df
        est = par[par[C.ESTIMATE].astype(int) == 1]
        self.parameter_ids: tuple[str, ...] = tuple(est.index)
        self.scales: tuple[str, ...] = tuple(est[C.PARAMETER_SCALE])
        self.lower = np.array([_SCALE_FWD[s](v) for s, v in zip(self.scales, est[C.LOWER])], float)
        self.upper = np.array([_SCALE_FWD[s](v) for s, v in zip(self.scales, est[C.UPPER])], float)
        self.x_nominal = np.array([_SCALE_FWD[s](v) for s, v in zip(self.scales, est[C.NOMINAL])], float)
        fixed = par[par[C.ESTIMATE].astype(int) == 0]
        ids = model_ids(problem)
        self.fixed = {pid: float(v) for pid, v in fixed[C.NOMINAL].items() if pid in ids}
        self._sbml = problem.model.to_sbml_str() if hasattr(problem.model, "to_sbml_str") else \
            _sbml_text(problem)
        self._setup_measurements()
        self._rr = None
        self.n_evaluations = 0

    # ------------------------------------------------------------------ setup
    def _setup_measurements(self) -> None:
        meas = self.problem.measurement_df.reset_index(drop=True)
        obs = self.problem.observable_df
        self.meas = meas
        self.y = meas[C.MEASUREMENT].to_numpy(float)
        self.sigma = np.array([_noise(obs.loc[o, C.NOISE_FORMULA], row)
                               for o, (_, row) in zip(meas[C.OBSERVABLE_ID], meas.iterrows())])
        trans = obs.get(C.OBSERVABLE_TRANSFORMATION)
        self.transform = np.array([str(trans[o]) if trans is not None and isinstance(trans[o], str)
                                   else "lin" for o in meas[C.OBSERVABLE_ID]])
        self.formula = {o: str(obs.loc[o, C.OBSERVABLE_FORMULA]) for o in obs.index}
        self._compiled = {o: _compile(f) for o, f in self.formula.items()}
        self.outputs = sorted({s for f in self._compiled.values() for s in f[1]})
        preeq = meas[C.PREEQ_ID] if C.PREEQ_ID in meas else pd.Series([None] * len(meas))
        preeq = preeq.where(preeq.notna() & (preeq.astype(str) != ""), None)
        self.pairs: list[_Pair] = []
        keys = pd.DataFrame({"p": preeq.fillna(""), "s": meas[C.SIM_ID]})
        for (p, s), grp in keys.groupby(["p", "s"], sort=False):
            t = meas.loc[grp.index, C.TIME].to_numpy(float)
            order = np.argsort(t, kind="stable")
            self.pairs.append(_Pair(p or None, s, t[order], grp.index.to_numpy()[order]))

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_rr"] = None
        state["_compiled"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._compiled = {o: _compile(f) for o, f in self.formula.items()}

    @property
    def rr(self):
        if self._rr is None:
            import roadrunner

            from ranklsim.simulate.simulator import silence_sundials_loggers

            # solver failures at odd parameter vectors are expected while fitting; they are
            # counted as failed evaluations, so keep the solver's error log quiet
            roadrunner.Logger.setLevel(roadrunner.Logger.LOG_CRITICAL)
            silence_sundials_loggers()
            rr = roadrunner.RoadRunner(self._sbml)
            rr.integrator.relative_tolerance, rr.integrator.absolute_tolerance = TOLERANCES
            rr.integrator.setValue("maximum_num_steps", 200000)
            self._rr = rr
        return self._rr

    # ------------------------------------------------------------------ parameters
    def to_parameters(self, x) -> dict[str, float]:
        x = np.asarray(x, float)
        return {pid: float(_SCALE_INV[s](v)) for pid, s, v in zip(self.parameter_ids, self.scales, x)}

    def from_parameters(self, values: dict[str, float]) -> np.ndarray:
        return np.array([_SCALE_FWD[s](values[p]) for p, s in zip(self.parameter_ids, self.scales)])

    # ------------------------------------------------------------------ simulation
    def _condition(self, cid: str) -> dict[str, float]:
        row = self.problem.condition_df.loc[cid]
        return {k: float(v) for k, v in row.items() if k != C.CONDITION_NAME and pd.notna(v)}

    def simulate(self, x) -> np.ndarray:
        """Simulated observable value for every measurement row (NaN where it failed)."""
        params = {**self.fixed, **self.to_parameters(x)}
        out = np.full(len(self.meas), np.nan)
        rr = self.rr
        states = set(rr.getRateRuleIds()) | set(rr.model.getFloatingSpeciesIds())
        for pair in self.pairs:
            rr.resetAll()
            pre = self._condition(pair.preeq) if pair.preeq else {}
            sim = self._condition(pair.sim)
            for k, v in {**params, **{k: v for k, v in pre.items() if k not in states}}.items():
                rr[k] = v
            rr.reset()
            for k, v in pre.items():
                if k in states:
                    rr[k] = v
            if pair.preeq:
                horizon = RELAX_DAYS * MINUTES_PER_DAY
                rr.timeCourseSelections = ["time"]
                rr.simulate(times=list(np.linspace(0.0, horizon, int(RELAX_DAYS) + 1)))
                rr.model.setTime(0.0)
            for k, v in {**params, **sim}.items():
                if k not in states:
                    rr[k] = v
            for k, v in sim.items():
                if k in states:
                    rr[k] = v
            times = pair.times
            grid = np.unique(np.concatenate([[0.0], times]))
            rr.timeCourseSelections = ["time", *self.outputs]
            res = np.asarray(rr.simulate(times=list(grid))) if len(grid) > 1 else \
                np.array([[0.0, *(rr[o] for o in self.outputs)]])
            cols = {o: res[:, i + 1] for i, o in enumerate(self.outputs)}
            idx = np.searchsorted(grid, times)
            for j, row in enumerate(pair.rows):
                oid = self.meas.at[row, C.OBSERVABLE_ID]
                fn, syms = self._compiled[oid]
                args = [cols[s][idx[j]] if s in cols else params[s] for s in syms]
                out[row] = fn(*args)
        return out

    # ------------------------------------------------------------------ objective
    def _safe_simulate(self, x) -> np.ndarray | None:
        self.n_evaluations += 1
        try:
            h = self.simulate(x)
        except RuntimeError:
            return None
        return h if np.all(np.isfinite(h)) else None

    def nll(self, x) -> float:
        """Negative log-likelihood (PEtab normal noise on the observable's scale)."""
        h = self._safe_simulate(x)
        if h is None:
            return FAILED_VALUE
        return float(np.sum(self._nll_terms(h)))

    def _nll_terms(self, h: np.ndarray) -> np.ndarray:
        y, s, tr = self.y, self.sigma, self.transform
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(
                tr == "log", 0.5 * np.log(2 * np.pi * s**2 * y**2) + 0.5 * ((np.log(y) - np.log(h)) / s) ** 2,
                np.where(tr == "log10",
                         0.5 * np.log(2 * np.pi * s**2 * y**2 * np.log(10) ** 2)
                         + 0.5 * ((np.log10(y) - np.log10(h)) / s) ** 2,
                         0.5 * np.log(2 * np.pi * s**2) + 0.5 * ((y - h) / s) ** 2))
        return np.where(np.isfinite(terms), terms, FAILED_VALUE)

    def __call__(self, x) -> float:
        return self.nll(x)

    def residuals(self, x) -> np.ndarray:
        """Weighted residuals r with nll = 0.5 * sum(r**2) + constant."""
        h = self._safe_simulate(x)
        if h is None:
            return np.full(len(self.y), math.sqrt(2 * FAILED_VALUE / len(self.y)))
        y, s, tr = self.y, self.sigma, self.transform
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(tr == "log", (np.log(y) - np.log(h)) / s,
                         np.where(tr == "log10", (np.log10(y) - np.log10(h)) / s, (y - h) / s))
        return np.where(np.isfinite(r), r, math.sqrt(2 * FAILED_VALUE / len(self.y)))

    def fit_table(self, x) -> pd.DataFrame:
        """Measurement table with the simulation at ``x`` (for fit-vs-data plots)."""
        df = self.meas.copy()
        df["simulation"] = self.simulate(x)
        df["sigma"] = self.sigma
        return df


def _noise(formula, row) -> float:
    """The noise SD of one measurement: a number, or noiseParameter1_<obs> from the row."""
    try:
        return float(formula)
    except (TypeError, ValueError):
        pass
    values = str(row.get(C.NOISE_PARAMETERS, "")).split(";")
    text = str(formula).strip()
    if text.startswith("noiseParameter1_") and values and values[0] not in ("", "nan"):
        return float(values[0])
    raise ValueError(f"noise formula {formula!r} not supported (use a number or noiseParameter1_<id>)")


def _compile(formula: str):
    import re

    import sympy as sp

    funcs = {"exp": sp.exp, "log": sp.log, "sqrt": sp.sqrt, "abs": sp.Abs,
             "log10": lambda a: sp.log(a, 10), "max": sp.Max, "min": sp.Min}
    names = {n: sp.Symbol(n) for n in re.findall(r"[A-Za-z_]\w*", formula) if n not in funcs}
    expr = sp.sympify(formula, locals={**names, **funcs})
    syms = sorted(expr.free_symbols, key=lambda s: s.name)
    return sp.lambdify(syms, expr, "numpy"), [s.name for s in syms]


def _sbml_text(problem) -> str:
    import libsbml

    return libsbml.writeSBMLToString(problem.sbml_document)
