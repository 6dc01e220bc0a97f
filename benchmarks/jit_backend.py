"""libRoadRunner's LLVM back ends on the package's models: compile time, integration time, agreement.

The package compiles with ORC LLJIT (``ranklsim.models.build.JIT_BACKEND``); libRoadRunner 2.10's
default is MCJIT.  In one process, for each species, the model's SBML is compiled ``--repeats`` times
with each back end, alternating (a comment with a counter makes every text new, so libRoadRunner's
in-process cache of compiled models is never hit), and the same runs are integrated with both compiled
models, alternating, ``--calls`` times each.  Reported: median compile time per back end and their ratio,
median integration time per run and the LLJIT / MCJIT ratio, and whether the trajectories are
bit-identical.  Ratios are taken within the process, so the machine's load cancels to first order.

Run:  python benchmarks/jit_backend.py [--repeats 5] [--calls 20] [--out results/jit_backend.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import roadrunner

from ranklsim.constants import MINUTES_PER_DAY
from ranklsim.models.build import build_sbml, compile_sbml
from ranklsim.models.ids import P, V
from ranklsim.simulate.solver import MAX_BDF_ORDER, TOLERANCES

HERE = Path(__file__).resolve().parent
CFG = roadrunner.Config
BACKENDS = ("MCJIT", "LLJIT", "LLJIT-O1", "LLJIT-O2")
#: run name -> (view, sRANKL production factor, plasma glucose factor at t = 0, days, output points)
RUNS = {
    "acute 24 h, IV glucose x1.5 at 0": ("acute", 1.0, 1.5, 1.0, 289),
    "chronic 15 y, reference": ("chronic", 1.0, 1.0, 15 * 365.0, 16),
    "chronic 15 y, sRANKL x5": ("chronic", 5.0, 1.0, 15 * 365.0, 16),
}


def compile_with(backend: str, sbml: str, tag: int):
    name, _, opt = backend.partition("-O")
    text = sbml.replace("<model ", f"<!-- {backend} {tag} -->\n<model ", 1)  # a new text: no cached compile
    t0 = time.perf_counter()
    rr = compile_sbml(text, backend=name, optimization_level=int(opt or 0))
    return rr, time.perf_counter() - t0


def integrate(rr, run: tuple) -> tuple[np.ndarray, float]:
    view, rankl, glucose, days, n = run
    rr.resetAll()
    rr.integrator.relative_tolerance, rr.integrator.absolute_tolerance = TOLERANCES[view]
    rr.integrator.setValue("maximum_bdf_order", MAX_BDF_ORDER[view])
    rr[P.L_prod] = rr[P.L_prod] * rankl
    rr[V.Gp] = rr[V.Gp] * glucose
    t0 = time.perf_counter()
    out = np.asarray(rr.simulate(0.0, days * MINUTES_PER_DAY, n))
    return out, time.perf_counter() - t0


def study(repeats: int, calls: int) -> dict:
    res: dict = {}
    for species in ("human", "mouse"):
        sbml = build_sbml(species)
        compile_s: dict[str, list[float]] = {b: [] for b in BACKENDS}
        runners = {}
        for i in range(repeats):
            for b in BACKENDS:
                runners[b], dt = compile_with(b, sbml, i)
                compile_s[b].append(dt)
        runs = {}
        for name, run in RUNS.items():
            times: dict[str, list[float]] = {b: [] for b in BACKENDS}
            last = {}
            for _ in range(calls):
                for b in BACKENDS:
                    last[b], dt = integrate(runners[b], run)
                    times[b].append(dt)
            med = {b: statistics.median(v) for b, v in times.items()}
            runs[name] = {
                "median_ms": {b: 1e3 * v for b, v in med.items()},
                "ratio_to_mcjit": {b: med[b] / med["MCJIT"] for b in BACKENDS},
                "bit_identical_to_mcjit": {b: bool(np.array_equal(last[b], last["MCJIT"])) for b in BACKENDS},
            }
        cmed = {b: statistics.median(v) for b, v in compile_s.items()}
        res[species] = {
            "compile_s": compile_s,
            "compile_median_s": cmed,
            "compile_ratio_to_mcjit": {b: cmed[b] / cmed["MCJIT"] for b in BACKENDS},
            "runs": runs,
        }
        print(json.dumps({species: res[species]["compile_median_s"]}), flush=True)
    return res


def markdown(res: dict) -> str:
    backends = list(next(iter(res["species"].values()))["compile_median_s"])
    lines = [
        "| species | what | " + " | ".join(backends) + " | each / MCJIT | bit-identical to MCJIT |",
        "|---|---|" + "---|" * (len(backends) + 2),
    ]
    for species, r in res["species"].items():
        c = r["compile_median_s"]
        ratios = ", ".join(f"{v:.2f}" for v in r["compile_ratio_to_mcjit"].values())
        lines.append(f"| {species} | compile (s) | " + " | ".join(f"{c[b]:.3f}" for b in backends)
                     + f" | {ratios} | — |")
        for name, x in r["runs"].items():
            m = x["median_ms"]
            ratios = ", ".join(f"{v:.2f}" for v in x["ratio_to_mcjit"].values())
            same = "all" if all(x["bit_identical_to_mcjit"].values()) else ", ".join(
                b for b, v in x["bit_identical_to_mcjit"].items() if v)
            lines.append(f"| {species} | {name} (ms) | " + " | ".join(f"{m[b]:.2f}" for b in backends)
                         + f" | {ratios} | {same} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--calls", type=int, default=20)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "jit_backend.json")
    args = ap.parse_args(argv)
    roadrunner.Logger.setLevel(roadrunner.Logger.LOG_ERROR)
    res = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} {platform.machine()} {platform.processor() or ''}".strip(),
        "python": platform.python_version(),
        "libroadrunner": roadrunner.__version__,
        "repeats": args.repeats,
        "calls": args.calls,
        "species": study(args.repeats, args.calls),
    }
    args.out.write_text(json.dumps(res, indent=1) + "\n")
    print(markdown(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
