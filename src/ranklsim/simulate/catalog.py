"""What a scenario may name: species variants, genotype changes, diets, drugs, test kinds,
virtual subjects.  Each entry is data (a frozen dataclass) that maps onto model parameters;
the runner and the scenario validator both read this one catalogue.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ranklsim.constants import METFORMIN_HCL_MW
from ranklsim.models.ids import P, V
from ranklsim.models.parameters import HOLD_BETA_CELL_MASS, parameter_table

# ----------------------------------------------------------------------------- species


@dataclass(frozen=True)
class Variant:
    """A species variant: which model parameter set it runs and whose RANKL it carries."""

    name: str
    model_species: str  # "human" | "mouse" (parameter set)
    rankl: str  # species of the RANKL protein ("human" for the huRANKL knock-in)
    description: str


SPECIES_VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant("human", "human", "human", "adult human (Dalla Man 2007 reference subject, 78 kg)"),
        Variant("mouse", "mouse", "mouse", "adult C57BL/6J mouse (25 g)"),
        Variant("mouse-huRANKL", "mouse", "human",
                "mouse with a human RANKL knock-in (Kostenuik 2009 JBMR), so denosumab binds"),
    )
}

# ----------------------------------------------------------------------------- genotypes


@dataclass(frozen=True)
class GenotypeSpec:
    """A named genetic modification.

    ``parameter`` is the expression switch it changes.  Knockouts/knockdowns set it to
    ``1 - fraction`` (fraction 1 = complete knockout); gain-of-function changes set it to
    ``fraction * full_value`` (constitutive activity) or to ``fold`` (overexpression).
    """

    name: str
    parameter: str
    kind: str  # "loss" | "gain" | "fold"
    description: str
    source: str
    full_value: float = 1.0
    default_fold: float = 1.0
    species: tuple[str, ...] = ("human", "mouse")

    def overrides(self, fraction: float = 1.0, fold: float | None = None) -> dict[str, float]:
        if self.kind == "loss":
            return {self.parameter: 1.0 - fraction}
        if self.kind == "gain":
            return {self.parameter: fraction * self.full_value}
        return {self.parameter: self.default_fold if fold is None else fold}


GENOTYPES: dict[str, GenotypeSpec] = {
    g.name: g
    for g in (
        GenotypeSpec("hepatic_rank_ko", P.rank_hep_expr, "loss",
                     "hepatocyte-specific Rank knockout (liver RANK = 0, bone RANK untouched)",
                     "Kiechl 2013 Nat Med 19:358 (Alb-Cre assumed, not confirmed)"),
        GenotypeSpec("opg_ko", P.opg_expr, "loss", "OPG (Tnfrsf11b) knockout: no OPG production",
                     "Bucay 1998 Genes Dev 12:1260 [memory]"),
        GenotypeSpec("rankl_overexpression", P.rankl_expr, "fold",
                     "sRANKL overexpression: sRANKL production x fold (default 3)",
                     "assumed fold; transgenic sRANKL mice (Mizuno 2002 J Bone Miner Metab) [memory]",
                     default_fold=3.0),
        GenotypeSpec("hepatic_ikkb_ca", P.ikk_ca, "gain",
                     "hepatocyte constitutively active IKKb (LIKK mouse)",
                     "Cai 2005 Nat Med 11:183; activity level assumed (ikk_ca_likk)",
                     full_value=0.005),
        GenotypeSpec("hepatic_ikba_sr", P.sr_expr, "gain",
                     "hepatocyte IkBa super-repressor (LISR mouse): non-degradable IkBa sequesters NF-kB",
                     "Cai 2005 Nat Med 11:183; transgene level assumed (nf_sr_syn)",
                     full_value=1.0),
        GenotypeSpec("hepatic_ikkb_ko", P.ikk_expr, "loss",
                     "hepatocyte IKKb knockout (no IKK in the hepatic NF-kB module)",
                     "Arkan 2005 Nat Med 11:191 (LIKKb-/-) [memory]"),
        GenotypeSpec("hepatic_ir_ko", P.ir_hep_expr, "loss",
                     "liver insulin-receptor knockout (LIRKO)",
                     "Michael 2000 Mol Cell 6:87 [memory]; Fisher & Kahn 2003 JCI 111:463"),
    )
}

# ----------------------------------------------------------------------------- diets


@dataclass(frozen=True)
class DietSpec:
    name: str
    fat_input: float  # value of diet_fat
    description: str


DIETS: dict[str, DietSpec] = {
    d.name: d
    for d in (
        DietSpec("chow", 0.0, "standard chow / usual diet (reference)"),
        DietSpec("hfd", 1.0, "high-fat diet (~60 % energy from fat)"),
    )
}

# ----------------------------------------------------------------------------- drugs


@dataclass(frozen=True)
class DrugSpec:
    """A drug: its PK slot in the model, which RANKL it binds, routes and dose units."""

    name: str
    slot: str  # "antibody" | "opg_fc" | "metformin"
    description: str
    binds_rankl: tuple[str, ...]  # RANKL species bound (empty: does not bind RANKL)
    model_species: tuple[str, ...]  # parameter sets with PK for this drug
    routes: tuple[str, ...]
    mw_g_per_mol: float
    default_dose: float
    default_unit: str
    source: str
    pk_overrides: dict[str, dict[str, float]] = field(default_factory=dict)  # per model species


DRUGS: dict[str, DrugSpec] = {
    d.name: d
    for d in (
        DrugSpec("denosumab", "antibody", "human anti-RANKL IgG2 (Prolia/Xgeva)", ("human",),
                 ("human", "mouse"), ("sc", "iv"), 147_000.0, 60.0, "mg",
                 "Prolia label (MW, 60 mg q6mo); PK: Peterson 2004 AAPS J abstract (OpenBoneMin)"),
        DrugSpec("anti_mouse_rankl", "antibody", "anti-mouse RANKL monoclonal antibody (e.g. IK22-5)",
                 ("mouse",), ("mouse",), ("sc", "ip", "iv"), 150_000.0, 5.0, "mg/kg",
                 "assumed: typical mouse IgG PK; Kd as denosumab"),
        DrugSpec("opg_fc", "opg_fc", "OPG-Fc fusion protein (dimeric decoy receptor)",
                 ("human", "mouse"), ("human", "mouse"), ("sc", "ip", "iv"), 110_000.0, 1.0, "mg/kg",
                 "Zierhut 2008 J Pharmacokinet Pharmacodyn 35:379 (DDMoRe 233); mouse allometric"),
        DrugSpec("metformin", "metformin", "metformin hydrochloride, oral", (), ("human",), ("oral",),
                 METFORMIN_HCL_MW, 500.0, "mg",
                 "PK fitted to Zake 2021 PLoS ONE PBPK (BIOMD0000001028); effects: see parameters"),
    )
}

#: metformin dosing shorthands: doses per day
METFORMIN_REGIMENS = {"qd": 1, "bid": 2, "tid": 3}

# ----------------------------------------------------------------------------- tests

TEST_KINDS = ("fasting", "ogtt", "ipgtt", "itt", "clamp")

# ----------------------------------------------------------------------------- subjects


@dataclass(frozen=True)
class SubjectSpec:
    """A virtual subject: parameter changes from the species reference."""

    name: str
    species: tuple[str, ...]
    description: str
    overrides: dict[str, float]
    source: str


#: the progressor's compensated insulin resistance and beta-cell fragility (assumed: a workload above
#: its critical value, so capacity fails over years; tests/test_progression.py)
PROGRESSOR_IR_COMP, PROGRESSOR_FRAGILITY = 2.0, 1.75
#: human reference values the subjects scale (read from parameters.tsv, never retyped)
_HUMAN = parameter_table("human")
_U0 = _HUMAN[P.u_infl0].value  # basal hepatic inflammatory input
_BETA_REF = _HUMAN[P.beta_ref].value  # reference beta-cell mass


def _obese_dysglycaemic(beta_function: float, inflammation_fold: float, g_periph: float,
                        ir_comp: float = 1.0) -> dict[str, float]:
    """Overrides of an obese adult (adiposity trait 1, independent of diet periods) with beta-cell
    function ``beta_function`` of the reference, ``inflammation_fold`` x the basal hepatic
    inflammatory input, peripheral insulin resistance ``g_periph`` and compensated insulin
    resistance ``ir_comp`` (scales insulin, leaves glucose unchanged)."""
    return {P.adiposity: 1.0, P.beta_ref: _BETA_REF / beta_function, P.u_infl0: inflammation_fold * _U0,
            P.g_periph: g_periph, P.ir_comp: ir_comp}


#: the human intervention subjects hold the slow beta-cell states (HOLD_BETA_CELL_MASS: a subject defined
#: by its fasting state stays in it); the progressor's beta-cell capacity and mass evolve
SUBJECTS: dict[str, SubjectSpec] = {
    s.name: s
    for s in (
        SubjectSpec("reference", ("human", "mouse"), "the species' reference parameter set", {},
                    "parameters.tsv"),
        SubjectSpec("normoglycaemic", ("human",), "normoglycaemic adult (FPG 5.1 mmol/L)",
                    dict(HOLD_BETA_CELL_MASS), "Dalla Man 2007 reference subject"),
        SubjectSpec("prediabetic", ("human",),
                    "impaired fasting glucose (FPG ~6.0 mmol/L, insulin ~48 pmol/L, HOMA-IR ~2.1): "
                    "obesity, 2x hepatic inflammatory input, peripheral insulin resistance, "
                    "beta-cell function 52 %, compensated insulin resistance 1.7",
                    {**HOLD_BETA_CELL_MASS, **_obese_dysglycaemic(0.52, 2.0, 3.0, 1.7)},
                    "assumed; calibrated to the IFG range 5.6-6.9 mmol/L (ADA); recalibrated 2026-12-05 "
                    "(beta-cell function for the FPG, ir_comp for the insulin; tests/test_subjects.py)"),
        SubjectSpec("diabetic", ("human",),
                    "type 2 diabetes (FPG ~7.9 mmol/L, insulin ~69 pmol/L, HOMA-IR ~4.0): obesity, "
                    "4x hepatic inflammatory input, strong peripheral insulin resistance, "
                    "beta-cell function 22 %, compensated insulin resistance 2.7",
                    {**HOLD_BETA_CELL_MASS, **_obese_dysglycaemic(0.22, 4.0, 12.0, 2.7)},
                    "assumed; calibrated to treatment-naive T2D (FPG ~8 mmol/L, HOMA-IR ~4); recalibrated "
                    "2026-12-05 (beta-cell function for the FPG, ir_comp for the insulin; "
                    "tests/test_subjects.py)"),
        SubjectSpec("progressor", ("human",),
                    "obese, insulin-resistant adult whose fragile beta cells cannot sustain the secretory "
                    "workload, so beta-cell capacity, mass and glucose control fail over years",
                    {**_obese_dysglycaemic(0.8, 2.0, 3.0, PROGRESSOR_IR_COMP), P.sig_frag: PROGRESSOR_FRAGILITY},
                    "assumed: workload-driven beta-cell failure (Ha, Satin & Sherman 2016 Endocrinology 157:624; "
                    "docs/model.md Section 6); fragility chosen so FPG reaches 7 mmol/L after years of IFG"),
    )
}


def beta_ref_for_fpg(model, subject: str, fpg_mg_dl: float, xtol: float = 1e-3) -> float:
    """``beta_ref`` (beta-cell function; larger = weaker) that gives virtual subject ``subject`` a
    steady-state fasting glucose of ``fpg_mg_dl`` in ``model`` (a chronic-view
    :class:`~ranklsim.simulate.simulator.Model`): Brent's method between the subject's own ``beta_ref``
    and the table's upper bound (raises ``ValueError`` if that range does not reach the target)."""
    from scipy.optimize import brentq  # lazy: scipy.optimize costs ~0.1 s to import

    ov = SUBJECTS[subject].overrides
    return float(brentq(lambda b: model.steady_state({**ov, P.beta_ref: b}, [V.G])[V.G] - fpg_mg_dl,
                        ov[P.beta_ref], model.parameters[P.beta_ref].upper, xtol=xtol))
