"""Cohort figures: incidence by sRANKL tertile, forest plot of ORs and arm RRs, replicate studies.

Every function builds a :class:`matplotlib.figure.Figure` (no pyplot, no global backend), saves it
to ``path`` when one is given and returns it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ranklsim.cohort.analysis import BRUNECK_CASES, BRUNECK_HOMA_IR_CUTOFF, BRUNECK_OR
from ranklsim.cohort.uncertainty import CASES, LOG_OR, LOG_RR

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DPI = 120
TERTILE_COLORS = ("#9ecae1", "#4292c6", "#08519c")
#: (label, estimate, CI low, CI high) of one forest-plot row
ForestRow = tuple[str, float, float, float]


def _figure(figsize: tuple[float, float]) -> Figure:
    from matplotlib.figure import Figure  # lazy: matplotlib takes ~0.7 s to import; only figures need it

    return Figure(figsize=figsize)


def _finish(fig: Figure, path: str | Path | None) -> Figure:
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=DPI)
    return fig


def plot_incidence_by_tertile(summary: dict, path: str | Path | None = None) -> Figure:
    """Bar chart of incidence per 1,000 person-years by baseline sRANKL tertile (``summary``: the
    :func:`~ranklsim.cohort.analysis.summary` of a run)."""
    per = summary.get("incidence_by_tertile") or {}
    labels = list(per)
    rates = [(per[k]["per_1000_py"] or 0.0) for k in labels]
    fig = _figure((4.5, 3.5))
    ax = fig.subplots()
    ax.bar(labels, rates, color=list(TERTILE_COLORS[: len(labels)]))
    for i, k in enumerate(labels):
        ax.text(i, rates[i], f"{per[k]['cases']}/{per[k]['n']}", ha="center", va="bottom", fontsize=8)
    orr = (summary.get("odds_ratio_top_vs_bottom") or {}).get("unadjusted") or {}
    title = "Incident diabetes by baseline sRANKL tertile"
    if orr.get("or") is not None:
        title += f"\nOR T3 vs T1 {orr['or']:.2f} ({orr['ci_low']:.2f}-{orr['ci_high']:.2f})"
    ax.set_title(title, fontsize=9)
    ax.set_ylabel("incidence per 1,000 person-years")
    ax.set_xlabel("baseline free sRANKL tertile")
    return _finish(fig, path)


def forest_rows(summary: dict) -> tuple[list[ForestRow], list[str]]:
    """Rows of :func:`plot_forest` (sRANKL-tertile ORs, the Bruneck OR, each arm's RR vs control)
    and the names of the estimates left out because they have no CI."""
    rows: list[ForestRow] = []
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
    return rows, missing


def plot_forest(summary: dict, path: str | Path | None = None) -> Figure:
    """Forest plot (log scale) of the sRANKL-tertile ORs (unadjusted, adjusted) with the Bruneck OR,
    and of each arm's matched-pairs risk ratio vs control (estimates without a CI are left out and
    named in the title)."""
    rows, missing = forest_rows(summary)
    fig = _figure((6.0, 0.45 * len(rows) + 1.2))
    ax = fig.subplots()
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
    return _finish(fig, path)


def plot_replicates(table: pd.DataFrame, n: int, years: float, path: str | Path | None = None) -> Figure:
    """Histograms over replicate cohorts (one row per seed, :func:`~ranklsim.cohort.replicates.run_replicates`)
    of the case count and the sRANKL-tertile OR, and of the HOMA-IR reference cut-off, against Bruneck."""
    panels = 3 if "homa_reference_p80" in table else 2
    fig = _figure((5.0 * panels, 3.8))
    ax = fig.subplots(1, panels)
    ax[0].hist(table["cases"], bins=20, color="0.6")
    ax[0].axvline(BRUNECK_CASES, color="C3", label=f"Bruneck {BRUNECK_CASES}")
    ax[0].set(xlabel=f"incident cases per cohort of {n} ({years:g} y)", ylabel="replicates")
    ax[0].legend()
    ors = table["or"].astype(float)
    ax[1].hist(np.log(ors[ors > 0]), bins=20, color="0.6")
    ax[1].axvline(np.log(BRUNECK_OR[0]), color="C3", label=f"Bruneck OR {BRUNECK_OR[0]:g}")
    ticks = [1, 2, 4, 8, 16]
    ax[1].set_xticks(np.log(ticks), [str(t) for t in ticks])
    ax[1].set(xlabel="OR top vs bottom sRANKL tertile (log scale)")
    ax[1].legend()
    if panels == 3:
        ax[2].hist(table["homa_reference_p80"].astype(float).dropna(), bins=20, color="0.6")
        ax[2].axvline(BRUNECK_HOMA_IR_CUTOFF, color="C3", label=f"Bruneck {BRUNECK_HOMA_IR_CUTOFF:g} (Bonora 1998)")
        ax[2].set(xlabel="baseline HOMA-IR top-quintile cut-off\n(nonobese, FPG < 6.1 mmol/L)")
        ax[2].legend()
    seeds = table["seed"]
    fig.suptitle(f"{len(table)} replicate virtual Bruneck cohorts (seeds {seeds.min()}-{seeds.max()})")
    return _finish(fig, path)


def plot_arm_replicates(table: pd.DataFrame, n: int, years: float, path: str | Path | None = None) -> Figure:
    """Box plots over replicate cohorts of each arm's incidence per 1,000 PY (one row per seed and
    arm); the grey line is the first arm's median."""
    arms = list(dict.fromkeys(table["arm"]))
    fig = _figure((1.4 * len(arms) + 2, 3.8))
    ax = fig.subplots()
    ax.boxplot([table.loc[table["arm"] == a, "incidence_per_1000_py"].astype(float).dropna() for a in arms],
               tick_labels=arms)
    ax.axhline(table.loc[table["arm"] == arms[0], "incidence_per_1000_py"].median(), color="0.7", lw=0.8)
    ax.set_ylabel(f"incidence per 1,000 PY ({years:g} y)")
    ax.set_title(f"Intervention arms over {table['seed'].nunique()} replicate cohorts of {n}", fontsize=9)
    return _finish(fig, path)


def plot_ensemble_bands(table: pd.DataFrame, rr_columns: list[str], path: str | Path | None = None) -> Figure:
    """Histograms over parameter-ensemble members (:func:`~ranklsim.cohort.uncertainty.ensemble`): cases,
    the sRANKL tertile OR and each arm's risk ratio vs control (log columns shown as ratios), with the
    median and the 95 % band; Bruneck's cases and OR marked."""
    panels = [(CASES, "incident cases", False, BRUNECK_CASES), (LOG_OR, "sRANKL tertile OR", True, BRUNECK_OR[0]),
              *((c, f"RR {c.removeprefix(LOG_RR)}", True, 1.0) for c in rr_columns)]
    fig = _figure((3.2 * len(panels), 2.8))
    for k, (col, label, is_log, mark) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), k + 1)
        v = pd.to_numeric(table.get(col, pd.Series(dtype=float)), errors="coerce").dropna().to_numpy(float)
        v = np.exp(v) if is_log else v
        if len(v):
            ax.hist(v, bins=min(20, max(5, len(v) // 3)), color="#9ecae1", edgecolor="white")
            for q, style in ((0.5, "-"), (0.025, ":"), (0.975, ":")):
                ax.axvline(float(np.quantile(v, q)), color="#08519c", ls=style, lw=1)
        ax.axvline(mark, color="#d62728", lw=1)
        ax.set_xlabel(label, fontsize=8)
        ax.set_title(f"n = {len(v)} members", fontsize=8)
    return _finish(fig, path)
