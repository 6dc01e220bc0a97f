"""Uncertainty of the cohort's headline numbers (ranklsim.cohort.uncertainty): factors, Morris screen,
ensemble bands and sign robustness, and the ``ranklsim uncertainty`` command."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from ranklsim.cli import main
from ranklsim.cohort.population import FITTED_INTERVALS, PopulationSpec
from ranklsim.cohort.uncertainty import (
    CASES,
    LOG_OR,
    LOG_RR,
    CohortReadouts,
    Factor,
    bands,
    check_factors,
    consistent_with_cases,
    default_factors,
    draw_ensemble,
    ensemble,
    ensemble_bands,
    readouts,
    screen,
    split,
    top_factors,
)
from ranklsim.models.ids import P
from ranklsim.models.parameters import parameter_table

pytest.importorskip("SALib")


def test_default_factors_are_sourced_ranges_around_the_defaults():
    factors = check_factors(default_factors())
    table = parameter_table("human")
    spec = PopulationSpec()
    assert len(factors) >= 12
    for f in factors:
        assert f.source, f.id
        default = table[f.id].value if f.kind == "model" else getattr(spec, f.id)
        assert f.low <= default <= f.high, (f.id, f.low, default, f.high)
        if f.kind == "model":
            assert table[f.id].lower <= f.low and f.high <= table[f.id].upper
    by_id = {f.id: f for f in factors}
    for k, (lo, hi) in FITTED_INTERVALS.items():  # the fitted fields: their profile intervals
        assert (by_id[k].low, by_id[k].high) == (lo, hi) and by_id[k].kind == "population"
    assert by_id[P.f_rank_stim].kind == "model" and "assumed" in by_id[P.f_rank_stim].source


def test_split_and_bad_factors():
    spec, model = split({"frag_median": 0.5, P.w_tol: 3.0}, PopulationSpec(n=10, seed=4))
    assert (spec.frag_median, spec.n, spec.seed) == (0.5, 10, 4) and model == {P.w_tol: 3.0}
    with pytest.raises(ValueError, match="unknown"):
        split({"no_such_id": 1.0}, PopulationSpec())
    with pytest.raises(ValueError, match="drawn per person"):
        split({P.L_prod: 1.0}, PopulationSpec())
    with pytest.raises(ValueError, match="frag_median must be > 0"):
        split({"frag_median": -1.0}, PopulationSpec())
    with pytest.raises(ValueError, match="low < high"):
        Factor(P.w_tol, 2.0, 1.0)
    with pytest.raises(ValueError, match="low > 0"):
        Factor(P.w_tol, 0.0, 1.0, log=True)
    with pytest.raises(ValueError, match="repeat"):
        check_factors([Factor(P.w_tol, 1.0, 2.0), Factor(P.w_tol, 1.0, 3.0)])
    with pytest.raises(ValueError, match="bounds"):  # outside the parameter table's bounds
        check_factors([Factor(P.w_tol, 1.0, 1e6)])


def test_latin_hypercube_ensemble_covers_every_stratum():
    factors = default_factors()
    m = draw_ensemble(factors, 10, seed=3)
    assert list(m.columns) == [f.id for f in factors] and len(m) == 10
    pd.testing.assert_frame_equal(m, draw_ensemble(factors, 10, seed=3))
    for f in factors:
        x = np.log10(m[f.id]) if f.log else m[f.id]
        lo, hi = (math.log10(f.low), math.log10(f.high)) if f.log else (f.low, f.high)
        strata = np.floor((x - lo) / (hi - lo) * 10).astype(int)
        assert sorted(strata) == list(range(10)), f.id  # one member per tenth of every range


def test_readouts_and_bands_from_summaries():
    s = {"cases": 12, "odds_ratio_top_vs_bottom": {"unadjusted": {"or": 2.0}},
         "arms": {"control": {}, "x": {"risk_ratio_vs_control": {"rr": 0.5}}, "y": {"risk_ratio_vs_control": None}}}
    r = readouts(s)
    assert r[CASES] == 12 and r[LOG_OR] == pytest.approx(math.log(2.0))
    assert r[LOG_RR + "x"] == pytest.approx(math.log(0.5)) and math.isnan(r[LOG_RR + "y"])
    table = pd.DataFrame({CASES: np.arange(41.0), LOG_RR + "x": np.linspace(-1, 0.25, 41)})
    b = bands(table, [CASES, LOG_RR + "x"]).set_index("readout")
    assert b.loc[CASES, "median"] == 20 and b.loc[CASES, "low"] == pytest.approx(1.0)
    assert b.loc[LOG_RR + "x", "share_lower"] == pytest.approx(32 / 41)  # members where the arm protects
    kept = consistent_with_cases(pd.DataFrame({CASES: [60.0, 62.0, 78.0, 94.0, 95.0]}))
    assert kept[CASES].tolist() == [62.0, 78.0, 94.0]  # Bruneck 78 of 844: 61.4-94.6
    both = ensemble_bands(table.assign(**{CASES: 78.0}), [CASES])
    assert both["members"].tolist() == ["all", "consistent_with_cases"] and (both["n"] == 41).all()


def test_top_factors_ranks_by_relative_mu_star():
    f = (Factor("a", 1, 2), Factor("b", 1, 2), Factor("c", 1, 2))
    df = pd.DataFrame({"output": ["o1"] * 3 + ["o2"] * 3, "parameter": ["a", "b", "c"] * 2,
                       "mu_star": [10.0, 1.0, 0.1, 0.01, 0.02, 0.5]})
    assert [x.id for x in top_factors(df, f, 2)] == ["a", "c"]  # c leads o2


def test_morris_screen_finds_the_factor_that_acts_and_not_the_one_that_cannot():
    """All-female cohort: the men/women hepatic ratio cannot act (mu* exactly 0); the beta-cell
    fragility moves the case count."""
    readout = CohortReadouts(PopulationSpec(n=40, seed=2, male_fraction=0.0), 15.0, ("rank_blockade",))
    factors = [Factor("hep_sex_ratio", 1.5, 4.0, log=True, source="test"),
               Factor("frag_median", 0.3, 1.5, log=True, source="test")]
    df = screen(readout, factors, trajectories=2, seed=1)
    assert df.attrs["n_evaluations"] == 6
    mu = df.set_index(["output", "parameter"])["mu_star"]
    for out in (CASES, LOG_OR, LOG_RR + "rank_blockade"):
        assert mu[(out, "hep_sex_ratio")] == 0.0
    assert mu[(CASES, "frag_median")] >= 1.0


class _FailsOnHighFragility(CohortReadouts):
    def __call__(self, values, seed=None):
        if values["frag_median"] > 1.0:
            raise RuntimeError("simulated solver failure")
        return super().__call__(values, seed)


def test_ensemble_keeps_members_when_one_fails_and_varies_seeds():
    readout = _FailsOnHighFragility(PopulationSpec(n=12, seed=1), 5.0, ())
    members = pd.DataFrame({"frag_median": [0.5, 2.0, 0.7]})
    b, table, failures = ensemble(readout, members, seeds=[5, 6, 7])
    assert list(failures) == [1] and "simulated solver failure" in failures[1]
    assert table["member"].tolist() == [0, 2] and table["seed"].tolist() == [5, 7]
    assert b[b["members"] == "all"].set_index("readout").loc[CASES, "n"] == 2
    with pytest.raises(ValueError, match="member 0"):
        ensemble(readout, pd.DataFrame({"no_such_id": [1.0]}))
    with pytest.raises(ValueError, match="one seed per member"):
        ensemble(readout, members, seeds=[1])


def test_uncertainty_command_sobol_study_keeps_its_design(tmp_path):
    pytest.importorskip("SALib")
    from ranklsim.fitting.sensitivity import sobol_from_design

    out = tmp_path / "s"
    assert main(["uncertainty", "--study", "sobol", "--n", "12", "--years", "5", "--factors", "frag_median,w_tol",
                 "--n-base", "2", "--arms", "rank_blockade", "--workers", "1", "--out", str(out)]) == 0
    meta = json.loads((out / "cohort_uncertainty.json").read_text())
    assert meta["studies"]["sobol"]["evaluations"] == 2 * (2 + 2)
    design = pd.read_csv(out / "cohort_sobol_design.csv")
    assert list(design.columns) == ["frag_median", "w_tol", CASES, LOG_OR, LOG_RR + "rank_blockade"]
    assert len(design) == 8 and design[CASES].notna().all()
    table = pd.read_csv(out / "cohort_sobol.csv")
    again = sobol_from_design(design, ["frag_median", "w_tol"], num_resamples=200)
    np.testing.assert_allclose(again["ST"], table["ST"], rtol=1e-9, equal_nan=True)


def test_uncertainty_command(tmp_path, capsys):
    out = tmp_path / "u"
    assert main(["uncertainty", "--study", "screen", "--n", "12", "--years", "5", "--factors",
                 "f_rank_stim,frag_median", "--trajectories", "2", "--workers", "1", "--out", str(out)]) == 0
    meta = json.loads((out / "cohort_uncertainty.json").read_text())
    assert [f["id"] for f in meta["factors"]] == ["f_rank_stim", "frag_median"]
    assert all(f["source"] for f in meta["factors"]) and meta["studies"]["screen"]["evaluations"] == 6
    assert (out / "cohort_morris.csv").exists() and (out / "cohort_morris.png").exists()
    pd.DataFrame({"member": [0, 1], CASES: [70.0, 80.0], LOG_OR: [0.1, 0.3], LOG_RR + "a": [-0.2, 0.1]}).to_csv(
        out / "m.csv", index=False)
    assert main(["uncertainty", "--study", "ensemble", "--members-file", str(out / "m.csv"), "--out", str(out)]) == 0
    meta = json.loads((out / "cohort_uncertainty.json").read_text())
    assert set(meta["studies"]) == {"screen", "ensemble"}  # the screen's record is kept
    # ... and so are the factors it used, beside those of the later run (every default factor here)
    ids = [f["id"] for f in meta["factors"]]
    assert ids[:2] == ["f_rank_stim", "frag_median"] and len(ids) == len(set(ids)) > 2
    assert meta["studies"]["screen"]["run"]["factor_ids"] == ["f_rank_stim", "frag_median"]
    assert meta["studies"]["ensemble"]["run"]["n"] == 844
    rr = meta["studies"]["ensemble"]["bands_ratio_scale"]["consistent_with_cases"]["rr_a"]
    assert rr["median"] == pytest.approx(math.exp(-0.05)) and rr["share_lower"] == 0.5
    assert main(["uncertainty", "--factors", "nope", "--out", str(tmp_path / "v")]) == 2
    assert "unknown ['nope']" in capsys.readouterr().err
