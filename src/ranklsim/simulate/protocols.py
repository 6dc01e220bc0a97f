"""Test protocols as typed objects that expand into simulator settings and events.

Each protocol knows its species-specific dose rule, the parameter settings it needs while it
runs (``settings``), its events, its output times, and how to turn the resulting time course
into readouts (``readouts``).  All doses are converted here, once: insulin 1 mU = 6 pmol
(Heinemann 2010), oral/IP glucose in mg, infusions per kg body weight.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ranklsim.constants import GTT_MOUSE_MG_PER_KG, OGTT_HUMAN_MG, PMOL_PER_MU
from ranklsim.models.ids import P, V
from ranklsim.models.parameters import check_value, parameter_table
from ranklsim.simulate.simulator import Event, SimulationResult

#: a clamp that misses its target by more than this fraction has failed
CLAMP_TOLERANCE = 0.05

#: outputs recorded during every acute test
TEST_SELECTIONS = (V.G, V.I, V.EGP_obs, V.GIR, V.Rd_obs)


class ProtocolError(RuntimeError):
    """A test protocol could not be carried out (e.g. a clamp that cannot hold its target)."""


def auc(t: np.ndarray, y: np.ndarray) -> float:
    """Trapezoidal area under y(t)."""
    return float(np.sum(np.diff(t) * (y[1:] + y[:-1]) / 2.0))


@dataclass(frozen=True)
class OralGlucose:
    """Oral glucose load at ``time`` (min): total ``dose_mg`` or ``dose_mg_per_kg`` x BW."""

    time: float = 0.0
    dose_mg: float | None = None
    dose_mg_per_kg: float | None = None

    def dose_for(self, species: str, body_weight: float | None = None) -> float:
        if self.dose_mg is not None and self.dose_mg_per_kg is not None:
            raise ValueError("give dose_mg or dose_mg_per_kg, not both")
        if self.dose_mg is not None:
            return check_value("dose_mg", self.dose_mg)
        if self.dose_mg_per_kg is None and species == "human":
            return OGTT_HUMAN_MG
        bw = parameter_table(species)[P.BW].value if body_weight is None else body_weight
        per_kg = GTT_MOUSE_MG_PER_KG if self.dose_mg_per_kg is None else self.dose_mg_per_kg
        return check_value("dose_mg_per_kg", per_kg) * bw

    def events(self, species: str, body_weight: float | None = None) -> list[Event]:
        dose = self.dose_for(species, body_weight)
        return [Event(self.time, V.Qsto1, dose, "add"), Event(self.time, P.D, dose, "set")]


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
        extra = (self.fold - 1.0) * parameter_table(species)[P.L_prod].value
        if extra < 0:
            raise ValueError(f"fold must be >= 1 for a challenge, got {self.fold}")
        return [Event(self.start, P.I_L, extra), Event(self.start + self.duration, P.I_L, 0.0)]


# ----------------------------------------------------------------------------- tests


@dataclass(frozen=True)
class GlucoseTolerance:
    """OGTT (oral, ``route='oral'``) or IPGTT (``route='ip'``): glucose load ``dose_mg_per_kg``
    (or total ``dose_mg`` for the human OGTT) at t = 0, followed for ``duration`` min."""

    route: str = "oral"
    dose_mg: float | None = None
    dose_mg_per_kg: float | None = None
    duration: float = 120.0

    @property
    def name(self) -> str:
        return "ogtt" if self.route == "oral" else "ipgtt"

    def settings(self, body_weight: float) -> dict[str, float]:
        return {}

    def events(self, species: str, body_weight: float) -> list[Event]:
        if self.route == "oral":
            return OralGlucose(0.0, self.dose_mg, self.dose_mg_per_kg).events(species, body_weight)
        per_kg = self.dose_mg_per_kg if self.dose_mg is None else self.dose_mg / body_weight
        return [Event(0.0, V.Q_glc_ip, check_value("IP glucose dose", per_kg), "add")]

    def times(self) -> np.ndarray:
        return np.arange(0.0, self.duration + 0.5, 1.0)

    def readouts(self, res: SimulationResult, basal: dict[str, float]) -> dict[str, tuple[float, str]]:
        t, g, ins = res.time, res[V.G], res[V.I]
        i120 = int(np.argmin(abs(t - 120.0)))
        return {
            "G_0": (float(g[0]), "mg_per_dL"),
            "G_peak": (float(g.max()), "mg_per_dL"),
            "G_peak_time": (float(t[np.argmax(g)]), "min"),
            "G_120": (float(g[i120]), "mg_per_dL"),
            "AUC_G": (auc(t, g), "mg_per_dL*min"),
            "iAUC_G": (auc(t, np.maximum(g - g[0], 0.0)), "mg_per_dL*min"),
            "AUC_I": (auc(t, ins), "pmol_per_L*min"),
        }


@dataclass(frozen=True)
class InsulinTolerance:
    """ITT: insulin ``dose_U_per_kg`` IP (depot) or IV (bolus into plasma) at t = 0."""

    dose_U_per_kg: float
    route: str = "ip"
    duration: float = 90.0

    name = "itt"

    def settings(self, body_weight: float) -> dict[str, float]:
        return {}

    def events(self, species: str, body_weight: float) -> list[Event]:
        pmol_per_kg = check_value("ITT insulin dose", self.dose_U_per_kg) * 1000.0 * PMOL_PER_MU
        target = V.Q_ins_ip if self.route == "ip" else V.Ip
        return [Event(0.0, target, pmol_per_kg, "add")]

    def times(self) -> np.ndarray:
        return np.arange(0.0, self.duration + 0.5, 1.0)

    def readouts(self, res: SimulationResult, basal: dict[str, float]) -> dict[str, tuple[float, str]]:
        t, g = res.time, res[V.G]
        rel = 100.0 * g / g[0]
        early = t <= 15.0
        kitt = -100.0 * np.polyfit(t[early], np.log(g[early]), 1)[0]
        return {
            "G_nadir": (float(g.min()), "mg_per_dL"),
            "G_nadir_pct": (float(rel.min()), "percent"),
            "AUC_G_pct": (auc(t, rel) / t[-1], "percent"),
            "KITT": (float(kitt), "percent_per_min"),
        }


@dataclass(frozen=True)
class Clamp:
    """Hyperinsulinaemic-euglycaemic clamp: insulin at ``insulin_mU_per_kg_per_min`` and the
    PI-controlled glucose infusion holding ``target_mg_dL`` (None = the basal glucose)."""

    insulin_mU_per_kg_per_min: float
    target_mg_dL: float | None = None
    duration: float = 150.0
    steady_window: float = 30.0

    name = "clamp"

    def target(self, basal: dict[str, float]) -> float:
        return basal[V.G] if self.target_mg_dL is None else self.target_mg_dL

    def settings(self, body_weight: float, basal: dict[str, float] | None = None) -> dict[str, float]:
        rate = check_value("clamp insulin rate", self.insulin_mU_per_kg_per_min) * PMOL_PER_MU
        out = {P.ins_iv: rate, P.clamp_on: 1.0}
        if basal is not None:
            out[P.clamp_G_target] = self.target(basal)
        return out

    def events(self, species: str, body_weight: float) -> list[Event]:
        return []

    def times(self) -> np.ndarray:
        return np.arange(0.0, self.duration + 0.5, 1.0)

    def readouts(self, res: SimulationResult, basal: dict[str, float]) -> dict[str, tuple[float, str]]:
        t = res.time
        win = t >= t[-1] - self.steady_window
        g = float(res[V.G][win].mean())
        target = self.target(basal)
        if abs(g - target) > CLAMP_TOLERANCE * target:
            raise ProtocolError(
                f"clamp could not hold glucose at {target:.1f} mg/dL (steady glucose {g:.1f} mg/dL"
                f" with {self.insulin_mU_per_kg_per_min:g} mU/kg/min insulin); the glucose "
                "infusion cannot be negative, so targets above the clamped level without "
                "infusion, or far below basal, are impossible")
        egp = float(res[V.EGP_obs][win].mean())
        egp0 = basal[V.EGP_obs]
        return {
            "G_clamp": (g, "mg_per_dL"),
            "I_clamp": (float(res[V.I][win].mean()), "pmol_per_L"),
            "GIR": (float(res[V.GIR][win].mean()), "mg_per_kg_per_min"),
            "EGP_basal": (egp0, "mg_per_kg_per_min"),
            "EGP_clamp": (egp, "mg_per_kg_per_min"),
            "EGP_suppression": (100.0 * (1.0 - egp / egp0) if egp0 > 0 else float("nan"), "percent"),
            "Rd_clamp": (float(res[V.Rd_obs][win].mean()), "mg_per_kg_per_min"),
        }
