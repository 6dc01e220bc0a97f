"""pyPESTO interoperability: our objective as a ``pypesto.Objective``, and what our multistart adds.

The decision (docs/fitting.md): ranklsim keeps its own multistart, profiles and sampling because of
the resumable starts.csv and the engines shared with the cohort; ``PetabObjective.to_pypesto()``
hands the same objective to pyPESTO for anything else.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

petab = pytest.importorskip("petab.v1", reason="the fitting extra (petab) is not installed")
pytest.importorskip("pypesto", reason="the pypesto extra is not installed")
import pypesto
import pypesto.optimize
from test_fitting_engines import InterruptingObjective, ToyObjective

from ranklsim.fitting import problems as C
from ranklsim.fitting.multistart import run_multistart
from ranklsim.fitting.objective import PetabObjective
from ranklsim.fitting.problems import shipped_problem
from ranklsim.models.ids import P


@pytest.fixture(scope="module")
def small():
    """The human problem with two estimated parameters (gi_kp3, gi_Vmx)."""
    prob = petab.Problem.from_yaml(str(shipped_problem("human")))
    par = prob.parameter_df.copy()
    par.loc[[P.gi_kp1, P.gi_Vm0], C.ESTIMATE] = 0
    prob.parameter_df = par
    return PetabObjective(prob)


def test_to_pypesto_gives_the_same_fun_and_res(small):
    obj = small.to_pypesto()
    assert obj.has_fun and obj.has_res and list(obj.x_names) == list(small.parameter_ids)
    x = small.x_nominal + 0.03
    assert obj(x) == pytest.approx(small(x), rel=1e-12)
    res = obj(x, sensi_orders=(0,), mode=pypesto.C.MODE_RES)
    np.testing.assert_allclose(res, small.residuals(x), rtol=1e-12)
    problem = small.to_pypesto_problem()
    np.testing.assert_array_equal(problem.lb, small.lower)
    np.testing.assert_array_equal(problem.ub, small.upper)


@pytest.mark.slow
def test_pypesto_optimizer_reaches_our_best_nll(small):
    ours = run_multistart(small, 3, seed=0)
    result = pypesto.optimize.minimize(
        small.to_pypesto_problem(), optimizer=pypesto.optimize.ScipyOptimizer(method="ls_trf"), n_starts=3,
        engine=pypesto.engine.SingleCoreEngine(), progress_bar=False, filename=None)
    x_theirs = result.optimize_result.list[0].x
    theirs = min(small(r.x) for r in result.optimize_result.list)
    assert theirs == pytest.approx(ours.best_fval, abs=1e-3)
    np.testing.assert_allclose(x_theirs, ours.best_x, atol=1e-2)


def test_an_interrupted_multistart_keeps_its_finished_starts_pypesto_does_not(tmp_path):
    """What our multistart gives that pyPESTO 0.7 does not: an interrupted run keeps every finished
    start in starts.csv, and a rerun only runs the missing ones.  pyPESTO returns its results only
    when all starts are done, so an interrupt loses them all."""
    fresh = ToyObjective()
    full = run_multistart(fresh, 4, seed=4, out_dir=tmp_path / "full")
    limit = int(full.table.set_index("start_id")["n_fev"].loc[[0, 1]].sum()) + 3  # dies in start 2

    problem = pypesto.Problem(pypesto.Objective(fun=InterruptingObjective(limit)), lb=fresh.lower,
                              ub=fresh.upper)
    with pytest.raises(KeyboardInterrupt):
        pypesto.optimize.minimize(problem, n_starts=4, progress_bar=False, filename=None)

    with pytest.raises(KeyboardInterrupt):
        run_multistart(InterruptingObjective(limit), 4, seed=4, out_dir=tmp_path / "run")
    assert sorted(pd.read_csv(tmp_path / "run" / "starts.csv")["start_id"]) == [0, 1]
    again = ToyObjective()
    resumed = run_multistart(again, 4, seed=4, out_dir=tmp_path / "run")
    assert resumed.metadata["n_resumed"] == 2 and resumed.best_fval == full.best_fval
    assert again.calls < fresh.calls
