"""Regenerate the derived reference parameters and the reference initial state.

Kept for its command line; the work is done by ``ranklsim.regenerate`` (``ranklsim dev regenerate``),
which rebuilds ids.py, the derived rows of ``parameters.tsv``, ``initial_state.tsv``, the PEtab
problems and the parameter counts of docs/model.md.

    python tools/calibrate_reference.py
"""

from __future__ import annotations

import argparse

from ranklsim.regenerate import regenerate


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.parse_args(argv)
    if not regenerate(log=print):
        print("all generated files are current")


if __name__ == "__main__":
    main()
