"""Read and validate PEtab (v1) problems that use a ranklsim model, before any simulation.

Validation is a list of small checks, one per table (like ``petab.v1.lint``): each takes the
problem and a :class:`Context` and returns its issues as one-line strings.  :func:`problem_issues`
runs them all and :func:`check_problem` raises one :class:`FitProblemError` that names the problem
and lists every issue; the ``petab`` linter runs last, on a problem that passed ours.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ranklsim.errors import did_you_mean
from ranklsim.fitting import problems as C

SUPPORTED_SCALES = ("lin", "log", "log10")
SUPPORTED_NOISE = ("normal",)
SUPPORTED_TRANSFORMATIONS = ("lin", "log", "log10")
REQUIRED = {
    "measurement": (C.OBSERVABLE_ID, C.SIM_ID, C.MEASUREMENT, C.TIME),
    "observable": (C.OBSERVABLE_FORMULA, C.NOISE_FORMULA),
    "parameter": (C.PARAMETER_SCALE, C.LOWER, C.UPPER, C.NOMINAL, C.ESTIMATE),
}
#: PEtab placeholders, replaced per measurement row (only noiseParameter1_<obs> is supported)
PLACEHOLDERS = ("noiseParameter", "observableParameter")
NOISE_PLACEHOLDER = "noiseParameter1_"


class FitProblemError(ValueError):
    """An invalid estimation problem; the message names the problem and every issue."""

    def __init__(self, name: str, issues: list[str]):
        self.name = name
        self.issues = issues
        super().__init__(f"PEtab problem {name}: " + ("; ".join(issues) if len(issues) == 1 else
                         f"{len(issues)} problems:\n  " + "\n  ".join(issues)))


def _petab():
    try:
        import petab.v1 as petab  # optional: petab is the fitting extra
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("reading PEtab problems needs the `petab` package: "
                          "pip install 'ranklsim[fitting]'") from exc
    return petab


def load_problem(yaml_path: str | Path, *, lint: bool = True):
    """Load a PEtab v1 problem and validate it (see :func:`check_problem`)."""
    petab = _petab()
    path = Path(yaml_path)
    if not path.exists():
        raise FitProblemError(str(path), ["file not found"])
    try:
        problem = petab.Problem.from_yaml(str(path))
    except Exception as exc:  # petab raises many kinds; report them all the same way
        raise FitProblemError(path.name, [f"cannot be read: {type(exc).__name__}: {exc}"]) from None
    check_problem(problem, path.name, lint=lint)
    return problem


def model_ids(problem) -> set[str]:
    """Ids of every SBML parameter, species and compartment of the problem's model."""
    model = problem.model.sbml_model
    ids = {model.getParameter(i).getId() for i in range(model.getNumParameters())}
    ids |= {model.getSpecies(i).getId() for i in range(model.getNumSpecies())}
    ids |= {model.getCompartment(i).getId() for i in range(model.getNumCompartments())}
    return ids


def formula_symbols(formula: object) -> set[str]:
    """Names a PEtab math expression uses (``time`` excluded), parsed by ``petab.v1.math``."""
    from petab.v1.math import sympify_petab  # optional: petab is the fitting extra

    return {s.name for s in sympify_petab(formula).free_symbols} - {"time", "t"}


def noise_value(formula: object, noise_parameters: object = None) -> float:
    """The noise SD of one measurement: the formula as a number, or the row's first
    ``noiseParameters`` entry for the ``noiseParameter1_<observableId>`` placeholder.
    Raises ValueError for any other formula (this module's checks report it up front)."""
    try:
        return float(formula)
    except (TypeError, ValueError):
        pass
    text = str(formula).strip()
    first = str(noise_parameters).split(";")[0].strip() if noise_parameters is not None else ""
    if text.startswith(NOISE_PLACEHOLDER) and first not in ("", "nan"):
        return float(first)
    raise ValueError(f"noise formula {formula!r} not supported (use a number or {NOISE_PLACEHOLDER}<id>)")


# ----------------------------------------------------------------------------- checks
@dataclass(frozen=True)
class Context:
    """What several checks share: the model's ids."""

    ids: frozenset[str]


Check = Callable[[object, Context], list[str]]


def check_tables_present(problem) -> list[str]:
    frames = {"measurement": problem.measurement_df, "observable": problem.observable_df,
              "parameter": problem.parameter_df, "condition": problem.condition_df}
    return [f"{key} table missing" for key, frame in frames.items() if frame is None]


def check_required_columns(problem) -> list[str]:
    frames = {"measurement": problem.measurement_df, "observable": problem.observable_df,
              "parameter": problem.parameter_df}
    issues = []
    for key, cols in REQUIRED.items():
        present = set(frames[key].columns) | {frames[key].index.name}
        issues += [f"{key} table: missing column {c!r}" for c in cols if c not in present]
    return issues


def _bounds_issue(pid: str, row: pd.Series) -> str | None:
    lo, hi, nom, scale = row[C.LOWER], row[C.UPPER], row[C.NOMINAL], row[C.PARAMETER_SCALE]
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        return f"parameter {pid}: bounds must be finite with lower < upper, got [{lo}, {hi}]"
    if scale in ("log", "log10") and lo <= 0:
        return f"parameter {pid}: {scale} scale needs a positive lower bound, got {lo}"
    if not lo <= nom <= hi:
        return f"parameter {pid}: nominal value {nom} outside [{lo}, {hi}]"
    return None


def check_parameter_table(problem, ctx: Context) -> list[str]:
    """Supported scales, usable bounds of estimated parameters, ids known to the model."""
    issues = []
    for pid, row in problem.parameter_df.iterrows():
        if row[C.PARAMETER_SCALE] not in SUPPORTED_SCALES:
            issues.append(f"parameter {pid}: unknown parameterScale {row[C.PARAMETER_SCALE]!r}")
        if int(row[C.ESTIMATE]) == 1 and (issue := _bounds_issue(pid, row)):
            issues.append(issue)
        if pid not in ctx.ids and not str(pid).startswith(PLACEHOLDERS):
            issues.append(f"parameter {pid}: not an id of the model" + did_you_mean(pid, ctx.ids))
    return issues


def check_condition_table(problem, ctx: Context) -> list[str]:
    """Every condition column (but the name) sets a model id."""
    return [f"condition table: column {col!r} is not a model id" + did_you_mean(col, ctx.ids)
            for col in problem.condition_df.columns if col != C.CONDITION_NAME and col not in ctx.ids]


def _formula_issues(oid: str, formula: object, known: set[str], ids: frozenset[str]) -> list[str]:
    try:
        symbols = formula_symbols(formula)
    except Exception as exc:  # petab's parser raises several kinds
        return [f"observable {oid}: formula {formula!r} cannot be parsed: {exc}"]
    issues = []
    for sym in sorted(symbols):
        if sym.startswith(PLACEHOLDERS):
            issues.append(f"observable {oid}: placeholder {sym!r} not supported in formulas")
        elif sym not in known:
            issues.append(f"observable {oid}: formula uses unknown id {sym!r}" + did_you_mean(sym, ids))
    return issues


def check_observable_table(problem, ctx: Context) -> list[str]:
    """Formulas use model or parameter-table ids; supported noise models and transformations."""
    known = set(ctx.ids) | set(problem.parameter_df.index)
    issues = []
    for oid, row in problem.observable_df.iterrows():
        issues += _formula_issues(oid, row[C.OBSERVABLE_FORMULA], known, ctx.ids)
        dist = row.get(C.NOISE_DISTRIBUTION, "normal")
        if isinstance(dist, str) and dist not in SUPPORTED_NOISE:
            issues.append(f"observable {oid}: noiseDistribution {dist!r} not supported (use normal)")
        trans = row.get(C.OBSERVABLE_TRANSFORMATION, "lin")
        if isinstance(trans, str) and trans not in SUPPORTED_TRANSFORMATIONS:
            issues.append(f"observable {oid}: observableTransformation {trans!r} not supported")
    return issues


def check_noise(problem, ctx: Context) -> list[str]:
    """Every noise SD is a positive finite number: a numeric noiseFormula, or the measurement's
    noiseParameters for the ``noiseParameter1_<id>`` placeholder."""
    issues = []
    placeholder = set()
    for oid, formula in problem.observable_df[C.NOISE_FORMULA].items():
        try:
            sd = float(formula)
        except (TypeError, ValueError):
            if str(formula).strip().startswith(NOISE_PLACEHOLDER):
                placeholder.add(oid)
            else:
                issues.append(f"observable {oid}: noiseFormula {formula!r} not supported "
                              f"(use a number or {NOISE_PLACEHOLDER}{oid})")
            continue
        if not (math.isfinite(sd) and sd > 0):
            issues.append(f"observable {oid}: noise SD must be a positive number, got {formula!r}")
    meas = problem.measurement_df
    given = pd.Series(math.nan, index=meas.index) if C.NOISE_PARAMETERS not in meas else pd.to_numeric(
        meas[C.NOISE_PARAMETERS].astype(str).str.split(";").str[0], errors="coerce")
    needed = meas[C.OBSERVABLE_ID].isin(placeholder)
    if (needed & ~(given > 0)).any() or (given <= 0).any():
        issues.append("measurement table: noiseParameters must be positive numbers")
    return issues


def check_measurement_table(problem, ctx: Context) -> list[str]:
    """Known observables and conditions, non-negative times."""
    meas, obs, cond = problem.measurement_df, problem.observable_df, problem.condition_df
    issues = []
    for col, known, what in ((C.OBSERVABLE_ID, set(obs.index), "observable"),
                             (C.SIM_ID, set(cond.index), "condition")):
        issues += [f"measurement table: unknown {what} {bad!r}" for bad in sorted(set(meas[col].dropna()) - known)]
    if C.PREEQ_ID in meas:
        unknown = set(meas[C.PREEQ_ID].dropna()) - set(cond.index) - {""}
        issues += [f"measurement table: unknown pre-equilibration condition {bad!r}" for bad in sorted(unknown)]
    if (pd.to_numeric(meas[C.TIME], errors="coerce") < 0).any():
        issues.append("measurement table: negative times")
    return issues


#: the per-table checks, run in this order once the tables and their columns are present
TABLE_CHECKS: tuple[Check, ...] = (check_parameter_table, check_condition_table, check_observable_table,
                                   check_noise, check_measurement_table)


def problem_issues(problem) -> list[str]:
    """Every issue of ``problem`` (empty if usable); stops early only when tables or columns lack."""
    issues = check_tables_present(problem)
    if not issues:
        issues = check_required_columns(problem)
    if issues:
        return issues
    ctx = Context(frozenset(model_ids(problem)))
    return [issue for check in TABLE_CHECKS for issue in check(problem, ctx)]


def check_problem(problem, name: str = "problem", *, lint: bool = True) -> None:
    """Raise FitProblemError listing every issue of ``problem``; return None if it is usable."""
    issues = problem_issues(problem)
    if issues:
        raise FitProblemError(name, issues)
    if lint:
        _lint(problem, name)


class _Collect(logging.Handler):
    """Keeps the messages of ERROR records (the petab linter logs what it finds)."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR:
            self.records.append(record.getMessage())


def _lint(problem, name: str) -> None:
    petab = _petab()
    handler = _Collect()
    logger = logging.getLogger("petab")
    logger.addHandler(handler)
    try:
        failed = petab.lint.lint_problem(problem)
    finally:
        logger.removeHandler(handler)
    if failed:
        raise FitProblemError(name, handler.records or ["petab linter reported errors"])
