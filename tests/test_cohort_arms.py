"""Intervention arms of the virtual cohort: the same people under an intervention."""

from __future__ import annotations

import argparse
import json
import math

import numpy as np
import pytest

from ranklsim.cohort import PopulationSpec, run_cohort, summary
from ranklsim.cohort.arms import BUILTIN_ARMS, CohortArm, resolve_arms
from ranklsim.cohort.cli import add_parsers
from ranklsim.cohort.metformin_exposure import effect_site_for
from ranklsim.models.ids import P, V
from ranklsim.parallel import ProcessPoolEngine
from ranklsim.simulate import load_model
from ranklsim.simulate.catalog import SUBJECTS
from ranklsim.simulate.scenario import loads_scenario

#: 2.25 y is mid-way between two denosumab doses (doses every 182.5 d from baseline), where the
#: antibody suppresses free sRANKL; at 5 and 10 y the dose falls on the exam (trough, rebound)
EXAMS = (0, 2.25, 5, 10)


@pytest.fixture(scope="module")
def arms_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("arms")
    with ProcessPoolEngine(2) as engine:
        res = run_cohort(PopulationSpec(n=60, seed=2), years=10, exam_years=EXAMS, engine=engine, out_dir=out,
                         chunk_size=30, arms=["control", "denosumab", "rank_blockade"])
    return out, res


def _by_arm(res, arm):
    return res.people[res.people["arm"] == arm].set_index("person_id")


def test_resolve_builtin_and_scenario_arms(tmp_path):
    arms = resolve_arms(["control", "denosumab", "metformin", "rank_blockade", "rank_blockade:0.5"])
    assert [a.name for a in arms] == ["control", "denosumab", "metformin", "rank_blockade", "rank_blockade50"]
    control, deno, met, ko, kd = arms
    assert control.is_control and not control.events(365.0, 15)
    # denosumab: the average (one event at baseline scaling sRANKL production), no dose in the person's run
    average = deno.events(365.0, 15)
    assert [(e.time, e.target) for e in average] == [(365.0, P.rankl_expr)] and 0.0 < average[0].value < 0.3
    assert deno.antibody is not None and not deno.treatments
    explicit = resolve_arms(["denosumab_explicit"])[0]
    doses = [e for e in explicit.events(365.0, 15) if e.target == V.Ab_sc]
    assert len(doses) == 30 and doses[0].time == 365.0 and doses[-1].time == pytest.approx(365.0 + 29 * 182.5)
    assert doses[0].value == pytest.approx(60e-3 / 147_000.0 * 1e12)  # 60 mg in pmol
    # metformin 1000 mg bid: mean steady-state effects; the effect site held at the concentration of
    # the mean effect (met_ke0 = 0), no gut doses outside the pre-exam windows.  The plain arm has the EGP effect only (mean E 0.55 through the
    # effect compartment with EC50 18 uM, recalibrated in issue 12; 0.42 with EC50 40 uM, and 0.32 on
    # the liver concentration with EC50 50 uM); the RANKL effect is the named hypothesis of the
    # metformin+rankl arm
    assert 0.45 < met.metformin.egp_effect < 0.65 and met.metformin.rankl_effect == 0.0
    assert met.overrides == {P.met_egp_on: 1.0, P.met_rankl_on: 0.0}
    hyp = resolve_arms(["metformin+rankl"])[0]
    assert hyp.metformin.egp_effect == met.metformin.egp_effect and 0.2 < hyp.metformin.rankl_effect < 0.35
    assert hyp.overrides == {P.met_egp_on: 1.0, P.met_rankl_on: 1.0}
    evs = met.events(365.0, 15, exam_years=(0, 5, 10, 15))
    hold = [e for e in evs if e.target == P.met_ke0]
    assert [(e.time, e.value) for e in hold] == [(365.0, 0.0)]  # the person's run stays on the average
    site = [e for e in evs if e.target == V.C_met_eff and e.time == 365.0]
    assert len(site) == 1 and site[0].value == pytest.approx(effect_site_for(met.metformin.egp_effect))
    emax, ec50 = (load_model("human", "chronic").parameter_value(k) for k in (P.met_Emax_egp, P.met_EC50_egp))
    assert emax * site[0].value / (ec50 + site[0].value) == pytest.approx(met.metformin.egp_effect, rel=1e-12)
    assert not [e for e in evs if e.target == V.Met_gut]
    # each examination after baseline is read from a side run over the last dosing interval: the evening
    # dose 12 h before, the metformin states starting at their steady-state pre-dose values (effect site
    # ~44 uM), the explicit PK effects
    windows = met.exam_windows(365.0, 15, (0, 5, 10, 15))
    assert windows[0] is None and len(windows) == 4
    for y, w in zip((5, 10, 15), windows[1:], strict=True):
        assert w.exam == 365.0 + 365.0 * y and w.exam - w.start == pytest.approx(0.5)
        assert [(e.target, e.time) for e in w.events] == [(V.Met_gut, w.start)]
        assert w.states == met.metformin.trough_states and w.states[V.C_met_eff] == met.metformin.effect_site_trough
        assert w.parameters[P.met_ke0] > 0.0 and w.parameters[P.rankl_expr] == 1.0
    assert resolve_arms(["metformin_mean"])[0].exam_windows(365.0, 15, (0, 5, 10, 15)) == ()
    assert 30.0 < met.metformin.effect_site_trough < 60.0
    assert ko.overrides == {P.rank_hep_expr: 0.0} and kd.overrides == {P.rank_hep_expr: 0.5}
    # a scenario file: its first non-control arm
    trial = resolve_arms(["scenarios/example-human-trial.toml"])[0]
    assert trial.name == "metformin_850_mg_bid" and trial.metformin.treatment.dose == 850.0
    only_control = tmp_path / "placebo.toml"
    only_control.write_text('name = "p"\nspecies = "human"\nduration_days = 10.0\n[[arms]]\nname = "placebo"\n')
    with pytest.raises(ValueError, match="no non-control arm"):
        resolve_arms([str(only_control)])
    mouse = tmp_path / "mouse.toml"
    mouse.write_text('name = "m"\nspecies = "mouse"\nduration_days = 10.0\n[[arms]]\nname = "ko"\n'
                     'genotype = [{ name = "hepatic_rank_ko" }]\n')
    with pytest.raises(ValueError, match="human model"):
        resolve_arms([str(mouse)])
    with pytest.raises(ValueError, match="duplicate"):
        resolve_arms(["control", "control"])


def test_unknown_arm_is_rejected_before_work(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(ValueError, match=r"unknown cohort arm 'denosumb'.*denosumab"):
        run_cohort(PopulationSpec(n=10), years=5, out_dir=out, arms=["control", "denosumb"])
    for bad in (["rank_blockade:2"], [str(tmp_path / "missing.toml")], [""]):
        with pytest.raises(ValueError):
            run_cohort(PopulationSpec(n=10), years=5, out_dir=out, arms=bad)
    assert not out.exists()
    parser = argparse.ArgumentParser()
    add_parsers(parser.add_subparsers(dest="command"))
    with pytest.raises(SystemExit):
        parser.parse_args(["cohort", "--n", "10", "--out", str(out), "--arms", "control,nope"])
    assert not out.exists()
    assert set(BUILTIN_ARMS) >= {"control", "denosumab", "metformin", "metformin+rankl", "rank_blockade"}


def test_metformin_average_effect_matches_explicit_dosing():
    """90 days of 1000 mg bid in the diabetic virtual subject (beta-cell mass held), explicit doses
    (scenario runner) vs the cohort arm: daily-mean glucose within 0.1 mmol/L, free sRANKL and
    hepatic NF-kB tone within 1 %, and the exam (trough, 12 h after the last dose) within 0.05 mmol/L."""
    from ranklsim import load_model
    from ranklsim.simulate.runner import run_scenario

    sc = loads_scenario(
        'name = "met"\nspecies = "human"\nduration_days = 90.0\noutput_every_days = 0.025\n'
        'timecourse = ["G_mM", "L", "M_hep"]\n[[tests]]\nkind = "fasting"\n'
        '[[arms]]\nname = "met"\nsubject = "diabetic"\n'
        'treatments = [{ drug = "metformin", dose = 1000.0, unit = "mg", regimen = "bid", n_doses = 180 }]\n')
    tc = run_scenario(sc).timecourse
    explicit = tc.pivot_table(index="time", columns="id", values="value")
    last_day = explicit.loc[(explicit.index >= 89.0) & (explicit.index <= 90.0)]
    model = load_model("human", "chronic")
    ov = dict(SUBJECTS["diabetic"].overrides)
    start = model.steady_state(ov, selections=list(model.state_ids))
    grid = np.linspace(89.0, 90.0, 41)
    sel = [V.G_mM, V.L, V.M_hep]
    for arm in resolve_arms(["metformin", "metformin_mean"]):
        evs = arm.events(0.0, 90.0 / 365.0, exam_years=(90.0 / 365.0,), model=model, person=ov)
        res = model.simulate(times=[0.0, *grid], overrides={**ov, **arm.overrides}, initial=start, events=evs,
                             selections=sel).frame.iloc[1:]
        if arm.exam_window:  # exam reading: the trough of explicit dosing
            assert res[V.G_mM].iloc[-1] == pytest.approx(explicit[V.G_mM].iloc[-1], abs=0.05)
        else:  # average effect: daily means
            assert res[V.G_mM].iloc[-1] == pytest.approx(last_day[V.G_mM].mean(), abs=0.1)
            assert res[V.L].iloc[-1] == pytest.approx(last_day[V.L].mean(), rel=0.01)
            assert res[V.M_hep].iloc[-1] == pytest.approx(last_day[V.M_hep].mean(), rel=0.01)
    untreated = model.simulate(times=[0.0, 90.0], overrides=ov, initial=start, selections=sel).frame
    # metformin lowers mean glucose (0.56 mmol/L at FPG 7.9 with the glycaemic gate of its EGP effect)
    assert untreated[V.G_mM].iloc[-1] - last_day[V.G_mM].mean() > 0.4


@pytest.mark.slow
def test_same_people_and_baseline_in_every_arm(arms_run):
    _, res = arms_run
    assert res.complete and res.arms == ("control", "denosumab", "rank_blockade")
    assert res.people["arm"].tolist() == ["control"] * 60 + ["denosumab"] * 60 + ["rank_blockade"] * 60
    ids = [_by_arm(res, a).index.tolist() for a in res.arms]
    assert ids[0] == ids[1] == ids[2] == list(range(60))
    c = _by_arm(res, "control")
    for arm in ("denosumab", "rank_blockade"):
        a = _by_arm(res, arm)
        # the intervention starts after the baseline examination
        np.testing.assert_allclose(a["fpg_y0"], c["fpg_y0"], rtol=1e-6)
        np.testing.assert_allclose(a["rankl_free0"], c["rankl_free0"], rtol=1e-6)
        assert (a["baseline_diabetes"] == c["baseline_diabetes"]).all()


@pytest.mark.slow
def test_denosumab_suppresses_free_rankl_and_not_cases(arms_run):
    _, res = arms_run
    c, d = _by_arm(res, "control"), _by_arm(res, "denosumab")
    ok = c["error"].isna() & d["error"].isna()
    assert ok.sum() >= 55
    ratio = (d["rankl_y2.25"] / c["rankl_y2.25"])[ok]
    assert ratio.median() < 0.2 and (ratio < 0.5).all()  # mid-interval: free sRANKL suppressed > 80 %
    mhep = (d["mhep_y2.25"] / c["mhep_y2.25"])[ok]
    assert mhep.median() < 0.95 and (mhep < 1.0).all()  # hepatic NF-kB tone lower
    s = summary(res)["arms"]
    assert s["denosumab"]["cases"] <= s["control"]["cases"]


@pytest.mark.slow
def test_rank_blockade_lowers_nfkb_and_cases(arms_run):
    _, res = arms_run
    c, k = _by_arm(res, "control"), _by_arm(res, "rank_blockade")
    ok = c["error"].isna() & k["error"].isna()
    assert ok.sum() >= 55
    mhep = (k["mhep_y5"] / c["mhep_y5"])[ok]
    # median 0.91 (0.88 before men's hepatic inflammatory input became 2.79x women's: RANK's share of
    # their IKK drive is smaller)
    assert mhep.median() < 0.95 and (mhep < 1.0).all()
    s = summary(res)["arms"]
    assert s["rank_blockade"]["cases"] <= s["control"]["cases"]
    # glucose at the last exam is lower on average under blockade
    assert s["rank_blockade"]["fpg_last_exam_mean"] < s["control"]["fpg_last_exam_mean"] - 0.05


@pytest.mark.slow
def test_summary_has_arms_section(arms_run):
    _, res = arms_run
    s = summary(res)
    json.dumps(s)
    assert s["analysis_arm"] == "control" and s["n_followed"] == 60  # Bruneck analysis: control arm only
    assert list(s["arms"]) == ["control", "denosumab", "rank_blockade"]
    for name, a in s["arms"].items():
        assert a["n"] + a["n_errors"] <= 60 and a["n"] >= 55
        for key in ("cumulative_incidence", "per_1000_py", "person_years"):
            assert a[key] is not None and math.isfinite(a[key]) and a[key] >= 0
        assert a["per_1000_py"] == pytest.approx(1000 * a["cases"] / a["person_years"])
        if name == "control":
            assert "risk_ratio_vs_control" not in a
            continue
        rr = a["risk_ratio_vs_control"]
        assert rr["rr"] == pytest.approx(rr["cases_arm"] / rr["cases_control"])
        assert rr["rr"] <= 1.0
        if rr["ci_low"] is not None:
            assert rr["ci_low"] <= rr["rr"] <= rr["ci_high"]


@pytest.mark.slow
def test_run_folder_records_arms_and_resumes(arms_run, tmp_path):
    out, res = arms_run
    meta = json.loads((out / "run.json").read_text())
    assert [a["name"] for a in meta["arms"]] == ["control", "denosumab", "rank_blockade"]
    assert sorted(p.name for p in (out / "chunks" / "denosumab").iterdir()) == ["chunk_00000.csv", "chunk_00001.csv"]
    again = run_cohort(PopulationSpec(n=60, seed=2), years=10, exam_years=EXAMS, out_dir=out, chunk_size=30,
                       arms=["control", "denosumab", "rank_blockade"])
    assert again.chunks_computed == 0 and again.chunks_reused == 6
    assert json.dumps(summary(again), sort_keys=True) == json.dumps(summary(res), sort_keys=True)
    with pytest.raises(ValueError, match="different arms"):
        run_cohort(PopulationSpec(n=60, seed=2), years=10, exam_years=EXAMS, out_dir=out, chunk_size=30,
                   arms=["control", "rank_blockade"])
    # an interrupted run with arms resumes chunk by chunk
    spec, arms = PopulationSpec(n=20, seed=4), ["control", CohortArm("ko", overrides={P.rank_hep_expr: 0.0})]
    first = run_cohort(spec, years=5, out_dir=tmp_path, chunk_size=10, arms=arms, max_chunks=3)
    assert not first.complete and first.chunks_computed == 3 and first.chunks_total == 4
    stamp = (tmp_path / "chunks" / "control" / "chunk_00000.csv").stat().st_mtime_ns
    second = run_cohort(spec, years=5, out_dir=tmp_path, chunk_size=10, arms=arms)
    assert second.complete and second.chunks_reused == 3 and second.chunks_computed == 1
    assert (tmp_path / "chunks" / "control" / "chunk_00000.csv").stat().st_mtime_ns == stamp
    fresh = run_cohort(spec, years=5, chunk_size=10, arms=arms)
    assert json.dumps(summary(second), sort_keys=True) == json.dumps(summary(fresh), sort_keys=True)
