"""Headless figures for fitting results (``matplotlib.figure.Figure``; no pyplot state is touched)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ranklsim.constants import FAILED_VALUE


def new_figure(n_panels: int, *, cols: int = 3, size: tuple[float, float] = (4.2, 3.1)) -> tuple[Any, np.ndarray]:
    """A standalone figure with a grid of at least ``n_panels`` axes (extra axes switched off)."""
    from matplotlib.figure import Figure  # lazy: matplotlib costs ~0.5 s of import

    cols = max(1, min(cols, n_panels))
    rows = max(1, math.ceil(n_panels / cols))
    fig = Figure(figsize=(size[0] * cols, size[1] * rows))
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax in axes[n_panels:]:
        ax.axis("off")
    return fig, axes


def save(fig: Any, path: str | Path, dpi: int = 110) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    return path


def plot_waterfall(result: Any, path: str | Path) -> Path:
    """Sorted final nll of all starts (``fval - best + 1``, log axis); failed starts marked in red."""
    table = result.table if hasattr(result, "table") else pd.DataFrame(result)
    f = np.sort(table["fval"].to_numpy(float))
    fig, (ax,) = new_figure(1, size=(5.5, 3.6))
    ok = f < FAILED_VALUE
    rank = np.arange(1, f.size + 1)
    if ok.any():
        best = f[ok].min()
        y = f[ok] - best + 1.0
        ax.plot(rank[ok], y, "o-", ms=3, lw=0.8, label="finished")
        n_best = int(np.sum(f[ok] - best <= 1.92))
        ax.axhline(1.0 + 1.92, color="grey", ls=":", lw=0.8, label=f"best + 1.92 ({n_best} starts)")
        ax.set_yscale("log")
    if (~ok).any():
        top = ax.get_ylim()[1] if ok.any() else 1.0
        ax.plot(rank[~ok], np.full((~ok).sum(), top), "x", color="tab:red", label=f"failed ({(~ok).sum()})")
    ax.set_xlabel("start (sorted)")
    ax.set_ylabel("nll - best + 1")
    ax.legend(fontsize=7)
    return save(fig, path)


def plot_profiles(profiles: Sequence[Any], path: str | Path) -> Path:
    """Delta nll vs parameter value (linear value; log axis for log-scale parameters) per profile."""
    fig, axes = new_figure(len(profiles))
    for ax, p in zip(axes, profiles, strict=False):  # axes may outnumber panels
        ok = np.isfinite(p.delta)
        ax.plot(p.values_linear[ok], p.delta[ok], "o-", ms=3, lw=1)
        ax.axhline(p.threshold, color="grey", ls=":", lw=0.8)
        row = p.row()
        ax.axvline(row["best"], color="k", lw=0.6)
        lo = row["ci_lower"] if not row["lower_open"] else np.nanmin(p.values_linear)
        hi = row["ci_upper"] if not row["upper_open"] else np.nanmax(p.values_linear)
        ax.axvspan(lo, hi, color="tab:green" if p.identifiable else "tab:orange", alpha=0.15)
        if p.scale in ("log10", "log"):
            ax.set_xscale("log")
        ax.set_ylim(-0.1, max(2 * p.threshold + 0.5, 1.0))
        flag = "" if p.identifiable else " (open)"
        ax.set_title(f"{p.parameter_id}{flag}", fontsize=9)
        ax.set_ylabel("delta nll")
    return save(fig, path)


def plot_fit(table: pd.DataFrame, path: str | Path) -> Path:
    """Measurement vs simulation per observable (colour = time), with the identity line."""
    obs = list(dict.fromkeys(table["observableId"]))
    fig, axes = new_figure(len(obs))
    for ax, o in zip(axes, obs, strict=False):  # as above
        sub = table[table["observableId"] == o]
        m, s = sub["measurement"].to_numpy(float), sub["simulation"].to_numpy(float)
        sc = ax.scatter(s, m, c=sub["time"].to_numpy(float), s=14, cmap="viridis")
        finite = np.concatenate([m[np.isfinite(m)], s[np.isfinite(s)]])
        if finite.size:
            lo, hi = finite.min(), finite.max()
            pad = 0.05 * (hi - lo or 1.0)
            ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="grey", lw=0.8, ls="--")
        ax.set_xlabel("simulation")
        ax.set_ylabel("measurement")
        ax.set_title(str(o), fontsize=9)
        fig.colorbar(sc, ax=ax, label="time")
    return save(fig, path)


def plot_bands(pred: pd.DataFrame, path: str | Path, *, x: str = "time", panel: str | None = None,
               hue: str | None = None, data: pd.DataFrame | None = None, lower: str = "q2.5",
               upper: str = "q97.5", ylabel: str = "value") -> Path:
    """Ensemble median and band vs ``x``, one panel per ``panel`` value, one line per ``hue`` value.

    Non-numeric ``x`` (e.g. a test name) is drawn as points with error bars. ``data`` (optional) has
    the same ``x``/``panel``/``hue`` columns and a ``measurement`` (or ``value``) column overlaid as dots.
    """
    panels = list(dict.fromkeys(pred[panel])) if panel else [None]
    fig, axes = new_figure(len(panels))
    numeric = pd.api.types.is_numeric_dtype(pred[x])
    for ax, pv in zip(axes, panels, strict=False):  # as above
        sub = pred if pv is None else pred[pred[panel] == pv]
        groups = sub.groupby(hue, sort=False, dropna=False) if hue else [(None, sub)]
        for j, (hv, g) in enumerate(groups):
            label = None if hue is None else str(hv)
            color = f"C{j % 10}"
            if numeric:
                g = g.sort_values(x)
                ax.fill_between(g[x], g[lower], g[upper], color=color, alpha=0.25, lw=0)
                ax.plot(g[x], g["median"], color=color, label=label)
            else:
                pos = np.arange(len(g)) + 0.15 * j
                err = np.vstack([g["median"] - g[lower], g[upper] - g["median"]])
                ax.errorbar(pos, g["median"], yerr=err, fmt="o", color=color, capsize=3, label=label)
                ax.set_xticks(np.arange(len(g)), g[x].astype(str), rotation=45, ha="right", fontsize=7)
        if data is not None:
            _overlay(ax, data, x, panel, pv, None if numeric else list(dict.fromkeys(sub[x])))
        ax.set_xlabel(x)
        ax.set_ylabel(ylabel)
        if pv is not None:
            ax.set_title(f"{panel} = {pv}", fontsize=9)
        if hue or data is not None:
            ax.legend(fontsize=7)
    return save(fig, path)


def _overlay(ax: Any, data: pd.DataFrame, x: str, panel: str | None, pv: Any, cats: list | None) -> None:
    d = data if panel is None or pv is None else data[data[panel] == pv]
    col = "measurement" if "measurement" in d.columns else "value"
    xs = d[x] if cats is None else d[x].map({c: i for i, c in enumerate(cats)})
    ax.plot(xs, d[col], "k.", ms=5, label="data")
