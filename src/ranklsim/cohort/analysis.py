"""Bruneck-style analysis of a followed cohort (Kiechl 2013 Nat Med 19:358).

Analysed set: people without a simulation error and without diabetes at baseline.  Person-years
run from baseline to the onset examination (cases) or to the last examination (non-cases);
onset is interval-censored at the examinations, so incidence rates use the examination year of
diagnosis (as a 5-yearly study does).  Odds ratios come from logistic regression
(``statsmodels`` Logit) of incident diabetes on membership of the top vs the bottom tertile of
baseline free sRANKL, unadjusted and adjusted for age, sex and BMI.

Intervention arms (a people frame with an ``arm`` column): the Bruneck analysis above uses the
``control`` arm (else the first arm); the ``arms`` section gives per arm n, cases, cumulative
incidence and incidence per 1,000 PY, and the risk ratio of cumulative incidence vs control with
a 95 % CI.  Every arm follows the same people, so the RR is computed on the people analysed in
both arms (matched pairs) and its CI is the matched-pairs delta-method interval on the log scale:
``var(log RR) = (b + c) / ((a + b)(a + c))`` with ``a`` = cases in both arms, ``b`` = cases in the
arm only, ``c`` = cases in control only (e.g. Agresti, Categorical Data Analysis, matched pairs).
No CI when either arm has no cases; with no discordant pairs the CI collapses to the estimate.
"""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pandas as pd

from ranklsim.cohort.followup import DIABETES_2H_MMOL, DIABETES_FPG_MMOL, IGT_2H_MMOL

TERTILE_LABELS = ("T1", "T2", "T3")
#: Kiechl et al. 2013 (Bruneck): people without diabetes at baseline, incident cases over 15 years,
#: and the OR for incident diabetes, top vs bottom tertile of baseline sRANKL, with its 95 % CI
BRUNECK_N = 844
BRUNECK_CASES = 78
BRUNECK_OR = (4.06, 2.01, 8.20)
RANKL_COLUMN = "rankl_free0"
#: Bonora et al. 1998 Diabetes 47:1643 (Bruneck, n = 888): HOMA-IR threshold of insulin resistance,
#: the lower limit of the top quintile among nonobese people without metabolic disorder (n = 225)
BRUNECK_HOMA_IR_CUTOFF = 2.77
#: virtual reference group for the HOMA-IR cut-off: BMI below this (nonobese) ...
NONOBESE_BMI = 30.0
#: ... and baseline fasting glucose below this (no impaired fasting glucose, WHO 1999; the virtual
#: people have no lipids, urate or blood pressure, so glycaemia is the only metabolic disorder checked)
NORMAL_FPG_MMOL = 6.1
HOMA_COLUMN = "homa_ir0"


def is_true(flags: pd.Series) -> pd.Series:
    """Mask of the True entries of a True/False column (nullable "boolean", bool or as read from a
    CSV); missing values are not True."""
    return flags.eq(True).fillna(False).astype(bool)


def is_false(flags: pd.Series) -> pd.Series:
    """Mask of the False entries of a True/False column; missing values are not False."""
    return flags.eq(False).fillna(False).astype(bool)


def analysed(people: pd.DataFrame) -> pd.DataFrame:
    """People eligible for the incidence analysis (no error, no diabetes at baseline)."""
    ok = people["error"].isna() & is_false(people["baseline_diabetes"])
    out = people.loc[ok].copy()
    out["case"] = is_true(out["diabetes"]).astype(int)
    return out


def person_years(people: pd.DataFrame) -> pd.Series:
    """Years from baseline to onset (cases) or to the end of follow-up."""
    return people["onset_year"].where(people["case"] == 1, people["followup_years"]).astype(float)


def incidence(people: pd.DataFrame) -> dict:
    """Cases, cumulative incidence and incidence per 1,000 person-years of an analysed set."""
    n = len(people)
    cases = int(people["case"].sum()) if n else 0
    py = float(person_years(people).sum()) if n else 0.0
    return {"n": n, "cases": cases, "cumulative_incidence": cases / n if n else None,
            "person_years": py, "per_1000_py": 1000.0 * cases / py if py > 0 else None}


def tertile_cutoffs(values: pd.Series) -> tuple[float, float]:
    """Baseline sRANKL tertile cut-offs (33.3rd and 66.7th percentiles)."""
    q = np.quantile(values.to_numpy(dtype=float), [1 / 3, 2 / 3])
    return float(q[0]), float(q[1])


def assign_tertiles(values: pd.Series, cutoffs: tuple[float, float]) -> pd.Series:
    """T1 (<= first cut-off), T2, T3 (> second cut-off)."""
    bins = [-np.inf, cutoffs[0], cutoffs[1], np.inf]
    return pd.cut(values, bins=bins, labels=list(TERTILE_LABELS)).astype(str)


def incidence_by_tertile(people: pd.DataFrame, column: str = RANKL_COLUMN) -> tuple[tuple[float, float], dict]:
    cut = tertile_cutoffs(people[column])
    t = assign_tertiles(people[column], cut)
    return cut, {lab: incidence(people[t == lab]) for lab in TERTILE_LABELS}


def odds_ratio(people: pd.DataFrame, column: str = RANKL_COLUMN, adjust: tuple[str, ...] = ()) -> dict:
    """OR (95 % CI) of incident diabetes, top vs bottom tertile of ``column``, by logistic regression.

    ``adjust``: covariates among ``age``, ``sex`` (male = 1) and ``bmi``.  Returns ``or``/``ci_low``/
    ``ci_high``/``p`` (None with a ``note`` if the model cannot be fitted, e.g. no cases).
    """
    import statsmodels.api as sm  # lazy: statsmodels takes ~2 s to import; only the ORs need it

    cut = tertile_cutoffs(people[column])
    t = assign_tertiles(people[column], cut)
    sub = people.loc[t.isin(["T1", "T3"])]
    x = pd.DataFrame({"top_tertile": (t[sub.index] == "T3").astype(float)}, index=sub.index)
    for cov in adjust:
        x[cov] = (sub["sex"] == "M").astype(float) if cov == "sex" else sub[cov].astype(float)
    x = sm.add_constant(x, has_constant="add")
    y = sub["case"].astype(float)
    out = {"n": len(sub), "cases": int(y.sum()), "adjusted_for": list(adjust),
           "or": None, "ci_low": None, "ci_high": None, "p": None}
    if y.sum() == 0 or y.sum() == len(y):
        return {**out, "note": "no variation in the outcome"}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = sm.Logit(y, x).fit(disp=0, maxiter=200)
    except Exception as exc:  # any failure: e.g. perfect separation
        return {**out, "note": f"{type(exc).__name__}: {exc}"}
    coef = float(fit.params["top_tertile"])
    lo, hi = (float(v) for v in fit.conf_int().loc["top_tertile"])
    if not all(math.isfinite(v) and abs(v) < 50.0 for v in (coef, lo, hi)):
        return {**out, "note": "no finite estimate (a tertile without cases: separation)"}
    vals = {"or": math.exp(coef), "ci_low": math.exp(lo), "ci_high": math.exp(hi),
            "p": float(fit.pvalues["top_tertile"])}
    return {**out, **vals}


def opg_before_after(people: pd.DataFrame, exam_years) -> dict:
    """OPG (pM) at the last examination before onset vs at the onset examination (cases)."""
    cases = people[people["case"] == 1]
    exams = list(exam_years)
    before, after = [], []
    for _, row in cases.iterrows():
        k = exams.index(row["onset_year"])
        before.append(row[f"opg_y{exams[k - 1]:g}"])
        after.append(row[f"opg_y{exams[k]:g}"])
    if not before:
        return {"n_cases": 0, "mean_before": None, "mean_after": None, "mean_change": None}
    b, a = np.asarray(before, float), np.asarray(after, float)
    return {"n_cases": len(b), "mean_before": float(b.mean()), "mean_after": float(a.mean()),
            "mean_change": float((a - b).mean())}


def json_ready(obj):
    """A JSON-safe copy of ``obj`` (nested dicts, lists and tuples): NaN and infinities become None,
    numpy scalars Python numbers and dict keys strings.  Used for summary.json and its sections."""
    if isinstance(obj, dict):
        return {str(k): json_ready(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_ready(v) for v in obj]
    if isinstance(obj, np.integer | np.bool_):
        return obj.item()
    if isinstance(obj, float | np.floating):
        v = float(obj)
        return v if math.isfinite(v) else None
    return obj


def risk_ratio(arm: pd.DataFrame, control: pd.DataFrame) -> dict:
    """Matched-pairs RR (95 % CI) of cumulative incidence, ``arm`` vs ``control`` (module docstring).

    Both frames are analysed sets (see :func:`analysed`); people in both are paired by ``person_id``.
    """
    pairs = arm[["person_id", "case"]].merge(control[["person_id", "case"]], on="person_id",
                                             suffixes=("_arm", "_control"))
    x, y = pairs["case_arm"].to_numpy(int), pairs["case_control"].to_numpy(int)
    a, b, c = int((x & y).sum()), int((x & (1 - y)).sum()), int(((1 - x) & y).sum())
    out = {"n_pairs": len(pairs), "cases_arm": a + b, "cases_control": a + c, "discordant_arm_only": b,
           "discordant_control_only": c, "rr": None, "ci_low": None, "ci_high": None,
           "method": "matched-pairs log-RR delta method"}
    if a + c == 0:
        return {**out, "note": "no cases in the control arm"}
    rr = (a + b) / (a + c)
    out["rr"] = rr
    if a + b == 0:
        return {**out, "note": "no cases in the arm: no CI"}
    se = math.sqrt((b + c) / ((a + b) * (a + c)))
    out["ci_low"], out["ci_high"] = rr * math.exp(-1.96 * se), rr * math.exp(1.96 * se)
    return out


def arms_section(people: pd.DataFrame, arms) -> dict:
    """Per arm: incidence (n, cases, cumulative incidence, per 1,000 PY) and RR vs control."""
    sets = {name: analysed(people[people["arm"] == name]) for name in arms}
    control = sets.get("control")
    out = {}
    for name, data in sets.items():
        sub = people[people["arm"] == name]
        entry = {"n_followed": len(sub), "n_errors": int(sub["error"].notna().sum()), **incidence(data),
                 "fpg_last_exam_mean": None}
        last = f"fpg_y{float(sub['followup_years'].max()) if len(sub) else 0:g}"
        if len(data) and last in data:
            entry["fpg_last_exam_mean"] = float(data[last].mean())
        if control is not None and name != "control":
            entry["risk_ratio_vs_control"] = risk_ratio(data, control)
        out[name] = entry
    return out


def homa_reference_group(people: pd.DataFrame) -> pd.Series:
    """Mask of the virtual counterpart of Bonora's reference group: simulated without error, no
    diabetes at baseline, BMI < :data:`NONOBESE_BMI` and baseline FPG < :data:`NORMAL_FPG_MMOL`."""
    return (people["error"].isna() & is_false(people["baseline_diabetes"])
            & (people["bmi"] < NONOBESE_BMI) & (people["fpg_y0"] < NORMAL_FPG_MMOL))


def baseline_homa(people: pd.DataFrame) -> dict:
    """Baseline HOMA-IR of a followed population (one arm) against Bonora 1998.

    ``median`` and ``log_sd`` (SD of log HOMA-IR) over people without diabetes at baseline;
    ``reference_p80``: the top-quintile cut-off in the reference group (:func:`homa_reference_group`),
    Bruneck 2.77; ``share_ir``: share above 2.77 among the non-diabetic, among those with impaired
    fasting glucose (6.1-7.0 mmol/L; Bonora reports 65.9 % for IGT, by OGTT) and among those excluded
    with diabetes at baseline (Bonora: 83.9 %).
    """
    ok = people["error"].isna()
    h = people[HOMA_COLUMN].astype(float)
    fpg = people["fpg_y0"].astype(float)
    base_dm = is_true(people["baseline_diabetes"])
    nd = ok & ~base_dm
    ref = homa_reference_group(people)
    ifg = nd & (fpg >= NORMAL_FPG_MMOL)
    igt = None
    if "g2h_y0" in people:  # with the OGTT option: impaired glucose tolerance, as Bonora classified it
        g2h = people["g2h_y0"].astype(float)
        igt = nd & (g2h >= IGT_2H_MMOL) & (g2h < DIABETES_2H_MMOL)

    def share(mask) -> float | None:
        return float((h[mask] > BRUNECK_HOMA_IR_CUTOFF).mean()) if mask.any() else None

    return {
        "median": float(h[nd].median()) if nd.any() else None,
        "log_sd": float(np.log(h[nd]).std(ddof=1)) if nd.sum() > 1 else None,
        "reference_p80": float(h[ref].quantile(0.8)) if ref.any() else None,
        "n_reference": int(ref.sum()),
        "share_ir": {"non_diabetic": share(nd), "impaired_fasting_glucose": share(ifg),
                     "baseline_diabetes": share(ok & base_dm),
                     **({"impaired_glucose_tolerance": share(igt)} if igt is not None else {})},
        "n_impaired_fasting_glucose": int(ifg.sum()),
        **({"n_impaired_glucose_tolerance": int(igt.sum())} if igt is not None else {}),
        "bruneck_cutoff": BRUNECK_HOMA_IR_CUTOFF,
    }


def cases_by_examination(data: pd.DataFrame, exam_years) -> dict:
    """Cases diagnosed at each follow-up examination, per year of the interval before it, and the
    ratio of the first follow-up examination's rate to the mean rate of the later ones
    (``first_exam_ratio``; None without later examinations or later cases).  A ratio well above 1
    means cases pile up when follow-up starts (issue 15: at most 1.5)."""
    exams = [float(y) for y in exam_years]
    onset = data.loc[data["case"] == 1, "onset_year"].astype(float)
    rows = {}
    for prev, y in itertools.pairwise(exams):
        n = int((onset == y).sum())
        rows[f"{y:g}"] = {"cases": n, "per_year": n / (y - prev)}
    rates = [r["per_year"] for r in rows.values()]
    later = rates[1:]
    ratio = rates[0] / float(np.mean(later)) if later and np.mean(later) > 0 else None
    return {"by_exam": rows, "first_exam_ratio": ratio}


#: impaired fasting glucose at baseline, mmol/L (ADA 2003: 5.6-6.9)
IFG_MMOL = 5.6
#: baseline predictors compared in the risk structure: name -> column
PREDICTORS = {"fpg": "fpg_y0", "homa_ir": HOMA_COLUMN, "rankl": RANKL_COLUMN}


def risk_structure(data: pd.DataFrame) -> dict:
    """Tertile ORs (top vs bottom, unadjusted) of the baseline predictors and the incidence by
    baseline glycaemic category (normal, IFG; with the OGTT option isolated IFG, isolated IGT, both)."""
    out: dict = {"odds_ratio_tertile": {k: odds_ratio(data, c) for k, c in PREDICTORS.items() if c in data}}
    ifg = data["fpg_y0"].astype(float) >= IFG_MMOL
    groups = {"normal_fasting": ~ifg, "ifg": ifg}
    if "g2h_y0" in data:
        igt = data["g2h_y0"].astype(float) >= IGT_2H_MMOL
        groups = {"normal": ~ifg & ~igt, "isolated_ifg": ifg & ~igt, "isolated_igt": ~ifg & igt, "ifg_and_igt": ifg & igt}
    out["incidence_by_baseline_category"] = {
        k: {"n": int(m.sum()), "cases": int(data.loc[m, "case"].sum()),
            "cumulative_incidence": float(data.loc[m, "case"].mean()) if m.any() else None}
        for k, m in groups.items()}
    return out


def _tertile_section(data: pd.DataFrame) -> dict:
    """Tertile cut-offs, incidence by tertile and the ORs (at least 3 analysed people)."""
    if len(data) < 3:
        return {}
    cut, per = incidence_by_tertile(data)
    return {"rankl_tertile_cutoffs_pM": list(cut), "incidence_by_tertile": per,
            "odds_ratio_top_vs_bottom": {"unadjusted": odds_ratio(data),
                                         "adjusted_age_sex_bmi": odds_ratio(data, adjust=("age", "sex", "bmi"))}}


#: KORA F4, Southern Germany, age 55-59 (WHO 1999 criteria, IFG 6.1-6.9 mmol/L): isolated IFG 5.9 %,
#: isolated IGT 11.8 %, IFG and IGT 2.4 % of the population (Meisinger et al. 2010 Diabet Med 27:360;
#: age-standardised 35-59: 2.9, 6.3, 1.1 %); KORA S4 aged 55-74: IFG 9.8 % in men, 4.5 % in women
#: (Rathmann et al. 2003 Diabetologia 46:182).  Targets of the population's trait spreads (Bruneck,
#: 40-79, has no published split of its baseline categories).
KORA_CATEGORY_PERCENT = {"isolated_ifg": 5.9, "isolated_igt": 11.8, "ifg_and_igt": 2.4}


def glucose_categories(people: pd.DataFrame) -> dict | None:
    """WHO 1999 glycaemic categories at baseline, percent of everyone examined (diabetes included):
    diabetes (FPG >= 7.0 or 2-h >= 11.1 mmol/L), isolated IFG (FPG 6.1-6.9, 2-h < 7.8), isolated IGT
    (FPG < 6.1, 2-h 7.8-11.0), both, normal; overall and by sex.  None without the OGTT option."""
    if "g2h_y0" not in people:
        return None
    ok = people["error"].isna() & people["fpg_y0"].notna() & people["g2h_y0"].notna()
    fpg, g2h, sex = (people.loc[ok, c] for c in ("fpg_y0", "g2h_y0", "sex"))
    dm = (fpg >= DIABETES_FPG_MMOL) | (g2h >= DIABETES_2H_MMOL)
    ifg, igt = (fpg >= NORMAL_FPG_MMOL) & ~dm, (g2h >= IGT_2H_MMOL) & ~dm
    masks = {"diabetes": dm, "isolated_ifg": ifg & ~igt, "isolated_igt": igt & ~ifg, "ifg_and_igt": ifg & igt,
             "normal": ~dm & ~ifg & ~igt}

    def percent(sel):
        return {k: float(100.0 * m[sel].mean()) if sel.any() else None for k, m in masks.items()}

    return {"n": int(ok.sum()), "percent": percent(fpg == fpg),
            "by_sex": {s: percent(sex == s) for s in ("M", "F")}, "kora_percent": KORA_CATEGORY_PERCENT}


def _baseline_section(data: pd.DataFrame, people: pd.DataFrame) -> dict:
    def stat(value):
        return float(value) if len(data) else None

    return {
        "glucose_categories_who1999": glucose_categories(people),
        "fpg_mmol_mean": stat(data["fpg_y0"].mean()),
        "homa_ir_median": stat(data[HOMA_COLUMN].median()),
        "homa_ir_p80": stat(data[HOMA_COLUMN].quantile(0.8)),
        "homa_ir": baseline_homa(people) if "bmi" in people else None,
        "rankl_free_median_pM": stat(data[RANKL_COLUMN].median()),
    }


def summary(result) -> dict:
    """JSON-serialisable summary of a :class:`~ranklsim.cohort.runner.CohortResult`."""
    people = result.people
    arms = tuple(getattr(result, "arms", ()) or ())
    with_arms = bool(arms) and "arm" in people
    main = ("control" if "control" in arms else arms[0]) if with_arms else None
    if with_arms:
        people = people[people["arm"] == main]
    data = analysed(people)
    n_err = int(people["error"].notna().sum())
    n_base = int(is_true(people["baseline_diabetes"]).sum())
    inc = incidence(data)
    out = {
        "n": int(result.spec.n), "seed": int(result.spec.seed), "years": result.years,
        "exam_years": list(result.exam_years), "complete": bool(result.complete),
        "n_followed": len(people), "n_errors": n_err, "n_baseline_diabetes": n_base,
        "n_excluded": n_err + n_base, "n_analysed": inc["n"], "cases": inc["cases"],
        "cumulative_incidence": inc["cumulative_incidence"], "person_years": inc["person_years"],
        "incidence_per_1000_py": inc["per_1000_py"],
    }
    if "onset_criterion" in data:  # OGTT option: which criterion diagnosed each case
        crit = data.loc[data["case"] == 1, "onset_criterion"].value_counts()
        out["cases_by_criterion"] = {k: int(crit.get(k, 0)) for k in ("fpg", "ogtt", "both")}
    out.update(_tertile_section(data))
    out["cases_by_examination"] = cases_by_examination(data, result.exam_years)
    out["opg_before_after_onset"] = opg_before_after(data, result.exam_years)
    out["baseline"] = _baseline_section(data, people)
    if len(data) >= 3:
        out["risk_structure"] = risk_structure(data)
    if with_arms:
        out["analysis_arm"] = main
        out["arms"] = arms_section(result.people, arms)
    return json_ready(out)
