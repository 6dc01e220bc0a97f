"""Calibrate the cohort-level parameters to the Bruneck study (Kiechl 2013 Nat Med 19:358).

Targets: 78 incident cases among 844 people over 15 years (examinations at 0, 5, 10, 15 y) and
OR 4.06 for incident diabetes, top vs bottom tertile of baseline free sRANKL.

Free parameters (issue 15, workload progression layer): the population's median beta-cell fragility
``frag_median`` sets the share with fasting-glucose diabetes at the end of the run-in (baseline
prevalence, excluded as in the study; given with ``--frag-median``), and the mean yearly rise of
insulin resistance ``ir_drift_mean`` sets the incidence: it is found by bisection on the median case
count over ``--seeds`` replicate cohorts.  The sRANKL OR is *not* a target: sRANKL reaches diabetes only
through hepatic insulin resistance, and the OR is reported as a prediction.

    python tools/calibrate_cohort.py --seeds 4 --frag-median 0.35

``--fit``: the maximum-likelihood calibration with the fitting tools (:mod:`ranklsim.cohort.incidence_fit`):
both parameters fitted to Bruneck's baseline prevalence (82 of 919) and case count (78 of 844) on an
emulator of cohorts simulated over a grid (common random numbers), with profile-likelihood intervals;
writes the grid and the result to ``--out`` (default ``docs/figures/cohort_calibration.*``).  This is
the recorded calibration of the shipped ``PopulationSpec`` (the bisection is the quick check):

    python tools/calibrate_cohort.py --fit --seeds 2 --workers 2

``--homa``: instead, calibrate the distribution of the compensated-insulin-resistance trait
(``ir_comp_median``, ``ir_comp_log_sd``) to Bruneck's baseline HOMA-IR with the fitting tools
(:mod:`ranklsim.cohort.calibration`): one simulated cohort per seed, pooled, then multistart
least squares.  Since issue 15 ``ir_comp`` also raises beta-cell workload, so glucose is no longer
exactly invariant to it: rerun the bisection after a HOMA calibration.

    python tools/calibrate_cohort.py --homa --seeds 8
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace

import numpy as np
import pandas as pd

from ranklsim.cli_options import bounded, non_negative_int, positive_float, positive_int
from ranklsim.cohort import PopulationSpec, run_cohort, summary
from ranklsim.cohort.analysis import BRUNECK_CASES, BRUNECK_OR, baseline_homa
from ranklsim.cohort.calibration import calibrate_homa
from ranklsim.parallel import ProcessPoolEngine

TARGET_CASES = float(BRUNECK_CASES)
non_negative_float = bounded(float, low=0.0)
TARGET_OR = BRUNECK_OR[0]


def evaluate(spec: PopulationSpec, seeds, engine) -> dict:
    cases, ors = [], []
    for seed in seeds:
        s = summary(run_cohort(replace(spec, seed=seed), years=15, engine=engine, chunk_size=211))
        cases.append(s["cases"])
        ors.append(s["odds_ratio_top_vs_bottom"]["unadjusted"]["or"])
    return {"frag_median": spec.frag_median, "ir_drift_mean": spec.ir_drift_mean, "cases": cases, "or": ors,
            "median_cases": float(np.median(cases)), "median_or": float(np.median(ors))}


def calibrate_homa_distribution(spec: PopulationSpec, seeds, engine) -> None:
    frames = []
    for seed in seeds:
        people = run_cohort(replace(spec, seed=seed), years=15, engine=engine, chunk_size=211).people
        frames.append(people.assign(person_id=people["person_id"] + 100000 * seed))
    people = pd.concat(frames, ignore_index=True)
    print("before:", json.dumps(baseline_homa(people)))
    new, obj, res = calibrate_homa(people, spec)
    print(json.dumps(res.summary()))
    fitted = {k: getattr(new, k) for k in obj.parameter_ids}
    print("fitted:", json.dumps(fitted), "statistics:", json.dumps(obj.statistics(res.best_x)))
    scaled = people.assign(homa_ir0=obj.homa(res.best_x) * 1.0)
    print("after:", json.dumps(baseline_homa(scaled)))
    per_seed = [baseline_homa(scaled[scaled["person_id"] // 100000 == s]) for s in seeds]
    print("per seed reference p80:", [round(d["reference_p80"], 2) for d in per_seed],
          "log-SD:", [round(d["log_sd"], 3) for d in per_seed])


def fit_mode(args, seeds) -> None:
    from pathlib import Path

    from ranklsim.cohort.incidence_fit import COUNT_TARGETS, fit_incidence, simulate_grid

    out = Path(args.out)
    table_path = out.with_suffix(".csv")
    frags = [float(v) for v in args.frag_grid.split(",")]
    drifts = [float(v) for v in args.drift_grid.split(",")]
    t0 = time.time()
    if args.table:
        table = pd.read_csv(args.table)
    else:
        with ProcessPoolEngine(args.workers) as engine:
            table = simulate_grid(PopulationSpec(), frags, drifts, list(seeds), engine=engine)
        table_path.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(table_path, index=False)
    fit = fit_incidence(table, PopulationSpec())
    result = {"fitted": fit.parameters, "spec_values": {k: getattr(fit.spec, k) for k in fit.parameters},
              "profile_95": fit.intervals(), "expected_counts": fit.expected,
              "targets": [{"statistic": t.statistic, "events": t.events, "n": t.n, "source": t.source}
                          for t in COUNT_TARGETS],
              "grid": {"frag_median": frags, "ir_drift_mean": drifts, "seeds": list(seeds)},
              "simulated_events": {"baseline": int(table["baseline"].sum()), "incidence": int(table["incidence"].sum())},
              "nll": fit.multistart.best_fval,
              "date": time.strftime("%Y-%m-%d"), "wall_s": round(time.time() - t0)}
    out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=positive_int, default=4)
    ap.add_argument("--first-seed", type=non_negative_int, default=101,
                    help="calibration seeds differ from the test seeds")
    ap.add_argument("--frag-median", type=positive_float, default=PopulationSpec.frag_median)
    ap.add_argument("--lo", type=non_negative_float, default=0.0, help="lowest ir_drift_mean (per year)")
    ap.add_argument("--hi", type=positive_float, default=0.08, help="highest ir_drift_mean (per year)")
    ap.add_argument("--iterations", type=positive_int, default=7)
    ap.add_argument("--workers", type=positive_int, default=2)
    ap.add_argument("--homa", action="store_true", help="calibrate the HOMA-IR trait instead of ir_drift_mean")
    ap.add_argument("--fit", action="store_true", help="maximum-likelihood fit of frag_median and ir_drift_mean "
                                                      "with profile intervals (see the module docstring)")
    ap.add_argument("--frag-grid", default="0.35,0.45,0.55,0.7", help="--fit: frag_median grid")
    ap.add_argument("--drift-grid", default="0,0.008,0.016,0.028", help="--fit: ir_drift_mean grid")
    ap.add_argument("--table", default=None, help="--fit: reuse a saved grid table (CSV) instead of simulating")
    ap.add_argument("--out", default="docs/figures/cohort_calibration", help="--fit: output stem")
    args = ap.parse_args()
    if not args.lo < args.hi:
        ap.error(f"--lo must be below --hi, got {args.lo} and {args.hi}")
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    spec = PopulationSpec(frag_median=args.frag_median)
    if args.fit:
        fit_mode(args, seeds)
        return
    if args.homa:
        with ProcessPoolEngine(args.workers) as engine:
            calibrate_homa_distribution(spec, seeds, engine)
        return
    lo, hi = args.lo, args.hi
    with ProcessPoolEngine(args.workers) as engine:
        for _ in range(args.iterations):
            mid = 0.5 * (lo + hi)
            t0 = time.time()
            r = evaluate(replace(spec, ir_drift_mean=round(mid, 5)), seeds, engine)
            print(json.dumps(r), f"{time.time() - t0:.0f} s", flush=True)
            if r["median_cases"] > TARGET_CASES:
                hi = mid
            else:
                lo = mid
    print(f"ir_drift_mean = {0.5 * (lo + hi):.5f}")


if __name__ == "__main__":
    main()
