"""Print the counts of parameters.tsv rows per module and source category (docs/model.md Section 17).

    python tools/parameter_summary.py           # print the counts sentence and both tables
    python tools/parameter_summary.py --write   # also update them in docs/model.md Section 17

The counting is ``ranklsim.models.summary``; ``ranklsim dev regenerate`` keeps docs/model.md in step
together with the other generated files.
"""

from __future__ import annotations

import argparse

from ranklsim.models.summary import id_counts, read_rows, tables, update
from ranklsim.regenerate import CHECKOUT, DOCS


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="update docs/model.md Section 17")
    args = ap.parse_args(argv)
    rows = read_rows()
    n_ids, n_split, n_rows = id_counts(rows)
    print(f"{n_ids} parameter ids, {n_split} with separate human and mouse rows, {n_rows} rows\n")
    print(tables(rows))
    if args.write:
        docs = CHECKOUT / DOCS
        docs.write_text(update(docs.read_text(), rows))
        print(f"\nupdated {DOCS}")


if __name__ == "__main__":
    main()
