"""Read and validate PEtab (v1) problems that use a ranklsim model, before any simulation.

Validation runs the ``petab`` linter and then ranklsim's own checks, and raises one
:class:`FitProblemError` that names the problem and lists every issue found.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from ranklsim.fitting import problems as C

SUPPORTED_SCALES = ("lin", "log", "log10")
SUPPORTED_NOISE = ("normal",)
SUPPORTED_TRANSFORMATIONS = ("lin", "log", "log10")
REQUIRED = {
    "measurement": (C.OBSERVABLE_ID, C.SIM_ID, C.MEASUREMENT, C.TIME),
    "observable": (C.OBSERVABLE_FORMULA, C.NOISE_FORMULA),
    "parameter": (C.PARAMETER_SCALE, C.LOWER, C.UPPER, C.NOMINAL, C.ESTIMATE),
}


class FitProblemError(ValueError):
    """An invalid estimation problem; the message names the problem and every issue."""

    def __init__(self, name: str, issues: list[str]):
        self.name = name
        self.issues = issues
        super().__init__(f"PEtab problem {name}: " + ("; ".join(issues) if len(issues) == 1 else
                         f"{len(issues)} problems:\n  " + "\n  ".join(issues)))


def _petab():
    try:
        import petab.v1 as petab
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
    except Exception as exc:  # noqa: BLE001 - petab raises many kinds; report them all the same way
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


def check_problem(problem, name: str = "problem", *, lint: bool = True) -> None:
    """Raise FitProblemError listing every issue of ``problem``; return None if it is usable."""
    issues: list[str] = []
    frames = {"measurement": problem.measurement_df, "observable": problem.observable_df,
              "parameter": problem.parameter_df, "condition": problem.condition_df}
    for key, frame in frames.items():
        if frame is None:
            issues.append(f"{key} table missing")
    if issues:
        raise FitProblemError(name, issues)
    for key, cols in REQUIRED.items():
        frame = frames[key]
        present = set(frame.columns) | {frame.index.name}
        issues += [f"{key} table: missing column {c!r}" for c in cols if c not in present]
    if issues:
        raise FitProblemError(name, issues)
    ids = model_ids(problem)
    par = problem.parameter_df
    for pid, row in par.iterrows():
        lo, hi, nom, scale = row[C.LOWER], row[C.UPPER], row[C.NOMINAL], row[C.PARAMETER_SCALE]
        if scale not in SUPPORTED_SCALES:
            issues.append(f"parameter {pid}: unknown parameterScale {scale!r}")
        if int(row[C.ESTIMATE]) == 1:
            if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
                issues.append(f"parameter {pid}: bounds must be finite with lower < upper, got [{lo}, {hi}]")
            elif scale in ("log", "log10") and lo <= 0:
                issues.append(f"parameter {pid}: {scale} scale needs a positive lower bound, got {lo}")
            elif not lo <= nom <= hi:
                issues.append(f"parameter {pid}: nominal value {nom} outside [{lo}, {hi}]")
        if pid not in ids and not str(pid).startswith(("noiseParameter", "observableParameter")):
            issues.append(f"parameter {pid}: not an id of the model" + _close(pid, ids))
    cond = problem.condition_df
    for col in cond.columns:
        if col != C.CONDITION_NAME and col not in ids:
            issues.append(f"condition table: column {col!r} is not a model id" + _close(col, ids))
    obs = problem.observable_df
    for oid, row in obs.iterrows():
        for sym in _symbols(str(row[C.OBSERVABLE_FORMULA])):
            if sym.startswith(("observableParameter", "noiseParameter")):
                issues.append(f"observable {oid}: placeholder {sym!r} not supported in formulas")
            elif sym not in ids and sym not in par.index:
                issues.append(f"observable {oid}: formula uses unknown id {sym!r}" + _close(sym, ids))
        dist = row.get(C.NOISE_DISTRIBUTION, "normal")
        if isinstance(dist, str) and dist not in SUPPORTED_NOISE:
            issues.append(f"observable {oid}: noiseDistribution {dist!r} not supported (use normal)")
        trans = row.get(C.OBSERVABLE_TRANSFORMATION, "lin")
        if isinstance(trans, str) and trans not in SUPPORTED_TRANSFORMATIONS:
            issues.append(f"observable {oid}: observableTransformation {trans!r} not supported")
    meas = problem.measurement_df
    for col, known, what in ((C.OBSERVABLE_ID, set(obs.index), "observable"),
                             (C.SIM_ID, set(cond.index), "condition")):
        for bad in sorted(set(meas[col].dropna()) - known):
            issues.append(f"measurement table: unknown {what} {bad!r}")
    if C.PREEQ_ID in meas:
        for bad in sorted(set(meas[C.PREEQ_ID].dropna()) - set(cond.index) - {""}):
            issues.append(f"measurement table: unknown pre-equilibration condition {bad!r}")
    if (pd.to_numeric(meas[C.TIME], errors="coerce") < 0).any():
        issues.append("measurement table: negative times")
    if C.NOISE_PARAMETERS in meas:
        bad = pd.to_numeric(meas[C.NOISE_PARAMETERS], errors="coerce")
        if bad.isna().any() or (bad <= 0).any():
            issues.append("measurement table: noiseParameters must be positive numbers")
    if issues:
        raise FitProblemError(name, issues)
    if lint:
        _lint(problem, name)


def _lint(problem, name: str) -> None:
    import logging

    petab = _petab()
    records: list[str] = []

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.levelno >= logging.ERROR:
                records.append(record.getMessage())

    handler = _Collect()
    logger = logging.getLogger("petab")
    logger.addHandler(handler)
    try:
        failed = petab.lint.lint_problem(problem)
    finally:
        logger.removeHandler(handler)
    if failed:
        raise FitProblemError(name, records or ["petab linter reported errors"])


def _symbols(formula: str) -> set[str]:
    import re

    funcs = {"exp", "log", "log10", "log2", "sqrt", "abs", "max", "min", "pow", "sin", "cos", "tan",
             "piecewise", "time", "pi", "e", "true", "false", "and", "or", "not", "t"}
    return {s for s in re.findall(r"[A-Za-z_]\w*", formula) if s not in funcs}


def _close(name: str, known) -> str:
    import difflib

    match = difflib.get_close_matches(str(name), list(known), n=3)
    return f" (did you mean {', '.join(match)}?)" if match else ""
