"""Test protocols as typed objects that expand into simulator events.

The scenario issue builds on these; each protocol knows its species-specific dose rule.
"""

from __future__ import annotations

from dataclasses import dataclass

from ranklsim.models.parameters import check_value, parameter_table
from ranklsim.simulate.simulator import Event

#: standard OGTT glucose loads (human 75 g; mouse 2 g/kg)
OGTT_HUMAN_MG = 75_000.0
OGTT_MOUSE_MG_PER_KG = 2_000.0


@dataclass(frozen=True)
class OralGlucose:
    """Oral glucose load at ``time`` (min): total ``dose_mg`` or ``dose_mg_per_kg`` x BW."""

    time: float = 0.0
    dose_mg: float | None = None
    dose_mg_per_kg: float | None = None

    def dose_for(self, species: str) -> float:
        if self.dose_mg is not None and self.dose_mg_per_kg is not None:
            raise ValueError("give dose_mg or dose_mg_per_kg, not both")
        if self.dose_mg is not None:
            return check_value("dose_mg", self.dose_mg)
        if self.dose_mg_per_kg is None and species == "human":
            return OGTT_HUMAN_MG
        per_kg = OGTT_MOUSE_MG_PER_KG if self.dose_mg_per_kg is None else self.dose_mg_per_kg
        return check_value("dose_mg_per_kg", per_kg) * parameter_table(species)["BW"].value

    def events(self, species: str) -> list[Event]:
        dose = self.dose_for(species)
        return [Event(self.time, "Qsto1", dose, "add"), Event(self.time, "D", dose, "set")]


@dataclass(frozen=True)
class RanklChallenge:
    """Raise sRANKL appearance ``fold``-times its basal production from ``start`` (min)
    for ``duration`` (min) through the exogenous input I_L."""

    fold: float = 5.0
    start: float = 0.0
    duration: float = 48 * 60.0

    def events(self, species: str) -> list[Event]:
        check_value("fold", self.fold)
        check_value("duration", self.duration)
        extra = (self.fold - 1.0) * parameter_table(species)["L_prod"].value
        if extra < 0:
            raise ValueError(f"fold must be >= 1 for a challenge, got {self.fold}")
        return [Event(self.start, "I_L", extra), Event(self.start + self.duration, "I_L", 0.0)]
