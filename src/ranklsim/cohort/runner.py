"""Run a virtual cohort in chunks on any execution engine, streaming chunks to disk.

* The whole population is generated up-front from the spec's seed; chunks are contiguous
  ``person_id`` ranges, so the results do not depend on the engine or on the completion order.
* Each chunk is one task: the worker builds the chronic model once per process (cached) and
  never receives a pickled model.
* With ``out_dir`` (one writer at a time, :func:`~ranklsim.rundir.folder_lock`), each finished chunk
  is written at once, atomically, to ``out_dir/chunks/chunk_XXXXX.csv``: a header line (settings
  hash, rows, SHA-256 of the CSV, :func:`~ranklsim.rundir.write_checked`) and the CSV.  A rerun
  reuses the chunks that pass the check (resume); a torn or empty one is recomputed with a
  warning naming it, one of other settings is refused naming it; ``out_dir/run.json`` records the
  settings, and other settings in the folder are refused, naming the settings that differ.
* A person whose simulation fails is recorded with the message in ``error`` (outcomes NaN).
* Intervention arms (``arms=[...]``, :mod:`ranklsim.cohort.arms`): every arm follows the
  same people; one task per (chunk, arm), chunk-major so an interrupted run holds whole people;
  chunks are stored per arm (``out_dir/chunks/<arm>/chunk_XXXXX.csv``) and the people frame is
  long (an ``arm`` column, arms in the given order, then ``person_id``).  ``run.json`` records
  the arms, so rerunning a folder with different arms is an error.  Without ``arms`` the run is
  control-only (same folder layout, no ``arm`` column).
* Tasks are typed: a :class:`ChunkTask` (chunk id, people, arm index) with the :class:`RunContext`
  shared by every task (follow-up settings, model overrides, arms).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from ranklsim.cohort.arms import CohortArm, resolve_arms, visit_schedule
from ranklsim.cohort.chunks import (
    ChunkKey,
    as_bool,
    check_run_folder,
    chunk_path,
    load_chunk,
    roundtrip,
    write_chunk,
)
from ranklsim.cohort.followup import (
    BOOLEAN_COLUMNS,
    BURN_IN,
    check_criteria,
    exam_schedule,
    follow_person,
    result_columns,
)
from ranklsim.cohort.metformin_exposure import chronic_model
from ranklsim.cohort.population import (
    IR_DRIFT,
    PARAMETER_COLUMNS,
    PopulationSpec,
    check_population,
    generate_population,
    person_overrides,
    population_digest,
)
from ranklsim.errors import unknown_id_error
from ranklsim.models.parameters import check_value, parameter_table
from ranklsim.parallel import Engine, SerialEngine
from ranklsim.rundir import (
    folder_lock,
    settings_hash,
)
from ranklsim.simulate import load_model
from ranklsim.simulate.simulator import Model

SPECIES = "human"


@dataclass
class CohortResult:
    """People (population columns + follow-up record + ``error``), sorted by ``person_id``."""

    spec: PopulationSpec
    years: float
    exam_years: tuple[float, ...]
    people: pd.DataFrame
    chunks_total: int
    chunks_computed: int
    chunks_reused: int
    complete: bool = True
    failed_chunks: dict[int | str, str] = field(default_factory=dict)  #: "arm/chunk" keys with arms
    arms: tuple[str, ...] = ()  #: arm names in order (empty: control-only run without an arm column)
    arm_specs: tuple[CohortArm, ...] = ()  #: the arms themselves

    @property
    def n_errors(self) -> int:
        return int(self.people["error"].notna().sum())


@dataclass(frozen=True)
class RunContext:
    """What every task of one cohort run shares (shipped once per worker)."""

    years: float
    exam_years: tuple[float, ...]
    ir_drift: float = 0.0
    model_overrides: Mapping[str, float] = field(default_factory=dict)
    criteria: str = "fpg"  #: diagnostic criteria (followup.CRITERIA); the 2-h ones run an OGTT per exam
    arms: tuple[CohortArm, ...] = ()
    visits: str = "trough"  #: examinations of dosed arms relative to the injections (arms.VISIT_TIMINGS)
    visit_shifts: tuple[tuple[float, ...], ...] = ()  #: per arm, days each examination moves (arms.visit_schedule)

    @property
    def ogtt(self) -> bool:
        """An OGTT at every examination (the criteria use the 2-h glucose)."""
        return self.criteria != "fpg"

    @property
    def arm_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.arms)

    def settings(self) -> dict:
        """The follow-up settings as recorded in ``run.json`` (a resumed run must match them)."""
        out: dict = {"years": self.years, "exam_years": list(self.exam_years), "ir_drift": self.ir_drift,
                     "visits": self.visits}
        if self.model_overrides:
            out["model_overrides"] = dict(self.model_overrides)
        if self.ogtt:
            out["ogtt"] = True
        if self.criteria == "ogtt":
            out["criteria"] = self.criteria
        return out


@dataclass(frozen=True)
class ChunkTask:
    """One engine task: the people of one chunk, in one arm (``arm_index`` None without arms)."""

    chunk_id: int
    rows: tuple[dict, ...]
    arm_index: int | None = None

    def key(self, context: RunContext) -> ChunkKey:
        return self.chunk_id, None if self.arm_index is None else context.arms[self.arm_index].name


@cache
def worker_model() -> Model:
    """The chronic model of this process (built once per worker, never pickled; the same object the
    arms' metformin and lifestyle helpers use, so a serial run builds it once)."""
    return chronic_model()


@cache
def _worker_acute_model() -> Model:
    """The acute model of this process (OGTT at the examinations), built once per worker."""
    return load_model(SPECIES, "acute")


def _error_text(exc: Exception) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:500]


def _follow_row(model: Model, acute: Model | None, context: RunContext, arm: CohortArm | None,
                exams: tuple[float, ...], row: Mapping, shifts: tuple[float, ...] = ()) -> dict:
    ov = {**context.model_overrides, **person_overrides(row)}
    extra: dict = {}
    if arm is not None:
        extra = {"extra_overrides": arm.baseline_overrides(ov, model),
                 "extra_events": arm.events(BURN_IN, context.years, exams, model=model, person=ov,
                                           constants=context.model_overrides),
                 "exam_windows": arm.exam_windows(BURN_IN, context.years, exams, model=model, person=ov,
                                                  visit_shifts=shifts, constants=context.model_overrides),
                 "visit_shifts": shifts}
    drift = float(row[IR_DRIFT]) if IR_DRIFT in row and np.isfinite(row[IR_DRIFT]) else context.ir_drift
    return follow_person(model, ov, context.years, exams, ir_drift=drift, ogtt_model=acute,
                         criteria=context.criteria, **extra)


def run_chunk(context: RunContext, task: ChunkTask) -> list[dict]:
    """Engine task: follow every person of one chunk; failures are recorded (``error``), not raised."""
    arm = context.arms[task.arm_index] if task.arm_index is not None else None
    shifts = context.visit_shifts[task.arm_index] if task.arm_index is not None else ()
    model = worker_model()
    exams = exam_schedule(context.years, context.exam_years)
    empty = {c: np.nan for c in result_columns(exams, context.ogtt)}
    acute = _worker_acute_model() if context.ogtt else None
    out = []
    for row in task.rows:
        rec: dict = {"person_id": int(row["person_id"])}
        try:
            rec.update(_follow_row(model, acute, context, arm, exams, row, shifts))
            rec["error"] = None
        except Exception as exc:  # any failure: recorded per person by design
            rec.update(empty)
            rec["error"] = _error_text(exc)
        out.append(rec)
    return out


def check_model_overrides(overrides) -> dict[str, float]:
    """Validated model-wide parameter values for a cohort (unknown ids, bad values and the
    per-person parameters of the population raise ValueError)."""
    known = parameter_table(SPECIES)
    out: dict[str, float] = {}
    for key, value in dict(overrides or {}).items():
        if key not in known:
            raise unknown_id_error("parameter", key, known)
        if key in PARAMETER_COLUMNS:
            raise ValueError(f"model_overrides may not set {key!r}: it is drawn per person by the population "
                             "(change its distribution in PopulationSpec instead)")
        out[key] = check_value(key, value)
    return out


# ----------------------------------------------------------------------------- the run


def _run_context(spec: PopulationSpec, years: float, exam_years: Sequence[float] | None, chunk_size: int,
                 max_chunks: int | None, arms, model_overrides, criteria: str, exam_every: float | None = None,
                 visits: str = "trough") -> RunContext:
    """Every input checked before any work (unknown arms, bad overrides and sizes raise ValueError)."""
    exams = exam_schedule(years, exam_years, exam_every)
    if not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    if max_chunks is not None and max_chunks < 0:
        raise ValueError(f"max_chunks must be >= 0, got {max_chunks!r}")
    arm_specs = tuple(resolve_arms(arms)) if arms is not None else ()
    shifts = visit_schedule(arm_specs, exams, years, visits)  # refused before any work
    return RunContext(years=float(years), exam_years=exams, ir_drift=float(spec.ir_drift_mean),
                      model_overrides=check_model_overrides(model_overrides), criteria=criteria, arms=arm_specs,
                      visits=visits, visit_shifts=shifts)


def _chunk_tasks(population: pd.DataFrame, chunk_size: int, n_arms: int) -> list[ChunkTask]:
    """Contiguous chunks of people; with arms one task per (chunk, arm), chunk-major."""
    records = population.to_dict("records")
    chunks = [(i // chunk_size, tuple(records[i:i + chunk_size])) for i in range(0, len(records), chunk_size)]
    if not n_arms:
        return [ChunkTask(cid, rows) for cid, rows in chunks]
    return [ChunkTask(cid, rows, k) for cid, rows in chunks for k in range(n_arms)]


def run_settings(spec: PopulationSpec, context: RunContext, chunk_size: int, population: str | None = None) -> dict:
    """What ``run.json`` records (JSON-normalised), with its ``settings_hash``; ``population``: the
    digest of a population given as a frame (not generated from the spec)."""
    meta = {"spec": spec.to_dict(), "spec_digest": spec.digest(), **context.settings(),
            "chunk_size": chunk_size, "species": SPECIES}
    if population is not None:
        meta["population_digest"] = population
    if context.arms:
        meta["arms"] = [a.to_dict() for a in context.arms]
    meta = json.loads(json.dumps(meta))
    return {**meta, "settings_hash": settings_hash(meta)}


def _finished_chunks(out: Path, meta: dict, context: RunContext,
                     tasks: Iterable[ChunkTask]) -> dict[ChunkKey, pd.DataFrame]:
    """Check (or create) the run folder and read the verified chunks it already holds."""
    check_run_folder(out, meta, context.arm_names)
    done = {}
    for task in tasks:
        path = chunk_path(out, task.key(context))
        if path.exists():
            frame = load_chunk(path, meta["settings_hash"], [int(r["person_id"]) for r in task.rows])
            if frame is not None:
                done[task.key(context)] = frame
    return done


def _progress_bar(todo: Sequence[ChunkTask], progress: bool):
    if not (progress and todo):
        return None
    from tqdm.auto import tqdm  # lazy: tqdm is only needed for an interactive progress bar

    return tqdm(total=sum(len(t.rows) for t in todo), unit="person", desc="cohort")


def _compute(engine: Engine, todo: list[ChunkTask], context: RunContext, out: Path | None, digest: str,
             progress: bool) -> tuple[dict[ChunkKey, pd.DataFrame], dict[int | str, str]]:
    """Run the tasks; write each finished chunk at once (with ``out``); failed tasks by key."""
    done: dict[ChunkKey, pd.DataFrame] = {}
    failed: dict[int | str, str] = {}
    bar = _progress_bar(todo, progress)
    try:
        for idx, outcome in engine.map(run_chunk, todo, context):
            key = todo[idx].key(context)
            if isinstance(outcome, BaseException):
                failed[key[0] if key[1] is None else f"{key[1]}/{key[0]}"] = f"{type(outcome).__name__}: {outcome}"
                continue
            frame = roundtrip(pd.DataFrame(outcome))
            if out is not None:
                write_chunk(chunk_path(out, key), frame, digest)
            done[key] = frame
            if bar is not None:
                bar.update(len(frame))
    finally:
        if bar is not None:
            bar.close()
    return done, failed


def _follow_frame(done: Mapping[ChunkKey, pd.DataFrame], context: RunContext) -> pd.DataFrame:
    """The follow-up records of every finished chunk, arm-major then by chunk; outcome dtypes set."""
    order = {name: i for i, name in enumerate(context.arm_names)}
    parts = []
    for key in sorted(done, key=lambda k: (order.get(k[1], 0), k[0])):
        part = done[key]
        parts.append(part if key[1] is None else part.assign(arm=key[1]))
    cols = ["person_id", *result_columns(context.exam_years, context.ogtt), "error"]
    follow = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols)
    follow["error"] = follow["error"].astype(object).where(follow["error"].notna(), None)
    for col in BOOLEAN_COLUMNS:
        follow[col] = pd.array([as_bool(v) for v in follow[col]], dtype="boolean")
    return follow


def _people(population: pd.DataFrame, follow: pd.DataFrame, context: RunContext) -> pd.DataFrame:
    """Population columns merged with the follow-up; with arms an ``arm`` column first, arm-major."""
    if not context.arms:
        return population.merge(follow, on="person_id", how="inner").sort_values("person_id").reset_index(drop=True)
    order = {name: i for i, name in enumerate(context.arm_names)}
    if "arm" not in follow:
        follow["arm"] = pd.Series(dtype=object)
    follow = follow[["arm", *[c for c in follow.columns if c != "arm"]]]
    people = population.merge(follow, on="person_id", how="inner")
    people = people[["arm", *[c for c in people.columns if c != "arm"]]]
    people = people.assign(_o=people["arm"].map(order)).sort_values(["_o", "person_id"]).drop(columns="_o")
    return people.reset_index(drop=True)


def run_cohort(spec: PopulationSpec, years: float = 15, engine: Engine | None = None,
               out_dir: str | Path | None = None, chunk_size: int = 500, progress: bool = False,
               exam_years: Sequence[float] | None = None, max_chunks: int | None = None, arms=None,
               model_overrides: Mapping[str, float] | None = None, ogtt: bool = False, *,
               criteria: str | None = None, exam_every: float | None = None,
               population: pd.DataFrame | None = None, visits: str = "trough") -> CohortResult:
    """Generate the population of ``spec`` and follow it for ``years``.

    ``engine``: an engine of :mod:`ranklsim.parallel` (default serial).  ``max_chunks``
    stops after computing that many new chunks (the result is then ``complete=False``; rerun to
    finish).  A chunk whose task fails as a whole is reported in ``failed_chunks`` (its people are
    absent) and the run is incomplete.  ``arms``: intervention arms (names, scenario TOML paths
    or :class:`~ranklsim.cohort.arms.CohortArm`; see :func:`~ranklsim.cohort.arms.resolve_arms`),
    validated before any work; each (chunk, arm) pair is then one chunk of the counts.
    ``model_overrides``: model parameter values applied to every person (e.g. one member of a
    fitted parameter ensemble, :func:`~ranklsim.cohort.ensemble.cohort_ensemble`); the
    person's own parameters (:data:`~ranklsim.cohort.population.PARAMETER_COLUMNS`) may
    not be among them.  Recorded in ``run.json``, so resuming with other values is an error.
    ``ogtt``: a 75 g OGTT at every examination; a 2-h glucose >= 11.1 mmol/L is diabetes too
    (:func:`~ranklsim.cohort.followup.follow_person`).  ``criteria``: "fpg", "ogtt" (2-h glucose
    only) or "both" (default: "both" with ``ogtt``, else "fpg").  ``exam_years`` or ``exam_every``:
    the examination schedule (:func:`~ranklsim.cohort.followup.exam_schedule`; default every 5 years
    and a closing examination at ``years``).  ``population``: the people to follow instead of
    ``generate_population(spec)`` (checked by :func:`~ranklsim.cohort.population.check_population`;
    ``spec.n`` must equal its rows; its digest is recorded in ``run.json``).  ``visits``: "trough"
    (default; a dosed arm's follow-up examinations are taken just before an injection, where trials
    sample, :meth:`~ranklsim.cohort.arms.CohortArm.visit_shifts`) or "scheduled".
    """
    context = _run_context(spec, years, exam_years, chunk_size, max_chunks, arms, model_overrides,
                           check_criteria(criteria, ogtt), exam_every, visits)
    given = population is not None
    population = check_population(population) if given else generate_population(spec)
    if len(population) != spec.n:
        raise ValueError(f"the population has {len(population)} people but spec.n is {spec.n}")
    tasks = _chunk_tasks(population, chunk_size, len(context.arms))
    out = Path(out_dir) if out_dir is not None else None
    meta = run_settings(spec, context, chunk_size, population_digest(population) if given else None)
    with folder_lock(out) if out is not None else nullcontext():
        done = _finished_chunks(out, meta, context, tasks) if out is not None else {}
        reused = len(done)
        todo = [t for t in tasks if t.key(context) not in done]
        if max_chunks is not None:
            todo = todo[:max_chunks]
        computed, failed = _compute(engine or SerialEngine(), todo, context, out, meta["settings_hash"], progress)
    done.update(computed)
    people = _people(population, _follow_frame(done, context), context)
    return CohortResult(spec=spec, years=float(years), exam_years=context.exam_years, people=people,
                        chunks_total=len(tasks), chunks_computed=len(computed), chunks_reused=reused,
                        complete=len(done) == len(tasks), failed_chunks=failed, arms=context.arm_names,
                        arm_specs=context.arms)
