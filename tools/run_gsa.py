"""Sobol global sensitivity analysis of the human prediabetic subject: ``ranklsim gsa``.

    ranklsim gsa --n-base 128 --workers 2 --out docs/figures

This script only forwards its arguments to ``ranklsim gsa`` (kept for old instructions); the
analysis lives in :mod:`ranklsim.fitting.gsa`.
"""

from __future__ import annotations

import sys

from ranklsim.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["gsa", *sys.argv[1:]]))
