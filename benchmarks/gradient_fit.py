"""Wall time of the standard 50-start human fit with finite differences (roadrunner) and with exact
gradients (the AMICI backend), in the same process on the same engine (issue 13 item 5).

Every run: ``run_multistart(objective, --starts, seed=0, optimizer=..., engine=ProcessPoolEngine(--workers))``
to convergence (no evaluation cap).  The baseline is the roadrunner objective with ``least_squares`` (the
default of ``ranklsim fit``); the ratio of each run's wall time to it is reported, with the objective calls
(derivative calls included), the best nll and the starts within 1e-3 of the best.  The AMICI model is
compiled (or loaded from the cache) before the clock starts.

Run:  python benchmarks/gradient_fit.py [--starts 50] [--workers 2] [--out results/gradient_fit.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from datetime import UTC, datetime
from pathlib import Path

from ranklsim.fitting.amici_backend import AmiciObjective
from ranklsim.fitting.multistart import run_multistart
from ranklsim.fitting.objective import PetabObjective
from ranklsim.fitting.problems import shipped_problem
from ranklsim.parallel import ProcessPoolEngine

HERE = Path(__file__).resolve().parent
RUNS = (("roadrunner", "least_squares"), ("amici", "least_squares"), ("amici", "L-BFGS-B"),
        ("roadrunner", "L-BFGS-B"))


def run(backend: str, optimizer: str, starts: int, workers: int, seed: int) -> dict:
    path = shipped_problem("human")
    obj = AmiciObjective(path) if backend == "amici" else PetabObjective(path)
    obj(obj.x_nominal)  # compile or load (AMICI) / build (roadrunner) before the clock
    t0 = time.perf_counter()
    with ProcessPoolEngine(workers) as engine:
        res = run_multistart(obj, starts, seed=seed, optimizer=optimizer, engine=engine, progress=False)
    wall = time.perf_counter() - t0
    t = res.table
    return {"backend": backend, "optimizer": optimizer, "wall_s": wall, "best_fval": res.best_fval,
            "n_fev_total": int(t["n_fev"].sum()), "at_best": int((t["fval"] <= res.best_fval + 1e-3).sum()),
            "failed": int((t["fval"] >= 1e9).sum()), "n_starts": len(t)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--starts", type=int, default=50)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--runs", default=",".join(f"{b}:{o}" for b, o in RUNS),
                    help="comma-separated backend:optimizer pairs, the baseline first")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "gradient_fit.json")
    args = ap.parse_args(argv)
    out = {"date": datetime.now(UTC).isoformat(timespec="seconds"),
           "machine": f"{platform.platform()}, {os.cpu_count()} CPUs", "starts": args.starts,
           "workers": args.workers, "seed": args.seed, "runs": []}
    for item in args.runs.split(","):
        backend, optimizer = item.split(":")
        r = run(backend, optimizer, args.starts, args.workers, args.seed)
        r["ratio_to_baseline"] = r["wall_s"] / (out["runs"][0]["wall_s"] if out["runs"] else r["wall_s"])
        out["runs"].append(r)
        print(json.dumps(r), flush=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(out, indent=1))
    print("| backend | optimizer | wall time | ratio | objective calls | best nll | starts at best | failed |")
    print("|---|---|---|---|---|---|---|---|")
    for r in out["runs"]:
        print(f"| {r['backend']} | {r['optimizer']} | {r['wall_s']:.0f} s | {r['ratio_to_baseline']:.2f} | "
              f"{r['n_fev_total']} | {r['best_fval']:.4f} | {r['at_best']}/{r['n_starts']} | {r['failed']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
