"""Maximum-likelihood calibration of the progression traits on a count emulator (issue 15 item 5):
the fitting tools (multistart, profile likelihood) recover known parameters from a synthetic grid whose
event probabilities follow a known law, give closed 95 % profile intervals around them, and refuse
incomplete grids.  The recorded calibration of the shipped population is in docs/model.md Section 18
(`python tools/calibrate_cohort.py --fit`)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import brentq

from ranklsim.cohort import PopulationSpec
from ranklsim.cohort.incidence_fit import COUNT_TARGETS, CountEmulator, IncidenceObjective, fit_incidence

FRAG = (0.3, 0.45, 0.7, 1.0)
DRIFT = (0.0, 0.01, 0.02, 0.04)
N = 200_000  # simulated people per grid point: the emulator is then nearly exact


def _p_base(frag):
    return 1 / (1 + math.exp(-(-2.3 + 2.0 * math.log10(frag / 0.6))))


def _p_inc(frag, drift):
    return 1 / (1 + math.exp(-(-2.8 + 40.0 * drift + 1.5 * math.log10(frag / 0.6))))


def _table():
    rows = []
    for f in FRAG:
        rows.append({"frag_median": f, "ir_drift_mean": np.nan, "seed": 1, "n_baseline": N,
                     "baseline": round(N * _p_base(f)), "n_followed": np.nan, "incidence": np.nan})
        for d in DRIFT:
            rows.append({"frag_median": f, "ir_drift_mean": d, "seed": 1, "n_baseline": np.nan, "baseline": np.nan,
                         "n_followed": N, "incidence": round(N * _p_inc(f, d))})
    return pd.DataFrame(rows)


def _truth():
    base, inc = COUNT_TARGETS
    frag = brentq(lambda f: _p_base(f) - base.events / base.n, 0.3, 1.0)
    drift = brentq(lambda d: _p_inc(frag, d) - inc.events / inc.n, 0.0, 0.04)
    return frag, drift


def test_emulator_interpolates_the_grid_law():
    emu = CountEmulator(_table())
    for f, d in ((0.5, 0.015), (0.8, 0.03)):
        assert emu.probability("incidence", f, d) == pytest.approx(_p_inc(f, d), rel=0.02)
        assert emu.probability("baseline", f, d) == pytest.approx(_p_base(f), rel=0.02)


def test_fit_recovers_the_parameters_that_reproduce_the_counts_and_profiles_them():
    frag, drift = _truth()
    fit = fit_incidence(_table(), PopulationSpec(), n_starts=4)
    assert fit.parameters["frag_median"] == pytest.approx(frag, rel=0.02)
    assert fit.parameters["ir_drift_mean"] == pytest.approx(drift, abs=0.0005)
    assert fit.expected["incidence"] == pytest.approx(78, abs=0.5)
    assert fit.spec.frag_median == pytest.approx(frag, rel=0.02)
    ci = fit.intervals()
    for name, true in (("frag_median", frag), ("ir_drift_mean", drift)):
        lo, hi = ci[name]
        assert lo < true < hi, (name, lo, hi)
    # 78 cases: a binomial 95 % interval of about +-17 cases, i.e. +-0.4 on the logit/40 per year of drift
    lo, hi = ci["ir_drift_mean"]
    assert 0.002 < hi - lo < 0.03


def test_objective_is_the_binomial_likelihood():
    obj = IncidenceObjective(CountEmulator(_table()))
    x = obj.x_nominal
    p = obj.to_parameters(x)
    expected = 0.0
    for t in COUNT_TARGETS:
        q = obj.emulator.probability(t.statistic, p["frag_median"], p["ir_drift_mean"])
        expected -= math.lgamma(t.n + 1) - math.lgamma(t.events + 1) - math.lgamma(t.n - t.events + 1) \
            + t.events * math.log(q) + (t.n - t.events) * math.log(1 - q)
    assert obj(x) == pytest.approx(expected, rel=1e-9)


def test_incomplete_grids_are_refused():
    table = _table()
    with pytest.raises(ValueError, match="full grid"):
        CountEmulator(table.drop(index=[2]))
    with pytest.raises(ValueError, match="lacks columns"):
        CountEmulator(table.drop(columns=["incidence"]))


def test_shipped_population_defaults_are_the_recorded_fit():
    """The defaults of ``PopulationSpec`` and ``FITTED_INTERVALS`` are the maximum-likelihood values and the
    95 % profile intervals of the recorded calibration (``tools/calibrate_cohort.py --fit``, written to
    docs/figures/cohort_calibration.json), to the digits the code states."""
    import json
    from pathlib import Path

    from ranklsim.cohort.population import FITTED_INTERVALS

    record = json.loads((Path(__file__).resolve().parents[1] / "docs/figures/cohort_calibration.json").read_text())
    spec = PopulationSpec()
    interval_digits = {"frag_median": 5e-4, "ir_drift_mean": 5e-5}  # half a unit of the last digit stated
    for name, value in record["fitted"].items():
        assert getattr(spec, name) == pytest.approx(value, abs=5e-5), name  # stated to 4 decimals
        lo, hi = record["profile_95"][name]
        assert FITTED_INTERVALS[name] == pytest.approx((lo, hi), abs=interval_digits[name]), name
