"""The RoadRunner instances behind the simulator: one per (species, view) and process.

A RoadRunner is compiled from the model's SBML once and its compiled state kept on disk
(:func:`cache_dir`), so later processes load it instead of compiling again.  The view sets the
solver tolerances (:data:`TOLERANCES`).
"""

from __future__ import annotations

import hashlib
import os
from functools import cache
from pathlib import Path

from ranklsim.models.build import build_antimony, build_sbml

#: solver tolerances (relative, absolute) per view
TOLERANCES = {"acute": (1e-8, 1e-12), "chronic": (1e-7, 1e-12)}
#: CVODE's internal steps allowed per output interval
MAX_STEPS = 100000


def cache_dir() -> Path:
    """Where compiled models are kept between processes (``RANKLSIM_CACHE_DIR`` overrides)."""
    env = os.environ.get("RANKLSIM_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "ranklsim"


def _compiled_runner(species: str):
    """A RoadRunner for ``species``, loaded from the on-disk compiled-state cache if present.

    The cache key hashes the full Antimony text (modules, parameter table, initial state)
    and the libroadrunner version, so any change to the model invalidates it.
    """
    import roadrunner  # lazy: libroadrunner costs ~0.2 s to import

    key = hashlib.sha256((build_antimony(species) + roadrunner.__version__).encode()).hexdigest()[:20]
    path = cache_dir() / f"{species}-{key}.rrstate"
    if path.exists():
        try:
            rr = roadrunner.RoadRunner()
            rr.loadStateS(path.read_bytes())
            return rr
        except (RuntimeError, OSError, ValueError):
            pass  # unreadable cache: rebuild below
    rr = roadrunner.RoadRunner(build_sbml(species))
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
    return rr
