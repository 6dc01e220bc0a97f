"""Examination windows: an examination read from a side run instead of the person's own run.

An arm that gives a regimen as its average effect (:mod:`ranklsim.cohort.antibody_exposure`) still has to
read each examination where trials sample (e.g. the trough before an injection).  A window replays the
last weeks before the examination with the explicit regimen in a separate run of the same model: it
starts from the person's full state at ``start`` (an output of the person's run), sets ``states`` (the
drug's states), runs with the parameter values in force in the person's run at ``start`` plus
``parameters``, applies ``events`` (doses inside the window) and the person's own events inside the
window (those that do not touch the window's states and parameters), and reports the examination at ``exam``.
The person's run continues on the average: the slow layers see the average, the examination the
explicit regimen, and the run is not restarted for the window (each restart of CVODE costs ~100 steps).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ranklsim.simulate.simulator import Event, Model, SimulationError, SimulationResult

#: relative tolerance of the side runs: a side run only reads an examination, and against 1e-6 the
#: reading moves by < 1e-5 relative (fasting glucose, M_hep; reference person, 35-day denosumab window)
#: for ~40 % fewer steps (233 against 376)
WINDOW_RTOL = 1e-5


@dataclass(frozen=True)
class ExamWindow:
    """A side run from ``start`` to ``exam`` (chronic clock, days) that gives the examination's reading."""

    start: float
    exam: float
    states: Mapping[str, float]  #: state values set at ``start``
    parameters: Mapping[str, float]  #: parameter values in force in the window (on top of the run's)
    events: tuple[Event, ...] = ()  #: events inside the window (chronic clock)

    def __post_init__(self) -> None:
        if not self.start <= self.exam:
            raise ValueError(f"an examination window must open before its examination: {self.start} > {self.exam}")
        if any(not self.start <= e.time < self.exam for e in self.events):
            raise ValueError("events of an examination window must lie in [start, exam)")


def merge_windows(*windows: ExamWindow | None) -> ExamWindow | None:
    """One window for several regimens read at the same examination: it opens at the earliest start and
    sets every regimen's states and parameters (None if none has a window)."""
    given = [w for w in windows if w is not None]
    if len(given) <= 1:
        return given[0] if given else None
    if len({w.exam for w in given}) > 1:
        raise ValueError("windows of one examination must end at the same time")
    return ExamWindow(min(w.start for w in given), given[0].exam,
                      {k: v for w in given for k, v in w.states.items()},
                      {k: v for w in given for k, v in w.parameters.items()},
                      tuple(sorted((e for w in given for e in w.events), key=lambda e: e.time)))


def values_at(model: Model, overrides: Mapping[str, float], events: Sequence[Event], t: float) -> dict[str, float]:
    """Parameter values in force at time ``t`` of a run with ``overrides`` and ``events`` (events at ``t``
    included, as a segment starting at ``t`` sees them)."""
    out = dict(overrides)
    for ev in sorted(events, key=lambda e: e.time):
        if ev.time > t:
            break
        if ev.target in model.parameters:
            out[ev.target] = ev.applied(out.get(ev.target, model.parameter_value(ev.target)))
    return out


def read_window(model: Model, window: ExamWindow, state: Mapping[str, float], run_overrides: Mapping[str, float],
                run_events: Sequence[Event], selections: list[str]) -> np.ndarray:
    """The examination row ``[exam, *selections]`` of ``window`` from the person's ``state`` at its start
    (the run's parameter values and events give the values in force there)."""
    values = {**values_at(model, run_overrides, run_events, window.start), **window.parameters}
    initial = {**state, **window.states}
    own = set(window.parameters) | set(window.states)  # the window's settings win over the run's
    inside = [e for e in run_events if window.start < e.time < window.exam and e.target not in own]
    events = [Event(e.time - window.start, e.target, e.value, e.op)
              for e in sorted([*inside, *window.events], key=lambda e: e.time)]
    res: SimulationResult = model.simulate(times=[0.0, window.exam - window.start], overrides=values,
                                           initial=initial, events=events, selections=selections)
    row = res.array[-1].copy()
    row[0] = window.exam
    return row


def rows_at(t: np.ndarray, days: Sequence[float]) -> np.ndarray:
    """Indices of the rows of the sorted output times ``t`` at ``days`` (to round-off)."""
    days = np.asarray(days, dtype=float)
    tol = 1e-9 * max(1.0, float(t[-1]))
    idx = np.clip(np.searchsorted(t, days - tol), 0, len(t) - 1)
    if not np.all(np.abs(t[idx] - days) <= tol):
        raise SimulationError(f"internal error: output times {days.tolist()} not all in the run")
    return idx


def read_windows(model: Model, res: SimulationResult, exam_days: Sequence[float], windows: Sequence[ExamWindow | None],
                 run_overrides: Mapping[str, float], run_events: Sequence[Event], selections: list[str]) -> np.ndarray:
    """The rows of the person's run ``res`` (its selections hold every state) with the examination at
    each ``exam_days`` entry that has a window replaced by the window's reading."""
    array = res.array.copy()
    cols = list(res.columns)
    states = {s: cols.index(s) for s in model.state_ids}
    for window, row in zip(windows, rows_at(array[:, 0], exam_days), strict=True):
        if window is None:
            continue
        at = array[rows_at(array[:, 0], [window.start])[0]]
        state = {s: float(at[j]) for s, j in states.items()}
        array[row] = read_window(model, window, state, run_overrides, run_events, selections)
    return array
