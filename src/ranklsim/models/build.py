"""Compose the Antimony modules and the parameter table into SBML (cached per process).

``build_antimony`` concatenates the module files in :data:`MODULES` order, then the
parameter values of the table and the reference initial state; ``build_sbml`` converts
that to SBML Level 3 and adds names, SBO terms and MIRIAM annotations; ``compile_sbml`` compiles an
SBML text into a RoadRunner with the package's LLVM settings (every compile in the package goes
through it).  Nothing here imports the simulator.
"""

from __future__ import annotations

import hashlib
import re
from functools import cache
from pathlib import Path

from ranklsim.models.parameters import (
    annotations,
    check_species,
    initial_state,
    parameter_table,
)
from ranklsim.models.sbml_units import annotate_literal_units

MODULE_DIR = Path(__file__).parent / "modules"
#: Antimony module files, in composition order (units first, couplings last).
MODULES = (
    "units",
    "pk",
    "rankl_axis",
    "nfkb",
    "insulin_signalling",
    "glucose_insulin",
    "progression",
    "coupling",
)
MODEL_ID = "ranklsim"
#: revision of the Antimony -> SBML step (part of the compiled-model cache key): bump it when
#: :func:`sbml_from_antimony` changes what it writes for the same Antimony text
BUILD_REVISION = "4: exact values, model-wide units, literal units"
VIEWS = ("acute", "chronic")
#: libRoadRunner's LLVM back end for every model the package compiles (:func:`compile_sbml`): ORC LLJIT.
#: Measured 2026-12-06 on this 2-core VM (``benchmarks/jit_backend.py``): the models compile in
#: 0.16-0.20 s with LLJIT (optimisation level 0) against 0.84-0.97 s with libRoadRunner 2.10's default, MCJIT; both give
#: bit-identical trajectories (``tests/test_jit_backend.py``); LLJIT's code integrates 0-5 % slower.
JIT_BACKEND = "LLJIT"
#: LLJIT's optimisation level, pinned so a compile does not depend on the process setting: levels 1-3
#: compile 2.5-4x slower and change the trajectories' last digits
JIT_OPTIMIZATION_LEVEL = 0

#: states that are signed by definition: deviations from basal (Dalla Man 2007: remote insulin action
#: X = I - Ib filtered, secretion above basal Y) and the clamp controller's integral term clamp_z;
#: every other state (amounts, concentrations, masses, fractions) is non-negative
SIGNED_STATES = frozenset({"X", "Y", "clamp_z"})
#: assignment outputs that are signed by definition: net binding/phosphorylation/synthesis fluxes
#: (v_*), the plasma glucose rate dGp_dt, the net antibody and OPG-Fc outflows (they include the
#: exchange with the peripheral compartment), the relative glucose excess bf_x, the target bf_target of
#: beta-cell function (the saturating law extrapolated below zero drives a faster decline; beta_fn
#: itself stops at zero) and the clamp readouts EGP_supp/EGP_fall (negative when EGP rises above its
#: pre-clamp value).  Every other output
#: (concentrations, utilisation, extraction, production and clearance rates, fractions, indices) is
#: non-negative: the model's validity domain (docs/model.md Section 15).
SIGNED_OUTPUTS = frozenset({
    "dGp_dt", "bf_x", "bf_target", "EGP_supp", "EGP_fall", "ab_out", "ofc_out", "v_IRsyn", "v_ins1", "v_ins2", "v_irs_y",
    "v_irs_s", "v_LO", "v_LRb", "v_LRh", "v_LD", "v_LOFc"})


def nonnegative_ids(state_ids: tuple[str, ...], output_ids: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The states and the assignment outputs that must be >= 0 (all but the signed ones)."""
    unknown = (SIGNED_STATES - set(state_ids)) | (SIGNED_OUTPUTS - set(output_ids))
    if unknown:
        raise ValueError(f"signed ids not in the model: {sorted(unknown)}")
    return (tuple(s for s in state_ids if s not in SIGNED_STATES),
            tuple(o for o in output_ids if o not in SIGNED_OUTPUTS))


_SBO_PARAMETER_DEFAULT = "SBO:0000002"
_SBO_KINETIC = "SBO:0000009"
_SBO_DISSOCIATION = "SBO:0000282"


def module_text(name: str) -> str:
    """Text of one Antimony module file."""
    return (MODULE_DIR / f"{name}.ant").read_text(encoding="utf-8")


def check_view(view: str) -> str:
    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r}; choose one of {', '.join(VIEWS)}")
    return view


def build_antimony(species: str = "human", initial: dict[str, float] | None = None) -> str:
    """The composite model as one Antimony string for ``species``.

    ``initial`` overrides entries of the reference initial state (used when regenerating it).
    """
    check_species(species)
    lines = [f"model *{MODEL_ID}()"]
    for name in MODULES:
        lines.append(f"  // ===== module: {name} =====")
        lines.extend("  " + ln for ln in module_text(name).splitlines())
    lines.append("  // ===== parameters (parameters.tsv) =====")
    for p in parameter_table(species).values():
        lines.append(f"  {p.id} = {p.value!r}; {p.id} has {p.unit};")
    state = dict(initial_state(species))
    state.update(initial or {})
    lines.append("  // ===== reference initial state (initial_state.tsv) =====")
    for key, value in state.items():
        lines.append(f"  {key} = {value!r};")
    lines.append("end")
    return "\n".join(lines) + "\n"


def _annotate(sbml: str, species: str) -> str:
    import libsbml  # lazy: ~0.5 s to import, needed only when the SBML is built

    doc = libsbml.readSBMLFromString(sbml)
    model = doc.getModel()
    model.setName(f"ranklsim composite RANKL-hepatic NF-kB-insulin-glucose model ({species})")
    table = parameter_table(species)
    notes = annotations()
    qualifier = libsbml.BQB_IS if species == "human" else libsbml.BQB_IS_HOMOLOG_TO

    def add_cv(element, uris):
        if not uris:
            return
        if not element.isSetMetaId():
            element.setMetaId(f"meta_{element.getId()}")
        cv = libsbml.CVTerm(libsbml.BIOLOGICAL_QUALIFIER)
        cv.setBiologicalQualifierType(qualifier)
        for uri in uris.split():
            prefix, _, acc = uri.partition(":")
            cv.addResource(f"http://identifiers.org/{prefix}/{acc}")
        element.addCVTerm(cv)

    for i in range(model.getNumParameters()):
        par = model.getParameter(i)
        pid = par.getId()
        if pid in table:
            row = table[pid]
            par.setName(row.description)
            unit = row.unit
            if pid.startswith(("Kd_", "is_Km")):
                par.setSBOTerm(_SBO_DISSOCIATION)
            elif unit.startswith("per_"):
                par.setSBOTerm(_SBO_KINETIC)
            else:
                par.setSBOTerm(_SBO_PARAMETER_DEFAULT)
        elif pid in notes:
            par.setName(notes[pid]["name"])
            # an SBML parameter may only carry a quantitative-parameter SBO term; what the state
            # represents (a chemical, a protein) is kept in its MIRIAM annotation
            par.setSBOTerm(_SBO_PARAMETER_DEFAULT)
            add_cv(par, notes[pid]["miriam"])
        else:
            par.setSBOTerm(_SBO_PARAMETER_DEFAULT)
    for i in range(model.getNumSpecies()):
        sp = model.getSpecies(i)
        info = notes.get(sp.getId())
        if info:
            sp.setName(info["name"])
            sp.setSBOTerm(info["sbo"])
            add_cv(sp, info["miriam"])
    for i in range(model.getNumCompartments()):
        model.getCompartment(i).setSBOTerm("SBO:0000290")
    _model_units(model, libsbml)
    annotate_literal_units(model, libsbml)
    return libsbml.writeSBMLToString(doc)


def _model_units(model, libsbml) -> None:
    """Model-wide units: extent as the substance unit; length and area (no surface or length in the
    model) as metre and square metre, so that tools do not warn that they are unset."""
    model.setExtentUnits(model.getSubstanceUnits())
    model.setLengthUnits("metre")
    if model.getUnitDefinition("square_metre") is None:
        ud = model.createUnitDefinition()
        ud.setId("square_metre")
        unit = ud.createUnit()
        unit.initDefaults()
        unit.setKind(libsbml.UNIT_KIND_METRE)
        unit.setExponent(2)
    model.setAreaUnits("square_metre")


@cache
def build_sbml(species: str = "human") -> str:
    """SBML Level 3 string of the composite model for ``species`` (cached per process)."""
    return sbml_from_antimony(build_antimony(species), species)


@cache
def sbml_from_antimony(text: str, species: str) -> str:
    """Annotated SBML of the Antimony ``text`` of ``species`` (from :func:`build_antimony`); cached by
    text, so a module edited while a process runs is never paired with SBML built from the old text.

    The package ships the SBML of its own Antimony text (:data:`SBML_DIR`, written by ``ranklsim dev
    regenerate``): when ``text`` is that text (same :func:`source_key`) the shipped file is returned,
    which saves the 1.5 s Antimony -> SBML conversion of a first build; any other text is converted."""
    return shipped_sbml(text, species) or convert_antimony(text, species)


#: the SBML files shipped with the package, one per species (generated; never edit by hand)
SBML_DIR = Path(__file__).parent / "sbml"
_SOURCE_COMMENT = re.compile(r"<!-- ranklsim source ([0-9a-f]{64})")


def source_key(text: str) -> str:
    """Hash of an Antimony text and of the conversion (:data:`BUILD_REVISION`) that makes its SBML."""
    return hashlib.sha256((text + BUILD_REVISION).encode()).hexdigest()


def shipped_sbml(text: str, species: str) -> str | None:
    """The shipped SBML of ``species`` if it was made from ``text`` (else None)."""
    try:
        sbml = (SBML_DIR / f"{check_species(species)}.xml").read_text(encoding="utf-8")
    except OSError:
        return None
    match = _SOURCE_COMMENT.search(sbml, 0, 500)
    return sbml if match and match.group(1) == source_key(text) else None


def convert_antimony(text: str, species: str) -> str:
    """Antimony -> annotated SBML with exact values and units; the first line after the XML
    declaration is a comment naming the :func:`source_key` of ``text``."""
    import antimony  # lazy: needed only when the SBML is built (compiled models are cached on disk)

    antimony.clearPreviousLoads()
    if antimony.loadAntimonyString(text) < 0:
        raise RuntimeError(f"Antimony could not load the {species} model: {antimony.getLastError()}")
    sbml = exact_values(_annotate(antimony.getSBMLString(MODEL_ID), species), text)
    head, sep, rest = sbml.partition("?>\n")
    comment = (f"<!-- ranklsim source {source_key(text)}: generated from the Antimony modules and the "
               f"parameter table by ranklsim; do not edit -->\n")
    return f"{head}{sep}{comment}{rest}" if sep else comment + sbml


#: a value assignment of the Antimony text (parameter table and initial state sections)
_ASSIGNMENT = re.compile(r"^\s+(\w+) = ([-+0-9.eE]+|inf|nan);", re.MULTILINE)
#: the value attributes of SBML parameters and species
_VALUE_ATTRIBUTE = re.compile(r'<(parameter|species)\b[^>]*?\bid="(\w+)"[^>]*>')
_NUMBER_ATTRIBUTES = ("value", "initialConcentration", "initialAmount")


def exact_values(sbml: str, text: str) -> str:
    """``sbml`` with every parameter value and species initial value written as in the Antimony
    ``text`` (Python's shortest round-trip form): libSBML writes 15 significant digits, so a reloaded
    file would otherwise not hold the table's numbers bit for bit."""
    exact = dict(_ASSIGNMENT.findall(text))

    def fix(match: re.Match) -> str:
        tag, sid = match.group(0), match.group(2)
        if sid not in exact:
            return tag
        for attr in _NUMBER_ATTRIBUTES:
            found = re.search(rf'\b{attr}="([^"]*)"', tag)
            if found:
                if float(found.group(1)) != float(exact[sid]) and abs(float(found.group(1)) / float(exact[sid]) - 1) > 1e-14:
                    raise ValueError(f"SBML {attr} of {sid} ({found.group(1)}) is not the model's value {exact[sid]}")
                return tag.replace(found.group(0), f'{attr}="{exact[sid]}"')
        return tag

    return _VALUE_ATTRIBUTE.sub(fix, sbml)


def sbml_unit_errors(sbml: str, *, warnings: bool = False) -> list[str]:
    """libSBML consistency errors (including unit consistency) of an SBML string; with ``warnings``
    also the unit-consistency warnings (e.g. 99505, a quantity without declared units)."""
    import libsbml  # lazy: ~0.5 s to import, needed only by this check

    doc = libsbml.readSBMLFromString(sbml)
    doc.setConsistencyChecks(libsbml.LIBSBML_CAT_UNITS_CONSISTENCY, True)
    doc.checkConsistency()
    errors = []
    for i in range(doc.getNumErrors()):
        err = doc.getError(i)
        unit_warning = warnings and err.getCategory() == libsbml.LIBSBML_CAT_UNITS_CONSISTENCY
        if err.getSeverity() >= libsbml.LIBSBML_SEV_ERROR or unit_warning:
            errors.append(f"{err.getErrorId()}: {err.getMessage().strip()}")
    return errors


@cache
def declared_units() -> dict[str, str]:
    """Unit id of every quantity declared with ``has`` in the modules (states, outputs)."""
    units: dict[str, str] = {}
    pattern = re.compile(r"\b([A-Za-z_]\w*)\s+has\s+([A-Za-z_]\w*)\s*;")
    for name in MODULES:
        code = "\n".join(line.split("//")[0] for line in module_text(name).splitlines())
        for key, unit in pattern.findall(code):
            units[key] = unit
    return units


def module_antimony(modules: tuple[str, ...], species: str = "human", harness: str = "") -> str:
    """A standalone model of some modules (plus ``units``) for verification runs.

    All table parameters and the reference initial state are included; ``harness`` (Antimony
    statements, appended last so they win) supplies the module inputs and any changes.
    """
    check_species(species)
    lines = [f"model *{MODEL_ID}_standalone()"]
    for name in ("units", *modules):
        lines.extend("  " + ln for ln in module_text(name).splitlines())
    for p in parameter_table(species).values():
        lines.append(f"  {p.id} = {p.value!r};")
    for key, value in initial_state(species).items():
        if any(f"{key}'" in module_text(m) for m in modules):
            lines.append(f"  {key} = {value!r};")
    lines.extend("  " + ln for ln in harness.strip().splitlines())
    lines.append("end")
    return "\n".join(lines) + "\n"


def standalone_runner(modules: tuple[str, ...], species: str = "human", harness: str = ""):
    """A RoadRunner of :func:`module_antimony` (used by the module verification tests)."""
    import antimony  # lazy: loaded only when a standalone model is built

    antimony.clearPreviousLoads()
    if antimony.loadAntimonyString(module_antimony(modules, species, harness)) < 0:
        raise RuntimeError(antimony.getLastError())
    return compile_sbml(antimony.getSBMLString(f"{MODEL_ID}_standalone"))


def compile_sbml(sbml: str, backend: str = JIT_BACKEND, optimization_level: int = JIT_OPTIMIZATION_LEVEL):
    """A RoadRunner compiled from ``sbml`` (an SBML string or file path) with LLVM back end ``backend``
    (``"LLJIT"`` or ``"MCJIT"``; default :data:`JIT_BACKEND`) at LLJIT ``optimization_level``.

    libRoadRunner's back end and LLJIT optimisation level are process-wide settings; they are set for
    this compile only and put back as they were, so other RoadRunners the caller makes are not affected.
    """
    import roadrunner  # lazy: libroadrunner is loaded only when a model is compiled

    cfg = roadrunner.Config
    if not all(hasattr(cfg, k) for k in ("LLVM_BACKEND", "LLJIT_OPTIMIZATION_LEVEL", backend)):
        return roadrunner.RoadRunner(sbml)  # a libroadrunner without these settings: its own back end
    keys = (cfg.LLVM_BACKEND, cfg.LLJIT_OPTIMIZATION_LEVEL)
    before = [cfg.getValue(k) for k in keys]
    for k, v in zip(keys, (getattr(cfg, backend), int(optimization_level)), strict=True):
        cfg.setValue(k, v)
    try:
        return roadrunner.RoadRunner(sbml)
    finally:
        for k, v in zip(keys, before, strict=True):
            cfg.setValue(k, v)
