"""Documented constants shared across the package (like petab's ``C.py``).

Model *parameters* live in ``models/parameters.tsv`` and nowhere else; this module holds only unit
conversions, physical constants of drugs, fixed study protocol values and numerical settings that
several modules share.  Import them by name; never retype the numbers.
"""

from __future__ import annotations

# ----------------------------------------------------------------------------- time
#: minutes in a day: the model runs in minutes, the chronic view reports days
MINUTES_PER_DAY: float = 1440.0
#: days in a (model) year: cohort follow-up, examination schedules, dosing intervals
DAYS_PER_YEAR: float = 365.0
#: longest cohort follow-up, years: the follow-up the cohort is calibrated on (the Bruneck
#: examinations 0, 5, 10, 15 years; Kiechl 2013).  The library and the command line refuse more.
MAX_FOLLOW_UP_YEARS: float = 15.0

# ----------------------------------------------------------------------------- units
#: pmol of insulin per mU (and per uU/mL -> pmol/L); Heinemann 2010, Diabetes Technol Ther 12:S-2
PMOL_PER_MU: float = 6.0
#: mg/dL of glucose per mmol/L (molar mass 180.16 g/mol / 10)
MG_DL_PER_MMOL: float = 18.0
#: mg per g: scenario glucose loads are given in g (and g/kg), the protocols take mg (and mg/kg)
MG_PER_G: float = 1e3

# ----------------------------------------------------------------------------- drugs
#: metformin base molar mass, g/mol (PubChem CID 4091): concentrations are reported as base
METFORMIN_BASE_MW: float = 129.16
#: metformin hydrochloride molar mass, g/mol (PubChem CID 14219): tablets are dosed as the salt
METFORMIN_HCL_MW: float = 165.62

# ----------------------------------------------------------------------------- test protocols
#: standard human oral glucose tolerance test load, mg (WHO 1999: 75 g anhydrous glucose)
OGTT_HUMAN_MG: float = 75_000.0
#: standard mouse glucose tolerance test load, mg per kg body weight (Ayala 2010, Dis Model Mech 3:525)
GTT_MOUSE_MG_PER_KG: float = 2_000.0
#: clamp insulin infusion rates, mU/kg/min: human 1 (DeFronzo 1979 standard, the M value), mouse 2.5 (the
#: standard conscious-mouse clamp, Ayala et al. 2006 Diabetes 55:390)
CLAMP_HUMAN_MU_PER_KG_PER_MIN: float = 1.0
CLAMP_MOUSE_MU_PER_KG_PER_MIN: float = 2.5

# ----------------------------------------------------------------------------- numerics
#: value an objective returns when a simulation fails: large but finite, so optimisers continue
FAILED_VALUE: float = 1e10
#: relaxation to steady state, days: the slowest reference mode is the 30-day glycaemia memory of
#: hepatic NF-kB tone, so 3 years are > 36 time constants (residual < 1e-15 of a perturbation)
RELAX_DAYS: float = 3 * DAYS_PER_YEAR
