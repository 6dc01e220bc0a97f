"""Metformin regimens as their average steady-state effect, for cohort arms (the approximation is
described in :mod:`ranklsim.cohort.arms`): mean effects over a dosing interval at steady state, the
effect-site concentration that gives a mean effect, and the steady-state pre-dose effect site."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache

import numpy as np

from ranklsim.cohort.exam_window import ExamWindow
from ranklsim.models.ids import P, V
from ranklsim.simulate import load_model
from ranklsim.simulate.catalog import DRUGS
from ranklsim.simulate.dosing import dosing_events
from ranklsim.simulate.scenario import Arm, Treatment
from ranklsim.simulate.scenario_parts import METFORMIN_SLOT
from ranklsim.simulate.simulator import Event, Model

#: tolerance on event and dose times, days
EPS = 1e-9
#: metformin's states (gut, plasma, liver, effect site): set to their steady-state pre-dose values at the
#: start of an examination window
MET_STATES = (V.Met_gut, V.Met_int, V.C_met, V.C_met_liv, V.C_met_eff)


@cache
def chronic_model() -> Model:
    """The human chronic model (one per process)."""
    return load_model("human", "chronic")


def scenario_events(model: Model, arm: Arm, duration_days: float, overrides: Mapping[str, float]) -> list[Event]:
    """Dosing and diet events of ``arm`` (days from its start), as the scenario runner builds them."""
    return dosing_events(arm, float(duration_days), model.parameters, dict(overrides))


def doses_in(model: Model, tr: Treatment, first: float, last: float, values: Mapping[str, float],
             offset: float = 0.0) -> list[Event]:
    """Dose events (clock shifted by ``offset``) of the repeated regimen ``tr`` on days in [first, last)."""
    step = tr.interval_days
    k0 = max(0, math.ceil((first - tr.start_day) / step - EPS))
    k1 = math.floor((last - tr.start_day) / step - EPS)
    if k1 < k0:
        return []
    window = tr.model_copy(update={"start_day": tr.start_day + k0 * step, "n_doses": k1 - k0 + 1})
    return [Event(offset + e.time, e.target, e.value, e.op)
            for e in scenario_events(model, Arm(name="w", treatments=(window,)), last, values)]


@cache
def _steady_interval(dose_mg: float, interval_days: float, body_weight_kg: float | None, steady_days: float,
                     points: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Grid and ``E_met_egp``, ``E_met_rankl`` and the metformin states over the last dosing interval (effects on)
    of explicit doses every ``interval_days`` for ``steady_days`` (human chronic model)."""
    model = chronic_model()
    tr = Treatment(drug="metformin", dose=dose_mg, unit="mg", every_days=interval_days,
                   n_doses=round(steady_days / interval_days) + 1)
    ov = {} if body_weight_kg is None else {P.BW: body_weight_kg}
    evs = scenario_events(model, Arm(name="pk", treatments=(tr,)), tr.last_day + interval_days, ov)
    t1 = tr.last_day
    grid = np.linspace(t1 - interval_days, t1, points)
    sel = [V.E_met_egp, V.E_met_rankl, *MET_STATES]
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


def metformin_trough_states(dose_mg: float, interval_days: float, body_weight_kg: float | None = None,
                            steady_days: float = 8.0, points: int = 721) -> dict[str, float]:
    """Steady-state values of the metformin states just before a dose."""
    f = _steady_interval(dose_mg, interval_days, body_weight_kg, steady_days, points)[1]
    return {s: float(f[s][-1]) for s in MET_STATES}


@dataclass(frozen=True)
class MetforminExposure:
    """A metformin regimen given as its average steady-state effect (module docstring)."""

    treatment: Treatment
    egp_effect: float  #: mean E_met_egp (0 with the EGP effect off)
    rankl_effect: float  #: mean E_met_rankl (0 with the RANKL effect off)
    effect_site_trough: float = 0.0  #: steady-state pre-dose C_met_eff (uM)
    #: steady-state pre-dose values of the metformin states, set at each examination window's start
    trough_states: Mapping[str, float] = field(default_factory=dict)

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
        states = metformin_trough_states(float(dose), float(tr.interval_days), bw)
        return cls(tr, egp if "egp" in tr.effects else 0.0, rankl if "rankl" in tr.effects else 0.0,
                   states[V.C_met_eff], states)

    def to_dict(self) -> dict:
        return {"treatment": self.treatment.model_dump(mode="json"), "mean_E_met_egp": self.egp_effect,
                "mean_E_met_rankl": self.rankl_effect}

    def _values(self, model: Model, values: Mapping[str, float]) -> tuple[dict[str, float], dict[str, float]]:
        """The explicit values of the parameters the average replaces, and the average's values."""
        base = {k: float(values.get(k, model.parameter_value(k))) for k in (P.met_ke0, P.rankl_expr)}
        # the effect site held at the mean effect (met_ke0 = 0), the RANKL effect through rankl_expr
        average = {P.met_ke0: 0.0, V.C_met_eff: effect_site_for(self.egp_effect, model),
                   P.rankl_expr: base[P.rankl_expr] * (1.0 - self.rankl_effect)}
        return base, average

    def events(self, model: Model, offset: float, end: float, values: Mapping[str, float]) -> list[Event]:
        """The average effect from the treatment start (chronic clock: ``offset`` is baseline) to ``end``
        (days from baseline); ``values``: the person's and the arm's parameter values."""
        if self.treatment.start_day >= end - EPS:
            return []
        return [Event(offset + self.treatment.start_day, k, v) for k, v in self._values(model, values)[1].items()]

    def windows(self, model: Model, offset: float, end: float, exam_days: Sequence[float],
                values: Mapping[str, float]) -> list[ExamWindow | None]:
        """One side run per examination at ``exam_days`` (days from baseline): from the regimen's last dose
        strictly before it, explicit, the metformin states at their steady-state pre-dose values (none
        before the first dose), so the examination reads the steady-state trough (None before the start)."""
        tr = self.treatment
        base, _ = self._values(model, values)
        start, step = tr.start_day, tr.interval_days
        out: list[ExamWindow | None] = []
        for exam in (float(d) for d in exam_days):
            if exam <= start + EPS or exam > end + EPS:
                out.append(None)
                continue
            k = math.floor((exam - start) / step - EPS)  # the last dose strictly before the exam
            first = start + k * step
            events = doses_in(model, tr, first, exam, values, offset)
            states = dict(self.trough_states) if k > 0 else {}
            out.append(ExamWindow(offset + first, offset + exam, states, base, tuple(events)))
        return out
