"""Fitting benchmarks: objective evaluations per second and multistart wall time, 1 vs 2 workers.

    .venv/bin/python benchmarks/fitting_benchmark.py [--out benchmarks/results/fitting_benchmark.json]
        [--repeats 20] [--random-points 30] [--starts 50] [--max-nfev 5] [--workers 2]

See benchmarks/README.md ("Fitting") for what is measured. Prints a Markdown table and writes JSON
with every individual time, the multistart summaries and machine information (including the load
average before and after, since other processes on the machine slow the parallel run most).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import time
from pathlib import Path

import numpy as np

from ranklsim.constants import FAILED_VALUE
from ranklsim.fitting.multistart import latin_hypercube_starts, run_multistart
from ranklsim.fitting.objective import PetabObjective
from ranklsim.fitting.problems import shipped_problem
from ranklsim.parallel import ProcessPoolEngine, SerialEngine

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

SPECIES = ("mouse", "human")


def _median(xs: list[float]) -> float:
    return float(statistics.median(xs)) if xs else float("nan")


def _machine() -> dict:
    import roadrunner
    import scipy

    return {"platform": platform.platform(), "python": platform.python_version(),
            "cpu_count": os.cpu_count(), "roadrunner": roadrunner.__version__, "scipy": scipy.__version__,
            "numpy": np.__version__}


def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                             text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip()


def objective_rate(species: str, repeats: int, n_random: int, seed: int) -> dict:
    """Build the shipped objective; time ``repeats`` evaluations at x_nominal (after one warm-up) and
    one evaluation at each of ``n_random`` Latin-hypercube points within the bounds."""
    t0 = time.perf_counter()
    obj = PetabObjective(shipped_problem(species))
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    obj(obj.x_nominal)  # builds the RoadRunner instance
    first_s = time.perf_counter() - t0
    nominal = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        obj(obj.x_nominal)
        nominal.append(time.perf_counter() - t0)
    random_t, failed = [], 0
    for x in latin_hypercube_starts(obj.lower, obj.upper, n_random, seed):
        t0 = time.perf_counter()
        f = obj(x)
        random_t.append(time.perf_counter() - t0)
        failed += int(not np.isfinite(f) or f >= FAILED_VALUE)
    med_nom, med_rand = _median(nominal), _median(random_t)
    return {
        "species": species, "n_parameters": len(obj.parameter_ids), "n_measurements": len(obj.y),
        "n_condition_pairs": len(obj.pairs), "load_s": load_s, "first_eval_s": first_s,
        "nominal_s": nominal, "random_s": random_t, "random_failed": failed,
        "nominal_median_s": med_nom, "nominal_evals_per_s": 1.0 / med_nom,
        "random_median_s": med_rand, "random_evals_per_s": 1.0 / med_rand,
        "random_mean_s": float(np.mean(random_t)), "random_max_s": float(np.max(random_t)),
        "random_mean_evals_per_s": 1.0 / float(np.mean(random_t)),
    }


def multistart_timing(n_starts: int, max_nfev: int, workers: int, seed: int) -> dict:
    """Wall time of the same multistart (human problem) with SerialEngine and ProcessPoolEngine."""
    obj = PetabObjective(shipped_problem("human"))
    obj(obj.x_nominal)  # the serial run reuses this process's RoadRunner; workers build their own
    out = {"n_starts": n_starts, "max_nfev": max_nfev, "workers": workers, "seed": seed}
    for label, engine in (("serial", SerialEngine()), (f"processes_{workers}", ProcessPoolEngine(workers))):
        t0 = time.perf_counter()
        res = run_multistart(obj, n_starts, seed=seed, engine=engine, max_nfev=max_nfev)
        wall = time.perf_counter() - t0
        t = res.table
        out[label] = {"wall_s": wall, "best_fval": res.best_fval, "n_fev_total": int(t["n_fev"].sum()),
                      "start_seconds_sum": float(t["seconds"].sum()), **res.summary()}
    par = out[f"processes_{workers}"]
    out["speedup"] = out["serial"]["wall_s"] / par["wall_s"]
    out["same_best"] = bool(abs(out["serial"]["best_fval"] - par["best_fval"]) <= 1e-6 * max(1.0, abs(par["best_fval"])))
    return out


def _fmt_s(s: float) -> str:
    return f"{s * 1e3:.1f} ms" if s < 1 else f"{s:.1f} s"


def markdown(res: dict) -> str:
    header = ("| problem | d | data | eval at x_nominal (median) | evals/s "
              "| eval at random points (median / mean / max) | evals/s (median / mean) | failed |")
    lines = [header, "|---|---|---|---|---|---|---|---|"]
    for r in res["objective"]:
        lines.append(
            f"| {r['species']} | {r['n_parameters']} | {r['n_measurements']} | {_fmt_s(r['nominal_median_s'])} "
            f"| {r['nominal_evals_per_s']:.0f} | {_fmt_s(r['random_median_s'])} / {_fmt_s(r['random_mean_s'])} / "
            f"{_fmt_s(r['random_max_s'])} | {r['random_evals_per_s']:.0f} / {r['random_mean_evals_per_s']:.1f} "
            f"| {r['random_failed']}/{len(r['random_s'])} |")
    m = res.get("multistart")
    if m:
        w = m["workers"]
        par = m[f"processes_{w}"]
        lines += ["", f"Multistart, human problem: {m['n_starts']} starts, least_squares, max_nfev = {m['max_nfev']}",
                  "", "| engine | wall time | objective calls | best nll | starts at best |", "|---|---|---|---|---|"]
        for label, r in (("SerialEngine", m["serial"]), (f"ProcessPoolEngine({w})", par)):
            lines.append(f"| {label} | {r['wall_s']:.1f} s | {r['n_fev_total']} | {r['best_fval']:.4f} "
                         f"| {r['n_at_best']}/{r['n_starts']} |")
        lines += ["", f"Speed-up {w} workers / serial: **{m['speedup']:.2f}x** (same best: {m['same_best']})"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=HERE / "results" / "fitting_benchmark.json")
    ap.add_argument("--repeats", type=int, default=20, help="evaluations at x_nominal per problem")
    ap.add_argument("--random-points", type=int, default=30, help="random (LHS) points per problem")
    ap.add_argument("--starts", type=int, default=50)
    ap.add_argument("--max-nfev", type=int, default=5, help="least_squares max_nfev per start")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-multistart", action="store_true")
    args = ap.parse_args(argv)
    t_all = time.perf_counter()
    res: dict = {"machine": _machine(), "git_commit": _git_commit(), "load_before": os.getloadavg(),
                 "settings": vars(args) | {"out": str(args.out)}}
    res["objective"] = [objective_rate(s, args.repeats, args.random_points, args.seed) for s in SPECIES]
    if not args.skip_multistart:
        res["multistart"] = multistart_timing(args.starts, args.max_nfev, args.workers, args.seed)
    res["load_after"] = os.getloadavg()
    res["total_s"] = time.perf_counter() - t_all
    print(markdown(res))
    print(f"\ntotal {res['total_s']:.0f} s; load average before {res['load_before'][0]:.2f}, "
          f"after {res['load_after'][0]:.2f} (1 min)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
