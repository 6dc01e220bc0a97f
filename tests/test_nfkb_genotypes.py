"""Hepatic NF-kB module in the composite (issue 12, item 1): a monotone stimulus response over the whole
operating range, and the hepatic IKK/NF-kB genotypes acting inside the module.

* Monotone: steady-state nuclear NF-kB and active IKK never fall as the RANK input (sRANKL production)
  or the inflammatory input rises from 0 to 100x the reference (Lipniacki's TNF entry point alone is
  not monotone; the coupling saturates the stimulus below its maximum, docs/model.md Section 8).
* LIKK (Cai et al. 2005 Nat Med 11:183, constitutively active hepatocyte IKKb): raised hepatic NF-kB,
  hyperinsulinaemia and impaired clamp EGP suppression; LISR (IkBa super-repressor) reverses them;
  hepatic IKKb knockout (Arkan et al. 2005 Nat Med 11:191) blunts the HFD effect.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import ranklsim
from ranklsim.models.ids import P, V
from ranklsim.simulate.catalog import GENOTYPES
from ranklsim.simulate.runner import run_scenario
from ranklsim.simulate.scenario import scenario_from_dict
from ranklsim.simulate.simulator import OutOfBoundsWarning

#: input multiples of the reference: 0, then a dense log grid to 100x
GRID = np.concatenate([[0.0], np.geomspace(0.01, 100.0, 25)])
#: allowed decrease between neighbouring grid points (relative; solver precision)
SLACK = 1e-7


@pytest.mark.parametrize("species", ["human", "mouse"])
@pytest.mark.parametrize("driver", [P.L_prod, P.u_infl0])
def test_nfkb_and_ikk_rise_monotonically_with_the_stimulus(species, driver):
    model = ranklsim.load_model(species)
    ref = model.parameter_value(driver)
    values = {V.NFkBn: [], V.IKKa: [], V.stim_ikk: []}
    for fold in GRID:
        with warnings.catch_warnings():  # 100x the reference lies beyond the validity domain
            warnings.simplefilter("ignore", OutOfBoundsWarning)
            out = model.steady_state({driver: fold * ref}, selections=list(values), allow_out_of_bounds=True)
        for key in values:
            values[key].append(out[key])
    for key, series in values.items():
        y = np.asarray(series)
        assert np.all(np.diff(y) >= -SLACK * np.abs(y[1:])), (key, y)
    # a real dynamic range, not a flat line: 100x the input at least doubles nuclear NF-kB over 0x
    nf = np.asarray(values[V.NFkBn])
    assert nf[-1] > 1.5 * nf[0]
    # the stimulus stays below the saturation level (the maximum of the module's response)
    assert max(values[V.stim_ikk]) < model.parameter_value(P.stim_sat)


def _scenario(species: str) -> dict:
    return {
        "name": "hepatic-ikk-genotypes", "species": species, "duration_days": 28.0,
        "tests": [{"kind": "fasting"}, {"kind": "clamp"}],
        "arms": [
            {"name": "wt"},
            {"name": "likk", "genotype": [{"name": "hepatic_ikkb_ca"}]},
            {"name": "likk_lisr", "genotype": [{"name": "hepatic_ikkb_ca"}, {"name": "hepatic_ikba_sr"}]},
            {"name": "hfd", "diet": [{"diet": "hfd"}]},
            {"name": "ikkb_ko", "genotype": [{"name": "hepatic_ikkb_ko"}]},
            {"name": "hfd_ikkb_ko", "diet": [{"diet": "hfd"}], "genotype": [{"name": "hepatic_ikkb_ko"}]},
        ],
    }


@pytest.fixture(scope="module")
def mouse_genotypes():
    res = run_scenario(scenario_from_dict(_scenario("mouse")))
    assert not res.failures, res.failures
    return lambda arm, readout, test="fasting": res.value(arm, readout, test)


def test_likk_raises_hepatic_nfkb_and_insulin_resistance(mouse_genotypes):
    v = mouse_genotypes
    assert v("likk", "NFkBn") > 2.0 * v("wt", "NFkBn")
    # compensatory hyperinsulinaemia (measured 2026-12-06: +15.0 %; +18 % with the double insulin route)
    assert v("likk", "I") > 1.10 * v("wt", "I")
    assert v("likk", "HOMA_IR") > 1.15 * v("wt", "HOMA_IR")
    assert v("likk", "EGP") > v("wt", "EGP")
    # hepatic insulin resistance in the clamp: EGP suppression at least 10 points lower (measured 2026-12-06:
    # 84 -> 73 %; the single insulin route makes LIKK a rightward shift that clamp insulin partly overcomes)
    assert v("likk", "EGP_suppression", "clamp") < v("wt", "EGP_suppression", "clamp") - 10.0


def test_lisr_reverses_the_likk_phenotype(mouse_genotypes):
    v = mouse_genotypes
    assert v("likk_lisr", "NFkBn") < 0.1 * v("wt", "NFkBn")
    assert v("likk_lisr", "I") <= v("wt", "I")
    assert v("likk_lisr", "EGP_suppression", "clamp") >= v("wt", "EGP_suppression", "clamp")


def test_hepatic_ikkb_knockout_blunts_the_hfd_effect(mouse_genotypes):
    v = mouse_genotypes
    wt_effect = v("wt", "EGP_suppression", "clamp") - v("hfd", "EGP_suppression", "clamp")
    ko_effect = v("ikkb_ko", "EGP_suppression", "clamp") - v("hfd_ikkb_ko", "EGP_suppression", "clamp")
    assert wt_effect > 10.0
    assert ko_effect < 0.2 * wt_effect
    ins_wt = v("hfd", "I") / v("wt", "I")
    ins_ko = v("hfd_ikkb_ko", "I") / v("ikkb_ko", "I")
    assert ins_ko - 1 < 0.2 * (ins_wt - 1)


@pytest.mark.xfail(strict=True, reason="issue 12 item 9: the mouse beta-cell functional compensation offsets "
                                       "most of LIKK's hepatic insulin resistance (+1.8 %; +4.6 % even at 10x the "
                                       "transgene activity); Cai 2005 report hyperglycaemia with a systemic (IL-6) "
                                       "component the model does not have (docs/model.md Section 3)")
def test_likk_mice_are_fasting_hyperglycaemic(mouse_genotypes):
    assert mouse_genotypes("likk", "G") > 1.05 * mouse_genotypes("wt", "G")


def test_likk_human_equivalent_raises_fasting_glucose():
    """In the human model (no pinned compensation) the same genotype raises fasting glucose and EGP;
    the super-repressor brings both below the wild type."""
    model = ranklsim.load_model("human")
    sel = [V.G, V.EGP, V.NFkBn]
    wt = model.steady_state({}, selections=sel)
    likk_ca = GENOTYPES["hepatic_ikkb_ca"].overrides()
    likk = model.steady_state(likk_ca, selections=sel)
    both = model.steady_state({**likk_ca, **GENOTYPES["hepatic_ikba_sr"].overrides()}, selections=sel)
    assert likk[V.G] > wt[V.G] + 1.0 and likk[V.EGP] > 1.05 * wt[V.EGP]
    assert both[V.G] < wt[V.G] and both[V.EGP] < wt[V.EGP]
