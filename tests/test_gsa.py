"""Sobol GSA of the prediabetic subject: a small run gives a finite table for every output."""

import math

import numpy as np
import pytest

pytest.importorskip("SALib", reason="SALib (pip install ranklsim[fitting]) is needed for Sobol indices")

from ranklsim.fitting import gsa
from ranklsim.models.parameters import parameter_table


def test_uncertain_parameters_have_log_bounds_around_the_nominal_value():
    table = parameter_table("human")
    assert 8 <= len(gsa.UNCERTAIN) <= 10
    for pid, (lo, hi) in gsa.UNCERTAIN.items():
        assert 0 < lo < table[pid].value < hi, pid


def test_model_outputs_at_the_nominal_parameters():
    out = gsa.model_outputs({})
    assert set(out) == set(gsa.OUTPUTS)
    assert all(math.isfinite(v) for v in out.values())
    assert 90 < out["fasting_G"] < 140 and out["HOMA_IR"] > 0
    assert 0 < out["clamp_EGP_suppression"] <= 100
    assert out["denosumab_dG"] < 0  # less RANKL signalling lowers glucose in the model
    with pytest.raises(KeyError):
        gsa.model_outputs({"no_such_parameter": 1.0})


@pytest.mark.slow
def test_small_sobol_run_is_finite_and_total_at_least_first_order(tmp_path):
    names = ["f_rank_stim", "u_infl0", "gi_Vmx"]
    df = gsa.run_gsa(n_base=8, seed=0, out_dir=tmp_path, parameters=names)
    assert set(df["output"]) == set(gsa.OUTPUTS)
    assert len(df) == 4 * len(names)
    assert df.attrs["n_evaluations"] == 8 * (len(names) + 2)
    values = df[["S1", "S1_conf", "ST", "ST_conf"]].to_numpy(float)
    assert np.isfinite(values).all()
    assert (df["n_failed"] == 0).all()
    # total order >= first order, up to the (wide, n_base = 8) bootstrap confidence
    assert (df["ST"] + df["ST_conf"] + df["S1_conf"] >= df["S1"] - 0.05).all()
    for name in ("sobol.csv", "sobol.png", "sobol.json"):
        assert (tmp_path / name).stat().st_size > 0
