"""The simulator: one reused RoadRunner per (species, view) and process.

Every call starts from a clean slate (``resetAll``), applies the caller's parameter
overrides explicitly, re-evaluates initial assignments (``reset``), applies state
overrides, then integrates segment by segment between protocol events.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Literal

import numpy as np
import pandas as pd

from ranklsim.constants import MINUTES_PER_DAY, RELAX_DAYS
from ranklsim.errors import unknown_id_error
from ranklsim.models.build import build_sbml, check_view, declared_units
from ranklsim.models.parameters import (
    HOLD_BETA_CELL_MASS,
    Parameter,
    check_species,
    check_value,
    parameter_table,
)
from ranklsim.simulate.solver import TOLERANCES, shared_runner, silence_sundials_loggers

#: the public names (``TOLERANCES`` and ``silence_sundials_loggers`` live in :mod:`.solver`)
__all__ = ["DEFAULT_SELECTIONS", "SIGNED_STATES", "TIME_UNIT", "TOLERANCES", "Event", "Model",
           "SimulationError", "SimulationResult", "load_model", "relax", "silence_sundials_loggers"]

#: time unit of the public API per view (the model itself runs in minutes)
TIME_UNIT = {"acute": "min", "chronic": "day"}
_TIME_FACTOR = {"acute": 1.0, "chronic": MINUTES_PER_DAY}
#: fasting readouts reported by default
DEFAULT_SELECTIONS = ("G", "I", "EGP", "NFkBn", "IKKa", "theta_hep", "L", "O", "gng_index",
                      "irs_avail", "HOMA_IR", "beta", "M_hep", "A_diet")


#: states that are signed deviations from basal by definition (Dalla Man 2007: remote insulin
#: action X = I - Ib filtered, secretion above basal Y); every other state is non-negative
SIGNED_STATES = frozenset({"X", "Y"})
#: negative values of non-negative states above -ROUNDOFF are solver round-off, read as 0
ROUNDOFF = 1e-12


class SimulationError(RuntimeError):
    """The ODE solver failed; the message names the time reached and the overrides."""


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


def relax(rr, horizon_days: float = RELAX_DAYS) -> None:
    """Integrate RoadRunner ``rr`` towards its steady state under its current settings, keeping no
    output, then set its clock back to 0.  The one steady-state relaxation of the package.

    Integration rather than a Newton solve: the secretion and EGP terms have max() kinks.  Daily
    output points keep CVODE's steps moderate, so that a kink never meets one huge step.
    """
    horizon = horizon_days * MINUTES_PER_DAY
    rr.timeCourseSelections = ["time"]
    rr.simulate(times=list(np.linspace(0.0, horizon, int(horizon_days) + 1)))
    rr.model.setTime(0.0)


class Model:
    """The composite model for one species and view, with a reused RoadRunner.

    Use :func:`ranklsim.load_model` to get one.
    """

    def __init__(self, species: str = "human", view: str = "acute") -> None:
        self.species = check_species(species)
        self.view = check_view(view)
        self._rr = shared_runner(species, view)
        self.parameters: dict[str, Parameter] = parameter_table(species)
        self.state_ids: tuple[str, ...] = tuple(self._rr.getRateRuleIds())
        self.output_ids: tuple[str, ...] = tuple(self._rr.getAssignmentRuleIds())
        self.units: dict[str, str] = {k: p.unit for k, p in self.parameters.items()}
        self.units.update(declared_units())

    # ------------------------------------------------------------------ properties
    @property
    def sbml(self) -> str:
        """SBML Level 3 text of this model."""
        return build_sbml(self.species)

    @property
    def time_unit(self) -> str:
        return TIME_UNIT[self.view]

    @property
    def ids(self) -> tuple[str, ...]:
        """Every id that can be selected in an output."""
        return self.state_ids + self.output_ids + tuple(self.parameters)

    def __repr__(self) -> str:
        return (f"Model(species={self.species!r}, view={self.view!r}, "
                f"{len(self.state_ids)} states, {len(self.parameters)} parameters)")

    # ------------------------------------------------------------------ validation
    def check_overrides(self, overrides: Mapping[str, float] | None) -> dict[str, float]:
        """Validated parameter overrides (unknown ids and bad values raise ValueError)."""
        out: dict[str, float] = {}
        for key, value in (overrides or {}).items():
            if key not in self.parameters:
                raise unknown_id_error("parameter", key, self.parameters)
            out[key] = check_value(key, value)
        return out

    def check_initial(self, initial: Mapping[str, float] | None) -> dict[str, float]:
        out: dict[str, float] = {}
        for key, value in (initial or {}).items():
            if key not in self.state_ids:
                raise unknown_id_error("state", key, self.state_ids)
            if key not in SIGNED_STATES and -ROUNDOFF < value < 0.0:
                value = 0.0  # solver round-off of a state that is zero in exact arithmetic
            out[key] = check_value(key, value, allow_negative=key in SIGNED_STATES)
        return out

    def check_selections(self, selections: Iterable[str] | None) -> list[str]:
        sel = list(DEFAULT_SELECTIONS if selections is None else selections)
        known = set(self.ids)
        for key in sel:
            if key not in known:
                raise unknown_id_error("output", key, known)
        return sel

    def _check_event(self, ev: Event) -> None:
        if ev.target not in self.parameters and ev.target not in self.state_ids:
            raise unknown_id_error("event target", ev.target, self.ids)

    # ------------------------------------------------------------------ simulation
    def _prepare(self, overrides: dict[str, float], initial: dict[str, float]) -> None:
        rr = self._rr
        rr.resetAll()
        for key, value in overrides.items():
            rr[key] = value
        rr.reset()  # re-evaluates initial assignments with the overridden parameters
        for key, value in initial.items():
            rr[key] = value

    def _integrate(self, t0: float, t1: float, times: np.ndarray, overrides) -> np.ndarray:
        rr = self._rr
        try:
            return np.asarray(rr.simulate(times=list(times)))
        except RuntimeError as exc:
            reached = rr.model.getTime() / _TIME_FACTOR[self.view]
            raise SimulationError(
                f"{self.species}/{self.view} solver failed between t={t0 / _TIME_FACTOR[self.view]:g} "
                f"and {t1 / _TIME_FACTOR[self.view]:g} {self.time_unit}; time reached "
                f"{reached:g} {self.time_unit}; parameters changed: {overrides or 'none'}; "
                f"solver said: {str(exc).splitlines()[0]}"
            ) from exc

    def simulate(
        self,
        t_end: float | None = None,
        *,
        times: Sequence[float] | None = None,
        n_points: int = 201,
        selections: Iterable[str] | None = None,
        overrides: Mapping[str, float] | None = None,
        initial: Mapping[str, float] | None = None,
        events: Iterable[Event] = (),
        equilibrate: bool = False,
    ) -> SimulationResult:
        """Simulate from the reference state (plus overrides) and return a time course.

        Give either ``t_end`` (with ``n_points`` evenly spaced outputs from 0) or explicit
        output ``times`` (view time unit).  ``overrides`` set parameters by id, ``initial``
        sets states at t = 0, ``events`` change parameters/states during the run, and
        ``equilibrate`` first relaxes the model to its steady state under the overrides.
        """
        ov = self.check_overrides(overrides)
        ini = self.check_initial(initial)
        sel = self.check_selections(selections)
        evs = self._check_events(events)
        out_t = _output_times(t_end, times, n_points)
        self._prepare(ov, ini)
        if equilibrate:
            self._relax(ov)
        self._rr.timeCourseSelections = ["time", *sel]
        f = _TIME_FACTOR[self.view]
        frame = pd.DataFrame(self._run_segments(out_t * f, evs, sel, ov), columns=["time", *sel])
        frame["time"] = frame["time"] / f
        if len(frame) != len(out_t) or not np.allclose(frame["time"].to_numpy(), out_t, rtol=1e-9, atol=1e-9):
            raise SimulationError(
                f"internal error: expected {len(out_t)} output times, got {len(frame)}")
        units = {k: self.units.get(k, "dimensionless") for k in sel}
        return SimulationResult(frame, units, self.time_unit, self.species, self.view, ov)

    def _check_events(self, events: Iterable[Event]) -> list[Event]:
        """``events`` sorted by time; unknown targets raise ValueError."""
        evs = sorted(events, key=lambda e: e.time)
        for ev in evs:
            self._check_event(ev)
        return evs

    def _run_segments(self, t_model: np.ndarray, evs: list[Event], sel: list[str],
                      overrides: dict[str, float]) -> np.ndarray:
        """Rows ``[time, *sel]`` at the output times ``t_model`` (model minutes), integrating
        segment by segment between the event times.

        An event at a segment start is applied before the segment; a segment's end time is
        reported by the next segment (after its events), the last one by the last segment.
        """
        f = _TIME_FACTOR[self.view]
        in_range = [e for e in evs if e.time * f <= t_model[-1]]
        bounds = [0.0, *(e.time * f for e in in_range), t_model[-1]]
        pieces = []
        pending = list(in_range)
        for t0, t1 in pairwise(bounds):
            while pending and pending[0].time * f <= t0:
                self._apply(pending.pop(0))
            if t1 <= t0:
                continue
            seg_t = np.unique(np.concatenate([[t0], t_model[(t_model > t0) & (t_model < t1)], [t1]]))
            rows = self._integrate(t0, t1, seg_t, overrides)
            keep = np.isin(seg_t, t_model) & ((seg_t < t1) | (t1 == bounds[-1]))
            pieces.append(rows[keep])
        for ev in pending:  # events at the final time
            self._apply(ev)
        if not pieces:  # a single output time: report the state there
            return np.array([[t_model[-1], *(self._rr[k] for k in sel)]])
        return np.vstack(pieces)

    def _apply(self, ev: Event) -> None:
        rr = self._rr
        rr[ev.target] = ev.value if ev.op == "set" else rr[ev.target] + ev.value

    def _relax(self, overrides: dict[str, float]) -> None:
        try:
            relax(self._rr)
        except RuntimeError as exc:
            raise SimulationError(
                f"{self.species}/{self.view} relaxation to steady state failed; parameters changed: "
                f"{overrides or 'none'}; solver said: {str(exc).splitlines()[0]}") from exc

    def steady_state(self, overrides: Mapping[str, float] | None = None,
                     selections: Iterable[str] | None = None, *,
                     hold_beta_cell_mass: bool = True) -> dict[str, float]:
        """Steady-state values of ``selections`` under ``overrides``.

        By default beta-cell mass is held at its reference value: Topp's beta-cell dynamics
        return fasting glucose to its set point over years (integral control), so the
        steady state of interest for interventions is the one at fixed beta-cell mass.
        """
        ov = self.check_overrides(overrides)
        sel = self.check_selections(selections)
        held = HOLD_BETA_CELL_MASS if hold_beta_cell_mass else {}
        self._prepare({**ov, **held}, {})
        self._relax(ov)
        return {k: float(self._rr[k]) for k in sel}

    @contextmanager
    def solver_settings(self, *, rtol: float | None = None, atol: float | None = None,
                        max_steps: int | None = None, max_order: int | None = None,
                        quiet: bool = False) -> Iterator[None]:
        """Temporarily change this model's CVODE settings (restored on exit, also after an error).

        ``rtol``/``atol``: relative/absolute tolerance; ``max_steps``: internal steps allowed per
        output interval; ``max_order``: maximum BDF order (1-5); ``quiet``: no solver log lines
        (for fail-fast attempts whose failure is expected and handled).  ``None`` keeps a setting.
        """
        import roadrunner  # lazy: libroadrunner costs ~0.2 s to import

        integ = self._rr.integrator
        old = (integ.relative_tolerance, integ.absolute_tolerance, integ.getValue("maximum_num_steps"),
               integ.getValue("maximum_bdf_order"))
        level = roadrunner.Logger.getLevel()
        try:
            if rtol is not None:
                integ.relative_tolerance = rtol
            if atol is not None:
                integ.absolute_tolerance = atol
            if max_steps is not None:
                integ.setValue("maximum_num_steps", int(max_steps))
            if max_order is not None:
                integ.setValue("maximum_bdf_order", int(max_order))
            if quiet:
                roadrunner.Logger.setLevel(roadrunner.Logger.LOG_FATAL)
            yield
        finally:
            integ.relative_tolerance, integ.absolute_tolerance = old[0], old[1]
            integ.setValue("maximum_num_steps", old[2])
            integ.setValue("maximum_bdf_order", old[3])
            roadrunner.Logger.setLevel(level)

    def parameter_value(self, pid: str) -> float:
        if pid not in self.parameters:
            raise unknown_id_error("parameter", pid, self.parameters)
        return self.parameters[pid].value


def _output_times(t_end: float | None, times: Sequence[float] | None, n_points: int) -> np.ndarray:
    """Sorted output times (view unit): explicit ``times``, or ``n_points`` from 0 to ``t_end``."""
    if times is not None:
        out_t = np.asarray(sorted(float(check_value("time", t)) for t in times))
        if len(out_t) < 1:
            raise ValueError("times must not be empty")
        return out_t
    if t_end is None:
        raise ValueError("give t_end or times")
    check_value("t_end", t_end)
    if t_end <= 0:
        raise ValueError(f"t_end must be > 0, got {t_end!r}")
    if n_points < 2:
        raise ValueError(f"n_points must be >= 2, got {n_points!r}")
    return np.linspace(0.0, float(t_end), int(n_points))


def load_model(species: str = "human", view: str = "acute") -> Model:
    """Build (or reuse from this process's cache) the composite model."""
    return Model(species, view)
