"""The ``ranklsim`` command line.

One convention for every subcommand: numbers are parsed by :mod:`ranklsim.cli_options` (range errors
name the option), ``--workers``/``--scheduler`` mean the same everywhere, ``--out`` is checked before
any work (:mod:`ranklsim.outputs`; an existing file output needs ``--force``), and a user error (bad
option, bad id, bad file or path, bad value, a requested simulation that fails) ends with one
``ranklsim: error: ...`` line and exit code 2; ``--debug`` shows the traceback instead.  A run whose
parts failed exits 1; an interrupted one (Ctrl-C, SIGTERM) 128 + the signal number.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from ranklsim.cli_options import CliParser, bounded
from ranklsim.errors import UsageError
from ranklsim.models.parameters import SPECIES_NAMES, parameters_frame
from ranklsim.outputs import check_output_file, check_output_folder, os_error_message
from ranklsim.rundir import exit_code, folder_lock, interruptible, plain_warnings, signal_name
from ranklsim.simulate.scenario_limits import MAX_DURATION_DAYS, MAX_OUTPUT_POINTS, MAX_TIMECOURSE_ROWS
from ranklsim.simulate.simulator import DEFAULT_SELECTIONS, SimulationError

#: the most output points a plain ``simulate`` call may ask for (as a scenario arm)
MAX_POINTS = MAX_OUTPUT_POINTS
#: the longest plain ``simulate`` run, hours (the scenario horizon, 100 years)
MAX_HOURS = MAX_DURATION_DAYS * 24.0
#: what ``--out`` names, per command: a file (an existing one needs ``--force``) or a folder
OUT_KINDS = {"simulate": "file", "export-sbml": "file", "export-omex": "file", "params": "file", "run": "folder", "demo": "folder",
             "fit": "folder", "profile": "folder", "sample": "folder", "gsa": "folder", "cohort": "folder",
             "replicates": "folder", "uncertainty": "folder"}
#: file names suggested when a file output is given a folder
_EXAMPLE = {"simulate": "timecourse.csv", "export-sbml": "model.xml", "export-omex": "scenario.omex",
            "params": "parameters.csv"}
#: problems of a multi-problem error shown in its one line (the rest: --debug)
SHOWN_PROBLEMS = 5


def _parse_sets(items: list[str] | None) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"--set expects ID=VALUE, got {item!r}")
        try:
            out[key.strip()] = float(value)
        except ValueError:
            raise UsageError(f"--set {key}: {value!r} is not a number") from None
    return out


def cmd_simulate(args: argparse.Namespace) -> int:
    from ranklsim.simulate import load_model  # lazy: builds the model (libroadrunner import ~0.3 s)

    overrides = _parse_sets(args.set)
    sel = [s.strip() for s in args.select.split(",")] if args.select else None
    n_ids = len(sel if sel else DEFAULT_SELECTIONS)
    if args.points * n_ids > MAX_TIMECOURSE_ROWS:
        raise UsageError(f"--points {args.points} x {n_ids} outputs make {args.points * n_ids:,} rows; the "
                         f"limit is {MAX_TIMECOURSE_ROWS:,} (lower --points or --select fewer ids)")
    model = load_model(args.species, "acute")
    with model.solver_settings(quiet=True):  # a failure is reported once, as the error line
        res = model.simulate(args.hours * 60.0, n_points=args.points, selections=sel, overrides=overrides,
                             equilibrate=args.equilibrate, allow_out_of_bounds=args.allow_out_of_bounds)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    res.tidy().to_csv(out, index=False)
    print(f"wrote {out} ({len(res.frame)} time points x {len(res.frame.columns) - 1} outputs)")
    return 0


def cmd_export_sbml(args: argparse.Namespace) -> int:
    from ranklsim.models.build import build_sbml  # lazy: libsbml and antimony are imported at use

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(build_sbml(args.species))
    print(f"wrote {out}")
    return 0


def cmd_export_omex(args: argparse.Namespace) -> int:
    from ranklsim.simulate.library import load_scenario  # lazy: pydantic schema import
    from ranklsim.simulate.omex import write_omex  # lazy: libsedml and libcombine are imported at use

    scenario = load_scenario(args.scenario, limits=not args.no_limits)
    out = write_omex(scenario, args.out)
    print(f"wrote {out} (scenario {scenario.name}: SBML variants, SED-ML, manifest and metadata)")
    return 0


def cmd_params(args: argparse.Namespace) -> int:
    import pandas as pd  # lazy: pandas costs ~0.4 s of start-up for the other commands

    df = parameters_frame(args.species)
    if args.module:
        df = df[df["module"] == args.module]
    if args.grep:
        try:
            re.compile(args.grep)
        except re.error as exc:
            raise UsageError(f"--grep {args.grep!r} is not a regular expression: {exc}") from None
        mask = df["id"].str.contains(args.grep, case=False) | df["description"].str.contains(
            args.grep, case=False)
        df = df[mask]
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(args.out, index=False)
        print(f"wrote {args.out} ({len(df)} rows)")
    else:
        with pd.option_context("display.max_rows", None, "display.width", 200,
                               "display.max_colwidth", 60):
            print(df[["id", "value", "unit", "species", "module", "source"]].to_string(index=False))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from ranklsim.demo import run_demo  # lazy: the demo imports every layer

    run_demo(Path(args.out), fast=args.fast)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from ranklsim.simulate.library import list_scenarios  # lazy: pydantic schema import

    for name, description in list_scenarios():
        print(f"{name:28s} {description}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from ranklsim.simulate.library import load_scenario  # lazy: pydantic schema import
    from ranklsim.simulate.runner import run_batch, run_scenario  # lazy: as above

    scenarios = [load_scenario(s, limits=not args.no_limits) for s in args.scenario]  # all before any run
    names = [sc.name for sc in scenarios]
    if len(scenarios) > 1 and len(set(names)) < len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise UsageError(f"scenario name(s) {', '.join(twice)} given twice: each writes --out/NAME")
    out = Path(args.out)
    with folder_lock(out):  # one writer per folder: a second run into it is refused at once
        if len(scenarios) == 1:
            res = run_scenario(scenarios[0], progress=not args.quiet)
            res.write(out, figures=not args.no_figures)
            failures, errors = res.failures, {}
        else:
            batch = run_batch(scenarios, out, figures=not args.no_figures, progress=not args.quiet)
            failures = {f"{n}: {k}": v for n, r in batch.results.items() for k, v in r.failures.items()}
            errors = batch.errors
    print(f"ranklsim run: wrote results to {out}")
    for key, msg in {**failures, **errors}.items():
        print(f"FAILED {key}: {msg.splitlines()[0]}", file=sys.stderr)
    return 1 if failures or errors else 0


def _add_simulate_parser(sub) -> None:
    s = sub.add_parser("simulate", help="plain time course of the acute model from the reference state")
    s.add_argument("--species", choices=SPECIES_NAMES, default="human")
    s.add_argument("--hours", type=bounded(float, low=0.0, low_inclusive=False, high=MAX_HOURS), default=24.0,
                   help=f"simulated hours (> 0 and <= {MAX_HOURS:,.0f}, default 24)")
    s.add_argument("--points", type=bounded(int, low=2, high=MAX_POINTS), default=241,
                   help=f"output points (2-{MAX_POINTS:,}, default 241)")
    s.add_argument("--select", help="comma-separated output ids (default: fasting readouts)")
    s.add_argument("--set", action="append", metavar="ID=VALUE", help="parameter override (repeatable)")
    s.add_argument("--equilibrate", action="store_true", help="relax to steady state under the overrides first")
    s.add_argument("--allow-out-of-bounds", action="store_true",
                   help="run --set values outside their table bounds (the model's validated domain; warned)")
    s.add_argument("--out", required=True, help="CSV file (tidy: time, id, value, unit)")
    s.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    s.set_defaults(func=cmd_simulate)


def build_parser() -> argparse.ArgumentParser:
    from ranklsim.cohort.cli import add_parsers as add_cohort_parsers  # lazy: keeps --help fast
    from ranklsim.fitting.cli import add_parsers as add_fitting_parsers  # lazy: as above
    from ranklsim.regenerate import add_parsers as add_dev_parsers  # lazy: as above

    p = CliParser(prog="ranklsim", description=__doc__.splitlines()[0].strip("`. ") + ": RANKL -> "
                                "hepatic NF-kB -> insulin resistance -> glucose simulator.")
    p.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="run the headline scenarios, write tables, figures and a report")
    d.add_argument("--out", default="demo-out", help="output folder (default: demo-out)")
    d.add_argument("--fast", action="store_true", help="coarser outputs (for CI)")
    d.set_defaults(func=cmd_demo)

    ls = sub.add_parser("list", help="built-in scenarios with one-line descriptions")
    ls.set_defaults(func=cmd_list)

    r = sub.add_parser("run", help="run scenarios (built-in names or TOML files); writes readouts.csv, "
                       "timecourse.csv and figures")
    r.add_argument("scenario", nargs="+", help="built-in scenario name or path to a .toml file")
    r.add_argument("--out", required=True, help="output folder (one sub-folder per scenario if several)")
    r.add_argument("--no-figures", action="store_true", help="skip the PNG figures")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.add_argument("--no-limits", action="store_true", help="lift the scenario resource limits (output points, "
                   "events, time-course rows; see docs/development.md) for a run you mean to be big")
    r.set_defaults(func=cmd_run)

    add_fitting_parsers(sub)
    add_cohort_parsers(sub)

    _add_simulate_parser(sub)

    e = sub.add_parser("export-sbml", help="write the model as SBML Level 3 with units and annotations")
    e.add_argument("--species", choices=SPECIES_NAMES, default="human")
    e.add_argument("--out", required=True, help="SBML file")
    e.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    e.set_defaults(func=cmd_export_sbml)

    o = sub.add_parser("export-omex", help="write a scenario as a COMBINE archive (SBML variants + SED-ML) "
                       "for tellurium, COPASI and the BioSimulators tools")
    o.add_argument("scenario", help="built-in scenario name or a scenario TOML file")
    o.add_argument("--out", required=True, help="archive file (.omex)")
    o.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    o.add_argument("--no-limits", action="store_true", help="lift the scenario resource limits")
    o.set_defaults(func=cmd_export_omex)

    q = sub.add_parser("params", help="list or filter the parameter table")
    q.add_argument("--species", choices=SPECIES_NAMES)
    q.add_argument("--module", help="only this module (rankl_axis, nfkb, insulin_signalling, ...)")
    q.add_argument("--grep", help="regular expression matched in id or description (case-insensitive)")
    q.add_argument("--out", help="write CSV instead of printing")
    q.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    q.set_defaults(func=cmd_params)

    add_dev_parsers(sub)
    return p


def check_out(args: argparse.Namespace) -> None:
    """Check ``--out`` of the command (file or folder, :data:`OUT_KINDS`) before any work."""
    out = getattr(args, "out", None)
    kind = OUT_KINDS.get(getattr(args, "command", ""))
    if out is None or kind is None:
        return
    if kind == "file":
        check_output_file(out, force=getattr(args, "force", False), example=_EXAMPLE.get(args.command, "out.csv"))
    else:
        check_output_folder(out)


def one_line(exc: BaseException) -> str:
    """The error's message in one line: an ``OSError`` as ``PATH: reason``; a multi-line message
    (a scenario's list of problems) as ``first line: problem; problem; ...``, at most
    :data:`SHOWN_PROBLEMS` of them."""
    if isinstance(exc, OSError):
        return os_error_message(exc)
    if isinstance(exc, MemoryError):
        return "out of memory (lower the sizes of the run)"
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    if not lines:
        return type(exc).__name__
    head, rest = lines[0], lines[1:]
    if not rest:
        return head
    more = f"; ... and {len(rest) - SHOWN_PROBLEMS} more (see --debug)" if len(rest) > SHOWN_PROBLEMS else ""
    return f"{head.rstrip(':')}: {'; '.join(rest[:SHOWN_PROBLEMS])}{more}"


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 done, 1 some parts of a run failed, 2 user error,
    128 + N interrupted by signal N)."""
    args = build_parser().parse_args(argv)
    try:
        with interruptible(), plain_warnings():
            check_out(args)
            return args.func(args)
    except KeyboardInterrupt as exc:
        if args.debug:
            raise
        print(f"ranklsim: interrupted ({signal_name(exc)}); what finished is kept, rerun the same command to "
              "resume", file=sys.stderr)
        return exit_code(exc)
    except (ValueError, SimulationError, OSError, MemoryError, RecursionError) as exc:  # UsageError: ValueError
        if args.debug:
            raise
        print(f"ranklsim: error: {one_line(exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
