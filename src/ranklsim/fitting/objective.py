"""Negative log-likelihood of a PEtab problem, computed with one reused RoadRunner.

Per (pre-equilibration, simulation) condition pair the model is reset, the parameters set,
pre-equilibrated by :func:`ranklsim.simulate.simulator.relax` (integration over ``RELAX_DAYS``;
Newton steady-state solvers fail on rate-rule models with conserved totals), and simulated only
at the measured times with only the states/outputs the observables need.  Observable formulas
are parsed by ``petab.v1.math``.  Noise: normal on the lin, log or log10 scale of the observable
(PEtab v1 definitions); :meth:`PetabObjective.petab_nll` computes the same number with
``petab.v1.calculate`` from :meth:`PetabObjective.simulation_table`.  A failed simulation makes the
evaluation return :data:`FAILED_VALUE`, never an exception.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ranklsim.constants import FAILED_VALUE
from ranklsim.fitting import problems as C
from ranklsim.fitting.petab_io import load_problem, model_ids, noise_value
from ranklsim.models.build import compile_sbml
from ranklsim.simulate.reference import Reference, ReferenceCache
from ranklsim.simulate.simulator import relax
from ranklsim.simulate.solver import TOLERANCES, CleanSlate, silence_sundials_loggers

_SCALE_FWD = {"lin": lambda v: v, "log": np.log, "log10": np.log10}
_SCALE_INV = {"lin": lambda v: v, "log": np.exp, "log10": lambda v: 10.0 ** v}


@dataclass(frozen=True)
class _Pair:
    preeq: str | None
    sim: str
    times: np.ndarray
    rows: np.ndarray  # measurement-table row positions, in time order


def _on_scale(scales, values) -> np.ndarray:
    return np.array([_SCALE_FWD[s](v) for s, v in zip(scales, values, strict=True)], float)


class PetabObjective:
    """NLL of a PEtab problem for the estimated parameters on their PEtab scales."""

    def __init__(self, problem, name: str = "problem", *, recompute_reference: bool = False) -> None:
        """``recompute_reference``: recompute the derived normalisers and the reference state when an
        estimated model constant changes (:mod:`ranklsim.simulate.reference`).  Off by default for
        now: far from the nominal values the fixed point can take seconds per evaluation, which
        multistart fits cannot afford (docs/fitting.md); off keeps the SBML's values, as a generic
        PEtab tool does."""
        if isinstance(problem, str | Path):
            name = Path(problem).name
            problem = load_problem(problem)
        self.problem = problem
        self.name = name
        par = problem.parameter_df
        est = par[par[C.ESTIMATE].astype(int) == 1]
        self.parameter_ids: tuple[str, ...] = tuple(est.index)
        self.scales: tuple[str, ...] = tuple(est[C.PARAMETER_SCALE])
        self.lower = _on_scale(self.scales, est[C.LOWER])
        self.upper = _on_scale(self.scales, est[C.UPPER])
        self.x_nominal = _on_scale(self.scales, est[C.NOMINAL])
        fixed = par[par[C.ESTIMATE].astype(int) == 0]
        ids = model_ids(problem)
        self.fixed = {pid: float(v) for pid, v in fixed[C.NOMINAL].items() if pid in ids}
        self._sbml = problem.model.to_sbml_str() if hasattr(problem.model, "to_sbml_str") else \
            _sbml_text(problem)
        self._setup_measurements()
        self._rr = None
        self._slate: CleanSlate | None = None
        self._references: ReferenceCache | None = None
        self.recompute_reference = recompute_reference
        self.n_evaluations = 0

    # ------------------------------------------------------------------ setup
    def _setup_measurements(self) -> None:
        meas = self.problem.measurement_df.reset_index(drop=True)
        obs = self.problem.observable_df
        self.meas = meas
        self.y = meas[C.MEASUREMENT].to_numpy(float)
        noise_pars = meas[C.NOISE_PARAMETERS] if C.NOISE_PARAMETERS in meas else [None] * len(meas)
        self.sigma = np.array([noise_value(obs.loc[o, C.NOISE_FORMULA], n)
                               for o, n in zip(meas[C.OBSERVABLE_ID], noise_pars, strict=True)])
        trans = obs.get(C.OBSERVABLE_TRANSFORMATION, pd.Series(dtype=object))
        self.transform = np.array([t if isinstance(t := trans.get(o), str) else "lin"
                                   for o in meas[C.OBSERVABLE_ID]])
        self.formula = {o: str(obs.loc[o, C.OBSERVABLE_FORMULA]) for o in obs.index}
        self._compiled = {o: _compile(f) for o, f in self.formula.items()}
        self.outputs = sorted({s for f in self._compiled.values() for s in f[1]})
        self.pairs = _condition_pairs(meas)

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_rr"] = None
        state["_slate"] = None
        state["_references"] = None
        state["_compiled"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._compiled = {o: _compile(f) for o, f in self.formula.items()}

    @property
    def rr(self):
        if self._rr is None:
            import roadrunner  # lazy: importing libroadrunner costs ~0.3 s

            # solver failures at odd parameter vectors are expected while fitting; they are
            # counted as failed evaluations, so keep the solver's error log quiet
            roadrunner.Logger.setLevel(roadrunner.Logger.LOG_CRITICAL)
            silence_sundials_loggers()
            rr = compile_sbml(self._sbml)
            rr.integrator.relative_tolerance, rr.integrator.absolute_tolerance = TOLERANCES["acute"]
            rr.integrator.setValue("maximum_num_steps", 200000)
            self._slate = CleanSlate(rr)
            self._rr = rr
        return self._rr

    # ------------------------------------------------------------------ parameters
    def to_parameters(self, x) -> dict[str, float]:
        x = np.asarray(x, float)
        return {pid: float(_SCALE_INV[s](v)) for pid, s, v in zip(self.parameter_ids, self.scales, x, strict=True)}

    def from_parameters(self, values: dict[str, float]) -> np.ndarray:
        return np.array([_SCALE_FWD[s](values[p]) for p, s in zip(self.parameter_ids, self.scales, strict=True)])

    # ------------------------------------------------------------------ simulation
    def _condition(self, cid: str | None) -> dict[str, float]:
        if not cid:
            return {}
        row = self.problem.condition_df.loc[cid]
        return {k: float(v) for k, v in row.items() if k != C.CONDITION_NAME and pd.notna(v)}

    def _apply(self, settings: dict[str, float], states: set[str]) -> None:
        """Set the entries of ``settings`` that are not states (states are set after ``reset``)."""
        for k, v in settings.items():
            if k not in states:
                self.rr[k] = v

    @property
    def references(self) -> ReferenceCache:
        """Reference states of changed model constants (derived normalisers recomputed)."""
        if self._references is None:
            model = self.rr.model
            self._references = ReferenceCache(self.rr, dict(zip(model.getGlobalParameterIds(),
                                                                model.getGlobalParameterValues(), strict=True)))
        return self._references

    def _start(self, pair: _Pair, params: dict[str, float], states: set[str], reference: Reference) -> None:
        """Reset, set parameters, start from the ``reference`` state, pre-equilibrate, then apply the
        simulation condition."""
        rr = self.rr
        pre = self._condition(pair.preeq)
        self._slate.restore(rr, {k: v for k, v in {**params, **pre}.items() if k not in states})
        for k, v in reference.state.items():
            rr[k] = v
        for k in pre.keys() & states:
            rr[k] = pre[k]
        if pair.preeq:
            relax(rr)
        sim = self._condition(pair.sim)
        self._apply({**params, **sim}, states)
        for k in sim.keys() & states:
            rr[k] = sim[k]

    def _outputs_at(self, times: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Columns of the needed outputs on the grid {0} U times, and each time's grid index."""
        rr = self.rr
        grid = np.unique(np.concatenate([[0.0], times]))
        rr.timeCourseSelections = ["time", *self.outputs]
        res = np.asarray(rr.simulate(times=list(grid))) if len(grid) > 1 else \
            np.array([[0.0, *(rr[o] for o in self.outputs)]])
        return {o: res[:, i + 1] for i, o in enumerate(self.outputs)}, np.searchsorted(grid, times)

    def simulate(self, x) -> np.ndarray:
        """Simulated observable value for every measurement row (NaN where it failed)."""
        params = {**self.fixed, **self.to_parameters(x)}
        reference = self.references.for_overrides(params) if self.recompute_reference else Reference()
        params = {**reference.derived, **params}
        out = np.full(len(self.meas), np.nan)
        states = set(self.rr.getRateRuleIds()) | set(self.rr.model.getFloatingSpeciesIds())
        observable = self.meas[C.OBSERVABLE_ID].to_numpy()
        for pair in self.pairs:
            self._start(pair, params, states, reference)
            cols, idx = self._outputs_at(pair.times)
            for j, row in enumerate(pair.rows):
                fn, syms = self._compiled[observable[row]]
                out[row] = fn(*(cols[s][idx[j]] if s in cols else params[s] for s in syms))
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
        """Per measurement: 0.5 log(2 pi sigma^2) + 0.5 r^2 on the observable's scale, plus the
        Jacobian of the transformation (log(y), log(y ln 10)), as ``petab.v1.calculate``."""
        s, tr = self.sigma, self.transform
        with np.errstate(divide="ignore", invalid="ignore"):
            jac = np.where(tr == "log", np.log(self.y), np.where(tr == "log10", np.log(self.y * np.log(10)), 0.0))
            terms = 0.5 * np.log(2 * np.pi * s**2) + jac + 0.5 * self._weighted(h) ** 2
        return np.where(np.isfinite(terms), terms, FAILED_VALUE)

    def _weighted(self, h: np.ndarray) -> np.ndarray:
        y, s, tr = self.y, self.sigma, self.transform
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(tr == "log", (np.log(y) - np.log(h)) / s,
                            np.where(tr == "log10", (np.log10(y) - np.log10(h)) / s, (y - h) / s))

    def __call__(self, x) -> float:
        return self.nll(x)

    def residuals(self, x) -> np.ndarray:
        """Weighted residuals r with nll = 0.5 * sum(r**2) + constant."""
        big = math.sqrt(2 * FAILED_VALUE / len(self.y))
        h = self._safe_simulate(x)
        if h is None:
            return np.full(len(self.y), big)
        r = self._weighted(h)
        return np.where(np.isfinite(r), r, big)

    def fit_table(self, x) -> pd.DataFrame:
        """Measurement table with the simulation at ``x`` (for fit-vs-data plots)."""
        df = self.meas.copy()
        df["simulation"] = self.simulate(x)
        df["sigma"] = self.sigma
        return df

    # ------------------------------------------------------------------ PEtab and pyPESTO
    def simulation_table(self, x) -> pd.DataFrame:
        """The PEtab simulation table at ``x``: the measurement table with ``simulation`` in place
        of ``measurement`` (the input of ``petab.v1.calculate``)."""
        return self.meas.drop(columns=[C.MEASUREMENT]).assign(simulation=self.simulate(x))

    def petab_nll(self, x) -> float:
        """The nll at ``x`` computed by ``petab.v1.calculate.calculate_llh`` (a reference for
        :meth:`nll`, which is the same formula vectorised; this one is slower)."""
        from petab.v1.calculate import calculate_llh  # optional: petab is the fitting extra

        p = self.problem
        par = p.parameter_df.copy()
        for pid, value in self.to_parameters(x).items():
            par.loc[pid, C.NOMINAL] = value
        return -float(calculate_llh(self.meas, self.simulation_table(x), p.observable_df, par))

    def to_pypesto(self):
        """This objective as a ``pypesto.Objective`` (``fun`` = nll, ``res`` = weighted residuals;
        no gradients: pyPESTO's least-squares optimisers use finite differences, like ours)."""
        import pypesto  # optional: the pypesto extra

        return pypesto.Objective(fun=self.nll, res=self.residuals, x_names=list(self.parameter_ids))

    def to_pypesto_problem(self):
        """A ``pypesto.Problem`` on :meth:`to_pypesto` with this objective's bounds and names."""
        import pypesto  # optional: the pypesto extra

        return pypesto.Problem(self.to_pypesto(), lb=self.lower, ub=self.upper,
                               x_names=list(self.parameter_ids), x_scales=list(self.scales))


def _condition_pairs(meas: pd.DataFrame) -> list[_Pair]:
    """One (pre-equilibration, simulation) pair per group of measurements, in first-seen order."""
    preeq = meas[C.PREEQ_ID] if C.PREEQ_ID in meas else pd.Series([None] * len(meas))
    preeq = preeq.where(preeq.notna() & (preeq.astype(str) != ""), None)
    keys = pd.DataFrame({"p": preeq.fillna(""), "s": meas[C.SIM_ID]})
    pairs = []
    for (p, s), grp in keys.groupby(["p", "s"], sort=False):
        t = meas.loc[grp.index, C.TIME].to_numpy(float)
        order = np.argsort(t, kind="stable")
        pairs.append(_Pair(p or None, s, t[order], grp.index.to_numpy()[order]))
    return pairs


def _compile(formula: str):
    """``(numpy function, argument names)`` of a PEtab math formula (parsed by ``petab.v1.math``)."""
    import sympy  # optional: sympy comes with petab (the fitting extra)
    from petab.v1.math import sympify_petab  # optional: petab is the fitting extra

    expr = sympify_petab(formula)
    syms = sorted(expr.free_symbols, key=lambda s: s.name)
    return sympy.lambdify(syms, expr, "numpy"), [s.name for s in syms]


def _sbml_text(problem) -> str:
    import libsbml  # lazy: python-libsbml is imported by petab only when a problem has a model

    return libsbml.writeSBMLToString(problem.sbml_document)
