"""A scipy baseline for a whole scenario (benchmarks only).

``ScipyScenario(scenario, model).run()`` repeats what :func:`ranklsim.simulate.runner.run_scenario`
does, step by step, for every arm:

1. start state: the steady state under the arm's settings with beta-cell mass held
   (``Model.steady_state``: 3 years of relaxation from the reference state);
2. the run: ``duration_days`` with the diet and drug events, output at the runner's times;
3. each test from the run's state on its day: the protocol's parameter settings and events,
   integrated over the protocol's output times; readouts by the protocol's own ``readouts``.

The scenario expansion (arm settings, event lists, protocols, readouts) is ranklsim's own
pure-Python code (``ArmRunner``); only the integrations differ: every one is done by
``scipy.integrate.solve_ivp`` on the :class:`~sbml_to_scipy.ScipyModel` of the same SBML, with
ranklsim's tolerances (chronic for the relaxation and the run, acute for the tests) and the same
event semantics (events at a segment start are applied before it; outputs at an event time are
reported after its events).  ``compare`` checks the baseline's readouts against ranklsim's.
"""

from __future__ import annotations

import time
from itertools import pairwise

import numpy as np
import pandas as pd
from sbml_to_scipy import ScipyModel

from ranklsim.constants import MINUTES_PER_DAY as MIN_PER_DAY
from ranklsim.constants import RELAX_DAYS
from ranklsim.models.parameters import HOLD_BETA_CELL_MASS as HELD_BETA


class BaselineTimeout(Exception):
    """The scenario baseline ran past its wall-time cap."""


class ScipyScenario:
    """Runs one scenario with scipy; ``run()`` returns (readouts frame, failures dict)."""

    def __init__(self, scenario, model: ScipyModel, method: str = "LSODA") -> None:
        from ranklsim.simulate.runner import ArmRunner
        from ranklsim.simulate.simulator import TOLERANCES

        self.scenario, self.model, self.method = scenario, model, method
        self.runner = ArmRunner(scenario)  # used only for its pure-Python scenario expansion
        self.tolerances = TOLERANCES
        self.index = {k: i for i, k in enumerate(model.state_ids)}
        self.deadline: float | None = None
        self.nfev = 0

    # ------------------------------------------------------------------ integration
    def _solve(self, y0, params, t0, t1, t_eval, view):
        from scipy.integrate import solve_ivp

        rhs = self.model.make_rhs(params)
        deadline, calls = self.deadline, [0]

        def f(t, y):
            calls[0] += 1
            if deadline is not None and calls[0] % 256 == 0 and time.perf_counter() > deadline:
                raise BaselineTimeout
            return rhs(t, y)

        rtol, atol = self.tolerances[view]
        sol = solve_ivp(f, (t0, t1), y0, method=self.method, t_eval=t_eval, rtol=rtol, atol=atol)
        self.nfev += int(sol.nfev)
        if not sol.success:
            raise RuntimeError(f"solve_ivp {self.method} failed between {t0:g} and {t1:g} min: {sol.message}")
        return sol

    def _apply(self, ev, y, params) -> None:
        if ev.target in self.index:
            i = self.index[ev.target]
            y[i] = ev.value if ev.op == "set" else y[i] + ev.value
        else:
            params[ev.target] = ev.value if ev.op == "set" else params[ev.target] + ev.value

    def _piecewise(self, y0, params, events, out_t, factor: float, view: str):
        """Integrate through the output times ``out_t`` (view units; model time = x factor) with
        ``events``; returns segments [(times in view units, states n_states x n_t, params)]."""
        y, params = np.array(y0, float), dict(params)
        t_model = np.asarray(out_t, float) * factor
        pending = sorted((e for e in events if e.time * factor <= t_model[-1]), key=lambda e: e.time)
        bounds = [0.0, *(e.time * factor for e in pending), t_model[-1]]
        segments = []
        for t0, t1 in pairwise(bounds):
            while pending and pending[0].time * factor <= t0:
                self._apply(pending.pop(0), y, params)
            if t1 <= t0:
                continue
            last = t1 == bounds[-1]
            keep = t_model[(t_model >= t0) & ((t_model < t1) | (last & (t_model <= t1)))]
            t_eval = np.unique(np.concatenate([keep, [t1]]))
            sol = self._solve(y, params, t0, t1, t_eval, view)
            cols = np.isin(sol.t, keep)
            if cols.any():
                segments.append((sol.t[cols] / factor, sol.y[:, cols], dict(params)))
            y = sol.y[:, -1].copy()
        return segments

    def _observe(self, segments, ids) -> pd.DataFrame:
        parts = []
        for ts, ys, params in segments:
            obs = self.model.observe_many(ts, ys, params, ids)
            parts.append(pd.DataFrame({"time": ts, **obs}))
        return pd.concat(parts, ignore_index=True)

    # ------------------------------------------------------------------ scenario
    def run_arm(self, arm) -> tuple[list[dict], dict[str, str]]:
        from ranklsim.models.ids import P
        from ranklsim.simulate.protocols import TEST_SELECTIONS, Clamp, ProtocolError
        from ranklsim.simulate.runner import FASTING_READOUTS
        from ranklsim.simulate.simulator import SimulationResult

        sc, ar, model = self.scenario, self.runner, self.model
        ov = ar.overrides(arm)
        bw = ar.body_weight(ov)
        # 1. start state
        y0, p0 = model.initial_state({**ov, **HELD_BETA})
        horizon = RELAX_DAYS * MIN_PER_DAY
        start = self._solve(y0, p0, 0.0, horizon, [horizon], "chronic").y[:, -1]
        # 2. the run
        _, params = model.initial_state(ov)
        tests = sc.resolved_tests()
        every = sc.output_every_days or max(sc.duration_days / 100.0, 1e-3)
        days = set(np.arange(0.0, sc.duration_days, every).tolist()) | {sc.duration_days}
        days |= {t.day for t in tests}
        times = np.array(sorted(days))
        run = self._piecewise(start, params, ar.events(arm, ov), times, MIN_PER_DAY, "chronic")
        run_t = np.concatenate([ts for ts, _, _ in run])
        where = [(k, j) for k, (ts, _, _) in enumerate(run) for j in range(len(ts))]
        basal_ids = list(dict.fromkeys([*FASTING_READOUTS, *sc.readouts]))
        rows: list[dict] = []
        failures: dict[str, str] = {}
        for test in tests:
            k, j = where[int(np.argmin(abs(run_t - test.day)))]
            ts, ys, prm = run[k]
            state = ys[:, j]
            basal = {key: v[0] for key, v in model.observe_many([ts[j] * MIN_PER_DAY], ys[:, [j]], prm,
                                                                basal_ids).items()}
            base = {"arm": arm.name, "test": test.kind, "day": test.day}
            if test.kind == "fasting":
                rows += [{**base, "readout": name, "value": basal[sid]}
                         for sid, name in FASTING_READOUTS.items()]
                continue
            try:
                proto = ar.protocol(test)
                test_ov = {**ov, P.diet_fat: prm[P.diet_fat], **proto.settings(bw)}
                if isinstance(proto, Clamp):
                    test_ov.update(proto.settings(bw, basal))
                _, tparams = model.initial_state(test_ov)
                segs = self._piecewise(state, tparams, proto.events(ar.species, bw), proto.times(),
                                       1.0, "acute")
                frame = self._observe(segs, list(TEST_SELECTIONS))
                res = SimulationResult(frame, {}, "min", ar.species, "acute", test_ov)
                for name, (v, _unit) in proto.readouts(res, basal).items():
                    rows.append({**base, "readout": name, "value": v})
            except (ProtocolError, ValueError, ArithmeticError, RuntimeError) as exc:
                failures[f"{arm.name}/{test.kind}@{test.day:g}d"] = f"{type(exc).__name__}: {exc}"
        return rows, failures

    def run(self, limit_s: float | None = None) -> tuple[pd.DataFrame, dict[str, str]]:
        """All arms; raises BaselineTimeout after ``limit_s`` seconds of wall time."""
        self.deadline = None if limit_s is None else time.perf_counter() + limit_s
        self.nfev = 0
        rows: list[dict] = []
        failures: dict[str, str] = {}
        for arm in self.scenario.arms:
            try:
                r, f = self.run_arm(arm)
            except (ValueError, ArithmeticError, RuntimeError) as exc:
                failures[arm.name] = f"{type(exc).__name__}: {exc}"
                continue
            rows += r
            failures.update(f)
        return pd.DataFrame(rows, columns=["arm", "test", "day", "readout", "value"]), failures


def compare(baseline: pd.DataFrame, readouts: pd.DataFrame) -> dict:
    """Largest relative difference between the baseline's readouts and ranklsim's
    (matched on arm, test, day and readout; values with |ranklsim| < 1e-9 compared absolutely)."""
    keys = ["arm", "test", "day", "readout"]
    m = baseline.merge(readouts[[*keys, "value"]], on=keys, suffixes=("_scipy", "_ranklsim"))
    a, b = m["value_scipy"].to_numpy(float), m["value_ranklsim"].to_numpy(float)
    ok = np.isfinite(a) & np.isfinite(b)
    err = np.abs(a[ok] - b[ok]) / np.maximum(np.abs(b[ok]), 1e-9)
    worst = int(np.argmax(err)) if len(err) else None
    rows = m[ok].reset_index(drop=True)
    return {
        "n_compared": int(ok.sum()), "n_ranklsim": len(readouts), "n_baseline": len(baseline),
        "max_rel_err": float(err.max()) if len(err) else float("nan"),
        "median_rel_err": float(np.median(err)) if len(err) else float("nan"),
        "worst": None if worst is None else {k: (v.item() if hasattr(v, "item") else v)
                                             for k, v in rows.iloc[worst].items()},
    }
