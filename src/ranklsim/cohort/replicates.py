"""Replicate cohorts over seeds: the sampling distribution of the Bruneck readouts.

Each seed is one cohort of ``n`` people (same population distributions and model, a new draw), run
as one task of a :mod:`ranklsim.parallel` engine (a worker builds the model once and follows its
cohort serially).  Without arms a replicate gives one row: cases, incidence, the sRANKL-tertile OR
(unadjusted and adjusted for age, sex and BMI), the baseline HOMA-IR statistics against Bonora 1998
and, as a validation that was not calibrated, the OR of the baseline HOMA-IR tertiles (HOMA-IR
predicts incident diabetes in Bruneck, Bonora 2004).  With arms every replicate follows the same
people in every arm and gives one row per arm: cases, incidence and the matched-pairs risk ratio vs
control, i.e. the predicted incidence under each intervention with its between-cohort spread.

``ranklsim replicates --replicates 100 --out docs/figures`` writes ``cohort_replicates.{csv,json,png}``
(with ``--arms``: ``cohort_arms_replicates.*``); tools/cohort_replicates.py is the same command with
the documented defaults.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ranklsim.cohort.analysis import BRUNECK_OR, HOMA_COLUMN, analysed, json_ready, odds_ratio, summary
from ranklsim.cohort.arms import CohortArm
from ranklsim.cohort.followup import exam_schedule
from ranklsim.cohort.plots import plot_arm_replicates, plot_replicates
from ranklsim.cohort.population import PopulationSpec
from ranklsim.cohort.runner import run_cohort
from ranklsim.parallel import Engine, SerialEngine
from ranklsim.rundir import atomic_write_text

QUANTILES = {"p2.5": 2.5, "p25": 25, "p50": 50, "p75": 75, "p97.5": 97.5}
#: columns of the control-only table whose quantiles over replicates the aggregate reports
HOMA_READOUTS = {"homa_reference_p80": "homa_reference_p80", "homa_log_sd": "homa_log_sd",
                 "homa_median": "homa_median", "homa_share_ir_ifg": "homa_share_ir_ifg",
                 "homa_share_ir_baseline_dm": "homa_share_ir_baseline_dm", "or_homa_tertile": "or_homa"}


@dataclass(frozen=True)
class ReplicateStudy:
    """Replicate cohorts of ``n`` people followed ``years``, one per seed (``arms``: resolved arms)."""

    seeds: tuple[int, ...]
    n: int = 844
    years: float = 15.0
    exam_years: tuple[float, ...] | None = None  #: None: every 5 years (Bruneck)
    arms: tuple[CohortArm, ...] = field(default=())

    def __post_init__(self) -> None:
        if not self.seeds:
            raise ValueError("give at least one seed")
        PopulationSpec(n=self.n, seed=min(self.seeds))  # n and seeds are checked before any work
        exam_schedule(self.years, self.exam_years)

    @property
    def stem(self) -> str:
        """File name stem of the outputs."""
        return "cohort_arms_replicates" if self.arms else "cohort_replicates"


def _control_row(seed: int, s: dict, people: pd.DataFrame) -> dict:
    ors = s.get("odds_ratio_top_vs_bottom") or {}
    un, adj = ors.get("unadjusted") or {}, ors.get("adjusted_age_sex_bmi") or {}
    h = s["baseline"]["homa_ir"] or {}
    share = h.get("share_ir") or {}
    data = analysed(people)
    or_homa = odds_ratio(data, column=HOMA_COLUMN) if len(data) >= 3 else {}
    return {"seed": seed, "cases": s["cases"], "n_analysed": s["n_analysed"], "n_errors": s["n_errors"],
            "incidence_per_1000_py": s["incidence_per_1000_py"],
            "or": un.get("or"), "ci_low": un.get("ci_low"), "ci_high": un.get("ci_high"),
            "or_adj": adj.get("or"), "ci_low_adj": adj.get("ci_low"), "ci_high_adj": adj.get("ci_high"),
            "homa_median": h.get("median"), "homa_log_sd": h.get("log_sd"),
            "homa_reference_p80": h.get("reference_p80"), "homa_share_ir_ifg": share.get("impaired_fasting_glucose"),
            "homa_share_ir_baseline_dm": share.get("baseline_diabetes"), "or_homa": or_homa.get("or"),
            "or_fpg": ((s.get("risk_structure") or {}).get("odds_ratio_tertile") or {}).get("fpg", {}).get("or"),
            "n_baseline_diabetes": s["n_baseline_diabetes"],
            "first_exam_ratio": s["cases_by_examination"]["first_exam_ratio"]}


def _arm_rows(seed: int, s: dict) -> list[dict]:
    rows = []
    for name, a in s["arms"].items():
        rr = a.get("risk_ratio_vs_control") or {}
        rows.append({"seed": seed, "arm": name, "cases": a["cases"], "n": a["n"], "n_errors": a["n_errors"],
                     "incidence_per_1000_py": a["per_1000_py"], "rr": rr.get("rr"), "rr_low": rr.get("ci_low"),
                     "rr_high": rr.get("ci_high")})
    return rows


def replicate_rows(study: ReplicateStudy, seed: int) -> list[dict]:
    """Engine task: one replicate cohort (seed ``seed``) and its table rows."""
    t0 = time.perf_counter()
    res = run_cohort(PopulationSpec(n=study.n, seed=seed), years=study.years, exam_years=study.exam_years,
                     chunk_size=study.n, arms=study.arms or None)
    s = summary(res)
    rows = _arm_rows(seed, s) if study.arms else [_control_row(seed, s, res.people)]
    seconds = time.perf_counter() - t0
    return [{**r, "seconds": seconds} for r in rows]


def run_replicates(study: ReplicateStudy, engine: Engine | None = None,
                   progress: bool = False) -> tuple[pd.DataFrame, dict[int, str]]:
    """Every replicate of ``study`` on ``engine`` (default serial): the table (sorted by seed; with
    arms one row per seed and arm, arms in order) and the failed seeds with their errors."""
    rows: list[dict] = []
    failures: dict[int, str] = {}
    bar = None
    if progress:
        from tqdm.auto import tqdm  # lazy: tqdm is only needed for an interactive progress bar

        bar = tqdm(total=len(study.seeds), unit="cohort", desc="replicates")
    try:
        for idx, outcome in (engine or SerialEngine()).map(replicate_rows, study.seeds, study):
            if isinstance(outcome, BaseException):
                failures[study.seeds[idx]] = f"{type(outcome).__name__}: {outcome}"
            else:
                rows.extend(outcome)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    table = pd.DataFrame(rows)
    if len(table):
        table = table.sort_values("seed", kind="stable").reset_index(drop=True)
    return table, dict(sorted(failures.items()))


# ----------------------------------------------------------------------------- aggregates


def _quantiles(values: pd.Series, keys: dict[str, float] = QUANTILES) -> dict[str, float]:
    v = values.astype(float)
    if v.isna().all():
        return {k: float("nan") for k in keys}
    return {k: float(q) for k, q in zip(keys, np.nanpercentile(v, list(keys.values())), strict=True)}


def _median(values: pd.Series) -> float:
    return float(values.astype(float).median())


def aggregate(table: pd.DataFrame, study: ReplicateStudy) -> dict:
    """Medians and quantiles over the replicates of a control-only study (one row per seed)."""
    ors = table["or"].astype(float)
    low, high = table["ci_low"].astype(float), table["ci_high"].astype(float)
    contains = ((low <= BRUNECK_OR[0]) & (BRUNECK_OR[0] <= high)).mean()
    return {"replicates": len(table), "n": study.n, "years": study.years,
            "median_cases": _median(table["cases"]), "cases_quantiles": _quantiles(table["cases"]),
            "median_or": _median(ors), "or_quantiles": _quantiles(ors),
            "median_or_adjusted": _median(table["or_adj"]),
            "median_ratio_adjusted_to_unadjusted": _median(table["or_adj"].astype(float) / ors),
            f"share_ci_contains_{BRUNECK_OR[0]:g}": float(contains),
            "share_ci_excludes_1": float((low > 1).mean()),
            "median_incidence_per_1000_py": _median(table["incidence_per_1000_py"]),
            "errors_total": int(table["n_errors"].sum()), "seconds_per_replicate": _median(table["seconds"]),
            "median_baseline_diabetes": _median(table["n_baseline_diabetes"]),
            "median_first_exam_ratio": _median(table["first_exam_ratio"]),
            **{key: _quantiles(table[col]) for key, col in HOMA_READOUTS.items()},
            **risk_structure(table)}


def risk_structure(table: pd.DataFrame) -> dict:
    """Baseline fasting glucose against HOMA-IR and sRANKL as predictors, over the replicates (issue 15:
    FPG at least as strong as both, by tertile OR).  A replicate whose bottom FPG tertile has no case
    has an undefined (infinite) FPG OR: it counts as the strongest, and the FPG quantiles are over the
    defined ORs only, with the share undefined reported beside them."""
    fpg, homa, rankl = (table[c].astype(float) for c in ("or_fpg", "or_homa", "or"))
    undefined = fpg.isna()
    return {"or_fpg_tertile_defined": _quantiles(fpg), "share_or_fpg_undefined": float(undefined.mean()),
            "share_fpg_or_at_least_homa": float((undefined | (fpg >= homa)).mean()),
            "share_fpg_or_at_least_rankl": float((undefined | (fpg >= rankl)).mean())}


def aggregate_arms(table: pd.DataFrame, study: ReplicateStudy) -> dict:
    """Per arm, the 2.5/50/97.5 percentiles over replicates of cases, incidence and the RR vs control."""
    keys = {"p2.5": 2.5, "p50": 50, "p97.5": 97.5}
    out: dict = {"replicates": int(table["seed"].nunique()), "n": study.n, "years": study.years, "arms": {}}
    for name, g in table.groupby("arm", sort=False):
        entry = {"cases_p2.5_p50_p97.5": list(_quantiles(g["cases"], keys).values()),
                 "per_1000_py_p2.5_p50_p97.5": list(_quantiles(g["incidence_per_1000_py"], keys).values()),
                 "errors_total": int(g["n_errors"].sum())}
        if g["rr"].notna().any():
            entry["rr_p2.5_p50_p97.5"] = list(_quantiles(g["rr"], keys).values())
            entry["share_rr_ci_below_1"] = float((g["rr_high"].astype(float) < 1).mean())
        out["arms"][name] = entry
    return out


def write_replicates(table: pd.DataFrame, study: ReplicateStudy, out: str | Path,
                     failures: dict[int, str] | None = None) -> dict:
    """Write ``<stem>.csv`` (the table), ``<stem>.json`` (the aggregate) and ``<stem>.png`` to ``out``;
    returns the aggregate (with the failed seeds, if any)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / f"{study.stem}.csv", table.to_csv(index=False))
    agg = aggregate_arms(table, study) if study.arms else aggregate(table, study)
    if failures:
        agg["failed_seeds"] = {str(k): v for k, v in failures.items()}
    agg = json_ready(agg)
    atomic_write_text(out / f"{study.stem}.json", json.dumps(agg, indent=2) + "\n")
    plot = plot_arm_replicates if study.arms else plot_replicates
    plot(table, study.n, study.years, out / f"{study.stem}.png")
    return agg


def seeds_from(first: int, count: int) -> tuple[int, ...]:
    """``count`` consecutive seeds from ``first``."""
    return tuple(range(int(first), int(first) + int(count)))


__all__: Sequence[str] = ("ReplicateStudy", "aggregate", "aggregate_arms", "replicate_rows", "run_replicates",
                          "seeds_from", "write_replicates")
