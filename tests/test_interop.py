"""The exported SBML in tellurium (the interop edge of the project) gives ranklsim's numbers."""

from __future__ import annotations

import numpy as np
import pytest

import ranklsim
from ranklsim.models.build import build_sbml
from ranklsim.models.ids import P, V
from ranklsim.simulate.protocols import OralGlucose

IDS = [V.G, V.I, V.EGP, V.NFkBn, V.L, V.irs_avail]


@pytest.mark.parametrize("species", ["human", "mouse"])
def test_tellurium_runs_the_exported_sbml_like_ranklsim(species):
    te = pytest.importorskip("tellurium")
    ours = ranklsim.load_model(species)
    with ours.solver_settings(rtol=1e-10, atol=1e-14):
        mine = ours.simulate(240, n_points=49, selections=IDS, overrides={P.L_prod: 2e-3},
                             events=OralGlucose().events(species))
    r = te.loadSBMLModel(build_sbml(species))
    r.integrator.relative_tolerance, r.integrator.absolute_tolerance = 1e-10, 1e-14
    r[P.L_prod] = 2e-3
    r.reset()  # initial assignments under the changed parameter, as ranklsim does
    for ev in OralGlucose().events(species):  # all at t = 0
        r[ev.target] = ev.value if ev.op == "set" else r[ev.target] + ev.value
    theirs = r.simulate(0, 240, 49, selections=["time", *IDS])
    for k, sid in enumerate(IDS):
        np.testing.assert_allclose(theirs[:, k + 1], mine[sid], rtol=1e-6, atol=1e-12, err_msg=sid)
