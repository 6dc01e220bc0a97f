"""Exact gradients for the PEtab objective: the same negative log-likelihood, simulated by AMICI.

:class:`AmiciObjective` is a :class:`~ranklsim.fitting.objective.PetabObjective` (same parameters,
bounds, scales, fit table and pickling) whose value, residuals, gradient and residual Jacobian come
from AMICI (``amici.sim.sundials.petab.v1.simulate_petab``) with forward sensitivities, so the
multistart's optimisers get exact derivatives instead of finite differences
(:func:`ranklsim.fitting.multistart.local_optimize` uses :meth:`AmiciObjective.fun_and_grad` and
:meth:`AmiciObjective.residuals_and_jacobian` when the objective has them).

AMICI is an optional extra (``pip install 'ranklsim[amici]'``); it compiles the model to C++ (a C++
compiler is needed; pip brings cmake and SWIG).  The compiled model is kept on disk under
:func:`~ranklsim.simulate.solver.cache_dir` ``/amici/<key>``, the key hashing what the PEtab import
compiles in (:func:`model_key`) and the AMICI version, so a model is compiled once per machine (about
20 s for the human problem) and loaded in under a second afterwards, also by every engine worker.

Same numbers as the roadrunner objective: pre-equilibration integrates to steady state (Newton's method
is switched off for the same reason as in :func:`ranklsim.simulate.simulator.relax`: rate-rule states
with conserved totals make the Jacobian singular), steady-state sensitivities are integrated too, and
the tolerances are the acute view's (:data:`ranklsim.simulate.solver.TOLERANCES`).  A failed simulation
is a failed evaluation (:data:`~ranklsim.constants.FAILED_VALUE`, zero gradient), never an exception; where
only the sensitivities fail, the derivatives of that point come from forward differences of the values
(counted in ``n_fd_fallbacks``), so an optimiser never sees a zero Jacobian at a valid point.
The derived normalisers are the SBML's, as in any PEtab tool (``recompute_reference`` is not offered).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from ranklsim.constants import FAILED_VALUE
from ranklsim.fitting import problems as C
from ranklsim.fitting.objective import PetabObjective
from ranklsim.simulate.solver import TOLERANCES, cache_dir

#: install hint for the optional AMICI backend
AMICI_EXTRA_HINT = ("pip install 'ranklsim[amici]' (AMICI compiles from source at install, about 2 minutes; it "
                    "needs a C++ compiler)")
#: what to do when a model does not compile although AMICI imports (e.g. AMICI was built against a library,
#: such as HDF5, that has since been removed: CMake then stops with "Could NOT find HDF5")
AMICI_REBUILD_HINT = ("if CMake could not find a library that AMICI was built with, rebuild AMICI in this "
                      "environment: pip install --force-reinstall --no-deps --no-cache-dir amici")
#: CVODE steps allowed per output interval (as the roadrunner objective)
MAX_STEPS = 200_000
#: AMICI's steady-state convergence test is scaled by this factor (its default, 100, lets a pre-equilibration
#: without sensitivities stop after a day at some parameter vectors while the one with sensitivities runs on:
#: the nll then jumps by up to 0.02 between neighbouring points and the gradient disagrees with finite
#: differences; at 1e-3 both runs reach the roadrunner objective's 3-year relaxation state, nll within 1e-6)
STEADY_STATE_TOLERANCE_FACTOR = 1e-3
#: forward-difference step (optimisation scale) of the fallback where the sensitivities fail.  The
#: objective carries solver noise of ~1e-5 in absolute nll between runs (measured 2026-12-06 at a random
#: point of the human problem, nll 181: a step of 1e-6 put an error of 7 on every gradient component, 1e-4
#: one below 0.06 against gradients up to 700), so the step is 1e-4 (0.023 % of a log10-scaled parameter)
FD_STEP = 1e-4
#: bump when the build settings below change (part of the cache key)
BUILD_REVISION = 1


def amici_available() -> bool:
    """True when the ``amici`` package can be imported."""
    try:
        import amici  # noqa: F401  # optional: the amici extra
    except ImportError:
        return False
    return True


def _require_amici():
    try:
        import amici  # optional: the amici extra
    except ImportError as exc:
        raise ImportError(f"the AMICI backend needs AMICI: {AMICI_EXTRA_HINT}") from exc
    # AMICI builds with the SWIG of its own environment (the amici extra installs it next to python)
    bindir = os.path.dirname(sys.executable)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    return amici


def model_key(problem, sbml: str) -> str:
    """Cache key of a compiled model: what AMICI's PEtab import compiles into it (the SBML, the observable
    and condition tables, which parameters are estimated: the others become constants), the AMICI
    version and :data:`BUILD_REVISION`.  Measurements are data, passed at run time."""
    amici = _require_amici()
    par = problem.parameter_df
    estimated = sorted(par.index[par[C.ESTIMATE].astype(int) == 1])
    parts = [sbml, problem.observable_df.to_csv(), problem.condition_df.to_csv(), ",".join(estimated),
             amici.__version__, str(BUILD_REVISION)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:20]


class AmiciBuildError(RuntimeError):
    """AMICI is installed but could not compile a model (its message says what to try)."""


def build_model(problem, sbml: str, root: Path | None = None):
    """The compiled AMICI model of a PEtab ``problem`` (compiled once, then loaded from the cache).

    Returns ``(model, info)``; ``info`` has the build folder, whether it was cached and the compile time.
    Concurrent builders of the same key wait for one another (a file lock).  A failed compile raises
    :class:`AmiciBuildError` and leaves no half-built folder behind."""
    amici = _require_amici()
    key = model_key(problem, sbml)
    root = Path(root) if root is not None else cache_dir() / "amici"
    out, name = root / key, f"ranklsim_{key[:12]}"
    marker = out / "BUILD_OK.json"
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        cached = marker.exists()
        if not cached:
            from amici.importers.petab.v1 import import_petab_problem  # optional: the amici extra

            t0 = time.perf_counter()
            try:
                import_petab_problem(problem, output_dir=str(out), model_name=name, compile_=True)
            except (subprocess.CalledProcessError, RuntimeError, OSError) as exc:
                shutil.rmtree(out, ignore_errors=True)  # the next attempt starts from an empty folder
                raise AmiciBuildError(f"AMICI could not compile the model (AMICI {amici.__version__}, folder {out}; "
                                      f"the compiler's output is above): {exc}; {AMICI_REBUILD_HINT}") from exc
            marker.write_text(json.dumps({"compile_s": time.perf_counter() - t0, "amici": amici.__version__}))
    info = {"folder": str(out), "cached": cached, **json.loads(marker.read_text())}
    return amici.import_model_module(name, str(out)).get_model(), info


class AmiciObjective(PetabObjective):
    """The PEtab objective simulated by AMICI, with exact (forward-sensitivity) gradients."""

    def __init__(self, problem, name: str = "problem", *, cache_root: str | Path | None = None,
                 rtol: float | None = None, atol: float | None = None) -> None:
        """``rtol``, ``atol``: CVODE tolerances (default: the acute view's,
        :data:`~ranklsim.simulate.solver.TOLERANCES`); ``cache_root``: where compiled models are kept."""
        _require_amici()  # fail at construction, with the install hint, not in a worker
        super().__init__(problem, name)
        default_rtol, default_atol = TOLERANCES["acute"]
        self.rtol = float(default_rtol if rtol is None else rtol)
        self.atol = float(default_atol if atol is None else atol)
        if not (0.0 < self.rtol < 1.0 and self.atol > 0.0):
            raise ValueError(f"need 0 < rtol < 1 and atol > 0, got rtol={self.rtol!r}, atol={self.atol!r}")
        self.cache_root = None if cache_root is None else str(cache_root)
        self._amici = None
        self.build_info: dict | None = None
        self._last: tuple[bytes, bool, dict] | None = None
        #: evaluations whose derivatives came from forward differences (AMICI's sensitivities failed)
        self.n_fd_fallbacks = 0

    def __getstate__(self):
        state = super().__getstate__()
        state["_amici"] = None
        state["_last"] = None
        return state

    # ------------------------------------------------------------------ AMICI objects
    def build(self) -> dict:
        """Compile (or load from the cache) the model in this process now; returns :attr:`build_info`.
        A failed compile raises :class:`AmiciBuildError` (otherwise the first evaluation builds it)."""
        _model, _solver = self.amici
        return self.build_info

    @property
    def amici(self):
        """``(model, solver)``, built or loaded on first use in each process."""
        if self._amici is None:
            import amici.sim.sundials as asim  # optional: the amici extra

            model, self.build_info = build_model(self.problem, self._sbml, self.cache_root)
            model.set_steady_state_computation_mode(asim.SteadyStateComputationMode_integrationOnly)
            model.set_steady_state_sensitivity_mode(asim.SteadyStateSensitivityMode_integrationOnly)
            solver = model.create_solver()
            solver.set_relative_tolerance(self.rtol)
            solver.set_absolute_tolerance(self.atol)
            solver.set_max_steps(MAX_STEPS)
            solver.set_sensitivity_method(asim.SensitivityMethod_forward)
            solver.set_steady_state_tolerance_factor(STEADY_STATE_TOLERANCE_FACTOR)
            solver.set_steady_state_sensi_tolerance_factor(STEADY_STATE_TOLERANCE_FACTOR)
            self._amici = (model, solver)
        return self._amici

    def _run(self, x, sensitivities: bool) -> dict | None:
        """AMICI's PEtab result at ``x`` (cached for the last point), None when a simulation failed."""
        import amici.sim.sundials as asim  # optional: the amici extra
        from amici.sim.sundials.petab.v1 import RDATAS, simulate_petab  # optional: the amici extra

        x = np.asarray(x, float)
        if not np.all(np.isfinite(x)):
            return None
        key = x.tobytes()
        if self._last is not None and self._last[0] == key:
            cached_sens, cached = self._last[1], self._last[2]
            # a run answers a request for less (values from a sensitivity run), never for more; a failed
            # sensitivity run does not answer a request for values (those may still succeed)
            if cached_sens == sensitivities or (cached_sens and cached is not None):
                return cached
        model, solver = self.amici
        solver.set_sensitivity_order(asim.SensitivityOrder_first if sensitivities else asim.SensitivityOrder_none)
        self.n_evaluations += 1
        try:
            res = simulate_petab(self.problem, amici_model=model, solver=solver,
                                 problem_parameters=dict(zip(self.parameter_ids, x.tolist(), strict=True)),
                                 scaled_parameters=True, scaled_gradients=True, log_level=40)
        except RuntimeError:
            res = None
        if res is not None and any(rd["status"] != asim.AMICI_SUCCESS for rd in res[RDATAS]):
            res = None
        self._last = (key, sensitivities, res)
        return res

    # ------------------------------------------------------------------ objective
    def nll(self, x) -> float:
        from amici.sim.sundials.petab.v1 import LLH  # optional: the amici extra

        res = self._run(x, sensitivities=False)
        value = None if res is None else -float(res[LLH])
        return value if value is not None and math.isfinite(value) else FAILED_VALUE

    def gradient(self, x) -> np.ndarray:
        """d nll / d x on the optimisation scale (zeros where the simulation failed)."""
        return self.fun_and_grad(x)[1]

    def fun_and_grad(self, x) -> tuple[float, np.ndarray]:
        """``(nll, gradient)`` from one forward-sensitivity simulation."""
        from amici.sim.sundials.petab.v1 import LLH, SLLH  # optional: the amici extra

        res = self._run(x, sensitivities=True)
        grad = None
        if res is not None and res[SLLH] is not None and math.isfinite(res[LLH]):
            grad = -np.array([res[SLLH][p] for p in self.parameter_ids], float)
        if grad is not None and np.all(np.isfinite(grad)):
            return -float(res[LLH]), grad
        f = self.nll(x)  # the sensitivities failed: the value alone may still be computable
        if f >= FAILED_VALUE:
            return FAILED_VALUE, np.zeros(len(self.parameter_ids))
        self.n_fd_fallbacks += 1
        return f, self._forward_differences(x, lambda z: np.array([self.nll(z)]), np.array([f]))[0]

    def _forward_differences(self, x, fn, f0: np.ndarray) -> np.ndarray:
        """Forward-difference Jacobian of ``fn`` (rows: outputs), the fallback where AMICI's
        sensitivities fail at a point whose value it can compute (step :data:`FD_STEP` on the
        optimisation scale, taken towards the interior of the bounds)."""
        x = np.asarray(x, float)
        jac = np.zeros((len(f0), len(x)))
        for j in range(len(x)):
            h = FD_STEP if x[j] + FD_STEP <= self.upper[j] else -FD_STEP
            step = x.copy()
            step[j] += h
            jac[:, j] = (fn(step) - f0) / h
        return jac

    def residuals(self, x) -> np.ndarray:
        return self.residuals_and_jacobian(x, jacobian=False)[0]

    def residuals_and_jacobian(self, x, jacobian: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        """Weighted residuals (``nll = 0.5 * sum(r**2) + constant``, in AMICI's condition order) and
        their Jacobian on the optimisation scale (``jacobian=False``: None)."""
        n = len(self.y)
        res = self._run(x, sensitivities=jacobian)
        if res is not None:
            return self._residuals(res, jacobian)
        plain = self._run(x, sensitivities=False) if jacobian else None
        if plain is None:  # the simulation failed
            return np.full(n, math.sqrt(2 * FAILED_VALUE / n)), (np.zeros((n, len(x))) if jacobian else None)
        r = self._residuals(plain, jacobian=False)[0]  # only the sensitivities failed
        self.n_fd_fallbacks += 1
        return r, self._forward_differences(x, self.residuals, r)

    def _residuals(self, res, jacobian: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """The measured entries of AMICI's residuals (0 where nothing was measured) and, with
        ``jacobian``, of their sensitivities, from one PEtab result."""
        from amici.sim.sundials.petab.v1 import EDATAS, RDATAS  # optional: the amici extra

        r_all, s_all, masks = [], [], []
        for rd, ed in zip(res[RDATAS], res[EDATAS], strict=True):
            shape = np.asarray(rd["y"]).shape
            r_all.append(np.asarray(rd["res"]).reshape(shape))
            masks.append(np.isfinite(np.asarray(ed.get_measurements(), float)).reshape(shape))
            if jacobian:
                s_all.append(np.asarray(rd["sres"]).reshape(*shape, -1))
        r = np.concatenate([v[m] for v, m in zip(r_all, masks, strict=True)])
        if not jacobian:
            return r, None
        return r, self._columns(np.concatenate([v[m] for v, m in zip(s_all, masks, strict=True)]), res)

    def residual_jacobian(self, x) -> np.ndarray:
        """The Jacobian of :meth:`residuals` on the optimisation scale."""
        return self.residuals_and_jacobian(x)[1]

    def to_pypesto(self):
        """This objective as a ``pypesto.Objective`` with exact gradient and residual Jacobian."""
        import pypesto  # optional: the pypesto extra

        return pypesto.Objective(fun=self.nll, grad=self.gradient, res=self.residuals, sres=self.residual_jacobian,
                                 x_names=list(self.parameter_ids))

    def _columns(self, jac: np.ndarray, res) -> np.ndarray:
        """The Jacobian's columns in :attr:`parameter_ids` order.  AMICI's residual sensitivities are
        w.r.t. the parameters of its sensitivity list (indices into the model's free parameters), on
        the scales the PEtab import gives them: the PEtab scales."""
        from amici.sim.sundials.petab.v1 import EDATAS  # optional: the amici extra

        model, _ = self.amici
        free = list(model.get_free_parameter_ids())
        plist = list(res[EDATAS][0].plist) or list(model.get_parameter_list())
        order = [free[i] for i in plist]
        return jac[:, [order.index(p) for p in self.parameter_ids]]
