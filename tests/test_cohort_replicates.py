"""Replicate cohorts over seeds (``ranklsim replicates``) and the cohort figures."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pandas as pd
import pytest

from ranklsim.cohort.cli import add_parsers
from ranklsim.cohort.plots import forest_rows, plot_arm_replicates, plot_forest, plot_replicates
from ranklsim.cohort.replicates import ReplicateStudy, aggregate, aggregate_arms, seeds_from

CONTROL_COLUMNS = ["seed", "cases", "n_analysed", "n_errors", "incidence_per_1000_py", "or", "ci_low", "ci_high",
                   "or_adj", "ci_low_adj", "ci_high_adj", "homa_median", "homa_log_sd", "homa_reference_p80",
                   "homa_share_ir_ifg", "homa_share_ir_baseline_dm", "or_homa", "or_fpg", "n_baseline_diabetes",
                   "first_exam_ratio", "seconds"]


@pytest.fixture
def parser():
    p = argparse.ArgumentParser()
    add_parsers(p.add_subparsers(dest="command"))
    return p


def test_replicates_cli_writes_the_table(parser, tmp_path, capsys):
    out = tmp_path / "rep"
    args = parser.parse_args(["replicates", "--replicates", "2", "--first-seed", "3", "--n", "30", "--years", "5",
                              "--workers", "1", "--quiet", "--out", str(out)])
    assert args.func(args) == 0
    table = pd.read_csv(out / "cohort_replicates.csv")
    assert list(table.columns) == CONTROL_COLUMNS
    assert table["seed"].tolist() == [3, 4] and (table["n_errors"] == 0).all()
    assert (table["n_analysed"] <= 30).all() and (table["cases"] >= 0).all()
    agg = json.loads((out / "cohort_replicates.json").read_text())
    assert agg["replicates"] == 2 and agg["n"] == 30 and agg["years"] == 5
    assert agg["median_cases"] == pytest.approx(table["cases"].median())
    assert (out / "cohort_replicates.png").stat().st_size > 0
    assert "2/2 replicates" in capsys.readouterr().out


def test_replicates_cli_validates_every_number(parser, tmp_path):
    base = ["replicates", "--out", str(tmp_path / "never")]
    for argv in (["--replicates", "0"], ["--replicates", "2", "--n", "0"], ["--replicates", "2", "--years", "0"],
                 ["--replicates", "2", "--years", "inf"], ["--replicates", "2", "--first-seed", "-1"],
                 ["--replicates", "two"], ["--replicates", "2", "--workers", "0"],
                 ["--replicates", "2", "--arms", "control,nope"]):
        with pytest.raises(SystemExit):
            parser.parse_args([*base, *argv])
    assert not (tmp_path / "never").exists()
    with pytest.raises(ValueError, match="seed"):
        ReplicateStudy(seeds=())


def test_aggregates_of_a_synthetic_table(tmp_path):
    study = ReplicateStudy(seeds=seeds_from(1, 4), n=844, years=15)
    rng = np.random.default_rng(0)
    table = pd.DataFrame({c: rng.uniform(1, 5, 4) for c in CONTROL_COLUMNS})
    table["seed"] = [1, 2, 3, 4]
    table["cases"] = [70, 78, 80, 90]
    table["n_errors"] = 0
    table["ci_low"], table["ci_high"] = [1.5, 2.0, 5.0, 0.8], [8.0, 9.0, 12.0, 3.0]
    agg = aggregate(table, study)
    assert agg["median_cases"] == 79.0 and agg["share_ci_contains_4.06"] == 0.5
    assert agg["share_ci_excludes_1"] == 0.75 and agg["cases_quantiles"]["p50"] == 79.0
    table["or_fpg"], table["or_homa"], table["or"] = [None, 30.0, 10.0, 2.0], [20.0, 20.0, 20.0, 20.0], 1.5
    agg = aggregate(table, study)
    assert agg["share_or_fpg_undefined"] == 0.25 and agg["share_fpg_or_at_least_homa"] == 0.5
    assert agg["share_fpg_or_at_least_rankl"] == 1.0 and agg["or_fpg_tertile_defined"]["p50"] == 10.0
    assert plot_replicates(table, study.n, study.years, tmp_path / "r.png").get_axes()
    arms = pd.DataFrame({"seed": [1, 1, 2, 2], "arm": ["control", "ko"] * 2, "cases": [10, 5, 12, 4],
                         "n": 30, "n_errors": 0, "incidence_per_1000_py": [20.0, 10.0, 24.0, 8.0],
                         "rr": [None, 0.5, None, 0.33], "rr_low": [None, 0.2, None, 0.1],
                         "rr_high": [None, 1.2, None, 0.9], "seconds": 1.0})
    agg = aggregate_arms(arms, study)
    assert list(agg["arms"]) == ["control", "ko"] and "rr_p2.5_p50_p97.5" not in agg["arms"]["control"]
    assert agg["arms"]["ko"]["share_rr_ci_below_1"] == 0.5
    assert plot_arm_replicates(arms, 30, 5, tmp_path / "a.png").get_axes()


def test_forest_plot_rows_and_figure(tmp_path):
    summary = {"n": 10, "seed": 1,
               "odds_ratio_top_vs_bottom": {"unadjusted": {"or": 3.0, "ci_low": 1.2, "ci_high": 7.0},
                                            "adjusted_age_sex_bmi": {"or": None}},
               "arms": {"control": {}, "ko": {"risk_ratio_vs_control": {"rr": 0.5, "ci_low": None}}}}
    rows, missing = forest_rows(summary)
    assert [r[0] for r in rows] == ["OR T3 vs T1", "Bruneck 2013: OR T3 vs T1"] and missing == ["RR ko"]
    fig = plot_forest(summary, tmp_path / "f.png")
    assert type(fig).__module__ == "matplotlib.figure" and (tmp_path / "f.png").stat().st_size > 0
