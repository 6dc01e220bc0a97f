"""Mouse glucose-insulin physiology (issue 12, item 9; partial).

* Oral glucose: gastric emptying and absorption have their own mouse time scale (``f_time_gut``), so a
  2 g/kg OGTT in a chow mouse peaks at 15-30 min, as in C57BL/6J mice (with every rate scaled by the
  allometric ``f_time_G`` it peaked at 12 min).
* Insulin kinetics have their own mouse time scale (``f_time_I``): the metabolic clearance rate in a
  2.5 mU/kg/min clamp is 86 mL/kg/min, the rat's 46 mL/kg/min (Kraegen et al. 1983 Am J Physiol)
  scaled by mass^-0.25; with ``f_time_G`` it was 166 mL/kg/min and the standard clamp raised insulin
  only 1.9-fold (EGP suppression 37 %).
* Clamp: since the one-route EGP law (issue 12 item 3) the standard 2.5 mU/kg/min clamp suppresses EGP
  by more than 80 %; conscious C57BL/6J mice have EGP fully suppressed above 0.8 mU/kg/min (Ayala et al.
  2006 Diabetes 55:390).  (Before, with the double insulin route, it suppressed 65 % and this test was a
  strict xfail.)
* Validation against an IPGTT and an 8-week high-fat diet not used in any fit (Andrikopoulos 2008).
"""

from __future__ import annotations

import numpy as np
import pytest

import ranklsim
from ranklsim.constants import CLAMP_MOUSE_MU_PER_KG_PER_MIN, PMOL_PER_MU
from ranklsim.models.ids import P, V
from ranklsim.simulate.protocols import Clamp, GlucoseTolerance
from ranklsim.simulate.runner import run_scenario
from ranklsim.simulate.scenario import loads_scenario

OGTT_DOSE_MG_PER_KG = 2000.0


@pytest.fixture(scope="module")
def mouse():
    return ranklsim.load_model("mouse")


def test_ogtt_glucose_peaks_at_15_to_30_min(mouse):
    bw = mouse.parameter_value(P.BW)
    res = mouse.simulate(120.0, n_points=121, selections=[V.G, V.I],
                         events=GlucoseTolerance("oral", dose_mg_per_kg=OGTT_DOSE_MG_PER_KG).events("mouse", bw))
    t_peak = res.time[np.argmax(res[V.G])]
    assert 15.0 <= t_peak <= 30.0
    assert res[V.G].max() > 1.5 * res[V.G][0]  # a real excursion
    assert res[V.G][-1] < 1.15 * res[V.G][0]  # back near baseline by 2 h
    # the fasting state does not depend on the gut time scale
    fast = mouse.steady_state({P.f_time_gut: 2 * mouse.parameter_value(P.f_time_gut)}, selections=[V.G, V.I])
    assert fast[V.G] == pytest.approx(res[V.G][0], rel=1e-6)


@pytest.fixture(scope="module")
def standard_clamp(mouse):
    """The fasting state and a 150-min clamp at the standard mouse rate (shared by the clamp tests)."""
    sel = [V.G, V.I, V.EGP_obs]
    basal = mouse.steady_state({}, selections=sel)
    res = mouse.simulate(150.0, n_points=151, selections=sel,
                         overrides=Clamp(CLAMP_MOUSE_MU_PER_KG_PER_MIN).settings(mouse.parameter_value(P.BW), basal))
    return basal, res


def test_insulin_clearance_in_a_standard_clamp(standard_clamp):
    basal, res = standard_clamp
    rate_pmol = CLAMP_MOUSE_MU_PER_KG_PER_MIN * PMOL_PER_MU  # pmol/kg/min
    mcr = rate_pmol / ((res[V.I][-30:].mean() - basal[V.I]) / 1000.0)  # mL/kg/min
    assert mcr == pytest.approx(86.0, rel=0.05)


def test_standard_clamp_suppresses_egp_almost_fully(standard_clamp):
    """Ayala 2006: EGP fully suppressed at 2.5 mU/kg/min.  Since the one-route EGP law (issue 12 item 3),
    where the hepatocyte chain carries the direct insulin action, the model suppresses it by > 80 %."""
    basal, res = standard_clamp
    assert res[V.EGP_obs][-30:].mean() < 0.2 * basal[V.EGP_obs]


#: Andrikopoulos et al. 2008 Am J Physiol Endocrinol Metab 295:E1323 (male C57BL/6J, chow or high-fat diet
#: for 8 weeks, 6-h fast, 2 g/kg IPGTT): fasting glucose 7.9 +- 0.4 (chow) and 9.1 +- 0.3 mmol/L (HFD); glucose
#: AUC over 120 min 1,248 +- 83 (chow) and 1,973 +- 96 mmol/L.min (HFD), mean +- SEM.  Not used in any fit.
ANDRIKOPOULOS_CHOW_IPGTT_AUC = 1248.0  # mmol/L.min, the value the test compares with


def test_ipgtt_and_8_week_hfd_against_independent_data(mouse):
    """Validation against a study not used in the calibration: the chow IPGTT glucose AUC within 15 % of
    Andrikopoulos 2008 (measured 2026-12-06, one-route EGP law: 1,168 vs 1,248 mmol/L.min) and the 8-week HFD
    rise of fasting glucose within 5-30 % (measured +16 %, observed +15 %).  The HFD rise of the IPGTT AUC has
    the right sign but is under-predicted (+19 % vs +58 %): the diet's peripheral insulin resistance (g_periph) is
    assumed, not calibrated (docs/model.md Section 12)."""
    text = """
name = "andrikopoulos-2008"
species = "mouse"
duration_days = 56.0
[[tests]]
kind = "fasting"
[[tests]]
kind = "ipgtt"
glucose_g_per_kg = 2.0
[[arms]]
name = "chow"
[[arms]]
name = "HFD"
diet = [{ diet = "hfd" }]
"""
    res = run_scenario(loads_scenario(text))
    assert not res.failures
    mgdl_per_mm = mouse.parameter_value(P.mgdl_per_mM)
    auc = {a: res.value(a, "AUC_G", "ipgtt") / mgdl_per_mm for a in ("chow", "HFD")}
    g = {a: res.value(a, "G") for a in ("chow", "HFD")}
    assert auc["chow"] == pytest.approx(ANDRIKOPOULOS_CHOW_IPGTT_AUC, rel=0.15)
    assert 0.05 < g["HFD"] / g["chow"] - 1 < 0.30
    assert auc["HFD"] > 1.1 * auc["chow"]
