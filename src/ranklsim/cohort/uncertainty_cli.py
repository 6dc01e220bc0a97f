"""``ranklsim uncertainty``: Morris screening, Sobol indices and a parameter ensemble of the cohort's
headline numbers (:mod:`ranklsim.cohort.uncertainty`).

    ranklsim uncertainty --study all --n 844 --trajectories 8 --top 3 --n-base 32 --members 40 --vary-seed --out docs/figures

Writes ``cohort_morris.{csv,png}``, ``cohort_sobol.{csv,png}`` with ``cohort_sobol_design.csv`` (every
run of the Saltelli design; :func:`ranklsim.fitting.sensitivity.sobol_from_design` recomputes the indices
from it), ``cohort_pce.{csv,png}`` with
``cohort_pce_design.csv`` (``--study pce``: Sobol indices from a polynomial chaos expansion, and every run
of its design), ``cohort_ensemble_bands.csv``,
``cohort_ensemble_members.csv``, ``cohort_ensemble.png`` and ``cohort_uncertainty.json`` (factors with
their sources, design, wall times, failures); each study's files are written as soon as it ends.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ranklsim.cli_options import add_engine_options, bounded, engine_from_args, positive_int, seed_int
from ranklsim.cohort.analysis import json_ready
from ranklsim.cohort.arms import check_arm_names
from ranklsim.cohort.population import PopulationSpec
from ranklsim.cohort.uncertainty import (
    CASES,
    LOG_RR,
    CohortReadouts,
    default_factors,
    draw_ensemble,
    ensemble,
    ensemble_bands,
    pce,
    screen,
    sobol,
    top_factors,
)
from ranklsim.errors import UsageError
from ranklsim.rundir import atomic_write_text, folder_lock, interruptible

STUDIES = ("screen", "sobol", "pce", "ensemble", "all")
#: arms of the screen and the Sobol/PCE studies (hepatocyte RANK knockout protection, the denosumab
#: effect) and of the ensemble
SCREEN_ARMS = ("rank_blockade", "denosumab")
ENSEMBLE_ARMS = ("rank_blockade", "denosumab", "metformin_mean", "lifestyle")
META = "cohort_uncertainty.json"


def _ids(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def add_parser(sub) -> None:
    u = sub.add_parser("uncertainty", help="Morris screening, Sobol indices and a parameter ensemble of the "
                       "cohort's cases, sRANKL OR and arm risk ratios over the assumed and fitted parameters")
    u.add_argument("--study", choices=STUDIES, default="all", help="which study (default all: the screen, the "
                   "ensemble, then Sobol over the --top factors of the screen)")
    u.add_argument("--n", type=positive_int, default=844, help="people per cohort (default 844)")
    u.add_argument("--seed", type=seed_int, default=1, help="population seed (common to every evaluation)")
    u.add_argument("--years", type=bounded(float, low=1.0, high=30.0), default=15.0, help="follow-up years")
    u.add_argument("--factors", type=_ids, default=None, help="subset of the default factors (comma-separated)")
    u.add_argument("--arms", type=_ids, default=None, help="arms besides control (default: rank_blockade,denosumab "
                   "for screen/Sobol/PCE, rank_blockade,denosumab,metformin_mean,lifestyle for the ensemble)")
    u.add_argument("--trajectories", type=bounded(int, low=2, high=1000), default=6, help="Morris trajectories")
    u.add_argument("--top", type=bounded(int, low=1, high=50), default=4, help="factors kept for Sobol (all)")
    u.add_argument("--n-base", type=bounded(int, low=2, high=4096), default=16, help="Saltelli base sample")
    u.add_argument("--n-pce", type=bounded(int, low=8, high=65536), default=128, help="cohorts of the PCE study "
                   "(scrambled Sobol design; a power of 2)")
    u.add_argument("--members", type=bounded(int, low=2, high=10000), default=40, help="ensemble members")
    u.add_argument("--vary-seed", action="store_true", help="one population seed per ensemble member "
                   "(seed, seed+1, ...): sampling and parameter uncertainty together")
    u.add_argument("--members-file", default=None, help="with --study ensemble: re-summarise a saved "
                   "cohort_ensemble_members.csv (no simulation)")
    u.add_argument("--out", required=True, help="output folder")
    add_engine_options(u)
    u.set_defaults(func=cmd_uncertainty)


def _factors(args: argparse.Namespace):
    factors = default_factors()
    if args.factors is None:
        return factors
    by_id = {f.id: f for f in factors}
    unknown = [i for i in args.factors if i not in by_id]
    if unknown:
        raise UsageError(f"--factors: unknown {unknown}; known: {', '.join(by_id)}")
    return tuple(by_id[i] for i in args.factors)


def _arms(args: argparse.Namespace, default: tuple[str, ...]) -> tuple[str, ...]:
    arms = tuple(args.arms) if args.arms is not None else default
    check_arm_names(["control", *arms])
    return tuple(a for a in arms if a != "control")


def cmd_uncertainty(args: argparse.Namespace) -> int:
    factors = _factors(args)
    spec = PopulationSpec(n=args.n, seed=args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    run = {"date": datetime.date.today().isoformat(), "machine": f"{platform.platform()}, {os.cpu_count()} CPUs",
           "n": args.n, "seed": args.seed, "years": args.years, "factor_ids": [f.id for f in factors]}
    earlier = _earlier_meta(out)
    meta = {**run, "factors": _merged_factors(earlier.get("factors") or [], factors),
            "studies": dict(earlier.get("studies") or {})}
    screen_arms, ens_arms = _arms(args, SCREEN_ARMS), _arms(args, ENSEMBLE_ARMS)
    with interruptible(), engine_from_args(args, 64) as engine, folder_lock(out):
        if args.study in ("screen", "all"):
            readout = CohortReadouts(spec, args.years, screen_arms)
            t0 = time.perf_counter()
            df = screen(readout, factors, args.trajectories, engine=engine)
            _write_table(df, out, "cohort_morris", meta, "screen", t0, trajectories=args.trajectories, arms=screen_arms)
            if args.study == "all":
                factors = top_factors(df, factors, args.top)
        if args.study in ("ensemble", "all"):
            _ensemble(args, spec, ens_arms, out, meta, engine)
        if args.study in ("sobol", "all"):
            readout = CohortReadouts(spec, args.years, screen_arms)
            t0 = time.perf_counter()
            df = sobol(readout, factors, args.n_base, engine=engine)
            _write_table(df, out, "cohort_sobol", meta, "sobol", t0, n_base=args.n_base, arms=screen_arms,
                         factors=[f.id for f in factors])
        if args.study == "pce":
            readout = CohortReadouts(spec, args.years, screen_arms)
            t0 = time.perf_counter()
            df = pce(readout, factors, args.n_pce, engine=engine)
            surrogate = {o: {"degree": int(g["degree"].iloc[0]), "q2": float(g["q2"].iloc[0])}
                         for o, g in df.groupby("output")}
            _write_table(df, out, "cohort_pce", meta, "pce", t0, n_samples=args.n_pce, arms=screen_arms,
                         factors=[f.id for f in factors], surrogate=surrogate)
    return 1 if any(s.get("n_failed") for s in meta["studies"].values()) else 0


def _earlier_meta(out: Path) -> dict:
    """``out``'s metadata as earlier runs left it (a study run now replaces its own entry only)."""
    try:
        return dict(json.loads((out / META).read_text()))
    except (OSError, ValueError):
        return {}


def _merged_factors(earlier: list[dict], factors) -> list[dict]:
    """Every factor any recorded study used: the earlier list, with this run's factors replacing those of
    the same id and new ones appended (each study's own ids are in its entry, ``run.factor_ids``)."""
    merged = {f["id"]: f for f in earlier if isinstance(f, dict) and "id" in f}
    merged.update({f.id: {"id": f.id, "kind": f.kind, "low": f.low, "high": f.high, "log": f.log, "source": f.source}
                   for f in factors})
    return list(merged.values())


def _run_record(meta: dict) -> dict:
    """This run's settings (the top-level entries of ``meta`` other than the factors and studies)."""
    return {k: v for k, v in meta.items() if k not in ("factors", "studies")}


def _save_meta(out: Path, meta: dict) -> None:
    atomic_write_text(out / META, json.dumps(json_ready(meta), indent=2))


def _write_table(df: pd.DataFrame, out: Path, stem: str, meta: dict, study: str, t0: float, **info) -> None:
    from ranklsim.fitting.sensitivity import plot_morris, plot_sobol  # lazy: matplotlib

    df.to_csv(out / f"{stem}.csv", index=False)
    if "design" in df.attrs:  # every run of a Sobol or PCE design
        df.attrs["design"].to_csv(out / f"{stem}_design.csv", index=False)
    (plot_morris if study == "screen" else plot_sobol)(df, out / f"{stem}.png")
    undefined = {o: int(g["n_failed"].max()) for o, g in df.groupby("output")}
    meta["studies"][study] = {"evaluations": int(df.attrs.get("n_evaluations", 0)),
                              "n_failed": int(df.attrs.get("n_errors", 0)), "undefined_readouts": undefined,
                              "wall_s": round(time.perf_counter() - t0, 1), **info, "run": _run_record(meta)}
    _save_meta(out, meta)
    print(f"{study}: {meta['studies'][study]['evaluations']} cohorts in {meta['studies'][study]['wall_s']} s; "
          f"wrote {out / stem}.csv/.png")


def _ensemble(args, spec, arms, out: Path, meta: dict, engine) -> None:
    t0 = time.perf_counter()
    if args.members_file:  # re-summarise a saved ensemble
        table = pd.read_csv(args.members_file)
        arms = tuple(c.removeprefix(LOG_RR) for c in table.columns if c.startswith(LOG_RR))
        bands = ensemble_bands(table, CohortReadouts(spec, args.years, arms).outputs())
        failures: dict[int, str] = {}
        earlier = meta["studies"].get("ensemble") or {}
        info = {**{k: earlier[k] for k in ("members", "vary_seed", "wall_s") if k in earlier},
                "members_file": str(args.members_file)}
    else:
        members = draw_ensemble(_factors(args), args.members, seed=args.seed)
        seeds = list(range(args.seed, args.seed + args.members)) if args.vary_seed else None
        bands, table, failures = ensemble(CohortReadouts(spec, args.years, arms), members, seeds=seeds,
                                          engine=engine)
        table.to_csv(out / "cohort_ensemble_members.csv", index=False)
        info = {"members": args.members, "vary_seed": bool(args.vary_seed), "wall_s": round(time.perf_counter() - t0, 1)}
    _write_ensemble(bands, table, arms, out)
    meta["studies"]["ensemble"] = {**info, "arms": arms, "n_failed": len(failures), "failures": failures,
                                   "bands_ratio_scale": _ratio_bands(bands), "run": _run_record(meta)}
    _save_meta(out, meta)
    print(bands.to_string(index=False))
    print(f"ensemble: {len(table)} members; wrote {out}/cohort_ensemble_*")


def _write_ensemble(bands: pd.DataFrame, table: pd.DataFrame, arms, out: Path) -> None:
    from ranklsim.cohort.plots import plot_ensemble_bands  # lazy: matplotlib

    bands.to_csv(out / "cohort_ensemble_bands.csv", index=False)
    plot_ensemble_bands(table, [LOG_RR + a for a in arms], out / "cohort_ensemble.png")


def _ratio_bands(bands: pd.DataFrame) -> dict:
    """The bands per member set, log readouts back on the ratio scale."""
    out: dict[str, dict] = {}
    for r in bands.to_dict("records"):
        log = r["readout"] != CASES
        f = np.exp if log else float
        entry = {"n": int(r["n"]), **{k: float(f(r[k])) for k in ("median", "low", "high")}}
        if r["readout"].startswith(LOG_RR):
            entry["share_lower"] = r["share_lower"]
        out.setdefault(r["members"], {})[r["readout"].removeprefix("log_")] = entry
    return out
