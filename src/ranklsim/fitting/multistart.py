"""Multistart local optimisation with incremental, resumable ``starts.csv`` output.

With an output folder the run holds it for one writer (:func:`ranklsim.rundir.folder_lock`) and
rewrites ``starts.csv`` atomically after every finished start, so a killed run leaves the previous
whole file, never a torn line.
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ranklsim.constants import FAILED_VALUE
from ranklsim.fitting.types import CHI2_DELTA_95, ObjectiveLike, bounds_of, package_version, to_linear
from ranklsim.parallel import Engine, SerialEngine
from ranklsim.rundir import atomic_write_text, folder_lock

__all__ = [
    "CHI2_DELTA_95",
    "MultistartResult",
    "ObjectiveLike",
    "has_gradients",
    "latin_hypercube_starts",
    "local_optimize",
    "run_multistart",
]

OPTIMIZERS = ("least_squares", "L-BFGS-B")


def latin_hypercube_starts(lower: np.ndarray, upper: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """``n`` Latin-hypercube points within the bounds (optimisation scale), shape ``(n, d)``."""
    from scipy.stats import qmc  # lazy: scipy.stats costs ~0.5 s of import

    lo, hi = np.asarray(lower, float), np.asarray(upper, float)
    if n <= 0:
        return np.empty((0, lo.size))
    unit = qmc.LatinHypercube(d=lo.size, seed=np.random.default_rng(seed)).random(n)
    return qmc.scale(unit, lo, hi)


class _Counted:
    """Counts calls and maps non-finite outputs to the failure value."""

    def __init__(self, objective: Any) -> None:
        self.objective = objective
        self.n = 0

    def fun(self, x: np.ndarray) -> float:
        self.n += 1
        f = float(self.objective(x))
        return f if math.isfinite(f) else FAILED_VALUE

    def resid(self, x: np.ndarray) -> np.ndarray:
        self.n += 1
        r = np.asarray(self.objective.residuals(x), dtype=float).ravel()
        if not np.all(np.isfinite(r)):
            big = math.sqrt(2.0 * FAILED_VALUE / max(r.size, 1))
            r = np.where(np.isfinite(r), r, big)
        return r

    def fun_and_grad(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """Value and exact gradient (objectives with ``fun_and_grad``, e.g. the AMICI backend)."""
        self.n += 1
        f, g = self.objective.fun_and_grad(x)
        g = np.asarray(g, dtype=float)
        ok = math.isfinite(f) and bool(np.all(np.isfinite(g)))
        return (float(f), g) if ok else (FAILED_VALUE, np.zeros_like(g))

    def jac(self, x: np.ndarray) -> np.ndarray:
        """Exact residual Jacobian (objectives with ``residuals_and_jacobian``)."""
        self.n += 1
        _, j = self.objective.residuals_and_jacobian(x)
        j = np.asarray(j, dtype=float)
        return np.where(np.isfinite(j), j, 0.0)


def has_gradients(objective: Any) -> bool:
    """True when ``objective`` gives exact derivatives (``fun_and_grad`` and ``residuals_and_jacobian``)."""
    return callable(getattr(objective, "fun_and_grad", None)) and \
        callable(getattr(objective, "residuals_and_jacobian", None))


def local_optimize(objective: Any, x0: np.ndarray, lower: np.ndarray, upper: np.ndarray,
                   optimizer: str = "least_squares", max_nfev: int | None = None) -> dict[str, Any]:
    """One bounded local optimisation; never raises (failures give ``fval = FAILED_VALUE``).

    With an objective that gives exact derivatives (:func:`has_gradients`, e.g.
    :class:`~ranklsim.fitting.amici_backend.AmiciObjective`) the optimisers use them; otherwise
    finite differences.  Returns ``x``, ``fval`` (nll incl. constants), ``n_fev`` (all objective
    calls, derivative calls included), ``converged``, ``message``.
    """
    from scipy.optimize import least_squares, minimize  # lazy: as scipy.stats above

    lo, hi = np.asarray(lower, float), np.asarray(upper, float)
    x0 = np.clip(np.asarray(x0, float), lo, hi)
    c = _Counted(objective)
    exact = has_gradients(objective)
    try:
        if optimizer == "least_squares":
            res = least_squares(c.resid, x0, jac=c.jac if exact else "2-point", bounds=(lo, hi), method="trf",
                                x_scale="jac", max_nfev=max_nfev)
            ok, x = res.status > 0, np.clip(res.x, lo, hi)
        elif optimizer == "L-BFGS-B":
            opts = {"maxfun": max_nfev} if max_nfev else {}
            fun, jac = (c.fun_and_grad, True) if exact else (c.fun, None)
            res = minimize(fun, x0, jac=jac, method="L-BFGS-B", bounds=list(zip(lo, hi, strict=True)),
                           options=opts)
            ok, x = bool(res.success), np.clip(res.x, lo, hi)
        else:
            raise ValueError(f"unknown optimizer {optimizer!r}; use one of {OPTIMIZERS}")
        fval = c.fun(x)
        message = str(res.message)
    except Exception as exc:  # a failed start must never crash the run
        x, fval, ok, message = x0, FAILED_VALUE, False, f"{type(exc).__name__}: {exc}"
    ok = bool(ok and fval < FAILED_VALUE)
    return {"x": x, "fval": fval, "n_fev": c.n, "converged": ok, "message": message}


def _start_task(objective: Any, item: tuple[int, np.ndarray, str, int | None]) -> dict[str, Any]:
    start_id, x0, optimizer, max_nfev = item
    lo, hi = bounds_of(objective)
    t0 = time.perf_counter()
    out = local_optimize(objective, x0, lo, hi, optimizer, max_nfev)
    out.update(start_id=start_id, x0=np.asarray(x0, float), seconds=time.perf_counter() - t0)
    return out


# --- starts.csv -----------------------------------------------------------------------------------
def _columns(pids: tuple[str, ...]) -> list[str]:
    return ["start_id", *(f"x0_{p}" for p in pids), *pids, "fval", "n_fev", "converged", "message", "seconds"]


def _row(out: dict[str, Any]) -> list[Any]:
    msg = " ".join(str(out["message"]).split())
    return [int(out["start_id"]), *map(float, out["x0"]), *map(float, out["x"]), float(out["fval"]),
            int(out["n_fev"]), bool(out["converged"]), msg, float(out["seconds"])]


def _write_rows(path: Path, pids: tuple[str, ...], rows: list[list[Any]]) -> None:
    """Rewrite ``starts.csv`` with ``rows`` (header first), atomically."""
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(_columns(pids))
    w.writerows(rows)
    atomic_write_text(path, buf.getvalue())


def _done_rows(done: pd.DataFrame, pids: tuple[str, ...]) -> list[list[Any]]:
    """The resumed starts as ``starts.csv`` rows."""
    return [[int(r[0]), *map(float, r[1:-4]), int(r[-4]), bool(r[-3]), str(r[-2]), float(r[-1])]
            for r in done[_columns(pids)].itertuples(index=False)]


def _read_starts(path: Path, pids: tuple[str, ...]) -> pd.DataFrame:
    cols = _columns(pids)
    df = pd.read_csv(path, on_bad_lines="skip", dtype={"message": str}, keep_default_na=False,
                     na_values={c: ["", "nan", "NaN"] for c in cols if c != "message"})
    if list(df.columns) != cols:
        raise ValueError(f"{path}: columns {list(df.columns)} do not match the objective's parameters {pids}")
    num = [c for c in cols if c not in ("converged", "message")]
    df[num] = df[num].apply(pd.to_numeric, errors="coerce")
    df = df.dropna(subset=num).drop_duplicates("start_id", keep="last")
    df["start_id"] = df["start_id"].astype(int)
    df["n_fev"] = df["n_fev"].astype(int)
    df["converged"] = df["converged"].astype(str).str.lower().isin(["true", "1"])
    return df.reset_index(drop=True)


@dataclass
class MultistartResult:
    """All starts (``table`` sorted by ``fval``) plus parameter ids/scales and run metadata."""

    table: pd.DataFrame
    parameter_ids: tuple[str, ...]
    scales: tuple[str, ...]
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.table = self.table.sort_values(["fval", "start_id"], kind="stable").reset_index(drop=True)

    @property
    def best_x(self) -> np.ndarray:
        """Best parameter vector on the optimisation scale."""
        return self.table.loc[0, list(self.parameter_ids)].to_numpy(dtype=float)

    @property
    def best_fval(self) -> float:
        return float(self.table.loc[0, "fval"])

    @property
    def best_parameters(self) -> dict[str, float]:
        """Best estimated parameters on the linear scale."""
        return dict(zip(self.parameter_ids, map(float, to_linear(self.best_x, self.scales)), strict=True))

    @property
    def x_all(self) -> np.ndarray:
        """All end points (rows ordered like ``table``), optimisation scale."""
        return self.table[list(self.parameter_ids)].to_numpy(dtype=float)

    def n_within(self, delta: float = CHI2_DELTA_95) -> int:
        """Number of starts whose fval is within ``delta`` of the best."""
        return int((self.table["fval"] <= self.best_fval + delta).sum())

    def summary(self) -> dict[str, Any]:
        t = self.table
        return {"n_starts": len(t), "n_converged": int(t["converged"].sum()),
                "n_failed": int((t["fval"] >= FAILED_VALUE).sum()), "n_at_best": self.n_within()}

    def save(self, directory: str | Path) -> Path:
        """Write ``starts.csv`` (all starts) and ``best.json``; returns the directory."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        atomic_write_text(d / "starts.csv",
                          self.table.sort_values("start_id")[_columns(self.parameter_ids)].to_csv(index=False))
        self.write_best(d)
        return d

    def write_best(self, directory: str | Path) -> Path:
        """Write ``best.json`` only."""
        meta = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "ranklsim": package_version(),
                **self.summary(), **self.metadata}
        best = {"parameter_ids": list(self.parameter_ids), "scales": list(self.scales),
                "fval": self.best_fval, "x": dict(zip(self.parameter_ids, map(float, self.best_x), strict=True)),
                "x_linear": self.best_parameters, "metadata": meta}
        path = Path(directory) / "best.json"
        atomic_write_text(path, json.dumps(best, indent=2, default=str) + "\n")
        return path

    @classmethod
    def load(cls, directory: str | Path) -> MultistartResult:
        """Read a directory written by :meth:`save` or :func:`run_multistart`."""
        d = Path(directory)
        best = json.loads((d / "best.json").read_text())
        pids = tuple(best["parameter_ids"])
        return cls(_read_starts(d / "starts.csv", pids), pids, tuple(best["scales"]), best.get("metadata", {}))


def _planned_starts(objective: ObjectiveLike, n_starts: int, seed: int, x0: np.ndarray | None) -> np.ndarray:
    lo, hi = bounds_of(objective)
    given = np.empty((0, lo.size)) if x0 is None else np.atleast_2d(np.asarray(x0, float))
    if given.shape[1] != lo.size:
        raise ValueError(f"x0 must have {lo.size} columns, got shape {given.shape}")
    n_lhs = max(n_starts - len(given), 0)
    return np.vstack([np.clip(given, lo, hi), latin_hypercube_starts(lo, hi, n_lhs, seed)])


def _resume(csv_path: Path | None, starts: np.ndarray, pids: tuple[str, ...]) -> pd.DataFrame:
    """The starts already recorded in ``csv_path`` (checked against the planned ``starts``)."""
    if csv_path is None or not csv_path.exists() or csv_path.stat().st_size == 0:
        return pd.DataFrame(columns=_columns(pids))
    done = _read_starts(csv_path, pids)
    _check_resume(done, starts, pids, csv_path)
    return done


def _engine_failure(start_id: int, x0: np.ndarray, exc: Exception) -> dict[str, Any]:
    """The record of a start whose task failed in the engine (e.g. a crashed worker)."""
    return {"start_id": start_id, "x0": x0, "x": x0, "fval": FAILED_VALUE, "n_fev": 0, "converged": False,
            "seconds": 0.0, "message": f"engine error: {type(exc).__name__}: {exc}"}


def run_multistart(objective: ObjectiveLike, n_starts: int, *, seed: int = 0,
                   optimizer: str = "least_squares", engine: Engine | None = None,
                   out_dir: str | Path | None = None, max_nfev: int | None = None, progress: bool = False,
                   x0: np.ndarray | None = None) -> MultistartResult:
    """Local optimisations from Latin-hypercube starts (after the explicit ``x0`` rows, if given).

    With ``out_dir``, each finished start is appended to ``out_dir/starts.csv`` at once; re-running with
    the same ``out_dir``, ``seed``, ``n_starts`` and ``x0`` skips the start ids already recorded.
    Engine-level failures (e.g. a crashed worker) are kept in the result but not in the CSV, so a rerun
    retries them.
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; use one of {OPTIMIZERS}")
    pids = tuple(objective.parameter_ids)
    starts = _planned_starts(objective, n_starts, seed, x0)
    engine = engine or SerialEngine()
    csv_path = None if out_dir is None else Path(out_dir) / "starts.csv"
    with folder_lock(out_dir) if out_dir is not None else nullcontext():
        done = _resume(csv_path, starts, pids)
        meta = {"optimizer": optimizer, "seed": seed, "n_starts_requested": int(n_starts), "max_nfev": max_nfev,
                "engine": type(engine).__name__, "n_resumed": len(done)}
        return _run_starts(objective, engine, starts, done, csv_path, meta, progress)


def _run_starts(objective: ObjectiveLike, engine: Engine, starts: np.ndarray, done: pd.DataFrame,
                csv_path: Path | None, meta: dict[str, Any], progress: bool) -> MultistartResult:
    """Run the starts not in ``done``; rewrite ``csv_path`` after each; whatever finished is kept."""
    pids, scales = tuple(objective.parameter_ids), tuple(objective.scales)
    todo = [i for i in range(len(starts)) if i not in set(done["start_id"])]
    written = _done_rows(done, pids) if csv_path is not None else []
    rows: list[list[Any]] = []
    bar = _progress(len(todo), progress)
    try:
        items = [(i, starts[i], meta["optimizer"], meta["max_nfev"]) for i in todo]
        for k, out in engine.map(_start_task, items, objective):
            if isinstance(out, Exception):
                out = _engine_failure(todo[k], starts[todo[k]], out)
            elif csv_path is not None:
                written.append(_row(out))
                _write_rows(csv_path, pids, written)
            rows.append(_row(out))
            bar.update(1)
    finally:
        bar.close()
        result = _collect(done, rows, pids, scales, meta)
        if csv_path is not None and len(result.table):
            result.write_best(csv_path.parent)
    return result


def _collect(done: pd.DataFrame, rows: list[list[Any]], pids: tuple[str, ...], scales: tuple[str, ...],
             meta: dict[str, Any]) -> MultistartResult:
    """The resumed and the new starts as one result (whatever finished, also after an interrupt)."""
    new = pd.DataFrame(rows, columns=_columns(pids))
    table = pd.concat([done, new], ignore_index=True) if len(done) and rows else (new if rows else done)
    return MultistartResult(table.astype({"fval": float}), pids, scales, meta)


def _check_resume(done: pd.DataFrame, starts: np.ndarray, pids: tuple[str, ...], path: Path) -> None:
    ids = done["start_id"].to_numpy()
    if len(ids) and (ids.min() < 0 or ids.max() >= len(starts)):
        raise ValueError(f"{path} has start ids outside 0..{len(starts) - 1}: use the same n_starts or a new out_dir")
    recorded = done[[f"x0_{p}" for p in pids]].to_numpy(dtype=float)
    if not np.allclose(recorded, starts[ids], rtol=1e-9, atol=1e-12):
        raise ValueError(f"{path} was written with different starts (seed, n_starts or x0): use a new out_dir")


def _progress(total: int, enabled: bool) -> Any:
    if enabled:
        from tqdm.auto import tqdm  # lazy: tqdm.auto probes for IPython widgets

        return tqdm(total=total, desc="multistart", unit="start")
    return _NoBar()


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass

