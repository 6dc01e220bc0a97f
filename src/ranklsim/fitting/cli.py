"""``ranklsim fit`` / ``profile`` / ``sample``: the fitting pipeline from the command line.

PROBLEM is a PEtab YAML file, or ``human`` / ``mouse`` for the shipped problems.  ``fit``
writes starts.csv, best.json, fit_table.csv, waterfall.png and fit.png; ``profile`` and
``sample`` start from the best.json of a fit folder (``--from``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def _objective(problem: str):
    from ranklsim.fitting.objective import PetabObjective
    from ranklsim.fitting.problems import shipped_problem

    path = shipped_problem(problem) if problem in ("human", "mouse") else Path(problem)
    return PetabObjective(path)


def _engine(args):
    from ranklsim.parallel import make_engine

    if args.scheduler:
        return make_engine(args.scheduler)
    if args.workers and args.workers > 1:
        return make_engine(f"processes:{args.workers}")
    return make_engine("serial")


def _best_x(objective, folder: str) -> np.ndarray:
    path = Path(folder) / "best.json"
    if not path.exists():
        raise ValueError(f"{path} not found: run `ranklsim fit ... --out {folder}` first")
    values = json.loads(path.read_text()).get("x_linear", {})
    missing = [p for p in objective.parameter_ids if p not in values]
    if missing:
        raise ValueError(f"{path} lacks estimated parameters {missing} of this problem")
    return objective.from_parameters(values)


def cmd_fit(args: argparse.Namespace) -> int:
    from ranklsim.fitting.multistart import run_multistart
    from ranklsim.fitting.plots import plot_fit, plot_waterfall

    obj = _objective(args.problem)  # validated before anything runs
    out = Path(args.out)
    with _engine(args) as engine:
        res = run_multistart(obj, args.starts, seed=args.seed, optimizer=args.optimizer, engine=engine,
                             out_dir=out, max_nfev=args.max_nfev, progress=not args.quiet)
    res.save(out)
    table = obj.fit_table(res.best_x)
    table.to_csv(out / "fit_table.csv", index=False)
    plot_waterfall(res, out / "waterfall.png")
    plot_fit(table, out / "fit.png")
    print(f"best nll {res.best_fval:.6g} (nominal {obj(obj.x_nominal):.6g}); "
          f"{res.n_within()} of {len(res.table)} starts within the 95 % threshold of the best")
    for pid, value in obj.to_parameters(res.best_x).items():
        print(f"  {pid} = {value:.6g}")
    return 0


def cmd_profile(args: argparse.Namespace) -> int:
    from ranklsim.fitting.plots import plot_profiles
    from ranklsim.fitting.profile import profile_all, profile_table

    obj = _objective(args.problem)
    x = _best_x(obj, getattr(args, "from"))
    params = args.parameters.split(",") if args.parameters else None
    with _engine(args) as engine:
        profiles = profile_all(obj, x, params, n_points=args.points, engine=engine)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table = profile_table(profiles)
    table.to_csv(out / "profiles.csv", index=False)
    for p in profiles:
        p.to_frame().to_csv(out / f"profile_{p.parameter_id}.csv", index=False)
    plot_profiles(profiles, out / "profiles.png")
    print(table.to_string(index=False))
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    from ranklsim.fitting.sampling import sample_posterior

    obj = _objective(args.problem)
    x = _best_x(obj, getattr(args, "from"))
    res = sample_posterior(obj, x, n_steps=args.steps, seed=args.seed, progress=not args.quiet)
    out = Path(args.out)
    res.save(out)
    summary = res.summary()
    summary.to_csv(out / "summary.csv")
    res.samples(burn=args.steps // 4).to_csv(out / "samples.csv", index=False)
    print(summary.to_string())
    print("converged (n_steps > 50 tau):", bool(res.converged))
    return 0


def add_parsers(sub) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("problem", help="PEtab YAML file, or 'human' / 'mouse' for the shipped problems")
    common.add_argument("--out", required=True, help="output folder")
    common.add_argument("--workers", type=int, default=1, help="local worker processes (default 1)")
    common.add_argument("--scheduler", help="Dask scheduler address (tcp://host:port) instead of local workers")
    common.add_argument("--seed", type=int, default=0)
    common.add_argument("--quiet", action="store_true", help="no progress bar")
    f = sub.add_parser("fit", parents=[common], help="multistart fit of a PEtab problem")
    f.add_argument("--starts", type=int, default=20)
    f.add_argument("--optimizer", choices=("least_squares", "L-BFGS-B"), default="least_squares")
    f.add_argument("--max-nfev", type=int, default=None, help="evaluation cap per start")
    f.set_defaults(func=cmd_fit)
    p = sub.add_parser("profile", parents=[common], help="profile likelihoods around a fit's best point")
    p.add_argument("--from", required=True, help="folder of a fit (with best.json)")
    p.add_argument("--parameters", help="comma-separated ids (default: all estimated)")
    p.add_argument("--points", type=int, default=15)
    p.set_defaults(func=cmd_profile)
    s = sub.add_parser("sample", parents=[common], help="posterior sampling with emcee from a fit's best point")
    s.add_argument("--from", required=True, help="folder of a fit (with best.json)")
    s.add_argument("--steps", type=int, default=2000)
    s.set_defaults(func=cmd_sample)
