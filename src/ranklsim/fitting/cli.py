"""``ranklsim fit`` / ``profile`` / ``sample`` / ``gsa``: the fitting pipeline from the command line.

PROBLEM is a PEtab YAML file, or ``human`` / ``mouse`` for the shipped problems.  ``fit``
writes starts.csv, best.json, fit_table.csv, waterfall.png and fit.png; ``profile`` and
``sample`` start from the best.json of a fit folder (``--from``).  ``gsa`` writes the Sobol
indices of the prediabetic subject (sobol.csv, sobol.json, sobol.png).  Numbers and engine
options follow :mod:`ranklsim.cli_options`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from ranklsim.cli_options import add_engine_options, bounded, engine_from_args, positive_int, seed_int
from ranklsim.errors import UsageError, unknown_name_message
from ranklsim.rundir import folder_lock

SHIPPED = ("human", "mouse")
#: objective simulators (``--backend``)
BACKENDS = ("roadrunner", "amici")
#: upper bounds of the numeric options (each far above a sensible run, below one that never ends)
MAX_STARTS = 10_000
MAX_NFEV = 1_000_000
MAX_PROFILE_POINTS = 1_000
MAX_STEPS = 10_000_000
MAX_N_BASE = 2**16
MAX_CHUNK = 100_000
MAX_RESAMPLES = 100_000


def _objective(problem: str, backend: str = "roadrunner"):
    from ranklsim.fitting.objective import PetabObjective  # lazy: petab and libsbml cost ~1 s of import
    from ranklsim.fitting.problems import shipped_problem  # lazy: as above

    path = shipped_problem(problem) if problem in SHIPPED else Path(problem)
    if backend == "amici":
        # lazy: the backend module is only needed with --backend amici
        from ranklsim.fitting.amici_backend import (
            AMICI_EXTRA_HINT,
            AmiciBuildError,
            AmiciObjective,
            amici_available,
        )

        if not amici_available():
            raise UsageError(f"--backend amici needs AMICI: {AMICI_EXTRA_HINT}")
        objective = AmiciObjective(path)
        try:
            objective.build()  # compiled (or loaded) here, once: a failure is one clear error, not one per worker
        except AmiciBuildError as exc:
            raise UsageError(str(exc)) from exc
        return objective
    return PetabObjective(path)


def _best_x(objective, folder: str) -> np.ndarray:
    path = Path(folder) / "best.json"
    if not path.exists():
        raise UsageError(f"{path} not found: run `ranklsim fit ... --out {folder}` first")
    values = json.loads(path.read_text()).get("x_linear", {})
    missing = [p for p in objective.parameter_ids if p not in values]
    if missing:
        raise UsageError(f"{path} lacks estimated parameters {missing} of this problem")
    return objective.from_parameters(values)


def _parameter_list(text: str | None, known: tuple[str, ...]) -> list[str] | None:
    """Comma-separated ids, each one of ``known`` (None for all)."""
    if not text:
        return None
    ids = [p.strip() for p in text.split(",") if p.strip()]
    for pid in ids:
        if pid not in known:
            raise UsageError("--parameters: " + unknown_name_message("parameter", pid, known))
    return ids


def cmd_fit(args: argparse.Namespace) -> int:
    from ranklsim.fitting.multistart import run_multistart  # lazy: scipy.optimize
    from ranklsim.fitting.plots import plot_fit, plot_waterfall  # lazy: matplotlib at use

    obj = _objective(args.problem, args.backend)  # validated before anything runs
    out = Path(args.out)
    with folder_lock(out), engine_from_args(args, args.starts) as engine:  # one writer per --out folder
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
    from ranklsim.fitting.plots import plot_profiles  # lazy: matplotlib at use
    from ranklsim.fitting.profile import profile_all, profile_table  # lazy: scipy.optimize

    obj = _objective(args.problem, args.backend)
    x = _best_x(obj, getattr(args, "from"))
    params = _parameter_list(args.parameters, obj.parameter_ids)
    n_tasks = 2 * len(params or obj.parameter_ids)  # one task per side of each profile
    out = Path(args.out)
    with folder_lock(out), engine_from_args(args, n_tasks) as engine:  # one writer per --out folder
        profiles = profile_all(obj, x, params, n_points=args.points, engine=engine)
        table = profile_table(profiles)
        table.to_csv(out / "profiles.csv", index=False)
        for p in profiles:
            p.to_frame().to_csv(out / f"profile_{p.parameter_id}.csv", index=False)
        plot_profiles(profiles, out / "profiles.png")
    print(table.to_string(index=False))
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    from ranklsim.fitting.sampling import sample_posterior  # optional: emcee is the fitting extra

    obj = _objective(args.problem, args.backend)
    x = _best_x(obj, getattr(args, "from"))
    out = Path(args.out)
    with folder_lock(out):  # one writer per --out folder
        res = sample_posterior(obj, x, n_steps=args.steps, seed=args.seed, progress=not args.quiet)
        res.save(out)
        summary = res.summary()
        summary.to_csv(out / "summary.csv")
        res.samples(burn=args.steps // 4).to_csv(out / "samples.csv", index=False)
    print(summary.to_string())
    print("converged (n_steps > 50 tau):", bool(res.converged))
    return 0


def cmd_gsa(args: argparse.Namespace) -> int:
    from ranklsim.fitting.gsa import UNCERTAIN, run_gsa, top_parameters  # lazy: SALib and the scenario runner

    params = _parameter_list(args.parameters, tuple(UNCERTAIN))
    n_evaluations = args.n_base * (len(params or UNCERTAIN) + 2)
    n_tasks = -(-n_evaluations // args.chunk_size)
    with folder_lock(Path(args.out)), engine_from_args(args, n_tasks) as engine:  # one writer per --out
        df = run_gsa(args.n_base, args.seed, engine=engine, out_dir=args.out, parameters=params,
                     chunk_size=args.chunk_size, num_resamples=args.resamples)
    failed = ", ".join(f"{o} {int(g.n_failed.iloc[0])}" for o, g in df.groupby("output", sort=False))
    print(f"{df.attrs['n_evaluations']} evaluations in {df.attrs['seconds']:.1f} s ({type(engine).__name__}); "
          f"failures per output: {failed}")
    for output, top in top_parameters(df, 3).items():
        print(f"  {output:24s} " + ", ".join(f"{p} (ST {st:.2f})" for p, st in top))
    print(f"wrote {Path(args.out) / 'sobol.csv'}, sobol.json and sobol.png")
    return 0


def power_of_two(text: str) -> int:
    """An argparse type: a power of 2 (Saltelli's sequence is balanced only for those)."""
    value = positive_int(text)
    if value > MAX_N_BASE:
        raise argparse.ArgumentTypeError(f"must be <= {MAX_N_BASE}, got {text}")
    if value & (value - 1):
        lower = 1 << (value.bit_length() - 1)
        raise argparse.ArgumentTypeError(f"must be a power of 2, got {text} (try {lower} or {2 * lower})")
    return value


def add_parsers(sub) -> None:
    out_seed = argparse.ArgumentParser(add_help=False)
    out_seed.add_argument("--out", required=True, help="output folder")
    out_seed.add_argument("--seed", type=seed_int, default=0, help="random seed (0 to 2**32 - 1, default 0)")
    common = argparse.ArgumentParser(add_help=False, parents=[out_seed])
    common.add_argument("--quiet", action="store_true", help="no progress bar")
    problem = argparse.ArgumentParser(add_help=False)
    problem.add_argument("problem", help="PEtab YAML file, or 'human' / 'mouse' for the shipped problems")
    problem.add_argument("--backend", choices=BACKENDS, default="roadrunner",
                         help="simulator of the objective: roadrunner (finite-difference derivatives) or amici "
                              "(exact forward-sensitivity gradients; the optional amici extra)")
    engine = argparse.ArgumentParser(add_help=False)
    add_engine_options(engine)
    fit_folder = argparse.ArgumentParser(add_help=False)
    fit_folder.add_argument("--from", required=True, help="folder of a fit (with best.json)")

    f = sub.add_parser("fit", parents=[problem, common, engine], help="multistart fit of a PEtab problem")
    f.add_argument("--starts", type=bounded(int, low=1, high=MAX_STARTS), default=20,
                   help=f"local optimisations (1-{MAX_STARTS:,}, default 20)")
    f.add_argument("--optimizer", choices=("least_squares", "L-BFGS-B"), default="least_squares")
    f.add_argument("--max-nfev", type=bounded(int, low=1, high=MAX_NFEV), default=None,
                   help=f"evaluation cap per start (1-{MAX_NFEV:,})")
    f.set_defaults(func=cmd_fit)
    p = sub.add_parser("profile", parents=[problem, common, engine, fit_folder],
                       help="profile likelihoods around a fit's best point")
    p.add_argument("--parameters", help="comma-separated ids (default: all estimated)")
    p.add_argument("--points", type=bounded(int, low=2, high=MAX_PROFILE_POINTS), default=15,
                   help=f"points per side of each profile (2-{MAX_PROFILE_POINTS:,}, default 15)")
    p.set_defaults(func=cmd_profile)
    s = sub.add_parser("sample", parents=[problem, common, fit_folder],
                       help="posterior sampling with emcee from a fit's best point (serial)")
    s.add_argument("--steps", type=bounded(int, low=1, high=MAX_STEPS), default=2000,
                   help=f"emcee steps (1-{MAX_STEPS:,}, default 2000)")
    s.set_defaults(func=cmd_sample)
    g = sub.add_parser("gsa", parents=[out_seed, engine],
                       help="Sobol sensitivity of the prediabetic subject's glucose readouts")
    g.add_argument("--n-base", type=power_of_two, default=128,
                   help=f"Saltelli base sample size, a power of 2 up to {MAX_N_BASE:,} (default 128; "
                        "n_base * (d + 2) runs)")
    g.add_argument("--parameters", help="comma-separated subset of the uncertain parameters (default all)")
    g.add_argument("--chunk-size", type=bounded(int, low=1, high=MAX_CHUNK), default=16,
                   help=f"evaluations per engine task (1-{MAX_CHUNK:,}, default 16)")
    g.add_argument("--resamples", type=bounded(int, low=10, high=MAX_RESAMPLES), default=100,
                   help=f"bootstrap resamples for the confidence intervals (10-{MAX_RESAMPLES:,}, default 100)")
    g.set_defaults(func=cmd_gsa)

