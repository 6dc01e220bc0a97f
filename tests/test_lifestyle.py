"""The lifestyle cohort arm (issue 15, item 8): weight loss and activity from baseline."""

from __future__ import annotations

import pytest

from ranklsim.cohort import PopulationSpec, run_cohort
from ranklsim.cohort.arms import resolve_arms
from ranklsim.cohort.lifestyle import INSULIN_SENSITIVITY_GAIN, WEIGHT_LOSS, Lifestyle
from ranklsim.models.ids import P


def test_weight_loss_maps_bmi_to_adiposity():
    life = Lifestyle()
    assert WEIGHT_LOSS == 0.06 and pytest.approx(0.1618, abs=1e-4) == INSULIN_SENSITIVITY_GAIN
    # BMI 30 (adiposity 1) -> 28.2 kg/m^2 -> (28.2 - 22) / 8
    assert life.adiposity_after(1.0) == pytest.approx(0.775)
    assert life.adiposity_after(0.0) == 0.0 and life.adiposity_after(0.05) == 0.0  # BMI 22.4 -> below 22
    assert life.adiposity_after(2.0) == pytest.approx((38 * 0.94 - 22) / 8)
    assert Lifestyle(weight_loss=0.0).adiposity_after(0.7) == pytest.approx(0.7)
    values = life.baseline_values({P.adiposity: 1.0, P.ir_comp: 2.0}, {P.adiposity: 0.0, P.ir_comp: 1.0})
    assert values == {P.adiposity: pytest.approx(0.775), P.ir_comp: pytest.approx(2.0 / 1.1618, rel=1e-4)}
    for bad in ({"weight_loss": -0.1}, {"weight_loss": 0.5}, {"insulin_sensitivity_gain": -1.0}):
        with pytest.raises(ValueError):
            Lifestyle(**bad)


def test_lifestyle_arm_lowers_adiposity_driven_readouts():
    """Same people, control vs lifestyle over 2 years: lower hepatic NF-kB memory (adiposity drives the
    hepatic inflammatory input and the diet gain of RANK signalling) and fasting glucose no higher."""
    arm = resolve_arms(["lifestyle"])[0]
    assert arm.lifestyle == Lifestyle() and not arm.is_control and arm.to_dict()["lifestyle"]["weight_loss"] == 0.06
    res = run_cohort(PopulationSpec(n=6, seed=5), years=2.0, exam_every=1.0, arms=["control", "lifestyle"])
    assert res.people["error"].isna().all()
    ctl = res.people[res.people.arm == "control"].set_index("person_id")
    life = res.people[res.people.arm == "lifestyle"].set_index("person_id")
    assert (life["fpg_y0"] == ctl["fpg_y0"]).all()  # baseline before the intervention
    obese = ctl[P.adiposity] > 0.2
    assert obese.sum() >= 2
    # (measured 2026-12-06: -8 % in a woman, -0.85 % in two men, whose hepatic input, hep_sex_ratio 3.4 x a
    # woman's, puts the IKK stimulus near its saturation, where the adiposity-driven part moves it less)
    assert (life.loc[obese, "mhep_y2"] < 0.995 * ctl.loc[obese, "mhep_y2"]).all()
    assert (life["fpg_y2"] <= ctl["fpg_y2"] + 1e-6).all()
