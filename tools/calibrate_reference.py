"""Regenerate the derived reference parameters and the reference initial state.

Kept for its command line; the work is done by ``ranklsim.regenerate`` (``ranklsim dev regenerate``),
which rebuilds ids.py, the derived rows of ``parameters.tsv``, ``initial_state.tsv``, the PEtab
problems and the parameter counts of docs/model.md.  Without ``--keep-normalisation`` gng_ref and
irs_ref are recomputed (``ranklsim dev regenerate --renormalise``).

    python tools/calibrate_reference.py [--keep-normalisation]
"""

from __future__ import annotations

import argparse

from ranklsim.regenerate import regenerate


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keep-normalisation", action="store_true",
                    help="keep gng_ref and irs_ref (use after adopting fitted parameters)")
    args = ap.parse_args(argv)
    if not regenerate(keep_normalisation=args.keep_normalisation, log=print):
        print("all generated files are current")


if __name__ == "__main__":
    main()
