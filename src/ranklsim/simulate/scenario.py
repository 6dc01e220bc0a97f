"""Typed scenario schema (species, arms, tests, outputs) with validation and a TOML round trip.

Names come from :mod:`ranklsim.simulate.catalog`; parameter ids from the parameter table.
Every invalid input raises :class:`ScenarioError` with one ``field.path: message`` line per
problem.
"""

from __future__ import annotations

import itertools
import math
import tomllib
from pathlib import Path
from typing import Annotated, Any

import tomli_w
from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator

from ranklsim.errors import unknown_id_error, unknown_name_message
from ranklsim.models.parameters import MOUSE, out_of_bounds, parameter_table
from ranklsim.simulate.catalog import DRUGS, GENOTYPES, SPECIES_VARIANTS, SUBJECTS
from ranklsim.simulate.scenario_limits import MAX_DURATION_DAYS, MAX_NAME_LENGTH, limit_problems
from ranklsim.simulate.scenario_parts import (
    EPS,
    METFORMIN_EFFECTS,
    DietPeriod,
    GenotypeChange,
    Pos,
    Problems,
    ScenarioModel,
    Str,
    Test,
    Treatment,
    catalog_name,
    choose,
    fmt,
    key_path,
    output_ids,
    raise_problems,
)

__all__ = [
    "METFORMIN_EFFECTS", "Arm", "DietPeriod", "GenotypeChange", "Scenario", "ScenarioError", "Test",
    "Treatment", "dump_scenario_file", "dumps_scenario", "load_scenario_file", "loads_scenario",
    "scenario_from_dict",
]

SubjectName = catalog_name("subject", SUBJECTS)

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


# ----------------------------------------------------------------------------- arm, scenario


class Arm(ScenarioModel):
    """One study arm: a subject with genotype changes, diet periods, treatments and overrides."""

    name: Str = Field(min_length=1, max_length=MAX_NAME_LENGTH)
    subject: SubjectName = "reference"
    genotype: tuple[GenotypeChange, ...] = ()
    diet: tuple[DietPeriod, ...] = ()
    treatments: tuple[Treatment, ...] = ()
    overrides: dict[Str, Annotated[float, Field(strict=True, ge=0)]] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be blank")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Arm:
        probs = []
        seen: dict[str, int] = {}
        for j, g in enumerate(self.genotype):
            param = GENOTYPES[g.name].parameter
            if param in seen:
                probs.append((f"genotype[{j}].name", (f"{g.name!r} changes the same parameter ({param}) "
                                                     f"as genotype[{seen[param]}]")))
            seen.setdefault(param, j)
        order = sorted(range(len(self.diet)), key=lambda j: self.diet[j].start_day)
        for prev, j in itertools.pairwise(order):
            end = self.diet[prev].end_day(math.inf)
            if end > self.diet[j].start_day + EPS:
                probs.append((f"diet[{j}].start_day", f"overlaps diet[{prev}] (one diet at a time)"))
        slots: dict[str, tuple[str, int]] = {}
        for j, t in enumerate(self.treatments):
            slot = DRUGS[t.drug].slot
            if slot in slots and slots[slot][0] != t.drug:
                probs.append((f"treatments[{j}].drug", (f"{t.drug} and {slots[slot][0]} share the model's "
                                                       f"{slot} slot; use one of them per arm")))
            slots.setdefault(slot, (t.drug, j))
        raise_problems(probs)
        return self

    def genotype_overrides(self) -> dict[str, float]:
        """Parameter values set by the genotype changes."""
        out: dict[str, float] = {}
        for g in self.genotype:
            out.update(g.overrides())
        return out


class Scenario(ScenarioModel):
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
    #: run arm overrides outside their table bounds (the model's validated domain); the result
    #: names them (``ScenarioResult.out_of_bounds``, ``out_of_bounds.json``)
    allow_out_of_bounds: bool = False

    @field_validator("species")
    @classmethod
    def _species(cls, v: str) -> str:
        return choose("species variant", v, SPECIES_VARIANTS)

    @field_validator("readouts", "timecourse")
    @classmethod
    def _outputs(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return output_ids(v)

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
    def _cross_checks(self, info: ValidationInfo) -> Scenario:
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
            if test.day is not None and test.day > self.duration_days + EPS:
                probs.append((f"tests[{k}].day", self._after_end(test.day)))
        if self.output_every_days is not None and self.output_every_days > self.duration_days + EPS:
            probs.append(("output_every_days", f"longer than the run (duration_days = {fmt(self.duration_days)})"))
        if not probs and (info.context or {}).get("limits", True):
            probs = limit_problems(self)  # resource limits: before any work, liftable
        raise_problems(probs)
        return self

    def _after_end(self, day: float) -> str:
        return f"day {fmt(day)} is after the end of the run (duration_days = {fmt(self.duration_days)})"

    def _arm_problems(self, arm: Arm) -> list[tuple[str, str]]:
        """Problems of one arm in this scenario's species and run (paths relative to the arm)."""
        treatments = [p for j, t in enumerate(arm.treatments) for p in self._treatment_problems(j, t)]
        return [*self._subject_problems(arm), *self._genotype_problems(arm), *self._diet_problems(arm),
                *treatments, *self._override_problems(arm)]

    def _subject_problems(self, arm: Arm) -> list[tuple[str, str]]:
        ms = self.model_species
        if ms in SUBJECTS[arm.subject].species:
            return []
        ok = [s.name for s in SUBJECTS.values() if ms in s.species]
        return [(".subject", (f"subject {arm.subject!r} is not defined for the {ms} model; "
                              f"choose one of: {', '.join(ok)}"))]

    def _genotype_problems(self, arm: Arm) -> list[tuple[str, str]]:
        ms = self.model_species
        return [(f".genotype[{j}].name", f"{g.name!r} is not available for the {ms} model")
                for j, g in enumerate(arm.genotype) if ms not in GENOTYPES[g.name].species]

    def _diet_problems(self, arm: Arm) -> list[tuple[str, str]]:
        end, probs = self.duration_days + EPS, []
        for j, d in enumerate(arm.diet):
            if d.start_day > end:
                probs.append((f".diet[{j}].start_day", self._after_end(d.start_day)))
            elif d.end_day(self.duration_days) > end:
                probs.append((f".diet[{j}].duration_days", (f"the period ends after the end of the run "
                                                           f"(duration_days = {fmt(self.duration_days)})")))
        return probs

    def _treatment_problems(self, j: int, t: Treatment) -> list[tuple[str, str]]:
        """Problems of ``treatments[j]``: a drug for another RANKL or model, a human dose unit
        for a mouse, administrations after the end of the run."""
        ms, end = self.model_species, self.duration_days + EPS
        path, spec, probs = f".treatments[{j}]", DRUGS[t.drug], []
        if spec.binds_rankl and self.variant.rankl not in spec.binds_rankl:
            probs.append((f"{path}.drug", self._binding_message(t.drug)))
        elif ms not in spec.model_species:
            other = [d.name for d in DRUGS.values() if ms in d.model_species]
            probs.append((f"{path}.drug", (f"{t.drug} has no pharmacokinetics in the {ms} model "
                                          f"(only {', '.join(spec.model_species)}); drugs for {ms}: "
                                          f"{', '.join(other)}")))
        if ms == MOUSE and t.unit is None and spec.default_unit != "mg/kg":
            probs.append((f"{path}.unit", (f'give unit = "mg/kg" for a mouse ({t.drug}\'s default unit '
                                          f'{spec.default_unit!r} is a human dose)')))
        last = t.last_day
        if last > end:
            field = "start_day" if t.start_day > end else "n_doses"
            probs.append((f"{path}.{field}", f"the last administration, on {self._after_end(last)}"))
        return probs

    def _override_problems(self, arm: Arm) -> list[tuple[str, str]]:
        table = parameter_table(self.model_species)
        by_genotype = {GENOTYPES[g.name].parameter: g.name for g in arm.genotype}
        probs = []
        for key in arm.overrides:
            path = f".overrides{key_path(key)}"
            if key not in table:
                probs.append((path, str(unknown_id_error("parameter", key, table))))
            elif key in by_genotype:
                probs.append((path, f"also set by genotype {by_genotype[key]!r}; keep one"))
            elif not self.allow_out_of_bounds and out_of_bounds(table, {key: arm.overrides[key]}):
                p = table[key]
                probs.append((path, (f"{fmt(arm.overrides[key])} is outside its table bounds [{fmt(p.lower)}, "
                                     f"{fmt(p.upper)}] {p.unit}, the region where the model is valid; set "
                                     f"allow_out_of_bounds = true to run it anyway (the result marks it)")))
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
            out += key_path(str(part))
    return out.removeprefix(".")


_CHILDREN: dict[type, dict[str, type]] = {
    Scenario: {"arms": Arm, "tests": Test},
    Arm: {"genotype": GenotypeChange, "diet": DietPeriod, "treatments": Treatment},
}
_MESSAGES = {
    "tuple_type": "must be a list (TOML array)", "list_type": "must be a list (TOML array)",
    "dict_type": "must be a table", "model_type": "must be a table",
    "model_attributes_type": "must be a table", "missing": "required key is missing",
    "too_short": "must not be empty", "int_type": "must be an integer",
    "int_from_float": "must be a whole number",
    "string_pattern_mismatch": "must be lowercase letters, digits, '-' or '_' (a slug)",
}


def _model_at(loc: tuple) -> type | None:
    model: type | None = Scenario
    for part in loc:
        if not isinstance(part, int):
            model = _CHILDREN.get(model, {}).get(part)
    return model


def _message(e: dict) -> str:
    kind, loc = e["type"], e["loc"]
    if kind == "extra_forbidden":
        model = _model_at(loc[:-1])
        known = list(model.model_fields) if model else []
        return unknown_name_message("key", str(loc[-1]), known) if known else "unknown key"
    msg = _MESSAGES.get(kind) or e["msg"].removeprefix("Value error, ")
    msg = msg.replace("Input should be a valid ", "must be a ").replace("Input should be", "must be")
    msg = msg.replace("String should have", "must have")
    if "[key]" in loc:
        msg = f"key: {msg}"
    value = e.get("input")
    if kind not in ("value_error", "missing") and isinstance(value, (str, int, float, bool)):
        shown = repr(value)
        msg += f" (got {shown[:40] + '...' if len(shown) > 43 else shown})"
    return msg


def _problems(exc: ValidationError) -> list[tuple[str, str]]:
    out, errors = [], exc.errors()
    for e in errors:
        loc, n = e["loc"], len(e["loc"])
        if e["type"] == "too_short" and any(len(o["loc"]) > n and o["loc"][:n] == loc for o in errors):
            continue  # "no items" only because its items failed: reported below
        path = _path(loc)
        error = (e.get("ctx") or {}).get("error")
        if isinstance(error, Problems):
            for rel, msg in error.problems:
                out.append((path + rel if rel.startswith(("[", ".")) or not path else f"{path}.{rel}", msg))
            continue
        out.append((path or "(scenario)", _message(e)))
    return out


def scenario_from_dict(data: Any, source: str = "scenario", *, limits: bool = True) -> Scenario:
    """Validate a plain dict (as parsed from TOML) into a :class:`Scenario`; ``limits=False`` lifts
    the resource limits (:mod:`~ranklsim.simulate.scenario_limits`)."""
    try:
        return Scenario.model_validate(data, context={"limits": limits})
    except ValidationError as exc:
        raise ScenarioError(source, _problems(exc)) from None


def loads_scenario(text: str, source: str = "scenario", *, limits: bool = True) -> Scenario:
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
    return scenario_from_dict(data, source, limits=limits)


def load_scenario_file(path: str | Path, *, limits: bool = True) -> Scenario:
    """Read and validate a scenario TOML file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ScenarioError(str(path), [("", "not valid TOML: not UTF-8 text")]) from None
    except OSError as exc:
        raise ScenarioError(str(path), [("", f"cannot read the file: {exc.strerror or exc}")]) from None
    return loads_scenario(text, str(path), limits=limits)


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
