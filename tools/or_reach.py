"""How far the one route can carry the Bruneck association: the sRANKL tertile OR over the two quantities
that set it most directly (issue 15, the OR target; a study for the team's decision, not a calibration).

The sRANKL tertile OR of a control cohort is computed on a grid of

* ``f_rank_stim``, hepatic RANK's share of the reference hepatic IKK drive (assumed; table range 0-0.5,
  default 0.15), and
* ``rankl_log_sd``, the between-person log-SD of sRANKL production (default 0.6, from the 42-fold range of
  plasma sRANKL in 566 healthy adults; the free sRANKL of 46 patients with primary hyperparathyroidism,
  1.1 +- 1.7 pmol/L, range 0.04-6.24, spans a log-SD of about 1.1: docs/data-sources.md Section 2),

every other parameter at its default (the population's incidence calibration included, so the case
count drifts with the grid), plus the corner with the IKK -> IRS1-Ser link switched off (``ikk_irs_on`` =
0), whose OR must be about 1.  Writes ``or_reach.csv`` (one row per cell), ``or_reach.json`` (the run
record and the rows) and ``or_reach.png`` into ``--out`` (default docs/figures).

    python tools/or_reach.py [--n 4000] [--seed 11] [--workers 2] [--out docs/figures]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from ranklsim.cohort.analysis import analysed, incidence, odds_ratio
from ranklsim.cohort.population import PopulationSpec
from ranklsim.cohort.runner import run_cohort
from ranklsim.models.ids import P
from ranklsim.parallel import ProcessPoolEngine

OUT = Path(__file__).resolve().parents[1] / "docs" / "figures"
#: grid values: hepatic RANK share of the reference IKK drive (default first, table maximum last)
RANK_SHARES = (0.15, 0.3, 0.5)
#: grid values: log-SD of sRANKL production (default first; the patient series' spread last)
RANKL_LOG_SDS = (0.6, 0.85, 1.1)


def cell(engine, n: int, seed: int, share: float, log_sd: float, link: float = 1.0) -> dict:
    """One control cohort: its cases and sRANKL tertile OR (95 % CI)."""
    spec = replace(PopulationSpec(n=n, seed=seed), rankl_log_sd=log_sd)
    t0 = time.perf_counter()
    res = run_cohort(spec, engine=engine, model_overrides={P.f_rank_stim: share, P.ikk_irs_on: link})
    data = analysed(res.people)
    ratio, inc = odds_ratio(data), incidence(data)
    return {
        P.f_rank_stim: share,
        "rankl_log_sd": log_sd,
        P.ikk_irs_on: link,
        "followed": inc["n"],
        "cases": inc["cases"],
        "or": ratio["or"],
        "ci_low": ratio["ci_low"],
        "ci_high": ratio["ci_high"],
        "wall_s": round(time.perf_counter() - t0, 1),
    }


def plot(rows: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    on = rows[rows[P.ikk_irs_on] == 1.0]
    for log_sd, grp in on.groupby("rankl_log_sd"):
        ax.errorbar(
            grp[P.f_rank_stim],
            grp["or"],
            yerr=[grp["or"] - grp["ci_low"], grp["ci_high"] - grp["or"]],
            marker="o",
            capsize=3,
            label=f"sRANKL log-SD {log_sd:g}",
        )
    off = rows[rows[P.ikk_irs_on] == 0.0]
    ax.plot(off[P.f_rank_stim], off["or"], "kx", ms=9, label="IKK → IRS1-Ser off")
    ax.axhspan(3.0, 5.5, color="0.85", label="issue 15 target 3 to 5.5")
    ax.axhline(4.06, color="0.4", ls="--", lw=1, label="Bruneck 4.06")
    ax.set_xlabel("hepatic RANK share of the reference IKK drive (f_rank_stim)")
    ax.set_ylabel("sRANKL tertile OR (95 % CI)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    with ProcessPoolEngine(args.workers) as engine:
        grid = [(s, sd, 1.0) for sd in RANKL_LOG_SDS for s in RANK_SHARES]
        for share, log_sd, link in [*grid, (RANK_SHARES[-1], RANKL_LOG_SDS[-1], 0.0)]:
            rows.append(cell(engine, args.n, args.seed, share, log_sd, link))
            print(json.dumps(rows[-1]), flush=True)
    frame = pd.DataFrame(rows)
    frame.to_csv(args.out / "or_reach.csv", index=False)
    record = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": platform.platform(),
        "command": "python tools/or_reach.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "n": args.n,
        "seed": args.seed,
        "rows": rows,
    }
    (args.out / "or_reach.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    plot(frame, args.out / "or_reach.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
