"""Figures written to files, built on :class:`matplotlib.figure.Figure` (no pyplot state, no
backend switch: saving a figure renders it with matplotlib's Agg renderer)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

#: readouts shown in a scenario's summary figure, by test
SUMMARY_READOUTS = (("fasting", "G"), ("fasting", "I"), ("fasting", "HOMA_IR"), ("fasting", "NFkBn"),
                    ("clamp", "EGP_suppression"), ("clamp", "GIR"), ("ipgtt", "AUC_G"),
                    ("ogtt", "AUC_G"), ("itt", "G_nadir_pct"))


def _panel_grid(n: int) -> tuple[Figure, np.ndarray]:
    """A figure with ``n`` panels in rows of up to 3 (spare panels switched off)."""
    cols = min(3, n)
    rows = (n + cols - 1) // cols
    fig = Figure(figsize=(4.2 * cols, 3.0 * rows))
    panels = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax in panels[n:]:
        ax.axis("off")
    return fig, panels[:n]


def _save(fig: Figure, path: Path, dpi: int) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    return path


def plot_timecourses(results: dict, ids: list[str], path: str | Path, title: str = "",
                     time_scale: float = 1.0, time_label: str | None = None) -> Path:
    """One panel per id, one line per labelled :class:`SimulationResult`."""
    fig, panels = _panel_grid(len(ids))
    first = next(iter(results.values()))
    for ax, key in zip(panels, ids, strict=True):
        for label, res in results.items():
            ax.plot(res.time * time_scale, res[key], label=label)
        ax.set_title(f"{key} [{first.units.get(key, '')}]", fontsize=9)
        ax.set_xlabel(time_label or first.time_unit)
    panels[0].legend(fontsize=7)
    fig.suptitle(title)
    return _save(fig, Path(path), dpi=110)


def plot_scenario(result, out: str | Path) -> list[Path]:
    """Figures of a ScenarioResult: run time courses, test curves and a readout summary,
    each comparing the arms."""
    out, paths = Path(out), []
    for name, build in (("timecourse.png", _run_figure), ("tests.png", _tests_figure),
                        ("readouts.png", _readouts_figure)):
        fig = build(result)
        if fig is not None:
            paths.append(_save(fig, out / name, dpi=100))
    return paths


def _run_figure(result) -> Figure | None:
    """One panel per recorded id over the run, one line per arm (None: nothing recorded)."""
    tc = result.timecourse
    run = tc[tc.phase == "run"]
    if run.empty:
        return None
    ids = list(dict.fromkeys(run["id"]))
    fig, panels = _panel_grid(len(ids))
    for ax, key in zip(panels, ids, strict=True):
        sub = run[run["id"] == key]
        for arm, g in sub.groupby("arm", sort=False):
            ax.plot(g.time, g.value, label=arm)
        ax.set_title(f"{key} [{sub.unit.iloc[0]}]", fontsize=9)
        ax.set_xlabel("day")
    panels[0].legend(fontsize=7)
    fig.suptitle(f"{result.scenario.name}: time courses")
    return fig


def _tests_figure(result) -> Figure | None:
    """Glucose during the tests: one panel per test kind, one line per arm and day."""
    tc = result.timecourse
    tests = tc[(tc.phase != "run") & (tc["id"] == "G")]
    if tests.empty:
        return None
    kinds = list(dict.fromkeys(p.split("@")[0] for p in tests.phase))
    fig = Figure(figsize=(4.2 * len(kinds), 3.2))
    axes = fig.subplots(1, len(kinds), squeeze=False)
    for ax, kind in zip(axes.flat, kinds, strict=True):
        sub = tests[tests.phase.str.startswith(kind + "@")]
        for (arm, phase), g in sub.groupby(["arm", "phase"], sort=False):
            ax.plot(g.time, g.value, label=f"{arm} ({phase.split('@')[1].split('#')[0]})")
        ax.set_title(f"{kind}: glucose [mg/dL]", fontsize=9)
        ax.set_xlabel("min")
    axes.flat[0].legend(fontsize=6)
    return fig


def _readouts_figure(result) -> Figure | None:
    """Bars of the :data:`SUMMARY_READOUTS` the scenario has, one bar per arm."""
    r = result.readouts
    shown = [(t, n) for t, n in SUMMARY_READOUTS if not r[(r.test == t) & (r.readout == n)].empty]
    if not shown:
        return None
    fig = Figure(figsize=(3.0 * len(shown), 3.4))
    axes = fig.subplots(1, len(shown), squeeze=False)
    for ax, (t, n) in zip(axes.flat, shown, strict=True):
        sub = r[(r.test == t) & (r.readout == n)].groupby("arm", sort=False).value.last()
        ax.bar(range(len(sub)), sub.to_numpy(), color="C0")
        ax.set_xticks(range(len(sub)), sub.index, rotation=60, ha="right", fontsize=6)
        ax.set_title(f"{t}: {n}", fontsize=8)
    return fig
