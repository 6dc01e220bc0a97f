"""Validation of the inputs of a simulation, in one place: parameter overrides, initial states,
output selections and protocol events (unknown ids, bad values, values outside the table bounds).

:class:`InputChecks` is a mixin of :class:`~ranklsim.simulate.simulator.Model`; it reads the model's
``parameters``, ``state_ids``, ``ids`` and its RoadRunner's solver tolerance.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ranklsim.errors import unknown_id_error
from ranklsim.models.build import SIGNED_STATES
from ranklsim.models.parameters import Parameter, bounds_error, check_value, out_of_bounds
from ranklsim.simulate.results import Event
from ranklsim.simulate.solver import REAL_TYPES, flush_underflow, roundoff

#: fasting readouts reported by default
DEFAULT_SELECTIONS = ("G", "I", "EGP", "NFkBn", "IKKa", "theta_hep", "L", "O", "gng_index",
                      "irs_avail", "HOMA_IR", "beta", "M_hep", "A_diet")


class InputChecks:
    """The checks of :meth:`Model.simulate`'s inputs (see the module docstring)."""

    # provided by the model
    parameters: dict[str, Parameter]
    state_ids: tuple[str, ...]
    ids: tuple[str, ...]
    time_unit: str
    _known: frozenset[str]
    _table_values: dict[str, float]
    _rr: object

    def check_overrides(self, overrides: Mapping[str, float] | None, *,
                        allow_out_of_bounds: bool = False) -> dict[str, float]:
        """Validated parameter overrides: unknown ids and bad values raise ValueError, values outside
        the table bounds raise :class:`OutOfBoundsError` unless ``allow_out_of_bounds``."""
        out: dict[str, float] = {}
        for key, value in (overrides or {}).items():
            if key not in self.parameters:
                raise unknown_id_error("parameter", key, self.parameters)
            # negative values only for parameters whose table lower bound is negative (shifts, e.g. dG_set)
            out[key] = check_value(key, value, allow_negative=self.parameters[key].lower < 0)
        if not allow_out_of_bounds and (outside := out_of_bounds(self.parameters, out)):
            key, value = next(iter(outside.items()))
            raise bounds_error(self.parameters, key, value)
        return out

    def check_initial(self, initial: Mapping[str, float] | None) -> dict[str, float]:
        """Validated initial states; negatives of non-negative states within solver round-off
        (:func:`~ranklsim.simulate.solver.roundoff`, 1e-9 at the default tolerances) are set to 0, and
        so are underflow remnants of decayed states (:func:`~ranklsim.simulate.solver.flush_underflow`)."""
        out: dict[str, float] = {}
        if not initial:
            return out
        tiny = roundoff(self._rr)
        for key, value in initial.items():
            if key not in self.state_ids:
                raise unknown_id_error("state", key, self.state_ids)
            signed = key in SIGNED_STATES
            if not signed and isinstance(value, REAL_TYPES) and -tiny <= value < 0.0:
                value = 0.0  # solver round-off of a state that is zero in exact arithmetic
            value = flush_underflow(value)
            out[key] = check_value(key, value, allow_negative=signed)
        return out

    def check_selections(self, selections: Iterable[str] | None) -> list[str]:
        sel = list(DEFAULT_SELECTIONS if selections is None else selections)
        for key in sel:
            if key not in self._known:
                raise unknown_id_error("output", key, self._known)
        return sel

    def _check_events(self, events: Iterable[Event], overrides: dict[str, float],
                      allow_out_of_bounds: bool) -> tuple[list[Event], dict[str, float]]:
        """``events`` sorted by time (unknown targets raise ValueError) and the parameter values
        they set outside the table bounds (which raise :class:`OutOfBoundsError` unless allowed)."""
        evs = sorted(events, key=lambda e: e.time)
        if not evs:
            return evs, {}
        values: dict[str, float] = {}  # parameter values set so far by the events
        outside: dict[str, float] = {}
        for ev in evs:
            if ev.target not in self.parameters:
                if ev.target not in self.state_ids:
                    raise unknown_id_error("event target", ev.target, self.ids)
                continue
            value = ev.applied(values.get(ev.target, overrides.get(ev.target, self._table_values[ev.target])))
            values[ev.target] = value
            if value < 0 or out_of_bounds(self.parameters, {ev.target: value}):
                if not allow_out_of_bounds:
                    raise bounds_error(self.parameters, ev.target, value,
                                       f"event at t={ev.time:g} {self.time_unit}:")
                outside.setdefault(ev.target, value)
        return evs, outside
