"""The simulator: one reused RoadRunner per (species, view) and process.

Every call starts from a clean slate (:class:`~ranklsim.simulate.solver.CleanSlate`, bit-identical
to ``resetAll`` at a third of its cost), applies parameter overrides, re-evaluates initial assignments,
applies state overrides, then integrates segment by segment between protocol events.  Results hold
a NumPy array (DataFrame on demand); ``benchmarks/peers.py`` measures the overhead.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from itertools import pairwise
from typing import NamedTuple

import numpy as np

from ranklsim.constants import MINUTES_PER_DAY
from ranklsim.errors import unknown_id_error
from ranklsim.models.build import SIGNED_STATES, build_sbml, check_view, declared_units, nonnegative_ids
from ranklsim.models.parameters import (
    HOLD_BETA_CELL_MASS,
    OutOfBoundsError,
    OutOfBoundsWarning,
    Parameter,
    check_species,
    out_of_bounds,
    parameter_table,
    warn_out_of_bounds,
)
from ranklsim.simulate.reference import Reference, ReferenceCache, ReferenceError
from ranklsim.simulate.results import Event, OutOfDomainError, SimulationError, SimulationResult
from ranklsim.simulate.solver import (
    TOLERANCES,
    CleanSlate,
    StateReader,
    flush_underflow,
    output_times,
    relax,
    roundoff,
    shared_runner,
    silence_sundials_loggers,
    solver_settings,
)
from ranklsim.simulate.validation import DEFAULT_SELECTIONS, InputChecks

#: the public names (``TOLERANCES``, ``relax`` and ``silence_sundials_loggers`` live in :mod:`.solver`)
__all__ = ["DEFAULT_SELECTIONS", "SIGNED_STATES", "TIME_UNIT", "TOLERANCES", "Event", "Model", "OutOfBoundsError",
           "OutOfBoundsWarning", "OutOfDomainError", "SimulationError", "SimulationResult", "load_model", "relax",
           "silence_sundials_loggers"]

#: time unit of the public API per view (the model itself runs in minutes)
TIME_UNIT = {"acute": "min", "chronic": "day"}
_TIME_FACTOR = {"acute": 1.0, "chronic": MINUTES_PER_DAY}


class _Selection(NamedTuple):
    """The columns of a run's output (``time``, then the selected ids) and what the run needs about them."""

    columns_list: list[str]  # for RoadRunner's timeCourseSelections (never mutated)
    columns: tuple[str, ...]
    index: dict[str, int]  # column id -> position
    nonnegative: list[int]  # positions in the selection (without time) of the non-negative quantities
    units: dict[str, str]


#: evenly spaced output grids a model keeps
GRID_CACHE_SIZE = 16
#: solver settings of the second attempt of a failed relaxation (stricter)
RELAX_RETRY = {"rtol": 1e-8, "max_order": 5}


class Model(InputChecks):
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
        self._known = frozenset(self.ids)
        #: states set by initial assignments from the parameters (receptor binding quasi-equilibrium)
        self.assigned_states: frozenset[str] = frozenset(self._rr.getInitialAssignmentIds())
        self.units: dict[str, str] = {k: p.unit for k, p in self.parameters.items()}
        self.units.update(declared_units())
        states, outputs = nonnegative_ids(self.state_ids, self.output_ids)
        #: states and outputs that must be >= 0 (checked after every simulation; docs/model.md Section 15)
        self.nonnegative: frozenset[str] = frozenset(states + outputs)
        self._states = StateReader(self._rr, states)
        self._table_values: dict[str, float] = {k: p.value for k, p in self.parameters.items()}
        self._references = ReferenceCache(self._rr, self._table_values)
        self._slate = CleanSlate(self._rr)
        #: held: each ``rr.integrator`` makes a new proxy, and the shared runner's integrator is never replaced
        self._integrator = self._rr.integrator
        #: held for the same reason (``rr.model`` makes a new proxy; the shared runner is never reloaded)
        self._exe = self._rr.model
        self._tiny = roundoff(self._rr, self._integrator)
        #: per selection: its columns, their positions, its non-negative quantities and units (:meth:`_selection`)
        self._selections: dict[tuple[str, ...], _Selection] = {}
        #: evenly spaced output grids by (t_end, n_points) (:meth:`_grid`)
        self._grids: dict[tuple[float, int], tuple[np.ndarray, np.ndarray]] = {}

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

    # ------------------------------------------------------------------ simulation
    def _prepare(self, overrides: dict[str, float], initial: dict[str, float]) -> None:
        self._prepared = (overrides, initial)  # for a second attempt of a failed relaxation
        rr = self._rr
        self._tiny = roundoff(rr, self._integrator)  # solver round-off at this run's tolerances (read once per run)
        self._slate.restore(rr, overrides)  # table values, overrides, states reset under them
        for key, value in initial.items():  # on the executable model, as in _apply
            self._exe.setValue(key, value)

    def _integrate(self, t0: float, t1: float, times: np.ndarray | list[float], overrides,
                   uniform: bool = False) -> np.ndarray:
        """Rows at ``times`` (model minutes, ``times[0]`` the current time); ``uniform``: evenly spaced
        (passed to roadrunner as start, end and count, which gives the same times as ``np.linspace``)."""
        rr = self._rr
        try:
            if uniform:
                return np.asarray(rr.simulate(float(times[0]), float(times[-1]), len(times)))
            return np.asarray(rr.simulate(times=times if isinstance(times, list) else times.tolist()))
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
        allow_out_of_bounds: bool = False,
    ) -> SimulationResult:
        """Simulate from the reference state (plus overrides) and return a time course.

        Give either ``t_end`` (with ``n_points`` evenly spaced outputs from 0) or explicit
        output ``times`` (view time unit).  ``overrides`` set parameters by id, ``initial``
        sets states at t = 0, ``events`` change parameters/states during the run, and
        ``equilibrate`` first relaxes the model to its steady state under the overrides.

        Parameter values (overrides and event values) outside the table bounds raise
        :class:`OutOfBoundsError` unless ``allow_out_of_bounds`` (then the result's
        ``out_of_bounds`` names them and an :class:`OutOfBoundsWarning` is issued).  A quantity of
        :attr:`nonnegative` that goes negative raises :class:`OutOfDomainError`.
        """
        ov = self.check_overrides(overrides, allow_out_of_bounds=allow_out_of_bounds)
        ini = self.check_initial(initial)
        sel = self.check_selections(selections)
        evs, outside = self._check_events(events, ov, allow_out_of_bounds)
        outside = {**out_of_bounds(self.parameters, ov), **outside}
        out_t, t_model = self._grid(t_end, times, n_points)
        warn_out_of_bounds(f"{self.species}/{self.view}", outside)
        ref = self.reference(ov)
        self._prepare(*ref.apply(ov, ini))
        if equilibrate:
            self._relax(ov)
        picked = self._selection(sel)
        if self._rr.timeCourseSelections != picked.columns_list:  # reading costs 1 us, setting 30 us
            self._rr.timeCourseSelections = picked.columns_list
        f = _TIME_FACTOR[self.view]
        if times is None or len(out_t) < 2 or np.all(np.diff(out_t) > 0):
            rows = self._run_segments(t_model, evs, sel, ov, uniform=times is None)
        else:  # repeated output times: integrate to each once, report it as often as asked
            distinct, repeat = np.unique(t_model, return_inverse=True)
            rows = self._run_segments(distinct, evs, sel, ov)[repeat]
        if len(rows) != len(out_t) or not abs(rows[-1, 0] - t_model[-1]) <= 1e-9 * (f + abs(t_model[-1])):
            raise SimulationError(f"internal error: expected {len(out_t)} output times to t={t_model[-1]:g}, got "
                                  f"{len(rows)} to t={rows[-1, 0]:g}")
        self._check_rows(rows, sel, ov, picked.nonnegative)
        rows[:, 0] = out_t  # the requested times, in the view's unit
        return SimulationResult._of_run(rows, picked.columns, picked.index, dict(picked.units), self.time_unit,
                                        self.species, self.view, ov, outside, dict(ref.derived))

    def _grid(self, t_end: float | None, times: Sequence[float] | None, n_points: int) -> tuple[np.ndarray, np.ndarray]:
        """The output times in the view's unit and in model minutes; evenly spaced grids are kept
        (read-only, the last :data:`GRID_CACHE_SIZE`), as inner loops repeat the same ``t_end`` and ``n_points``."""
        key = (t_end, n_points) if times is None and type(t_end) in (int, float) and type(n_points) is int else None
        if key is not None and (hit := self._grids.get(key)) is not None:
            return hit
        out_t = output_times(t_end, times, n_points)
        t_model = out_t * _TIME_FACTOR[self.view]
        if key is not None:
            out_t.flags.writeable = t_model.flags.writeable = False
            self._grids[key] = (out_t, t_model)
            if len(self._grids) > GRID_CACHE_SIZE:
                del self._grids[next(iter(self._grids))]
        return out_t, t_model

    def reference(self, overrides: Mapping[str, float]) -> Reference:
        """The reference person of validated ``overrides``: derived normalisers and reference state
        recomputed if a model constant changed (:mod:`ranklsim.simulate.reference`)."""
        try:
            return self._references.for_overrides(overrides)
        except ReferenceError as exc:
            raise SimulationError(f"{self.species}/{self.view} {exc}") from exc

    # ------------------------------------------------------------------ validity domain
    def _domain_error(self, key: str, value: float, t_model: float, overrides: dict[str, float]) -> OutOfDomainError:
        return OutOfDomainError(
            f"{self.species}/{self.view} {key} = {value:.6g} {self.units.get(key, '')} at t="
            f"{t_model / _TIME_FACTOR[self.view]:g} {self.time_unit}: it must be >= 0, so the run left the "
            f"model's valid domain (docs/model.md Section 15); parameters changed: {overrides or 'none'}")

    def _check_state(self, overrides: dict[str, float], restart: bool = False) -> None:
        """Raise :class:`OutOfDomainError` if a non-negative state is negative beyond round-off now.
        ``restart``: an integration starts from here, so set remnants (magnitude below
        :data:`~ranklsim.simulate.solver.UNDERFLOW`) to 0 (one read of the states serves both)."""
        values = self._states.values(self._exe)
        if not values.min() >= -self._tiny:  # also catches NaN
            i = int(np.argmin(np.nan_to_num(values, nan=-np.inf)))
            raise self._domain_error(self._states.ids[i], float(values[i]), self._exe.getTime(), overrides)
        if restart:
            self._states.flush(self._rr, values)

    def _check_rows(self, rows: np.ndarray, sel: list[str], overrides: dict[str, float],
                    cols: list[int] | None = None) -> None:
        """Raise :class:`OutOfDomainError` if a selected non-negative quantity is negative beyond
        round-off (``rows``: model time, then the ``sel`` columns; ``cols``: the positions in ``sel`` of
        its non-negative quantities, if the caller has them)."""
        cols = self._selection(sel).nonnegative if cols is None else cols
        if not cols:
            return
        values = rows[:, 1:] if len(cols) == len(sel) else rows[:, [j + 1 for j in cols]]
        tiny = self._tiny
        if values.min() >= -tiny:
            return
        bad_rows, bad_cols = np.nonzero(~(values >= -tiny))
        r, c = bad_rows[0], bad_cols[0]  # the first time
        raise self._domain_error(sel[cols[c]], float(values[r, c]), float(rows[r, 0]), overrides)

    def _selection(self, sel: list[str]) -> _Selection:
        """What a run with output ids ``sel`` needs about them (cached per selection)."""
        key = tuple(sel)
        if key not in self._selections:
            columns = ("time", *sel)
            self._selections[key] = _Selection(
                list(columns), columns, {k: j for j, k in enumerate(columns)},
                [j for j, k in enumerate(sel) if k in self.nonnegative],
                {k: self.units.get(k, "dimensionless") for k in sel})
        return self._selections[key]

    def _run_segments(self, t_model: np.ndarray, evs: list[Event], sel: list[str],
                      overrides: dict[str, float], uniform: bool = False) -> np.ndarray:
        """Rows ``[time, *sel]`` at the output times ``t_model`` (model minutes), integrating
        segment by segment between the event times.

        An event at a segment start is applied before the segment; a segment's end time is
        reported by the next segment (after its events), the last one by the last segment.
        ``t_model`` is sorted and its times distinct; ``uniform``: evenly spaced from 0 (used when
        there is one segment).
        """
        f = _TIME_FACTOR[self.view]
        pending = [e for e in evs if e.time * f <= t_model[-1]]
        if len(t_model) > 1 and t_model[0] == 0.0 and all(e.time <= 0.0 for e in pending):
            return self._one_segment(t_model, pending, overrides, uniform)
        bounds = [0.0, *(e.time * f for e in pending), float(t_model[-1])]
        grid = t_model.tolist()  # bisected per segment (cheaper than np.searchsorted on a few values)
        pieces = []
        for t0, t1 in pairwise(bounds):
            while pending and pending[0].time * f <= t0:
                self._apply(pending.pop(0))
            if t1 > t0:  # each segment starts remnant-free: the state check at the end of the last one
                pieces.append(self._segment(grid, t0, t1, t1 == bounds[-1], overrides))
        for ev in pending:  # events at the final time
            self._apply(ev)
        if not pieces:  # a single output time: report the state there
            return np.array([[t_model[-1], *(self._rr[k] for k in sel)]])
        return np.concatenate(pieces)

    def _one_segment(self, t_model: np.ndarray, events: list[Event], overrides: dict[str, float],
                     uniform: bool) -> np.ndarray:
        """Rows at ``t_model`` (from 0) of one integration after ``events`` (all at t <= 0: doses, test
        meals); events after the last output time are not applied, as in the segment loop."""
        for ev in events:
            self._apply(ev)
        rows = self._integrate(0.0, t_model[-1], t_model, overrides, uniform=uniform)
        self._check_state(overrides)
        return rows

    def _segment(self, grid: list[float], t0: float, t1: float, last: bool,
                 overrides: dict[str, float]) -> np.ndarray:
        """Rows of the output times in [t0, t1) (and t1 if ``last``) from one integration t0 -> t1; t0
        is reported here (after the events at t0), t1 by the next segment unless this is the last.
        ``grid``: the sorted, distinct output times (model minutes)."""
        lo, hi = bisect_right(grid, t0), bisect_left(grid, t1)
        seg_t = [t0, *grid[lo:hi], t1]
        rows = self._integrate(t0, t1, seg_t, overrides)
        self._check_state(overrides, restart=not last)
        first = 0 if lo > 0 and grid[lo - 1] == t0 else 1
        return rows[first:len(seg_t) if last else len(seg_t) - 1]

    def _apply(self, ev: Event) -> None:
        """Apply ``ev`` to the RoadRunner now (:meth:`Event.applied`'s rule, inlined so that a ``set``
        never reads its target: this runs between segments on every call with events).  Read and
        written on the executable model: ``rr[id]`` parses the id on every call (8 us after an
        integration against 1 us); the next segment's ``simulate`` restarts the integrator from here."""
        exe = self._exe
        exe.setValue(ev.target, flush_underflow(ev.value if ev.op == "set" else exe.getValue(ev.target) + ev.value))

    def _relax(self, overrides: dict[str, float]) -> None:
        """Relax to steady state; if CVODE fails (corrector failures near rest in the stiff NF-kB
        modes), start again once from the prepared state with :data:`RELAX_RETRY` settings."""
        try:
            try:
                relax(self._rr)
            except RuntimeError:
                self._prepare(*self._prepared)
                rtol = min(self._rr.integrator.relative_tolerance, RELAX_RETRY["rtol"])
                with solver_settings(self._rr, rtol=rtol, max_order=RELAX_RETRY["max_order"], quiet=True):
                    relax(self._rr)
        except RuntimeError as exc:
            raise SimulationError(
                f"{self.species}/{self.view} relaxation to steady state failed; parameters changed: "
                f"{overrides or 'none'}; solver said: {str(exc).splitlines()[0]}") from exc
        self._check_state(overrides, restart=True)  # a run starts from the relaxed state

    def steady_state(self, overrides: Mapping[str, float] | None = None,
                     selections: Iterable[str] | None = None, *,
                     hold_beta_cell_mass: bool = True, allow_out_of_bounds: bool = False) -> dict[str, float]:
        """Steady-state values of ``selections`` under ``overrides``.

        By default beta-cell mass is held at its reference value: Topp's beta-cell dynamics
        return fasting glucose to its set point over years (integral control), so the
        steady state of interest for interventions is the one at fixed beta-cell mass.
        Bounds and the validity domain are checked as in :meth:`simulate`.
        """
        ov = self.check_overrides(overrides, allow_out_of_bounds=allow_out_of_bounds)
        sel = self.check_selections(selections)
        held = HOLD_BETA_CELL_MASS if hold_beta_cell_mass else {}
        warn_out_of_bounds(f"{self.species}/{self.view}", out_of_bounds(self.parameters, ov))
        self._prepare(*self.reference(ov).apply({**ov, **held}, {}))
        self._relax(ov)
        values = {k: float(self._rr[k]) for k in sel}
        self._check_rows(np.array([[0.0, *values.values()]]), list(values), ov)
        return values

    @contextmanager
    def solver_settings(self, *, rtol: float | None = None, atol: float | None = None,
                        max_steps: int | None = None, max_order: int | None = None,
                        quiet: bool = False) -> Iterator[None]:
        """Temporarily change this model's CVODE settings (restored on exit, also after an error).

        ``rtol``/``atol``: relative/absolute tolerance; ``max_steps``: internal steps allowed per
        output interval; ``max_order``: maximum BDF order (1-5); ``quiet``: no solver log lines
        (for fail-fast attempts whose failure is expected and handled).  ``None`` keeps a setting.
        """
        with solver_settings(self._rr, rtol=rtol, atol=atol, max_steps=max_steps, max_order=max_order,
                             quiet=quiet):
            yield

    def parameter_value(self, pid: str) -> float:
        if pid not in self.parameters:
            raise unknown_id_error("parameter", pid, self.parameters)
        return self.parameters[pid].value


def load_model(species: str = "human", view: str = "acute") -> Model:
    """Build (or reuse from this process's cache) the composite model."""
    return Model(species, view)
