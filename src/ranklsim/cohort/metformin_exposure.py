"""Metformin regimens as their average steady-state effect, for cohort arms (the approximation is
described in :mod:`ranklsim.cohort.arms`): mean effects over a dosing interval at steady state, the
effect-site concentration that gives a mean effect, and the steady-state pre-dose effect site."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

from ranklsim.constants import DAYS_PER_YEAR
from ranklsim.models.ids import P, V
from ranklsim.simulate import load_model
from ranklsim.simulate.catalog import DRUGS
from ranklsim.simulate.dosing import dosing_events
from ranklsim.simulate.scenario import Arm, Treatment
from ranklsim.simulate.scenario_parts import METFORMIN_SLOT
from ranklsim.simulate.simulator import Event, Model

#: tolerance on event and dose times, days
EPS = 1e-9
#: days of explicit metformin dosing before each examination (PK steady state: plasma half-life
#: ~4.3 h, so 2 days = 11 half-lives)
EXAM_WINDOW_DAYS = 2.0
#: metformin states, cleared after each examination window
MET_STATES = (V.Met_gut, V.Met_int, V.C_met, V.C_met_liv, V.C_met_eff)


@cache
def chronic_model() -> Model:
    """The human chronic model (one per process)."""
    return load_model("human", "chronic")


def scenario_events(model: Model, arm: Arm, duration_days: float, overrides: Mapping[str, float]) -> list[Event]:
    """Dosing and diet events of ``arm`` (days from its start), as the scenario runner builds them."""
    return dosing_events(arm, float(duration_days), model.parameters, dict(overrides))


@cache
def _steady_interval(dose_mg: float, interval_days: float, body_weight_kg: float | None, steady_days: float,
                     points: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Grid and ``E_met_egp``, ``E_met_rankl``, ``C_met_eff`` over the last dosing interval (effects on)
    of explicit doses every ``interval_days`` for ``steady_days`` (human chronic model)."""
    model = chronic_model()
    tr = Treatment(drug="metformin", dose=dose_mg, unit="mg", every_days=interval_days,
                   n_doses=round(steady_days / interval_days) + 1)
    ov = {} if body_weight_kg is None else {P.BW: body_weight_kg}
    evs = scenario_events(model, Arm(name="pk", treatments=(tr,)), tr.last_day + interval_days, ov)
    t1 = tr.last_day
    grid = np.linspace(t1 - interval_days, t1, points)
    sel = [V.E_met_egp, V.E_met_rankl, V.C_met_eff]
    res = model.simulate(times=[0.0, *grid], overrides={**ov, P.met_egp_on: 1.0, P.met_rankl_on: 1.0},
                         events=[e for e in evs if e.time < t1 - EPS], selections=sel)
    return grid, {k: res.frame[k].to_numpy()[1:] for k in sel}


def metformin_mean_effects(dose_mg: float, interval_days: float, body_weight_kg: float | None = None,
                           steady_days: float = 8.0, points: int = 721) -> tuple[float, float]:
    """Mean ``(E_met_egp, E_met_rankl)`` over one dosing interval at steady state (effects on).

    From the human chronic model's metformin PK with explicit doses every ``interval_days`` for
    ``steady_days`` (trapezoid mean over the interval before the next dose; the effect site has a
    half-life of ~16 h, so 8 days is ~12 half-lives).
    """
    grid, f = _steady_interval(dose_mg, interval_days, body_weight_kg, steady_days, points)
    span = grid[-1] - grid[0]
    return (float(np.trapezoid(f[V.E_met_egp], grid) / span), float(np.trapezoid(f[V.E_met_rankl], grid) / span))


def effect_site_for(effect: float, model: Model | None = None) -> float:
    """Effect-site concentration ``C_met_eff`` (uM) at which ``E_met_egp`` equals ``effect`` (the
    inverse of the model's Hill law with the table's ``met_Emax_egp``, ``met_EC50_egp``, ``met_n_egp``)."""
    model = model or chronic_model()
    emax, ec50, n = (model.parameter_value(k) for k in (P.met_Emax_egp, P.met_EC50_egp, P.met_n_egp))
    if not 0.0 <= effect < emax:
        raise ValueError(f"a mean EGP effect of {effect} is outside [0, met_Emax_egp = {emax})")
    return ec50 * (effect / (emax - effect)) ** (1.0 / n) if effect > 0.0 else 0.0


def metformin_effect_site_trough(dose_mg: float, interval_days: float, body_weight_kg: float | None = None,
                                 steady_days: float = 8.0, points: int = 721) -> float:
    """Steady-state effect-site concentration ``C_met_eff`` (uM) just before a dose."""
    return float(_steady_interval(dose_mg, interval_days, body_weight_kg, steady_days, points)[1][V.C_met_eff][-1])


@dataclass(frozen=True)
class MetforminExposure:
    """A metformin regimen given as its average steady-state effect (module docstring)."""

    treatment: Treatment
    egp_effect: float  #: mean E_met_egp (0 with the EGP effect off)
    rankl_effect: float  #: mean E_met_rankl (0 with the RANKL effect off)
    effect_site_trough: float = 0.0  #: steady-state pre-dose C_met_eff (uM), set at each exam window

    @classmethod
    def of(cls, tr: Treatment, body_weight_kg: float | None = None) -> MetforminExposure:
        if DRUGS[tr.drug].slot != METFORMIN_SLOT:
            raise ValueError(f"{tr.drug} is not metformin")
        if tr.interval_days is None:
            raise ValueError("a cohort metformin arm needs a repeated regimen (regimen or every_days), "
                             "not a single dose")
        bw = None if body_weight_kg is None else float(body_weight_kg)
        dose = tr.dose_mg(bw if bw is not None else chronic_model().parameter_value(P.BW))
        egp, rankl = metformin_mean_effects(float(dose), float(tr.interval_days), bw)
        trough = metformin_effect_site_trough(float(dose), float(tr.interval_days), bw)
        return cls(tr, egp if "egp" in tr.effects else 0.0, rankl if "rankl" in tr.effects else 0.0, trough)

    def to_dict(self) -> dict:
        return {"treatment": self.treatment.model_dump(mode="json"), "mean_E_met_egp": self.egp_effect,
                "mean_E_met_rankl": self.rankl_effect}

    def events(self, model: Model, offset: float, end: float, exam_years: Sequence[float],
               values: Mapping[str, float], exam_window: bool = True) -> list[Event]:
        """Events (chronic clock: ``offset`` is baseline) of the average effect from the treatment start
        and, with ``exam_window``, of the explicit doses before each examination (``exam_years``)
        up to ``end`` (days from baseline); ``values``: the person's and the arm's parameter values."""
        tr = self.treatment
        base = {k: float(values.get(k, model.parameter_value(k))) for k in (P.met_ke0, P.rankl_expr)}
        # the effect site held at the mean effect (met_ke0 = 0), the RANKL effect through rankl_expr
        average = {P.met_ke0: 0.0, V.C_met_eff: effect_site_for(self.egp_effect, model),
                   P.rankl_expr: base[P.rankl_expr] * (1.0 - self.rankl_effect)}
        start, step = tr.start_day, tr.interval_days
        if start >= end - EPS:
            return []
        evs = [Event(offset + start, k, v) for k, v in average.items()]
        for y in (exam_years if exam_window else ()):
            exam = float(y) * DAYS_PER_YEAR
            first = exam - EXAM_WINDOW_DAYS
            if exam <= start + EPS or exam > end + EPS:
                continue
            k0 = max(0, math.ceil((first - start) / step - EPS))  # regimen doses within the window
            k1 = math.floor((exam - start) / step - EPS)  # the last dose strictly before the exam
            if k1 < k0:
                continue
            window = tr.model_copy(update={"start_day": start + k0 * step, "n_doses": k1 - k0 + 1})
            t0 = offset + window.start_day
            evs += [Event(t0, k, v) for k, v in base.items()]  # explicit PK effects, not the average
            evs.append(Event(t0, V.C_met_eff, self.effect_site_trough))  # the effect site at steady state
            evs += [Event(offset + e.time, e.target, e.value, e.op)
                    for e in scenario_events(model, Arm(name="w", treatments=(window,)), end, values)]
            evs += [Event(offset + exam, s, 0.0) for s in MET_STATES]  # after the exam reading
            evs += [Event(offset + exam, k, v) for k, v in average.items()]
        return evs
