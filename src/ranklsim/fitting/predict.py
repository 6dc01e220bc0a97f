"""Scenario predictions with parameter uncertainty: run a scenario for every member of a
parameter ensemble (from profiles or posterior samples) and summarise readouts or time courses
as median and 95 % band (:func:`ranklsim.fitting.ensemble.predict_with_ensemble`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pandas as pd

from ranklsim.simulate.runner import run_scenario
from ranklsim.simulate.scenario import Scenario


def with_parameters(scenario: Scenario, params: dict[str, float]) -> Scenario:
    """``scenario`` with ``params`` applied to every arm (after the arm's subject and genotype)."""
    arms = tuple(a.model_copy(update={"overrides": {**a.overrides, **params}}) for a in scenario.arms)
    return scenario.model_copy(update={"arms": arms})


@dataclass(frozen=True)
class ScenarioRun:
    """Picklable ``run(params) -> tidy DataFrame`` for :func:`predict_with_ensemble`.

    ``what="readouts"`` gives arm, test, day, readout, value; ``"timecourse"`` gives arm, phase,
    time, id, value (restricted to ``ids`` if given).  A member whose scenario reports a failure
    raises, so it is counted as a failed member rather than silently dropped.
    """

    scenario: Scenario
    what: Literal["readouts", "timecourse"] = "readouts"
    ids: tuple[str, ...] = ()

    def __call__(self, params: dict[str, float]) -> pd.DataFrame:
        res = run_scenario(with_parameters(self.scenario, params))
        if res.failures:
            raise RuntimeError(f"scenario {self.scenario.name} failed: {res.failures}")
        if self.what == "readouts":
            df = res.readouts[["arm", "test", "day", "readout", "value"]]
            return df[df.readout.isin(self.ids)] if self.ids else df
        df = res.timecourse[["arm", "phase", "time", "id", "value"]]
        return df[df["id"].isin(self.ids)] if self.ids else df
