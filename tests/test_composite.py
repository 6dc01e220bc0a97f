"""The composite model at its default parameters, and the acute/chronic views."""

import numpy as np
import pytest

import ranklsim
from ranklsim.models.ids import P, V
from ranklsim.simulate import Event
from ranklsim.simulate.protocols import OralGlucose, RanklChallenge
from ranklsim.simulate.simulator import SIGNED_STATES, OutOfBoundsWarning

MGDL_PER_MM = 18.016
#: mouse fasting range cited: 5-6 h fasted chow C57BL/6J, 100-150 mg/dL (Ayala 2006, basal
#: ~120-130 mg/dL; docs/data-sources.md s6)
MOUSE_FASTING_MM = (100 / MGDL_PER_MM, 150 / MGDL_PER_MM)


@pytest.mark.parametrize("species", ["human", "mouse"])
def test_default_parameters_sit_at_steady_state(species):
    model = ranklsim.load_model(species)
    res = model.simulate(48 * 60, n_points=49, selections=list(model.state_ids))
    values = res.frame[list(model.state_ids)].to_numpy()
    scale = np.maximum(np.abs(values[0]), 1e-9)
    drift_per_hour = np.max(np.abs(values - values[0]) / scale, axis=0) / 48
    worst = model.state_ids[int(np.argmax(drift_per_hour))]
    assert drift_per_hour.max() < 1e-6, worst


def test_fasting_glucose_in_range():
    human = ranklsim.load_model("human").simulate(60, n_points=2, selections=[V.G_mM]).final()
    mouse = ranklsim.load_model("mouse").simulate(60, n_points=2, selections=[V.G_mM]).final()
    assert 4.5 <= human[V.G_mM] <= 5.5
    assert MOUSE_FASTING_MM[0] <= mouse[V.G_mM] <= MOUSE_FASTING_MM[1]


@pytest.mark.parametrize("species", ["human", "mouse"])
def test_receptor_totals_conserved_and_states_nonnegative(species):
    model = ranklsim.load_model(species)
    events = [*OralGlucose(time=60).events(species), *RanklChallenge(fold=10, start=0, duration=600).events(species),
              Event(300, P.I_O, 0.05)]
    res = model.simulate(24 * 60, n_points=1441, events=events,
                         selections=[*model.state_ids, V.Rb_tot, V.Rh_tot])
    f = res.frame
    for free, bound, total in (("Rb", "LRb", "Rb_tot"), ("Rh", "LRh", "Rh_tot")):
        rel = np.abs(f[free] + f[bound] - f[total]) / f[total]
        assert rel.max() < 1e-9
    states = f[[s for s in model.state_ids if s not in SIGNED_STATES]].to_numpy()
    assert states.min() > -1e-9 * np.abs(states).max()
    assert f["LRh"].max() > 2 * f["LRh"].iloc[0]  # the challenge really occupied hepatic RANK


def test_acute_and_chronic_views_agree_on_fasting_state():
    """Freeze the slow states of a chronic run at several times; the acute view relaxed to its
    fasting steady state gives the same fasting glucose, insulin and EGP (tolerance 0.5 %)."""
    perturb = {P.L_prod: 3 * ranklsim.load_model("human").parameter_value(P.L_prod), P.diet_fat: 1.0}
    chronic = ranklsim.load_model("human", "chronic")
    acute = ranklsim.load_model("human", "acute")
    times = [7, 60, 365, 3 * 365]
    res = chronic.simulate(times=[0, *times], overrides=perturb,
                           selections=[*chronic.state_ids, V.G, V.I, V.EGP])
    # OPG is not frozen: since issue 12 (OPG:RANK affinity ratio 500) the OPG-RANKL complex holds a third
    # of serum sRANKL's clearance, and freezing OPG production while the complex is still cleared drains
    # OPG and raises free sRANKL by 5 % in 5 days; OPG itself is at its (days) equilibrium in the
    # chronic run, whose glycaemia-driven production is frozen with G_mem
    frozen = {P.beta_slow_on: 0, P.k_mem: 0, P.k_diet: 0, P.k_Gmem: 0}
    for day in times:
        row = res.frame[res.frame.time == day].iloc[0]
        state = {s: row[s] for s in chronic.state_ids}
        # freezing the slow states sets rate constants to 0, below their table bounds: allowed explicitly
        with pytest.warns(OutOfBoundsWarning):
            fast = acute.simulate(5 * 1440, n_points=2, overrides={**perturb, **frozen}, initial=state,
                                  selections=[V.G, V.I, V.EGP], allow_out_of_bounds=True).final()
        # at day 7 the diet state is still rising (time constant 14 d) and the hepatocyte receptor pools
        # (proIR, p2IR: hours to days) lag it by 2-3 %, so the frozen acute view's fasting insulin
        # differs by 1.2 % (measured 2026-12-06); once the diet state has settled, 0.5 % holds
        tol = 2e-2 if day < 30 else 5e-3
        for key in (V.G, V.I, V.EGP):
            assert fast[key] == pytest.approx(row[key], rel=tol), (day, key)
    # the chronic run really moved: hepatic memory and the diet state changed over 3 years (beta-cell
    # capacity and mass stay: the workload of this person is below the failure range, glucose below G_tox)
    assert abs(res.frame[V.M_hep].iloc[-1] / res.frame[V.M_hep].iloc[0] - 1) > 0.01
    assert res.frame[V.A_diet].iloc[-1] > 0.9


def test_ogtt_human_shape():
    res = ranklsim.load_model("human").simulate(240, n_points=241, events=OralGlucose().events("human"),
                                                 selections=[V.G, V.I, V.EGP])
    g, ins = res[V.G], res[V.I]
    assert 130 < g.max() < 200 and 20 < res.time[g.argmax()] < 120
    assert ins.max() > 4 * ins[0]
    assert res[V.EGP].min() < 0.5 * res[V.EGP][0]
    assert abs(g[-1] - g[0]) < 15
