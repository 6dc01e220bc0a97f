"""Mechanism before agreement: the RANKL effect on hepatic glucose output flows through the named
link (IKK -> IRS1-Ser inhibition).  Switch that link off and the effect must vanish.

The switch-off runs set ``is_kcat_ser = 0`` (below its table bound: a mechanism check, allowed
explicitly); the reference person of that model is recomputed (docs/model.md Section 13), so the
comparison is RANKL high vs RANKL at reference *within* each model.
"""

from __future__ import annotations

import warnings

import pytest

import ranklsim
from ranklsim.models.ids import P, V
from ranklsim.simulate.scenario import scenario_from_dict
from ranklsim.simulate.simulator import OutOfBoundsWarning

#: sRANKL production raised this many fold (a strong RANKL exposure)
RANKL_FOLD = 5.0
#: the share of the RANKL effect that must go when the link is cut
REMOVED = 0.9


def _fasting_egp(model, extra: dict[str, float]) -> tuple[float, float]:
    """Fasting EGP at reference RANKL and at RANKL x RANKL_FOLD (beta-cell mass held)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OutOfBoundsWarning)
        base = model.steady_state(extra, selections=[V.EGP], allow_out_of_bounds=True)[V.EGP]
        high = model.steady_state({**extra, P.L_prod: RANKL_FOLD * model.parameter_value(P.L_prod)},
                                  selections=[V.EGP], allow_out_of_bounds=True)[V.EGP]
    return base, high


def test_human_fasting_egp_effect_of_rankl_needs_the_irs1_serine_link():
    model = ranklsim.load_model("human")
    base, high = _fasting_egp(model, {})
    cut_base, cut_high = _fasting_egp(model, {P.is_kcat_ser: 0.0})
    effect, cut = high - base, cut_high - cut_base
    assert effect > 0.01 * base  # RANKL raises fasting EGP by more than 1 %
    assert abs(cut) <= (1 - REMOVED) * effect, (effect, cut)


def _clamp_scenario(kcat: float | None) -> dict:
    extra = {} if kcat is None else {P.is_kcat_ser: kcat}
    rankl = RANKL_FOLD * ranklsim.load_model("mouse").parameter_value(P.L_prod)
    return {"name": "clamp-mechanism", "species": "mouse", "duration_days": 7.0, "allow_out_of_bounds": True,
            "tests": [{"kind": "clamp"}],
            "arms": [{"name": "reference", "overrides": extra},
                     {"name": "rankl", "overrides": {**extra, P.L_prod: rankl}}]}


def test_mouse_clamp_effect_of_rankl_needs_the_irs1_serine_link():
    from ranklsim.simulate.runner import run_scenario

    supp = {}
    for label, kcat in (("intact", None), ("cut", 0.0)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OutOfBoundsWarning)
            res = run_scenario(scenario_from_dict(_clamp_scenario(kcat)))
        assert not res.failures, res.failures
        supp[label] = {arm: res.value(arm, "EGP_suppression", "clamp") for arm in ("reference", "rankl")}
    effect = supp["intact"]["reference"] - supp["intact"]["rankl"]  # RANKL lowers insulin's suppression of EGP
    cut = supp["cut"]["reference"] - supp["cut"]["rankl"]
    assert effect > 1.0, supp  # percentage points
    assert abs(cut) <= (1 - REMOVED) * effect, supp


@pytest.mark.parametrize("species", ["human", "mouse"])
def test_cutting_the_link_keeps_the_reference_person(species):
    model = ranklsim.load_model(species)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OutOfBoundsWarning)
        cut = model.steady_state({P.is_kcat_ser: 0.0}, selections=[V.G, V.EGP, V.egp_gng],
                                 allow_out_of_bounds=True)
    ref = model.steady_state({}, selections=[V.G, V.EGP, V.egp_gng])
    assert cut == pytest.approx(ref, rel=1e-6)
