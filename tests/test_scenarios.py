"""The built-in scenarios reproduce the findings they are built on; runner failures stay per arm and test."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ranklsim.simulate.library import load_scenario
from ranklsim.simulate.runner import run_batch, run_scenario
from ranklsim.simulate.scenario import ScenarioError, loads_scenario


@pytest.fixture(scope="module")
def ko():
    return run_scenario(load_scenario("mouse-hepatic-rank-ko-hfd"))


def test_hepatic_rank_ko_protects_from_hfd_hepatic_insulin_resistance(ko):
    assert not ko.failures
    supp = {a: ko.value(a, "EGP_suppression", "clamp") for a in ("WT chow", "KO chow", "WT HFD", "KO HFD")}
    # chow WT within 1 SD of Fisher & Kahn 2003 (82 +- 17 %); the scenario uses the standard 2.5 mU/kg/min
    # (Ayala 2006).  Measured 2026-12-06 (one insulin -> EGP route, issue 12 item 3): chow 84 %, KO chow 86 %,
    # WT HFD 62 %, KO HFD 89 %.  The calibration datum's HFD loss is 42 points (82 -> 40 %); the model loses
    # 22: with one route the HFD hepatic resistance is a rightward shift of the chain's insulin dose-response,
    # which clamp insulin partly overcomes (with the double route: 65 -> 33 %, chow itself 17 points low)
    assert 60 <= supp["WT chow"] <= 90
    assert supp["WT HFD"] <= supp["WT chow"] - 15
    assert abs(supp["KO HFD"] - supp["WT chow"]) <= 10
    assert abs(supp["KO chow"] - supp["WT chow"]) <= 10
    # fasting insulin +~70 % on HFD (docs/data-sources.md s6) and glucose about 1 mmol/L (+14 %) higher
    # (Winzell & Ahren 2004; measured 2026-12-06: insulin +60 %, glucose +13 %)
    i_rise = ko.value("WT HFD", "I") / ko.value("WT chow", "I") - 1
    assert 0.5 <= i_rise <= 0.9
    assert 0.06 <= ko.value("WT HFD", "G") / ko.value("WT chow", "G") - 1 <= 0.25
    # the knockout keeps fasting glucose and insulin near chow on HFD and improves glucose tolerance
    # (Kiechl 2013: hepatocyte Rank KO mice stay insulin sensitive; measured 2026-12-06: G +0.1 %, insulin
    # +5 %)
    assert ko.value("KO HFD", "G") < ko.value("WT HFD", "G") - 0.5 * (ko.value("WT HFD", "G") - ko.value("WT chow", "G"))
    assert ko.value("KO HFD", "I") < ko.value("WT HFD", "I")
    assert ko.value("KO HFD", "AUC_G", "ipgtt") < ko.value("WT HFD", "AUC_G", "ipgtt")
    assert abs(ko.value("KO chow", "G") / ko.value("WT chow", "G") - 1) < 0.02
    # GIR falls with hepatic + peripheral insulin resistance; ITT nadir is physiological
    assert ko.value("WT HFD", "GIR", "clamp") < ko.value("WT chow", "GIR", "clamp")
    assert 20 < ko.value("WT chow", "G_nadir_pct", "itt") < 80


@pytest.mark.parametrize("name, prefix, saturated", [("mouse-opg-fc-hfd", "HFD + OPG-Fc", True),
                                                     ("mouse-anti-rankl-hfd", "HFD + anti-RANKL", False)])
def test_systemic_blockade_improves_hfd_dose_dependently(name, prefix, saturated):
    res = run_scenario(load_scenario(name))
    assert not res.failures
    arms = ["HFD"] + [a.name for a in res.scenario.arms if a.name.startswith(prefix)]
    supp = [res.value(a, "EGP_suppression", "clamp") for a in arms]
    auc = [res.value(a, "AUC_G", "ipgtt") for a in arms]
    g = [res.value(a, "G") for a in arms]
    free = [res.value(a, "RANKL_free") for a in arms]
    assert all(np.diff(free) < 0), free  # free sRANKL falls with every dose step
    if saturated:
        # OPG-Fc at the literature doses (1-10 mg/kg twice weekly): with the drug-RANKL complex
        # cleared at the drug's target-route rate (cx_kint_ratio, pk.ant) every dose removes > 99 %
        # of free sRANKL, so the clamp and IPGTT effects saturate at the hepatic Rank KO level: at
        # least the chow level (since the issue-12 refit the HFD KO is 8 points above chow, 80 vs 72 %,
        # because the blockade also removes the basal RANK share, f_rank_stim, and the refitted HFD RANK
        # gain g_rank_diet acts through RANK alone)
        assert all(f < 0.01 * free[0] for f in free[1:]), free
        # (+27 points since the one-route EGP law: 62 -> 89 %, issue 12 item 3)
        assert supp[1] > supp[0] + 20 and supp[1] > res.value("chow", "EGP_suppression", "clamp") - 3
        assert all(np.diff(supp) > -1e-6), supp
        assert all(np.diff(auc) < 1e-6) and auc[1] < auc[0], auc
        assert all(np.diff(g) < 1e-6) and g[1] < g[0], g
    else:
        assert all(np.diff(supp) > 0.5), supp
        assert all(np.diff(auc) < 0), auc
        assert all(np.diff(g) < 0), g
    # the highest dose brings HFD fasting glucose and IPGTT AUC back towards chow (since the mouse refit on
    # Winzell & Ahren's HFD glucose, 2026-12-06: -11 % and -9 %; before, with glucose pinned by beta-cell
    # compensation, about -1 %)
    assert g[-1] < 0.95 * g[0] and auc[-1] < 0.95 * auc[0], (g, auc)
    # blockade also helps (a little) in the genetically insulin-resistant LIKK mouse
    likk = [a.name for a in res.scenario.arms if a.name.startswith("LIKK")]
    assert res.value(likk[1], "EGP_suppression", "clamp") > res.value(likk[0], "EGP_suppression", "clamp")


def _denosumab_single(mg: float):
    text = f"""
name = "den-{int(mg)}"
species = "human"
duration_days = 300
timecourse = ["Dg", "L"]
output_every_days = 0.5
[[arms]]
name = "dose"
treatments = [{{ drug = "denosumab", dose = {mg}, unit = "mg", route = "sc" }}]
"""
    res = run_scenario(loads_scenario(text))
    tc = res.timecourse
    c = tc[tc["id"] == "Dg"].value.to_numpy() * 147_000 * 1e-9  # ug/mL
    t = tc[tc["id"] == "Dg"].time.to_numpy()
    return t, c, tc[tc["id"] == "L"].value.to_numpy()


def test_denosumab_pk_tmdd_and_free_rankl():
    auc_per_mg = {}
    for mg in (10.0, 60.0, 210.0):
        t, c, free = _denosumab_single(mg)
        peak = int(np.argmax(c))
        # one peak, then a monotone terminal decline
        assert 5 < t[peak] < 30
        assert np.all(np.diff(c[peak:]) <= 1e-12)
        assert np.all(np.diff(c[:peak + 1]) >= -1e-12)
        auc_per_mg[mg] = np.trapezoid(c, t) / mg
        if mg == 60.0:
            # Peterson 2004 PK as simulated in OpenBoneMin: Cmax 8.53 ug/mL at day 14.4
            assert c[peak] == pytest.approx(8.53, rel=0.05)
            assert free.min() < 0.1 * free[0]
    # target-mediated elimination: clearance falls with dose (dose-normalised AUC rises)
    assert auc_per_mg[10.0] < auc_per_mg[60.0] < auc_per_mg[210.0]
    assert auc_per_mg[210.0] > 1.2 * auc_per_mg[10.0]


def test_denosumab_refused_in_plain_mouse():
    text = """
name = "x"
species = "mouse"
duration_days = 10
[[arms]]
name = "a"
treatments = [{ drug = "denosumab", dose = 1.0, unit = "mg/kg" }]
"""
    with pytest.raises(ScenarioError, match="mouse-huRANKL"):
        loads_scenario(text)
    ok = loads_scenario(text.replace('species = "mouse"', 'species = "mouse-huRANKL"'))
    res = run_scenario(ok)
    assert not res.failures


def test_denosumab_lowers_glucose_in_dysglycaemia():
    res = run_scenario(load_scenario("human-denosumab"))
    assert not res.failures
    r = res.readouts
    for who in ("prediabetic", "diabetic"):
        mid = r[(r.arm == f"{who} + denosumab") & (r.test == "fasting") & (r.day == 1003.5)]
        ctl = r[(r.arm == who) & (r.test == "fasting") & (r.day == 1003.5)]
        g_t = float(mid[mid.readout == "G"].value.iloc[0])
        g_c = float(ctl[ctl.readout == "G"].value.iloc[0])
        # lower, but by little (1-3 mg/dL): in humans sRANKL does not rise with adiposity (g_L_diet = 0),
        # and the FREEDOM post-hoc analysis found no glucose effect of denosumab (Schwartz 2013)
        assert g_c - 4 < g_t < g_c - 0.5
        nf_t = float(mid[mid.readout == "NFkBn"].value.iloc[0])
        nf_c = float(ctl[ctl.readout == "NFkBn"].value.iloc[0])
        assert nf_t < nf_c


def test_metformin_effects_and_decomposition():
    res = run_scenario(load_scenario("human-metformin"))
    assert not res.failures
    g0 = res.value("untreated", "G")
    egp_only = g0 - res.value("2000 mg/day", "G")  # the default drug: hepatic (EGP) effect only
    total = g0 - res.value("2000 mg/day +rankl", "G")  # with the named RANKL hypothesis
    rankl_only = g0 - res.value("2000 mg/day, RANKL effect only", "G")
    # mg/dL: 9.8 at the pre-dose trough in the diabetic subject (FPG 7.9 mmol/L), whose glycaemia lets
    # through 0.24 of the concentration effect (glycaemic gate, docs/model.md Section 7); 44 before the gate
    assert 8.0 < egp_only < 15.0
    assert res.value("2000 mg/day", "EGP") < res.value("untreated", "EGP")
    # dose response, with and without the hypothesis
    for suffix in ("", " +rankl"):
        doses = ["untreated"] + [f"{d} mg/day{suffix}" for d in (500, 1000, 2000)]
        assert all(np.diff([res.value(a, "G") for a in doses]) < 0)
    # the parts add up to the total within the reported interaction (< 15 % of the total)
    interaction = total - (egp_only + rankl_only)
    assert abs(interaction) < 0.15 * total
    assert egp_only > 0 and rankl_only > 0
    # without the RANKL hypothesis, metformin leaves hepatic NF-kB unchanged (< 1 %) and free sRANKL nearly
    # so (< 2 %): it moves free sRANKL only indirectly, through the hypothesised glycaemia -> OPG link
    # (untreated diabetic subject 0.492 pM, OPG raised; 2000 mg/day 0.497 pM; OPG binds RANKL with
    # Kd_LR / r_opg_rank, issue 12 item 6)
    nf0 = res.value("untreated", "NFkBn")
    assert res.value("2000 mg/day", "NFkBn") == pytest.approx(nf0, rel=0.01)
    assert res.value("2000 mg/day", "RANKL_free") == pytest.approx(res.value("untreated", "RANKL_free"), rel=0.02)
    assert res.value("2000 mg/day, RANKL effect only", "NFkBn") < nf0
    assert res.value("2000 mg/day +rankl", "RANKL_free") < 0.9 * res.value("untreated", "RANKL_free")


def test_opg_rises_after_not_before_onset():
    res = run_scenario(load_scenario("opg-after-onset"))
    assert not res.failures
    run = res.timecourse[res.timecourse.phase == "run"]
    prog = run[run.arm == "progressor"]
    g = prog[prog["id"] == "G"].value.to_numpy()
    o = prog[prog["id"] == "O"].value.to_numpy()
    onset = int(np.argmax(g >= 126.0))
    assert onset > 0 and g[-1] > 126
    assert o[onset] == pytest.approx(o[0], rel=0.02)  # not raised before/at onset
    assert o[-1] > 1.3 * o[0]  # raised after
    non = run[(run.arm == "non-progressor") & (run["id"] == "O")].value.to_numpy()
    assert np.ptp(non) < 0.02 * non[0]
    # the link is a labelled hypothesis: with opg_glyc_gain = 0 the same progressor keeps OPG and free
    # sRANKL flat, while with the link on the raised OPG buffers free sRANKL (-6 %, r_opg_rank 500,
    # serum OPG O_ref taken as total OPG)
    off = run[run.arm == "progressor, no OPG link"]
    assert np.ptp(off[off["id"] == "O"].value.to_numpy()) < 1e-6 * o[0]
    assert off[off["id"] == "G"].value.to_numpy()[-1] > 126
    l_on = prog[prog["id"] == "L"].value.to_numpy()
    l_off = off[off["id"] == "L"].value.to_numpy()
    assert np.ptp(l_off) < 1e-6 * l_off[0]
    # (0.936 after issue 15, when the workload progressor ended at FPG 10.8 mmol/L; 0.885 since the one-route
    # EGP law of issue 12 item 3, where basal EGP rises with hepatic insulin resistance and the same
    # progressor ends at 13.9 mmol/L: a larger glycaemic OPG rise, 2.4 vs 1.8 pM; measured 2026-12-06)
    assert l_on[-1] / l_off[-1] == pytest.approx(0.885, abs=0.02)


def test_batch_keeps_results_when_one_fails(tmp_path):
    good = load_scenario("mouse-hepatic-rank-ko-hfd")
    text = """
name = "impossible-clamp"
species = "mouse"
duration_days = 2
[[tests]]
kind = "clamp"
target_mg_dL = 20
[[tests]]
kind = "fasting"
[[arms]]
name = "WT"
"""
    bad = loads_scenario(text)
    out = run_batch([bad, good], tmp_path, figures=False)
    assert not out.ok
    assert "WT/clamp@2d" in out.results["impossible-clamp"].failures
    assert "could not hold" in out.results["impossible-clamp"].failures["WT/clamp@2d"]
    # the failing test's arm still has its fasting readouts, the other scenario is complete
    assert out.results["impossible-clamp"].value("WT", "G") > 0
    assert (tmp_path / "mouse-hepatic-rank-ko-hfd" / "readouts.csv").exists()
    failures = json.loads((tmp_path / "impossible-clamp" / "failures.json").read_text())
    assert failures


EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "scenarios").glob("*.toml"))
#: examples that take over 5 s (a one-year human trial with weekly output and several arms)
SLOW_EXAMPLES = {"example-human-trial"}
EXAMPLE_PARAMS = [pytest.param(p, id=p.stem, marks=[pytest.mark.slow] * (p.stem in SLOW_EXAMPLES))
                  for p in EXAMPLES]


@pytest.mark.parametrize("path", EXAMPLE_PARAMS)
def test_example_scenarios_run_cleanly(path):
    res = run_scenario(load_scenario(path))
    assert not res.failures
    assert np.isfinite(res.readouts.value.astype(float)).all()
    assert len(res.readouts) > 0


def test_combination_scenario_runs_and_combination_is_best():
    res = run_scenario(load_scenario("human-metformin-denosumab"))
    assert not res.failures
    r = res.readouts
    g = r[(r.test == "fasting") & (r.day == 91.0) & (r.readout == "G")].set_index("arm").value
    assert g["metformin + denosumab"] < min(g["metformin 1000 mg bid"], g["denosumab 60 mg"])
    assert max(g["metformin 1000 mg bid"], g["denosumab 60 mg"]) < g["untreated"]
