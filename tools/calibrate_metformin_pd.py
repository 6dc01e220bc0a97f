"""Scan ``met_G50_egp`` (the glycaemic gate of metformin's EGP effect) against tracer data and print
the best value (writes nothing: edit the shared ``met_G50_egp`` row of parameters.tsv by hand, then
run ``ranklsim dev regenerate``).

Protocol: metformin 1000 mg twice daily for 90 days, fasting readout 12 h after the last (evening)
dose, i.e. the pre-dose trough, in a virtual type 2 diabetic whose untreated fasting glucose equals
the trial's baseline: the ``diabetic`` subject with ``beta_ref`` raised (beta-cell function lowered)
until its steady-state FPG is 220 mg/dL.  Targets (Stumvoll et al. 1995 NEJM 333:550, obese type 2
diabetes, FPG ~220 mg/dL): basal hepatic glucose output -24 % and fasting plasma glucose -20 %
(44 mg/dL).  Cost: sum of the squared relative errors of the two.  ``met_EC50_egp`` (18 uM) and
``met_n_gate`` stay at their table values: with these two numbers only one of the three is
identifiable.

The other subjects are printed as predictions, not fitted: ``normoglycaemic`` (Gormsen et al. 2019
Diabetologia 62:1251: no fall in FPG or EGP in non-diabetic people on 2 g/day), ``prediabetic`` and
``diabetic`` (small falls expected: DPP, Knowler 2002 NEJM 346:393) and an FPG 228 mg/dL subject
(Hundal et al. 2000 Diabetes 49:2063: EGP -24 %, FPG -30 % from 15.5 mmol/L; with the double insulin
route the model could not make a steady state above ~230 mg/dL within its beta-cell bounds; since the
one-route EGP law it can (tests/test_egp_route.py: 15 mmol/L), but this subject was kept at 228 mg/dL).

Result (2026-12-06, after the one-route EGP law of issue 12 item 3): met_n_gate 4, flat optimum at G50
150-170 mg/dL; 160 adopted (2026-12-05, double insulin route: 190; docs/model.md Section 7).

    python tools/calibrate_metformin_pd.py [--grid 170,180,190,200]
"""

from __future__ import annotations

import argparse

from ranklsim.models.ids import P, V
from ranklsim.simulate import load_model
from ranklsim.simulate.catalog import beta_ref_for_fpg
from ranklsim.simulate.runner import run_scenario
from ranklsim.simulate.scenario import loads_scenario

EGP_FALL = 0.24  # Stumvoll 1995: basal hepatic glucose output -24 %
FPG_FALL_MG_DL = 44.0  # Stumvoll 1995: FPG -20 % of ~220 mg/dL
STUMVOLL_FPG = 220.0  # mg/dL, baseline of the Stumvoll 1995 patients
HUNDAL_FPG = 228.0  # mg/dL: the double-route model's highest steady state (Hundal 2000: 279 mg/dL; not moved)
_TREAT = 'treatments = [{ drug = "metformin", dose = 1000.0, unit = "mg", regimen = "bid", n_doses = 180 }]\n'


def _arms(g50: float) -> tuple[str, list[str]]:
    chronic = load_model("human", "chronic")
    subjects = [("normoglycaemic", "normoglycaemic", {}), ("prediabetic", "prediabetic", {}),
                ("diabetic", "diabetic", {}),
                ("fpg220", "diabetic", {P.beta_ref: beta_ref_for_fpg(chronic, "diabetic", STUMVOLL_FPG)}),
                ("fpg228", "diabetic", {P.beta_ref: beta_ref_for_fpg(chronic, "diabetic", HUNDAL_FPG)})]
    text = ""
    for name, subject, extra in subjects:
        ov = ", ".join(f"{k} = {v:.8g}" for k, v in {**extra, P.met_G50_egp: g50}.items())
        for suffix, tr in (("", ""), ("+met", _TREAT)):
            text += f'[[arms]]\nname = "{name}{suffix}"\nsubject = "{subject}"\noverrides = {{ {ov} }}\n{tr}'
    return text, [s[0] for s in subjects]


def effects(g50: float) -> dict[str, tuple[float, float, float, float]]:
    """Subject -> (untreated FPG mg/dL, FPG fall mg/dL, relative EGP fall, relative FPG fall) at day 90."""
    arms, names = _arms(g50)
    text = 'name = "met-pd-scan"\nspecies = "human"\nduration_days = 90.0\n[[tests]]\nkind = "fasting"\n' + arms
    res = run_scenario(loads_scenario(text))
    if res.failures:
        raise RuntimeError(res.failures)
    out = {}
    for n in names:
        g0, e0 = res.value(n, V.G), res.value(n, V.EGP)
        g1, e1 = res.value(n + "+met", V.G), res.value(n + "+met", V.EGP)
        out[n] = (g0, g0 - g1, 1.0 - e1 / e0, 1.0 - g1 / g0)
    return out


def cost(eff: dict[str, tuple[float, float, float, float]]) -> float:
    _, dg, de, _ = eff["fpg220"]
    return (de / EGP_FALL - 1.0) ** 2 + (dg / FPG_FALL_MG_DL - 1.0) ** 2


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--grid", default="170,180,190,200", help="G50 values to try (mg/dL, comma-separated)")
    args = ap.parse_args(argv)
    results = {}
    for g50 in (float(x) for x in args.grid.split(",")):
        eff = results[g50] = effects(g50)
        print(f"G50 {g50:g} mg/dL: cost {cost(eff):.4f}")
        for n, (g0, dg, de, rg) in eff.items():
            print(f"   {n:15s} FPG {g0:6.1f} mg/dL: FPG -{dg:5.1f} mg/dL (-{100 * rg:4.1f} %), EGP -{100 * de:4.1f} %")
    best = min(results, key=lambda g: cost(results[g]))
    print(f"best met_G50_egp = {best:g} mg/dL")


if __name__ == "__main__":
    main()
