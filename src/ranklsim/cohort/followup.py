"""Follow one virtual person through the study: one chronic simulation per person.

Time line of the simulation (days): ``[0, BURN_IN]`` is the person's run-in from the human
reference state: the fast and intermediate states (NF-kB, insulin signalling, sRANKL/OPG binding,
adiposity state) relax to the person's traits while the slow beta-cell states (secretory capacity
``sigma`` and mass ``beta``) run ``RUN_IN_SPEED`` times faster than real time (``beta_slow_on``), so
the run-in covers ``RUN_IN_SPEED`` years of the person's slow history.  ``t = BURN_IN`` is the baseline
examination, where an event sets the slow states to real time.  Examinations are at
``BURN_IN + 365 * year``.

Why an accelerated run-in: a person must start follow-up on their own slow trajectory, or the slow
states would move at once and cases crowd the first examination.  Ten years at ten-fold speed bring
capacity to its quasi-steady state (10 time constants of ``k_sig``; accelerated, 37 days, still slow
against the fast states); people whose capacity collapses in the run-in are diabetic at baseline.

Interventions (cohort arms, :mod:`ranklsim.cohort.arms`) enter through ``extra_overrides``
(parameter values set at baseline) and ``extra_events`` (same clock: baseline is ``BURN_IN``).

Diagnosis: fasting plasma glucose >= 7.0 mmol/L at a scheduled examination after baseline
(Kiechl 2013, ADA criteria); onset = first such examination year.  Baseline FPG >= 7.0 flags the
person for exclusion (prevalent diabetes), as in the study.  Optionally (``ogtt_model``, the acute
view) every examination also runs a 75 g oral glucose tolerance test from the person's state at that
time, and a 2-h plasma glucose >= 11.1 mmol/L is diabetes too (WHO 1999; Bruneck gave baseline OGTTs,
Bonora 2004); the 2-h glucose is recorded per examination (``g2h_y<year>``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ranklsim.cohort.exam_window import WINDOW_RTOL, ExamWindow, read_windows, rows_at
from ranklsim.cohort.schedule import check_shifts, exam_schedule  # exam_schedule: re-exported
from ranklsim.cohort.solver_attempts import (  # re-exported: the attempts are part of the follow-up's interface
    DOSING_ATTEMPT,
    ORDER3_STEP_BUDGET,  # noqa: F401
    SOLVER_ATTEMPTS,
    SolverAttempt,
)
from ranklsim.constants import DAYS_PER_YEAR, MINUTES_PER_DAY
from ranklsim.models.ids import P, V
from ranklsim.models.parameters import HOLD_BETA_CELL_MASS
from ranklsim.simulate.protocols import OralGlucose
from ranklsim.simulate.simulator import Event, Model, SimulationError, SimulationResult

#: run-in before the baseline examination, days, and the time-scale factor of the slow beta-cell
#: states during it (``beta_slow_on``)
BURN_IN, RUN_IN_SPEED = 365.0, 10.0
#: fasting glucose threshold of diabetes, mmol/L (ADA / WHO; Bruneck)
DIABETES_FPG_MMOL = 7.0
#: 2-h OGTT plasma glucose of diabetes and of impaired glucose tolerance, mmol/L (WHO 1999)
DIABETES_2H_MMOL = 11.1
IGT_2H_MMOL = 7.8
#: OGTT: 75 g oral glucose, 2-h glucose read at this minute of the acute run
OGTT_READ_MIN = 120.0
DEFAULT_EXAMS = (0, 5, 10, 15)
#: diagnostic criteria of the cohort: fasting glucose only (Bruneck), 2-h OGTT glucose only, or either
#: (WHO 1999: diabetes if either is diagnostic)
CRITERIA = ("fpg", "ogtt", "both")
#: outcome columns holding True/False (missing for a person whose simulation failed)
BOOLEAN_COLUMNS = ("baseline_diabetes", "diabetes")
_SLOW = tuple(HOLD_BETA_CELL_MASS)  #: slow beta-cell time-scale switch: run-in accelerated, then real time
_SELECTIONS = [V.G_mM, V.I, V.HOMA_IR, V.L, V.L_total, V.O_total, V.beta, V.M_hep]
#: per-examination columns: prefix -> output id (free sRANKL pM; serum OPG pM as the assays report it,
#: free + RANKL-bound; hepatic NF-kB memory M_hep uM, the hepatic insulin-resistance tone)
_EXAM_COLUMNS = (("fpg", V.G_mM), ("opg", V.O_total), ("beta", V.beta), ("rankl", V.L), ("mhep", V.M_hep))


#: receptor expression switches whose receptor is conserved in states (free + bound), so the
#: switch alone does nothing after t = 0: changed at baseline, these states are scaled with it
CONSERVED_RECEPTORS = {P.rank_hep_expr: (V.Rh, V.LRh), P.rank_bone_expr: (V.Rb, V.LRb)}


@dataclass(frozen=True)
class FollowUpPlan:
    """One person's chronic run: parameter values, events and output times (chronic clock, days)."""

    exams: tuple[float, ...]  #: examination years (baseline 0 first)
    person: Mapping[str, float]  #: the person's parameter values without the slow time-scale switch
    baseline_values: Mapping[str, float]  #: intervention parameter values set at baseline
    events: tuple[Event, ...]  #: real-time switch, interventions, insulin-resistance drift, arm events
    scale: Mapping[str, float]  #: conserved receptor states multiplied at baseline
    times: tuple[float, ...]  #: 0 and the examination days

    slow: Mapping[str, float]  #: the slow time-scale switch from baseline on (real time)
    #: per examination, a side run that reads it (:mod:`ranklsim.cohort.exam_window`) or None
    windows: tuple[ExamWindow | None, ...] = ()

    @property
    def output_times(self) -> tuple[float, ...]:
        """The examination days and the days the examination windows open (states read there)."""
        return tuple(sorted({*self.times, *(w.start for w in self.windows if w is not None)}))

    @property
    def overrides(self) -> dict[str, float]:
        """Parameter values of the run from t = 0: the person's, slow states accelerated (run-in)."""
        return {**self.person, **{k: RUN_IN_SPEED * v for k, v in self.slow.items()}}

    def exam_overrides(self, k: int) -> dict[str, float]:
        """Parameter values in force at examination ``k`` (interventions from the first after baseline)."""
        return {**self.person, **self.slow, **(self.baseline_values if k > 0 else {})}


def result_columns(exams: Sequence[float], ogtt: bool = False) -> list[str]:
    """Column names of :func:`follow_person`'s record for an examination schedule (with ``ogtt``:
    the 2-h OGTT glucose per examination and the criterion of the diagnosis)."""
    cols = ["baseline_diabetes", "diabetes", "onset_year", "followup_years", "solver_attempt", "homa_ir0", "insulin0",
            "rankl_free0", "rankl_total0"]
    for prefix, _ in _EXAM_COLUMNS:
        cols += [f"{prefix}_y{y:g}" for y in exams]
    if ogtt:
        cols += ["onset_criterion", *(f"g2h_y{y:g}" for y in exams)]
    return cols


def ogtt_2h(acute_model: Model, state: Mapping[str, float], overrides: Mapping[str, float]) -> float:
    """2-h plasma glucose (mmol/L) of a 75 g OGTT run in the acute view from ``state`` (all states of
    the chronic run at an examination) with the person's parameter values ``overrides``."""
    res = acute_model.simulate(times=[0.0, OGTT_READ_MIN], overrides=dict(overrides), initial=dict(state),
                               events=OralGlucose().events("human"), selections=[V.G_mM])
    return float(res[V.G_mM][-1])


# ----------------------------------------------------------------------------- the plan


def _check_interventions(extra: Mapping[str, float], extra_events: Sequence[Event]) -> None:
    if clash := sorted(set(extra) & set(_SLOW)):
        raise ValueError(f"extra_overrides may not set the slow time-scale switch {clash} (the run-in sets it)")
    early = [e for e in extra_events if e.time < BURN_IN]
    if early:
        raise ValueError(f"extra_events before baseline (day {BURN_IN:g}): first at day {early[0].time:g}")


def _receptor_scale(model: Model, person: Mapping[str, float], extra: Mapping[str, float]) -> dict[str, float]:
    """Factors of the conserved receptor states whose expression the interventions change."""
    scale: dict[str, float] = {}
    for pid, states in CONSERVED_RECEPTORS.items():
        if pid not in extra:
            continue
        old, new = float(person.get(pid, model.parameter_value(pid))), float(extra[pid])
        if new == old:
            continue
        if old <= 0.0:
            raise ValueError(f"cannot raise {pid} from 0 at baseline (its receptor states are 0)")
        scale.update({s: new / old for s in states})
    return scale


def plan_follow_up(model: Model, overrides: Mapping[str, float], exams: tuple[float, ...], ir_drift: float = 0.0,
                   extra_overrides: Mapping[str, float] | None = None,
                   extra_events: Sequence[Event] = (), visit_shifts: Sequence[float] = (),
                   exam_windows: Sequence[ExamWindow | None] = ()) -> FollowUpPlan:
    """The run of one person (see :func:`follow_person` for the arguments); bad interventions raise."""
    person = dict(overrides)
    slow = {k: float(person.pop(k, model.parameter_value(k))) for k in _SLOW}
    extra = dict(extra_overrides or {})
    _check_interventions(extra, extra_events)
    scale = _receptor_scale(model, person, extra)
    events = [Event(BURN_IN, k, v) for k, v in slow.items()]
    events += [Event(BURN_IN, k, float(v)) for k, v in extra.items()]
    if not (math.isfinite(ir_drift) and ir_drift >= 0.0):
        raise ValueError(f"ir_drift must be a finite rate >= 0 per year, got {ir_drift!r}")
    if ir_drift:  # ir_trend = exp(ir_drift * years since baseline)
        events.append(Event(BURN_IN, P.k_ir_drift, ir_drift / (DAYS_PER_YEAR * MINUTES_PER_DAY)))
    events += list(extra_events)  # simulate() sorts stably by time: these come last at equal times
    shifts = check_shifts(exams, visit_shifts)
    times = (0.0, *(BURN_IN + DAYS_PER_YEAR * y + d for y, d in zip(exams, shifts, strict=True)))
    windows = _check_windows(tuple(exam_windows), times[1:])
    return FollowUpPlan(exams, person, extra, tuple(events), scale, times, slow, windows)


def _check_windows(windows: tuple[ExamWindow | None, ...], exam_days: Sequence[float]) -> tuple[ExamWindow | None, ...]:
    if not windows:
        return ()
    if len(windows) != len(exam_days):
        raise ValueError(f"{len(windows)} examination windows for {len(exam_days)} examinations")
    for w, day in zip(windows, exam_days, strict=True):
        if w is not None and (abs(w.exam - day) > 1e-9 * max(1.0, day) or w.start < BURN_IN):
            raise ValueError(f"an examination window for day {day:g} must end there and open after baseline "
                             f"(day {BURN_IN:g}); got {w.start:g}-{w.exam:g}")
    return windows


# ----------------------------------------------------------------------------- simulation


def _simulate_scaled(model: Model, times: list[float], overrides: dict, events: Sequence[Event],
                     scale: Mapping[str, float], selections: list[str] = _SELECTIONS) -> SimulationResult:
    """As ``model.simulate`` but with the states in ``scale`` multiplied at ``BURN_IN``: the
    burn-in is run alone, then the follow-up restarts from its final state (scaled), with the
    burn-in's parameter values and the events shifted; the baseline row is the burn-in's (the
    examination is taken before the intervention)."""
    states = list(model.state_ids)
    burn_times = sorted({0.0, BURN_IN, *(t for t in times if t <= BURN_IN)})  # keep an output grid
    burn = model.simulate(times=burn_times, overrides=overrides, events=[e for e in events if e.time < BURN_IN],
                          selections=list(dict.fromkeys([*_SELECTIONS, *states])))
    end = burn.frame.iloc[-1]
    initial = {s: float(end[s]) * scale.get(s, 1.0) for s in states}
    shifted = [Event(e.time - BURN_IN, e.target, e.value, e.op) for e in events if e.time >= BURN_IN]
    follow = model.simulate(times=[t - BURN_IN for t in times if t >= BURN_IN], overrides=overrides,
                            initial=initial, events=shifted, selections=selections)
    frame = follow.frame.copy()
    frame.loc[0, selections] = end[selections].to_numpy()  # baseline exam: before the intervention
    frame["time"] = frame["time"] + BURN_IN
    first = burn.frame.iloc[:-1][["time", *selections]]
    return SimulationResult(frame=pd.concat([first, frame], ignore_index=True), units=follow.units,
                            time_unit=follow.time_unit, species=follow.species, view=follow.view,
                            overrides=follow.overrides)


def _run_once(model: Model, plan: FollowUpPlan, attempt: SolverAttempt, selections: list[str],
              quiet: bool) -> SimulationResult:
    times = attempt.output_times(plan.output_times)
    with model.solver_settings(rtol=attempt.rtol, atol=attempt.atol, max_steps=attempt.max_steps,
                               max_order=attempt.max_order, quiet=quiet):
        if plan.scale:  # a receptor switch at baseline: restart from the scaled burn-in state
            return _simulate_scaled(model, times, plan.overrides, plan.events, plan.scale, selections)
        return model.simulate(times=times, overrides=plan.overrides, events=plan.events, selections=selections)


def simulate_plan(model: Model, plan: FollowUpPlan, selections: list[str],
                  attempts: Sequence[SolverAttempt] = SOLVER_ATTEMPTS) -> tuple[SimulationResult, int]:
    """The examination rows (t = 0 dropped) of ``plan``'s run and the index of the solver attempt
    that passed; the attempts are tried in order and the last one's failure is raised.  The solver's
    own log stays quiet throughout: the raised error carries CVODE's message, and the cohort keeps it
    in the person's record, so the log would only repeat it on the console.

    The rows are a :class:`SimulationResult` (``rows[id]`` is a NumPy array, ``rows.frame`` a
    DataFrame): the per-person path stays in NumPy (no DataFrame is built unless asked for)."""
    windowed = any(w is not None for w in plan.windows)
    if windowed:  # the side runs start from the person's full state
        selections = list(dict.fromkeys([*selections, *model.state_ids]))
    for index, attempt in enumerate(attempts):
        try:  # quiet: a failure is either retried or raised with CVODE's message (and recorded)
            res = _run_once(model, plan, attempt, selections, quiet=True)
            if windowed:
                array = _read_windows(model, plan, res, selections, attempt)
            break
        except SimulationError:
            if index == len(attempts) - 1:
                raise
    if not windowed:
        array = res.array
    if len(array) != len(plan.times):  # keep the examination rows of a gridded run
        array = array[rows_at(array[:, 0], plan.times)]
    return SimulationResult(None, res.units, res.time_unit, res.species, res.view, res.overrides,
                            array=array[1:], columns=res.columns), index


def _read_windows(model: Model, plan: FollowUpPlan, res: SimulationResult, selections: list[str],
                  attempt: SolverAttempt) -> np.ndarray:
    """The run's rows with each windowed examination replaced by its side run's reading (the attempt's
    solver settings, relative tolerance at most loosened to :data:`~ranklsim.cohort.exam_window.WINDOW_RTOL`)."""
    with model.solver_settings(rtol=max(attempt.rtol, WINDOW_RTOL), atol=attempt.atol, max_steps=attempt.max_steps,
                               max_order=attempt.max_order, quiet=True):
        return read_windows(model, res, plan.times[1:], plan.windows, plan.overrides, plan.events, selections)


# ----------------------------------------------------------------------------- the record


def _onset_criterion(k: int | None, by_fpg: np.ndarray, by_ogtt: np.ndarray) -> str | None:
    if k is None:
        return None
    if by_fpg[k] and by_ogtt[k]:
        return "both"
    return "fpg" if by_fpg[k] else "ogtt"


def check_criteria(criteria: str | None, ogtt: bool) -> str:
    """The diagnostic criteria (:data:`CRITERIA`); None: "both" with an OGTT, else "fpg"."""
    if criteria is None:
        return "both" if ogtt else "fpg"
    if criteria not in CRITERIA:
        raise ValueError(f"unknown diagnostic criteria {criteria!r}; choose one of {', '.join(CRITERIA)}")
    if ogtt and criteria == "fpg":
        raise ValueError("an OGTT at the examinations with criteria 'fpg' would not be used; "
                         "choose criteria 'ogtt' or 'both'")
    return criteria


def _record(exams: tuple[float, ...], rows: SimulationResult, attempt: int, g2h: np.ndarray | None,
            criteria: str = "fpg") -> dict:
    """The study record from the examination rows (and the 2-h OGTT glucose, if run); ``criteria``
    says which readings diagnose (:data:`CRITERIA`; the 2-h ones need ``g2h``)."""
    fpg = rows[V.G_mM] >= DIABETES_FPG_MMOL
    by_fpg = fpg if criteria != "ogtt" else np.zeros_like(fpg)
    by_ogtt = g2h >= DIABETES_2H_MMOL if g2h is not None and criteria != "fpg" else np.zeros_like(fpg)
    dm = by_fpg | by_ogtt
    base_dm = bool(dm[0])
    first = next((k for k in range(1, len(exams)) if dm[k]), None)
    onset = None if first is None else exams[first]
    out = {
        "baseline_diabetes": base_dm,
        "diabetes": (onset is not None) and not base_dm,
        "onset_year": float(onset) if onset is not None and not base_dm else float("nan"),
        "followup_years": float(exams[-1]),
        "solver_attempt": attempt,
        "homa_ir0": float(rows[V.HOMA_IR][0]),
        "insulin0": float(rows[V.I][0]),
        "rankl_free0": float(rows[V.L][0]),
        "rankl_total0": float(rows[V.L_total][0]),
    }
    for prefix, col in _EXAM_COLUMNS:
        for y, v in zip(exams, rows[col], strict=True):
            out[f"{prefix}_y{y:g}"] = float(v)
    if g2h is not None:
        out["onset_criterion"] = _onset_criterion(0 if base_dm else first, by_fpg, by_ogtt)
        out.update({f"g2h_y{y:g}": float(v) for y, v in zip(exams, g2h, strict=True)})
    return out


def follow_person(model: Model, overrides: Mapping[str, float], years: float = 15,
                  exam_years: Sequence[float] | None = None, ir_drift: float = 0.0, *,
                  extra_overrides: Mapping[str, float] | None = None,
                  extra_events: Sequence[Event] = (), ogtt_model: Model | None = None,
                  criteria: str | None = None, visit_shifts: Sequence[float] = (),
                  exam_windows: Sequence[ExamWindow | None] = ()) -> dict:
    """Simulate one person and return the study record (a flat dict; see :func:`result_columns`).

    ``overrides`` are the person's parameter values (e.g. from
    :func:`~ranklsim.cohort.population.person_overrides`).  ``ir_drift`` (per year) makes the
    person's compensated insulin resistance ``exp(ir_drift * t)`` x their trait, t years after baseline
    (``k_ir_drift``; insulin resistance rising with age; Tabak 2009 Lancet 373:2215).

    Interventions from baseline: ``extra_overrides`` are parameter values set at ``BURN_IN`` (not the
    slow time-scale switch), ``extra_events`` are further events in
    the simulation clock (days; baseline = ``BURN_IN``, none before it), applied after the
    person's own events at equal times.

    ``ogtt_model``: the acute view of the same species; when given, a 75 g OGTT is run at every
    examination (:func:`ogtt_2h`; at baseline before, afterwards with the interventions) and a 2-h
    glucose >= 11.1 mmol/L also diagnoses diabetes.  ``criteria`` (:data:`CRITERIA`): "fpg" (fasting
    glucose only), "ogtt" (2-h glucose only) or "both" (either); default "both" with ``ogtt_model``,
    else "fpg"; the 2-h criteria need ``ogtt_model``.  ``visit_shifts``: days by which each examination is
    taken earlier than scheduled (0 at baseline; e.g. the trough before an injection,
    :meth:`~ranklsim.cohort.arms.CohortArm.visit_shifts`); the record keeps the scheduled years.
    ``exam_windows``: per examination (baseline first), a side run that reads it or None
    (:mod:`~ranklsim.cohort.exam_window`; e.g. :meth:`~ranklsim.cohort.arms.CohortArm.exam_windows`).
    """
    criteria = check_criteria(criteria, ogtt_model is not None)
    if criteria != "fpg" and ogtt_model is None:
        raise ValueError(f"criteria {criteria!r} needs an OGTT at the examinations (ogtt_model)")
    exams = exam_schedule(years, exam_years)
    plan = plan_follow_up(model, overrides, exams, ir_drift, extra_overrides, extra_events, visit_shifts,
                          exam_windows)
    attempts = (*SOLVER_ATTEMPTS, DOSING_ATTEMPT) if extra_events or plan.windows else SOLVER_ATTEMPTS
    states = list(model.state_ids) if ogtt_model is not None else []
    rows, attempt = simulate_plan(model, plan, list(dict.fromkeys([*_SELECTIONS, *states])), attempts)
    g2h = None
    if ogtt_model is not None:
        g2h = np.array([ogtt_2h(ogtt_model, {s: float(rows[s][k]) for s in states}, plan.exam_overrides(k))
                        for k in range(len(exams))])
    return _record(exams, rows, attempt, g2h, criteria)
