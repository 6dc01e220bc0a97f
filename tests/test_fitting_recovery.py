"""Recovery of known parameters from simulated data on the real model, and the fit CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

petab = pytest.importorskip("petab.v1", reason="the fitting extra (petab) is not installed")

from conftest import synthetic_human_problem

from ranklsim.cli import main
from ranklsim.fitting.multistart import CHI2_DELTA_95, run_multistart
from ranklsim.fitting.objective import PetabObjective
from ranklsim.fitting.problems import shipped_problem
from ranklsim.fitting.profile import profile_all
from ranklsim.models.ids import P


@pytest.fixture(scope="module")
def synthetic():
    """The human problem with data simulated at known values of gi_kp3 and gi_Vmx plus noise
    (conftest.synthetic_human_problem), the other parameters fixed."""
    prob, x_true = synthetic_human_problem()
    return PetabObjective(prob), x_true


@pytest.mark.slow
def test_known_parameters_are_recovered(synthetic):
    obj, x_true = synthetic
    assert obj.parameter_ids == (P.gi_kp3, P.gi_Vmx)
    res = run_multistart(obj, 4, seed=2)
    truth = obj(x_true)
    assert res.best_fval <= truth + 1e-6
    assert truth - res.best_fval < CHI2_DELTA_95 * 2  # chi2(2 dof) 95 % threshold: 5.99 / 2
    profiles = profile_all(obj, res.best_x, n_points=8)
    for prof, xt in zip(profiles, x_true, strict=False):
        # CI bounds are on the optimisation (log10) scale, NaN when a side is open
        lo = -np.inf if np.isnan(prof.ci_lower) else prof.ci_lower
        hi = np.inf if np.isnan(prof.ci_upper) else prof.ci_upper
        assert lo <= xt <= hi, (prof.parameter_id, lo, xt, hi)
        assert prof.identifiable


@pytest.mark.slow
def test_fit_cli_writes_results_and_reloads(tmp_path, capsys):
    out = tmp_path / "fit"
    assert main(["fit", "human", "--starts", "2", "--max-nfev", "5", "--out", str(out), "--quiet"]) == 0
    for name in ("starts.csv", "best.json", "fit_table.csv", "waterfall.png", "fit.png"):
        assert (out / name).exists(), name
    best = json.loads((out / "best.json").read_text())
    assert set(best["x_linear"]) == set(PetabObjective(shipped_problem("human")).parameter_ids)
    # a second run into the same folder resumes: nothing left to do, same best
    assert main(["fit", "human", "--starts", "2", "--max-nfev", "5", "--out", str(out), "--quiet"]) == 0
    assert json.loads((out / "best.json").read_text())["fval"] == pytest.approx(best["fval"])


def test_fit_cli_rejects_bad_problem_before_running(tmp_path, capsys):
    assert main(["fit", str(tmp_path / "missing.yaml"), "--out", str(tmp_path / "o")]) == 2
    assert "file not found" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_prediction_bands_of_a_scenario_from_an_ensemble():
    import pandas as pd

    from ranklsim.fitting.ensemble import predict_with_ensemble
    from ranklsim.fitting.predict import ScenarioRun
    from ranklsim.simulate.scenario import loads_scenario

    sc = loads_scenario("""
name = "bands"
species = "human"
duration_days = 2
[[tests]]
kind = "fasting"
[[arms]]
name = "reference"
""")
    ens = pd.DataFrame({P.gi_kp3: [0.02, 0.03, 0.04], P.gi_Vmx: [0.1, 0.15, 0.2]})
    pred = predict_with_ensemble(ens, ScenarioRun(sc, ids=("G", "HOMA_IR")))
    g = pred[pred.readout == "G"].iloc[0]
    assert g["n"] == 3 and g["q2.5"] < g["median"] < g["q97.5"]
    # more hepatic insulin action -> lower fasting glucose: the band spans the members' spread
    single = [ScenarioRun(sc, ids=("G",))({P.gi_kp3: k, P.gi_Vmx: v})["value"].iloc[0]
              for k, v in zip(ens[P.gi_kp3], ens[P.gi_Vmx], strict=False)]
    assert min(single) <= g["q2.5"] + 1e-9 and g["q97.5"] <= max(single) + 1e-9
    assert single[0] > single[2]
