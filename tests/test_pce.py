"""Sobol indices from a polynomial chaos expansion (ranklsim.fitting.pce): analytic benchmarks, the
surrogate's cross-validated fit as a warning of noise, and the ``ranklsim uncertainty --study pce`` command."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from ranklsim.cli import main
from ranklsim.cohort.uncertainty import CASES, LOG_OR, LOG_RR
from ranklsim.fitting.pce import design_matrix, multi_indices, pce_sobol, pce_sobol_indices

#: Ishigami function, a = 7, b = 0.1, x_i ~ U(-pi, pi): analytic indices (Saltelli et al. 2008, Global
#: Sensitivity Analysis: The Primer, Wiley, section 4.9; Sudret 2008 Reliab Eng Syst Saf 93:964, table 1)
ISHIGAMI_S1 = (0.3139, 0.4424, 0.0)
ISHIGAMI_ST = (0.5576, 0.4424, 0.2437)


def _ishigami(p: dict[str, float]) -> dict[str, float]:
    return {"y": math.sin(p["x1"]) + 7.0 * math.sin(p["x2"]) ** 2 + 0.1 * p["x3"] ** 4 * math.sin(p["x1"])}


def test_basis_is_orthonormal_under_the_uniform_measure():
    alphas = multi_indices(2, 3)
    assert len(alphas) == 10 and alphas[0].tolist() == [0, 0]
    nodes, weights = np.polynomial.legendre.leggauss(8)  # exact for the products of degree <= 6 used here
    uu = np.array([[(a + 1) / 2, (b + 1) / 2] for a in nodes for b in nodes])
    ww = np.array([wa * wb / 4 for wa in weights for wb in weights])
    psi = design_matrix(uu, alphas)
    np.testing.assert_allclose(psi.T @ (psi * ww[:, None]), np.eye(len(alphas)), atol=1e-12)


def test_ishigami_indices_match_the_analytic_values():
    bounds = {k: (-math.pi, math.pi) for k in ("x1", "x2", "x3")}
    df = pce_sobol_indices(_ishigami, bounds, n_samples=512, max_degree=10, num_resamples=100).set_index("parameter")
    np.testing.assert_allclose(df["S1"], ISHIGAMI_S1, atol=0.01)
    np.testing.assert_allclose(df["ST"], ISHIGAMI_ST, atol=0.01)
    assert (df["ST_conf"] < 0.02).all() and df["q2"].iloc[0] > 0.99
    design = df.attrs["design"]
    assert len(design) == 512 and list(design.columns) == ["x1", "x2", "x3", "y"]


def test_log_scaled_parameters_are_uniform_in_log10():
    # y = log10(k): additive in the log10 coordinate, so one parameter carries all the variance
    df = pce_sobol_indices(lambda p: {"y": math.log10(p["k"]) + 0.0 * p["c"]}, {"k": (0.1, 10.0), "c": (0.0, 1.0)},
                           n_samples=64, log_scale={"k": True}).set_index("parameter")
    assert df.loc["k", "S1"] == pytest.approx(1.0, abs=1e-9) and df.loc["c", "ST"] == pytest.approx(0.0, abs=1e-9)
    assert df.loc["k", "degree"] == 1 and df.loc["k", "q2"] == pytest.approx(1.0)
    assert df.attrs["design"]["k"].between(0.1, 10.0).all()


def test_noise_is_flagged_by_a_low_q2_and_failures_are_dropped():
    rng = np.random.default_rng(3)
    u = rng.random((128, 2))
    y = rng.standard_normal(128)  # no dependence on u at all
    y[5] = math.nan
    r = pce_sobol(u, y, max_degree=3, num_resamples=50)
    assert r["n_used"] == 127 and r["q2"] < 0.1
    smooth = pce_sobol(u, u[:, 0] + 0.5 * u[:, 1] ** 2, max_degree=3, num_resamples=50)
    assert smooth["q2"] > 0.999 and smooth["ST"][0] > smooth["ST"][1] > 0.0
    with pytest.raises(ValueError, match="too few"):
        pce_sobol(u[:3], y[:3])


def test_uncertainty_command_pce_study(tmp_path):
    pytest.importorskip("SALib")  # the command's module imports the SALib-based studies
    out = tmp_path / "u"
    assert main(["uncertainty", "--study", "pce", "--n", "12", "--years", "5", "--factors", "frag_median,w_tol",
                 "--n-pce", "8", "--workers", "1", "--out", str(out)]) == 0
    meta = json.loads((out / "cohort_uncertainty.json").read_text())
    study = meta["studies"]["pce"]
    assert study["evaluations"] == 8 and study["n_samples"] == 8 and study["factors"] == ["frag_median", "w_tol"]
    assert set(study["surrogate"]) == {CASES, LOG_OR, LOG_RR + "rank_blockade", LOG_RR + "denosumab"}
    assert study["surrogate"][CASES]["degree"] >= 1  # 12 people, 5 years: cases defined, the OR may not be
    design = pd.read_csv(out / "cohort_pce_design.csv")
    assert len(design) == 8 and {"frag_median", "w_tol", "cases"} <= set(design.columns)
    assert (out / "cohort_pce.csv").exists() and (out / "cohort_pce.png").exists()
