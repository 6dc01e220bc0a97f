"""ranklsim performance benchmarks (import, build, simulate, scenarios) against a scipy baseline.

    python benchmarks/run_benchmarks.py [--out benchmarks/results/benchmarks.json] [--repeats N]

See benchmarks/README.md for what is measured.  Prints a Markdown table to stdout and
writes a JSON file with every number, the baseline check and machine information.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# run as a script (python benchmarks/run_benchmarks.py): its folder is on the import path
from sbml_to_scipy import ScipyModel
from scenario_baseline import BaselineTimeout, ScipyScenario, compare

HERE = Path(__file__).resolve().parent

MIN_PER_DAY = 1440.0
ACUTE_T_END = 24 * 60           # min
ACUTE_N = 241
CHRONIC_T_END = 15 * 365        # days
CHRONIC_N = 181
CHECK_IDS = ("G", "I", "EGP")
CHECK_RTOL = 1e-4
#: secondary chronic task: 15 years of high-fat diet (the plain run stays at its steady state)
HFD = {"diet_fat": 1.0}
TARGETS = {"import": 0.5, "build": 0.5, "acute": 0.010, "chronic": 0.020, "ratio": 10.0}
#: whole scenarios timed through run_scenario (no time target; scipy baseline: scenario_baseline.py)
SCENARIOS = ("mouse-hepatic-rank-ko-hfd", "human-denosumab")
METHODS = ("LSODA", "BDF")


# ---------------------------------------------------------------------------- helpers
def _median(xs):
    return float(statistics.median(xs)) if xs else float("nan")


def _timeit(fn, repeats: int, warmup: int = 1):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def _run_child(code: str, env_extra: dict | None = None, timeout: float = 120.0) -> dict:
    env = dict(os.environ)
    env.update(env_extra or {})
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, timeout=timeout, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"child failed ({out.returncode}):\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


_IMPORT_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import ranklsim
t1 = time.perf_counter()
res = {"import_s": t1 - t0, "tellurium_after_import": "tellurium" in sys.modules,
       "roadrunner_after_import": "roadrunner" in sys.modules}
t2 = time.perf_counter()
import roadrunner, antimony, libsbml
res["deps_import_s"] = time.perf_counter() - t2
print(json.dumps(res))
"""

_BUILD_CHILD = r"""
import json, sys, time
import ranklsim
t0 = time.perf_counter()
m = ranklsim.load_model("human")
t1 = time.perf_counter()
m2 = ranklsim.load_model("human")
t2 = time.perf_counter()
mc = ranklsim.load_model("human", "chronic")
t3 = time.perf_counter()
print(json.dumps({"cold_s": t1 - t0, "second_s": t2 - t1, "chronic_view_s": t3 - t2,
                  "tellurium_after_load": "tellurium" in sys.modules}))
"""


class _Timeout(Exception):
    pass


def _capped(rhs, limit_s: float):
    """Wrap rhs so the integration aborts after ``limit_s`` seconds of wall time."""
    deadline = time.perf_counter() + limit_s
    calls = [0]

    def wrapped(t, y):
        calls[0] += 1
        if calls[0] % 256 == 0 and time.perf_counter() > deadline:
            raise _Timeout
        return rhs(t, y)

    return wrapped


# ---------------------------------------------------------------------------- scipy baseline
class Baseline:
    def __init__(self, sbml: str):
        t0 = time.perf_counter()
        self.model = ScipyModel.from_sbml(sbml)
        self.convert_s = time.perf_counter() - t0
        self.y0, self.params = self.model.initial_state()

    def task(self, events=(), overrides=None):
        """(y0, params) for parameter ``overrides`` (initial assignments re-evaluated, as
        ranklsim does) after the t = 0 ``events``."""
        if overrides:
            y0, params = self.model.initial_state(overrides)
        else:
            y0, params = list(self.y0), dict(self.params)
        for ev in events:
            if ev.time != 0:
                raise NotImplementedError("baseline handles events at t = 0 only")
            if ev.target in self.model.state_ids:
                i = self.model.state_ids.index(ev.target)
                y0[i] = ev.value if ev.op == "set" else y0[i] + ev.value
            else:
                params[ev.target] = ev.value if ev.op == "set" else params[ev.target] + ev.value
        return y0, params

    def solve(self, t_eval_min, y0, params, method, rtol, atol, limit_s=None):
        from scipy.integrate import solve_ivp

        rhs = self.model.make_rhs(params)
        if limit_s is not None:
            rhs = _capped(rhs, limit_s)
        sol = solve_ivp(rhs, (0.0, float(t_eval_min[-1])), y0, method=method,
                        t_eval=t_eval_min, rtol=rtol, atol=atol)
        if not sol.success:
            raise RuntimeError(f"solve_ivp {method} failed: {sol.message}")
        return sol


def _rel_err(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


# ---------------------------------------------------------------------------- main
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(HERE / "results" / "benchmarks.json"))
    ap.add_argument("--repeats", type=int, default=5, help="repeats per measurement (median)")
    ap.add_argument("--scipy-timeout", type=float, default=20.0,
                    help="wall-time cap (s) for one scipy run (reported as '> X s')")
    ap.add_argument("--scenario-scipy-repeats", type=int, default=3,
                    help="repeats of the (slow) scipy scenario baseline per method (median)")
    args = ap.parse_args(argv)
    R = max(1, args.repeats)
    t_start = time.perf_counter()

    import roadrunner

    import ranklsim
    from ranklsim.models.build import build_sbml
    from ranklsim.simulate.protocols import OralGlucose
    from ranklsim.simulate.simulator import TOLERANCES

    res: dict = {"repeats": R}
    res["machine"] = {
        "platform": platform.platform(), "machine": platform.machine(),
        "processor": platform.processor(), "python": sys.version.split()[0],
        "roadrunner": roadrunner.__version__, "ranklsim": ranklsim.__version__,
        "numpy": np.__version__, "cpu_count": os.cpu_count(),
    }
    import scipy
    res["machine"]["scipy"] = scipy.__version__

    # 1. import time -------------------------------------------------------------------
    imps = [_run_child(_IMPORT_CHILD) for _ in range(R)]
    res["import"] = {
        "median_s": _median([x["import_s"] for x in imps]),
        "runs_s": [x["import_s"] for x in imps],
        "tellurium_imported": any(x["tellurium_after_import"] for x in imps),
        "roadrunner_imported": any(x["roadrunner_after_import"] for x in imps),
        "deps_import_median_s": _median([x["deps_import_s"] for x in imps]),
    }

    # 2. build time ----------------------------------------------------------------------
    builds = [_run_child(_BUILD_CHILD) for _ in range(R)]
    uncached = []
    for _ in range(R):
        with tempfile.TemporaryDirectory(prefix="ranklsim-bench-cache-") as tmp:
            uncached.append(_run_child(_BUILD_CHILD, {"RANKLSIM_CACHE_DIR": tmp}))
    res["build"] = {
        "cold_median_s": _median([x["cold_s"] for x in builds]),
        "cold_uncached_median_s": _median([x["cold_s"] for x in uncached]),
        "second_load_median_s": _median([x["second_s"] for x in builds]),
        "chronic_view_after_acute_median_s": _median([x["chronic_view_s"] for x in builds]),
        "tellurium_imported": any(x["tellurium_after_load"] for x in builds + uncached),
        "runs_cold_s": [x["cold_s"] for x in builds],
        "runs_cold_uncached_s": [x["cold_s"] for x in uncached],
        "note": "cold = first ranklsim.load_model('human') in a fresh process after "
                "`import ranklsim` (includes lazy imports of antimony/libsbml/roadrunner); "
                "uncached = same with RANKLSIM_CACHE_DIR set to a fresh empty temp dir",
    }

    # 3. ranklsim simulations -----------------------------------------------------------
    acute = ranklsim.load_model("human")
    chronic = ranklsim.load_model("human", "chronic")
    ogtt = OralGlucose().events("human")
    sims = {
        "acute_fasting": lambda: acute.simulate(ACUTE_T_END, n_points=ACUTE_N),
        "acute_ogtt": lambda: acute.simulate(ACUTE_T_END, n_points=ACUTE_N, events=ogtt),
        "chronic_15y": lambda: chronic.simulate(CHRONIC_T_END, n_points=CHRONIC_N),
        "chronic_15y_hfd": lambda: chronic.simulate(CHRONIC_T_END, n_points=CHRONIC_N,
                                                    overrides=HFD),
    }
    res["ranklsim"] = {}
    for name, fn in sims.items():
        t0 = time.perf_counter()
        fn()
        first = time.perf_counter() - t0
        times = _timeit(fn, max(R, 5), warmup=0)
        res["ranklsim"][name] = {"median_s": _median(times), "first_call_s": first,
                                 "runs_s": times}

    # 4. scipy baseline ------------------------------------------------------------------
    base = Baseline(build_sbml("human"))
    res["scipy"] = {"convert_s": base.convert_s, "n_states": len(base.model.state_ids),
                    "n_assignment_rules": len(base.model.assignment_order)}
    acute_t = np.linspace(0.0, ACUTE_T_END, ACUTE_N)
    chronic_t = np.linspace(0.0, CHRONIC_T_END, CHRONIC_N) * MIN_PER_DAY
    tasks = {
        "acute_fasting": (acute_t, (), TOLERANCES["acute"], acute, {}),
        "acute_ogtt": (acute_t, ogtt, TOLERANCES["acute"], acute, {"events": ogtt}),
        "chronic_15y": (chronic_t, (), TOLERANCES["chronic"], chronic, {}),
        "chronic_15y_hfd": (chronic_t, (), TOLERANCES["chronic"], chronic, {"overrides": HFD}),
    }
    res["check"] = {}
    for name, (t_eval, events, (rtol, atol), rl_model, kw) in tasks.items():
        y0, params = base.task(events, kw.get("overrides"))
        n_rep = R
        limit = args.scipy_timeout
        t_view = t_eval / (MIN_PER_DAY if rl_model.view == "chronic" else 1.0)
        ref = rl_model.simulate(times=list(t_view), selections=list(CHECK_IDS), **kw)
        res["scipy"][name] = {}
        for method in ("LSODA", "BDF"):
            entry: dict = {"rtol": rtol, "atol": atol}
            times, sol = [], None
            try:
                for _ in range(n_rep):
                    if times and sum(times) > limit:
                        break  # slow method: keep the repeats already done
                    t0 = time.perf_counter()
                    sol = base.solve(t_eval, y0, params, method, rtol, atol, limit_s=limit)
                    times.append(time.perf_counter() - t0)
                entry.update(median_s=_median(times), runs_s=times, nfev=int(sol.nfev),
                             timed_out=False)
                obs = base.model.observe_many(sol.t, sol.y, params, CHECK_IDS)
                errs = {k: _rel_err(obs[k], ref[k]) for k in CHECK_IDS}
                res["check"][f"{name}/{method}"] = {
                    "max_rel_err": errs, "tolerance": CHECK_RTOL,
                    "ok": all(v <= CHECK_RTOL for v in errs.values())}
            except _Timeout:
                entry.update(median_s=None, timed_out=True, timeout_s=limit)
            except Exception as exc:
                entry.update(median_s=None, timed_out=False, error=f"{type(exc).__name__}: {exc}")
            rl = res["ranklsim"][name]["median_s"]
            if entry["median_s"] is not None:
                entry["ratio"] = entry["median_s"] / rl
            elif entry.get("timed_out"):
                entry["ratio_lower_bound"] = limit / rl
            res["scipy"][name][method] = entry

    # 5. whole scenarios -----------------------------------------------------------------
    res["scenarios"] = bench_scenarios(R, max(1, args.scenario_scipy_repeats), args.scipy_timeout)

    res["total_wall_s"] = time.perf_counter() - t_start

    # 5. report -------------------------------------------------------------------------
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2) + "\n")
    print(markdown(res))
    print(f"\nJSON written to {out}  (total {res['total_wall_s']:.1f} s)")
    return 0


def bench_scenarios(repeats: int, scipy_repeats: int, limit: float) -> dict:
    """Wall time of run_scenario(load_scenario(name)) (median of >= 5 runs after one warm-up) and
    of the scipy baseline of the same scenario in this process (scenario_baseline.py)."""
    from ranklsim.models.build import build_sbml
    from ranklsim.simulate.library import load_scenario
    from ranklsim.simulate.runner import run_scenario

    out: dict = {}
    models: dict[str, ScipyModel] = {}
    for name in SCENARIOS:
        sc = load_scenario(name)
        holder: dict = {}

        def run(sc=sc, holder=holder):
            holder["result"] = run_scenario(sc)

        t0 = time.perf_counter()
        run()
        first = time.perf_counter() - t0
        times = _timeit(run, max(repeats, 5), warmup=0)
        result = holder["result"]
        entry: dict = {
            "species": sc.species, "duration_days": sc.duration_days, "n_arms": len(sc.arms),
            "tests": [t.kind for t in sc.tests], "n_readouts": len(result.readouts),
            "n_timecourse_rows": len(result.timecourse), "failures": result.failures,
            "ranklsim": {"median_s": _median(times), "warmup_s": first, "runs_s": times},
            "scipy": {}, "check": {},
        }
        species = sc.model_species
        if species not in models:
            t0 = time.perf_counter()
            models[species] = ScipyModel.from_sbml(build_sbml(species))
            entry["scipy_convert_s"] = time.perf_counter() - t0
        for method in METHODS:
            base = ScipyScenario(sc, models[species], method)
            e: dict = {}
            runs: list[float] = []
            try:
                for _ in range(scipy_repeats):
                    if runs and sum(runs) > limit:
                        break  # slow method: keep the repeats already done
                    t0 = time.perf_counter()
                    frame, failures = base.run(limit_s=limit)
                    runs.append(time.perf_counter() - t0)
                e.update(median_s=_median(runs), runs_s=runs, nfev=base.nfev, timed_out=False,
                         failures=failures)
                c = compare(frame, result.readouts)
                c.update(tolerance=CHECK_RTOL, ok=bool(c["max_rel_err"] <= CHECK_RTOL))
                entry["check"][method] = c
            except BaselineTimeout:
                e.update(median_s=None, timed_out=True, timeout_s=limit, runs_s=runs)
            except Exception as exc:
                e.update(median_s=None, timed_out=False, error=f"{type(exc).__name__}: {exc}")
            rl = entry["ranklsim"]["median_s"]
            if e["median_s"] is not None:
                e["ratio"] = e["median_s"] / rl
            elif e.get("timed_out"):
                e["ratio_lower_bound"] = limit / rl
            entry["scipy"][method] = e
        out[name] = entry
    return out


def _fmt(s) -> str:
    if s is None:
        return "n/a"
    if s < 1e-3:
        return f"{s * 1e6:.0f} µs"
    if s < 1.0:
        return f"{s * 1e3:.1f} ms"
    return f"{s:.2f} s"


def _target(value, limit, fmt, smaller=True) -> str:
    if value is None:
        return f"{fmt} (n/a)"
    ok = value < limit if smaller else value >= limit
    return f"{fmt} ({'met' if ok else 'MISSED'})"


def markdown(res: dict) -> str:
    rows = ["| quantity | ranklsim time | scipy time | ratio (scipy/ranklsim) | target |",
            "|---|---|---|---|---|"]
    imp = res["import"]
    tell = "tellurium imported!" if imp["tellurium_imported"] else "tellurium not imported"
    rows.append(f"| import ranklsim ({tell}) | {_fmt(imp['median_s'])} | — | — | "
                f"{_target(imp['median_s'], TARGETS['import'], '< 0.5 s')} |")
    b = res["build"]
    rows.append(f"| build: load_model('human') cold, fresh process | {_fmt(b['cold_median_s'])} | "
                f"{_fmt(res['scipy']['convert_s'])} (SBML→Python only) | — | "
                f"{_target(b['cold_median_s'], TARGETS['build'], '< 0.5 s')} |")
    rows.append(f"| build: cold, empty RANKLSIM_CACHE_DIR | {_fmt(b['cold_uncached_median_s'])} | — | — | "
                f"{_target(b['cold_uncached_median_s'], TARGETS['build'], '< 0.5 s')} |")
    rows.append(f"| build: second load_model('human'), same process | {_fmt(b['second_load_median_s'])} "
                f"| — | — | {_target(b['second_load_median_s'], TARGETS['build'], '< 0.5 s')} |")
    labels = {"acute_fasting": ("24-h acute, fasting", "acute", "< 10 ms"),
              "acute_ogtt": ("24-h acute, 75 g OGTT", "acute", "< 10 ms"),
              "chronic_15y": ("15-year chronic", "chronic", "< 20 ms"),
              "chronic_15y_hfd": ("15-year chronic, high-fat diet", "chronic", "< 20 ms")}
    for name, (label, key, tgt) in labels.items():
        rl = res["ranklsim"][name]["median_s"]
        for method in ("LSODA", "BDF"):
            e = res["scipy"][name][method]
            if e.get("timed_out"):
                sc, ratio = f"> {e['timeout_s']:.0f} s", f"> {e['ratio_lower_bound']:.0f}x"
                rmet = e["ratio_lower_bound"] >= TARGETS["ratio"]
            elif e["median_s"] is None:
                sc, ratio, rmet = f"error: {e.get('error', '?')[:40]}", "n/a", None
            else:
                sc, ratio = _fmt(e["median_s"]), f"{e['ratio']:.0f}x"
                rmet = e["ratio"] >= TARGETS["ratio"]
            rmark = "n/a" if rmet is None else ("met" if rmet else "MISSED")
            rows.append(f"| {label} (scipy {method}) | {_fmt(rl)} | {sc} | {ratio} | "
                        f"{_target(rl, TARGETS[key], tgt)}; ratio >= 10x ({rmark}) |")
    for name, sc in res.get("scenarios", {}).items():
        rl = sc["ranklsim"]["median_s"]
        label = (f"scenario {name}: run_scenario, {sc['n_arms']} arms x {sc['duration_days']:g} d, "
                 f"tests {'/'.join(sc['tests'])}")
        for method in METHODS:
            e = sc["scipy"][method]
            if e.get("timed_out"):
                sc_t, ratio = f"> {e['timeout_s']:.0f} s", f"> {e['ratio_lower_bound']:.0f}x"
            elif e["median_s"] is None:
                sc_t, ratio = f"error: {e.get('error', '?')[:40]}", "n/a"
            else:
                sc_t, ratio = _fmt(e["median_s"]), f"{e['ratio']:.1f}x"
            rows.append(f"| {label} (scipy {method}) | {_fmt(rl)} | {sc_t} | {ratio} | none set |")
    lines = ["\n".join(rows), "", ("Baseline check (max relative error vs roadrunner at the output "
             f"times, tolerance {CHECK_RTOL:g}):"), ""]
    for key, c in res["check"].items():
        errs = ", ".join(f"{k} {v:.1e}" for k, v in c["max_rel_err"].items())
        lines.append(f"- {key}: {errs} -> {'OK' if c['ok'] else 'DISAGREE'}")
    for name, sc in res.get("scenarios", {}).items():
        for method, c in sc["check"].items():
            lines.append(f"- scenario {name}/{method}: {c['n_compared']} readouts, max rel. err "
                         f"{c['max_rel_err']:.1e} -> {'OK' if c['ok'] else 'DISAGREE'}")
        if sc["failures"]:
            lines.append(f"- scenario {name}: ranklsim failures {sc['failures']}")
    m = res["machine"]
    lines.append("")
    lines.append(f"Machine: {m['platform']}, Python {m['python']}, roadrunner {m['roadrunner']}, "
                 f"scipy {m['scipy']}, {m['cpu_count']} CPUs; medians of {res['repeats']} repeats.")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
