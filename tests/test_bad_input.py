"""Bad input gets a clear error, never a silent wrong answer."""

import math

import pytest

import ranklsim
from ranklsim.simulate import Event, SimulationError


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
    with pytest.raises(SimulationError, match=r"time reached .* min; parameters changed: .*gi_VG"):
        human.simulate(600, overrides={"gi_VG": 0.0})
    # the simulator is still usable afterwards and back at the reference state
    res = human.simulate(60, n_points=2, selections=["G"])
    assert res.final()["G"] == pytest.approx(human.parameter_value("G_bf_ref"), rel=1e-6)
