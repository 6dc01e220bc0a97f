"""Intervention arms of the virtual cohort: the same people followed under an intervention.

An arm changes a person's model from the baseline examination (``t = BURN_IN``) to the end of
follow-up; the burn-in and the baseline exam are identical in every arm, so the arms are paired
(same seed, same people, same baseline).  Built-in arms (:data:`BUILTIN_ARMS`):

* ``control``: no intervention.
* ``denosumab``: 60 mg SC every 182.5 days (catalogue default dose; Prolia label), from baseline
  to the end of follow-up (15 years: 30 doses), given as its average effect on the liver between
  examinations and read at each examination from a side run with the explicit injections
  (:mod:`ranklsim.cohort.antibody_exposure`; ~2.6x the control arm's cost).
* ``denosumab_explicit``: the same regimen dosed explicitly as events built by the scenario runner
  (:meth:`ranklsim.simulate.runner.ArmRunner.events`), i.e. the model's antibody PK at every injection
  (~30x the control arm's cost; the reference the average is tested against).
* ``metformin``: 1000 mg twice daily (2000 mg/day, the top arm of the built-in ``human-metformin``
  scenario), the hepatic (EGP) effect only.  See "Metformin" below.
* ``metformin+rankl``: as ``metformin`` with the named RANKL hypothesis on (metformin suppresses
  sRANKL production; no human data), so a cohort run can show both.
* ``rank_blockade``: hepatocyte RANK blockade, the catalogue's ``hepatic_rank_ko`` genotype switch
  (``rank_hep_expr = 1 - fraction``) applied from baseline; ``rank_blockade:0.5`` is a 50 %
  knockdown (any fraction in [0, 1]; arm name ``rank_blockade50``).

A scenario TOML file (``path/to/file.toml``) gives the genotype changes, parameter overrides,
diet periods and treatments of the file's first non-control arm (the first with any of these);
the arm's ``subject`` is ignored (the virtual person is the subject) and its start days count
from baseline.  Repeated treatments (``every_days`` or a metformin ``regimen``) are continued to
the end of follow-up whatever their ``n_doses``; a single dose stays single.  The arm is named
after the file's arm (non-alphanumerics replaced by ``_``).  The file must be a human scenario.

Metformin: twice-daily dosing for 15 years would be ~11,000 dose events, and the scenario code
has no continuous-exposure option, so the cohort uses the regimen's *average steady-state
effect*.  The metformin PK of the model is linear and independent of the rest of the model, so
the mean effects over one dosing interval at steady state (``E_met_egp`` on the hepatic
effect-site concentration, ``E_met_rankl`` on the plasma concentration; :func:`~ranklsim.cohort.metformin_exposure.metformin_mean_effects`,
computed once per regimen from the model's PK with explicit doses) are constants, and the model's
effect terms are reproduced exactly:

* EGP: ``E_met_egp`` is a Hill function of the effect-site concentration ``C_met_eff``; the arm
  holds ``C_met_eff`` at the concentration whose effect is the mean (``met_ke0 = 0`` stops the
  effect site following the liver), so ``E_met_egp`` equals its mean and the model's glycaemic gate
  (``E_met_hep = E_met_egp x gate(G)``, docs/model.md Section 7) still acts on the running glucose;
* sRANKL production ``L_prod * rankl_expr * ... * (1 - E_rankl)``: ``rankl_expr x (1 - E_rankl)``.

These are set from the treatment start (baseline) on.  Over a dosing interval the real effect
swings a little (bid 1000 mg: E_met_egp 0.54-0.56 through the effect compartment), and fasting
glucose with it: the average effect reproduces the *daily mean* glucose,
free sRANKL and hepatic NF-kB tone of explicit dosing (tests: within 0.1 mmol/L and 1 % after
90 days), which is what drives the slow beta-cell dynamics, but not the morning trough at which
fasting glucose is measured.  So every examination after the treatment start is read from a side run
(:mod:`~ranklsim.cohort.exam_window`) over the regimen's last dosing interval before it (e.g. from the
evening dose 12 h before a morning exam for bid), with that dose explicit and the metformin states (gut,
plasma, liver, effect site) starting from their steady-state pre-dose values
(:func:`~ranklsim.cohort.metformin_exposure.metformin_trough_states`): the exam reads the trough fasting
glucose of the explicitly dosed regimen (test: within 0.05 mmol/L of the scenario runner's day-90
fasting value); the person's own run stays on the average effect throughout.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ranklsim.cohort.antibody_exposure import AntibodyExposure
from ranklsim.cohort.exam_window import ExamWindow, merge_windows
from ranklsim.cohort.lifestyle import Lifestyle
from ranklsim.cohort.metformin_exposure import EPS, MetforminExposure, chronic_model, scenario_events
from ranklsim.cohort.schedule import check_shifts, check_visits, trough_before
from ranklsim.constants import DAYS_PER_YEAR
from ranklsim.errors import unknown_name_message
from ranklsim.models.ids import P
from ranklsim.simulate.catalog import DRUGS, GENOTYPES
from ranklsim.simulate.scenario import Arm, DietPeriod, Treatment, load_scenario_file
from ranklsim.simulate.scenario_parts import METFORMIN_SLOT
from ranklsim.simulate.simulator import Event

_DENOSUMAB = Treatment(drug="denosumab", dose=DRUGS["denosumab"].default_dose, route="sc", every_days=182.5)
_METFORMIN = Treatment(drug="metformin", dose=1000.0, unit="mg", regimen="bid")
_METFORMIN_RANKL = _METFORMIN.model_copy(update={"effects": ("egp", "rankl")})
_RANK_KO = "hepatic_rank_ko"
BUILTIN_ARMS = {
    "control": "no intervention",
    "denosumab": "denosumab 60 mg SC every 182.5 days from baseline: its average effect on the liver, each "
                 "examination read with the explicit injections (cohort/antibody_exposure.py)",
    "denosumab_explicit": "as denosumab, every injection integrated (the reference the average is tested "
                          "against; ~30x the control arm's cost)",
    "metformin": "metformin 1000 mg bid from baseline (average steady-state effect; EGP effect only)",
    "metformin+rankl": "as metformin, with the named RANKL hypothesis on (metformin suppresses sRANKL production)",
    "metformin_mean": "as metformin, but exams read the average-effect state (daily-mean glucose, "
                      "no explicit pre-exam doses)",
    "lifestyle": "weight loss (6 % of body weight) and activity (insulin sensitivity +16 %) from baseline, "
                 "sustained (Diabetes Prevention Program-like; cohort/lifestyle.py)",
    "rank_blockade": "hepatocyte RANK blockade (hepatic_rank_ko switch) from baseline; "
                     "rank_blockade:FRACTION for a partial knockdown",
}


def visit_schedule(arms: Sequence[CohortArm], exam_years: Sequence[float], years: float,
                   visits: str = "trough") -> tuple[tuple[float, ...], ...]:
    """Each arm's visit shifts (:meth:`CohortArm.visit_shifts`), computed once per run; a schedule the
    dosing cannot place raises ValueError naming the arm."""
    check_visits(visits)
    return tuple(arm.visit_shifts(exam_years, years, visits) for arm in arms)


def _extended(tr: Treatment, end_day: float) -> Treatment | None:
    """``tr`` with its repeats continued to just before ``end_day`` (None if it starts after it)."""
    if tr.start_day >= end_day - EPS:
        return None
    step = tr.interval_days
    if step is None:
        return tr
    n = math.floor((end_day - EPS - tr.start_day) / step) + 1
    return tr.model_copy(update={"n_doses": max(n, 1)})


@dataclass(frozen=True)
class CohortArm:
    """An intervention applied to every person from baseline.

    ``overrides``: parameter values set at baseline (genotype switches, effect switches, file
    overrides).  ``treatments``: drugs dosed explicitly (events), repeats continued to the end of
    follow-up.  ``metformin``: a regimen given as its average effect.  ``diet``: diet periods.
    All days count from baseline.
    """

    name: str
    description: str = ""
    overrides: Mapping[str, float] = field(default_factory=dict)
    treatments: tuple[Treatment, ...] = ()
    metformin: MetforminExposure | None = None
    #: a RANKL antibody regimen given as its average effect with explicit windows before examinations
    antibody: AntibodyExposure | None = None
    lifestyle: Lifestyle | None = None  #: weight loss and activity from baseline (person-specific values)
    diet: tuple[DietPeriod, ...] = ()
    source: str = "built-in"
    #: metformin: explicit doses before each exam (trough reading); False: the exam reads the
    #: average-effect state (daily-mean glucose)
    exam_window: bool = True

    @property
    def is_control(self) -> bool:
        return not (self.overrides or self.treatments or self.metformin or self.antibody or self.diet or self.lifestyle)

    def baseline_overrides(self, person: Mapping[str, float], model=None) -> dict[str, float]:
        """Parameter values this arm sets at baseline for ``person`` (its parameter overrides):
        ``overrides`` and the lifestyle's person-specific adiposity and ``ir_comp``."""
        out = dict(self.overrides)
        if self.lifestyle is not None:
            model = model or chronic_model()
            defaults = {k: model.parameter_value(k) for k in (P.adiposity, P.ir_comp)}
            out.update(self.lifestyle.baseline_values(person, defaults))
        return out

    def to_dict(self) -> dict:
        """JSON description (recorded in a run folder's run.json)."""
        return {"name": self.name, "description": self.description, "source": self.source,
                "overrides": {k: float(v) for k, v in sorted(self.overrides.items())},
                "treatments": [t.model_dump(mode="json") for t in self.treatments],
                "metformin": self.metformin.to_dict() if self.metformin else None,
                **({"antibody": self.antibody.to_dict()} if self.antibody else {}),
                "diet": [d.model_dump(mode="json") for d in self.diet], "exam_window": self.exam_window,
                **({"lifestyle": self.lifestyle.to_dict()} if self.lifestyle else {})}

    def events(self, offset: float, years: float, exam_years: Sequence[float] = (), *, model=None,
               person: Mapping[str, float] | None = None, constants: Mapping[str, float] | None = None) -> list[Event]:
        """Events (chronic clock, days) of this arm for a follow-up of ``years`` from ``offset``.

        ``offset`` is the baseline day (``BURN_IN``); ``exam_years`` the examinations (metformin's
        explicit pre-exam window); ``person``: the person's parameter overrides (body weight,
        values the metformin approximation scales); ``constants``: the cohort's model overrides (the
        antibody average is computed under them).  ``overrides`` are not included (see
        :func:`~ranklsim.cohort.followup.follow_person`'s ``extra_overrides``).
        """
        model = model or chronic_model()
        person = dict(person or {})
        end = float(years) * DAYS_PER_YEAR
        evs: list[Event] = []
        dosed = tuple(t for t in (_extended(tr, end) for tr in self.treatments) if t is not None)
        if dosed or self.diet:
            arm = Arm(name=self.name, diet=self.diet, treatments=dosed)
            evs += [Event(offset + e.time, e.target, e.value, e.op)
                    for e in scenario_events(model, arm, end, person) if e.time < end - EPS]
        values = {**person, **self.overrides}
        if self.metformin is not None:
            evs += self.metformin.events(model, offset, end, values)
        if self.antibody is not None:
            evs += self.antibody.events(model, offset, end, values, constants)
        return sorted(evs, key=lambda e: e.time)

    def exam_windows(self, offset: float, years: float, exam_years: Sequence[float], *, model=None,
                     person: Mapping[str, float] | None = None, visit_shifts: Sequence[float] = (),
                     constants: Mapping[str, float] | None = None) -> tuple[ExamWindow | None, ...]:
        """Side runs that read the examinations (one per examination, None where the person's run reads
        it): a regimen given as its average effect is explicit before each examination after its start
        (:meth:`AntibodyExposure.windows`, :meth:`MetforminExposure.windows` unless ``exam_window`` is
        False); ``visit_shifts`` as :meth:`visit_shifts`."""
        met = self.metformin if self.exam_window else None
        if self.antibody is None and met is None:
            return ()
        model = model or chronic_model()
        shifts = tuple(visit_shifts) or (0.0,) * len(exam_years)
        days = [float(y) * DAYS_PER_YEAR + d for y, d in zip(exam_years, shifts, strict=True)]
        values = {**dict(person or {}), **self.overrides}
        end = float(years) * DAYS_PER_YEAR
        parts = [w for w in (self.antibody and self.antibody.windows(model, offset, end, days, values, constants),
                             met and met.windows(model, offset, end, days, values)) if w]
        return tuple(merge_windows(*ws) for ws in zip(*parts, strict=True))

    def visit_shifts(self, exam_years: Sequence[float], years: float, visits: str = "trough") -> tuple[float, ...]:
        """Days by which each examination of this arm moves (0 or negative; baseline never moves).

        With ``visits="trough"`` and repeated injections (``every_days``), a follow-up examination on a
        dosing visit is taken just before that injection, at the trough
        (:func:`~ranklsim.cohort.schedule.trough_before`); other examinations keep their day.  Metformin
        arms sample their own pre-dose window (``exam_window``).  Raises ValueError when two visits would collide.
        """
        check_visits(visits)
        shifts = [0.0] * len(exam_years)
        given = (*self.treatments, *((self.antibody.treatment,) if self.antibody else ()))
        periodic = [t for t in (_extended(tr, float(years) * DAYS_PER_YEAR) for tr in given)
                    if t is not None and t.interval_days]
        if visits == "scheduled" or not periodic:
            return tuple(shifts)
        for k, y in enumerate(exam_years[1:], start=1):  # baseline never moves
            trough = trough_before(float(y) * DAYS_PER_YEAR, periodic)
            shifts[k] = 0.0 if trough is None else trough - float(y) * DAYS_PER_YEAR
        try:
            check_shifts(tuple(exam_years), shifts)
        except ValueError:
            days = [round(float(y) * DAYS_PER_YEAR + d, 3) for y, d in zip(exam_years, shifts, strict=True)]
            raise ValueError(f"arm {self.name!r}: the examinations would move to days {days}, a visit not after "
                             "the previous one; use visits='scheduled' or examinations further apart than the "
                             "dosing interval") from None
        return tuple(shifts)


# ----------------------------------------------------------------------------- registry


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text.strip()).strip("_") or "arm"


def _metformin_switches(tr: Treatment) -> dict[str, float]:
    return {P.met_egp_on: 1.0 if "egp" in tr.effects else 0.0,
            P.met_rankl_on: 1.0 if "rankl" in tr.effects else 0.0}


def _rank_blockade(fraction: float) -> CohortArm:
    name = "rank_blockade" if fraction == 1.0 else f"rank_blockade{fraction * 100:g}"
    return CohortArm(name, f"hepatocyte RANK blockade, fraction {fraction:g} (hepatic_rank_ko switch)",
                     overrides=GENOTYPES[_RANK_KO].overrides(fraction))


def builtin_arm(name: str) -> CohortArm:
    """A built-in arm by name (:data:`BUILTIN_ARMS`; ``rank_blockade:FRACTION``)."""
    if name == "control":
        return CohortArm("control", BUILTIN_ARMS["control"])
    if name == "denosumab":
        return CohortArm(name, BUILTIN_ARMS[name], antibody=AntibodyExposure(_DENOSUMAB))
    if name == "denosumab_explicit":
        return CohortArm(name, BUILTIN_ARMS[name], treatments=(_DENOSUMAB,))
    if name == "metformin":
        return CohortArm("metformin", BUILTIN_ARMS["metformin"], overrides=_metformin_switches(_METFORMIN),
                         metformin=MetforminExposure.of(_METFORMIN))
    if name == "metformin+rankl":
        return CohortArm("metformin+rankl", BUILTIN_ARMS["metformin+rankl"],
                         overrides=_metformin_switches(_METFORMIN_RANKL), metformin=MetforminExposure.of(_METFORMIN_RANKL))
    if name == "metformin_mean":
        return CohortArm("metformin_mean", BUILTIN_ARMS["metformin_mean"],
                         overrides=_metformin_switches(_METFORMIN), metformin=MetforminExposure.of(_METFORMIN),
                         exam_window=False)
    if name == "lifestyle":
        return CohortArm("lifestyle", BUILTIN_ARMS["lifestyle"], lifestyle=Lifestyle())
    if name == "rank_blockade":
        return _rank_blockade(1.0)
    if name.startswith("rank_blockade:"):
        return _rank_blockade(_fraction(name))
    raise ValueError(unknown_name_message("cohort arm", name, list(BUILTIN_ARMS)) +
                     " (or a scenario .toml file)")


def _fraction(name: str) -> float:
    text = name.split(":", 1)[1]
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"cohort arm {name!r}: the blockade fraction must be a number in [0, 1], got {text!r}")
    return value


def _is_path(token: str) -> bool:
    return token.endswith(".toml") or "/" in token or "\\" in token


def _first_intervention_arm(path: Path) -> Arm:
    """The first arm of a human scenario file with any intervention (bad files raise ValueError)."""
    if not path.is_file():
        raise ValueError(f"cohort arm {str(path)!r}: no such scenario file")
    sc = load_scenario_file(path)  # ScenarioError (a ValueError) if invalid
    if sc.model_species != "human":
        raise ValueError(f"{path}: the cohort runs the human model; scenario species is {sc.species!r}")
    arm = next((a for a in sc.arms if a.treatments or a.genotype or a.overrides or a.diet), None)
    if arm is None:
        raise ValueError(f"{path}: no non-control arm (every arm has no treatments, genotype changes, "
                         "diet periods or overrides); a cohort arm needs an intervention")
    return arm


def arm_from_scenario_file(path: str | Path) -> CohortArm:
    """The first non-control arm of a scenario TOML file as a cohort arm (module docstring)."""
    path = Path(path)
    arm = _first_intervention_arm(path)
    metformin = [t for t in arm.treatments if DRUGS[t.drug].slot == METFORMIN_SLOT]
    if len(metformin) > 1:
        raise ValueError(f"{path}: arm {arm.name!r} has {len(metformin)} metformin treatments; "
                         "a cohort arm takes one")
    ov: dict[str, float] = {**arm.genotype_overrides(), **arm.overrides}
    exposure = None
    if metformin:
        ov.update(_metformin_switches(metformin[0]))
        exposure = MetforminExposure.of(metformin[0], ov.get(P.BW))
    dosed = tuple(t for t in arm.treatments if DRUGS[t.drug].slot != METFORMIN_SLOT)
    return CohortArm(_slug(arm.name), f"{arm.name} ({path.name})", overrides=ov, treatments=dosed,
                     metformin=exposure, diet=arm.diet, source=str(path))


def check_arm_names(names_or_paths: Sequence[str]) -> list[str]:
    """Validate arm tokens without simulating (names, fractions, files exist); the tokens back."""
    tokens = [str(t).strip() for t in names_or_paths]
    if not tokens or any(not t for t in tokens):
        raise ValueError(f"give at least one cohort arm and no empty names; choose from: {', '.join(BUILTIN_ARMS)} "
                         "or a scenario .toml file")
    for tok in tokens:
        if _is_path(tok) or (Path(tok).is_file() and tok not in BUILTIN_ARMS):
            if not Path(tok).is_file():
                raise ValueError(f"cohort arm {tok!r}: no such scenario file")
        elif tok.startswith("rank_blockade:"):
            _fraction(tok)
        elif tok not in BUILTIN_ARMS:
            raise ValueError(unknown_name_message("cohort arm", tok, list(BUILTIN_ARMS)) +
                             " (or a scenario .toml file)")
    return tokens


def resolve_arms(names_or_paths: Sequence[str | CohortArm]) -> list[CohortArm]:
    """Cohort arms from built-in names, ``rank_blockade:FRACTION`` or scenario TOML paths.

    Every token is checked before anything is built; unknown names raise ValueError naming the
    valid ones; duplicate arm names are an error.  :class:`CohortArm` objects pass through.
    """
    if isinstance(names_or_paths, str | CohortArm):
        names_or_paths = [names_or_paths]
    check_arm_names([t for t in names_or_paths if not isinstance(t, CohortArm)] or ["control"])
    arms = []
    for tok in names_or_paths:
        if isinstance(tok, CohortArm):
            arms.append(tok)
        elif _is_path(str(tok)) or (Path(str(tok)).is_file() and str(tok) not in BUILTIN_ARMS):
            arms.append(arm_from_scenario_file(str(tok).strip()))
        else:
            arms.append(builtin_arm(str(tok).strip()))
    seen: set[str] = set()
    for a in arms:
        if a.name in seen:
            raise ValueError(f"duplicate cohort arm name {a.name!r}")
        seen.add(a.name)
    return arms
