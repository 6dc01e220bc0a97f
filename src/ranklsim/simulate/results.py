"""What a simulation takes and gives: protocol events and time-course results (with units)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from ranklsim.models.parameters import check_value


@dataclass(frozen=True)
class Event:
    """A protocol event: at ``time`` set (or add to) the value of a parameter or state.

    Times are in the view's time unit (minutes for acute, days for chronic).
    """

    time: float
    target: str
    value: float
    op: Literal["set", "add"] = "set"

    def __post_init__(self) -> None:
        check_value(f"time of event on {self.target}", self.time)
        if self.op not in ("set", "add"):
            raise ValueError(f"event op must be 'set' or 'add', got {self.op!r}")
        check_value(f"event value for {self.target}", self.value, allow_negative=self.op == "add")


@dataclass
class SimulationResult:
    """Time course in wide form (``frame``: one column per id, plus ``time``) with units."""

    frame: pd.DataFrame
    units: dict[str, str]
    time_unit: str
    species: str
    view: str
    overrides: dict[str, float] = field(default_factory=dict)
    #: parameter values outside their table bounds (run with ``allow_out_of_bounds=True``); empty if none
    out_of_bounds: dict[str, float] = field(default_factory=dict)
    #: derived normalisers recomputed for the changed model constants (:mod:`.reference`); empty if none
    derived: dict[str, float] = field(default_factory=dict)

    def __getitem__(self, key: str) -> np.ndarray:
        return self.frame[key].to_numpy()

    @property
    def time(self) -> np.ndarray:
        return self.frame["time"].to_numpy()

    def final(self) -> dict[str, float]:
        """Values at the last output time."""
        return {k: float(v) for k, v in self.frame.iloc[-1].items()}

    def tidy(self) -> pd.DataFrame:
        """Long form: time, time_unit, id, value, unit (one row per time and id)."""
        long = self.frame.melt(id_vars="time", var_name="id", value_name="value")
        long["unit"] = long["id"].map(self.units)
        long.insert(1, "time_unit", self.time_unit)
        return long
