"""Bad input gets a clear error, never a silent wrong answer."""

import math

import numpy as np
import pytest

import ranklsim
from ranklsim.simulate import Event, SimulationError
from ranklsim.simulate.simulator import OutOfBoundsWarning


@pytest.fixture(scope="module")
def human():
    return ranklsim.load_model("human")


def test_unknown_parameter_names_close_matches(human):
    with pytest.raises(ValueError, match=r"unknown parameter id 'L_prd'.*L_prod"):
        human.simulate(10, overrides={"L_prd": 1.0})


def test_unknown_species_and_view():
    with pytest.raises(ValueError, match=r"unknown species 'humna'.*human"):
        ranklsim.load_model("humna")
    with pytest.raises(ValueError, match="unknown view"):
        ranklsim.load_model("human", "weekly")


def test_unknown_selection_and_state(human):
    with pytest.raises(ValueError, match=r"unknown output id 'NFkBnuc'.*NFkBn"):
        human.simulate(10, selections=["NFkBnuc"])
    with pytest.raises(ValueError, match="unknown state id"):
        human.simulate(10, initial={"Glucose": 5})
    with pytest.raises(ValueError, match="unknown event target"):
        human.simulate(10, events=[Event(1, "Qstomach", 1.0)])


@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf, "abc"])
def test_bad_values_rejected(human, bad):
    with pytest.raises(ValueError, match="L_prod"):
        human.simulate(10, overrides={"L_prod": bad})


def test_bad_times_rejected(human):
    with pytest.raises(ValueError):
        human.simulate(-5)
    with pytest.raises(ValueError):
        Event(-1, "D", 1.0)


def test_solver_failure_names_time_and_parameters(human):
    with pytest.raises(SimulationError, match=r"time reached .* min; parameters changed: .*gi_VG"), \
            pytest.warns(OutOfBoundsWarning):
            human.simulate(600, overrides={"gi_VG": 0.0}, allow_out_of_bounds=True)
    # the simulator is still usable afterwards and back at the reference state
    res = human.simulate(60, n_points=2, selections=["G"])
    assert res.final()["G"] == pytest.approx(human.parameter_value("G_bf_ref"), rel=1e-6)


# ----------------------------------------------------------------------------- scenario times one rounding step apart


def _run(data):
    from ranklsim.simulate.runner import run_scenario
    from ranklsim.simulate.scenario import scenario_from_dict

    return run_scenario(scenario_from_dict(data))


def test_diet_times_one_rounding_step_apart_run():
    # 0.1 + 0.2 != 0.3: once a zero-length solver segment (CV_TOO_CLOSE) and a failed arm
    periods = [{"diet": "hfd", "start_day": 0.1, "duration_days": 0.2},
               {"diet": "chow", "start_day": 0.3, "duration_days": 0.2}]
    touching = [{"diet": "hfd" if k % 2 else "chow", "start_day": k * 1.8, "duration_days": 1.8} for k in range(20)]
    res = _run({"name": "close", "species": "human", "duration_days": 36.0, "output_every_days": 0.1,
                "tests": [{"kind": "fasting", "day": 9e-299}, {"kind": "fasting", "day": 0.1 + 0.2},
                          {"kind": "fasting", "day": 36.0 - 1e-12}],
                "arms": [{"name": "a", "diet": periods}, {"name": "b", "diet": touching}]})
    assert res.failures == {}
    assert set(res.readouts["arm"]) == {"a", "b"}


def test_event_times_are_merged_within_the_tolerance():
    from ranklsim.simulate.catalog import DIETS
    from ranklsim.simulate.runner import merge_event_times, snap_to

    chow, hfd = DIETS["chow"].fat_input, DIETS["hfd"].fat_input
    # a period listed first that starts where a later-listed one ends: the return to chow comes first
    evs = merge_event_times([Event(0.3, "diet_fat", hfd), Event(0.1 + 0.2, "diet_fat", chow),
                             Event(9e-299, "D", 1.0, "add"), Event(1 - 1e-16, "D", 1.0, "add")], 1.0)
    assert [(e.time, e.target, e.value) for e in evs] == [
        (0.0, "D", 1.0), (0.3, "diet_fat", chow), (0.3, "diet_fat", hfd), (1.0, "D", 1.0)]
    days = snap_to(np.array([0.0, 9e-299, 0.1 + 0.2, 0.5, 1.0 - 1e-12, 1.0]), [0.0, 0.3, 1.0])
    assert days.tolist() == [0.0, 0.3, 0.5, 1.0]
