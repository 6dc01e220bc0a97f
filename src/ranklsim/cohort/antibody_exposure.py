"""A RANKL antibody regimen (denosumab) as its average effect on free sRANKL, for cohort arms.

Why: every injection integrated explicitly costs the solver ~1,100 steps (the drug's onset over five
decades of time; ``docs/model.md`` Section 18, Numerics), so 30 injections in 15 years make an arm ~30x
as costly as the control arm.  The hepatic chain sees the drug only through free sRANKL (hepatic RANK
occupancy is linear in free sRANKL far below ``Kd_LR``), and the slow beta-cell layer integrates the
hepatic state over months to years, so between examinations the regimen can act through its *average*:

* **Average** (the person's run).  From the first injection to the end of follow-up sRANKL production
  is scaled by ``rankl_expr`` x ``factor``, chosen so that the steady free sRANKL equals the time-average
  of free sRANKL under explicit dosing over the same period (:class:`Course`: the model's own antibody
  PK and TMDD with every dose).
* **Examination windows** (side runs, :mod:`ranklsim.cohort.exam_window`).  An examination reads the
  last weeks: the hepatic NF-kB memory ``M_hep`` follows its drive with time constant ``1/k_mem``
  (7 days), the acute IKK activity follows free sRANKL within hours, and free sRANKL recovers late in
  each 6-month interval (the trough, where trials sample).  So every examination after the first
  injection is read from a side run that starts :data:`WINDOW_TIME_CONSTANTS` memory time constants
  before it from the person's state, with the antibody states (depot, central and peripheral drug,
  drug-RANKL complex) set to the explicit course's values at that time since the first injection,
  production back to the person's own, and the injections due inside the window given as events.
  The person's run itself never leaves the average.

The explicit course depends on the person only through sRANKL production (the PK has no body-weight
scaling; late in an interval free drug falls to tens of pM and is titrated by the person's sRANKL, the
complex scales with production).  Courses are computed once per regimen for the reference person at
:data:`PRODUCTION_GRID` multiples of sRANKL production and interpolated on the log scale; each covers
two dosing intervals, the second of which repeats (periodic to 1e-6 from the second injection on).

Checked against explicit dosing in ``tests/test_antibody_exposure.py``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
from scipy.optimize import brentq

from ranklsim.cohort.exam_window import ExamWindow
from ranklsim.cohort.metformin_exposure import EPS, chronic_model, doses_in, scenario_events
from ranklsim.constants import MINUTES_PER_DAY
from ranklsim.models.ids import P, V
from ranklsim.simulate.catalog import DRUGS
from ranklsim.simulate.scenario import Arm, Treatment
from ranklsim.simulate.scenario_parts import ANTIBODY_SLOT
from ranklsim.simulate.simulator import Event, Model

#: antibody states a window sets from the explicit course
DRUG_STATES = (V.Ab_sc, V.Ab_per, V.Dg, V.LD)
#: length of an examination window in time constants of the hepatic memory (``1/k_mem``): exp(-5) =
#: 0.7 % of the memory then dates from before the window
WINDOW_TIME_CONSTANTS = 5.0
#: output spacing of the explicit courses, days (the onset after an injection lasts hours and weighs
#: < 1e-3 in the time-average)
COURSE_STEP_DAYS = 0.25
#: multiples of the reference sRANKL production at which courses are computed (persons outside are
#: clamped to the ends; the population's 0.1 % and 99.9 % quantiles are ~1/6 and ~6)
PRODUCTION_GRID = (1 / 16, 1 / 8, 1 / 4, 1 / 2, 1.0, 2.0, 4.0, 8.0, 16.0)


@dataclass(frozen=True)
class Course:
    """Explicit dosing of one person-type over two intervals: days since the first injection, the drug
    states, and free sRANKL relative to untreated; later days repeat the second interval."""

    interval: float
    days: np.ndarray
    states: Mapping[str, np.ndarray]  #: DRUG_STATES
    free_ratio: np.ndarray
    kinase: np.ndarray  #: the IRS1 serine kinase drive ``ser_kinase`` (uM)

    def phase(self, day: float) -> float:
        """``day`` (since the first injection) folded into the computed two intervals."""
        if day < 2.0 * self.interval:
            return day
        return self.interval + (day - self.interval) % self.interval

    def state_at(self, day: float) -> dict[str, float]:
        t = self.phase(day)
        return {s: float(np.interp(t, self.days, v)) for s, v in self.states.items()}

    def mean(self, values: np.ndarray, end_day: float) -> float:
        """Time-average of ``values`` (on :attr:`days`) from the first injection to ``end_day``."""
        cum = np.concatenate([[0.0], np.cumsum(np.diff(self.days) * (values[1:] + values[:-1]) / 2)])

        def integral(t: float) -> float:  # of values from 0 to t, the second interval repeated
            if t <= 2.0 * self.interval:
                return float(np.interp(t, self.days, cum))
            first, period = float(np.interp(self.interval, self.days, cum)), float(cum[-1])
            n, rest = divmod(t - self.interval, self.interval)
            return first + n * (period - first) + float(np.interp(self.interval + rest, self.days, cum)) - first

        return integral(end_day) / end_day


#: model constants a course is computed under (a cohort's ``model_overrides``), hashable for the caches
Constants = tuple[tuple[str, float], ...]


def constants_key(constants: Mapping[str, float] | None) -> Constants:
    return tuple(sorted((str(k), float(v)) for k, v in (constants or {}).items()))


def _course(tr: Treatment, multiple: float, constants: Constants) -> Course:
    model = chronic_model()
    step = float(tr.interval_days)
    two = tr.model_copy(update={"start_day": 0.0, "n_doses": 2})
    evs = scenario_events(model, Arm(name="course", treatments=(two,)), 2 * step, {})
    grid = np.unique(np.r_[np.arange(0.0, 2 * step, COURSE_STEP_DAYS), 2 * step])
    ov = {**dict(constants), P.L_prod: multiple * model.parameter_value(P.L_prod)}
    start = model.steady_state(ov, selections=model.state_ids)
    res = model.simulate(times=grid, overrides=ov, initial=start, events=[e for e in evs if e.time < 2 * step - EPS],
                         selections=[V.L, V.ser_kinase, *DRUG_STATES])
    return Course(step, grid, {s: np.asarray(res[s], dtype=float) for s in DRUG_STATES},
                  np.asarray(res[V.L], dtype=float) / start[V.L], np.asarray(res[V.ser_kinase], dtype=float))


#: smallest relative change of an output between no sRANKL and untreated (reference person) for it to
#: count as depending on sRANKL; below it for ``ser_kinase`` the average matches free sRANKL instead (the
#: hepatic link is off, e.g. ``ikk_irs_on`` = 0 or ``f_rank_stim`` = 0: the drug then changes nothing in
#: the liver, and free sRANKL is what is left to read)
KINASE_SENSITIVITY = 1e-9


def production_factor(target: float, output: str = V.ser_kinase, constants: Mapping[str, float] | None = None,
                      model: Model | None = None) -> float | None:
    """The ``rankl_expr`` at which the reference person's steady ``output`` equals ``target`` (clamped to
    [0, 1]: the average never removes more than all sRANKL nor adds any); ``output`` is the IRS1 serine
    kinase drive ``ser_kinase`` or the free sRANKL ratio ``L`` (relative to untreated).  None if
    ``output`` does not depend on sRANKL (changes by at most :data:`KINASE_SENSITIVITY` relative
    between no sRANKL and untreated)."""
    model = model or chronic_model()
    ov = dict(constants or {})
    scale = model.steady_state(ov, selections=[V.L])[V.L] if output == V.L else 1.0

    def value(expr: float) -> float:
        return model.steady_state({**ov, P.rankl_expr: expr}, selections=[output])[output] / scale

    v0, v1 = value(0.0), value(1.0)
    if abs(v1 - v0) <= KINASE_SENSITIVITY * abs(v1):
        return None
    lo, hi = v0 - target, v1 - target
    if lo >= 0.0 or hi <= 0.0:
        return 0.0 if lo >= 0.0 else 1.0
    return float(brentq(lambda e: value(e) - target, 0.0, 1.0, xtol=1e-10))


@cache
def _grid(tr: Treatment, constants: Constants) -> tuple[Course, ...]:
    return tuple(_course(tr, m, constants) for m in PRODUCTION_GRID)


@cache
def _factor(tr: Treatment, days: float, constants: Constants) -> float:
    """The average's ``rankl_expr`` multiplier: the reference person's steady IRS1 serine kinase drive
    equals its time-average under explicit dosing (the quantity the liver passes on); free sRANKL
    when the kinase does not depend on sRANKL."""
    reference = _grid(tr, constants)[PRODUCTION_GRID.index(1.0)]
    ov = dict(constants)
    factor = production_factor(reference.mean(reference.kinase, days), V.ser_kinase, ov)
    if factor is None:  # the hepatic link is off: match what is left, free sRANKL
        factor = production_factor(reference.mean(reference.free_ratio, days), V.L, ov)
    return float(factor)


def production_multiple(model: Model, values: Mapping[str, float]) -> float:
    """A person's sRANKL production relative to the reference (``L_prod`` x ``rankl_expr`` x diet gain)."""
    def prod(v: Mapping[str, float]) -> float:
        get = lambda k: float(v.get(k, model.parameter_value(k)))  # noqa: E731
        return get(P.L_prod) * get(P.rankl_expr) * (1.0 + get(P.g_L_diet) * (get(P.diet_fat) + get(P.adiposity)))
    return prod(values) / prod({})


def _interp(x: float, ys: Sequence[float]) -> float:
    return float(np.interp(math.log(x), np.log(PRODUCTION_GRID), ys))


@dataclass(frozen=True)
class AntibodyExposure:
    """An antibody regimen given as its average effect with explicit examination windows (module docstring)."""

    treatment: Treatment

    def __post_init__(self) -> None:
        tr = self.treatment
        if DRUGS[tr.drug].slot != ANTIBODY_SLOT:
            raise ValueError(f"{tr.drug} is not a RANKL antibody; the average representation is for the antibody slot")
        if tr.interval_days is None:
            raise ValueError("a cohort antibody arm in the average representation needs a repeated regimen "
                             "(every_days), not a single dose")

    def to_dict(self) -> dict:
        return {"treatment": self.treatment.model_dump(mode="json"),
                "representation": "average free sRANKL; explicit windows before examinations (side runs)"}

    def factor(self, end: float, constants: Mapping[str, float] | None = None) -> float:
        """The ``rankl_expr`` multiplier of the average over a follow-up to ``end`` (days from baseline)
        under the model ``constants`` (a cohort's ``model_overrides``)."""
        return _factor(self.treatment, float(end) - self.treatment.start_day, constants_key(constants))

    def events(self, model: Model, offset: float, end: float, values: Mapping[str, float],
               constants: Mapping[str, float] | None = None) -> list[Event]:
        """The average: ``rankl_expr`` scaled from the first injection (chronic clock, ``offset`` = baseline);
        ``values``: the person's parameter values, ``constants``: the cohort's model overrides."""
        if self.treatment.start_day >= end - EPS:
            return []
        base = float(values.get(P.rankl_expr, model.parameter_value(P.rankl_expr)))
        return [Event(offset + self.treatment.start_day, P.rankl_expr, base * self.factor(end, constants))]

    def windows(self, model: Model, offset: float, end: float, exam_days: Sequence[float],
                values: Mapping[str, float], constants: Mapping[str, float] | None = None) -> list[ExamWindow | None]:
        """One side run per examination at ``exam_days`` (days from baseline, after any trough shift;
        None for examinations before the first injection or after ``end``)."""
        tr = self.treatment
        start = tr.start_day
        base = float(values.get(P.rankl_expr, model.parameter_value(P.rankl_expr)))
        k_mem = float(values.get(P.k_mem, model.parameter_value(P.k_mem)))
        width = WINDOW_TIME_CONSTANTS / (k_mem * MINUTES_PER_DAY)
        m = min(max(production_multiple(model, values), PRODUCTION_GRID[0]), PRODUCTION_GRID[-1])
        courses = _grid(tr, constants_key(constants))
        out: list[ExamWindow | None] = []
        for exam in (float(d) for d in exam_days):
            if exam <= start + EPS or exam > end + EPS:
                out.append(None)
                continue
            first = max(exam - width, start)  # side runs are independent: windows may overlap
            states = {s: _interp(m, [c.state_at(first - start)[s] for c in courses]) for s in DRUG_STATES}
            out.append(ExamWindow(offset + first, offset + exam, states, {P.rankl_expr: base},
                                  tuple(doses_in(model, tr, first, exam, values, offset))))
        return out
