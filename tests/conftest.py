import json
from pathlib import Path

import pytest

REFERENCE = Path(__file__).parent / "reference"


@pytest.fixture(scope="session")
def reference():
    def load(name):
        return json.loads((REFERENCE / f"{name}.json").read_text())

    return load


def peaks(t, y):
    """Times and values of interior local maxima, refined by parabolic interpolation."""
    import numpy as np

    t, y = np.asarray(t), np.asarray(y)
    idx = np.where((y[1:-1] > y[:-2]) & (y[1:-1] >= y[2:]))[0] + 1
    out = []
    for i in idx:
        y0, y1, y2 = y[i - 1], y[i], y[i + 1]
        den = y0 - 2 * y1 + y2
        d = 0.5 * (y0 - y2) / den if den != 0 else 0.0
        h = t[i + 1] - t[i]
        out.append((t[i] + d * h, y1 - 0.25 * (y0 - y2) * d))
    return out


def synthetic_human_problem():
    """The human PEtab problem with gi_kp1 and gi_Vm0 fixed and data simulated at known values of
    gi_kp3 and gi_Vmx (x_nominal + [0.15, -0.12] on the log10 scale) plus noise (seed 3); returns
    ``(problem, x_true)`` (several conditions: basal, two clamps, metformin)."""
    import numpy as np
    import petab.v1 as petab

    from ranklsim.fitting import problems as C
    from ranklsim.fitting.objective import PetabObjective
    from ranklsim.fitting.problems import shipped_problem
    from ranklsim.models.ids import P

    prob = petab.Problem.from_yaml(str(shipped_problem("human")))
    par = prob.parameter_df.copy()
    par.loc[[P.gi_kp1, P.gi_Vm0], C.ESTIMATE] = 0
    prob.parameter_df = par
    obj = PetabObjective(prob)
    x_true = obj.x_nominal + np.array([0.15, -0.12])
    h = obj.simulate(x_true)
    rng = np.random.default_rng(3)
    meas = prob.measurement_df.copy()
    meas[C.MEASUREMENT] = np.where(obj.transform == "log", h * np.exp(rng.normal(0, obj.sigma)),
                                   h + rng.normal(0, obj.sigma))
    prob.measurement_df = meas
    return prob, x_true

