"""Seeded virtual population for the Bruneck-style cohort.

Every person is a set of parameter overrides of the human chronic model plus the covariates of
the study (age, sex, BMI).  Sampling uses one :class:`numpy.random.Generator` seeded from
``PopulationSpec.seed`` and draws the variables in a fixed order, so the same spec gives an
identical frame on any machine and independently of how the cohort is later split into chunks.

Assumptions and sources (each distribution is also documented on its field):

* Age 40-79 uniform, sexes 1:1: Bruneck is a sex- and age-stratified random sample of the town's
  population aged 40-79 in 1990 (Kiechl 2013 Nat Med 19:358, study design).
* sRANKL production: log-normal multiplier, generated *independently* of age, sex, BMI and every
  other trait (Kiechl 2013: "sRANKL levels were unrelated to age and sex").  Its spread is an
  assumption (log-SD 0.6, i.e. top/bottom tertile medians ~3-fold apart), to be calibrated.
* BMI: normal, mean 25.5 kg/m^2, SD 3.8, rising 0.03 kg/m^2 per year of age, clipped to
  18-45 (assumption, typical of an Alpine 1990 population; Bruneck mean BMI ~25.5).
* Adiposity trait: linear in BMI, 0 at BMI 22 (lean reference), 1 at BMI 30 (the obese
  virtual subject of the catalogue), clipped to 0-2 (assumption).
* Three glycaemic traits, so that fasting and post-load glucose have partly separate causes and isolated
  IFG, isolated IGT and both arise (IFG: hepatic insulin resistance and altered beta-cell glucose
  sensing; IGT: muscle insulin resistance; Abdul-Ghani et al. 2006 Diabetes Care 29:1130, Faerch et al.
  2009 Diabetologia 52:1714):
  - hepatic trait z_IR (standard normal) scales the hepatic inflammatory input ``u_infl0`` (log-SD
    ``u_infl_log_sd``), times ``hep_sex_ratio`` in men (women at the reference): obese men have the
    lower hepatic insulin sensitivity (EGP suppression 61.7 vs 72.8 % in BMI-matched women, ter Horst
    et al. 2015 Front Endocrinol 6:182); the ratio 3.40 reproduces that difference in the model's
    low-insulin (0.25 mU/kg/min) clamp (tests/test_traits.py), and gives men a higher fasting glucose
    (FPG rises with male sex, calibration-data.md s8);
  - peripheral trait z_per, correlated ``rho_hep_per`` with z_IR (assumption), scales the peripheral
    insulin-resistance gain per adiposity ``g_periph`` (median ``g_periph_median``, log-SD
    ``g_periph_log_sd``, clipped to its table bounds): raises 2-h glucose, not fasting glucose;
  - beta-cell glucose set point ``dG_set`` (mg/dL; normal, mean ``set_mean`` 0, SD ``set_sd``, clipped
    to its table bounds): shifts the secretion threshold, raising fasting glucose with an unchanged
    post-load excursion (docs/model.md Section 5);
  - beta-cell function z_B, correlated ``rho_ir_beta`` with z_IR (assumption, -0.2), scales ``beta_ref``
    (larger = weaker function; log-SD ``beta_fn_log_sd``), which also declines 0.5 %/year of age over 60
    (assumption; age-related decline of insulin secretion): raises both.
  ``set_sd``, ``beta_fn_log_sd``, ``g_periph_median`` and ``g_periph_log_sd`` are calibrated (by hand,
  seed 1, 844 people, baseline OGTT) to the isolated-IFG and isolated-IGT prevalences of KORA (Southern
  Germany, aged 55-59, WHO 1999: 5.9 % and 11.8 %; Meisinger et al. 2010 Diabet Med 27:360) and to the
  fasting-glucose spread of low-risk adults (97.5th percentile 6.4 mmol/L, docs/data-sources.md s8).
* Compensated insulin resistance ``ir_comp`` (model parameter, docs/model.md section 5): insulin
  sensitivity divided and insulin secretion multiplied by it, so fasting glucose is unchanged and
  fasting insulin (and HOMA-IR) is ``ir_comp``-fold (hyperbolic law, Kahn 1993 Diabetes 42:1663).
  Without it HOMA-IR hardly varies (log-SD 0.13): in Dalla Man's model peripheral insulin action is
  relative to basal insulin, and the secretion loop holds fasting insulin near 25 pmol/L.
  log ir_comp = log(``ir_comp_median``) + ``ir_comp_bmi_slope`` * (BMI - ``bmi_mean``)
  + ``ir_comp_log_sd`` * z_C, with z_C correlated ``rho_comp_ir`` with z_IR (assumption: HOMA-IR
  rises ~5 %/kg/m^2 of BMI [memory]; shared insulin-resistance trait).  Median and log-SD are
  calibrated to Bruneck's HOMA-IR (tools/calibrate_cohort.py --homa): the top-quintile cut-off 2.77
  among nonobese people without metabolic disorder (Bonora 1998 Diabetes 47:1643; here BMI < 30 and
  baseline FPG < 6.1 mmol/L) and a population log-SD of 0.5 (US primary care IQRs 1.1-2.1 and
  1.7-3.5, docs/data-sources.md s8).  Drawn last, so it leaves every other draw (and, glucose
  being invariant to it, every diagnosis) of a seed unchanged.
* Beta-cell fragility ``sig_frag``: log-normal multiplier of the workload excess that erodes beta-cell
  secretory capacity (median ``frag_median``, log-SD ``frag_log_sd``, +``frag_age_slope`` per year of
  age over 60; assumption: genetic and age-related beta-cell susceptibility).  In the model
  (docs/model.md section 6) capacity relaxes towards sig_min + (1 - sig_min)/(1 + (sig_frag (w - 1)/w_tol)^n_w),
  w the secretion per unit beta-cell mass relative to the reference (ir_comp, hepatic and peripheral
  insulin resistance raise it; glucotoxic loss of mass raises it further).  During
  follow-up the person's compensated insulin resistance rises by ``ir_drift`` per year (log scale;
  column ``ir_drift``, normal with mean ``ir_drift_mean`` and SD ``ir_drift_sd`` cut at 0 (assumption:
  insulin resistance does not fall without an intervention), drawn last): insulin
  resistance rises with age and steeply in the years before diagnosis (Whitehall II, Tabak 2009 Lancet
  373:2215), so fasting insulin rises before fasting glucose and onsets spread over the examinations.
  ``frag_median`` and ``ir_drift_mean`` are calibrated to Bruneck's baseline prevalence and incidence
  (tools/calibrate_cohort.py).  sRANKL reaches diabetes only
  through hepatic insulin resistance (its secretory workload); a direct NF-kB effect on beta cells
  (``bd_infl``) is a hypothesis switch, off by default.
* OPG production: log-normal multiplier, log-SD 0.25, +1 %/year of age over 60 (serum OPG rises
  with age, Kudlacek 2003 Bone 32:681 [memory]; spread assumed).
* Height and body weight: height normal by sex, men 1.74 m, women 1.62 m, SD 0.068 m, shorter by
  0.12 cm per year of age over 60 (adults aged 20-74 in 10 European countries, 1987-94: mean men
  170-179 cm, women 160-167 cm, rising ~0.7-0.8 cm (men) and ~0.4 cm (women) per 5 birth years;
  Cavelaars et al. 2000, Ann Hum Biol 27:407; Austria's values, SD and the common slope are
  assumptions), clipped to 1.40-2.05 m; body weight ``BW`` = BMI x height^2.  Every flux of the
  glucose-insulin model is per kg, so body weight enters through the oral glucose load per kg (a
  fixed 75 g OGTT is a larger dose per kg for a smaller person): the shorter, lighter people (and so
  women) get higher 2-h glucose at the same fasting glucose, as in AusDiab (Sicree et al. 2008,
  Diabet Med 25:296: women 2-h glucose +0.3 mmol/L, fasting -0.3; the 2-h difference disappears
  after adjustment for height).  Fasting glucose does not depend on body weight in the model.
  Drawn after every other variable, so the other draws of a seed are unchanged.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from ranklsim.models.ids import P
from ranklsim.models.parameters import out_of_bounds, parameter_table

#: parameters whose human reference value (parameters.tsv) a person's value multiplies
SCALED_PARAMETERS = (P.L_prod, P.O_prod, P.u_infl0, P.beta_ref, P.sig_frag, P.ir_comp)
#: parameter-override columns of the population frame (in this order)
PARAMETER_COLUMNS = (P.L_prod, P.O_prod, P.adiposity, P.g_periph, P.u_infl0, P.beta_ref, P.sig_frag, P.ir_comp,
                     P.BW, P.dG_set)
#: parameter columns that may be zero or negative (a shift, not a multiplier or an amount); their table
#: bounds still apply
SIGNED_COLUMNS = (P.dG_set,)
#: column of the person's yearly log-rise of compensated insulin resistance during follow-up
IR_DRIFT = "ir_drift"
#: trait columns kept for analysis (multipliers and latent traits; the drift is used by the follow-up)
TRAIT_COLUMNS = ("rankl_mult", "opg_mult", "z_ir", "z_beta", "frag_mult", "z_comp", IR_DRIFT, "z_per", "z_set")
#: spec fields that are spreads (SDs, log-SDs): must be >= 0
#: covariate columns of a population (age years, sex "M"/"F", BMI kg/m^2, height m); height is
#: optional in a population table (body weight, a parameter column, carries the physiology)
COVARIATE_COLUMNS = ("age", "sex", "bmi", "height")
_OPTIONAL = ("height", *TRAIT_COLUMNS)
#: 95 % profile-likelihood intervals of the spec fields fitted to Bruneck's case counts
#: (tools/calibrate_cohort.py --fit, 2026-12-06 18:31 UTC on the one-route model; docs/figures/cohort_calibration.json;
#: tests/test_incidence_fit.py checks these numbers against that file); the defaults
#: of :class:`PopulationSpec` are the maximum-likelihood values, the uncertainty analysis
#: (:mod:`ranklsim.cohort.uncertainty`) samples these intervals
FITTED_INTERVALS = {"frag_median": (0.458, 0.595), "ir_drift_mean": (0.0024, 0.0201)}
#: the most people one population (and one cohort command) may hold (100,000 take ~10 min on 2
#: workers; more is a cluster job split over seeds or chunks)
MAX_PEOPLE = 10_000_000
#: ages the population may be drawn in, years [low, high): adults (the age terms of the traits are
#: linear in age around 60 and clipped; the population is calibrated on Bruneck's 40-79)
AGE_LIMITS = (18.0, 100.0)
_SPREADS = ("bmi_sd", "rankl_log_sd", "opg_log_sd", "g_periph_log_sd", "u_infl_log_sd", "beta_fn_log_sd",
            "frag_log_sd", "ir_comp_log_sd", "height_sd", "ir_drift_sd", "set_sd")


@dataclass(frozen=True)
class PopulationSpec:
    """Distributions of the virtual population (see the module docstring for sources)."""

    n: int = 844
    seed: int = 1
    age_min: float = 40.0  #: years, inclusive (Bruneck 40-79)
    age_max: float = 80.0  #: years, exclusive upper bound of the uniform draw
    male_fraction: float = 0.5  #: Bruneck sampled the sexes 1:1
    bmi_mean: float = 25.5  #: kg/m^2 at age 60 (assumption)
    bmi_sd: float = 3.8  #: kg/m^2 (assumption)
    bmi_age_slope: float = 0.03  #: kg/m^2 per year of age (assumption)
    bmi_min: float = 18.0
    bmi_max: float = 45.0
    bmi_lean: float = 22.0  #: adiposity 0 at and below this BMI (assumption)
    bmi_obese: float = 30.0  #: adiposity 1 at this BMI (assumption: catalogue's obese subject)
    rankl_log_sd: float = 0.6  #: log-SD of the sRANKL production multiplier (assumption)
    opg_log_sd: float = 0.25  #: log-SD of the OPG production multiplier (assumption)
    opg_age_slope: float = 0.01  #: log OPG production per year of age over 60 (Kudlacek 2003)
    g_periph_median: float = 3.0  #: peripheral IR gain per adiposity at z_per = 0 (calibrated: isolated-IGT prevalence)
    g_periph_log_sd: float = 1.0  #: log-SD of the peripheral IR gain per unit z_per (calibrated: isolated-IGT prevalence)
    rho_hep_per: float = 0.3  #: correlation of the peripheral trait z_per with the hepatic trait z_IR (assumption)
    u_infl_log_sd: float = 0.3  #: log-SD of the hepatic inflammatory input per unit z_IR (assumption)
    hep_sex_ratio: float = 3.40  #: men/women hepatic inflammatory input (calibrated: clamp EGP suppression, ter Horst 2015)
    set_mean: float = 0.0  #: mean beta-cell glucose set-point shift dG_set, mg/dL (assumption: the reference person)
    set_sd: float = 14.0  #: SD of dG_set, mg/dL (calibrated: isolated-IFG prevalence)
    beta_fn_log_sd: float = 0.2  #: log-SD of beta-cell function per unit z_B (calibrated with set_sd: FPG spread, IFG/IGT)
    beta_fn_age_slope: float = 0.005  #: fractional decline of beta-cell function per year over 60
    rho_ir_beta: float = -0.2  #: correlation of z_IR and z_B (assumption)
    frag_median: float = 0.5290  #: median beta-cell fragility (ML fit 2026-12-06, tools/calibrate_cohort.py --fit: 95 % PI 0.458-0.595)
    frag_log_sd: float = 0.3  #: log-SD of beta-cell fragility (assumption)
    frag_age_slope: float = 0.01  #: log fragility per year of age over 60 (assumption)
    ir_drift_mean: float = 0.0104  #: mean yearly rise of log insulin resistance (ML fit 2026-12-06: 95 % PI 0.0024-0.0201)
    ir_drift_sd: float = 0.02  #: its SD between people (assumption)
    ir_comp_median: float = 2.0554  #: median compensated insulin resistance at mean BMI (calibrated: HOMA-IR cut-off)
    ir_comp_log_sd: float = 0.3671  #: log-SD of ir_comp at given BMI (calibrated: HOMA-IR spread)
    ir_comp_bmi_slope: float = 0.05  #: log ir_comp per kg/m^2 of BMI (assumption)
    rho_comp_ir: float = 0.5  #: correlation of z_C with z_IR (assumption)
    height_male: float = 1.74  #: m at age 60 (Cavelaars 2000 range 1.70-1.79; assumption within it)
    height_female: float = 1.62  #: m at age 60 (Cavelaars 2000 range 1.60-1.67; assumption within it)
    height_sd: float = 0.068  #: m (assumption)
    height_age_slope: float = -0.0012  #: m per year of age over 60 (Cavelaars 2000 birth-cohort trend)

    def __post_init__(self) -> None:
        if not isinstance(self.n, int | np.integer) or isinstance(self.n, bool) or self.n <= 0:
            raise ValueError(f"n must be a positive integer, got {self.n!r}")
        if not isinstance(self.seed, int | np.integer) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        if not AGE_LIMITS[0] <= self.age_min < self.age_max <= AGE_LIMITS[1]:
            raise ValueError(f"ages must satisfy {AGE_LIMITS[0]:g} <= age_min < age_max <= {AGE_LIMITS[1]:g}, "
                             f"got {self.age_min}..{self.age_max}")
        if not 0.0 <= self.male_fraction <= 1.0:
            raise ValueError(f"male_fraction must be in [0, 1], got {self.male_fraction}")
        if not self.bmi_lean < self.bmi_obese:
            raise ValueError("bmi_lean must be below bmi_obese")
        self._check_ranges()

    def _check_ranges(self) -> None:
        for name in ("frag_median", "ir_comp_median"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if not self.hep_sex_ratio > 0:
            raise ValueError(f"hep_sex_ratio must be > 0, got {self.hep_sex_ratio}")
        for name in ("rho_ir_beta", "rho_comp_ir", "rho_hep_per"):
            if not -1.0 < getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in (-1, 1), got {getattr(self, name)}")
        for name in _SPREADS:
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")

    def to_dict(self) -> dict:
        return {k: (int(v) if isinstance(v, np.integer) else v) for k, v in asdict(self).items()}

    def digest(self) -> str:
        """Short hash of the spec (identifies a run folder for resuming)."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:16]


def ir_comp_values(spec: PopulationSpec, bmi, z_comp, median: float | None = None,
                   log_sd: float | None = None) -> np.ndarray:
    """Compensated insulin resistance of people with ``bmi`` and standard-normal trait ``z_comp``
    (``median``/``log_sd`` default to the spec's; the HOMA-IR calibration varies them)."""
    median = spec.ir_comp_median if median is None else median
    log_sd = spec.ir_comp_log_sd if log_sd is None else log_sd
    return median * np.exp(spec.ir_comp_bmi_slope * (np.asarray(bmi) - spec.bmi_mean) + log_sd * np.asarray(z_comp))


def _draws(spec: PopulationSpec) -> dict[str, np.ndarray]:
    """The random variables of ``spec.n`` people, drawn in a fixed order (one block per variable; a
    variable added later is drawn after the others, so earlier draws of a seed never change)."""
    rng = np.random.default_rng(spec.seed)
    n = spec.n
    d = {"age": rng.uniform(spec.age_min, spec.age_max, n)}
    d["male"] = rng.random(n) < spec.male_fraction
    d["bmi"] = np.clip(spec.bmi_mean + spec.bmi_age_slope * (d["age"] - 60.0) + spec.bmi_sd * rng.standard_normal(n),
                       spec.bmi_min, spec.bmi_max)
    # sRANKL: independent of everything else (own draw, no covariate terms)
    d["rankl_mult"] = np.exp(spec.rankl_log_sd * rng.standard_normal(n))
    d["opg_mult"] = np.exp(spec.opg_age_slope * (d["age"] - 60.0) + spec.opg_log_sd * rng.standard_normal(n))
    z1, z2 = rng.standard_normal((2, n))
    d["z_ir"] = z1
    d["z_beta"] = spec.rho_ir_beta * z1 + np.sqrt(1.0 - spec.rho_ir_beta**2) * z2
    d["frag_mult"] = spec.frag_median * np.exp(spec.frag_age_slope * (d["age"] - 60.0)
                                               + spec.frag_log_sd * rng.standard_normal(n))
    d["z_comp"] = spec.rho_comp_ir * z1 + np.sqrt(1.0 - spec.rho_comp_ir**2) * rng.standard_normal(n)
    d["height"] = np.clip(np.where(d["male"], spec.height_male, spec.height_female)
                          + spec.height_age_slope * (d["age"] - 60.0) + spec.height_sd * rng.standard_normal(n),
                          1.40, 2.05)
    d[IR_DRIFT] = np.maximum(0.0, spec.ir_drift_mean + spec.ir_drift_sd * rng.standard_normal(n))
    d["z_per"] = spec.rho_hep_per * z1 + np.sqrt(1.0 - spec.rho_hep_per**2) * rng.standard_normal(n)
    d["z_set"] = rng.standard_normal(n)
    return d


def generate_population(spec: PopulationSpec) -> pd.DataFrame:
    """One row per person: ``person_id``, ``age``, ``sex`` ("M"/"F"), ``bmi``, the model
    parameter overrides (:data:`PARAMETER_COLUMNS`) and the latent traits (:data:`TRAIT_COLUMNS`).

    Draw order is fixed (:func:`_draws`), so ``generate_population(spec)`` is identical for the same spec.
    """
    table = parameter_table("human")
    ref = {k: table[k].value for k in SCALED_PARAMETERS}
    d = _draws(spec)
    age, male, bmi = d["age"], d["male"], d["bmi"]
    adiposity = np.clip((bmi - spec.bmi_lean) / (spec.bmi_obese - spec.bmi_lean), 0.0, 2.0)
    g_periph = np.clip(spec.g_periph_median * np.exp(spec.g_periph_log_sd * d["z_per"]),
                       table[P.g_periph].lower, table[P.g_periph].upper)
    # hepatic trait z_IR; men have the lower hepatic insulin sensitivity (ter Horst 2015): their input is
    # hep_sex_ratio times a woman's (women at the reference: a lower input puts the NF-kB module in its
    # weakly damped, stiff regime, docs/model.md Section 18, numerics)
    sex_hep = np.where(male, spec.hep_sex_ratio, 1.0)
    beta_fn = np.exp(spec.beta_fn_log_sd * d["z_beta"]) * np.clip(1.0 - spec.beta_fn_age_slope * (age - 60.0),
                                                                  0.3, 1.5)
    frame = pd.DataFrame({
        "person_id": np.arange(spec.n, dtype=np.int64), "age": age, "sex": np.where(male, "M", "F"), "bmi": bmi,
        "height": d["height"],
        P.L_prod: ref[P.L_prod] * d["rankl_mult"],
        P.O_prod: ref[P.O_prod] * d["opg_mult"],
        P.adiposity: adiposity,
        P.g_periph: g_periph,
        P.u_infl0: ref[P.u_infl0] * sex_hep * np.exp(spec.u_infl_log_sd * d["z_ir"]),
        P.beta_ref: ref[P.beta_ref] / beta_fn,
        P.sig_frag: ref[P.sig_frag] * d["frag_mult"],
        P.ir_comp: ref[P.ir_comp] * ir_comp_values(spec, bmi, d["z_comp"]),
        P.BW: bmi * d["height"] ** 2,
        P.dG_set: np.clip(spec.set_mean + spec.set_sd * d["z_set"], table[P.dG_set].lower, table[P.dG_set].upper),
    })
    for col in TRAIT_COLUMNS:
        frame[col] = d[col]
    return frame


def person_overrides(row) -> dict[str, float]:
    """The model parameter overrides of one population row (a mapping or a pandas row)."""
    return {k: float(row[k]) for k in PARAMETER_COLUMNS}


def _column_problems(frame: pd.DataFrame) -> list[str]:
    required = tuple(c for c in (*COVARIATE_COLUMNS, *PARAMETER_COLUMNS) if c not in _OPTIONAL)
    allowed = {"person_id", *required, *_OPTIONAL}
    problems = []
    if missing := [c for c in required if c not in frame]:
        problems.append(f"missing columns {missing}")
    if unknown := [c for c in frame.columns if c not in allowed]:
        problems.append(f"unknown columns {unknown} (allowed: person_id, {', '.join(required)}, "
                        f"optional {', '.join(_OPTIONAL)})")
    if not 1 <= len(frame) <= MAX_PEOPLE:
        problems.append(f"{len(frame)} people (1-{MAX_PEOPLE:,})")
    return problems


def _value_problems(frame: pd.DataFrame) -> list[str]:
    problems = []
    if "person_id" in frame:
        ids = pd.to_numeric(frame["person_id"], errors="coerce")
        if ids.isna().any() or (ids < 0).any() or (ids != ids.round()).any() or ids.duplicated().any():
            problems.append("person_id must be distinct non-negative integers")
    if bad := sorted(set(frame["sex"].astype(str)) - {"M", "F"}):
        problems.append(f"sex must be M or F, got {bad[:5]}")
    for col in ("age", "bmi", *(c for c in PARAMETER_COLUMNS if c not in SIGNED_COLUMNS)):
        values = pd.to_numeric(frame[col], errors="coerce").to_numpy(float)
        rows = np.flatnonzero(~np.isfinite(values) | (values < 0) | ((values == 0) & (col != P.adiposity)))
        if rows.size:
            problems.append(f"{col} must be a finite number > 0 (>= 0 for {P.adiposity}); rows {rows[:5].tolist()}")
    if IR_DRIFT in frame:  # optional; missing values take the population's mean
        drift = pd.to_numeric(frame[IR_DRIFT], errors="coerce").to_numpy(float)
        if (rows := np.flatnonzero(drift < 0)).size:
            problems.append(f"{IR_DRIFT} must be >= 0 per year (insulin resistance does not fall untreated); "
                            f"rows {rows[:5].tolist()}")
    return problems


def _population_problems(frame: pd.DataFrame) -> list[str]:
    """Every problem of a population frame (empty: usable); see :func:`check_population`."""
    return _column_problems(frame) or _value_problems(frame)


def check_population(frame: pd.DataFrame) -> pd.DataFrame:
    """A population given as a table (e.g. a CSV of measured or externally simulated people) checked
    and put in the form :func:`generate_population` returns.

    Columns: ``age``, ``sex`` (M/F), ``bmi`` and every one of :data:`PARAMETER_COLUMNS` (the model
    parameter values of each person, body weight ``BW`` among them, inside their parameters.tsv
    bounds); optional ``person_id`` (default 0..n-1), ``height`` and trait columns
    (:data:`TRAIT_COLUMNS`), NaN when absent.  Every problem is
    reported in one ValueError.
    """
    problems = _population_problems(frame)
    if not problems:
        table = parameter_table("human")
        for col in PARAMETER_COLUMNS:
            values = pd.to_numeric(frame[col]).to_numpy(float)
            rows = [i for i, v in enumerate(values) if out_of_bounds(table, {col: v})]
            if rows:
                problems.append(f"{col} outside its table bounds [{table[col].lower:g}, {table[col].upper:g}] "
                                f"in rows {rows[:5]}")
    if problems:
        raise ValueError("population: " + "; ".join(problems))
    out = frame.copy()
    if "person_id" not in out:
        out.insert(0, "person_id", np.arange(len(out), dtype=np.int64))
    out["person_id"] = pd.to_numeric(out["person_id"]).astype(np.int64)
    out["sex"] = out["sex"].astype(str)
    for col in ("age", "bmi", "height", *PARAMETER_COLUMNS, *TRAIT_COLUMNS):
        out[col] = pd.to_numeric(out[col]).astype(float) if col in out else np.nan
    return out[["person_id", *COVARIATE_COLUMNS, *PARAMETER_COLUMNS, *TRAIT_COLUMNS]].reset_index(drop=True)


def load_population(path) -> pd.DataFrame:
    """:func:`check_population` of a CSV file (ValueError naming the file for an unreadable one)."""
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise ValueError(f"population file {path}: {exc}") from None
    try:
        return check_population(frame)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def population_digest(frame: pd.DataFrame) -> str:
    """Short hash of a population's values (identifies the people of a run folder for resuming)."""
    return hashlib.sha256(frame.to_csv(index=False).encode()).hexdigest()[:16]

