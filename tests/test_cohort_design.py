"""Study-design options of the cohort (issue 15, item 6): examination schedules, follow-up lengths
that are not a multiple of the interval, age range and sex ratio, a population file and the
diagnostic criteria; impossible designs are refused before any work."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ranklsim.cli import main
from ranklsim.cohort import PopulationSpec, run_cohort
from ranklsim.cohort.followup import _record, exam_schedule
from ranklsim.cohort.population import (
    IR_DRIFT,
    PARAMETER_COLUMNS,
    check_population,
    generate_population,
    load_population,
)
from ranklsim.errors import UsageError
from ranklsim.models.ids import P, V

# ----------------------------------------------------------------------------- schedules

@pytest.mark.parametrize(("years", "kwargs", "expected"), [
    (15, {}, (0, 5, 10, 15)),  # Bruneck, the default
    (6, {}, (0, 5, 6)),  # a closing examination at the end of follow-up (was: stopped silently at 5)
    (2.2, {}, (0, 2.2)),  # shorter than the interval (was refused)
    (1, {"every": 0.25}, (0, 0.25, 0.5, 0.75, 1)),
    (1, {"every": 0.3}, (0, 0.3, 0.6, 0.9, 1)),
    (2, {"exam_years": (0.5, 2, 1)}, (0, 0.5, 1, 2)),  # baseline added, sorted
])
def test_exam_schedules(years, kwargs, expected):
    assert exam_schedule(years, **kwargs) == pytest.approx(expected, abs=1e-12)
    assert exam_schedule(years, **kwargs)[-1] == years  # the follow-up ends at the last examination


def test_monthly_schedule_has_distinct_exact_times():
    exams = exam_schedule(15, every=1 / 12)
    assert len(exams) == 181 and exams[-1] == 15.0 and np.all(np.diff(exams) > 0.08)


@pytest.mark.parametrize(("years", "kwargs", "match"), [
    (2, {"exam_years": (0, 1)}, "ends at its last examination: add 2"),
    (2, {"exam_years": (0, 1, 3)}, "within the follow-up"),
    (2, {"exam_years": (-1, 2)}, "within the follow-up"),
    (2, {"exam_years": (0, float("nan"), 2)}, "within the follow-up"),
    (2, {"exam_years": (0, 2), "every": 1}, "not both"),
    (2, {"every": 0}, "interval must be > 0"),
    (2, {"every": float("inf")}, "interval must be > 0"),
    (15, {"every": 0.01}, "more than 400"),
    (15, {"exam_years": (0, 14.99999, 15)}, "closer than their names"),
    (0, {}, "years must be > 0"),
    (15.5, {}, "<= 15"),
])
def test_impossible_schedules_are_refused(years, kwargs, match):
    with pytest.raises(ValueError, match=match):
        exam_schedule(years, **kwargs)


# ----------------------------------------------------------------------------- criteria

def _rows(fpg):
    n = len(fpg)
    return pd.DataFrame({V.G_mM: fpg, V.HOMA_IR: [1.0] * n, V.I: [30.0] * n, V.L: [0.5] * n,
                         V.L_total: [0.6] * n, V.O_total: [3.0] * n, V.beta: [300.0] * n, V.M_hep: [0.1] * n})


@pytest.mark.parametrize(("criteria", "onset", "how"), [("fpg", 10.0, "fpg"), ("ogtt", 5.0, "ogtt"),
                                                        ("both", 5.0, "ogtt")])
def test_diagnostic_criteria(criteria, onset, how):
    """FPG diagnostic at year 10 only, 2-h glucose at years 5 and 10."""
    exams = (0.0, 5.0, 10.0)
    g2h = None if criteria == "fpg" else np.array([8.0, 11.5, 12.0])
    rec = _record(exams, _rows([5.5, 6.5, 7.2]), 0, g2h, criteria)
    assert rec["diabetes"] and rec["onset_year"] == onset
    if g2h is not None:
        assert rec["onset_criterion"] == how
    # FPG alone never diagnoses under the 2-h criterion
    none = _record(exams, _rows([5.5, 7.5, 7.6]), 0, np.array([7.0, 8.0, 9.0]), "ogtt")
    assert not none["diabetes"] and np.isnan(none["onset_year"])


# ----------------------------------------------------------------------------- populations

def test_age_range_and_sex_ratio():
    people = generate_population(PopulationSpec(n=4000, seed=3, age_min=50.0, age_max=60.0, male_fraction=0.2))
    assert people["age"].between(50.0, 60.0).all() and people["age"].max() > 59.9
    assert (people["sex"] == "M").mean() == pytest.approx(0.2, abs=0.02)
    for bad in ({"age_min": 10.0}, {"age_max": 120.0}, {"age_min": 60.0, "age_max": 50.0}):
        with pytest.raises(ValueError, match="ages must satisfy"):
            PopulationSpec(**bad)


def test_population_table_round_trip_and_problems(tmp_path):
    people = generate_population(PopulationSpec(n=5, seed=2))
    pd.testing.assert_frame_equal(check_population(people), people)
    path = tmp_path / "people.csv"
    people.to_csv(path, index=False)
    pd.testing.assert_frame_equal(load_population(path), people, check_exact=False, rtol=1e-15)
    # only covariates and parameters: person_id numbered, traits NaN
    minimal = check_population(people[["age", "sex", "bmi", *PARAMETER_COLUMNS]])
    assert minimal["person_id"].tolist() == [0, 1, 2, 3, 4] and minimal["z_ir"].isna().all()
    # every problem in one message
    bad = people.drop(columns=[P.L_prod]).assign(sex=["M", "F", "X", "M", "F"], colour=1)
    with pytest.raises(ValueError) as err:
        check_population(bad)
    assert "missing columns ['L_prod']" in str(err.value) and "unknown columns ['colour']" in str(err.value)
    bad = people.assign(sex=["M", "F", "X", "M", "F"], bmi=[25.0, -1.0, 25.0, 25.0, np.nan])
    with pytest.raises(ValueError) as err:
        check_population(bad)
    assert "sex must be M or F, got ['X']" in str(err.value) and "bmi must be a finite number > 0" in str(err.value)
    with pytest.raises(ValueError, match=r"beta_ref outside its table bounds .* rows \[1\]"):
        check_population(people.assign(**{P.beta_ref: [300.0, 1e6, 300.0, 300.0, 300.0]}))
    with pytest.raises(ValueError, match="person_id must be distinct"):
        check_population(people.assign(person_id=[0, 0, 1, 2, 3]))


def test_cohort_of_a_given_population(tmp_path):
    """The spec's own people given as a table give the same results; changed people change them, and
    a run folder holds one population."""
    spec = PopulationSpec(n=3, seed=4)
    drawn = run_cohort(spec, years=2.0, exam_every=1.0)
    people = generate_population(spec)
    given = run_cohort(spec, years=2.0, exam_every=1.0, population=people, out_dir=tmp_path / "a")
    pd.testing.assert_frame_equal(given.people, drawn.people)
    assert "fpg_y1" in given.people and given.people["followup_years"].eq(2.0).all()
    assert "population_digest" in json.loads((tmp_path / "a" / "run.json").read_text())
    more_rankl = people.assign(**{P.L_prod: people[P.L_prod] * 5})
    changed = run_cohort(spec, years=2.0, exam_every=1.0, population=more_rankl)
    assert (changed.people["rankl_free0"] > 3 * drawn.people["rankl_free0"]).all()
    with pytest.raises(UsageError):
        run_cohort(spec, years=2.0, exam_every=1.0, population=more_rankl, out_dir=tmp_path / "a")
    with pytest.raises(ValueError, match=r"3 people but spec\.n is 4"):
        run_cohort(PopulationSpec(n=4, seed=4), years=2.0, population=people)


# ----------------------------------------------------------------------------- command line

def _run(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 2
    return code, capsys.readouterr().err


def test_cli_design_options(tmp_path, capsys):
    out = tmp_path / "c"
    code, err = _run(["cohort", "--n", "3", "--years", "2.2", "--exam-every", "1", "--ages", "50-59",
                      "--male-fraction", "1", "--workers", "1", "--quiet", "--out", str(out)], capsys)
    assert code == 0, err
    people = pd.read_csv(out / "people.csv")
    assert {"fpg_y0", "fpg_y1", "fpg_y2", "fpg_y2.2"} <= set(people.columns)
    assert people["age"].between(50, 60).all() and (people["sex"] == "M").all()
    run_json = json.loads((out / "run.json").read_text())
    assert run_json["exam_years"] == [0.0, 1.0, 2.0, 2.2]
    # a population file: the people of that run again
    pop = tmp_path / "pop.csv"
    people[["person_id", "age", "sex", "bmi", *PARAMETER_COLUMNS, IR_DRIFT]].to_csv(pop, index=False)
    code, err = _run(["cohort", "--population", str(pop), "--years", "2.2", "--exam-every", "1", "--workers", "1",
                      "--quiet", "--out", str(tmp_path / "p")], capsys)
    assert code == 0, err
    again = pd.read_csv(tmp_path / "p" / "people.csv")
    assert np.allclose(again["fpg_y2.2"], people["fpg_y2.2"], rtol=1e-9)


@pytest.mark.parametrize(("args", "message"), [
    (["--years", "2", "--exam-years", "0,1"], "--exam-years/--exam-every: the follow-up ends at its last examination"),
    (["--years", "2", "--exam-years", "0,1,3"], "within the follow-up"),
    (["--exam-years", "0,a"], "expected comma-separated years"),
    (["--exam-every", "0"], "must be > 0"),
    (["--exam-years", "0,15", "--exam-every", "5"], "not allowed with argument"),
    (["--ages", "79-40"], "ages must satisfy"),
    (["--ages", "10-40"], "ages must satisfy"),
    (["--ages", "forty"], "expected whole years A-B"),
    (["--male-fraction", "1.5"], "must be <= 1"),
    (["--criteria", "hba1c"], "invalid choice"),
    (["--ogtt", "--criteria", "fpg"], "--ogtt means --criteria both"),
])
def test_cli_refuses_impossible_designs(args, message, tmp_path, capsys):
    out = tmp_path / "c"
    code, err = _run(["cohort", "--n", "2", "--workers", "1", "--quiet", "--out", str(out), *args], capsys)
    assert code == 2 and message in err and "Traceback" not in err
    assert not out.exists()


def test_cli_refuses_bad_population_files(tmp_path, capsys):
    pop = tmp_path / "pop.csv"
    generate_population(PopulationSpec(n=2, seed=1)).drop(columns=[P.ir_comp]).to_csv(pop, index=False)
    for args, message in [(["--population", str(pop)], "missing columns ['ir_comp']"),
                          (["--population", str(tmp_path / "none.csv")], "population file"),
                          (["--population", str(pop), "--ages", "40-50"], "apply to drawn people"),
                          (["--population", str(pop), "--n", "2"], "not allowed with argument")]:
        code, err = _run(["cohort", "--workers", "1", "--quiet", "--out", str(tmp_path / "c"), *args], capsys)
        assert code == 2 and message in err and "Traceback" not in err, err
        assert not (tmp_path / "c").exists()


def test_cases_by_examination():
    """Cases per follow-up examination and per year of interval; the first-examination ratio
    (issue 15: cases at the first follow-up examination at most 1.5x the later mean, per year)."""
    from ranklsim.cohort.analysis import cases_by_examination

    data = pd.DataFrame({"case": [1, 1, 1, 1, 0, 1], "onset_year": [2.0, 2.0, 4.0, 5.0, np.nan, 5.0]})
    out = cases_by_examination(data, (0.0, 2.0, 4.0, 5.0))
    assert out["by_exam"] == {"2": {"cases": 2, "per_year": 1.0}, "4": {"cases": 1, "per_year": 0.5},
                              "5": {"cases": 2, "per_year": 2.0}}
    assert out["first_exam_ratio"] == pytest.approx(1.0 / 1.25)
    assert cases_by_examination(data, (0.0, 5.0))["first_exam_ratio"] is None  # no later examinations


# ----------------------------------------------------------------------------- visits relative to dosing

def test_trough_visits_sit_just_before_an_injection():
    """Denosumab q6mo from baseline (issue 15 item 6): each follow-up examination moves to 1 day before the
    latest injection due at its scheduled day, where trials sample; control and 'scheduled' never move."""
    from ranklsim.cohort.arms import builtin_arm
    from ranklsim.cohort.schedule import PRE_DOSE_DAYS
    from ranklsim.constants import DAYS_PER_YEAR

    deno = builtin_arm("denosumab")
    exams = exam_schedule(15)
    shifts = deno.visit_shifts(exams, 15)
    step = deno.antibody.treatment.interval_days
    assert shifts[0] == 0.0 and all(-step < d < 0.0 for d in shifts[1:])
    for y, d in zip(exams[1:], shifts[1:], strict=True):
        visit = y * DAYS_PER_YEAR + d
        assert (visit + PRE_DOSE_DAYS) / step == pytest.approx(round((visit + PRE_DOSE_DAYS) / step), abs=1e-9)
    assert deno.visit_shifts(exams, 15, "scheduled") == (0.0,) * len(exams)
    assert builtin_arm("control").visit_shifts(exams, 15) == (0.0,) * len(exams)
    # quarterly visits: those between injections keep their day, the 6-monthly ones move to the trough
    quarterly = deno.visit_shifts(exam_schedule(1, every=0.25), 1)
    assert quarterly[1] == 0.0 and quarterly[3] == 0.0 and quarterly[2] < 0.0 and quarterly[4] < 0.0
    with pytest.raises(ValueError, match="not after the previous one"):
        deno.visit_shifts(exam_schedule(0.51, exam_years=[0, 0.4999, 0.51]), 0.51)
    with pytest.raises(ValueError, match="visits must be one of"):
        deno.visit_shifts(exams, 15, "peak")


def test_trough_visit_reads_the_pre_dose_state():
    """At the trough the drug is lowest and free sRANKL highest in the interval.  Examinations at 0, 4.5
    and 5 years with 6-monthly injections from baseline: at 4.5 and 5 years an injection is due (1643 and
    1825 days), so the visits move to 1 day before it; the 5-year visit, scheduled 1.25 days after its
    injection, reads almost the same (the subcutaneous dose is still being absorbed), and a visit at
    4.75 years (mid-interval) is not a dosing visit and keeps its day, reading much less free sRANKL."""
    spec = PopulationSpec(n=2, seed=4)
    kw = {"years": 5, "exam_years": [0, 4.5, 4.75, 5], "arms": ["denosumab"]}
    trough = run_cohort(spec, **kw).people
    scheduled = run_cohort(spec, visits="scheduled", **kw).people
    assert trough["error"].isna().all() and scheduled["error"].isna().all()
    np.testing.assert_allclose(trough["rankl_y0"], scheduled["rankl_y0"], rtol=1e-12)  # baseline never moves
    np.testing.assert_allclose(trough["rankl_y4.75"], scheduled["rankl_y4.75"], rtol=1e-9)  # not a dosing visit
    np.testing.assert_allclose(trough["rankl_y5"], scheduled["rankl_y5"], rtol=0.03)
    assert (trough["rankl_y4.5"] > 1.3 * trough["rankl_y4.75"]).all()  # pre-dose vs mid-interval
    with pytest.raises(ValueError, match="visits must be one of"):
        run_cohort(spec, years=5, visits="peak")


def test_cli_refuses_visits_the_dosing_cannot_place(tmp_path, capsys):
    out = tmp_path / "c"
    code, err = _run(["cohort", "--n", "2", "--workers", "1", "--quiet", "--out", str(out), "--years", "0.51",
                      "--exam-years", "0,0.4999,0.51", "--arms", "control,denosumab"], capsys)
    assert code == 2 and "--visits trough" in err and "not after the previous one" in err and "Traceback" not in err
    assert not out.exists()
