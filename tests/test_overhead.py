"""The cheap paths of ``Model.simulate`` give exactly what the plain RoadRunner calls give.

``Model.simulate`` restores its RoadRunner with :class:`CleanSlate` instead of ``resetAll``, passes an
evenly spaced grid as (start, end, count), runs a protocol without events as one segment and builds
the result's DataFrame only on demand (issue 13, item 3).  Each shortcut must be bit-identical to the
slower call it replaces; the time saved is measured in ``benchmarks/peers.py``, never asserted here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import ranklsim
from ranklsim.models.build import build_sbml
from ranklsim.models.ids import P, V
from ranklsim.simulate.protocols import OralGlucose
from ranklsim.simulate.results import Event, SimulationResult
from ranklsim.simulate.simulator import DEFAULT_SELECTIONS
from ranklsim.simulate.solver import MAX_BDF_ORDER, TOLERANCES, CleanSlate


def _snapshot(rr) -> np.ndarray:
    model = rr.model
    return np.concatenate([model.getFloatingSpeciesAmounts(), model.getGlobalParameterValues(), [model.getTime()]])


@pytest.mark.parametrize("species", ["human", "mouse"])
def test_clean_slate_equals_reset_all_after_a_perturbed_run(species):
    """Overrides, protocol events and an integration change parameters and states; the clean slate
    puts every one of them back exactly where ``resetAll`` does."""
    model = ranklsim.load_model(species)
    rr = model._rr
    slate = CleanSlate(rr)
    rr.resetAll()
    fresh = _snapshot(rr)
    model.simulate(600, n_points=7, overrides={P.diet_fat: 1.0, P.L_ref: 2 * model.parameter_value(P.L_ref)},
                   events=OralGlucose(time=30.0).events(species))
    assert not np.array_equal(_snapshot(rr), fresh)
    slate.restore(rr)
    np.testing.assert_array_equal(_snapshot(rr), fresh)


def test_clean_slate_overrides_reach_initial_assignments():
    """An override set through the slate is in place before the initial assignments are evaluated, as
    with ``resetAll``, setting the value and ``reset``."""
    model = ranklsim.load_model("human")
    rr = model._rr
    ov = {P.Rh_tot_wt: 2.0 * model.parameter_value(P.Rh_tot_wt)}
    assigned = sorted(model.assigned_states)
    assert assigned, "the model has states set by initial assignments"
    rr.resetAll()
    for k, v in ov.items():
        rr[k] = v
    rr.reset()
    expected = _snapshot(rr)
    model.simulate(60, n_points=2)
    CleanSlate(rr).restore(rr, ov)
    np.testing.assert_array_equal(_snapshot(rr), expected)


def _plain_runner(model):
    """A plain RoadRunner of ``model``'s exported SBML with its solver settings and the default
    selections, freshly reset."""
    import roadrunner

    rr = roadrunner.RoadRunner(build_sbml(model.species))
    rr.integrator.relative_tolerance, rr.integrator.absolute_tolerance = TOLERANCES[model.view]
    rr.integrator.setValue("maximum_num_steps", model._rr.integrator.getValue("maximum_num_steps"))
    rr.integrator.setValue("maximum_bdf_order", MAX_BDF_ORDER[model.view])
    rr.timeCourseSelections = ["time", *DEFAULT_SELECTIONS]
    rr.resetAll()
    return rr


@pytest.mark.parametrize(("species", "view", "t_end", "n", "kw"), [
    ("human", "acute", 1440.0, 241, {}),
    ("human", "chronic", 15 * 365.0, 181, {}),
    ("human", "chronic", 15 * 365.0, 181, {"overrides": {P.diet_fat: 1.0}}),
    ("mouse", "acute", 1440.0, 241, {}),
])
def test_simulate_is_bit_identical_to_the_plain_roadrunner_call(species, view, t_end, n, kw):
    """``Model.simulate`` on an evenly spaced grid returns exactly the numbers of a RoadRunner built
    from the exported SBML and run with ``resetAll(); simulate(0, T, n)``."""
    model = ranklsim.load_model(species, view)
    res = model.simulate(t_end, n_points=n, **kw)
    rr = _plain_runner(model)
    for key, value in kw.get("overrides", {}).items():
        rr[key] = value
    rr.reset()
    factor = 1440.0 if view == "chronic" else 1.0
    plain = np.asarray(rr.simulate(0.0, t_end * factor, n))
    np.testing.assert_array_equal(res.array[:, 1:], plain[:, 1:])
    np.testing.assert_allclose(res.time * factor, plain[:, 0], rtol=1e-15)  # days -> minutes: one rounding


@pytest.mark.parametrize("species", ["human", "mouse"])
def test_events_and_initial_states_equal_plain_roadrunner_item_access(species):
    """Events, initial states and overrides are written on the executable model (cheaper than
    ``rr[id]``); a run with an override, an initial state and an OGTT mid-run (an ``add`` on a state, a
    ``set`` on a parameter) equals, bit for bit, a plain RoadRunner run set up with ``rr[id] = value``
    and integrated in two ``simulate`` calls.  (Overrides that enter initial assignments:
    ``test_clean_slate_overrides_reach_initial_assignments``.)"""
    model = ranklsim.load_model(species)
    ov = {P.diet_fat: 1.0}
    events = OralGlucose(time=90.0).events(species)
    assert {ev.op for ev in events} == {"set", "add"}
    res = model.simulate(240, n_points=17, overrides=ov, initial={V.Qsto2: 1.0}, events=events)
    rr = _plain_runner(model)
    for key, value in ov.items():
        rr[key] = value
    rr.reset()
    rr[V.Qsto2] = 1.0
    first = np.asarray(rr.simulate(0.0, 90.0, 7))
    for ev in events:
        rr[ev.target] = ev.applied(rr[ev.target])
    second = np.asarray(rr.simulate(90.0, 240.0, 11))
    np.testing.assert_array_equal(res.array, np.vstack([first[:-1], second]))


def test_one_segment_path_equals_the_segmented_path():
    """A run without events (one segment, evenly spaced grid) equals an explicit list of the same
    times and the same run with a do-nothing event at t = 0 (applied before the one segment); a
    do-nothing event mid-run restarts the solver there (the segment loop), which changes the numbers
    only at solver tolerance."""
    model = ranklsim.load_model("human")
    fast = model.simulate(720, n_points=97)
    same_value = model.parameter_value(P.diet_fat)
    at_zero = model.simulate(720, n_points=97, events=[Event(0.0, P.diet_fat, same_value)])
    listed = model.simulate(times=list(np.linspace(0.0, 720.0, 97)))
    np.testing.assert_array_equal(fast.array, at_zero.array)
    np.testing.assert_array_equal(fast.array, listed.array)
    segmented = model.simulate(720, n_points=97, events=[Event(302.5, P.diet_fat, same_value)])
    np.testing.assert_array_equal(segmented.time, fast.time)
    np.testing.assert_allclose(segmented.array, fast.array, rtol=1e-5, atol=1e-9)
    # an OGTT at 0 (events at t = 0: one segment) moves glucose, and equals the OGTT whose meal is
    # given as the initial stomach content
    ogtt = model.simulate(240, n_points=49, events=OralGlucose().events("human"))
    assert ogtt[V.G].max() > 1.3 * ogtt[V.G][0]
    meal = {ev.target: ev.value for ev in OralGlucose().events("human")}
    as_initial = model.simulate(240, n_points=49, initial={V.Qsto1: meal[V.Qsto1]},
                                overrides={k: v for k, v in meal.items() if k != V.Qsto1})
    np.testing.assert_array_equal(ogtt.array, as_initial.array)


@pytest.mark.parametrize("t_end", [1440.0, 5475.0, 123.456, 1e-3, 1.0 / 3.0, 803.0])
@pytest.mark.parametrize("n", [2, 3, 7, 181, 241, 1001])
def test_output_grid_is_numpys_linspace_bit_for_bit(t_end, n):
    from ranklsim.simulate.solver import output_times

    np.testing.assert_array_equal(output_times(t_end, None, n), np.linspace(0.0, t_end, n))


def test_selections_follow_every_call_after_a_relaxation():
    """Selections are set on every call: an equilibrating call in between (which changes the
    RoadRunner's selections) does not leak into the next call's columns."""
    model = ranklsim.load_model("human")
    a = model.simulate(60, n_points=3, selections=[V.G])
    model.simulate(60, n_points=3, selections=[V.I], equilibrate=True)
    b = model.simulate(60, n_points=3, selections=[V.G])
    assert a.columns == b.columns == ("time", V.G)
    np.testing.assert_array_equal(a.array, b.array)


def test_result_array_and_lazy_frame_agree():
    model = ranklsim.load_model("human")
    res = model.simulate(120, n_points=5, selections=[V.G, V.I])
    assert res._frame is None  # nothing built yet
    np.testing.assert_array_equal(res[V.G], res.frame[V.G].to_numpy())
    assert list(res.frame.columns) == ["time", V.G, V.I]
    assert res.final() == {k: float(v) for k, v in res.frame.iloc[-1].items()}
    assert V.G in res and V.EGP not in res
    with pytest.raises(KeyError, match="not an output of this result"):
        res[V.EGP]
    # built from a frame, the same
    again = SimulationResult(res.frame, res.units, res.time_unit, res.species, res.view)
    np.testing.assert_array_equal(again.array, res.array)


def test_result_construction_is_validated():
    with pytest.raises(ValueError, match="either frame or array"):
        SimulationResult()
    with pytest.raises(ValueError, match="either frame or array"):
        SimulationResult(pd.DataFrame({"time": [0.0]}), array=np.zeros((1, 1)), columns=["time"])
    with pytest.raises(ValueError, match="one column per entry"):
        SimulationResult(array=np.zeros((2, 3)), columns=["time", "G"])


def test_results_share_no_mutable_state():
    """``Model.simulate`` builds its result without ``SimulationResult.__init__``'s checks and copies: the
    result equals one built the checked way, and changing one result's dicts leaves the next one alone."""
    model = ranklsim.load_model("human")
    first = model.simulate(60, n_points=7, selections=[V.G, V.I], overrides={P.diet_fat: 0.5})
    checked = SimulationResult(None, first.units, first.time_unit, first.species, first.view, first.overrides,
                               first.out_of_bounds, first.derived, array=first.array.copy(), columns=first.columns)
    for attr in ("columns", "units", "time_unit", "species", "view", "overrides", "out_of_bounds", "derived"):
        assert getattr(first, attr) == getattr(checked, attr), attr
    np.testing.assert_array_equal(first.array, checked.array)
    assert first[V.G][0] == checked[V.G][0] and V.I in first and "X" not in first
    first.units[V.G] = "changed"
    first.overrides["x"] = 1.0
    first.derived["y"] = 2.0
    second = model.simulate(60, n_points=7, selections=[V.G, V.I], overrides={P.diet_fat: 0.5})
    assert second.units[V.G] == "mg_per_dL" and "x" not in second.overrides and "y" not in second.derived
    assert second.frame.columns.tolist() == ["time", V.G, V.I]


def test_kept_output_grids_are_shared_by_no_result():
    """Evenly spaced grids are kept per (t_end, n_points): read-only, copied into each result, the
    same times whether kept or not, and bounded in number."""
    from ranklsim.simulate.simulator import GRID_CACHE_SIZE

    model = ranklsim.load_model("human", "chronic")
    first = model.simulate(365.0, n_points=13, selections=[V.G])
    first.array[:, 0] = -1.0  # a caller writing into its result
    second = model.simulate(365.0, n_points=13, selections=[V.G])
    np.testing.assert_array_equal(second.time, np.linspace(0.0, 365.0, 13))
    np.testing.assert_array_equal(second[V.G], first[V.G])
    out_t, t_model = model._grid(365.0, None, 13)
    assert not out_t.flags.writeable and not t_model.flags.writeable
    np.testing.assert_array_equal(t_model, out_t * 1440.0)
    for k in range(GRID_CACHE_SIZE + 5):
        model.simulate(1.0 + k, n_points=3, selections=[V.G])
    assert len(model._grids) <= GRID_CACHE_SIZE
    explicit = model.simulate(times=np.linspace(0.0, 365.0, 13), selections=[V.G])
    np.testing.assert_array_equal(explicit.array, second.array)
