"""Readers and writers of the model's generated files: rows of ``parameters.tsv``, ``initial_state.tsv``
and the ids module ``ids.py``.

Pure text transforms, no simulation: :mod:`ranklsim.regenerate` computes the values and decides what to
write.  Regenerated numbers that agree with the stored ones to solver precision (:func:`same_value`)
keep their stored digits, so regenerating current files leaves them byte-identical.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from ranklsim.models.build import build_sbml, declared_units
from ranklsim.models.parameters import (
    BOTH,
    COLUMNS,
    ID,
    INITIAL_STATE_TABLE,
    PARAMETER_TABLE,
    SPECIES,
    SPECIES_NAMES,
    VALUE,
    initial_state,
    parameter_table,
)

IDS_MODULE = Path(__file__).parent / "ids.py"
#: columns of ``initial_state.tsv``
INITIAL_STATE_COLUMNS = (ID, SPECIES, VALUE)
#: relative and absolute agreement below which a regenerated value keeps its stored digits: steady
#: states relaxed from slightly different starts (or with different output grids) differ by ~1e-11
SOLVER_RTOL = 1e-9
SOLVER_ATOL = 1e-15

Row = dict[str, str]


def read_rows(path: Path = PARAMETER_TABLE) -> list[Row]:
    """Rows of a tab-separated table with a header line (``parameters.tsv``, ``initial_state.tsv``)."""
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def rows_text(rows: Iterable[Mapping[str, str]], columns: Sequence[str] = COLUMNS) -> str:
    """``rows`` as the text of a tab-separated table (header line first, ``\\n`` line ends)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), delimiter="\t", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def clear_caches() -> None:
    """Forget the cached tables and builds, so the next reader sees the files as they are now."""
    parameter_table.cache_clear()
    initial_state.cache_clear()
    declared_units.cache_clear()
    build_sbml.cache_clear()


def write_rows(rows: Iterable[Mapping[str, str]], path: Path = PARAMETER_TABLE) -> None:
    """Write parameter rows to ``path`` and clear the cached tables."""
    Path(path).write_text(rows_text(rows), encoding="utf-8")
    clear_caches()


def format_value(value: float) -> str:
    """The text of a number in the tables: shortest round-trip repr of the float."""
    return repr(float(value))


def same_value(stored: str, value: float) -> bool:
    """True if ``value`` equals the stored text ``stored`` to solver precision; an exact zero replaces a
    stored nonzero remnant (a state that is zero in exact arithmetic must be stored as 0: it stays 0)."""
    old = float(stored)
    if float(value) == 0.0 and old != 0.0:
        return False
    return math.isclose(old, float(value), rel_tol=SOLVER_RTOL, abs_tol=SOLVER_ATOL)


def _valued(row: Row, value: float) -> Row:
    return row if same_value(row[VALUE], value) else dict(row, **{VALUE: format_value(value)})


def set_values(rows: Sequence[Row], values: Mapping[str, Mapping[str, float]]) -> list[Row]:
    """``rows`` with new species values: ``values[id][species] = value``.

    A shared (``both``) row of an id in ``values`` is split into one row per species (a species not
    in ``values[id]`` keeps the shared value); species rows take their species' value.  Values equal
    to the stored ones to solver precision keep the stored text.
    """
    out: list[Row] = []
    for row in rows:
        new = values.get(row[ID], {})
        if new and row[SPECIES] == BOTH:
            for sp in SPECIES_NAMES:
                split = dict(row, **{SPECIES: sp})
                out.append(_valued(split, new[sp]) if sp in new else split)
        elif row[SPECIES] in new:
            out.append(_valued(row, new[row[SPECIES]]))
        else:
            out.append(row)
    return out


def update_parameter_values(values: Mapping[str, Mapping[str, float]], path: Path = PARAMETER_TABLE) -> bool:
    """Write species values into the parameter table at ``path``; True if its text changed."""
    rows = set_values(read_rows(path), values)
    changed = rows_text(rows) != Path(path).read_text(encoding="utf-8")
    if changed:
        write_rows(rows, path)
    return changed


def initial_state_text(states: Mapping[str, Mapping[str, float]], previous: Sequence[Row] = ()) -> str:
    """Text of ``initial_state.tsv`` for ``states[species][state id]`` (species in the given order).

    ``previous`` are the rows of the current file: a value equal to its previous one to solver
    precision keeps the previous text.
    """
    old = {(r[ID], r[SPECIES]): r[VALUE] for r in previous}
    rows = []
    for sp, state in states.items():
        for sid, value in state.items():
            stored = old.get((sid, sp))
            text = stored if stored is not None and same_value(stored, value) else format_value(value)
            rows.append({ID: sid, SPECIES: sp, VALUE: text})
    return rows_text(rows, INITIAL_STATE_COLUMNS)


def read_initial_state(path: Path = INITIAL_STATE_TABLE) -> dict[str, dict[str, float]]:
    """``initial_state.tsv`` as ``{species: {state id: value}}``."""
    out: dict[str, dict[str, float]] = {}
    for row in read_rows(path):
        out.setdefault(row[SPECIES], {})[row[ID]] = float(row[VALUE])
    return out


def ids_text(parameter_ids: Iterable[str], variable_ids: Iterable[str]) -> str:
    """Source of the ids module: class ``P`` (parameters) and ``V`` (states and outputs)."""
    lines = ['"""All model ids as constants (generated by `ranklsim dev regenerate`; do not edit)."""', "",
             "from __future__ import annotations", "", "",
             "class P:", '    """Parameter ids (parameters.tsv)."""', ""]
    lines += [f'    {p} = "{p}"' for p in sorted(parameter_ids)]
    lines += ["", "", "class V:", '    """State and output ids declared in the Antimony modules."""', ""]
    lines += [f'    {v} = "{v}"' for v in sorted(variable_ids)]
    lines += ["", "", "PARAMETER_IDS = frozenset(v for k, v in vars(P).items() if not k.startswith('_'))",
              "VARIABLE_IDS = frozenset(v for k, v in vars(V).items() if not k.startswith('_'))", ""]
    return "\n".join(lines)


def render_ids() -> str:
    """Source of ``ids.py`` from the current parameter table and Antimony modules."""
    params = {p for sp in SPECIES_NAMES for p in parameter_table(sp)}
    declared = {k for k in declared_units() if k not in params}
    return ids_text(params, declared)
