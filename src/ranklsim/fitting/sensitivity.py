"""Global sensitivity of scalar model outputs (SALib): Morris screening (elementary effects) and Sobol
indices (Saltelli sampling).  Both take ``model_fn(params) -> {output: value}``, linear-scale bounds,
optional log10 sampling per parameter and an engine of :mod:`ranklsim.parallel`."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ranklsim.fitting.plots import new_figure, save
from ranklsim.fitting.types import FITTING_EXTRA_HINT
from ranklsim.parallel import Engine, SerialEngine

ModelFn = Callable[[dict[str, float]], Mapping[str, float]]


def _import_salib(method: str = "sobol"):
    """SALib's sampler and analyser modules of ``method`` ("sobol" or "morris")."""
    try:
        from SALib.analyze import morris as m_analyze  # optional: SALib is the fitting extra
        from SALib.analyze import sobol as analyze  # optional: as above
        from SALib.sample import morris as m_sample  # optional: as above
        from SALib.sample import sobol as sample  # optional: as above
    except ImportError as exc:
        raise ImportError(f"global sensitivity analysis needs SALib: {FITTING_EXTRA_HINT}") from exc
    return (m_sample, m_analyze) if method == "morris" else (sample, analyze)


def _chunk_task(model_fn: ModelFn, chunk: list[dict[str, float]]) -> list[dict[str, float] | str]:
    out: list[dict[str, float] | str] = []
    for params in chunk:
        try:
            out.append({str(k): float(v) for k, v in dict(model_fn(params)).items()})
        except Exception as exc:  # counted as a failed evaluation
            out.append(f"{type(exc).__name__}: {exc}")
    return out


def sampling_problem(bounds: Mapping[str, tuple[float, float]],
                      log_scale: Mapping[str, bool] | None) -> tuple[dict[str, Any], np.ndarray]:
    """SALib's problem dict (log10 bounds for log-scaled parameters) and the log flags."""
    names = list(bounds)
    logs = dict(log_scale or {})
    unknown = set(logs) - set(names)
    if unknown:
        raise ValueError(f"log_scale names unknown parameters: {sorted(unknown)}")
    is_log = np.array([bool(logs.get(n, False)) for n in names])
    b = np.array([bounds[n] for n in names], float)
    if np.any(b[:, 0] >= b[:, 1]) or np.any(is_log & (b[:, 0] <= 0)):
        raise ValueError("bounds need lower < upper (and lower > 0 for log-scaled parameters)")
    b[is_log] = np.log10(b[is_log])
    return {"num_vars": len(names), "names": names, "bounds": b.tolist()}, is_log


def evaluate_all(model_fn: ModelFn, params: list[dict[str, float]], engine: Engine | None,
              chunk_size: int) -> list[dict[str, float] | str]:
    """Every evaluation, in order: its outputs, or the error message of a failed one."""
    chunks = [params[i:i + chunk_size] for i in range(0, len(params), chunk_size)]
    evals: list[Any] = [None] * len(params)
    for k, out in (engine or SerialEngine()).map(_chunk_task, chunks, model_fn):
        res = [f"{type(out).__name__}: {out}"] * len(chunks[k]) if isinstance(out, Exception) else out
        evals[k * chunk_size:k * chunk_size + len(res)] = res
    return evals


def _imputed(y: np.ndarray) -> np.ndarray | None:
    """``y`` with failed (non-finite) evaluations replaced by the mean of the others; None if all failed."""
    bad = ~np.isfinite(y)
    return None if bad.all() else np.where(bad, y[~bad].mean(), y)


def _indices(analyze: Any, problem: dict[str, Any], y: np.ndarray, num_resamples: int,
             seed: int) -> tuple[np.ndarray, ...]:
    """S1, S1_conf, ST, ST_conf of one output (failed evaluations imputed with the mean)."""
    y = _imputed(y)
    if y is None:
        return tuple(np.full(problem["num_vars"], np.nan) for _ in range(4))
    with np.errstate(divide="ignore", invalid="ignore"):
        r = analyze.analyze(problem, y, calc_second_order=False, num_resamples=num_resamples, seed=seed)
    return tuple(np.asarray(r[k], float) for k in ("S1", "S1_conf", "ST", "ST_conf"))


def sobol_indices(model_fn: ModelFn, bounds: Mapping[str, tuple[float, float]], *, n_base: int = 256,
                  seed: int = 0, log_scale: Mapping[str, bool] | None = None, engine: Engine | None = None,
                  chunk_size: int = 16, num_resamples: int = 100) -> pd.DataFrame:
    """First-order and total Sobol indices of every output of ``model_fn(params) -> {output: value}``.

    ``bounds`` are linear-scale ranges; parameters flagged in ``log_scale`` are sampled uniformly in
    log10 (their indices refer to that space). ``n_base`` should be a power of 2 (``n_base * (d + 2)``
    evaluations). Failed evaluations are NaN, counted in ``n_failed`` and imputed with the output mean
    for the analysis. Returns a tidy frame: output, parameter, S1, S1_conf, ST, ST_conf, n_failed;
    ``df.attrs["design"]`` holds every run (parameter values, linear scale, then one column per output,
    in the sampler's order), from which :func:`sobol_from_design` recomputes the indices.
    """
    sample, _ = _import_salib()
    problem, is_log = sampling_problem(bounds, log_scale)
    names = problem["names"]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*power of 2.*")
        X = sample.sample(problem, int(n_base), calc_second_order=False, scramble=True, seed=seed)
    X[:, is_log] = 10.0 ** X[:, is_log]
    params = [dict(zip(names, map(float, row), strict=True)) for row in X]
    evals = evaluate_all(model_fn, params, engine, chunk_size)
    design = pd.DataFrame(X, columns=names)
    for o in output_names(evals):
        design[o] = output_column(evals, o)
    df = sobol_from_design(design, names, seed=seed, num_resamples=num_resamples)
    df.attrs["n_errors"] = sum(isinstance(e, str) for e in evals)
    df.attrs["design"] = design
    return df


def sobol_from_design(design: pd.DataFrame, parameters: Sequence[str], *, seed: int = 0,
                      num_resamples: int = 100) -> pd.DataFrame:
    """Sobol indices from the runs of a saved design (``sobol_indices``' ``df.attrs["design"]``, e.g. a
    ``cohort_sobol_design.csv``): the ``parameters`` columns, then every other column an output, rows in
    the sampler's order (``n_base * (len(parameters) + 2)`` of them).  The bootstrap intervals depend
    on ``seed``, ``num_resamples`` and the SALib version; the indices do not."""
    _, analyze = _import_salib()
    names = list(parameters)
    missing = [n for n in names if n not in design.columns]
    if missing:
        raise ValueError(f"design has no column for parameters {missing}")
    if len(design) == 0 or len(design) % (len(names) + 2):
        raise ValueError(f"a Sobol design over {len(names)} parameters has a multiple of {len(names) + 2} rows, "
                         f"got {len(design)}")
    problem = {"num_vars": len(names), "names": names, "bounds": [[0.0, 1.0]] * len(names)}
    rows = []
    for o in (c for c in design.columns if c not in names):
        y = design[o].to_numpy(dtype=float)
        s1, s1c, st, stc = _indices(analyze, problem, y, num_resamples, seed)
        rows.extend({"output": o, "parameter": n, "S1": s1[j], "S1_conf": s1c[j], "ST": st[j],
                     "ST_conf": stc[j], "n_failed": int((~np.isfinite(y)).sum())} for j, n in enumerate(names))
    df = pd.DataFrame(rows)
    df.attrs["n_evaluations"] = len(design)
    return df


def output_names(evals: list[dict[str, float] | str]) -> list[str]:
    outputs = list(dict.fromkeys(o for e in evals if isinstance(e, dict) for o in e))
    if not outputs:
        raise RuntimeError(f"every model evaluation failed; first error: {evals[0]}")
    return outputs


def output_column(evals: list[dict[str, float] | str], output: str) -> np.ndarray:
    return np.array([e.get(output, math.nan) if isinstance(e, dict) else math.nan for e in evals], float)


def morris_indices(model_fn: ModelFn, bounds: Mapping[str, tuple[float, float]], *, trajectories: int = 10,
                   levels: int = 4, seed: int = 0, log_scale: Mapping[str, bool] | None = None,
                   engine: Engine | None = None, chunk_size: int = 1, num_resamples: int = 1000) -> pd.DataFrame:
    """Morris screening (Campolongo 2007 mu*) of every output of ``model_fn``.

    ``trajectories`` one-at-a-time paths through a ``levels``-level grid, ``trajectories * (d + 1)``
    evaluations.  An elementary effect is the output change per unit of a parameter's normalised
    range (log10 range for ``log_scale`` parameters), so ``mu_star`` compares parameters directly.
    Failed evaluations and undefined outputs are NaN (``n_failed`` per output; ``attrs['n_errors']``:
    evaluations that raised) and imputed with the output mean.  Returns a tidy frame:
    output, parameter, mu, mu_star, mu_star_conf (bootstrap 95 %), sigma, n_failed.
    """
    if trajectories < 2:
        raise ValueError(f"Morris screening needs at least 2 trajectories, got {trajectories}")
    sample, analyze = _import_salib("morris")
    problem, is_log = sampling_problem(bounds, log_scale)
    X = sample.sample(problem, int(trajectories), num_levels=int(levels), seed=seed)
    X_lin = X.copy()
    X_lin[:, is_log] = 10.0 ** X_lin[:, is_log]
    names = problem["names"]
    evals = evaluate_all(model_fn, [dict(zip(names, map(float, row), strict=True)) for row in X_lin], engine,
                      chunk_size)
    rows = []
    for o in output_names(evals):
        y = output_column(evals, o)
        filled = _imputed(y)
        keys = ("mu", "mu_star", "mu_star_conf", "sigma")
        r = {k: np.full(len(names), np.nan) for k in keys} if filled is None else analyze.analyze(
            problem, X, filled, num_resamples=num_resamples, num_levels=int(levels), seed=seed)
        rows.extend({"output": o, "parameter": n, **{k: float(r[k][j]) for k in keys},
                     "n_failed": int((~np.isfinite(y)).sum())} for j, n in enumerate(names))
    df = pd.DataFrame(rows)
    df.attrs["n_evaluations"] = len(X)
    df.attrs["n_errors"] = sum(isinstance(e, str) for e in evals)
    df.attrs["samples"] = pd.DataFrame(X_lin, columns=names)
    df.attrs["evaluations"] = evals
    return df


def plot_morris(df: pd.DataFrame, path: str | Path) -> Path:
    """mu* (with its bootstrap interval) against sigma per output, parameters labelled."""
    outputs = list(dict.fromkeys(df["output"]))
    fig, axes = new_figure(len(outputs), size=(4.2, 3.4))
    for ax, o in zip(axes, outputs, strict=False):
        sub = df[df["output"] == o]
        ax.errorbar(sub["mu_star"], sub["sigma"], xerr=sub["mu_star_conf"], fmt="o", ms=4, capsize=2)
        for _, r in sub.iterrows():
            ax.annotate(str(r["parameter"]), (r["mu_star"], r["sigma"]), fontsize=6, xytext=(2, 2),
                        textcoords="offset points")
        ax.set_xlabel("mu* (per normalised range)", fontsize=8)
        ax.set_ylabel("sigma", fontsize=8)
        ax.set_title(o, fontsize=9)
    return save(fig, path)


def plot_sobol(df: pd.DataFrame, path: str | Path) -> Path:
    """Bar chart (S1 and ST with confidence) per output plus a heat map of ST (outputs x parameters)."""

    outputs = list(dict.fromkeys(df["output"]))
    params = list(dict.fromkeys(df["parameter"]))
    fig, axes = new_figure(len(outputs) + 1, size=(4.4, 3.2))
    x = np.arange(len(params))
    for ax, o in zip(axes, outputs, strict=False):  # axes may outnumber outputs
        sub = df[df["output"] == o].set_index("parameter").reindex(params)
        ax.bar(x - 0.2, sub["S1"], 0.4, yerr=sub["S1_conf"], label="S1", capsize=2)
        ax.bar(x + 0.2, sub["ST"], 0.4, yerr=sub["ST_conf"], label="ST", capsize=2)
        ax.set_xticks(x, params, rotation=60, ha="right", fontsize=7)
        q2 = f" (PCE Q² {sub['q2'].iloc[0]:.2f})" if "q2" in sub else ""  # a PCE study: its surrogate's fit
        ax.set_title(o + q2, fontsize=9)
        ax.set_ylim(min(0.0, float(np.nanmin(sub[["S1", "ST"]].to_numpy(), initial=0.0))), None)
    axes[0].legend(fontsize=7)
    ax = axes[len(outputs)]
    heat = df.pivot(index="output", columns="parameter", values="ST").reindex(index=outputs, columns=params)
    im = ax.imshow(heat.to_numpy(float), aspect="auto", cmap="viridis", vmin=0, vmax=1)
    ax.set_xticks(range(len(params)), params, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(outputs)), outputs, fontsize=7)
    ax.set_title("total-order index ST", fontsize=9)
    fig.colorbar(im, ax=ax)
    return save(fig, path)
