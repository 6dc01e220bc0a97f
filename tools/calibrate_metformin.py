"""Fit the light metformin PK (pk.ant) to the Zake 2021 PBPK model's single-dose profiles.

Targets (../shared/reference/published-models.md s5.1, our simulation of BIOMD0000001028,
389.92 mg metformin base PO): plasma Cmax 6.07 uM at 1.9 h, portal vein Cmax 15.1 uM at
1.2 h, liver Cmax 71.8 uM at 1.4 h; terminal plasma half-life 3.16 h (500 mg, n = 24,
calibration-data.md s7.2).  Prints the fitted values to paste into parameters.tsv.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from scipy.optimize import least_squares

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from ranklsim import load_model
from ranklsim.models.ids import P, V
from ranklsim.simulate import Event

MET_BASE_MW = 129.16
DOSE_UMOL = 389.92e3 / MET_BASE_MW
TARGETS = {"plasma": (6.07, 1.9), "portal": (15.1, 1.2), "liver": (71.8, 1.4)}
HALF_LIFE_H = 3.16
FITTED = (P.met_ka, P.met_V, P.met_CL, P.met_Kp)


def profile(values: dict[str, float]) -> dict[str, tuple[float, float]]:
    m = load_model("human")
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
    prof = profile(dict(zip(FITTED, np.exp(x))))
    res = []
    for key, (c, tmax) in TARGETS.items():
        res += [np.log(prof[key][0] / c), (prof[key][1] - tmax) / 0.5]
    res.append(np.log(prof["half_life"][0] / HALF_LIFE_H))
    return np.array(res)


def main() -> None:
    m = load_model("human")
    x0 = np.log([m.parameter_value(p) for p in FITTED])
    fit = least_squares(residuals, x0, diff_step=1e-3)
    best = dict(zip(FITTED, np.exp(fit.x)))
    for k, v in best.items():
        print(f"{k}\t{v!r}")
    print(profile(best))


if __name__ == "__main__":
    main()
