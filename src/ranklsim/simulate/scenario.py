"""Typed scenario schema (species, arms, tests, outputs) with validation and a TOML round trip.

Names come from :mod:`ranklsim.simulate.catalog`; parameter ids from the parameter table.
Every invalid input raises :class:`ScenarioError` with one ``field.path: message`` line per
problem.
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ranklsim.models.ids import PARAMETER_IDS, VARIABLE_IDS
from ranklsim.models.parameters import HUMAN, MOUSE, parameter_table, unknown_id_error
from ranklsim.simulate.catalog import (
    DIETS, DRUGS, GENOTYPES, METFORMIN_REGIMENS, SPECIES_VARIANTS, SUBJECTS, TEST_KINDS,
)

MAX_DURATION_DAYS = 36_500.0
METFORMIN_SLOT = "metformin"  # drugs in this PK slot take ``regimen`` and ``effects``
METFORMIN_EFFECTS = ("egp", "rankl")
_EPS = 1e-9  # tolerance for day comparisons

Str = Annotated[str, Field(strict=True)]
Num = Annotated[float, Field(strict=True)]
Day = Annotated[float, Field(strict=True, ge=0)]
Pos = Annotated[float, Field(strict=True, gt=0)]
Count = Annotated[int, Field(strict=True, ge=1)]
Effect = Literal["egp", "rankl"]


class ScenarioError(ValueError):
    """Invalid scenario input; ``errors`` is a list of ``(field path, message)``."""

    def __init__(self, source: str, errors: list[tuple[str, str]]):
        self.source = source
        self.errors = list(errors)
        lines = [f"{p}: {m}" if p else m for p, m in self.errors]
        if len(lines) == 1:
            text = f"{source}: {lines[0]}"
        else:
            text = f"{source}: {len(lines)} problems\n" + "\n".join("  " + s for s in lines)
        super().__init__(text)


class _Problems(ValueError):
    """Raised inside validators: problems with paths relative to the failing object."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{p}: {m}" for p, m in problems))


def _raise(problems: list[tuple[str, str]]) -> None:
    if problems:
        raise _Problems(problems)


def unknown_name_message(kind: str, name: str, known) -> str:
    """``unknown <kind> 'x' (did you mean ...?); choose one of: ...``."""
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.5)
    hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
    return f"unknown {kind} {name!r}{hint}; choose one of: {', '.join(known)}"


def _choose(kind: str, name: str, known) -> str:
    """Return ``name`` if in ``known``; else raise naming close matches and the choices."""
    if name in known:
        return name
    raise ValueError(unknown_name_message(kind, name, known))


_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _key(name: str) -> str:
    return f".{name}" if _IDENT.match(name) else f"[{name!r}]"


def _fmt(x: float) -> str:
    return f"{x:g}"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


# ----------------------------------------------------------------------------- arm parts


class GenotypeChange(_Model):
    """A catalogue genotype; ``fraction`` = knockdown extent / gain level, ``fold`` for fold kinds."""

    name: Str
    fraction: Annotated[float, Field(strict=True, ge=0, le=1)] = 1.0
    fold: Pos | None = None

    @field_validator("name")
    @classmethod
    def _known(cls, v: str) -> str:
        return _choose("genotype", v, GENOTYPES)

    @model_validator(mode="after")
    def _kind(self) -> GenotypeChange:
        kind = GENOTYPES[self.name].kind
        folds = [g.name for g in GENOTYPES.values() if g.kind == "fold"]
        if self.fold is not None and kind != "fold":
            _raise([("fold", f"{self.name!r} is a {kind} change (use fraction); fold applies only to "
                             f"{', '.join(folds)}")])
        if kind == "fold" and self.fraction != 1.0:
            _raise([("fraction", f"{self.name!r} is a fold change: give fold, not fraction")])
        return self

    def overrides(self) -> dict[str, float]:
        """Parameter values this change sets (from the catalogue)."""
        return GENOTYPES[self.name].overrides(self.fraction, self.fold)


class DietPeriod(_Model):
    """A catalogue diet from ``start_day`` for ``duration_days`` (None: to the end of the run)."""

    diet: Str
    start_day: Day = 0.0
    duration_days: Pos | None = None

    @field_validator("diet")
    @classmethod
    def _known(cls, v: str) -> str:
        return _choose("diet", v, DIETS)

    def end_day(self, run_days: float) -> float:
        return run_days if self.duration_days is None else self.start_day + self.duration_days


class Treatment(_Model):
    """Dosing of one catalogue drug: ``n_doses`` administrations from ``start_day``."""

    drug: Str
    dose: Pos
    unit: Literal["mg", "mg/kg"] | None = None
    route: Str | None = None
    start_day: Day = 0.0
    every_days: Pos | None = None
    n_doses: Count = 1
    regimen: Str | None = None
    effects: tuple[Effect, ...] = METFORMIN_EFFECTS

    @field_validator("drug")
    @classmethod
    def _known(cls, v: str) -> str:
        return _choose("drug", v, DRUGS)

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
        if not metformin_like and self.effects != METFORMIN_EFFECTS:
            probs.append(("effects", f"effects applies to metformin only, not {self.drug}"))
        _raise(probs)
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
    "clamp": {"insulin_mU_per_kg_per_min": {HUMAN: 1.0, MOUSE: 2.5}, "route": {HUMAN: "iv", MOUSE: "iv"},
              "duration_min": {HUMAN: 180.0, MOUSE: 150.0}},
}
_GLUCOSE_DEFAULT = {HUMAN: ("glucose_g", 75.0), MOUSE: ("glucose_g_per_kg", 2.0)}


class Test(_Model):
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
        _choose("test kind", v, TEST_KINDS)
        if v not in _TEST_FIELDS:
            raise ValueError(f"test kind {v!r} is not supported by the scenario schema yet")
        return v

    @model_validator(mode="after")
    def _applicable(self) -> Test:
        takes, probs = _TEST_FIELDS[self.kind], []
        for name in sorted(set().union(*_TEST_FIELDS.values())):
            if getattr(self, name) is not None and name not in takes:
                probs.append((name, f"not used by a {self.kind} test (it takes: {', '.join(sorted(takes))})"))
        routes = _TEST_ROUTES.get(self.kind, ())
        if self.route is not None and routes and self.route not in routes:
            probs.append(("route", f"a {self.kind} test is given {' or '.join(routes)}, not {self.route!r}"))
        if self.glucose_g is not None and self.glucose_g_per_kg is not None:
            probs.append(("glucose_g_per_kg", "give glucose_g or glucose_g_per_kg, not both"))
        if self.kind != "fasting" and self.duration_min == 0:
            probs.append(("duration_min", "must be > 0"))
        _raise(probs)
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


# ----------------------------------------------------------------------------- arm, scenario


class Arm(_Model):
    """One study arm: a subject with genotype changes, diet periods, treatments and overrides."""

    name: Str = Field(min_length=1)
    subject: Str = "reference"
    genotype: tuple[GenotypeChange, ...] = ()
    diet: tuple[DietPeriod, ...] = ()
    treatments: tuple[Treatment, ...] = ()
    overrides: dict[Str, Annotated[float, Field(strict=True, ge=0)]] = {}

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be blank")
        return v

    @field_validator("subject")
    @classmethod
    def _subject(cls, v: str) -> str:
        return _choose("subject", v, SUBJECTS)

    @model_validator(mode="after")
    def _consistent(self) -> Arm:
        probs = []
        seen: dict[str, int] = {}
        for j, g in enumerate(self.genotype):
            param = GENOTYPES[g.name].parameter
            if param in seen:
                probs.append((f"genotype[{j}].name", f"{g.name!r} changes the same parameter ({param}) "
                                                     f"as genotype[{seen[param]}]"))
            seen.setdefault(param, j)
        order = sorted(range(len(self.diet)), key=lambda j: self.diet[j].start_day)
        for prev, j in zip(order, order[1:]):
            end = self.diet[prev].end_day(math.inf)
            if end > self.diet[j].start_day + _EPS:
                probs.append((f"diet[{j}].start_day", f"overlaps diet[{prev}] (one diet at a time)"))
        slots: dict[str, tuple[str, int]] = {}
        for j, t in enumerate(self.treatments):
            slot = DRUGS[t.drug].slot
            if slot in slots and slots[slot][0] != t.drug:
                probs.append((f"treatments[{j}].drug", f"{t.drug} and {slots[slot][0]} share the model's "
                                                       f"{slot} slot; use one of them per arm"))
            slots.setdefault(slot, (t.drug, j))
        _raise(probs)
        return self

    def genotype_overrides(self) -> dict[str, float]:
        """Parameter values set by the genotype changes."""
        out: dict[str, float] = {}
        for g in self.genotype:
            out.update(g.overrides())
        return out


def _output_ids(v: tuple[str, ...]) -> tuple[str, ...]:
    known = VARIABLE_IDS | PARAMETER_IDS
    probs, seen = [], set()
    for k, name in enumerate(v):
        if name not in known:
            probs.append((f"[{k}]", str(unknown_id_error("output", name, sorted(known)))))
        elif name in seen:
            probs.append((f"[{k}]", f"{name!r} is listed twice"))
        seen.add(name)
    _raise(probs)
    return v


class Scenario(_Model):
    """A study: a species variant, arms run for ``duration_days``, tests and recorded outputs."""

    name: Str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=100)
    description: Str = ""
    species: Str
    duration_days: Annotated[float, Field(strict=True, gt=0, le=MAX_DURATION_DAYS)]
    arms: tuple[Arm, ...] = Field(min_length=1)
    tests: tuple[Test, ...] = ()
    readouts: tuple[Str, ...] = ()
    timecourse: tuple[Str, ...] = ()
    output_every_days: Pos | None = None

    @field_validator("species")
    @classmethod
    def _species(cls, v: str) -> str:
        return _choose("species variant", v, SPECIES_VARIANTS)

    @field_validator("readouts", "timecourse")
    @classmethod
    def _outputs(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return _output_ids(v)

    @property
    def variant(self):
        return SPECIES_VARIANTS[self.species]

    @property
    def model_species(self) -> str:
        """Parameter set the variant runs ("human" or "mouse")."""
        return SPECIES_VARIANTS[self.species].model_species

    def arm(self, name: str) -> Arm:
        for a in self.arms:
            if a.name == name:
                return a
        raise KeyError(f"no arm {name!r} in scenario {self.name!r}")

    def resolved_tests(self) -> tuple[Test, ...]:
        """The tests with species defaults and days filled in."""
        return tuple(t.resolved(self.model_species, self.duration_days) for t in self.tests)

    @model_validator(mode="after")
    def _cross_checks(self) -> Scenario:
        probs: list[tuple[str, str]] = []
        first: dict[str, int] = {}
        for i, arm in enumerate(self.arms):
            if arm.name in first:
                probs.append((f"arms[{i}].name", f"duplicate arm name {arm.name!r} (also arms[{first[arm.name]}])"))
            first.setdefault(arm.name, i)
            probs += [(f"arms[{i}]{p}", m) for p, m in self._arm_problems(arm)]
        for k, test in enumerate(self.tests):
            if test.kind == "ipgtt" and self.model_species != MOUSE:
                probs.append((f"tests[{k}].kind", "ipgtt is for mice only; use ogtt"))
            if test.day is not None and test.day > self.duration_days + _EPS:
                probs.append((f"tests[{k}].day", self._after_end(test.day)))
        if self.output_every_days is not None and self.output_every_days > self.duration_days + _EPS:
            probs.append(("output_every_days", f"longer than the run (duration_days = {_fmt(self.duration_days)})"))
        _raise(probs)
        return self

    def _after_end(self, day: float) -> str:
        return f"day {_fmt(day)} is after the end of the run (duration_days = {_fmt(self.duration_days)})"

    def _arm_problems(self, arm: Arm) -> list[tuple[str, str]]:
        variant, ms, end = self.variant, self.model_species, self.duration_days + _EPS
        probs = []
        subject = SUBJECTS[arm.subject]
        if ms not in subject.species:
            ok = [s.name for s in SUBJECTS.values() if ms in s.species]
            probs.append((".subject", f"subject {arm.subject!r} is not defined for the {ms} model; "
                                      f"choose one of: {', '.join(ok)}"))
        for j, g in enumerate(arm.genotype):
            if ms not in GENOTYPES[g.name].species:
                probs.append((f".genotype[{j}].name", f"{g.name!r} is not available for the {ms} model"))
        for j, d in enumerate(arm.diet):
            if d.start_day > end:
                probs.append((f".diet[{j}].start_day", self._after_end(d.start_day)))
            elif d.end_day(self.duration_days) > end:
                probs.append((f".diet[{j}].duration_days", f"the period ends after the end of the run "
                                                           f"(duration_days = {_fmt(self.duration_days)})"))
        for j, t in enumerate(arm.treatments):
            path, spec = f".treatments[{j}]", DRUGS[t.drug]
            if spec.binds_rankl and variant.rankl not in spec.binds_rankl:
                probs.append((f"{path}.drug", self._binding_message(t.drug)))
            elif ms not in spec.model_species:
                other = [d.name for d in DRUGS.values() if ms in d.model_species]
                probs.append((f"{path}.drug", f"{t.drug} has no pharmacokinetics in the {ms} model "
                                              f"(only {', '.join(spec.model_species)}); drugs for {ms}: "
                                              f"{', '.join(other)}"))
            if ms == MOUSE and t.unit is None and spec.default_unit != "mg/kg":
                probs.append((f"{path}.unit", f'give unit = "mg/kg" for a mouse ({t.drug}\'s default unit '
                                              f'{spec.default_unit!r} is a human dose)'))
            last = t.administration_days()[-1]
            if last > end:
                field = "start_day" if t.start_day > end else "n_doses"
                probs.append((f"{path}.{field}", f"the last administration ({self._after_end(last)})"))
        table = parameter_table(ms)
        by_genotype = {GENOTYPES[g.name].parameter: g.name for g in arm.genotype}
        for key, value in arm.overrides.items():
            path = f".overrides{_key(key)}"
            if key not in table:
                probs.append((path, str(unknown_id_error("parameter", key, table))))
                continue
            p = table[key]
            if not p.lower <= value <= p.upper:
                probs.append((path, f"{_fmt(value)} is outside the allowed range "
                                    f"[{_fmt(p.lower)}, {_fmt(p.upper)}] {p.unit}".rstrip()))
            if key in by_genotype:
                probs.append((path, f"also set by genotype {by_genotype[key]!r}; keep one"))
        return probs

    def _binding_message(self, drug: str) -> str:
        spec, variant, ms = DRUGS[drug], self.variant, self.model_species
        binds = "/".join(spec.binds_rankl)
        msg = f"{drug} does not bind {variant.rankl} RANKL (it binds {binds} RANKL)"
        variants = [v.name for v in SPECIES_VARIANTS.values()
                    if v.rankl in spec.binds_rankl and v.model_species in spec.model_species]
        variants.sort(key=lambda n: SPECIES_VARIANTS[n].model_species != ms)
        if variants:
            msg += f"; use species = {' or '.join(repr(v) for v in variants)}"
        alternatives = [d.name for d in DRUGS.values()
                        if variant.rankl in d.binds_rankl and ms in d.model_species]
        if alternatives:
            msg += f", or a drug that binds {variant.rankl} RANKL: {', '.join(alternatives)}"
        return msg


# ----------------------------------------------------------------------------- conversion


def _path(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part != "[key]":
            out += _key(str(part)) if out else str(part)
    return out


def _problems(exc: ValidationError) -> list[tuple[str, str]]:
    out = []
    for e in exc.errors():
        path = _path(e["loc"])
        error = (e.get("ctx") or {}).get("error")
        if isinstance(error, _Problems):
            for rel, msg in error.problems:
                out.append((path + rel if rel.startswith(("[", ".")) or not path else f"{path}.{rel}", msg))
            continue
        msg = e["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
        if "[key]" in e["loc"]:
            msg = f"key: {msg}"
        value = e.get("input")
        if e["type"] not in ("value_error", "missing") and isinstance(value, (str, int, float, bool)):
            shown = repr(value)
            msg += f" (got {shown[:40] + '...' if len(shown) > 43 else shown})"
        out.append((path or "(scenario)", msg))
    return out


def scenario_from_dict(data: Any, source: str = "scenario") -> Scenario:
    """Validate a plain dict (as parsed from TOML) into a :class:`Scenario`."""
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(source, _problems(exc)) from None


def loads_scenario(text: str, source: str = "scenario") -> Scenario:
    """Parse and validate a scenario from TOML text."""
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ScenarioError(source, [("", f"not valid TOML: not UTF-8 text ({exc.reason})")]) from None
    if not isinstance(text, str):
        raise ScenarioError(source, [("", f"not valid TOML: expected text, got {type(text).__name__}")])
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(source, [("", f"not valid TOML: {exc}")]) from None
    except RecursionError:
        raise ScenarioError(source, [("", "not valid TOML: nested too deeply")]) from None
    return scenario_from_dict(data, source)


def load_scenario_file(path: str | Path) -> Scenario:
    """Read and validate a scenario TOML file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ScenarioError(str(path), [("", "not valid TOML: not UTF-8 text")]) from None
    except OSError as exc:
        raise ScenarioError(str(path), [("", f"cannot read the file: {exc.strerror or exc}")]) from None
    return loads_scenario(text, str(path))


def dumps_scenario(scenario: Scenario) -> str:
    """TOML text for ``scenario`` (defaults and unset values omitted); loads back equal."""
    data = scenario.model_dump(mode="json", exclude_defaults=True, exclude_none=True)
    data = {**{k: v for k, v in data.items() if k not in ("tests", "arms")},
            **{k: data[k] for k in ("tests", "arms") if k in data}}
    return f"# ranklsim scenario {scenario.name!r}\n\n" + tomli_w.dumps(data)


def dump_scenario_file(scenario: Scenario, path: str | Path) -> Path:
    """Write ``scenario`` as TOML to ``path``; returns the path."""
    path = Path(path)
    path.write_text(dumps_scenario(scenario), encoding="utf-8")
    return path
