"""ranklsim: a mechanistic RANKL -> hepatic NF-kB -> insulin resistance -> glucose simulator.

The facade of the package: ``load_model`` and ``run_scenario``.  Importing it costs nothing beyond
the standard library; the model is built on first use.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ranklsim.simulate.runner import ScenarioResult
    from ranklsim.simulate.scenario import Scenario
    from ranklsim.simulate.simulator import Model

try:
    __version__ = version("ranklsim")  # the one version source is pyproject.toml
except PackageNotFoundError:  # pragma: no cover - running from a source tree that is not installed
    __version__ = "0+unknown"


def load_model(species: str = "human", view: str = "acute") -> Model:
    """Build (cached per process) and return the composite :class:`~ranklsim.simulate.Model`."""
    from ranklsim.simulate.simulator import load_model as _load  # lazy: libroadrunner import ~0.3 s

    return _load(species, view)


def run_scenario(scenario: str | Path | Scenario, *, progress: bool = False) -> ScenarioResult:
    """Run a built-in scenario (by name), a scenario TOML file (by path) or a ``Scenario`` object."""
    from ranklsim.simulate.library import load_scenario  # lazy: pydantic schema import
    from ranklsim.simulate.runner import run_scenario as _run  # lazy: builds models
    from ranklsim.simulate.scenario import Scenario as _Scenario  # lazy: as above

    if not isinstance(scenario, _Scenario):
        scenario = load_scenario(scenario)
    return _run(scenario, progress=progress)


__all__ = ["__version__", "load_model", "run_scenario"]
