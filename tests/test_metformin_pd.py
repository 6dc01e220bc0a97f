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


def test_size_calibrated_to_tracer_data(bid):
    """Fasting (pre-dose) effects at 2000 mg/day: EGP -22 % (Stumvoll 1995: basal hepatic glucose
    output -24 %), FPG -48 mg/dL (Stumvoll 1995: -20 % from ~220 mg/dL, ~44 mg/dL)."""
    j = int(np.argmin(abs(bid["t"] - 90.0)))
    egp0, egp = bid["untreated"]["EGP_obs"][j], bid["metformin"]["EGP_obs"][j]
    g0, g = bid["untreated"]["G"][j], bid["metformin"]["G"][j]
    assert 0.18 < 1 - egp / egp0 < 0.28
    assert 35.0 < g0 - g < 60.0


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
            assert res.value(arm.name, "RANKL_free") == pytest.approx(untreated, rel=1e-4)
        assert res.value(twin, "RANKL_free") < res.value(arm.name, "RANKL_free")
        assert res.value(twin, "NFkBn") < res.value(arm.name, "NFkBn")
        assert res.value(twin, "G") <= res.value(arm.name, "G") + 1e-6
        assert res.value(twin, "G") == pytest.approx(res.value(arm.name, "G"), abs=2.0)  # the hypothesis adds little
