"""Fitting tools on a toy ODE problem: multistart, engines, resume, profiles, emcee, ensembles, Sobol."""

from __future__ import annotations

import math
import os
import time

import numpy as np
import pandas as pd
import pytest
from scipy.integrate import odeint

from ranklsim.constants import FAILED_VALUE
from ranklsim.fitting.ensemble import (
    parameter_ensemble_from_profiles,
    parameter_ensemble_from_samples,
    predict_with_ensemble,
)
from ranklsim.fitting.multistart import (
    CHI2_DELTA_95,
    MultistartResult,
    ObjectiveLike,
    latin_hypercube_starts,
    run_multistart,
)
from ranklsim.fitting.plots import plot_bands, plot_fit, plot_profiles, plot_waterfall
from ranklsim.fitting.profile import profile_all, profile_likelihood, profile_table
from ranklsim.parallel import DaskEngine, ProcessPoolEngine, SerialEngine, make_engine

# --- toy problem: dy/dt = -k y + p u_c, y(0) = f_c y0, three conditions ----------------------------
IDS = ("k", "p", "y0")
TRUTH = {"k": 0.4, "p": 1.5, "y0": 3.0}
X_TRUE = np.log10([TRUTH[i] for i in IDS])
U = np.array([0.0, 1.0, 3.0])
F = np.array([1.0, 0.2, 0.5])
T = np.linspace(0.0, 10.0, 13)
SIGMA = 0.05


def simulate(params: dict[str, float], times: np.ndarray = T) -> np.ndarray:
    """(time, condition) trajectories by odeint."""
    k, p, y0 = params["k"], params["p"], params["y0"]
    return odeint(lambda y, t: -k * y + p * U, F * y0, times, rtol=1e-11, atol=1e-12)


# noise draw 4 is typical: nll(truth) - nll(best) = 0.93, near the chi2(3)/2 median 1.18
DATA = simulate(TRUTH)[1:] + SIGMA * np.random.default_rng(4).standard_normal((len(T) - 1, 3))


class ToyObjective:
    parameter_ids = IDS
    scales = ("log10",) * 3

    def __init__(self) -> None:
        self.lower = np.array([-2.0, -2.0, -1.0])
        self.upper = np.array([1.0, 1.5, 1.5])
        self.x_nominal = np.zeros(3)
        self.calls = 0

    def to_parameters(self, x: np.ndarray) -> dict[str, float]:
        return {i: float(10.0**v) for i, v in zip(IDS, x, strict=False)}

    def residuals(self, x: np.ndarray) -> np.ndarray:
        self.calls += 1
        return ((simulate(self.to_parameters(x))[1:] - DATA) / SIGMA).ravel()

    def __call__(self, x: np.ndarray) -> float:
        r = self.residuals(x)
        return 0.5 * float(r @ r) + r.size * math.log(math.sqrt(2 * math.pi) * SIGMA)


class FlakyObjective(ToyObjective):
    """Raises for large k, reports a failed simulation for small p."""

    def residuals(self, x: np.ndarray) -> np.ndarray:
        if x[0] > 0.5:
            raise RuntimeError("integrator blew up")
        if x[1] < -1.0:
            return np.full(DATA.size, math.sqrt(2 * FAILED_VALUE / DATA.size))
        return super().residuals(x)


class InterruptingObjective(ToyObjective):
    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def residuals(self, x: np.ndarray) -> np.ndarray:
        if self.calls >= self.limit:
            raise KeyboardInterrupt
        return super().residuals(x)


def context_identity(context: object, item: int) -> tuple[int, int]:
    return os.getpid(), id(context)


def run_member(params: dict[str, float]) -> pd.DataFrame:
    y = simulate(params)
    return pd.DataFrame({"condition": np.repeat(np.arange(3), len(T)), "time": np.tile(T, 3),
                         "value": y.T.ravel()})


@pytest.fixture(scope="module")
def fitted(tmp_path_factory) -> MultistartResult:
    return run_multistart(ToyObjective(), 8, seed=1, out_dir=tmp_path_factory.mktemp("ms"))


def test_protocol_and_lhs():
    assert isinstance(ToyObjective(), ObjectiveLike)
    obj = ToyObjective()
    s = latin_hypercube_starts(obj.lower, obj.upper, 10, seed=3)
    assert s.shape == (10, 3) and np.all(s >= obj.lower) and np.all(s < obj.upper)
    np.testing.assert_array_equal(s, latin_hypercube_starts(obj.lower, obj.upper, 10, seed=3))
    strata = np.floor((s - obj.lower) / (obj.upper - obj.lower) * 10).astype(int)
    assert all(sorted(col) == list(range(10)) for col in strata.T)  # one point per stratum


def test_multistart_recovers_truth(fitted, tmp_path):
    f_true = ToyObjective()(X_TRUE)
    assert fitted.best_fval <= f_true + CHI2_DELTA_95
    assert f_true - fitted.best_fval < 8.0  # likelihood ratio chi2(3) at 99.9 %
    assert fitted.n_within() >= 3
    np.testing.assert_allclose(list(fitted.best_parameters.values()), list(TRUTH.values()), rtol=0.1)
    out = fitted.save(tmp_path)
    back = MultistartResult.load(out)
    assert back.best_fval == fitted.best_fval and back.parameter_ids == IDS
    np.testing.assert_array_equal(back.best_x, fitted.best_x)
    lbfgs = run_multistart(ToyObjective(), 3, seed=1, optimizer="L-BFGS-B")
    assert lbfgs.best_fval < fitted.best_fval + 0.5


def test_failures_never_crash():
    res = run_multistart(FlakyObjective(), 10, seed=2)
    msgs = " ".join(res.table["message"])
    assert len(res.table) == 10 and "RuntimeError" in msgs
    assert res.best_fval < FAILED_VALUE
    assert (res.table["fval"] >= FAILED_VALUE).any() or not res.table["converged"].all()


def test_interrupt_keeps_finished_starts_and_resume_skips_them(tmp_path):
    fresh = ToyObjective()
    full = run_multistart(fresh, 6, seed=4, out_dir=tmp_path / "fresh")
    per_start = full.table.set_index("start_id")["n_fev"]
    assert per_start.sum() == fresh.calls  # n_fev counts every objective call
    limit = int(per_start.loc[[0, 1, 2]].sum()) + 3  # dies inside start 3
    with pytest.raises(KeyboardInterrupt):
        run_multistart(InterruptingObjective(limit), 6, seed=4, out_dir=tmp_path / "run")
    kept = pd.read_csv(tmp_path / "run" / "starts.csv")
    assert sorted(kept["start_id"]) == [0, 1, 2]
    again = ToyObjective()
    resumed = run_multistart(again, 6, seed=4, out_dir=tmp_path / "run")
    assert resumed.metadata["n_resumed"] == 3
    assert again.calls == fresh.calls - per_start.loc[[0, 1, 2]].sum()
    assert len(pd.read_csv(tmp_path / "run" / "starts.csv")) == 6
    assert resumed.best_fval == full.best_fval
    idle = ToyObjective()
    run_multistart(idle, 6, seed=4, out_dir=tmp_path / "run")
    assert idle.calls == 0
    with pytest.raises(ValueError, match="different starts"):
        run_multistart(ToyObjective(), 6, seed=5, out_dir=tmp_path / "run")


@pytest.mark.slow
def test_engines_agree_and_ship_the_objective_once():
    serial = run_multistart(ToyObjective(), 4, seed=6, engine=SerialEngine())
    ens = pd.DataFrame([TRUTH, {"k": 0.3, "p": 1.0, "y0": 2.0}, {"k": 0.5, "p": 2.0, "y0": 4.0}])
    with ProcessPoolEngine(2) as pool:
        pooled = run_multistart(ToyObjective(), 4, seed=6, engine=pool, progress=True)
        ids = [out for _, out in pool.map(context_identity, range(8), ToyObjective())]
        prof = profile_likelihood(ToyObjective(), serial.best_x, "k", n_points=4, engine=pool)
        bands = predict_with_ensemble(ens, run_member, engine=pool)
    assert pooled.best_fval == serial.best_fval
    assert prof.ci_lower == profile_likelihood(ToyObjective(), serial.best_x, "k", n_points=4).ci_lower
    pd.testing.assert_frame_equal(bands, predict_with_ensemble(ens, run_member))
    assert len({pid for pid, _ in ids}) <= 2 and len(set(ids)) == len({pid for pid, _ in ids})
    pytest.importorskip("distributed")
    with DaskEngine(None, n_workers=2) as dask:
        dasked = run_multistart(ToyObjective(), 4, seed=6, engine=dask)
        ids = [out for _, out in dask.map(context_identity, range(8), ToyObjective())]
    assert dasked.best_fval == serial.best_fval
    np.testing.assert_array_equal(dasked.best_x, serial.best_x)
    assert len(set(ids)) == len({pid for pid, _ in ids})


def test_engine_errors_are_returned_not_raised():
    outs = dict(SerialEngine().map(lambda ctx, i: 1 / i, [1, 0, 2]))
    assert isinstance(outs[1], ZeroDivisionError) and outs[2] == 0.5
    assert isinstance(make_engine("serial"), SerialEngine)
    assert make_engine("processes:3").n_workers == 3
    with pytest.raises(ValueError, match="unknown engine"):
        make_engine("gpu")


def test_unreachable_dask_scheduler_fails_fast():
    pytest.importorskip("distributed")
    t0 = time.perf_counter()
    with pytest.raises(ConnectionError, match=r"127\.0\.0\.1:9"):
        DaskEngine("tcp://127.0.0.1:9", timeout=2)
    assert time.perf_counter() - t0 < 15


def test_profiles_contain_truth(fitted, tmp_path):
    obj = ToyObjective()
    profiles = profile_all(obj, fitted.best_x, n_points=8)
    table = profile_table(profiles)
    assert table["identifiable"].all()
    for p, truth in zip(profiles, X_TRUE, strict=False):
        assert p.ci_lower < truth < p.ci_upper, (p.parameter_id, p.ci_lower, truth, p.ci_upper)
        assert p.ci_lower < p.x_best[p.index] < p.ci_upper
    row = table.set_index("parameter").loc["k"]
    assert row["ci_lower"] < TRUTH["k"] < row["ci_upper"]
    single = profile_likelihood(obj, fitted.best_x, "p", n_points=8, engine=SerialEngine())
    assert single.ci_upper == pytest.approx(profiles[1].ci_upper)
    # a bound close to the optimum leaves that side open
    tight = ToyObjective()
    tight.upper = np.array([fitted.best_x[0] + 0.002, 1.5, 1.5])
    open_p = profile_likelihood(tight, fitted.best_x, 0, n_points=4)
    assert open_p.upper_open and not open_p.lower_open and not open_p.identifiable
    plot_profiles(profiles, tmp_path / "profiles.png")
    assert (tmp_path / "profiles.png").stat().st_size > 0


@pytest.fixture(scope="module")
def chain(fitted):
    pytest.importorskip("emcee", reason="emcee not installed (pip install ranklsim[fitting])")
    from ranklsim.fitting.sampling import sample_posterior

    return sample_posterior(ToyObjective(), fitted.best_x, n_walkers=12, n_steps=1200, seed=0)


@pytest.mark.slow
def test_emcee_sampling_covers_truth(chain, tmp_path):
    from ranklsim.fitting.sampling import SamplingResult

    assert chain.chain.shape == (1200, 12, 3) and chain.tau.shape == (3,)
    assert np.all(np.isfinite(chain.tau)) and 0.1 < chain.acceptance_fraction.mean() < 0.9
    assert chain.converged == (50 * chain.tau.max() < 1200)
    s = chain.samples()
    assert list(s.columns) == list(IDS) and len(s) > 500
    for pid in IDS:
        lo, hi = s[pid].quantile([0.005, 0.995])
        assert lo < TRUTH[pid] < hi, pid
    back = SamplingResult.load(chain.save(tmp_path))
    np.testing.assert_array_equal(back.chain, chain.chain)


@pytest.mark.slow
def test_ensemble_bands_contain_truth(chain, fitted, tmp_path):
    truth = run_member(TRUTH)
    ens = parameter_ensemble_from_samples(chain, 200, seed=1)
    assert ens.shape == (200, 3)
    pred = predict_with_ensemble(ens, run_member)
    assert list(pred.columns) == ["condition", "time", "median", "q2.5", "q97.5", "n"]
    assert (pred["n"] == 200).all() and (pred["q2.5"] <= pred["median"]).all()
    m = pred.merge(truth, on=["condition", "time"])
    assert ((m["q2.5"] <= m["value"] + 1e-9) & (m["value"] - 1e-9 <= m["q97.5"])).mean() >= 0.9
    wide = predict_with_ensemble(ens, run_member, quantiles=(0.005, 0.995))
    m = wide.merge(truth, on=["condition", "time"])
    assert ((m["q0.5"] <= m["value"] + 1e-9) & (m["value"] - 1e-9 <= m["q99.5"])).all()

    profiles = profile_all(ToyObjective(), fitted.best_x, n_points=6)
    pens = parameter_ensemble_from_profiles(profiles, fitted.best_parameters)
    assert list(pens.columns) == list(IDS) and len(pens) > 6

    def flaky(params: dict[str, float]) -> pd.DataFrame:
        if params["k"] == pens.loc[1, "k"]:
            raise RuntimeError("solver failure")
        return run_member(params)

    with pytest.warns(UserWarning, match="1 of"):
        pred2 = predict_with_ensemble(pens, flaky)
    assert pred2.attrs["n_failed"] == 1 and (pred2["n"] == len(pens) - 1).all()
    m2 = pred2.merge(truth, on=["condition", "time"])
    assert ((m2["q2.5"] <= m2["value"] + 0.05) & (m2["value"] <= m2["q97.5"] + 0.05)).mean() >= 0.8
    plot_bands(pred, tmp_path / "bands.png", x="time", panel="condition",
               data=truth.rename(columns={"value": "measurement"}))
    assert (tmp_path / "bands.png").stat().st_size > 0


def ishigami(params: dict[str, float]) -> dict[str, float]:
    x1, x2, x3 = params["x1"], params["x2"], params["x3"]
    return {"ishigami": math.sin(x1) + 7 * math.sin(x2) ** 2 + 0.1 * x3**4 * math.sin(x1),
            "linear": 5 * x1 + x2}


def test_sobol_ranks_parameters(tmp_path):
    pytest.importorskip("SALib")
    from ranklsim.fitting.sensitivity import plot_sobol, sobol_indices

    b = {"x1": (-math.pi, math.pi), "x2": (-math.pi, math.pi), "x3": (-math.pi, math.pi)}
    df = sobol_indices(ishigami, b, n_base=512, seed=0)
    ish = df[df["output"] == "ishigami"].set_index("parameter")
    assert list(ish["ST"].sort_values(ascending=False).index) == ["x1", "x2", "x3"]
    assert ish.loc["x1", "S1"] == pytest.approx(0.31, abs=0.07) and abs(ish.loc["x3", "S1"]) < 0.06
    lin = df[df["output"] == "linear"].set_index("parameter")
    assert lin.loc["x1", "ST"] > 0.9 and lin.loc["x3", "ST"] < 0.01
    assert (df["n_failed"] == 0).all() and df.attrs["n_evaluations"] == 512 * 5

    def model(params: dict[str, float]) -> dict[str, float]:
        if params["b"] > 9.0:
            raise RuntimeError("simulation failed")
        return {"y": 5 * math.log10(params["a"]) + math.log10(params["b"])}

    df2 = sobol_indices(model, {"a": (0.1, 10.0), "b": (0.1, 10.0)}, n_base=256,
                        log_scale={"a": True, "b": True}, engine=make_engine("serial"))
    ranked = df2.sort_values("ST", ascending=False)["parameter"].tolist()
    assert ranked == ["a", "b"] and df2["n_failed"].iloc[0] > 0
    plot_sobol(df, tmp_path / "sobol.png")
    assert (tmp_path / "sobol.png").stat().st_size > 0


def test_sobol_indices_are_recomputed_from_the_saved_design(tmp_path):
    """Every run of the design is kept (parameters on their linear scale, then the outputs, failed runs
    NaN); the indices recomputed from it, also after a CSV round trip, equal the study's."""
    pytest.importorskip("SALib")
    from ranklsim.fitting.sensitivity import sobol_from_design, sobol_indices

    def model(params: dict[str, float]) -> dict[str, float]:
        if params["b"] > 9.0:
            raise RuntimeError("simulation failed")
        return {"y": 5 * math.log10(params["a"]) + math.log10(params["b"]), "z": params["a"]}

    bounds = {"a": (0.1, 10.0), "b": (0.1, 10.0)}
    df = sobol_indices(model, bounds, n_base=64, seed=3, log_scale={"a": True})
    design = df.attrs["design"]
    assert list(design.columns) == ["a", "b", "y", "z"] and len(design) == 64 * 4 == df.attrs["n_evaluations"]
    ok = design["b"] <= 9.0
    assert design["a"].between(0.1, 10.0).all() and (design["z"][ok] == design["a"][ok]).all()
    assert design.loc[~ok, ["y", "z"]].isna().all().all()
    assert design["y"].isna().sum() == df["n_failed"].iloc[0] > 0
    design.to_csv(tmp_path / "design.csv", index=False)
    again = sobol_from_design(pd.read_csv(tmp_path / "design.csv"), ["a", "b"], seed=3)
    pd.testing.assert_frame_equal(again, df, check_exact=False, rtol=1e-12)
    other_seed = sobol_from_design(design, ["a", "b"], seed=4)
    np.testing.assert_array_equal(other_seed["ST"], df["ST"])  # the bootstrap moves, the indices do not
    assert not np.array_equal(other_seed["ST_conf"], df["ST_conf"])
    with pytest.raises(ValueError, match="multiple of 4"):
        sobol_from_design(design.iloc[:-1], ["a", "b"])
    with pytest.raises(ValueError, match="no column"):
        sobol_from_design(design, ["a", "c"])


def test_plots_are_headless(fitted, tmp_path):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    plot_waterfall(fitted, tmp_path / "waterfall.png")
    x = fitted.best_x
    sim = simulate(ToyObjective().to_parameters(x))[1:]
    table = pd.DataFrame({"measurement": DATA.ravel(), "simulation": sim.ravel(),
                          "observableId": np.tile(["y_c0", "y_c1", "y_c2"], len(T) - 1),
                          "time": np.repeat(T[1:], 3)})
    plot_fit(table, tmp_path / "fit.png")
    assert (tmp_path / "waterfall.png").stat().st_size > 0 and (tmp_path / "fit.png").stat().st_size > 0
    assert plt.get_fignums() == before
