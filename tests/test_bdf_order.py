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


def test_cohort_falls_back_to_bdf2_where_order_3_chatters():
    """Far below the reference hepatic IKK drive (seed 1, person 91 of 100: a woman with a low
    inflammatory input, hepatocyte RANK blocked) the NF-kB eigenvalues leave BDF-3's sector too.  The
    cohort's first attempt (order 3) exhausts its step budget and the order-2 attempt (A-stable) runs
    the person; its examinations equal an order-3 run without the budget (which takes ~85x longer)."""
    from dataclasses import replace

    from ranklsim.cohort.arms import builtin_arm
    from ranklsim.cohort.followup import (
        _SELECTIONS,
        DEFAULT_EXAMS,
        ORDER3_STEP_BUDGET,
        SOLVER_ATTEMPTS,
        exam_schedule,
        plan_follow_up,
        simulate_plan,
    )
    from ranklsim.cohort.population import IR_DRIFT, PopulationSpec, generate_population, person_overrides
    from ranklsim.cohort.runner import worker_model

    assert SOLVER_ATTEMPTS[0].max_order == 3 and SOLVER_ATTEMPTS[0].max_steps == ORDER3_STEP_BUDGET
    assert SOLVER_ATTEMPTS[1].max_order == 2 and SOLVER_ATTEMPTS[1].max_steps > ORDER3_STEP_BUDGET
    model = worker_model()
    row = generate_population(PopulationSpec(n=100, seed=1)).iloc[91]
    ov = person_overrides(row)
    plan = plan_follow_up(model, ov, exam_schedule(15.0, DEFAULT_EXAMS), float(row[IR_DRIFT]),
                          extra_overrides=builtin_arm("rank_blockade").baseline_overrides(ov, model))
    res, used = simulate_plan(model, plan, list(_SELECTIONS))
    assert used == 1
    unbudgeted = (replace(SOLVER_ATTEMPTS[0], max_steps=200000),)
    ref, first = simulate_plan(model, plan, list(_SELECTIONS), attempts=unbudgeted)
    assert first == 0
    np.testing.assert_allclose(res.array, ref.array, rtol=1e-6, atol=1e-9)
    # a control-arm person of the same population runs on the first attempt
    _, used0 = simulate_plan(model, plan_follow_up(model, ov, exam_schedule(15.0, DEFAULT_EXAMS),
                                                   float(row[IR_DRIFT])), list(_SELECTIONS))
    assert used0 == 0
