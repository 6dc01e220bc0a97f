"""The built-in scenario library: ``library/<name>.toml`` beside this module."""

from __future__ import annotations

from pathlib import Path

from ranklsim.errors import unknown_name_message
from ranklsim.simulate.scenario import Scenario, ScenarioError, load_scenario_file

LIBRARY_DIR = Path(__file__).parent / "library"


def builtin_names() -> list[str]:
    """Names of the built-in scenarios, sorted."""
    return sorted(p.stem for p in LIBRARY_DIR.glob("*.toml"))


def builtin_path(name: str) -> Path:
    """Path of the built-in scenario ``name``; ScenarioError if there is none."""
    names = builtin_names()
    if name not in names:
        raise ScenarioError("scenario library", [("", unknown_name_message("built-in scenario", name, names))])
    return LIBRARY_DIR / f"{name}.toml"


def list_scenarios() -> list[tuple[str, str]]:
    """``(name, description)`` of every built-in scenario, sorted by name."""
    return [(name, load_scenario_file(builtin_path(name)).description) for name in builtin_names()]


def load_scenario(name_or_path: str | Path, *, limits: bool = True) -> Scenario:
    """A built-in scenario by name, or a scenario TOML file by path (``limits=False`` lifts the
    resource limits of :mod:`~ranklsim.simulate.scenario_limits`)."""
    if isinstance(name_or_path, Path):
        return load_scenario_file(name_or_path, limits=limits)
    if not isinstance(name_or_path, str):
        raise ScenarioError("scenario", [("", f"expected a scenario name or path, got {name_or_path!r}")])
    text = name_or_path
    looks_like_path = text.endswith(".toml") or "/" in text or "\\" in text
    if looks_like_path or (text not in builtin_names() and Path(text).is_file()):
        return load_scenario_file(text, limits=limits)
    return load_scenario_file(builtin_path(text), limits=limits)
