"""Regenerate the derived reference parameters and the reference initial state.

Derived rows of ``parameters.tsv`` (per species): L_prod, O_prod (free sRANKL/OPG at their
reference levels), gng_ref, irs_ref (hepatic modifiers = 1 at the reference fasting state),
topp_G_scale (Topp's 100 mg/dL fixed point = reference fasting glucose),..  Then the steady state is written to ``initial_state.tsv``.

Run from the repository root:  python tools/calibrate_reference.py
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np
import roadrunner

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from ranklsim.models import build, parameters

GUESS = {
    "L": 0.5, "O": 3.0, "LO": 0.0, "Dg": 0.0, "LD": 0.0,
    "IKKn": 0.2, "IKKa": 0.0, "IKKi": 0.0, "IKKa_IkBa": 0.0, "IKKa_IkBa_NFkB": 0.0,
    "IkBa": 0.0, "IkBa_NFkB": 0.06, "NFkB": 0.0, "NFkBn": 0.0, "IkBan": 0.0,
    "IkBan_NFkBn": 0.0, "IkBa_mRNA": 0.0, "A20_mRNA": 0.0, "A20": 0.0,
    "proIR": 46.22225, "IR": 46.22225, "p1IR": 0.0, "p2IR": 0.0, "p1p2IR": 0.0,
    "IRS1": 1.0, "beta_fn": 1.0, "G_pre": 100.0, "EGP_pre": 2.0, "IRS1_pY": 0.0, "IRS1_pS": 0.0, "AKT": 4.33812, "pAKT": 0.0,
    "mTOR": 0.09592, "pmTOR": 0.0, "FoxO1": 0.43571, "pFoxO1": 0.0, "G6Pase": 38.54029,
    "PEPCK": 1.0, "Qsto1": 0.0, "Qsto2": 0.0, "Qgut": 0.0, "X": 0.0, "Y": 0.0,
    "M_hep": 0.0, "A_diet": 0.0,
}


def _read_rows():
    with open(parameters.PARAMETER_TABLE, newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def _write_rows(rows):
    with open(parameters.PARAMETER_TABLE, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(parameters.COLUMNS), delimiter="\t", lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def set_derived(values: dict[str, dict[str, float]]) -> None:
    """Write species-specific values of derived parameters into the table."""
    rows = _read_rows()
    out = []
    for row in rows:
        pid = row["id"]
        if pid in values and row["species"] == "both":
            for sp in parameters.SPECIES_NAMES:
                new = dict(row, species=sp, value=repr(float(values[pid].get(sp, row["value"]))))
                out.append(new)
            continue
        if pid in values and row["species"] in values[pid]:
            row = dict(row, value=repr(float(values[pid][row["species"]])))
        out.append(row)
    _write_rows(out)
    parameters.parameter_table.cache_clear()


def guess(species: str) -> dict[str, float]:
    t = parameters.parameter_table(species)
    g = dict(GUESS)
    gb, ib = t["gi_Gb"].value, t["gi_Ib"].value
    g.update(Gp=gb * t["gi_VG"].value, Gt=gb * t["gi_VG"].value * 0.76, Ip=ib * t["gi_VI"].value,
             Il=ib * t["gi_VI"].value * 3.6, I1=ib, Id=ib, Ipo=t["gi_Sb"].value / t["gi_gamma"].value,
             G_mem=gb, beta=t["beta_ref"].value)
    g.update(parameters.initial_state(species))  # start from the last reference state if any
    return g


def steady(rr: roadrunner.RoadRunner) -> None:
    rr.integrator.relative_tolerance = 1e-9
    rr.integrator.absolute_tolerance = 1e-13
    rr.integrator.setValue("maximum_num_steps", 500000)
    # rate-rule states with conservation laws defeat NLEQ; relax by long integration
    # (slowest reference mode: 30-day glycaemia memory; 4e7 min = 900 time constants)
    for k in range(400):  # short segments: one huge step grinds at the max() kinks
        rr.simulate(k * 1e5, (k + 1) * 1e5, 2)


def make_runner(species: str) -> roadrunner.RoadRunner:
    build.build_sbml.cache_clear()
    import antimony

    text = build.build_antimony(species, initial=guess(species))
    antimony.clearPreviousLoads()
    assert antimony.loadAntimonyString(text) >= 0, antimony.getLastError()
    return roadrunner.RoadRunner(antimony.getSBMLString(build.MODEL_ID))


def reference_state(rr: roadrunner.RoadRunner, settings: dict[str, float]) -> roadrunner.RoadRunner:
    """Relax ``rr`` to the reference state with beta-cell mass frozen and ``settings`` applied."""
    rr.resetAll()
    for k in ("topp_d0", "topp_r1", "topp_r2"):
        rr[k] = 0.0
    for k, x in settings.items():
        rr[k] = x
    rr.reset()
    steady(rr)
    return rr


def calibrate(species: str, keep: tuple[str, ...] = ()) -> dict[str, float]:
    t = parameters.parameter_table(species)
    v = lambda k: t[k].value
    # analytic production rates for the reference free sRANKL and OPG
    L, O = v("L_ref"), v("O_ref")
    koff_lo = v("kon_LO") * v("Kd_LO")
    LO = v("kon_LO") * L * O / (koff_lo + v("k_LO_clr"))
    kd_eff = (v("kon_LR") * v("Kd_LR") + v("k_L_int")) / v("kon_LR")
    LR = (v("Rb_tot_wt") + v("Rh_tot_wt")) * L / (kd_eff + L)
    derived = {
        "L_prod": v("k_L_deg") * L + v("k_LO_clr") * LO + v("k_L_int") * LR,
        "O_prod": v("k_O_deg") * O + v("k_LO_clr") * LO,
    }
    rr = make_runner(species)
    settings = dict(derived, gng_ref=1.0, irs_ref=1.0)
    if keep:  # fitted values stay as they are (e.g. after adopting a calibration)
        settings.update({k: v(k) for k in ("gng_ref", "irs_ref")})
    for _ in range(0 if keep else 30):
        reference_state(rr, settings)
        new = {"gng_ref": rr["gng_index"], "irs_ref": rr["irs_avail"]}
        done = all(abs(new[k] / settings[k] - 1) < 1e-12 for k in new)
        settings.update(new)
        if done:
            break
    else:  # not converged (or nothing to iterate): leave rr at the final settings' state
        reference_state(rr, settings)
    settings["topp_G_scale"] = 100.0 / rr["G"]
    settings["G_bf_ref"] = rr["G"]
    settings["I_ref"] = rr["I"]
    settings["M_ref"] = rr["M_hep"]
    derived.update(settings)
    for k in keep:
        derived.pop(k, None)
    set_derived({k: {species: x} for k, x in derived.items()})
    state = {sid: rr[sid] for sid in rr.getRateRuleIds()}
    for sid in ("Rb", "LRb", "Rh", "LRh"):
        state.pop(sid, None)  # initial assignments (binding quasi-equilibrium)
    print(species, {k: round(float(x), 6) for k, x in derived.items()}, "G", rr["G"], "I", rr["I"], "EGP", rr["EGP"])
    return state


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--keep-normalisation", action="store_true",
                    help="keep gng_ref and irs_ref (use after adopting fitted parameters)")
    args = ap.parse_args()
    keep = ("gng_ref", "irs_ref") if args.keep_normalisation else ()
    states = {sp: calibrate(sp, keep) for sp in parameters.SPECIES_NAMES}
    with open(parameters.INITIAL_STATE_TABLE, "w", newline="") as fh:
        w = csv.writer(fh, delimiter="\t", lineterminator="\n")
        w.writerow(["id", "species", "value"])
        for sp, st in states.items():
            for sid, x in st.items():
                w.writerow([sid, sp, repr(float(np.float64(x)))])
    print("wrote", parameters.INITIAL_STATE_TABLE)


if __name__ == "__main__":
    main()
