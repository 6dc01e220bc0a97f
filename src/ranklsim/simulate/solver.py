"""The RoadRunner instances behind the simulator: one per (species, view) and process.

A RoadRunner is compiled from the model's SBML once and its compiled state kept on disk
(:func:`cache_dir`), so later processes load it instead of compiling again.  The view sets the
solver tolerances (:data:`TOLERANCES`) and maximum BDF order (:data:`MAX_BDF_ORDER`).  Also here: temporary solver settings, the size of solver
round-off (:func:`roundoff`) and a cheap reader of state values (:class:`StateReader`).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import numpy as np

from ranklsim.constants import MINUTES_PER_DAY, RELAX_DAYS
from ranklsim.models.build import (
    BUILD_REVISION,
    JIT_BACKEND,
    JIT_OPTIMIZATION_LEVEL,
    build_antimony,
    compile_sbml,
    sbml_from_antimony,
)
from ranklsim.models.parameters import check_value

#: solver tolerances (relative, absolute) per view
TOLERANCES = {"acute": (1e-8, 1e-12), "chronic": (1e-7, 1e-12)}
#: CVODE's maximum BDF order per view.  The chronic view is capped at 3: the hepatic NF-kB loop has weakly
#: damped oscillatory eigenvalues close to the imaginary axis, outside BDF-5's A(alpha)-stability sector
#: (51.8 deg; BDF-3's is 86.0 deg), so at order 5 the long steps of a chronic run are *stability*-limited:
#: CVODE chatters around the steady state (relative amplitude ~1e-5 in nuclear NF-kB) and keeps short steps
#: whatever the tolerance.  Measured 2026-12-06 on the mouse hepatocyte Rank-KO steady state (3-year
#: relaxation): 566 ms at order 5, 114 ms at 4, 8 ms at 3, 15 ms at 2, and the order-3 state is the true
#: steady state (nuclear NF-kB 0.07137940 against 0.07137963 with the order-5 chatter).  The cohort's first
#: solver attempt uses the same cap (:data:`ranklsim.cohort.followup.SOLVER_ATTEMPTS`).  CVODE's own remedy,
#: stability-limit detection (AMICI's default), is not exposed by libroadrunner.  The acute view's short
#: steps stay far inside every sector, so it keeps CVODE's default, 5.
MAX_BDF_ORDER = {"acute": 5, "chronic": 3}
#: CVODE's internal steps allowed per output interval
MAX_STEPS = 100000


def cache_dir() -> Path:
    """Where compiled models are kept between processes (``RANKLSIM_CACHE_DIR`` overrides)."""
    env = os.environ.get("RANKLSIM_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "ranklsim"


def _compiled_runner(species: str):
    """A RoadRunner for ``species``, loaded from the on-disk compiled-state cache if present.

    The cache key hashes the full Antimony text (modules, parameter table, initial state),
    the libroadrunner version and the LLVM back end and its optimisation level, so any change to the model invalidates it.
    """
    import roadrunner  # lazy: libroadrunner costs ~0.2 s to import

    text = build_antimony(species)
    key = hashlib.sha256((text + roadrunner.__version__ + BUILD_REVISION + JIT_BACKEND + str(JIT_OPTIMIZATION_LEVEL)).encode()).hexdigest()[:20]
    path = cache_dir() / f"{species}-{key}.rrstate"
    if path.exists():
        try:
            rr = roadrunner.RoadRunner()
            rr.loadStateS(path.read_bytes())
            return rr
        except (RuntimeError, OSError, ValueError):
            pass  # unreadable cache: rebuild below
    rr = compile_sbml(sbml_from_antimony(text, species))  # the SBML of the hashed text
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        blob = rr.saveStateS()
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_bytes(blob if isinstance(blob, bytes) else blob.encode("latin-1"))
        tmp.replace(path)
    except OSError:
        pass  # read-only home: the cache is an optimisation only
    return rr


def silence_sundials_loggers() -> None:
    """Send SUNDIALS' own warning and error logs to the null device (unless the user set
    SUNLOGGER_WARNING_FILENAME / SUNLOGGER_ERROR_FILENAME).  CVODE's "t + h = t" notices at event
    times are harmless; a failure reaches the caller as an exception carrying CVODE's message, and
    a failure roadrunner recovers from itself (e.g. a zero initial state under per-state absolute
    tolerances) is not an error.  Call before a RoadRunner is created."""
    os.environ.setdefault("SUNLOGGER_WARNING_FILENAME", os.devnull)
    os.environ.setdefault("SUNLOGGER_ERROR_FILENAME", os.devnull)


@cache
def shared_runner(species: str, view: str):
    """The RoadRunner of ``species`` with the solver settings of ``view`` (one per process)."""
    import roadrunner  # lazy: libroadrunner costs ~0.2 s to import

    silence_sundials_loggers()
    roadrunner.Logger.setLevel(roadrunner.Logger.LOG_ERROR)
    rr = _compiled_runner(species)
    rel, abs_ = TOLERANCES[view]
    rr.integrator.relative_tolerance = rel
    rr.integrator.absolute_tolerance = abs_
    rr.integrator.setValue("maximum_num_steps", MAX_STEPS)
    rr.integrator.setValue("maximum_bdf_order", MAX_BDF_ORDER[view])
    return rr


@contextmanager
def solver_settings(rr, *, rtol: float | None = None, atol: float | None = None, max_steps: int | None = None,
                    max_order: int | None = None, quiet: bool = False) -> Iterator[None]:
    """Temporarily change the CVODE settings of RoadRunner ``rr`` (see ``Model.solver_settings``)."""
    import roadrunner  # lazy: libroadrunner costs ~0.2 s to import

    integ = rr.integrator
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


def output_times(t_end: float | None, times: Sequence[float] | None, n_points: int) -> np.ndarray:
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
    # np.linspace(0, t_end, n_points), bit for bit (numpy's own arithmetic), at a third of its cost
    n = int(n_points)
    out_t = np.arange(n, dtype=float) * (float(t_end) / (n - 1))
    out_t[-1] = float(t_end)
    return out_t


# ----------------------------------------------------------------------------- round-off and domain

#: magnitude below which a state value is a remnant and is set to 0 where a run starts or restarts: the
#: underflow remnant of a decayed state (a drug long after its last dose, 1e-302 pM: CVODE refuses to
#: start from it, "too much accuracy requested") or the round-off remnant of a state that is zero in
#: exact arithmetic (the IkBa super-repressor states without the LISR genotype leave the reference
#: relaxation at -1.7e-70 and decay ten-fold every ~25 days; after ~15 years, near 1e-300, CVODE's
#: corrector failed to converge in late denosumab intervals whatever the settings).  No quantity of the
#: model is meaningful at this size (1e-30 pM is one molecule in 1.7e9 litres)
UNDERFLOW = 1e-30


#: the number types :func:`flush_underflow` looks at (a tuple: ``isinstance`` on a union costs 3x)
REAL_TYPES = (int, float, np.floating)


def flush_underflow(value):
    """``value``, or 0.0 if its magnitude is below :data:`UNDERFLOW` (non-numbers are returned as they are)."""
    if isinstance(value, REAL_TYPES) and 0.0 < abs(value) < UNDERFLOW:
        return 0.0
    return value


#: negatives of non-negative quantities down to this size are solver round-off whatever the tolerance
ROUNDOFF_FLOOR = 1e-9
#: ... and down to this multiple of the solver's absolute tolerance (CVODE's error control lets a
#: quantity that is zero in exact arithmetic wander by about atol per step)
ROUNDOFF_ATOL_FACTOR = 1e3


def roundoff(rr, integrator=None) -> float:
    """Size below which a negative value of a non-negative quantity is round-off of ``rr``'s solver
    (``max(ROUNDOFF_FLOOR, ROUNDOFF_ATOL_FACTOR * atol)``; 1e-9 at the default tolerances).
    ``integrator``: ``rr.integrator`` if the caller holds it (each ``rr.integrator`` makes a new proxy)."""
    integ = rr.integrator if integrator is None else integrator
    return max(ROUNDOFF_FLOOR, ROUNDOFF_ATOL_FACTOR * float(integ.getValue("absolute_tolerance")))


class CleanSlate:
    """Puts a RoadRunner back to its loaded state (every constant parameter at its table value, every
    state at its initial value with initial assignments re-evaluated, time 0) in about 0.1 ms, a
    third of ``resetAll``: one vector call restores the constant parameters, then ``reset()`` resets
    the states (rate-rule parameters included).  The result is bit-identical to ``resetAll()``
    (tests/test_overhead.py); the values restored are read right after a ``resetAll`` at
    construction, so they are the model file's.

    Parameters set after :meth:`restore` (overrides) must be followed by ``rr.reset()`` if they
    enter initial assignments; :meth:`restore` itself leaves the states consistent with the table.
    """

    def __init__(self, rr) -> None:
        model = rr.model
        variable = set(rr.getRateRuleIds()) | set(rr.getAssignmentRuleIds())
        self._idx = np.array([i for i, p in enumerate(model.getGlobalParameterIds()) if p not in variable],
                             dtype=np.int32)
        rr.resetAll()
        self._values = np.array(model.getGlobalParameterValues(self._idx), dtype=float)
        self._model = model  # held: each ``rr.model`` makes a new proxy (a RoadRunner keeps its model until reloaded)

    def restore(self, rr, overrides: Mapping[str, float] | None = None) -> None:
        """Table parameter values, then ``overrides`` (parameter id -> value), then states reset with
        the initial assignments evaluated under them; time 0.  ``rr``: the RoadRunner this slate was
        made from.  Values are set on its executable model (``rr[id]`` parses the id on every call, and
        ``reset`` follows)."""
        model = self._model
        model.setGlobalParameterValues(self._idx, self._values)
        for key, value in (overrides or {}).items():
            model.setValue(key, value)
        rr.reset()


class StateReader:
    """Reads the values of some states of a RoadRunner in two vector calls (a few microseconds):
    floating species amounts (compartment volumes are 1) and rate-rule parameters by index."""

    def __init__(self, rr, ids: Iterable[str]) -> None:
        model = rr.model
        wanted = set(ids)
        species = list(model.getFloatingSpeciesIds())
        params = list(model.getGlobalParameterIds())
        self._species = np.array([i for i, s in enumerate(species) if s in wanted], dtype=np.int64)
        self._params = np.array([i for i, p in enumerate(params) if p in wanted], dtype=np.int32)
        self.ids: tuple[str, ...] = (*(species[i] for i in self._species), *(params[i] for i in self._params))
        #: every floating species is read (in model order): no indexing of the amounts vector
        self._all_species = len(self._species) == len(species)
        if set(self.ids) != wanted:
            raise ValueError(f"not states of the model: {sorted(wanted - set(self.ids))}")

    def flush(self, rr, values: np.ndarray | None = None) -> int:
        """Set the read states whose magnitude is below :data:`UNDERFLOW` (but not 0) to 0; returns how
        many.  ``values``: the states' current values if just read (:meth:`values`)."""
        values = self.values(rr.model) if values is None else values
        small = np.nonzero((np.abs(values) < UNDERFLOW) & (values != 0.0))[0]
        for i in small:
            rr[self.ids[i]] = 0.0
        return len(small)

    def values(self, model) -> np.ndarray:
        """The states' current values; ``model``: the RoadRunner's executable model (``rr.model``, which
        the caller may hold: each ``rr.model`` makes a new proxy)."""
        amounts = model.getFloatingSpeciesAmounts()
        if not self._all_species:
            amounts = amounts[self._species]
        if len(self._params):
            return np.concatenate((amounts, model.getGlobalParameterValues(self._params)))
        return amounts
