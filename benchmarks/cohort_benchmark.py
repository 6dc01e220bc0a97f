"""Virtual-cohort benchmarks: cost per person, 1 vs 2 workers, linear scaling with n, and a 100k run.

    .venv/bin/python benchmarks/cohort_benchmark.py [--out benchmarks/results/cohort.json]
        [--n 10000] [--workers 2] [--chunk-size 500] [--n-cost 200] [--scaling-n 250 500 1000 2000]
        [--sections cost scaling workers]
    .venv/bin/python benchmarks/cohort_benchmark.py --n-large 100000 [--large-out DIR]

See benchmarks/README.md ("Cohort") for what is measured.  Sections run in the order given and
their results are merged into the JSON file (a section run later replaces the same section from an
earlier run; ``machine``/``git_commit``/``load`` are kept per section), so the sections can be
run separately on a shared machine.  ``--n-large N`` runs only the large cohort: N people on
``--workers`` processes with every chunk written to disk (``--large-out``, which must not already
hold chunks, so the wall time is never that of a resumed run).

Wall-clock times are reported, never asserted; the scaling ratios are against the smallest n run in
the same process.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import time
from pathlib import Path

import numpy as np

from ranklsim.cohort import PopulationSpec, generate_population, run_cohort, summary
from ranklsim.cohort.followup import DEFAULT_EXAMS, exam_schedule, follow_person
from ranklsim.cohort.population import IR_DRIFT, person_overrides
from ranklsim.cohort.runner import worker_model
from ranklsim.parallel import ProcessPoolEngine, SerialEngine

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

YEARS = 15.0
SECTIONS = ("cost", "scaling", "workers")


def _machine() -> dict:
    import roadrunner
    import scipy

    return {"platform": platform.platform(), "python": platform.python_version(),
            "cpu_count": os.cpu_count(), "roadrunner": roadrunner.__version__, "scipy": scipy.__version__,
            "numpy": np.__version__}


def _git_commit() -> str:
    import subprocess

    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                             text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip()


def _cpu_with_children() -> float:
    """CPU seconds (user + system) of this process and of its exited, waited-for children."""
    import resource

    me, ch = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + ch.ru_utime + ch.ru_stime


def _dirty_files() -> list[str]:
    """Uncommitted changes under src/ (the numbers then belong to the working tree, not the commit)."""
    import subprocess

    try:
        out = subprocess.run(["git", "status", "--porcelain", "--", "src"], cwd=ROOT, capture_output=True,
                             text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return []
    return [line[3:] for line in out.stdout.splitlines() if line.strip()]


def _stamp() -> dict:
    return {"git_commit": _git_commit(), "src_uncommitted": _dirty_files(), "load_before": os.getloadavg()}


def _cohort_stats(result) -> dict:
    s = summary(result)
    orr = (s.get("odds_ratio_top_vs_bottom") or {}).get("unadjusted") or {}
    attempts = result.people["solver_attempt"].value_counts(dropna=False).sort_index()
    return {"n_followed": s["n_followed"], "n_errors": s["n_errors"], "cases": s["cases"],
            "incidence_per_1000_py": s["incidence_per_1000_py"], "or_unadjusted": orr.get("or"),
            "solver_attempts": {str(k): int(v) for k, v in attempts.items()}}


def cost_per_person(n: int, seed: int) -> dict:
    """Time :func:`follow_person` for each of ``n`` people (one warm-up person first), in this process."""
    t0 = time.perf_counter()
    model = worker_model()
    build_s = time.perf_counter() - t0
    exams = exam_schedule(YEARS, DEFAULT_EXAMS)
    spec = PopulationSpec(n=n, seed=seed)
    pop = generate_population(spec)
    rows = pop.to_dict("records")
    follow_person(model, person_overrides(rows[0]), YEARS, exams, ir_drift=float(rows[0][IR_DRIFT]))  # warm-up
    times, cpu_times, attempts, errors = [], [], [], 0
    for row in rows:
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            rec = follow_person(model, person_overrides(row), YEARS, exams, ir_drift=float(row[IR_DRIFT]))
            attempts.append(rec["solver_attempt"])
        except Exception:  # any failure: counted, as the runner records it
            errors += 1
            attempts.append(-1)
        times.append(time.perf_counter() - t0)
        cpu_times.append(time.process_time() - c0)
    t, c = np.asarray(times), np.asarray(cpu_times)
    a = np.asarray(attempts)
    by_attempt = {str(k): {"n": int((a == k).sum()), "mean_ms": float(t[a == k].mean() * 1e3),
                           "cpu_mean_ms": float(c[a == k].mean() * 1e3), "cpu_share": float(c[a == k].sum() / c.sum())}
                  for k in sorted(set(attempts))}
    return {"n": n, "seed": seed, "years": YEARS, "model_build_s": build_s, "errors": errors,
            "median_ms": float(np.median(t) * 1e3), "mean_ms": float(t.mean() * 1e3),
            "p95_ms": float(np.quantile(t, 0.95) * 1e3), "max_ms": float(t.max() * 1e3),
            "cpu_median_ms": float(np.median(c) * 1e3), "cpu_mean_ms": float(c.mean() * 1e3),
            "total_s": float(t.sum()), "cpu_total_s": float(c.sum()), "by_solver_attempt": by_attempt,
            "times_ms": (t * 1e3).round(3).tolist(), "cpu_times_ms": (c * 1e3).round(3).tolist()}


def scaling(ns: list[int], seed: int, chunk_size: int) -> dict:
    """Serial ``run_cohort`` wall time for each n (model already built); linear fit of wall time vs n."""
    worker_model()
    runs = []
    for n in ns:
        t0, c0 = time.perf_counter(), time.process_time()
        res = run_cohort(PopulationSpec(n=n, seed=seed), years=YEARS, engine=SerialEngine(), chunk_size=chunk_size)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        runs.append({"n": n, "wall_s": wall, "cpu_s": cpu, "ms_per_person": wall / n * 1e3,
                     "cpu_ms_per_person": cpu / n * 1e3, **_cohort_stats(res)})
        print(f"  scaling n={n}: {wall:.1f} s wall, {cpu:.1f} s CPU ({wall / n * 1e3:.1f} ms/person)", flush=True)
    x = np.array([r["n"] for r in runs], float)
    out = {"seed": seed, "years": YEARS, "chunk_size": chunk_size, "runs": runs}
    for kind in ("wall", "cpu"):
        y = np.array([r[f"{kind}_s"] for r in runs])
        slope, intercept = np.polyfit(x, y, 1)
        pred = slope * x + intercept
        ss_res, ss_tot = float(((y - pred) ** 2).sum()), float(((y - y.mean()) ** 2).sum())
        pre = "" if kind == "wall" else "cpu_"
        out |= {f"{pre}slope_ms_per_person": float(slope * 1e3), f"{pre}intercept_s": float(intercept),
                f"{pre}r2": 1.0 - ss_res / ss_tot if ss_tot > 0 else float("nan")}
    base = runs[0]
    for r in runs:
        r["n_ratio"] = r["n"] / base["n"]
        r["time_ratio"] = r["wall_s"] / base["wall_s"]
        r["cpu_ratio"] = r["cpu_s"] / base["cpu_s"]
    return out


def workers_timing(n: int, workers: int, seed: int, chunk_size: int) -> dict:
    """Wall time of the same cohort with SerialEngine and ProcessPoolEngine(workers) (in memory)."""
    worker_model()  # the serial run reuses this process's model; spawned workers build their own
    spec = PopulationSpec(n=n, seed=seed)
    out = {"n": n, "workers": workers, "seed": seed, "years": YEARS, "chunk_size": chunk_size,
           "chunks": -(-n // chunk_size)}
    results = {}
    for label, engine in (("serial", SerialEngine()), (f"processes_{workers}", ProcessPoolEngine(workers))):
        c0 = _cpu_with_children()
        t0 = time.perf_counter()
        with engine:
            res = run_cohort(spec, years=YEARS, engine=engine, chunk_size=chunk_size)
        wall = time.perf_counter() - t0
        cpu = _cpu_with_children() - c0  # pool workers count once they have exited (pool shut down)
        results[label] = res
        out[label] = {"wall_s": wall, "cpu_s": cpu, "ms_per_person": wall / n * 1e3, **_cohort_stats(res)}
        print(f"  workers: {label} n={n}: {wall:.1f} s wall, {cpu:.1f} s CPU (incl. workers)", flush=True)
    par = out[f"processes_{workers}"]
    out["speedup"] = out["serial"]["wall_s"] / par["wall_s"]
    out["efficiency"] = out["speedup"] / workers
    # CPU cost of parallelism (spawn, imports, model builds, pickling): total CPU of the pool run vs serial
    out["cpu_overhead_ratio"] = par["cpu_s"] / out["serial"]["cpu_s"]
    a, b = (results[k].people for k in results)
    out["same_results"] = bool(a.equals(b))
    return out


def large_run(n: int, workers: int, seed: int, chunk_size: int, out_dir: Path) -> dict:
    """``n`` people on ``workers`` processes, chunks streamed to ``out_dir/chunks`` (fresh folder)."""
    if (out_dir / "chunks").exists() and any((out_dir / "chunks").iterdir()):
        raise SystemExit(f"{out_dir} already holds chunks; pass a new --large-out (a resumed run would "
                         "not time the whole cohort)")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    spec = PopulationSpec(n=n, seed=seed)
    t0 = time.perf_counter()
    with ProcessPoolEngine(workers) as engine:
        res = run_cohort(spec, years=YEARS, engine=engine, out_dir=out_dir, chunk_size=chunk_size, progress=True)
    wall = time.perf_counter() - t0
    size = sum(p.stat().st_size for p in (out_dir / "chunks").glob("*.csv"))
    out = {"n": n, "workers": workers, "seed": seed, "years": YEARS, "chunk_size": chunk_size,
           "out_dir": str(out_dir), "wall_s": wall, "ms_per_person": wall / n * 1e3,
           "people_per_s": n / wall, "chunks_total": res.chunks_total, "chunks_computed": res.chunks_computed,
           "failed_chunks": {str(k): v for k, v in res.failed_chunks.items()}, "complete": res.complete,
           "chunk_bytes": size, **_cohort_stats(res)}
    (out_dir / "summary.json").write_text(json.dumps(summary(res), indent=2, sort_keys=True))
    return out


def _fmt_s(s: float) -> str:
    return f"{s * 1e3:.1f} ms" if s < 1 else f"{s:.1f} s"


def markdown(res: dict) -> str:
    lines = []
    c = res.get("cost")
    if c:
        lines += [(f"Cost per person ({c['years']:g}-year follow-up, serial, n = {c['n']}): median "
                  f"{c['median_ms']:.1f} ms, mean {c['mean_ms']:.1f} ms, p95 {c['p95_ms']:.1f} ms, "
                  f"max {c['max_ms']:.0f} ms; CPU median {c['cpu_median_ms']:.1f} ms, mean {c['cpu_mean_ms']:.1f} ms; "
                  f"errors {c['errors']}"),
                  "by solver attempt (-1: failed): " + ", ".join(
                      f"{k}: n={v['n']} CPU mean {v['cpu_mean_ms']:.1f} ms ({100 * v['cpu_share']:.0f} % of CPU)"
                      for k, v in c["by_solver_attempt"].items()), ""]
    s = res.get("scaling")
    if s:
        lines += [("| n | wall time (serial) | CPU time | ms/person (wall) | n ratio | wall ratio | CPU ratio "
                  "| cases | people on a fallback solver attempt |"), "|---|---|---|---|---|---|---|---|---|"]
        for r in s["runs"]:
            slow = sum(v for k, v in r["solver_attempts"].items() if k not in ("0", "0.0"))
            lines.append(f"| {r['n']} | {_fmt_s(r['wall_s'])} | {_fmt_s(r['cpu_s'])} | {r['ms_per_person']:.1f} "
                         f"| {r['n_ratio']:.0f} | {r['time_ratio']:.2f} | {r['cpu_ratio']:.2f} | {r['cases']} | {slow} |")
        lines += ["", (f"Linear fit time = a + b n: wall slope {s['slope_ms_per_person']:.2f} ms/person, intercept "
                       f"{s['intercept_s']:.2f} s, R^2 = {s['r2']:.4f}; CPU slope {s['cpu_slope_ms_per_person']:.2f} "
                       f"ms/person, intercept {s['cpu_intercept_s']:.2f} s, R^2 = {s['cpu_r2']:.4f}"), ""]
    w = res.get("workers")
    if w:
        k = w["workers"]
        lines += [f"Cohort n = {w['n']}, {w['years']:g} years, chunk size {w['chunk_size']} ({w['chunks']} chunks):", "",
                  "| engine | wall time | CPU time (incl. workers) | ms/person (wall) | cases |", "|---|---|---|---|---|"]
        for label, r in (("SerialEngine", w["serial"]), (f"ProcessPoolEngine({k})", w[f"processes_{k}"])):
            lines.append(f"| {label} | {_fmt_s(r['wall_s'])} | {_fmt_s(r['cpu_s'])} | {r['ms_per_person']:.1f} "
                         f"| {r['cases']} |")
        lines += ["", (f"Speed-up {k} workers / serial: **{w['speedup']:.2f}x** (efficiency {w['efficiency']:.2f}; "
                      f"identical people frames: {w['same_results']}; CPU of the pool run / serial "
                       f"{w['cpu_overhead_ratio']:.2f})"), ""]
    g = res.get("large")
    if g:
        lines += [(f"Large cohort n = {g['n']} on {g['workers']} workers, chunks of {g['chunk_size']} to disk: "
                  f"wall {g['wall_s']:.0f} s ({g['ms_per_person']:.1f} ms/person, {g['people_per_s']:.0f} people/s), "
                  f"{g['chunks_computed']}/{g['chunks_total']} chunks, complete {g['complete']}, "
                  f"{g['chunk_bytes'] / 1e6:.0f} MB of chunks, {g['cases']} cases, errors {g['n_errors']}")]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=HERE / "results" / "cohort.json")
    ap.add_argument("--n", type=int, default=10000, help="people in the 1-vs-N-workers comparison (default 10000)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--chunk-size", type=int, default=500)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--n-cost", type=int, default=200, help="people timed one by one for the cost per person")
    ap.add_argument("--scaling-n", type=int, nargs="+", default=[250, 500, 1000, 2000])
    ap.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    ap.add_argument("--n-large", type=int, help="run only a cohort of this many people on --workers processes, "
                                                "chunks to disk (e.g. 100000)")
    ap.add_argument("--large-out", type=Path, help="chunk folder of --n-large (default "
                                                   "benchmarks/results/cohort_large_n<N>; must not hold chunks)")
    args = ap.parse_args(argv)
    res: dict = json.loads(args.out.read_text()) if args.out.exists() else {}
    res["machine"] = _machine()
    t_all = time.perf_counter()
    if args.n_large:
        out_dir = args.large_out or HERE / "results" / f"cohort_large_n{args.n_large}"
        run = {"section": "large", **_stamp()}
        res["large"] = {**run, **large_run(args.n_large, args.workers, args.seed, args.chunk_size, out_dir),
                        "load_after": os.getloadavg()}
        shown = {"large": res["large"]}
    else:
        shown = {}
        for section in args.sections:
            print(f"{section} ...", flush=True)
            stamp = _stamp()
            if section == "cost":
                part = cost_per_person(args.n_cost, args.seed)
            elif section == "scaling":
                part = scaling(sorted(args.scaling_n), args.seed, args.chunk_size)
            else:
                part = workers_timing(args.n, args.workers, args.seed, args.chunk_size)
            res[section] = shown[section] = {**stamp, **part, "load_after": os.getloadavg()}
    total = time.perf_counter() - t_all
    print(markdown(shown))
    loads = [(k, v["load_before"][0], v["load_after"][0]) for k, v in shown.items()]
    print(f"\ntotal {total:.0f} s; 1-min load average before/after: "
          + ", ".join(f"{k} {b:.2f}/{a:.2f}" for k, b, a in loads))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
