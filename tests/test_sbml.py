"""The exported SBML: units consistent, annotated, and reproducible in a fresh simulator."""

import libsbml
import numpy as np
import pytest
import roadrunner

import ranklsim
from ranklsim.cli import main
from ranklsim.models.build import sbml_unit_errors
from ranklsim.simulate.protocols import OralGlucose


@pytest.mark.parametrize("species", ["human", "mouse"])
def test_export_is_unit_consistent_and_reloads_to_same_trajectories(species, tmp_path):
    out = tmp_path / f"{species}.xml"
    assert main(["export-sbml", "--species", species, "--out", str(out)]) == 0
    text = out.read_text()
    assert sbml_unit_errors(text, warnings=True) == []  # no unit error and no unit warning (literals too)
    doc = libsbml.readSBMLFromString(text)
    model = doc.getModel()
    assert doc.getLevel() == 3
    for i in range(model.getNumParameters()):
        par = model.getParameter(i)
        assert par.isSetUnits(), par.getId()
    for i in range(model.getNumSpecies()):
        sp = model.getSpecies(i)
        assert sp.isSetSubstanceUnits() and sp.isSetName() and sp.isSetSBOTerm(), sp.getId()
    # fresh RoadRunner from the file vs our simulator, with a meal (changes many states)
    ours = ranklsim.load_model(species).simulate(300, n_points=301, events=OralGlucose().events(species),
                                                  selections=["G", "I", "EGP", "NFkBn", "G6Pase"])
    rr = roadrunner.RoadRunner(str(out))
    rr.integrator.relative_tolerance = 1e-10
    rr.integrator.absolute_tolerance = 1e-14
    for ev in OralGlucose().events(species):
        rr[ev.target] = ev.value + (rr[ev.target] if ev.op == "add" else 0)
    res = rr.simulate(0, 300, 301, selections=["time", "G", "I", "EGP", "NFkBn", "G6Pase"])
    theirs = np.asarray(res)[:, 1:]
    mine = ours.frame[["G", "I", "EGP", "NFkBn", "G6Pase"]].to_numpy()
    assert np.max(np.abs(theirs - mine) / np.abs(mine)) < 1e-6


@pytest.mark.parametrize("species", ["human", "mouse"])
def test_export_holds_the_exact_values_and_reloads_bit_identically(species, tmp_path):
    """Every parameter value and initial state is written in its shortest round-trip form, so the
    file reloads to the table's numbers bit for bit and a fresh simulator gives the same numbers as
    ranklsim, bit for bit (24-h run at ranklsim's acute tolerances)."""
    from ranklsim.models.parameters import initial_state, parameter_table
    from ranklsim.simulate.solver import TOLERANCES

    out = tmp_path / f"{species}.xml"
    assert main(["export-sbml", "--species", species, "--out", str(out)]) == 0
    model = libsbml.readSBMLFromString(out.read_text()).getModel()
    table, state = parameter_table(species), initial_state(species)
    values = {p.getId(): p.getValue() for p in model.getListOfParameters()}
    values |= {s.getId(): s.getInitialConcentration() if s.isSetInitialConcentration() else s.getInitialAmount()
               for s in model.getListOfSpecies()}
    assert all(values[k] == p.value for k, p in table.items())
    assert all(values[k] == v for k, v in state.items())
    # model-wide units are all set (COPASI warns about unset area, length and extent units)
    assert all((model.getSubstanceUnits(), model.getTimeUnits(), model.getVolumeUnits(), model.getAreaUnits(),
                model.getLengthUnits(), model.getExtentUnits()))
    selections = ["G", "I", "EGP", "NFkBn", "G6Pase", "M_hep"]
    ours = ranklsim.load_model(species).simulate(1440, n_points=97, selections=selections).frame[selections]
    rr = roadrunner.RoadRunner(str(out))
    rr.integrator.relative_tolerance, rr.integrator.absolute_tolerance = TOLERANCES["acute"]
    rr.integrator.setValue("maximum_num_steps", 200000)
    theirs = np.asarray(rr.simulate(0, 1440, 97, selections=["time", *selections]))[:, 1:]
    assert np.array_equal(theirs, ours.to_numpy())
