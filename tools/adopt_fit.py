"""Fit the shipped PEtab problems and adopt the best fits as the default parameter values.

For each species: multistart fit of ``src/ranklsim/fitting/data/petab/<species>.yaml``; the
best parameters are written into ``parameters.tsv`` with a source that records what they were
fitted to, when, and the previous value.  A parameter stored once for both species is split
into a human and a mouse row when only one species' data inform it (``SPLIT``), otherwise the
shared row is updated (its source says which species' data).  Then the reference state is
regenerated (keeping the fitted normalisations) and the PEtab files rewritten.

    python tools/adopt_fit.py --starts 20 --workers 2 --out fits/

Needs an editable install (``pip install -e .``); the regeneration is
:func:`ranklsim.regenerate.regenerate` (as ``ranklsim regenerate``) with the fitted normalisations kept.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
from pathlib import Path

from ranklsim.cli_options import add_engine_options, engine_from_args, non_negative_int, positive_int
from ranklsim.fitting.multistart import run_multistart
from ranklsim.fitting.objective import PetabObjective
from ranklsim.fitting.problems import calibration_data, shipped_problem
from ranklsim.models.ids import P
from ranklsim.models.parameters import PARAMETER_TABLE, SPECIES_NAMES
from ranklsim.regenerate import regenerate

#: shared ("both") rows that become species-specific when fitted to one species' data
#: (the mouse HFD and beta-cell parameters were shared until 2026-12-06; the mouse refit on the new HFD
#: glucose datum split them, so the human keeps the values its cohort was calibrated with)
SPLIT = {"human": {P.gi_kp3, P.gi_Vm0, P.gi_Vmx}, "mouse": {P.g_rank_diet, P.g_infl_diet, P.bf_half}}


def adopt(species: str, best: dict[str, float], fval: float, n_starts: int) -> list[str]:
    rows = list(csv.reader(PARAMETER_TABLE.open(), delimiter="\t"))
    header, body = rows[0], rows[1:]
    col = {c: i for i, c in enumerate(header)}
    data = ", ".join(calibration_data(species).datum_id)
    today = dt.date.today().isoformat()
    changed = []
    out = []
    for row in body:
        pid, sp = row[col["id"]], row[col["species"]]
        if pid not in best or sp not in (species, "both"):
            out.append(row)
            continue
        note = (f"fitted {today} to PEtab problem {species}.yaml ({data}); best of {n_starts} "
                f"starts, nll {fval:.4f}; was {float(row[col['value']]):.6g} ({row[col['source']]})")
        if sp == "both" and pid in SPLIT[species]:
            keep = list(row)
            keep[col["species"]] = "mouse" if species == "human" else "human"
            new = list(row)
            new[col["species"]] = species
            new[col["value"]] = repr(best[pid])
            new[col["source"]] = note
            out += [new, keep]
        else:
            row = list(row)
            row[col["value"]] = repr(best[pid])
            row[col["source"]] = note if sp == species else note.replace(
                "fitted", f"fitted (to {species} data, used for both species)", 1)
            out.append(row)
        changed.append(f"{pid} ({species}): {best[pid]:.6g}")
    with PARAMETER_TABLE.open("w", newline="") as fh:
        csv.writer(fh, delimiter="\t", lineterminator="\n").writerows([header, *out])
    return changed


def fit_and_adopt(species: str, args: argparse.Namespace) -> None:
    """Multistart fit of the species' shipped problem; the best values go into parameters.tsv."""
    # the derived normalisers follow the estimated constants (docs/model.md Section 13): the adopted values
    # then give, after regeneration, exactly the fitted model
    obj = PetabObjective(shipped_problem(species), recompute_reference=True)
    out = Path(args.out) / species
    with engine_from_args(args, args.starts) as engine:
        res = run_multistart(obj, args.starts, seed=args.seed, engine=engine, out_dir=out, progress=True)
    res.save(out)
    print(species, "best nll", res.best_fval, "nominal nll", obj(obj.x_nominal))
    for line in adopt(species, obj.to_parameters(res.best_x), res.best_fval, args.starts):
        print("  adopted", line)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--starts", type=positive_int, default=20, help="multistart starts per species (>= 1)")
    ap.add_argument("--seed", type=non_negative_int, default=1)
    ap.add_argument("--out", default="fits", help="folder for the fit results (one sub-folder per species)")
    ap.add_argument("--species", nargs="+", choices=SPECIES_NAMES, default=["mouse", "human"])
    add_engine_options(ap)
    args = ap.parse_args(argv)
    for species in args.species:
        fit_and_adopt(species, args)
    # ids.py, the derived reference parameters with the fitted normalisations kept, the reference
    # initial state, the PEtab files (their nominal values are the adopted ones) and the docs summary
    regenerate(log=print)
    print("adopted; parameters.tsv, initial_state.tsv and the PEtab files are updated")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
