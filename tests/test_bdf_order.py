"""The chronic view's cap on CVODE's BDF order (``MAX_BDF_ORDER``, docs/model.md Section 1.5).

The hepatic NF-kB loop has weakly damped oscillatory eigenvalues outside BDF-5's A(alpha) sector: at
order 5 a long run near steady state is stability-limited (CVODE chatters and keeps short steps), at
order 3 it is not.  Step counts are deterministic, so they are asserted; wall times never are.
"""

from __future__ import annotations

import numpy as np
import pytest

import ranklsim
from ranklsim.constants import MINUTES_PER_DAY, RELAX_DAYS
from ranklsim.models.ids import P, V
from ranklsim.simulate.solver import MAX_BDF_ORDER

KO = {P.rank_hep_expr: 0.0}


def _relax_steps(model, order: int) -> tuple[int, float]:
    """CVODE steps of the 3-year relaxation of the mouse hepatocyte Rank-KO from its prepared state at
    maximum BDF order ``order``, and the final nuclear NF-kB."""
    with model.solver_settings(max_order=order):
        model._prepare(*model.reference(KO).apply(KO, {}))
        rr = model._rr
        rr.integrator.setValue("variable_step_size", True)
        try:
            rr.timeCourseSelections = ["time", V.NFkBn]
            out = np.asarray(rr.simulate(0.0, RELAX_DAYS * MINUTES_PER_DAY))
        finally:
            rr.integrator.setValue("variable_step_size", False)
    return len(out), float(out[-1, 1])


def test_views_use_their_bdf_order_cap():
    assert MAX_BDF_ORDER == {"acute": 5, "chronic": 3}
    for view, order in MAX_BDF_ORDER.items():
        assert ranklsim.load_model("mouse", view)._rr.integrator.getValue("maximum_bdf_order") == order


@pytest.mark.filterwarnings("ignore:Simulation requested end time point")
def test_order_cap_removes_the_stability_limited_steps_of_the_rank_ko_relaxation():
    """Measured 2026-12-06: ~1,000 steps at order 3, ~2,300 at order 2 (A-stable), and the 100,000-row
    output limit hit before the end at order 5.  The capped run ends on the A-stable run's steady state."""
    model = ranklsim.load_model("mouse", "chronic")
    steps3, nfkb3 = _relax_steps(model, MAX_BDF_ORDER["chronic"])
    steps2, nfkb2 = _relax_steps(model, 2)
    steps5, _ = _relax_steps(model, 5)
    assert steps3 < 2000 and steps2 < 5000
    assert steps5 > 20 * steps3  # chatter: stability-limited, not accuracy-limited
    assert nfkb3 == pytest.approx(nfkb2, rel=1e-5)
    assert model.steady_state(KO, [V.NFkBn])[V.NFkBn] == pytest.approx(nfkb2, rel=1e-6)
