"""``ranklsim cohort``: follow a seeded virtual cohort and write summary.json, people.csv and a figure.

Wire into the main parser with :func:`add_parsers` (``add_parsers(subparsers)``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be > 0 and finite, got {text}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _arm_list(text: str) -> list[str]:
    """``--arms``: comma-separated arm names or scenario TOML paths, checked at parse time."""
    from ranklsim.cohort.arms import check_arm_names

    try:
        return check_arm_names([t for t in text.split(",")])
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_parsers(sub) -> None:
    """Add the ``cohort`` sub-command to an ``argparse`` sub-parsers object."""
    c = sub.add_parser("cohort", help="virtual Bruneck-style cohort: diabetes incidence by sRANKL tertile")
    c.add_argument("--n", type=_positive_int, required=True, help="number of people (> 0)")
    c.add_argument("--years", type=_positive_float, default=15.0, help="follow-up years (> 0, default 15)")
    c.add_argument("--seed", type=_non_negative_int, default=1, help="population seed (default 1)")
    c.add_argument("--out", required=True, help="output folder (rerun the same command to resume)")
    c.add_argument("--workers", type=_positive_int, default=None,
                   help="local worker processes (default: a process pool of one worker per CPU, capped at the "
                        "number of chunks x arms; 1 runs serially in this process)")
    c.add_argument("--scheduler", help="Dask scheduler address (tcp://host:port), or 'local' for a "
                                       "LocalCluster of --workers processes")
    c.add_argument("--chunk-size", type=_positive_int, default=500, help="people per chunk (default 500)")
    c.add_argument("--arms", type=_arm_list, help="intervention arms, comma-separated: control, denosumab, "
                   "metformin, metformin_mean, rank_blockade, rank_blockade:FRACTION or a scenario .toml file "
                   "(its first non-control arm); default: control only, no arm column")
    c.add_argument("--ensemble", help="parameter ensemble: a CSV (one member per row, parameter ids as columns, "
                   "e.g. samples.csv of `ranklsim sample`) or a `ranklsim sample` output folder; the same people "
                   "and arms are re-run under every member and ensemble_bands.csv / ensemble_members.csv and an "
                   "'ensemble' section of summary.json are written")
    c.add_argument("--ensemble-size", type=_positive_int, default=None,
                   help="draw this many ensemble members (seeded by --seed; default: all rows)")
    c.add_argument("--ogtt", action="store_true", help="also run a 75 g OGTT at every examination: a 2-h glucose "
                   ">= 11.1 mmol/L is diabetes too (WHO 1999); ~3x the cost per person")
    c.add_argument("--quiet", action="store_true", help="no progress bar")
    c.set_defaults(func=cmd_cohort)


def _engine(args):
    from ranklsim.parallel import DaskEngine, ProcessPoolEngine, SerialEngine

    if args.scheduler:
        address = None if args.scheduler == "local" else args.scheduler
        try:
            return DaskEngine(address, n_workers=args.workers or os.cpu_count() or 1)
        except (ConnectionError, ImportError) as exc:  # reported as a usage error, before any work
            raise ValueError(str(exc)) from exc
    workers = args.workers if args.workers is not None else default_workers(args)
    if workers > 1:
        return ProcessPoolEngine(workers)
    return SerialEngine()


def default_workers(args) -> int:
    """One worker per CPU, but no more than there are tasks (chunks x arms): a pool of idle workers
    would only pay the model build."""
    tasks = math.ceil(args.n / args.chunk_size) * max(1, len(args.arms or ()))
    return max(1, min(os.cpu_count() or 1, tasks))


def plot_incidence_by_tertile(summary: dict, path: str | Path) -> None:
    """Bar chart of incidence per 1,000 person-years by baseline sRANKL tertile."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    per = summary.get("incidence_by_tertile") or {}
    labels = list(per)
    rates = [(per[k]["per_1000_py"] or 0.0) for k in labels]
    fig, ax = plt.subplots(figsize=(4.5, 3.5))
    ax.bar(labels, rates, color=["#9ecae1", "#4292c6", "#08519c"][: len(labels)])
    for i, k in enumerate(labels):
        ax.text(i, rates[i], f"{per[k]['cases']}/{per[k]['n']}", ha="center", va="bottom", fontsize=8)
    orr = (summary.get("odds_ratio_top_vs_bottom") or {}).get("unadjusted") or {}
    title = "Incident diabetes by baseline sRANKL tertile"
    if orr.get("or") is not None:
        title += f"\nOR T3 vs T1 {orr['or']:.2f} ({orr['ci_low']:.2f}-{orr['ci_high']:.2f})"
    ax.set_title(title, fontsize=9)
    ax.set_ylabel("incidence per 1,000 person-years")
    ax.set_xlabel("baseline free sRANKL tertile")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_forest(summary: dict, path: str | Path) -> None:
    """Forest plot (log scale) of the sRANKL-tertile ORs (unadjusted, adjusted) with the Bruneck OR,
    and of each arm's matched-pairs risk ratio vs control (estimates without a CI are left out and
    named in the title)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ranklsim.cohort.analysis import BRUNECK_OR

    rows = []  # (label, estimate, low, high)
    ors = summary.get("odds_ratio_top_vs_bottom") or {}
    for key, label in (("unadjusted", "OR T3 vs T1"), ("adjusted_age_sex_bmi", "OR T3 vs T1, adj. age/sex/BMI")):
        o = ors.get(key) or {}
        if o.get("or") is not None and o.get("ci_low") is not None:
            rows.append((label, o["or"], o["ci_low"], o["ci_high"]))
    missing = [] if rows else ["OR (too few cases)"]
    rows.append(("Bruneck 2013: OR T3 vs T1", BRUNECK_OR[0], BRUNECK_OR[1], BRUNECK_OR[2]))
    for name, arm in (summary.get("arms") or {}).items():
        r = arm.get("risk_ratio_vs_control") or {}
        if r.get("rr") is not None and r.get("ci_low") is not None:
            rows.append((f"RR {name} vs control", r["rr"], r["ci_low"], r["ci_high"]))
        elif "risk_ratio_vs_control" in arm:
            missing.append(f"RR {name}")
    fig, ax = plt.subplots(figsize=(6.0, 0.45 * len(rows) + 1.2))
    for i, (label, est, lo, hi) in enumerate(reversed(rows)):
        color = "grey" if label.startswith("Bruneck") else "#08519c"
        ax.errorbar([est], [i], xerr=[[est - lo], [hi - est]], fmt="s", color=color, capsize=3)
        ax.text(hi * 1.08, i, f"{est:.2f} ({lo:.2f}-{hi:.2f})", va="center", fontsize=8)
    ax.set_yticks(range(len(rows)), [r[0] for r in reversed(rows)], fontsize=8)
    ax.axvline(1.0, color="k", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlim(min(r[2] for r in rows) / 1.5, max(r[3] for r in rows) * 9)
    ax.set_xlabel("odds ratio / risk ratio (95 % CI, log scale)")
    title = f"Virtual cohort n = {summary.get('n')}, seed {summary.get('seed')}"
    if missing:
        title += "\nno estimate with a CI: " + ", ".join(missing)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _run_ensemble(ensemble, spec, args, arms, engine, out: Path) -> dict:
    """Re-run the cohort under every ensemble member (resumable in ``out/ensemble``); write the bands
    and the per-member table; return the summary.json section."""
    from ranklsim.cohort.analysis import _clean
    from ranklsim.cohort.ensemble import cohort_ensemble

    folder = out / "ensemble"
    folder.mkdir(parents=True, exist_ok=True)
    ensemble.to_csv(folder / "members_parameters.csv", index_label="member")
    bands, members = cohort_ensemble(ensemble, spec, args.years, arms=arms, engine=engine, out_dir=folder,
                                     chunk_size=args.chunk_size, ogtt=bool(getattr(args, "ogtt", False)))
    bands.to_csv(out / "ensemble_bands.csv", index=False)
    members.to_csv(out / "ensemble_members.csv", index=False)
    section: dict = {"n_members": int(bands.attrs["n_members"]),
                     "failures": {str(k): v for k, v in bands.attrs["failures"].items()},
                     "parameters": list(ensemble.columns)}
    for readout in ("cases", "incidence_per_1000_py", "rr_vs_control"):
        rows = bands[bands["readout"] == readout]
        section[readout] = {r["arm"]: {"median": r["median"], "low": r["q2.5"], "high": r["q97.5"], "n": int(r["n"])}
                            for r in rows.to_dict("records") if r["n"] > 0}
    return _clean(section)


def cmd_cohort(args: argparse.Namespace) -> int:
    from ranklsim.cohort.analysis import summary as make_summary
    from ranklsim.cohort.population import PopulationSpec
    from ranklsim.cohort.runner import run_cohort

    spec = PopulationSpec(n=args.n, seed=args.seed)  # validated before any work
    out = Path(args.out)
    arms = None
    if getattr(args, "arms", None):
        from ranklsim.cohort.arms import resolve_arms

        arms = resolve_arms(args.arms)  # ValueError (exit 2) before any work
    ensemble = None
    if getattr(args, "ensemble", None):
        from ranklsim.cohort.ensemble import check_ensemble, load_ensemble

        ensemble = load_ensemble(args.ensemble, args.ensemble_size, seed=args.seed)
        check_ensemble(ensemble)  # unknown ids: error before any work
    with _engine(args) as engine:
        result = run_cohort(spec, years=args.years, engine=engine, out_dir=out,
                            chunk_size=args.chunk_size, progress=not args.quiet, arms=arms,
                            ogtt=bool(getattr(args, "ogtt", False)))
        summ = make_summary(result)
        if ensemble is not None and result.complete:
            summ["ensemble"] = _run_ensemble(ensemble, spec, args, arms, engine, out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summ, indent=2, sort_keys=True))
    result.people.to_csv(out / "people.csv", index=False)
    plot_incidence_by_tertile(summ, out / "incidence_by_tertile.png")
    plot_forest(summ, out / "forest_or.png")
    if not result.complete:
        print(f"cohort incomplete: chunks failed {sorted(result.failed_chunks)}; rerun to resume")
        return 1
    orr = (summ.get("odds_ratio_top_vs_bottom") or {}).get("unadjusted") or {}
    or_text = f"{orr['or']:.2f} ({orr['ci_low']:.2f}-{orr['ci_high']:.2f})" if orr.get("or") else "n/a"
    print(f"{summ['n_analysed']} analysed ({summ['n_excluded']} excluded), {summ['cases']} cases, "
          f"{summ['incidence_per_1000_py'] or 0:.2f} per 1,000 PY; OR top vs bottom sRANKL tertile {or_text}; "
          f"wrote {out}")
    if "ensemble" in summ:
        e = summ["ensemble"]
        print(f"  ensemble: {e['n_members'] - len(e['failures'])}/{e['n_members']} members; median (95 % band) "
              "cases per arm: " + ", ".join(f"{arm} {b['median']:.0f} ({b['low']:.0f}-{b['high']:.0f})"
                                            for arm, b in e["cases"].items()))
    for name, a in (summ.get("arms") or {}).items():
        rr = a.get("risk_ratio_vs_control") or {}
        rr_text = (f"; RR vs control {rr['rr']:.2f}" + (f" ({rr['ci_low']:.2f}-{rr['ci_high']:.2f})"
                                                       if rr.get("ci_low") is not None else "")
                   if rr.get("rr") is not None else "")
        print(f"  arm {name}: {a['cases']}/{a['n']} cases, {a['per_1000_py'] or 0:.2f} per 1,000 PY{rr_text}")
    return 0
