"""The cohort's average representation of denosumab (cohort/antibody_exposure.py, cohort/exam_window.py)
against explicit dosing of every injection (the ``denosumab_explicit`` arm)."""

from __future__ import annotations

import numpy as np
import pytest

from ranklsim.cohort.antibody_exposure import (
    DRUG_STATES,
    PRODUCTION_GRID,
    WINDOW_TIME_CONSTANTS,
    AntibodyExposure,
    _factor,
    _grid,
    constants_key,
)
from ranklsim.cohort.arms import builtin_arm
from ranklsim.cohort.exam_window import ExamWindow
from ranklsim.cohort.followup import BURN_IN, exam_schedule, plan_follow_up
from ranklsim.cohort.metformin_exposure import chronic_model
from ranklsim.cohort.population import PopulationSpec, generate_population, person_overrides
from ranklsim.cohort.runner import run_cohort
from ranklsim.constants import DAYS_PER_YEAR, MINUTES_PER_DAY
from ranklsim.models.ids import P, V
from ranklsim.simulate.scenario import Treatment
from ranklsim.simulate.simulator import Event

FIFTEEN_YEARS = 15 * DAYS_PER_YEAR


@pytest.fixture(scope="module")
def deno():
    return builtin_arm("denosumab")


def test_course_is_periodic_from_the_second_interval_and_its_mean_folds(deno):
    tr = deno.antibody.treatment
    course = _grid(tr, ())[PRODUCTION_GRID.index(1.0)]
    step = tr.interval_days
    assert course.days[-1] == pytest.approx(2 * step)
    # day 10 * step + 60 reads the second interval's day step + 60
    assert course.phase(10 * step + 60.0) == pytest.approx(step + 60.0)
    assert course.state_at(10 * step + 60.0) == course.state_at(step + 60.0)
    # free sRANKL held down mid-interval, recovering towards the trough (the issue-12 pharmacology)
    mid, trough = (np.interp(step + d, course.days, course.free_ratio) for d in (60.0, step - 1.0))
    assert mid < 0.02 and 0.8 < trough < 1.05
    # the mean over n intervals is (first + (n - 1) x second) / n
    first = np.trapezoid(course.free_ratio[course.days <= step], course.days[course.days <= step]) / step
    second = np.trapezoid(course.free_ratio[course.days >= step], course.days[course.days >= step]) / step
    assert course.mean(course.free_ratio, 30 * step) == pytest.approx((first + 29 * second) / 30, rel=1e-9)
    assert course.mean(course.free_ratio, step) == pytest.approx(first, rel=1e-9)


def test_average_holds_the_time_averaged_hepatic_kinase_drive(deno):
    """The factor makes the reference person's steady IRS1 serine kinase drive equal its time-average under
    explicit dosing; with the IKK -> IRS1-Ser link off it matches the time-averaged free sRANKL."""
    tr = deno.antibody.treatment
    model = chronic_model()
    course = _grid(tr, ())[PRODUCTION_GRID.index(1.0)]
    factor = deno.antibody.factor(FIFTEEN_YEARS)
    kinase = model.steady_state({P.rankl_expr: factor}, selections=[V.ser_kinase])[V.ser_kinase]
    assert kinase == pytest.approx(course.mean(course.kinase, FIFTEEN_YEARS), rel=1e-8)
    assert 0.1 < factor < 0.2  # the drug removes ~85 % of the RANK signal on average
    off = {P.ikk_irs_on: 0.0}
    f_off = _factor(tr, FIFTEEN_YEARS, constants_key(off))
    course_off = _grid(tr, constants_key(off))[PRODUCTION_GRID.index(1.0)]
    free = [model.steady_state({**off, P.rankl_expr: e}, selections=[V.L])[V.L] for e in (1.0, f_off)]
    assert free[1] / free[0] == pytest.approx(course_off.mean(course_off.free_ratio, FIFTEEN_YEARS), rel=1e-6)


def test_windows_open_five_memory_time_constants_before_each_follow_up_examination(deno):
    model = chronic_model()
    exams = exam_schedule(15)
    shifts = deno.visit_shifts(exams, 15)
    person = person_overrides(generate_population(PopulationSpec(n=1, seed=3)).iloc[0])
    windows = deno.exam_windows(BURN_IN, 15, exams, model=model, person=person, visit_shifts=shifts)
    width = WINDOW_TIME_CONSTANTS / (model.parameter_value(P.k_mem) * MINUTES_PER_DAY)
    assert windows[0] is None and len(windows) == len(exams)
    for y, d, w in zip(exams[1:], shifts[1:], windows[1:], strict=True):
        assert w.exam == pytest.approx(BURN_IN + y * DAYS_PER_YEAR + d) and w.exam - w.start == pytest.approx(width)
        assert set(w.states) == set(DRUG_STATES) and min(w.states.values()) >= 0.0 and w.states[V.Dg] > 100.0
        assert w.parameters == {P.rankl_expr: 1.0} and w.events == ()  # trough: no injection inside
    # a visit 3.65 days after an injection (visits "scheduled") replays that injection
    late = deno.exam_windows(BURN_IN, 5.01, (0.0, 5.01), model=model, person=person)
    assert [e.target for e in late[1].events] == [V.Ab_sc]
    assert late[1].events[0].time == pytest.approx(BURN_IN + 10 * 182.5)
    # the control arm reads every examination from the person's run
    assert builtin_arm("control").exam_windows(BURN_IN, 15, exams) == ()


def test_bad_exposures_and_windows_are_refused():
    with pytest.raises(ValueError, match="not a RANKL antibody"):
        AntibodyExposure(Treatment(drug="metformin", dose=500.0, unit="mg", every_days=1.0, n_doses=2))
    with pytest.raises(ValueError, match="repeated regimen"):
        AntibodyExposure(Treatment(drug="denosumab", dose=60.0, unit="mg", route="sc"))
    with pytest.raises(ValueError, match="must open before"):
        ExamWindow(500.0, 400.0, {}, {})
    with pytest.raises(ValueError, match=r"lie in \[start, exam\)"):
        ExamWindow(400.0, 500.0, {}, {}, (Event(500.0, V.Ab_sc, 1.0, "add"),))
    model = chronic_model()
    exams = exam_schedule(5)
    with pytest.raises(ValueError, match="1 examination windows for 2 examinations"):
        plan_follow_up(model, {}, exams, exam_windows=(None,))
    with pytest.raises(ValueError, match="must end there"):
        plan_follow_up(model, {}, exams, exam_windows=(None, ExamWindow(BURN_IN + 100.0, BURN_IN + 200.0, {}, {})))


@pytest.fixture(scope="module")
def paired():
    """24 people, 15 years, Bruneck examinations at the trough: the average arm and explicit dosing."""
    res = run_cohort(PopulationSpec(n=24, seed=1), arms=["control", "denosumab", "denosumab_explicit"])
    assert res.complete and res.people["error"].isna().all()
    return {a: g.set_index("person_id") for a, g in res.people.groupby("arm")}


def test_average_arm_reads_the_examinations_as_explicit_dosing_does(paired):
    """Measured on 365 people (seed 1, 2026-12-07): the same diagnoses and onset years, fasting glucose at
    the examinations within 0.044 mmol/L, the mean effect on it within 2 %; here 24 people."""
    avg, exp, ctl = paired["denosumab"], paired["denosumab_explicit"], paired["control"]
    assert (avg["diabetes"] == exp["diabetes"]).all()
    for y in (5, 10, 15):
        fpg, eff = avg[f"fpg_y{y}"] - exp[f"fpg_y{y}"], exp[f"fpg_y{y}"] - ctl[f"fpg_y{y}"]
        assert fpg.abs().max() < 0.05
        assert abs(fpg.mean()) < 0.05 * abs(eff.mean()) and eff.mean() < 0.0
        np.testing.assert_allclose(avg[f"rankl_y{y}"], exp[f"rankl_y{y}"], rtol=5e-3)  # trough free sRANKL
        np.testing.assert_allclose(avg[f"mhep_y{y}"], exp[f"mhep_y{y}"], rtol=2e-3)
    np.testing.assert_allclose(avg["beta_y15"], exp["beta_y15"], rtol=0.01)


def test_average_arm_between_injections_and_on_an_injection_day():
    """Quarterly examinations for 1 year read at their scheduled days: months 3 and 9 are mid-interval
    (free sRANKL held down), months 6 and 12 fall on injection days (read as the injection is given)."""
    kw = {"years": 1, "exam_every": 0.25, "visits": "scheduled"}
    res = run_cohort(PopulationSpec(n=4, seed=2), arms=["denosumab", "denosumab_explicit"], **kw).people
    avg, exp = (res[res["arm"] == a].set_index("person_id") for a in ("denosumab", "denosumab_explicit"))
    for y in (0.25, 0.5, 0.75, 1):
        np.testing.assert_allclose(avg[f"rankl_y{y:g}"], exp[f"rankl_y{y:g}"], rtol=0.02)
        np.testing.assert_allclose(avg[f"fpg_y{y:g}"], exp[f"fpg_y{y:g}"], atol=0.02)
    assert (avg["rankl_y0.25"] < 0.05 * avg["rankl_y0"]).all()


def test_average_arm_acts_only_through_the_hepatic_link():
    """With the IKK -> IRS1-Ser link off the arm changes no glycaemic reading (the mechanism switch)."""
    kw = {"years": 15, "model_overrides": {P.ikk_irs_on: 0.0}}
    res = run_cohort(PopulationSpec(n=6, seed=5), arms=["control", "denosumab"], **kw).people
    c, d = (res[res["arm"] == a].set_index("person_id") for a in ("control", "denosumab"))
    for y in (5, 10, 15):
        # equal to the side runs' tolerance (exam_window.WINDOW_RTOL = 1e-5)
        np.testing.assert_allclose(d[f"fpg_y{y}"], c[f"fpg_y{y}"], rtol=1e-4)
        assert (d[f"rankl_y{y}"] < c[f"rankl_y{y}"]).all()  # the drug still binds sRANKL


def test_two_regimens_read_one_examination_from_one_merged_window(deno):
    """An arm with denosumab and metformin, both as average effects: one side run per examination, opening
    at the earlier start (the antibody's 35 days) and setting both drugs' states; the cohort runs it."""
    from ranklsim.cohort.arms import CohortArm
    from ranklsim.cohort.exam_window import merge_windows

    met = builtin_arm("metformin")
    both = CohortArm("deno_met", overrides=met.overrides, metformin=met.metformin, antibody=deno.antibody)
    exams = exam_schedule(15)
    shifts = both.visit_shifts(exams, 15)
    merged = both.exam_windows(BURN_IN, 15, exams, visit_shifts=shifts)
    alone = (deno.exam_windows(BURN_IN, 15, exams, visit_shifts=shifts),
             met.exam_windows(BURN_IN, 15, exams, visit_shifts=shifts))
    for w, a, m in zip(merged[1:], *(x[1:] for x in alone), strict=True):
        assert w.start == a.start < m.start and w.exam == a.exam == m.exam
        assert w.states == {**a.states, **m.states} and w.parameters == {**a.parameters, **m.parameters}
        assert [e.target for e in w.events] == [V.Met_gut]  # the evening metformin dose; no injection
    assert merge_windows(None, None) is None and merge_windows(None, merged[1]) is merged[1]
    with pytest.raises(ValueError, match="same time"):
        merge_windows(merged[1], ExamWindow(merged[1].start, merged[1].exam + 1.0, {}, {}))
    res = run_cohort(PopulationSpec(n=2, seed=3), years=5, arms=["control", both]).people
    assert res["error"].isna().all()
    c, d = (res[res["arm"] == a].set_index("person_id") for a in ("control", "deno_met"))
    assert (d["fpg_y5"] < c["fpg_y5"]).all() and (d["rankl_y5"] < c["rankl_y5"]).all()
