"""ranklsim next to its peers on its own exported SBML: plain libRoadRunner, COPASI and AMICI.

    python benchmarks/peers.py [--species human,mouse] [--cases acute_fasting,...] [--reps 20]
                               [--simulators ranklsim,roadrunner,roadrunner_jit,copasi,amici]
                               [--out FILE.json]

One process, one run: every number in the tables is measured here, so the ratios compare like with
like on this machine at this moment.  Three phases:

1. **Files.** Each case is one SBML file derived from ``build_sbml(species)`` by
   :func:`ranklsim.simulate.omex.variant_sbml` (parameter values set, protocol doses as SBML
   events), the file every peer reads; ranklsim runs the same case through its Python API
   (``Model.simulate`` with ``overrides=``/``events=``).
2. **Agreement** at rtol 1e-8 / atol 1e-12 (``--agree-rtol``/``--agree-atol``) for every simulator:
   the largest relative difference from ranklsim over the output grid, for every state and the
   default readouts; the denominator is at least ``FLOOR`` x the largest magnitude of that id
   (quantities that pass through zero are compared on their own scale) and at least ``ABS_FLOOR``.
3. **Timing** at ranklsim's default tolerances (ranklsim and plain roadrunner taken in turn, each peer
   on its own): the median of ``--reps`` calls after one warm-up of
   ranklsim's ``Model.simulate`` (default readouts), the plain RoadRunner call it wraps
   (``resetAll(); simulate(0, T, n)`` with the same selections) compiled with libRoadRunner's default
   LLVM back end (``roadrunner``) and with ranklsim's own (``roadrunner_jit``: the same
   :func:`~ranklsim.models.build.compile_sbml`, so that the JIT back end is not in the difference),
   COPASI's ``run_time_course`` and
   AMICI's ``run_simulation`` (whole call and its own core CVODE time, ``cpu_time``).  Reported:
   ranklsim's overhead, the time a ``Model.simulate`` call spends outside the RoadRunner calls it
   makes (:class:`_ClockedRoadRunner`; target <= 0.2 ms), the plain difference ranklsim - roadrunner
   and ranklsim - roadrunner_jit (noisy: each is the difference of two integrations, and on cases with
   events ranklsim integrates
   segment by segment where roadrunner handles SBML events), and ratios to each peer.

Peers that are not installed are reported as such and skipped: COPASI is the ``copasi`` extra,
AMICI the ``amici`` extra (it compiles each model once, ~1 min, cached under
``~/.cache/ranklsim/amici``; it needs swig, cmake, a C++ compiler and BLAS).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MIN_PER_DAY = 1440.0
#: relative differences are taken against at least this fraction of an id's largest magnitude ...
FLOOR = 1e-6
#: ... and at least this absolute size (every quantity of the model that matters is far above it;
#: states that are zero in exact arithmetic, e.g. an undosed drug, carry solver round-off of 1e-25)
ABS_FLOOR = 1e-9
#: target of the per-call overhead over plain roadrunner (issue 13), ms
OVERHEAD_TARGET_MS = 0.2
SIMULATORS = ("ranklsim", "roadrunner", "roadrunner_jit", "copasi", "amici")
#: the plain RoadRunners timed in turn with ranklsim (the calls it wraps)
PLAIN = ("roadrunner", "roadrunner_jit")
#: CVODE statistics AMICI reports (cumulative at the last output time)
CVODE_STATS = ("numsteps", "num_rhs_evals", "num_err_test_fails", "num_non_lin_solv_conv_fails")


@dataclass(frozen=True)
class Case:
    name: str
    species: str
    view: str
    t_end: float  # view unit
    n: int
    overrides: dict = field(default_factory=dict)
    ogtt_at: float | None = None  # min


def cases(species: str) -> list[Case]:
    """The harness cases: 24 h fasting, an OGTT at t = 0 and at t = 123 min (SBML events), 15 years
    at the reference, with sRANKL production x 5 and on a high-fat diet."""
    from ranklsim.models.ids import P
    from ranklsim.models.parameters import parameter_table

    lprod = parameter_table(species)[P.L_prod].value
    day, years = (24 * 60.0, 241), (15 * 365.0, 181)
    return [Case("acute_fasting", species, "acute", *day),
            Case("acute_ogtt0", species, "acute", *day, ogtt_at=0.0),
            Case("acute_ogtt_ev", species, "acute", *day, ogtt_at=123.0),
            Case("chronic_ref", species, "chronic", *years),
            Case("chronic_rankl5", species, "chronic", *years, overrides={P.L_prod: 5 * lprod}),
            Case("chronic_hfd", species, "chronic", *years, overrides={P.diet_fat: 1.0})]


def _events(case: Case):
    from ranklsim.simulate.protocols import OralGlucose

    return [] if case.ogtt_at is None else OralGlucose(time=case.ogtt_at).events(case.species)


def case_sbml(case: Case) -> str:
    from ranklsim.simulate.omex import variant_sbml

    return variant_sbml(case.species, dict(case.overrides), {}, _events(case))  # acute events: minutes


def _t_model(case: Case) -> float:
    return case.t_end * (MIN_PER_DAY if case.view == "chronic" else 1.0)


# ----------------------------------------------------------------------------- simulators
Run = Callable[[], tuple[np.ndarray, dict[str, np.ndarray]]]


def ranklsim_runner(case: Case, ids: list[str], tol: tuple[float, float] | None) -> tuple[Run, Callable]:
    import ranklsim

    model = ranklsim.load_model(case.species, case.view)
    factor = MIN_PER_DAY if case.view == "chronic" else 1.0
    kw = {"overrides": dict(case.overrides), "events": _events(case), "selections": ids}

    def run():
        if tol is None:
            res = model.simulate(case.t_end, n_points=case.n, **kw)
        else:
            with model.solver_settings(rtol=tol[0], atol=tol[1]):
                res = model.simulate(case.t_end, n_points=case.n, **kw)
        return res.time * factor, {k: res[k] for k in ids}
    return run, lambda: None


class _ClockedRoadRunner:
    """A RoadRunner whose integration and reset calls are timed (``spent``, seconds); everything else
    is passed through.  The time ``Model.simulate`` spends outside these calls is what it adds to
    the RoadRunner work it wraps (the proxy's own forwarding counts as ranklsim's: conservative)."""

    _TIMED = frozenset({"simulate", "reset", "resetAll"})

    def __init__(self, rr) -> None:
        object.__setattr__(self, "_rr", rr)
        object.__setattr__(self, "spent", 0.0)

    def __getattr__(self, name):
        attr = getattr(self._rr, name)
        if name not in self._TIMED:
            return attr

        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return attr(*args, **kwargs)
            finally:
                object.__setattr__(self, "spent", self.spent + time.perf_counter() - t0)
        return timed

    def __setattr__(self, name, value) -> None:
        setattr(self._rr, name, value)

    def __getitem__(self, key):
        return self._rr[key]

    def __setitem__(self, key, value) -> None:
        self._rr[key] = value


@contextlib.contextmanager
def _outside_timer(model):
    """Yields ``outside(t_end, n, **kw)``: the seconds one ``model.simulate`` call spends outside RoadRunner's
    ``simulate``/``reset``/``resetAll`` (the model runs on a :class:`_ClockedRoadRunner` meanwhile)."""
    real = model._rr
    clocked = _ClockedRoadRunner(real)
    model._rr = clocked

    def outside(t_end: float, n: int, **kw) -> float:
        object.__setattr__(clocked, "spent", 0.0)
        t0 = time.perf_counter()
        model.simulate(t_end, n_points=n, **kw)
        return time.perf_counter() - t0 - clocked.spent

    try:
        yield outside
    finally:
        model._rr = real


def python_side_ms(case: Case, reps: int) -> tuple[float, float]:
    """Median and minimum time (ms) of a default ``Model.simulate`` call of ``case`` spent outside
    RoadRunner's ``simulate``/``reset``/``resetAll`` (validation, reference lookup, segmenting, checks,
    result).  The code is the same every call, so the spread is the machine's (interrupts, caches)."""
    import ranklsim

    model = ranklsim.load_model(case.species, case.view)
    kw = {"overrides": dict(case.overrides), "events": _events(case)}
    with _outside_timer(model) as outside:
        outside(case.t_end, case.n, **kw)  # warm-up
        times = [outside(case.t_end, case.n, **kw) for _ in range(reps)]
    return 1e3 * statistics.median(times), 1e3 * min(times)


def after_study(reps: int) -> dict[str, float]:
    """Median ``Model.simulate`` time outside RoadRunner (ms) of a short and a long human chronic call
    (15 y at the reference: 9 CVODE steps; on a high-fat diet: ~1,000 steps), each measured right after
    a short or a long call: the same Python work costs more after a long integration, which has
    evicted it from the CPU caches.  Keys ``"<measured> after <preceding>"``."""
    import ranklsim
    from ranklsim.models.ids import P

    model = ranklsim.load_model("human", "chronic")
    calls = {"reference": {}, "high-fat diet": {"overrides": {P.diet_fat: 1.0}}}
    out = {}
    with _outside_timer(model) as outside:
        for measured, kw in calls.items():
            for before, kw_before in calls.items():
                times = []
                for _ in range(reps):
                    outside(15 * 365.0, 181, **kw_before)
                    times.append(outside(15 * 365.0, 181, **kw))
                out[f"{measured} after {before}"] = 1e3 * statistics.median(times)
    return out


def _plain_roadrunner(path: Path, tol: tuple[float, float], max_steps: int, view: str, same_jit: bool = False):
    """A plain RoadRunner of the SBML file ``path`` with ranklsim's CVODE settings ``tol``, ``max_steps``
    and the maximum BDF order of ``view``; compiled with libRoadRunner's default LLVM back end, or with
    ranklsim's (``same_jit``)."""
    import roadrunner

    from ranklsim.models.build import compile_sbml
    from ranklsim.simulate.solver import MAX_BDF_ORDER

    rr = compile_sbml(str(path)) if same_jit else roadrunner.RoadRunner(str(path))
    rr.integrator.relative_tolerance, rr.integrator.absolute_tolerance = tol
    rr.integrator.setValue("maximum_num_steps", max_steps)
    rr.integrator.setValue("maximum_bdf_order", MAX_BDF_ORDER[view])
    return rr


def roadrunner_runner(case: Case, ids: list[str], tol: tuple[float, float], path: Path,
                      max_steps: int, same_jit: bool = False) -> tuple[Run, Callable]:
    rr = _plain_roadrunner(path, tol, max_steps, case.view, same_jit)
    rr.timeCourseSelections = ["time", *ids]
    t_end = _t_model(case)

    def run():
        rr.resetAll()
        out = np.asarray(rr.simulate(0.0, t_end, case.n))
        return out[:, 0], {k: out[:, j + 1] for j, k in enumerate(ids)}
    return run, lambda: None


def roadrunner_steps(case: Case, tol: tuple[float, float], path: Path, max_steps: int) -> int:
    """CVODE steps roadrunner takes on ``case`` (one output row per step in variable-step mode)."""
    rr = _plain_roadrunner(path, tol, max_steps, case.view)
    rr.integrator.setValue("variable_step_size", True)
    rr.timeCourseSelections = ["time"]
    return len(np.asarray(rr.simulate(0.0, _t_model(case)))) - 1


def copasi_runner(case: Case, ids: list[str], tol: tuple[float, float], path: Path,
                  max_steps: int) -> tuple[Run, Callable]:
    import basico

    dm = basico.load_model(str(path))
    if dm is None:
        raise RuntimeError("basico.load_model returned None")
    t_end = _t_model(case)
    initial = {}
    for getter in (basico.get_parameters, basico.get_species):
        df = getter(model=dm)
        if df is not None:
            col = "initial_value" if "initial_value" in df.columns else "initial_concentration"
            for name, row in df.iterrows():
                initial[row.get("sbml_id", name)] = float(row[col])

    def run():
        df = basico.run_time_course(model=dm, duration=t_end, intervals=case.n - 1, automatic=False,
                                    start_time=0.0, output_event=False, method="deterministic",
                                    r_tol=tol[0], a_tol=tol[1], max_steps=max_steps,
                                    use_initial_values=True, update_model=False, use_sbml_id=True)
        t = df.index.to_numpy(dtype=float)
        # entities COPASI leaves out of its time series are constant: their initial value
        return t, {k: (df[k].to_numpy(dtype=float) if k in df.columns else np.full(len(t), initial[k]))
                   for k in ids}
    return run, lambda: None


def amici_cache_dir() -> Path:
    from ranklsim.simulate.solver import cache_dir

    return cache_dir() / "amici"


_AMICI_MODULES: dict[str, object] = {}


def amici_module(sbml: str, log: dict):
    """The AMICI model module of the SBML text ``sbml``, compiled once (cached on disk by hash, and in
    this process: an extension module can be imported only once)."""
    import logging

    bindir = Path(sys.executable).parent  # build with the SWIG that built AMICI (the venv's)
    if (bindir / "swig").exists():
        os.environ.setdefault("SWIG", str(bindir / "swig"))
    os.environ["PATH"] = f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"
    import amici

    digest = hashlib.sha256(sbml.encode()).hexdigest()[:16]
    if digest in _AMICI_MODULES:
        return _AMICI_MODULES[digest]
    name = f"ranklsim_{digest}"
    outdir = amici_cache_dir() / f"{name}-{amici.__version__}"
    marker = outdir / "BUILD_OK"
    if not marker.exists():
        outdir.mkdir(parents=True, exist_ok=True)
        path = outdir / "model.xml"
        path.write_text(sbml)
        t0 = time.perf_counter()
        amici.SbmlImporter(str(path)).sbml2amici(name, str(outdir), verbose=logging.WARNING,
                                                 generate_sensitivity_code=False)
        marker.write_text(f"{time.perf_counter() - t0:.1f}")
    log[name] = {"compile_s": float(marker.read_text())}
    _AMICI_MODULES[digest] = module = amici.import_model_module(name, str(outdir))
    return module


def amici_runner(case: Case, ids: list[str], tol: tuple[float, float], max_steps: int,
                 log: dict, dense: bool = False, stats: dict | None = None) -> tuple[Run, Callable]:
    """AMICI on the model of ``case``: one build per model structure (the species' file, or the file
    with the case's SBML events); parameter overrides through ``set_free_parameter_by_id``."""
    import amici.sim.sundials as asim

    from ranklsim.simulate.omex import variant_sbml

    structure = variant_sbml(case.species, {}, {}, _events(case))  # events are structure for AMICI
    model = amici_module(structure, log).get_model()
    for pid, value in case.overrides.items():
        model.set_free_parameter_by_id(pid, value)
    solver = model.create_solver()
    model.set_timepoints(np.linspace(0.0, _t_model(case), case.n))
    solver.set_relative_tolerance(tol[0])
    solver.set_absolute_tolerance(tol[1])
    solver.set_max_steps(max_steps)
    if dense:  # AMICI's default is KLU, a sparse LU; roadrunner's CVODE uses a dense one
        solver.set_linear_solver(asim.LinearSolver.dense)
    sids, wids = list(model.get_state_ids()), list(model.get_expression_ids())
    cores: list[float] = []

    def run():
        rd = asim.run_simulation(model, solver)
        if rd["status"] != asim.AMICI_SUCCESS:
            raise RuntimeError(f"AMICI failed: {asim.simulation_status_to_str(rd['status'])}")
        cores.append(float(rd["cpu_time"]) + float(rd["cpu_time_b"]))
        if stats is not None:
            stats.update({k: int(np.asarray(rd[k])[-1]) for k in CVODE_STATS})
        x, w = np.asarray(rd["x"]), np.asarray(rd["w"])
        return np.asarray(rd["ts"]), {k: x[:, sids.index(k)] if k in sids else w[:, wids.index(k)] for k in ids}
    return run, lambda: statistics.median(cores) if cores else None


# ----------------------------------------------------------------------------- measurement
def max_rel_diff(ref: dict[str, np.ndarray], other: dict[str, np.ndarray]) -> tuple[float, str]:
    worst, where = 0.0, ""
    for k, a in ref.items():
        b = other[k]
        scale = np.maximum(np.maximum(np.abs(a), np.abs(b)), max(FLOOR * np.abs(a).max(), FLOOR * np.abs(b).max(),
                                                                 ABS_FLOOR))
        d = float(np.max(np.abs(a - b) / scale))
        if d > worst:
            worst, where = d, k
    return worst, where


def interleaved(runs: dict[str, Run], reps: dict[str, int]) -> dict[str, float]:
    """Median wall time (ms) of each run, the runs taken in turn so that a slow spell of the machine
    falls on all of them alike; the order rotates every round (A, B, C, then B, C, A, then C, A, B, ...)
    so that each run follows each other run equally often (a run right after another RoadRunner's
    integration starts with cold CPU caches)."""
    times: dict[str, list[float]] = {k: [] for k in runs}
    names = list(runs)
    for i in range(max(reps.values(), default=0)):
        for k in names[i % len(names):] + names[:i % len(names)]:
            run = runs[k]
            if i < reps[k]:
                t0 = time.perf_counter()
                run()
                times[k].append(time.perf_counter() - t0)
    return {k: 1e3 * statistics.median(v) for k, v in times.items() if v}


def available(name: str) -> str | None:
    """None if the peer can run here, else why not."""
    mod = {"copasi": "basico", "amici": "amici.sim.sundials"}.get(name)
    if mod is None:
        return None
    try:
        __import__(mod)
    except ImportError as exc:
        return f"not installed ({exc.name}): pip install -e '.[{name}]'"
    return None


def integrator_study(case: Case, row: dict, args, path: Path, builds: dict, timers: dict) -> None:
    """Where AMICI's integration is cheaper (issue 13, item 4): its CVODE statistics with its sparse
    (KLU) and with a dense linear solver, the dense solver's core time, and roadrunner's step count."""
    from ranklsim.simulate.simulator import DEFAULT_SELECTIONS
    from ranklsim.simulate.solver import MAX_STEPS, TOLERANCES

    tol = TOLERANCES[case.view]
    study: dict = {}
    try:
        if "roadrunner" in timers:
            study["roadrunner_steps"] = roadrunner_steps(case, tol, path, MAX_STEPS)
        if "amici" in timers:
            for label, dense in (("klu", False), ("dense", True)):
                stats: dict = {}
                run, core = amici_runner(case, list(DEFAULT_SELECTIONS), tol, MAX_STEPS, builds, dense, stats)
                interleaved({label: run}, {label: args.reps})
                study[f"amici_{label}"] = {**stats, "core_ms": core()}
    except Exception as exc:  # a study that fails must not lose the timings
        row["errors"]["integrator study"] = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    row["integrator"] = study


def run_case(case: Case, sims: list[str], args, tmp: Path, builds: dict) -> dict:
    """Agreement and timing of one case on every simulator in ``sims`` (errors recorded, not raised)."""
    import ranklsim
    from ranklsim.simulate.simulator import DEFAULT_SELECTIONS
    from ranklsim.simulate.solver import MAX_STEPS, TOLERANCES

    tight = (args.agree_rtol, args.agree_atol)
    path = tmp / f"{case.species}_{case.name}.xml"
    path.write_text(case_sbml(case))
    model = ranklsim.load_model(case.species, case.view)
    agree_ids = [*model.state_ids, *(k for k in DEFAULT_SELECTIONS if k not in model.state_ids)]
    row: dict = {"agree": {}, "ms": {}, "core_ms": {}, "errors": {}}
    ref = None
    timers: dict[str, tuple[Run, Callable]] = {}
    for sim in sims:
        for phase, tol, ids in (("agree", tight, agree_ids),
                                ("time", TOLERANCES[case.view], list(DEFAULT_SELECTIONS))):
            try:
                if sim == "ranklsim":
                    runner = ranklsim_runner(case, ids, tight if phase == "agree" else None)
                elif sim in PLAIN:
                    runner = roadrunner_runner(case, ids, tol, path, MAX_STEPS, same_jit=sim == "roadrunner_jit")
                elif sim == "copasi":
                    runner = copasi_runner(case, ids, tol, path, MAX_STEPS)
                else:
                    runner = amici_runner(case, ids, tol, MAX_STEPS, builds)
                if phase == "time":
                    runner[0]()  # warm-up (and a check that it runs)
                    timers[sim] = runner
                    continue
                _t, data = runner[0]()
                if sim == "ranklsim":
                    ref = data
                elif ref is not None:
                    row["agree"][sim] = max_rel_diff(ref, data)
            except Exception as exc:  # one failed peer must not lose the others
                row["errors"][f"{sim}/{phase}"] = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    # ranklsim and the plain RoadRunner calls it wraps, in turn; then each peer on its own (a
    # peer's call between two ranklsim calls evicts ranklsim's Python code from the CPU caches)
    pair = {k: timers[k][0] for k in ("ranklsim", *PLAIN) if k in timers}
    row["ms"] = interleaved(pair, dict.fromkeys(pair, args.reps))
    for sim in timers.keys() - pair.keys():
        n = args.copasi_reps if sim == "copasi" else args.reps
        row["ms"].update(interleaved({sim: timers[sim][0]}, {sim: n}))
    row["core_ms"] = {sim: core() for sim, (_, core) in timers.items()}
    integrator_study(case, row, args, path, builds, timers)
    if "ranklsim" in timers:
        row["python_side_ms"], row["python_side_min_ms"] = python_side_ms(case, 5 * args.reps)
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--species", default="human,mouse")
    ap.add_argument("--cases", default="", help="comma-separated case names (default: all)")
    ap.add_argument("--simulators", default=",".join(SIMULATORS))
    ap.add_argument("--reps", type=int, default=20, help="timed calls per simulator and case (median)")
    ap.add_argument("--copasi-reps", type=int, default=5, help="timed COPASI calls (it is slow)")
    ap.add_argument("--agree-rtol", type=float, default=1e-8)
    ap.add_argument("--agree-atol", type=float, default=1e-12)
    ap.add_argument("--out", default="", help="write every number as JSON here")
    ap.add_argument("--readme", default="", metavar="JSON",
                    help="print the README's table from a JSON written by --out, and run nothing")
    args = ap.parse_args(argv)
    if args.readme:
        print(readme_table(json.loads(Path(args.readme).read_text())))
        return 0

    import roadrunner

    import ranklsim

    sims = [s for s in args.simulators.split(",") if s]
    skipped = {s: why for s in sims if (why := available(s))}
    sims = [s for s in sims if s not in skipped]
    wanted = {c for c in args.cases.split(",") if c}
    out: dict = {"date": time.strftime("%Y-%m-%d %H:%M %Z"), "skipped": skipped, "cases": {}, "builds": {},
                 "machine": {"platform": platform.platform(), "python": sys.version.split()[0],
                             "cpu_count": os.cpu_count(), "ranklsim": ranklsim.__version__,
                             "roadrunner": roadrunner.__version__}}
    tmp = Path(tempfile.mkdtemp(prefix="ranklsim-peers-"))
    for species in args.species.split(","):
        for case in cases(species):
            if wanted and case.name not in wanted:
                continue
            out["cases"][f"{species}/{case.name}"] = run_case(case, sims, args, tmp, out["builds"])
            print(f"# {species}/{case.name}: done", file=sys.stderr, flush=True)
    if "ranklsim" in sims and (not args.species or "human" in args.species.split(",")):
        out["after_study_ms"] = after_study(5 * args.reps)
    print(markdown(out))
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=1, default=float))
    return 0


CASE_LABELS = {"acute_fasting": "24 h fasting", "acute_ogtt0": "OGTT at 0",
               "acute_ogtt_ev": "OGTT at 123 min (SBML event)", "chronic_ref": "15 y reference",
               "chronic_rankl5": "15 y sRANKL x5", "chronic_hfd": "15 y high-fat diet"}


def readme_table(res: dict) -> str:
    """The README's table of a run (``--out`` JSON): one row per case, peers' agreement compacted."""
    head = ("| case | worst rel. diff: roadrunner / COPASI / AMICI | ranklsim ms | plain roadrunner ms | "
            "ranklsim outside roadrunner, ms median (min) | ranklsim - plain ms | ranklsim - plain, same JIT ms | "
            "COPASI / ranklsim | ranklsim / AMICI core | ranklsim / AMICI dense core |")
    lines = [f"Run {res['date']} ({res['machine']['cpu_count']} cores, Python {res['machine']['python']}, "
             f"libRoadRunner {res['machine']['roadrunner']}).", "", head, "|" + "---|" * 10]
    for name, row in res["cases"].items():
        species, case = name.split("/")
        agree = " / ".join(_f(row["agree"][p][0], "{:.0e}") if p in row["agree"] else "-"
                           for p in ("roadrunner", "copasi", "amici"))
        ms, core = row["ms"], row["core_ms"]
        r, plain, same = ms.get("ranklsim"), ms.get("roadrunner"), ms.get("roadrunner_jit")
        dense = row.get("integrator", {}).get("amici_dense", {}).get("core_ms")
        lines.append(
            f"| {species} {CASE_LABELS.get(case, case)} | {agree} | {_f(r, '{:.2f}')} | {_f(plain, '{:.2f}')} | "
            f"{_f(row.get('python_side_ms'), '{:.2f}')} ({_f(row.get('python_side_min_ms'), '{:.2f}')}) | "
            f"{_f(r - plain if r and plain else None, '{:+.2f}')} | "
            f"{_f(r - same if r and same else None, '{:+.2f}')} | "
            f"{_f(ms['copasi'] / r if r and ms.get('copasi') else None, '{:.1f}')} | "
            f"{_f(r / core['amici'] if r and core.get('amici') else None, '{:.2f}')} | "
            f"{_f(r / dense if r and dense else None, '{:.2f}')} |")
    if res.get("after_study_ms"):
        lines += ["", "Outside RoadRunner (median, ms) of a human 15-year call by the call before it: "
                  + "; ".join(f"{k} {v:.3f}" for k, v in res["after_study_ms"].items()) + "."]
    return "\n".join(lines)


def _f(x, fmt="{:.3g}") -> str:
    return "-" if x is None else fmt.format(x)


def markdown(res: dict) -> str:
    m = res["machine"]
    lines = [f"Peers on ranklsim's exported SBML, {res['date']}; {m['platform']}, Python {m['python']}, "
             f"{m['cpu_count']} CPUs, ranklsim {m['ranklsim']}, roadrunner {m['roadrunner']}.", ""]
    for sim, why in res["skipped"].items():
        lines.append(f"- {sim}: skipped, {why}")
    lines += ["", "| case | max rel. diff vs ranklsim (rtol 1e-8) | ranklsim ms | plain roadrunner ms | "
              f"ranklsim outside roadrunner ms, median (min) (target ≤ {OVERHEAD_TARGET_MS}) | ranklsim - plain ms | "
              "ranklsim - plain, same JIT ms | COPASI / ranklsim | AMICI / ranklsim (whole) | ranklsim / AMICI core |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for name, row in res["cases"].items():
        ms, core = row["ms"], row["core_ms"]
        agree = "; ".join(f"{s} {d:.1e} ({k})" for s, (d, k) in row["agree"].items()) or "-"
        r = ms.get("ranklsim")
        over = r - ms["roadrunner"] if r is not None and "roadrunner" in ms else None
        over_jit = r - ms["roadrunner_jit"] if r is not None and "roadrunner_jit" in ms else None
        cop = ms["copasi"] / r if r and "copasi" in ms else None
        ami = ms["amici"] / r if r and "amici" in ms else None
        ami_core = r / core["amici"] if r and core.get("amici") else None
        lines.append(f"| {name} | {agree} | {_f(r)} | {_f(ms.get('roadrunner'))} | "
                     f"{_f(row.get('python_side_ms'), '{:.3f}')} ({_f(row.get('python_side_min_ms'), '{:.3f}')}) | "
                     f"{_f(over, '{:+.3f}')} | {_f(over_jit, '{:+.3f}')} | "
                     f"{_f(cop, '{:.2f}')} | {_f(ami, '{:.2f}')} | {_f(ami_core, '{:.2f}')} |")
        for what, err in row["errors"].items():
            lines.append(f"|  ↳ {what} failed: {err} | | | | | | | | | |")
    study = {k: r["integrator"] for k, r in res["cases"].items() if r.get("integrator", {}).get("amici_klu")}
    if study:
        lines += ["", "CVODE work per case (ranklsim's default tolerances): roadrunner's steps, AMICI's steps, "
                  "right-hand-side evaluations and error-test failures with its sparse (KLU) and a dense linear "
                  "solver, and ranklsim's time over AMICI's core time for each.", "",
                  "| case | roadrunner steps (variable-step run) | AMICI KLU steps / rhs / fails | AMICI dense steps / rhs / fails | "
                  "ranklsim / AMICI KLU core | ranklsim / AMICI dense core |", "|---|---|---|---|---|---|"]
        for name, st in study.items():
            r = res["cases"][name]["ms"].get("ranklsim")
            k, d = st["amici_klu"], st["amici_dense"]

            def work(x):
                return f"{x['numsteps']} / {x['num_rhs_evals']} / {x['num_err_test_fails']}"
            lines.append(f"| {name} | {st.get('roadrunner_steps', '-')} | {work(k)} | {work(d)} | "
                         f"{_f(r / k['core_ms'] if r else None, '{:.2f}')} | "
                         f"{_f(r / d['core_ms'] if r else None, '{:.2f}')} |")
    if res.get("after_study_ms"):
        lines += ["", "ranklsim's time outside RoadRunner (median, ms) of a human 15-year call, by the call before it: "
                  + "; ".join(f"{k} {v:.3f}" for k, v in res["after_study_ms"].items())]
    if res["builds"]:
        lines += ["", "AMICI builds: " + ", ".join(f"{k} {v['compile_s']:.0f} s" for k, v in res["builds"].items())]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
