"""Run a :class:`~ranklsim.simulate.scenario.Scenario`: every arm, its run and its tests.

Per arm: parameters = subject + genotype + arm overrides (+ metformin effect switches); the
arm starts from its own steady state (beta-cell mass held at reference, as
:meth:`Model.steady_state`); the run is integrated in the chronic view (days) with diet
changes and drug administrations as events; each test starts from the run's state on its
day and is integrated in the acute view (minutes).  One arm's or one test's failure is
recorded and the rest still run.
"""

from __future__ import annotations

import json
import traceback
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from ranklsim.constants import GTT_MOUSE_MG_PER_KG, METFORMIN_BASE_MW, MG_PER_G, OGTT_HUMAN_MG
from ranklsim.models.ids import P, V
from ranklsim.models.parameters import OutOfBoundsWarning, out_of_bounds, warn_out_of_bounds
from ranklsim.simulate.catalog import DIETS, DRUGS, SUBJECTS
from ranklsim.simulate.dosing import dosing_events
from ranklsim.simulate.protocols import (
    TEST_SELECTIONS,
    Clamp,
    GlucoseTolerance,
    InsulinTolerance,
    ProtocolError,
)
from ranklsim.simulate.scenario import Arm, Scenario, Test, dump_scenario_file
from ranklsim.simulate.scenario_parts import EPS
from ranklsim.simulate.simulator import Event, Model, SimulationError, SimulationResult, load_model

#: fasting readouts reported for every arm at every test day (id -> readout name)
FASTING_READOUTS = {
    V.G: "G", V.I: "I", V.HOMA_IR: "HOMA_IR", V.EGP_obs: "EGP", V.NFkBn: "NFkBn", V.IKKa: "IKKa",
    V.theta_hep: "theta_hep", V.irs_avail: "irs_avail", V.L: "RANKL_free", V.L_total: "RANKL_total",
    V.O_total: "OPG", V.O: "OPG_free", V.A_diet: "A_diet", V.M_hep: "M_hep", V.beta: "beta", V.G_mem: "G_mem",
}
#: drug concentrations: output id -> (readout, slot, unit, factor to the unit per g/mol of MW)
_DRUG_CONC = {
    "antibody": (V.Dg, "ug_per_mL", 1e-9),  # pM x MW(g/mol) x 1e-9 = ug/mL
    "opg_fc": (V.OFc, "ng_per_mL", 1e-6),
    "metformin": (V.C_met, "mg_per_L", 1e-3),  # uM x MW x 1e-3 = mg/L (metformin base)
}
_RUN_STATE_EXTRA = (V.Dg, V.OFc, V.C_met, V.E_met_egp, V.E_met_rankl)
ERRORS = (SimulationError, ProtocolError, ValueError, ArithmeticError)


@dataclass
class ScenarioResult:
    """Readouts (tidy: arm, test, day, readout, value, unit), time courses (tidy: arm, phase,
    time, time_unit, id, value, unit) and failures (arm/test -> message) of one scenario."""

    scenario: Scenario
    readouts: pd.DataFrame
    timecourse: pd.DataFrame
    failures: dict[str, str] = field(default_factory=dict)
    #: arm -> parameter values it ran with outside their table bounds (``allow_out_of_bounds``)
    out_of_bounds: dict[str, dict[str, float]] = field(default_factory=dict)

    def value(self, arm: str, readout: str, test: str = "fasting") -> float:
        """One readout value (the last test day if a test runs on several days)."""
        r = self.readouts
        sel = r[(r.arm == arm) & (r.test == test) & (r.readout == readout)]
        if sel.empty:
            raise KeyError(f"no readout {test}/{readout} for arm {arm!r}"
                           + (f" (failed: {self.failures[arm]})" if arm in self.failures else ""))
        return float(sel.value.iloc[-1])

    def write(self, out: str | Path, figures: bool = True) -> Path:
        """Write readouts.csv, timecourse.csv, failures.json, scenario.toml and figures."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        self.readouts.to_csv(out / "readouts.csv", index=False)
        self.timecourse.to_csv(out / "timecourse.csv", index=False)
        (out / "failures.json").write_text(json.dumps(self.failures, indent=2))
        if self.out_of_bounds:
            (out / "out_of_bounds.json").write_text(json.dumps(self.out_of_bounds, indent=2))
        dump_scenario_file(self.scenario, out / "scenario.toml")
        if figures:
            from ranklsim.simulate.plots import plot_scenario  # lazy: matplotlib costs ~0.5 s to import

            plot_scenario(self, out)
        return out


class ArmRunner:
    """Runs the arms of one scenario with reused models (chronic for runs, acute for tests)."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.species = scenario.model_species
        self.chronic: Model = load_model(self.species, "chronic")
        self.acute: Model = load_model(self.species, "acute")

    # ---------------------------------------------------------------- settings
    def overrides(self, arm: Arm) -> dict[str, float]:
        ov: dict[str, float] = dict(SUBJECTS[arm.subject].overrides)
        ov.update(arm.genotype_overrides())
        ov.update(arm.overrides)
        for tr in arm.treatments:
            if DRUGS[tr.drug].slot == "metformin":
                ov[P.met_egp_on] = 1.0 if "egp" in tr.effects else 0.0
                ov[P.met_rankl_on] = 1.0 if "rankl" in tr.effects else 0.0
        return ov

    def body_weight(self, ov: dict[str, float]) -> float:
        return ov.get(P.BW, self.chronic.parameters[P.BW].value)

    def param(self, pid: str, ov: dict[str, float]) -> float:
        return ov.get(pid, self.chronic.parameters[pid].value)

    def events(self, arm: Arm, ov: dict[str, float]) -> list[Event]:
        """The arm's dose and diet events, times within :data:`EPS` merged (:func:`merge_event_times`)."""
        end = self.scenario.duration_days
        return merge_event_times(dosing_events(arm, end, self.chronic.parameters, ov), end)

    def drug_readouts(self, arm: Arm, state: dict[str, float]) -> dict[str, tuple[float, str]]:
        out = {}
        for tr in arm.treatments:
            spec = DRUGS[tr.drug]
            sid, unit, factor = _DRUG_CONC[spec.slot]
            mw = METFORMIN_BASE_MW if spec.slot == "metformin" else spec.mw_g_per_mol
            out[f"{tr.drug}_conc"] = (state[sid] * mw * factor, unit)
        return out

    # ---------------------------------------------------------------- run
    def run_arm(self, arm: Arm) -> tuple[list[dict], list[pd.DataFrame], dict[str, str]]:
        """Readout rows, tidy time-course frames and test failures of one arm."""
        ov = self.overrides(arm)
        tests = self.scenario.resolved_tests()
        run = self.run(arm, ov, tests)
        tc_ids = self.timecourse_ids()
        frames = [_tidy(run.frame[["time", *tc_ids]], arm.name, "run", "day", run.units)] if tc_ids else []
        rows: list[dict] = []
        failures: dict[str, str] = {}
        for k, test in enumerate(tests):
            state = _state_at(run, test.day)
            base = {"arm": arm.name, "test": test.kind, "day": test.day}
            if test.kind == "fasting":
                readouts = self.fasting_readouts(arm, state)
                rows += [{**base, "readout": n, "value": v, "unit": u} for n, (v, u) in readouts.items()]
                continue
            try:
                res, readouts = self.run_test(test, ov, state)
                rows += [{**base, "readout": n, "value": v, "unit": u} for n, (v, u) in readouts.items()]
                frames.append(_tidy(res.frame, arm.name, f"{test.kind}@{test.day:g}d#{k}", "min", res.units))
            except ERRORS as exc:
                failures[f"{arm.name}/{test.kind}@{test.day:g}d"] = f"{type(exc).__name__}: {exc}"
        return rows, frames, failures

    def timecourse_ids(self) -> list[str]:
        """Ids recorded over the run: the scenario's time courses and readouts."""
        return list(dict.fromkeys([*self.scenario.timecourse, *self.scenario.readouts]))

    def output_days(self, tests: Iterable[Test], events: Iterable[Event] = ()) -> np.ndarray:
        """Output days of the run: every ``output_every_days`` (default 1/100 of the run), the
        last day and every test day; a day within :data:`EPS` of 0, of an event or of the end is
        moved there (a solver segment must not start a rounding step before an output)."""
        sc = self.scenario
        every = sc.output_every_days or max(sc.duration_days / 100.0, 1e-3)
        days = set(np.arange(0.0, sc.duration_days, every).tolist()) | {sc.duration_days}
        days |= {t.day for t in tests}
        return snap_to(np.array(sorted(days)), [0.0, sc.duration_days, *(e.time for e in events)])

    def run(self, arm: Arm, ov: dict[str, float], tests: Iterable[Test]) -> SimulationResult:
        """The arm's run (chronic view) from its steady state, with its diet and drug events."""
        states = list(self.chronic.state_ids)
        allow = self.scenario.allow_out_of_bounds
        start = self.chronic.steady_state(ov, selections=states, allow_out_of_bounds=allow)
        sel = list(dict.fromkeys([*states, *FASTING_READOUTS, *_RUN_STATE_EXTRA, *self.timecourse_ids(),
                                  P.diet_fat]))
        events = self.events(arm, ov)
        return self.chronic.simulate(times=self.output_days(tests, events), overrides=ov, initial=start,
                                     events=events, selections=sel, allow_out_of_bounds=allow)

    def fasting_readouts(self, arm: Arm, state: dict[str, float]) -> dict[str, tuple[float, str]]:
        """Fasting readouts, the scenario's extra readouts and drug concentrations in ``state``."""
        units = self.chronic.units
        out = {name: (state[sid], units.get(sid, "")) for sid, name in FASTING_READOUTS.items()}
        out.update({r: (state[r], units.get(r, "")) for r in self.scenario.readouts})
        out.update(self.drug_readouts(arm, state))
        return out

    def run_test(self, test: Test, ov: dict[str, float],
                 state: dict[str, float]) -> tuple[SimulationResult, dict[str, tuple[float, str]]]:
        """One acute test from the run's ``state`` on its day: its time course and readouts."""
        basal = {k: state[k] for k in (*FASTING_READOUTS, *self.scenario.readouts)}
        proto = self.protocol(test)
        bw = self.body_weight(ov)
        test_ov = {**ov, P.diet_fat: state[P.diet_fat], **proto.settings(bw)}
        if isinstance(proto, Clamp):
            test_ov.update(proto.settings(bw, basal))
        res = self.acute.simulate(
            times=proto.times(), overrides=test_ov, initial={s: state[s] for s in self.chronic.state_ids},
            events=proto.events(self.species, bw), selections=list(TEST_SELECTIONS),
            allow_out_of_bounds=self.scenario.allow_out_of_bounds)
        return res, proto.readouts(res, basal)

    def protocol(self, test: Test) -> GlucoseTolerance | InsulinTolerance | Clamp:
        """The protocol object of a (resolved) test."""
        if test.kind in ("ogtt", "ipgtt"):
            return self._glucose_tolerance(test)
        if test.kind == "itt":
            return InsulinTolerance(test.insulin_U_per_kg, test.route or "ip", test.duration_min)
        if test.kind == "clamp":
            return Clamp(test.insulin_mU_per_kg_per_min, test.target_mg_dL, test.duration_min)
        raise ValueError(f"unknown test kind {test.kind!r}")

    def _glucose_tolerance(self, test: Test) -> GlucoseTolerance:
        """OGTT/IPGTT: a total dose in g, else a dose per kg (default: the standard loads)."""
        route = "oral" if test.kind == "ogtt" else "ip"
        if test.glucose_g is not None:
            return GlucoseTolerance(route, dose_mg=test.glucose_g * MG_PER_G, duration=test.duration_min)
        if test.glucose_g_per_kg is None and test.kind == "ogtt" and self.species == "human":
            return GlucoseTolerance(route, dose_mg=OGTT_HUMAN_MG, duration=test.duration_min)
        per_kg = GTT_MOUSE_MG_PER_KG if test.glucose_g_per_kg is None else test.glucose_g_per_kg * MG_PER_G
        return GlucoseTolerance(route, dose_mg_per_kg=per_kg, duration=test.duration_min)


def merge_event_times(events: Iterable[Event], end: float, tol: float = EPS) -> list[Event]:
    """``events`` sorted by time, a time within ``tol`` of the previous kept time (or of 0, or of
    ``end``) moved onto it: 0.1 + 0.2 and 0.3 are one time, so no solver segment has a length of
    one rounding step (CVODE refuses those: CV_TOO_CLOSE).  At one time a diet's return to chow
    comes before the next diet's start, whatever order the periods were listed in."""
    kept, out = [0.0], []
    for ev in sorted(events, key=lambda e: e.time):
        t = end if abs(end - ev.time) <= tol else kept[-1] if ev.time - kept[-1] <= tol else ev.time
        if t != kept[-1] and t != end:
            kept.append(t)
        out.append(ev if t == ev.time else replace(ev, time=t))
    chow = DIETS["chow"].fat_input
    return sorted(out, key=lambda e: (e.time, not (e.target == P.diet_fat and e.value == chow)))


def snap_to(days: np.ndarray, anchors: Iterable[float], tol: float = EPS) -> np.ndarray:
    """Sorted unique ``days``, each within ``tol`` of an anchor replaced by that anchor."""
    a = np.unique(np.asarray([-np.inf, *anchors, np.inf], dtype=float))
    i = np.clip(np.searchsorted(a, days), 1, len(a) - 1)
    lower, upper = a[i - 1], a[i]
    nearest = np.where(days - lower <= upper - days, lower, upper)
    return np.unique(np.where(np.abs(days - nearest) <= tol, nearest, days))


def _state_at(run: SimulationResult, day: float) -> dict[str, float]:
    """Every recorded value of ``run`` at the output time closest to ``day``."""
    i = int(np.argmin(abs(run.time - day)))
    return {c: float(run.frame[c].iloc[i]) for c in run.frame.columns}


def _tidy(frame: pd.DataFrame, arm: str, phase: str, time_unit: str, units: dict) -> pd.DataFrame:
    long = frame.melt(id_vars="time", var_name="id", value_name="value")
    long.insert(0, "arm", arm)
    long.insert(1, "phase", phase)
    long.insert(3, "time_unit", time_unit)
    long["unit"] = long["id"].map(lambda k: units.get(k, ""))
    return long


def run_scenario(scenario: Scenario, *, progress: bool = False) -> ScenarioResult:
    """Run every arm of ``scenario``; failures are recorded per arm/test, never fatal.  Arms run
    with parameter values outside their table bounds (``allow_out_of_bounds``) are named in the
    result's ``out_of_bounds`` and in one :class:`OutOfBoundsWarning` per arm."""
    runner = ArmRunner(scenario)
    rows: list[dict] = []
    frames: list[pd.DataFrame] = []
    failures: dict[str, str] = {}
    outside: dict[str, dict[str, float]] = {}
    arms: Iterable[Arm] = scenario.arms
    if progress:
        from tqdm import tqdm  # lazy: loaded only when a progress bar is asked for

        arms = tqdm(arms, desc=scenario.name, unit="arm")
    # a solver failure is recorded with CVODE's message: no log line of it on stderr as well
    with runner.chronic.solver_settings(quiet=True), runner.acute.solver_settings(quiet=True):
        for arm in arms:
            if arm_outside := out_of_bounds(runner.chronic.parameters, runner.overrides(arm)):
                outside[arm.name] = arm_outside
                warn_out_of_bounds(f"{scenario.name}/{arm.name}", arm_outside)
            try:
                with warnings.catch_warnings():  # said once per arm, above
                    warnings.simplefilter("ignore", OutOfBoundsWarning)
                    r, f, fail = runner.run_arm(arm)
            except ERRORS as exc:
                failures[arm.name] = f"{type(exc).__name__}: {exc}"
                continue
            rows += r
            frames += f
            failures.update(fail)
    readouts = pd.DataFrame(rows, columns=["arm", "test", "day", "readout", "value", "unit"])
    readouts.insert(0, "scenario", scenario.name)
    tc = (pd.concat(frames, ignore_index=True) if frames else
          pd.DataFrame(columns=["arm", "phase", "time", "time_unit", "id", "value", "unit"]))
    return ScenarioResult(scenario, readouts, tc, failures, outside)


@dataclass
class BatchResult:
    results: dict[str, ScenarioResult]
    errors: dict[str, str]

    @property
    def ok(self) -> bool:
        return not self.errors and all(not r.failures for r in self.results.values())


def run_batch(scenarios: Iterable[Scenario], out: str | Path | None = None, *,
              figures: bool = True, progress: bool = False) -> BatchResult:
    """Run several scenarios; each finished one is written to ``out/NAME`` at once, a failing
    one is reported in ``errors`` (and ``out/errors.json``) without stopping the others."""
    results: dict[str, ScenarioResult] = {}
    errors: dict[str, str] = {}
    for sc in scenarios:
        try:
            res = run_scenario(sc, progress=progress)
            results[sc.name] = res
            if out is not None:
                res.write(Path(out) / sc.name, figures=figures)
        except Exception as exc:  # a batch must survive any one scenario
            errors[sc.name] = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}"
    if out is not None:
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "errors.json").write_text(json.dumps(errors, indent=2))
    return BatchResult(results, errors)
