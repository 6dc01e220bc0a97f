"""Fit the light metformin PK (pk.ant) to the Zake 2021 PBPK model's single-dose profiles and write the
fitted values into parameters.tsv.

Targets (our simulation of BioModels BIOMD0000001028, Zake et al. 2021 PLoS ONE, 389.92 mg metformin
base PO; docs/model.md Section 7): plasma Cmax 6.07 uM at 1.9 h, portal vein Cmax 15.1 uM at 1.2 h,
liver Cmax 71.8 uM at 1.4 h; terminal plasma half-life 3.16 h (500 mg, n = 24; docs/data-sources.md
§5).  The human rows of met_ka, met_V, met_CL and met_Kp take the fitted values; the mouse rows are
the allometric placeholders of Section 7 (volumes x 0.025/70, flows x (0.025/70)^0.75, met_ka and
met_Kp as human).  Then ``ranklsim dev regenerate`` rebuilds the files that embed the values (the PEtab
problems).

    python tools/calibrate_metformin.py [--dry-run]
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy.optimize import least_squares

from ranklsim import load_model
from ranklsim.constants import METFORMIN_BASE_MW
from ranklsim.models.ids import P, V
from ranklsim.models.parameters import HUMAN, MOUSE
from ranklsim.models.tables import update_parameter_values
from ranklsim.regenerate import regenerate
from ranklsim.simulate import Event

#: single oral dose of the PBPK simulation: 389.92 mg metformin base, in umol
DOSE_UMOL = 389.92e3 / METFORMIN_BASE_MW
TARGETS = {"plasma": (6.07, 1.9), "portal": (15.1, 1.2), "liver": (71.8, 1.4)}
HALF_LIFE_H = 3.16
FITTED = (P.met_ka, P.met_V, P.met_CL, P.met_Kp)
#: mouse / human body weight (25 g / 70 kg) and the allometric exponent of each fitted parameter
BODY_WEIGHT_RATIO = 0.025 / 70.0
ALLOMETRIC_EXPONENT = {P.met_ka: 0.0, P.met_V: 1.0, P.met_CL: 0.75, P.met_Kp: 0.0}


def profile(values: dict[str, float]) -> dict[str, tuple[float, float]]:
    m = load_model(HUMAN)
    t = np.arange(0, 24 * 60 + 1, 2.0)
    r = m.simulate(times=t, overrides=values, events=[Event(0, V.Met_gut, DOSE_UMOL, "add")],
                   selections=[V.C_met, V.C_met_liv, V.C_met_po])
    out = {}
    for key, col in (("plasma", V.C_met), ("portal", V.C_met_po), ("liver", V.C_met_liv)):
        i = int(np.argmax(r[col]))
        out[key] = (float(r[col][i]), float(t[i] / 60))
    late = (t >= 12 * 60) & (t <= 20 * 60)
    slope = np.polyfit(t[late] / 60, np.log(r[V.C_met][late]), 1)[0]
    out["half_life"] = (float(np.log(2) / -slope), 0.0)
    return out


def residuals(x: np.ndarray) -> np.ndarray:
    prof = profile(dict(zip(FITTED, np.exp(x), strict=True)))
    res = []
    for key, (c, tmax) in TARGETS.items():
        res += [np.log(prof[key][0] / c), (prof[key][1] - tmax) / 0.5]
    res.append(np.log(prof["half_life"][0] / HALF_LIFE_H))
    return np.array(res)


def species_values(best: dict[str, float]) -> dict[str, dict[str, float]]:
    """Table values per id: the fitted human value and the allometric mouse placeholder."""
    return {pid: {HUMAN: x, MOUSE: x * BODY_WEIGHT_RATIO ** ALLOMETRIC_EXPONENT[pid]} for pid, x in best.items()}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dry-run", action="store_true", help="print the fitted values, write nothing")
    args = ap.parse_args(argv)
    m = load_model(HUMAN)
    x0 = np.log([m.parameter_value(p) for p in FITTED])
    fit = least_squares(residuals, x0, diff_step=1e-3)
    best = {k: float(v) for k, v in zip(FITTED, np.exp(fit.x), strict=True)}
    for k, v in best.items():
        print(f"{k}\t{v!r}")
    print(profile(best))
    if args.dry_run:
        return
    if update_parameter_values(species_values(best)):
        print("wrote the fitted values into parameters.tsv")
        regenerate(log=print)
    else:
        print("parameters.tsv already holds these values")


if __name__ == "__main__":
    main()
