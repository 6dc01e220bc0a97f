"""The LLVM back end the package compiles with (issue 13, uncached build).

:func:`ranklsim.models.build.compile_sbml` compiles with ORC LLJIT, which is several times faster to
compile than libRoadRunner's default MCJIT (``benchmarks/jit_backend.py``).  These tests check that
the choice changes nothing a user sees: the trajectories are bit-identical to an MCJIT compile of the
same SBML, and libRoadRunner's process-wide back-end setting is left as the caller had it.
"""

from __future__ import annotations

import numpy as np
import pytest

from ranklsim.constants import MINUTES_PER_DAY
from ranklsim.models.build import JIT_BACKEND, build_sbml, compile_sbml
from ranklsim.models.ids import P, V
from ranklsim.simulate.solver import MAX_BDF_ORDER, TOLERANCES

roadrunner = pytest.importorskip("roadrunner")
CFG = roadrunner.Config


@pytest.mark.parametrize(("before", "level"), [("MCJIT", 0), ("LLJIT", 2)])
def test_compile_leaves_the_process_settings_as_they_were(before, level):
    keys = (CFG.LLVM_BACKEND, CFG.LLJIT_OPTIMIZATION_LEVEL)
    old = [CFG.getValue(k) for k in keys]
    try:
        CFG.setValue(CFG.LLVM_BACKEND, getattr(CFG, before))
        CFG.setValue(CFG.LLJIT_OPTIMIZATION_LEVEL, level)
        compile_sbml(build_sbml("mouse"))
        assert [CFG.getValue(k) for k in keys] == [getattr(CFG, before), level]
    finally:
        for k, v in zip(keys, old, strict=True):
            CFG.setValue(k, v)
    assert JIT_BACKEND in ("LLJIT", "MCJIT")


def _runs(rr) -> dict[str, np.ndarray]:
    out = {}
    for view, (factor, days, n) in {"chronic": (5.0, 15 * 365, 16), "acute": (1.0, 1.0, 289)}.items():
        rr.resetAll()
        rr.integrator.relative_tolerance, rr.integrator.absolute_tolerance = TOLERANCES[view]
        rr.integrator.setValue("maximum_bdf_order", MAX_BDF_ORDER[view])
        rr[P.L_prod] = rr[P.L_prod] * factor
        if view == "acute":
            rr[V.Gp] = 1.5 * rr[V.Gp]  # an intravenous glucose bolus at t = 0
        out[view] = np.asarray(rr.simulate(0.0, days * MINUTES_PER_DAY, n))
    return out


@pytest.mark.parametrize("species", ["human", "mouse"])
def test_lljit_and_mcjit_give_bit_identical_trajectories(species):
    sbml = build_sbml(species)
    old = CFG.getValue(CFG.LLJIT_OPTIMIZATION_LEVEL)
    try:
        CFG.setValue(CFG.LLJIT_OPTIMIZATION_LEVEL, 2)  # the package's compile pins its own level
        fast = compile_sbml(sbml)
    finally:
        CFG.setValue(CFG.LLJIT_OPTIMIZATION_LEVEL, old)
    old = CFG.getValue(CFG.LLVM_BACKEND)
    try:
        CFG.setValue(CFG.LLVM_BACKEND, CFG.MCJIT)
        # a comment makes the text differ, so libRoadRunner's in-process cache cannot hand back the LLJIT code
        default = roadrunner.RoadRunner(sbml.replace("<model ", "<!-- MCJIT copy -->\n<model ", 1))
    finally:
        CFG.setValue(CFG.LLVM_BACKEND, old)
    a, b = _runs(fast), _runs(default)
    for view in a:
        assert a[view].shape == b[view].shape
        assert np.all(np.isfinite(a[view]))
        assert np.array_equal(a[view], b[view]), view
    # the runs did something: sRANKL x5 moves the 15-year state, the bolus the day's glucose
    assert np.ptp(a["acute"][:, 1:], axis=0).max() > 1.0
