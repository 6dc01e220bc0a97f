"""``ranklsim cohort`` and ``ranklsim replicates``: the virtual cohort from the command line.

* ``cohort``: follow a seeded virtual cohort and write summary.json, people.csv and two figures;
* ``replicates``: replicate cohorts over seeds (:mod:`ranklsim.cohort.replicates`) and write the
  table, its aggregate and a figure.

Wire into the main parser with :func:`add_parsers` (``add_parsers(subparsers)``).  Engine options
and number types are the package-wide ones (:mod:`ranklsim.cli_options`); user errors raise
:class:`~ranklsim.errors.UsageError` (or ValueError) before any work.  Both commands hold their
``--out`` folder for their whole life (a second run into it is refused, :func:`ranklsim.rundir.folder_lock`);
Ctrl-C or SIGTERM stops the workers, keeps what finished (cohort chunks are written as they finish)
and exits with one line and code 130/143.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import pandas as pd

from ranklsim.cli_options import (
    add_engine_options,
    bounded,
    engine_from_args,
    follow_up_years,
    positive_float,
    positive_int,
    seed_int,
)
from ranklsim.cohort.analysis import json_ready, summary
from ranklsim.cohort.arms import BUILTIN_ARMS, CohortArm, check_arm_names, resolve_arms, visit_schedule
from ranklsim.cohort.ensemble import check_ensemble, cohort_ensemble, load_ensemble
from ranklsim.cohort.followup import CRITERIA, check_criteria, exam_schedule
from ranklsim.cohort.plots import plot_forest, plot_incidence_by_tertile
from ranklsim.cohort.population import (
    AGE_LIMITS,
    MAX_PEOPLE,
    PARAMETER_COLUMNS,
    PopulationSpec,
    load_population,
)
from ranklsim.cohort.replicates import ReplicateStudy, run_replicates, seeds_from, write_replicates
from ranklsim.cohort.runner import CohortResult, run_cohort
from ranklsim.cohort.schedule import VISIT_TIMINGS
from ranklsim.constants import MAX_FOLLOW_UP_YEARS
from ranklsim.errors import UsageError
from ranklsim.parallel import Engine
from ranklsim.rundir import (
    atomic_write_text,
    exit_code,
    folder_lock,
    interruptible,
    plain_warnings,
    signal_name,
)

__all__ = ["add_parsers", "cmd_cohort", "cmd_replicates", "cohort_tasks", "plot_forest", "plot_incidence_by_tertile"]


def _arm_list(text: str) -> list[str]:
    """``--arms``: comma-separated arm names or scenario TOML paths, checked at parse time."""
    try:
        return check_arm_names(text.split(","))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


_ARMS_HELP = (f"intervention arms, comma-separated: {', '.join(BUILTIN_ARMS)}, rank_blockade:FRACTION or a "
              "scenario .toml file (its first non-control arm); the arms are described in ranklsim.cohort.arms")


people_count = bounded(int, low=1, high=MAX_PEOPLE)
male_fraction = bounded(float, low=0.0, high=1.0)


def _year_list(text: str) -> list[float]:
    """``--exam-years``: comma-separated years (numbers), e.g. ``0,0.25,0.5,1``."""
    try:
        return [float(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated years, e.g. 0,1,2.5, got {text!r}") from None


def _age_range(text: str) -> tuple[float, float]:
    """``--ages A-B``: whole years, inclusive (ages drawn uniformly in [A, B + 1))."""
    try:
        low, high = (int(x) for x in text.split("-"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected whole years A-B, e.g. 40-79, got {text!r}") from None
    if not AGE_LIMITS[0] <= low <= high < AGE_LIMITS[1]:
        raise argparse.ArgumentTypeError(f"ages must satisfy {AGE_LIMITS[0]:g} <= A <= B <= {AGE_LIMITS[1] - 1:g}, "
                                         f"got {text}")
    return float(low), float(high + 1)


def _add_schedule_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--exam-years", type=_year_list, default=None,
                       help="examination years, comma-separated (0 is added; the last must be --years), "
                            "e.g. 0,0.25,0.5,1,2")
    group.add_argument("--exam-every", type=positive_float, default=None,
                       help="examination interval in years (default 5, as Bruneck); a closing examination is "
                            "added at --years when it is not a multiple")


def add_parsers(sub) -> None:
    """Add the ``cohort``, ``replicates`` and ``uncertainty`` sub-commands to an ``argparse`` sub-parsers
    object."""
    from ranklsim.cohort import uncertainty_cli  # lazy: keeps --help fast

    _add_cohort_parser(sub)
    _add_replicates_parser(sub)
    uncertainty_cli.add_parser(sub)


def _add_cohort_parser(sub) -> None:
    c = sub.add_parser("cohort", help="virtual Bruneck-style cohort: diabetes incidence by sRANKL tertile")
    who = c.add_mutually_exclusive_group(required=True)
    who.add_argument("--n", type=people_count, help=f"number of people to draw (1-{MAX_PEOPLE:,})")
    who.add_argument("--population", help="CSV of the people to follow instead of drawing them: columns age, sex "
                     "(M/F), bmi and the model parameters of each person (" + ", ".join(PARAMETER_COLUMNS) +
                     "), optional person_id, height and ir_drift (yearly log-rise of insulin resistance; "
                     "default: the population's mean)")
    c.add_argument("--years", type=follow_up_years, default=15.0,
                   help=f"follow-up years (> 0 and <= {MAX_FOLLOW_UP_YEARS:g}, the last examination; default 15)")
    _add_schedule_options(c)
    c.add_argument("--ages", type=_age_range, default=None,
                   help="age range of the drawn people, whole years inclusive (default 40-79, as Bruneck; "
                        "the population is calibrated there)")
    c.add_argument("--male-fraction", type=male_fraction, default=None,
                   help="share of men among the drawn people (default 0.5, as Bruneck; sex sets height, so body "
                        "weight and the OGTT load per kg, and hepatic insulin sensitivity: men lower; it enters the adjusted analysis)")
    c.add_argument("--criteria", choices=CRITERIA, default=None,
                   help="diagnosis: fpg (fasting glucose >= 7.0 mmol/L; default), ogtt (2-h glucose >= 11.1 "
                        "mmol/L of a 75 g OGTT at every examination) or both (either; WHO 1999)")
    c.add_argument("--visits", choices=VISIT_TIMINGS, default="trough",
                   help="examinations of arms with repeated injections: trough (default; each follow-up "
                        "examination 1 day before the latest injection due at its scheduled day, where trials "
                        "sample) or scheduled (on the examination day, whatever the dosing)")
    c.add_argument("--seed", type=seed_int, default=1, help="population seed (default 1)")
    c.add_argument("--out", required=True, help="output folder (rerun the same command to resume)")
    add_engine_options(c)
    c.add_argument("--chunk-size", type=people_count, default=500, help="people per chunk (default 500)")
    c.add_argument("--arms", type=_arm_list, help=_ARMS_HELP + "; default: control only, no arm column")
    c.add_argument("--ensemble", help="parameter ensemble: a CSV (one member per row, parameter ids as columns, "
                   "e.g. samples.csv of `ranklsim sample`) or a `ranklsim sample` output folder; the same people "
                   "and arms are re-run under every member and ensemble_bands.csv / ensemble_members.csv and an "
                   "'ensemble' section of summary.json are written")
    c.add_argument("--ensemble-size", type=positive_int, default=None,
                   help="draw this many ensemble members (seeded by --seed; default: all rows)")
    c.add_argument("--ogtt", action="store_true", help="same as --criteria both: also run a 75 g OGTT at every "
                   "examination, a 2-h glucose >= 11.1 mmol/L is diabetes too (WHO 1999); ~3x the cost per person")
    c.add_argument("--quiet", action="store_true", help="no progress bar")
    c.set_defaults(func=cmd_cohort)


def _add_replicates_parser(sub) -> None:
    r = sub.add_parser("replicates", help="replicate virtual cohorts over seeds: distribution of cases, the "
                       "sRANKL-tertile OR and HOMA-IR (with --arms: each arm's incidence and RR vs control)")
    r.add_argument("--replicates", type=positive_int, required=True, help="number of cohorts (seeds)")
    r.add_argument("--first-seed", type=seed_int, default=1, help="seed of the first cohort (default 1)")
    r.add_argument("--n", type=people_count, default=844, help="people per cohort (default 844, as Bruneck)")
    r.add_argument("--years", type=follow_up_years, default=15.0,
                   help=f"follow-up years (> 0 and <= {MAX_FOLLOW_UP_YEARS:g}; default 15)")
    _add_schedule_options(r)
    r.add_argument("--arms", type=_arm_list, help=_ARMS_HELP + " (put control first); default: control only")
    r.add_argument("--out", required=True, help="output folder: cohort_replicates.{csv,json,png} "
                   "(with --arms cohort_arms_replicates.*)")
    add_engine_options(r)
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.set_defaults(func=cmd_replicates)


def cohort_tasks(args: argparse.Namespace, n: int | None = None) -> int:
    """Engine tasks of a ``cohort`` run of ``n`` people (default ``--n``): chunks x arms (caps the
    default number of workers)."""
    return math.ceil((n or args.n) / args.chunk_size) * max(1, len(args.arms or ()))


def _exam_years(args: argparse.Namespace) -> tuple[float, ...]:
    """The examination schedule of ``--years``, ``--exam-years``/``--exam-every`` (checked before work)."""
    try:
        return exam_schedule(args.years, args.exam_years, args.exam_every)
    except ValueError as exc:
        raise UsageError(f"--exam-years/--exam-every: {exc}") from exc


def _criteria(args: argparse.Namespace) -> str:
    """``--criteria``, with ``--ogtt`` as ``--criteria both`` (a conflicting pair is refused)."""
    if args.ogtt and args.criteria not in (None, "both"):
        raise UsageError(f"--ogtt means --criteria both; it conflicts with --criteria {args.criteria}")
    return check_criteria(args.criteria or ("both" if args.ogtt else "fpg"), False)


def _spec_and_population(args: argparse.Namespace) -> tuple[PopulationSpec, pd.DataFrame | None]:
    """The population spec (``--n``, ``--seed``, ``--ages``, ``--male-fraction``) or the people of
    ``--population`` (the draw options then do not apply)."""
    if args.population is not None:
        if args.ages is not None or args.male_fraction is not None:
            raise UsageError("--ages and --male-fraction apply to drawn people, not to a --population file")
        try:
            people = load_population(args.population)
        except ValueError as exc:
            raise UsageError(f"--population: {exc}") from exc
        return PopulationSpec(n=len(people), seed=args.seed), people
    draw: dict = {}
    if args.ages is not None:
        draw["age_min"], draw["age_max"] = args.ages
    if args.male_fraction is not None:
        draw["male_fraction"] = args.male_fraction
    return PopulationSpec(n=args.n, seed=args.seed, **draw), None


def _resolve_arms(tokens) -> list[CohortArm] | None:
    if not tokens:
        return None
    try:
        return resolve_arms(tokens)
    except ValueError as exc:
        raise UsageError(f"--arms: {exc}") from exc


# ----------------------------------------------------------------------------- cohort


def _load_ensemble(args: argparse.Namespace) -> pd.DataFrame | None:
    if not getattr(args, "ensemble", None):
        return None
    try:
        ensemble = load_ensemble(args.ensemble, args.ensemble_size, seed=args.seed)
        check_ensemble(ensemble)  # unknown ids: error before any work
    except ValueError as exc:
        raise UsageError(f"--ensemble {args.ensemble}: {exc}") from exc
    return ensemble


def _run_ensemble(ensemble: pd.DataFrame, spec: PopulationSpec, args: argparse.Namespace,
                  arms: list[CohortArm] | None, engine: Engine, out: Path, design: dict) -> dict:
    """Re-run the cohort under every ensemble member (resumable in ``out/ensemble``); write the bands
    and the per-member table; return the summary.json section."""
    folder = out / "ensemble"
    folder.mkdir(parents=True, exist_ok=True)
    ensemble.to_csv(folder / "members_parameters.csv", index_label="member")
    bands, members = cohort_ensemble(ensemble, spec, args.years, arms=arms, engine=engine, out_dir=folder,
                                     chunk_size=args.chunk_size, **design)
    bands.to_csv(out / "ensemble_bands.csv", index=False)
    members.to_csv(out / "ensemble_members.csv", index=False)
    section: dict = {"n_members": int(bands.attrs["n_members"]),
                     "failures": {str(k): v for k, v in bands.attrs["failures"].items()},
                     "parameters": list(ensemble.columns)}
    for readout in ("cases", "incidence_per_1000_py", "rr_vs_control"):
        rows = bands[bands["readout"] == readout]
        section[readout] = {r["arm"]: {"median": r["median"], "low": r["q2.5"], "high": r["q97.5"], "n": int(r["n"])}
                            for r in rows.to_dict("records") if r["n"] > 0}
    return json_ready(section)


def _write_cohort(out: Path, result: CohortResult, summ: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "summary.json", json.dumps(summ, indent=2, sort_keys=True))
    atomic_write_text(out / "people.csv", result.people.to_csv(index=False))
    plot_incidence_by_tertile(summ, out / "incidence_by_tertile.png")
    plot_forest(summ, out / "forest_or.png")


def _ci_text(d: dict) -> str:
    return f" ({d['ci_low']:.2f}-{d['ci_high']:.2f})" if d.get("ci_low") is not None else ""


def _errors_text(d: dict) -> str:
    """Names the people whose run failed in the solver (kept in people.csv with their error)."""
    n = d.get("n_errors") or 0
    return f"; {n} failed in the solver, errors in people.csv" if n else ""


def _by_exam_text(summ: dict) -> str | None:
    """Cases per follow-up examination (with more than one), and the first / later rate ratio."""
    section = summ.get("cases_by_examination") or {}
    by_exam = section.get("by_exam") or {}
    if len(by_exam) < 2:
        return None
    ratio = section.get("first_exam_ratio")
    return ("  cases by examination: " + ", ".join(f"{y} y {r['cases']}" for y, r in by_exam.items())
            + (f" (first / later examinations, per year: {ratio:.2f})" if ratio is not None else ""))


def _print_report(summ: dict, out: Path) -> None:
    orr = (summ.get("odds_ratio_top_vs_bottom") or {}).get("unadjusted") or {}
    or_text = f"{orr['or']:.2f} ({orr['ci_low']:.2f}-{orr['ci_high']:.2f})" if orr.get("or") else "n/a"
    print(f"{summ['n_analysed']} analysed ({summ['n_excluded']} excluded{_errors_text(summ)}), {summ['cases']} cases, "
          f"{summ['incidence_per_1000_py'] or 0:.2f} per 1,000 PY; OR top vs bottom sRANKL tertile {or_text}; "
          f"wrote {out}")
    if line := _by_exam_text(summ):
        print(line)
    if "ensemble" in summ:
        e = summ["ensemble"]
        print(f"  ensemble: {e['n_members'] - len(e['failures'])}/{e['n_members']} members; median (95 % band) "
              "cases per arm: " + ", ".join(f"{arm} {b['median']:.0f} ({b['low']:.0f}-{b['high']:.0f})"
                                            for arm, b in e["cases"].items()))
    for name, a in (summ.get("arms") or {}).items():
        rr = a.get("risk_ratio_vs_control") or {}
        rr_text = f"; RR vs control {rr['rr']:.2f}{_ci_text(rr)}" if rr.get("rr") is not None else ""
        print(f"  arm {name}: {a['cases']}/{a['n']} cases{_errors_text(a)}, {a['per_1000_py'] or 0:.2f} per 1,000 PY"
              f"{rr_text}")


def _interrupted(exc: KeyboardInterrupt, kept: str) -> int:
    print(f"ranklsim: interrupted ({signal_name(exc)}); {kept}", file=sys.stderr)
    return exit_code(exc)


def cmd_cohort(args: argparse.Namespace) -> int:
    """``ranklsim cohort``: every input is checked before any work; 1 if chunks failed (rerun to resume);
    130/143 after Ctrl-C/SIGTERM (the finished chunks are kept: rerun to resume)."""
    spec, people = _spec_and_population(args)
    design = {"exam_years": _exam_years(args), "criteria": _criteria(args), "population": people,
              "visits": args.visits}
    out = Path(args.out)
    arms = _resolve_arms(getattr(args, "arms", None))
    try:  # a visit schedule the dosing cannot place is refused before any work
        visit_schedule(arms or (), design["exam_years"], args.years, args.visits)
    except ValueError as exc:
        raise UsageError(f"--visits {args.visits}: {exc}") from exc
    ensemble = _load_ensemble(args)
    try:
        with interruptible(), plain_warnings(), engine_from_args(args, cohort_tasks(args, spec.n)) as engine, \
                folder_lock(out):
            return _cohort(args, spec, out, arms, ensemble, engine, design)
    except KeyboardInterrupt as exc:
        return _interrupted(exc, f"the finished chunks are kept in {out / 'chunks'}: rerun the same command "
                                 "to resume")


def _cohort(args: argparse.Namespace, spec: PopulationSpec, out: Path, arms: list[CohortArm] | None,
            ensemble: pd.DataFrame | None, engine: Engine, design: dict) -> int:
    result = run_cohort(spec, years=args.years, engine=engine, out_dir=out, chunk_size=args.chunk_size,
                        progress=not args.quiet, arms=arms, **design)
    summ = summary(result)
    if ensemble is not None and result.complete:
        summ["ensemble"] = _run_ensemble(ensemble, spec, args, arms, engine, out, design)
    _write_cohort(out, result, summ)
    if not result.complete:
        print(f"cohort incomplete: chunks failed {sorted(result.failed_chunks)}; rerun to resume",
              file=sys.stderr)
        return 1
    _print_report(summ, out)
    return 0


# ----------------------------------------------------------------------------- replicates


def cmd_replicates(args: argparse.Namespace) -> int:
    """``ranklsim replicates``: 1 if a replicate failed (the others are still written)."""
    arms = _resolve_arms(args.arms)
    study = ReplicateStudy(seeds=seeds_from(args.first_seed, args.replicates), n=args.n, years=args.years,
                           arms=tuple(arms or ()), exam_years=_exam_years(args))
    try:
        with interruptible(), engine_from_args(args, len(study.seeds)) as engine, folder_lock(args.out):
            return _replicates(args, study, engine)
    except KeyboardInterrupt as exc:
        return _interrupted(exc, "nothing written (replicates are not resumable)")


def _replicates(args: argparse.Namespace, study: ReplicateStudy, engine: Engine) -> int:
    table, failures = run_replicates(study, engine, progress=not args.quiet)
    for seed, message in failures.items():
        print(f"replicate seed {seed} failed: {message.splitlines()[0]}", file=sys.stderr)
    if table.empty:
        print("no replicate finished; nothing written", file=sys.stderr)
        return 1
    agg = write_replicates(table, study, args.out, failures)
    print(json.dumps(agg, indent=2))
    print(f"{len(study.seeds) - len(failures)}/{len(study.seeds)} replicates; wrote {Path(args.out) / study.stem}.*")
    return 1 if failures else 0
