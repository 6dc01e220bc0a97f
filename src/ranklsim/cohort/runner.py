"""Run a virtual cohort in chunks on any execution engine, streaming chunks to disk.

* The whole population is generated up-front from the spec's seed; chunks are contiguous
  ``person_id`` ranges, so the results do not depend on the engine or on the completion order.
* Each chunk is one task: the worker builds the chronic model once per process (cached) and
  never receives a pickled model.
* With ``out_dir``, each finished chunk is written at once to ``out_dir/chunks/chunk_XXXXX.csv``
  (atomic rename); a rerun with the same folder and spec skips the finished chunks (resume).
  ``out_dir/run.json`` records the spec and follow-up settings; a different spec in the same
  folder is an error, not a silent mix.
* A person whose simulation fails is recorded with the message in ``error`` (outcomes NaN).
* Intervention arms (``arms=[...]``, :mod:`ranklsim.cohort.arms`): every arm follows the
  same people; one task per (chunk, arm), chunk-major so an interrupted run holds whole people;
  chunks are stored per arm (``out_dir/chunks/<arm>/chunk_XXXXX.csv``) and the people frame is
  long (an ``arm`` column, arms in the given order, then ``person_id``).  ``run.json`` records
  the arms, so rerunning a folder with different arms is an error.  Without ``arms`` the run is
  the control-only run of the first slice (same folder layout, no ``arm`` column).
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from ranklsim.cohort.followup import (
    BURN_IN,
    DEFAULT_EXAMS,
    exam_schedule,
    follow_person,
    result_columns,
)
from ranklsim.cohort.population import (
    PARAMETER_COLUMNS,
    PopulationSpec,
    generate_population,
    person_overrides,
)
from ranklsim.errors import unknown_id_error
from ranklsim.models.parameters import check_value, parameter_table

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
    arm_specs: tuple = ()  #: the :class:`~ranklsim.cohort.arms.CohortArm` objects

    @property
    def n_errors(self) -> int:
        return int(self.people["error"].notna().sum())


@cache
def _worker_model():
    """The chronic model of this process (built once per worker, never pickled)."""
    from ranklsim import load_model

    return load_model(SPECIES, "chronic")


@cache
def _worker_acute_model():
    """The acute model of this process (OGTT at the examinations), built once per worker."""
    from ranklsim import load_model

    return load_model(SPECIES, "acute")


def run_chunk(context: dict, chunk: tuple) -> tuple[int, list[dict]]:
    """Engine task: follow every person of one chunk; failures are recorded, not raised.

    ``chunk`` is ``(chunk_id, rows)`` or, with arms, ``(chunk_id, rows, arm_index)`` with the
    arms in ``context["arms"]``.
    """
    chunk_id, rows = chunk[0], chunk[1]
    arm = context["arms"][chunk[2]] if len(chunk) > 2 else None
    model = _worker_model()
    exams = exam_schedule(context["years"], context["exam_years"])
    ogtt = bool(context.get("ogtt", False))
    empty = {c: np.nan for c in result_columns(exams, ogtt)}
    acute = _worker_acute_model() if ogtt else None
    out = []
    for row in rows:
        rec = {"person_id": int(row["person_id"])}
        try:
            ov = {**context.get("model_overrides", {}), **person_overrides(row)}
            extra: dict = {}
            if arm is not None:
                extra = {"extra_overrides": dict(arm.overrides),
                         "extra_events": arm.events(BURN_IN, context["years"], exams, model=model, person=ov)}
            rec.update(follow_person(model, ov, context["years"], exams,
                                     d0_drift=context.get("d0_drift", 0.0), ogtt_model=acute, **extra))
            rec["error"] = None
        except Exception as exc:  # noqa: BLE001 - recorded per person by design
            rec.update(empty)
            rec["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:500]
        out.append(rec)
    return chunk_id, out


def _as_bool(value) -> bool | None:
    """True/False from a bool, 0/1 or the CSV strings; None for a missing value."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, str):
        return {"true": True, "false": False}.get(value.strip().lower())
    return bool(value)


def _chunk_path(out_dir: Path, chunk_id: int, arm: str | None = None) -> Path:
    folder = out_dir / "chunks" if arm is None else out_dir / "chunks" / arm
    return folder / f"chunk_{chunk_id:05d}.csv"


def _read_chunk(path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"error": "object"})


def _roundtrip(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame as it reads back from CSV, so in-memory, written and resumed runs agree exactly."""
    return _read_chunk(io.StringIO(frame.to_csv(index=False)))


def _write_chunk(path: Path, frame: pd.DataFrame) -> None:
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    frame.to_csv(tmp, index=False)
    tmp.replace(path)


def _check_run_folder(out_dir: Path, meta: dict, arms: tuple[str, ...] = ()) -> None:
    path = out_dir / "run.json"
    if path.exists():
        old = json.loads(path.read_text())
        if old != meta:
            what = "different settings"
            if old.get("arms") != meta.get("arms"):
                names = [a["name"] for a in old.get("arms") or []] or ["control only, no arms"]
                what += f" (different arms: the folder has {', '.join(names)})"
            raise ValueError(
                f"{out_dir} holds a cohort run with {what} ({path}); "
                "use a new --out folder or delete it")
    else:
        (out_dir / "chunks").mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(meta, indent=2, sort_keys=True))
    (out_dir / "chunks").mkdir(parents=True, exist_ok=True)
    for arm in arms:
        (out_dir / "chunks" / arm).mkdir(parents=True, exist_ok=True)


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


def run_cohort(spec: PopulationSpec, years: float = 15, engine=None, out_dir: str | Path | None = None,
               chunk_size: int = 500, progress: bool = False, exam_years=DEFAULT_EXAMS,
               max_chunks: int | None = None, arms=None,
               model_overrides: dict[str, float] | None = None, ogtt: bool = False) -> CohortResult:
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
    (:func:`~ranklsim.cohort.followup.follow_person`).
    """
    from ranklsim.parallel import SerialEngine

    exams = exam_schedule(years, exam_years)  # validates years before any work
    if not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    if max_chunks is not None and max_chunks < 0:
        raise ValueError(f"max_chunks must be >= 0, got {max_chunks!r}")
    arm_specs: tuple = ()
    if arms is not None:
        from ranklsim.cohort.arms import resolve_arms

        arm_specs = tuple(resolve_arms(arms))  # unknown names raise here, before any output
    arm_names = tuple(a.name for a in arm_specs)
    model_ov = check_model_overrides(model_overrides)
    population = generate_population(spec)
    records = population.to_dict("records")
    chunks = [(i // chunk_size, records[i:i + chunk_size]) for i in range(0, len(records), chunk_size)]
    context = {"years": float(years), "exam_years": list(exams), "d0_drift": float(spec.d0_drift_per_year)}
    if model_ov:
        context["model_overrides"] = model_ov
    if ogtt:
        context["ogtt"] = True
    # tasks: (chunk_id, rows) without arms; (chunk_id, rows, arm_index) chunk-major with arms
    tasks = ([(cid, rows, k) for cid, rows in chunks for k in range(len(arm_specs))] if arm_specs
             else list(chunks))

    def key(task) -> tuple:
        return (task[0], arm_names[task[2]] if len(task) > 2 else None)

    out = Path(out_dir) if out_dir is not None else None
    done: dict[tuple, pd.DataFrame] = {}
    if out is not None:
        meta = {"spec": spec.to_dict(), "spec_digest": spec.digest(), **context,
                "chunk_size": chunk_size, "species": SPECIES}
        if arm_specs:
            meta["arms"] = [a.to_dict() for a in arm_specs]
        _check_run_folder(out, json.loads(json.dumps(meta)), arm_names)
        for task in tasks:
            path = _chunk_path(out, *key(task))
            if path.exists():
                done[key(task)] = _read_chunk(path)
    if arm_specs:
        context["arms"] = list(arm_specs)
    reused = len(done)
    todo = [t for t in tasks if key(t) not in done]
    if max_chunks is not None:
        todo = todo[:max_chunks]
    failed: dict = {}
    bar = None
    if progress and todo:
        from tqdm.auto import tqdm

        bar = tqdm(total=sum(len(t[1]) for t in todo), unit="person", desc="cohort")
    engine = engine or SerialEngine()
    try:
        for idx, outcome in engine.map(run_chunk, todo, context):
            k = key(todo[idx])
            if isinstance(outcome, BaseException):
                failed[k[0] if k[1] is None else f"{k[1]}/{k[0]}"] = f"{type(outcome).__name__}: {outcome}"
                continue
            frame = _roundtrip(pd.DataFrame(outcome[1]))
            if out is not None:
                _write_chunk(_chunk_path(out, *k), frame)
            done[k] = frame
            if bar is not None:
                bar.update(len(frame))
    finally:
        if bar is not None:
            bar.close()
    computed = len(done) - reused
    cols = ["person_id", *result_columns(exams, ogtt), "error"]
    order = {name: i for i, name in enumerate(arm_names)}
    parts = []
    for k in sorted(done, key=lambda k: (order.get(k[1], 0), k[0])):
        part = done[k]
        if k[1] is not None:
            part = part.assign(arm=k[1])
        parts.append(part)
    follow = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols)
    follow["error"] = follow["error"].astype(object).where(follow["error"].notna(), None)
    for col in ("baseline_diabetes", "diabetes"):
        follow[col] = [_as_bool(v) for v in follow[col]]
    if arm_specs:
        if "arm" not in follow:
            follow["arm"] = pd.Series(dtype=object)
        follow = follow[["arm", *[c for c in follow.columns if c != "arm"]]]
        people = population.merge(follow, on="person_id", how="inner")
        people = people[["arm", *[c for c in people.columns if c != "arm"]]]
        people = people.assign(_o=people["arm"].map(order)).sort_values(["_o", "person_id"]).drop(columns="_o")
    else:
        people = population.merge(follow, on="person_id", how="inner").sort_values("person_id")
    return CohortResult(spec=spec, years=float(years), exam_years=exams, people=people.reset_index(drop=True),
                        chunks_total=len(tasks), chunks_computed=computed, chunks_reused=reused,
                        complete=len(done) == len(tasks), failed_chunks=failed, arms=arm_names,
                        arm_specs=arm_specs)
