"""Diet and drug administrations of an arm as simulator events (chronic view, days).

One pure function, :func:`dosing_events`, used by the scenario runner and by the cohort arms alike.
"""

from __future__ import annotations

from collections.abc import Mapping

from ranklsim.models.ids import P, V
from ranklsim.models.parameters import Parameter
from ranklsim.simulate.catalog import DIETS, DRUGS
from ranklsim.simulate.scenario import Arm
from ranklsim.simulate.simulator import Event


def _value(pid: str, parameters: Mapping[str, Parameter], overrides: Mapping[str, float]) -> float:
    return overrides.get(pid, parameters[pid].value)


def dosing_events(arm: Arm, duration_days: float, parameters: Mapping[str, Parameter],
                  overrides: Mapping[str, float]) -> list[Event]:
    """Events of ``arm``'s diet periods and treatments over ``[0, duration_days]``.

    ``parameters`` is the species' parameter table and ``overrides`` the arm's parameter values
    (body weight and central volumes are read from them).  Diet periods set ``diet_fat`` and reset
    it to chow at their end; metformin doses add umol to the gut, antibodies and OPG-Fc add pmol to
    their SC depot or (IV) pM to their central volume.
    """
    evs: list[Event] = []
    for period in arm.diet:
        evs.append(Event(period.start_day, P.diet_fat, DIETS[period.diet].fat_input))
        stop = period.end_day(duration_days)
        if stop < duration_days:
            evs.append(Event(stop, P.diet_fat, DIETS["chow"].fat_input))
    bw = _value(P.BW, parameters, overrides)
    for tr in arm.treatments:
        spec = DRUGS[tr.drug]
        mg = tr.dose_mg(bw)
        if spec.slot == "metformin":
            target, amount = V.Met_gut, mg / spec.mw_g_per_mol * 1e3  # umol
        else:
            pmol = mg * 1e-3 / spec.mw_g_per_mol * 1e12
            depot, central, vc = ((V.Ab_sc, V.Dg, P.ab_Vc) if spec.slot == "antibody"
                                  else (V.Ofc_sc, V.OFc, P.ofc_Vc))
            if tr.route_resolved == "iv":
                target, amount = central, pmol / _value(vc, parameters, overrides)  # pM in the central volume
            else:
                target, amount = depot, pmol
        evs += [Event(day, target, amount, "add") for day in tr.administration_days()]
    return evs
