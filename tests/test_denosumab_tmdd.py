"""Drug-RANKL complexes cleared by target-mediated internalisation (issue 12, item 7).

The complex LD (antibody) and LOFc (OPG-Fc) are eliminated by the drug's linear clearance plus
``k_int = cx_kint_ratio * Vmax/(Vc*Km)``, the first-order rate constant of the free drug's
target route at low concentration (pk.ant).  With the old rule (linear clearance only) the
complex accumulated sRANKL and released it as the drug fell: free sRANKL rose to +61 % of
baseline at day ~166 and was +15 % at the day-182.5 trough of every 6-month interval.
"""

from __future__ import annotations

import numpy as np
import pytest

from ranklsim import load_model
from ranklsim.models.ids import P, V
from ranklsim.simulate.runner import run_scenario
from ranklsim.simulate.scenario import loads_scenario

MW_DENOSUMAB = 147_000.0  # g/mol (catalogue)
#: single 60 mg SC dose in the reference human, measured on the commit f068819/405b610 model
#: (before the complex internalisation), output every 0.25 d: Cmax 8.5268 ug/mL at Tmax 14.25 d;
#: terminal half-life 25.62 d = ln 2 / log-linear slope over days 56-112 (label: 25.4 d)
TODAY_CMAX_UG_ML = 8.5268
TODAY_TMAX_D = 14.25
TODAY_T_HALF_D = 25.62
INTERVAL = 182.5
N_DOSES = 6
LAST_DOSE = (N_DOSES - 1) * INTERVAL


def _run(text: str):
    res = run_scenario(loads_scenario(text))
    assert not res.failures
    return res.timecourse


def _series(tc, arm: str, sid: str) -> tuple[np.ndarray, np.ndarray]:
    d = tc[(tc.arm == arm) & (tc["id"] == sid) & (tc.phase == "run")]
    return d.time.to_numpy(), d.value.to_numpy()


@pytest.fixture(scope="module")
def single_dose():
    tc = _run("""
name = "den-single"
species = "human"
duration_days = 300
timecourse = ["Dg", "L"]
output_every_days = 0.25
[[arms]]
name = "dose"
treatments = [{ drug = "denosumab", dose = 60.0, unit = "mg", route = "sc" }]
""")
    t, dg = _series(tc, "dose", V.Dg)
    return t, dg * MW_DENOSUMAB * 1e-9  # pM -> ug/mL


def test_pk_unchanged_within_15_percent(single_dose):
    t, c = single_dose
    i = int(np.argmax(c))
    assert c[i] == pytest.approx(TODAY_CMAX_UG_ML, rel=0.15)
    assert t[i] == pytest.approx(TODAY_TMAX_D, rel=0.15)
    m = (t >= 56.0) & (t <= 112.0)
    t_half = np.log(2) / -np.polyfit(t[m], np.log(c[m]), 1)[0]
    assert t_half == pytest.approx(TODAY_T_HALF_D, rel=0.15)


@pytest.fixture(scope="module")
def q6mo():
    """60 mg SC every 182.5 d for 3 years (6 doses), followed 18 months after the last dose,
    in a prediabetic subject with an untreated twin arm."""
    return _run(f"""
name = "den-q6mo"
species = "human"
duration_days = {LAST_DOSE + 547.5}
timecourse = ["L", "G", "Dg"]
output_every_days = 0.5
[[arms]]
name = "untreated"
subject = "prediabetic"
[[arms]]
name = "denosumab"
subject = "prediabetic"
treatments = [{{ drug = "denosumab", dose = 60.0, unit = "mg", route = "sc", every_days = {INTERVAL}, n_doses = {N_DOSES} }}]
""")


def test_free_rankl_below_baseline_through_every_interval(q6mo):
    t, free = _series(q6mo, "denosumab", V.L)
    base = free[0]
    troughs = []
    for k in range(N_DOSES):
        inside = (t > k * INTERVAL) & (t < (k + 1) * INTERVAL)
        # below baseline at every output time until the next dose is due (no rebound)
        assert free[inside].max() < base, (k, free[inside].max() / base)
        troughs.append(free[inside][-1] / base)  # just before the next dose (day 182 of the interval)
    # the interval's trough: still suppressed (model 0.93), identical in every interval
    assert max(troughs) < 0.97
    assert np.ptp(troughs) < 0.01


def test_free_rankl_returns_to_baseline_after_the_last_dose(q6mo):
    t, free = _series(q6mo, "denosumab", V.L)
    after = t >= LAST_DOSE + 365.0  # 12-18 months after the last dose
    assert np.all(np.abs(free[after] / free[0] - 1.0) < 0.10)
    assert np.all(free[t > LAST_DOSE] <= free[0] * (1 + 1e-6))  # approached from below, no overshoot


def test_fasting_glucose_never_above_untreated(q6mo):
    _, g_t = _series(q6mo, "denosumab", V.G)
    _, g_c = _series(q6mo, "untreated", V.G)
    assert np.all(g_t <= g_c + 1e-6)


@pytest.mark.parametrize("species", ["human", "mouse"])
def test_complex_elimination_rule_is_shared_by_antibody_and_opg_fc(species):
    """Both drug slots (denosumab / anti-mouse-RANKL antibody, OPG-Fc) clear their RANKL complex at
    the linear rate plus cx_kint_ratio x the free drug's low-concentration target-route rate."""
    model = load_model(species, "chronic")
    p = model.parameter_value
    res = model.simulate(times=[0.0, 1.0], selections=[V.k_LD_el, V.k_LOFc_el, V.k_LD_int, V.k_LOFc_int])
    row = res.frame.iloc[-1]
    ratio = p(P.cx_kint_ratio)
    assert ratio >= 1.0
    assert row[V.k_LD_int] == pytest.approx(ratio * p(P.ab_Vmax) / (p(P.ab_Vc) * p(P.ab_Km)), rel=1e-9)
    assert row[V.k_LOFc_int] == pytest.approx(ratio * p(P.ofc_Vmax) / (p(P.ofc_Vc) * p(P.ofc_Km)), rel=1e-9)
    assert row[V.k_LD_el] == pytest.approx(p(P.ab_CL) / p(P.ab_Vc) + row[V.k_LD_int], rel=1e-9)
    assert row[V.k_LOFc_el] == pytest.approx(p(P.ofc_CL) / p(P.ofc_Vc) + row[V.k_LOFc_int], rel=1e-9)


@pytest.mark.parametrize("drug, dose", [("anti_mouse_rankl", 0.3), ("opg_fc", 1.0)])
def test_mouse_blockers_leave_no_rebound(drug, dose):
    """A single mouse dose of either RANKL blocker: free sRANKL stays at or below baseline until
    it has returned (no complex-driven overshoot)."""
    tc = _run(f"""
name = "mouse-{drug}"
species = "mouse"
duration_days = 90
timecourse = ["L"]
output_every_days = 0.1
[[arms]]
name = "dose"
treatments = [{{ drug = "{drug}", dose = {dose}, unit = "mg/kg", route = "sc" }}]
""")
    _, free = _series(tc, "dose", V.L)
    assert free.min() < 0.5 * free[0]
    # 1e-4: since issue 12 endogenous OPG buffers sRANKL (r_opg_rank 500) and returns to its own
    # equilibrium over weeks after the blockade, which leaves a 7e-6 relative overshoot (the complex-
    # driven rebound this test guards against was +48 %)
    assert free.max() <= free[0] * (1 + 1e-4)
