"""Replicate Bruneck cohorts: ``ranklsim replicates`` with the defaults of the documented study.

Runs ``--replicates`` cohorts of 844 people (seeds 1..R, 15 years, examinations at 0/5/10/15 y) with
the default population and model on ``--workers`` processes and writes
``docs/figures/cohort_replicates.csv`` (one row per seed), ``cohort_replicates.json`` (medians,
quantiles, share of 95 % CIs containing 4.06) and ``cohort_replicates.png``.  With
``--arms control,denosumab,...`` every replicate runs those intervention arms (same people in every
arm) and ``cohort_arms_replicates.{csv,json,png}`` are written instead.  The computation lives in
:mod:`ranklsim.cohort.replicates`; every option of ``ranklsim replicates --help`` is accepted and
overrides the defaults below.

    python tools/cohort_replicates.py --replicates 100 --workers 2
"""

from __future__ import annotations

import sys
from pathlib import Path

from ranklsim.cli import main

OUT = Path(__file__).resolve().parents[1] / "docs" / "figures"
DEFAULTS = ["--replicates", "100", "--workers", "2", "--out", str(OUT)]

if __name__ == "__main__":
    sys.exit(main(["replicates", *DEFAULTS, *sys.argv[1:]]))
