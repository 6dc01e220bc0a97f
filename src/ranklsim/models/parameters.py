"""The parameter table: one row per parameter (and species), the single source of values.

Columns are constants below.  ``parameters.tsv`` sits beside this file; the reference
initial state (steady state of the default parameters) is ``initial_state.tsv``.
"""

from __future__ import annotations

import csv
import math
import warnings
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ranklsim.errors import did_you_mean
from ranklsim.models.ids import P

DATA_DIR = Path(__file__).parent
PARAMETER_TABLE = DATA_DIR / "parameters.tsv"
INITIAL_STATE_TABLE = DATA_DIR / "initial_state.tsv"
ANNOTATION_TABLE = DATA_DIR / "annotations.tsv"

# column names
ID = "id"
VALUE = "value"
UNIT = "unit"
SPECIES = "species"
MODULE = "module"
DESCRIPTION = "description"
SOURCE = "source"
LOWER = "lower"
UPPER = "upper"
COLUMNS = (ID, VALUE, UNIT, SPECIES, MODULE, DESCRIPTION, SOURCE, LOWER, UPPER)

HUMAN = "human"
MOUSE = "mouse"
BOTH = "both"
SPECIES_NAMES = (HUMAN, MOUSE)

#: overrides that hold the slow beta-cell states (secretory capacity ``sigma`` and mass ``beta``) at
#: their values: the reference state, calibration and fitting steady states are taken with them held
#: (they evolve over years; docs/model.md Section 6).
HOLD_BETA_CELL_MASS: dict[str, float] = {P.beta_slow_on: 0.0}

#: sources that mark a parameter as an input (see :data:`REFERENCE_INPUTS`)
INPUT_SOURCES = ("protocol input", "genotype switch", "scenario switch", "readout helper", "definition")
#: subject traits and exposures that are inputs although their source is a measurement or a model:
#: the virtual-subject traits of the cohort and the subjects' catalogue, and the diet input
TRAIT_INPUTS = frozenset({P.L_prod, P.O_prod, P.u_infl0, P.ir_comp, P.adiposity, P.beta_ref, P.sig_frag, P.k_ir_drift,
                          P.g_periph, P.diet_fat, P.BW, P.dG_set})
#: modules whose parameters are inputs: the drugs (absent from the reference state)
INPUT_MODULES = ("pk",)


@cache
def reference_inputs() -> frozenset[str]:
    """Parameters that describe a subject, a genotype, a diet, a drug or a test protocol: overriding
    one perturbs the reference person.  Every other parameter is a model constant: overriding it
    redefines the reference person, whose derived normalisers and reference state are recomputed
    (:mod:`ranklsim.simulate.reference`)."""
    rows = _read_tsv(PARAMETER_TABLE)
    return TRAIT_INPUTS | {r[ID] for r in rows if r[SOURCE].startswith(INPUT_SOURCES) or r[MODULE] in INPUT_MODULES}


@dataclass(frozen=True)
class Parameter:
    """One row of the parameter table, resolved for one species."""

    id: str
    value: float
    unit: str
    species: str
    module: str
    description: str
    source: str
    lower: float
    upper: float


def check_species(species: str) -> str:
    """Return ``species`` if known, else raise ValueError naming the close matches."""
    if species not in SPECIES_NAMES:
        raise ValueError(
            f"unknown species {species!r}; choose one of {', '.join(SPECIES_NAMES)}"
            + did_you_mean(species, SPECIES_NAMES)
        )
    return species


def _read_tsv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


@cache
def parameter_table(species: str) -> dict[str, Parameter]:
    """All parameters for ``species`` keyed by id (species-specific rows win over 'both')."""
    check_species(species)
    out: dict[str, Parameter] = {}
    for row in _read_tsv(PARAMETER_TABLE):
        if row[SPECIES] not in (BOTH, species):
            continue
        if row[ID] in out and row[SPECIES] == BOTH:
            continue
        out[row[ID]] = Parameter(
            id=row[ID], value=float(row[VALUE]), unit=row[UNIT], species=row[SPECIES],
            module=row[MODULE], description=row[DESCRIPTION], source=row[SOURCE],
            lower=float(row[LOWER]), upper=float(row[UPPER]),
        )
    return out


def parameters_frame(species: str | None = None):
    """The parameter table as a pandas DataFrame (all species if ``species`` is None)."""
    import pandas as pd  # lazy: ~0.35 s to import; the model layer otherwise needs only the csv module

    df = pd.read_csv(PARAMETER_TABLE, sep="\t")
    if species is not None:
        check_species(species)
        df = df[df[SPECIES].isin([BOTH, species])]
        df = df[~(df.duplicated(ID, keep=False) & (df[SPECIES] == BOTH))]
    return df.reset_index(drop=True)


@cache
def initial_state(species: str) -> dict[str, float]:
    """Reference initial state (steady state of the defaults) for ``species``; may be empty."""
    check_species(species)
    if not INITIAL_STATE_TABLE.exists():
        return {}
    return {
        row[ID]: float(row[VALUE])
        for row in _read_tsv(INITIAL_STATE_TABLE)
        if row[SPECIES] == species
    }


@cache
def annotations() -> dict[str, dict[str, str]]:
    """Names, SBO terms and MIRIAM identifiers of model entities, keyed by id."""
    return {row[ID]: row for row in _read_tsv(ANNOTATION_TABLE)}


def check_value(name: str, value: float, *, allow_negative: bool = False) -> float:
    """Validate one numeric value; raise ValueError for NaN, infinity or negatives."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"value for {name!r} must be a number, got {value!r}") from None
    if math.isnan(value) or math.isinf(value):
        raise ValueError(f"value for {name!r} must be finite, got {value!r}")
    if value < 0 and not allow_negative:
        raise ValueError(f"value for {name!r} must be >= 0, got {value!r}")
    return value


# ----------------------------------------------------------------------------- validity domain

#: relative slack of the bounds check (values computed from table values, e.g. by a drift factor)
BOUNDS_RTOL = 1e-9


class OutOfBoundsError(ValueError):
    """A parameter value outside its table bounds (the model's validity domain)."""


class OutOfBoundsWarning(UserWarning):
    """A run with parameter values outside their table bounds (``allow_out_of_bounds=True``)."""


def warn_out_of_bounds(run: str, outside: dict[str, float]) -> None:
    """Warn that ``run`` used the parameter values ``outside`` their bounds (nothing if empty)."""
    if outside:
        warnings.warn(f"{run} run with parameter values outside their table bounds (outside the model's "
                      f"validated domain): {outside}", OutOfBoundsWarning, stacklevel=3)


def out_of_bounds(table: dict[str, Parameter], values: dict[str, float]) -> dict[str, float]:
    """The entries of ``values`` (parameter id -> value) outside their table ``[lower, upper]``."""
    out = {}
    for key, value in values.items():
        p = table[key]
        slack = BOUNDS_RTOL * max(abs(p.lower), abs(p.upper))
        if not p.lower - slack <= value <= p.upper + slack:
            out[key] = value
    return out


def bounds_error(table: dict[str, Parameter], key: str, value: float, what: str = "override") -> OutOfBoundsError:
    """The error for ``key = value`` outside its bounds (``what``: where the value came from)."""
    p = table[key]
    return OutOfBoundsError(
        f"{what} {key} = {value:g} is outside its table bounds [{p.lower:g}, {p.upper:g}] {p.unit}, "
        f"the region where the model is valid (parameters.tsv); pass allow_out_of_bounds=True to "
        f"run it anyway (the result is marked out_of_bounds)")
