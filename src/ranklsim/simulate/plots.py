"""Headless figures (matplotlib Agg)."""

from __future__ import annotations

from pathlib import Path


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def plot_timecourses(results: dict, ids: list[str], path: str | Path, title: str = "",
                     time_scale: float = 1.0, time_label: str | None = None) -> Path:
    """One panel per id, one line per labelled :class:`SimulationResult`."""
    plt = _plt()
    n = len(ids)
    cols = min(3, n)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
    for ax, key in zip(axes.flat, ids):
        for label, res in results.items():
            ax.plot(res.time * time_scale, res[key], label=label)
        first = next(iter(results.values()))
        ax.set_title(f"{key} [{first.units.get(key, '')}]", fontsize=9)
        ax.set_xlabel(time_label or first.time_unit)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


#: readouts shown in a scenario's summary figure, by test
SUMMARY_READOUTS = (("fasting", "G"), ("fasting", "I"), ("fasting", "HOMA_IR"), ("fasting", "NFkBn"),
                    ("clamp", "EGP_suppression"), ("clamp", "GIR"), ("ipgtt", "AUC_G"),
                    ("ogtt", "AUC_G"), ("itt", "G_nadir_pct"))


def plot_scenario(result, out: str | Path) -> list[Path]:
    """Figures of a ScenarioResult: run time courses, test curves and a readout summary,
    each comparing the arms."""
    plt = _plt()
    out = Path(out)
    paths: list[Path] = []
    tc = result.timecourse
    run = tc[tc.phase == "run"]
    if not run.empty:
        ids = list(dict.fromkeys(run["id"]))
        cols = min(3, len(ids))
        rows = (len(ids) + cols - 1) // cols
        fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
        for ax, key in zip(axes.flat, ids):
            sub = run[run["id"] == key]
            for arm, g in sub.groupby("arm", sort=False):
                ax.plot(g.time, g.value, label=arm)
            ax.set_title(f"{key} [{sub.unit.iloc[0]}]", fontsize=9)
            ax.set_xlabel("day")
        for ax in list(axes.flat)[len(ids):]:
            ax.axis("off")
        axes.flat[0].legend(fontsize=7)
        fig.suptitle(f"{result.scenario.name}: time courses")
        fig.tight_layout()
        paths.append(out / "timecourse.png")
        fig.savefig(paths[-1], dpi=100)
        plt.close(fig)
    tests = tc[(tc.phase != "run") & (tc["id"] == "G")]
    if not tests.empty:
        kinds = list(dict.fromkeys(p.split("@")[0] for p in tests.phase))
        fig, axes = plt.subplots(1, len(kinds), figsize=(4.2 * len(kinds), 3.2), squeeze=False)
        for ax, kind in zip(axes.flat, kinds):
            sub = tests[tests.phase.str.startswith(kind + "@")]
            for (arm, phase), g in sub.groupby(["arm", "phase"], sort=False):
                ax.plot(g.time, g.value, label=f"{arm} ({phase.split('@')[1].split('#')[0]})")
            ax.set_title(f"{kind}: glucose [mg/dL]", fontsize=9)
            ax.set_xlabel("min")
        axes.flat[0].legend(fontsize=6)
        fig.tight_layout()
        paths.append(out / "tests.png")
        fig.savefig(paths[-1], dpi=100)
        plt.close(fig)
    r = result.readouts
    shown = [(t, n) for t, n in SUMMARY_READOUTS if not r[(r.test == t) & (r.readout == n)].empty]
    if shown:
        fig, axes = plt.subplots(1, len(shown), figsize=(3.0 * len(shown), 3.4), squeeze=False)
        for ax, (t, n) in zip(axes.flat, shown):
            sub = r[(r.test == t) & (r.readout == n)].groupby("arm", sort=False).value.last()
            ax.bar(range(len(sub)), sub.to_numpy(), color="C0")
            ax.set_xticks(range(len(sub)), sub.index, rotation=60, ha="right", fontsize=6)
            ax.set_title(f"{t}: {n}", fontsize=8)
        fig.tight_layout()
        paths.append(out / "readouts.png")
        fig.savefig(paths[-1], dpi=100)
        plt.close(fig)
    return paths
