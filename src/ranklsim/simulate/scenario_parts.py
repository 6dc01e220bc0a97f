"""Parts of a scenario arm and its tests: genotype changes, diet periods, treatments, tests.

Shared validation helpers live here too; :mod:`ranklsim.simulate.scenario` re-exports the models.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from ranklsim.constants import (
    CLAMP_HUMAN_MU_PER_KG_PER_MIN,
    CLAMP_MOUSE_MU_PER_KG_PER_MIN,
    GTT_MOUSE_MG_PER_KG,
    MG_PER_G,
    OGTT_HUMAN_MG,
)
from ranklsim.errors import unknown_id_error, unknown_name_message
from ranklsim.models.build import MODULES, module_text
from ranklsim.models.ids import PARAMETER_IDS, VARIABLE_IDS
from ranklsim.models.parameters import HUMAN, MOUSE
from ranklsim.simulate.catalog import DIETS, DRUGS, GENOTYPES, METFORMIN_REGIMENS, TEST_KINDS

METFORMIN_SLOT = "metformin"  # drugs in this PK slot take ``regimen`` and ``effects``
ANTIBODY_SLOT = "antibody"  # RANKL antibodies (the model's Ab_sc/Dg/Ab_per PK)
METFORMIN_EFFECTS = ("egp", "rankl")
#: effects of metformin unless a treatment names them: the hepatic (EGP) effect only; the RANKL
#: effect is a named hypothesis, switched on by ``effects = ["egp", "rankl"]`` (e.g. "+rankl" arms)
DEFAULT_METFORMIN_EFFECTS = ("egp",)
EPS = 1e-9  # tolerance for day comparisons

Str = Annotated[str, Field(strict=True)]
Day = Annotated[float, Field(strict=True, ge=0)]
Pos = Annotated[float, Field(strict=True, gt=0)]
Count = Annotated[int, Field(strict=True, ge=1, le=1_000_000)]
Effect = Literal["egp", "rankl"]


class Problems(ValueError):
    """Raised inside validators: problems with paths relative to the failing object."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{p}: {m}" for p, m in problems))


def raise_problems(problems: list[tuple[str, str]]) -> None:
    if problems:
        raise Problems(problems)


def choose(kind: str, name: str, known) -> str:
    """Return ``name`` if in ``known``; else raise naming close matches and the choices."""
    if name in known:
        return name
    raise ValueError(unknown_name_message(kind, name, known))


def catalog_name(kind: str, known) -> Any:
    """A strict string type that must name an entry of ``known`` (else: did you mean ..., choices)."""
    return Annotated[str, Field(strict=True), AfterValidator(lambda v: choose(kind, v, known))]


GenotypeName = catalog_name("genotype", GENOTYPES)
DietName = catalog_name("diet", DIETS)
DrugName = catalog_name("drug", DRUGS)

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def key_path(name: str) -> str:
    """``.name`` for identifiers, else ``['name']``."""
    return f".{name}" if _IDENT.match(name) else f"[{name!r}]"


def fmt(x: float) -> str:
    return f"{x:g}"


def _compartments() -> frozenset[str]:
    """Compartment ids declared in the Antimony modules (``compartment a = 1, b = 1;``)."""
    names = set()
    for module in MODULES:
        for decl in re.findall(r"^\s*compartment\s+([^;]+);", module_text(module), flags=re.M):
            names.update(part.split("=")[0].strip() for part in decl.split(","))
    return frozenset(names)


#: compartments: model ids that are volumes, not outputs a run can record
COMPARTMENT_IDS = _compartments()
#: ids a scenario may record (readouts, time courses): states, assignment-rule outputs, parameters
OUTPUT_IDS = (VARIABLE_IDS | PARAMETER_IDS) - COMPARTMENT_IDS


def output_ids(v: tuple[str, ...]) -> tuple[str, ...]:
    """Validate a list of recorded ids: known outputs, each once."""
    probs, seen = [], set()
    for k, name in enumerate(v):
        if name in COMPARTMENT_IDS:
            probs.append((f"[{k}]", f"{name!r} is a compartment (a volume), not an output; record a state or "
                                    "output in it instead"))
        elif name not in OUTPUT_IDS:
            probs.append((f"[{k}]", str(unknown_id_error("output", name, sorted(OUTPUT_IDS)))))
        elif name in seen:
            probs.append((f"[{k}]", f"{name!r} is listed twice"))
        seen.add(name)
    raise_problems(probs)
    return v


class ScenarioModel(BaseModel):
    """Base: unknown keys rejected, immutable, finite floats only."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


# ----------------------------------------------------------------------------- arm parts


class GenotypeChange(ScenarioModel):
    """A catalogue genotype; ``fraction`` = knockdown extent / gain level, ``fold`` for fold kinds."""

    name: GenotypeName
    fraction: Annotated[float, Field(strict=True, ge=0, le=1)] = 1.0
    fold: Pos | None = None

    @model_validator(mode="after")
    def _kind(self) -> GenotypeChange:
        kind = GENOTYPES[self.name].kind
        folds = [g.name for g in GENOTYPES.values() if g.kind == "fold"]
        if self.fold is not None and kind != "fold":
            raise_problems([("fold", (f"{self.name!r} is a {kind} change (use fraction); fold applies only to "
                             f"{', '.join(folds)}"))])
        if kind == "fold" and self.fraction != 1.0:
            raise_problems([("fraction", f"{self.name!r} is a fold change: give fold, not fraction")])
        return self

    def overrides(self) -> dict[str, float]:
        """Parameter values this change sets (from the catalogue)."""
        return GENOTYPES[self.name].overrides(self.fraction, self.fold)


class DietPeriod(ScenarioModel):
    """A catalogue diet from ``start_day`` for ``duration_days`` (None: to the end of the run)."""

    diet: DietName
    start_day: Day = 0.0
    duration_days: Pos | None = None

    def end_day(self, run_days: float) -> float:
        return run_days if self.duration_days is None else self.start_day + self.duration_days


class Treatment(ScenarioModel):
    """Dosing of one catalogue drug: ``n_doses`` administrations from ``start_day``."""

    drug: DrugName
    dose: Pos
    unit: Literal["mg", "mg/kg"] | None = None
    route: Str | None = None
    start_day: Day = 0.0
    every_days: Pos | None = None
    n_doses: Count = 1
    regimen: Str | None = None
    effects: tuple[Effect, ...] = DEFAULT_METFORMIN_EFFECTS

    @field_validator("effects")
    @classmethod
    def _effects(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not v:
            raise ValueError(f"name at least one of {', '.join(METFORMIN_EFFECTS)}")
        if len(set(v)) != len(v):
            raise ValueError("an effect is listed twice")
        return tuple(e for e in METFORMIN_EFFECTS if e in v)  # canonical order

    @model_validator(mode="after")
    def _consistent(self) -> Treatment:
        spec, probs = DRUGS[self.drug], []
        if self.route is not None and self.route not in spec.routes:
            probs.append(("route", f"{self.drug} is given by {', '.join(spec.routes)}, not {self.route!r}"))
        metformin_like = spec.slot == METFORMIN_SLOT
        if self.regimen is not None:
            if not metformin_like:
                probs.append(("regimen", f"regimen applies to metformin only, not {self.drug}"))
            elif self.regimen not in METFORMIN_REGIMENS:
                probs.append(("regimen", unknown_name_message("regimen", self.regimen, METFORMIN_REGIMENS)))
            if self.every_days is not None:
                probs.append(("every_days", "give regimen or every_days, not both"))
        if self.n_doses > 1 and self.every_days is None and self.regimen is None:
            probs.append(("n_doses", "several doses need every_days (or a metformin regimen)"))
        if not metformin_like and "effects" in self.model_fields_set:
            probs.append(("effects", f"effects applies to metformin only, not {self.drug}"))
        raise_problems(probs)
        return self

    @property
    def interval_days(self) -> float | None:
        """Days between administrations (from ``every_days`` or ``regimen``); None: single dose."""
        if self.every_days is not None:
            return self.every_days
        if self.regimen is not None:
            return 1.0 / METFORMIN_REGIMENS[self.regimen]
        return None

    @property
    def unit_resolved(self) -> str:
        return self.unit or DRUGS[self.drug].default_unit

    @property
    def route_resolved(self) -> str:
        return self.route or DRUGS[self.drug].routes[0]

    @property
    def last_day(self) -> float:
        """Day of the last administration."""
        return self.start_day + (self.n_doses - 1) * (self.interval_days or 0.0)

    def administration_days(self) -> list[float]:
        """Days of the administrations: ``start_day + k * interval`` for ``k < n_doses``."""
        step = self.interval_days or 0.0
        return [self.start_day + k * step for k in range(self.n_doses)]

    def dose_mg(self, body_weight_kg: float) -> float:
        """Dose per administration in mg (mg/kg doses x body weight)."""
        if not (isinstance(body_weight_kg, (int, float)) and 0 < body_weight_kg < math.inf):
            raise ValueError(f"body_weight_kg must be a positive finite number, got {body_weight_kg!r}")
        return self.dose * body_weight_kg if self.unit_resolved == "mg/kg" else self.dose

    def dose_mg_per_kg(self, body_weight_kg: float) -> float:
        """Dose per administration in mg/kg."""
        return self.dose_mg(body_weight_kg) / body_weight_kg

    def resolved(self) -> Treatment:
        """A copy with ``unit`` and ``route`` filled in."""
        return self.model_copy(update={"unit": self.unit_resolved, "route": self.route_resolved})


# ----------------------------------------------------------------------------- tests

#: fields each test kind takes (besides kind and day) and the routes it allows
_TEST_FIELDS: dict[str, set[str]] = {
    "fasting": {"duration_min"},
    "ogtt": {"glucose_g", "glucose_g_per_kg", "route", "duration_min"},
    "ipgtt": {"glucose_g", "glucose_g_per_kg", "route", "duration_min"},
    "itt": {"insulin_U_per_kg", "route", "duration_min"},
    "clamp": {"insulin_mU_per_kg_per_min", "target_mg_dL", "route", "duration_min"},
}
_TEST_ROUTES = {"ogtt": ("oral",), "ipgtt": ("ip",), "itt": ("iv", "ip"), "clamp": ("iv",)}
#: species defaults: kind -> field -> {model species: value}
_TEST_DEFAULTS: dict[str, dict[str, dict[str, Any]]] = {
    "fasting": {"duration_min": {HUMAN: 0.0, MOUSE: 0.0}},
    "ogtt": {"route": {HUMAN: "oral", MOUSE: "oral"}, "duration_min": {HUMAN: 120.0, MOUSE: 120.0}},
    "ipgtt": {"route": {HUMAN: "ip", MOUSE: "ip"}, "duration_min": {HUMAN: 120.0, MOUSE: 120.0}},
    "itt": {"insulin_U_per_kg": {HUMAN: 0.1, MOUSE: 0.75}, "route": {HUMAN: "iv", MOUSE: "ip"},
            "duration_min": {HUMAN: 60.0, MOUSE: 90.0}},
    "clamp": {"insulin_mU_per_kg_per_min": {HUMAN: CLAMP_HUMAN_MU_PER_KG_PER_MIN, MOUSE: CLAMP_MOUSE_MU_PER_KG_PER_MIN}, "route": {HUMAN: "iv", MOUSE: "iv"},
              "duration_min": {HUMAN: 180.0, MOUSE: 150.0}},
}
#: glucose load when a test gives none: the standard human OGTT (g), the mouse GTT (g/kg)
_GLUCOSE_DEFAULT = {HUMAN: ("glucose_g", OGTT_HUMAN_MG / MG_PER_G),
                    MOUSE: ("glucose_g_per_kg", GTT_MOUSE_MG_PER_KG / MG_PER_G)}


class Test(ScenarioModel):
    """A metabolic test on ``day`` (None: at the end of the run); unset fields take species defaults."""

    __test__ = False  # not a pytest class

    kind: Str
    day: Day | None = None
    glucose_g: Pos | None = None
    glucose_g_per_kg: Pos | None = None
    insulin_U_per_kg: Pos | None = None
    route: Literal["iv", "ip", "oral"] | None = None
    insulin_mU_per_kg_per_min: Pos | None = None
    target_mg_dL: Pos | None = None
    duration_min: Annotated[float, Field(strict=True, ge=0)] | None = None

    @field_validator("kind")
    @classmethod
    def _known(cls, v: str) -> str:
        choose("test kind", v, TEST_KINDS)
        if v not in _TEST_FIELDS:
            raise ValueError(f"test kind {v!r} is not supported by the scenario schema yet")
        return v

    @model_validator(mode="after")
    def _applicable(self) -> Test:
        takes, probs = _TEST_FIELDS[self.kind], []
        for name in sorted(set().union(*_TEST_FIELDS.values())):
            if getattr(self, name) is not None and name not in takes:
                probs.append((name, f"not used by {self.kind} tests (they take: {', '.join(sorted(takes))})"))
        routes = _TEST_ROUTES.get(self.kind, ())
        if self.route is not None and routes and self.route not in routes:
            probs.append(("route", f"{self.kind} tests are given {' or '.join(routes)}, not {self.route!r}"))
        if self.glucose_g is not None and self.glucose_g_per_kg is not None:
            probs.append(("glucose_g_per_kg", "give glucose_g or glucose_g_per_kg, not both"))
        if self.kind != "fasting" and self.duration_min == 0:
            probs.append(("duration_min", "must be > 0"))
        raise_problems(probs)
        return self

    def resolved(self, species_model: str, duration_days: float | None = None) -> Test:
        """A copy with the species defaults filled in (and ``day`` if ``duration_days`` is given)."""
        if species_model not in _GLUCOSE_DEFAULT:
            raise ValueError(f"species_model must be {HUMAN!r} or {MOUSE!r}, got {species_model!r}")
        update = {f: by[species_model] for f, by in _TEST_DEFAULTS[self.kind].items()
                  if getattr(self, f) is None}
        if "glucose_g" in _TEST_FIELDS[self.kind] and self.glucose_g is None and self.glucose_g_per_kg is None:
            field, value = _GLUCOSE_DEFAULT[species_model]
            update[field] = value
        if self.day is None and duration_days is not None:
            update["day"] = float(duration_days)
        return self.model_copy(update=update)
