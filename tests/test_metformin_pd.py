"""Metformin's hepatic effect persists between doses; the RANKL effect is a named hypothesis
(issue 12, item 8).

E_met_egp acts on an effect-site concentration C_met_eff that follows the liver concentration
with rate met_ke0 (half-life 15.8 h).  Before (instant effect on the liver concentration, EC50
50 uM) the fasting effects 12 h after the evening dose were 42 % (glucose) and 20 % (EGP) of
their 24-hour means.
"""

from __future__ import annotations

import numpy as np
import pytest

from ranklsim.models.ids import P
from ranklsim.models.parameters import parameter_table
from ranklsim.simulate import load_model
from ranklsim.simulate.catalog import beta_ref_for_fpg
from ranklsim.simulate.library import builtin_names, load_scenario
from ranklsim.simulate.runner import ArmRunner, run_scenario
from ranklsim.simulate.scenario import Treatment, loads_scenario
from ranklsim.simulate.scenario_parts import DEFAULT_METFORMIN_EFFECTS

#: output every 15 min; 1000 mg bid (doses at day k and k + 0.5), the last (evening) dose at day 89.5
_BID = """
name = "met-bid"
species = "human"
duration_days = 90
timecourse = ["G", "EGP_obs", "C_met_liv", "C_met_eff"]
output_every_days = 0.010416666666666666
[[arms]]
name = "untreated"
subject = "diabetic"
[[arms]]
name = "metformin"
subject = "diabetic"
treatments = [{ drug = "metformin", dose = 1000.0, unit = "mg", regimen = "bid", n_doses = 180 }]
"""


@pytest.fixture(scope="module")
def bid():
    res = run_scenario(loads_scenario(_BID))
    assert not res.failures
    run = res.timecourse[res.timecourse.phase == "run"]
    out = {}
    for arm in ("untreated", "metformin"):
        d = run[run.arm == arm]
        out[arm] = {k: d[d["id"] == k].value.to_numpy() for k in ("G", "EGP_obs", "C_met_liv", "C_met_eff")}
        out["t"] = d[d["id"] == "G"].time.to_numpy()
    return out


@pytest.mark.parametrize("sid", ["G", "EGP_obs"])
def test_trough_effect_is_at_least_70_percent_of_the_daily_mean(bid, sid):
    """Effect (untreated minus treated) 12 h after the evening dose (day 90.0, before the next
    morning dose) vs its mean over the last 24 h (model: G 0.96, EGP 0.92)."""
    t = bid["t"]
    effect = bid["untreated"][sid] - bid["metformin"][sid]
    day = (t >= 89.0 - 1e-9) & (t <= 90.0 + 1e-9)
    mean = np.trapezoid(effect[day], t[day]) / (t[day][-1] - t[day][0])
    trough = effect[int(np.argmin(abs(t - 90.0)))]
    assert mean > 0
    assert trough >= 0.7 * mean, (trough, mean)


def test_effect_site_smooths_the_liver_concentration(bid):
    t = bid["t"]
    day = (t >= 89.0) & (t <= 90.0)
    liver, site = bid["metformin"]["C_met_liv"][day], bid["metformin"]["C_met_eff"][day]
    assert liver.max() / liver.min() > 10  # 9 -> 150 uM over a dosing interval
    assert site.max() / site.min() < 1.3
    # the effect site's mean equals the liver's (first-order filter at steady state)
    assert np.trapezoid(site, t[day]) == pytest.approx(np.trapezoid(liver, t[day]), rel=0.05)


@pytest.fixture(scope="module")
def by_baseline():
    """Fasting trough effects (FPG fall mg/dL, relative EGP fall) of 1000 mg bid for 90 days by
    subject, from normoglycaemia to a virtual T2D at Stumvoll's baseline FPG of 220 mg/dL."""
    subjects = [("normoglycaemic", "normoglycaemic", ""), ("prediabetic", "prediabetic", ""),
                ("diabetic", "diabetic", ""),
                ("fpg220", "diabetic", f"overrides = {{ beta_ref = {beta_ref_for_fpg(load_model('human', 'chronic'), 'diabetic', 220.0):.8g} }}\n")]
    tr = 'treatments = [{ drug = "metformin", dose = 1000.0, unit = "mg", regimen = "bid", n_doses = 180 }]\n'
    text = 'name = "m"\nspecies = "human"\nduration_days = 90.0\n[[tests]]\nkind = "fasting"\n'
    for name, subject, ov in subjects:
        for suffix, t in (("", ""), ("+met", tr)):
            text += f'[[arms]]\nname = "{name}{suffix}"\nsubject = "{subject}"\n{ov}{t}'
    res = run_scenario(loads_scenario(text))
    assert not res.failures
    return {n: (res.value(n, "G"), res.value(n, "G") - res.value(n + "+met", "G"),
                1.0 - res.value(n + "+met", "EGP") / res.value(n, "EGP")) for n, _, _ in subjects}


def test_size_calibrated_to_tracer_data(by_baseline):
    """Calibrated (met_G50_egp, tools/calibrate_metformin_pd.py) on Stumvoll 1995 NEJM 333:550,
    obese T2D at FPG ~220 mg/dL: basal hepatic glucose output -24 %, FPG -20 % (44 mg/dL).  The
    model meets the FPG fall and gives about 10 % for EGP (its FPG falls more per unit EGP than the
    patients'; docs/model.md Section 7), so the two errors are traded by least squares."""
    g0, dg, de = by_baseline["fpg220"]
    assert g0 == pytest.approx(220.0, abs=0.5)
    assert 40.0 < dg < 65.0
    assert 0.07 < de < 0.16


def test_effect_grows_with_baseline_glycaemia(by_baseline):
    """Predictions (not fitted): no effect in normoglycaemia (Gormsen 2019 Diabetologia 62:1251:
    2 g/day for 90 days, FPG and EGP unchanged in non-diabetic people), and falls in EGP and FPG
    that grow with baseline FPG (DeFronzo 1991 JCEM 73:1294: r = 0.80 between them)."""
    normo, pre, diab, severe = (by_baseline[k] for k in ("normoglycaemic", "prediabetic", "diabetic", "fpg220"))
    assert abs(normo[1]) < 1.0 and abs(normo[2]) < 0.03
    assert normo[1] < pre[1] < diab[1] < severe[1]
    # EGP: the two lowest are level (measured 2026-12-06 with met_G50_egp 160: 2.14 and 2.12 %; the drug
    # lowers EGP a little at the trough before glucose, and so insulin and the chain, follow)
    assert normo[2] < pre[2] + 0.002 and pre[2] < diab[2] < severe[2]


def test_no_hypoglycaemia_on_metformin(by_baseline):
    """Metformin alone does not lower fasting glucose below the normal range (label; the issue-12
    model took the diabetic subject from 114 to 70 mg/dL)."""
    for g0, dg, _ in by_baseline.values():
        assert g0 - dg > 85.0


def test_rankl_effect_is_off_in_the_default_drug():
    assert parameter_table("human")[P.met_rankl_on].value == 0.0
    assert DEFAULT_METFORMIN_EFFECTS == ("egp",)
    tr = Treatment(drug="metformin", dose=1000.0, regimen="bid", n_doses=2)
    assert tr.effects == ("egp",)
    sc = loads_scenario('name = "m"\nspecies = "human"\nduration_days = 1.0\n[[arms]]\nname = "m"\n'
                        'treatments = [{ drug = "metformin", dose = 1000.0, regimen = "bid", n_doses = 2 }]\n'
                        '[[arms]]\nname = "h"\ntreatments = [{ drug = "metformin", dose = 1000.0, regimen = "bid", '
                        'n_doses = 2, effects = ["egp", "rankl"] }]\n')
    runner = ArmRunner(sc)
    assert runner.overrides(sc.arms[0])[P.met_rankl_on] == 0.0
    assert runner.overrides(sc.arms[1])[P.met_rankl_on] == 1.0


def _metformin_library_scenarios() -> list[str]:
    """Built-in scenarios with a metformin treatment."""
    return [n for n in builtin_names()
            if any(t.drug == "metformin" for a in load_scenario(n).arms for t in a.treatments)]


def test_the_metformin_scenarios_are_the_ones_tested_below():
    assert _metformin_library_scenarios() == ["human-metformin", "human-metformin-denosumab"]


@pytest.mark.parametrize("name", ["human-metformin", "human-metformin-denosumab"])
def test_every_builtin_metformin_scenario_reports_the_rankl_hypothesis_separately(name):
    res = run_scenario(load_scenario(name))
    assert not res.failures
    sc = res.scenario
    untreated = res.value("untreated", "RANKL_free")

    def key(arm):  # the arm's treatments with the metformin effects left out
        return tuple((t.drug, t.dose, t.regimen, t.n_doses, t.every_days) for t in arm.treatments)

    plain = {key(a): a for a in sc.arms if any(t.drug == "metformin" and "rankl" not in t.effects
                                              for t in a.treatments)}
    hyp = {key(a): a for a in sc.arms if any(t.drug == "metformin" and t.effects == ("egp", "rankl")
                                            for t in a.treatments)}
    assert plain and set(plain) <= set(hyp)  # every default metformin arm has its +rankl twin
    for k, arm in plain.items():
        twin = hyp[k].name
        if not any(t.drug == "denosumab" for t in arm.treatments):
            # the EGP effect reaches RANKL only through glucose and the labelled OPG-after-onset
            # hypothesis (f_opg_glyc above G_opg_thr): lower glucose, less OPG, slightly more free RANKL
            free = res.value(arm.name, "RANKL_free")
            assert untreated * (1 - 1e-6) <= free < untreated * 1.02
        assert res.value(twin, "RANKL_free") < res.value(arm.name, "RANKL_free")
        assert res.value(twin, "NFkBn") < res.value(arm.name, "NFkBn")
        assert res.value(twin, "G") <= res.value(arm.name, "G") + 1e-6
        assert res.value(twin, "G") == pytest.approx(res.value(arm.name, "G"), abs=2.0)  # the hypothesis adds little
