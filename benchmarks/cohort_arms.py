"""Cost per person of each cohort arm against the control arm, in the same process (issue 15's "denosumab
arm <= 3x control").

    .venv/bin/python benchmarks/cohort_arms.py [--n 100] [--seed 1] [--repeats 2]
        [--arms control,denosumab,denosumab_explicit,rank_blockade,metformin,lifestyle]
        [--out benchmarks/results/cohort_arms.json]

Each arm is ``run_cohort(PopulationSpec(n, seed), years=15, arms=[arm])`` on the serial engine, one arm
at a time, the control arm first, the whole sequence ``--repeats`` times (one warm-up run of every arm
on 2 people first, so model builds and the arms' one-off preparations, e.g. the denosumab average's
reference courses, are not counted).  Reported: wall time per person and its ratio to the control arm of
the same repeat.  Wall-clock times are reported, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

from ranklsim.cohort import PopulationSpec, run_cohort

HERE = Path(__file__).resolve().parent
YEARS = 15.0
DEFAULT_ARMS = "control,denosumab,denosumab_explicit,rank_blockade,metformin,lifestyle"


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def measure(arms: list[str], n: int, seed: int, repeats: int) -> dict:
    if arms[0] != "control":
        arms = ["control", *[a for a in arms if a != "control"]]
    for arm in arms:  # warm-up: model builds, reference courses, metformin's mean effects
        run_cohort(PopulationSpec(n=2, seed=seed + 1000), years=YEARS, arms=[arm])
    rows = []
    for rep in range(repeats):
        for arm in arms:
            t0 = time.perf_counter()
            res = run_cohort(PopulationSpec(n=n, seed=seed), years=YEARS, arms=[arm])
            wall = time.perf_counter() - t0
            people = res.people
            rows.append({"repeat": rep, "arm": arm, "wall_s": wall, "ms_per_person": wall / n * 1e3,
                         "errors": int(people["error"].notna().sum()),
                         "fallback_attempts": int((people["solver_attempt"].fillna(0) > 0).sum())})
            print(f"  repeat {rep} {arm}: {wall / n * 1e3:.1f} ms/person", flush=True)
        control = next(r for r in rows if r["repeat"] == rep and r["arm"] == "control")
        for r in rows:
            if r["repeat"] == rep:
                r["ratio_to_control"] = r["wall_s"] / control["wall_s"]
    return {"n": n, "seed": seed, "years": YEARS, "repeats": repeats, "runs": rows}


def markdown(res: dict) -> str:
    arms = list(dict.fromkeys(r["arm"] for r in res["runs"]))
    lines = ["| arm | ms per person (each repeat) | ratio to control |", "|---|---|---|"]
    for arm in arms:
        rs = [r for r in res["runs"] if r["arm"] == arm]
        ms = ", ".join(f"{r['ms_per_person']:.1f}" for r in rs)
        ratio = ", ".join(f"{r['ratio_to_control']:.2f}" for r in rs)
        lines.append(f"| {arm} | {ms} | {ratio} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--arms", default=DEFAULT_ARMS)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "cohort_arms.json")
    args = ap.parse_args(argv)
    res = measure([a.strip() for a in args.arms.split(",") if a.strip()], args.n, args.seed, args.repeats)
    res |= {"date": datetime.now(UTC).isoformat(timespec="seconds"), "git_commit": _commit(),
            "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(), "load_before": os.getloadavg()}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2))
    print(markdown(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
