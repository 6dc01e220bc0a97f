"""The built-in human subjects are what their descriptions say (catalog.SUBJECTS).

Reference numbers: the descriptions' targets, from the clinical definitions they were calibrated to
(ADA: IFG 5.6-6.9 mmol/L, diabetes >= 7.0 mmol/L; HOMA-IR of treatment-naive T2D ~4).  Before
2026-12-05 the issue-12 refits had moved the subjects without anyone noticing: the "prediabetic"
subject had FPG 5.5 mmol/L (not IFG) and the "diabetic" 6.3 mmol/L (not diabetic)."""

from __future__ import annotations

import pytest

from ranklsim.models.ids import V
from ranklsim.simulate import load_model
from ranklsim.simulate.catalog import SUBJECTS

#: subject -> (FPG mmol/L, fasting insulin pmol/L, HOMA-IR) as stated in its description
TARGETS = {
    "normoglycaemic": (5.1, None, None),
    "prediabetic": (6.0, 48.0, 2.1),
    "diabetic": (7.9, 69.0, 4.0),
}


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_subject_steady_state_matches_its_description(name):
    fpg, ins, homa = TARGETS[name]
    spec = SUBJECTS[name]
    assert f"{fpg} mmol/L" in spec.description
    ss = load_model("human", "chronic").steady_state(spec.overrides, [V.G_mM, V.I, V.HOMA_IR])
    assert float(ss[V.G_mM]) == pytest.approx(fpg, abs=0.1)
    if ins is not None:
        assert f"insulin ~{ins:g} pmol/L" in spec.description
        assert float(ss[V.I]) == pytest.approx(ins, rel=0.05)
        assert float(ss[V.HOMA_IR]) == pytest.approx(homa, rel=0.1)


def test_diagnostic_categories():
    """ADA categories: normal FPG < 5.6, IFG 5.6-6.9, diabetes >= 7.0 mmol/L."""
    model = load_model("human", "chronic")
    fpg = {n: float(model.steady_state(SUBJECTS[n].overrides, [V.G_mM])[V.G_mM]) for n in TARGETS}
    assert fpg["normoglycaemic"] < 5.6 <= fpg["prediabetic"] < 7.0 <= fpg["diabetic"]
