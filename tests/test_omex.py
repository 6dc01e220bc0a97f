"""COMBINE archives: a scenario exported with ``ranklsim export-omex`` validates and, run by other
tools, reproduces ranklsim's own time courses.

* tellurium executes the archive's SED-ML (its own runner: model files, uniform time courses,
  CVODE settings, data generators);
* COPASI (basico, the ``copasi`` extra) runs every SBML variant of the archive with the time course
  and tolerances the SED-ML states.

Agreement: relative 1e-4 on every reported value above a floor of 1e-6 x the output's largest
value and above 1e-12 (near-zero values, e.g. an emptied gut compartment, carry only absolute solver
error), except at protocol event times, where the state jumps (ranklsim reports it after the event,
SED-ML tools before it).
"""

from __future__ import annotations

import contextlib
import importlib.util
import locale
import warnings
import zipfile

import numpy as np
import pytest

from ranklsim.cli import main
from ranklsim.simulate.library import builtin_names, load_scenario
from ranklsim.simulate.omex import SEDML_FILE, scenario_tasks, write_omex

RTOL = 1e-4
FLOOR = 1e-6
#: ... and above the solvers' absolute tolerance (an untreated arm's drug is 0 up to round-off, 1e-23)
ABS_FLOOR = 1e-12
#: scenarios of the quick suite (the others run under the slow marker)
QUICK = ("mouse-hepatic-rank-ko-hfd",)


def _worst(expected: np.ndarray, got: np.ndarray, keep: np.ndarray | None = None) -> float:
    """Largest relative difference on values above the floor (``keep``: rows to compare)."""
    big = np.abs(expected) > max(FLOOR * np.nanmax(np.abs(expected)), ABS_FLOOR)
    if keep is not None:
        big &= keep
    if not big.any():
        return 0.0
    return float(np.max(np.abs(got[big] - expected[big]) / np.abs(expected[big])))


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = {}
    for name in builtin_names():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sc = load_scenario(name)
            tasks = scenario_tasks(sc) if name in QUICK else None
        path = tmp_path_factory.mktemp(name) / f"{name}.omex"
        out[name] = (sc, tasks, path)
    return out


def _export(exported, name):
    sc, tasks, path = exported[name]
    if tasks is None:
        tasks = scenario_tasks(sc)
    if not path.exists():
        write_omex(sc, path, tasks)
    return sc, tasks, path


def _off_events(task) -> np.ndarray:
    """Rows of ``task``'s grid not at a protocol event time (the state jumps there: ranklsim reports
    it after the event, SED-ML tools before it)."""
    t = task.expected["time"].to_numpy()
    at_event = np.zeros(len(t), dtype=bool)
    for te in task.event_times:
        at_event |= np.isclose(t, te, rtol=1e-12, atol=1e-9)
    return ~at_event


def _check_archive(path) -> None:
    import libcombine
    import libsedml

    archive = libcombine.CombineArchive()
    assert archive.initializeFromArchive(str(path))
    master = archive.getMasterFile()
    assert master is not None and master.getLocation().endswith(SEDML_FILE)
    locations = {archive.getEntry(i).getLocation() for i in range(archive.getNumEntries())}
    assert archive.hasMetadataForLocation(".") and archive.getMetadataForLocation(".").getDescription()
    doc = libsedml.readSedMLFromString(archive.extractEntryToString(SEDML_FILE))
    log = doc.getErrorLog()
    errors = [log.getError(i).getMessage() for i in range(log.getNumErrors())
              if log.getError(i).getSeverity() >= libsedml.LIBSEDML_SEV_ERROR]
    assert not errors, errors
    assert doc.getNumTasks() == doc.getNumModels() == doc.getNumSimulations() > 0
    for i in range(doc.getNumModels()):
        source = doc.getModel(i).getSource()
        assert source in locations
        _check_sbml(archive.extractEntryToString(source), source)
    archive.cleanUp()


def _check_sbml(text: str, name: str) -> None:
    """libSBML's full consistency check finds no error in a model file of the archive (e.g. an event
    that assigns a constant parameter, which some tools accept and others refuse)."""
    import libsbml

    doc = libsbml.readSBMLFromString(text)
    doc.checkConsistency()
    errors = [doc.getError(i).getMessage().strip() for i in range(doc.getNumErrors())
              if doc.getError(i).getSeverity() >= libsbml.LIBSBML_SEV_ERROR]
    assert not errors, f"{name}: {errors[:3]}"


def _tellurium_worst(path, tasks) -> dict[str, float]:
    import tellurium.sedml.tesedml as tesedml

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = tesedml.executeCombineArchive(str(path), createOutputs=False)
    (dgs,) = [r["dataGenerators"] for r in results.values()]
    worst = {}
    for t in tasks:
        worst[t.id] = max(_worst(t.expected["time" if o == "time" else o].to_numpy(),
                                 np.asarray(dgs[f"dg_{t.id}_{o}"]).ravel(), _off_events(t))
                          for o in ("time", *t.outputs))
    return worst


def test_cli_writes_a_valid_archive(tmp_path, capsys):
    out = tmp_path / "ko.omex"
    assert main(["export-omex", QUICK[0], "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    assert zipfile.is_zipfile(out)
    _check_archive(out)
    # an existing file is refused without --force (one CLI convention)
    assert main(["export-omex", QUICK[0], "--out", str(out)]) == 2


@pytest.mark.parametrize("name", QUICK)
def test_tellurium_reproduces_the_archive(exported, name):
    _, tasks, path = _export(exported, name)
    _check_archive(path)
    worst = _tellurium_worst(path, tasks)
    assert len(worst) == len(tasks) and max(worst.values()) < RTOL, worst


@pytest.mark.parametrize("name", QUICK)
def test_copasi_reproduces_the_archive(exported, name):
    if importlib.util.find_spec("basico") is None:  # not importorskip: importing COPASI sets the C locale
        pytest.skip("the copasi extra (copasi-basico) is not installed")
    _, tasks, path = _export(exported, name)
    worst = _copasi_worst(path, tasks)
    assert max(worst.values()) < RTOL, worst


@contextlib.contextmanager
def _c_locale_undone():
    """COPASI sets the C locale (LC_CTYPE "C") when imported and when it loads a model, which makes
    Python's default text encoding ASCII for the rest of the process: undo it afterwards."""
    ctype = locale.setlocale(locale.LC_CTYPE)
    try:
        yield
    finally:
        locale.setlocale(locale.LC_CTYPE, ctype)


def _copasi_worst(path, tasks) -> dict[str, float]:
    """Run every SBML variant of the archive in COPASI with its SED-ML time course and tolerances."""
    with _c_locale_undone():
        return _copasi_runs(path, tasks)


def _copasi_runs(path, tasks) -> dict[str, float]:
    import basico
    import libcombine
    import libsedml

    archive = libcombine.CombineArchive()
    assert archive.initializeFromArchive(str(path))
    doc = libsedml.readSedMLFromString(archive.extractEntryToString(SEDML_FILE))
    by_id = {t.id: t for t in tasks}
    worst = {}
    for i in range(doc.getNumTasks()):
        task = doc.getTask(i)
        sim = doc.getSimulation(task.getSimulationReference())
        model = doc.getModel(task.getModelReference())
        params = {p.getKisaoID(): float(p.getValue()) for p in sim.getAlgorithm().getListOfAlgorithmParameters()}
        dm = basico.load_model_from_string(archive.extractEntryToString(model.getSource()))
        basico.set_task_settings(basico.T.TIME_COURSE, {"method": {
            "Relative Tolerance": params["KISAO:0000209"], "Absolute Tolerance": params["KISAO:0000211"],
            "Max Internal Steps": int(params["KISAO:0000415"])}}, model=dm)
        df = basico.run_time_course(start_time=sim.getOutputStartTime(), duration=sim.getOutputEndTime(),
                                    intervals=sim.getNumberOfPoints(), model=dm, use_sbml_id=True,
                                    use_numbers=False)
        t = by_id[task.getId().removeprefix("task_")]
        worst[t.id] = max(_worst(t.expected[o].to_numpy(), df[o].to_numpy(), _off_events(t)) for o in t.outputs)
        basico.remove_datamodel(dm)
    archive.cleanUp()
    return worst


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in builtin_names() if n not in QUICK])
def test_every_builtin_scenario_round_trips(exported, name):
    _, tasks, path = _export(exported, name)
    _check_archive(path)
    worst = _tellurium_worst(path, tasks)
    assert max(worst.values()) < RTOL, worst
    if importlib.util.find_spec("basico") is None:
        return
    worst = _copasi_worst(path, tasks)
    assert max(worst.values()) < RTOL, worst
