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
