"""COMBINE archives (OMEX) of a scenario, for tellurium, COPASI and the BioSimulators tools.

One archive holds, per arm, the arm's run and each of its acute tests as a self-contained
simulation:

* an SBML variant of the model (``models/<task>.xml``): the arm's parameters (subject, genotype,
  overrides, metformin switches, and the derived normalisers if a model constant changed), the
  start state computed by ranklsim (the arm's steady state for the run, the run's state on the test
  day for a test) and the protocol as SBML events (doses, diet changes, glucose loads);
* one SED-ML document (``simulations.sedml``, L1V4) with a uniform time course per variant (CVODE,
  KiSAO:0000019, with ranklsim's tolerances), a data generator per reported output and one report
  per task;
* the manifest and an OMEX description (metadata).

Model time is minutes (days x 1440 for a run).  The run's output grid is uniform: every
``output_every_days`` (default 1/100 of the run), so ranklsim's own time course on the same grid is
what the archive must reproduce (:attr:`OmexTask.expected`; ``tests/test_omex.py`` runs it with
tellurium).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ranklsim.constants import MINUTES_PER_DAY
from ranklsim.models.build import build_sbml
from ranklsim.models.ids import P
from ranklsim.simulate.protocols import TEST_SELECTIONS, Clamp
from ranklsim.simulate.runner import ArmRunner
from ranklsim.simulate.scenario import Scenario
from ranklsim.simulate.simulator import Event
from ranklsim.simulate.solver import MAX_BDF_ORDER, TOLERANCES

#: KiSAO terms: CVODE, relative and absolute tolerance, maximum number of steps
KISAO_CVODE, KISAO_RTOL, KISAO_ATOL, KISAO_MAX_STEPS = "KISAO:0000019", "KISAO:0000209", "KISAO:0000211", "KISAO:0000415"
KISAO_MAX_BDF_ORDER = "KISAO:0000220"
#: maximum number of CVODE steps between two output points (as the simulator)
MAX_STEPS = 200000
#: COMBINE format identifiers
SBML_FORMAT = "http://identifiers.org/combine.specifications/sbml.level-3.version-2"
SEDML_FORMAT = "http://identifiers.org/combine.specifications/sed-ml.level-1.version-4"
SEDML_FILE = "simulations.sedml"
TIME_SYMBOL = "urn:sedml:symbol:time"


@dataclass(frozen=True)
class OmexTask:
    """One simulation of the archive: an SBML variant, its time course and what ranklsim gives."""

    id: str
    arm: str
    phase: str  # "run" or the test ("ogtt@28d")
    view: str
    sbml: str
    t_end_min: float
    n_points: int
    outputs: tuple[str, ...]
    #: ranklsim's own time course on the same grid (time in minutes, one column per output)
    expected: pd.DataFrame
    #: protocol event times (minutes): at an output time equal to one, ranklsim reports the state after
    #: the event, SED-ML tools the state before it (the value is discontinuous there)
    event_times: tuple[float, ...] = ()


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", text)


def _run_grid(scenario: Scenario) -> np.ndarray:
    """Uniform output days of a run (every ``output_every_days``, default 1/100 of the run)."""
    every = scenario.output_every_days or scenario.duration_days / 100.0
    n = round(scenario.duration_days / every) + 1
    return np.linspace(0.0, scenario.duration_days, n)


def scenario_tasks(scenario: Scenario) -> list[OmexTask]:
    """Every simulation of ``scenario`` (each arm's run, then its acute tests), computed by ranklsim."""
    runner = ArmRunner(scenario)
    chronic, acute = runner.chronic, runner.acute
    outputs = tuple(dict.fromkeys([*runner.timecourse_ids(), "G", "I"]))
    tasks: list[OmexTask] = []
    for k, arm in enumerate(scenario.arms):
        ov = runner.overrides(arm)
        params = {**chronic.reference(ov).derived, **ov}
        states = list(chronic.state_ids)
        start = chronic.steady_state(ov, selections=states)
        events = runner.events(arm, ov)
        days = _run_grid(scenario)
        res = chronic.simulate(times=days, overrides=ov, initial=start, events=events, selections=list(outputs))
        frame = res.frame.assign(time=res.frame["time"] * MINUTES_PER_DAY)
        sbml = variant_sbml(chronic.species, params, start, _in_minutes(events, MINUTES_PER_DAY))
        tasks.append(OmexTask(f"arm{k}_run", arm.name, "run", "chronic", sbml, days[-1] * MINUTES_PER_DAY,
                              len(days), outputs, frame, tuple(e.time * MINUTES_PER_DAY for e in events)))
        tests = [t for t in scenario.resolved_tests() if t.kind != "fasting"]
        if not tests:
            continue
        run = runner.run(arm, ov, tests)
        for j, test in enumerate(tests):
            i = int(np.argmin(abs(run.time - test.day)))
            state = {s: float(run.frame[s].iloc[i]) for s in states}
            proto = runner.protocol(test)
            bw = runner.body_weight(ov)
            test_ov = {**ov, P.diet_fat: float(run.frame[P.diet_fat].iloc[i]), **proto.settings(bw)}
            if isinstance(proto, Clamp):
                basal = {c: float(run.frame[c].iloc[i]) for c in run.frame.columns}
                test_ov.update(proto.settings(bw, basal))
            times = proto.times()
            proto_events = proto.events(runner.species, bw)
            res = acute.simulate(times=times, overrides=test_ov, initial=state, events=proto_events,
                                 selections=list(TEST_SELECTIONS))
            test_params = {**acute.reference(test_ov).derived, **test_ov}
            sbml = variant_sbml(acute.species, test_params, state, _in_minutes(proto_events, 1.0))
            tasks.append(OmexTask(f"arm{k}_test{j}_{test.kind}", arm.name, f"{test.kind}@{test.day:g}d", "acute",
                                  sbml, float(times[-1]), len(times), TEST_SELECTIONS, res.frame,
                                  tuple(e.time for e in proto_events)))
    return tasks


def _in_minutes(events: list[Event], factor: float) -> list[Event]:
    return [Event(e.time * factor, e.target, e.value, e.op) for e in events]


# ----------------------------------------------------------------------------- SBML variant
def variant_sbml(species: str, params: dict[str, float], state: dict[str, float], events: list[Event]) -> str:
    """The model SBML of ``species`` with parameter values ``params``, initial state ``state`` (states
    with an initial assignment lose it and take their value from ``state``) and ``events`` (model time, minutes) as SBML events (one per time; ``add`` events as ``x + value``)."""
    import libsbml  # lazy: ~0.5 s to import

    doc = libsbml.readSBMLFromString(build_sbml(species))
    model = doc.getModel()
    for key, value in {**params, **state}.items():
        if key in state and model.getInitialAssignment(key) is not None:
            model.removeInitialAssignment(key)  # the state comes from the run, not from the QE formula
        _set_value(model, key, value)
    for i, (time, group) in enumerate(_by_time(events)):
        ev = model.createEvent()
        ev.setId(f"protocol_event_{i}")
        ev.setUseValuesFromTriggerTime(True)
        trigger = ev.createTrigger()
        trigger.setInitialValue(False)
        trigger.setPersistent(True)
        trigger.setMath(libsbml.parseL3Formula(f"time >= {time!r}"))
        for target, formula in group.items():
            _make_variable(model, target)  # SBML: an event target must not be constant
            ea = ev.createEventAssignment()
            ea.setVariable(target)
            ea.setMath(libsbml.parseL3Formula(formula))
    return libsbml.writeSBMLToString(doc)


def _make_variable(model, key: str) -> None:
    element = model.getParameter(key) or model.getSpecies(key)
    if element is None:
        raise ValueError(f"event target {key!r} is neither a species nor a parameter of the model")
    element.setConstant(False)


def _set_value(model, key: str, value: float) -> None:
    sp = model.getSpecies(key)
    if sp is not None:
        if sp.isSetInitialAmount():
            sp.setInitialAmount(value)
        else:
            sp.setInitialConcentration(value)
        return
    p = model.getParameter(key)
    if p is None:
        raise ValueError(f"{key!r} is neither a species nor a parameter of the model")
    p.setValue(value)


def _by_time(events: list[Event]) -> list[tuple[float, dict[str, str]]]:
    """Events grouped by time, each target's assignments folded into one formula (in order)."""
    groups: dict[float, dict[str, str]] = {}
    for ev in sorted(events, key=lambda e: e.time):
        group = groups.setdefault(ev.time, {})
        base = group.get(ev.target, ev.target)
        group[ev.target] = f"{ev.value!r}" if ev.op == "set" else f"({base}) + {ev.value!r}"
    return list(groups.items())


# ----------------------------------------------------------------------------- SED-ML and archive
def sedml_text(tasks: list[OmexTask]) -> str:
    """SED-ML (L1V4) of ``tasks``: model, uniform time course, task, data generators and report each."""
    import libsbml  # lazy: as above
    import libsedml  # lazy: SED-ML is needed only when an archive is written

    doc = libsedml.SedDocument(1, 4)
    for t in tasks:
        kinds = _kinds(libsbml.readSBMLFromString(t.sbml).getModel(), t.outputs)
        m = doc.createModel()
        m.setId(f"model_{t.id}")
        m.setLanguage("urn:sedml:language:sbml.level-3.version-2")
        m.setSource(f"models/{t.id}.xml")
        sim = doc.createUniformTimeCourse()
        sim.setId(f"sim_{t.id}")
        sim.setInitialTime(0.0)
        sim.setOutputStartTime(0.0)
        sim.setOutputEndTime(t.t_end_min)
        sim.setNumberOfPoints(t.n_points - 1)  # SED-ML counts intervals
        alg = sim.createAlgorithm()
        alg.setKisaoID(KISAO_CVODE)
        rtol, atol = TOLERANCES[t.view]
        for kisao, value in ((KISAO_RTOL, rtol), (KISAO_ATOL, atol), (KISAO_MAX_STEPS, MAX_STEPS),
                             (KISAO_MAX_BDF_ORDER, MAX_BDF_ORDER[t.view])):
            ap = alg.createAlgorithmParameter()
            ap.setKisaoID(kisao)
            ap.setValue(repr(value))
        task = doc.createTask()
        task.setId(f"task_{t.id}")
        task.setModelReference(m.getId())
        task.setSimulationReference(sim.getId())
        report = doc.createReport()
        report.setId(f"report_{t.id}")
        report.setName(f"{t.arm} / {t.phase}")
        for out in ("time", *t.outputs):
            dg = doc.createDataGenerator()
            dg.setId(f"dg_{t.id}_{out}")
            var = dg.createVariable()
            var.setId(f"v_{t.id}_{out}")
            var.setTaskReference(task.getId())
            if out == "time":
                var.setSymbol(TIME_SYMBOL)
            else:
                var.setTarget(f"/sbml:sbml/sbml:model/sbml:listOf{kinds[out]}/sbml:{kinds[out][:-1].lower()}"
                              f"[@id='{out}']")
            dg.setMath(libsedml.parseFormula(var.getId()))
            ds = report.createDataSet()
            ds.setId(f"ds_{t.id}_{out}")
            ds.setLabel(out)
            ds.setDataReference(dg.getId())
    return libsedml.writeSedMLToString(doc)


def _kinds(model, ids) -> dict[str, str]:
    """SBML list name (``Species`` or ``Parameters``) of each output id."""
    return {i: "Species" if model.getSpecies(i) is not None else "Parameters" for i in ids}


def write_omex(scenario: Scenario, out: str | Path, tasks: list[OmexTask] | None = None) -> Path:
    """Write the COMBINE archive of ``scenario`` to ``out`` (``.omex``); returns the path."""
    import libcombine  # lazy: COMBINE is needed only when an archive is written

    tasks = scenario_tasks(scenario) if tasks is None else tasks
    archive = libcombine.CombineArchive()
    for t in tasks:
        if not archive.addFileFromString(t.sbml, f"models/{t.id}.xml", SBML_FORMAT, False):
            raise OSError(f"could not add models/{t.id}.xml to the archive")
    if not archive.addFileFromString(sedml_text(tasks), SEDML_FILE, SEDML_FORMAT, True):
        raise OSError(f"could not add {SEDML_FILE} to the archive")
    desc = libcombine.OmexDescription()
    desc.setAbout(".")
    desc.setDescription(f"ranklsim scenario {scenario.name}: {scenario.description or scenario.name} "
                        f"({len(tasks)} simulations: each arm's run and its tests)")
    desc.setCreated(libcombine.OmexDescription.getCurrentDateAndTime())
    archive.addMetadata(".", desc)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not archive.writeToFile(str(out)):
        raise OSError(f"could not write {out}")
    archive.cleanUp()
    return out
