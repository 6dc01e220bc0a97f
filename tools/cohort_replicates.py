"""Replicate Bruneck cohorts: distribution of case counts and of the sRANKL-tertile OR.

Runs ``--replicates`` cohorts of 844 people (seeds 1..R, 15 years, examinations at 0/5/10/15 y)
with the default population and model, two replicates at a time (one per process, each process
builds the model once), and writes ``docs/figures/cohort_replicates.csv`` (one row per seed),
``cohort_replicates.json`` (medians, quantiles, share of 95 % CIs containing 4.06) and
``cohort_replicates.png``.  The same computation at small scale is tests/test_cohort.py's slow test.

    python tools/cohort_replicates.py --replicates 100 --workers 2

With ``--arms control,denosumab,...`` it instead runs every replicate with those intervention arms
(same people in every arm) and writes ``cohort_arms_replicates.{csv,json,png}``: per arm the
distribution over replicates of the case count and of the matched-pairs risk ratio vs control,
i.e. the predicted incidence under each intervention with its between-cohort uncertainty.
"""

from __future__ import annotations

import argparse
import json
import time
from functools import partial
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pandas as pd

from ranklsim.cohort import PopulationSpec, run_cohort, summary
from ranklsim.cohort.analysis import (
    BRUNECK_CASES,
    BRUNECK_HOMA_IR_CUTOFF,
    HOMA_COLUMN,
    analysed,
    odds_ratio,
)
from ranklsim.cohort.analysis import BRUNECK_OR as _BRUNECK_OR

BRUNECK_OR = _BRUNECK_OR[0]
OUT = Path(__file__).resolve().parents[1] / "docs" / "figures"


def one(seed: int) -> dict:
    t0 = time.perf_counter()
    res = run_cohort(PopulationSpec(n=844, seed=seed), years=15, chunk_size=844)
    s = summary(res)
    un = s["odds_ratio_top_vs_bottom"]["unadjusted"]
    adj = s["odds_ratio_top_vs_bottom"]["adjusted_age_sex_bmi"]
    h = s["baseline"]["homa_ir"]
    # validation, not calibrated: baseline HOMA-IR predicts incident diabetes in Bruneck (Bonora 2004)
    or_homa = odds_ratio(analysed(res.people), column=HOMA_COLUMN)
    return {"seed": seed, "cases": s["cases"], "n_analysed": s["n_analysed"], "n_errors": s["n_errors"],
            "incidence_per_1000_py": s["incidence_per_1000_py"],
            "or": un["or"], "ci_low": un["ci_low"], "ci_high": un["ci_high"],
            "or_adj": adj["or"], "ci_low_adj": adj["ci_low"], "ci_high_adj": adj["ci_high"],
            "homa_median": h["median"], "homa_log_sd": h["log_sd"], "homa_reference_p80": h["reference_p80"],
            "homa_share_ir_ifg": h["share_ir"]["impaired_fasting_glucose"],
            "homa_share_ir_baseline_dm": h["share_ir"]["baseline_diabetes"], "or_homa": or_homa["or"],
            "seconds": time.perf_counter() - t0}


def one_arms(seed: int, arms: tuple[str, ...]) -> list[dict]:
    from ranklsim.cohort.arms import resolve_arms

    t0 = time.perf_counter()
    s = summary(run_cohort(PopulationSpec(n=844, seed=seed), years=15, chunk_size=844, arms=resolve_arms(list(arms))))
    rows = []
    for name, a in s["arms"].items():
        rr = a.get("risk_ratio_vs_control") or {}
        rows.append({"seed": seed, "arm": name, "cases": a["cases"], "n": a["n"], "n_errors": a["n_errors"],
                     "incidence_per_1000_py": a["per_1000_py"], "rr": rr.get("rr"), "rr_low": rr.get("ci_low"),
                     "rr_high": rr.get("ci_high"), "seconds": time.perf_counter() - t0})
    return rows


def aggregate_arms(df: pd.DataFrame) -> dict:
    out = {"replicates": int(df["seed"].nunique()), "n": 844, "years": 15, "arms": {}}
    for name, g in df.groupby("arm", sort=False):
        def pct(c: str, g: pd.DataFrame = g) -> list[float]:
            return [float(v) for v in np.nanpercentile(g[c].astype(float), [2.5, 50, 97.5])]

        entry = {"cases_p2.5_p50_p97.5": pct("cases"), "per_1000_py_p2.5_p50_p97.5": pct("incidence_per_1000_py"),
                 "errors_total": int(g["n_errors"].sum())}
        if g["rr"].notna().any():
            entry["rr_p2.5_p50_p97.5"] = pct("rr")
            entry["share_rr_ci_below_1"] = float((g["rr_high"] < 1).mean())
        out["arms"][name] = entry
    return out


def plot_arms(df: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arms = list(dict.fromkeys(df["arm"]))
    fig, ax = plt.subplots(figsize=(1.4 * len(arms) + 2, 3.8))
    ax.boxplot([df.loc[df["arm"] == a, "incidence_per_1000_py"].astype(float) for a in arms], tick_labels=arms)
    ax.axhline(df.loc[df["arm"] == arms[0], "incidence_per_1000_py"].median(), color="0.7", lw=0.8)
    ax.set_ylabel("incidence per 1,000 PY (15 y)")
    ax.set_title(f"Intervention arms over {df['seed'].nunique()} replicate cohorts of 844", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def aggregate(df: pd.DataFrame) -> dict:
    q = lambda c: {k: float(v) for k, v in zip(("p2.5", "p25", "p50", "p75", "p97.5"),
                                                 np.nanpercentile(df[c], [2.5, 25, 50, 75, 97.5]), strict=True)}
    contains = ((df["ci_low"] <= BRUNECK_OR) & (BRUNECK_OR <= df["ci_high"])).mean()
    return {"replicates": len(df), "n": 844, "years": 15,
            "median_cases": float(df["cases"].median()), "cases_quantiles": q("cases"),
            "median_or": float(df["or"].median()), "or_quantiles": q("or"),
            "median_or_adjusted": float(df["or_adj"].median()),
            "median_ratio_adjusted_to_unadjusted": float((df["or_adj"] / df["or"]).median()),
            "share_ci_contains_4.06": float(contains),
            "share_ci_excludes_1": float((df["ci_low"] > 1).mean()),
            "median_incidence_per_1000_py": float(df["incidence_per_1000_py"].median()),
            "errors_total": int(df["n_errors"].sum()), "seconds_per_replicate": float(df["seconds"].median()),
            **({"homa_reference_p80": q("homa_reference_p80"), "homa_log_sd": q("homa_log_sd"),
                "homa_median": q("homa_median"), "homa_share_ir_ifg": q("homa_share_ir_ifg"),
                "homa_share_ir_baseline_dm": q("homa_share_ir_baseline_dm"), "or_homa_tertile": q("or_homa")}
               if "homa_reference_p80" in df else {})}


def plot(df: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    homa = "homa_reference_p80" in df
    fig, ax = plt.subplots(1, 3 if homa else 2, figsize=(15 if homa else 10, 3.8))
    ax[0].hist(df["cases"], bins=20, color="0.6")
    ax[0].axvline(BRUNECK_CASES, color="C3", label="Bruneck 78")
    ax[0].set(xlabel="incident cases per cohort of 844 (15 y)", ylabel="replicates")
    ax[0].legend()
    ax[1].hist(np.log(df["or"]), bins=20, color="0.6")
    ax[1].axvline(np.log(BRUNECK_OR), color="C3", label="Bruneck OR 4.06")
    ticks = [1, 2, 4, 8, 16]
    ax[1].set_xticks(np.log(ticks), [str(t) for t in ticks])
    ax[1].set(xlabel="OR top vs bottom sRANKL tertile (log scale)")
    ax[1].legend()
    if homa:
        ax[2].hist(df["homa_reference_p80"], bins=20, color="0.6")
        ax[2].axvline(BRUNECK_HOMA_IR_CUTOFF, color="C3", label="Bruneck 2.77 (Bonora 1998)")
        ax[2].set(xlabel="baseline HOMA-IR top-quintile cut-off\n(nonobese, FPG < 6.1 mmol/L)")
        ax[2].legend()
    fig.suptitle(f"{len(df)} replicate virtual Bruneck cohorts (seeds 1-{len(df)})")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--replicates", type=int, default=100)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--arms", help="comma-separated cohort arms (first should be control): arms study")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.arms:
        arms = tuple(a.strip() for a in args.arms.split(","))
        rows = []
        with get_context("spawn").Pool(args.workers) as pool:
            for r in pool.imap_unordered(partial(one_arms, arms=arms), range(1, args.replicates + 1)):
                rows.extend(r)
                print(json.dumps(r), flush=True)
        df = pd.DataFrame(rows).sort_values(["seed"], kind="stable")
        df.to_csv(args.out / "cohort_arms_replicates.csv", index=False)
        agg = aggregate_arms(df)
        (args.out / "cohort_arms_replicates.json").write_text(json.dumps(agg, indent=2) + "\n")
        plot_arms(df, args.out / "cohort_arms_replicates.png")
        print(json.dumps(agg, indent=2))
        return
    rows = []
    with get_context("spawn").Pool(args.workers) as pool:
        for r in pool.imap_unordered(one, range(1, args.replicates + 1)):
            rows.append(r)
            print(json.dumps(r), flush=True)
    df = pd.DataFrame(rows).sort_values("seed")
    df.to_csv(args.out / "cohort_replicates.csv", index=False)
    agg = aggregate(df)
    (args.out / "cohort_replicates.json").write_text(json.dumps(agg, indent=2) + "\n")
    plot(df, args.out / "cohort_replicates.png")
    print(json.dumps(agg, indent=2))


if __name__ == "__main__":
    main()
